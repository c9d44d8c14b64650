/*
** 2026-12-03
**
** common.c -- small helpers of the benchmark programs, #included by
** bench.c and queue.c (each is built as one translation unit): clocks and
** whole-buffer read()/write() on the pipes between a parent and its workers.
*/
#include <errno.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Seconds of a monotonic clock. */
static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Milliseconds since the Unix epoch. */
static long long now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, 0);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* read()/write() all of n bytes; the count done (short: EOF or error). */
static size_t readAll(int fd, void *pBuf, size_t n) {
  size_t nDone = 0;
  while (nDone < n) {
    ssize_t r = read(fd, (char *)pBuf + nDone, n - nDone);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    nDone += (size_t)r;
  }
  return nDone;
}
static void writeAll(int fd, const void *pBuf, size_t n) {
  size_t nDone = 0;
  while (nDone < n) {
    ssize_t r = write(fd, (const char *)pBuf + nDone, n - nDone);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    nDone += (size_t)r;
  }
}
