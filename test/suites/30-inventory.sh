#!/bin/sh
# test/suites/30-inventory.sh -- every SQL function and module that the
# extension registers is exercised by some SQL golden test.
#
# Loads $STATEVTAB_EXT in the sqlite3 shell, lists the entries of
# pragma_function_list and pragma_module_list that belong to statevtab
# (names starting with state_ or statevtab_), and checks that each name
# appears as a word (grep -w) in at least one test/sql/*.sql script.
# Prints one PASS or FAIL line per name; exits non-zero when any is
# missing, or when the list cannot be made.  Needs STATEVTAB_EXT (and
# STATEVTAB_ROOT, default: this file's repository).
set -u
LC_ALL=C
export LC_ALL

root=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
sqldir=$root/test/sql
ext=${STATEVTAB_EXT:-}

if [ -z "$ext" ]; then
  echo "FAIL inventory: STATEVTAB_EXT is not set"
  exit 1
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
  echo "FAIL inventory: the sqlite3 shell is not installed"
  exit 1
fi

# The shell's .load appends the platform suffix itself; give it the path
# without ".so" so that both spellings of STATEVTAB_EXT work.
names=$(sqlite3 -batch -bail :memory: -cmd ".load ${ext%.so}" "
  SELECT DISTINCT 'function ' || name FROM pragma_function_list
   WHERE name LIKE 'state\_%' ESCAPE '\' OR name LIKE 'statevtab\_%' ESCAPE '\'
  UNION
  SELECT DISTINCT 'module ' || name FROM pragma_module_list
   WHERE name LIKE 'state\_%' ESCAPE '\' OR name LIKE 'statevtab\_%' ESCAPE '\'
  ORDER BY 1;" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL inventory: cannot list the extension's functions and modules:" \
    "$(printf '%s' "$names" | tr '\n' ' ')"
  exit 1
fi
if [ -z "$names" ]; then
  echo "FAIL inventory: the extension registers no state_* or statevtab_* names"
  exit 1
fi

set -- "$sqldir"/*.sql
if [ ! -f "$1" ]; then
  echo "FAIL inventory: no SQL scripts in ${sqldir#"$root"/}"
  exit 1
fi

nfail=0
# One "<kind> <name>" per line; names are identifiers, so no quoting issues.
while read -r kind name; do
  files=$(grep -lw -- "$name" "$@" 2>/dev/null | sed 's|.*/||' | head -n 3 |
    tr '\n' ' ')
  if [ -n "$files" ]; then
    echo "PASS inventory: $kind $name (${files% })"
  else
    echo "FAIL inventory: $kind $name appears in no test/sql/*.sql script"
    nfail=$((nfail + 1))
  fi
done <<EOF_NAMES
$names
EOF_NAMES

exit $((nfail > 0))
