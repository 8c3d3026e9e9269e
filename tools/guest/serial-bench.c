/* serial-bench.c - guest side of tools/guest/bench.sh: loopback throughput of one serial port.
 *
 * Usage: serial-bench /dev/ttySN IRQ [IOPORT]
 * The port must echo what it is sent (mtty's loopback, or a UART whose far end echoes). Runs, in order:
 *   4k   one write() of 4096 bytes, then read until all 4096 came back (3 times)
 *   64   a 64-byte write and its 64 bytes read back (64 round trips)
 *   16   a 16-byte write and its 16 bytes read back (256 round trips)
 * and prints one line per test:
 *   BENCH <test> bytes=<N> ns=<elapsed> trips=<round trips> irqs=<interrupts on IRQ during the test>
 * or "FAIL ..." if data is lost or mangled. With IOPORT (the port's I/O base, hex), it writes the test's
 * number to the scratch register (base+7) before and after each test, so a host-side trace of the
 * device's accesses can be cut into tests (marker 0xB0+n at the start, 0xC0+n at the end).
 * Built on the host by bench.sh (static) and carried into the guest inside the test script.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static unsigned long ioport;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Interrupts counted on IRQ so far, summed over CPUs (/proc/interrupts). */
static long long irq_count(const char *irq)
{
    char line[1024];
    long long total = 0;
    size_t n = strlen(irq);
    FILE *f = fopen("/proc/interrupts", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ') p++;
        if (strncmp(p, irq, n) != 0 || p[n] != ':') continue;
        p += n + 1;
        for (;;) {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p) break;
            total += v;
            p = end;
        }
        break;
    }
    fclose(f);
    return total;
}

static void mark(int value)
{
    if (ioport) outb((unsigned char)value, ioport + 7);
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; gives up after 20 s without progress. */
static int read_all(int fd, char *buf, size_t n)
{
    while (n > 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 20000) <= 0) return -1;
        ssize_t r = read(fd, buf, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

static int run(int fd, const char *irq, int number, const char *name, size_t size, int trips)
{
    static char out[4096], in[4096];
    long long irqs = irq_count(irq), start;
    for (size_t i = 0; i < size; i++) out[i] = (char)('!' + (i * 7 + (size_t)number) % 90);
    mark(0xB0 + number);
    start = now_ns();
    for (int t = 0; t < trips; t++) {
        if (write_all(fd, out, size) != 0 || read_all(fd, in, size) != 0) {
            printf("FAIL bench %s: trip %d of %zu bytes did not come back\n", name, t, size);
            return -1;
        }
        if (memcmp(in, out, size) != 0) {
            printf("FAIL bench %s: trip %d read back different bytes\n", name, t);
            return -1;
        }
    }
    long long ns = now_ns() - start;
    mark(0xC0 + number);
    printf("BENCH %s bytes=%zu ns=%lld trips=%d irqs=%lld\n", name, size * (size_t)trips, ns, trips, irq_count(irq) - irqs);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct termios t;
    if (argc < 3) {
        fprintf(stderr, "usage: serial-bench /dev/ttySN IRQ [IOPORT]\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_NOCTTY);
    if (fd < 0 || tcgetattr(fd, &t) != 0) {
        printf("FAIL bench: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~CRTSCTS;
    cfsetspeed(&t, B115200);
    tcsetattr(fd, TCSANOW, &t);
    tcflush(fd, TCIOFLUSH);
    if (argc > 3) {
        ioport = strtoul(argv[3], NULL, 16);
        if (ioperm(ioport, 8, 1) != 0) ioport = 0;
    }
    int bad = 0;
    bad |= run(fd, argv[2], 0, "warmup", 16, 4);
    bad |= run(fd, argv[2], 1, "4k", 4096, 3);
    bad |= run(fd, argv[2], 2, "64", 64, 64);
    bad |= run(fd, argv[2], 3, "16", 16, 256);
    close(fd);
    return bad ? 1 : 0;
}
