# shellcheck shell=bash
# test/lib/build.sh -- dependency install and build steps shared by
# ./quickstart and ./test/run. Source it from bash; it defines:
#
#   SV_ROOT                    absolute path of the repository root
#   sv_install_deps [PKG...]   install the Debian build packages (plus PKG...)
#                              that are missing; no-op when all are present
#   sv_build [CONFIGURE_ARG...]
#                              in-tree build at $SV_ROOT: autoreconf when
#                              configure is missing or stale, ./configure when
#                              there is no Makefile, then make; leaves
#                              $SV_ROOT/statevtab.so for `.load ./statevtab`
#   sv_npm_module DIR PKG@VER LOG
#                              an npm package (pinned) in DIR/node_modules,
#                              with Node from Debian when missing
#   sv_build_asan              sanitizer build in $SV_ROOT/build-asan with the
#                              in-tree build's configure options plus
#                              --enable-sanitize; leaves
#                              build-asan/.libs/statevtab.so
#
# Each function returns non-zero on failure and never exits the caller's
# shell; callers choose what a failure means. (The functions check every step
# explicitly: `set -e` is ignored inside a function called from `if` or `||`.)

SV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SV_JOBS=${SV_JOBS:-2}

# Debian packages needed to build the extension and run the quickstart.
SV_BUILD_PACKAGES=(autoconf automake libtool pkg-config make gcc
  libsqlite3-dev sqlite3 libhiredis-dev libcjson-dev libpq-dev
  libpcre2-dev # the REGEX constraint of feature flags (ext/flags.c)
  libmicrohttpd-dev # statevtab-board, the queue board (board/board.c)
  tzdata) # tzdata: the time zones of state_schedules (vtab/cron.c)

sv_log() { printf 'statevtab: %s\n' "$*" >&2; }

# sv_pkg_installed PKG: true when the Debian package PKG is installed.
sv_pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'
}

# sv_install_deps [PKG...]: install whatever of SV_BUILD_PACKAGES and PKG...
# is missing, with one `apt-get update` at most. Uses sudo when not root.
sv_install_deps() {
  local pkgs=("${SV_BUILD_PACKAGES[@]}" "$@") missing=() p
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    # Not Debian-like: check the tools we need and let the build report the rest.
    for p in autoreconf libtoolize pkg-config make cc sqlite3; do
      command -v "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
      sv_log "no apt-get here; please install: ${missing[*]} (and the sqlite3, cjson, pcre2, hiredis, libpq development files)"
      return 1
    fi
    return 0
  fi
  for p in "${pkgs[@]}"; do
    sv_pkg_installed "$p" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0

  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      sv_log "missing packages: ${missing[*]}; run as root or install sudo"
      return 1
    fi
  fi
  sv_log "installing: ${missing[*]}"
  if [ -z "${SV_APT_UPDATED:-}" ]; then
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    SV_APT_UPDATED=1
  fi
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# sv_npm_module DIR PKG@VERSION LOG: make the npm package PKG (pinned) loadable
# by Node with NODE_PATH=DIR/node_modules: nodejs and npm from Debian when
# missing, then `npm install` into DIR the first time.  Output goes to LOG.
# True when `require(PKG)` works.
sv_npm_module() {
  local dir=$1 spec=$2 log=$3 name=${2%@*}
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    sv_install_deps nodejs npm >>"$log" 2>&1 || :
  fi
  command -v node >/dev/null 2>&1 || return 1
  if [ ! -d "$dir/node_modules/$name" ]; then
    mkdir -p "$dir" || return 1
    (cd "$dir" && { [ -f package.json ] || echo '{"private": true}' >package.json; } &&
      timeout 600 npm install --no-audit --no-fund "$spec") >>"$log" 2>&1 || :
  fi
  NODE_PATH=$dir/node_modules node -e "require('$name')" >>"$log" 2>&1
}

# sv_build [CONFIGURE_ARG...]: configure (first time only) and make in-tree.
# The arguments are used only when ./configure has to run; later changes to
# configure.ac or Makefile.am are picked up by automake's own rebuild rules.
sv_build() {
  (
    cd "$SV_ROOT" || exit 1
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
      sv_log "autoreconf -fi"
      autoreconf -fi || exit 1
    fi
    if [ ! -f Makefile ]; then
      sv_log "./configure $*"
      ./configure "$@" || exit 1
    fi
    make -j"$SV_JOBS" || exit 1
    test -f statevtab.so
  )
}

# sv_snapshot DEST: copy the source files (no build products) of $SV_ROOT to
# DEST, keeping modification times so that a rebuild there is incremental.
#
# Why a copy: automake refuses a VPATH build (../configure from build-asan/)
# once the source tree itself has been configured in-tree ("source directory
# already configured"), and with VPATH make would pick up the in-tree *.lo
# files anyway. So the sanitizer build gets its own pristine tree.
sv_snapshot() {
  local dest=$1
  mkdir -p "$dest" || return 1
  (
    set -o pipefail
    cd "$SV_ROOT" || exit 1
    {
      if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # Tracked and untracked-but-not-ignored files: the sources.
        git ls-files -z --cached --others --exclude-standard
      else
        find . \( -name .git -o -name 'build-*' -o -name .libs -o -name .deps \
          -o -name autom4te.cache -o -path ./test/out \) -prune \
          -o -type f ! -name '*.o' ! -name '*.lo' ! -name '*.la' ! -name '*.so' \
          ! -name config.status ! -name config.log ! -name config.h \
          ! -name libtool ! -name stamp-h1 ! -name Makefile ! -name statevtab.pc \
          -print0
      fi
      # Generated but needed, so the copy need not run autoreconf again.
      for f in configure config.h.in Makefile.in aclocal.m4; do
        if [ -f "$f" ]; then printf '%s\0' "$f"; fi
      done
      if [ -d build-aux ]; then find build-aux -type f -print0; fi
      if [ -d m4 ]; then find m4 -type f -print0; fi
    } | while IFS= read -r -d '' f; do
      # git ls-files --cached still lists files deleted from the work tree.
      if [ -e "$f" ]; then printf '%s\0' "$f"; fi
    done | tar --null -T - -cf - | tar -xf - -C "$dest"
  )
}

# sv_build_asan: build the extension with --enable-sanitize in build-asan/.
sv_build_asan() {
  local dir="$SV_ROOT/build-asan"
  (
    if [ ! -x "$SV_ROOT/configure" ]; then
      sv_log "build-asan: no configure in $SV_ROOT; run sv_build first"
      exit 1
    fi
    sv_snapshot "$dir" || { sv_log "build-asan: copying the sources failed"; exit 1; }
    cd "$dir" || exit 1
    # Same options as the in-tree build (so both have the same stores), plus
    # --enable-sanitize; reconfigure when those change.
    local args
    args=$("$SV_ROOT/config.status" --config 2>/dev/null) || args=
    args="$args --enable-sanitize"
    if [ ! -f Makefile ] || [ "$(cat .sv-configure-args 2>/dev/null)" != "$args" ]; then
      sv_log "build-asan: ./configure $args"
      eval "./configure $args" || exit 1
      printf '%s\n' "$args" >.sv-configure-args
    fi
    make -j"$SV_JOBS" || exit 1
    test -f .libs/statevtab.so
  )
}
