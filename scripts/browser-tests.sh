#!/usr/bin/env bash
# The web pages in a real headless Chromium (Debian's), driven by Playwright for Python with
# the system browser, with axe-core checking every page: scripts/browser/journey.py. Installs
# what it needs when missing (chromium by apt as root; playwright and axe-core into target/);
# without them the browser tests are SKIPPED loudly (and fail under HELPDESK_REQUIRE_SERVICES,
# as in CI). Screenshots of every page (desktop and 360 px) land in target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
    echo "!!!!! $1: browser tests SKIPPED !!!!!"
    [ -n "${HELPDESK_REQUIRE_SERVICES:-}" ] && exit 1
    exit 0
}

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "== browser: installing chromium (apt)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 || true
    fi
    command -v chromium >/dev/null 2>&1 || skip "chromium is not installed (apt-get install chromium)"
fi
venv=target/browser-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import playwright' 2>/dev/null; then
    echo "== browser: installing playwright into $venv"
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q playwright; } >/dev/null 2>&1 || skip "could not install playwright (PyPI)"
fi
node_dir=target/browser-node
if [ ! -f "$node_dir/node_modules/axe-core/axe.min.js" ]; then
    echo "== browser: installing axe-core into $node_dir"
    { mkdir -p "$node_dir" && npm install --silent --prefix "$node_dir" axe-core@4; } >/dev/null 2>&1 || skip "could not install axe-core (npm)"
fi
cargo build -q -p helpdesk-http --bin helpdesk
echo "== browser: the employee's journey in headless Chromium"
"$venv/bin/python" scripts/browser/journey.py \
    --server target/debug/helpdesk \
    --chromium "$(command -v chromium)" \
    --axe "$node_dir/node_modules/axe-core/axe.min.js" \
    --screenshots target/screenshots
