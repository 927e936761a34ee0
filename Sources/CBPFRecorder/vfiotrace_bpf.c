// The loader of the vfiotrace.bpf.c skeleton (see include/vfiotrace_bpf.h).
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "libbpf_lazy.h"
#include "vfiotrace_bpf.h"
#include "vfiotrace.skel.h"

struct vft_bpf {
	struct vfiotrace_bpf *skel;
	struct ring_buffer *ring;
	vft_bpf_record_fn fn;
	void *ctx;
	int handled;
};

/* libbpf's last message, kept to explain a failed load instead of printing
 * libbpf's verbose log to the recorder's stderr. */
static __thread char last_message[256];

static int keep_last_message(enum libbpf_print_level level, const char *fmt,
			     va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	last_message[strcspn(last_message, "\n")] = 0;
	return 0;
}

static void say(char *err, size_t errlen, const char *what, int e)
{
	if (!err || !errlen)
		return;
	const char *m = last_message;

	if (!strncmp(m, "libbpf: ", 8))
		m += 8;
	snprintf(err, errlen, "%s: %s%s%s", what, strerror(e),
		 m[0] ? "; libbpf: " : "", m);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct vft_bpf *bpf = ctx;

	bpf->handled++;
	return bpf->fn(bpf->ctx, data, size);
}

int vft_bpf_open_load(const struct vft_bpf_settings *settings,
		      struct vft_bpf **out, char *err, size_t errlen)
{
	struct vft_bpf *bpf;
	int e;

	e = vft_libbpf_open(err, errlen);
	if (e)
		return e;
	last_message[0] = 0;
	libbpf_set_print(keep_last_message);
	bpf = calloc(1, sizeof(*bpf));
	if (!bpf)
		return -ENOMEM;
	bpf->skel = vfiotrace_bpf__open();
	if (!bpf->skel) {
		e = errno ? errno : EINVAL;
		say(err, errlen, "cannot open the BPF program", e);
		free(bpf);
		return -e;
	}
	memcpy(bpf->skel->rodata->traced_nrs, settings->traced_nrs,
	       sizeof(settings->traced_nrs));
	bpf->skel->rodata->filter_tids = settings->filter_tids != 0;
	bpf->skel->rodata->follow_forks = settings->follow_forks != 0;
	bpf->skel->rodata->kvm_events =
		settings->kvm_events || settings->irq_events;
	bpf->skel->rodata->mmio_budget = settings->mmio_budget;
	bpf->skel->rodata->wake_bytes = settings->wake_bytes;
	/* Programs on tracepoints this kernel may not have (no KVM) load only
	 * when asked for. */
	bpf_program__set_autoload(bpf->skel->progs.kvm_mmio,
				  settings->kvm_events != 0);
	bpf_program__set_autoload(bpf->skel->progs.kvm_userspace_exit,
				  settings->kvm_events != 0);
	bpf_program__set_autoload(bpf->skel->progs.kvm_unmap_hva_range,
				  settings->kvm_events != 0);
	bpf_program__set_autoload(bpf->skel->progs.kvm_set_irq,
				  settings->kvm_events != 0);
	/* An MSI from vfio-pci's handler is told apart by marking the handler
	 * from its entry to its exit. */
	bpf_program__set_autoload(bpf->skel->progs.kvm_msi_set_irq,
				  settings->kvm_events != 0);
	bpf_program__set_autoload(bpf->skel->progs.irq_handler_exit,
				  settings->kvm_events && settings->irq_events);
	bpf->skel->rodata->kvm_msi =
		settings->kvm_events && settings->irq_events;
	/* Run on demand (vft_bpf_memslot_snapshot), never attached with the rest. */
	bpf_program__set_autoload(bpf->skel->progs.vm_memslots,
				  settings->memslot_snapshot || settings->snapshot_only);
	bpf_program__set_autoattach(bpf->skel->progs.vm_memslots, false);
	/* The ptrace recorder's attach: the iterator alone, nothing on the
	 * tracepoints. */
	if (settings->snapshot_only) {
		bpf_program__set_autoload(bpf->skel->progs.sys_enter, false);
		bpf_program__set_autoload(bpf->skel->progs.sys_exit, false);
		bpf_program__set_autoload(bpf->skel->progs.sched_process_fork,
					  false);
		bpf_program__set_autoload(bpf->skel->progs.sched_process_exec,
					  false);
		bpf_program__set_autoload(bpf->skel->progs.sched_process_exit,
					  false);
	}
	bpf_program__set_autoload(bpf->skel->progs.irq_handler_entry,
				  settings->irq_events != 0);
	if (settings->pid_max)
		bpf_map__set_max_entries(bpf->skel->maps.tgids,
					 (settings->pid_max + 63) / 64);
	if (settings->ring_bytes)
		bpf_map__set_max_entries(bpf->skel->maps.events,
					 settings->ring_bytes);
	e = vfiotrace_bpf__load(bpf->skel);
	if (e) {
		say(err, errlen, "cannot load the BPF program", -e);
		vfiotrace_bpf__destroy(bpf->skel);
		free(bpf);
		return e;
	}
	bpf->ring = ring_buffer__new(bpf_map__fd(bpf->skel->maps.events),
				     on_record, bpf, NULL);
	if (!bpf->ring) {
		e = errno ? errno : EINVAL;
		say(err, errlen, "cannot map the BPF ring buffer", e);
		vfiotrace_bpf__destroy(bpf->skel);
		free(bpf);
		return -e;
	}
	*out = bpf;
	return 0;
}

static int add(struct bpf_map *map, __u32 id)
{
	__u8 one = 1;

	return bpf_map__update_elem(map, &id, sizeof(id), &one, sizeof(one),
				    BPF_ANY) ? -errno : 0;
}

/* Before attach only: the kernel side sets and clears bits of the same words
 * on fork and exit. */
int vft_bpf_add_tgid(struct vft_bpf *bpf, __u32 tgid)
{
	struct bpf_map *map = bpf->skel->maps.tgids;
	__u32 word = tgid / 64;
	__u64 bits = 0;

	if (bpf_map__lookup_elem(map, &word, sizeof(word), &bits, sizeof(bits),
				 0))
		return -errno;
	bits |= 1ULL << (tgid % 64);
	return bpf_map__update_elem(map, &word, sizeof(word), &bits,
				    sizeof(bits), BPF_ANY) ? -errno : 0;
}

int vft_bpf_add_tid(struct vft_bpf *bpf, __u32 tid)
{
	return add(bpf->skel->maps.tids, tid);
}

int vft_bpf_attach(struct vft_bpf *bpf, char *err, size_t errlen)
{
	int e;

	last_message[0] = 0;
	e = vfiotrace_bpf__attach(bpf->skel);
	if (e)
		say(err, errlen, "cannot attach the BPF tracepoints", -e);
	return e;
}

int vft_bpf_poll(struct vft_bpf *bpf, int timeout_ms, int wake_fd,
		 vft_bpf_record_fn fn, void *ctx)
{
	int e;

	bpf->fn = fn;
	bpf->ctx = ctx;
	bpf->handled = 0;
	if (wake_fd >= 0) {
		/* The ring's epoll fd is readable while records are signalled. */
		struct pollfd fds[2] = {
			{.fd = ring_buffer__epoll_fd(bpf->ring), .events = POLLIN},
			{.fd = wake_fd, .events = POLLIN},
		};

		e = poll(fds, 2, timeout_ms);
		e = e < 0 ? -errno : 0;
	} else {
		e = ring_buffer__poll(bpf->ring, timeout_ms);
	}
	/* Records written without a wake-up (wake_bytes) raise no epoll event:
	 * take whatever is there. */
	if (e >= 0)
		e = ring_buffer__consume(bpf->ring);
	return e < 0 ? e : bpf->handled;
}

int vft_pidfd_open(int pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

__u64 vft_bpf_dropped(const struct vft_bpf *bpf)
{
	return __atomic_load_n(&bpf->skel->bss->dropped, __ATOMIC_RELAXED);
}

__u64 vft_bpf_mmio_skipped(const struct vft_bpf *bpf)
{
	return __atomic_load_n(&bpf->skel->bss->mmio_skipped, __ATOMIC_RELAXED);
}

int vft_bpf_memslot_snapshot(struct vft_bpf *bpf, void *buf, size_t len)
{
	struct bpf_link *link;
	size_t used = 0;
	ssize_t n;
	int fd, e = 0;

	link = bpf_program__attach_iter(bpf->skel->progs.vm_memslots, NULL);
	if (!link)
		return -(errno ? errno : EINVAL);
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		e = -errno;
		bpf_link__destroy(link);
		return e;
	}
	for (;;) {
		if (used == len) {
			char probe;

			n = read(fd, &probe, 1);
			if (n > 0)
				e = -ENOSPC;
			else if (n < 0 && errno != EINTR)
				e = -errno;
			if (n >= 0 || errno != EINTR)
				break;
			continue;
		}
		n = read(fd, (char *)buf + used, len - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			break;
		}
		if (n == 0)
			break;
		used += n;
	}
	close(fd);
	bpf_link__destroy(link);
	return e ? e : (int)used;
}

void vft_bpf_destroy(struct vft_bpf *bpf)
{
	if (!bpf)
		return;
	ring_buffer__free(bpf->ring);
	vfiotrace_bpf__destroy(bpf->skel);
	free(bpf);
}

/* The gate is one fd for the caller: the write end of the go pipe; the read end
 * of the exec-error pipe travels in the upper 16 bits. */
int vft_bpf_spawn_gated(char *const argv[], int *gate)
{
	int go[2], status[2];
	pid_t pid;
	char c;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(status, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(go[0]); close(go[1]); close(status[0]); close(status[1]);
		return -e;
	}
	if (pid == 0) {
		int e;

		close(go[1]);
		close(status[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(126);	/* the recorder gave up before releasing us */
		execvp(argv[0], argv);
		e = errno;
		if (write(status[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(status[1]);
	if (go[1] > 0xFFFF || status[0] > 0x7FFF) {
		close(go[1]);
		close(status[0]);
		return -EMFILE;
	}
	*gate = go[1] | status[0] << 16;
	return pid;
}

int vft_bpf_release(int gate)
{
	int go = gate & 0xFFFF, status = gate >> 16, e = 0;
	char c = 1;
	ssize_t n;

	n = write(go, &c, 1);
	close(go);
	if (n != 1) {
		close(status);
		return EPIPE;
	}
	/* EOF: the exec succeeded (the pipe was close-on-exec). */
	do
		n = read(status, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(status);
	return n == sizeof(e) ? e : 0;
}
