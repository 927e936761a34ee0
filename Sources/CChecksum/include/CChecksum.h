#pragma once
// Thin wrappers over the CPU's CRC32C instruction (SSE4.2 on x86_64). No logic beyond the loop the
// instruction needs; callers fall back to a table implementation when vft_crc32c_available() is 0.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
static inline int vft_crc32c_available(void) { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2")))
static inline uint32_t vft_crc32c_update(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) { uint64_t v; memcpy(&v, p, 8); c = __builtin_ia32_crc32di(c, v); p += 8; n -= 8; }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) { c32 = __builtin_ia32_crc32qi(c32, *p); p++; n--; }
    return c32;
}
#else
static inline int vft_crc32c_available(void) { return 0; }
static inline uint32_t vft_crc32c_update(uint32_t crc, const uint8_t *p, size_t n) { (void)p; (void)n; return crc; }
#endif
