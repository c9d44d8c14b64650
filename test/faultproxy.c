/*
** 2026-12-03
**
** faultproxy.c -- a TCP proxy for the fault tests (suite 72-faults): it
** sits between statevtab and a Redis or PostgreSQL server, on loopback
** only, and passes, delays, resets or black-holes the traffic on command.
**
**   cc -O1 -g test/faultproxy.c -o test/out/faultproxy
**   test/out/faultproxy TARGET_PORT CONTROL_FILE [LISTEN_PORT]
**
** It listens on 127.0.0.1:LISTEN_PORT (default 0: a free port), prints
** "port N" on a line of its own once it listens, and connects each client
** to 127.0.0.1:TARGET_PORT.  It runs until killed (SIGTERM).
**
** The mode is the first word of CONTROL_FILE, read again every 10 ms
** (write the file elsewhere and rename it over, so it never reads half a
** word); a missing or empty file is "pass":
**
**   pass         forward everything both ways
**   delay MS     forward everything both ways, each chunk MS ms late
**   reset        reset (RST) every open connection, both sides, once;
**                while the mode lasts, reset each new one at once
**   blackhole    forward nothing, answer nothing: bytes from either side
**                are read and dropped, connections stay open, a new one is
**                accepted and never connected to the server
**   lose         a lost reply, once: requests go to the server, and the
**                first reply that comes back (on any connection) is
**                dropped and its connection reset both sides -- the
**                server did the work, the client never hears of it; then
**                as pass
**   drop         a lost request, once: the next bytes a client sends (on
**                any connection) never reach the server, and that
**                connection is black-holed from then on; then as pass
**
** Each change of mode is logged on stderr ("mode reset"), and each
** connection reset by a fault ("reset conn N").
**
** HOW IT WORKS
**
** One thread, one poll() loop.  Each connection is a pair of sockets and
** two queues of chunks (client->server, server->client), each chunk with
** the time it may leave (now + delay).  A socket is polled for POLLOUT
** only while the head of its queue is due.  A reset closes with SO_LINGER
** 0, so the peer sees ECONNRESET, as after a network failure.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 256

typedef struct Chunk Chunk;
struct Chunk {
  Chunk *next;
  long long due; /* ms: may leave at or after */
  size_t n, off;
  char a[];
};

typedef struct Queue {
  Chunk *head, *tail;
} Queue;

typedef struct Conn {
  int cfd, sfd; /* client, server (-1: none) */
  Queue toS, toC;
  int id;
  int bHole; /* black-holed by drop */
} Conn;

enum { PASS, DELAY, RESET, BLACKHOLE, LOSE, DROP };
static const char *const azMode[] = {"pass",      "delay", "reset",
                                     "blackhole", "lose",  "drop"};
static int eMode = PASS;
static long long iDelay = 0;
static int bLoseArmed = 0, bDropArmed = 0;
static Conn *aConn[MAXCONN];
static int nConn = 0, iNextId = 1;

static long long nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void queueFree(Queue *q) {
  while (q->head) {
    Chunk *c = q->head;
    q->head = c->next;
    free(c);
  }
  q->tail = 0;
}

static void queuePush(Queue *q, const char *a, size_t n, long long due) {
  Chunk *c = malloc(sizeof(*c) + n);
  if (!c) {
    fprintf(stderr, "faultproxy: out of memory\n");
    exit(1);
  }
  c->next = 0;
  c->due = due;
  c->n = n;
  c->off = 0;
  memcpy(c->a, a, n);
  if (q->tail) {
    q->tail->next = c;
  } else {
    q->head = c;
  }
  q->tail = c;
}

/* Close fd so that the peer sees a reset (bRst) or an orderly close. */
static void closeFd(int fd, int bRst) {
  if (fd < 0) return;
  if (bRst) {
    struct linger l;
    l.l_onoff = 1;
    l.l_linger = 0;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  close(fd);
}

static void connDrop(int i, int bRst) {
  Conn *c = aConn[i];
  if (bRst) fprintf(stderr, "faultproxy: reset conn %d\n", c->id);
  closeFd(c->cfd, bRst);
  closeFd(c->sfd, bRst);
  queueFree(&c->toS);
  queueFree(&c->toC);
  free(c);
  aConn[i] = aConn[--nConn];
}

/* The mode written in zFile; unchanged when it says nothing new. */
static void readMode(const char *zFile) {
  static char zLast[64] = "pass";
  char z[64];
  FILE *f = fopen(zFile, "r");
  size_t n = 0;
  int e, i;
  long long d = 0;
  if (f) {
    n = fread(z, 1, sizeof(z) - 1, f);
    fclose(f);
  }
  z[n] = 0;
  while (n > 0 && (z[n - 1] == '\n' || z[n - 1] == ' ')) z[--n] = 0;
  if (n == 0) strcpy(z, "pass");
  if (strcmp(z, zLast) == 0) return;
  if (strcmp(z, "pass") == 0) {
    e = PASS;
  } else if (strncmp(z, "delay ", 6) == 0 && (d = atoll(z + 6)) >= 0) {
    e = DELAY;
  } else if (strcmp(z, "reset") == 0) {
    e = RESET;
  } else if (strcmp(z, "blackhole") == 0) {
    e = BLACKHOLE;
  } else if (strcmp(z, "lose") == 0) {
    e = LOSE;
  } else if (strcmp(z, "drop") == 0) {
    e = DROP;
  } else {
    fprintf(stderr, "faultproxy: unknown mode '%s' (kept %s)\n", z,
            azMode[eMode]);
    snprintf(zLast, sizeof(zLast), "%s", z);
    return;
  }
  snprintf(zLast, sizeof(zLast), "%s", z);
  eMode = e;
  iDelay = e == DELAY ? d : 0;
  bLoseArmed = e == LOSE;
  bDropArmed = e == DROP;
  fprintf(stderr, "faultproxy: mode %s\n", z);
  if (e == RESET) {
    for (i = nConn - 1; i >= 0; i--) connDrop(i, 1);
  }
}

static int dialServer(int iPort) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0) return -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)iPort);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

static void onAccept(int lfd, int iTarget) {
  int fd = accept(lfd, 0, 0), one = 1;
  Conn *c;
  if (fd < 0) return;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (eMode == RESET || nConn == MAXCONN) {
    closeFd(fd, 1);
    return;
  }
  c = calloc(1, sizeof(*c));
  if (!c) {
    closeFd(fd, 1);
    return;
  }
  c->cfd = fd;
  c->sfd = -1;
  c->id = iNextId++;
  if (eMode != BLACKHOLE) {
    c->sfd = dialServer(iTarget);
    if (c->sfd < 0) {
      closeFd(fd, 1);
      free(c);
      return;
    }
  }
  aConn[nConn++] = c;
}

/* Read from fd into queue q (toward the other side); 0 when the
** connection must go (EOF or error). */
static int onReadable(Conn *c, int bFromServer) {
  char a[65536];
  int fd = bFromServer ? c->sfd : c->cfd;
  ssize_t n = read(fd, a, sizeof(a));
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  if (!bFromServer && bDropArmed) {
    bDropArmed = 0;
    c->bHole = 1;
    fprintf(stderr, "faultproxy: dropped the request of conn %d\n", c->id);
  }
  if (eMode == BLACKHOLE || c->bHole) return 1;
  if (bFromServer && bLoseArmed) return -1; /* the lost reply */
  queuePush(bFromServer ? &c->toC : &c->toS, a, (size_t)n,
            nowMs() + (eMode == DELAY ? iDelay : 0));
  return 1;
}

static int onWritable(Queue *q, int fd) {
  Chunk *k = q->head;
  ssize_t n = write(fd, k->a + k->off, k->n - k->off);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  k->off += (size_t)n;
  if (k->off == k->n) {
    q->head = k->next;
    if (!q->head) q->tail = 0;
    free(k);
  }
  return 1;
}

static volatile sig_atomic_t bStop = 0;
static void onTerm(int sig) {
  (void)sig;
  bStop = 1;
}

int main(int argc, char **argv) {
  struct sockaddr_in a;
  socklen_t nA = sizeof(a);
  int lfd, iTarget, one = 1, i;
  const char *zCtl;
  if (argc < 3 || argc > 4) {
    fprintf(stderr,
            "usage: faultproxy TARGET_PORT CONTROL_FILE [LISTEN_PORT]\n");
    return 2;
  }
  iTarget = atoi(argv[1]);
  zCtl = argv[2];
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, onTerm);
  signal(SIGINT, onTerm);
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)(argc > 3 ? atoi(argv[3]) : 0));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(lfd, 64) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &nA) != 0) {
    perror("faultproxy: listen");
    return 1;
  }
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  while (!bStop) {
    struct pollfd aP[1 + 2 * MAXCONN];
    long long now = nowMs(), iWait = 10;
    int nP = 1;
    readMode(zCtl);
    aP[0].fd = lfd;
    aP[0].events = POLLIN;
    for (i = 0; i < nConn; i++) {
      Conn *c = aConn[i];
      short evC = POLLIN, evS = POLLIN;
      if (c->toC.head) {
        if (c->toC.head->due <= now) {
          evC |= POLLOUT;
        } else if (c->toC.head->due - now < iWait) {
          iWait = c->toC.head->due - now;
        }
      }
      if (c->toS.head) {
        if (c->toS.head->due <= now) {
          evS |= POLLOUT;
        } else if (c->toS.head->due - now < iWait) {
          iWait = c->toS.head->due - now;
        }
      }
      aP[nP].fd = c->cfd;
      aP[nP++].events = evC;
      aP[nP].fd = c->sfd; /* -1: ignored by poll */
      aP[nP++].events = evS;
    }
    if (poll(aP, (nfds_t)nP, (int)iWait) < 0) {
      if (errno == EINTR) continue;
      perror("faultproxy: poll");
      return 1;
    }
    /* The mode may have changed while waiting: what was read or accepted
    ** after the change must see it (a client changes the mode, then at
    ** once sends). */
    readMode(zCtl);
    /* Connections first (indexes match aP), last to first: connDrop moves
    ** the last one into the slot it frees. */
    for (i = nConn - 1; i >= 0; i--) {
      Conn *c = aConn[i];
      struct pollfd *pc = &aP[1 + 2 * i], *ps = &aP[2 + 2 * i];
      int ok = 1;
      if (pc->revents & (POLLIN | POLLHUP | POLLERR)) ok = onReadable(c, 0);
      if (ok > 0 && c->sfd >= 0 && (ps->revents & (POLLIN | POLLHUP | POLLERR)))
        ok = onReadable(c, 1);
      if (ok > 0 && (pc->revents & POLLOUT) && c->toC.head)
        ok = onWritable(&c->toC, c->cfd);
      if (ok > 0 && c->sfd >= 0 && (ps->revents & POLLOUT) && c->toS.head)
        ok = onWritable(&c->toS, c->sfd);
      if (ok < 0) {
        bLoseArmed = 0;
        fprintf(stderr, "faultproxy: lost the reply of conn %d\n", c->id);
      }
      if (ok <= 0) connDrop(i, ok < 0);
    }
    if (aP[0].revents & POLLIN) onAccept(lfd, iTarget);
  }
  for (i = nConn - 1; i >= 0; i--) connDrop(i, 0);
  close(lfd);
  return 0;
}
