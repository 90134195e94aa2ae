#!/usr/bin/env bash
# The project's test command (README: "Run the tests").
#
# Runs every test of the workspace. Tests of real adapters need real servers: this script
# starts the ones it can (see scripts/services.sh) and stops them afterwards; a suite whose
# server is missing skips loudly instead of passing silently.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/services.sh
source scripts/services.sh
trap services_stop EXIT
services_start

# Doc tests first (nextest does not run them), so the run ends on the main summary.
cargo test --workspace --all-features --doc

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --no-fail-fast "$@"
else
    echo "cargo-nextest not found: using cargo test (install it with 'cargo install cargo-nextest' for faster runs)"
    cargo test --workspace --all-features --no-fail-fast "$@"
fi

# The OpenAPI document written by helpdesk-http's tests must validate as OpenAPI 3 (utoipa
# emits 3.1, which openapi-spec-validator checks). The validator is installed from PyPI into
# a virtualenv under target/ on first use.
scripts/validate-openapi.sh target/tmp/openapi.json

