/* 4 KiB O_DIRECT random reads on a block device for a fixed time (guest side
 * of the e2e side-by-side benchmark).  Prints "ios=N secs=S irqs=I" (I: the
 * virtio interrupts the guest took during the reads).  The timed window is
 * framed on stderr (the console) by "e2e: bench-window start" and
 * "e2e: bench-window end", each followed by GUARD_MS of idle time, so the
 * host can read QEMU's CPU time around exactly the reads: the host sees a
 * marker some milliseconds late, and the guard makes that late part idle
 * time (a halted vCPU costs QEMU next to nothing) instead of reads on one
 * side and the job's epilogue on the other. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 300

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The interrupts of every virtio vector, all CPUs (/proc/interrupts). */
static unsigned long long virtio_irqs(void)
{
    FILE *f = fopen("/proc/interrupts", "r");
    char line[1024];
    unsigned long long n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "virtio"))
            continue;
        char *p = strchr(line, ':');
        if (!p)
            continue;
        p++;
        for (;;) {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p)
                break;
            n += v;
            p = end;
        }
    }
    fclose(f);
    return n;
}

static void mark(const char *what)
{
    struct timespec g = { 0, GUARD_MS * 1000000L };
    fprintf(stderr, "e2e: bench-window %s\n", what);
    nanosleep(&g, NULL);
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
    double secs = atof(argv[2]), t0, t;
    uint64_t x = 0x9e3779b97f4a7c15ull, ios = 0, blocks = size / 4096;
    mark("start");
    unsigned long long irq0 = virtio_irqs();
    t0 = now();
    do {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;      /* xorshift64, fixed seed */
        if (pread(fd, buf, 4096, (off_t)((x % blocks) * 4096)) != 4096)
            return 1;
        ios++;
        t = now();
    } while (t - t0 < secs);
    unsigned long long irq1 = virtio_irqs();
    mark("end");
    printf("ios=%llu secs=%.2f irqs=%llu\n", (unsigned long long)ios, t - t0, irq1 - irq0);
    return 0;
}
