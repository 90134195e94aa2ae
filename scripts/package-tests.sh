#!/usr/bin/env bash
# The installable forms of the server, tested on this machine (no systemd running, no Docker
# engine), run by scripts/test.sh:
#
# 1. The Debian package: built with cargo-deb, installed with `dpkg -i`, then the installed
#    binary is run the way the unit runs it (the unit's ExecStart line, as its User, in its
#    WorkingDirectory, with its EnvironmentFile and UMask) after an administrator's set-up
#    (public URL, SMTP server, first admin's email), and scripts/package/smoke.py checks it:
#    /readyz, the first admin signs in with the generated password, files a ticket with an
#    attachment. Then `dpkg -r` and `dpkg --purge`, checking what each leaves behind.
# 2. The container recipe: the Dockerfile's environment, user id, working directory and
#    command, and compose.yaml's environment for the server, with compose's host names
#    (postgres, minio, mailpit) pointed at the servers of this machine and the volume at a
#    temporary directory; the same smoke test, which here goes through PostgreSQL and S3.
#
# Needs root (dpkg, users). CI builds the package from the debug binary the tests already
# built (`--profile dev`), to keep CI short; `cargo deb -p helpdesk-http` builds the release one.
#
# Usage: scripts/package-tests.sh   (after scripts/services.sh's services_start, for
#        DATABASE_URL, the SMTP venv and moto; scripts/test.sh does this)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh

skip() {
    echo "!!!!! package tests SKIPPED: $1 !!!!!"
    if [ -n "${HELPDESK_REQUIRE_SERVICES:-}" ]; then exit 1; fi
    exit 0
}
[ "$(id -u)" = 0 ] || skip "they need root (dpkg -i, a system user)"
command -v dpkg >/dev/null || skip "dpkg not found (not a Debian system)"
[ -n "${HELPDESK_TEST_SMTP_PYTHON:-}" ] || skip "no SMTP server (scripts/services.sh installs aiosmtpd)"

CARGO_DEB_VERSION=3.6.3
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "== packages: installing cargo-deb $CARGO_DEB_VERSION"
    cargo install -q cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi

WORK=$(mktemp -d /tmp/helpdesk-package.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if dpkg -s helpdesk >/dev/null 2>&1; then dpkg --purge helpdesk >/dev/null 2>&1 || true; fi
    rm -rf "$WORK" /var/lib/helpdesk
    if getent passwd helpdesk >/dev/null; then userdel helpdesk 2>/dev/null || true; fi
    if getent group helpdesk >/dev/null; then groupdel helpdesk 2>/dev/null || true; fi
}
trap cleanup EXIT
fail() {
    echo "!!!!! package test failed: $1"
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
    exit 1
}
check() { # description, then a command that must succeed
    local what=$1
    shift
    "$@" || fail "$what"
    echo "   ok: $what"
}
smtp_sink() { # starts an SMTP server that accepts everything; sets SMTP to its port
    # Not called as $(smtp_sink): PIDS must be added to in this shell, or cleanup misses the server.
    SMTP=$(free_port)
    "$HELPDESK_TEST_SMTP_PYTHON" -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l "127.0.0.1:$SMTP" >"$WORK/smtp-$SMTP.log" 2>&1 &
    PIDS+=($!)
}

# A leftover installation from an interrupted local run would make dpkg -i an upgrade.
if dpkg -s helpdesk >/dev/null 2>&1; then dpkg --purge helpdesk >/dev/null; fi

echo "== Debian package"
cargo build -q -p helpdesk-http --bin helpdesk
cargo deb -q -p helpdesk-http --no-build --profile dev --output "$WORK/helpdesk.deb" >/dev/null
dpkg-deb --contents "$WORK/helpdesk.deb" >"$WORK/contents"
for f in ./usr/bin/helpdesk ./etc/helpdesk/helpdesk.toml helpdesk.service ./usr/share/doc/helpdesk/README.md; do
    check "the package holds $f" grep -q "$f" "$WORK/contents"
done
dpkg -i "$WORK/helpdesk.deb" >"$WORK/dpkg-install.log" 2>&1 || fail "dpkg -i"
echo "   ok: dpkg -i"
check "post-install note printed" grep -q "helpdesk is installed but not started" "$WORK/dpkg-install.log"
check "system user helpdesk" sh -c 'getent passwd helpdesk | grep -q ":/var/lib/helpdesk:/usr/sbin/nologin$"'
check "/etc/helpdesk/helpdesk.env is root:helpdesk 640" test "$(stat -c '%U:%G %a' /etc/helpdesk/helpdesk.env)" = "root:helpdesk 640"
check "a 64-hex-digit JWT secret was generated" grep -Eq '^HELPDESK_JWT_SECRET=[0-9a-f]{64}$' /etc/helpdesk/helpdesk.env
check "the config is a conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" helpdesk | grep -q /etc/helpdesk/helpdesk.toml'
UNIT=$(dpkg -L helpdesk | grep '/systemd/system/helpdesk.service$')
check "the unit is installed ($UNIT)" test -f "$UNIT"
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n1; }
for k in ProtectSystem=strict NoNewPrivileges=yes StateDirectory=helpdesk User=helpdesk; do
    check "the unit sets $k" grep -qx "$k" "$UNIT"
done
if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
    # Without systemd running, verify still parses the unit and checks its executables.
    if systemd-analyze verify "$UNIT" >"$WORK/verify.log" 2>&1; then
        echo "   ok: systemd-analyze verify"
    elif grep -qi "helpdesk.service" "$WORK/verify.log"; then
        fail "systemd-analyze verify finds fault with the unit"
    else
        echo "   (systemd-analyze verify could not run here: $(head -n1 "$WORK/verify.log"))"
    fi
fi

# What an administrator does before the first start (postinst's note).
PORT=$(free_port)
smtp_sink
cat >>/etc/helpdesk/helpdesk.env <<ENV
HELPDESK_LISTEN=127.0.0.1:$PORT
HELPDESK_PUBLIC_URL=https://helpdesk.example.com
HELPDESK_MAIL__SMTP_URL=smtp://127.0.0.1:$SMTP?tls=opportunistic
HELPDESK_BOOTSTRAP_ADMIN__EMAIL=it-admin@example.com
ENV
# The service as systemd would start it: its user and group, working directory, umask, the
# environment file read as root, then the ExecStart line.
EXEC=$(unit_key ExecStart)
USER_=$(unit_key User)
GROUP_=$(unit_key Group)
DIR=$(unit_key WorkingDirectory)
MASK=$(unit_key UMask)
ENVFILE=$(unit_key EnvironmentFile)
ENVFILE=${ENVFILE#-}
(
    set -a
    # shellcheck disable=SC1090
    . "$ENVFILE"
    set +a
    cd "$DIR"
    umask "$MASK"
    # shellcheck disable=SC2086
    exec setpriv --reuid="$USER_" --regid="$GROUP_" --init-groups --no-new-privs $EXEC
) >"$WORK/server-deb.log" 2>&1 &
PIDS+=($!)
check "the installed server answers as the unit runs it" \
    python3 scripts/package/smoke.py "http://127.0.0.1:$PORT" it-admin@example.com /var/lib/helpdesk/initial-admin-password
check "its files belong to the helpdesk user" test "$(stat -c '%U' /var/lib/helpdesk/db)" = helpdesk
check "the initial password is not world-readable" test "$(stat -c '%a' /var/lib/helpdesk/initial-admin-password | cut -c3)" = 0
kill "${PIDS[-1]}"
wait "${PIDS[-1]}" 2>/dev/null || true

dpkg -r helpdesk >"$WORK/dpkg-remove.log" 2>&1 || fail "dpkg -r"
check "dpkg -r removes the binary" test ! -e /usr/bin/helpdesk
check "dpkg -r keeps the configuration" test -f /etc/helpdesk/helpdesk.toml -a -f /etc/helpdesk/helpdesk.env
dpkg --purge helpdesk >"$WORK/dpkg-purge.log" 2>&1 || fail "dpkg --purge"
check "dpkg --purge removes the configuration and the secret" test ! -e /etc/helpdesk/helpdesk.env -a ! -e /etc/helpdesk/helpdesk.toml
check "dpkg --purge keeps the data" test -d /var/lib/helpdesk/db

echo "== container recipe (Dockerfile and compose.yaml, without Docker)"
[ -n "${DATABASE_URL:-}" ] || fail "no PostgreSQL (DATABASE_URL) for the compose set-up"
[ -n "${HELPDESK_TEST_MOTO:-}" ] || fail "no S3 server (moto) for the compose set-up"
S3=$(free_port)
"$HELPDESK_TEST_MOTO" -H 127.0.0.1 -p "$S3" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$S3/" >/dev/null && break; sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$S3/helpdesk" >/dev/null || fail "creating the bucket"
PG=${DATABASE_URL%/*}
"${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS helpdesk_compose" -c "CREATE DATABASE helpdesk_compose"
smtp_sink
PORT=$(free_port)
VOLUME="$WORK/volume"
# The recipe's environment, compose's host names and published port replaced by this machine's.
python3 - "$VOLUME" "$PORT" "$PG/helpdesk_compose" "$S3" "$SMTP" >"$WORK/recipe.env" <<'PY' || fail "reading the recipe"
import json, re, sys
volume, port, pg, s3, smtp = sys.argv[1:]
env = {}
lines = open("Dockerfile").read().replace("\\\n", " ").splitlines()
stage = [l for l in lines if l.startswith("FROM ")][-1]
final = lines[lines.index(stage):]
for l in final:
    if l.startswith("ENV "):
        env.update(dict(re.findall(r'(\w+)=(\S+)', l[4:])))
    if l.startswith("USER "):
        print("RECIPE_USER=" + l.split()[1])
    if l.startswith("WORKDIR "):
        workdir = l.split()[1]
    if l.startswith("HEALTHCHECK"):
        print("RECIPE_HEALTH=" + re.search(r'http://127\.0\.0\.1:\d+(/\S*?)"', l).group(1))
    if l.startswith("ENTRYPOINT ") or l.startswith("CMD "):
        key = "RECIPE_ENTRYPOINT" if l.startswith("ENTRYPOINT") else "RECIPE_CMD"
        print(key + "=" + " ".join(json.loads(l.split(" ", 1)[1])))
# compose.yaml's `services: helpdesk: environment:` block (read by hand: no YAML library needed).
block, section = None, None
for l in open("compose.yaml"):
    if re.match(r"^  \w", l):
        block = l.strip().rstrip(":")
    elif block == "helpdesk" and re.match(r"^    \w", l):
        section = l.strip().split(":")[0]
    elif block == "helpdesk" and section == "environment" and (m := re.match(r"^      (HELPDESK_\w+): (.*)$", l)):
        env[m.group(1)] = m.group(2).strip().strip('"')
assert env["HELPDESK_DATA_DIR"] == workdir, "the data dir is the working directory and the volume"
# compose's values that name its other containers, and what stands for them here.
env["HELPDESK_DATA_DIR"] = volume
env["HELPDESK_LISTEN"] = env["HELPDESK_LISTEN"].rsplit(":", 1)[0] + ":" + port
env["HELPDESK_JWT_SECRET"] = "compose-recipe-test-secret-0123456789abcdef"
env["HELPDESK_STORAGE_URL"] = pg
env["HELPDESK_S3__ENDPOINT"] = f"http://127.0.0.1:{s3}"
env["HELPDESK_MAIL__SMTP_URL"] = f"smtp://127.0.0.1:{smtp}"
env["HELPDESK_PUBLIC_URL"] = env["HELPDESK_PUBLIC_URL"].replace("8080", port)
for k, v in env.items():
    assert "\n" not in v
    print(f"{k}={v}")
print("RECIPE_ADMIN=" + env["HELPDESK_BOOTSTRAP_ADMIN__EMAIL"])
PY
mkdir -p "$VOLUME"
chmod 0755 "$WORK" # like /var/lib above the image's volume: the user must reach it
RECIPE_USER=$(sed -n 's/^RECIPE_USER=//p' "$WORK/recipe.env")
chown "$RECIPE_USER" "$VOLUME"
chmod 0750 "$VOLUME"
ENTRY=$(sed -n 's/^RECIPE_ENTRYPOINT=//p' "$WORK/recipe.env")
CMD=$(sed -n 's/^RECIPE_CMD=//p' "$WORK/recipe.env")
HEALTH=$(sed -n 's/^RECIPE_HEALTH=//p' "$WORK/recipe.env")
ADMIN=$(sed -n 's/^RECIPE_ADMIN=//p' "$WORK/recipe.env")
# The image's binary is the one built here; /usr/local/bin/helpdesk stands for it.
BIN="$(pwd)/target/debug/helpdesk"
check "the recipe runs /usr/local/bin/helpdesk" test "$ENTRY" = /usr/local/bin/helpdesk
mapfile -t RECIPE_ENV < <(grep '^HELPDESK_' "$WORK/recipe.env")
(
    cd "$VOLUME"
    # shellcheck disable=SC2086
    exec env -i PATH=/usr/local/bin:/usr/bin:/bin "${RECIPE_ENV[@]}" \
        setpriv --reuid="${RECIPE_USER%%:*}" --regid="${RECIPE_USER##*:}" --clear-groups --no-new-privs "$BIN" $CMD
) >"$WORK/server-recipe.log" 2>&1 &
PIDS+=($!)
check "the server runs as uid ${RECIPE_USER%%:*} under the recipe's environment" \
    python3 scripts/package/smoke.py "http://127.0.0.1:$PORT" "$ADMIN" "$VOLUME/initial-admin-password"
check "the health check's URL ($HEALTH) answers" curl -fsS -o /dev/null "http://127.0.0.1:$PORT$HEALTH"
check "the volume's files belong to the recipe's user" test "$(stat -c '%u' "$VOLUME/initial-admin-password")" = "${RECIPE_USER%%:*}"
check "the attachment went to S3" sh -c "curl -sf 'http://127.0.0.1:$S3/helpdesk?list-type=2' | grep -q '<Key>attachments/'"
echo "== packages: all checks passed"
