// SPDX-License-Identifier: GPL-2.0-only
/*
 * mig_check: exercises edu_vfio_pci's migration v2 from user space, on the
 * guest rig. Usage: mig_check GROUP BDF
 *
 * Sets edu's registers through the BAR0 mapping, saves the device
 * (RUNNING -> STOP_COPY), scribbles over the registers, restores the saved
 * bytes (STOP -> RESUMING -> RUNNING) and checks the registers came back;
 * checks that the data files refuse positioned I/O and that a bad stream is
 * refused. One line per check; exit 0 when all passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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

	munmap((void *)bar, ri.size);
	close(dev);
	printf("%s\n", failures ? "mig_check: FAILED" : "mig_check: all ok");
	return failures ? 1 : 0;
}
