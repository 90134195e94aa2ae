#!/usr/bin/env bash
# HTTP load benchmark: the `helpdesk` server as deployments build it (`--profile dist`) on sled
# and on PostgreSQL (fsync on), driven by wrk on the same machine, beside a minimal axum JSON
# handler, pgbench's SELECT-by-key and pgbench sending a create's statements
# (`scripts/pgbench/create.sql`) as yardsticks measured in the same run, the floor of the
# two read routes (axum verifying the same token and answering the same bytes, no storage: what
# no server can skip), and PostgreSQL again with two server processes on one database. Prints a
# markdown report: requests/s, p50/p99, errors and the server's resident memory after every
# workload.
#
# Usage: scripts/bench-http.sh [duration, default 10s]
#   BEFORE_BIN=path   also measure that build of `helpdesk` (say, the previous commit's) in the
#                     same run, workload by workload beside this one, for a before/after ratio.
#   AFTER_BIN=path    measure that build as "after" instead of this tree's `dist` build (say,
#                     the same tree built with another profile).
#   STORES="sled pg"  which stores to measure (default both).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10s}"
STORES="${STORES:-sled pg}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
# The `dist` profile (fat LTO) is what deployments run; the yardstick is built the same way.
cargo build --profile dist -q -p helpdesk-http --bin helpdesk --example bench_baseline
AFTER_BIN=${AFTER_BIN:-target/dist/helpdesk}
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
RESULTS="$WORK/results"
: >"$RESULTS"

ADMIN_PW="harbor-lantern-quartz-71"
JWT_SECRET=bench-secret-shared-by-every-process-0123456789
PUBLIC_URL=http://127.0.0.1:18000
EMP_PW="plum-harbor-violet-42"

wait_ready() { for _ in $(seq 1 200); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.05; done; echo "server $1 not ready"; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# Writes the numbers of the employee's tickets to $WORK/numbers, one per line (for get.lua).
ticket_numbers() {
    python3 - "$BASE" "$EMP" "$WORK/numbers" <<'PY'
import json, sys, urllib.request
base, token, out = sys.argv[1:]
numbers, cursor = [], None
while True:
    url = f"{base}/api/v1/tickets?limit=100" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})))
    numbers += [t["number"] for t in page["items"]]
    cursor = page.get("next_cursor")
    if not cursor:
        break
open(out, "w").write("\n".join(numbers) + "\n")
print(len(numbers))
PY
}
# One wrk run: prints "rate p50 p99 errors", errors being non-2xx answers plus socket errors
# (connect, read, write, timeout).
run_wrk() {
    local out
    out=$(wrk --latency "$@" 2>&1)
    echo "$out" | awk '
        /Requests\/sec/ { rate = $2 }
        $1 == "50%" { p50 = $2 }
        $1 == "99%" { p99 = $2 }
        /Non-2xx/ { err += $5 }
        /Socket errors/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %d\n", (rate == "" ? 0 : rate), (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99), err }'
}
rss() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
# Records one result row: store, build, workload, "rate p50 p99 errors", RSS after.
record() { echo "$1|$2|$3|$4|$5" >>"$RESULTS"; }

# The yardstick: a minimal axum JSON handler.
target/dist/examples/bench_baseline 127.0.0.1:18090 & PIDS+=($!)
sleep 0.5
read -r BASE64 _ _ _ <<<"$(run_wrk -t2 -c64 -d"$DUR" http://127.0.0.1:18090/json)"
read -r BASE16 _ _ _ <<<"$(run_wrk -t2 -c16 -d"$DUR" http://127.0.0.1:18090/json)"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

# Starts `$bin serve` on a storage URL and port; sets SERVER_PID and BASE.
launch() {
    local bin=$1 url=$2 port=$3
    HELPDESK_LISTEN=127.0.0.1:$port HELPDESK_DATA_DIR="$WORK/data-$port" HELPDESK_STORAGE_URL="$url" \
    HELPDESK_BOOTSTRAP_ADMIN__EMAIL=admin@example.com HELPDESK_BOOTSTRAP_ADMIN__PASSWORD="$ADMIN_PW" \
    HELPDESK_POSTGRES_MAX_CONNECTIONS=32 HELPDESK_LOG=warn HELPDESK_DISPATCH_INTERVAL_MS=200 \
    HELPDESK_JWT_SECRET="$JWT_SECRET" HELPDESK_PUBLIC_URL="$PUBLIC_URL" \
        "$bin" serve >"$WORK/server-$port.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    BASE="http://127.0.0.1:$port"
    wait_ready "$BASE"
}

# Signs in the admin, registers and approves an employee (sets ADMIN and EMP tokens).
accounts() {
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

# Two wrk processes at once, one per server (ports $1 and $2), -t1 -c32 each: "rate p50 p99
# errors" with the rates and errors summed and the worse of the two percentiles.
run_wrk_pair() {
    local a=$1 b=$2
    shift 2
    run_wrk -t1 -c32 "$@" "http://127.0.0.1:$a" >"$WORK/pair-a" &
    local wa=$!
    run_wrk -t1 -c32 "$@" "http://127.0.0.1:$b" >"$WORK/pair-b"
    wait "$wa"
    python3 - "$WORK/pair-a" "$WORK/pair-b" <<'PY'
import sys
def ms(v):
    if v == "-": return 0.0
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit): return float(v[: -len(unit)]) * f
    return float(v)
rows = [open(p).read().split() for p in sys.argv[1:]]
rate = sum(float(r[0]) for r in rows)
p50 = max(ms(r[1]) for r in rows)
p99 = max(ms(r[2]) for r in rows)
print(f"{rate:.0f} {p50:.2f}ms {p99:.2f}ms {sum(int(r[3]) for r in rows)}")
PY
}

# The builds measured: "after" (this tree), and "before" when BEFORE_BIN is given. Each build
# gets its own server (and database); the workloads run build after build, back to back, so
# the machine's drift hits both alike.
NAMES=(after)
declare -A BIN=([after]=$AFTER_BIN)
if [ -n "${BEFORE_BIN:-}" ]; then NAMES=(before after); BIN[before]=$BEFORE_BIN; fi
declare -A B_BASE B_PID B_EMP B_ADMIN B_PORT B_PID2
use_build() { BUILD=$1; BASE=${B_BASE[$1]}; SERVER_PID=${B_PID[$1]}; EMP=${B_EMP[$1]}; ADMIN=${B_ADMIN[$1]}; }

w_create64() { TOKEN=$EMP run_wrk -t2 -c64 -d"$DUR" -s scripts/wrk/create.lua "$BASE"; }
w_get64() { TOKEN=$EMP NUMBERS="$WORK/numbers-$BUILD" run_wrk -t2 -c64 -d"$DUR" -s scripts/wrk/get.lua "$BASE"; }
w_list64() { TOKEN=$EMP run_wrk -t2 -c64 -d"$DUR" -s scripts/wrk/list.lua "$BASE"; }
w_approve64() { TOKEN=$ADMIN THREADS=2 NUMBERS="$WORK/numbers-$BUILD" run_wrk -t2 -c64 -d5s -s scripts/wrk/approve.lua "$BASE"; }
w_get16() { TOKEN=$EMP NUMBERS="$WORK/numbers-$BUILD" run_wrk -t2 -c16 -d"$DUR" -s scripts/wrk/get.lua "$BASE"; }
w_list16() { TOKEN=$EMP run_wrk -t2 -c16 -d"$DUR" -s scripts/wrk/list.lua "$BASE"; }
w_create16() { TOKEN=$EMP run_wrk -t2 -c16 -d"$DUR" -s scripts/wrk/create.lua "$BASE"; }
p_get() { TOKEN=$EMP NUMBERS="$WORK/numbers-$BUILD" run_wrk_pair "${B_PORT[$BUILD]}" $((B_PORT[$BUILD] + 1)) -d"$DUR" -s scripts/wrk/get.lua; }
p_list() { TOKEN=$EMP run_wrk_pair "${B_PORT[$BUILD]}" $((B_PORT[$BUILD] + 1)) -d"$DUR" -s scripts/wrk/list.lua; }
p_create() { TOKEN=$EMP run_wrk_pair "${B_PORT[$BUILD]}" $((B_PORT[$BUILD] + 1)) -d"$DUR" -s scripts/wrk/create.lua; }

# One workload on every build: `each STORE NAME FUNCTION [drain]`. With "drain", waits for the
# outbox to deliver what the workload queued before the next build runs (and records how long).
each() {
    local store=$1 name=$2 fn=$3 drains=${4:-} b r mem
    for b in "${NAMES[@]}"; do
        use_build "$b"
        r=$($fn)
        if [ -n "$drains" ]; then drain "$name"; fi
        mem=$(rss "$SERVER_PID")
        if [ -n "${B_PID2[$b]:-}" ]; then mem=$((mem + $(rss "${B_PID2[$b]}"))); fi
        record "$store" "$b" "$name" "$r" "$mem"
        if [ -n "$drains" ]; then record "$store" "$b" "outbox drained after $name (s)" "$DRAINED - - 0" "-"; fi
    done
}

# Starts one server per build on the storage URL `$2` (a `%s` stands for the build's name).
start_builds() {
    local url=$1 b
    for b in "${NAMES[@]}"; do
        # shellcheck disable=SC2059
        launch "${BIN[$b]}" "$(printf "$url" "$b")" "$PORT"
        accounts
        B_BASE[$b]=$BASE B_PID[$b]=$SERVER_PID B_EMP[$b]=$EMP B_ADMIN[$b]=$ADMIN B_PORT[$b]=$PORT
        B_PID2[$b]=""
        PORT=$((PORT + 2))
    done
}

# The workloads: create, get, list, approve at -c64, then the original system's flags (-c16).
bench_store() {
    local store=$1 b
    each "$store" "create ticket" w_create64 drain
    for b in "${NAMES[@]}"; do use_build "$b"; ticket_numbers >/dev/null; mv "$WORK/numbers" "$WORK/numbers-$b"; done
    each "$store" "get ticket by number" w_get64
    each "$store" "list page of 50" w_list64
    each "$store" "approve (lifecycle action, 5 s)" w_approve64 drain
    each "$store" "-c16 ticket detail" w_get16
    each "$store" "-c16 list of the employee's tickets" w_list16
    each "$store" "-c16 create ticket" w_create16 drain
    for b in "${NAMES[@]}"; do record "$store" "$b" "peak RSS (MiB)" "$(hwm "${B_PID[$b]}") - - 0" "-"; done
    # The store's size, which the resident memory follows on sled: a faster run writes more.
    for b in "${NAMES[@]}"; do use_build "$b"; record "$store" "$b" "tickets in the store at the end" "$(ticket_numbers) - - 0" "-"; done
    floor "$store"
}

# The floor of the read routes: the yardstick binary verifies the same token with the same
# signer and answers with the bytes this store's "after" server answered (one ticket, one page).
floor() {
    local store=$1 pid r
    use_build after
    curl -sf "$BASE/api/v1/tickets/$(head -n1 "$WORK/numbers-after")" -H "authorization: Bearer $EMP" >"$WORK/floor-ticket"
    curl -sf "$BASE/api/v1/tickets?limit=50" -H "authorization: Bearer $EMP" >"$WORK/floor-list"
    FLOOR_SECRET=$JWT_SECRET FLOOR_ISSUER=$PUBLIC_URL FLOOR_TICKET="$WORK/floor-ticket" FLOOR_LIST="$WORK/floor-list" \
        target/dist/examples/bench_baseline 127.0.0.1:18089 &
    pid=$!
    sleep 0.5
    local real=$BASE
    BASE=http://127.0.0.1:18089
    r=$(w_get64); record "$store" floor "get ticket by number" "$r" "-"
    r=$(w_list64); record "$store" floor "list page of 50" "$r" "-"
    BASE=$real
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

stop_builds() {
    local b
    for b in "${NAMES[@]}"; do
        kill "${B_PID[$b]}" ${B_PID2[$b]:-} 2>/dev/null || true
        wait "${B_PID[$b]}" ${B_PID2[$b]:-} 2>/dev/null || true
    done
}

PORT=18091
if [[ " $STORES " == *" sled "* ]]; then
    start_builds "sled:$WORK/sled-%s/db"
    bench_store sled
    stop_builds
fi

PGBENCH=""
PGBENCH_CREATE=""
if [[ " $STORES " == *" pg "* ]]; then
    if [ -z "${DATABASE_URL:-}" ]; then PG_FSYNC=on pg_start; fi
    if [ -n "${DATABASE_URL:-}" ]; then
        PGURL=${DATABASE_URL%/*}
        psql_() { "${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" "$DATABASE_URL" -qAtc "$1"; }
        psql_ "DROP DATABASE IF EXISTS pgbench_bench" && psql_ "CREATE DATABASE pgbench_bench"
        PGB="${PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench"
        "$PGB" -q -i -s 10 "$PGURL/pgbench_bench" >/dev/null 2>&1
        PGBENCH=$("$PGB" -S -M prepared -c 64 -j 2 -T "${DUR%s}" "$PGURL/pgbench_bench" 2>/dev/null | awk '/^tps/ {print $3; exit}')
        for b in "${NAMES[@]}"; do psql_ "DROP DATABASE IF EXISTS helpdesk_bench_$b" && psql_ "CREATE DATABASE helpdesk_bench_$b"; done
        start_builds "$PGURL/helpdesk_bench_%s"
        bench_store pg
        # Scaling out: a second process of each build on the same database, wrk split across both.
        for b in "${NAMES[@]}"; do
            launch "${BIN[$b]}" "$PGURL/helpdesk_bench_$b" $((B_PORT[$b] + 1))
            B_PID2[$b]=$SERVER_PID
        done
        each pg2 "get ticket by number" p_get
        each pg2 "list page of 50" p_list
        each pg2 "create ticket" p_create drain
        stop_builds
        # The create's yardstick: pgbench sending a create's statements (scripts/pgbench/create.sql)
        # at the server's pool size, on the "after" build's database, once the servers are gone.
        db="$PGURL/helpdesk_bench_after"
        sid=$("${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" "$db" -qAtc \
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'emp@example.com' LIMIT 1")
        uid=$("${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" "$db" -qAtc "SELECT id FROM users WHERE email = 'emp@example.com'")
        PGBENCH_CREATE=$("$PGB" -n -M prepared -c 32 -j 2 -T "${DUR%s}" -D "sid=$sid" -D "uid=$uid" \
            -f scripts/pgbench/create.sql "$db" 2>/dev/null | awk '/^tps/ {print $3; exit}')
    else
        echo "PostgreSQL could not start: PostgreSQL rows skipped"
    fi
fi

echo "# HTTP load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $DUR per workload"
echo
echo "Minimal axum JSON handler: $BASE64 requests/s at -c64, $BASE16 at -c16."
[ -n "$PGBENCH" ] && echo "pgbench -S -M prepared -c 64 -j 2 on the same cluster: $PGBENCH tx/s."
[ -n "$PGBENCH_CREATE" ] && echo "pgbench sending a create's statements (scripts/pgbench/create.sql, -M prepared -c 32 -j 2) on the same cluster: $PGBENCH_CREATE tx/s."
echo
python3 - "$RESULTS" "$BASE64" "$BASE16" "${PGBENCH:-0}" "${PGBENCH_CREATE:-0}" <<'PY'
import sys
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1]) if l.strip()]
base64, base16, pgbench = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4] or 0)
pgbench_create = float(sys.argv[5] or 0)
original = {"-c16 ticket detail": 198, "-c16 list of the employee's tickets": 27, "-c16 create ticket": 159}
names = {"sled": "sled", "pg": "PostgreSQL (fsync on), one process", "pg2": "PostgreSQL (fsync on), two processes on one database (wrk -t1 -c32 at each)"}
floor = {(r[0], r[2]): float(r[3].split()[0]) for r in rows if r[1] == "floor"}
rows = [r for r in rows if r[1] != "floor"]
builds = sorted({r[1] for r in rows}, reverse=True)  # "before" first when present
before = {(r[0], r[2]): float(r[3].split()[0]) for r in rows if r[1] == "before"}
for store in ("sled", "pg", "pg2"):
    mine = [r for r in rows if r[0] == store]
    if not mine:
        continue
    print(f"## {names[store]}\n")
    for (fs, work), rate in sorted(floor.items()):
        if fs == store:
            print(f"Floor of '{work}' (axum verifying the same token, answering the same bytes): {rate:,.0f}/s, {100 * rate / base64:.1f}% of axum.\n")
    for build in builds:
        part = [r for r in mine if r[1] == build]
        if not part:
            continue
        print(f"### build: {build}\n")
        print("| workload | requests/s | p50 | p99 | errors | RSS after (MiB) | vs yardstick | vs before |")
        print("|---|---|---|---|---|---|---|---|")
        for _, _, work, res, rss in part:
            rate, p50, p99, err = res.split()
            rate = float(rate)
            if work.startswith(("peak RSS", "outbox drained", "tickets in the store")):
                print(f"| {work} | {rate:,.0f} | | | | | | |")
                continue
            if work in original:
                yard = f"{rate / original[work]:,.0f}x the original ({original[work]}/s); {100 * rate / base16:.1f}% of axum -c16"
            elif store == "pg" or store == "pg2":
                yard = f"{100 * rate / base64:.1f}% of axum" + (f"; {100 * rate / pgbench:.0f}% of pgbench -S" if work.startswith("get") and pgbench else "")
                if work == "create ticket" and pgbench_create:
                    yard += f"; {100 * rate / pgbench_create:.0f}% of pgbench's create"
            else:
                yard = f"{100 * rate / base64:.1f}% of axum"
            if (store, work) in floor and floor[(store, work)] > 0:
                yard += f"; {100 * rate / floor[(store, work)]:.0f}% of its floor"
            vs = ""
            if build == "after" and (store, work) in before and before[(store, work)] > 0:
                vs = f"{rate / before[(store, work)]:.2f}x"
            print(f"| {work} | {rate:,.0f} | {p50} | {p99} | {err} | {rss} | {yard} | {vs} |")
        print()
PY
