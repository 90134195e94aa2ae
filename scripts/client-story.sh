#!/usr/bin/env bash
# Generates a Python client from the OpenAPI document a zero-configuration server serves
# (openapi-python-client, PyPI, installed into a virtualenv under target/ the first time) and
# runs the README's story through it, with an attachment and an avatar (scripts/client/story.py).
set -euo pipefail
cd "$(dirname "$0")/.."
what="the generated client's story"
source scripts/throwaway-server.sh
venv=target/client-venv
pip_tool "$venv" openapi-python-client openapi-python-client
# The README's zero-configuration start.
start_server
echo "== client: generating helpdesk_api_client from $root/api/v1/openapi.json"
curl -fsS "$root/api/v1/openapi.json" -o "$dir/openapi.json"
rm -rf target/client
"$venv/bin/openapi-python-client" generate --path "$dir/openapi.json" --meta none \
    --output-path target/client/helpdesk_api_client >"$dir/generate.log" 2>&1 \
    || { cat "$dir/generate.log"; exit 1; }
echo "== client: the README story through the generated client"
PYTHONPATH=target/client "$venv/bin/python" scripts/client/story.py "$root/api/v1" "$dir/data"
