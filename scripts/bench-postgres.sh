#!/usr/bin/env bash
# Runs the PostgreSQL storage benchmark on a throwaway cluster with fsync ON (like a real
# deployment), then removes the cluster. Usage: scripts/bench-postgres.sh [tickets]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
# With DATABASE_URL set, benchmark that server (a loaded database is reused); otherwise start
# a throwaway cluster with fsync on and remove it afterwards. A second argument
# `--lists-only` measures the list pages alone (no creations, no pgbench, no reports);
# `--reports-only` the reads and reports alone (no creations, no pgbench, no list pages).
# The creations need `pgbench` from `PG_BIN` (set by `pg_start`; set it yourself with your own
# DATABASE_URL, e.g. PG_BIN=/usr/lib/postgresql/15/bin).
if [ -z "${DATABASE_URL:-}" ]; then
    PG_FSYNC=on pg_start
    trap pg_stop EXIT
fi
[ -n "${DATABASE_URL:-}" ] || { echo "PostgreSQL could not start"; exit 1; }
cargo bench -p helpdesk-storage-postgres --bench pg_store -- "${1:-1000000}" "${@:2}"
