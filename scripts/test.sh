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

# Doc tests first (nextest does not run them), so the run ends on the main summary. They
# include the README's Rust blocks (helpdesk-examples compiles README.md as doc tests).
cargo test --workspace --all-features --doc

# The README's 20-line embedding program runs.
cargo run -q -p helpdesk-examples --example embed_sled

# An application of its own that embeds the library the way a user would (tests/embedder, not
# a workspace member): its tests, and the size of its dependency tree. It shares the target
# directory, so the common packages are built once.
(
    cd tests/embedder
    export CARGO_TARGET_DIR="$PWD/../../target"
    packages=$(cargo tree -e normal --prefix none | sed 's/ (\*)//; s/ (proc-macro)//; s/ (\/.*//' | sort -u | wc -l)
    echo "== embedder (core + sled + router without the server): $packages packages"
    cargo test
)

# The web pages in a real headless Chromium, with axe-core on every page (installs Chromium,
# Playwright and axe-core when missing; screenshots in target/screenshots/).
scripts/browser-tests.sh

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --no-fail-fast "$@"
else
    echo "cargo-nextest not found: using cargo test (install it with 'cargo install cargo-nextest' for faster runs)"
    cargo test --workspace --all-features --no-fail-fast "$@"
fi

# The installable forms: the Debian package (built with cargo-deb, installed with dpkg, run as
# its systemd unit would) and the container recipe's environment and user (no Docker here).
# Needs root; skips loudly otherwise. See packaging/README.md.
scripts/package-tests.sh

# The OpenAPI document written by helpdesk-http's tests must validate as OpenAPI 3 (utoipa
# emits 3.1, which openapi-spec-validator checks). The validator is installed from PyPI into
# a virtualenv under target/ on first use.
scripts/validate-openapi.sh target/tmp/openapi.json


# The served API against its own document: schemathesis (PyPI) fuzzes every operation with a
# fixed seed, signed in as the admin of a zero-configuration server, with every check it has
# (positive_data_acceptance leaves out the seven operations whose validity a schema cannot
# say; the script names them and why). Any failure fails the run.
scripts/schemathesis.sh

# A client generated from the served document (openapi-python-client, PyPI) runs the README's
# story unmodified, with an attachment upload and an avatar.
scripts/client-story.sh
