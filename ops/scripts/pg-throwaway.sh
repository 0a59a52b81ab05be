#!/usr/bin/env bash
# Starts a throwaway PostgreSQL in a temporary directory on a free loopback port.
# Usage: eval "$(ops/scripts/pg-throwaway.sh start)"  -> exports PG_TMP, PG_PORT, TEST_DATABASE_URL
#        ops/scripts/pg-throwaway.sh stop "$PG_TMP"
# As root the server runs as the postgres user.
set -euo pipefail

bin_dir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "pg-throwaway: PostgreSQL is not installed" >&2; exit 1; }
  echo "$d"
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-}" in
  start)
    BIN=$(bin_dir)
    TMP=$(mktemp -d /tmp/orch-pg.XXXXXX)
    chmod 755 "$TMP"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$TMP"
    PORT=$(free_port)
    as_pg "$BIN/initdb" -D "$TMP/data" -U orchestrator --auth=trust -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 \
      || { cat "$TMP/initdb.log" >&2; exit 1; }
    as_pg "$BIN/pg_ctl" -D "$TMP/data" -l "$TMP/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$TMP -c max_connections=300 -c shared_buffers=256MB -c fsync=on" \
      start >/dev/null || { cat "$TMP/postgres.log" >&2; exit 1; }
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U orchestrator -d postgres -q -c "CREATE DATABASE orchestrator" >/dev/null
    echo "export PG_TMP=$TMP PG_PORT=$PORT PG_BIN=$BIN"
    echo "export TEST_DATABASE_URL=postgresql://orchestrator@127.0.0.1:$PORT/orchestrator"
    ;;
  stop)
    TMP=${2:?usage: stop PG_TMP}
    BIN=$(bin_dir)
    if [ -d "$TMP/data" ]; then
      as_pg "$BIN/pg_ctl" -D "$TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    ;;
  *)
    echo "usage: $0 start | stop PG_TMP" >&2
    exit 2
    ;;
esac
