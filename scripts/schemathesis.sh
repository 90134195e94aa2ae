#!/usr/bin/env bash
# Fuzzes the served API against its own OpenAPI document with schemathesis (PyPI, installed
# into a virtualenv under target/ the first time): a zero-configuration server on sled in a
# temporary directory, signed in as its admin, a fixed seed and a bounded number of examples.
# Exits non-zero on any failure of the checks it runs.
#
# Usage: scripts/schemathesis.sh            (every check, in two passes: see below)
#        scripts/schemathesis.sh CHECKS     (one pass of these checks over every operation)
set -euo pipefail
cd "$(dirname "$0")/.."
what="fuzzing the API"
source scripts/throwaway-server.sh
venv=target/schemathesis-venv
pip_tool "$venv" st 'schemathesis>=4,<5'
password="harbor-lantern-quartz-71"
start_server HELPDESK_BOOTSTRAP_ADMIN__EMAIL=admin@example.com HELPDESK_BOOTSTRAP_ADMIN__PASSWORD="$password" \
    HELPDESK_ACCESS_TOKEN_MINUTES=120
token=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" "$root/api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

fuzz() {
    "$venv/bin/st" --config-file scripts/schemathesis.toml run "$root/api/v1/openapi.json" \
        --url "$root/api/v1" \
        -H "Authorization: Bearer $token" \
        --seed 20261130 \
        --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
        --workers 1 \
        --generation-allow-x00 true \
        --generation-database none \
        --no-color \
        --report junit --report-dir target/schemathesis \
        "$@"
}

# Operations that would end the fuzzer's own session are left out: signing out, changing the
# admin's password, deactivating or demoting the admin.
own_session='logout|change_password|deactivate_user|change_role'
# Operations whose valid requests depend on more than their own shape, which JSON Schema cannot
# say: the performance and service-level reports' range (`to` after `from`, at most a year:
# two parameters),
# a ticket edit's category and sub-category (a pair of the deployment's catalog), a new
# ticket's category (the catalog), the tokens of invitations and resets (ones the server
# mailed), registration and user creation (the password policy — common passwords, personal
# information, zxcvbn's patterns — and the email and company-id rules), an avatar (bytes that
# decode as a PNG or JPEG), the service-level calendars and policies an admin saves (time
# zones, working hours that end after they start, policies naming calendars), the signed
# rating links of resolution mails (ones the server mailed), a bulk change (it must change
# something, and a ticket's tags stay at 20 at most), a macro (names unique per owner,
# placeholders it knows, an action's note when the action needs one) and its preview and
# application (the lifecycle decides from the ticket's status), a saved view (names unique per
# owner, the catalog's departments and categories) and the default view (one the caller can
# open), a follower (the address of an approved user who is not the requester), and a link or
# a merge (a ticket number the caller can see, not the ticket itself), the custom field
# definitions an admin saves (unique keys, options for choices only, none of the saved ones
# removed nor its kind changed) and the lists' custom field filters and sorts (fields the admin
# defined, values they take, kinds that sort). Every check but
# positive_data_acceptance ("schema-valid data is accepted") runs on them too.
beyond_schema='performance|sla|satisfaction|rating_invite|rate_ticket|save_sla_settings|edit_ticket|bulk_edit|create_macro|save_macro|preview_macro|apply_macro|create_view|save_view|set_default_view|add_follower|link|merge|save_custom_fields|list_tickets|export_csv|create_ticket|accept_invitation|reset_password|register|create_user|upload_avatar'

if [ $# -gt 0 ]; then
    echo "== schemathesis: checks $1"
    fuzz --checks "$1" --exclude-operation-id-regex "^($own_session)$"
    exit
fi
echo "== schemathesis: every check, every operation but those that would end its session"
fuzz --checks all --exclude-checks positive_data_acceptance --exclude-operation-id-regex "^($own_session)$"
echo "== schemathesis: positive_data_acceptance, but where validity is beyond a schema"
fuzz --checks positive_data_acceptance --exclude-operation-id-regex "^($own_session|$beyond_schema)$"
