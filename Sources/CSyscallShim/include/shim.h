#pragma once
// Thin wrappers over calls Swift cannot make directly (variadic ptrace/prctl/syscall, wait-status
// macros, seccomp structs). No tracing logic lives here.
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

// Mirror of the kernel's struct ptrace_syscall_info (linux/ptrace.h), which clashes with glibc's
// <sys/ptrace.h> when both are included.
struct vft_syscall_info {
    uint8_t op;  // 0 none, 1 entry, 2 exit, 3 seccomp
    uint8_t pad[3];
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t stack_pointer;
    union {
        struct { uint64_t nr; uint64_t args[6]; } entry;
        struct { int64_t rval; uint8_t is_error; } exit;
        struct { uint64_t nr; uint64_t args[6]; uint32_t ret_data; } seccomp;
    };
};

// ptrace requests with the pid/addr/data the kernel expects; -1 and errno on failure.
long vft_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data);
// PTRACE_GET_SYSCALL_INFO into `info`; returns bytes the kernel filled.
long vft_get_syscall_info(pid_t tid, struct vft_syscall_info *info);

// wait-status macros as functions.
int vft_wifexited(int status);
int vft_wexitstatus(int status);
int vft_wifsignaled(int status);
int vft_wtermsig(int status);
int vft_wifstopped(int status);
int vft_wstopsig(int status);
// The PTRACE_EVENT_* in bits 16..23 of a stop status.
int vft_ptrace_event(int status);

// Fork a child that sets no_new_privs, installs `filter` (if non-NULL) with seccomp, stops itself with
// SIGSTOP (for the parent to PTRACE_SEIZE and continue it) and execs argv[0] from PATH. Returns the
// child's pid or -1. The child exits with status 127 if exec fails, 126 if the filter cannot be set.
pid_t vft_spawn_traced(char *const argv[], const struct sock_filter *filter, unsigned short filter_len);

// Raw syscall(2) for calls without a glibc wrapper.
long vft_syscall6(long nr, long a, long b, long c, long d, long e, long f);

// Installs handlers for SIGINT, SIGTERM and SIGALRM (no SA_RESTART) that set *flag to the signal's number and make
// sure the calling (tracing) thread's blocking call returns EINTR, whichever thread got the signal.
void vft_install_stop_handlers(volatile int *flag);
// Restores the default actions.
void vft_remove_stop_handlers(void);

// process_vm_readv of one contiguous range (glibc declares it only with _GNU_SOURCE).
long vft_read_memory(pid_t pid, void *local, unsigned long length, unsigned long long remote);
