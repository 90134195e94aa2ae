#!/usr/bin/env bash
# HTTP load benchmark (issue 5): the release `helpdesk` server on sled and on PostgreSQL
# (fsync on), driven by wrk on the same machine, beside a minimal axum JSON handler and
# pgbench's SELECT-by-key as yardsticks measured in the same run. Prints a markdown report.
#
# Usage: scripts/bench-http.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10s}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release -q -p helpdesk-http --bin helpdesk --example bench_baseline
BIN=target/release/helpdesk
WORK=$(mktemp -d /tmp/helpdesk-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${PG_DIR:-}" ] && pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
source scripts/services.sh

ADMIN_PW="harbor-lantern-quartz-71"
EMP_PW="plum-harbor-violet-42"

wait_ready() { for _ in $(seq 1 200); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.05; done; echo "server $1 not ready"; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# wrk's Requests/sec and non-2xx count of a run: "rate non2xx p99"
run_wrk() {
    local out
    out=$(wrk --latency "$@" 2>&1)
    local rate non p99
    rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    non=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    echo "${rate:-0} ${non:-0} ${p99:--}"
}
rss() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# The yardstick: a minimal axum JSON handler.
target/release/examples/bench_baseline 127.0.0.1:18090 & PIDS+=($!)
sleep 0.5
read -r BASE64 _ _ <<<"$(run_wrk -t2 -c64 -d"$DUR" http://127.0.0.1:18090/json)"
read -r BASE16 _ _ <<<"$(run_wrk -t2 -c16 -d"$DUR" http://127.0.0.1:18090/json)"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

# Starts the server on $1 (storage URL), signs in, registers and approves an employee.
start_server() {
    local url=$1 port=$2
    HELPDESK_LISTEN=127.0.0.1:$port HELPDESK_DATA_DIR="$WORK/data-$port" HELPDESK_STORAGE_URL="$url" \
    HELPDESK_BOOTSTRAP_ADMIN__EMAIL=admin@example.com HELPDESK_BOOTSTRAP_ADMIN__PASSWORD="$ADMIN_PW" \
    HELPDESK_POSTGRES_MAX_CONNECTIONS=32 HELPDESK_LOG=warn HELPDESK_DISPATCH_INTERVAL_MS=200 \
        "$BIN" serve >"$WORK/server-$port.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    BASE="http://127.0.0.1:$port"
    wait_ready "$BASE"
    ADMIN=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"admin@example.com\",\"password\":\"$ADMIN_PW\"}" | json_field '["access_token"]')
    local id
    id=$(curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"emp@example.com\",\"password\":\"$EMP_PW\",\"first_name\":\"Em\",\"last_name\":\"Ploy\",\"company_id\":\"MA0100\"}" | json_field '["id"]')
    curl -sf -X POST "$BASE/api/v1/users/$id/approve" -H "authorization: Bearer $ADMIN" >/dev/null
    EMP=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"emp@example.com\",\"password\":\"$EMP_PW\"}" | json_field '["access_token"]')
}

# Waits until the outbox has nothing pending and sets DRAINED to the seconds it took; after
# $DRAIN_LIMIT seconds (default 300) it stops the whole run with the server's outbox state and
# its log's last lines, instead of measuring a server that is stuck.
DRAIN_LIMIT=${DRAIN_LIMIT:-300}
drain() {
    local what=$1 started=$SECONDS body=""
    while [ $((SECONDS - started)) -lt "$DRAIN_LIMIT" ]; do
        body=$(curl -sf "$BASE/api/v1/admin/outbox?state=pending&limit=3" -H "authorization: Bearer $ADMIN" || true)
        if echo "$body" | grep -q '"items":\[\]'; then
            DRAINED=$((SECONDS - started))
            return 0
        fi
        sleep 0.5
    done
    {
        echo "!!!!! the outbox did not drain within $DRAIN_LIMIT s after '$what' (first pending messages below)"
        echo "$body"
        tail -n 20 "$WORK/server-${BASE##*:}.log"
    } >&2
    exit 1
}

# One store: create, get, list, approve at -c64, then the original system's flags (-c16).
bench_store() {
    local name=$1
    read -r CREATE CREATE_NON CREATE_P99 <<<"$(TOKEN=$EMP run_wrk -t2 -c64 -d"$DUR" -s scripts/wrk/create.lua "$BASE")"
    # Let the dispatcher deliver the mails each write run queued, so the next workload is
    # measured on its own (the time it took is reported).
    drain "create ticket -c64"; local drain_create=$DRAINED
    local n
    n=$(curl -sf "$BASE/api/v1/tickets?limit=1&sort=number" -H "authorization: Bearer $EMP" | json_field '["items"][0]["number"]')
    n=$((10#${n#TX}))
    read -r GET GET_NON GET_P99 <<<"$(TOKEN=$EMP TICKETS=$n run_wrk -t2 -c64 -d"$DUR" -s scripts/wrk/get.lua "$BASE")"
    read -r LIST LIST_NON LIST_P99 <<<"$(TOKEN=$EMP run_wrk -t2 -c64 -d"$DUR" -s scripts/wrk/list.lua "$BASE")"
    read -r APPROVE APPROVE_NON APPROVE_P99 <<<"$(TOKEN=$ADMIN THREADS=2 run_wrk -t2 -c64 -d5s -s scripts/wrk/approve.lua "$BASE")"
    local rss_peak
    rss_peak=$(hwm "$SERVER_PID")
    drain "approve -c64"; local drain_approve=$DRAINED
    read -r GET16 _ _ <<<"$(TOKEN=$EMP TICKETS=$n run_wrk -t2 -c16 -d"$DUR" -s scripts/wrk/get.lua "$BASE")"
    read -r LIST16 _ _ <<<"$(TOKEN=$EMP run_wrk -t2 -c16 -d"$DUR" -s scripts/wrk/list.lua "$BASE")"
    read -r CREATE16 _ _ <<<"$(TOKEN=$EMP run_wrk -t2 -c16 -d"$DUR" -s scripts/wrk/create.lua "$BASE")"
    drain "create ticket -c16"; local drain_create16=$DRAINED
    printf '\n### %s (%s tickets after the create run; peak RSS %s MiB)\n\n' "$name" "$n" "$rss_peak"
    printf 'Outbox drained after each write workload: create -c64 in %s s, approve -c64 in %s s, create -c16 in %s s.\n\n' \
        "$drain_create" "$drain_approve" "$drain_create16"
    echo "| workload (wrk -t2 -c64 -d$DUR) | requests/s | p99 | non-2xx | vs minimal axum ($BASE64/s) |"
    echo "|---|---|---|---|---|"
    for row in "get ticket by number|$GET|$GET_P99|$GET_NON" "list page of 50|$LIST|$LIST_P99|$LIST_NON" \
               "create ticket|$CREATE|$CREATE_P99|$CREATE_NON" "approve (lifecycle action, 5 s)|$APPROVE|$APPROVE_P99|$APPROVE_NON"; do
        IFS='|' read -r w r p x <<<"$row"
        awk -v w="$w" -v r="$r" -v p="$p" -v x="$x" -v b="$BASE64" 'BEGIN { printf "| %s | %.0f | %s | %s | %.1f%% |\n", w, r, p, x, 100*r/b }'
    done
    echo
    echo "| vs the original (wrk -t2 -c16 -d$DUR) | requests/s | original | ratio | minimal axum -c16 |"
    echo "|---|---|---|---|---|"
    python3 - <<PY
for w, r, o in [("list of the employee's tickets", $LIST16, 27), ("ticket detail", $GET16, 198), ("create ticket", $CREATE16, 159)]:
    print(f"| {w} | {r:,.0f} | {o} | {r/o:,.0f}x | {$BASE16:,.0f} |")
PY
}

echo "# HTTP load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
echo "Minimal axum JSON handler: $BASE64 requests/s at -c64, $BASE16 at -c16."

start_server "sled:$WORK/sled/db" 18091
bench_store "sled"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

if [ -z "${DATABASE_URL:-}" ]; then PG_FSYNC=on pg_start; fi
if [ -n "${DATABASE_URL:-}" ]; then
    PGURL=${DATABASE_URL%/*}
    psql_() { "${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" "$DATABASE_URL" -qAtc "$1"; }
    psql_ "DROP DATABASE IF EXISTS helpdesk_bench" && psql_ "CREATE DATABASE helpdesk_bench"
    psql_ "DROP DATABASE IF EXISTS pgbench_bench" && psql_ "CREATE DATABASE pgbench_bench"
    PGB="${PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench"
    "$PGB" -q -i -s 10 "$PGURL/pgbench_bench" >/dev/null 2>&1
    PGBENCH=$("$PGB" -S -M prepared -c 64 -j 2 -T "${DUR%s}" "$PGURL/pgbench_bench" 2>/dev/null | awk '/^tps/ {print $3; exit}')
    start_server "$PGURL/helpdesk_bench" 18092
    bench_store "PostgreSQL (fsync on)"
    echo
    awk -v p="$PGBENCH" -v g="$GET" 'BEGIN { printf "pgbench -S -M prepared -c 64 -j 2: %.0f tx/s; get ticket on PostgreSQL = %.0f%% of it\n", p, 100*g/p }'
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
else
    echo "PostgreSQL could not start: PostgreSQL rows skipped"
fi
