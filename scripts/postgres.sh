#!/usr/bin/env bash
# A local PostgreSQL server for evalkit's PostgreSQL engine (`make postgres`), in a project folder.
#
#   bash scripts/postgres.sh start    # initialise (first time) and start; prints the URL
#   bash scripts/postgres.sh url      # print the URL (EVALKIT_DATABASE_URL) only
#   bash scripts/postgres.sh stop     # stop the server (the data folder is kept)
#   bash scripts/postgres.sh status   # exit 0 if it is running
#
# It stands in for an ICB's SQL warehouse: Debian's server binaries (package `postgresql`), a data
# folder at $EVALKIT_PG_DIR (default .postgres/ in the checkout, gitignored), listening on
# 127.0.0.1 only, port $EVALKIT_PG_PORT (default 54329), one database and role named evalkit with
# `trust` authentication on loopback (a local test server: no password, nothing reachable from
# another machine). PostgreSQL refuses to run as root, so as root the server runs as the Debian
# package's `postgres` user (or `nobody` without it), which then owns the data folder.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PGDIR="${EVALKIT_PG_DIR:-$PWD/.postgres}"
PORT="${EVALKIT_PG_PORT:-54329}"
URL="postgresql://evalkit@127.0.0.1:${PORT}/evalkit"

bindir() {
    # Newest Debian server binaries (/usr/lib/postgresql/<major>/bin), else pg_ctl on PATH.
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
    if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
    echo "postgres: no PostgreSQL server found; install Debian's package: apt-get install postgresql" >&2
    exit 1
}

as_owner() {
    # Run a server command as an unprivileged user when we are root.
    if [ "$(id -u)" -eq 0 ]; then
        local user=postgres
        getent passwd postgres >/dev/null || user=nobody
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin; bin=$(bindir)
    if [ ! -s "$PGDIR/PG_VERSION" ]; then
        mkdir -p "$PGDIR"
        if [ "$(id -u)" -eq 0 ]; then
            local user=postgres
            getent passwd postgres >/dev/null || user=nobody
            chown "$user" "$PGDIR"
            # the server user must be able to reach the folder through its parents
            chmod o+x "$(dirname "$PGDIR")" 2>/dev/null || true
        fi
        chmod 700 "$PGDIR"
        as_owner "$bin/initdb" -D "$PGDIR" -U evalkit --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$PGDIR.initdb.log" 2>&1 || {
            echo "postgres: initdb failed; see $PGDIR.initdb.log" >&2; exit 1; }
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $PORT"
            echo "unix_socket_directories = '$PGDIR'"
            echo "fsync = off"                 # a scratch server: speed over crash safety
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
            echo "shared_buffers = 256MB"
            echo "work_mem = 64MB"
            echo "max_parallel_workers_per_gather = 2"
            echo "timezone = 'UTC'"
        } >>"$PGDIR/postgresql.conf"
    fi
    if ! as_owner "$bin/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$PGDIR" -l "$PGDIR/server.log" -w -t 60 start >/dev/null || {
            echo "postgres: the server did not start; see $PGDIR/server.log" >&2; exit 1; }
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$PORT" -U evalkit -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'evalkit'" | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U evalkit evalkit
    fi
    echo "PostgreSQL is running (data in $PGDIR). Use it with:"
    echo "  export EVALKIT_DATABASE_URL=$URL"
}

case "${1:-start}" in
    start) start ;;
    url) echo "$URL" ;;
    stop) as_owner "$(bindir)/pg_ctl" -D "$PGDIR" -m fast stop ;;
    status) as_owner "$(bindir)/pg_ctl" -D "$PGDIR" status ;;
    *) echo "usage: scripts/postgres.sh start|url|stop|status" >&2; exit 2 ;;
esac
