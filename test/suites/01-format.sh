#!/usr/bin/env bash
# 01-format -- the C sources are formatted as `make format` leaves them:
# clang-format (the repository's .clang-format) would change nothing in
# statevtab.h and the *.c/*.h files of ext/, vtab/, board/ and test/ (generated
# headers and test/out excepted).  One PASS line, or one FAIL line per file
# with the number of lines clang-format would change; the fix is
# `make format` (Debian: apt-get install clang-format).
# Run by test/run; needs STATEVTAB_ROOT.

set -u
cd "$STATEVTAB_ROOT" || exit 1

fmt=$(command -v clang-format || command -v clang-format-16 ||
  command -v clang-format-15 || command -v clang-format-14) || {
  echo "FAIL format: clang-format is not installed"
  exit 1
}

nfail=0
nfile=0
while IFS= read -r -d '' f; do
  case $f in
  vtab/pg_sql.h | vtab/redis_lua.h | board/assets.h | test/out/*) continue ;;
  esac
  nfile=$((nfile + 1))
  n=$("$fmt" --style=file "$f" | diff "$f" - | grep -c '^>')
  if [ "$n" != 0 ]; then
    echo "FAIL format: $f: clang-format would change $n lines (make format)"
    nfail=$((nfail + 1))
  fi
done < <(find statevtab.h ext vtab board test -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

if [ "$nfile" = 0 ]; then
  echo "FAIL format: no C files found"
  exit 1
fi
[ "$nfail" = 0 ] && echo "PASS format: $nfile files as clang-format leaves them"
[ "$nfail" = 0 ]
