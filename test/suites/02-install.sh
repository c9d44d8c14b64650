#!/usr/bin/env bash
# 02-install -- what a user who installs statevtab gets (issue 16):
#   - `make install prefix=DIR` from the built tree puts the module, the
#     header and a statevtab.pc that names DIR (not the configured prefix)
#     under DIR; a C program finds the header through `pkg-config --cflags
#     statevtab`, the sqlite3 shell loads the module from `pkg-config
#     --variable=extension statevtab`, bin/statevtab-board loads that
#     module by default, and `make uninstall prefix=DIR` leaves no file
#     behind;
#   - `make distcheck` passes (the tarball builds outside its read-only
#     source folder, its `make check` runs the local-store tests, install,
#     uninstall and distclean leave nothing behind); the tarball holds
#     LICENSE and CHANGELOG.md and no build output, and built with
#     `./configure --prefix=DIR` its `make install` writes the same correct
#     files under DIR;
#   - the version is one: STATEVTAB_VERSION in statevtab.h, the package
#     version configure read, statevtab_version() and the .pc's Version.
# Run by test/run after the in-tree build; needs STATEVTAB_ROOT and TEST_TMP.

set -u
cd "$STATEVTAB_ROOT" || exit 1

nfail=0
pass() { echo "PASS $*"; }
fail() {
  echo "FAIL $*"
  nfail=$((nfail + 1))
}

tmp=$(mktemp -d "${TEST_TMP:-/tmp}/install.XXXXXX") || exit 1
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

version=$(sed -n 's/^#define STATEVTAB_VERSION "\(.*\)"$/\1/p' statevtab.h)
if [ -n "$version" ] && grep -qx "PACKAGE_VERSION = $version" Makefile; then
  pass "version: statevtab.h and configure agree ($version)"
else
  fail "version: statevtab.h says '$version', Makefile says '$(sed -n 's/^PACKAGE_VERSION = //p' Makefile)'"
fi

# check_prefix LABEL DIR: the installed files under DIR, used as a user would.
check_prefix() {
  local label=$1 dir=$2 pc ext cflags got
  pc=$dir/lib/pkgconfig/statevtab.pc
  for f in "$dir/lib/statevtab.so" "$dir/include/statevtab.h" "$pc"; do
    if [ -f "$f" ]; then
      pass "$label: installed ${f#"$dir"/}"
    else
      fail "$label: ${f#"$dir"/} is missing"
    fi
  done
  # statevtab-board (bin/) loads the module of its own install by default.
  rm -f "$tmp/board.db" "$tmp/board.out"
  sqlite3 "$tmp/board.db" "PRAGMA user_version = 1"
  "$dir/bin/statevtab-board" "$tmp/board.db" --port 0 >"$tmp/board.out" 2>&1 &
  local bpid=$! i
  for i in $(seq 1 50); do
    grep -q '^statevtab-board: extension' "$tmp/board.out" && break
    sleep 0.1
  done
  kill "$bpid" 2>/dev/null
  wait "$bpid" 2>/dev/null
  got=$(sed -n 's/^statevtab-board: extension //p' "$tmp/board.out")
  if [ "$got" = "$dir/bin/../lib/statevtab.so" ]; then
    pass "$label: bin/statevtab-board loads $got by default"
  else
    fail "$label: bin/statevtab-board: $(head -c 500 "$tmp/board.out")"
  fi
  [ -f "$pc" ] || return
  if grep -qx "prefix=$dir" "$pc" && ! grep -q /usr/local "$pc"; then
    pass "$label: statevtab.pc names $dir"
  else
    fail "$label: statevtab.pc does not name $dir: $(grep -E '^(prefix|libdir|includedir)=' "$pc" | tr '\n' ' ')"
  fi
  cflags=$(PKG_CONFIG_PATH=$dir/lib/pkgconfig pkg-config --cflags statevtab 2>&1)
  ext=$(PKG_CONFIG_PATH=$dir/lib/pkgconfig pkg-config --variable=extension statevtab 2>&1)
  got=$(PKG_CONFIG_PATH=$dir/lib/pkgconfig pkg-config --modversion statevtab 2>&1)
  if [ "$got" = "$version" ]; then
    pass "$label: pkg-config --modversion is $version"
  else
    fail "$label: pkg-config --modversion says '$got', want '$version'"
  fi
  cat >"$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <sqlite3.h>
#include <statevtab.h>
int main(void) {
  puts(STATEVTAB_VERSION);
  return 0;
}
EOF
  # shellcheck disable=SC2086 # cflags is a list of flags
  if cc $cflags "$tmp/prog.c" -o "$tmp/prog" 2>"$tmp/cc.err" &&
    [ "$("$tmp/prog")" = "$version" ]; then
    pass "$label: a program built with pkg-config --cflags statevtab includes statevtab.h"
  else
    fail "$label: a program built with '$cflags' failed: $(head -3 "$tmp/cc.err")"
  fi
  got=$(cd "$tmp" && sqlite3 :memory: ".load $ext" \
    "SELECT statevtab_version(); CREATE VIRTUAL TABLE t USING state_tasks(); INSERT INTO t(name) VALUES ('x'); SELECT count(*) FROM state_claim('t', 'default', 'w');" 2>&1)
  if [ "$got" = "$version"$'\n'1 ]; then
    pass "$label: .load of pkg-config's extension ($ext) works"
  else
    fail "$label: .load $ext gave: $got"
  fi
}

# 1. make install prefix=DIR from the built tree, then make uninstall.
p1=$tmp/p1
if make -s install prefix="$p1" >"$tmp/install1.log" 2>&1; then
  pass "make install prefix=DIR"
  check_prefix "install prefix=" "$p1"
else
  fail "make install prefix=DIR: $(tail -5 "$tmp/install1.log")"
fi
if make -s uninstall prefix="$p1" >"$tmp/uninstall1.log" 2>&1 &&
  [ -z "$(find "$p1" -type f -o -type l 2>/dev/null)" ]; then
  pass "make uninstall prefix=DIR leaves no file"
else
  fail "make uninstall prefix=DIR left: $(find "$p1" -type f -o -type l 2>/dev/null | head -5 | tr '\n' ' ')"
fi

# 2. The tarball: built outside its read-only source folder.
tarball=statevtab-$version.tar.gz
rm -f "$tarball"
if make -s distcheck >"$tmp/dist.log" 2>&1 && [ -f "$tarball" ]; then
  pass "make distcheck passed and left $tarball"
  mv "$tarball" "$tmp/"
else
  fail "make distcheck: $(grep -E 'rror|FAIL' "$tmp/dist.log" | head -5)"
  rm -f "$tarball"
  exit 1
fi
mkdir "$tmp/src" "$tmp/build"
tar -xzf "$tmp/$tarball" -C "$tmp/src"
src=$tmp/src/statevtab-$version
for f in LICENSE CHANGELOG.md README.md configure statevtab.pc.in test/check.sh; do
  if [ -f "$src/$f" ]; then
    pass "tarball holds $f"
  else
    fail "tarball lacks $f"
  fi
done
if [ -e "$src/test/out" ] || [ -e "$src/statevtab.so" ]; then
  fail "tarball holds build outputs (test/out or statevtab.so)"
else
  pass "tarball holds no build outputs"
fi
chmod -R a-w "$src"
p2=$tmp/p2
if (cd "$tmp/build" && "$src/configure" -q --prefix="$p2" &&
  make -s -j2 && make -s install) >"$tmp/build.log" 2>&1; then
  pass "tarball: configure --prefix=DIR, make, make install (read-only source)"
  check_prefix "configure --prefix=" "$p2"
else
  fail "tarball build: $(grep -E 'FAIL|rror' "$tmp/build.log" | head -5)"
fi

[ "$nfail" -eq 0 ]
