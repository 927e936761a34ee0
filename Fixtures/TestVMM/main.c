// vfio-testvmm: a small program that behaves like a VMM doing VFIO device setup and a live migration
// against an *emulated* migration-capable VFIO device (there is no /dev/vfio on the test hosts).
//
// The device is emulated with seccomp user notification: the VMM thread installs a filter that
// turns its VFIO ioctls, its opens of /dev/vfio/* and its pread/pwrite into notifications, which a
// "driver" thread sharing the address space and fd table answers the way a vendor driver would:
// it fills in the result structs, injects fds (SECCOMP_IOCTL_NOTIF_ADDFD), and signals the
// re-evaluate-mmaps eventfd (irq index 5) when the device starts needing traps.
//
// mmaps of the device fd (a memfd), eventfds and KVM memslots are real syscalls.
// See README.md for flags and the JSON Lines log format (the ground truth for the recorder's tests).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/vfio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BAR_SIZE 0x100000ULL
#define MIG_REGION 9
#define MIG_OFFSET ((uint64_t)MIG_REGION << 40)
#define REEVAL_IRQ 5
#define DEVICE_NAME "0000:00:05.0"
#ifndef VFIO_DEVICE_STATE_PRE_COPY
#define VFIO_DEVICE_STATE_PRE_COPY 6
#endif

static const char *scenario = "racy";
static long delay_us = 2000;
static int use_v1 = 0, use_kvm = 1, wait_signal = 0;
static FILE *logf;
static int notify_fd = -1;
static volatile int done = 0;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

// Emulated device state (driver side).
static int dev_fd = -1;              // the memfd handed out as the device fd
static int dev_fd_in_vmm = -1;       // its number in the VMM's fd table
static int mmap_allowed = 1;         // sparse-mmap layout offers the BAR
static int irq_eventfd[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
static uint32_t dev_state = VFIO_DEVICE_STATE_RUNNING;
static int signal_pending_lost = 0;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void logline(const char *op, uint64_t t0, uint64_t t1, long ret, const char *fmt, ...) {
    if (!logf) return;
    pthread_mutex_lock(&mu);
    fprintf(logf, "{\"op\":\"%s\",\"tid\":%ld,\"t0\":%llu,\"t1\":%llu,\"ret\":%ld", op, (long)syscall(SYS_gettid),
            (unsigned long long)t0, (unsigned long long)t1, ret);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputc(',', logf);
        vfprintf(logf, fmt, ap);
        va_end(ap);
    }
    fputs("}\n", logf);
    fflush(logf);
    pthread_mutex_unlock(&mu);
}

static void die(const char *what) {
    fprintf(stderr, "vfio-testvmm: %s: %s\n", what, strerror(errno));
    exit(1);
}

// ---------------------------------------------------------------------------------------------
// Driver side: answers the notifications.

static int inject_fd(struct seccomp_notif *req, int fd) {
    struct seccomp_notif_addfd add = {.id = req->id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = (uint32_t)fd, .newfd = 0, .newfd_flags = O_CLOEXEC};
    return ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);  // completes the syscall with the new fd
}

static void driver_signal(int index) {
    uint64_t t0 = now_ns();
    int efd = irq_eventfd[index];
    if (efd < 0) {
        signal_pending_lost = 1;
        logline("driver_signal", t0, t0, -1, "\"index\":%d,\"fd\":-1,\"lost\":true", index);
        return;
    }
    uint64_t one = 1;
    long r = write(efd, &one, 8);
    logline("driver_signal", t0, now_ns(), r, "\"index\":%d,\"fd\":%d", index, efd);
}

static void set_trap(int on) {
    uint64_t t = now_ns();
    mmap_allowed = !on;
    logline("driver_trap", t, t, 0, "\"on\":%s,\"region\":0", on ? "true" : "false");
}

static int saving(uint32_t s) {
    if (use_v1) return (s & 2) != 0;  // _SAVING
    return s == VFIO_DEVICE_STATE_PRE_COPY || s == 7 || s == VFIO_DEVICE_STATE_STOP_COPY;
}

// Called after a device_state change was answered: a vendor driver switching to trapped access.
static void after_state_change(uint32_t old, uint32_t new) {
    if (!saving(old) && saving(new)) {
        set_trap(1);
        if (strcmp(scenario, "lost-signal") != 0) {
            usleep(300);  // the driver notices a little after the state change completed (racy window)
            driver_signal(REEVAL_IRQ);
        }
    } else if (saving(old) && !saving(new)) {
        set_trap(0);
    }
}

static long region_info(struct vfio_region_info *info) {
    uint32_t argsz = info->argsz;
    if (info->index == 0) {
        uint32_t need = sizeof(*info) + sizeof(struct vfio_region_info_cap_sparse_mmap) + sizeof(struct vfio_region_sparse_mmap_area);
        info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
        info->size = BAR_SIZE;
        info->offset = 0;
        if (argsz < need) {
            info->argsz = need;
            info->cap_offset = 0;
            return 0;
        }
        info->cap_offset = sizeof(*info);
        struct vfio_region_info_cap_sparse_mmap *cap = (void *)((char *)info + sizeof(*info));
        cap->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        cap->header.version = 1;
        cap->header.next = 0;
        cap->nr_areas = mmap_allowed ? 1 : 0;
        cap->areas[0].offset = 0;
        cap->areas[0].size = mmap_allowed ? BAR_SIZE : 0;
        return 0;
    }
    if (info->index == MIG_REGION && use_v1) {
        uint32_t need = sizeof(*info) + sizeof(struct vfio_region_info_cap_type);
        info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_CAPS;
        info->size = 0x1000;
        info->offset = MIG_OFFSET;
        if (argsz < need) {
            info->argsz = need;
            info->cap_offset = 0;
            return 0;
        }
        info->cap_offset = sizeof(*info);
        struct vfio_region_info_cap_type *cap = (void *)((char *)info + sizeof(*info));
        cap->header.id = VFIO_REGION_INFO_CAP_TYPE;
        cap->header.version = 1;
        cap->header.next = 0;
        cap->type = 3;
        cap->subtype = 1;
        return 0;
    }
    info->flags = 0;
    info->size = 0;
    info->offset = (uint64_t)info->index << 40;
    info->cap_offset = 0;
    return 0;
}

// Returns the syscall result (>= 0) or -errno; 1 << 40 means "continue the real syscall".
#define CONTINUE (1LL << 40)

static long long handle(struct seccomp_notif *req, int *answered) {
    __u64 *a = req->data.args;
    *answered = 0;
    if (req->data.nr == SYS_openat) {
        const char *path = (const char *)(uintptr_t)a[1];
        if (strcmp(path, "/dev/vfio/vfio") == 0 || strncmp(path, "/dev/vfio/4", 11) == 0) {
            int m = memfd_create(path + 10, MFD_CLOEXEC);
            int r = inject_fd(req, m);
            close(m);
            *answered = 1;
            return r;
        }
        return CONTINUE;
    }
    if (req->data.nr == SYS_ioctl) {
        unsigned long reqno = (unsigned long)(uint32_t)a[1];
        void *arg = (void *)(uintptr_t)a[2];
        switch (reqno) {
        case VFIO_GET_API_VERSION: return VFIO_API_VERSION;
        case VFIO_CHECK_EXTENSION: return 1;
        case VFIO_SET_IOMMU: return 0;
        case VFIO_GROUP_GET_STATUS: ((struct vfio_group_status *)arg)->flags = VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET; return 0;
        case VFIO_GROUP_SET_CONTAINER: return 0;
        case VFIO_GROUP_GET_DEVICE_FD: {
            if (strcmp((const char *)arg, DEVICE_NAME) != 0) return -ENODEV;
            int r = inject_fd(req, dev_fd);
            dev_fd_in_vmm = r;
            *answered = 1;
            return r;
        }
        case VFIO_DEVICE_GET_INFO: {
            struct vfio_device_info *info = arg;
            info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
            info->num_regions = 10;
            info->num_irqs = 6;
            return 0;
        }
        case VFIO_DEVICE_GET_REGION_INFO: return region_info(arg);
        case VFIO_DEVICE_GET_IRQ_INFO: {
            struct vfio_irq_info *info = arg;
            info->flags = VFIO_IRQ_INFO_EVENTFD;
            info->count = 1;
            return 0;
        }
        case VFIO_DEVICE_SET_IRQS: {
            struct vfio_irq_set *set = arg;
            if (set->index >= 8) return -EINVAL;
            if ((set->flags & VFIO_IRQ_SET_DATA_EVENTFD) && set->count >= 1) {
                // The driver thread shares the fd table, so it signals through the VMM's own fd number
                // (the kernel would hold an eventfd_ctx; the VMM never closes this fd while bound).
                int fd = *(int32_t *)set->data;
                irq_eventfd[set->index] = fd;
            }
            return 0;
        }
        case VFIO_DEVICE_RESET: dev_state = VFIO_DEVICE_STATE_RUNNING; return 0;
        case VFIO_DEVICE_FEATURE: {
            struct vfio_device_feature *f = arg;
            uint32_t id = f->flags & VFIO_DEVICE_FEATURE_MASK;
            if (id == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE) {
                struct vfio_device_feature_mig_state *ms = (void *)f->data;
                if (f->flags & VFIO_DEVICE_FEATURE_GET) { ms->device_state = dev_state; return 0; }
                if (dev_state == VFIO_DEVICE_STATE_STOP_COPY && (ms->device_state == VFIO_DEVICE_STATE_PRE_COPY || ms->device_state == 7))
                    return -EINVAL;
                uint32_t old = dev_state;
                dev_state = ms->device_state;
                ms->data_fd = -1;
                // Answer first: the VMM sees the state change complete before the driver reacts.
                struct seccomp_notif_resp resp = {.id = req->id, .val = 0, .error = 0, .flags = 0};
                ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
                *answered = 1;
                after_state_change(old, dev_state);
                return 0;
            }
            if (id == VFIO_DEVICE_FEATURE_MIGRATION && (f->flags & VFIO_DEVICE_FEATURE_GET)) {
                *(uint64_t *)f->data = VFIO_MIGRATION_STOP_COPY | (1 << 2);
                return 0;
            }
            return -ENOTTY;
        }
        default: return -ENOTTY;
        }
    }
    if (req->data.nr == SYS_pread64 || req->data.nr == SYS_pwrite64) {
        if ((int)a[0] != dev_fd_in_vmm) return CONTINUE;
        uint64_t pos = a[3];
        size_t len = (size_t)a[2];
        void *buf = (void *)(uintptr_t)a[1];
        if (pos == MIG_OFFSET && len == 4 && use_v1) {
            if (req->data.nr == SYS_pread64) { memcpy(buf, &dev_state, 4); return 4; }
            uint32_t old = dev_state, new;
            memcpy(&new, buf, 4);
            dev_state = new;
            struct seccomp_notif_resp resp = {.id = req->id, .val = 4, .error = 0, .flags = 0};
            ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
            *answered = 1;
            after_state_change(old, new);
            return 4;
        }
        if (req->data.nr == SYS_pread64) {
            uint32_t id = 0x010000ed;  // like QEMU's edu device at BAR0 + 0
            memset(buf, 0, len);
            memcpy(buf, &id, len < 4 ? len : 4);
        }
        return (long long)len;
    }
    return CONTINUE;
}

static void *driver(void *unused) {
    (void)unused;
    pthread_mutex_lock(&mu);
    while (notify_fd < 0 && !done) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    struct seccomp_notif *req = calloc(1, 4096);
    while (!done) {
        struct pollfd p = {.fd = notify_fd, .events = POLLIN};
        int n = poll(&p, 1, 100);
        if (n <= 0) continue;
        memset(req, 0, sizeof(*req));
        if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) continue;
        int answered = 0;
        long long r = handle(req, &answered);
        if (answered) continue;
        struct seccomp_notif_resp resp = {.id = req->id};
        if (r == CONTINUE) {
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        } else if (r < 0) {
            resp.error = (int32_t)r;
        } else {
            resp.val = r;
        }
        ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    free(req);
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// VMM side.

static void install_filter(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pread64, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pwrite64, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0xFF00 & ~0x3B00, 1, 0),  // any type bit outside ';' -> allow
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0),                  // fallthrough placeholder
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    };
    // Rebuild the ioctl branch precisely: notify when (request & 0xFF00) == 0x3B00.
    struct sock_filter g[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 7, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pread64, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pwrite64, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xFF00),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x3B00, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    };
    (void)f;
    struct sock_fprog prog = {.len = sizeof(g) / sizeof(g[0]), .filter = g};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(NO_NEW_PRIVS)");
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) die("seccomp(NEW_LISTENER)");
    pthread_mutex_lock(&mu);
    notify_fd = fd;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

// VMM actions, each one syscall, logged with entry/exit times.
static long vioctl(int fd, unsigned long req, void *arg, const char *name) {
    uint64_t t0 = now_ns();
    long r = ioctl(fd, req, arg);
    long ret = r < 0 ? -errno : r;
    logline("ioctl", t0, now_ns(), ret, "\"fd\":%d,\"request\":%lu,\"name\":\"%s\"", fd, req, name);
    return ret;
}

static int vopen(const char *path) {
    uint64_t t0 = now_ns();
    int fd = openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    logline("open", t0, now_ns(), fd < 0 ? -errno : fd, "\"path\":\"%s\",\"fd\":%d", path, fd);
    return fd;
}

static struct vfio_region_info *bar_info;

static void read_region(int devfd, uint32_t index) {
    // The kernel's two-call protocol: ask with the bare struct, grow to the argsz it reports.
    struct vfio_region_info probe = {.argsz = sizeof(probe), .index = index};
    vioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &probe, "VFIO_DEVICE_GET_REGION_INFO");
    struct vfio_region_info *info = calloc(1, probe.argsz);
    info->argsz = probe.argsz;
    info->index = index;
    uint64_t t0 = now_ns();
    long r = ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, info);
    uint64_t t1 = now_ns();
    int areas = -1;
    uint64_t asize = 0;
    if (info->flags & VFIO_REGION_INFO_FLAG_CAPS && info->cap_offset) {
        struct vfio_info_cap_header *h = (void *)((char *)info + info->cap_offset);
        if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
            struct vfio_region_info_cap_sparse_mmap *sp = (void *)h;
            areas = (int)sp->nr_areas;
            asize = areas > 0 ? sp->areas[0].size : 0;
        }
    }
    logline("ioctl", t0, t1, r < 0 ? -errno : r, "\"fd\":%d,\"request\":%lu,\"name\":\"VFIO_DEVICE_GET_REGION_INFO\"", devfd,
            (unsigned long)VFIO_DEVICE_GET_REGION_INFO);
    logline("region_info", t0, t1, r, "\"index\":%u,\"size\":%llu,\"offset\":%llu,\"flags\":%u,\"areas\":%d,\"area_size\":%llu", index,
            (unsigned long long)info->size, (unsigned long long)info->offset, info->flags, areas, (unsigned long long)asize);
    if (index == 0) { free(bar_info); bar_info = info; } else { free(info); }
}

static int vm_fd = -1;
static void *bar;

static void memslot(uint64_t size) {
    if (vm_fd < 0) return;
    struct kvm_userspace_memory_region m = {.slot = 5, .flags = 0, .guest_phys_addr = 0xfe000000, .memory_size = size, .userspace_addr = (uint64_t)(uintptr_t)bar};
    uint64_t t0 = now_ns();
    long r = ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &m);
    logline("memslot", t0, now_ns(), r < 0 ? -errno : r, "\"slot\":5,\"gpa\":%llu,\"size\":%llu,\"ua\":%llu", 0xfe000000ull,
            (unsigned long long)size, (unsigned long long)m.userspace_addr);
    if (r < 0) { fprintf(stderr, "vfio-testvmm: KVM_SET_USER_MEMORY_REGION: %s\n", strerror(errno)); exit(1); }
}

static void map_bar(int devfd) {
    uint64_t t0 = now_ns();
    bar = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, devfd, 0);
    if (bar == MAP_FAILED) die("mmap BAR0");
    logline("mmap", t0, now_ns(), (long)(uintptr_t)bar, "\"fd\":%d,\"addr\":%llu,\"len\":%llu,\"offset\":0,\"prot\":3", devfd,
            (unsigned long long)(uintptr_t)bar, BAR_SIZE);
}

static void unmap_bar(void) {
    uint64_t t0 = now_ns();
    long r = munmap(bar, BAR_SIZE);
    logline("munmap", t0, now_ns(), r, "\"addr\":%llu,\"len\":%llu", (unsigned long long)(uintptr_t)bar, BAR_SIZE);
}

static void set_state(int devfd, uint32_t state) {
    uint64_t t0 = now_ns();
    long r;
    if (use_v1) {
        r = pwrite(devfd, &state, 4, (off_t)MIG_OFFSET);
        r = r < 0 ? -errno : r;
    } else {
        uint8_t buf[sizeof(struct vfio_device_feature) + sizeof(struct vfio_device_feature_mig_state)] = {0};
        struct vfio_device_feature *f = (void *)buf;
        f->argsz = sizeof(buf);
        f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
        ((struct vfio_device_feature_mig_state *)f->data)->device_state = state;
        r = ioctl(devfd, VFIO_DEVICE_FEATURE, buf);
        r = r < 0 ? -errno : r;
    }
    logline("device_state", t0, now_ns(), r, "\"proto\":%d,\"requested\":%u", use_v1 ? 1 : 2, state);
    if (r < 0) { fprintf(stderr, "vfio-testvmm: device_state %u: %s\n", state, strerror((int)-r)); exit(1); }
}

static uint64_t read_eventfd(int efd) {
    struct pollfd p = {.fd = efd, .events = POLLIN};
    if (poll(&p, 1, 2000) <= 0) {
        fprintf(stderr, "vfio-testvmm: no re-evaluate signal within 2 s\n");
        exit(1);
    }
    uint64_t v = 0;
    uint64_t t0 = now_ns();
    long r = read(efd, &v, 8);
    logline("eventfd_read", t0, now_ns(), r, "\"fd\":%d,\"value\":%llu", efd, (unsigned long long)v);
    return v;
}

static uint32_t st_saving(void) { return use_v1 ? 3 : VFIO_DEVICE_STATE_PRE_COPY; }
static uint32_t st_stopcopy(void) { return use_v1 ? 2 : VFIO_DEVICE_STATE_STOP_COPY; }
static uint32_t st_stop(void) { return use_v1 ? 0 : VFIO_DEVICE_STATE_STOP; }
static uint32_t st_running(void) { return use_v1 ? 1 : VFIO_DEVICE_STATE_RUNNING; }

// A VMM-like load for the recorder benchmark: ioctls that are not VFIO (standing in for KVM_RUN),
// eventfd round trips and mmap/munmap pairs. No emulated device.
static long bench_ioctls = 1000000, bench_rounds = 10000, bench_mmaps = 1000, bench_kvm_exits = 0;

// Real KVM_RUN exits: a one-vCPU real-mode guest looping on `out 0x10, al`, so every KVM_RUN returns
// with KVM_EXIT_IO, as a VMM's vCPU thread does on emulated port I/O.
static void bench_kvm(long exits) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("bench: /dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("bench: KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) die("bench: guest memory");
    static const uint8_t code[] = {0xE6, 0x10, 0xEB, 0xFC};  // out 0x10, al; jmp back to it
    memcpy(mem + 0x1000, code, sizeof code);
    struct kvm_userspace_memory_region r = {.slot = 0, .guest_phys_addr = 0, .memory_size = 0x2000, .userspace_addr = (uint64_t)(uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) die("bench: KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpu < 0 || size <= 0) die("bench: KVM_CREATE_VCPU");
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("bench: kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("bench: KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("bench: KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("bench: KVM_SET_REGS");
    for (long i = 0; i < exits; i++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO) die("bench: KVM_RUN");
    }
    munmap(run, (size_t)size);
    close(vcpu);
    close(vm);
    close(kvm);
    munmap(mem, 0x2000);
}

// Trapped guest MMIO (scenario kvm-mmio): a one-vCPU real-mode guest loops on a 32-bit write and a read of a
// "BAR" page at guest-physical 0x10000 (the address advancing 4 bytes an iteration, over 64 bytes), then an
// `out 0x10`. First the page is a memslot over a memfd mapping (no MMIO exits: the guest reaches it directly);
// then the VMM deletes the memslot and unmaps the page, as a VMM does when a device needs traps, and every
// access exits to the VMM as KVM_EXIT_MMIO, which logs it (reads answered with 0xA5000000 + a count) until
// `kvm_mmio` accesses were logged.
#define MMIO_GPA 0x10000ULL
static long kvm_mmio_accesses = 100;

static long kvm_run_logged(int vcpu, struct kvm_run *run, uint64_t *t0, uint64_t *t1) {
    *t0 = now_ns();
    long r = ioctl(vcpu, KVM_RUN, 0);
    *t1 = now_ns();
    if (r < 0) die("kvm-mmio: KVM_RUN");
    return run->exit_reason;
}

static int kvm_mmio_scenario(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("kvm-mmio: /dev/kvm");
    uint64_t t0 = now_ns();
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    logline("ioctl", t0, now_ns(), vm < 0 ? -errno : vm, "\"fd\":%d,\"request\":%lu,\"name\":\"KVM_CREATE_VM\"", kvm, (unsigned long)KVM_CREATE_VM);
    if (vm < 0) die("kvm-mmio: KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) die("kvm-mmio: guest memory");
    static const uint8_t code[] = {
        0x66, 0x40,              // inc eax
        0x66, 0x89, 0x07,        // mov [bx], eax      (ds base 0x10000: the BAR page)
        0x66, 0x8B, 0x0F,        // mov ecx, [bx]
        0x83, 0xC3, 0x04,        // add bx, 4
        0x83, 0xE3, 0x3C,        // and bx, 0x3c
        0xE6, 0x10,              // out 0x10, al
        0xEB, 0xEE,              // jmp to the start
    };
    memcpy(mem + 0x1000, code, sizeof code);
    struct kvm_userspace_memory_region ram = {.slot = 0, .guest_phys_addr = 0, .memory_size = 0x2000, .userspace_addr = (uint64_t)(uintptr_t)mem};
    t0 = now_ns();
    long r = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &ram);
    logline("memslot", t0, now_ns(), r < 0 ? -errno : r, "\"slot\":0,\"gpa\":0,\"size\":8192,\"ua\":%llu", (unsigned long long)ram.userspace_addr);
    if (r < 0) die("kvm-mmio: KVM_SET_USER_MEMORY_REGION");
    // The "BAR": a page of the device fd (a memfd), mapped and made a memslot as a VMM does for a sparse-mmap area.
    t0 = now_ns();
    uint8_t *page = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, dev_fd, 0);
    if (page == MAP_FAILED) die("kvm-mmio: mmap");
    logline("mmap", t0, now_ns(), (long)(uintptr_t)page, "\"fd\":%d,\"addr\":%llu,\"len\":4096,\"offset\":0,\"prot\":3", dev_fd,
            (unsigned long long)(uintptr_t)page);
    struct kvm_userspace_memory_region slot = {.slot = 5, .guest_phys_addr = MMIO_GPA, .memory_size = 0x1000, .userspace_addr = (uint64_t)(uintptr_t)page};
    t0 = now_ns();
    r = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot);
    logline("memslot", t0, now_ns(), r < 0 ? -errno : r, "\"slot\":5,\"gpa\":%llu,\"size\":4096,\"ua\":%llu", MMIO_GPA,
            (unsigned long long)slot.userspace_addr);
    if (r < 0) die("kvm-mmio: KVM_SET_USER_MEMORY_REGION (BAR)");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpu < 0 || size <= 0) die("kvm-mmio: KVM_CREATE_VCPU");
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("kvm-mmio: kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("kvm-mmio: KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    sregs.ds.base = MMIO_GPA;
    sregs.ds.selector = MMIO_GPA >> 4;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("kvm-mmio: KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("kvm-mmio: KVM_SET_REGS");
    uint64_t t1;
    // Direct access: 16 iterations through the memslot, no MMIO exit (only the port I/O).
    for (int i = 0; i < 16; i++) {
        long reason = kvm_run_logged(vcpu, run, &t0, &t1);
        if (reason != KVM_EXIT_IO) { fprintf(stderr, "vfio-testvmm: kvm-mmio: exit %ld with the memslot in place\n", reason); return 1; }
    }
    // The device needs traps: the memslot goes, then the mapping.
    slot.memory_size = 0;
    t0 = now_ns();
    r = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot);
    logline("memslot", t0, now_ns(), r < 0 ? -errno : r, "\"slot\":5,\"gpa\":%llu,\"size\":0,\"ua\":%llu", MMIO_GPA,
            (unsigned long long)slot.userspace_addr);
    t0 = now_ns();
    r = munmap(page, 0x1000);
    logline("munmap", t0, now_ns(), r, "\"addr\":%llu,\"len\":4096", (unsigned long long)(uintptr_t)page);
    // Trapped: every access exits to us.
    long logged = 0, reads = 0;
    while (logged < kvm_mmio_accesses) {
        long reason = kvm_run_logged(vcpu, run, &t0, &t1);
        if (reason == KVM_EXIT_IO) continue;
        if (reason != KVM_EXIT_MMIO) { fprintf(stderr, "vfio-testvmm: kvm-mmio: unexpected exit %ld\n", reason); return 1; }
        uint64_t value = 0;
        if (run->mmio.is_write) {
            memcpy(&value, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
        } else {
            value = 0xA5000000ull + (uint64_t)reads++;
            memcpy(run->mmio.data, &value, run->mmio.len <= 8 ? run->mmio.len : 8);
        }
        logline("mmio", t0, t1, 0, "\"type\":\"%s\",\"gpa\":%llu,\"len\":%u,\"value\":%llu", run->mmio.is_write ? "write" : "read",
                (unsigned long long)run->mmio.phys_addr, run->mmio.len, (unsigned long long)value);
        logged++;
    }
    // Complete the last read (its value goes in on the next entry), then stop at the port I/O.
    while (kvm_run_logged(vcpu, run, &t0, &t1) != KVM_EXIT_IO) {}
    printf("kvm-mmio: %ld trapped accesses\n", logged);
    munmap(run, (size_t)size);
    close(vcpu);
    close(vm);
    close(kvm);
    munmap(mem, 0x2000);
    return 0;
}

// MSIs injected through KVM (scenario kvm-msi): a VM with an in-kernel irqchip and one vCPU (never run), then
// `kvm_msi` MSIs signalled with KVM_SIGNAL_MSI and `kvm_msi` more through an irqfd routed to an MSI
// (KVM_SET_GSI_ROUTING, KVM_IRQFD; each a write(2) of the eventfd), then `kvm_msi` through an irqfd routed to
// a broadcast MSI, each logged (`msi`) with its address and data, as QEMU injects an emulated device's MSI-X or
// a vhost/vfio irqfd does.
static long kvm_msi_count = 10;
#define MSI_ADDRESS 0xFEE00000u
#define MSI_GSI 24

static int kvm_msi_scenario(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("kvm-msi: /dev/kvm");
    uint64_t t0 = now_ns();
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    logline("ioctl", t0, now_ns(), vm < 0 ? -errno : vm, "\"fd\":%d,\"request\":%lu,\"name\":\"KVM_CREATE_VM\"", kvm, (unsigned long)KVM_CREATE_VM);
    if (vm < 0) die("kvm-msi: KVM_CREATE_VM");
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("kvm-msi: KVM_CREATE_IRQCHIP");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("kvm-msi: KVM_CREATE_VCPU");
    for (long i = 0; i < kvm_msi_count; i++) {
        struct kvm_msi msi = {.address_lo = MSI_ADDRESS, .address_hi = 0, .data = 0x30 + (uint32_t)(i % 16)};
        t0 = now_ns();
        long r = ioctl(vm, KVM_SIGNAL_MSI, &msi);
        logline("msi", t0, now_ns(), r < 0 ? -errno : r, "\"via\":\"ioctl\",\"address\":%u,\"data\":%u", msi.address_lo, msi.data);
    }
    // An irqfd on GSI 24, routed to one MSI.
    struct {
        struct kvm_irq_routing head;
        struct kvm_irq_routing_entry entry;
    } routing = {.head = {.nr = 1}, .entry = {.gsi = MSI_GSI, .type = KVM_IRQ_ROUTING_MSI, .u.msi = {.address_lo = MSI_ADDRESS, .data = 0x41}}};
    if (ioctl(vm, KVM_SET_GSI_ROUTING, &routing) < 0) die("kvm-msi: KVM_SET_GSI_ROUTING");
    int efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0) die("kvm-msi: eventfd");
    struct kvm_irqfd irqfd = {.fd = (uint32_t)efd, .gsi = MSI_GSI};
    t0 = now_ns();
    long r = ioctl(vm, KVM_IRQFD, &irqfd);
    logline("irqfd", t0, now_ns(), r < 0 ? -errno : r, "\"fd\":%d,\"gsi\":%d", efd, MSI_GSI);
    if (r < 0) die("kvm-msi: KVM_IRQFD");
    for (long i = 0; i < kvm_msi_count; i++) {
        uint64_t one = 1;
        t0 = now_ns();
        long w = write(efd, &one, 8);
        logline("msi", t0, now_ns(), w < 0 ? -errno : w, "\"via\":\"irqfd\",\"gsi\":%d,\"fd\":%d,\"address\":%u,\"data\":%u", MSI_GSI, efd,
                MSI_ADDRESS, 0x41u);
    }
    irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
    ioctl(vm, KVM_IRQFD, &irqfd);
    close(efd);
    // An irqfd on GSI 25 routed to a broadcast MSI (destination 0xff): KVM's fast path cannot deliver it from the
    // writer, so its irqfd worker (a kworker, not this process) injects it again, once per batch of writes. The
    // deassign waits for that worker.
    routing.entry.gsi = MSI_GSI + 1;
    routing.entry.u.msi.address_lo = MSI_ADDRESS | 0xff000;
    routing.entry.u.msi.data = 0x42;
    if (ioctl(vm, KVM_SET_GSI_ROUTING, &routing) < 0) die("kvm-msi: KVM_SET_GSI_ROUTING (broadcast)");
    efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0) die("kvm-msi: eventfd");
    irqfd = (struct kvm_irqfd){.fd = (uint32_t)efd, .gsi = MSI_GSI + 1};
    t0 = now_ns();
    r = ioctl(vm, KVM_IRQFD, &irqfd);
    logline("irqfd", t0, now_ns(), r < 0 ? -errno : r, "\"fd\":%d,\"gsi\":%d", efd, MSI_GSI + 1);
    if (r < 0) die("kvm-msi: KVM_IRQFD (broadcast)");
    for (long i = 0; i < kvm_msi_count; i++) {
        uint64_t one = 1;
        t0 = now_ns();
        long w = write(efd, &one, 8);
        logline("msi", t0, now_ns(), w < 0 ? -errno : w, "\"via\":\"irqfd\",\"gsi\":%d,\"fd\":%d,\"address\":%u,\"data\":%u", MSI_GSI + 1,
                efd, MSI_ADDRESS | 0xff000, 0x42u);
    }
    irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
    t0 = now_ns();
    r = ioctl(vm, KVM_IRQFD, &irqfd);
    logline("irqfd_deassign", t0, now_ns(), r < 0 ? -errno : r, "\"fd\":%d,\"gsi\":%d", efd, MSI_GSI + 1);
    close(efd);
    close(vcpu);
    close(vm);
    close(kvm);
    printf("kvm-msi: %ld MSIs signalled, %ld through an irqfd, %ld through a broadcast irqfd\n", kvm_msi_count, kvm_msi_count,
           kvm_msi_count);
    return 0;
}

// Memslots made before a recorder attaches (scenario memslots): two VMs and their memslots set up before
// `--wait-signal`'s wait (RAM, a page of the device memfd as a BAR, a read-only page, a dirty-logged range, and
// a slot added then deleted), each logged (`memslot`, with `vm` and `flags`); after SIGUSR1 the BAR's memslot is
// deleted, then everything closed.
static int snap_vm = -1, snap_vm2 = -1;
static struct kvm_userspace_memory_region snap_bar;

static void snap_memslot(int vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *ua) {
    struct kvm_userspace_memory_region m = {.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
                                            .userspace_addr = (uint64_t)(uintptr_t)ua};
    uint64_t t0 = now_ns();
    long r = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m);
    logline("memslot", t0, now_ns(), r < 0 ? -errno : r, "\"vm\":%d,\"slot\":%u,\"flags\":%u,\"gpa\":%llu,\"size\":%llu,\"ua\":%llu", vm,
            slot, flags, (unsigned long long)gpa, (unsigned long long)size, (unsigned long long)m.userspace_addr);
    if (r < 0) die("memslots: KVM_SET_USER_MEMORY_REGION");
    if (slot == 3 && vm == snap_vm) snap_bar = m;
}

static void *snap_anon(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("memslots: mmap");
    return p;
}

static void memslots_setup(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("memslots: /dev/kvm");
    for (int i = 0; i < 2; i++) {
        uint64_t t0 = now_ns();
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        logline("ioctl", t0, now_ns(), vm < 0 ? -errno : vm, "\"fd\":%d,\"request\":%lu,\"name\":\"KVM_CREATE_VM\"", kvm,
                (unsigned long)KVM_CREATE_VM);
        if (vm < 0) die("memslots: KVM_CREATE_VM");
        *(i ? &snap_vm2 : &snap_vm) = vm;
    }
    snap_memslot(snap_vm, 0, 0, 0, 0x4000, snap_anon(0x4000));
    void *bar = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, dev_fd, 0);
    if (bar == MAP_FAILED) die("memslots: mmap of the device");
    snap_memslot(snap_vm, 3, 0, 0xfe000000ull, 0x10000, bar);
    snap_memslot(snap_vm, 7, KVM_MEM_READONLY, 0xfffff000ull, 0x1000, snap_anon(0x1000));
    void *gone = snap_anon(0x1000);
    snap_memslot(snap_vm, 9, 0, 0x100000, 0x1000, gone);
    snap_memslot(snap_vm, 9, 0, 0x100000, 0, gone);
    snap_memslot(snap_vm, 12, KVM_MEM_LOG_DIRTY_PAGES, 0x200000, 0x2000, snap_anon(0x2000));
    snap_memslot(snap_vm2, 0, 0, 0, 0x1000, snap_anon(0x1000));
    close(kvm);
}

static int memslots_scenario(void) {
    snap_bar.memory_size = 0;
    uint64_t t0 = now_ns();
    long r = ioctl(snap_vm, KVM_SET_USER_MEMORY_REGION, &snap_bar);
    logline("memslot", t0, now_ns(), r < 0 ? -errno : r, "\"vm\":%d,\"slot\":3,\"flags\":0,\"gpa\":%llu,\"size\":0,\"ua\":%llu", snap_vm,
            (unsigned long long)snap_bar.guest_phys_addr, (unsigned long long)snap_bar.userspace_addr);
    close(snap_vm);
    close(snap_vm2);
    printf("memslots: done\n");
    return r < 0;
}

static int bench_allow_filter = 0;

// For the recorder benchmark's reference: a seccomp filter of the launch filter's shape (ioctl first, its
// request inspected) that allows everything, so the kernel's seccomp cost is measured without a tracer.
static void install_allow_filter(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KVM_RUN, 0, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) die("bench: seccomp");
}

static int bench(void) {
    if (bench_allow_filter) install_allow_filter();
    if (bench_kvm_exits > 0) bench_kvm(bench_kvm_exits);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int efd = eventfd(0, EFD_CLOEXEC);
    if (null < 0 || efd < 0) die("bench setup");
    int n = 0;
    for (long i = 0; i < bench_ioctls; i++) ioctl(null, FIONREAD, &n);  // ENOTTY or 0: not a VFIO request
    uint64_t v = 1;
    for (long i = 0; i < bench_rounds; i++) {
        if (write(efd, &v, 8) != 8 || read(efd, &v, 8) != 8) die("eventfd round trip");
    }
    for (long i = 0; i < bench_mmaps; i++) {
        void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) die("mmap");
        munmap(p, 65536);
    }
    printf("bench: %ld KVM_RUN exits, %ld ioctls, %ld eventfd round trips, %ld mmap/munmap\n", bench_kvm_exits, bench_ioctls, bench_rounds,
           bench_mmaps);
    return 0;
}

int main(int argc, char **argv) {
    const char *logpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scenario") && i + 1 < argc) scenario = argv[++i];
        else if (!strcmp(argv[i], "--delay-us") && i + 1 < argc) delay_us = atol(argv[++i]);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc) logpath = argv[++i];
        else if (!strcmp(argv[i], "--wait-signal")) wait_signal = 1;
        else if (!strcmp(argv[i], "--no-kvm")) use_kvm = 0;
        else if (!strcmp(argv[i], "--v1")) use_v1 = 1;
        else if (!strcmp(argv[i], "--ioctls") && i + 1 < argc) bench_ioctls = atol(argv[++i]);
        else if (!strcmp(argv[i], "--eventfd-rounds") && i + 1 < argc) bench_rounds = atol(argv[++i]);
        else if (!strcmp(argv[i], "--mmaps") && i + 1 < argc) bench_mmaps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--kvm-exits") && i + 1 < argc) bench_kvm_exits = atol(argv[++i]);
        else if (!strcmp(argv[i], "--allow-filter")) bench_allow_filter = 1;
        else if (!strcmp(argv[i], "--kvm-mmio") && i + 1 < argc) kvm_mmio_accesses = atol(argv[++i]);
        else if (!strcmp(argv[i], "--kvm-msi") && i + 1 < argc) kvm_msi_count = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: vfio-testvmm --scenario safe|racy|lost-signal|v1|v2|bench|kvm-mmio|kvm-msi|memslots [--delay-us N] [--log FILE] [--wait-signal] [--no-kvm] [--v1] [--kvm-exits N --ioctls N --eventfd-rounds N --mmaps N --allow-filter] [--kvm-mmio N] [--kvm-msi N]\n");
            return 2;
        }
    }
    if (!strcmp(scenario, "v1")) use_v1 = 1;
    if (use_v1) dev_state = 1;  // v1 bitmask: _RUNNING
    if (strcmp(scenario, "safe") && strcmp(scenario, "racy") && strcmp(scenario, "lost-signal") && strcmp(scenario, "v1") && strcmp(scenario, "v2") && strcmp(scenario, "bench") && strcmp(scenario, "kvm-mmio") &&
        strcmp(scenario, "kvm-msi") && strcmp(scenario, "memslots")) {
        fprintf(stderr, "vfio-testvmm: unknown scenario '%s'\n", scenario);
        return 2;
    }
    if (logpath && !(logf = fopen(logpath, "w"))) die(logpath);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);  // inherited by the driver thread

    dev_fd = memfd_create("vfio-testvmm-bar0", MFD_CLOEXEC);
    if (dev_fd < 0 || ftruncate(dev_fd, (off_t)BAR_SIZE) != 0) die("memfd");
    pthread_t drv;
    if (pthread_create(&drv, NULL, driver, NULL) != 0) die("pthread_create");

    if (!strcmp(scenario, "memslots")) memslots_setup();
    if (wait_signal) {
        printf("ready %d\n", getpid());
        fflush(stdout);
        // A recorder attaching interrupts the wait (EINTR): wait again until the deadline.
        uint64_t deadline = now_ns() + 30000000000ull;
        int got = -1;
        while (got != SIGUSR1 && now_ns() < deadline) {
            uint64_t left = deadline - now_ns();
            struct timespec limit = {.tv_sec = (time_t)(left / 1000000000ull), .tv_nsec = (long)(left % 1000000000ull)};
            got = sigtimedwait(&usr1, NULL, &limit);
            if (got < 0 && errno != EINTR) break;
        }
        if (got != SIGUSR1) {
            fprintf(stderr, "vfio-testvmm: no SIGUSR1 within 30 s\n");
            return 1;
        }
    }

    if (!strcmp(scenario, "bench") || !strcmp(scenario, "kvm-mmio") || !strcmp(scenario, "kvm-msi") || !strcmp(scenario, "memslots")) {
        pthread_mutex_lock(&mu);
        done = 1;
        pthread_cond_broadcast(&cv);  // the driver may be waiting for a notify fd that will never come
        pthread_mutex_unlock(&mu);
        pthread_join(drv, NULL);
        if (strcmp(scenario, "bench")) {
            int status = !strcmp(scenario, "kvm-mmio") ? kvm_mmio_scenario() : !strcmp(scenario, "kvm-msi") ? kvm_msi_scenario() : memslots_scenario();
            if (logf) fclose(logf);
            return status;
        }
        return bench();
    }
    int kvm = use_kvm ? open("/dev/kvm", O_RDWR | O_CLOEXEC) : -1;
    if (use_kvm && kvm < 0) fprintf(stderr, "vfio-testvmm: /dev/kvm unavailable (%s); running without memslots\n", strerror(errno));
    if (kvm >= 0) {
        uint64_t t0 = now_ns();
        vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
        logline("ioctl", t0, now_ns(), vm_fd < 0 ? -errno : vm_fd, "\"fd\":%d,\"request\":%lu,\"name\":\"KVM_CREATE_VM\"", kvm, (unsigned long)KVM_CREATE_VM);
        if (vm_fd < 0) fprintf(stderr, "vfio-testvmm: KVM_CREATE_VM: %s; running without memslots\n", strerror(errno));
    }

    install_filter();
    int container = vopen("/dev/vfio/vfio");
    int group = vopen("/dev/vfio/42");
    if (container < 0 || group < 0) die("open emulated VFIO nodes");
    vioctl(container, VFIO_GET_API_VERSION, NULL, "VFIO_GET_API_VERSION");
    vioctl(container, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1v2_IOMMU, "VFIO_CHECK_EXTENSION");
    struct vfio_group_status gs = {.argsz = sizeof(gs)};
    vioctl(group, VFIO_GROUP_GET_STATUS, &gs, "VFIO_GROUP_GET_STATUS");
    vioctl(group, VFIO_GROUP_SET_CONTAINER, &container, "VFIO_GROUP_SET_CONTAINER");
    vioctl(container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU, "VFIO_SET_IOMMU");
    int devfd = (int)vioctl(group, VFIO_GROUP_GET_DEVICE_FD, DEVICE_NAME, "VFIO_GROUP_GET_DEVICE_FD");
    if (devfd < 0) { fprintf(stderr, "vfio-testvmm: GET_DEVICE_FD failed\n"); return 1; }
    struct vfio_device_info di = {.argsz = sizeof(di)};
    vioctl(devfd, VFIO_DEVICE_GET_INFO, &di, "VFIO_DEVICE_GET_INFO");
    read_region(devfd, 0);
    if (use_v1) read_region(devfd, MIG_REGION);
    struct vfio_irq_info ii = {.argsz = sizeof(ii), .index = REEVAL_IRQ};
    vioctl(devfd, VFIO_DEVICE_GET_IRQ_INFO, &ii, "VFIO_DEVICE_GET_IRQ_INFO");

    uint64_t t0 = now_ns();
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    logline("eventfd", t0, now_ns(), efd, "\"fd\":%d,\"initval\":0,\"flags\":%d", efd, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!strcmp(scenario, "lost-signal")) driver_signal(REEVAL_IRQ);  // before the eventfd is bound: lost
    uint8_t irqbuf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
    struct vfio_irq_set *irq = (void *)irqbuf;
    irq->argsz = sizeof(irqbuf);
    irq->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    irq->index = REEVAL_IRQ;
    irq->start = 0;
    irq->count = 1;
    memcpy(irq->data, &efd, 4);
    vioctl(devfd, VFIO_DEVICE_SET_IRQS, irqbuf, "VFIO_DEVICE_SET_IRQS");
    logline("set_irqs", t0, now_ns(), 0, "\"index\":%d,\"start\":0,\"count\":1,\"fds\":[%d]", REEVAL_IRQ, efd);

    map_bar(devfd);
    memslot(BAR_SIZE);
    ((volatile uint32_t *)bar)[0x60 / 4] = 1;  // a guest-visible BAR access through the mapping (no syscall)

    // The migration.
    if (!strcmp(scenario, "safe")) {
        memslot(0);
        unmap_bar();
        set_state(devfd, st_saving());
        read_eventfd(efd);
        read_region(devfd, 0);
    } else if (!strcmp(scenario, "lost-signal")) {
        set_state(devfd, st_saving());
    } else {
        set_state(devfd, st_saving());
        read_eventfd(efd);
        usleep((useconds_t)delay_us);
        read_region(devfd, 0);
        memslot(0);
        unmap_bar();
    }
    uint32_t probe = 0;
    pread(devfd, &probe, 4, 0);  // a trapped BAR read (the mapping is gone or the device traps)
    set_state(devfd, st_stopcopy());
    set_state(devfd, st_stop());
    if (strcmp(scenario, "lost-signal")) {
        // Restore: the layout offers the BAR again.
        read_region(devfd, 0);
        map_bar(devfd);
        memslot(BAR_SIZE);
    }
    set_state(devfd, st_running());

    done = 1;
    pthread_join(drv, NULL);
    if (logf) fclose(logf);
    return 0;
}
