// SPDX-License-Identifier: GPL-2.0-only
/*
 * mig_check: exercises edu_vfio_pci's migration v2 from user space, on the
 * guest rig. Usage: mig_check GROUP BDF
 *
 * Sets edu's registers through the BAR0 mapping, saves the device
 * (RUNNING -> STOP_COPY), scribbles over the registers, restores the saved
 * bytes (STOP -> RESUMING -> RUNNING) and checks the registers came back;
 * checks that the data files refuse positioned I/O and that a bad stream is
 * refused; checks the trap requirement of the module's mode (DMA logging
 * start, the layout or the mappings, its end at RUNNING) and that a reset
 * returns the device to RUNNING and ends the requirement. One line per
 * check; exit 0 when all passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/vfio.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* The driver's re-evaluate interrupt index (async mode). */
#define REEVAL_IRQ_INDEX	VFIO_PCI_NUM_IRQS

static int failures;

static void check(int ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(int ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s", ok ? "ok  " : "FAIL", what);
	if (fmt) {
		va_start(ap, fmt);
		fputs(": ", stdout);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
	failures += !ok;
}

static int set_state(int dev, uint32_t state, int *data_fd)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_mig_state s;
	} buf = {
		.f.argsz = sizeof(buf),
		.f.flags = VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		.s.device_state = state,
		.s.data_fd = -1,
	};
	int r = ioctl(dev, VFIO_DEVICE_FEATURE, &buf);

	if (data_fd)
		*data_fd = buf.s.data_fd;
	return r < 0 ? -errno : 0;
}

static int get_state(int dev, uint32_t *state)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_mig_state s;
	} buf = {
		.f.argsz = sizeof(buf),
		.f.flags = VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
	};

	if (ioctl(dev, VFIO_DEVICE_FEATURE, &buf) < 0)
		return -errno;
	*state = buf.s.device_state;
	return 0;
}

static volatile uint32_t *reg32(volatile uint8_t *bar, unsigned int off)
{
	return (volatile uint32_t *)(bar + off);
}

static volatile uint64_t *reg64(volatile uint8_t *bar, unsigned int off)
{
	return (volatile uint64_t *)(bar + off);
}

static int logging(int dev, int start)
{
	struct vfio_device_feature_dma_logging_range range = {
		.iova = 0,
		.length = 1 << 20,
	};
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_dma_logging_control c;
	} buf = {
		.f.argsz = start ? sizeof(buf) : sizeof(buf.f),
		.f.flags = VFIO_DEVICE_FEATURE_SET |
			   (start ? VFIO_DEVICE_FEATURE_DMA_LOGGING_START :
				    VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP),
		.c.page_size = 4096,
		.c.num_ranges = 1,
		.c.ranges = (uintptr_t)&range,
	};

	return ioctl(dev, VFIO_DEVICE_FEATURE, &buf) < 0 ? -errno : 0;
}

/* BAR0's first sparse-mmap area, or 0 when there is no such capability. */
static uint64_t sparse_start(int dev)
{
	char buf[256];
	struct vfio_region_info *ri = (struct vfio_region_info *)buf;
	struct vfio_region_info_cap_sparse_mmap *sp;

	memset(buf, 0, sizeof(buf));
	ri->argsz = sizeof(buf);
	ri->index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri) < 0 ||
	    !(ri->flags & VFIO_REGION_INFO_FLAG_CAPS) || !ri->cap_offset ||
	    ri->cap_offset + sizeof(*sp) > sizeof(buf))
		return 0;
	sp = (struct vfio_region_info_cap_sparse_mmap *)(buf + ri->cap_offset);
	if (sp->header.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP ||
	    sp->nr_areas != 1)
		return 0;
	return sp->areas[0].offset;
}

static uint64_t eventfd_count(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&p, 1, 0) == 1 && read(efd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	return n;
}

static sigjmp_buf bus_jump;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jump, 1);
}

/* Writes through the mapping: 0, or -1 when it got SIGBUS. */
static int map_write(volatile uint8_t *bar, uint32_t value)
{
	if (sigsetjmp(bus_jump, 1))
		return -1;
	*(volatile uint32_t *)(bar + 0x04) = value;
	return 0;
}

/* The module's mode parameter, 'a' (async) or 'r' (revoke). */
static char driver_mode(void)
{
	FILE *f = fopen("/sys/module/edu_vfio_pci/parameters/mode", "r");
	int c = f ? fgetc(f) : 'a';

	if (f)
		fclose(f);
	return (char)c;
}

/* The trap requirement, from DMA_LOGGING_START to RUNNING. */
static void check_trap(int dev, volatile uint8_t *bar, uint64_t bar_offset)
{
	struct vfio_irq_info ii = {
		.argsz = sizeof(ii),
		.index = REEVAL_IRQ_INDEX,
	};
	struct vfio_device_info di = { .argsz = sizeof(di) };
	char irqbuf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)irqbuf;
	uint32_t v = 0x5a5a5a5a, back = 0;
	int efd = -1, r;
	void *p;

	if (driver_mode() == 'a') {
		r = ioctl(dev, VFIO_DEVICE_GET_INFO, &di);
		check(r == 0 && di.num_irqs == REEVAL_IRQ_INDEX + 1,
		      "async: GET_INFO counts the re-evaluate IRQ index",
		      "num_irqs %u", di.num_irqs);
		r = ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii);
		check(r == 0 && ii.flags == VFIO_IRQ_INFO_EVENTFD &&
		      ii.count == 1,
		      "async: IRQ index 5 takes one eventfd",
		      "ret %d flags 0x%x count %u", r, ii.flags, ii.count);
		efd = eventfd(0, 0);
		*set = (struct vfio_irq_set){
			.argsz = sizeof(irqbuf),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = REEVAL_IRQ_INDEX,
			.count = 1,
		};
		memcpy(set->data, &efd, sizeof(efd));
		r = ioctl(dev, VFIO_DEVICE_SET_IRQS, set);
		check(r == 0, "async: SET_IRQS binds an eventfd to it",
		      "ret %d", r);
		check(sparse_start(dev) == 0,
		      "async: BAR0 is mappable whole before the start", NULL);
		r = logging(dev, 1);
		check(r == 0, "DMA_LOGGING_START", "ret %d", r);
		check(eventfd_count(efd) == 1,
		      "async: the start signals the eventfd once", NULL);
		check(sparse_start(dev) == 0x1000,
		      "async: BAR0's sparse mmap now starts at 0x1000", NULL);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
			 bar_offset);
		check(p == MAP_FAILED && errno == EACCES,
		      "async: mmap of the trapped page is refused", NULL);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		check(map_write(bar, 1) == 0,
		      "async: the old mapping still reaches the device", NULL);
	} else {
		r = logging(dev, 1);
		check(r == 0, "DMA_LOGGING_START", "ret %d", r);
		check(map_write(bar, 1) < 0,
		      "revoke: the mapping faults with SIGBUS", NULL);
	}
	check(logging(dev, 1) == -EBUSY,
	      "a second DMA_LOGGING_START is refused with EBUSY", NULL);
	r = pwrite(dev, &v, 4, bar_offset + 0x04) == 4 &&
	    pread(dev, &back, 4, bar_offset + 0x04) == 4;
	check(r && back == ~v, "the trap path works while required",
	      "liveness 0x%08x", back);
	r = set_state(dev, VFIO_DEVICE_STATE_STOP, NULL);
	r = r ? r : set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	check(r == 0, "STOP -> RUNNING ends the requirement", "ret %d", r);
	if (efd >= 0) {
		check(eventfd_count(efd) == 1,
		      "async: the end signals the eventfd again", NULL);
		check(sparse_start(dev) == 0,
		      "async: BAR0 is mappable whole again", NULL);
	}
	check(map_write(bar, 2) == 0 && *reg32(bar, 0x04) == ~2u,
	      "the mapping reaches the device again", NULL);
	check(logging(dev, 0) == 0, "DMA_LOGGING_STOP", NULL);
	if (efd >= 0)
		close(efd);
}

/* A reset from any state: RUNNING again, the requirement over. */
static void check_reset(int dev, volatile uint8_t *bar)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	uint32_t state = 0;
	int r;

	if (ioctl(dev, VFIO_DEVICE_GET_INFO, &di) < 0 ||
	    !(di.flags & VFIO_DEVICE_FLAGS_RESET)) {
		printf("skip VFIO_DEVICE_RESET: the device has no reset here\n");
		return;
	}
	r = logging(dev, 1);
	check(r == 0, "DMA_LOGGING_START before the reset", "ret %d", r);
	r = ioctl(dev, VFIO_DEVICE_RESET) < 0 ? -errno : 0;
	check(r == 0, "VFIO_DEVICE_RESET", "ret %d", r);
	r = get_state(dev, &state);
	check(r == 0 && state == VFIO_DEVICE_STATE_RUNNING,
	      "the reset returned the device to RUNNING", "state %u", state);
	check(sparse_start(dev) == 0 && map_write(bar, 3) == 0,
	      "the reset ended the trap requirement", NULL);
	check(logging(dev, 0) == 0, "DMA_LOGGING_STOP after the reset", NULL);
}

int main(int argc, char **argv)
{
	char path[64], saved[256], junk[48];
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 0 };
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_migration m;
	} mig = {
		.f.argsz = sizeof(mig),
		.f.flags = VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIGRATION,
	};
	volatile uint8_t *bar;
	int container, group, dev, fd, r;
	ssize_t n, len = 0;
	uint32_t state;

	if (argc != 3) {
		fprintf(stderr, "usage: mig_check GROUP BDF\n");
		return 2;
	}
	container = open("/dev/vfio/vfio", O_RDWR);
	snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0 ||
	    ioctl(group, VFIO_GROUP_GET_STATUS, &gs) < 0 ||
	    ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0 ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		perror("mig_check: container and group");
		return 1;
	}
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	if (dev < 0 || ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0) {
		perror("mig_check: device");
		return 1;
	}
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		   ri.offset);
	if (bar == MAP_FAILED) {
		perror("mig_check: mmap BAR0");
		return 1;
	}

	r = ioctl(dev, VFIO_DEVICE_FEATURE, &mig);
	check(r == 0 && (mig.m.flags & VFIO_MIGRATION_STOP_COPY),
	      "FEATURE_MIGRATION reports STOP_COPY", "ret %d flags 0x%llx",
	      r, (unsigned long long)mig.m.flags);
	r = get_state(dev, &state);
	check(r == 0 && state == VFIO_DEVICE_STATE_RUNNING,
	      "a newly opened device is RUNNING", "ret %d state %u", r, state);

	/* The state to carry over, set through the mapping. */
	*reg32(bar, 0x04) = 0x12345678;
	*reg32(bar, 0x20) = 0x80;
	*reg64(bar, 0x80) = 0x1122334455667788ull;
	*reg64(bar, 0x90) = 0x100;

	/* RUNNING -> STOP -> STOP_COPY, chained by the driver. */
	r = set_state(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	check(r == 0 && fd >= 0, "RUNNING -> STOP_COPY hands out a save file",
	      "ret %d fd %d", r, fd);
	if (fd < 0)
		return 1;
	check(pread(fd, saved, sizeof(saved), 0) < 0 && errno == ESPIPE,
	      "pread on the save file is refused with ESPIPE", NULL);
	check(lseek(fd, 0, SEEK_SET) < 0 && errno == ESPIPE,
	      "lseek on the save file is refused with ESPIPE", NULL);
	while ((n = read(fd, saved + len, 7)) > 0)
		len += n;
	check(n == 0 && len == 48,
	      "the save file reads 48 bytes in 7-byte reads, then EOF",
	      "%zd bytes, last read %zd", len, n);
	r = get_state(dev, &state);
	check(r == 0 && state == VFIO_DEVICE_STATE_STOP_COPY,
	      "the device is in STOP_COPY", "state %u", state);
	r = set_state(dev, VFIO_DEVICE_STATE_STOP, NULL);
	check(r == 0, "STOP_COPY -> STOP", "ret %d", r);
	check(read(fd, junk, 1) < 0 && errno == ENODEV,
	      "the save file reads ENODEV once STOP_COPY ended", NULL);
	close(fd);

	/* What the target would hold before the state arrives. */
	*reg32(bar, 0x04) = 0;
	*reg32(bar, 0x20) = 0;
	*reg64(bar, 0x80) = 0;
	*reg64(bar, 0x90) = 0;

	r = set_state(dev, VFIO_DEVICE_STATE_RESUMING, &fd);
	check(r == 0 && fd >= 0, "STOP -> RESUMING hands out a resume file",
	      "ret %d fd %d", r, fd);
	if (fd < 0)
		return 1;
	check(pwrite(fd, saved, len, 0) < 0 && errno == ESPIPE,
	      "pwrite on the resume file is refused with ESPIPE", NULL);
	n = write(fd, saved, 20);
	n += write(fd, saved + 20, len - 20);
	check(n == len, "the saved bytes are written in two writes",
	      "%zd of %zd", n, len);
	close(fd);
	r = set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	check(r == 0, "RESUMING -> STOP -> RUNNING", "ret %d", r);
	check(*reg32(bar, 0x04) == ~0x12345678u,
	      "liveness restored (reads back its complement)", "0x%08x",
	      *reg32(bar, 0x04));
	check((*reg32(bar, 0x20) & 0x80) == 0x80,
	      "interrupt-on-finish bit restored", "status 0x%08x",
	      *reg32(bar, 0x20));
	check(*reg64(bar, 0x80) == 0x1122334455667788ull,
	      "DMA source restored", "0x%016llx",
	      (unsigned long long)*reg64(bar, 0x80));
	check(*reg64(bar, 0x90) == 0x100, "DMA count restored", "0x%llx",
	      (unsigned long long)*reg64(bar, 0x90));

	signal(SIGBUS, on_sigbus);
	check_trap(dev, bar, ri.offset);

	/* A stream that is not edu's is refused; the device stays RESUMING. */
	r = set_state(dev, VFIO_DEVICE_STATE_RESUMING, &fd);
	memset(junk, 0x5a, sizeof(junk));
	n = fd >= 0 ? write(fd, junk, sizeof(junk)) : -1;
	r = set_state(dev, VFIO_DEVICE_STATE_STOP, NULL);
	check(n == sizeof(junk) && r == -EINVAL,
	      "a bad stream is refused at RESUMING -> STOP", "ret %d", r);
	if (fd >= 0)
		close(fd);
	r = set_state(dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	check(r < 0, "RUNNING_P2P is refused (no P2P support)", "ret %d", r);
	check_reset(dev, bar);

	munmap((void *)bar, ri.size);
	close(dev);
	printf("%s\n", failures ? "mig_check: FAILED" : "mig_check: all ok");
	return failures ? 1 : 0;
}
