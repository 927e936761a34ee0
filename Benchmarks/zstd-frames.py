#!/usr/bin/env python3
"""Writes TRACE.zst: the zstd frames of a .vftrace file's chunks, concatenated, so `zstd -d` can be timed on the
very bytes a reader decompresses (the physical reference of the read and analyze benchmarks; layout in
docs/FORMAT.md: a 16-byte prefix with the header length at byte 12, the header and its CRC, then chunks of a
48-byte header, compressed size at byte 36, and the frame).

    python3 Benchmarks/zstd-frames.py TRACE
"""
import struct
import sys

path = sys.argv[1]
data = open(path, 'rb').read()
header = struct.unpack_from('<I', data, 12)[0]
pos = 16 + header + 4
with open(path + '.zst', 'wb') as out:
    while data[pos:pos + 4] == b'VFCK':
        size = struct.unpack_from('<I', data, pos + 36)[0]
        out.write(data[pos + 48:pos + 48 + size])
        pos += 48 + size
