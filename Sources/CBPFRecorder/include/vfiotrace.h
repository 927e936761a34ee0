/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records vfiotrace.bpf.c writes into its ring buffer, shared by the
 * kernel side and the loader (libbpf-tools: name.h next to name.bpf.c).
 */
#ifndef VFIOTRACE_H
#define VFIOTRACE_H

#ifndef __VFT_BPF__
#include <linux/types.h>
#endif

/* The same bound as the ptrace recorder's VFIOLayout.maxArgumentBytes. */
#define VFT_MAX_ARG_BYTES 4096
/* The second capture: the first iovec's data of a preadv/pwritev (the decoder shows 8 bytes). */
#define VFT_MAX_AUX_BYTES 64
/* open/openat paths, VFIO_GROUP_GET_DEVICE_FD names (the decoder reads at most 512). */
#define VFT_MAX_PATH_BYTES 520
/* Traced syscall numbers: a bitmap of VFT_NR_WORDS * 64 numbers. */
#define VFT_NR_WORDS 8

enum vft_kind {
	VFT_SYSCALL = 1,	/* a traced syscall completed */
	VFT_FORK = 2,		/* args[0] child tid, args[1] child tgid, args[2] 1 = thread */
	VFT_EXEC = 3,		/* args[0] the tid that called execve */
	VFT_EXIT = 4,		/* the last thread of tgid exited; result = exit_code */
	/* Kernel-side events (settings.kvm_events); nr = -1. */
	VFT_KVM_MMIO = 5,	/* args: type (1 read, 2 write), len, gpa, value,
				 * 1 = value unknown; entry_ns the access (a read's
				 * exit to userspace), exit_ns its completion */
	VFT_KVM_UNMAP = 6,	/* args: start, end (host user addresses) */
	VFT_KVM_EXIT = 7,	/* args: reason (KVM_EXIT_*), errno */
	VFT_KVM_SET_IRQ = 8,	/* args: gsi, level, irq_source_id, 1 = not raised by
				 * a traced task (tgid: the process that bound gsi) */
	VFT_IRQ_SIGNAL = 9,	/* args: irq; capture 0: the handler's name
				 * ("vfio-intx(BDF)", "vfio-msix[V](BDF)", ...) */
	VFT_KVM_MSI = 10,	/* args: address, data, 1 = raised by the irqfd
				 * worker (tgid: the process that bound gsi), gsi */
};

/* Guest-physical ranges watched for kvm_mmio (memslots added by traced
 * processes): a .bss array of these in the program. */
#define VFT_MMIO_RANGES 64
struct vft_range {
	__u64 tgid;	/* 64 bits: clang 14 has no 32-bit cmpxchg for BPF v1 */
	__u64 start;
	__u64 end;
};
/* irq_handler_entry: the bytes of a handler's name kept. */
#define VFT_IRQ_NAME_BYTES 64

/* The memslot snapshot at an attach (iter/task_file over the traced
 * processes' KVM VM fds): what the iterator writes to its seq_file, one
 * VFT_SNAP_SLOT per live memslot of a VM, then one VFT_SNAP_VM for the VM. */
enum vft_snap_kind {
	VFT_SNAP_SLOT = 1,
	VFT_SNAP_VM = 2,	/* status: the slots written, and the bits below */
};
#define VFT_SNAP_TORN (1U << 30)	/* KVM changed the slots during the walk */
#define VFT_SNAP_TRUNCATED (1U << 31)	/* more than VFT_SNAP_MAX_SLOTS */
#define VFT_SNAP_MAX_SLOTS 512

struct vft_memslot {
	__u32 kind;
	__u32 tgid;
	__s32 vm_fd;
	__u32 slot;	/* id | address space << 16, as KVM_SET_USER_MEMORY_REGION takes it */
	__u32 flags;
	__u32 status;
	__u64 gpa;
	__u64 size;
	__u64 ua;
};

/* One ring-buffer record: this header, then mem_len[0] bytes read at
 * mem_addr[0] and mem_len[1] bytes read at mem_addr[1] (in the traced
 * process's memory, at syscall exit). */
struct vft_record {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__s32 nr;
	__u64 entry_ns;		/* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 exit_ns;
	__u64 args[6];
	__s64 result;
	__u64 mem_addr[2];
	__u32 mem_len[2];
};

#endif /* VFIOTRACE_H */
