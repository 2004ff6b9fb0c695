#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster for tests and benchmarks, without systemd, and
# prints its admin URL on stdout:
#
#   export REVIEWDESK_TEST_PG_URL=$(scripts/start-postgres.sh)
#
# Needs the Debian `postgresql` package (scripts/setup.sh installs it). The cluster lives in
# $REVIEWDESK_PG_DIR (default /tmp/reviewdesk-pg-<uid>), listens on 127.0.0.1 only, on a free port
# chosen the first time (kept in the data folder), with trust authentication: for tests only.
# Running it again reuses the running cluster (or restarts the stopped one). Tests create their
# own uniquely named databases through this URL. Stop it with `scripts/start-postgres.sh --stop`.
set -euo pipefail

DIR=${REVIEWDESK_PG_DIR:-/tmp/reviewdesk-pg-$(id -u)}
DATA=$DIR/data
DB=reviewdesk

die() { echo "start-postgres: $*" >&2; exit 1; }

BIN=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  [ -x "$d/pg_ctl" ] && { BIN=$d; break; }
done
[ -n "$BIN" ] || die "PostgreSQL is not installed; run scripts/setup.sh (apt-get install postgresql)"

# The server refuses to run as root: as root, run everything as the `postgres` system user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$DIR"
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "no postgres user; is the postgresql package installed?"
  chown postgres: "$DIR"
fi

# One caller at a time (tests and make targets may start this in parallel).
exec 9>"$DIR/.lock"
flock 9

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$DATA/PG_VERSION" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
  fi
  echo "start-postgres: stopped (data kept in $DATA; delete the folder to start afresh)" >&2
  exit 0
fi

free_port() {
  local p
  for p in $(seq 54320 54399) $(shuf -i 40000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

if [ ! -f "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA"
  as_pg mkdir -p "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  port=$(free_port) || die "no free TCP port found"
  # Throwaway test settings: loopback only, a socket in the data folder, enough connections for
  # parallel tests (each store pool holds up to 8). Durability stays at the defaults so the
  # claims benchmark measures real commits.
  as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# reviewdesk test cluster
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
max_connections = 300
shared_buffers = 128MB
EOF
  echo "$port" | as_pg tee "$DATA/reviewdesk-port" >/dev/null
fi

port=$(cat "$DATA/reviewdesk-port")
if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  # A stale pid file from a killed server blocks the start; pg_ctl status said it is not running.
  rm -f "$DATA/postmaster.pid"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    # Another program (or another cluster) took the port since: move to a free one. The last
    # `port` line of postgresql.conf wins.
    port=$(free_port) || die "port $port is taken and no free TCP port was found"
    echo "start-postgres: the old port is taken; moving to $port" >&2
    echo "port = $port" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
    echo "$port" | as_pg tee "$DATA/reviewdesk-port" >/dev/null
  fi
  # 9>&-: the server must not inherit the lock, or the next caller would wait forever.
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start >/dev/null 9>&- \
    || { tail -n 20 "$DIR/server.log" >&2; die "the server did not start (log: $DIR/server.log)"; }
fi

for _ in $(seq 1 100); do
  as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  sleep 0.1
done
as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" || die "the server does not answer on port $port"

exists=$(as_pg "$BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [ "$exists" != "1" ]; then
  as_pg "$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB"
fi

echo "postgres://postgres@127.0.0.1:$port/$DB"
