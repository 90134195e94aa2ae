#!/usr/bin/env bash
# Starts and stops the throwaway servers the adapter tests need. Sourced by scripts/test.sh.
# Each service exports the environment variable its tests read; a service that cannot start
# leaves it unset, and those tests skip with a loud message (or fail, under
# HELPDESK_REQUIRE_SERVICES=1 as in CI).

HELPDESK_SERVICES_DIR=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# PostgreSQL: a throwaway cluster in a temporary directory, on a free port, unless
# DATABASE_URL is already set. The server refuses to run as root, so as root it runs as the
# `postgres` user.
pg_start() {
    if [ -n "${DATABASE_URL:-}" ]; then
        echo "== PostgreSQL: using DATABASE_URL from the environment"
        return 0
    fi
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "!!!!! PostgreSQL binaries not found (apt-get install postgresql): PostgreSQL tests will be SKIPPED !!!!!"
        return 0
    fi
    local dir port as=()
    dir=$(mktemp -d /tmp/helpdesk-pg.XXXXXX)
    HELPDESK_SERVICES_DIR="$dir"
    port=$(free_port)
    if [ "$(id -u)" = "0" ]; then
        chown postgres: "$dir"
        as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "!!!!! initdb failed (see $dir/initdb.log): PostgreSQL tests will be SKIPPED !!!!!"
        return 0
    }
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=400 -c shared_buffers=256MB" start >/dev/null || {
        echo "!!!!! PostgreSQL did not start (see $dir/server.log): PostgreSQL tests will be SKIPPED !!!!!"
        return 0
    }
    export PG_BIN="$bin" PG_DIR="$dir" PG_PORT="$port"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "== PostgreSQL: throwaway cluster on port $port in $dir"
}

pg_stop() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        # PG_BIN is unset in a shell other than the one that ran pg_start.
        local as=() bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
        [ "$(id -u)" = "0" ] && as=(runuser -u postgres --)
        "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}

# SMTP: aiosmtpd (PyPI) in a virtualenv under target/; tests start and stop their own
# servers with it (so they can take one down and bring it back).
smtp_setup() {
    if [ -n "${HELPDESK_TEST_SMTP_PYTHON:-}" ]; then
        return 0
    fi
    local venv=target/smtp-venv
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
        echo "== SMTP: installing aiosmtpd into $venv"
        if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q aiosmtpd; } >/dev/null 2>&1; then
            echo "!!!!! could not install aiosmtpd (python3-venv and PyPI needed): SMTP tests will be SKIPPED !!!!!"
            return 0
        fi
    fi
    HELPDESK_TEST_SMTP_PYTHON="$(pwd)/$venv/bin/python"
    HELPDESK_TEST_SMTP_HANDLERS="$(pwd)/scripts/smtp"
    export HELPDESK_TEST_SMTP_PYTHON HELPDESK_TEST_SMTP_HANDLERS
    echo "== SMTP: aiosmtpd ready ($HELPDESK_TEST_SMTP_PYTHON)"
}

# S3: moto's server (PyPI) in a virtualenv under target/; the S3 tests start and stop their
# own servers with it (so they can show an outage).
s3_setup() {
    if [ -n "${HELPDESK_TEST_MOTO:-}" ]; then
        return 0
    fi
    local venv=target/moto-venv
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "== S3: installing moto[server] into $venv"
        if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q 'moto[server]'; } >/dev/null 2>&1; then
            echo "!!!!! could not install moto (python3-venv and PyPI needed): S3 tests will be SKIPPED !!!!!"
            return 0
        fi
    fi
    HELPDESK_TEST_MOTO="$(pwd)/$venv/bin/moto_server"
    export HELPDESK_TEST_MOTO
    echo "== S3: moto ready ($HELPDESK_TEST_MOTO)"
}

# IMAP: Debian's Dovecot (installed with apt-get when missing and this is root); the mail-in
# tests start and stop servers of their own with it, each with its own configuration and
# mailboxes in a temporary directory.
imap_setup() {
    if [ -n "${HELPDESK_TEST_DOVECOT:-}" ]; then
        return 0
    fi
    if [ ! -x /usr/sbin/dovecot ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "== IMAP: installing dovecot-imapd"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd; }; } >/dev/null 2>&1 || true
    fi
    if [ ! -x /usr/sbin/dovecot ]; then
        echo "!!!!! Dovecot is not installed (apt-get install dovecot-imapd): IMAP tests will be SKIPPED !!!!!"
        return 0
    fi
    # The package starts a system-wide server; the tests run their own.
    { command -v systemctl >/dev/null && systemctl stop dovecot; } >/dev/null 2>&1 || true
    export HELPDESK_TEST_DOVECOT=/usr/sbin/dovecot
    echo "== IMAP: Dovecot ready ($HELPDESK_TEST_DOVECOT)"
}

services_start() {
    pg_start
    smtp_setup
    s3_setup
    imap_setup
}

services_stop() {
    pg_stop
}
