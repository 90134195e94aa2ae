#!/usr/bin/env bash
# Fuzzes the served API against its own OpenAPI document with schemathesis (PyPI, installed
# into a virtualenv under target/ the first time): a zero-configuration server on sled in a
# temporary directory, signed in as its admin, a fixed seed and a bounded number of examples.
# Exits non-zero on any failure of the checks it runs.
#
# Usage: scripts/schemathesis.sh            (every check, in two passes: see below)
#        scripts/schemathesis.sh CHECKS     (one pass of these checks over every operation)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/schemathesis-venv
bin="${SERVER_BIN:-target/debug/helpdesk}"

missing() {
    echo "!!!!! $1: the API was NOT fuzzed !!!!!"
    [ -n "${HELPDESK_REQUIRE_SERVICES:-}" ] && exit 1
    exit 0
}
[ -x "$bin" ] || missing "$bin is not built"
if [ ! -x "$venv/bin/st" ]; then
    echo "== schemathesis: installing into $venv"
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q 'schemathesis>=4,<5'; } >/dev/null 2>&1 \
        || missing "could not install schemathesis (python3-venv and PyPI needed)"
fi

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
password="harbor-lantern-quartz-71"
HELPDESK_LISTEN="127.0.0.1:$port" HELPDESK_DATA_DIR="$dir" \
    HELPDESK_BOOTSTRAP_ADMIN__EMAIL=admin@example.com HELPDESK_BOOTSTRAP_ADMIN__PASSWORD="$password" \
    HELPDESK_PASSWORD_HASH__MEMORY_KIB=64 HELPDESK_PASSWORD_HASH__ITERATIONS=1 \
    HELPDESK_ACCESS_TOKEN_MINUTES=120 HELPDESK_LOG=error \
    "$bin" serve >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
root="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -fsS "$root/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$root/readyz" >/dev/null || { cat "$dir/server.log"; echo "the server did not start"; exit 1; }
token=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" "$root/api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

fuzz() {
    "$venv/bin/st" --config-file scripts/schemathesis.toml run "$root/api/v1/openapi.json" \
        --url "$root/api/v1" \
        -H "Authorization: Bearer $token" \
        --seed 20261130 \
        --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
        --workers 2 \
        --generation-allow-x00 true \
        --generation-database none \
        --no-color \
        --report junit --report-dir target/schemathesis \
        "$@"
}

# Operations that would end the fuzzer's own session are left out: signing out, changing the
# admin's password, deactivating or demoting the admin.
own_session='logout|change_password|deactivate_user|change_role'
# Operations whose valid requests depend on more than their own shape, which JSON Schema cannot
# say: the performance report's range (`to` after `from`, at most a year: two parameters),
# a ticket edit's category and sub-category (a pair of the deployment's catalog), a new
# ticket's category (the catalog), the tokens of invitations and resets (ones the server
# mailed), registration and user creation (the password policy — common passwords, personal
# information, zxcvbn's patterns — and the email and company-id rules), an avatar (bytes that
# decode as a PNG or JPEG). Every check but
# positive_data_acceptance ("schema-valid data is accepted") runs on them too.
beyond_schema='performance|edit_ticket|create_ticket|accept_invitation|reset_password|register|create_user|upload_avatar'

if [ $# -gt 0 ]; then
    echo "== schemathesis: checks $1"
    fuzz --checks "$1" --exclude-operation-id-regex "^($own_session)$"
    exit
fi
echo "== schemathesis: every check, every operation but those that would end its session"
fuzz --checks all --exclude-checks positive_data_acceptance --exclude-operation-id-regex "^($own_session)$"
echo "== schemathesis: positive_data_acceptance, but where validity is beyond a schema"
fuzz --checks positive_data_acceptance --exclude-operation-id-regex "^($own_session|$beyond_schema)$"
