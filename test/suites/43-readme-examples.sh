#!/usr/bin/env bash
# test/suites/43-readme-examples.sh -- the README's SQL examples run as
# written (issue 16), so that the README cannot drift from the code.
#
# Every fenced block of the README in Python runs (with the library on the
# loader's path), and every one whose language is sql -- statements, or a
# session of the sqlite3 shell ("sqlite> " and "   ...> " lines; the other
# lines are its output) -- runs in the sqlite3 shell in a database of its
# own (a session's output lines must be what the shell prints, unless the
# block is marked "<!-- example: output varies (WHY) -->"), after a
# prelude that loads the extension and creates the tables the
# README's examples name without creating them (dead_letters, tasks,
# executions, signals, leases, kv, flags, counters, on
# the local store), except those the block creates itself.  The shell's
# errors must be exactly the ones the block announces, in order, each with
# a comment "-- error: MESSAGE" holding the shell's message; any other
# error fails.  `.load ./statevtab` loads the library under test.  A block
# on Redis or PostgreSQL (store='env:STATE_REDIS' / 'env:STATE_PG') runs on
# the servers of test/run.
#
# Not run here, each marked in the README by a line before the fence:
#   <!-- worker-loop: CLIENT -->       run by suite 42-worker-loops
#   <!-- example: fragment (WHY) -->   part of a statement or program, or
#                                      a command of the build; WHY says so
# A block without a marker that cannot run, or of another language, is a
# failure: mark it or fix it.  A block without a language is a listing.
set -u
LC_ALL=C
export LC_ALL

root=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
ext=${STATEVTAB_EXT:-}
tmp=$(mktemp -d "${TEST_TMP:-/tmp}/readme.XXXXXX") || exit 1
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
readme=$root/README.md
nfail=0
pass() { echo "PASS readme-examples: $*"; }
fail() {
  echo "FAIL readme-examples: $*"
  nfail=$((nfail + 1))
}
if [ -z "$ext" ] || [ ! -f "$ext" ]; then
  fail "STATEVTAB_EXT is not set or missing"
  exit 1
fi

# Split the README: every fenced block into $tmp/b<N>.<lang>, with its
# marker (the line before the fence) and first line number in b<N>.meta.
awk -v dir="$tmp" '
  !inside && /^```/ {
    inside = 1; n++; lang = substr($0, 4); if (lang == "") lang = "text"
    file = dir "/b" n "." lang
    printf "%d\t%s\t%s\n", NR, lang, prev > (dir "/b" n ".meta")
    printf "" > file
    next
  }
  inside && /^```/ { inside = 0; close(file); next }
  inside { print >> file; next }
  { prev = $0 }' "$readme"

# A Python whose sqlite3 module loads extensions (suite 42-worker-loops
# installs Debian's when none is there).
py=
for cand in /usr/bin/python3 python3; do
  if command -v "$cand" >/dev/null 2>&1 &&
    "$cand" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension' \
      >/dev/null 2>&1; then
    py=$cand
    break
  fi
done

prelude_tables="dead_letters:state_dead_letters tasks:state_tasks
executions:state_executions signals:state_signals leases:state_leases
kv:state_kv flags:state_flags counters:state_counters"

nrun=0
nskip=0
for meta in "$tmp"/b*.meta; do
  b=${meta%.meta}
  IFS=$'\t' read -r line lang marker <"$meta"
  case $marker in
  "<!-- worker-loop:"* | "<!-- example: fragment"*)
    nskip=$((nskip + 1))
    continue
    ;;
  esac
  case $lang in
  sql) ;;
  text) continue ;; # a listing, not code
  python)
    # Run where app.db may be made, the library on the loader's path.
    nrun=$((nrun + 1))
    mkdir -p "$b.dir"
    if [ -z "$py" ]; then
      fail "README line $line: no Python whose sqlite3 module loads extensions"
    elif out=$(cd "$b.dir" && LD_LIBRARY_PATH=$(dirname "$ext") \
      timeout 60 "$py" "$b.python" 2>&1); then
      pass "README line $line: the Python example ran"
    else
      fail "README line $line: the Python example failed: $out"
    fi
    continue
    ;;
  *)
    fail "README line $line: a $lang block without a marker: run it here or mark it"
    continue
    ;;
  esac
  sql=$b.run
  # A shell session: keep the input, without its prompts; the other
  # lines are the output it shows.
  session=0
  if head -1 "$b.sql" | grep -q '^sqlite> '; then
    session=1
    sed -n -e 's/^sqlite> //p' -e 's/^   \.\.\.> //p' "$b.sql" >"$sql"
    grep -v -e '^sqlite> ' -e '^   \.\.\.> ' "$b.sql" >"$b.shown"
  else
    cp "$b.sql" "$sql"
  fi
  sed -i "s|^\.load \./statevtab\$|.load ${ext%.so}|" "$sql"
  created=$(grep -oiE 'CREATE VIRTUAL TABLE (IF NOT EXISTS )?[A-Za-z_]+' "$sql" |
    awk '{print $NF}')
  {
    # The extension first: the block's own .load, or ours.
    grep '^\.load ' "$sql" || echo ".load ${ext%.so}"
    for t in $prelude_tables; do
      name=${t%%:*}
      grep -qx "$name" <<<"$created" ||
        echo "CREATE VIRTUAL TABLE $name USING ${t#*:};"
    done
  } >"$b.pre"
  nprelude=$(wc -l <"$b.pre")
  grep -v '^\.load ' "$sql" | cat "$b.pre" - >"$b.all"
  (cd "$tmp" && rm -f app.db &&
    STATE_PG=${STATEVTAB_PG_URL:-} STATE_REDIS=${STATEVTAB_REDIS_URL:-} \
      timeout 60 sqlite3 app.db <"$b.all" >"$b.out" 2>"$b.err")
  # The errors the shell printed, and the ones the block announces.
  sed -n -e 's/ ([0-9]*)$//' -e 's/^[A-Za-z]* error near line [0-9]*: //p' \
    "$b.err" >"$b.got"
  sed -n 's/.*-- error: //p' "$sql" >"$b.want"
  other=$(grep -v '^[A-Za-z]* error near line [0-9]*: ' "$b.err" | head -3)
  ok=1
  if [ "$(wc -l <"$b.got")" != "$(wc -l <"$b.want")" ] || [ -n "$other" ]; then
    ok=0
  else
    while IFS= read -r want <&3 && IFS= read -r got <&4; do
      case $got in *"$want"*) ;; *) ok=0 ;; esac
    done 3<"$b.want" 4<"$b.got"
  fi
  nrun=$((nrun + 1))
  if [ $session = 1 ] && [ $ok = 1 ] &&
    [ "${marker#<!-- example: output varies}" = "$marker" ] &&
    ! cmp -s "$b.shown" "$b.out"; then
    fail "README line $line: the session shows [$(tr '\n' '|' <"$b.shown")], the shell printed [$(tr '\n' '|' <"$b.out")]"
    continue
  fi
  if [ $ok = 1 ]; then
    pass "README line $line: ran, errors as announced ($(wc -l <"$b.want"))"
  else
    fail "README line $line: errors [$(tr '\n' '|' <"$b.got")] announced [$(tr '\n' '|' <"$b.want")] $other (prelude of $nprelude lines)"
  fi
done
if [ $nrun -gt 10 ]; then
  pass "$nrun blocks ran (SQL and Python), $nskip marked as run elsewhere or fragments"
else
  fail "only $nrun blocks ran: the README has more"
fi
[ $nfail -eq 0 ]
