// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vfiotrace's eBPF recorder, kernel side: the same syscalls the ptrace
 * recorder's seccomp filter stops for, of the processes in `tgids` only,
 * each written to the ring buffer once at its exit with entry and exit times,
 * arguments, result and the argument memory the decoder will read.
 *
 * Tracepoints only (no kprobes, no fentry): raw_syscalls sys_enter/sys_exit
 * and sched_process_fork/exec/exit, BTF-typed. Nothing here ever waits: a
 * full ring or a full map is counted in `dropped` and the call goes on.
 *
 * With kvm_events, KVM's own tracepoints of the traced processes too (kvm_mmio,
 * kvm_userspace_exit, kvm_unmap_hva_range, kvm_set_irq, kvm_msi_set_irq) and
 * vfio-pci's interrupt handlers (irq_handler_entry), in the same clock.
 *
 * At an attach, an iterator (iter/task_file) writes the memslots the traced
 * processes' VMs already have, which no syscall will tell.
 */
#define __VFT_BPF__
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "../include/vfiotrace.h"

/* x86_64 syscall numbers the capture below depends on. */
#define NR_READ 0
#define NR_WRITE 1
#define NR_OPEN 2
#define NR_MMAP 9
#define NR_IOCTL 16
#define NR_PREAD64 17
#define NR_PWRITE64 18
#define NR_OPENAT 257
#define NR_PREADV 295
#define NR_PWRITEV 296
#define NR_PREADV2 327
#define NR_PWRITEV2 328

/* ioctl requests (include/uapi/linux/vfio.h, kvm.h). */
#define VFIO_TYPE 0x3B00
#define VFIO_GET_API_VERSION 0x3B64
#define VFIO_CHECK_EXTENSION 0x3B65
#define VFIO_SET_IOMMU 0x3B66
#define VFIO_GROUP_SET_CONTAINER 0x3B68
#define VFIO_GROUP_GET_DEVICE_FD 0x3B6A
#define VFIO_DEVICE_SET_IRQS 0x3B6E
#define VFIO_DEVICE_RESET 0x3B6F
#define KVM_CREATE_VM 0xAE01
#define KVM_CREATE_VCPU 0xAE41
#define KVM_RUN 0xAE80
#define KVM_SET_USER_MEMORY_REGION 0x4020AE46
#define KVM_SET_USER_MEMORY_REGION2 0x40A0AE49
#define KVM_IRQFD 0x4020AE76

#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20

/* include/uapi/linux/kvm.h, include/trace/events/kvm.h */
#define KVM_EXIT_IO 2
#define KVM_EXIT_MMIO 6
#define KVM_IRQFD_FLAG_DEASSIGN 1
#define KVM_TRACE_MMIO_READ_UNSATISFIED 0
#define KVM_TRACE_MMIO_READ 1
#define KVM_TRACE_MMIO_WRITE 2

/* Set by the loader before load. */
const volatile __u64 traced_nrs[VFT_NR_WORDS] = {};
/* Only the tids in `tids` (the recorder's --threads). */
const volatile bool filter_tids = false;
/* Add forked processes to `tgids` (off with a thread filter, like ptrace without follow). */
const volatile bool follow_forks = true;

/* Record KVM's and vfio-pci's kernel-side events (the loader also turns
 * their programs' autoload on). */
const volatile bool kvm_events = false;
/* kvm_msi_set_irq is loaded, with irq_handler_exit: mark vfio-pci's handlers. */
const volatile bool kvm_msi = false;
/* kvm_mmio outside the watched ranges: at most this many a second (0: none). */
const volatile __u32 mmio_budget = 0;

/* Wake the recorder only once this many bytes wait in the ring (0: at every
 * record that finds it empty, the ring's default): a wake-up per record
 * costs the VMM a cross-CPU wake-up each time; the recorder polls every
 * 100 ms anyway. */
const volatile __u64 wake_bytes = 0;

/* Records the ring or a map could not take. */
__u64 dropped = 0;
/* kvm_mmio events outside the watched ranges over the budget, not recorded. */
__u64 mmio_skipped = 0;
/* The budget's current second and what it has spent. */
__u64 mmio_second = 0;
__u64 mmio_spent = 0;

/* Guest-physical ranges a traced process registered as memslots: an MMIO
 * exit there means the guest lost a direct mapping it had (a BAR whose
 * memslot went). Filled from slot 0 on, never emptied during a recording. */
struct vft_range mmio_ranges[VFT_MMIO_RANGES] = {};

/* The traced processes: bit tgid % 64 of word tgid / 64. An array, not a
 * hash: every syscall of every process asks, and an array lookup is inlined
 * by the verifier. Sized by the loader from kernel.pid_max. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4194304 / 64);
	__type(key, __u32);
	__type(value, __u64);
} tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} tids SEC(".maps");

/* When a traced syscall entered, per tid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} pending SEC(".maps");

/* Room for one record: the header and both captures. */
struct scratch {
	struct vft_record rec;
	__u8 mem[VFT_MAX_ARG_BYTES + VFT_MAX_AUX_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* A vCPU's MMIO read that exited to userspace: recorded once completed,
 * with the value the VMM gave back. Per tid. */
struct mmio_read {
	__u64 ns;
	__u64 gpa;
	__u32 len;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct mmio_read);
} mmio_reads SEC(".maps");

/* Per tid: a recorded kvm_mmio may exit to userspace (its exit is kept). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} mmio_exits SEC(".maps");

/* GSIs a traced process bound to an irqfd, and which process: kvm_set_irq
 * from an irqfd runs in a kworker, not in the VMM. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} irq_gsis SEC(".maps");

/* An irqfd worker's GSI being raised (kvm_set_irq) for a process: the
 * kvm_msi_set_irq that follows in the same task is that GSI's MSI. Per tid. */
struct msi_owner {
	__u32 tgid;
	__u32 gsi;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct msi_owner);
} msi_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);	/* resized by the loader */
} events SEC(".maps");

static __always_inline void count_drop(void)
{
	__sync_fetch_and_add(&dropped, 1);
}

static __always_inline __u64 ring_flags(void)
{
	if (!wake_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline bool traced_process(__u32 tgid)
{
	__u32 word = tgid >> 6;
	__u64 *bits = bpf_map_lookup_elem(&tgids, &word);

	return bits && (*bits >> (tgid & 63)) & 1;
}

static __always_inline void set_traced(__u32 tgid, bool on)
{
	__u32 word = tgid >> 6;
	__u64 *bits = bpf_map_lookup_elem(&tgids, &word);

	if (!bits) {
		count_drop();
		return;
	}
	if (on)
		__sync_fetch_and_or(bits, 1ULL << (tgid & 63));
	else
		__sync_fetch_and_and(bits, ~(1ULL << (tgid & 63)));
}

static __always_inline bool traced_task(__u32 tgid, __u32 tid)
{
	if (!traced_process(tgid))
		return false;
	return !filter_tids || bpf_map_lookup_elem(&tids, &tid);
}

static __always_inline bool traced_nr(long nr)
{
	if (nr < 0 || nr >= VFT_NR_WORDS * 64)
		return false;
	return (traced_nrs[nr >> 6] >> (nr & 63)) & 1;
}

/* The ioctls the seccomp filter lets stop: VFIO (type ';') and the KVM
 * memslot, irqfd and creation requests; KVM_RUN never. */
static __always_inline bool traced_ioctl(__u32 req)
{
	if (req == KVM_RUN)
		return false;
	if ((req & 0xFF00) == VFIO_TYPE)
		return true;
	return req == KVM_CREATE_VM || req == KVM_CREATE_VCPU ||
	       req == KVM_SET_USER_MEMORY_REGION ||
	       req == KVM_SET_USER_MEMORY_REGION2 || req == KVM_IRQFD;
}

/* Direct loads: a tp_btf program's regs is a BTF pointer, read without a
 * helper call (still CO-RE relocated). */
static __always_inline void syscall_args(struct pt_regs *regs, __u64 *args)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

/* The cheapest refusal first: a vCPU's KVM_RUN and every other ioctl not of
 * interest leave on their request alone. */
static __always_inline bool unwanted_ioctl(long nr, struct pt_regs *regs)
{
	return nr == NR_IOCTL && !traced_ioctl((__u32)regs->si);
}

/* Whether the call is one the recorder wants, from its number and arguments
 * (the same choices as the ptrace recorder's seccomp filter). */
static __always_inline bool wanted(long nr, __u64 *args)
{
	if (!traced_nr(nr))
		return false;
	if (nr == NR_IOCTL && !traced_ioctl((__u32)args[1]))
		return false;
	/* Anonymous mappings that replace nothing never map a device. */
	if (nr == NR_MMAP &&
	    ((__u32)args[3] & (MAP_ANONYMOUS | MAP_FIXED)) == MAP_ANONYMOUS)
		return false;
	/* An eventfd transfers 8 bytes; nothing smaller decodes. */
	if ((nr == NR_READ || nr == NR_WRITE) && args[2] < 8)
		return false;
	return true;
}

/* Only the entry time is kept: the arguments are still in the registers at
 * exit, and a call a seccomp filter answers (RET_ERRNO, USER_NOTIF) never
 * reaches this tracepoint, only sys_exit. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid, args[6], now;
	__u32 tgid, tid;

	/* The call's number and request first: every syscall of every
	 * process comes here, most leave without a helper call. */
	if (!traced_nr(id) || unwanted_ioctl(id, regs))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	tid = (__u32)pid_tgid;
	if (!traced_task(tgid, tid))
		return 0;
	syscall_args(regs, args);
	if (!wanted(id, args))
		return 0;
	now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending, &tid, &now, BPF_ANY))
		count_drop();
	return 0;
}

/* Reads up to n bytes at addr into buf, trying smaller sizes when the whole
 * range is not readable; returns the bytes read. */
static __always_inline __u32 read_arg(__u8 *buf, __u32 n, __u64 addr)
{
	n &= 0x1FFF;
	if (n > VFT_MAX_ARG_BYTES)
		n = VFT_MAX_ARG_BYTES;
	if (n && !bpf_probe_read_user(buf, n, (void *)addr))
		return n;
	if (n > 32 && !bpf_probe_read_user(buf, 32, (void *)addr))
		return 32;
	if (n > 4 && !bpf_probe_read_user(buf, 4, (void *)addr))
		return 4;
	return 0;
}

static __always_inline __u32 read_str(__u8 *buf, __u64 addr)
{
	long n = bpf_probe_read_user_str(buf, VFT_MAX_PATH_BYTES, (void *)addr);

	return n > 0 ? n : 0;
}

/* What a VFIO or KVM ioctl's argument holds, as the decoder reads it. */
static __always_inline __u32 capture_ioctl(struct scratch *s, __u32 req,
					   __u64 arg)
{
	__u32 argsz = 0, n;

	switch (req) {
	case VFIO_GET_API_VERSION:
	case VFIO_CHECK_EXTENSION:
	case VFIO_SET_IOMMU:
	case VFIO_DEVICE_RESET:
	case KVM_CREATE_VM:
	case KVM_CREATE_VCPU:
		return 0;
	case VFIO_GROUP_GET_DEVICE_FD:
		return read_str(s->mem, arg);
	case VFIO_GROUP_SET_CONTAINER:
		return read_arg(s->mem, 4, arg);
	case KVM_SET_USER_MEMORY_REGION:
	case KVM_SET_USER_MEMORY_REGION2:
	case KVM_IRQFD:
		return read_arg(s->mem, 32, arg);
	}
	if (bpf_probe_read_user(&argsz, 4, (void *)arg))
		return 0;
	/* At least a vfio_region_info; SET_IRQS: its eventfds past the header. */
	n = argsz < 32 ? 32 : argsz;
	if (req == VFIO_DEVICE_SET_IRQS) {
		__u32 count = 0;

		bpf_probe_read_user(&count, 4, (void *)(arg + 16));
		if (count <= VFT_MAX_ARG_BYTES / 4 && 20 + count * 4 > n)
			n = 20 + count * 4;
	}
	return read_arg(s->mem, n, arg);
}

/* Watches [start, end) for tgid's MMIO exits (once). */
static __always_inline void watch_range(__u32 tgid, __u64 start, __u64 end)
{
	for (int i = 0; i < VFT_MMIO_RANGES; i++) {
		struct vft_range *r = &mmio_ranges[i];

		if (r->tgid == tgid && r->start == start && r->end == end)
			return;
		if (r->tgid == 0 &&
		    __sync_val_compare_and_swap(&r->tgid, 0, (__u64)tgid) == 0) {
			r->start = start;
			r->end = end;
			return;
		}
	}
	count_drop();
}

static __always_inline bool watched_gpa(__u32 tgid, __u64 gpa)
{
	for (int i = 0; i < VFT_MMIO_RANGES; i++) {
		struct vft_range *r = &mmio_ranges[i];

		if (r->tgid == 0)
			return false;
		if (r->tgid == tgid && gpa >= r->start && gpa < r->end)
			return true;
	}
	return false;
}

/* An unwatched MMIO access may be recorded: at most mmio_budget a second
 * (approximate across CPUs; what it refuses is counted). */
static __always_inline bool mmio_budget_allows(__u64 now)
{
	__u64 second = now / 1000000000ULL;

	if (!mmio_budget) {
		__sync_fetch_and_add(&mmio_skipped, 1);
		return false;
	}
	if (second != mmio_second) {
		mmio_second = second;
		mmio_spent = 0;
	}
	if (__sync_fetch_and_add(&mmio_spent, 1) < mmio_budget)
		return true;
	__sync_fetch_and_add(&mmio_skipped, 1);
	return false;
}

/* A successful memslot add (its range watched) or irqfd bind (its GSI
 * attributed), from the 32 bytes captured at the ioctl's exit. */
static __always_inline void note_kvm_ioctl(__u32 tgid, __u32 req, __u8 *arg)
{
	if (req == KVM_SET_USER_MEMORY_REGION ||
	    req == KVM_SET_USER_MEMORY_REGION2) {
		__u64 gpa = *(__u64 *)(arg + 8), size = *(__u64 *)(arg + 16);

		if (size)
			watch_range(tgid, gpa, gpa + size);
	} else if (req == KVM_IRQFD) {
		__u32 gsi = *(__u32 *)(arg + 4), flags = *(__u32 *)(arg + 8);

		if (flags & KVM_IRQFD_FLAG_DEASSIGN)
			bpf_map_delete_elem(&irq_gsis, &gsi);
		else if (bpf_map_update_elem(&irq_gsis, &gsi, &tgid, BPF_ANY))
			count_drop();
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid, *entry;
	__u32 tgid, tid;
	__u32 zero = 0, n0 = 0, n1 = 0, size;
	long nr = regs->orig_ax;
	struct scratch *s;
	__u64 a1;

	if (!traced_nr(nr) || unwanted_ioctl(nr, regs))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	tid = (__u32)pid_tgid;
	if (!traced_task(tgid, tid))
		return 0;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	syscall_args(regs, s->rec.args);
	s->rec.exit_ns = bpf_ktime_get_ns();
	entry = bpf_map_lookup_elem(&pending, &tid);
	if (entry) {
		s->rec.entry_ns = *entry;
		bpf_map_delete_elem(&pending, &tid);
	} else {
		/* Answered by a seccomp filter without entering: no entry time. */
		if (!wanted(nr, s->rec.args))
			return 0;
		s->rec.entry_ns = s->rec.exit_ns;
	}
	s->rec.kind = VFT_SYSCALL;
	s->rec.tgid = tgid;
	s->rec.tid = tid;
	s->rec.nr = nr;
	s->rec.result = ret;
	a1 = s->rec.args[1];
	s->rec.mem_addr[0] = a1;
	s->rec.mem_addr[1] = 0;

	switch (nr) {
	case NR_READ:
	case NR_WRITE:
		if (ret != 8)
			return 0;	/* not an eventfd transfer: nothing decodes */
		n0 = read_arg(s->mem, 8, a1);
		break;
	case NR_OPEN:
		s->rec.mem_addr[0] = s->rec.args[0];
		if (ret >= 0)
			n0 = read_str(s->mem, s->rec.args[0]);
		break;
	case NR_OPENAT:
		if (ret >= 0)
			n0 = read_str(s->mem, a1);
		break;
	case NR_IOCTL:
		s->rec.mem_addr[0] = s->rec.args[2];
		n0 = capture_ioctl(s, (__u32)a1, s->rec.args[2]);
		break;
	case NR_PREAD64:
	case NR_PWRITE64:
		if (ret > 0)
			n0 = read_arg(s->mem, ret < 8 ? ret : 8, a1);
		break;
	case NR_PREADV:
	case NR_PWRITEV:
	case NR_PREADV2:
	case NR_PWRITEV2: {
		__u64 base = 0;

		n0 = read_arg(s->mem, 16, a1);
		if (n0 == 16 && ret > 0 &&
		    !bpf_probe_read_user(&base, 8, (void *)a1)) {
			n1 = ret < 8 ? ret : 8;
			if (bpf_probe_read_user(s->mem + 16, n1 & 15, (void *)base))
				n1 = 0;
			s->rec.mem_addr[1] = base;
		}
		break;
	}
	}
	n0 &= 0x1FFF;
	if (n0 > VFT_MAX_ARG_BYTES)
		n0 = VFT_MAX_ARG_BYTES;
	if (kvm_events && nr == NR_IOCTL && ret == 0 && n0 >= 32)
		note_kvm_ioctl(tgid, (__u32)a1, s->mem);
	n1 &= 15;
	s->rec.mem_len[0] = n0;
	s->rec.mem_len[1] = n1;
	size = sizeof(s->rec) + n0 + n1;
	if (size > sizeof(*s))
		size = sizeof(*s);
	if (bpf_ringbuf_output(&events, s, size, ring_flags()))
		count_drop();
	return 0;
}

static __always_inline void emit_task_record(__u32 kind, __u32 tgid,
					     __u32 tid, __u64 a0, __u64 a1,
					     __u64 a2, __s64 result)
{
	struct vft_record r = {};

	r.kind = kind;
	r.tgid = tgid;
	r.tid = tid;
	r.nr = -1;
	r.entry_ns = r.exit_ns = bpf_ktime_get_ns();
	r.args[0] = a0;
	r.args[1] = a1;
	r.args[2] = a2;
	r.result = result;
	/* A traced process's end wakes the recorder at once (rare, and the
	 * recording may be waiting for nothing else). */
	if (bpf_ringbuf_output(&events, &r, sizeof(r),
			       kind == VFT_EXIT ? BPF_RB_FORCE_WAKEUP :
						  ring_flags()))
		count_drop();
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ptid = BPF_CORE_READ(parent, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 ctid = BPF_CORE_READ(child, pid);
	bool thread = ctgid == ptgid;

	if (!traced_task(ptgid, ptid))
		return 0;
	if (!thread) {
		if (!follow_forks)
			return 0;
		set_traced(ctgid, true);
	}
	emit_task_record(VFT_FORK, ptgid, ptid, ctid, ctgid, thread, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!traced_process(tgid))
		return 0;
	emit_task_record(VFT_EXEC, tgid, BPF_CORE_READ(p, pid), old_pid, 0, 0,
			 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);

	if (!traced_process(tgid))
		return 0;
	bpf_map_delete_elem(&pending, &tid);
	if (kvm_events) {
		bpf_map_delete_elem(&mmio_reads, &tid);
		bpf_map_delete_elem(&mmio_exits, &tid);
	}
	/* signal->live already counts this thread out: zero when it was the last. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	emit_task_record(VFT_EXIT, tgid, tid, 0, 0, 0,
			 BPF_CORE_READ(p, exit_code));
	set_traced(tgid, false);
	return 0;
}

/* Kernel-side events: loaded only with kvm_events (autoload set by the
 * loader), attached to KVM's tracepoints and irq_handler_entry. */

static __always_inline void emit_kernel_record(__u32 kind, __u32 tgid,
					       __u32 tid, __u64 entry,
					       __u64 exit, __u64 a0, __u64 a1,
					       __u64 a2, __u64 a3, __u64 a4)
{
	struct vft_record r = {};

	r.kind = kind;
	r.tgid = tgid;
	r.tid = tid;
	r.nr = -1;
	r.entry_ns = entry;
	r.exit_ns = exit;
	r.args[0] = a0;
	r.args[1] = a1;
	r.args[2] = a2;
	r.args[3] = a3;
	r.args[4] = a4;
	if (bpf_ringbuf_output(&events, &r, sizeof(r), ring_flags()))
		count_drop();
}

static __always_inline void emit_mmio(__u32 tgid, __u32 tid, __u64 entry,
				      __u64 exit, __u32 type, __u32 len,
				      __u64 gpa, __u64 value, bool unknown)
{
	emit_kernel_record(VFT_KVM_MMIO, tgid, tid, entry, exit, type, len, gpa,
			   value, unknown);
}

/* A guest MMIO access that exited (emulated by KVM or handed to the VMM).
 * A read the VMM completes is traced twice, unsatisfied at the exit and
 * with its value on the next KVM_RUN: one record with both times. */
SEC("tp_btf/kvm_mmio")
int BPF_PROG(kvm_mmio, int type, int len, __u64 gpa, void *val)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now, value = 0;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, n;
	struct mmio_read *pending_read;
	__u8 one = 1;

	if (!traced_task(tgid, tid))
		return 0;
	now = bpf_ktime_get_ns();
	n = len > 0 && len <= 8 ? len : 8;
	if (val)
		bpf_probe_read_kernel(&value, n & 15, val);
	pending_read = bpf_map_lookup_elem(&mmio_reads, &tid);
	if (pending_read) {
		struct mmio_read r = *pending_read;

		bpf_map_delete_elem(&mmio_reads, &tid);
		if (type == KVM_TRACE_MMIO_READ && r.gpa == gpa) {
			emit_mmio(tgid, tid, r.ns, now, KVM_TRACE_MMIO_READ,
				  len, gpa, value, false);
			return 0;
		}
		/* Never completed (the VMM did not run the vCPU again). */
		emit_mmio(tgid, tid, r.ns, r.ns, KVM_TRACE_MMIO_READ, r.len,
			  r.gpa, 0, true);
	}
	if (!watched_gpa(tgid, gpa) && !mmio_budget_allows(now))
		return 0;
	if (type == KVM_TRACE_MMIO_READ_UNSATISFIED) {
		struct mmio_read r = {.ns = now, .gpa = gpa, .len = len};

		if (bpf_map_update_elem(&mmio_reads, &tid, &r, BPF_ANY))
			count_drop();
		bpf_map_update_elem(&mmio_exits, &tid, &one, BPF_ANY);
		return 0;
	}
	if (type == KVM_TRACE_MMIO_WRITE)
		bpf_map_update_elem(&mmio_exits, &tid, &one, BPF_ANY);
	emit_mmio(tgid, tid, now, now, type, len, gpa, value, false);
	return 0;
}

/* KVM_RUN returning to the VMM. Port I/O exits are left out (a VMM makes
 * them by the million), and MMIO exits but after a recorded kvm_mmio. */
SEC("tp_btf/kvm_userspace_exit")
int BPF_PROG(kvm_userspace_exit, __u32 reason, int err)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	bool after_mmio;

	if (reason == KVM_EXIT_IO || !traced_task(tgid, tid))
		return 0;
	after_mmio = bpf_map_lookup_elem(&mmio_exits, &tid) != NULL;
	if (after_mmio)
		bpf_map_delete_elem(&mmio_exits, &tid);
	if (reason == KVM_EXIT_MMIO && !after_mmio)
		return 0;
	now = bpf_ktime_get_ns();
	emit_kernel_record(VFT_KVM_EXIT, tgid, tid, now, now, reason,
			   (__u64)(__s64)err, 0, 0, 0);
	return 0;
}

/* KVM's MMU notifier: a host range of the VMM's mm invalidated (munmap,
 * mprotect, ...), so KVM zapped whatever guest mappings it had of it. */
SEC("tp_btf/kvm_unmap_hva_range")
int BPF_PROG(kvm_unmap_hva_range, unsigned long start, unsigned long end)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;

	if (!traced_task(tgid, tid))
		return 0;
	now = bpf_ktime_get_ns();
	emit_kernel_record(VFT_KVM_UNMAP, tgid, tid, now, now, start, end, 0, 0,
			   0);
	return 0;
}

/* A GSI raised or lowered: by a traced task (KVM_IRQ_LINE, a resampler's
 * ack in a vCPU), or by the irqfd worker for a GSI a traced process bound. */
SEC("tp_btf/kvm_set_irq")
int BPF_PROG(kvm_set_irq, unsigned int gsi, int level, int irq_source_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, *owner;
	bool elsewhere = false;

	if (!traced_task(tgid, tid)) {
		owner = bpf_map_lookup_elem(&irq_gsis, &gsi);
		if (!owner)
			return 0;
		/* The worker raises (1) then lowers (0) the GSI; an MSI route
		 * is delivered in between, in this task. */
		if (level) {
			struct msi_owner o = {.tgid = *owner, .gsi = gsi};

			bpf_map_update_elem(&msi_owners, &tid, &o, BPF_ANY);
		} else {
			bpf_map_delete_elem(&msi_owners, &tid);
		}
		tgid = tid = *owner;
		elsewhere = true;
	}
	now = bpf_ktime_get_ns();
	emit_kernel_record(VFT_KVM_SET_IRQ, tgid, tid, now, now, gsi,
			   (__u64)(__s64)level, (__u64)(__s64)irq_source_id,
			   elsewhere, 0);
	return 0;
}

/* Set while a vfio-pci interrupt handler runs on this CPU (between
 * irq_handler_entry and irq_handler_exit): what it signals is not the doing
 * of the task it interrupted. (No per-CPU preempt count here: reading
 * __preempt_count as a ksym needs data symbols in kallsyms.) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} in_vfio_irq SEC(".maps");

static __always_inline bool in_vfio_handler(void)
{
	__u32 zero = 0, *on = bpf_map_lookup_elem(&in_vfio_irq, &zero);

	return on && *on;
}

/* An MSI KVM is about to deliver (kvm_set_msi_irq): KVM_SIGNAL_MSI, or an
 * irqfd routed to an MSI, in the task that wrote the eventfd (a VMM thread,
 * a vhost worker of the VMM) or, when that fast path could not deliver, in
 * the irqfd worker. Not attributable, left out: one raised by vfio-pci's
 * interrupt handler (its eventfd_signal on an irqfd), whatever task it
 * interrupted. */
SEC("tp_btf/kvm_msi_set_irq")
int BPF_PROG(kvm_msi_set_irq, __u64 address, __u64 data)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, gsi = 0;
	struct msi_owner *o;
	bool worker = false;

	if (in_vfio_handler())
		return 0;
	if (!traced_task(tgid, tid)) {
		o = bpf_map_lookup_elem(&msi_owners, &tid);
		if (!o)
			return 0;
		tgid = o->tgid;
		gsi = o->gsi;
		bpf_map_delete_elem(&msi_owners, &tid);
		tid = tgid;
		worker = true;
	}
	now = bpf_ktime_get_ns();
	emit_kernel_record(VFT_KVM_MSI, tgid, tid, now, now, address, data,
			   worker, gsi, 0);
	return 0;
}

/* A hard interrupt's handler about to run: vfio-pci's (named "vfio-...")
 * are the device signalling, whichever task the interrupt hit. */
SEC("tp_btf/irq_handler_entry")
int BPF_PROG(irq_handler_entry, int irq, struct irqaction *action)
{
	struct {
		struct vft_record rec;
		char name[VFT_IRQ_NAME_BYTES];
	} e = {};
	const char *name = action->name;
	long n;

	if (!name || bpf_probe_read_kernel(e.name, 5, name) ||
	    e.name[0] != 'v' || e.name[1] != 'f' || e.name[2] != 'i' ||
	    e.name[3] != 'o' || e.name[4] != '-')
		return 0;
	if (kvm_msi) {
		__u32 zero = 0, *on = bpf_map_lookup_elem(&in_vfio_irq, &zero);

		if (on)
			*on = 1;
	}
	n = bpf_probe_read_kernel_str(e.name, sizeof(e.name), name);
	if (n <= 0)
		return 0;
	e.rec.kind = VFT_IRQ_SIGNAL;
	e.rec.nr = -1;
	e.rec.entry_ns = e.rec.exit_ns = bpf_ktime_get_ns();
	e.rec.args[0] = irq;
	/* Without the NUL. */
	e.rec.mem_len[0] = (n - 1) & (VFT_IRQ_NAME_BYTES - 1);
	if (bpf_ringbuf_output(&events, &e, sizeof(e.rec) + e.rec.mem_len[0],
			       ring_flags()))
		count_drop();
	return 0;
}

/* Any handler done: no vfio-pci handler runs on this CPU any more (handlers
 * do not nest). Loaded with kvm_msi_set_irq only. */
SEC("tp_btf/irq_handler_exit")
int BPF_PROG(irq_handler_exit, int irq, struct irqaction *action, int ret)
{
	__u32 zero = 0, *on = bpf_map_lookup_elem(&in_vfio_irq, &zero);

	if (on && *on)
		*on = 0;
	return 0;
}

/* The memslot snapshot at an attach: for each KVM VM fd of a traced process,
 * the live slots of each address space, read from KVM's own tables with
 * probe reads (the recorder holds no KVM lock, so nothing here can stall the
 * VMM), checked for a concurrent change: KVM edits only the inactive set of
 * slots and swaps it in with a new generation, so the active set's pointer
 * and generation unchanged across the walk mean the walk saw one state. */

#define KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS (1ULL << 63)

struct snap_buf {
	struct vft_memslot slots[VFT_SNAP_MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snap_buf);
} snap_buf SEC(".maps");

struct snap_walk {
	__u64 slots;		/* struct kvm_memslots * */
	__u64 node;		/* the hlist_node to visit; 0: the next bucket */
	__u32 node_off;		/* offset of a slot's id_node[node_idx] */
	__u32 bucket;
	__u32 count;
	__u32 status;
	__u32 tgid;
	__s32 fd;
};

static long snap_step(__u32 i, struct snap_walk *w)
{
	struct kvm_memory_slot *slot;
	struct vft_memslot *r;
	struct snap_buf *buf;
	__u32 zero = 0, n = w->count;
	__u16 as_id = 0;
	short id = 0;

	if (!w->node) {
		if (w->bucket >= 128)
			return 1;
		if (bpf_probe_read_kernel(&w->node, 8, (void *)(w->slots +
		    bpf_core_field_offset(struct kvm_memslots, id_hash) +
		    w->bucket * 8))) {
			w->status |= VFT_SNAP_TORN;
			return 1;
		}
		w->bucket++;
		return 0;
	}
	if (n >= VFT_SNAP_MAX_SLOTS) {
		w->status |= VFT_SNAP_TRUNCATED;
		return 1;
	}
	buf = bpf_map_lookup_elem(&snap_buf, &zero);
	if (!buf)
		return 1;
	r = &buf->slots[n];
	slot = (struct kvm_memory_slot *)(w->node - w->node_off);
	r->kind = VFT_SNAP_SLOT;
	r->tgid = w->tgid;
	r->vm_fd = w->fd;
	r->status = 0;
	r->gpa = BPF_CORE_READ(slot, base_gfn) << 12;
	r->size = (__u64)BPF_CORE_READ(slot, npages) << 12;
	r->ua = BPF_CORE_READ(slot, userspace_addr);
	r->flags = BPF_CORE_READ(slot, flags);
	id = BPF_CORE_READ(slot, id);
	as_id = BPF_CORE_READ(slot, as_id);
	r->slot = (__u16)id | (__u32)as_id << 16;
	w->count = n + 1;
	/* Its MMIO exits are a lost direct mapping, as for a slot registered
	 * during the recording (harmless if the walk turns out torn). */
	if (kvm_events && r->size)
		watch_range(w->tgid, r->gpa, r->gpa + r->size);
	/* hlist_node.next: the first member. */
	if (bpf_probe_read_kernel(&w->node, 8, (void *)w->node)) {
		w->status |= VFT_SNAP_TORN;
		return 1;
	}
	return 0;
}

static __always_inline __u64 active_slots(struct kvm *kvm, __u32 as_id,
					  __u64 *generation)
{
	__u64 slots = 0;

	*generation = 0;
	if (bpf_probe_read_kernel(&slots, 8, (void *)kvm +
				  bpf_core_field_offset(struct kvm, memslots) +
				  as_id * 8) || !slots)
		return 0;
	if (bpf_probe_read_kernel(generation, 8, (void *)slots +
		bpf_core_field_offset(struct kvm_memslots, generation)))
		return 0;
	return slots;
}

SEC("iter/task_file")
int vm_memslots(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct snap_walk w = {};
	struct vft_memslot end = {};
	struct snap_buf *buf;
	char name[8] = {};
	struct kvm *kvm;
	__u32 zero = 0, as_id, n_as, len, idx = 0;
	__u64 gen, gen2, slots2;

	if (!task || !file)
		return 0;
	w.tgid = BPF_CORE_READ(task, tgid);
	if (!traced_process(w.tgid))
		return 0;
	if (bpf_probe_read_kernel_str(name, sizeof(name),
				      BPF_CORE_READ(file, f_path.dentry, d_name.name)) != 7 ||
	    name[0] != 'k' || name[1] != 'v' || name[2] != 'm' || name[3] != '-' ||
	    name[4] != 'v' || name[5] != 'm')
		return 0;
	kvm = BPF_CORE_READ(file, private_data);
	/* Only KVM names its VM files so, and a VM belongs to its creator's mm. */
	if (!kvm || BPF_CORE_READ(kvm, mm) != BPF_CORE_READ(task, mm))
		return 0;
	w.fd = ctx->fd;
	n_as = bpf_core_field_size(struct kvm, memslots) / 8;
	buf = bpf_map_lookup_elem(&snap_buf, &zero);
	if (!buf)
		return 0;
	for (as_id = 0; as_id < 2 && as_id < n_as; as_id++) {
		w.slots = active_slots(kvm, as_id, &gen);
		if (!w.slots)
			continue;
		if (bpf_probe_read_kernel(&idx, 4, (void *)w.slots +
			bpf_core_field_offset(struct kvm_memslots, node_idx)))
			w.status |= VFT_SNAP_TORN;
		w.node_off = bpf_core_field_offset(struct kvm_memory_slot, id_node) +
			     (idx & 1) * bpf_core_type_size(struct hlist_node);
		w.node = 0;
		w.bucket = 0;
		bpf_loop(128 + VFT_SNAP_MAX_SLOTS + 1, snap_step, &w, 0);
		slots2 = active_slots(kvm, as_id, &gen2);
		if (slots2 != w.slots || gen2 != gen ||
		    gen & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
			w.status |= VFT_SNAP_TORN;
	}
	len = w.count;
	if (len > VFT_SNAP_MAX_SLOTS)
		len = VFT_SNAP_MAX_SLOTS;
	if (len)
		bpf_seq_write(seq, buf->slots, len * sizeof(struct vft_memslot));
	end.kind = VFT_SNAP_VM;
	end.tgid = w.tgid;
	end.vm_fd = w.fd;
	end.status = len | w.status;
	bpf_seq_write(seq, &end, sizeof(end));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
