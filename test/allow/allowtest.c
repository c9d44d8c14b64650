/*
** 2026-12-03
**
** allowtest.c -- helpers of test/suites/26-allow.sh.
**
**   allowtest listen PORTFILE COUNTFILE
**       listen on a free port of 127.0.0.1, write the port to PORTFILE,
**       accept (and close) connections until SIGTERM, then write how many
**       there were to COUNTFILE.  The suite points refused stores at it:
**       it must see none.
**   allowtest api EXT URL_ALLOWED URL_REFUSED
**       through the C API (statevtab.h's statevtab_allow): allow
**       URL_ALLOWED's host only on one connection, then open a second
**       connection and create a table on each naming URL_ALLOWED and
**       URL_REFUSED; print one line per attempt ("ok" or the error).
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "statevtab.h"

static volatile sig_atomic_t bStop = 0;
static void onTerm(int sig) {
  (void)sig;
  bStop = 1;
}

static int doListen(const char *zPortFile, const char *zCountFile) {
  struct sockaddr_in a;
  socklen_t n = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, nConn = 0;
  FILE *f;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = onTerm;
  sigaction(SIGTERM, &sa, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
    perror("allowtest listen");
    return 1;
  }
  f = fopen(zPortFile, "w");
  if (!f) return 1;
  fprintf(f, "%d\n", ntohs(a.sin_port));
  fclose(f);
  while (!bStop) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) == 1) {
      int c = accept(fd, 0, 0);
      if (c >= 0) {
        nConn++;
        close(c);
      }
    }
  }
  f = fopen(zCountFile, "w");
  if (!f) return 1;
  fprintf(f, "%d\n", nConn);
  fclose(f);
  return 0;
}

static void tryCreate(sqlite3 *db, const char *zWhich, const char *zUrl) {
  char *zErr = 0;
  char *zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE IF NOT EXISTS t%p USING "
                               "state_counters(store=%Q, prefix='allowapi:', "
                               "schema='allowapi')",
                               (void *)zUrl, zUrl);
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  printf("%s: %s\n", zWhich, rc == SQLITE_OK ? "ok" : zErr);
  sqlite3_free(zErr);
  sqlite3_free(zSql);
}

static sqlite3 *openDb(const char *zExt) {
  sqlite3 *db = 0;
  char *zErr = 0;
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, zExt, 0, &zErr) != SQLITE_OK) {
    fprintf(stderr, "load: %s\n", zErr);
    exit(1);
  }
  return db;
}

static int doApi(const char *zExt, const char *zOk, const char *zBad) {
  sqlite3 *db1 = openDb(zExt), *db2;
  const char *azAllow[2];
  char zEntry[200];
  /* "redis://host:port/0" -> "redis://host:port" */
  snprintf(zEntry, sizeof(zEntry), "%s", zOk);
  if (strrchr(zEntry, '/') > strstr(zEntry, "://") + 2) {
    *strrchr(zEntry, '/') = 0;
  }
  azAllow[0] = zEntry;
  azAllow[1] = "env:NOT_THIS_ONE";
  printf("statevtab_allow: %d\n", statevtab_allow(db1, azAllow, 2));
  db2 = openDb(zExt); /* opened after the call: the list is the process's */
  tryCreate(db1, "first connection, allowed", zOk);
  tryCreate(db1, "first connection, refused", zBad);
  tryCreate(db2, "second connection, allowed", zOk);
  tryCreate(db2, "second connection, refused", zBad);
  printf("statevtab_allow(NULL): %d\n", statevtab_allow(db2, 0, 0));
  tryCreate(db1, "first connection, no list", zBad);
  sqlite3_close(db1);
  sqlite3_close(db2);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "listen") == 0) {
    return doListen(argv[2], argv[3]);
  }
  if (argc == 5 && strcmp(argv[1], "api") == 0) {
    return doApi(argv[2], argv[3], argv[4]);
  }
  fprintf(stderr, "usage: allowtest listen PORTFILE COUNTFILE | "
                  "allowtest api EXT URL_OK URL_REFUSED\n");
  return 2;
}
