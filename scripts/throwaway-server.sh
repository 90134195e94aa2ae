# Sourced by the scripts that try the API from outside (schemathesis.sh, client-story.sh): a
# Python tool installed into a virtualenv under target/ the first time, and the release or
# debug `helpdesk` binary serving a zero-configuration help desk in a temporary directory
# (cheap password hashing), stopped and removed on exit.

# Says loudly that `$what` was skipped, and why; a failure under HELPDESK_REQUIRE_SERVICES.
missing() {
    echo "!!!!! $1: $what was NOT done !!!!!"
    [ -n "${HELPDESK_REQUIRE_SERVICES:-}" ] && exit 1
    exit 0
}

# pip_tool VENV EXECUTABLE PACKAGE: installs PACKAGE into VENV unless EXECUTABLE is there.
pip_tool() {
    if [ ! -x "$1/bin/$2" ]; then
        echo "== installing $3 into $1"
        { python3 -m venv "$1" && "$1/bin/pip" install -q "$3"; } >/dev/null 2>&1 \
            || missing "could not install $3 (python3-venv and PyPI needed)"
    fi
}

# start_server [NAME=VALUE…]: runs `helpdesk serve` ($SERVER_BIN, default target/debug/helpdesk)
# with these extra settings; sets `dir` (its data directory is $dir/data) and `root`.
start_server() {
    local bin="${SERVER_BIN:-target/debug/helpdesk}" port
    [ -x "$bin" ] || missing "$bin is not built"
    dir=$(mktemp -d)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    env HELPDESK_LISTEN="127.0.0.1:$port" HELPDESK_DATA_DIR="$dir/data" \
        HELPDESK_PASSWORD_HASH__MEMORY_KIB=64 HELPDESK_PASSWORD_HASH__ITERATIONS=1 HELPDESK_LOG=error \
        "$@" "$bin" serve >"$dir/server.log" 2>&1 &
    server=$!
    trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
    root="http://127.0.0.1:$port"
    for _ in $(seq 300); do curl -fsS "$root/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS "$root/readyz" >/dev/null || { cat "$dir/server.log"; echo "the server did not start"; exit 1; }
}
