#!/usr/bin/env bash
# Bulk change benchmark (issue 20): one request changing 1,000 tickets, on sled and on a
# throwaway PostgreSQL cluster started here with fsync on. Prints a markdown report.
#
# Usage: scripts/bench-bulk.sh [tickets, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
unset DATABASE_URL
trap services_stop EXIT
PG_FSYNC=on pg_start
cargo bench -q -p helpdesk-http --features server --bench bulk -- "${1:-1000}"
