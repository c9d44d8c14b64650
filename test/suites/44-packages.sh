#!/usr/bin/env bash
# test/suites/44-packages.sh -- the Node and Python packages as a user gets
# them (issue 16):
#   - `make npm` packs statevtab-<version>.tgz; npm installs it into an empty
#     folder, and with better-sqlite3 12 from the registry a worker loop
#     loads the library through the package's load(db) (getLoadablePath()
#     must name a file in the installed package);
#   - `make wheel` builds a wheel with Debian's python3 (no network); pip
#     installs it with --no-index into a fresh venv, and the same worker
#     loop runs through the standard sqlite3 module and statevtab.load(conn).
# The loop, on the local store: 30 tasks enqueued; each claim takes 5 (and
# reads them all); every third task fails for good (max_attempts 1: a dead
# letter), the others complete; state_redrive puts the 10 dead ones back,
# and they complete.  It must end with 30 completed, 10 redriven, no dead
# letter left to redrive and nothing claimed.
set -u
LC_ALL=C
export LC_ALL

root=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${TEST_TMP:-/tmp}/packages.XXXXXX") || exit 1
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
nfail=0
pass() { echo "PASS packages: $*"; }
fail() {
  echo "FAIL packages: $*"
  nfail=$((nfail + 1))
}
cd "$root" || exit 1
# shellcheck source=test/lib/build.sh disable=SC1091
. "$root/test/lib/build.sh"
version=$(sed -n 's/^PACKAGE_VERSION = //p' Makefile)
want="completed 30 redriven 10 redrivable 0 claimed 0"

# The loop's SQL, shared by both clients: each statement on one line.
setup="CREATE VIRTUAL TABLE dead_letters USING state_dead_letters();
CREATE VIRTUAL TABLE tasks USING state_tasks();
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) INSERT INTO tasks(queue, name, payload, max_attempts) SELECT 'q', 'job', json_object('i', i), 1 FROM n"
claim="SELECT id, lease_token, payload ->> '\$.i' AS i FROM state_claim('tasks', 'q', 'w', 30000, 5)"
report="SELECT 'completed ' || (SELECT count(*) FROM tasks WHERE state = 'completed') || ' redriven ' || CAST(? AS INTEGER) || ' redrivable ' || state_redrive('dead_letters', 'tasks') || ' claimed ' || (SELECT count(*) FROM tasks WHERE state = 'claimed')"

# --- Node ---------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sv_install_deps nodejs npm >"$tmp/apt-node.log" 2>&1 || :
fi
rm -rf packages
if make -s npm >"$tmp/npm-pack.log" 2>&1 && [ -f "packages/statevtab-$version.tgz" ]; then
  pass "make npm packed statevtab-$version.tgz"
  app=$tmp/node-app
  mkdir -p "$app"
  cat >"$app/worker.js" <<EOF
const Database = require('better-sqlite3');
const statevtab = require('statevtab');
const fs = require('fs');
const p = statevtab.getLoadablePath();
if (!p.startsWith(__dirname + '/node_modules/statevtab/') || !fs.existsSync(p)) {
  throw new Error('getLoadablePath() names ' + p);
}
const db = new Database('app.db');
statevtab.load(db);
db.exec(\`$setup\`);
const claim = db.prepare(\`$claim\`);
const complete = db.prepare("SELECT state_complete('tasks', ?, ?, '{}')");
const fail = db.prepare("SELECT state_fail('tasks', ?, ?, 'boom')").pluck();
function drain(failEveryThird) {
  for (;;) {
    const rows = claim.all();
    if (rows.length === 0) return;
    for (const t of rows) {
      if (failEveryThird && t.i % 3 === 0) {
        const out = fail.get(t.id, t.lease_token);
        if (out !== 'dead') throw new Error('task ' + t.i + ': ' + out);
      } else {
        complete.get(t.id, t.lease_token);
      }
    }
  }
}
drain(true);
const redriven = db.prepare("SELECT state_redrive('dead_letters', 'tasks')").pluck().get();
drain(false);
console.log(db.prepare(\`$report\`).pluck().get(redriven));
EOF
  # better-sqlite3 from the registry, built once into test/out/node (as
  # suite 42-worker-loops does; its native build takes minutes), found
  # through NODE_PATH; the package itself is installed into the empty app.
  nodedir=$root/test/out/node
  if [ ! -d "$nodedir/node_modules/better-sqlite3" ]; then
    mkdir -p "$nodedir"
    (cd "$nodedir" && { [ -f package.json ] || echo '{"private": true}' >package.json; } &&
      timeout 600 npm install --no-audit --no-fund better-sqlite3@12.11.1) \
      >"$tmp/npm-bs3.log" 2>&1 || :
  fi
  if (cd "$app" && echo '{"private": true}' >package.json &&
    timeout 600 npm install --no-audit --no-fund --offline \
      "$root/packages/statevtab-$version.tgz") >"$tmp/npm-install.log" 2>&1 &&
    [ -f "$app/node_modules/statevtab/lib/statevtab.so" ]; then
    pass "npm installed the package into an empty folder"
    if out=$(cd "$app" && NODE_PATH=$nodedir/node_modules timeout 120 node worker.js 2>&1) &&
      [ "$out" = "$want" ]; then
      pass "node: the worker loop through require('statevtab').load(db): $out"
    else
      fail "node: the worker loop printed: $out"
    fi
  else
    fail "npm install of the package: $(tail -5 "$tmp/npm-install.log")"
  fi
else
  fail "make npm: $(tail -5 "$tmp/npm-pack.log")"
fi

# --- Python -------------------------------------------------------------------
py=/usr/bin/python3
# (Debian's venv needs ensurepip, which python3-venv brings.)
if ! "$py" -c 'import venv, ensurepip, pip, setuptools, wheel' >/dev/null 2>&1; then
  sv_install_deps python3 python3-venv python3-pip python3-setuptools \
    python3-wheel >"$tmp/apt-py.log" 2>&1 || :
fi
whl=
if make -s wheel PYTHON="$py" >"$tmp/wheel.log" 2>&1; then
  whl=$(ls packages/statevtab-"$version"-*.whl 2>/dev/null | head -1)
fi
if [ -n "$whl" ]; then
  pass "make wheel built $(basename "$whl")"
  if "$py" -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1 &&
    "$tmp/venv/bin/pip" install --quiet --no-index "$whl" >>"$tmp/venv.log" 2>&1; then
    pass "pip install --no-index of the wheel into a fresh venv"
    cat >"$tmp/worker.py" <<EOF
import sqlite3, statevtab
conn = sqlite3.connect("app.db", isolation_level=None)
statevtab.load(conn)
conn.executescript("""$setup""")
def drain(fail_every_third):
    while True:
        rows = conn.execute("""$claim""").fetchall()
        if not rows:
            return
        for id_, tok, i in rows:
            if fail_every_third and i % 3 == 0:
                out = conn.execute("SELECT state_fail('tasks', ?, ?, 'boom')", (id_, tok)).fetchone()[0]
                assert out == "dead", out
            else:
                conn.execute("SELECT state_complete('tasks', ?, ?, '{}')", (id_, tok))
drain(True)
redriven = conn.execute("SELECT state_redrive('dead_letters', 'tasks')").fetchone()[0]
drain(False)
print(conn.execute("""$report""", (redriven,)).fetchone()[0])
EOF
    if out=$(cd "$tmp" && rm -f app.db && timeout 120 "$tmp/venv/bin/python" worker.py 2>&1) &&
      [ "$out" = "$want" ]; then
      pass "python: the worker loop through statevtab.load(conn) in the venv: $out"
    else
      fail "python: the worker loop printed: $out"
    fi
  else
    fail "venv or pip install: $(tail -5 "$tmp/venv.log")"
  fi
else
  fail "make wheel: $(tail -5 "$tmp/wheel.log")"
fi
rm -rf packages
[ $nfail -eq 0 ]
