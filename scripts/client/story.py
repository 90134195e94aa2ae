"""The README's story (SPEC's whole path) through a client generated from the served OpenAPI
document by openapi-python-client, used as its README says, plus an attachment upload and an
avatar. Run by scripts/client-story.sh, which starts a zero-configuration server and generates
the client (package `helpdesk_api_client`) first.

Usage: story.py BASE_URL DATA_DIR
"""

import io
import struct
import sys
import uuid
import zlib
from pathlib import Path

from helpdesk_api_client import AuthenticatedClient, Client
from helpdesk_api_client.api.attachments import download, upload
from helpdesk_api_client.api.auth import change_password, login, register
from helpdesk_api_client.api.ticket_actions import approve, await_requester, claim, close, resolve
from helpdesk_api_client.api.tickets import add_comment, create_ticket, get_ticket, history
from helpdesk_api_client.api.users import approve_user, change_role, get_avatar, upload_avatar
from helpdesk_api_client.models import (
    ApproveBody,
    AttachmentUploadForm,
    ChangePasswordBody,
    CommentBody,
    CommentTextBody,
    LoginBody,
    NewTicketBody,
    NoteBody,
    RegisterBody,
    RoleBody,
)
from helpdesk_api_client.types import File


def ok(response, status=200):
    assert response.status_code == status, f"{response.status_code}: {response.content[:400]!r}"
    return response.parsed


def png(width=4, height=3):
    """A small valid PNG, built by hand (no imaging library needed)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xd0\x40\x20" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def main(base, data_dir):
    anonymous = Client(base_url=base)

    def sign_in(email, password):
        token = ok(login.sync_detailed(client=anonymous, body=LoginBody(email=email, password=password)))
        return AuthenticatedClient(base_url=base, token=token.access_token)

    # 1. The admin signs in and replaces the generated password.
    generated = (Path(data_dir) / "initial-admin-password").read_text().strip()
    admin = sign_in("admin@localhost", generated)
    body = ChangePasswordBody(current_password=generated, new_password="granite-harbor-willow-64")
    assert change_password.sync_detailed(client=admin, body=body).status_code in (200, 204)
    admin = sign_in("admin@localhost", "granite-harbor-willow-64")

    # 2. An employee registers (pending) and the admin approves them.
    ana = ok(
        register.sync_detailed(
            client=anonymous,
            body=RegisterBody(
                email="ana@example.com",
                password="plum-harbor-violet-42",
                first_name="Ana",
                last_name="Cruz",
                company_id="MA0042",
                department="it",
            ),
        ),
        201,
    )
    assert ana.status == "pending"
    assert ok(approve_user.sync_detailed(uuid.UUID(str(ana.id)), client=admin)).status == "approved"

    # 3. The admin makes a coordinator (registered the same way, then given the role).
    ben = ok(
        register.sync_detailed(
            client=anonymous,
            body=RegisterBody(
                email="ben@example.com",
                password="violet-canyon-ember-38",
                first_name="Ben",
                last_name="Ramos",
                company_id="MA0043",
            ),
        ),
        201,
    )
    ok(approve_user.sync_detailed(uuid.UUID(str(ben.id)), client=admin))
    assert ok(change_role.sync_detailed(uuid.UUID(str(ben.id)), client=admin, body=RoleBody(role="coordinator"))).role == "coordinator"
    emp = sign_in("ana@example.com", "plum-harbor-violet-42")
    co = sign_in("ben@example.com", "violet-canyon-ember-38")

    # 4. The employee files a ticket, once even when the request is retried.
    new = NewTicketBody(
        subject="Laptop screen flickers",
        category="hardware",
        sub_category="laptop",
        description="Since Monday, when docked.",
    )
    ticket = ok(create_ticket.sync_detailed(client=emp, body=new, idempotency_key="first-ticket"), 201)
    again = ok(create_ticket.sync_detailed(client=emp, body=new, idempotency_key="first-ticket"), 201)
    assert again.number == ticket.number
    n = ticket.number

    # … with a photo of the screen.
    photo = File(payload=io.BytesIO(png()), file_name="screen.png", mime_type="image/png")
    files = ok(upload.sync_detailed(n, client=emp, body=AttachmentUploadForm(file=[photo])), 201)
    assert files[0].content_type == "image/png", files[0]
    fetched = download.sync_detailed(uuid.UUID(str(files[0].id)), client=co)
    assert fetched.status_code == 200 and fetched.content == png()

    # 5. The coordinator approves (priority; the department comes from the category), claims,
    #    and asks a question. Actions without input are called without a body.
    assert ok(approve.sync_detailed(n, client=co, body=ApproveBody(priority="high"))).status == "open"
    assert ok(claim.sync_detailed(n, client=co)).status == "in_progress"
    asked = await_requester.sync_detailed(n, client=co, body=CommentTextBody(comment="Which dock?"))
    assert ok(asked).status == "pending"

    # 6. The employee answers: a public comment resumes the ticket.
    ok(add_comment.sync_detailed(n, client=emp, body=CommentBody(body="The USB-C one.")), 201)
    assert ok(get_ticket.sync_detailed(n, client=emp)).status == "in_progress"

    # 7. Resolved by the coordinator, closed by the employee; the history tells it all.
    assert ok(resolve.sync_detailed(n, client=co, body=NoteBody(note="Dock firmware updated."))).status == "resolved"
    assert ok(close.sync_detailed(n, client=emp)).status == "closed"
    events = ok(history.sync_detailed(n, client=emp))
    actions = [e.action for e in events if getattr(e, "action", None)]
    assert actions[:1] == ["submit"] and actions[-1] == "close", actions

    # The employee's picture.
    me = ok(upload_avatar.sync_detailed(client=emp, body=File(payload=io.BytesIO(png(64, 64)), mime_type="image/png")))
    picture = get_avatar.sync_detailed(uuid.UUID(str(me.id)), client=co)
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG"), picture.status_code
    print(f"client story: {n} filed, worked and closed; {len(events)} history events; attachment and avatar round-tripped")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
