import sys, random
random.seed(7)
target = int(sys.argv[2]) * 1024 * 1024
out = open(sys.argv[1], 'w')
t = 1700000000.0
lines = [
 '900 1700000000.000100 openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR|O_CLOEXEC) = 3 <0.000010>',
 '900 1700000000.000200 openat(AT_FDCWD, "/dev/vfio/42", O_RDWR|O_CLOEXEC) = 4 <0.000010>',
 '900 1700000000.000300 ioctl(4, VFIO_GROUP_GET_DEVICE_FD, "0000:00:05.0") = 5 <0.000020>',
 '900 1700000000.000450 eventfd2(0, EFD_CLOEXEC) = 6 <0.000005>',
]
size = 0
for l in lines:
    out.write(l + '\n'); size += len(l) + 1
i = 0
while size < target:
    t += 0.000013
    tid = 900 + (i % 7)
    k = i % 10
    if k == 0: l = '%d %.6f write(6<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8 <0.000004>' % (tid, t)
    elif k == 1: l = '%d %.6f read(6<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8 <0.000003>' % (tid, t)
    elif k == 2: l = '%d %.6f ioctl(5, VFIO_DEVICE_GET_REGION_INFO <unfinished ...>' % (tid, t)
    elif k == 3: l = '%d %.6f <... ioctl resumed>, 0x7ffc0000) = 0 <0.000100>' % (900 + ((i - 1) % 7), t)
    elif k == 4: l = '%d %.6f mmap(NULL, 1048576, PROT_READ|PROT_WRITE, MAP_SHARED, 5, 0) = 0x7f0000000000 <0.000010>' % (tid, t)
    elif k == 5: l = '%d %.6f munmap(0x7f0000000000, 1048576) = 0 <0.000008>' % (tid, t)
    elif k == 6: l = '%d %.6f futex(0x55d1c2a3b4c8, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL, FUTEX_BITSET_MATCH_ANY) = 0 <0.000120>' % (tid, t)
    elif k == 7: l = '%d %.6f ppoll([{fd=7, events=POLLIN}, {fd=8, events=POLLIN}, {fd=9, events=POLLIN}], 3, {tv_sec=0, tv_nsec=999000}, NULL, 8) = 1 ([{fd=7, revents=POLLIN}]) <0.000034>' % (tid, t)
    elif k == 8: l = '%d %.6f ioctl(7, KVM_SET_USER_MEMORY_REGION, {slot=5, flags=0, guest_phys_addr=0xfe000000, memory_size=1048576, userspace_addr=0x7f0000000000}) = 0 <0.000030>' % (tid, t)
    else: l = '%d %.6f pwrite64(5, "\\1\\0\\0\\0", 4, 1099511627776) = 4 <0.000006>' % (tid, t)
    out.write(l + '\n'); size += len(l) + 1
    i += 1
out.close()
print(i, size)
