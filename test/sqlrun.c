/*
** 2026-11-22
**
** sqlrun: the host program for statevtab's SQL golden tests.
**
**   sqlrun [-e EXTENSION_PATH] [-D] SCRIPT.sql
**
** It opens an in-memory database, loads the extension (entry point
** sqlite3_statevtab_init), runs SCRIPT statement by statement and prints
** a deterministic transcript on stdout that test/sqltest.sh compares with
** test/sql/expected/<name>.out.  It links the system libsqlite3: it is a
** test host, not part of the extension.
**
** TRANSCRIPT FORMAT
**
**   - one line per result row: the column values joined with '|';
**     NULL as NULL, INTEGER in decimal, REAL as SQLite renders it
**     ("%!.15g": 2.5, 1.0, 1.0e+100), TEXT as is, BLOB as X'0A1B...'
**   - a failing statement prints "error: <sqlite3_errmsg>", followed by
**     " [SQLITE_<PRIMARY>]" when the primary result code is not
**     SQLITE_ERROR (the primary code, not the extended one, so that the
**     transcript is the same whichever store produced the error); the
**     script then goes on with the next statement
**   - a line that starts in column 1 with "-- " (or is just "--") at a
**     statement boundary is echoed verbatim (trailing blanks trimmed);
**     indented or trailing comments, comments inside a statement, block
**     comments and blank lines are not
**   - problems with a dot-command print "error: .<cmd>: ..." (an unknown
**     one "error: unknown dot-command: .<cmd>"), and the script goes on
**
** SUBSTITUTIONS (made in the whole script text before it runs)
**
**   @OPTS@   env STATEVTAB_TEST_OPTS, default  store='sqlite:'
**   @OPTS:NAME@  the same options with a namespace of its own: every
**            occurrence of env STATEVTAB_TEST_NS (the run's Redis prefix
**            or PostgreSQL schema) in STATEVTAB_TEST_OPTS becomes
**            <NS>_NAME.  NAME is [a-z0-9_]+.  Two tables of one kind that
**            must not share rows on a remote store (where the same store
**            and namespace means the same rows) use different NAMEs; with
**            STATEVTAB_TEST_NS unset or empty (the local store, whose rows
**            are per table anyway) it is just @OPTS@
**   @STORE@  env STATEVTAB_TEST_STORE, default sqlite
**   @TMP@    the directory .open resolves against: env TEST_TMP, default
**            /tmp (test/sqltest.sh maps it back to @TMP@ in the output)
**
** DOT-COMMANDS (a line starting with '.' at a statement boundary)
**
**   .open FILE          close, open FILE and load the extension; a
**                       relative FILE (or file:URI) is taken relative to
**                       $TEST_TMP (default /tmp); ":memory:" as is
**   .reopen             close and reopen the same file, load the extension
**   .noext              close and reopen the same file WITHOUT loading the
**                       extension
**   .ext                load the extension into the current connection
**   .defensive on|off   SQLITE_DBCONFIG_DEFENSIVE on this connection
**   .trusted_schema on|off  SQLITE_DBCONFIG_TRUSTED_SCHEMA on this connection
**   .echo TEXT          print TEXT
**   .changes            print sqlite3_changes()
**   .setenv NAME VALUE  setenv(NAME, VALUE) in this process (e.g. to move
**                       the pinned clock STATEVTAB_TEST_CLOCK_MS); VALUE
**                       is the rest of the line, possibly empty
**   .unsetenv NAME      unsetenv(NAME)
**
** Per-connection settings made by .defensive and .trusted_schema last until
** the next .open/.reopen/.noext; -D turns DEFENSIVE on at every open.
**
** HOW IT WORKS
**
** The script is cut into statements with sqlite3_complete(): from a
** statement boundary, the statement runs to the first ';' at which the text
** so far is complete (so strings, comments and CREATE TRIGGER bodies are
** handled as SQLite itself handles them), or to the end of the file.  Each
** such piece goes through the sqlite3_prepare_v2() tail loop.  Cutting first
** means a syntax error costs exactly one statement, never the rest of the
** file.
**
** EXIT STATUS
**
**   0  the script ran (statement errors are expected output)
**   1  usage error, or the script could not be read
**   2  the database could not be opened, or the -e extension not loaded
**   3  sqlite3_close() found unfinalized statements ("error: close:
**      unfinalized statements" is printed): a statement leak in the
**      extension.  The leaked statements are finalized so that ASan and
**      valgrind report only the real problem.
**
** The extension is also kept mapped until exit (pinExtension()) so that
** leak reports made at exit can name its functions.
*/
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Runner Runner;
struct Runner {
  sqlite3 *db;      /* the current connection, or NULL */
  char *zDbPath;    /* path of the current database (sqlite3_malloc) */
  const char *zExt; /* extension to load (-e), or NULL */
  const char *zTmp; /* directory for relative .open paths */
  int bDefensive;   /* -D: DEFENSIVE on at every open */
  int bLeak;        /* a close found unfinalized statements */
};

/*
** The symbolic name of a primary result code.
*/
static const char *codeName(int rc) {
  static const char *const azName[] = {
      "SQLITE_OK",        "SQLITE_ERROR",      "SQLITE_INTERNAL",
      "SQLITE_PERM",      "SQLITE_ABORT",      "SQLITE_BUSY",
      "SQLITE_LOCKED",    "SQLITE_NOMEM",      "SQLITE_READONLY",
      "SQLITE_INTERRUPT", "SQLITE_IOERR",      "SQLITE_CORRUPT",
      "SQLITE_NOTFOUND",  "SQLITE_FULL",       "SQLITE_CANTOPEN",
      "SQLITE_PROTOCOL",  "SQLITE_EMPTY",      "SQLITE_SCHEMA",
      "SQLITE_TOOBIG",    "SQLITE_CONSTRAINT", "SQLITE_MISMATCH",
      "SQLITE_MISUSE",    "SQLITE_NOLFS",      "SQLITE_AUTH",
      "SQLITE_FORMAT",    "SQLITE_RANGE",      "SQLITE_NOTADB",
      "SQLITE_NOTICE",    "SQLITE_WARNING",
  };
  rc &= 0xff;
  if (rc >= 0 && rc < (int)(sizeof(azName) / sizeof(azName[0]))) {
    return azName[rc];
  }
  if (rc == SQLITE_ROW) return "SQLITE_ROW";
  if (rc == SQLITE_DONE) return "SQLITE_DONE";
  return "SQLITE_UNKNOWN";
}

/*
** Print "error: <message>[ [SQLITE_CODE]]" for the last error on db.
*/
static void printDbError(sqlite3 *db, int rc) {
  int eCode = sqlite3_extended_errcode(db);
  if (eCode == SQLITE_OK) eCode = rc;
  printf("error: %s", sqlite3_errmsg(db));
  if ((eCode & 0xff) != SQLITE_ERROR) printf(" [%s]", codeName(eCode));
  putchar('\n');
}

/*
** Print the current row of pStmt in the transcript format.
*/
static void printRow(sqlite3_stmt *pStmt) {
  int nCol = sqlite3_column_count(pStmt);
  int i;
  for (i = 0; i < nCol; i++) {
    if (i > 0) putchar('|');
    switch (sqlite3_column_type(pStmt, i)) {
    case SQLITE_NULL:
      fputs("NULL", stdout);
      break;
    case SQLITE_INTEGER:
      printf("%lld", (long long)sqlite3_column_int64(pStmt, i));
      break;
    case SQLITE_BLOB: {
      const unsigned char *a = sqlite3_column_blob(pStmt, i);
      int n = sqlite3_column_bytes(pStmt, i);
      int j;
      fputs("X'", stdout);
      for (j = 0; j < n; j++) printf("%02X", a[j]);
      putchar('\'');
      break;
    }
    default: {
      /* TEXT, and REAL as SQLite itself renders it ("%!.15g"). */
      const unsigned char *z = sqlite3_column_text(pStmt, i);
      int n = sqlite3_column_bytes(pStmt, i);
      if (z) fwrite(z, 1, (size_t)n, stdout);
      break;
    }
    }
  }
  putchar('\n');
}

/*
** Run every statement in zSql (one piece cut by nextStatement()),
** printing rows and errors.  An error ends the piece.
*/
static void runSql(Runner *p, const char *zSql) {
  const char *zTail = zSql;
  while (zTail && zTail[0]) {
    sqlite3_stmt *pStmt = 0;
    const char *zNext = 0;
    int rc = sqlite3_prepare_v2(p->db, zTail, -1, &pStmt, &zNext);
    if (rc != SQLITE_OK) {
      printDbError(p->db, rc);
      sqlite3_finalize(pStmt);
      return;
    }
    if (pStmt == 0) return; /* only whitespace or comments were left */
    while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) printRow(pStmt);
    if (rc != SQLITE_DONE) printDbError(p->db, rc);
    sqlite3_finalize(pStmt);
    if (rc != SQLITE_DONE) return;
    zTail = zNext;
  }
}

/*
** Close the current connection, if any.  When sqlite3_close() finds
** unfinalized statements, the extension leaked them: report it, finalize
** them so that leak checkers see only the real problem, and close again.
*/
static void runnerClose(Runner *p) {
  if (p->db == 0) return;
  if (sqlite3_close(p->db) == SQLITE_BUSY) {
    sqlite3_stmt *pStmt;
    printf("error: close: unfinalized statements\n");
    p->bLeak = 1;
    while ((pStmt = sqlite3_next_stmt(p->db, 0)) != 0) {
      sqlite3_finalize(pStmt);
    }
    sqlite3_close(p->db);
  }
  p->db = 0;
}

/*
** Load the extension into the current connection.  Returns 0 on success,
** or 1 after printing "error: load: <msg>".
**
** The loading is enabled through SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, not
** sqlite3_enable_load_extension(), so that the SQL function
** load_extension() stays off: a test script cannot load code behind the
** runner's back.
*/
static int loadExtension(Runner *p) {
  char *zErr = 0;
  int rc;
  if (p->zExt == 0) {
    printf("error: load: no extension given (-e)\n");
    return 1;
  }
  sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, (int *)0);
  rc = sqlite3_load_extension(p->db, p->zExt, "sqlite3_statevtab_init", &zErr);
  sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)0);
  if (rc != SQLITE_OK) {
    printf("error: load: %s\n", zErr ? zErr : sqlite3_errstr(rc));
    sqlite3_free(zErr);
    return 1;
  }
  return 0;
}

/*
** Close the current connection and open zPath (already resolved), loading
** the extension when bLoad is true and one was given with -e.  zPath is
** copied.  zShow names the file in an error message: the name as the
** script wrote it, so that the transcript does not depend on $TEST_TMP. Returns
*0 on success, 1 after printing an error (there is then
** no connection; statements fail until the next successful open), 2 when
** the extension failed to load (the connection stays open).
*/
static int runnerOpen(Runner *p, const char *zPath, const char *zShow,
                      int bLoad) {
  char *zCopy = sqlite3_mprintf("%s", zPath);
  int rc;
  runnerClose(p);
  if (zCopy == 0) {
    printf("error: open: out of memory\n");
    return 1;
  }
  sqlite3_free(p->zDbPath);
  p->zDbPath = zCopy;
  rc = sqlite3_open_v2(
      p->zDbPath, &p->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, 0);
  if (rc != SQLITE_OK) {
    printf("error: open: %s: %s [%s]\n", zShow,
           p->db ? sqlite3_errmsg(p->db) : sqlite3_errstr(rc), codeName(rc));
    sqlite3_close(p->db);
    p->db = 0;
    return 1;
  }
  if (p->bDefensive) {
    sqlite3_db_config(p->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
  }
  if (bLoad && p->zExt && loadExtension(p)) return 2;
  return 0;
}

/*
** Resolve a .open argument against p->zTmp.  Returns a sqlite3_malloc'd
** string the caller frees, or NULL on OOM.
*/
static char *resolvePath(Runner *p, const char *zFile) {
  if (strcmp(zFile, ":memory:") == 0 || zFile[0] == '/') {
    return sqlite3_mprintf("%s", zFile);
  }
  if (strncmp(zFile, "file:", 5) == 0) {
    if (zFile[5] == '/' || zFile[5] == ':' || zFile[5] == '?' ||
        zFile[5] == 0) {
      return sqlite3_mprintf("%s", zFile); /* absolute or memory URI */
    }
    return sqlite3_mprintf("file:%s/%s", p->zTmp, zFile + 5);
  }
  return sqlite3_mprintf("%s/%s", p->zTmp, zFile);
}

/*
** Parse "on" or "off".  Returns 1, 0, or -1 for anything else.
*/
static int onOff(const char *z) {
  if (strcmp(z, "on") == 0) return 1;
  if (strcmp(z, "off") == 0) return 0;
  return -1;
}

/*
** Run one dot-command.  zLine is the line without its terminator and with
** trailing blanks removed (a writable copy).
*/
static void runDot(Runner *p, char *zLine) {
  char *zCmd = zLine + 1;
  char *zArg = zCmd;
  while (*zArg && *zArg != ' ' && *zArg != '\t') zArg++;
  if (*zArg) *(zArg++) = 0;
  while (*zArg == ' ' || *zArg == '\t') zArg++;

  if (strcmp(zCmd, "echo") == 0) {
    printf("%s\n", zArg);
  } else if (strcmp(zCmd, "changes") == 0) {
    if (p->db)
      printf("%d\n", sqlite3_changes(p->db));
    else
      printf("error: .changes: no database\n");
  } else if (strcmp(zCmd, "setenv") == 0 || strcmp(zCmd, "unsetenv") == 0) {
    char *zVal = zArg;
    while (*zVal && *zVal != ' ' && *zVal != '\t') zVal++;
    if (*zVal) *(zVal++) = 0;
    while (*zVal == ' ' || *zVal == '\t') zVal++;
    if (zArg[0] == 0) {
      printf("error: .%s: missing NAME\n", zCmd);
    } else if (zCmd[0] == 's' ? setenv(zArg, zVal, 1) != 0
                              : unsetenv(zArg) != 0) {
      printf("error: .%s: cannot set %s\n", zCmd, zArg);
    }
  } else if (strcmp(zCmd, "system") == 0) {
    /* Run a shell command (restart a server, start a background writer);
    ** its exit status is printed only when it is not 0. */
    int rc;
    fflush(stdout);
    rc = system(zArg);
    if (rc != 0) printf("error: .system: exit status %d\n", rc);
  } else if (strcmp(zCmd, "open") == 0) {
    char *zPath;
    if (zArg[0] == 0) {
      printf("error: .open: missing FILE\n");
      return;
    }
    zPath = resolvePath(p, zArg);
    if (zPath == 0) {
      printf("error: .open: out of memory\n");
      return;
    }
    runnerOpen(p, zPath, zArg, 1);
    sqlite3_free(zPath);
  } else if (strcmp(zCmd, "reopen") == 0 || strcmp(zCmd, "noext") == 0) {
    char *zPath = sqlite3_mprintf("%s", p->zDbPath);
    if (zPath == 0) {
      printf("error: .%s: out of memory\n", zCmd);
      return;
    }
    runnerOpen(p, zPath, zPath, zCmd[0] == 'r');
    sqlite3_free(zPath);
  } else if (strcmp(zCmd, "ext") == 0) {
    if (p->db)
      loadExtension(p);
    else
      printf("error: .ext: no database\n");
  } else if (strcmp(zCmd, "defensive") == 0 ||
             strcmp(zCmd, "trusted_schema") == 0) {
    int op = zCmd[0] == 'd' ? SQLITE_DBCONFIG_DEFENSIVE
                            : SQLITE_DBCONFIG_TRUSTED_SCHEMA;
    int b = onOff(zArg);
    if (b < 0) {
      printf("error: .%s: expected on or off\n", zCmd);
    } else if (p->db == 0) {
      printf("error: .%s: no database\n", zCmd);
    } else {
      sqlite3_db_config(p->db, op, b, (int *)0);
    }
  } else {
    printf("error: unknown dot-command: .%s\n", zCmd);
  }
}

/*
** Return the end of the statement that starts at z: just past the first
** ';' at which the text is a complete SQL statement, or the end of the
** string.  The text is NUL-terminated temporarily at each candidate, so z
** must be writable.
*/
static char *statementEnd(char *z) {
  char *zSemi = z;
  while ((zSemi = strchr(zSemi, ';')) != 0) {
    char c = zSemi[1];
    int bDone;
    zSemi[1] = 0;
    bDone = sqlite3_complete(z);
    zSemi[1] = c;
    zSemi++;
    if (bDone) return zSemi;
  }
  return z + strlen(z);
}

/*
** Run a whole script (writable, NUL-terminated).
*/
static void runScript(Runner *p, char *z) {
  int bLineStart = 1; /* z is at the start of a line */
  while (*z) {
    char c = *z;
    if (c == '\n') {
      z++;
      bLineStart = 1;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      z++;
      bLineStart = 0;
    } else if (c == '-' && z[1] == '-') {
      char *zEol = strchr(z, '\n');
      char *zEnd = zEol ? zEol : z + strlen(z);
      if (bLineStart &&
          (z[2] == ' ' || z[2] == '\t' || z + 2 == zEnd || z[2] == '\r')) {
        char *zLast = zEnd;
        while (zLast > z &&
               (zLast[-1] == ' ' || zLast[-1] == '\t' || zLast[-1] == '\r')) {
          zLast--;
        }
        fwrite(z, 1, (size_t)(zLast - z), stdout);
        putchar('\n');
      }
      z = zEnd;
    } else if (c == '/' && z[1] == '*') {
      char *zClose = strstr(z + 2, "*/");
      z = zClose ? zClose + 2 : z + strlen(z);
      bLineStart = 0;
    } else if (c == '.' && bLineStart) {
      char *zEol = strchr(z, '\n');
      char *zEnd = zEol ? zEol : z + strlen(z);
      char *zLine = sqlite3_mprintf("%.*s", (int)(zEnd - z), z);
      if (zLine) {
        int n = (int)strlen(zLine);
        while (n > 0 && (zLine[n - 1] == ' ' || zLine[n - 1] == '\t' ||
                         zLine[n - 1] == '\r')) {
          zLine[--n] = 0;
        }
        runDot(p, zLine);
        sqlite3_free(zLine);
      } else {
        printf("error: out of memory\n");
      }
      z = zEnd;
    } else {
      char *zEnd = statementEnd(z);
      char cSave = *zEnd;
      *zEnd = 0;
      if (p->db) {
        runSql(p, z);
      } else {
        printf("error: no database\n");
      }
      *zEnd = cSave;
      z = zEnd;
      bLineStart = 0;
    }
  }
}

/*
** Finish pStr.  Returns its text (sqlite3_malloc'd, "" when empty: a bare
** sqlite3_str_finish() returns NULL for that), or NULL on OOM.
*/
static char *strFinish(sqlite3_str *pStr) {
  int rc = sqlite3_str_errcode(pStr);
  char *z = sqlite3_str_finish(pStr);
  if (rc != SQLITE_OK) {
    sqlite3_free(z);
    return 0;
  }
  return z ? z : sqlite3_mprintf("");
}

/*
** Return a copy of zIn (sqlite3_malloc'd) with every zFrom replaced by
** zTo, or NULL on OOM.
*/
static char *replaceAll(const char *zIn, const char *zFrom, const char *zTo) {
  sqlite3_str *pStr = sqlite3_str_new(0);
  size_t nFrom = strlen(zFrom);
  const char *zHit;
  while ((zHit = strstr(zIn, zFrom)) != 0) {
    sqlite3_str_append(pStr, zIn, (int)(zHit - zIn));
    sqlite3_str_appendall(pStr, zTo);
    zIn = zHit + nFrom;
  }
  sqlite3_str_appendall(pStr, zIn);
  return strFinish(pStr);
}

/*
** Return a copy of zIn (sqlite3_malloc'd) with every "@OPTS:NAME@"
** replaced as described in the header, or NULL on OOM.  Text that starts
** with "@OPTS:" but is not followed by NAME and "@" is kept as is.
*/
static char *replaceNsOpts(const char *zIn, const char *zOpts,
                           const char *zNs) {
  sqlite3_str *pStr = sqlite3_str_new(0);
  const char *zHit;
  while ((zHit = strstr(zIn, "@OPTS:")) != 0) {
    const char *zName = zHit + 6;
    int n = 0;
    while ((zName[n] >= 'a' && zName[n] <= 'z') ||
           (zName[n] >= '0' && zName[n] <= '9') || zName[n] == '_') {
      n++;
    }
    sqlite3_str_append(pStr, zIn, (int)(zHit - zIn));
    if (n == 0 || zName[n] != '@') {
      sqlite3_str_append(pStr, zHit, 6);
      zIn = zHit + 6;
      continue;
    }
    if (zNs && zNs[0]) {
      char *zNewNs = sqlite3_mprintf("%s_%.*s", zNs, n, zName);
      char *zSub = zNewNs ? replaceAll(zOpts, zNs, zNewNs) : 0;
      sqlite3_free(zNewNs);
      if (zSub == 0) {
        sqlite3_free(sqlite3_str_finish(pStr));
        return 0;
      }
      sqlite3_str_appendall(pStr, zSub);
      sqlite3_free(zSub);
    } else {
      sqlite3_str_appendall(pStr, zOpts);
    }
    zIn = zName + n + 1;
  }
  sqlite3_str_appendall(pStr, zIn);
  return strFinish(pStr);
}

/*
** Read the whole of zFile into a sqlite3_malloc'd, NUL-terminated buffer.
** Returns NULL (after printing why) on failure.
*/
static char *readFile(const char *zFile) {
  FILE *in = fopen(zFile, "rb");
  sqlite3_str *pStr;
  char aBuf[8192];
  size_t n;
  char *z;
  if (in == 0) {
    fprintf(stderr, "sqlrun: cannot open %s\n", zFile);
    return 0;
  }
  pStr = sqlite3_str_new(0);
  while ((n = fread(aBuf, 1, sizeof(aBuf), in)) > 0) {
    sqlite3_str_append(pStr, aBuf, (int)n);
  }
  if (ferror(in)) {
    fprintf(stderr, "sqlrun: cannot read %s\n", zFile);
    fclose(in);
    sqlite3_free(sqlite3_str_finish(pStr));
    return 0;
  }
  fclose(in);
  z = strFinish(pStr);
  if (z == 0) fprintf(stderr, "sqlrun: out of memory reading %s\n", zFile);
  return z;
}

/*
** Keep the extension mapped until the process exits.  SQLite dlclose()s it
** in sqlite3_close(), before LeakSanitizer and valgrind report leaks at
** exit; with the library gone their stack traces lose the extension's
** symbols (or name the wrong module).  Holding one RTLD_NODELETE
** reference of our own keeps every report readable.  Failure here is
** ignored: sqlite3_load_extension() reports it properly.
*/
static void pinExtension(const char *zExt) {
#ifdef RTLD_NODELETE
  void *h = dlopen(zExt, RTLD_NOW | RTLD_NODELETE);
  if (h == 0) {
    char *zSo = sqlite3_mprintf("%s.so", zExt); /* as SQLite retries */
    if (zSo) h = dlopen(zSo, RTLD_NOW | RTLD_NODELETE);
    sqlite3_free(zSo);
  }
  if (h) dlclose(h);
#else
  (void)zExt;
#endif
}

static void usage(void) {
  fprintf(stderr, "usage: sqlrun [-e EXTENSION_PATH] [-D] SCRIPT.sql\n");
}

int main(int argc, char **argv) {
  Runner r;
  const char *zScript = 0;
  const char *zOpts = getenv("STATEVTAB_TEST_OPTS");
  const char *zStore = getenv("STATEVTAB_TEST_STORE");
  struct {
    const char *zFrom, *zTo;
  } aSub[] = {{"@OPTS@", 0}, {"@STORE@", 0}, {"@TMP@", 0}};
  char *zSql;
  int i, rc = 0;

  memset(&r, 0, sizeof(r));
  r.zTmp = getenv("TEST_TMP");
  if (r.zTmp == 0 || r.zTmp[0] == 0) r.zTmp = "/tmp";
  if (zOpts == 0) zOpts = "store='sqlite:'";
  if (zStore == 0) zStore = "sqlite";

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
      r.zExt = argv[++i];
    } else if (strcmp(argv[i], "-D") == 0) {
      r.bDefensive = 1;
    } else if (argv[i][0] == '-' || zScript) {
      usage();
      return 1;
    } else {
      zScript = argv[i];
    }
  }
  if (zScript == 0) {
    usage();
    return 1;
  }

  aSub[0].zTo = zOpts;
  aSub[1].zTo = zStore;
  aSub[2].zTo = r.zTmp;
  zSql = readFile(zScript);
  if (zSql == 0) return 1;
  {
    char *zNew = replaceNsOpts(zSql, zOpts, getenv("STATEVTAB_TEST_NS"));
    sqlite3_free(zSql);
    zSql = zNew;
  }
  for (i = 0; zSql && i < (int)(sizeof(aSub) / sizeof(aSub[0])); i++) {
    char *zNew = replaceAll(zSql, aSub[i].zFrom, aSub[i].zTo);
    sqlite3_free(zSql);
    zSql = zNew;
  }
  if (zSql == 0) {
    fprintf(stderr, "sqlrun: out of memory\n");
    return 1;
  }

  if (r.zExt) pinExtension(r.zExt);
  if (runnerOpen(&r, ":memory:", ":memory:", 1) != 0) {
    rc = 2;
  } else {
    runScript(&r, zSql);
  }
  runnerClose(&r);
  if (rc == 0 && r.bLeak) rc = 3;
  sqlite3_free(zSql);
  sqlite3_free(r.zDbPath);
  if (fflush(stdout) != 0) rc = rc ? rc : 1;
  return rc;
}
