#!/bin/sh
# test/suites/60-oom.sh -- out-of-memory injection under ASan/UBSan.
#
# Builds the test host test/oom/oom.c with -fsanitize=address,undefined
# against the system libsqlite3 and runs each of its scenarios (oom --list),
# once per mode (fail-once: only the N-th allocation fails; fail-after: the
# N-th and every later one), as a process of its own, SV_JOBS (2) at a
# time: a sanitizer report ends only that process.  The host loads
# STATEVTAB_EXT_ASAN; when that build is missing it loads STATEVTAB_EXT
# into a host built without sanitizers, and this suite reports a FAIL for
# the missing sanitizers.  See test/oom/oom.c for what is checked.
#
# The redis_* scenarios run on the Redis store of STATEVTAB_REDIS_URL (they
# FAIL when it is unset: test/run always starts Redis), each job in a
# namespace of its own under STATEVTAB_OOM_NS=statevtab-oom-<this shell's
# pid>; the keys of that namespace are deleted at the end (redis-cli).
#
# Prints the host's PASS/FAIL lines (oom/<scenario>/<mode>), plus a FAIL
# line for a job that died or whose stderr holds a sanitizer report
# (LeakSanitizer reports at exit, after the host's own lines), with the
# first lines of that stderr.  Exits non-zero when anything failed.
#
# Environment: STATEVTAB_EXT, STATEVTAB_EXT_ASAN, STATEVTAB_REDIS_URL,
# TEST_TMP (see test/run), CC (cc), SV_JOBS (2), OOM_TIMEOUT (seconds per
# job, 300).
set -u
LC_ALL=C
export LC_ALL

root=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
src=$root/test/oom/oom.c
CC=${CC:-cc}
jobs=${SV_JOBS:-2}
tmo=${OOM_TIMEOUT:-300}

if [ -n "${TEST_TMP:-}" ]; then
  work=$TEST_TMP/oom
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/statevtab-oom.XXXXXX") || exit 1
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/jobs" "$work/db" || exit 1

nfail=0
libs=$(pkg-config --cflags --libs sqlite3 2>/dev/null) || libs=-lsqlite3
if [ -n "${STATEVTAB_EXT_ASAN:-}" ] && [ -e "$STATEVTAB_EXT_ASAN" ]; then
  ext=$STATEVTAB_EXT_ASAN
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -g -O1"
  unsan=
else
  echo "FAIL oom/sanitizers: the ASan-built extension is missing" \
    "(STATEVTAB_EXT_ASAN=${STATEVTAB_EXT_ASAN:-<unset>}); running the plain" \
    "build in a host without sanitizers: memory errors go undetected"
  nfail=$((nfail + 1))
  ext=${STATEVTAB_EXT:-}
  flags="-g -O1"
  unsan=--unsanitized
fi
if [ -z "$ext" ] || [ ! -e "$ext" ]; then
  echo "FAIL oom: no extension to load (STATEVTAB_EXT=${STATEVTAB_EXT:-<unset>})"
  exit 1
fi

host=$work/oom
# shellcheck disable=SC2086 # flags and libs are word lists
if ! $CC $flags -Wall -o "$host" "$src" $libs -ldl >"$work/build.log" 2>&1; then
  echo "FAIL oom/build: cannot build the host from test/oom/oom.c:"
  sed 's/^/  | /' "$work/build.log" | head -n 30
  exit 1
fi

if ! scenarios=$("$host" "$ext" --list 2>"$work/list.err"); then
  echo "FAIL oom: cannot list the scenarios: $(head -c 300 "$work/list.err")"
  exit 1
fi

# Sanitizers: reports go to stderr; leaks are checked at exit; UBSan stops
# at the first finding.  A 16 MB quarantine still spans several runs.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export ASAN_OPTIONS UBSAN_OPTIONS

timeout_cmd=
command -v timeout >/dev/null 2>&1 && timeout_cmd="timeout -k 10 $tmo"

# One job per line: "<scenario> <mode>"; each writes jobs/<s>.<m>.{out,err,rc}.
# They are reported in this order but started longest first (the costliest
# scenarios, as measured, in that order, then the others), so the workers
# end together.
for s in $scenarios; do
  printf '%s once\n%s after\n' "$s" "$s"
done >"$work/joblist"
heavy='redis_txn rename wal claim tasks executions txn redis_rows redis_claim'
{
  for s in $heavy; do grep "^$s " "$work/joblist"; done
  grep -vE "^($(echo "$heavy" | tr ' ' '|')) " "$work/joblist"
} >"$work/runorder"

# The Redis scenarios' namespaces: "<this>-<pid>-<scenario>:" (oom.c).
STATEVTAB_OOM_NS=statevtab-oom-$$
export host ext unsan timeout_cmd work STATEVTAB_OOM_NS
# shellcheck disable=SC2016 # expanded by the inner sh
xargs -P "$jobs" -L 1 sh -c '
  o=$work/jobs/$1.$2
  # shellcheck disable=SC2086
  $timeout_cmd "$host" "$ext" "$1" --mode "$2" --dir "$work/db" $unsan \
    >"$o.out" 2>"$o.err" </dev/null
  echo $? >"$o.rc"
' sh <"$work/runorder"

while read -r s m; do
  o=$work/jobs/$s.$m
  name=oom/$s/fail-$m
  # LeakSanitizer itself sometimes fails on a loaded machine ("has
  # encountered a fatal error": its thread-suspending tracer died) before it
  # could look for leaks.  That says nothing about our code: run the job
  # once more, alone.  A real leak report is deterministic and stays.
  if grep -q 'LeakSanitizer has encountered a fatal error' "$o.err" 2>/dev/null; then
    echo "# $name: LeakSanitizer failed (not a leak report); running it again"
    # shellcheck disable=SC2086
    $timeout_cmd "$host" "$ext" "$s" --mode "$m" --dir "$work/db" $unsan \
      >"$o.out" 2>"$o.err" </dev/null
    echo $? >"$o.rc"
  fi
  cat "$o.out" 2>/dev/null
  rc=$(cat "$o.rc" 2>/dev/null) || rc=-1
  nfail=$((nfail + $(grep -c '^FAIL ' "$o.out" 2>/dev/null || :)))
  why=
  if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' \
    "$o.err" 2>/dev/null; then
    why="sanitizer report"
  fi
  case $rc in
  0 | 1) ;;
  124 | 137) why="${why:+$why, }timed out after ${tmo}s" ;;
  *) why="${why:+$why, }exited with status $rc" ;;
  esac
  if [ -n "$why" ]; then
    # The host's death callback prints a FAIL line for a sanitizer report
    # (with N and the statement); anything else is said here.
    if [ "$why" = "sanitizer report" ] &&
      grep -q "^FAIL $name: sanitizer report" "$o.out"; then
      echo "  stderr of $name (first lines):"
    else
      echo "FAIL $name: $why; stderr (first lines):"
      nfail=$((nfail + 1))
    fi
    grep -v '^trace ' "$o.err" | head -n 30 | sed 's/^/  | /'
  elif [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$o.out"; then
    echo "FAIL $name: exited with status $rc without a FAIL line"
    nfail=$((nfail + 1))
  fi
done <"$work/joblist"

# Delete the Redis scenarios' keys: "{<namespace>}..." (hash-tagged).
if [ -n "${STATEVTAB_REDIS_URL:-}" ] && command -v redis-cli >/dev/null 2>&1; then
  redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{$STATEVTAB_OOM_NS-*" 2>/dev/null |
    xargs -r redis-cli -u "$STATEVTAB_REDIS_URL" DEL >/dev/null 2>&1 || :
fi

exit $((nfail > 0))
