#!/usr/bin/env bash
# test/suites/70-fuzz.sh -- the libFuzzer targets of test/fuzz/, under
# AddressSanitizer and UndefinedBehaviorSanitizer (and LeakSanitizer).
#
# Builds every target (test/fuzz/build.sh) into $TEST_TMP, then for each:
#   fuzz/<target>/seeds  every input of test/fuzz/corpus/<target>/ (the
#                        defects found so far among them) runs clean
#   fuzz/<target>/run    libFuzzer mutates from that corpus for
#                        STATEVTAB_FUZZ_SECONDS seconds (default 25) and
#                        reports nothing
# Any sanitizer report, crash, leak, timeout (10 s per input) or a process
# over 2 GB fails the case; the input that did it is printed (base64) and
# kept under $TEST_TMP/artifacts (STATEVTAB_KEEP_TMP=1 keeps it).  To add a
# regression input, copy it to test/fuzz/corpus/<target>/.  Nothing leaves
# loopback: fuzzed store URLs may only reach port 1 (refused at once).
set -u
LC_ALL=C
export LC_ALL
root=${STATEVTAB_ROOT:-$(pwd)}
tmp=${TEST_TMP:-$(mktemp -d)}
secs=${STATEVTAB_FUZZ_SECONDS:-25}
fails=0
pass() { echo "PASS fuzz/$1"; }
fail() {
  echo "FAIL fuzz/$1: $2"
  fails=$((fails + 1))
}

if ! command -v clang >/dev/null; then
  echo "FAIL fuzz/build: clang is not installed (test/run installs clang and libclang-rt-14-dev)"
  exit 1
fi
if ! "$root/test/fuzz/build.sh" "$tmp/bin" >"$tmp/build.log" 2>&1; then
  fail build "$(tail -20 "$tmp/build.log")"
  exit 1
fi
pass build

mkdir -p "$tmp/artifacts"
# check NAME LOG RC: a case passes when libFuzzer exited 0 and said nothing
# of a sanitizer.
check() {
  local name=$1 log=$2 rc=$3 crash
  if [ "$rc" = 0 ] && ! grep -Eq "ERROR: |runtime error:|SUMMARY: " "$log"; then
    pass "$name"
    return
  fi
  crash=$(grep -m1 -E "^Base64: " "$log")
  fail "$name" "exit $rc; $(grep -m1 -E "ERROR: |runtime error:" "$log") $crash"
  grep -A12 -m1 -E "ERROR: |runtime error:" "$log" | sed 's/^/    /'
}

for src in "$root"/test/fuzz/*.c; do
  t=$(basename "${src%.c}")
  corpus=$root/test/fuzz/corpus/$t
  work=$tmp/corpus/$t
  mkdir -p "$work"
  opts=(-rss_limit_mb=2048 -timeout=10 -artifact_prefix="$tmp/artifacts/$t-"
    -print_final_stats=1)
  "$tmp/bin/$t" "${opts[@]}" -runs=0 "$corpus" >"$tmp/$t.seeds.log" 2>&1
  check "$t/seeds" "$tmp/$t.seeds.log" $?
  "$tmp/bin/$t" "${opts[@]}" -max_total_time="$secs" "$work" "$corpus" \
    >"$tmp/$t.run.log" 2>&1
  rc=$?
  check "$t/run" "$tmp/$t.run.log" $rc
  echo "    $t: $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$tmp/$t.run.log" | grep -o '[0-9]*$') inputs in ${secs} s"
done

[ "$fails" = 0 ]
