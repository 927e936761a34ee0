/*
 * libbpf, opened with dlopen on first use instead of linked: only the eBPF
 * backend needs it (and libelf and libz behind it), and every other command
 * would pay for loading and relocating the three at start-up.
 *
 * Include after <bpf/libbpf.h> and <bpf/bpf.h> and before the skeleton: each
 * libbpf function the loader or the skeleton calls becomes a call through a
 * pointer of the function's own declared type, set by vft_libbpf_open().
 */
#ifndef VFIOTRACE_LIBBPF_LAZY_H
#define VFIOTRACE_LIBBPF_LAZY_H

#include <stddef.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#define VFT_LIBBPF_FUNCTIONS(X)		\
	X(libbpf_set_print)		\
	X(bpf_object__open_skeleton)	\
	X(bpf_object__load_skeleton)	\
	X(bpf_object__attach_skeleton)	\
	X(bpf_object__detach_skeleton)	\
	X(bpf_object__destroy_skeleton)	\
	X(bpf_program__set_autoload)	\
	X(bpf_program__set_autoattach)	\
	X(bpf_program__attach_iter)	\
	X(bpf_map__set_max_entries)	\
	X(bpf_map__fd)			\
	X(bpf_map__lookup_elem)		\
	X(bpf_map__update_elem)		\
	X(bpf_link__fd)			\
	X(bpf_link__destroy)		\
	X(bpf_iter_create)		\
	X(ring_buffer__new)		\
	X(ring_buffer__poll)		\
	X(ring_buffer__consume)		\
	X(ring_buffer__epoll_fd)	\
	X(ring_buffer__free)

struct vft_libbpf {
#define VFT_LIBBPF_POINTER(name) __typeof__(name) *name;
	VFT_LIBBPF_FUNCTIONS(VFT_LIBBPF_POINTER)
#undef VFT_LIBBPF_POINTER
};

extern struct vft_libbpf vft_libbpf;

/* Opens libbpf and resolves every function above, once; 0, or -errno with
 * the dynamic loader's reason in err. */
int vft_libbpf_open(char *err, size_t errlen);

/* Not in libbpf_lazy.c, which resolves the pointers by these names. */
#ifndef VFT_LIBBPF_POINTERS_ONLY
#define libbpf_set_print		(vft_libbpf.libbpf_set_print)
#define bpf_object__open_skeleton	(vft_libbpf.bpf_object__open_skeleton)
#define bpf_object__load_skeleton	(vft_libbpf.bpf_object__load_skeleton)
#define bpf_object__attach_skeleton	(vft_libbpf.bpf_object__attach_skeleton)
#define bpf_object__detach_skeleton	(vft_libbpf.bpf_object__detach_skeleton)
#define bpf_object__destroy_skeleton	(vft_libbpf.bpf_object__destroy_skeleton)
#define bpf_program__set_autoload	(vft_libbpf.bpf_program__set_autoload)
#define bpf_program__set_autoattach	(vft_libbpf.bpf_program__set_autoattach)
#define bpf_program__attach_iter	(vft_libbpf.bpf_program__attach_iter)
#define bpf_map__set_max_entries	(vft_libbpf.bpf_map__set_max_entries)
#define bpf_map__fd			(vft_libbpf.bpf_map__fd)
#define bpf_map__lookup_elem		(vft_libbpf.bpf_map__lookup_elem)
#define bpf_map__update_elem		(vft_libbpf.bpf_map__update_elem)
#define bpf_link__fd			(vft_libbpf.bpf_link__fd)
#define bpf_link__destroy		(vft_libbpf.bpf_link__destroy)
#define bpf_iter_create			(vft_libbpf.bpf_iter_create)
#define ring_buffer__new		(vft_libbpf.ring_buffer__new)
#define ring_buffer__poll		(vft_libbpf.ring_buffer__poll)
#define ring_buffer__consume		(vft_libbpf.ring_buffer__consume)
#define ring_buffer__epoll_fd		(vft_libbpf.ring_buffer__epoll_fd)
#define ring_buffer__free		(vft_libbpf.ring_buffer__free)
#endif

#endif /* VFIOTRACE_LIBBPF_LAZY_H */
