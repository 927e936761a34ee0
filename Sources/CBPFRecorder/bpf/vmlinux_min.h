/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel types vfiotrace.bpf.c touches, written by hand instead of a
 * generated vmlinux.h: a vmlinux.h is several megabytes and differs from one
 * kernel build to the next, which would make the committed skeleton depend on
 * the machine that generated it. Every struct is CO-RE relocatable
 * (preserve_access_index), so only the fields named here must exist in the
 * running kernel; their offsets come from its BTF at load time.
 */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
typedef int pid_t;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	long unsigned int r10;
	long unsigned int r9;
	long unsigned int r8;
	long unsigned int dx;
	long unsigned int si;
	long unsigned int di;
	long unsigned int orig_ax;
} __attribute__((preserve_access_index));
#else
#error "vfiotrace's BPF backend is written for x86_64 (see docs/BPF.md)"
#endif

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
} __attribute__((preserve_access_index));

struct mm_struct;

struct task_struct {
	pid_t pid;
	pid_t tgid;
	int exit_code;
	struct signal_struct *signal;
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

struct linux_binprm;

/* irq_handler_entry's action: its name says which vfio-pci handler ran. */
struct irqaction {
	const char *name;
} __attribute__((preserve_access_index));

/* The memslot snapshot's iterator (iter/task_file): a KVM VM fd is an anon
 * inode file named "kvm-vm" whose private_data is the struct kvm. */
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
	void *private_data;
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __attribute__((preserve_access_index));

struct hlist_node {
	struct hlist_node *next;
} __attribute__((preserve_access_index));

struct hlist_head {
	struct hlist_node *first;
} __attribute__((preserve_access_index));

/* Since Linux 5.17: each set of slots in a hash by id (and two trees), every
 * slot linked into both sets through id_node[node_idx]. Offsets of the
 * arrays are relocated; their elements are indexed by hand. */
struct kvm_memslots {
	__u64 generation;
	struct hlist_head id_hash[128];
	int node_idx;
} __attribute__((preserve_access_index));

struct kvm_memory_slot {
	struct hlist_node id_node[2];
	__u64 base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	__u32 flags;
	short id;
	__u16 as_id;
} __attribute__((preserve_access_index));

struct kvm {
	struct mm_struct *mm;
	struct kvm_memslots *memslots[2];
} __attribute__((preserve_access_index));

#endif /* __VMLINUX_H__ */
