/*
** 2026-11-22
**
** util.c -- small helpers shared by the layers: the clock, time-ordered ids,
** a non-allocating JSON validator, URL redaction and option dequoting.
*/
#include "svint.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

/*
** Milliseconds since the Unix epoch.  For tests only, STATEVTAB_TEST_CLOCK_MS
** pins the clock ("1700000000000") or offsets it ("+60000", "-5000").  A
** process that does not have it on the first call never looks again (a
** getenv() per call cost a few hundred instructions on every written row);
** one that has it reads it on every call, so a test may move the clock.
*/
sqlite3_int64 sv_now_ms(void) {
  static int eClockEnv = -1; /* -1 not looked yet, 0 absent, 1 present */
  struct timeval tv;
  sqlite3_int64 now;
  const char *z = 0;
  if (eClockEnv != 0) {
    z = getenv("STATEVTAB_TEST_CLOCK_MS");
    if (eClockEnv < 0) eClockEnv = z != 0;
  }
  gettimeofday(&tv, 0);
  now = (sqlite3_int64)tv.tv_sec * 1000 + tv.tv_usec / 1000;
  if (z && z[0]) {
    sqlite3_int64 v = strtoll(z, 0, 10);
    now = (z[0] == '+' || z[0] == '-') ? now + v : v;
  }
  return now;
}

/* Milliseconds of a monotonic clock, for timeouts (never pinned). */
sqlite3_int64 sv_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
** Has sqlite3_interrupt() been called on db during the statement that is
** running?  sqlite3_is_interrupted() says so from SQLite 3.41 on (the slot
** does not exist in older libraries, hence the version check).  Older
** libraries tell it only by refusing to prepare a statement while an
** interrupted one runs: try one, when a statement of db is running (with
** none running, SQLite would clear the flag instead).
*/
int sv_interrupted(sqlite3 *db) {
  sqlite3_stmt *pStmt;
#if SQLITE_VERSION_NUMBER >= 3041000
  if (sqlite3_libversion_number() >= 3041000) {
    return sqlite3_is_interrupted(db);
  }
#endif
  for (pStmt = sqlite3_next_stmt(db, 0); pStmt;
       pStmt = sqlite3_next_stmt(db, pStmt)) {
    if (sqlite3_stmt_busy(pStmt)) break;
  }
  if (pStmt) {
    int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &pStmt, 0);
    sqlite3_finalize(pStmt);
    return rc == SQLITE_INTERRUPT;
  }
  return 0;
}

/*
** Write a new UUIDv7 (RFC 9562) into zOut as 36 lowercase hex characters and
** dashes plus a nul.  Within one connection ids strictly increase: when the
** clock has not moved (or went back), the 12-bit rand_a field counts up, and
** on overflow the timestamp is advanced by one millisecond (RFC 9562 6.2,
** method 1).  The other 62 bits are random, so ids from different
** connections and machines do not collide.
*/
int sv_gen_id(sv_idgen *p, char *zOut) {
  static const char hex[] = "0123456789abcdef";
  unsigned char a[16];
  unsigned char r[8];
  sqlite3_int64 ms = sv_now_ms();
  int i, j;
  if (ms <= p->iLastMs) {
    ms = p->iLastMs;
    if (++p->iSeq > 0xfff) {
      ms++;
      p->iSeq = 0;
    }
  } else {
    p->iSeq = 0;
  }
  p->iLastMs = ms;
  sqlite3_randomness(sizeof(r), r);
  for (i = 0; i < 6; i++) a[i] = (unsigned char)(ms >> (40 - 8 * i));
  a[6] = (unsigned char)(0x70 | ((p->iSeq >> 8) & 0x0f));
  a[7] = (unsigned char)(p->iSeq & 0xff);
  a[8] = (unsigned char)(0x80 | (r[0] & 0x3f));
  memcpy(&a[9], &r[1], 7);
  for (i = 0, j = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) zOut[j++] = '-';
    zOut[j++] = hex[a[i] >> 4];
    zOut[j++] = hex[a[i] & 0x0f];
  }
  zOut[j] = 0;
  return SQLITE_OK;
}

/* ---- JSON validation (RFC 8259), no allocation ---- */

#define SV_JSON_MAXDEPTH 500 /* levels of arrays and objects */

typedef struct JsonScan {
  const unsigned char *z;
  int n;
  int i;
  int bDeep;          /* nested deeper than SV_JSON_MAXDEPTH */
  sv_json_member *aM; /* sv_json_index: where members go (NULL: nowhere) */
  int nMax, nM;       /* its size, members found (nMax + 1: too many) */
} JsonScan;

static void jsonWs(JsonScan *p) {
  while (p->i < p->n) {
    unsigned char c = p->z[p->i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->i++;
  }
}

static int isHex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* Four hex digits at p->i: their value (and p->i moves on), or -1. */
static int hex4(JsonScan *p) {
  int k, u = 0;
  for (k = 0; k < 4; k++) {
    unsigned char c;
    if (p->i >= p->n || !isHex(p->z[p->i])) return -1;
    c = p->z[p->i++];
    u = u * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return u;
}

static int jsonString(JsonScan *p) {
  p->i++; /* opening quote */
  while (p->i < p->n) {
    unsigned char c = p->z[p->i++];
    if (c == '"') return 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (p->i >= p->n) return 0;
      c = p->z[p->i++];
      if (c == 'u') {
        /* An unpaired UTF-16 surrogate is refused: cJSON refuses it too,
        ** and what passes here must parse there. */
        int u = hex4(p);
        if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) return 0;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (p->n - p->i < 2 || p->z[p->i] != '\\' || p->z[p->i + 1] != 'u') {
            return 0;
          }
          p->i += 2;
          u = hex4(p);
          if (u < 0xDC00 || u > 0xDFFF) return 0;
        }
      } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
        return 0;
      }
    }
  }
  return 0;
}

static int jsonDigits(JsonScan *p) {
  int s = p->i;
  while (p->i < p->n && p->z[p->i] >= '0' && p->z[p->i] <= '9') p->i++;
  return p->i > s;
}

static int jsonNumber(JsonScan *p) {
  if (p->z[p->i] == '-') p->i++;
  if (p->i >= p->n) return 0;
  if (p->z[p->i] == '0') {
    p->i++;
  } else if (!jsonDigits(p)) {
    return 0;
  }
  if (p->i < p->n && p->z[p->i] == '.') {
    p->i++;
    if (!jsonDigits(p)) return 0;
  }
  if (p->i < p->n && (p->z[p->i] == 'e' || p->z[p->i] == 'E')) {
    p->i++;
    if (p->i < p->n && (p->z[p->i] == '+' || p->z[p->i] == '-')) p->i++;
    if (!jsonDigits(p)) return 0;
  }
  return 1;
}

static int jsonLiteral(JsonScan *p, const char *zLit) {
  int n = (int)strlen(zLit);
  if (p->n - p->i < n || memcmp(p->z + p->i, zLit, n) != 0) return 0;
  p->i += n;
  return 1;
}

/*
** A value at p->i.  iParent: for sv_json_index, -1 for the top-level
** value, the index of the member whose value this is for a value of a
** top-level member, -2 for any other (members of objects at -1 and >= 0
** are recorded).
*/
static int jsonValue(JsonScan *p, int depth, int iParent) {
  unsigned char c;
  jsonWs(p);
  if (p->i >= p->n) return 0;
  c = p->z[p->i];
  if (c == '{' || c == '[') {
    unsigned char close = c == '{' ? '}' : ']';
    int bRecord = p->aM && c == '{' && iParent >= -1;
    if (depth >= SV_JSON_MAXDEPTH) { /* this would be level depth+1 */
      p->bDeep = 1;
      return 0;
    }
    p->i++;
    jsonWs(p);
    if (p->i < p->n && p->z[p->i] == close) {
      p->i++;
      return 1;
    }
    for (;;) {
      sv_json_member *m = 0;
      if (c == '{') {
        int iKey;
        jsonWs(p);
        iKey = p->i;
        if (p->i >= p->n || p->z[p->i] != '"' || !jsonString(p)) return 0;
        if (bRecord) {
          if (p->nM < p->nMax) {
            m = &p->aM[p->nM];
            m->iParent = iParent;
            m->iKey = iKey + 1;
            m->nKey = p->i - iKey - 2;
          }
          p->nM++;
        }
        jsonWs(p);
        if (p->i >= p->n || p->z[p->i] != ':') return 0;
        p->i++;
        jsonWs(p);
        if (m) m->iVal = p->i;
      }
      if (!jsonValue(p, depth + 1,
                     m && iParent == -1 ? (int)(m - p->aM) : -2)) {
        return 0;
      }
      if (m) m->nVal = p->i - m->iVal;
      jsonWs(p);
      if (p->i >= p->n) return 0;
      if (p->z[p->i] == ',') {
        p->i++;
        continue;
      }
      if (p->z[p->i] == close) {
        p->i++;
        return 1;
      }
      return 0;
    }
  }
  if (c == '"') return jsonString(p);
  if (c == '-' || (c >= '0' && c <= '9')) return jsonNumber(p);
  if (c == 't') return jsonLiteral(p, "true");
  if (c == 'f') return jsonLiteral(p, "false");
  if (c == 'n') return jsonLiteral(p, "null");
  return 0;
}

/*
** Check that z[0..n) is one well-formed JSON text: SV_JSON_OK,
** SV_JSON_DEEP when it nests more than SV_JSON_MAXDEPTH arrays and objects
** (within cJSON's own limit, so that whatever passes here parses there;
** SQLite's json() accepts deeper text, so say why), else SV_JSON_BAD.
*/
int sv_json_check(const char *z, int n) {
  int nM;
  return sv_json_index(z, n, 0, 0, &nM);
}

/*
** sv_json_check, that also records in a[0..nMax) the members of the
** top-level value when it is an object (iParent -1) and of the objects
** that are values of those members (iParent: that member's index), in
** the order of the text.  *pnM: how many there are (more than nMax: only
** the first nMax were recorded).
*/
int sv_json_index(const char *z, int n, sv_json_member *a, int nMax, int *pnM) {
  JsonScan s;
  memset(&s, 0, sizeof(s));
  s.z = (const unsigned char *)z;
  s.n = n;
  s.aM = a;
  s.nMax = nMax;
  *pnM = 0;
  if (!jsonValue(&s, 0, -1)) return s.bDeep ? SV_JSON_DEEP : SV_JSON_BAD;
  jsonWs(&s);
  *pnM = s.nM;
  return s.i == s.n ? SV_JSON_OK : SV_JSON_BAD;
}

/* Return 1 if z[0..n) is one well-formed JSON text, else 0. */
int sv_json_valid(const char *z, int n) {
  return sv_json_check(z, n) == SV_JSON_OK;
}

/* The end of "<what> ..." for a problem sv_json_check found. */
const char *sv_json_problem(int eCheck) {
  return eCheck == SV_JSON_DEEP ? "is nested more than 500 levels deep"
                                : "is not valid JSON";
}

/*
** 1 and *pi = r when r is an integer within the 64-bit range; else 0.
** (Casting a double outside that range is undefined behaviour in C.)
*/
int sv_real_int(double r, sqlite3_int64 *pi) {
  if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) return 0;
  if (r != (double)(sqlite3_int64)r) return 0;
  *pi = (sqlite3_int64)r;
  return 1;
}

/*
** Return a copy of a store URL or libpq conninfo string with any password
** replaced by "***", from sqlite3_malloc (NULL on OOM).  Handles
** "scheme://user:pass@host..." and "... password=secret ..." forms.
*/
char *sv_redact_url(const char *zUrl) {
  sqlite3_str *s = sqlite3_str_new(0);
  const char *zSep = strstr(zUrl, "://");
  const char *z = zUrl;
  /* Not a URL but a libpq key=value string when an '=' comes before the
  ** first ':' (as sv_store_acquire decides): a value, a password too, may
  ** hold "://". */
  if (strcspn(zUrl, "=") < strcspn(zUrl, ":")) zSep = 0;
  if (zSep) {
    const char *zAuth = zSep + 3;
    /* The last '@' of the whole URL, with a ':' before it: a password may
    ** hold a raw '/', '?', '#' or '@' (libpq would misread such a URL; its
    ** message must not show the pieces either).  A query value holding an
    ** '@' over-redacts; that is harmless. */
    const char *zAt = strrchr(zAuth, '@');
    if (zAt) {
      const char *zColon = memchr(zAuth, ':', (size_t)(zAt - zAuth));
      if (zColon) {
        sqlite3_str_append(s, zUrl, (int)(zColon + 1 - zUrl));
        sqlite3_str_appendall(s, "***");
        z = zAt;
      }
    }
  }
  if (zSep || sqlite3_strnicmp(zUrl, "unix:", 5) == 0) {
    /* A URL: every query parameter's value may be a secret (password=,
    ** a token): keep the names only. */
    const char *zQ = strchr(z, '?');
    if (!zQ) {
      sqlite3_str_appendall(s, z);
    } else {
      sqlite3_str_append(s, z, (int)(zQ + 1 - z));
      for (z = zQ + 1; *z;) {
        int n = (int)strcspn(z, "&#");
        const char *zEq = memchr(z, '=', (size_t)n);
        if (zEq) {
          sqlite3_str_append(s, z, (int)(zEq + 1 - z));
          sqlite3_str_appendall(s, "***");
        } else {
          sqlite3_str_append(s, z, n);
        }
        z += n;
        if (*z == '#') break; /* a fragment: not sent anywhere; dropped */
        if (*z == '&') sqlite3_str_appendchar(s, 1, *z++);
      }
    }
    return sqlite3_str_finish(s);
  }
  /* A libpq "key=value ..." string: every password value. */
  for (;;) {
    const char *zPw = strstr(z, "password");
    const char *q;
    if (!zPw) break;
    q = zPw + 8;
    while (*q == ' ') q++;
    if (*q != '=') {
      sqlite3_str_append(s, z, (int)(q - z));
      z = q;
      continue;
    }
    q++;
    while (*q == ' ') q++;
    if (*q == '\'') {
      q++;
      while (*q && *q != '\'') q += (*q == '\\' && q[1]) ? 2 : 1;
      if (*q) q++;
    } else {
      while (*q && *q != ' ') q++;
    }
    sqlite3_str_append(s, z, (int)(zPw - z));
    sqlite3_str_appendall(s, "password=***");
    z = q;
  }
  sqlite3_str_appendall(s, z);
  return sqlite3_str_finish(s);
}

/*
** Return a copy of z[0..n) with surrounding whitespace removed and, when it
** is quoted with ' " or `, the quotes removed and doubled quotes collapsed.
** From sqlite3_malloc; NULL on OOM.
*/
char *sv_dequote(const char *z, int n) {
  char *zOut;
  int i, j;
  while (n > 0 && (z[0] == ' ' || z[0] == '\t' || z[0] == '\n')) {
    z++;
    n--;
  }
  while (n > 0 && (z[n - 1] == ' ' || z[n - 1] == '\t' || z[n - 1] == '\n')) {
    n--;
  }
  zOut = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if (!zOut) return 0;
  if (n >= 2 && (z[0] == '\'' || z[0] == '"' || z[0] == '`') &&
      z[n - 1] == z[0]) {
    char q = z[0];
    for (i = 1, j = 0; i < n - 1; i++) {
      zOut[j++] = z[i];
      if (z[i] == q && i + 1 < n - 1 && z[i + 1] == q) i++;
    }
    zOut[j] = 0;
  } else {
    memcpy(zOut, z, (size_t)n);
    zOut[n] = 0;
  }
  return zOut;
}

/*
** The default retry delay of a failed task after nAttempts attempts (see
** policy.h), so that tasks that failed together do not retry together.
*/
sqlite3_int64 sv_backoff_ms(sqlite3_int64 nAttempts) {
  sqlite3_int64 d = SV_BACKOFF_BASE_MS;
  unsigned int r;
  if (nAttempts < 1) nAttempts = 1;
  while (--nAttempts > 0 && d < SV_BACKOFF_CAP_MS) d *= 2;
  if (d > SV_BACKOFF_CAP_MS) d = SV_BACKOFF_CAP_MS;
  sqlite3_randomness(sizeof(r), &r);
  return d / 2 + (sqlite3_int64)(r % (unsigned int)(d / 2 + 1));
}

/*
** Return the values as a JSON array text (strings quoted and escaped,
** numbers as numbers), from sqlite3_malloc; NULL on OOM.
*/
char *sv_json_array(int n, const statevtab_value *a) {
  sqlite3_str *s = sqlite3_str_new(0);
  int i, k;
  sqlite3_str_appendchar(s, 1, '[');
  for (i = 0; i < n; i++) {
    if (i) sqlite3_str_appendchar(s, 1, ',');
    switch (a[i].eType) {
    case SQLITE_INTEGER:
      sqlite3_str_appendf(s, "%lld", a[i].i);
      break;
    case SQLITE_FLOAT:
      sqlite3_str_appendf(s, "%!.17g", a[i].r);
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      sqlite3_str_appendchar(s, 1, '"');
      for (k = 0; k < a[i].n; k++) {
        unsigned char c = (unsigned char)a[i].z[k];
        if (c == '"' || c == '\\') {
          sqlite3_str_appendf(s, "\\%c", c);
        } else if (c < 0x20) {
          sqlite3_str_appendf(s, "\\u%04x", c);
        } else {
          sqlite3_str_appendchar(s, 1, (char)c);
        }
      }
      sqlite3_str_appendchar(s, 1, '"');
      break;
    default:
      sqlite3_str_appendall(s, "null");
      break;
    }
  }
  sqlite3_str_appendchar(s, 1, ']');
  return sqlite3_str_finish(s);
}

/*
** Check depends_on of a task (valid JSON text z[0..n), the task's id *pId):
** an array of at most SV_DEPS_MAX strings, none named twice, none the task
** itself.  Strings are compared as written (an id spelled with an escape
** is not recognised as a duplicate; the stores then link it once).  On
** success *pnDeps is the number of entries; on SQLITE_ERROR *pzErr says
** what is wrong (sqlite3_malloc'd; NULL with SQLITE_NOMEM).
*/
int sv_deps_check(const char *z, int n, const statevtab_value *pId, int *pnDeps,
                  char **pzErr) {
  const char *azAt[SV_DEPS_MAX];
  int anLen[SV_DEPS_MAX];
  int i = 0, k, nDep = 0;
  *pnDeps = 0;
  *pzErr = 0;
#define SV_WS()                                                                \
  while (i < n &&                                                              \
         (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r'))        \
  i++
  SV_WS();
  if (i >= n || z[i] != '[') {
    *pzErr = sqlite3_mprintf("depends_on must be a JSON array of task ids "
                             "(got %.*s)",
                             n > 40 ? 40 : n, z);
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  i++;
  SV_WS();
  if (i < n && z[i] == ']') return SQLITE_OK;
  for (;;) {
    int iStart;
    SV_WS();
    if (i >= n || z[i] != '"') {
      *pzErr = sqlite3_mprintf("depends_on: entry %d is not a string "
                               "(task ids are text)",
                               nDep + 1);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    iStart = ++i;
    while (i < n && z[i] != '"') i += z[i] == '\\' ? 2 : 1;
    if (nDep == SV_DEPS_MAX) {
      *pzErr =
          sqlite3_mprintf("depends_on names more than %d tasks", SV_DEPS_MAX);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    azAt[nDep] = &z[iStart];
    anLen[nDep] = i - iStart;
    if (anLen[nDep] == 0) {
      *pzErr = sqlite3_mprintf("depends_on: entry %d is an empty id", nDep + 1);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    if (pId && pId->eType == SQLITE_TEXT && pId->n == anLen[nDep] &&
        memcmp(pId->z, azAt[nDep], (size_t)pId->n) == 0) {
      *pzErr = sqlite3_mprintf("depends_on: a task cannot depend on itself "
                               "('%.*s')",
                               pId->n, pId->z);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    for (k = 0; k < nDep; k++) {
      if (anLen[k] == anLen[nDep] &&
          memcmp(azAt[k], azAt[nDep], (size_t)anLen[k]) == 0) {
        *pzErr = sqlite3_mprintf("depends_on names task '%.*s' twice", anLen[k],
                                 azAt[k]);
        return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
      }
    }
    nDep++;
    i++; /* the closing quote */
    SV_WS();
    if (i < n && z[i] == ',') {
      i++;
      continue;
    }
    break; /* ']': the text is valid JSON */
  }
#undef SV_WS
  *pnDeps = nDep;
  return SQLITE_OK;
}

/*
** Return valid JSON text z[0..n) without insignificant whitespace, as
** SQLite's json() writes it, from sqlite3_malloc; NULL on OOM.  Stores use
** it so that JSON they build (a progress entry appended to an array) reads
** the same on every store.
*/
char *sv_json_minify(const char *z, int n) {
  char *zOut = sqlite3_malloc64((sqlite3_uint64)n + 1);
  int i, j = 0, bStr = 0;
  if (!zOut) return 0;
  for (i = 0; i < n; i++) {
    char c = z[i];
    if (bStr) {
      zOut[j++] = c;
      if (c == '\\' && i + 1 < n) {
        zOut[j++] = z[++i];
      } else if (c == '"') {
        bStr = 0;
      }
    } else if (c == '"') {
      bStr = 1;
      zOut[j++] = c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      zOut[j++] = c;
    }
  }
  zOut[j] = 0;
  return zOut;
}

/* ------------------------------------------------ values for stores */

/*
** Parse all of z[0..n) as an integer (1) or a real (2); 0 if neither.  The
** text a number column compares as a number, by SQLite's rules: decimal
** digits with an optional sign, point and exponent, surrounding white space
** allowed; no hexadecimal, no "inf" or "nan".  An integer out of the 64-bit
** range is a real.
*/
int sv_parse_number(const char *z, int n, sqlite3_int64 *pi, double *pr) {
  char zBuf[400];
  int i = 0, j, bDigit = 0, bReal = 0;
  while (n > 0 && (z[0] == ' ' || (z[0] >= '\t' && z[0] <= '\r'))) z++, n--;
  while (n > 0 && (z[n - 1] == ' ' || (z[n - 1] >= '\t' && z[n - 1] <= '\r'))) {
    n--;
  }
  if (n <= 0 || n >= (int)sizeof(zBuf)) return 0;
  if (z[i] == '+' || z[i] == '-') i++;
  for (; i < n && z[i] >= '0' && z[i] <= '9'; i++) bDigit = 1;
  if (i < n && z[i] == '.') {
    bReal = 1;
    for (i++; i < n && z[i] >= '0' && z[i] <= '9'; i++) bDigit = 1;
  }
  if (!bDigit) return 0;
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    bReal = 1;
    i++;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    for (j = i; i < n && z[i] >= '0' && z[i] <= '9'; i++) {
    }
    if (i == j) return 0;
  }
  if (i != n) return 0;
  memcpy(zBuf, z, (size_t)n);
  zBuf[n] = 0;
  if (!bReal) {
    errno = 0;
    *pi = strtoll(zBuf, 0, 10);
    if (errno == 0) return 1;
  }
  *pr = strtod(zBuf, 0);
  return 2;
}

/*
** Decode z[0..n), a stored value's text, as a value of column pCol: INTEGER
** columns as integers, NUMERIC as an integer when integral (as SQLite's
** NUMERIC affinity does), text as text pointing into z.
*/
void sv_decode_text(const char *z, int n, const statevtab_column *pCol,
                    statevtab_value *v) {
  memset(v, 0, sizeof(*v));
  switch (pCol->eType) {
  case STATEVTAB_INT:
  case STATEVTAB_BOOL:
    v->eType = SQLITE_INTEGER;
    v->i = strtoll(z, 0, 10);
    break;
  case STATEVTAB_NUM: {
    sqlite3_int64 iv = 0;
    double r = 0;
    int t = sv_parse_number(z, n, &iv, &r);
    if (t == 2 && r > -9e15 && r < 9e15 && sv_real_int(r, &iv)) t = 1;
    if (t == 1) {
      v->eType = SQLITE_INTEGER;
      v->i = iv;
    } else {
      v->eType = SQLITE_FLOAT;
      v->r = r;
    }
    break;
  }
  case STATEVTAB_ANY:
    sv_any_decode(z, n, v, 0);
    break;
  default:
    v->eType = SQLITE_TEXT;
    v->z = z;
    v->n = n;
    break;
  }
}

/*
** Values of STATEVTAB_ANY columns on the remote stores, which keep every
** value as text (a Redis hash field, a PostgreSQL text column).  The
** stored text is one tag byte and the value:
**
**     I<decimal integer>   R<the real's 64 bits, 16 hex digits>   T<text>
**     B<blob bytes>        X<blob as hex>   Y<text as hex>
**
** B is binary safe and only for Redis; PostgreSQL text holds no NUL byte,
** so there a blob is X and text that holds a NUL is Y.  NULL is stored as
** NULL (no field, SQL NULL).  Stored text without a tag -- a row written
** before the column held any type, when it held JSON text -- is returned
** as text, as it was written: well-formed JSON never starts with an
** upper-case letter.
*/

/*
** Encode non-NULL value v as above (bHex: X and Y, for PostgreSQL), into
** a buffer from sqlite3_malloc64, nul-terminated, its length in *pn.  NULL
** on OOM.
*/
char *sv_any_encode(const statevtab_value *v, int bHex, int *pn) {
  static const char zHex[] = "0123456789abcdef";
  char *z;
  int i, n = v->n;
  switch (v->eType) {
  case SQLITE_INTEGER:
    z = sqlite3_mprintf("I%lld", v->i);
    break;
  case SQLITE_FLOAT: {
    /* The bits, not digits: exact, and no printf or strtod whose rounding
    ** or locale could differ from one process (or valgrind) to another. */
    sqlite3_uint64 u;
    memcpy(&u, &v->r, 8);
    z = sqlite3_malloc64(18);
    if (!z) return 0;
    z[0] = 'R';
    for (i = 16; i >= 1; i--, u >>= 4) z[i] = zHex[u & 15];
    z[17] = 0;
    break;
  }
  default: {
    char cTag = v->eType == SQLITE_BLOB ? 'B' : 'T';
    int bAsHex = bHex && (cTag == 'B' || (n > 0 && memchr(v->z, 0, (size_t)n)));
    z = sqlite3_malloc64((sqlite3_uint64)n * (bAsHex ? 2 : 1) + 2);
    if (!z) return 0;
    if (bAsHex) {
      z[0] = cTag == 'B' ? 'X' : 'Y';
      for (i = 0; i < n; i++) {
        z[1 + 2 * i] = zHex[((unsigned char)v->z[i]) >> 4];
        z[2 + 2 * i] = zHex[((unsigned char)v->z[i]) & 15];
      }
      n *= 2;
    } else {
      z[0] = cTag;
      if (n > 0) memcpy(z + 1, v->z, (size_t)n);
    }
    z[n + 1] = 0;
    *pn = n + 1;
    return z;
  }
  }
  if (z) *pn = (int)strlen(z);
  return z;
}

/* The value of hexadecimal digit c, or -1. */
int sv_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/*
** Decode z[0..n), stored by sv_any_encode (or before it: text), into *v.
** Text and B blobs point into z; X and Y are decoded into *pzBuf (realloc'd
** with sqlite3_realloc64, owned by the caller, valid until the next call
** with the same buffer; with pzBuf NULL they are returned as stored).
** Returns SQLITE_OK or SQLITE_NOMEM.
*/
int sv_any_decode(const char *z, int n, statevtab_value *v, char **pzBuf) {
  memset(v, 0, sizeof(*v));
  v->eType = SQLITE_TEXT;
  v->z = z;
  v->n = n;
  if (n < 1) return SQLITE_OK;
  switch (z[0]) {
  case 'I': {
    char zNum[32];
    if (n > (int)sizeof(zNum)) return SQLITE_OK;
    memcpy(zNum, z + 1, (size_t)n - 1);
    zNum[n - 1] = 0;
    v->eType = SQLITE_INTEGER;
    v->i = strtoll(zNum, 0, 10);
    return SQLITE_OK;
  }
  case 'R': {
    sqlite3_uint64 u = 0;
    int i;
    if (n != 17) return SQLITE_OK;
    for (i = 1; i <= 16; i++) {
      int d = sv_hex_digit(z[i]);
      u = (u << 4) | (sqlite3_uint64)(d < 0 ? 0 : d);
    }
    v->eType = SQLITE_FLOAT;
    memcpy(&v->r, &u, 8);
    return SQLITE_OK;
  }
  case 'T':
  case 'B':
    v->eType = z[0] == 'B' ? SQLITE_BLOB : SQLITE_TEXT;
    v->z = z + 1;
    v->n = n - 1;
    return SQLITE_OK;
  case 'X':
  case 'Y': {
    char *zOut;
    int i, nOut = (n - 1) / 2;
    if (!pzBuf) return SQLITE_OK;
    zOut = sqlite3_realloc64(*pzBuf, (sqlite3_uint64)nOut + 1);
    if (!zOut) return SQLITE_NOMEM;
    *pzBuf = zOut;
    for (i = 0; i < nOut; i++) {
      int hi = sv_hex_digit(z[1 + 2 * i]), lo = sv_hex_digit(z[2 + 2 * i]);
      zOut[i] = (char)((hi < 0 ? 0 : hi) << 4 | (lo < 0 ? 0 : lo));
    }
    zOut[nOut] = 0;
    v->eType = z[0] == 'X' ? SQLITE_BLOB : SQLITE_TEXT;
    v->z = zOut;
    v->n = nOut;
    return SQLITE_OK;
  }
  default:
    return SQLITE_OK; /* a row from before: JSON text */
  }
}

/* Compare numbers a and b (INTEGER or FLOAT values): <0, 0, >0. */
static int numCompare(const statevtab_value *a, const statevtab_value *b) {
  if (a->eType == SQLITE_INTEGER && b->eType == SQLITE_INTEGER) {
    return a->i < b->i ? -1 : a->i > b->i;
  } else {
    double x = a->eType == SQLITE_INTEGER ? (double)a->i : a->r;
    double y = b->eType == SQLITE_INTEGER ? (double)b->i : b->r;
    return x < y ? -1 : x > y;
  }
}

/*
** Does column value x (of column pCol, as a store decodes it) satisfy
** constraint c, compared as SQLite compares a value with a column of the
** column's declared type?  For stores that filter rows themselves.
*/
int sv_cons_match(const statevtab_column *pCol, const statevtab_cons *c,
                  const statevtab_value *x) {
  const statevtab_value *v = &c->v;
  statevtab_value w;
  char zBuf[64];
  int cmp, bNum = pCol->eType == STATEVTAB_INT ||
                  pCol->eType == STATEVTAB_BOOL || pCol->eType == STATEVTAB_NUM;
  if (c->op == STATEVTAB_ALIVE) {
    return x->eType == SQLITE_NULL || numCompare(x, v) > 0;
  }
  if (v->eType == SQLITE_NULL) {
    return c->op == STATEVTAB_IS && x->eType == SQLITE_NULL;
  }
  if (x->eType == SQLITE_NULL) return 0;
  if (v->eType == SQLITE_BLOB) {
    cmp = -1; /* every number and text sorts before a blob */
  } else if (bNum) {
    w = *v;
    if (v->eType == SQLITE_TEXT) {
      int t = sv_parse_number(v->z, v->n, &w.i, &w.r);
      w.eType = t == 1 ? SQLITE_INTEGER : t == 2 ? SQLITE_FLOAT : SQLITE_TEXT;
    }
    cmp = w.eType == SQLITE_TEXT ? -1 : numCompare(x, &w);
  } else {
    const char *z = v->z;
    int n = v->n, k;
    if (v->eType == SQLITE_INTEGER) {
      sqlite3_snprintf(sizeof(zBuf), zBuf, "%lld", v->i);
      z = zBuf;
      n = (int)strlen(zBuf);
    } else if (v->eType == SQLITE_FLOAT) {
      sqlite3_snprintf(sizeof(zBuf), zBuf, "%!.15g", v->r);
      z = zBuf;
      n = (int)strlen(zBuf);
    }
    k = (x->n && n) ? memcmp(x->z, z, (size_t)(x->n < n ? x->n : n)) : 0;
    cmp = k ? k : (x->n < n ? -1 : x->n > n);
  }
  switch (c->op) {
  case STATEVTAB_EQ:
  case STATEVTAB_IS:
    return cmp == 0;
  case STATEVTAB_LT:
    return cmp < 0;
  case STATEVTAB_LE:
    return cmp <= 0;
  case STATEVTAB_GT:
    return cmp > 0;
  default:
    return cmp >= 0;
  }
}

/*
** Parse zList, the indexes= table option -- column names of e separated by
** commas, blanks around a name ignored, empty names skipped -- into
** *pmCols, bit i for column i.  SQLITE_ERROR with *pzErr (sqlite3_malloc,
** or NULL on OOM) naming the first name that is not a column of e.
*/
int sv_index_list(const statevtab_entity *e, const char *zList,
                  sqlite3_uint64 *pmCols, char **pzErr) {
  *pmCols = 0;
  *pzErr = 0;
  while (zList && *zList) {
    const char *zEnd;
    int i, n;
    while (*zList == ' ' || *zList == ',') zList++;
    if (!*zList) break;
    zEnd = zList;
    while (*zEnd && *zEnd != ',') zEnd++;
    n = (int)(zEnd - zList);
    while (n > 0 && zList[n - 1] == ' ') n--;
    for (i = 0; i < e->nCol; i++) {
      if ((int)strlen(e->aCol[i].zName) == n &&
          memcmp(e->aCol[i].zName, zList, (size_t)n) == 0) {
        break;
      }
    }
    if (i == e->nCol) {
      *pzErr = sqlite3_mprintf("indexes=: no column '%.*s' in %s", n, zList,
                               e->zModule);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    if (e->aCol[i].eType == STATEVTAB_ANY) {
      *pzErr = sqlite3_mprintf("indexes=: column '%s' of %s holds values of "
                               "any type and cannot be indexed",
                               e->aCol[i].zName, e->zModule);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    *pmCols |= ((sqlite3_uint64)1) << i;
    zList = zEnd;
  }
  return SQLITE_OK;
}

/*
** A period -- digits, then ms, s, m, h or d (none: milliseconds), blanks
** around ignored -- of the n bytes at z: 1 with *pMs when it is one, above
** 0 and at most SV_MS_MAX; 0 otherwise.
*/
int sv_parse_period(const char *z, int n, sqlite3_int64 *pMs) {
  static const struct {
    const char *zUnit;
    sqlite3_int64 iMs;
  } aUnit[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
               {"h", 3600000}, {"d", 86400000}, {"", 1}};
  const char *zEnd = z + n;
  sqlite3_int64 v = 0;
  int k;
  while (z < zEnd && *z == ' ') z++;
  while (zEnd > z && zEnd[-1] == ' ') zEnd--;
  if (z == zEnd || *z < '0' || *z > '9') return 0;
  for (; z < zEnd && *z >= '0' && *z <= '9' && v <= SV_MS_MAX; z++) {
    v = v * 10 + (*z - '0');
  }
  for (k = 0; k < (int)(sizeof(aUnit) / sizeof(aUnit[0])); k++) {
    size_t nUnit = strlen(aUnit[k].zUnit);
    if ((size_t)(zEnd - z) == nUnit && strncmp(z, aUnit[k].zUnit, nUnit) == 0) {
      if (v <= 0 || v > SV_MS_MAX / aUnit[k].iMs) return 0;
      *pMs = v * aUnit[k].iMs;
      return 1;
    }
  }
  return 0;
}

/*
** Parse zVal, the dedup= option of entity e, into *pOut: "row" (the
** default: a key is unique for as long as its row exists), "active"
** (unique among pending and claimed tasks), a period ("10m": unique
** among tasks whose created_at are less than that apart), or "active"
** and a period separated by a comma (both must hold for two tasks to
** clash).  SQLITE_ERROR with *pzErr (sqlite3_malloc'd, or NULL on OOM)
** saying what was wrong.
*/
int sv_dedup_parse(const statevtab_entity *e, const char *zVal, sv_dedup *pOut,
                   char **pzErr) {
  const char *z = zVal;
  int bRow = 0, nPart = 0;
  memset(pOut, 0, sizeof(*pOut));
  *pzErr = 0;
  if (strcmp(e->zModule, "state_tasks") != 0) {
    *pzErr =
        sqlite3_mprintf("unknown option 'dedup' (only state_tasks has it)");
    return SQLITE_ERROR;
  }
  for (;;) {
    const char *zComma = strchr(z, ',');
    int n = zComma ? (int)(zComma - z) : (int)strlen(z), i = 0;
    sqlite3_int64 ms = 0;
    while (i < n && z[i] == ' ') i++;
    while (n > i && z[n - 1] == ' ') n--;
    nPart++;
    if (n - i == 3 && strncmp(z + i, "row", 3) == 0 && !bRow) {
      bRow = 1;
    } else if (n - i == 6 && strncmp(z + i, "active", 6) == 0 &&
               !pOut->bActive) {
      pOut->bActive = 1;
    } else if (sv_parse_period(z + i, n - i, &ms) && !pOut->iPeriodMs) {
      pOut->iPeriodMs = ms;
    } else {
      break;
    }
    if (!zComma) {
      if (bRow && nPart > 1) break; /* row with anything else */
      pOut->bWindow = !bRow;
      return SQLITE_OK;
    }
    z = zComma + 1;
  }
  memset(pOut, 0, sizeof(*pOut));
  *pzErr = sqlite3_mprintf(
      "dedup: expected row, active, a period such as 10m, 2h or 500ms "
      "(above 0, at most %lld ms), or active and a period such as "
      "'active,10m' (got '%s')",
      SV_MS_MAX, zVal);
  return SQLITE_ERROR;
}

/* Is the state of task row a pending or claimed? */
static int dedupActive(const statevtab_value *a) {
  const statevtab_value *v = &a[SV_TASK_STATE];
  return v->eType == SQLITE_TEXT &&
         ((v->n == 7 && memcmp(v->z, "pending", 7) == 0) ||
          (v->n == 7 && memcmp(v->z, "claimed", 7) == 0));
}

/*
** Do tasks aNew and aOld, of one queue and idempotency_key, clash under
** window d?  (The test of sv_dedup_where, for a store that compares rows
** itself.)
*/
int sv_dedup_clash(const sv_dedup *d, const statevtab_value *aNew,
                   const statevtab_value *aOld) {
  const statevtab_value *c1 = &aNew[SV_TASK_CREATED_AT],
                        *c2 = &aOld[SV_TASK_CREATED_AT];
  if (!d->bWindow) return 1;
  if (d->bActive && (!dedupActive(aNew) || !dedupActive(aOld))) return 0;
  if (d->iPeriodMs > 0 && c1->eType == SQLITE_INTEGER &&
      c2->eType == SQLITE_INTEGER &&
      (c2->i <= c1->i - d->iPeriodMs || c2->i >= c1->i + d->iPeriodMs)) {
    return 0;
  }
  return 1;
}

/*
** The SQL condition, over the columns state and created_at of a stored
** task, that it clashes under window d with a new task whose state and
** created_at are the SQL expressions zState and zCreated (parameters).
** sqlite3_malloc'd; NULL on OOM.
*/
char *sv_dedup_where(const sv_dedup *d, const char *zState,
                     const char *zCreated) {
  sqlite3_str *s = sqlite3_str_new(0);
  sqlite3_str_appendall(s, "(1 = 1");
  if (d->bWindow && d->bActive) {
    sqlite3_str_appendf(s,
                        " AND state IN ('pending', 'claimed') AND %s IN "
                        "('pending', 'claimed')",
                        zState);
  }
  if (d->bWindow && d->iPeriodMs > 0) {
    sqlite3_str_appendf(
        s, " AND created_at > %s - %lld AND created_at < %s + %lld", zCreated,
        d->iPeriodMs, zCreated, d->iPeriodMs);
  }
  sqlite3_str_appendall(s, ")");
  return sqlite3_str_finish(s);
}
