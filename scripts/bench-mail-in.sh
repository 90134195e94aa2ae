#!/usr/bin/env bash
# Mail-in benchmark (issue 19): 100 KB messages with one attachment through the HTTP route,
# the use case alone, the MTA pipe and the IMAP poller, on sled and on a throwaway PostgreSQL
# cluster started here with fsync on (every write durable), with Dovecot for the IMAP rows.
# Prints a markdown report.
#
# Usage: scripts/bench-mail-in.sh [messages per path, default 400]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
unset DATABASE_URL
trap services_stop EXIT
PG_FSYNC=on pg_start
imap_setup
cargo bench -q -p helpdesk-http --features server --bench mail_in -- "${1:-400}"
