# shellcheck shell=bash
# test/lib/servers.sh -- private PostgreSQL and Redis servers for the tests.
# Source it from bash; sourcing only defines functions (no side effects).
#
#   sv_free_port                 print a TCP port that is free on 127.0.0.1
#   sv_start_postgres DIR        initdb a throwaway cluster in DIR/data and
#                                start it on a free loopback port
#   sv_stop_postgres [DIR]       fast shutdown (SIGINT) by PID; SIGKILL
#                                (with its children) after SV_SERVER_WAIT s
#   sv_restart_postgres [DIR]    stop, start again on the same port and data
#   sv_start_redis DIR           start redis-server (AOF on, appendfsync
#                                always) on a free loopback port
#   sv_stop_redis [DIR]          SIGTERM by PID (SIGKILL fallback)
#   sv_restart_redis [DIR]       stop, start again on the same port and dir;
#                                the data survives through the AOF
#   sv_crash_postgres [DIR]      SIGKILL the postmaster and its processes
#                                (a crash), start again (WAL recovery)
#   sv_crash_redis [DIR]         SIGKILL redis-server, start again (the AOF)
#   sv_pause_redis [DIR]         SIGSTOP the server (clients then time out)
#   sv_resume_redis [DIR]        SIGCONT it
#   sv_servers_refresh           re-export the *_PID variables from the pid
#                                files (after a restart in another process)
#
# DIR defaults to $STATEVTAB_PG_DIR / $STATEVTAB_REDIS_DIR. Each function
# returns non-zero (with a message on stderr) on failure and never exits the
# caller's shell. The start functions export:
#
#   STATEVTAB_PG_URL     postgresql://postgres@127.0.0.1:PORT/statevtab_test
#   STATEVTAB_PG_PID     PID of the postmaster
#   STATEVTAB_PG_DIR     DIR (the cluster is DIR/data; the unix socket,
#                        DIR/.s.PGSQL.PORT; the server log, DIR/postgres.log)
#   STATEVTAB_PG_PORT    PORT
#   STATEVTAB_REDIS_URL  redis://127.0.0.1:PORT/0
#   STATEVTAB_REDIS_SOCK DIR/redis.sock
#   STATEVTAB_REDIS_PID  PID of redis-server
#   STATEVTAB_REDIS_PORT PORT
#   STATEVTAB_REDIS_DIR  DIR (config DIR/redis.conf, log DIR/redis.log, AOF
#                        in DIR/appendonlydir)
#
# How the servers are run:
#   - Both listen on 127.0.0.1 only (and on a unix socket in DIR), on a port
#     chosen below the kernel's ephemeral range, so that an outgoing
#     connection can never take the port while a server is restarting. A
#     system-wide instance (Debian's postinst may start one) is never used,
#     started or stopped.
#   - Each server runs in a session of its own (setsid) and is not a child
#     of the calling shell: a Ctrl-C on the terminal or the timeout(1) that
#     kills a suite's process group does not reach it, and a bare `wait` in
#     the caller does not wait for it; it is stopped only by PID, through
#     these functions. The PID
#     is the one the server writes itself (postmaster.pid, redis.pid), kept
#     in DIR/sv.pid, so a server restarted by a suite (a child process) is
#     still stopped by test/run's cleanup, which reads the file.
#   - As root, PostgreSQL (which refuses to run as root) runs as the
#     `postgres` OS user: DIR is chowned to it, and every directory above DIR
#     must be searchable by it (test/run makes its temp dir mode 711).
#   - Server output goes to log files in DIR, never to the caller's stdout,
#     and no other descriptor is inherited: a server holding a pipe open
#     would keep a `| tee` waiting forever.
#
#   sv_start_redis_cluster DIR [REPLICAS]
#                                a Redis Cluster of three primaries (with
#                                REPLICAS=1, one replica each) in DIR/n1..
#   sv_stop_redis_cluster DIR    stop every node of it (by PID)
#   sv_redis_cluster_owner DIR KEY
#                                print the directory of the primary that
#                                owns KEY's slot
#   sv_kill_redis DIR            SIGKILL the redis-server of DIR
#   sv_redis_cluster_switchover DIR KEY
#                                CLUSTER FAILOVER: a replica of KEY's
#                                primary takes over (both stay up)
#   sv_redis_cluster_migrating DIR KEY start|stop
#                                KEY's slot in migration (ASK replies), or
#                                back to stable
#   sv_redis_cluster_failover DIR KEY
#                                kill the primary of KEY's slot, wait for
#                                its replica to take over, restart it (as
#                                a replica)
#   sv_start_pgbouncer DIR PGPORT
#                                pgbouncer (transaction pooling) on a free
#                                loopback port in front of 127.0.0.1:PGPORT
#   sv_stop_pgbouncer DIR        SIGTERM by PID (SIGKILL fallback)
#   sv_stop_all_under DIR        stop every redis-server and pgbouncer whose
#                                DIR is below DIR (test/run's safety net)
#
# Knobs: SV_SERVER_WAIT (seconds to wait for a start or a stop, 30);
# SV_REDIS_EXTRA_CONF (lines appended to the redis.conf sv_start_redis
# writes).

# --- helpers -------------------------------------------------------------------

sv__err() { printf 'servers: %s\n' "$*" >&2; }

# sv__alive PID: true when PID is a live (not zombie) process.
sv__alive() {
  local st
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "$st" != Z ] && [ "$st" != X ]
}

# sv__is PID NAME: true when PID is alive and its command name is NAME
# (guards against signalling a recycled PID).
sv__is() {
  local comm
  sv__alive "$1" || return 1
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 0
  [ "$comm" = "$2" ]
}

# sv__port_free PORT: nothing can bind / nothing listens on 127.0.0.1:PORT.
sv__port_free() {
  local p=$1
  if command -v python3 >/dev/null 2>&1; then
    # Without SO_REUSEADDR: a socket in TIME_WAIT or a wildcard listener on
    # the port makes this fail too, which is what we want.
    python3 -c 'import socket,sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
s.close()' "$p" 2>/dev/null
    return
  fi
  if command -v ss >/dev/null 2>&1; then
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]
    return
  fi
  ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# sv_free_port: print a free TCP port on 127.0.0.1, chosen at random below
# the ephemeral range (ip_local_port_range), so that no connect() is handed
# it as a local port. Two concurrent callers may still pick the same port;
# the start functions retry with another port when the bind fails.
sv_free_port() {
  local lo=32768 hi span p i range
  range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || range=
  if [ -n "$range" ]; then lo=${range%%[[:space:]]*}; fi
  # Ports [lo-12000, lo): 20768..32767 with Linux's default range.
  hi=$((lo - 1))
  ((hi > 12000)) || hi=32767
  span=12000
  for ((i = 0; i < 200; i++)); do
    p=$((hi - (RANDOM * 32768 + RANDOM) % span))
    if sv__port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  sv__err "no free port found on 127.0.0.1"
  return 1
}

# sv__wait_gone PID SECONDS: wait until PID is gone; false on timeout.
sv__wait_gone() {
  local pid=$1 n=$(($2 * 10))
  while sv__alive "$pid"; do
    ((n-- > 0)) || return 1
    sleep 0.1
  done
}

# sv__stop_pid PID NAME SIG: send SIG (plus SIGCONT, in case it is paused)
# to PID when it is NAME and wait; after SV_SERVER_WAIT seconds SIGKILL it,
# its process group (it leads its own session) and its children.
sv__stop_pid() {
  local pid=$1 name=$2 sig=$3 wait=${SV_SERVER_WAIT:-30}
  local comm kids n=10
  [ -n "$pid" ] || return 0
  # A PID recorded at launch may not have exec'd the server yet (bash
  # subshell -> setsid -> setpriv -> server): give it a moment.
  while ((n-- > 0)) && sv__alive "$pid"; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
    case $comm in bash | setsid | setpriv) sleep 0.1 ;; *) break ;; esac
  done
  sv__is "$pid" "$name" || return 0
  kill "-$sig" "$pid" 2>/dev/null || :
  kill -CONT "$pid" 2>/dev/null || :
  if ! sv__wait_gone "$pid" "$wait"; then
    sv__err "$name (pid $pid) did not stop within ${wait}s; SIGKILL"
    # PostgreSQL's children each lead a process group of their own, so
    # kill the children by PID as well as the server's group.
    kids=$(sv__children "$pid")
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || :
    # shellcheck disable=SC2086
    [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || :
    sv__wait_gone "$pid" 5 || {
      sv__err "$name (pid $pid) survived SIGKILL"
      return 1
    }
  fi
  return 0
}

# sv__children PID: the PIDs whose parent is PID (from /proc).
sv__children() {
  local f st fields
  for f in /proc/[0-9]*/stat; do
    { read -r st <"$f"; } 2>/dev/null || continue
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    read -r -a fields <<<"${st##*) }"
    if [ "${fields[1]:-}" = "$1" ]; then
      f=${f#/proc/}
      echo "${f%/stat}"
    fi
  done
}

# sv__pidfile_pid FILE: the first line of FILE, when it is a number.
sv__pidfile_pid() {
  local pid
  [ -f "$1" ] || return 1
  read -r pid <"$1" 2>/dev/null || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  echo "$pid"
}

# sv__spawn DIR LOG CMD...: start CMD in DIR, detached: in a session of its
# own and not a child of this shell (so that a bare `wait` -- in test/run's
# interrupt handler, or in a suite waiting for its workers -- never waits for
# a server), stdin /dev/null, stdout and stderr appended to LOG, and no other
# file descriptor inherited (a server holding a pipe open would keep its
# reader waiting). Writes the PID to DIR/sv.pid (setsid and setpriv exec, so
# it becomes the server's PID).
sv__spawn() {
  local dir=$1 log=$2 fd
  shift 2
  (
    cd "$dir" || exit 1
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || :; fi
    done
    setsid "$@" </dev/null >>"$log" 2>&1 &
    echo $! >"$dir/sv.pid"
  )
}

# sv__socklen_ok PATH: a unix socket path fits in sun_path (108 bytes).
sv__socklen_ok() {
  if ((${#1} > 107)); then
    sv__err "unix socket path too long (${#1} > 107 bytes): $1 (use a shorter TMPDIR)"
    return 1
  fi
}

# --- PostgreSQL ------------------------------------------------------------------

# sv__pg_bindir: the newest /usr/lib/postgresql/*/bin with postgres, initdb,
# pg_isready and psql.
sv__pg_bindir() {
  local d best=
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_isready" ] && [ -x "$d/psql" ] && best=$d
  done
  if [ -z "$best" ]; then
    local p
    p=$(command -v postgres 2>/dev/null) && [ -x "$(dirname "$p")/initdb" ] && best=$(dirname "$p")
  fi
  if [ -z "$best" ]; then
    sv__err "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/postgres); install the postgresql package"
    return 1
  fi
  echo "$best"
}

# sv__as_pg CMD...: run CMD as the postgres OS user when we are root, else
# as ourselves. (Callers cd to a directory postgres can read first: initdb
# warns about a working directory it cannot enter.)
sv__as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# sv__pg_conninfo PORT [DB]
sv__pg_conninfo() {
  echo "host=127.0.0.1 port=$1 user=postgres dbname=${2:-postgres} sslmode=disable connect_timeout=5"
}

# sv__pg_write_conf DIR PORT: our settings, included by postgresql.conf.
sv__pg_write_conf() {
  local dir=$1 port=$2
  cat >"$dir/data/statevtab.conf" <<EOF
# written by test/lib/servers.sh
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
EOF
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/data/statevtab.conf"; fi
}

# sv__pg_launch DIR: start the postmaster of DIR/data in the background in a
# session of its own, and wait until it accepts connections. Sets
# STATEVTAB_PG_PID (and DIR/sv.pid). Returns 2 when the port is taken.
sv__pg_launch() {
  local dir=$1 bindir port pid n launched
  bindir=$(sv__pg_bindir) || return 1
  read -r port <"$dir/sv.port" || return 1
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    # setpriv execs (runuser forks and stays as the parent), so the PID we
    # launch is the postmaster's own.
    run=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  : >>"$dir/postgres.log"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/postgres.log"; fi
  sv__spawn "$dir" "$dir/postgres.log" ${run[@]+"${run[@]}"} "$bindir/postgres" -D "$dir/data" ||
    return 1
  launched=$(sv__pidfile_pid "$dir/sv.pid") || return 1
  n=$((${SV_SERVER_WAIT:-30} * 10))
  while :; do
    pid=$(sv__pidfile_pid "$dir/data/postmaster.pid") || pid=
    if [ -n "$pid" ] && sv__alive "$pid" &&
      "$bindir/pg_isready" -q -t 1 -d "$(sv__pg_conninfo "$port")" >/dev/null 2>&1; then
      break
    fi
    if ! sv__alive "$launched" && { [ -z "$pid" ] || ! sv__alive "$pid"; }; then
      if grep -q 'could not bind\|Address already in use' <<<"$(tail -n 20 "$dir/postgres.log")"; then
        return 2
      fi
      sv__err "postgres exited during startup; last lines of $dir/postgres.log:"
      tail -n 15 "$dir/postgres.log" >&2
      return 1
    fi
    if ((n-- <= 0)); then
      sv__err "postgres did not accept connections on 127.0.0.1:$port within ${SV_SERVER_WAIT:-30}s; last lines of $dir/postgres.log:"
      tail -n 15 "$dir/postgres.log" >&2
      sv__stop_pid "${pid:-$launched}" postgres INT
      return 1
    fi
    sleep 0.1
  done
  echo "$pid" >"$dir/sv.pid"
  export STATEVTAB_PG_PID=$pid
}

# sv_start_postgres DIR
sv_start_postgres() {
  local dir=${1:?usage: sv_start_postgres DIR} bindir port try rc
  bindir=$(sv__pg_bindir) || return 1
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  if [ -e "$dir/data" ]; then
    sv__err "$dir/data already exists; use sv_restart_postgres, or an empty DIR"
    return 1
  fi
  sv__socklen_ok "$dir/.s.PGSQL.65535.lock" || return 1
  if [ "$(id -u)" -eq 0 ]; then
    if ! getent passwd postgres >/dev/null; then
      sv__err "running as root, but there is no postgres OS user (install the postgresql package)"
      return 1
    fi
    chown postgres: "$dir" && chmod 700 "$dir" || return 1
    if ! runuser -u postgres -- test -w "$dir"; then
      sv__err "the postgres user cannot write $dir: some directory above it is not searchable (chmod o+x it)"
      return 1
    fi
  fi
  if ! (cd "$dir" && sv__as_pg "$bindir/initdb" -D "$dir/data" -U postgres \
    -A trust -E UTF8 --locale=C --no-sync --no-instructions) >"$dir/initdb.log" 2>&1; then
    sv__err "initdb failed; last lines of $dir/initdb.log:"
    tail -n 15 "$dir/initdb.log" >&2
    return 1
  fi
  # Trust, but only over the unix socket in DIR and 127.0.0.1.
  printf '%s\n' '# written by test/lib/servers.sh' \
    'local all all trust' \
    'host  all all 127.0.0.1/32 trust' >"$dir/data/pg_hba.conf"
  echo "include_if_exists = 'statevtab.conf'" >>"$dir/data/postgresql.conf"

  for try in 1 2 3 4 5; do
    port=$(sv_free_port) || return 1
    echo "$port" >"$dir/sv.port"
    sv__pg_write_conf "$dir" "$port" || return 1
    rc=0
    sv__pg_launch "$dir" || rc=$?
    ((rc == 2)) || break
    sv__err "port $port was taken meanwhile (try $try); another port"
  done
  ((rc == 0)) || return 1

  if ! "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -d "$(sv__pg_conninfo "$port")" \
    -c 'CREATE DATABASE statevtab_test' >>"$dir/postgres.log" 2>&1; then
    sv__err "CREATE DATABASE statevtab_test failed; see $dir/postgres.log"
    return 1
  fi
  export STATEVTAB_PG_DIR=$dir
  export STATEVTAB_PG_PORT=$port
  export STATEVTAB_PG_URL="postgresql://postgres@127.0.0.1:$port/statevtab_test"
}

# sv_stop_postgres [DIR]: fast shutdown by PID; no-op when it is not running.
sv_stop_postgres() {
  local dir=${1:-${STATEVTAB_PG_DIR:-}} pid
  [ -n "$dir" ] || { sv__err "sv_stop_postgres: no DIR and no STATEVTAB_PG_DIR"; return 1; }
  pid=$(sv__pidfile_pid "$dir/sv.pid") ||
    pid=$(sv__pidfile_pid "$dir/data/postmaster.pid") || pid=
  sv__stop_pid "$pid" postgres INT || return 1
  rm -f "$dir/sv.pid"
  if [ "${STATEVTAB_PG_DIR:-}" = "$dir" ]; then STATEVTAB_PG_PID=; fi
}

# sv_restart_postgres [DIR]: stop, then start again on the same port.
sv_restart_postgres() {
  local dir=${1:-${STATEVTAB_PG_DIR:-}} rc=0
  if [ -z "$dir" ] || [ ! -f "$dir/sv.port" ]; then
    sv__err "sv_restart_postgres: no cluster in '${dir}' (sv_start_postgres first)"
    return 1
  fi
  sv_stop_postgres "$dir" || return 1
  sv__pg_launch "$dir" || rc=$?
  if ((rc == 2)); then
    sv__err "postgres cannot restart: port $(cat "$dir/sv.port") was taken by another process"
  fi
  return "$rc"
}

# --- Redis -----------------------------------------------------------------------

# sv__redis_ping PORT: true when the server answers PONG.
sv__redis_ping() {
  [ "$(env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

# sv__redis_launch DIR: start redis-server with DIR/redis.conf in the
# background in a session of its own and wait for PONG (after the AOF is
# loaded). Sets STATEVTAB_REDIS_PID (and DIR/sv.pid). Returns 2 when the
# port is taken.
sv__redis_launch() {
  local dir=$1 port pid launched n
  read -r port <"$dir/sv.port" || return 1
  rm -f "$dir/redis.pid"
  sv__spawn "$dir" "$dir/redis.out" redis-server "$dir/redis.conf" || return 1
  launched=$(sv__pidfile_pid "$dir/sv.pid") || return 1
  n=$((${SV_SERVER_WAIT:-30} * 10))
  while :; do
    pid=$(sv__pidfile_pid "$dir/redis.pid") || pid=
    if [ -n "$pid" ] && sv__alive "$pid" && sv__redis_ping "$port"; then
      break
    fi
    if ! sv__alive "$launched" && { [ -z "$pid" ] || ! sv__alive "$pid"; }; then
      if grep -q 'Address already in use' <<<"$(tail -n 20 "$dir/redis.log" 2>/dev/null)"; then
        return 2
      fi
      sv__err "redis-server exited during startup; last lines of its logs:"
      tail -n 15 "$dir/redis.log" "$dir/redis.out" >&2 2>/dev/null || :
      return 1
    fi
    if ((n-- <= 0)); then
      sv__err "redis-server did not answer PING on 127.0.0.1:$port within ${SV_SERVER_WAIT:-30}s; last lines of $dir/redis.log:"
      tail -n 15 "$dir/redis.log" >&2 2>/dev/null
      sv__stop_pid "${pid:-$launched}" redis-server TERM
      return 1
    fi
    sleep 0.1
  done
  echo "$pid" >"$dir/sv.pid"
  export STATEVTAB_REDIS_PID=$pid
}

# sv__redis_write_conf DIR PORT
sv__redis_write_conf() {
  local dir=$1 port=$2
  cat >"$dir/redis.conf" <<EOF
# written by test/lib/servers.sh: a private, throwaway test instance
port $port
bind 127.0.0.1
protected-mode no
unixsocket $dir/redis.sock
unixsocketperm 700
daemonize no
supervised no
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly yes
appendfsync always
# DEBUG SLEEP and friends, from loopback clients only, for fault tests.
enable-debug-command local
${SV_REDIS_EXTRA_CONF:-}
EOF
}

# sv_start_redis DIR
sv_start_redis() {
  local dir=${1:?usage: sv_start_redis DIR} port try rc
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    sv__err "redis-server/redis-cli not found; install the redis-server package"
    return 1
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  if [ -e "$dir/redis.conf" ]; then
    sv__err "$dir/redis.conf already exists; use sv_restart_redis, or an empty DIR"
    return 1
  fi
  sv__socklen_ok "$dir/redis.sock" || return 1
  for try in 1 2 3 4 5; do
    port=$(sv_free_port) || return 1
    echo "$port" >"$dir/sv.port"
    sv__redis_write_conf "$dir" "$port" || return 1
    rc=0
    sv__redis_launch "$dir" || rc=$?
    ((rc == 2)) || break
    sv__err "port $port was taken meanwhile (try $try); another port"
  done
  ((rc == 0)) || { rm -f "$dir/redis.conf"; return 1; }
  export STATEVTAB_REDIS_DIR=$dir
  export STATEVTAB_REDIS_PORT=$port
  export STATEVTAB_REDIS_SOCK=$dir/redis.sock
  export STATEVTAB_REDIS_URL="redis://127.0.0.1:$port/0"
}

# sv__redis_pid DIR: the recorded PID.
sv__redis_pid() {
  sv__pidfile_pid "$1/sv.pid" || sv__pidfile_pid "$1/redis.pid"
}

# sv_stop_redis [DIR]: SIGTERM by PID (redis flushes the AOF and exits).
sv_stop_redis() {
  local dir=${1:-${STATEVTAB_REDIS_DIR:-}} pid
  [ -n "$dir" ] || { sv__err "sv_stop_redis: no DIR and no STATEVTAB_REDIS_DIR"; return 1; }
  pid=$(sv__redis_pid "$dir") || pid=
  sv__stop_pid "$pid" redis-server TERM || return 1
  rm -f "$dir/sv.pid"
  if [ "${STATEVTAB_REDIS_DIR:-}" = "$dir" ]; then STATEVTAB_REDIS_PID=; fi
}

# sv_restart_redis [DIR]: stop, then start again on the same port and dir.
sv_restart_redis() {
  local dir=${1:-${STATEVTAB_REDIS_DIR:-}} rc=0
  if [ -z "$dir" ] || [ ! -f "$dir/redis.conf" ]; then
    sv__err "sv_restart_redis: no redis.conf in '${dir}' (sv_start_redis first)"
    return 1
  fi
  sv_stop_redis "$dir" || return 1
  sv__redis_launch "$dir" || rc=$?
  if ((rc == 2)); then
    sv__err "redis-server cannot restart: port $(cat "$dir/sv.port") was taken by another process"
  fi
  return "$rc"
}

# sv_crash_postgres [DIR] / sv_crash_redis [DIR]: a crash, not a stop:
# SIGKILL the server by PID (PostgreSQL: the postmaster, then its processes,
# so that no orphan holds the shared memory), then start it again on the
# same port (PostgreSQL recovers from its WAL, Redis reloads its AOF).
sv__crash() {
  local pid=$1 name=$2 kids n
  if ! sv__is "$pid" "$name"; then
    sv__err "$name (pid '$pid') is not running"
    return 1
  fi
  kids=$(sv__children "$pid")
  kill -KILL "$pid" 2>/dev/null || :
  # shellcheck disable=SC2086
  [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || :
  sv__wait_gone "$pid" 10 || {
    sv__err "$name (pid $pid) survived SIGKILL"
    return 1
  }
  for pid in $kids; do sv__wait_gone "$pid" 10 || :; done
  # Until reaped, a zombie still "exists" for the new server's check of
  # its lock file (kill -0): wait for that too.
  for pid in "$1" $kids; do
    n=100
    while kill -0 "$pid" 2>/dev/null && ((n-- > 0)); do sleep 0.05; done
  done
}
sv_crash_postgres() {
  local dir=${1:-${STATEVTAB_PG_DIR:-}} pid
  pid=$(sv__pidfile_pid "$dir/sv.pid") || pid=
  sv__crash "$pid" postgres || return 1
  rm -f "$dir/sv.pid"
  sv__pg_launch "$dir"
}
sv_crash_redis() {
  local dir=${1:-${STATEVTAB_REDIS_DIR:-}} pid
  pid=$(sv__redis_pid "$dir") || pid=
  sv__crash "$pid" redis-server || return 1
  rm -f "$dir/sv.pid"
  sv__redis_launch "$dir"
}

# sv_pause_redis [DIR] / sv_resume_redis [DIR]: SIGSTOP / SIGCONT by PID.
sv__redis_signal() {
  local dir=${2:-${STATEVTAB_REDIS_DIR:-}} pid
  pid=$(sv__redis_pid "$dir") || pid=
  if ! sv__is "$pid" redis-server; then
    sv__err "redis-server (dir '$dir') is not running"
    return 1
  fi
  kill "-$1" "$pid"
}
sv_pause_redis() { sv__redis_signal STOP "${1:-}"; }
sv_resume_redis() { sv__redis_signal CONT "${1:-}"; }

# sv_servers_refresh: re-read the PIDs (a suite may have restarted a server).
sv_servers_refresh() {
  local pid
  if [ -n "${STATEVTAB_PG_DIR:-}" ]; then
    pid=$(sv__pidfile_pid "$STATEVTAB_PG_DIR/sv.pid") || pid=
    export STATEVTAB_PG_PID=$pid
  fi
  if [ -n "${STATEVTAB_REDIS_DIR:-}" ]; then
    pid=$(sv__pidfile_pid "$STATEVTAB_REDIS_DIR/sv.pid") || pid=
    export STATEVTAB_REDIS_PID=$pid
  fi
}

# --- Redis Cluster ---------------------------------------------------------------

# sv_start_redis_cluster DIR [REPLICAS]: start three primaries (REPLICAS=1:
# six nodes, a replica for each) in DIR/n1..n6, each a redis-server as
# sv_start_redis starts it (in a subshell: the STATEVTAB_REDIS_* variables
# of the caller stay) plus cluster mode, without AOF, and a node timeout of
# 1 s so that a replica takes over a killed primary within a few seconds;
# then join them (redis-cli --cluster create) and wait until every node
# reports cluster_state:ok. Exports STATEVTAB_RCLUSTER_URL
# (redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3, the primaries as
# seeds) and STATEVTAB_RCLUSTER_DIR. On failure it stops what it started.
sv_start_redis_cluster() {
  local dir=${1:?usage: sv_start_redis_cluster DIR [REPLICAS]} repl=${2:-0}
  local n i port addrs=() ports=() ok=0
  n=3
  ((repl > 0)) && n=6
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  for ((i = 1; i <= n; i++)); do
    if ! (SV_REDIS_EXTRA_CONF="cluster-enabled yes
cluster-config-file $dir/n$i/nodes.conf
cluster-node-timeout 1000
repl-diskless-sync-delay 0
appendonly no" sv_start_redis "$dir/n$i"); then
      sv_stop_redis_cluster "$dir"
      return 1
    fi
    read -r port <"$dir/n$i/sv.port"
    addrs+=("127.0.0.1:$port")
    ports+=("$port")
  done
  if ! env -u REDISCLI_AUTH redis-cli --cluster create "${addrs[@]}" \
    --cluster-replicas "$repl" --cluster-yes >"$dir/create.log" 2>&1; then
    sv__err "redis-cli --cluster create failed; last lines of $dir/create.log:"
    tail -n 15 "$dir/create.log" >&2
    sv_stop_redis_cluster "$dir"
    return 1
  fi
  for ((i = 0; i < ${SV_SERVER_WAIT:-30} * 10; i++)); do
    ok=1
    for port in "${ports[@]}"; do
      env -u REDISCLI_AUTH redis-cli -p "$port" cluster info 2>/dev/null |
        grep -q '^cluster_state:ok' || ok=0
      # A replica counts once its link to its primary is up.
      if env -u REDISCLI_AUTH redis-cli -p "$port" info replication 2>/dev/null |
        grep -q '^master_link_status:down'; then
        ok=0
      fi
    done
    ((ok)) && break
    sleep 0.1
  done
  if ! ((ok)); then
    sv__err "the Redis Cluster in $dir did not reach cluster_state:ok"
    sv_stop_redis_cluster "$dir"
    return 1
  fi
  export STATEVTAB_RCLUSTER_DIR=$dir
  export STATEVTAB_RCLUSTER_URL="redis-cluster://${addrs[0]},${addrs[1]},${addrs[2]}"
}

# sv_stop_redis_cluster DIR: stop every node of the cluster in DIR.
sv_stop_redis_cluster() {
  local dir=${1:?usage: sv_stop_redis_cluster DIR} d rc=0
  for d in "$dir"/n*; do
    [ -d "$d" ] || continue
    sv_stop_redis "$d" || rc=1
  done
  return $rc
}

# sv__rc_view PORT SLOT: the address (host:port) of the primary that owns
# SLOT in the view of the node on PORT (masters marked fail left out).
sv__rc_view() {
  local line lo hi r f
  while read -r line; do
    # "<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch>
    # <link> <slot ranges...>"
    read -r -a f <<<"$line"
    case ${f[2]} in *fail*) continue ;; *master*) ;; *) continue ;; esac
    for r in "${f[@]:8}"; do
      lo=${r%-*}
      hi=${r#*-}
      [[ $lo =~ ^[0-9]+$ && $hi =~ ^[0-9]+$ ]] || continue
      ((SV__SLOT >= lo && SV__SLOT <= hi)) || continue
      echo "${f[1]%@*}"
      return 0
    done
  done < <(env -u REDISCLI_AUTH redis-cli -p "$1" cluster nodes 2>/dev/null)
  return 1
}

# sv__rc_agreed DIR KEY: one look: the directory of the primary that owns
# KEY's slot when every node that answers names the same one (and that
# node calls itself a master); nothing and 1 while their views differ (a
# fail-over or switch-over spreads through the cluster's gossip).
sv__rc_agreed() {
  local dir=$1 key=$2 d port slot= addr= a n own=
  for d in "$dir"/n*; do
    read -r port <"$d/sv.port" 2>/dev/null || continue
    if [ -z "$slot" ]; then
      slot=$(env -u REDISCLI_AUTH redis-cli -p "$port" cluster keyslot "$key" 2>/dev/null) || continue
      [[ $slot =~ ^[0-9]+$ ]] || {
        slot=
        continue
      }
    fi
    env -u REDISCLI_AUTH redis-cli -p "$port" ping >/dev/null 2>&1 || continue
    a=$(SV__SLOT=$slot sv__rc_view "$port") || return 1
    [ -z "$addr" ] || [ "$a" = "$addr" ] || return 1
    addr=$a
  done
  [ -n "$addr" ] || return 1
  for n in "$dir"/n*; do
    [ "$(cat "$n/sv.port" 2>/dev/null)" = "${addr##*:}" ] && own=$n
  done
  [ -n "$own" ] || return 1
  env -u REDISCLI_AUTH redis-cli -p "${addr##*:}" cluster nodes 2>/dev/null |
    grep -q ' myself,master ' || return 1
  echo "$own"
}

# sv_redis_cluster_owner DIR KEY: the directory of the live primary that
# owns KEY's slot, once every node that answers agrees on it (waits up to
# SV_SERVER_WAIT seconds for the views to agree).
sv_redis_cluster_owner() {
  local dir=$1 key=$2 i
  for ((i = 0; i < ${SV_SERVER_WAIT:-30} * 10; i++)); do
    sv__rc_agreed "$dir" "$key" && return 0
    sleep 0.1
  done
  sv__err "the nodes in $dir do not agree on a primary for the slot of '$key'"
  return 1
}

# sv_kill_redis DIR: SIGKILL the redis-server of DIR (a crash).
sv_kill_redis() {
  local dir=${1:?usage: sv_kill_redis DIR} pid
  pid=$(sv__redis_pid "$dir") || pid=
  sv__is "$pid" redis-server || {
    sv__err "no redis-server runs in $dir"
    return 1
  }
  kill -KILL "$pid" && sv__wait_gone "$pid" 5
}

# sv_redis_cluster_failover DIR KEY: SIGKILL the primary that owns KEY's
# slot, wait until its replica has taken the slot over (and every node
# reports cluster_state:ok), then start the killed node again: it rejoins
# as a replica of the new primary; wait until it is in sync. Prints the
# times on stderr.
sv_redis_cluster_failover() {
  local dir=${1:?usage: sv_redis_cluster_failover DIR KEY} key=${2:?} old new i t0 port ok
  t0=$(date +%s%3N)
  old=$(sv_redis_cluster_owner "$dir" "$key") || return 1
  sv_kill_redis "$old" || return 1
  for ((i = 0; i < ${SV_SERVER_WAIT:-30} * 10; i++)); do
    new=$(sv__rc_agreed "$dir" "$key") || new=
    if [ -n "$new" ] && [ "$new" != "$old" ]; then
      ok=1
      for d in "$dir"/n*; do
        [ "$d" = "$old" ] && continue
        read -r port <"$d/sv.port"
        env -u REDISCLI_AUTH redis-cli -p "$port" cluster info 2>/dev/null |
          grep -q '^cluster_state:ok' || ok=0
      done
      ((ok)) && break
    fi
    sleep 0.1
  done
  if [ -z "$new" ] || [ "$new" = "$old" ]; then
    sv__err "no replica took over from $old"
    return 1
  fi
  echo "servers: $new took over from $old after $(($(date +%s%3N) - t0)) ms" >&2
  sv_restart_redis "$old" || return 1
  read -r port <"$old/sv.port"
  for ((i = 0; i < ${SV_SERVER_WAIT:-30} * 10; i++)); do
    env -u REDISCLI_AUTH redis-cli -p "$port" info replication 2>/dev/null |
      grep -q '^master_link_status:up' && break
    sleep 0.1
  done
  echo "servers: $old back as a replica after $(($(date +%s%3N) - t0)) ms" >&2
}

# sv_redis_cluster_switchover DIR KEY: a planned fail-over (CLUSTER
# FAILOVER on a replica of the primary that owns KEY's slot): the replica
# becomes the primary and the old primary its replica, on the same ports;
# wait until the slot has moved. A client with the old slot map then gets
# MOVED from the old primary.
sv_redis_cluster_switchover() {
  local dir=${1:?usage: sv_redis_cluster_switchover DIR KEY} key=${2:?} old id d p i
  old=$(sv_redis_cluster_owner "$dir" "$key") || return 1
  read -r p <"$old/sv.port"
  id=$(env -u REDISCLI_AUTH redis-cli -p "$p" cluster myid) || return 1
  for d in "$dir"/n*; do
    read -r p <"$d/sv.port"
    if env -u REDISCLI_AUTH redis-cli -p "$p" cluster nodes 2>/dev/null |
      grep -q "myself,slave $id"; then
      env -u REDISCLI_AUTH redis-cli -p "$p" cluster failover >/dev/null || return 1
      for ((i = 0; i < ${SV_SERVER_WAIT:-30} * 10; i++)); do
        [ "$(sv__rc_agreed "$dir" "$key")" = "$d" ] && return 0
        sleep 0.1
      done
      sv__err "the replica $d did not take over from $old"
      return 1
    fi
  done
  sv__err "no replica of $old"
  return 1
}

# sv_redis_cluster_migrating DIR KEY start|stop: start: put KEY's slot in
# migration (CLUSTER SETSLOT ... MIGRATING on its primary, IMPORTING on
# another), without moving a key: the owner answers ASK for every key it
# does not have. stop: delete the keys of the slot that the importing node
# got meanwhile (after ASKING), and end the migration (SETSLOT ... STABLE on
# both): the slot stays where it was.
sv_redis_cluster_migrating() {
  local dir=${1:?usage: sv_redis_cluster_migrating DIR KEY start|stop} key=${2:?} how=${3:?}
  local src sp slot sid line did dp k
  src=$(sv_redis_cluster_owner "$dir" "$key") || return 1
  read -r sp <"$src/sv.port"
  slot=$(env -u REDISCLI_AUTH redis-cli -p "$sp" cluster keyslot "$key") || return 1
  sid=$(env -u REDISCLI_AUTH redis-cli -p "$sp" cluster myid) || return 1
  line=$(env -u REDISCLI_AUTH redis-cli -p "$sp" cluster nodes |
    awk -v me="$sid" '$3 ~ /master/ && $3 !~ /fail/ && $1 != me { print $1, $2; exit }')
  did=${line%% *}
  dp=${line#* }
  dp=${dp%@*}
  dp=${dp##*:}
  [ -n "$did" ] && [ -n "$dp" ] || return 1
  if [ "$how" = start ]; then
    env -u REDISCLI_AUTH redis-cli -p "$dp" cluster setslot "$slot" importing "$sid" >/dev/null &&
      env -u REDISCLI_AUTH redis-cli -p "$sp" cluster setslot "$slot" migrating "$did" >/dev/null
    return
  fi
  for k in $(env -u REDISCLI_AUTH redis-cli -p "$dp" cluster getkeysinslot "$slot" 100000); do
    printf 'ASKING\nDEL %s\n' "$k" | env -u REDISCLI_AUTH redis-cli -p "$dp" >/dev/null
  done
  env -u REDISCLI_AUTH redis-cli -p "$dp" cluster setslot "$slot" stable >/dev/null &&
    env -u REDISCLI_AUTH redis-cli -p "$sp" cluster setslot "$slot" stable >/dev/null
}

# --- pgbouncer -------------------------------------------------------------------

# sv_start_pgbouncer DIR PGPORT: pgbouncer in transaction pooling mode
# (pool_mode = transaction, trust auth, loopback only, no unix socket) on a
# free port, in front of the PostgreSQL on 127.0.0.1:PGPORT, for database
# statevtab_test. As root it runs as the postgres OS user (pgbouncer
# refuses root). Exports STATEVTAB_PGBOUNCER_URL
# (postgresql://postgres@127.0.0.1:PORT/statevtab_test?pooler=transaction),
# STATEVTAB_PGBOUNCER_PORT and STATEVTAB_PGBOUNCER_DIR.
sv_start_pgbouncer() {
  local dir=${1:?usage: sv_start_pgbouncer DIR PGPORT}
  local pgport=${2:?usage: sv_start_pgbouncer DIR PGPORT}
  local port try pid n bin run=()
  bin=$(command -v pgbouncer 2>/dev/null) || bin=/usr/sbin/pgbouncer
  [ -x "$bin" ] || {
    sv__err "pgbouncer not found; install the pgbouncer package"
    return 1
  }
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir" || return 1
    run=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  echo '"postgres" ""' >"$dir/userlist.txt"
  for try in 1 2 3 4 5; do
    port=$(sv_free_port) || return 1
    cat >"$dir/pgbouncer.ini" <<EOF
; written by test/lib/servers.sh
[databases]
statevtab_test = host=127.0.0.1 port=$pgport dbname=statevtab_test user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
EOF
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"/*; fi
    rm -f "$dir/pgbouncer.pid"
    sv__spawn "$dir" "$dir/pgbouncer.out" ${run[@]+"${run[@]}"} "$bin" "$dir/pgbouncer.ini" ||
      return 1
    n=$((${SV_SERVER_WAIT:-30} * 10))
    while ((n-- > 0)); do
      pid=$(sv__pidfile_pid "$dir/sv.pid") || pid=
      sv__alive "$pid" || {
        pid=
        break
      }
      sv__port_free "$port" || break
      sleep 0.1
    done
    [ -n "$pid" ] && break
    if ! grep -q 'Address already in use' "$dir/pgbouncer.log" "$dir/pgbouncer.out" 2>/dev/null; then
      sv__err "pgbouncer did not start; last lines of its log:"
      tail -n 15 "$dir/pgbouncer.log" "$dir/pgbouncer.out" >&2 2>/dev/null
      return 1
    fi
    sv__err "port $port was taken meanwhile (try $try); another port"
  done
  [ -n "$pid" ] || return 1
  export STATEVTAB_PGBOUNCER_DIR=$dir
  export STATEVTAB_PGBOUNCER_PORT=$port
  export STATEVTAB_PGBOUNCER_URL="postgresql://postgres@127.0.0.1:$port/statevtab_test?pooler=transaction"
}

# sv_stop_pgbouncer DIR: SIGTERM by PID (SIGKILL fallback).
sv_stop_pgbouncer() {
  local dir=${1:?usage: sv_stop_pgbouncer DIR} pid
  pid=$(sv__pidfile_pid "$dir/sv.pid") || pid=
  sv__stop_pid "$pid" pgbouncer TERM || return 1
  rm -f "$dir/sv.pid"
}

# sv_stop_all_under DIR: stop every redis-server and pgbouncer whose sv.pid
# is below DIR (a suite killed before its own cleanup ran).
sv_stop_all_under() {
  local f pid
  [ -d "${1:-}" ] || return 0
  while IFS= read -r f; do
    pid=$(sv__pidfile_pid "$f") || continue
    if sv__is "$pid" redis-server; then
      sv__stop_pid "$pid" redis-server TERM
    elif sv__is "$pid" pgbouncer; then
      sv__stop_pid "$pid" pgbouncer TERM
    fi
  done < <(find "$1" -name sv.pid 2>/dev/null)
}
