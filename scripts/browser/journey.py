"""The employee's journey through the web pages in a real headless Chromium.

Starts `helpdesk serve` on its zero-config default (sled, mail as .eml files) in a temporary
directory, then, as a person would: registers, is approved (by the admin, through the API),
signs in, files a ticket whose subject carries markup, comments on it, withdraws it after the
confirmation page (after adding two files), signs out, and resets a forgotten password from the mailed link. Along the
way it checks the attacks the pages must withstand (no dialog ever opens from user input, the
session cookie is not readable by script, a form posted from another site is refused, another
employee's ticket is not found), runs axe-core on every page (no serious or critical
violation), and saves a screenshot of every page at 1280 and 360 px.

Run by scripts/browser-tests.sh; exits non-zero on the first failed check.
"""

import argparse
import email
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

ADMIN = ("admin@example.com", "harbor-lantern-quartz-71")
EMPLOYEE = ("nadia.okafor@example.com", "copper-lantern-meadow-19")
NEW_PASSWORD = "granite-willow-harbor-88"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def api(base, method, path, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, None


def check(condition, what, page=None):
    if not condition:
        print(f"FAILED: {what}")
        if page is not None:
            print(f"  at {page.url}:\n" + page.inner_text("main")[:2000])
        sys.exit(1)
    print(f"ok: {what}")


class Journey:
    def __init__(self, args):
        self.args = args
        self.shots = pathlib.Path(args.screenshots)
        self.shots.mkdir(parents=True, exist_ok=True)
        with open(args.axe) as f:
            self.axe = f.read()
        self.pages_checked = 0

    def look(self, page, name):
        """Screenshots at two widths and an axe-core run on the page as it is."""
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(self.shots / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.add_script_tag(content=self.axe)
        result = page.evaluate("async () => (await axe.run()).violations.map(v => [v.id, v.impact, v.nodes.length])")
        bad = [v for v in result if v[1] in ("serious", "critical")]
        check(not bad, f"{name}: no serious or critical accessibility violation {bad or ''}".rstrip())
        self.pages_checked += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--axe", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="helpdesk-browser-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update({
        "HELPDESK_LISTEN": f"127.0.0.1:{port}",
        "HELPDESK_DATA_DIR": data,
        "HELPDESK_PUBLIC_URL": base,
        "HELPDESK_BOOTSTRAP_ADMIN__EMAIL": ADMIN[0],
        "HELPDESK_BOOTSTRAP_ADMIN__PASSWORD": ADMIN[1],
        "HELPDESK_PASSWORD_HASH__MEMORY_KIB": "64",
        "HELPDESK_PASSWORD_HASH__ITERATIONS": "1",
        "HELPDESK_DISPATCH_INTERVAL_MS": "100",
        "HELPDESK_LOG": "warn",
    })
    env.pop("HELPDESK_STORAGE_URL", None)
    server = subprocess.Popen([args.server, "serve"], env=env)
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        run(Journey(args), base, data)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def mailed_token(data, to):
    """The token of the newest reset mail to `to`, from the .eml files the server wrote."""
    newest = None
    for path in sorted(pathlib.Path(data, "mail").glob("*.eml"), key=os.path.getmtime):
        msg = email.message_from_bytes(path.read_bytes())
        if to not in msg.get("To", ""):
            continue
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode("utf-8", "replace")
                m = re.search(r"/reset-password#token=([A-Za-z0-9_-]+)", text)
                if m:
                    newest = m.group(1)
    return newest


def run(j, base, data):
    dialogs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=j.args.chromium, args=["--no-sandbox", "--disable-gpu"])
        # bypass_csp only so that axe-core can be injected; the pages' own CSP is checked below.
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # Register.
        response = page.goto(base + "/register")
        csp = response.headers.get("content-security-policy", "")
        check(csp.startswith("default-src 'self'; script-src 'self'"), "pages carry the strict CSP")
        j.look(page, "register")
        page.fill("#first_name", "Nadia")
        page.fill("#last_name", "Okafor")
        page.select_option("#suffix", "Jr.")
        page.fill("#company_id", "MA0777")
        page.select_option("#department", "asset")
        page.fill("#email", EMPLOYEE[0])
        page.fill("#password", EMPLOYEE[1])
        page.fill("#confirm_password", EMPLOYEE[1])
        page.click("button[type=submit]")
        check("Registration received" in page.content(), "a registration is received and waits for approval")
        j.look(page, "registered")

        # The admin approves through the API.
        status, login = api(base, "POST", "/auth/login", body={"email": ADMIN[0], "password": ADMIN[1]})
        check(status == 200, "the admin signs in through the API")
        admin = login["access_token"]
        _, pending = api(base, "GET", "/users?status=pending", admin)
        user_id = pending["items"][0]["id"]
        check(api(base, "POST", f"/users/{user_id}/approve", admin, {})[0] == 200, "the admin approves the registration")

        # Sign in.
        page.goto(base + "/")
        check(page.url.endswith("/sign-in"), "a page that needs a session leads to sign-in")
        j.look(page, "sign-in")
        page.fill("#email", EMPLOYEE[0])
        page.fill("#password", "wrong-password-123")
        page.click("button[type=submit]")
        check("Wrong email or password." in page.content(), "a wrong password is told in words")
        page.fill("#password", EMPLOYEE[1])
        page.click("button[type=submit]")
        check(page.url == base + "/", "signed in, to the tickets")
        check(page.evaluate("document.cookie") == "", "the session cookie is not readable from script")
        j.look(page, "my-tickets-empty")

        page.goto(base + "/profile")
        check("MA0777" in page.content(), "the profile shows the account's facts")
        j.look(page, "profile")
        page.goto(base + "/")

        # File a ticket whose subject carries markup.
        page.click("text=New ticket >> nth=0")
        j.look(page, "new-ticket")
        page.select_option("#kind", "network/vpn")
        hostile = '<img src=x onerror="alert(1)"> VPN drops'
        page.fill("#subject", hostile)
        page.fill("#description", "Since Monday.\n<script>alert(2)</script>")
        page.click("main form button[type=submit]")
        check("filed." in page.content(), "the ticket is filed, with a message", page)
        check(hostile in page.inner_text("h1"), "markup in a subject is shown as text")
        number = re.search(r"/tickets/(TX\d+)", page.url).group(1)
        j.look(page, "ticket")

        page.fill("#body", "The office one, not home.")
        page.click("form[action$='/comments'] button")
        check("Comment added." in page.content() and "The office one, not home." in page.content(), "a comment is added", page)

        # Two files in one submit.
        notes = pathlib.Path(data, "notes.txt")
        notes.write_text("VPN log excerpt\n")
        table = pathlib.Path(data, "times.csv")
        table.write_text("when,what\n09:00,drop\n")
        page.set_input_files("#files", [str(notes), str(table)])
        page.click("form[action$='/files'] button")
        check("2 files added." in page.content() and "times.csv" in page.content(), "two files added in one submit", page)

        # Withdraw, through the confirmation page.
        page.click("text=Withdraw")
        check("It cannot be undone." in page.content(), "withdrawing asks first")
        j.look(page, "confirm-withdraw")
        page.click("main form button[type=submit]")
        check("Done: withdrawn." in page.content(), "the ticket is withdrawn", page)

        page.goto(base + "/")
        check(number in page.content(), "the ticket is on the list")
        j.look(page, "my-tickets")

        # Attacks.
        other = context.request.post(
            base + "/tickets/new",
            form={"kind": "network/vpn", "subject": "forged", "description": "x"},
            headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        )
        check(other.status == 403, "a form posted from another site is refused")
        status, _ = api(base, "POST", "/auth/register", body={
            "email": "other@example.com", "password": "willow-granite-harbor-31", "first_name": "Ot",
            "last_name": "Her", "company_id": "MA0778"})
        _, pending = api(base, "GET", "/users?status=pending", admin)
        api(base, "POST", f"/users/{pending['items'][0]['id']}/approve", admin, {})
        _, other_login = api(base, "POST", "/auth/login", body={"email": "other@example.com", "password": "willow-granite-harbor-31"})
        _, t = api(base, "POST", "/tickets", other_login["access_token"], {
            "subject": "Someone else's", "category": "hardware", "sub_category": "laptop", "description": "private"})
        response = page.goto(base + "/tickets/" + t["number"])
        check(response.status == 404 and "Someone else" not in page.content(), "another employee's ticket is not found")
        j.look(page, "not-found")

        # Sign out, then reset a forgotten password from the mailed link.
        page.goto(base + "/")
        page.click("text=Sign out")
        check(page.url.endswith("/sign-in"), "signed out")
        page.goto(base + "/forgot-password")
        j.look(page, "forgot-password")
        page.fill("#email", EMPLOYEE[0])
        page.click("button[type=submit]")
        check("Check your mail" in page.content(), "forgot password answers the same for everyone")
        token = None
        for _ in range(100):
            token = mailed_token(data, EMPLOYEE[0])
            if token:
                break
            time.sleep(0.1)
        check(token is not None, "the reset mail was written with its link")
        page.goto(base + "/reset-password#token=" + token)
        check(page.is_hidden("#token-paste"), "the script took the token from the link")
        check("#" not in page.url, "the token left the address bar")
        j.look(page, "reset-password")
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#confirm_password", NEW_PASSWORD)
        page.click("button[type=submit]")
        check("Password set" in page.content(), "the password is reset")
        page.goto(base + "/sign-in")
        page.fill("#email", EMPLOYEE[0])
        page.fill("#password", NEW_PASSWORD)
        page.click("button[type=submit]")
        check(page.url == base + "/", "signed in with the new password")

        check(not dialogs, f"no dialog ever opened from user input {dialogs or ''}".rstrip())
        browser.close()
    print(f"browser journey: {j.pages_checked} pages checked with axe-core; screenshots in {j.args.screenshots}")


if __name__ == "__main__":
    main()
