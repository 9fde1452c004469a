#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, private to this checkout.
#
#   scripts/postgres.sh install   install the Debian package if no server binaries are found
#   scripts/postgres.sh start     create .pgdata/ on first use and start the server (idempotent)
#   scripts/postgres.sh url       print the URL of the `bigmax` database
#   scripts/postgres.sh stop      stop the server (fine when it is not running)
#   scripts/postgres.sh remove    stop the server and delete its data folder
#
# The server listens on 127.0.0.1 only, on the first free port from 55439, with its unix socket
# in the data folder. The role `bigmax` (LOGIN, CREATEDB, not a superuser) connects over
# loopback without a password. BIGMAX_PGDATA overrides the data folder.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIRST_PORT=55439
LAST_PORT=55499

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1) || true
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; return; fi
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"; return
    fi
    return 1
}

install_server() {
    if bindir >/dev/null; then return; fi
    echo "postgres.sh: installing PostgreSQL (apt-get install postgresql)"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql </dev/null
    bindir >/dev/null || die "PostgreSQL was installed but initdb was not found"
}

# initdb refuses to run as root: root runs the server as the `postgres` system user.
owner() {
    if [[ $(id -u) -ne 0 ]]; then id -un; return; fi
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    echo postgres
}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# .pgdata/ in the checkout, unless the server's user cannot reach it (a checkout under /root):
# then a folder in /tmp named after the checkout, so that every call finds the same one.
datadir() {
    if [[ -n "${BIGMAX_PGDATA:-}" ]]; then echo "$BIGMAX_PGDATA"; return; fi
    owner >/dev/null
    if [[ $(id -u) -ne 0 ]] || as_owner test -x "$ROOT" 2>/dev/null; then
        echo "$ROOT/.pgdata"; return
    fi
    echo "/tmp/bigmax-pgdata-$(echo "$ROOT" | md5sum | cut -c1-12)"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() {
    [[ -f "$PGDATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

# A postmaster.pid left by a killed server. Its pid may now belong to another process, or to a
# zombie nobody reaped; a live server of ours runs in our data folder, so check its cwd.
clear_stale_pid() {
    local pidfile="$PGDATA/postmaster.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(head -n 1 "$pidfile")
    if [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" != "$(realpath "$PGDATA")" ]]; then
        echo "postgres.sh: removing stale $pidfile (pid $pid is not this server)"
        rm -f "$pidfile"
    fi
}

init() {
    [[ -f "$PGDATA/PG_VERSION" ]] && return
    local user sock
    user=$(owner)
    echo "postgres.sh: creating a cluster in $PGDATA (owner $user)"
    mkdir -p "$PGDATA"
    chown "$user" "$PGDATA"
    chmod 700 "$PGDATA"
    as_owner "$BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=reject >/dev/null
    sock="$PGDATA"
    # A unix socket path is limited to 107 bytes; past that, TCP only.
    (( ${#sock} > 90 )) && sock=""
    cat >>"$PGDATA/postgresql.conf" <<EOF

# scripts/postgres.sh: a throwaway test server, loopback only, durability off for speed
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    cat >"$PGDATA/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER     ADDRESS        METHOD
local   all       all                     trust
host    all       bigmax   127.0.0.1/32   trust
EOF
    # Single-user mode creates the role and database before the server ever listens.
    as_owner "$BIN/postgres" --single -D "$PGDATA" postgres >"$PGDATA/setup.log" 2>&1 <<EOF \
        || { cat "$PGDATA/setup.log" >&2; die "could not create the bigmax role and database"; }
CREATE ROLE bigmax LOGIN CREATEDB;
CREATE DATABASE bigmax OWNER bigmax;
EOF
}

start() {
    init
    clear_stale_pid
    if running; then echo "postgres.sh: already running: $(url)"; return; fi
    local port tries=0
    for ((port = FIRST_PORT; port <= LAST_PORT; port++)); do
        port_busy "$port" && continue
        if as_owner "$BIN/pg_ctl" start -D "$PGDATA" -w -t 60 -l "$PGDATA/server.log" \
            -o "-p $port" >/dev/null 2>&1; then
            echo "$port" >"$PGDATA/bigmax.port"
            echo "postgres.sh: started: $(url)"
            return
        fi
        (( ++tries >= 3 )) && break
    done
    tail -n 20 "$PGDATA/server.log" >&2 || true
    die "could not start PostgreSQL (log: $PGDATA/server.log)"
}

stop() {
    if [[ -f "$PGDATA/PG_VERSION" ]] && running; then
        as_owner "$BIN/pg_ctl" stop -D "$PGDATA" -m fast -w >/dev/null
        echo "postgres.sh: stopped"
    fi
}

remove() {
    stop
    rm -rf "$PGDATA"
}

url() {
    [[ -f "$PGDATA/bigmax.port" ]] || die "not started yet: run scripts/postgres.sh start"
    echo "postgresql://bigmax@127.0.0.1:$(cat "$PGDATA/bigmax.port")/bigmax"
}

cmd=${1:-}
case "$cmd" in
    install) install_server; exit ;;
    start | stop | url | remove) ;;
    *) die "usage: scripts/postgres.sh install|start|stop|url|remove" ;;
esac
if ! BIN=$(bindir); then
    [[ "$cmd" == stop || "$cmd" == remove ]] && exit 0
    die "no PostgreSQL server found: run scripts/postgres.sh install"
fi
PGDATA=$(datadir)
"$cmd"
