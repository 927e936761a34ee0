// vfio-client --migrate async|revoke: a VMM-like VFIO user that migrates QEMU's edu device bound to
// Fixtures/EduMigrationDriver (edu_vfio_pci), while a vCPU-like thread keeps writing to the device.
//
//   vfio-client --migrate MODE --group N --device BDF --access-log FILE --action-log FILE
//               [--delay-us N] [--precopy-us N] [--accesses N] [--start-after N] [--interval-us N] [--tail N]
//
// The vCPU thread writes a sequence number (1, 2, 3, ...) into edu's liveness register (BAR0 + 0x04): through
// the BAR0 mapping while the page is mapped, through pwrite on the device fd (the trap path) otherwise. In
// revoke mode a SIGBUS on the mapped access switches it to the trap path and the same access is retried there.
// Every access is one line of the access log, {"t0":NS,"t":NS,"seq":N,"path":"mmap"|"trap"}, with
// CLOCK_MONOTONIC read right before and right after it (kept in memory, written at the end).
//
// The migration thread first (async) binds an eventfd to the driver's re-evaluate index (5) with SET_IRQS and
// reads BAR0's layout (GET_REGION_INFO: mappable whole); after --start-after accesses (default 500), once:
//   async:  DMA_LOGGING_START (the driver starts requiring traps on BAR0's register page and signals the
//           eventfd); read the eventfd; wait --delay-us; GET_REGION_INFO (the sparse-mmap areas now leave the page
//           out); munmap what they leave out.
//   revoke: DMA_LOGGING_START (the driver zaps the mappings before it returns); wait --delay-us; GET_REGION_INFO.
//   both:   a pre-copy phase of --precopy-us (default 20000) with the vCPU running; then the vCPU paused,
//           STOP -> STOP_COPY (the saved state read to its end) -> STOP -> RUNNING, the vCPU resumed
//           (the driver ends the requirement on the way back to RUNNING); DMA_LOGGING_STOP;
//           async: read the eventfd (the driver's second signal), GET_REGION_INFO, mmap the page again;
//           revoke: GET_REGION_INFO; the vCPU goes back to the mapping (its next fault maps it again).
// Each action is one line of the action log, {"t0":NS,"t":NS,"action":"...","detail":"..."}, actions
// dma_logging_start, eventfd_read, region_info, munmap, mmap, set_state, dma_logging_stop.
// The vCPU thread then makes --tail more accesses (default 200) and stops. The run is bounded: --accesses
// (default 200000) is the most it may make; reaching it before the end is an error. Exit 0 on success.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int migrate_main(int argc, char **argv);

enum { PATH_MMAP, PATH_TRAP };
enum { MODE_ASYNC, MODE_REVOKE };

// The driver's re-evaluate interrupt: one past vfio-pci's indices.
#define REEVAL_IRQ_INDEX VFIO_PCI_NUM_IRQS
// edu's liveness register: the vCPU's target.
#define EDU_LIVENESS 0x04

struct access { uint64_t t0, t; uint32_t seq; uint8_t path; };
struct action { uint64_t t0, t; const char *action; char detail[112]; };

static struct {
    int mode, dev;
    uint64_t bar_offset, bar_size;
    volatile uint8_t *bar;
    long delay_us, precopy_us, interval_us;
    long max_accesses, start_after, tail;
    // The vCPU's view of BAR0; `bar_lock` plays the VMM's big lock: the migration thread takes it to change the
    // view or to pause the vCPU, the vCPU holds it for each access.
    pthread_mutex_t bar_lock;
    int path;
    atomic_long done;          // accesses made
    atomic_int migrated;       // the migration thread finished (1 ok, -1 failed)
    struct access *accesses;
    long sigbus_count;
    uint64_t first_sigbus;
    struct action actions[64];
    int nactions;
} g = { .bar_lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us) {
    if (us <= 0) return;
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {}
}

// One action, kept in memory (file I/O would stretch the window being measured).
static void act(uint64_t t0, uint64_t t, const char *action, const char *fmt, ...) {
    if (g.nactions == (int)(sizeof g.actions / sizeof g.actions[0])) return;
    struct action *a = &g.actions[g.nactions++];
    *a = (struct action){ .t0 = t0, .t = t, .action = action };
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof a->detail, fmt, ap);
    va_end(ap);
}

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("vfio-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static const char *state_name(uint32_t s) {
    static const char *names[] = { "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P" };
    return s < sizeof names / sizeof names[0] ? names[s] : "?";
}

// ---- The vCPU thread ----

static __thread sigjmp_buf vcpu_jump;
static __thread volatile sig_atomic_t vcpu_in_mmap_access;

static void on_sigbus(int sig, siginfo_t *info, void *uc) {
    (void)info; (void)uc;
    if (vcpu_in_mmap_access) siglongjmp(vcpu_jump, 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

// One write through the mapping: 1 when it was made, 0 when it got SIGBUS (nothing reached the device).
static __attribute__((noinline)) int mmap_write(uint32_t seq, struct access *a) {
    if (sigsetjmp(vcpu_jump, 1)) {
        vcpu_in_mmap_access = 0;
        return 0;
    }
    vcpu_in_mmap_access = 1;
    uint64_t t0 = now_ns();
    *(volatile uint32_t *)(g.bar + EDU_LIVENESS) = seq;
    uint64_t t = now_ns();
    vcpu_in_mmap_access = 0;
    *a = (struct access){ .t0 = t0, .t = t, .seq = seq, .path = PATH_MMAP };
    return 1;
}

static void *vcpu(void *unused) {
    (void)unused;
    long tail_left = -1;
    for (long i = 0; i < g.max_accesses; i++) {
        if (tail_left < 0 && atomic_load(&g.migrated)) tail_left = atomic_load(&g.migrated) > 0 ? g.tail : 0;
        if (tail_left == 0) break;
        if (tail_left > 0) tail_left--;
        sleep_us(g.interval_us);
        uint32_t seq = (uint32_t)i + 1;
        struct access *a = &g.accesses[i];
        pthread_mutex_lock(&g.bar_lock);
        if (g.path == PATH_MMAP) {
            if (mmap_write(seq, a)) {
                pthread_mutex_unlock(&g.bar_lock);
                atomic_fetch_add(&g.done, 1);
                continue;
            }
            // SIGBUS: the driver revoked the mapping. Retry this access through the trap path, as a VMM's
            // MMIO exit would, and stay there until the migration thread says the mapping is back.
            if (!g.sigbus_count++) g.first_sigbus = now_ns();
            g.path = PATH_TRAP;
        }
        uint64_t t0 = now_ns();
        ssize_t r = pwrite(g.dev, &seq, sizeof seq, (off_t)(g.bar_offset + EDU_LIVENESS));
        uint64_t t = now_ns();
        pthread_mutex_unlock(&g.bar_lock);
        if (r != (ssize_t)sizeof seq) {
            fail("trap-path write of %u: %s", seq, r < 0 ? strerror(errno) : "short write");
            return (void *)1;
        }
        *a = (struct access){ .t0 = t0, .t = t, .seq = seq, .path = PATH_TRAP };
        atomic_fetch_add(&g.done, 1);
    }
    if (atomic_load(&g.migrated) == 0) {
        fail("the vCPU made its %ld accesses before the migration finished (raise --accesses)", g.max_accesses);
        return (void *)1;
    }
    return NULL;
}

// ---- The migration thread ----

static int feature(uint32_t flags, void *payload, size_t len, const char *name) {
    char buf[sizeof(struct vfio_device_feature) + 64];
    struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
    f->argsz = (uint32_t)(sizeof *f + len);
    f->flags = flags;
    if (len) memcpy(f->data, payload, len);
    if (ioctl(g.dev, VFIO_DEVICE_FEATURE, f) < 0) return fail("%s: %s", name, strerror(errno));
    if (len) memcpy(payload, f->data, len);
    return 0;
}

static int set_state(uint32_t state, int *data_fd) {
    struct vfio_device_feature_mig_state s = { .device_state = state, .data_fd = -1 };
    uint64_t t0 = now_ns();
    int r = feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof s, state_name(state));
    uint64_t t = now_ns();
    act(t0, t, "set_state", "%s data_fd %d", state_name(state), s.data_fd);
    if (data_fd) *data_fd = s.data_fd;
    else if (s.data_fd >= 0) close(s.data_fd);
    return r;
}

// GET_REGION_INFO of BAR0, as QEMU asks (again with room for the capabilities when there are any); leaves the
// mappable areas (region-relative, sorted as the driver gives them) in `areas`, at most `max`.
static int region_info(struct vfio_region_sparse_mmap_area *areas, int max, int *count) {
    uint32_t argsz = sizeof(struct vfio_region_info);
    struct vfio_region_info *info = NULL;
    uint64_t t0 = now_ns(), t;
    for (;;) {
        info = realloc(info, argsz);
        memset(info, 0, argsz);
        info->argsz = argsz;
        info->index = VFIO_PCI_BAR0_REGION_INDEX;
        if (ioctl(g.dev, VFIO_DEVICE_GET_REGION_INFO, info) < 0) { free(info); return fail("GET_REGION_INFO: %s", strerror(errno)); }
        if (info->argsz <= argsz) break;
        argsz = info->argsz;
    }
    t = now_ns();
    *count = 0;
    char detail[96] = "";
    int sparse = 0;
    if (info->flags & VFIO_REGION_INFO_FLAG_CAPS) {
        for (uint32_t off = info->cap_offset; off && off + sizeof(struct vfio_info_cap_header) <= info->argsz;) {
            struct vfio_info_cap_header *h = (struct vfio_info_cap_header *)((char *)info + off);
            if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
                struct vfio_region_info_cap_sparse_mmap *s = (struct vfio_region_info_cap_sparse_mmap *)h;
                sparse = 1;
                for (uint32_t i = 0; i < s->nr_areas && *count < max; i++)
                    if (s->areas[i].size) areas[(*count)++] = s->areas[i];
            }
            off = h->next;
        }
    }
    if (!sparse && (info->flags & VFIO_REGION_INFO_FLAG_MMAP))
        areas[(*count)++] = (struct vfio_region_sparse_mmap_area){ .offset = 0, .size = info->size };
    size_t n = 0;
    for (int i = 0; i < *count && n < sizeof detail; i++)
        n += (size_t)snprintf(detail + n, sizeof detail - n, "%s[0x%llx-0x%llx]", i ? " " : "",
                              (unsigned long long)areas[i].offset, (unsigned long long)(areas[i].offset + areas[i].size - 1));
    act(t0, t, "region_info", "flags 0x%x %s %s", info->flags, sparse ? "sparse" : "whole", *count ? detail : "none");
    free(info);
    return 0;
}

// The parts of BAR0 the areas leave out, as [start, end) pairs; returns how many.
static int excluded(const struct vfio_region_sparse_mmap_area *areas, int count, uint64_t out[][2], int max) {
    int n = 0;
    uint64_t at = 0;
    for (int i = 0; i <= count && n < max; i++) {
        uint64_t next = i < count ? areas[i].offset : g.bar_size;
        if (next > at) { out[n][0] = at; out[n][1] = next; n++; }
        if (i < count) at = areas[i].offset + areas[i].size;
    }
    return n;
}

static int read_eventfd(int efd) {
    uint64_t count = 0;
    uint64_t t0 = now_ns();
    ssize_t r = read(efd, &count, sizeof count);
    uint64_t t = now_ns();
    act(t0, t, "eventfd_read", "fd %d count %llu", efd, (unsigned long long)count);
    return r == (ssize_t)sizeof count ? 0 : fail("eventfd read: %s", r < 0 ? strerror(errno) : "short read");
}

// The migration thread's setup, before the vCPU has made --start-after accesses: the eventfd bound (async) and
// BAR0's layout read, so that the first traced calls of this thread (a recorder's costliest) come before it.
static int prepare(int *efd) {
    struct vfio_region_sparse_mmap_area areas[8];
    int nareas = 0;
    *efd = -1;
    if (g.mode == MODE_ASYNC) {
        // The driver's re-evaluate interrupt, bound to an eventfd.
        struct vfio_irq_info ii = { .argsz = sizeof ii, .index = REEVAL_IRQ_INDEX };
        if (ioctl(g.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0) return fail("GET_IRQ_INFO %d: %s", REEVAL_IRQ_INDEX, strerror(errno));
        if (!(ii.flags & VFIO_IRQ_INFO_EVENTFD) || ii.count != 1) return fail("IRQ index %d is not an eventfd index", REEVAL_IRQ_INDEX);
        *efd = eventfd(0, EFD_CLOEXEC);
        if (*efd < 0) return fail("eventfd: %s", strerror(errno));
        char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
        struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
        *set = (struct vfio_irq_set){ .argsz = sizeof buf, .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                      .index = REEVAL_IRQ_INDEX, .start = 0, .count = 1 };
        memcpy(set->data, efd, sizeof *efd);
        if (ioctl(g.dev, VFIO_DEVICE_SET_IRQS, set) < 0) return fail("SET_IRQS %d: %s", REEVAL_IRQ_INDEX, strerror(errno));
    }
    if (region_info(areas, 8, &nareas)) return -1;
    return nareas == 1 && areas[0].offset == 0 && areas[0].size == g.bar_size ? 0 : fail("BAR0 is not mappable whole before the migration");
}

static int migrate(int efd) {
    struct vfio_region_sparse_mmap_area areas[8];
    uint64_t holes[8][2];
    int nareas = 0, nholes = 0;

    // Migration tracking starts: the driver starts requiring traps.
    struct vfio_device_feature_dma_logging_range range = { .iova = 0, .length = 1ull << 30 };
    struct vfio_device_feature_dma_logging_control control = {
        .page_size = 4096, .num_ranges = 1, .ranges = (uint64_t)(uintptr_t)&range };
    uint64_t t0 = now_ns();
    int r = feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &control, sizeof control,
                    "DMA_LOGGING_START");
    act(t0, now_ns(), "dma_logging_start", "page_size %llu ranges 1", (unsigned long long)control.page_size);
    if (r) return -1;

    if (g.mode == MODE_ASYNC && read_eventfd(efd)) return -1;
    sleep_us(g.delay_us);
    if (region_info(areas, 8, &nareas)) return -1;
    nholes = excluded(areas, nareas, holes, 8);
    if (g.mode == MODE_ASYNC) {
        if (!nholes) return fail("the driver signalled, but BAR0's layout leaves nothing out");
        pthread_mutex_lock(&g.bar_lock);
        g.path = PATH_TRAP;
        for (int i = 0; i < nholes; i++) {
            t0 = now_ns();
            int u = munmap((void *)(g.bar + holes[i][0]), holes[i][1] - holes[i][0]);
            act(t0, now_ns(), "munmap", "offset 0x%llx length 0x%llx", (unsigned long long)holes[i][0],
                (unsigned long long)(holes[i][1] - holes[i][0]));
            if (u) { pthread_mutex_unlock(&g.bar_lock); return fail("munmap: %s", strerror(errno)); }
        }
        pthread_mutex_unlock(&g.bar_lock);
    }

    // Pre-copy: the guest runs on.
    sleep_us(g.precopy_us);

    // Stop and copy, with the vCPU paused; then back to RUNNING.
    pthread_mutex_lock(&g.bar_lock);
    int data_fd = -1;
    long saved = 0;
    r = set_state(VFIO_DEVICE_STATE_STOP, NULL);
    if (!r) r = set_state(VFIO_DEVICE_STATE_STOP_COPY, &data_fd);
    if (!r) {
        char buf[4096];
        ssize_t n;
        while ((n = read(data_fd, buf, sizeof buf)) > 0) saved += n;
        if (n < 0) r = fail("reading the saved state: %s", strerror(errno));
        close(data_fd);
    }
    if (!r) r = set_state(VFIO_DEVICE_STATE_STOP, NULL);
    if (!r) r = set_state(VFIO_DEVICE_STATE_RUNNING, NULL);
    pthread_mutex_unlock(&g.bar_lock);
    if (r) return -1;
    if (saved <= 0) return fail("STOP_COPY gave no data");

    t0 = now_ns();
    r = feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0, "DMA_LOGGING_STOP");
    act(t0, now_ns(), "dma_logging_stop", "saved %ld bytes", saved);
    if (r) return -1;

    // The layout back: map what was left out again.
    if (g.mode == MODE_ASYNC && read_eventfd(efd)) return -1;
    if (region_info(areas, 8, &nareas)) return -1;
    if (excluded(areas, nareas, holes + nholes, 8 - nholes)) return fail("BAR0's layout still leaves a part out after the migration");
    pthread_mutex_lock(&g.bar_lock);
    if (g.mode == MODE_ASYNC) {
        for (int i = 0; i < nholes; i++) {
            t0 = now_ns();
            void *p = mmap((void *)(g.bar + holes[i][0]), holes[i][1] - holes[i][0], PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_FIXED, g.dev, (off_t)(g.bar_offset + holes[i][0]));
            act(t0, now_ns(), "mmap", "offset 0x%llx length 0x%llx", (unsigned long long)holes[i][0],
                (unsigned long long)(holes[i][1] - holes[i][0]));
            if (p == MAP_FAILED) { pthread_mutex_unlock(&g.bar_lock); return fail("mmap: %s", strerror(errno)); }
        }
    }
    g.path = PATH_MMAP;
    pthread_mutex_unlock(&g.bar_lock);
    if (efd >= 0) {
        struct vfio_irq_set none = { .argsz = sizeof none, .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                                     .index = REEVAL_IRQ_INDEX, .start = 0, .count = 0 };
        if (ioctl(g.dev, VFIO_DEVICE_SET_IRQS, &none) < 0) return fail("unbinding IRQ index %d: %s", REEVAL_IRQ_INDEX, strerror(errno));
        close(efd);
    }
    return 0;
}

static void *migration(void *unused) {
    (void)unused;
    int efd = -1;
    int r = prepare(&efd);
    while (!r && atomic_load(&g.done) < g.start_after) sleep_us(1000);
    if (!r) r = migrate(efd);
    atomic_store(&g.migrated, r ? -1 : 1);
    return r ? (void *)1 : NULL;
}

// ---- Setup and the logs ----

static int open_device(const char *group, const char *device) {
    int container = open("/dev/vfio/vfio", O_RDWR);
    if (container < 0) return fail("/dev/vfio/vfio: %s", strerror(errno));
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%s", group);
    int groupfd = open(path, O_RDWR);
    if (groupfd < 0) return fail("%s: %s", path, strerror(errno));
    struct vfio_group_status gs = { .argsz = sizeof gs };
    if (ioctl(groupfd, VFIO_GROUP_GET_STATUS, &gs) < 0 || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) return fail("group %s not viable", group);
    if (ioctl(groupfd, VFIO_GROUP_SET_CONTAINER, &container) < 0) return fail("GROUP_SET_CONTAINER: %s", strerror(errno));
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) return fail("SET_IOMMU: %s", strerror(errno));
    int dev = ioctl(groupfd, VFIO_GROUP_GET_DEVICE_FD, device);
    if (dev < 0) return fail("GROUP_GET_DEVICE_FD %s: %s", device, strerror(errno));
    return dev;
}

static int write_logs(const char *access_path, const char *action_path, long n) {
    FILE *f = fopen(access_path, "w");
    if (!f) return fail("%s: %s", access_path, strerror(errno));
    for (long i = 0; i < n; i++) {
        const struct access *a = &g.accesses[i];
        fprintf(f, "{\"t0\":%" PRIu64 ",\"t\":%" PRIu64 ",\"seq\":%u,\"path\":\"%s\"}\n", a->t0, a->t, a->seq,
                a->path == PATH_MMAP ? "mmap" : "trap");
    }
    if (fclose(f)) return fail("%s: %s", access_path, strerror(errno));
    f = fopen(action_path, "w");
    if (!f) return fail("%s: %s", action_path, strerror(errno));
    for (int i = 0; i < g.nactions; i++) {
        const struct action *a = &g.actions[i];
        fprintf(f, "{\"t0\":%" PRIu64 ",\"t\":%" PRIu64 ",\"action\":\"%s\",\"detail\":\"%s\"}\n", a->t0, a->t, a->action, a->detail);
    }
    return fclose(f) ? fail("%s: %s", action_path, strerror(errno)) : 0;
}

int migrate_main(int argc, char **argv) {
    const char *mode = NULL, *group = NULL, *device = NULL, *access_log = NULL, *action_log = NULL;
    g.delay_us = 0; g.precopy_us = 20000; g.interval_us = 20;
    g.max_accesses = 200000; g.start_after = 500; g.tail = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--migrate")) mode = v;
        else if (!strcmp(k, "--group")) group = v;
        else if (!strcmp(k, "--device")) device = v;
        else if (!strcmp(k, "--access-log")) access_log = v;
        else if (!strcmp(k, "--action-log")) action_log = v;
        else if (!strcmp(k, "--delay-us")) g.delay_us = atol(v);
        else if (!strcmp(k, "--precopy-us")) g.precopy_us = atol(v);
        else if (!strcmp(k, "--interval-us")) g.interval_us = atol(v);
        else if (!strcmp(k, "--accesses")) g.max_accesses = atol(v);
        else if (!strcmp(k, "--start-after")) g.start_after = atol(v);
        else if (!strcmp(k, "--tail")) g.tail = atol(v);
        else { fail("unknown option %s", k); return 2; }
    }
    if (!mode || !group || !device || !access_log || !action_log || (strcmp(mode, "async") && strcmp(mode, "revoke")) ||
        g.max_accesses <= 0 || g.start_after < 0 || g.start_after >= g.max_accesses) {
        fprintf(stderr, "usage: vfio-client --migrate async|revoke --group N --device BDF --access-log FILE --action-log FILE\n"
                        "       [--delay-us N] [--precopy-us N] [--accesses N] [--start-after N] [--interval-us N] [--tail N]\n");
        return 2;
    }
    g.mode = strcmp(mode, "async") ? MODE_REVOKE : MODE_ASYNC;
    g.accesses = calloc((size_t)g.max_accesses, sizeof *g.accesses);
    if (!g.accesses) { fail("out of memory"); return 1; }
    g.dev = open_device(group, device);
    if (g.dev < 0) return 1;

    struct vfio_device_info di = { .argsz = sizeof di };
    if (ioctl(g.dev, VFIO_DEVICE_GET_INFO, &di) < 0) { fail("GET_INFO: %s", strerror(errno)); return 1; }
    if (g.mode == MODE_ASYNC && di.num_irqs <= REEVAL_IRQ_INDEX) {
        fail("the device has %u IRQ indices, no re-evaluate index %d (is edu_vfio_pci loaded with mode=async?)", di.num_irqs, REEVAL_IRQ_INDEX);
        return 1;
    }
    struct vfio_region_info bar0 = { .argsz = sizeof bar0, .index = VFIO_PCI_BAR0_REGION_INDEX };
    if (ioctl(g.dev, VFIO_DEVICE_GET_REGION_INFO, &bar0) < 0 || !(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        fail("BAR0 cannot be mapped");
        return 1;
    }
    g.bar_offset = bar0.offset;
    g.bar_size = bar0.size;
    g.bar = mmap(NULL, (size_t)bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, g.dev, (off_t)bar0.offset);
    if (g.bar == MAP_FAILED) { fail("mmap of BAR0: %s", strerror(errno)); return 1; }
    uint32_t ident = *(volatile uint32_t *)g.bar;
    if ((ident & 0xff) != 0xed) { fail("BAR0 does not look like edu (ident 0x%08x)", ident); return 1; }
    g.path = PATH_MMAP;

    struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);

    pthread_t vt, mt;
    void *vr = NULL, *mr = NULL;
    if (pthread_create(&vt, NULL, vcpu, NULL) || pthread_create(&mt, NULL, migration, NULL)) { fail("pthread_create"); return 1; }
    pthread_join(mt, &mr);
    if (mr) atomic_store(&g.migrated, -1);
    pthread_join(vt, &vr);
    long n = atomic_load(&g.done);
    if (write_logs(access_log, action_log, n)) return 1;

    // The last write, read back through the trap path: the liveness register reads its complement.
    uint32_t back = 0;
    if (pread(g.dev, &back, sizeof back, (off_t)(g.bar_offset + EDU_LIVENESS)) != (ssize_t)sizeof back) {
        fail("reading the liveness register back: %s", strerror(errno));
        return 1;
    }
    long mmap_n = 0;
    for (long i = 0; i < n; i++) mmap_n += g.accesses[i].path == PATH_MMAP;
    uint32_t last = n ? g.accesses[n - 1].seq : 0;
    printf("vfio-client: migrate %s: %ld accesses (%ld mmap, %ld trap), %ld SIGBUS (first at %" PRIu64 "), %d actions, "
           "liveness 0x%08x (last seq %u)\n", mode, n, mmap_n, n - mmap_n, g.sigbus_count, g.first_sigbus, g.nactions, back, last);
    munmap((void *)g.bar, (size_t)g.bar_size);
    close(g.dev);
    if (vr || mr) return 1;
    if (back != ~last) { fail("the liveness register reads 0x%08x, not the complement of %u", back, last); return 1; }
    return 0;
}
