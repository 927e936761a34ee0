#define _GNU_SOURCE
#include "shim.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/seccomp.h>

long vft_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data) {
    return ptrace((enum __ptrace_request)request, pid, (void *)addr, (void *)data);
}

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif

long vft_get_syscall_info(pid_t tid, struct vft_syscall_info *info) {
    return ptrace((enum __ptrace_request)PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(*info), info);
}

int vft_wifexited(int status) { return WIFEXITED(status); }
int vft_wexitstatus(int status) { return WEXITSTATUS(status); }
int vft_wifsignaled(int status) { return WIFSIGNALED(status); }
int vft_wtermsig(int status) { return WTERMSIG(status); }
int vft_wifstopped(int status) { return WIFSTOPPED(status); }
int vft_wstopsig(int status) { return WSTOPSIG(status); }
int vft_ptrace_event(int status) { return (status >> 16) & 0xff; }

pid_t vft_spawn_traced(char *const argv[], const struct sock_filter *filter, unsigned short filter_len) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    // Child: only async-signal-safe calls until exec. It stops itself so the parent can PTRACE_SEIZE it
    // before exec (a seized tracee can be interrupted and detached; a PTRACE_TRACEME one cannot).
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(126);
    if (filter != NULL) {
        struct sock_fprog prog = { .len = filter_len, .filter = (struct sock_filter *)filter };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(126);
    }
    raise(SIGSTOP);
    execvp(argv[0], argv);
    _exit(127);
}

long vft_syscall6(long nr, long a, long b, long c, long d, long e, long f) { return syscall(nr, a, b, c, d, e, f); }

#include <pthread.h>
static volatile int *stop_flag;
static pthread_t stop_thread;

static void stop_handler(int sig) {
    if (stop_flag) *stop_flag = sig;
    // Another thread took the signal: forward it so the tracing thread's waitpid returns EINTR.
    if (!pthread_equal(pthread_self(), stop_thread)) pthread_kill(stop_thread, sig);
}

void vft_install_stop_handlers(volatile int *flag) {
    stop_flag = flag;
    stop_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    // The host may have blocked these (test runners, spawners): the tracing thread must receive them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void vft_remove_stop_handlers(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    stop_flag = NULL;
}

#include <sys/uio.h>
long vft_read_memory(pid_t pid, void *local, unsigned long length, unsigned long long remote) {
    struct iovec l = { .iov_base = local, .iov_len = length };
    struct iovec r = { .iov_base = (void *)(uintptr_t)remote, .iov_len = length };
    return process_vm_readv(pid, &l, 1, &r, 1, 0);
}
