/*
** 2026-11-22
**
** flags.c -- feature flags evaluated in SQL, with Unleash's semantics.
**
**   INSERT INTO flags(name, enabled, strategies) VALUES ('new-ui', 1,
**     '[{"name":"flexibleRollout","parameters":{"rollout":"30",
**       "stickiness":"userId","groupId":"new-ui"},"constraints":[]}]');
**   SELECT * FROM users
**    WHERE state_flag('flags', 'new-ui', json_object('userId', users.id));
**   SELECT state_variant('flags', 'new-ui', '{"userId":"42"}');
**
** HOW IT WORKS
**
** A flag row (enabled, rollout, strategies, variants, dependencies in
** Unleash's feature-toggle JSON) is read through the table's store,
** parsed once with cJSON and compiled (compileFlag: constraint values
** cleaned, flexibleRollout parameters read); parsed flags are kept per
** table (FlagCache) and dropped when this connection writes the table,
** when the store announces a change by any process (sv_table_changed,
** read every FLAG_POLL_MS), or after FLAG_TTL_MS when it announces none.
** The context is indexed in place (sv_json_index: no parse tree, no
** allocation) unless it has more than CTX_MAX_MEMBERS members; the texts
** of its values are made in the evaluation's scratch space (ctxAlloc).
** Evaluation follows
** the Unleash SDKs: a flag is on when enabled, its dependencies hold, and
** some strategy matches (all of its constraints true, and every constraint
** of the segments it names, then the strategy); bucketing is murmurhash3
** x86 32-bit of "<groupId>:<value>" (seed 0) % 100 + 1, variants use seed
** 86028157 % total weight + 1.
**
** Segments are rows of a state_segments table (the flags table's
** segments= option, else one named "segments"), read and cached as flags
** are (loadEntry), in that table's own cache.  REGEX patterns run in PCRE2
** with RE2's syntax (reDialectOk) under match limits, compiled once per
** flags table (RegexCache, allocating through SQLite); IN_CIDR and the
** remoteAddress strategy share one IPv4/IPv6 parser (parseNet).
*/
#include "svext.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

/*
** Parsed flags older than FLAG_TTL_MS are read again (writes by other
** processes) -- or FLAG_LIVE_TTL_MS while the store announces changes
** (xChanged: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, SQLite's data
** version), which are read every FLAG_POLL_MS and drop the cache.
*/
#define FLAG_TTL_MS 1000
#define FLAG_LIVE_TTL_MS 30000
#define FLAG_POLL_MS 5
#define VARIANT_SEED 86028157u

/*
** The REGEX operator's bounds (PCRE2, see reMatch): backtracking steps, the
** depth of nested backtracking and the memory for it, per match; a pattern
** longer than RE_MAX_PATTERN bytes is refused.  A match that needs more is
** no match: a hostile pattern such as ^(a+)+$ costs about 0.3 ms with the
** JIT (2 ms in the interpreter), never more.  RE_CACHE_MAX compiled
** patterns are kept per flags table.
*/
#define RE_MATCH_LIMIT 50000
#define RE_DEPTH_LIMIT 1000
#define RE_HEAP_LIMIT_KIB 1024
#define RE_MAX_PATTERN 4096
#define RE_CACHE_MAX 256
#define RE_NHASH 64

/*
** A constraint compiled (compileCons): IN, NOT_IN and the STR_ operators
** with their values cleaned once (trimmed; lowered for caseInsensitive
** STR_), every other known operator evaluated from its JSON (constraintRaw).
*/
enum {
  OP_UNKNOWN, /* false, inverted or not */
  OP_IN,
  OP_NOT_IN,
  OP_STR_STARTS_WITH,
  OP_STR_ENDS_WITH,
  OP_STR_CONTAINS,
  OP_RAW /* any other known operator */
};
typedef struct Cons {
  int eOp, bInverted;
  int bLower;         /* STR_ with caseInsensitive: compare lowercase */
  const char *zField; /* contextName (in the JSON tree), or NULL */
  int nVal;
  char **azVal;   /* the cleaned values (NULL entries: skipped) */
  const cJSON *k; /* the constraint */
} Cons;

typedef struct Strat Strat;
/* A strategy compiled: its constraints, and a flexibleRollout's
** parameters when they are all texts or absent (bFlex). */
struct Strat {
  int nCons;
  Cons *aCons;
  int bFlex;          /* a flexibleRollout read here, not by strategyMatches */
  int bPct;           /* its rollout is a number (else it never matches) */
  double pct;         /* the rollout */
  const char *zStick; /* stickiness (in the JSON tree), or NULL */
  const char *zGroup; /* groupId (in the JSON tree), or NULL */
};

/*
** A flag read from its table -- or a segment read from a segments table,
** whose constraints are then kept in pStrategies (bEnabled set): the two
** share the cache below.
*/
typedef struct Flag Flag;
struct Flag {
  char *zName;
  int bExists; /* 0: no such flag (cached as such) */
  int bEnabled;
  int bHasRollout; /* rollout is not NULL */
  sqlite3_int64 iRollout;
  cJSON *pStrategies, *pVariants, *pDeps;
  int nStrat;    /* strategies compiled (a segment: one, its constraints) */
  Strat *aStrat; /* what evaluation needs of each, read once (compile) */
  sqlite3_int64 iLoaded; /* sv_mono_ms() when read */
  int bStale;            /* changed since (xChanged): to be read again */
  int nBusy;             /* being evaluated: not to be reloaded now */
  Flag *pNext;
};

/* A compiled pattern of the REGEX operator (NULL pCode: never matches). */
typedef struct Regex Regex;
struct Regex {
  char *zPattern;
  int bCaseless;
  unsigned int h; /* hash of the two above */
  pcre2_code *pCode;
  Regex *pNext; /* in its hash chain */
};

/* The compiled patterns of one flags table, and PCRE2's contexts. */
typedef struct RegexCache {
  pcre2_general_context *pGen; /* allocations through sqlite3_malloc */
  pcre2_compile_context *pComp;
  pcre2_match_context *pMatch; /* the limits */
  pcre2_match_data *pData;
  int bJit; /* the library has a JIT compiler */
  int nEntry;
  Regex *aHash[RE_NHASH];
} RegexCache;

typedef struct sv_flagcache FlagCache;
struct sv_flagcache {
  unsigned iGen;           /* sv_vtab.iWriteGen the entries belong to */
  sqlite3_uint64 iChanged; /* the store's xChanged count they belong to */
  sqlite3_int64 iPolled;   /* sv_mono_ms() of the last xChanged */
  int bLive;               /* the store announces changes */
  Flag *pList;
  RegexCache *pRe; /* a flags table's patterns, made at the first REGEX */
};

static void stratFree(Strat *a, int n) {
  int i, j, k;
  for (i = 0; i < n; i++) {
    for (j = 0; j < a[i].nCons; j++) {
      Cons *c = &a[i].aCons[j];
      for (k = 0; k < c->nVal; k++) sqlite3_free(c->azVal[k]);
      sqlite3_free(c->azVal);
    }
    sqlite3_free(a[i].aCons);
  }
  sqlite3_free(a);
}

static void flagFree(Flag *f) {
  stratFree(f->aStrat, f->nStrat);
  cJSON_Delete(f->pStrategies);
  cJSON_Delete(f->pVariants);
  cJSON_Delete(f->pDeps);
  sqlite3_free(f->zName);
  sqlite3_free(f);
}

static void cacheClear(FlagCache *c) {
  Flag *f;
  while ((f = c->pList) != 0) {
    c->pList = f->pNext;
    flagFree(f);
  }
}

static void reCacheClear(RegexCache *r) {
  int i;
  for (i = 0; i < RE_NHASH; i++) {
    Regex *e;
    while ((e = r->aHash[i]) != 0) {
      r->aHash[i] = e->pNext;
      pcre2_code_free(e->pCode);
      sqlite3_free(e->zPattern);
      sqlite3_free(e);
    }
  }
  r->nEntry = 0;
}

static void reCacheFree(RegexCache *r) {
  if (!r) return;
  reCacheClear(r);
  pcre2_match_data_free(r->pData);
  pcre2_match_context_free(r->pMatch);
  pcre2_compile_context_free(r->pComp);
  pcre2_general_context_free(r->pGen);
  sqlite3_free(r);
}

void sv_flag_cache_free(sv_flagcache *p) {
  if (!p) return;
  cacheClear(p);
  reCacheFree(p->pRe);
  sqlite3_free(p);
}

/* ------------------------------------------------------------- hashing */

/* MurmurHash3 x86 32-bit of z[0..n) (Austin Appleby's algorithm). */
static unsigned int murmur3(const unsigned char *z, int n, unsigned int seed) {
  const unsigned int c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
  unsigned int h = seed, k;
  int i, nBlock = n / 4;
  for (i = 0; i < nBlock; i++) {
    k = (unsigned int)z[4 * i] | ((unsigned int)z[4 * i + 1] << 8) |
        ((unsigned int)z[4 * i + 2] << 16) | ((unsigned int)z[4 * i + 3] << 24);
    k *= c1;
    k = (k << 15) | (k >> 17);
    k *= c2;
    h ^= k;
    h = (h << 13) | (h >> 19);
    h = h * 5 + 0xe6546b64u;
  }
  k = 0;
  switch (n & 3) {
  case 3:
    k ^= (unsigned int)z[4 * nBlock + 2] << 16;
    /* fall through */
  case 2:
    k ^= (unsigned int)z[4 * nBlock + 1] << 8;
    /* fall through */
  case 1:
    k ^= z[4 * nBlock];
    k *= c1;
    k = (k << 15) | (k >> 17);
    k *= c2;
    h ^= k;
  }
  h ^= (unsigned int)n;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/*
** murmurhash3("<group>:<id>", seed) into *pH, the hash under Unleash's
** normalizedValue.  SQLITE_OK, or SQLITE_NOMEM.
*/
static int bucketHash(const char *zId, const char *zGroup, unsigned int seed,
                      unsigned int *pH) {
  size_t nGroup = strlen(zGroup), nId = strlen(zId);
  char zBuf[256], *z = zBuf;
  if (nGroup + nId + 1 > sizeof(zBuf)) {
    z = sqlite3_malloc64(nGroup + nId + 1);
    if (!z) return SQLITE_NOMEM;
  }
  memcpy(z, zGroup, nGroup);
  z[nGroup] = ':';
  memcpy(z + nGroup + 1, zId, nId);
  *pH = murmur3((const unsigned char *)z, (int)(nGroup + 1 + nId), seed);
  if (z != zBuf) sqlite3_free(z);
  return SQLITE_OK;
}

/*
** Unleash's normalizedValue, hash % normalizer + 1, as JavaScript's `%`
** computes it for any positive normalizer: the remainder of a division of
** doubles (fmod), so that a total variant weight below 1, fractional or
** beyond 2^32 buckets exactly as the SDKs do -- and never divides by zero.
*/
static double normalizedOf(unsigned int h, double normalizer) {
  return fmod((double)h, normalizer) + 1;
}

/* A value of 1..100 at random, as the SDKs' random stickiness. */
static int randomPercent(void) {
  unsigned int r;
  sqlite3_randomness(sizeof(r), &r);
  return (int)(r % 100) + 1;
}

/* ------------------------------------------------------------- context */

/* Members of a context indexed in place (sv_json_index); a context with
** more is parsed by cJSON instead. */
#define CTX_MAX_MEMBERS 32

typedef struct Ctx {
  /* The context: indexed in place (nM >= 0: its members in aM, in the text
  ** zJson), else parsed by cJSON (pRoot; NULL: no context). */
  const char *zJson;
  int nM;
  int iProps; /* aM index of the object "properties", or -1 */
  sv_json_member aM[CTX_MAX_MEMBERS];
  cJSON *pRoot;
  int bOom;             /* an allocation of the scratch space failed */
  int nUsed;            /* bytes of aScratch used */
  void *pSpill;         /* scratch beyond aScratch: a list of allocations */
  char aScratch[512];   /* texts of context values, made per evaluation */
  FlagCache *pFlags;    /* the flags table's cache (compiled patterns) */
  sqlite3_int64 now;    /* for DATE_* without currentTime */
  char zNum[64];        /* scratch for a number turned into text */
  char zRand[16];       /* a random stickiness value */
  const char *zFeature; /* the flag being evaluated (default groupId) */
} Ctx;

/* n bytes of scratch that live as long as the evaluation; NULL (and
** c->bOom) when out of memory. */
static char *ctxAlloc(Ctx *c, int n) {
  void **pp;
  if (c->nUsed + n <= (int)sizeof(c->aScratch)) {
    char *z = c->aScratch + c->nUsed;
    c->nUsed += n;
    return z;
  }
  pp = sqlite3_malloc64(sizeof(void *) + (sqlite3_uint64)n);
  if (!pp) {
    c->bOom = 1;
    return 0;
  }
  pp[0] = c->pSpill;
  c->pSpill = pp;
  return (char *)&pp[1];
}

static void ctxFree(Ctx *c) {
  while (c->pSpill) {
    void **pp = (void **)c->pSpill;
    c->pSpill = pp[0];
    sqlite3_free(pp);
  }
  cJSON_Delete(c->pRoot);
  c->pRoot = 0;
}

/* A number as Unleash context text: as JavaScript's String() writes it
** (an integer without a fraction), into z (64 bytes). */
static const char *numberText(double r, char *z) {
  sqlite3_int64 i;
  if (sv_real_int(r, &i)) {
    sqlite3_snprintf(64, z, "%lld", i);
  } else {
    sqlite3_snprintf(64, z, "%!.15g", r);
  }
  return z;
}

/* A JSON value as Unleash context text: strings as they are, numbers and
** booleans as JavaScript's String() writes them; "" and others: NULL. */
static const char *ctxText(Ctx *c, const cJSON *v) {
  if (cJSON_IsString(v)) return v->valuestring;
  if (cJSON_IsNumber(v)) return numberText(v->valuedouble, c->zNum);
  if (cJSON_IsTrue(v)) return "true";
  if (cJSON_IsFalse(v)) return "false";
  return 0;
}

/* Append code point u as UTF-8 at z; returns the byte count. */
static int utf8Put(unsigned u, char *z) {
  if (u < 0x80) {
    z[0] = (char)u;
    return 1;
  }
  if (u < 0x800) {
    z[0] = (char)(0xc0 | (u >> 6));
    z[1] = (char)(0x80 | (u & 0x3f));
    return 2;
  }
  if (u < 0x10000) {
    z[0] = (char)(0xe0 | (u >> 12));
    z[1] = (char)(0x80 | ((u >> 6) & 0x3f));
    z[2] = (char)(0x80 | (u & 0x3f));
    return 3;
  }
  z[0] = (char)(0xf0 | (u >> 18));
  z[1] = (char)(0x80 | ((u >> 12) & 0x3f));
  z[2] = (char)(0x80 | ((u >> 6) & 0x3f));
  z[3] = (char)(0x80 | (u & 0x3f));
  return 4;
}

/* The value of the four hex digits at z. */
static unsigned hex4At(const char *z) {
  unsigned u = 0;
  int k;
  for (k = 0; k < 4; k++) {
    char ch = z[k];
    u = u * 16 + (unsigned)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
  }
  return u;
}

/* The JSON string body z[0..n) (well-formed, sv_json_index checked it)
** decoded into zOut (n + 1 bytes: decoding never lengthens it). */
static void jsonUnescape(const char *z, int n, char *zOut) {
  int i = 0, j = 0;
  while (i < n) {
    char ch = z[i++];
    if (ch != '\\') {
      zOut[j++] = ch;
      continue;
    }
    ch = z[i++];
    if (ch == 'u') {
      unsigned u = hex4At(z + i);
      i += 4;
      if (u >= 0xD800 && u <= 0xDBFF) { /* a pair, as checked */
        unsigned lo = hex4At(z + i + 2);
        i += 6;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
      }
      j += utf8Put(u, zOut + j);
    } else {
      zOut[j++] = ch == 'b'   ? '\b'
                  : ch == 'f' ? '\f'
                  : ch == 'n' ? '\n'
                  : ch == 'r' ? '\r'
                  : ch == 't' ? '\t'
                              : ch;
    }
  }
  zOut[j] = 0;
}

/* The context text of indexed member m's value, as ctxText gives it for
** the same value parsed by cJSON (NULL: null, an object or an array). */
static const char *memberText(Ctx *c, const sv_json_member *m) {
  const char *z = c->zJson + m->iVal;
  char *zOut, zBuf[64];
  switch (z[0]) {
  case '"':
    zOut = ctxAlloc(c, m->nVal - 1);
    if (zOut) jsonUnescape(z + 1, m->nVal - 2, zOut);
    return zOut;
  case 't':
    return "true";
  case 'f':
    return "false";
  case 'n':
  case '{':
  case '[':
    return 0;
  }
  /* a number (JSON's grammar, so strtod reads exactly it) */
  if (m->nVal >= (int)sizeof(zBuf)) {
    zOut = ctxAlloc(c, m->nVal + 1);
    if (!zOut) return 0;
  } else {
    zOut = zBuf;
  }
  memcpy(zOut, z, (size_t)m->nVal);
  zOut[m->nVal] = 0;
  numberText(strtod(zOut, 0), zBuf);
  zOut = ctxAlloc(c, (int)strlen(zBuf) + 1);
  if (zOut) memcpy(zOut, zBuf, strlen(zBuf) + 1);
  return zOut;
}

/* The first indexed member of parent iParent named zField (as cJSON's
** case-sensitive lookup: the decoded key equals it), or NULL. */
static const sv_json_member *ctxFind(Ctx *c, int iParent, const char *zField) {
  int i, n = (int)strlen(zField);
  for (i = 0; i < c->nM; i++) {
    const sv_json_member *m = &c->aM[i];
    const char *zKey = c->zJson + m->iKey;
    if (m->iParent != iParent) continue;
    if (memchr(zKey, '\\', (size_t)m->nKey)) {
      char zBuf[256];
      if (m->nKey >= (int)sizeof(zBuf)) continue; /* longer than any field */
      jsonUnescape(zKey, m->nKey, zBuf);
      if (strcmp(zBuf, zField) == 0) return m;
    } else if (m->nKey == n && memcmp(zKey, zField, (size_t)n) == 0) {
      return m;
    }
  }
  return 0;
}

/* A top-level context field only (userId, sessionId, remoteAddress,
** currentTime as the strategies read them); NULL if missing or null. */
static const char *ctxTop(Ctx *c, const char *zField) {
  if (!zField) return 0;
  if (c->nM >= 0) {
    const sv_json_member *m = ctxFind(c, -1, zField);
    return m ? memberText(c, m) : 0;
  }
  if (!c->pRoot) return 0;
  return ctxText(c, cJSON_GetObjectItemCaseSensitive(c->pRoot, zField));
}

/* A top-level field as JavaScript's `a || b` sees it: "" counts as none. */
static const char *ctxTruthy(Ctx *c, const char *zField) {
  const char *z = ctxTop(c, zField);
  return z && z[0] ? z : 0;
}

/* resolveContextValue: context[name] ?? context.properties[name]. */
static const char *ctxValue(Ctx *c, const char *zField) {
  const cJSON *v, *pProps;
  if (!zField) return 0;
  if (c->nM >= 0) {
    const sv_json_member *m = ctxFind(c, -1, zField);
    const char *z = m ? memberText(c, m) : 0;
    if (z || c->iProps < 0) return z;
    m = ctxFind(c, c->iProps, zField);
    return m ? memberText(c, m) : 0;
  }
  if (!c->pRoot) return 0;
  v = cJSON_GetObjectItemCaseSensitive(c->pRoot, zField);
  if (v && ctxText(c, v)) return ctxText(c, v);
  pProps = cJSON_GetObjectItemCaseSensitive(c->pRoot, "properties");
  if (cJSON_IsObject(pProps)) {
    v = cJSON_GetObjectItemCaseSensitive(pProps, zField);
    if (v) return ctxText(c, v);
  }
  return 0;
}

/* The string parameter zKey of a strategy, or NULL. */
static const char *param(const cJSON *pParams, const char *zKey, Ctx *c) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pParams, zKey);
  if (!v) return 0;
  return ctxText(c, v);
}

/* JavaScript's Number(text): the whole text (trimmed) as a number; NaN on
** anything else (empty text is 0). */
static int jsNumber(const char *z, double *pr) {
  char *zEnd;
  while (*z == ' ' || *z == '\t' || *z == '\n') z++;
  if (*z == 0) {
    *pr = 0;
    return 1;
  }
  *pr = strtod(z, &zEnd);
  while (*zEnd == ' ' || *zEnd == '\t' || *zEnd == '\n') zEnd++;
  return *zEnd == 0 && zEnd != z;
}

static int paramNumber(const cJSON *pParams, const char *zKey, Ctx *c,
                       double *pr) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pParams, zKey);
  if (cJSON_IsNumber(v)) {
    *pr = v->valuedouble;
    return 1;
  }
  if (cJSON_IsString(v)) return jsNumber(v->valuestring, pr);
  (void)c;
  return 0;
}

/* ------------------------------------------------------------ dates */

/*
** Parse an ISO 8601 date or date-time ("2024-01-31", "2024-01-31T10:00:00Z",
** "...T10:00:00.123+02:00") to ms since the epoch; a date-time without zone
** is UTC here.  Returns 1 on success.
*/
static int parseDate(const char *z, sqlite3_int64 *pMs) {
  int y, mo, d, h = 0, mi = 0, s = 0, ms = 0, n = 0, sign = 0, zh = 0, zm = 0;
  sqlite3_int64 t;
  if (!z || sscanf(z, "%4d-%2d-%2d%n", &y, &mo, &d, &n) < 3 || n != 10) {
    return 0;
  }
  z += n;
  if (*z == 'T' || *z == 't' || *z == ' ') {
    z++;
    if (sscanf(z, "%2d:%2d%n", &h, &mi, &n) < 2) return 0;
    z += n;
    if (*z == ':') {
      if (sscanf(z + 1, "%2d%n", &s, &n) < 1) return 0;
      z += 1 + n;
      if (*z == '.') {
        int k = 0;
        z++;
        while (*z >= '0' && *z <= '9') {
          if (k < 3) ms = ms * 10 + (*z - '0');
          k++;
          z++;
        }
        while (k < 3) {
          ms *= 10;
          k++;
        }
      }
    }
    if (*z == 'Z' || *z == 'z') {
      z++;
    } else if (*z == '+' || *z == '-') {
      sign = *z == '+' ? 1 : -1;
      if (sscanf(z + 1, "%2d:%2d%n", &zh, &zm, &n) >= 2) {
        z += 1 + n;
      } else if (sscanf(z + 1, "%2d%2d%n", &zh, &zm, &n) >= 2) {
        z += 1 + n;
      } else {
        return 0;
      }
    }
  }
  if (*z) return 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) {
    return 0;
  }
  t = sv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  t -= sign * (zh * 3600 + zm * 60);
  *pMs = t * 1000 + ms;
  return 1;
}

/* ----------------------------------------------------------- semver */

typedef struct Semver {
  long long a[3];
  const char *zPre; /* pre-release part (after '-'), or NULL */
  int nPre;
} Semver;

/* Strict semver 2.0.0 (surrounding blanks allowed); bV: a leading 'v' is
** accepted (the constraint's value, not the context's). */
static int parseSemver(const char *z, Semver *v, int bV) {
  int i;
  char *zEnd;
  memset(v, 0, sizeof(*v));
  if (!z) return 0;
  while (*z == ' ') z++;
  if (bV && *z == 'v') z++;
  for (i = 0; i < 3; i++) {
    if (!(*z >= '0' && *z <= '9')) return 0;
    if (*z == '0' && z[1] >= '0' && z[1] <= '9') return 0;
    v->a[i] = strtoll(z, &zEnd, 10);
    z = zEnd;
    if (i < 2) {
      if (*z != '.') return 0;
      z++;
    }
  }
  if (*z == '-') {
    v->zPre = ++z;
    while (*z && *z != '+' && *z != ' ') z++;
    v->nPre = (int)(z - v->zPre);
    if (v->nPre == 0) return 0;
  }
  if (*z == '+') {
    z++;
    if (!*z || *z == ' ') return 0;
    while (*z && *z != ' ') z++;
  }
  while (*z == ' ') z++;
  return *z == 0;
}

/* Compare dot-separated pre-release identifiers (semver 2.0.0 rule 11). */
static int cmpPre(const Semver *x, const Semver *y) {
  const char *a = x->zPre, *b = y->zPre;
  const char *ae = a + x->nPre, *be = b + y->nPre;
  if (!a && !b) return 0;
  if (!a) return 1; /* a release is greater than its pre-releases */
  if (!b) return -1;
  while (a < ae && b < be) {
    const char *an = a, *bn = b;
    int aNum = 1, bNum = 1, c;
    while (an < ae && *an != '.') {
      if (*an < '0' || *an > '9') aNum = 0;
      an++;
    }
    while (bn < be && *bn != '.') {
      if (*bn < '0' || *bn > '9') bNum = 0;
      bn++;
    }
    if (aNum && bNum) {
      long long na = strtoll(a, 0, 10), nb = strtoll(b, 0, 10);
      c = na < nb ? -1 : na > nb;
    } else if (aNum || bNum) {
      c = aNum ? -1 : 1; /* numeric identifiers sort first */
    } else {
      int la = (int)(an - a), lb = (int)(bn - b);
      c = memcmp(a, b, (size_t)(la < lb ? la : lb));
      if (c == 0) c = la < lb ? -1 : la > lb;
    }
    if (c) return c < 0 ? -1 : 1;
    a = an < ae ? an + 1 : an;
    b = bn < be ? bn + 1 : bn;
    if (an == ae || bn == be) {
      if (an == ae && bn == be) return 0;
      return an == ae ? -1 : 1;
    }
  }
  return 0;
}

static int cmpSemver(const Semver *x, const Semver *y) {
  int i;
  for (i = 0; i < 3; i++) {
    if (x->a[i] != y->a[i]) return x->a[i] < y->a[i] ? -1 : 1;
  }
  return cmpPre(x, y);
}

/* ----------------------------------------------------------- addresses */

/* IPv4 "a.b.c.d" into *pIp; 1 on success. */
static int parseIp4(const char *z, unsigned int *pIp, const char **pzEnd) {
  unsigned int ip = 0;
  int i;
  for (i = 0; i < 4; i++) {
    char *zEnd;
    long v;
    if (!(*z >= '0' && *z <= '9')) return 0;
    v = strtol(z, &zEnd, 10);
    if (v < 0 || v > 255) return 0;
    ip = (ip << 8) | (unsigned int)v;
    z = zEnd;
    if (i < 3) {
      if (*z != '.') return 0;
      z++;
    }
  }
  *pIp = ip;
  *pzEnd = z;
  return 1;
}

/* An address or network: nByte 4 (IPv4) or 16 (IPv6), the first nBits
** bits of a[] (network order) significant. */
typedef struct IpNet {
  int nByte, nBits;
  unsigned char a[16];
} IpNet;

/*
** "address" or "address/bits" (IPv4 dotted quad, or IPv6 in any form
** inet_pton reads, "::ffff:1.2.3.4" too) into *p; no "/bits": the whole
** address.  1 on success, 0 when z is neither.
*/
static int parseNet(const char *z, IpNet *p) {
  const char *zSlash = strchr(z, '/'), *zEnd;
  int n = zSlash ? (int)(zSlash - z) : (int)strlen(z);
  char zBuf[64];
  unsigned int ip4;
  memset(p, 0, sizeof(*p));
  if (n <= 0 || n >= (int)sizeof(zBuf)) return 0;
  memcpy(zBuf, z, (size_t)n);
  zBuf[n] = 0;
  if (parseIp4(zBuf, &ip4, &zEnd) && *zEnd == 0) {
    p->nByte = 4;
    p->a[0] = (unsigned char)(ip4 >> 24);
    p->a[1] = (unsigned char)(ip4 >> 16);
    p->a[2] = (unsigned char)(ip4 >> 8);
    p->a[3] = (unsigned char)ip4;
  } else if (strchr(zBuf, ':') && inet_pton(AF_INET6, zBuf, p->a) == 1) {
    p->nByte = 16;
  } else {
    return 0;
  }
  p->nBits = p->nByte * 8;
  if (zSlash) {
    char *zB;
    long nBits;
    if (!(zSlash[1] >= '0' && zSlash[1] <= '9')) return 0;
    nBits = strtol(zSlash + 1, &zB, 10);
    if (*zB || nBits < 0 || nBits > p->nBits) return 0;
    p->nBits = (int)nBits;
  }
  return 1;
}

/* Is the address zAddr in network zRange ("a.b.c.d/n", "2001:db8::/32", or
** one address)?  Both of one family: an IPv4 address is in no IPv6 range. */
static int ipInNet(const char *zRange, const char *zAddr) {
  IpNet net, addr;
  int i, nBits;
  if (!parseNet(zRange, &net) || !parseNet(zAddr, &addr)) return 0;
  if (addr.nByte != net.nByte || addr.nBits != addr.nByte * 8) return 0;
  for (i = 0, nBits = net.nBits; nBits > 0; i++, nBits -= 8) {
    unsigned m = nBits >= 8 ? 0xffu : (0xffu << (8 - nBits)) & 0xffu;
    if ((net.a[i] ^ addr.a[i]) & m) return 0;
  }
  return 1;
}

/* remoteAddress strategy: the address equals an entry or is in its CIDR. */
static int ipMatches(const char *zRange, const char *zAddr) {
  return strcmp(zRange, zAddr) == 0 || ipInNet(zRange, zAddr);
}

/* ------------------------------------------------ regular expressions */

/*
** Is pattern z within the dialect of Unleash's SDKs, RE2's syntax (re2js in
** the Node SDK, the regex crate in the Rust engine)?  PCRE2 reads more:
** what a linear-time engine has no meaning for is refused here, so that a
** pattern that Unleash refuses never matches here either -- lookaround,
** atomic groups, recursion, conditionals, comments and callouts ("(?"
** followed by anything but flags imsU or a group name), verbs ("(*"),
** possessive quantifiers ("a++", "a{2}+") and escapes RE2 does not know
** (\K, \G, \R, \X, \h, \Z, \g, \k, ...).  Backreferences are refused after
** compiling (PCRE2_INFO_BACKREFMAX).
*/
static int reDialectOk(const char *z) {
  int bClass = 0, eQuant = 0; /* eQuant: 1 after a quantifier, 2 lazy */
  while (*z) {
    char c = *z;
    if (c == '\\') {
      char e = z[1];
      if (e == 'Q') {
        const char *zE = strstr(z + 2, "\\E");
        z = zE ? zE + 2 : z + strlen(z);
      } else {
        if (((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) &&
            !strchr("afnrtvdDsSwWbBAzpPxE", e)) {
          return 0;
        }
        z += e ? 2 : 1;
      }
      eQuant = 0;
      continue;
    }
    if (bClass) {
      if (c == '[' && z[1] == ':') {
        const char *zE = strstr(z + 2, ":]");
        if (zE) {
          z = zE + 2;
          continue;
        }
      }
      if (c == ']') bClass = 0;
      z++;
      continue;
    }
    if (c == '[') {
      bClass = 1;
      z++;
      if (*z == '^') z++;
      if (*z == ']') z++; /* a leading ']' is one of the class */
      eQuant = 0;
      continue;
    }
    if (c == '(' && z[1] == '*') return 0;
    if (c == '(' && z[1] == '?') {
      const char *zP = z + 2;
      if (zP[0] == 'P' && zP[1] == '<') zP++;
      if (zP[0] == '<') {
        if (zP[1] == '=' || zP[1] == '!') return 0; /* lookbehind */
        z = zP + 1;
        eQuant = 0;
        continue;
      }
      while (*zP && strchr("imsU-", *zP)) zP++;
      if (*zP != ')' && *zP != ':') return 0;
      z = zP + 1;
      eQuant = 0;
      continue;
    }
    if (c == '{') {
      /* {n}, {n,}, {n,m}: a quantifier; anything else is a literal '{' */
      const char *zP = z + 1;
      int nDigit = 0;
      while (*zP >= '0' && *zP <= '9') zP++, nDigit++;
      if (nDigit && *zP == ',') {
        zP++;
        while (*zP >= '0' && *zP <= '9') zP++;
      }
      if (nDigit && *zP == '}') {
        z = zP + 1;
        eQuant = 1;
        continue;
      }
      z++;
      eQuant = 0;
      continue;
    }
    if (c == '*' || c == '+' || c == '?') {
      if (eQuant == 1 && c == '+') return 0; /* possessive */
      eQuant = eQuant == 1 && c == '?' ? 2 : 1;
      z++;
      continue;
    }
    eQuant = 0;
    z++;
  }
  return 1;
}

static void *reMalloc(PCRE2_SIZE n, void *pUnused) {
  (void)pUnused;
  return sqlite3_malloc64((sqlite3_uint64)n);
}

static void reFree(void *p, void *pUnused) {
  (void)pUnused;
  sqlite3_free(p);
}

/* The pattern cache of flags cache pc, made on first use; NULL on OOM. */
static RegexCache *reCache(FlagCache *pc) {
  RegexCache *r;
  uint32_t bJit = 0;
  const char *zJit;
  if (pc->pRe) return pc->pRe;
  r = sqlite3_malloc64(sizeof(*r));
  if (!r) return 0;
  memset(r, 0, sizeof(*r));
  /* PCRE2 allocates through SQLite (so that an allocation failure is
  ** SQLITE_NOMEM), through contexts of our own: no process-wide hook. */
  r->pGen = pcre2_general_context_create(reMalloc, reFree, 0);
  if (r->pGen) r->pComp = pcre2_compile_context_create(r->pGen);
  if (r->pGen) r->pMatch = pcre2_match_context_create(r->pGen);
  if (r->pGen) r->pData = pcre2_match_data_create(1, r->pGen);
  if (!r->pComp || !r->pMatch || !r->pData) {
    reCacheFree(r);
    return 0;
  }
  pcre2_set_newline(r->pComp, PCRE2_NEWLINE_LF);
  pcre2_set_max_pattern_length(r->pComp, RE_MAX_PATTERN);
  pcre2_set_match_limit(r->pMatch, RE_MATCH_LIMIT);
  pcre2_set_depth_limit(r->pMatch, RE_DEPTH_LIMIT);
  pcre2_set_heap_limit(r->pMatch, RE_HEAP_LIMIT_KIB);
  /* STATEVTAB_REGEX_JIT=0: the interpreter only, for tests under valgrind,
  ** which cannot follow the machine code that PCRE2's JIT writes (it
  ** reports reads of uninitialised memory in it). */
  zJit = getenv("STATEVTAB_REGEX_JIT");
  r->bJit = pcre2_config(PCRE2_CONFIG_JIT, &bJit) == 0 && bJit &&
            !(zJit && strcmp(zJit, "0") == 0);
  pc->pRe = r;
  return r;
}

/*
** The compiled form of pattern zPattern (from the cache, or compiled and
** cached, an invalid pattern as NULL too, so that it is not compiled at
** every evaluation).  SQLITE_OK with *ppCode set (NULL: the pattern never
** matches), or SQLITE_NOMEM.
*/
static int reCompiled(FlagCache *pc, const char *zPattern, int bCaseless,
                      pcre2_code **ppCode) {
  RegexCache *r = reCache(pc);
  unsigned int h = 2166136261u;
  const unsigned char *z;
  Regex *e;
  int iErr = 0;
  PCRE2_SIZE iOff = 0;
  *ppCode = 0;
  if (!r) return SQLITE_NOMEM;
  for (z = (const unsigned char *)zPattern; *z; z++) h = (h ^ *z) * 16777619u;
  h ^= (unsigned int)bCaseless;
  for (e = r->aHash[h % RE_NHASH]; e; e = e->pNext) {
    if (e->h == h && e->bCaseless == bCaseless &&
        strcmp(e->zPattern, zPattern) == 0) {
      *ppCode = e->pCode;
      return SQLITE_OK;
    }
  }
  if (r->nEntry >= RE_CACHE_MAX) reCacheClear(r);
  e = sqlite3_malloc64(sizeof(*e));
  if (!e) return SQLITE_NOMEM;
  memset(e, 0, sizeof(*e));
  e->zPattern = sqlite3_mprintf("%s", zPattern);
  if (!e->zPattern) {
    sqlite3_free(e);
    return SQLITE_NOMEM;
  }
  e->bCaseless = bCaseless;
  e->h = h;
  if (reDialectOk(zPattern)) {
    /* UTF-8, a subject that is not valid UTF-8 read as far as it is;
    ** '$' at the very end only (RE2's, without (?m)). */
    e->pCode = pcre2_compile(
        (PCRE2_SPTR)zPattern, PCRE2_ZERO_TERMINATED,
        PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C |
            PCRE2_DOLLAR_ENDONLY | (bCaseless ? PCRE2_CASELESS : 0),
        &iErr, &iOff, r->pComp);
    if (!e->pCode && iErr == PCRE2_ERROR_HEAP_FAILED) {
      sqlite3_free(e->zPattern);
      sqlite3_free(e);
      return SQLITE_NOMEM;
    }
  }
  if (e->pCode) {
    uint32_t nBackref = 0;
    pcre2_pattern_info(e->pCode, PCRE2_INFO_BACKREFMAX, &nBackref);
    if (nBackref > 0) {
      pcre2_code_free(e->pCode);
      e->pCode = 0;
    } else if (r->bJit) {
      /* Any failure (no memory for the machine code too) leaves the
      ** interpreter, under the same limits. */
      (void)pcre2_jit_compile(e->pCode, PCRE2_JIT_COMPLETE);
    }
  }
  e->pNext = r->aHash[h % RE_NHASH];
  r->aHash[h % RE_NHASH] = e;
  r->nEntry++;
  *ppCode = e->pCode;
  return SQLITE_OK;
}

/*
** REGEX: does zSubject hold a match of zPattern (unanchored, as RE2's
** find())?  A pattern that does not compile, is outside the dialect, or
** needs more work than the limits allow does not match.  *pbOom on
** allocation failure.
*/
static int reMatch(Ctx *c, const char *zPattern, int bCaseless,
                   const char *zSubject, int *pbOom) {
  pcre2_code *pCode;
  int rc;
  if (!c->pFlags || reCompiled(c->pFlags, zPattern, bCaseless, &pCode)) {
    *pbOom = 1;
    return 0;
  }
  if (!pCode) return 0;
  rc = pcre2_match(pCode, (PCRE2_SPTR)zSubject, strlen(zSubject), 0, 0,
                   c->pFlags->pRe->pData, c->pFlags->pRe->pMatch);
  if (rc == PCRE2_ERROR_NOMEMORY) *pbOom = 1;
  return rc >= 0; /* 0: matched, the ovector too small for the groups */
}

/* ------------------------------------------------------- constraints */

static int startsWith(const char *z, const char *p) {
  return strncmp(z, p, strlen(p)) == 0;
}

static int endsWith(const char *z, const char *p) {
  size_t n = strlen(z), m = strlen(p);
  return n >= m && strcmp(z + n - m, p) == 0;
}

/* ASCII lowercase copy (sqlite3_malloc'd). */
static char *lower(const char *z) {
  char *zOut = sqlite3_mprintf("%s", z);
  int i;
  if (!zOut) return 0;
  for (i = 0; zOut[i]; i++) {
    if (zOut[i] >= 'A' && zOut[i] <= 'Z') zOut[i] = (char)(zOut[i] + 32);
  }
  return zOut;
}

/* Trimmed copy of a constraint value (sqlite3_malloc'd); NULL when empty. */
static char *cleanValue(const cJSON *v, int bLower) {
  const char *z, *e;
  char *zOut;
  if (!cJSON_IsString(v) || !v->valuestring[0]) return 0;
  z = v->valuestring;
  while (*z == ' ' || *z == '\t' || *z == '\n') z++;
  e = z + strlen(z);
  while (e > z && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
  zOut = sqlite3_mprintf("%.*s", (int)(e - z), z);
  if (zOut && bLower) {
    char *zL = lower(zOut);
    sqlite3_free(zOut);
    zOut = zL;
  }
  return zOut;
}

/* One constraint, before `inverted`.  *pbOom on allocation failure. */
static int constraintRaw(Ctx *c, const cJSON *k, int *pbOom) {
  const char *zOp =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "operator"));
  const char *zField =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "contextName"));
  const cJSON *pValues = cJSON_GetObjectItemCaseSensitive(k, "values");
  const cJSON *pValue = cJSON_GetObjectItemCaseSensitive(k, "value");
  const char *zCtx;
  const cJSON *v;
  if (!zOp) return 0;
  if (strcmp(zOp, "IN") == 0 || strcmp(zOp, "NOT_IN") == 0) {
    int bIn = 0;
    zCtx = ctxValue(c, zField);
    cJSON_ArrayForEach(v, pValues) {
      char *z = cleanValue(v, 0);
      if (!z) {
        if (cJSON_IsString(v) && v->valuestring[0]) *pbOom = 1;
        continue;
      }
      if (zCtx && strcmp(z, zCtx) == 0) bIn = 1;
      sqlite3_free(z);
    }
    return zOp[0] == 'I' ? bIn : !bIn;
  }
  if (startsWith(zOp, "STR_")) {
    int bCase =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "caseInsensitive"));
    char *zC;
    int bMatch = 0;
    zCtx = ctxValue(c, zField);
    if (!zCtx) return 0;
    zC = bCase ? lower(zCtx) : sqlite3_mprintf("%s", zCtx);
    if (!zC) {
      *pbOom = 1;
      return 0;
    }
    cJSON_ArrayForEach(v, pValues) {
      char *z = cleanValue(v, bCase);
      if (!z) continue;
      if (strcmp(zOp, "STR_STARTS_WITH") == 0)
        bMatch |= startsWith(zC, z);
      else if (strcmp(zOp, "STR_ENDS_WITH") == 0)
        bMatch |= endsWith(zC, z);
      else if (strcmp(zOp, "STR_CONTAINS") == 0)
        bMatch |= strstr(zC, z) != 0;
      sqlite3_free(z);
    }
    sqlite3_free(zC);
    return bMatch;
  }
  if (startsWith(zOp, "NUM_")) {
    double a, b;
    zCtx = ctxValue(c, zField);
    if (!zCtx || !jsNumber(zCtx, &a)) return 0;
    if (cJSON_IsNumber(pValue)) {
      b = pValue->valuedouble;
    } else if (!cJSON_IsString(pValue) || !jsNumber(pValue->valuestring, &b)) {
      return 0;
    }
    if (strcmp(zOp, "NUM_EQ") == 0) return a == b;
    if (strcmp(zOp, "NUM_GT") == 0) return a > b;
    if (strcmp(zOp, "NUM_GTE") == 0) return a >= b;
    if (strcmp(zOp, "NUM_LT") == 0) return a < b;
    if (strcmp(zOp, "NUM_LTE") == 0) return a <= b;
    return 0;
  }
  if (strcmp(zOp, "REGEX") == 0) {
    zCtx = ctxValue(c, zField);
    if (!zCtx || !cJSON_IsString(pValue)) return 0;
    return reMatch(
        c, pValue->valuestring,
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "caseInsensitive")),
        zCtx, pbOom);
  }
  if (strcmp(zOp, "IN_CIDR") == 0) {
    int bIn = 0;
    zCtx = ctxValue(c, zField);
    if (!zCtx) return 0;
    cJSON_ArrayForEach(v, pValues) {
      char *z = cleanValue(v, 0);
      if (!z) {
        if (cJSON_IsString(v) && v->valuestring[0]) *pbOom = 1;
        continue;
      }
      bIn = bIn || ipInNet(z, zCtx);
      sqlite3_free(z);
    }
    return bIn;
  }
  if (startsWith(zOp, "DATE_")) {
    sqlite3_int64 tCtx, tVal;
    const char *zNow = ctxTop(c, "currentTime"); /* contextName ignored */
    if (!parseDate(cJSON_GetStringValue(pValue), &tVal)) return 0;
    if (zNow) {
      if (!parseDate(zNow, &tCtx)) return 0;
    } else {
      tCtx = c->now;
    }
    if (strcmp(zOp, "DATE_AFTER") == 0) return tCtx > tVal;
    if (strcmp(zOp, "DATE_BEFORE") == 0) return tCtx < tVal;
    return 0;
  }
  if (startsWith(zOp, "SEMVER_")) {
    Semver a, b;
    int r;
    zCtx = ctxValue(c, zField);
    if (!parseSemver(zCtx, &a, 0) ||
        !parseSemver(cJSON_GetStringValue(pValue), &b, 1)) {
      return 0;
    }
    r = cmpSemver(&a, &b);
    if (strcmp(zOp, "SEMVER_EQ") == 0) return r == 0;
    if (strcmp(zOp, "SEMVER_GT") == 0) return r > 0;
    if (strcmp(zOp, "SEMVER_LT") == 0) return r < 0;
    if (strcmp(zOp, "SEMVER_GTE") == 0) return r >= 0;
    if (strcmp(zOp, "SEMVER_LTE") == 0) return r <= 0;
    return 0;
  }
  return 0; /* an unknown operator makes the constraint false */
}

static int knownOperator(const char *zOp) {
  static const char *const az[] = {
      "IN",           "NOT_IN",    "STR_STARTS_WITH", "STR_ENDS_WITH",
      "STR_CONTAINS", "NUM_EQ",    "NUM_GT",          "NUM_GTE",
      "NUM_LT",       "NUM_LTE",   "DATE_AFTER",      "DATE_BEFORE",
      "SEMVER_EQ",    "SEMVER_GT", "SEMVER_LT",       "SEMVER_GTE",
      "SEMVER_LTE",   "REGEX",     "IN_CIDR",         0};
  int i;
  for (i = 0; zOp && az[i]; i++) {
    if (strcmp(zOp, az[i]) == 0) return 1;
  }
  return 0;
}

/*
** Compile the constraints pList (a JSON array) into *paCons, *pnCons
** (sqlite3_malloc'd; freed by stratFree, a partial one too).  SQLITE_OK
** or SQLITE_NOMEM.
*/
static int compileCons(const cJSON *pList, Cons **paCons, int *pnCons) {
  static const struct {
    const char *zOp;
    int eOp;
  } aOp[] = {{"IN", OP_IN},
             {"NOT_IN", OP_NOT_IN},
             {"STR_STARTS_WITH", OP_STR_STARTS_WITH},
             {"STR_ENDS_WITH", OP_STR_ENDS_WITH},
             {"STR_CONTAINS", OP_STR_CONTAINS}};
  const cJSON *k, *v;
  int n = 0, i = 0;
  *paCons = 0;
  *pnCons = 0;
  cJSON_ArrayForEach(k, pList) n++;
  if (n == 0) return SQLITE_OK;
  *paCons = sqlite3_malloc64(sizeof(Cons) * (size_t)n);
  if (!*paCons) return SQLITE_NOMEM;
  memset(*paCons, 0, sizeof(Cons) * (size_t)n);
  *pnCons = n;
  cJSON_ArrayForEach(k, pList) {
    Cons *c = &(*paCons)[i++];
    const char *zOp =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "operator"));
    size_t j;
    int nVal = 0;
    c->k = k;
    c->zField = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(k, "contextName"));
    c->bInverted =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "inverted"));
    c->eOp = knownOperator(zOp) ? OP_RAW : OP_UNKNOWN;
    for (j = 0; c->eOp == OP_RAW && j < sizeof(aOp) / sizeof(aOp[0]); j++) {
      if (strcmp(zOp, aOp[j].zOp) == 0) c->eOp = aOp[j].eOp;
    }
    if (c->eOp == OP_RAW || c->eOp == OP_UNKNOWN) continue;
    c->bLower =
        c->eOp >= OP_STR_STARTS_WITH &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "caseInsensitive"));
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(k, "values")) {
      nVal++;
    }
    if (nVal == 0) continue;
    c->azVal = sqlite3_malloc64(sizeof(char *) * (size_t)nVal);
    if (!c->azVal) return SQLITE_NOMEM;
    memset(c->azVal, 0, sizeof(char *) * (size_t)nVal);
    c->nVal = nVal;
    nVal = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(k, "values")) {
      char *z = cleanValue(v, c->bLower);
      if (!z && cJSON_IsString(v) && v->valuestring[0]) return SQLITE_NOMEM;
      c->azVal[nVal++] = z;
    }
  }
  return SQLITE_OK;
}

/* ASCII lowercase copy of z in the evaluation's scratch; NULL on OOM. */
static const char *ctxLower(Ctx *c, const char *z) {
  size_t n = strlen(z), i;
  char *zOut = ctxAlloc(c, (int)n + 1);
  if (!zOut) return 0;
  for (i = 0; i <= n; i++) {
    zOut[i] = (char)(z[i] >= 'A' && z[i] <= 'Z' ? z[i] + 32 : z[i]);
  }
  return zOut;
}

/* Do all compiled constraints a[0..n) hold (an empty list does)?  An
** unknown operator is false, inverted or not; `inverted` flips every
** other result. */
static int consHold(Ctx *c, const Cons *a, int n, int *pbOom) {
  int i, j;
  for (i = 0; i < n; i++) {
    const Cons *k = &a[i];
    const char *zCtx;
    int b = 0;
    switch (k->eOp) {
    case OP_UNKNOWN:
      return 0;
    case OP_IN:
    case OP_NOT_IN:
      zCtx = ctxValue(c, k->zField);
      for (j = 0; zCtx && j < k->nVal && !b; j++) {
        b = k->azVal[j] && strcmp(k->azVal[j], zCtx) == 0;
      }
      if (k->eOp == OP_NOT_IN) b = !b;
      break;
    case OP_RAW:
      b = constraintRaw(c, k->k, pbOom);
      break;
    default: /* STR_ */
      zCtx = ctxValue(c, k->zField);
      if (zCtx && k->bLower) zCtx = ctxLower(c, zCtx);
      for (j = 0; zCtx && j < k->nVal && !b; j++) {
        const char *z = k->azVal[j];
        if (!z) continue;
        b = k->eOp == OP_STR_STARTS_WITH ? startsWith(zCtx, z)
            : k->eOp == OP_STR_ENDS_WITH ? endsWith(zCtx, z)
                                         : strstr(zCtx, z) != 0;
      }
      break;
    }
    if (k->bInverted) b = !b;
    if (!b) return 0;
  }
  return 1;
}

/* --------------------------------------------------------- strategies */

/* Does z, split on commas and the blanks around them (as JavaScript's
** split with \\s*,\\s*), hold zWant? */
static int listHas(const char *z, const char *zWant,
                   int (*xMatch)(const char *, const char *)) {
  const char *zItem = z;
  if (!z) return 0;
  for (;;) {
    const char *e = zItem, *zNext;
    char zBuf[256];
    int n;
    while (*e && *e != ',') e++;
    zNext = *e ? e + 1 : 0;
    while (e > zItem && (e[-1] == ' ' || e[-1] == '\t') && zNext) e--;
    n = (int)(e - zItem);
    if (n < (int)sizeof(zBuf)) {
      memcpy(zBuf, zItem, (size_t)n);
      zBuf[n] = 0;
      if (xMatch ? xMatch(zBuf, zWant) : strcmp(zBuf, zWant) == 0) return 1;
    }
    if (!zNext) return 0;
    zItem = zNext;
    while (*zItem == ' ' || *zItem == '\t') zItem++;
  }
}

/* The stickiness value of a flexible rollout; NULL when there is none. */
static const char *stickiness(Ctx *c, const char *zStick) {
  if (!zStick || strcmp(zStick, "default") == 0) {
    const char *z = ctxTruthy(c, "userId");
    if (!z) z = ctxTruthy(c, "sessionId");
    if (z) return z;
    zStick = "random";
  }
  if (strcmp(zStick, "random") == 0) {
    sqlite3_snprintf(sizeof(c->zRand), c->zRand, "%d", randomPercent());
    return c->zRand;
  }
  return ctxValue(c, zStick);
}

/* percentage > 0 && normalized(value, group) <= percentage */
static int inRollout(const char *zValue, const char *zGroup, double pct,
                     int *pbOom) {
  unsigned int h;
  if (!zValue || !zValue[0]) return 0;
  if (bucketHash(zValue, zGroup ? zGroup : "", 0, &h) != SQLITE_OK) {
    *pbOom = 1;
    return 0;
  }
  return pct > 0 && normalizedOf(h, 100) <= pct;
}

/* One strategy (without its constraints). */
static int strategyMatches(Ctx *c, const cJSON *s, int *pbOom) {
  const char *zName =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "parameters");
  double pct = 0;
  if (!zName) return 0;
  if (strcmp(zName, "default") == 0) return 1;
  if (strcmp(zName, "userWithId") == 0) {
    const char *zUser = ctxTop(c, "userId");
    return zUser && listHas(param(p, "userIds", c), zUser, 0);
  }
  if (strcmp(zName, "gradualRolloutUserId") == 0 ||
      strcmp(zName, "gradualRolloutSessionId") == 0) {
    const char *zId = ctxTruthy(
        c, strcmp(zName, "gradualRolloutUserId") == 0 ? "userId" : "sessionId");
    if (!paramNumber(p, "percentage", c, &pct)) return 0;
    return inRollout(zId, param(p, "groupId", c), pct, pbOom);
  }
  if (strcmp(zName, "gradualRolloutRandom") == 0) {
    if (!paramNumber(p, "percentage", c, &pct)) return 0;
    return pct >= randomPercent(); /* never at 0% */
  }
  if (strcmp(zName, "remoteAddress") == 0) {
    const char *zAddr = ctxTop(c, "remoteAddress");
    return zAddr && listHas(param(p, "IPs", c), zAddr, ipMatches);
  }
  if (strcmp(zName, "flexibleRollout") == 0) {
    const char *zGroup = param(p, "groupId", c);
    char *zStick = 0;
    int b;
    if (!paramNumber(p, "rollout", c, &pct)) return 0;
    {
      const char *z = param(p, "stickiness", c);
      if (z) {
        zStick = sqlite3_mprintf("%s", z);
        if (!zStick) {
          *pbOom = 1;
          return 0;
        }
      }
    }
    b = inRollout(stickiness(c, zStick), zGroup ? zGroup : c->zFeature, pct,
                  pbOom);
    sqlite3_free(zStick);
    return b;
  }
  return 0; /* an unknown strategy does not match */
}

/* A compiled flexibleRollout (strategyMatches' case, without lookups). */
static int flexMatches(Ctx *c, const Strat *t, int *pbOom) {
  if (!t->bPct) return 0;
  return inRollout(stickiness(c, t->zStick),
                   t->zGroup ? t->zGroup : c->zFeature, t->pct, pbOom);
}

/*
** Compile what evaluation reads of entry f: each strategy's constraints
** and flexibleRollout parameters -- or, for a segment (bSegment), its
** constraints as one strategy.  SQLITE_OK or SQLITE_NOMEM.
*/
static int compileFlag(Flag *f, int bSegment) {
  const cJSON *s;
  int n = 0, i = 0, rc = SQLITE_OK;
  if (bSegment) {
    n = 1;
  } else {
    cJSON_ArrayForEach(s, f->pStrategies) n++;
  }
  if (n == 0) return SQLITE_OK;
  f->aStrat = sqlite3_malloc64(sizeof(Strat) * (size_t)n);
  if (!f->aStrat) return SQLITE_NOMEM;
  memset(f->aStrat, 0, sizeof(Strat) * (size_t)n);
  f->nStrat = n;
  if (bSegment) {
    return compileCons(f->pStrategies, &f->aStrat[0].aCons,
                       &f->aStrat[0].nCons);
  }
  cJSON_ArrayForEach(s, f->pStrategies) {
    Strat *t = &f->aStrat[i++];
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "parameters");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(p, "groupId");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(p, "stickiness");
    const char *zName =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
    if (rc == SQLITE_OK) {
      rc = compileCons(cJSON_GetObjectItemCaseSensitive(s, "constraints"),
                       &t->aCons, &t->nCons);
    }
    /* texts or nothing: a number or boolean there is read by
    ** strategyMatches, as JavaScript's String() writes it */
    if (zName && strcmp(zName, "flexibleRollout") == 0 &&
        (!g || cJSON_IsNull(g) || cJSON_IsString(g)) &&
        (!k || cJSON_IsNull(k) || cJSON_IsString(k))) {
      t->bFlex = 1;
      t->bPct = paramNumber(p, "rollout", 0, &t->pct);
      t->zGroup = cJSON_GetStringValue(g);
      t->zStick = cJSON_GetStringValue(k);
    }
  }
  return rc;
}

/* ------------------------------------------------------------ variants */

/*
** Choose among a variants array as Unleash's selectVariantDefinition:
** overrides first, then the weighted bucket of the stickiness value.
*/
static const cJSON *chooseVariant(Ctx *c, const cJSON *pVariants,
                                  const char *zGroup, const char *zDefaultStick,
                                  int *pbOom) {
  const cJSON *v, *o;
  double total = 0, counter = 0, target;
  const char *zStick, *zSeed;
  char zRandom[16];
  unsigned int h;
  cJSON_ArrayForEach(v, pVariants) {
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(v, "weight");
    if (cJSON_IsNumber(w)) total += w->valuedouble;
  }
  if (total <= 0) return 0;
  cJSON_ArrayForEach(v, pVariants) {
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(v, "overrides")) {
      const char *zCtx =
          ctxValue(c, cJSON_GetStringValue(
                          cJSON_GetObjectItemCaseSensitive(o, "contextName")));
      const cJSON *x;
      if (!zCtx) continue;
      cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(o, "values")) {
        if (cJSON_IsString(x) && strcmp(x->valuestring, zCtx) == 0) return v;
      }
    }
  }
  zStick = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
      cJSON_GetArrayItem(pVariants, 0), "stickiness"));
  if (!zStick) zStick = zDefaultStick;
  if (!zStick || strcmp(zStick, "default") == 0) {
    zSeed = ctxTruthy(c, "userId");
    if (!zSeed) zSeed = ctxTruthy(c, "sessionId");
    if (!zSeed) zSeed = ctxTruthy(c, "remoteAddress");
  } else {
    zSeed = ctxValue(c, zStick);
  }
  if (!zSeed) {
    unsigned int r;
    sqlite3_randomness(sizeof(r), &r);
    sqlite3_snprintf(sizeof(zRandom), zRandom, "%u", r % 100001);
    zSeed = zRandom;
  }
  if (bucketHash(zSeed, zGroup, VARIANT_SEED, &h) != SQLITE_OK) {
    *pbOom = 1;
    return 0;
  }
  target = normalizedOf(h, total);
  cJSON_ArrayForEach(v, pVariants) {
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(v, "weight");
    double weight = cJSON_IsNumber(w) ? w->valuedouble : 0;
    if (weight == 0) continue;
    counter += weight;
    /* As the SDK's `if (counter < target) continue`: with weights of 1e999
    ** and -1e999 (a NaN total and target) the first variant is chosen. */
    if (!(counter < target)) return v;
  }
  return 0;
}

/* ------------------------------------------------------------ loading */

typedef struct Eval {
  sqlite3_context *ctx;
  const char *zFunc;
  sv_vtab *p;
  Ctx c;
  int rc;        /* first error */
  char *zErr;    /* its message, when not the store's (sqlite3_malloc'd) */
  int bSegDone;  /* pSeg looked up (sv_linked_table) */
  sv_vtab *pSeg; /* the flags table's segments table, or NULL */
} Eval;

/*
** The row of key pKey (zKey: the key as text) of table p -- a flag of a
** flags table, or a segment of a segments table -- from p's cache or the
** store.  A missing row is cached too (bExists 0).  NULL on error (x->rc).
*/
static Flag *loadEntry(Eval *x, sv_vtab *p, const statevtab_value *pKey,
                       const char *zKey) {
  sv_extcache *pExt = sv_ext_cache(p);
  FlagCache *pc = pExt ? pExt->pFlags : 0;
  sqlite3_int64 now = sv_mono_ms();
  statevtab_value *aRow = 0;
  Flag *f, **pp;
  int rc, i;
  if (!pc) {
    pc = pExt ? sqlite3_malloc64(sizeof(*pc)) : 0;
    if (!pc) {
      x->rc = SQLITE_NOMEM;
      return 0;
    }
    memset(pc, 0, sizeof(*pc));
    pc->iGen = p->iWriteGen;
    pExt->pFlags = pc;
  }
  if (p == x->p) x->c.pFlags = pc;
  if (pc->iGen != p->iWriteGen) {
    cacheClear(pc);
    pc->iGen = p->iWriteGen;
  }
  if (now - pc->iPolled >= FLAG_POLL_MS || now < pc->iPolled) {
    sqlite3_uint64 iChanged;
    int bLive;
    rc = sv_table_changed(p, &iChanged, &bLive);
    if (rc != SQLITE_OK) {
      x->rc = rc;
      return 0;
    }
    pc->iPolled = now;
    if (iChanged != pc->iChanged || bLive != pc->bLive) {
      /* (marked, not freed: an entry may be in use by this evaluation) */
      for (f = pc->pList; f; f = f->pNext) f->bStale = 1;
      pc->iChanged = iChanged;
      pc->bLive = bLive;
    }
  }
  for (pp = &pc->pList; (f = *pp) != 0; pp = &f->pNext) {
    if (strcmp(f->zName, zKey) == 0) {
      if (f->nBusy ||
          (!f->bStale &&
           now - f->iLoaded < (pc->bLive ? FLAG_LIVE_TTL_MS : FLAG_TTL_MS))) {
        return f;
      }
      *pp = f->pNext;
      flagFree(f);
      break;
    }
  }
  rc = sv_read_row(p, pKey, &aRow);
  if (rc != SQLITE_OK) {
    x->rc = rc;
    return 0;
  }
  f = sqlite3_malloc64(sizeof(*f));
  if (!f) {
    sqlite3_free(aRow);
    x->rc = SQLITE_NOMEM;
    return 0;
  }
  memset(f, 0, sizeof(*f));
  f->zName = sqlite3_mprintf("%s", zKey);
  f->iLoaded = now;
  if (aRow) {
    int aiJson[3], nJson;
    cJSON **appJ[3];
    appJ[0] = &f->pStrategies;
    appJ[1] = &f->pVariants;
    appJ[2] = &f->pDeps;
    f->bExists = 1;
    if (p->pEntity == sv_entity_segments) {
      f->bEnabled = 1;
      aiJson[0] = SV_SEG_CONSTRAINTS;
      nJson = 1;
    } else {
      f->bEnabled = aRow[SV_FLAG_ENABLED].eType == SQLITE_INTEGER &&
                    aRow[SV_FLAG_ENABLED].i != 0;
      f->bHasRollout = aRow[SV_FLAG_ROLLOUT].eType == SQLITE_INTEGER;
      f->iRollout = aRow[SV_FLAG_ROLLOUT].i;
      aiJson[0] = SV_FLAG_STRATEGIES;
      aiJson[1] = SV_FLAG_VARIANTS;
      aiJson[2] = SV_FLAG_DEPENDENCIES;
      nJson = 3;
    }
    for (i = 0; i < nJson; i++) {
      const statevtab_value *v = &aRow[aiJson[i]];
      if (v->eType != SQLITE_TEXT) continue;
      *appJ[i] = cJSON_ParseWithLength(v->z, (size_t)v->n);
      if (!*appJ[i] && sv_json_valid(v->z, v->n)) x->rc = SQLITE_NOMEM;
    }
  }
  sqlite3_free(aRow);
  if (f->bExists && x->rc == SQLITE_OK) {
    x->rc = compileFlag(f, p->pEntity == sv_entity_segments);
  }
  if (!f->zName || x->rc != SQLITE_OK) {
    if (x->rc == SQLITE_OK) x->rc = SQLITE_NOMEM;
    flagFree(f);
    return 0;
  }
  f->pNext = pc->pList;
  pc->pList = f;
  return f;
}

/* The flag zName of the flags table, from the cache or the store. */
static Flag *loadFlag(Eval *x, const char *zName) {
  statevtab_value key;
  memset(&key, 0, sizeof(key));
  key.eType = SQLITE_TEXT;
  key.z = zName;
  key.n = (int)strlen(zName);
  return loadEntry(x, x->p, &key, zName);
}

/*
** Do the segments that strategy s names ("segments": [ids]) hold, every
** constraint of each?  None named: they do.  A segment that is not there
** (no segments table, no such id, an id that is not an integer, a
** "segments" that is not an array) makes the strategy false, as in the
** SDKs.  Errors (a segments= table gone, the store) go to x->rc.
*/
static int segmentsHold(Eval *x, const cJSON *s, int *pbOom) {
  const cJSON *pIds = cJSON_GetObjectItemCaseSensitive(s, "segments"), *v;
  if (!pIds || cJSON_IsNull(pIds)) return 1;
  if (!cJSON_IsArray(pIds)) return 0;
  if (!pIds->child) return 1;
  if (!x->bSegDone) {
    int rc =
        sv_linked_table(x->p, "segments", "state_segments", &x->pSeg, &x->zErr);
    x->bSegDone = 1;
    if (rc != SQLITE_OK) {
      x->rc = rc;
      return 0;
    }
  }
  if (!x->pSeg) return 0;
  cJSON_ArrayForEach(v, pIds) {
    statevtab_value key;
    char zKey[24];
    Flag *g;
    int b;
    memset(&key, 0, sizeof(key));
    if (!cJSON_IsNumber(v) || !sv_real_int(v->valuedouble, &key.i)) return 0;
    key.eType = SQLITE_INTEGER;
    sqlite3_snprintf(sizeof(zKey), zKey, "%lld", key.i);
    g = loadEntry(x, x->pSeg, &key, zKey);
    if (!g || !g->bExists) return 0;
    g->nBusy++;
    b = g->nStrat
            ? consHold(&x->c, g->aStrat[0].aCons, g->aStrat[0].nCons, pbOom)
            : 1;
    g->nBusy--;
    if (!b) return 0;
  }
  return 1;
}

/* ---------------------------------------------------------- evaluation */

static const cJSON *variantOf(Eval *x, Flag *f, int *pbEnabled);

/*
** Is flag f on?  *ppStrategy gets the strategy that matched (for its
** variants), or NULL.  bAsParent: evaluating a dependency (no further
** dependencies allowed).
*/
static int isOnInner(Eval *x, Flag *f, const cJSON **ppStrategy, int bAsParent);

static int isOn(Eval *x, Flag *f, const cJSON **ppStrategy, int bAsParent) {
  int b;
  if (ppStrategy) *ppStrategy = 0;
  if (!f || !f->bExists || !f->bEnabled) return 0;
  f->nBusy++;
  b = isOnInner(x, f, ppStrategy, bAsParent);
  f->nBusy--;
  return b;
}

static int isOnInner(Eval *x, Flag *f, const cJSON **ppStrategy,
                     int bAsParent) {
  const cJSON *s, *d;
  int bOom = 0, b = 0;
  const char *zSaved = x->c.zFeature;
  if (cJSON_GetArraySize(f->pDeps) > 0) {
    if (bAsParent) return 0; /* Unleash: no transitive dependencies */
    cJSON_ArrayForEach(d, f->pDeps) {
      const char *zParent =
          cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "feature"));
      const cJSON *pWant = cJSON_GetObjectItemCaseSensitive(d, "enabled");
      const cJSON *pVariants = cJSON_GetObjectItemCaseSensitive(d, "variants");
      Flag *pParent;
      int bParent;
      if (!zParent) return 0;
      pParent = loadFlag(x, zParent);
      if (!pParent) {
        if (x->rc != SQLITE_OK) return 0;
      }
      if (!pParent || !pParent->bExists) return 0;
      if (cJSON_GetArraySize(pParent->pDeps) > 0) return 0;
      bParent = isOn(x, pParent, 0, 1);
      if (cJSON_IsFalse(pWant)) {
        if (bParent) return 0;
      } else {
        if (!bParent) return 0;
        if (cJSON_GetArraySize(pVariants) > 0) {
          int bEn = 0, bFound = 0;
          const cJSON *pv = variantOf(x, pParent, &bEn), *w;
          const char *zV =
              pv ? cJSON_GetStringValue(
                       cJSON_GetObjectItemCaseSensitive(pv, "name"))
                 : "disabled";
          cJSON_ArrayForEach(w, pVariants) {
            if (cJSON_IsString(w) && zV && strcmp(w->valuestring, zV) == 0) {
              bFound = 1;
            }
          }
          if (!bFound) return 0;
        }
      }
    }
  }
  x->c.zFeature = f->zName;
  if (cJSON_GetArraySize(f->pStrategies) == 0) {
    if (!f->bHasRollout) {
      b = 1;
    } else {
      /* rollout alone: a flexibleRollout, default stickiness, groupId =
      ** the flag's name */
      b = inRollout(stickiness(&x->c, 0), f->zName, (double)f->iRollout, &bOom);
    }
  } else {
    int i = 0;
    cJSON_ArrayForEach(s, f->pStrategies) {
      const Strat *t = &f->aStrat[i++];
      if (consHold(&x->c, t->aCons, t->nCons, &bOom) &&
          segmentsHold(x, s, &bOom) &&
          (t->bFlex ? flexMatches(&x->c, t, &bOom)
                    : strategyMatches(&x->c, s, &bOom))) {
        if (ppStrategy) *ppStrategy = s;
        b = 1;
        break;
      }
    }
  }
  x->c.zFeature = zSaved;
  if (bOom) {
    x->rc = SQLITE_NOMEM;
    return 0;
  }
  return b;
}

/*
** The variant of flag f as getVariant chooses it: a matched strategy's
** variants first, else the flag's.  NULL: "disabled".  *pbEnabled: whether
** the flag is on.
*/
static const cJSON *variantOf(Eval *x, Flag *f, int *pbEnabled) {
  const cJSON *pStrategy = 0, *pVariants, *v;
  int bOom = 0;
  *pbEnabled = isOn(x, f, &pStrategy, 0);
  if (!*pbEnabled) return 0;
  pVariants =
      pStrategy ? cJSON_GetObjectItemCaseSensitive(pStrategy, "variants") : 0;
  if (cJSON_GetArraySize(pVariants) > 0) {
    const cJSON *pParams =
        cJSON_GetObjectItemCaseSensitive(pStrategy, "parameters");
    const char *zGroup = param(pParams, "groupId", &x->c);
    /* variants[0].stickiness, else the strategy's own stickiness */
    v = chooseVariant(&x->c, pVariants, zGroup ? zGroup : f->zName,
                      param(pParams, "stickiness", &x->c), &bOom);
    if (v) return v;
  }
  if (bOom) {
    x->rc = SQLITE_NOMEM;
    return 0;
  }
  if (cJSON_GetArraySize(f->pVariants) == 0) return 0;
  v = chooseVariant(&x->c, f->pVariants, f->zName, 0, &bOom);
  if (bOom) x->rc = SQLITE_NOMEM;
  return v;
}

/* Set up an evaluation: the table, the flag name, the context.  Reports
** its own errors and returns 0 on failure. */
static int evalInit(Eval *x, sqlite3_context *ctx, const char *zFunc, int argc,
                    sqlite3_value **argv) {
  sv_conn *pConn = sv_fn_conn(ctx);
  char *zErr = 0;
  int rc;
  memset(x, 0, sizeof(*x));
  x->ctx = ctx;
  x->zFunc = zFunc;
  x->c.now = sv_now_ms();
  rc = sv_arg_table(pConn, zFunc, argv[0], "state_flags", &x->p, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) {
      sqlite3_result_error(ctx, zErr, -1);
      sqlite3_result_error_code(ctx, rc);
      sqlite3_free(zErr);
    } else {
      sqlite3_result_error_nomem(ctx);
    }
    return 0;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR, "name must be text");
    return 0;
  }
  x->c.nM = 0; /* no context: nothing indexed, nothing found */
  x->c.iProps = -1;
  if (argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_NULL) {
    int eType = sqlite3_value_type(argv[2]), e, nM, i;
    const char *z = (const char *)sqlite3_value_text(argv[2]);
    int n = sqlite3_value_bytes(argv[2]);
    if (!z) {
      sqlite3_result_error_nomem(ctx);
      return 0;
    }
    if (eType != SQLITE_TEXT) {
      sv_fn_error(ctx, zFunc, SQLITE_ERROR, "context must be a JSON object");
      return 0;
    }
    /* Indexed in place: no parse tree, no allocation, for a context of
    ** at most CTX_MAX_MEMBERS members (and those of its objects). */
    e = sv_json_index(z, n, x->c.aM, CTX_MAX_MEMBERS, &nM);
    if (e != SV_JSON_OK) {
      sv_fn_error(ctx, zFunc, SQLITE_ERROR, "context %s", sv_json_problem(e));
      return 0;
    }
    for (i = 0;
         i < n && (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r');
         i++) {
    }
    if (z[i] != '{') {
      sv_fn_error(ctx, zFunc, SQLITE_ERROR, "context must be a JSON object");
      return 0;
    }
    if (nM <= CTX_MAX_MEMBERS) {
      const sv_json_member *m;
      x->c.zJson = z;
      x->c.nM = nM;
      m = ctxFind(&x->c, -1, "properties");
      if (m && z[m->iVal] == '{') x->c.iProps = (int)(m - x->c.aM);
    } else {
      x->c.nM = -1;
      x->c.pRoot = cJSON_ParseWithLength(z, (size_t)n);
      if (!x->c.pRoot) {
        sqlite3_result_error_nomem(ctx);
        return 0;
      }
    }
  }
  return 1;
}

/* Report x->rc (a store error or OOM) if set; returns 1 if it did. */
static int evalFailed(Eval *x) {
  if (x->rc == SQLITE_OK && x->c.bOom) x->rc = SQLITE_NOMEM;
  if (x->rc == SQLITE_OK) return 0;
  if (x->zErr) {
    sv_fn_error(x->ctx, x->zFunc, x->rc, "%s", x->zErr);
  } else if (x->rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(x->ctx);
  } else {
    char *z = sv_table_error(x->p, x->rc);
    sv_fn_error(x->ctx, x->zFunc, z ? x->rc : SQLITE_NOMEM, "%s", z);
    sqlite3_free(z);
  }
  return 1;
}

/* state_flag(flags, name [, context]) -> 1 | 0 (unknown flags are off) */
void sv_fn_flag(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Eval x;
  Flag *f;
  int b;
  if (!evalInit(&x, ctx, "state_flag", argc, argv)) return;
  f = loadFlag(&x, (const char *)sqlite3_value_text(argv[1]));
  b = f ? isOn(&x, f, 0, 0) : 0;
  if (!evalFailed(&x)) sqlite3_result_int(ctx, b);
  ctxFree(&x.c);
  sqlite3_free(x.zErr);
}

/* state_variant(flags, name [, context]) -> {"name","enabled","payload"?,
** "feature_enabled"} as Unleash's getVariant */
void sv_fn_variant(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Eval x;
  Flag *f;
  const cJSON *v = 0;
  int bEnabled = 0;
  sqlite3_str *s;
  char *zOut;
  if (!evalInit(&x, ctx, "state_variant", argc, argv)) return;
  f = loadFlag(&x, (const char *)sqlite3_value_text(argv[1]));
  if (f) v = variantOf(&x, f, &bEnabled);
  if (evalFailed(&x)) {
    ctxFree(&x.c);
    sqlite3_free(x.zErr);
    return;
  }
  s = sqlite3_str_new(0);
  if (v) {
    const cJSON *pName = cJSON_GetObjectItemCaseSensitive(v, "name");
    const cJSON *pPayload = cJSON_GetObjectItemCaseSensitive(v, "payload");
    char *zName =
        cJSON_PrintUnformatted(pName ? pName : cJSON_GetObjectItem(v, "name"));
    sqlite3_str_appendf(s, "{\"name\":%s,\"enabled\":true",
                        zName ? zName : "null");
    cJSON_free(zName);
    if (pPayload) {
      char *zP = cJSON_PrintUnformatted(pPayload);
      if (zP) sqlite3_str_appendf(s, ",\"payload\":%s", zP);
      cJSON_free(zP);
    }
    sqlite3_str_appendall(s, ",\"feature_enabled\":true}");
  } else {
    sqlite3_str_appendf(s,
                        "{\"name\":\"disabled\",\"enabled\":false,"
                        "\"feature_enabled\":%s}",
                        bEnabled ? "true" : "false");
  }
  zOut = sqlite3_str_finish(s);
  ctxFree(&x.c);
  sqlite3_free(x.zErr);
  if (!zOut) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, zOut, -1, sqlite3_free);
}

/*
** state_bucket(group_id, value [, normalizer [, seed]]) -> Unleash's
** normalizedValue: murmurhash3("<group_id>:<value>", seed) % normalizer + 1
** (defaults 100 and 0: the rollout bucket; variants use seed 86028157 and
** the total weight).  Pure: for checking rollouts and debugging.
*/
void sv_fn_bucket(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *zGroup = (const char *)sqlite3_value_text(argv[0]);
  const char *zId = (const char *)sqlite3_value_text(argv[1]);
  sqlite3_int64 iNorm = 100, iSeed = 0;
  unsigned int h;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
      sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    return; /* NULL in, NULL out */
  }
  if (!zGroup || !zId) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (argc > 2) iNorm = sqlite3_value_int64(argv[2]);
  if (argc > 3) iSeed = sqlite3_value_int64(argv[3]);
  if ((argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_INTEGER) ||
      (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_INTEGER) ||
      iNorm < 1 || iNorm > 0xffffffffLL || iSeed < 0 || iSeed > 0xffffffffLL) {
    sv_fn_error(ctx, "state_bucket", SQLITE_ERROR,
                "normalizer must be an integer from 1 to 4294967295 and seed "
                "one from 0 to 4294967295");
    return;
  }
  if (bucketHash(zId, zGroup, (unsigned int)iSeed, &h) != SQLITE_OK) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_int64(ctx, (sqlite3_int64)(h % (sqlite3_uint64)iNorm) + 1);
}
