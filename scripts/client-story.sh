#!/usr/bin/env bash
# Generates a Python client from the OpenAPI document a zero-configuration server serves
# (openapi-python-client, PyPI, installed into a virtualenv under target/ the first time) and
# runs the README's story through it, with an attachment and an avatar (scripts/client/story.py).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/client-venv
bin="${SERVER_BIN:-target/debug/helpdesk}"
missing() {
    echo "!!!!! $1: the generated client was NOT tried !!!!!"
    [ -n "${HELPDESK_REQUIRE_SERVICES:-}" ] && exit 1
    exit 0
}
[ -x "$bin" ] || missing "$bin is not built"
if [ ! -x "$venv/bin/openapi-python-client" ]; then
    echo "== client: installing openapi-python-client into $venv"
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q openapi-python-client; } >/dev/null 2>&1 \
        || missing "could not install openapi-python-client (python3-venv and PyPI needed)"
fi

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The README's zero-configuration start (cheaper password hashing, for speed).
HELPDESK_LISTEN="127.0.0.1:$port" HELPDESK_DATA_DIR="$dir/data" \
    HELPDESK_PASSWORD_HASH__MEMORY_KIB=64 HELPDESK_PASSWORD_HASH__ITERATIONS=1 HELPDESK_LOG=error \
    "$bin" serve >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
root="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -fsS "$root/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$root/readyz" >/dev/null || { cat "$dir/server.log"; echo "the server did not start"; exit 1; }

echo "== client: generating helpdesk_api_client from $root/api/v1/openapi.json"
curl -fsS "$root/api/v1/openapi.json" -o "$dir/openapi.json"
rm -rf target/client
"$venv/bin/openapi-python-client" generate --path "$dir/openapi.json" --meta none \
    --output-path target/client/helpdesk_api_client >"$dir/generate.log" 2>&1 \
    || { cat "$dir/generate.log"; exit 1; }
echo "== client: the README story through the generated client"
PYTHONPATH=target/client "$venv/bin/python" scripts/client/story.py "$root/api/v1" "$dir/data"
