// libbpf from the system (Debian: libbpf-dev), found through pkg-config "libbpf".
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
