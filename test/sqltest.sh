#!/bin/sh
# test/sqltest.sh -- statevtab's SQL golden-test runner.
#
#   test/sqltest.sh [--bless] [--store NAME] [--asan|--valgrind] [FILES...]
#
# Runs each SQL script (default: every test/sql/*.sql, sorted) through
# test/sqlrun with the extension loaded, and compares its stdout with
# <dir of script>/expected/<name>.out -- for test/sql/foo.sql that is
# test/sql/expected/foo.out.  The expected output does not depend on the
# store: one file serves every store.  FILES may be paths, or names of
# scripts in test/sql/ with or without ".sql".  Scripts named 50-local-*
# assert facts of the local store (shadow tables, sqlite_schema, DEFENSIVE,
# plans that depend on its capabilities): they run only with --store sqlite
# and are reported as "SKIP sql/<store>/<name> (local store only)" otherwise;
# likewise 60-pg-* run only with --store postgresql and 70-redis-* only with
# --store redis (facts of those stores: server-side names, restarts),
# 75-cluster-* only with --store redis-cluster and 65-pooler-* only with
# --store pgbouncer.
#
#   --bless       write the actual output to the expected file instead of
#                 comparing (refused when sqlrun fails or a sanitizer
#                 reports), printing "BLESSED <name>"
#   --store NAME  sqlite (default); redis (needs STATEVTAB_REDIS_URL);
#                 postgresql (needs STATEVTAB_PG_URL); redis-cluster (the
#                 redis store on a Redis Cluster: STATEVTAB_RCLUSTER_URL,
#                 see sv_start_redis_cluster); pgbouncer (the postgresql
#                 store through pgbouncer in transaction mode:
#                 STATEVTAB_PGBOUNCER_URL, see sv_start_pgbouncer).  Sets @OPTS@ and
#                 @STORE@ for the scripts, with a namespace (Redis prefix,
#                 PostgreSQL schema) unique to this run and script
#                 (exported as STATEVTAB_TEST_NS, from which sqlrun makes
#                 @OPTS:NAME@: the same options, namespace <NS>_NAME)
#   --asan        load STATEVTAB_EXT_ASAN into an ASan/UBSan-built sqlrun;
#                 any sanitizer report is a failure
#   --valgrind    run the plain sqlrun under valgrind (memcheck, leak check);
#                 any error or definite/possible leak is a failure (with
#                 STATEVTAB_REGEX_JIT=0: PCRE2's interpreter, not its JIT)
#
# Environment: STATEVTAB_EXT (the extension; STATEVTAB_EXT_ASAN with
# --asan), SQLTEST_OUT (where sqlrun and the outputs go, default test/out
# of the repository), CC (default cc), TEST_TMP or TMPDIR (where the per-script
# directories go), SQLTEST_TIMEOUT (seconds per script,
# default 300).  Each script gets a fresh TEST_TMP directory, which is also
# its working directory; that directory's path is written as @TMP@ in the
# output.  STATEVTAB_TEST_CLOCK_MS=1700000000000 pins the extension's
# clock.
#
# Output: one line per script, "PASS sql/<store>/<name>" or
# "FAIL sql/<store>/<name> (why)" followed by the first lines of the diff
# and of stderr; with --asan (--valgrind) the store is shown as
# <store>-asan (<store>-valgrind).  The last
# run's outputs are kept in test/out/sql/<store>/<name>.{out,err}.
# Exit status: 0 when every script passed (or was blessed), 1 when any
# failed, 2 on a usage error.
set -u
LC_ALL=C
export LC_ALL

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SQLDIR=$ROOT/test/sql
OUTDIR=${SQLTEST_OUT:-$ROOT/test/out}
SRC=$ROOT/test/sqlrun.c
CC=${CC:-cc}
CLOCK_MS=1700000000000
TIMEOUT=${SQLTEST_TIMEOUT:-300}

usage() {
  echo "usage: test/sqltest.sh [--bless] [--store NAME] [--asan|--valgrind]" \
    "[FILES...]" >&2
  exit 2
}

bless=0
store=sqlite
asan=0
valgrind=0
while [ $# -gt 0 ]; do
  case $1 in
  --bless) bless=1 ;;
  --asan) asan=1 ;;
  --valgrind) valgrind=1 ;;
  --store)
    [ $# -ge 2 ] || usage
    store=$2
    shift
    ;;
  --store=*) store=${1#--store=} ;;
  --) shift; break ;;
  -*) usage ;;
  *) break ;;
  esac
  shift
done

[ $asan = 1 ] && [ $valgrind = 1 ] && usage
label=$store
[ $asan = 1 ] && label=$store-asan
[ $valgrind = 1 ] && label=$store-valgrind

# The scripts: the arguments, or every test/sql/*.sql (the glob sorts).
if [ $# -eq 0 ]; then
  for f in "$SQLDIR"/*.sql; do
    [ -f "$f" ] && set -- "$@" "$f"
  done
  if [ $# -eq 0 ]; then
    echo "FAIL sql/$label (no scripts in test/sql)"
    exit 1
  fi
fi

# sql_quote TEXT: TEXT as an SQL string literal.
sql_quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# store_opts NAME: set opts to the table arguments for script NAME on the
# chosen store, and ns_opt to the namespace they name (empty for the local
# store; sqlrun derives @OPTS:NAME@ from it), or print a FAIL line and
# return 1.
store_opts() {
  # A namespace unique to this run and script; lowercase identifier
  # characters only, short enough for a PostgreSQL identifier (with room
  # for the "_NAME" of @OPTS:NAME@, see test/sqlrun.c).
  ns=$(printf 't%s_%s' "$$" "$1" | tr '[:upper:]' '[:lower:]' |
    tr -c 'a-z0-9_\n' '_' | cut -c1-48)
  case $store in
  sqlite)
    opts="store='sqlite:'"
    ns_opt=
    ;;
  redis)
    if [ -z "${STATEVTAB_REDIS_URL:-}" ]; then
      echo "FAIL sql/$label/$1 (STATEVTAB_REDIS_URL is not set)"
      return 1
    fi
    opts="store=$(sql_quote "$STATEVTAB_REDIS_URL"), prefix=$(sql_quote "$ns:")"
    ns_opt=$ns
    ;;
  redis-cluster)
    if [ -z "${STATEVTAB_RCLUSTER_URL:-}" ]; then
      echo "FAIL sql/$label/$1 (STATEVTAB_RCLUSTER_URL is not set)"
      return 1
    fi
    opts="store=$(sql_quote "$STATEVTAB_RCLUSTER_URL"), prefix=$(sql_quote "$ns:")"
    ns_opt=$ns
    ;;
  pgbouncer)
    if [ -z "${STATEVTAB_PGBOUNCER_URL:-}" ]; then
      echo "FAIL sql/$label/$1 (STATEVTAB_PGBOUNCER_URL is not set)"
      return 1
    fi
    opts="store=$(sql_quote "$STATEVTAB_PGBOUNCER_URL"), schema=$(sql_quote "$ns")"
    ns_opt=$ns
    ;;
  postgresql | pg)
    if [ -z "${STATEVTAB_PG_URL:-}" ]; then
      echo "FAIL sql/$label/$1 (STATEVTAB_PG_URL is not set)"
      return 1
    fi
    opts="store=$(sql_quote "$STATEVTAB_PG_URL"), schema=$(sql_quote "$ns")"
    ns_opt=$ns
    ;;
  *)
    echo "sqltest: unknown store '$store' (sqlite, redis, postgresql, redis-cluster, pgbouncer)" >&2
    exit 2
    ;;
  esac
  return 0
}

# build_sqlrun OUT FLAGS...: (re)build OUT from test/sqlrun.c when it is
# missing, older than the source, or was built with another command.
build_sqlrun() {
  out=$1
  shift
  libs=$(pkg-config --cflags --libs sqlite3 2>/dev/null) || libs=-lsqlite3
  cmd="$CC -O1 -g $* $SRC $libs"
  if [ -x "$out" ] && [ -z "$(find "$SRC" -newer "$out")" ] &&
    [ "$(cat "$out.cmd" 2>/dev/null)" = "$cmd" ]; then
    return 0
  fi
  mkdir -p "$OUTDIR" || return 1
  # Build under a private name and rename, so that concurrent runs never
  # see a half-written binary.
  # shellcheck disable=SC2086 # CC, flags and libs are word lists
  $CC -O1 -g "$@" "$SRC" -o "$out.$$" $libs || return 1
  mv -f "$out.$$" "$out" && printf '%s\n' "$cmd" >"$out.cmd"
}

if [ $asan = 1 ]; then
  sqlrun=$OUTDIR/sqlrun-asan
  extvar=STATEVTAB_EXT_ASAN
  ext=${STATEVTAB_EXT_ASAN:-}
  build_sqlrun "$sqlrun" -fsanitize=address,undefined -fno-omit-frame-pointer ||
    { echo "FAIL sql/$label (cannot build $sqlrun)"; exit 1; }
else
  sqlrun=$OUTDIR/sqlrun
  extvar=STATEVTAB_EXT
  ext=${STATEVTAB_EXT:-}
  build_sqlrun "$sqlrun" ||
    { echo "FAIL sql/$label (cannot build $sqlrun)"; exit 1; }
fi
if [ -z "$ext" ]; then
  echo "FAIL sql/$label ($extvar is not set)"
  exit 1
fi
if [ ! -e "$ext" ] && [ ! -e "$ext.so" ]; then
  echo "FAIL sql/$label ($extvar=$ext does not exist)"
  exit 1
fi
case $ext in
/*) ;;
*) ext=$(pwd)/$ext ;;
esac

timeout_cmd=
command -v timeout >/dev/null 2>&1 && timeout_cmd="timeout -k 10 $TIMEOUT"
# Exit status 99 marks a valgrind finding apart from sqlrun's own codes.
wrap=
if [ $valgrind = 1 ]; then
  if ! command -v valgrind >/dev/null 2>&1; then
    echo "FAIL sql/$label (valgrind is not installed)"
    exit 1
  fi
  wrap="valgrind -q --error-exitcode=99 --leak-check=full"
  wrap="$wrap --errors-for-leak-kinds=definite,possible"
  # The REGEX flag operator's patterns run in PCRE2's interpreter:
  # valgrind cannot follow the machine code of its JIT (ext/flags.c).
  export STATEVTAB_REGEX_JIT=0
fi

work=$(mktemp -d "${TEST_TMP:-${TMPDIR:-/tmp}}/sqltest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' HUP INT PIPE TERM
keep=$OUTDIR/sql/$label
mkdir -p "$keep" || exit 1

npass=0
nfail=0
for arg in "$@"; do
  # Resolve a path, or a script name in test/sql/.
  file=
  for f in "$arg" "$SQLDIR/$arg" "$SQLDIR/$arg.sql"; do
    if [ -f "$f" ]; then
      file=$f
      break
    fi
  done
  name=$(basename "$arg" .sql)
  if [ -z "$file" ]; then
    echo "FAIL sql/$label/$name (no such script: $arg)"
    nfail=$((nfail + 1))
    continue
  fi
  case $name in
  50-local-*)
    if [ "$store" != sqlite ]; then
      echo "SKIP sql/$label/$name (local store only)"
      continue
    fi
    ;;
  60-pg-*)
    if [ "$store" != postgresql ] && [ "$store" != pg ]; then
      echo "SKIP sql/$label/$name (PostgreSQL store only)"
      continue
    fi
    ;;
  70-redis-*)
    if [ "$store" != redis ]; then
      echo "SKIP sql/$label/$name (Redis store only)"
      continue
    fi
    ;;
  75-cluster-*)
    if [ "$store" != redis-cluster ]; then
      echo "SKIP sql/$label/$name (Redis Cluster only)"
      continue
    fi
    ;;
  65-pooler-*)
    if [ "$store" != pgbouncer ]; then
      echo "SKIP sql/$label/$name (PostgreSQL behind pgbouncer only)"
      continue
    fi
    ;;
  esac
  dir=$(cd "$(dirname "$file")" && pwd)
  file=$dir/$(basename "$file")
  expected=$dir/expected/$name.out
  hint=$arg
  [ "$dir" = "$SQLDIR" ] && hint=$name
  if ! store_opts "$name"; then
    nfail=$((nfail + 1))
    continue
  fi

  t=$work/$name
  mkdir -p "$t/tmp"
  # shellcheck disable=SC2086 # timeout_cmd is a word list
  (
    cd "$t/tmp" || exit 1
    TEST_TMP=$t/tmp
    STATEVTAB_TEST_CLOCK_MS=$CLOCK_MS
    STATEVTAB_TEST_OPTS=$opts
    STATEVTAB_TEST_STORE=$store
    STATEVTAB_TEST_NS=$ns_opt
    export TEST_TMP STATEVTAB_TEST_CLOCK_MS STATEVTAB_TEST_OPTS
    export STATEVTAB_TEST_STORE STATEVTAB_TEST_NS
    if [ $asan = 1 ]; then
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
      export ASAN_OPTIONS UBSAN_OPTIONS
    fi
    exec $timeout_cmd $wrap "$sqlrun" -e "$ext" "$file"
  ) >"$t/raw" 2>"$t/err" </dev/null
  rc=$?
  # The per-script directory's path is not deterministic: show it as @TMP@.
  pat=$(printf '%s' "$t/tmp" | sed 's/[][\.*^$|/]/\\&/g')
  sed "s|$pat|@TMP@|g" "$t/raw" >"$t/out"
  cp "$t/out" "$keep/$name.out"
  cp "$t/err" "$keep/$name.err"

  why=
  case $rc in
  0) ;;
  124 | 137) why="timed out after ${TIMEOUT}s" ;;
  99) [ $valgrind = 1 ] && why="valgrind report" || why="sqlrun exited 99" ;;
  *) why="sqlrun exited $rc" ;;
  esac
  if [ $asan = 1 ] && grep -Eq \
    'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' \
    "$t/err"; then
    why="${why:+$why, }sanitizer report"
  fi

  if [ $bless = 1 ]; then
    if [ -z "$why" ]; then
      if mkdir -p "$dir/expected" && cp "$t/out" "$expected"; then
        echo "BLESSED $name"
        npass=$((npass + 1))
        continue
      fi
      why="cannot write $expected"
    fi
    why="$why; not blessed"
  elif [ ! -f "$expected" ]; then
    why="${why:+$why, }no expected output ${expected#"$ROOT"/}; bless with: test/sqltest.sh --bless $hint"
  elif ! cmp -s "$expected" "$t/out"; then
    why="${why:+$why, }output differs"
  fi
  if [ -z "$why" ]; then
    echo "PASS sql/$label/$name"
    npass=$((npass + 1))
    continue
  fi

  echo "FAIL sql/$label/$name ($why)"
  nfail=$((nfail + 1))
  if [ -f "$expected" ] && [ $bless = 0 ]; then
    diff -u --label "expected/$name.out" --label "actual/$name.out" \
      "$expected" "$t/out" | head -n 60
  fi
  if [ -s "$t/err" ]; then
    echo "  stderr (${keep#"$ROOT"/}/$name.err):"
    head -n 40 "$t/err" | sed 's/^/  | /'
  fi
done

echo "# sql/$label: $npass passed, $nfail failed"
[ $nfail -eq 0 ]
