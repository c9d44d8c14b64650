#!/bin/sh
# test/check.sh -- what `make check` runs: the SQL golden tests on the local
# store and the inventory test (every function and module is in a test),
# against the library just built, with no server.  ./test/run runs every
# suite on every store.
#
# automake runs it from the build directory with $srcdir set; the outputs
# and sqlrun go to test/out/check of the build directory (make clean
# removes it), so a read-only source tree (make distcheck) works.
srcdir=${srcdir:-.}
ROOT=$(cd "$srcdir" && pwd) || exit 1
STATEVTAB_ROOT=$ROOT
STATEVTAB_EXT=$(pwd)/.libs/statevtab.so
SQLTEST_OUT=$(pwd)/test/out/check
export STATEVTAB_ROOT STATEVTAB_EXT SQLTEST_OUT
if [ ! -f "$STATEVTAB_EXT" ]; then
  echo "FAIL check: $STATEVTAB_EXT was not built"
  exit 1
fi
rc=0
sh "$ROOT/test/sqltest.sh" --store sqlite || rc=1
sh "$ROOT/test/suites/30-inventory.sh" || rc=1
exit $rc
