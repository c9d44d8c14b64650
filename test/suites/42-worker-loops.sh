#!/usr/bin/env bash
# test/suites/42-worker-loops.sh -- the README's worker loops run as written,
# on every store, and complete every task exactly once.
#
# The README marks each loop with a line "<!-- worker-loop: CLIENT -->"
# (sh, python, node) before its fenced code block; this suite extracts the
# block and runs it unchanged in a directory holding app.db, with the
# directory of $STATEVTAB_EXT on LD_LIBRARY_PATH so that ".load statevtab",
# load_extension("statevtab") and loadExtension('statevtab') find it.
# For each store (local, Redis, PostgreSQL) and each client, app.db gets a
# dead letters table and a tasks table on that store (a prefix/schema of
# its own), 250 tasks in queue 'email' and 3 in queue 'other'; after the
# loop, all 250 must be completed with one attempt each (no task claimed
# twice, none left claimed) and the 3 others still pending.
#
# Clients: the sqlite3 shell; a Python whose sqlite3 module can load
# extensions (python3, else Debian's /usr/bin/python3, installed when
# missing); Node with better-sqlite3 (npm, installed once into
# test/out/node, pinned).  A client that cannot be set up is a FAIL.
set -u
LC_ALL=C
export LC_ALL

root=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
ext=${STATEVTAB_EXT:-}
tmp=${TEST_TMP:-$(mktemp -d)}
readme=$root/README.md
nfail=0
pass() { echo "PASS worker-loops: $*"; }
fail() {
  echo "FAIL worker-loops: $*"
  nfail=$((nfail + 1))
}

if [ -z "$ext" ] || [ ! -f "$ext" ]; then
  fail "STATEVTAB_EXT is not set or missing"
  exit 1
fi
libdir=$(dirname "$ext")
# The library must be reachable as "statevtab.so" in libdir.
if [ "$(basename "$ext")" != statevtab.so ]; then
  mkdir -p "$tmp/lib" && cp "$ext" "$tmp/lib/statevtab.so"
  libdir=$tmp/lib
fi

# extract CLIENT: the fenced block after "<!-- worker-loop: CLIENT -->".
extract() {
  awk -v want="<!-- worker-loop: $1 -->" '
    $0 == want { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$readme"
}

# --- clients ----------------------------------------------------------------
# shellcheck source=test/lib/build.sh disable=SC1091
. "$root/test/lib/build.sh"

py=
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 &&
    "$cand" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' \
      >/dev/null 2>&1; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  sv_install_deps python3 >"$tmp/apt.log" 2>&1 || :
  if /usr/bin/python3 -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' \
    >/dev/null 2>&1; then
    py=/usr/bin/python3
  fi
fi

nodedir=$root/test/out/node
node_ok=0
sv_npm_module "$nodedir" better-sqlite3@12.11.1 "$tmp/npm.log" && node_ok=1

# --- stores -------------------------------------------------------------------
stores=(sqlite)
[ -n "${STATEVTAB_REDIS_URL:-}" ] && stores+=(redis) ||
  fail "redis: STATEVTAB_REDIS_URL is not set"
[ -n "${STATEVTAB_PG_URL:-}" ] && stores+=(postgresql) ||
  fail "postgresql: STATEVTAB_PG_URL is not set"

opts() { # STORE TAG
  case $1 in
  sqlite) echo "" ;;
  redis) echo "store='$STATEVTAB_REDIS_URL', prefix='wl_$2:'" ;;
  postgresql) echo "store='$STATEVTAB_PG_URL', schema=wl_$2" ;;
  esac
}

sql() { sqlite3 -batch -bail "$@"; }

for store in "${stores[@]}"; do
  for client in sh python node; do
    name="$store/$client"
    dir=$tmp/$store-$client
    mkdir -p "$dir"
    code=$(extract "$client")
    if [ -z "$code" ]; then
      fail "$name: README has no block after <!-- worker-loop: $client -->"
      continue
    fi
    case $client in
    sh) printf '%s\n' "$code" >"$dir/worker.sh" ; run=(sh worker.sh) ;;
    python)
      if [ -z "$py" ]; then
        fail "$name: no Python whose sqlite3 module loads extensions"
        continue
      fi
      printf '%s\n' "$code" >"$dir/worker.py"
      run=("$py" worker.py)
      ;;
    node)
      if ((!node_ok)); then
        fail "$name: node with better-sqlite3 is not available (log: $tmp/npm.log)"
        continue
      fi
      printf '%s\n' "$code" >"$dir/worker.js"
      run=(node worker.js)
      ;;
    esac
    o=$(opts "$store" "$client")
    if ! out=$(cd "$dir" && rm -f app.db && sql app.db -cmd ".load ${ext%.so}" "
        CREATE VIRTUAL TABLE dead_letters USING state_dead_letters($o);
        CREATE VIRTUAL TABLE tasks USING state_tasks($o);
        DELETE FROM tasks; DELETE FROM dead_letters;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250)
        INSERT INTO tasks(queue, name, payload, priority)
          SELECT 'email', 'send', json_object('i', i), i % 7 FROM n;
        INSERT INTO tasks(queue, name) VALUES ('other', 'x'), ('other', 'y'), ('other', 'z');" 2>&1); then
      fail "$name: setup: $out"
      continue
    fi
    if ! out=$(cd "$dir" && LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      NODE_PATH=$nodedir/node_modules timeout 300 "${run[@]}" 2>&1); then
      fail "$name: the loop failed: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
      continue
    fi
    got=$(cd "$dir" && sql app.db -cmd ".load ${ext%.so}" "
      SELECT (SELECT count(*) FROM tasks WHERE queue = 'email' AND state = 'completed'),
             (SELECT count(*) FROM tasks WHERE queue = 'email' AND attempts = 1),
             (SELECT count(*) FROM tasks WHERE state = 'claimed'),
             (SELECT count(*) FROM tasks WHERE queue = 'other' AND state = 'pending')" 2>&1)
    if [ "$got" = "250|250|0|3" ]; then
      pass "$name: 250 tasks completed once each, the other queue untouched"
    else
      fail "$name: completed|one attempt|still claimed|other pending = $got (want 250|250|0|3)"
    fi
  done
done

exit $((nfail > 0))
