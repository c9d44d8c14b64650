/*
** 2026-11-22
**
** svint.h -- internal interface of the virtual-table layer (vtab/), used by
** the extension layer (ext/).  Layers go one way: ext -> vtab -> store.
*/
#ifndef SVINT_H
#define SVINT_H

#define STATEVTAB_INTERNAL 1
#include "statevtab.h"
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <stddef.h>
#include <string.h>

typedef struct sv_conn sv_conn;
typedef struct sv_vtab sv_vtab;
typedef struct sv_storeref sv_storeref;
typedef struct sv_schemeref sv_schemeref;

/* A store opened on this connection, shared by tables naming its URL. */
struct sv_storeref {
  char *zUrl;              /* URL as written (env: not resolved) */
  statevtab_store *pStore; /* the open store */
  int nRef;                /* tables attached */
  sv_storeref *pNext;
};

/* A store implementation registered on this connection. */
struct sv_schemeref {
  const statevtab_store_methods *pMethods;
  sv_schemeref *pNext;
};

/*
** Per-connection state of the extension.  Created by the entry point,
** shared (reference counted) by every module and function it registers, and
** freed when the connection closes.
*/
struct sv_conn {
  sqlite3 *db;
  int nRef;
  sv_storeref *pStores;   /* open stores */
  sv_schemeref *pSchemes; /* registered store implementations */
  sv_vtab *pTables;       /* connected statevtab tables (registry) */
  sqlite3_int64 iLastIdMs;/* id generator: last millisecond used */
  unsigned iIdSeq;        /* id generator: sequence within that ms */
};

/*
** One connected statevtab table.  Public to ext/ so that SQL functions can
** find a table's store and entity by name.
*/
struct sv_vtab {
  sqlite3_vtab base;        /* must be first */
  sv_conn *pConn;
  const statevtab_entity *pEntity;
  char *zDb;                /* schema name: "main", "temp", ... */
  char *zName;              /* table name */
  char *zOpts;              /* the CREATE VIRTUAL TABLE arguments, joined */
  sv_storeref *pRef;        /* the store it is attached to */
  statevtab_table *pTab;    /* the store's table */
  int nOpt;                 /* store options (key, value pairs) */
  char **azOpt;             /* 2*nOpt strings, one allocation */
  sv_vtab *pNext;           /* next in pConn->pTables */
};

/* util.c */
sqlite3_int64 sv_now_ms(void);
int sv_gen_id(sv_conn *, char *zOut /* >= 37 bytes */);
int sv_json_valid(const char *z, int n);
char *sv_redact_url(const char *zUrl);
char *sv_dequote(const char *z, int n);

/* entities.c */
extern const statevtab_entity *const sv_aEntity[];
extern const int sv_nEntity;
const statevtab_entity *sv_entity_by_module(const char *zModule);

/* store.c */
extern const statevtab_store_methods sv_sqlite_store;
int sv_register_scheme(sv_conn *, const statevtab_store_methods *);
int sv_store_acquire(sv_conn *, const char *zUrl, sv_storeref **ppRef,
                     char **pzErr);
void sv_store_release(sv_conn *, sv_storeref *);
const char *sv_store_names(sv_conn *, char *zBuf, int nBuf);

/* vtab.c */
int sv_register_modules(sqlite3 *, sv_conn *);
sv_vtab *sv_find_table(sv_conn *, const char *zName, const char *zKind,
                       char **pzErr);
void sv_conn_unref(void *);
int sv_value_from_sqlite(sqlite3_value *, statevtab_value *);
void sv_value_result(sqlite3_context *, const statevtab_value *);

#endif /* SVINT_H */
