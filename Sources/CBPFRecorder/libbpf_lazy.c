// libbpf opened on first use (see libbpf_lazy.h).
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <bpf/libbpf_version.h>
#define VFT_LIBBPF_POINTERS_ONLY
#include "libbpf_lazy.h"

#define VFT_STRING(x) #x
#define VFT_SONAME(major) "libbpf.so." VFT_STRING(major)

struct vft_libbpf vft_libbpf;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int failure;
static char reason[256];

static void open_once(void)
{
	/* The library the headers we were built with belong to (its soname). */
	void *lib = dlopen(VFT_SONAME(LIBBPF_MAJOR_VERSION), RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!lib) {
		snprintf(reason, sizeof(reason), "cannot load libbpf: %s", dlerror());
		failure = ENOENT;
		return;
	}
#define VFT_LIBBPF_RESOLVE(name)					\
	vft_libbpf.name = (__typeof__(vft_libbpf.name))dlsym(lib, #name);	\
	if (!vft_libbpf.name && !missing)				\
		missing = #name;
	VFT_LIBBPF_FUNCTIONS(VFT_LIBBPF_RESOLVE)
#undef VFT_LIBBPF_RESOLVE
	if (missing) {
		snprintf(reason, sizeof(reason), "cannot load libbpf: %s has no %s",
			 VFT_SONAME(LIBBPF_MAJOR_VERSION), missing);
		failure = ENOSYS;
	}
}

int vft_libbpf_open(char *err, size_t errlen)
{
	pthread_once(&once, open_once);
	if (failure && err && errlen)
		snprintf(err, errlen, "%s", reason);
	return -failure;
}
