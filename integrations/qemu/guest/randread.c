/* 4 KiB O_DIRECT random reads on a block device for a fixed time (guest side
 * of the e2e side-by-side benchmark).  Prints "ios=N secs=S". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0)
        return 1;
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) || size < 4096)
        return 1;
    void *buf;
    if (posix_memalign(&buf, 4096, 4096))
        return 1;
    double secs = atof(argv[2]), t0 = now(), t;
    uint64_t x = 0x9e3779b97f4a7c15ull, ios = 0, blocks = size / 4096;
    do {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;      /* xorshift64, fixed seed */
        if (pread(fd, buf, 4096, (off_t)((x % blocks) * 4096)) != 4096)
            return 1;
        ios++;
        t = now();
    } while (t - t0 < secs);
    printf("ios=%llu secs=%.2f\n", (unsigned long long)ios, t - t0);
    return 0;
}
