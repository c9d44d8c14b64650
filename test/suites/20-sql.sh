#!/bin/sh
# test/suites/20-sql.sh -- the SQL golden tests (test/sqltest.sh), once per
# store (the local store, and PostgreSQL and Redis on the servers test/run
# started), once more per store under ASan/UBSan when an ASan-built
# extension is given in STATEVTAB_EXT_ASAN, and for Redis and PostgreSQL
# under valgrind.  Prints PASS/FAIL lines; exits non-zero when any script
# failed.  A store whose server is missing is a failure, never a skip.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
rc=0

stores="sqlite postgresql redis"

for store in $stores; do
  if [ "$store" = postgresql ] && [ -z "${STATEVTAB_PG_URL:-}" ]; then
    echo "FAIL sql/postgresql (STATEVTAB_PG_URL is not set: no PostgreSQL server)"
    rc=1
    continue
  fi
  if [ "$store" = redis ] && [ -z "${STATEVTAB_REDIS_URL:-}" ]; then
    echo "FAIL sql/redis (STATEVTAB_REDIS_URL is not set: no Redis server)"
    rc=1
    continue
  fi
  "$here/sqltest.sh" --store "$store" || rc=1
  if [ -n "${STATEVTAB_EXT_ASAN:-}" ]; then
    if [ -e "$STATEVTAB_EXT_ASAN" ]; then
      "$here/sqltest.sh" --store "$store" --asan || rc=1
    else
      echo "FAIL sql/$store-asan (STATEVTAB_EXT_ASAN=$STATEVTAB_EXT_ASAN does not exist)"
      rc=1
    fi
  fi
  # The remote stores' code paths (hiredis, libpq) under valgrind too: the
  # local store's are covered by 50-custom-store and 60-oom.
  if [ "$store" != sqlite ]; then
    if command -v valgrind >/dev/null 2>&1; then
      "$here/sqltest.sh" --store "$store" --valgrind || rc=1
    else
      echo "FAIL sql/$store-valgrind (valgrind is not installed)"
      rc=1
    fi
  fi
done

exit $rc
