/*
** 2026-11-22
**
** svext.h -- the extension layer (ext/): the SQL functions and the entry
** point.  It sits on the virtual-table layer (vtab/svint.h) and never talks
** to a store's backend directly.
*/
#ifndef SVEXT_H
#define SVEXT_H

#include "svint.h"

/* One SQL function of the registration table in statevtab.c. */
typedef struct sv_func {
  const char *zName;
  int nArg;  /* -1: variable */
  int flags; /* SQLITE_UTF8 | SQLITE_INNOCUOUS/DIRECTONLY | ... */
  void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
} sv_func;

/*
** The user data of every registered SQL function: the connection's state
** and the function itself, called through sv_fn_call so that the tables a
** call finds stay held until it returns (sv_conn_release).
*/
typedef struct sv_fnref {
  sv_conn *pConn;
  void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
} sv_fnref;
#define sv_fn_conn(ctx) (((sv_fnref *)sqlite3_user_data(ctx))->pConn)
void sv_fn_call(sqlite3_context *, int, sqlite3_value **);
void sv_fnref_free(void *);

/*
** ext/'s cache of one table (sv_vtab.pAux, the one slot the vtab layer keeps
** for ext/; made on first use by sv_ext_cache, freed with the table).
*/
typedef struct sv_flagcache sv_flagcache; /* flags.c */
typedef struct sv_extcache {
  sv_flagcache *pFlags;    /* flags.c: the flags read, by name */
  unsigned iNoLinkGen;     /* functions.c: "no linked table" (dead_letters */
  sqlite3_int64 iNoLinkAt; /* of tasks, segments of flags), seen at this
                           ** sv_conn.iRegGen and sv_mono_ms() (0: not) */
} sv_extcache;
sv_extcache *sv_ext_cache(sv_vtab *); /* NULL on OOM */
void sv_flag_cache_free(sv_flagcache *);

/* functions.c */
extern const sv_func sv_aFunc[];
extern const int sv_nFunc;
void sv_fn_error(sqlite3_context *, const char *zFunc, int rc, const char *zFmt,
                 ...);
int sv_arg_table(sv_conn *, const char *zFunc, sqlite3_value *pArg,
                 const char *zKind, sv_vtab **ppTab, char **pzErr);
sv_vtab *sv_fn_table(sqlite3_context *, const char *zFunc, sqlite3_value *pArg,
                     const char *zKind); /* NULL: error reported */
int sv_linked_table(sv_vtab *p, const char *zOpt, const char *zKind,
                    sv_vtab **ppOut, char **pzErr);
int sv_dead_letters(sv_vtab *pTasks, statevtab_table **ppDead, char **pzErr);
int sv_arg_int(sqlite3_value *pVal, const char *zWhat, sqlite3_int64 iMin,
               sqlite3_int64 iMax, sqlite3_int64 *piOut, char **pzErr);

/* redrive.c: state_redrive. */
void sv_fn_redrive(sqlite3_context *, int, sqlite3_value **);

/* flags.c: state_flag and state_variant. */
void sv_fn_flag(sqlite3_context *, int, sqlite3_value **);
void sv_fn_variant(sqlite3_context *, int, sqlite3_value **);
void sv_fn_bucket(sqlite3_context *, int, sqlite3_value **);

/* tvf.c: for the table-valued functions below.  sv_tvf_args plans
** arguments iFirst..iFirst+nArg-1 (at most SV_TVF_MAXARG) given by "=":
** *pMask bit k for argument k, argv in that order; SQLITE_CONSTRAINT when
** one is there but not usable yet.  The cursor holds the rows xFilter made
** (sv_tvf_push takes pRow, and frees it on SQLITE_NOMEM). */
#define SV_TVF_MAXARG 8
typedef struct sv_tvf_cursor {
  sqlite3_vtab_cursor base; /* must be first */
  void **apRow;
  int nRow, nAlloc, iRow;
} sv_tvf_cursor;
int sv_tvf_args(sqlite3_index_info *, int iFirst, int nArg, int *pMask);
int sv_tvf_open(sqlite3_vtab *, sqlite3_vtab_cursor **);
int sv_tvf_close(sqlite3_vtab_cursor *);
void sv_tvf_reset(sv_tvf_cursor *);
int sv_tvf_push(sv_tvf_cursor *, void *pRow);
int sv_tvf_next(sqlite3_vtab_cursor *);
int sv_tvf_eof(sqlite3_vtab_cursor *);
int sv_tvf_rowid(sqlite3_vtab_cursor *, sqlite3_int64 *);

/* flagsio.c: Unleash's JSON in and out of a flags table. */
void sv_fn_flags_import(sqlite3_context *, int, sqlite3_value **);
void sv_fn_flags_export(sqlite3_context *, int, sqlite3_value **);
void sv_fn_flags_apply_delta(sqlite3_context *, int, sqlite3_value **);

/* claim.c: the table-valued function state_claim. */
extern const sqlite3_module sv_claim_module;
void sv_claim_temp(sqlite3 *db);
void sv_fn_complete_list(sqlite3_context *, sv_vtab *, sqlite3_value *);

/* metrics.c: the table-valued function state_metrics. */
extern const sqlite3_module sv_metrics_module;

#endif /* SVEXT_H */
