/*
** 2026-12-03
**
** cron.c -- cron expressions and time zones, for state_schedules and
** state_cron_next().  One implementation, in the virtual-table layer; the
** stores only ever see the millisecond times computed here.
**
** USAGE
**
**   sv_cron c;  sv_tz *pTz;  sqlite3_int64 iNext;
**   if (sv_cron_parse("0 9-17 * * MON-FRI", &c, &zErr)) ...error...
**   if (sv_tz_load("Europe/Berlin", &pTz, &zErr)) ...error...
**   if (sv_cron_next(&c, pTz, iAfterMs, &iNext) == SQLITE_OK) ...
**   sv_tz_free(pTz);
**
** SYNTAX
**
** Five fields, minute hour day-of-month month day-of-week, or six with a
** leading seconds field.  Each field is a comma list of '*', N, N-M, each
** optionally followed by /STEP (N/STEP means N to the field's end).  Months
** and days may be written JAN-DEC and SUN-SAT (any case); day-of-week 7 is
** Sunday as 0 is.  As in Vixie cron, when both day-of-month and day-of-week
** are restricted (neither starts with '*'), a day matches when either does;
** otherwise both must.  Macros: @yearly, @annually, @monthly, @weekly,
** @daily, @midnight, @hourly.
**
** HOW IT WORKS
**
** The UTC time line is cut into segments of constant UTC offset (the
** zone's transitions: the TZif file's table, then the POSIX TZ rule of its
** v2+ footer for later years).  In each segment, the first matching local
** (civil) time is found by skipping whole months, days, hours, minutes and
** seconds that do not match, and mapped back with the segment's offset.
** DST: the local times skipped by a spring-forward gap run once, at the
** moment of the change, if any of them matches; a local time repeated by a
** fall-back runs at its first instant only, unless the hour field is '*'
** (then at both, so that "every N minutes" keeps its rhythm).  The zone
** file is read on each load; TZ is never touched (setenv is not
** thread-safe).
*/
#include "svint.h"

#include <stdio.h>
#include <stdlib.h>

#define CRON_SEARCH_YEARS 10 /* no occurrence within: it never runs */

/* ------------------------------------------------------------ calendar */

/* Days since 1970-01-01 of civil date y-m-d (Howard Hinnant's algorithm);
** also used by ext/flags.c. */
sqlite3_int64 sv_days_from_civil(sqlite3_int64 y, int m, int d) {
  sqlite3_int64 era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civilFromDays(sqlite3_int64 z, sqlite3_int64 *py, int *pm,
                          int *pd) {
  sqlite3_int64 era, doe, yoe, y, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *pd = (int)(doy - (153 * mp + 2) / 5 + 1);
  *pm = (int)(mp < 10 ? mp + 3 : mp - 9);
  *py = y + (*pm <= 2);
}

static int isLeap(sqlite3_int64 y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
static int monthDays(sqlite3_int64 y, int m) {
  static const int a[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : a[m - 1];
}

static sqlite3_int64 floorDiv(sqlite3_int64 a, sqlite3_int64 b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* --------------------------------------------------------------- parse */

static const char *const azMon[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const azDow[] = {"SUN", "MON", "TUE", "WED",
                                    "THU", "FRI", "SAT"};

/* One number or name at *pz; -1 when there is none. */
static int fieldValue(const char **pz, int iField) {
  const char *z = *pz;
  int v = 0, n = 0;
  if ((iField == 4 || iField == 5) && ((z[0] | 0x20) >= 'a') &&
      ((z[0] | 0x20) <= 'z')) {
    const char *const *az = iField == 4 ? azMon : azDow;
    int nName = iField == 4 ? 12 : 7, k;
    for (k = 0; k < nName; k++) {
      if (sqlite3_strnicmp(z, az[k], 3) == 0) {
        *pz = z + 3;
        return iField == 4 ? k + 1 : k;
      }
    }
    return -1;
  }
  while (z[n] >= '0' && z[n] <= '9' && n < 4) v = v * 10 + (z[n++] - '0');
  if (n == 0 || (z[n] >= '0' && z[n] <= '9')) return -1;
  *pz = z + n;
  return v;
}

static const struct {
  const char *zName;
  int iMin, iMax;
} aField[] = {{"second", 0, 59}, {"minute", 0, 59},
              {"hour", 0, 23},   {"day of month", 1, 31},
              {"month", 1, 12},  {"day of week", 0, 7}};

/*
** Parse field iField (0 seconds ... 5 day of week) from z[0..n) into *pm.
** Returns 0, or 1 with *pzErr set.
*/
static int parseField(const char *z, int n, int iField, sqlite3_uint64 *pm,
                      int *pbStar, char **pzErr) {
  const char *zEnd = z + n, *zStart = z;
  int lo = aField[iField].iMin, hi = aField[iField].iMax;
  *pm = 0;
  *pbStar = z[0] == '*';
  while (z < zEnd) {
    int a, b, step = 1, v;
    if (*z == '*') {
      a = lo;
      b = hi;
      z++;
    } else {
      a = fieldValue(&z, iField);
      if (a < 0) goto bad;
      b = a;
      if (z < zEnd && *z == '-') {
        z++;
        b = fieldValue(&z, iField);
        if (b < 0) goto bad;
      }
    }
    if (z < zEnd && *z == '/') {
      z++;
      step = fieldValue(&z, 0);
      if (step <= 0) goto bad;
      if (a == b && zStart[0] != '*') b = hi;
    }
    if (a > b) goto bad;
    if (a < lo || b > hi) {
      *pzErr = sqlite3_mprintf("%s out of range %d-%d (got '%.*s')",
                               aField[iField].zName, lo, hi, n, zStart);
      return 1;
    }
    for (v = a; v <= b; v += step) *pm |= (sqlite3_uint64)1 << v;
    if (z < zEnd) {
      if (*z != ',' || z + 1 == zEnd) goto bad;
      z++;
    }
  }
  if (iField == 5 && (*pm & (1u << 7))) *pm = (*pm | 1) & 0x7f;
  return 0;
bad:
  *pzErr =
      sqlite3_mprintf("bad %s field '%.*s'", aField[iField].zName, n, zStart);
  return 1;
}

int sv_cron_parse(const char *zExpr, sv_cron *p, char **pzErr) {
  static const struct {
    const char *zMacro, *zExpr;
  } aMacro[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                {"@hourly", "0 * * * *"}};
  const char *z = zExpr, *az[6];
  int an[6], nField = 0, i, k;
  sqlite3_uint64 aM[6];
  int abStar[6];
  memset(p, 0, sizeof(*p));
  *pzErr = 0;
  while (*z == ' ' || *z == '\t') z++;
  if (*z == '@') {
    int n = 0;
    while (z[n] && z[n] != ' ' && z[n] != '\t') n++;
    for (k = 0; k < (int)(sizeof(aMacro) / sizeof(aMacro[0])); k++) {
      if ((int)strlen(aMacro[k].zMacro) == n &&
          sqlite3_strnicmp(z, aMacro[k].zMacro, n) == 0) {
        const char *zRest = z + n;
        while (*zRest == ' ' || *zRest == '\t') zRest++;
        if (*zRest) break;
        return sv_cron_parse(aMacro[k].zExpr, p, pzErr);
      }
    }
    *pzErr = sqlite3_mprintf("unknown macro '%s' (@yearly, @annually, "
                             "@monthly, @weekly, @daily, @midnight, @hourly)",
                             zExpr);
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  while (*z) {
    int n = 0;
    while (z[n] && z[n] != ' ' && z[n] != '\t') n++;
    if (nField == 6) {
      nField++;
      break;
    }
    az[nField] = z;
    an[nField++] = n;
    z += n;
    while (*z == ' ' || *z == '\t') z++;
  }
  if (nField != 5 && nField != 6) {
    *pzErr = sqlite3_mprintf("expected 5 fields (minute hour day-of-month "
                             "month day-of-week), 6 with seconds first, or "
                             "a macro such as @daily (got '%s')",
                             zExpr);
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  for (i = 0; i < 6; i++) {
    int j = nField == 6 ? i : i - 1;
    if (j < 0) {
      aM[0] = 1;
      abStar[0] = 0;
      continue;
    }
    if (parseField(az[j], an[j], i, &aM[i], &abStar[i], pzErr)) {
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
  }
  p->mSec = aM[0];
  p->mMin = aM[1];
  p->mHour = aM[2];
  p->mDom = aM[3];
  p->mMon = aM[4];
  p->mDow = aM[5];
  p->bDomStar = abStar[3];
  p->bDowStar = abStar[5];
  p->bHourStar = abStar[2];
  return SQLITE_OK;
}

/* ----------------------------------------------------------- time zones */

/* A POSIX TZ rule's date (Mm.w.d, Jn or n) and time of day in seconds. */
typedef struct TzDate {
  char eKind; /* 'M', 'J' or 'N' */
  int m, w, d, n;
  int iSecs;
} TzDate;

struct sv_tz {
  int nTrans;
  sqlite3_int64 *aTrans; /* transition times, UTC seconds */
  int *aOff;             /* offset after each transition */
  int iOff0;             /* offset before the first transition */
  int bRule;             /* a POSIX rule for times after the table */
  int iStd, iDst;        /* its offsets (east of UTC, seconds) */
  int bDst;              /* it has daylight time */
  TzDate start, end;
};

static const char *ruleName(const char *z) {
  if (*z == '<') {
    while (*z && *z != '>') z++;
    return *z ? z + 1 : 0;
  }
  if (!((*z | 0x20) >= 'a' && (*z | 0x20) <= 'z')) return 0;
  while ((*z | 0x20) >= 'a' && (*z | 0x20) <= 'z') z++;
  return z;
}

/* [+-]h[:mm[:ss]] in seconds; NULL on a syntax error. */
static const char *ruleTime(const char *z, int *piSecs) {
  int sign = 1, a[3] = {0, 0, 0}, k = 0;
  if (*z == '+' || *z == '-') sign = *z++ == '-' ? -1 : 1;
  if (!(*z >= '0' && *z <= '9')) return 0;
  for (;;) {
    while (*z >= '0' && *z <= '9') a[k] = a[k] * 10 + (*z++ - '0');
    if (*z != ':' || k == 2) break;
    z++;
    k++;
  }
  *piSecs = sign * (a[0] * 3600 + a[1] * 60 + a[2]);
  return z;
}

static const char *ruleDate(const char *z, TzDate *p) {
  char *zEnd;
  p->iSecs = 7200;
  if (*z == 'M') {
    p->eKind = 'M';
    p->m = (int)strtol(z + 1, &zEnd, 10);
    if (*zEnd != '.') return 0;
    p->w = (int)strtol(zEnd + 1, &zEnd, 10);
    if (*zEnd != '.') return 0;
    p->d = (int)strtol(zEnd + 1, &zEnd, 10);
    if (p->m < 1 || p->m > 12 || p->w < 1 || p->w > 5 || p->d < 0 || p->d > 6)
      return 0;
  } else if (*z == 'J' || (*z >= '0' && *z <= '9')) {
    p->eKind = *z == 'J' ? 'J' : 'N';
    p->n = (int)strtol(z + (*z == 'J'), &zEnd, 10);
  } else {
    return 0;
  }
  z = zEnd;
  if (*z == '/') z = ruleTime(z + 1, &p->iSecs);
  return z;
}

/* Parse a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static int parseRule(sv_tz *p, const char *z) {
  int iStd;
  if (!(z = ruleName(z)) || !(z = ruleTime(z, &iStd))) return 1;
  p->iStd = p->iDst = -iStd;
  if (*z) {
    if (!(z = ruleName(z))) return 1;
    p->iDst = p->iStd + 3600;
    if (*z && *z != ',') {
      int iDst;
      if (!(z = ruleTime(z, &iDst))) return 1;
      p->iDst = -iDst;
    }
    if (*z++ != ',' || !(z = ruleDate(z, &p->start))) return 1;
    if (*z++ != ',' || !(z = ruleDate(z, &p->end))) return 1;
    p->bDst = 1;
  }
  p->bRule = *z == 0;
  return !p->bRule;
}

/* UTC seconds of rule date d in year y, its local time read with offset. */
static sqlite3_int64 ruleWhen(const TzDate *d, sqlite3_int64 y, int iOff) {
  sqlite3_int64 day;
  if (d->eKind == 'M') {
    sqlite3_int64 first = sv_days_from_civil(y, d->m, 1);
    int dow = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01: Thursday */
    int dd = 1 + (d->d - dow + 7) % 7 + (d->w - 1) * 7;
    while (dd > monthDays(y, d->m)) dd -= 7;
    day = first + dd - 1;
  } else if (d->eKind == 'J') {
    day = sv_days_from_civil(y, 1, 1) + d->n - 1;
    if (isLeap(y) && d->n >= 60) day++;
  } else {
    day = sv_days_from_civil(y, 1, 1) + d->n;
  }
  return day * 86400 + d->iSecs - iOff;
}

/*
** The offset in force at UTC second t, and the next instant after t at
** which it changes (*piNext: LARGEST_INT64 when it never does).
*/
static void tzAt(const sv_tz *p, sqlite3_int64 t, int *piOff,
                 sqlite3_int64 *piNext) {
  *piNext = LARGEST_INT64;
  if (!p) {
    *piOff = 0;
    return;
  }
  if (p->nTrans > 0 && t < p->aTrans[p->nTrans - 1]) {
    int lo = 0, hi = p->nTrans - 1; /* first transition > t */
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (p->aTrans[mid] > t)
        hi = mid;
      else
        lo = mid + 1;
    }
    *piOff = lo == 0 ? p->iOff0 : p->aOff[lo - 1];
    *piNext = p->aTrans[lo];
    return;
  }
  if (!p->bRule) {
    *piOff = p->nTrans ? p->aOff[p->nTrans - 1] : p->iOff0;
    return;
  }
  if (!p->bDst) {
    *piOff = p->iStd;
    return;
  }
  {
    sqlite3_int64 y, yy;
    int m, d;
    civilFromDays(floorDiv(t, 86400), &y, &m, &d);
    /* The instants of the years around t, in order; the offset is that
    ** after the last instant <= t. */
    for (yy = y - 1; yy <= y + 1; yy++) {
      sqlite3_int64 s = ruleWhen(&p->start, yy, p->iStd);
      sqlite3_int64 e = ruleWhen(&p->end, yy, p->iDst);
      sqlite3_int64 a[2] = {s < e ? s : e, s < e ? e : s};
      int aO[2] = {s < e ? p->iDst : p->iStd, s < e ? p->iStd : p->iDst};
      int k;
      for (k = 0; k < 2; k++) {
        if (a[k] <= t)
          *piOff = aO[k];
        else if (*piNext == LARGEST_INT64)
          *piNext = a[k];
      }
    }
    if (p->nTrans > 0 && *piNext <= p->aTrans[p->nTrans - 1]) {
      *piNext = LARGEST_INT64; /* (cannot happen: t is past the table) */
    }
  }
}

static sqlite3_int64 be(const unsigned char *a, int n) {
  sqlite3_uint64 v = 0;
  int i;
  for (i = 0; i < n; i++) v = (v << 8) | a[i];
  if (n == 4) return (sqlite3_int64)(int)(unsigned)v;
  return (sqlite3_int64)v;
}

void sv_tz_free(sv_tz *p) {
  if (p) {
    sqlite3_free(p->aTrans);
    sqlite3_free(p);
  }
}

/* Whether zName may name a zone file: letters, digits, '_', '-', '+',
** '/' between parts, no "." part (so no way out of the directory). */
static int tzNameOk(const char *z) {
  int i;
  if (!z[0] || z[0] == '/' || strlen(z) > 128) return 0;
  for (i = 0; z[i]; i++) {
    char c = z[i];
    if (c == '.' && (i == 0 || z[i - 1] == '/')) return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' ||
          c == '/' || c == '.')) {
      return 0;
    }
  }
  return 1;
}

/*
** Load zone zName: NULL for 'UTC' (and NULL or empty zName), else the
** rules read from /usr/share/zoneinfo/<zName> (or $TZDIR).  Returns
** SQLITE_OK, SQLITE_NOMEM, or SQLITE_ERROR with *pzErr (the caller frees)
** for an unknown or unreadable zone.
*/
int sv_tz_load(const char *zName, sv_tz **ppTz, char **pzErr) {
  const char *zDir = getenv("TZDIR");
  char *zPath = 0;
  unsigned char *a = 0;
  sv_tz *p = 0;
  FILE *f = 0;
  long n = 0;
  int rc = SQLITE_ERROR;
  *ppTz = 0;
  *pzErr = 0;
  if (!zName || !zName[0] || strcmp(zName, "UTC") == 0) return SQLITE_OK;
  if (!tzNameOk(zName)) goto unknown;
  zPath = sqlite3_mprintf(
      "%s/%s", zDir && zDir[0] ? zDir : "/usr/share/zoneinfo", zName);
  if (!zPath) return SQLITE_NOMEM;
  f = fopen(zPath, "rb");
  if (!f) goto unknown;
  a = sqlite3_malloc64(1 << 20);
  if (!a) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  n = (long)fread(a, 1, 1 << 20, f);
  if (n < 44 || memcmp(a, "TZif", 4) != 0) goto unknown;
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  memset(p, 0, sizeof(*p));
  {
    /* v1 header and block, then (v2+) the 64-bit header, block, footer. */
    const unsigned char *h = a;
    int v2 = a[4] >= '2', sz = 4, k;
    long off = 0;
    sqlite3_int64 isutc, isstd, leap, time, type, chr;
    for (k = 0; k < 2; k++) {
      if (off + 44 > n) goto unknown;
      h = a + off;
      isutc = be(h + 20, 4);
      isstd = be(h + 24, 4);
      leap = be(h + 28, 4);
      time = be(h + 32, 4);
      type = be(h + 36, 4);
      chr = be(h + 40, 4);
      if (k == 1 || !v2) break;
      off += 44 + time * 5 + type * 6 + chr + leap * 8 + isstd + isutc;
      sz = 8;
    }
    {
      const unsigned char *t = h + 44, *ix = t + time * sz, *tt = ix + time,
                          *zFoot;
      long end =
          (long)(tt - a) + type * 6 + chr + leap * (sz + 4) + isstd + isutc;
      if (type < 1 || end > n) goto unknown;
      p->aTrans = sqlite3_malloc64((time + 1) * (sizeof(sqlite3_int64) + 4));
      if (!p->aTrans) {
        rc = SQLITE_NOMEM;
        goto done;
      }
      p->aOff = (int *)(p->aTrans + time + 1);
      p->nTrans = (int)time;
      for (k = 0; k < time; k++) {
        int ti = ix[k];
        if (ti >= type) goto unknown;
        p->aTrans[k] = be(t + k * sz, sz);
        p->aOff[k] = (int)be(tt + ti * 6, 4);
      }
      /* Before the first transition: the first standard-time type. */
      p->iOff0 = (int)be(tt, 4);
      for (k = 0; k < type; k++) {
        if (!tt[k * 6 + 4]) {
          p->iOff0 = (int)be(tt + k * 6, 4);
          break;
        }
      }
      zFoot = a + end;
      if (sz == 8 && end < n && *zFoot == '\n') {
        char zRule[128];
        int m = 0;
        zFoot++;
        while (zFoot + m < a + n && zFoot[m] != '\n' && m < 127) m++;
        memcpy(zRule, zFoot, m);
        zRule[m] = 0;
        if (m > 0 && parseRule(p, zRule)) goto unknown;
      }
    }
  }
  *ppTz = p;
  p = 0;
  rc = SQLITE_OK;
  goto done;
unknown:
  *pzErr = sqlite3_mprintf("unknown time zone '%s'", zName);
  rc = *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
done:
  if (f) fclose(f);
  sv_tz_free(p);
  sqlite3_free(a);
  sqlite3_free(zPath);
  return rc;
}

/* ------------------------------------------------------------- search */

static int dayMatches(const sv_cron *c, sqlite3_int64 y, int m, int d) {
  int dow = (int)(((sv_days_from_civil(y, m, d) + 4) % 7 + 7) % 7);
  int bDom = (c->mDom >> d) & 1, bDow = (c->mDow >> dow) & 1;
  if (c->bDomStar || c->bDowStar) return bDom && bDow;
  return bDom || bDow;
}

/*
** The first local time (seconds, as if UTC) >= c0 and < cEnd that matches
** c, in *pc; 0 when found, 1 when none.
*/
static int civilFirst(const sv_cron *c, sqlite3_int64 c0, sqlite3_int64 cEnd,
                      sqlite3_int64 *pc) {
  sqlite3_int64 day = floorDiv(c0, 86400), y;
  int secs = (int)(c0 - day * 86400), m, d, h, mi, s;
  civilFromDays(day, &y, &m, &d);
  h = secs / 3600;
  mi = secs / 60 % 60;
  s = secs % 60;
  for (;;) {
    sqlite3_int64 cur =
        sv_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
    if (cur >= cEnd) return 1;
    if (!((c->mMon >> m) & 1)) {
      if (++m > 12) {
        m = 1;
        y++;
      }
      d = 1;
      h = mi = s = 0;
      continue;
    }
    if (!dayMatches(c, y, m, d)) {
      if (++d > monthDays(y, m)) {
        d = 1;
        if (++m > 12) {
          m = 1;
          y++;
        }
      }
      h = mi = s = 0;
      continue;
    }
    if (!((c->mHour >> h) & 1)) {
      mi = s = 0;
      if (++h == 24) {
        h = 0;
        if (++d > monthDays(y, m)) {
          d = 1;
          if (++m > 12) {
            m = 1;
            y++;
          }
        }
      }
      continue;
    }
    if (!((c->mMin >> mi) & 1)) {
      s = 0;
      if (++mi == 60) {
        mi = 0;
        cur = sv_days_from_civil(y, m, d) * 86400 + (h + 1) * 3600;
        goto reload;
      }
      continue;
    }
    if (!((c->mSec >> s) & 1)) {
      if (++s == 60) {
        cur = sv_days_from_civil(y, m, d) * 86400 + h * 3600 + (mi + 1) * 60;
        goto reload;
      }
      continue;
    }
    *pc = cur;
    return 0;
  reload:
    day = floorDiv(cur, 86400);
    secs = (int)(cur - day * 86400);
    civilFromDays(day, &y, &m, &d);
    h = secs / 3600;
    mi = secs / 60 % 60;
    s = secs % 60;
  }
}

/*
** The first occurrence of c in zone pTz (NULL: UTC) strictly after
** iAfterMs, in *piNextMs (whole seconds, in ms).  SQLITE_OK, or
** SQLITE_DONE when there is none within CRON_SEARCH_YEARS (an expression
** such as "0 0 30 2 *" never runs).
*/
int sv_cron_next(const sv_cron *c, const sv_tz *pTz, sqlite3_int64 iAfterMs,
                 sqlite3_int64 *piNextMs) {
  sqlite3_int64 t = floorDiv(iAfterMs, 1000) + 1; /* first candidate, UTC */
  sqlite3_int64 tLimit = t + (sqlite3_int64)CRON_SEARCH_YEARS * 366 * 86400;
  sqlite3_int64 tNext, cStart;
  int iOff;
  tzAt(pTz, t, &iOff, &tNext);
  cStart = t + iOff;
  while (t < tLimit) {
    sqlite3_int64 cEnd = tNext == LARGEST_INT64 ? tLimit + iOff : tNext + iOff;
    sqlite3_int64 cFound;
    int iOff2;
    sqlite3_int64 tNext2;
    if (cEnd > tLimit + iOff) cEnd = tLimit + iOff;
    if (!civilFirst(c, cStart, cEnd, &cFound)) {
      *piNextMs = (cFound - iOff) * 1000;
      return SQLITE_OK;
    }
    if (tNext == LARGEST_INT64 || tNext >= tLimit) break;
    /* Into the next segment. */
    tzAt(pTz, tNext, &iOff2, &tNext2);
    if (iOff2 > iOff) {
      /* A gap: local times [tNext+iOff, tNext+iOff2) never happen; if one
      ** matches, it runs once, at the change. */
      if (!civilFirst(c, tNext + iOff, tNext + iOff2, &cFound)) {
        *piNextMs = tNext * 1000;
        return SQLITE_OK;
      }
      cStart = tNext + iOff2;
    } else if (iOff2 < iOff && !c->bHourStar) {
      /* A repeat: local times [tNext+iOff2, tNext+iOff) come again; a
      ** fixed hour runs at their first instant only. */
      cStart = tNext + iOff;
    } else {
      cStart = tNext + iOff2;
    }
    t = tNext;
    iOff = iOff2;
    tNext = tNext2;
  }
  return SQLITE_DONE;
}

/*
** The latest occurrence of c at or before iAtMs, given that iFromMs (an
** occurrence, or a time before one) is at or before iAtMs: *piMs, or
** SQLITE_DONE when none lies in [iFromMs, iAtMs].  A binary search over
** sv_cron_next, as occurrences are not enumerated backwards.
*/
int sv_cron_latest(const sv_cron *c, const sv_tz *pTz, sqlite3_int64 iFromMs,
                   sqlite3_int64 iAtMs, sqlite3_int64 *piMs) {
  sqlite3_int64 lo = iFromMs - 1, hi = iAtMs, x;
  int rc = sv_cron_next(c, pTz, lo, &x);
  if (rc != SQLITE_OK || x > iAtMs) return SQLITE_DONE;
  /* Invariant: next(lo) <= iAtMs; find the largest such lo (to the second). */
  while (hi - lo > 1000) {
    sqlite3_int64 mid = lo + (hi - lo) / 2, y;
    if (sv_cron_next(c, pTz, mid, &y) == SQLITE_OK && y <= iAtMs)
      lo = mid;
    else
      hi = mid;
  }
  if (sv_cron_next(c, pTz, lo, &x) != SQLITE_OK) return SQLITE_DONE;
  for (;;) {
    sqlite3_int64 y;
    if (sv_cron_next(c, pTz, x, &y) != SQLITE_OK || y > iAtMs) break;
    x = y;
  }
  *piMs = x;
  return SQLITE_OK;
}

/*
** The first occurrence of expression zExpr in zone zTz (NULL: UTC) after
** iAfterMs: SQLITE_OK with *piNextMs, SQLITE_DONE when it never runs, or
** SQLITE_ERROR with *pzErr ("cron: ..." or "unknown time zone '...'", the
** caller frees), or SQLITE_NOMEM.
*/
int sv_cron_eval(const char *zExpr, const char *zTz, sqlite3_int64 iAfterMs,
                 sqlite3_int64 *piNextMs, char **pzErr) {
  sv_cron c;
  sv_tz *pTz = 0;
  char *zMsg = 0;
  int rc = sv_cron_parse(zExpr, &c, &zMsg);
  *pzErr = 0;
  if (rc == SQLITE_ERROR) {
    *pzErr = sqlite3_mprintf("cron: %s", zMsg);
    sqlite3_free(zMsg);
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  if (rc != SQLITE_OK) return rc;
  rc = sv_tz_load(zTz, &pTz, pzErr);
  if (rc != SQLITE_OK) return rc;
  rc = sv_cron_next(&c, pTz, iAfterMs, piNextMs);
  sv_tz_free(pTz);
  return rc;
}
