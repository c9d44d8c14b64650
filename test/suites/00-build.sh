#!/usr/bin/env bash
# 00-build -- the shape of the built module, before any SQL runs:
#   - the in-tree copy ./statevtab.so exists and matches .libs/statevtab.so
#   - it exports exactly one symbol of ours: sqlite3_statevtab_init
#   - it does not link libsqlite3 (it must use the host's SQLite through
#     sqlite3_api) and has no undefined sqlite3_* references
#   - every library it needs resolves, and the sqlite3 shell can .load it
#   - it links only libc, libm, libcjson and libpcre2-8 (as the README
#     says; PCRE2 runs the REGEX flag constraint, and every Debian has it): the
#     client libraries of Redis and PostgreSQL are opened when a table first
#     names their store; with one of them made unreadable (a mount namespace
#     binds /dev/null over it), the module still loads, the local store
#     works, and a table on that store fails naming the library and the
#     Debian package to install
# The same checks run on the sanitizer build when test/run made one.
# Run by test/run; needs STATEVTAB_ROOT and STATEVTAB_EXT.

set -u
cd "$STATEVTAB_ROOT" || exit 1

nfail=0
pass() { echo "PASS $*"; }
fail() {
  echo "FAIL $*"
  nfail=$((nfail + 1))
}

# check_module LABEL PATH [loadable]: the checks above on one .so file.
check_module() {
  local label=$1 so=$2 loadable=${3:-} syms undef deps out

  if [ -f "$so" ]; then
    pass "$label: $so exists"
  else
    fail "$label: $so does not exist"
    return
  fi

  # Toolchain symbols that may appear in .dynsym are not ours.
  syms=$(nm -D --defined-only "$so" | awk '{print $NF}' |
    grep -vxE '_init|_fini|_edata|_end|__bss_start|_IO_stdin_used' | sort -u)
  if [ "$syms" = "sqlite3_statevtab_init" ]; then
    pass "$label: exports only sqlite3_statevtab_init"
  else
    fail "$label: exports [$(tr "\n" " " <<<"$syms")], want only sqlite3_statevtab_init"
  fi

  deps=$(ldd "$so" 2>&1)
  if grep -q 'libsqlite3' <<<"$deps"; then
    fail "$label: links libsqlite3 (ldd: $(grep libsqlite3 <<<"$deps" | xargs))"
  else
    pass "$label: does not link libsqlite3"
  fi
  if grep -q 'not found' <<<"$deps"; then
    fail "$label: unresolved libraries: $(grep 'not found' <<<"$deps" | xargs)"
  else
    pass "$label: all needed libraries resolve"
  fi

  # A direct sqlite3_xxx() call (instead of through sqlite3_api) would bind to
  # whatever SQLite the host happens to export, or fail to load.
  undef=$(nm -D --undefined-only "$so" | awk '{print $NF}' | grep '^sqlite3_' | sort -u)
  if [ -z "$undef" ]; then
    pass "$label: no direct calls into libsqlite3"
  else
    fail "$label: calls libsqlite3 directly: $(tr "\n" " " <<<"$undef")"
  fi

  if [ -n "$loadable" ]; then
    if out=$(sqlite3 -bail :memory: ".load ${so%.so}" "SELECT 'loaded'" 2>&1) &&
      [ "$out" = loaded ]; then
      pass "$label: loads in the sqlite3 shell"
    else
      fail "$label: .load ${so%.so} in the sqlite3 shell: $out"
    fi
  fi
}

check_module build "$STATEVTAB_EXT" loadable

# What the module links: only these (vdso and the loader aside).
libs=$(ldd "$STATEVTAB_EXT" | awk '{print $1}' | sed 's/\.so.*//' |
  grep -vE '^(linux-vdso|/lib64/ld-linux.*|ld-linux.*)$' | sort -u | tr '\n' ' ')
if [ "$libs" = "libc libcjson libm libpcre2-8 " ]; then
  pass "build: links only libc, libcjson, libm and libpcre2-8"
else
  fail "build: links [$libs], want only libc libcjson libm libpcre2-8 (README: Building and loading)"
fi

# without_lib SONAME STORE URL: the module with library SONAME unreadable.
without_lib() {
  local soname=$1 store=$2 url=$3 path out want
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s {print $NF; exit}')
  if [ -z "$path" ]; then
    fail "missing $soname: the library is not installed here, nothing to hide"
    return
  fi
  path=$(readlink -f "$path")
  out=$(unshare -m sh -c 'mount --bind /dev/null "$1" && shift &&
      exec sqlite3 :memory: "$@"' sh "$path" ".load ${STATEVTAB_EXT%.so}" \
    "CREATE VIRTUAL TABLE l USING state_tasks();
     INSERT INTO l(name) VALUES ('x');
     SELECT 'local ' || count(*) FROM state_claim('l', 'default', 'w');
     CREATE VIRTUAL TABLE r USING state_tasks(store='$url');" 2>&1)
  want="the $store store needs $soname (Debian package "
  if grep -qx 'local 1' <<<"$out" && grep -qF "$want" <<<"$out"; then
    pass "missing $soname: the module loads, the local store works, a $store table names the library ($(grep -F "$want" <<<"$out" | sed 's/.*\(the .* store needs [^:]*\):.*/\1/'))"
  else
    fail "missing $soname: got: $out"
  fi
}
soname() { sed -n "s/^#define $1 \"\(.*\)\"$/\1/p" "$STATEVTAB_ROOT/config.h"; }
without_lib "$(soname SV_LIBHIREDIS_SONAME)" redis 'redis://127.0.0.1:1/0'
without_lib "$(soname SV_LIBPQ_SONAME)" postgresql 'postgresql://nobody@127.0.0.1:1/x'

if [ -f "$STATEVTAB_ROOT/.libs/statevtab.so" ] &&
  cmp -s "$STATEVTAB_ROOT/.libs/statevtab.so" "$STATEVTAB_EXT"; then
  pass "build: ./statevtab.so is the current .libs/statevtab.so"
else
  fail "build: ./statevtab.so differs from .libs/statevtab.so (make all-local)"
fi

if [ -n "${STATEVTAB_EXT_ASAN:-}" ]; then
  # Not loaded here: the ASan runtime must come first in the process, so only
  # an ASan-built host can load this one.
  check_module build-asan "$STATEVTAB_EXT_ASAN"
  if nm -D --undefined-only "$STATEVTAB_EXT_ASAN" | grep -q '__asan_'; then
    pass "build-asan: module is instrumented with AddressSanitizer"
  else
    fail "build-asan: module has no __asan_ references"
  fi
fi

exit $((nfail > 0))
