/* fb-bench.c - full-screen redraws into /dev/fb0 (built static on the host, run in the guest by bench-mbochs.sh).
 *
 * Usage: fb-bench FRAMES CONFIG
 *   Writes FRAMES full frames (two alternating patterns) with pwrite at offset 0 of /dev/fb0, then fsync
 *   (the fbdev emulation's deferred I/O copies its shadow into the device's video memory), and prints
 *   "BENCH fb frames=N bytes=B ns=T WxH". Before and after, it reads one byte of the display device's PCI
 *   config space (CONFIG: its sysfs config file) at 0x2c and 0x2d: markers the host finds in QEMU's trace
 *   to count the vfio-user messages in between.
 */
#include <fcntl.h>
#include <linux/fb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void marker(const char *config, off_t offset) {
  unsigned char b;
  int fd = open(config, O_RDONLY);
  if (fd < 0 || pread(fd, &b, 1, offset) != 1) { perror(config); exit(1); }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: fb-bench FRAMES CONFIG\n"); return 2; }
  int frames = atoi(argv[1]);
  int fd = open("/dev/fb0", O_RDWR);
  struct fb_var_screeninfo var;
  struct fb_fix_screeninfo fix;
  if (fd < 0 || ioctl(fd, FBIOGET_VSCREENINFO, &var) || ioctl(fd, FBIOGET_FSCREENINFO, &fix)) { perror("fb0"); return 1; }
  size_t size = (size_t)fix.line_length * var.yres;
  unsigned char *frame[2] = { malloc(size), malloc(size) };
  for (size_t i = 0; i < size; i++) { frame[0][i] = (unsigned char)(i * 7); frame[1][i] = (unsigned char)(i * 13 + 1); }
  if (pwrite(fd, frame[1], size, 0) != (ssize_t)size) { perror("warm-up write"); return 1; }
  fsync(fd);
  sleep(1);
  marker(argv[2], 0x2c);
  long long start = now_ns();
  for (int n = 0; n < frames; n++)
    if (pwrite(fd, frame[n & 1], size, 0) != (ssize_t)size) { perror("write"); return 1; }
  fsync(fd);
  long long ns = now_ns() - start;
  marker(argv[2], 0x2d);
  printf("BENCH fb frames=%d bytes=%zu ns=%lld %ux%u\n", frames, size * frames, ns, var.xres, var.yres);
  return 0;
}
