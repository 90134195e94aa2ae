"""A running helpdesk, installed from a package or under the container recipe, does its job:
ready (storage and attachments reachable), the first admin signs in with the generated
password and changes it, files a ticket and attaches a file that comes back byte for byte.
Standard library only. Run by scripts/package-tests.sh.

Usage: smoke.py BASE_URL ADMIN_EMAIL INITIAL_PASSWORD_FILE
"""

import json
import sys
import time
import urllib.error
import urllib.request


def call(base, method, path, body=None, token=None, raw=None, content_type=None):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if raw is not None:
        data, headers["content-type"] = raw, content_type
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def expect(result, status, what):
    code, body = result
    assert code == status, f"{what}: {code} {body[:400]!r}"
    return json.loads(body) if body and body[:1] in (b"{", b"[") else body


def main(base, email, password_file):
    ready = None
    for _ in range(150):
        try:
            code, body = call(base, "GET", "/readyz")
        except (urllib.error.URLError, ConnectionError):
            code = None  # not listening yet
        if code == 200:
            ready = json.loads(body)
            break
        time.sleep(0.2)
    assert ready is not None, "the server never became ready"
    print("ready:", json.dumps(ready))
    password = open(password_file).read().strip()
    login = lambda pw: expect(call(base, "POST", "/api/v1/auth/login", {"email": email, "password": pw}), 200, "login")
    token = login(password)["access_token"]
    new_password = "quartz-meadow-lantern-93"
    code, body = call(base, "POST", "/api/v1/auth/password/change",
                      {"current_password": password, "new_password": new_password}, token)
    assert code in (200, 204), f"password change: {code} {body[:300]!r}"
    token = login(new_password)["access_token"]
    me = expect(call(base, "GET", "/api/v1/me", token=token), 200, "me")
    assert me["role"] == "admin", me
    ticket = expect(call(base, "POST", "/api/v1/tickets", {
        "subject": "Installed and running",
        "category": "hardware",
        "sub_category": "laptop",
        "description": "Filed by the package smoke test.",
    }, token), 201, "new ticket")
    content = b"helpdesk package smoke test\n" * 40
    boundary = "smoke-boundary-7f3a"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    files = expect(call(base, "POST", f"/api/v1/tickets/{ticket['number']}/attachments", token=token,
                        raw=form, content_type=f"multipart/form-data; boundary={boundary}"), 201, "upload")
    code, fetched = call(base, "GET", f"/api/v1/attachments/{files[0]['id']}", token=token)
    assert code == 200 and fetched == content, f"download: {code}, {len(fetched)} bytes"
    print(f"ok: admin signed in, ticket {ticket['number']} filed, attachment stored and read back")


if __name__ == "__main__":
    main(*sys.argv[1:])
