/*
 * A thin loader over the vfiotrace.bpf.c skeleton: open with the filter
 * settings, load, fill the tgid/tid sets, attach, poll the ring buffer.
 * No recording logic lives here (that is TraceRecorder's BPFBackend).
 */
#ifndef VFIOTRACE_BPF_H
#define VFIOTRACE_BPF_H

#include <stddef.h>
#include "vfiotrace.h"

struct vft_bpf;

/* Set before load (the program's const volatile globals and the ring size). */
struct vft_bpf_settings {
	__u64 traced_nrs[VFT_NR_WORDS];
	int filter_tids;
	int follow_forks;
	__u32 ring_bytes;	/* a power of two, multiple of the page size */
	__u32 pid_max;		/* kernel.pid_max: sizes the tgid bitmap */
	int kvm_events;		/* KVM's tracepoints (kvm_mmio, ...) */
	int irq_events;		/* irq_handler_entry: vfio-pci's handlers */
	__u32 mmio_budget;	/* unwatched kvm_mmio a second (0: none) */
	__u32 wake_bytes;	/* wake the poller at this much unread data (0: per record) */
	int memslot_snapshot;	/* load the iterator of vft_bpf_memslot_snapshot */
	int snapshot_only;	/* load that iterator and nothing else (never attach) */
};

/* Called for each record, on the polling thread; return non-zero to stop the poll. */
typedef int (*vft_bpf_record_fn)(void *ctx, const void *data, size_t size);

/* Opens and loads the program; 0, or -errno with a one-line reason in err. */
int vft_bpf_open_load(const struct vft_bpf_settings *settings,
		      struct vft_bpf **out, char *err, size_t errlen);
/* Adds a process / a thread (with filter_tids) to the traced sets; 0 or
 * -errno. A process is added before attach (launch: before anything of the
 * set runs), since the kernel side updates the same bitmap words. */
int vft_bpf_add_tgid(struct vft_bpf *bpf, __u32 tgid);
int vft_bpf_add_tid(struct vft_bpf *bpf, __u32 tid);
/* Attaches every tracepoint; 0 or -errno with the reason in err. */
int vft_bpf_attach(struct vft_bpf *bpf, char *err, size_t errlen);
/* Waits up to timeout_ms for records, or for wake_fd (when >= 0, e.g. a
 * pidfd) to become readable, and hands each record to fn; the records
 * handled, or -errno (-EINTR on a signal). */
int vft_bpf_poll(struct vft_bpf *bpf, int timeout_ms, int wake_fd,
		 vft_bpf_record_fn fn, void *ctx);
/* pidfd_open(2): an fd readable once process pid has exited, or -errno. */
int vft_pidfd_open(int pid);
/* Records the ring (or the pending map) could not take so far. */
__u64 vft_bpf_dropped(const struct vft_bpf *bpf);
/* kvm_mmio events left out so far: outside the watched ranges, over the budget. */
__u64 vft_bpf_mmio_skipped(const struct vft_bpf *bpf);
/* Runs the memslot iterator once over the traced processes' KVM VM fds (after
 * their tgids were added): struct vft_memslot records into buf; the bytes
 * written, or -errno (-ENOSPC when buf is too small). */
int vft_bpf_memslot_snapshot(struct vft_bpf *bpf, void *buf, size_t len);
/* Detaches and frees everything (the kernel does the same if we die). */
void vft_bpf_destroy(struct vft_bpf *bpf);

/* Launch mode: forks argv[0] (searched in PATH) held before its execvp until
 * vft_bpf_release, so its pid can be added to the traced set first. Returns
 * the pid (gate set), or -errno. */
int vft_bpf_spawn_gated(char *const argv[], int *gate);
/* Lets the gated child exec; 0 once it did, else the errno its execvp failed
 * with (the child then exits with status 127). */
int vft_bpf_release(int gate);

#endif /* VFIOTRACE_BPF_H */
