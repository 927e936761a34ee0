// vfio-client: a small real VFIO user for the guest rig (Scripts/vfio-guest.sh), driving QEMU's `edu`
// device through the real vfio-pci driver, and logging its own account of every call as JSON Lines.
//
//   vfio-client --group N --device BDF [--log FILE]   the whole VFIO user sequence (below)
//   vfio-client poke FILE OFFSET VALUE                mmap FILE (a sysfs resourceN) and write a 32-bit VALUE
//   vfio-client --migrate async|revoke ...            migrate edu under Fixtures/EduMigrationDriver (migrate.c)
//
// Sequence: container and group setup, device fd, device/region/irq info, BAR0 mmap and a read of edu's
// identification register, bus mastering on (config space pwrite), MSI bound to an eventfd with SET_IRQS, an interrupt raised through the BAR
// (edu raises it on a write to 0x60) so the kernel signals the eventfd, the eventfd read, unbinding,
// munmap, and BAR0 reads and writes through the trap path (pread/pwrite of the device fd).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static FILE *logf_;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// One log line: op, t0/t1 around the call, ret (value or -errno), then the op's own fields.
static void logline(const char *op, uint64_t t0, uint64_t t1, long ret, const char *fmt, ...) {
    if (!logf_) return;
    fprintf(logf_, "{\"op\":\"%s\",\"tid\":%ld,\"t0\":%" PRIu64 ",\"t1\":%" PRIu64 ",\"ret\":%ld", op, (long)syscall(SYS_gettid), t0, t1, ret);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputc(',', logf_);
        vfprintf(logf_, fmt, ap);
        va_end(ap);
    }
    fputs("}\n", logf_);
    fflush(logf_);
}

static long res(long r) { return r < 0 ? -errno : r; }

static int xioctl(int fd, unsigned long req, void *arg, const char *name) {
    uint64_t t0 = now_ns();
    long r = res(ioctl(fd, req, arg));
    uint64_t t1 = now_ns();
    logline("ioctl", t0, t1, r, "\"fd\":%d,\"request\":%lu,\"name\":\"%s\"", fd, req, name);
    if (r < 0) fprintf(stderr, "vfio-client: %s on fd %d: %s\n", name, fd, strerror((int)-r));
    return (int)r;
}

static int xopen(const char *path, int flags) {
    uint64_t t0 = now_ns();
    long r = res(open(path, flags));
    logline("open", t0, now_ns(), r, "\"path\":\"%s\",\"fd\":%ld", path, r);
    if (r < 0) fprintf(stderr, "vfio-client: open %s: %s\n", path, strerror((int)-r));
    return (int)r;
}

static int fail(const char *what) {
    fprintf(stderr, "vfio-client: %s\n", what);
    return 1;
}

static int poke(const char *path, unsigned long offset, uint32_t value) {
    // A VMM resets the command register to what its guest wrote (nothing, in a paused guest): turn the
    // device's memory decoding back on through sysfs `config` beside the resource file, or the write is lost.
    char cfgpath[512];
    snprintf(cfgpath, sizeof cfgpath, "%.*s/config", (int)(strrchr(path, '/') ? strrchr(path, '/') - path : 1), path);
    int cfd = open(cfgpath, O_RDWR);
    uint16_t cmd = 0;
    if (cfd >= 0 && pread(cfd, &cmd, 2, 4) == 2 && !(cmd & 0x2)) {
        cmd |= 0x2;
        if (pwrite(cfd, &cmd, 2, 4) != 2) perror(cfgpath);
    }
    if (cfd >= 0) close(cfd);
    int fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) { perror(path); return 1; }
    long page = sysconf(_SC_PAGESIZE);
    unsigned long base = offset & ~(unsigned long)(page - 1);
    volatile uint8_t *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    *(volatile uint32_t *)(p + (offset - base)) = value;
    printf("poke %s+0x%lx = 0x%x at %" PRIu64 " (command register 0x%04x)\n", path, offset, value, now_ns(), cmd);
    munmap((void *)p, (size_t)page);
    close(fd);
    return 0;
}

int migrate_main(int argc, char **argv);

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--migrate")) return migrate_main(argc, argv);
    if (argc == 5 && !strcmp(argv[1], "poke")) return poke(argv[2], strtoul(argv[3], NULL, 0), (uint32_t)strtoul(argv[4], NULL, 0));
    const char *group = NULL, *device = NULL, *logpath = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--group")) group = argv[i + 1];
        else if (!strcmp(argv[i], "--device")) device = argv[i + 1];
        else if (!strcmp(argv[i], "--log")) logpath = argv[i + 1];
    }
    if (!group || !device) {
        fprintf(stderr, "usage: vfio-client --group N --device BDF [--log FILE] | vfio-client poke FILE OFFSET VALUE\n");
        return 2;
    }
    if (logpath && !(logf_ = fopen(logpath, "w"))) { perror(logpath); return 1; }

    // Container and group.
    int container = xopen("/dev/vfio/vfio", O_RDWR);
    if (container < 0) return 1;
    if (xioctl(container, VFIO_GET_API_VERSION, NULL, "VFIO_GET_API_VERSION") != VFIO_API_VERSION) return fail("unexpected VFIO API version");
    if (xioctl(container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU, "VFIO_CHECK_EXTENSION") != 1) return fail("no type1v2 IOMMU");
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%s", group);
    int groupfd = xopen(path, O_RDWR);
    if (groupfd < 0) return 1;
    struct vfio_group_status gs = { .argsz = sizeof gs };
    if (xioctl(groupfd, VFIO_GROUP_GET_STATUS, &gs, "VFIO_GROUP_GET_STATUS") < 0) return 1;
    if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) return fail("group not viable (bind every device of it to vfio-pci)");
    if (xioctl(groupfd, VFIO_GROUP_SET_CONTAINER, &container, "VFIO_GROUP_SET_CONTAINER") < 0) return 1;
    if (xioctl(container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU, "VFIO_SET_IOMMU") < 0) return 1;

    // The device.
    uint64_t t0 = now_ns();
    int dev = (int)res(ioctl(groupfd, VFIO_GROUP_GET_DEVICE_FD, device));
    logline("ioctl", t0, now_ns(), dev, "\"fd\":%d,\"request\":%lu,\"name\":\"VFIO_GROUP_GET_DEVICE_FD\",\"device\":\"%s\"", groupfd,
            (unsigned long)VFIO_GROUP_GET_DEVICE_FD, device);
    if (dev < 0) return fail("VFIO_GROUP_GET_DEVICE_FD failed");
    struct vfio_device_info di = { .argsz = sizeof di };
    if (xioctl(dev, VFIO_DEVICE_GET_INFO, &di, "VFIO_DEVICE_GET_INFO") < 0) return 1;
    logline("device_info", 0, 0, 0, "\"flags\":%u,\"regions\":%u,\"irqs\":%u", di.flags, di.num_regions, di.num_irqs);

    struct vfio_region_info bar0 = { .argsz = sizeof bar0, .index = VFIO_PCI_BAR0_REGION_INDEX };
    if (xioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0, "VFIO_DEVICE_GET_REGION_INFO") < 0) return 1;
    logline("region_info", 0, 0, 0, "\"index\":0,\"size\":%llu,\"offset\":%llu,\"flags\":%u", (unsigned long long)bar0.size,
            (unsigned long long)bar0.offset, bar0.flags);
    struct vfio_region_info cfg = { .argsz = sizeof cfg, .index = VFIO_PCI_CONFIG_REGION_INDEX };
    if (xioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg, "VFIO_DEVICE_GET_REGION_INFO") < 0) return 1;
    logline("region_info", 0, 0, 0, "\"index\":7,\"size\":%llu,\"offset\":%llu,\"flags\":%u", (unsigned long long)cfg.size,
            (unsigned long long)cfg.offset, cfg.flags);
    if (!(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP)) return fail("BAR0 cannot be mmapped");

    // BAR0 through the mapping: edu's identification register.
    t0 = now_ns();
    void *bar = mmap(NULL, (size_t)bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)bar0.offset);
    long mret = bar == MAP_FAILED ? -errno : (long)(uintptr_t)bar;
    logline("mmap", t0, now_ns(), mret, "\"fd\":%d,\"addr\":%lu,\"len\":%llu,\"offset\":%llu,\"prot\":3", dev, (unsigned long)(uintptr_t)bar,
            (unsigned long long)bar0.size, (unsigned long long)bar0.offset);
    if (bar == MAP_FAILED) return fail("mmap of BAR0 failed");
    volatile uint32_t *regs = bar;
    uint32_t ident = regs[0];
    logline("bar_read", 0, 0, 0, "\"offset\":0,\"value\":%u", ident);

    // Bus mastering on (as a guest driver would), or edu's MSI write never leaves the device.
    uint16_t cmd = 0;
    t0 = now_ns();
    long cr = res(pread(dev, &cmd, 2, (off_t)(cfg.offset + 4)));
    logline("pread", t0, now_ns(), cr, "\"fd\":%d,\"offset\":%llu,\"len\":2,\"value\":%u", dev, (unsigned long long)cfg.offset + 4, cmd);
    cmd |= 0x4;
    t0 = now_ns();
    cr = res(pwrite(dev, &cmd, 2, (off_t)(cfg.offset + 4)));
    logline("pwrite", t0, now_ns(), cr, "\"fd\":%d,\"offset\":%llu,\"len\":2,\"value\":%u", dev, (unsigned long long)cfg.offset + 4, cmd);
    if (cr != 2) return fail("cannot enable bus mastering");

    // MSI, bound to an eventfd.
    struct vfio_irq_info ii = { .argsz = sizeof ii, .index = VFIO_PCI_MSI_IRQ_INDEX };
    if (xioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii, "VFIO_DEVICE_GET_IRQ_INFO") < 0) return 1;
    t0 = now_ns();
    int efd = (int)res(eventfd(0, EFD_CLOEXEC));
    logline("eventfd", t0, now_ns(), efd, "\"fd\":%d,\"initval\":0,\"flags\":%d", efd, EFD_CLOEXEC);
    char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
    struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
    *set = (struct vfio_irq_set){ .argsz = sizeof buf, .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                  .index = VFIO_PCI_MSI_IRQ_INDEX, .start = 0, .count = 1 };
    memcpy(set->data, &efd, sizeof efd);
    if (xioctl(dev, VFIO_DEVICE_SET_IRQS, set, "VFIO_DEVICE_SET_IRQS") < 0) return 1;
    logline("set_irqs", 0, 0, 0, "\"index\":1,\"start\":0,\"count\":1,\"fds\":[%d]", efd);

    // Raise the interrupt through the mapping; the kernel's MSI handler signals the eventfd.
    uint64_t raised = now_ns();
    regs[0x60 / 4] = 1;
    logline("bar_write", raised, raised, 0, "\"offset\":96,\"value\":1");
    struct pollfd pfd = { .fd = efd, .events = POLLIN };
    if (poll(&pfd, 1, 5000) != 1) return fail("the interrupt never reached the eventfd");
    uint64_t count = 0;
    t0 = now_ns();
    long rr = res(read(efd, &count, sizeof count));
    logline("eventfd_read", t0, now_ns(), rr, "\"fd\":%d,\"value\":%llu", efd, (unsigned long long)count);
    regs[0x64 / 4] = 1;  // acknowledge

    // Unbind MSI.
    struct vfio_irq_set none = { .argsz = sizeof none, .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                                 .index = VFIO_PCI_MSI_IRQ_INDEX, .start = 0, .count = 0 };
    if (xioctl(dev, VFIO_DEVICE_SET_IRQS, &none, "VFIO_DEVICE_SET_IRQS") < 0) return 1;
    logline("set_irqs", 0, 0, 0, "\"index\":1,\"start\":0,\"count\":0,\"fds\":[]");

    // Drop the mapping; from here on BAR0 goes through the trap path.
    t0 = now_ns();
    long ur = res(munmap(bar, (size_t)bar0.size));
    logline("munmap", t0, now_ns(), ur, "\"addr\":%lu,\"len\":%llu", (unsigned long)(uintptr_t)bar, (unsigned long long)bar0.size);
    uint32_t v = 0;
    t0 = now_ns();
    long pr = res(pread(dev, &v, 4, (off_t)bar0.offset));
    logline("pread", t0, now_ns(), pr, "\"fd\":%d,\"offset\":%llu,\"len\":4,\"value\":%u", dev, (unsigned long long)bar0.offset, v);
    uint32_t w = 0x12345678;
    t0 = now_ns();
    long pw = res(pwrite(dev, &w, 4, (off_t)(bar0.offset + 4)));
    logline("pwrite", t0, now_ns(), pw, "\"fd\":%d,\"offset\":%llu,\"len\":4,\"value\":%u", dev, (unsigned long long)bar0.offset + 4, w);
    uint32_t inv = 0;
    t0 = now_ns();
    pr = res(pread(dev, &inv, 4, (off_t)(bar0.offset + 4)));
    logline("pread", t0, now_ns(), pr, "\"fd\":%d,\"offset\":%llu,\"len\":4,\"value\":%u", dev, (unsigned long long)bar0.offset + 4, inv);

    printf("vfio-client: %s ident 0x%08x, MSI count %llu, trap-path read 0x%08x, liveness 0x%08x -> 0x%08x\n", device, ident,
           (unsigned long long)count, v, w, inv);
    close(efd);
    close(dev);
    close(groupfd);
    close(container);
    return ident == v && inv == ~w && count >= 1 ? 0 : 1;
}
