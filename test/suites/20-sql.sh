#!/bin/sh
# test/suites/20-sql.sh -- the SQL golden tests (test/sqltest.sh), once per
# store and once more under ASan/UBSan when an ASan-built extension is
# given in STATEVTAB_EXT_ASAN.  Prints PASS/FAIL lines; exits non-zero when
# any script failed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
rc=0

"$here/sqltest.sh" --store sqlite || rc=1

if [ -n "${STATEVTAB_EXT_ASAN:-}" ]; then
  if [ -e "$STATEVTAB_EXT_ASAN" ]; then
    "$here/sqltest.sh" --store sqlite --asan || rc=1
  else
    echo "FAIL sql/sqlite-asan (STATEVTAB_EXT_ASAN=$STATEVTAB_EXT_ASAN does not exist)"
    rc=1
  fi
fi

exit $rc
