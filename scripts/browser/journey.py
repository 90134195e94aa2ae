"""The employee's, the coordinator's and the admin's journeys through the web pages in a real
headless Chromium.

Starts `helpdesk serve` on its zero-config default (sled, mail as .eml files) in a temporary
directory, with a notice and terms of use configured, then, as people would: the employee
registers (with a picture, accepting the terms), is approved (by the admin, through the API),
signs in (and is taken back where they were going) and files a ticket with two files in the
same form while a coordinator has the queue open in a second browser: the ticket appears there
live, and the coordinator's bell lights up. The coordinator accepts it from the queue, takes
it, writes an internal note and asks a question, while the employee's open ticket page follows
every step live and never shows the note; the employee's answer (a comment and a file) arrives
live on the coordinator's page; with the employee's tab in the background (its stream let go)
the coordinator resolves, and the tab catches up when shown again; the employee reads the
notifications, closes the ticket from the list after the confirmation page, withdraws another,
changes the picture and the password, signs out, and resets a forgotten password from the
mailed link. The admin approves one registration from the users page and rejects another with a
reason, makes a coordinator from the user's page (the account's history shows it), deactivates
a user whose open page then signs them out, reads the reports (their figures checked against
the API's), creates an API key and sees it once; a second server whose SMTP server nobody
listens on makes a mail go dead, which the admin retries from the system page. Along the way it
checks the attacks the pages must withstand (markup in a subject, a comment and a file name
shown as text, no dialog ever opens, the session cookie is not readable by script, forms
without the session's token, with another session's token or from another site are refused,
another employee's ticket is not found, staff pages are not found for employees), runs axe-core
on every page (no serious or critical violation), and saves a screenshot of every page at 1280
and 360 px.

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
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

from playwright.sync_api import sync_playwright

ADMIN = ("admin@example.com", "harbor-lantern-quartz-71")
EMPLOYEE = ("nadia.okafor@example.com", "copper-lantern-meadow-19")
NEW_PASSWORD = "granite-willow-harbor-88"
FINAL_PASSWORD = "meadow-quartz-lantern-56"
TERMS_VERSION = "2026-11"


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
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                culprits = page.evaluate(f"""() => [...document.querySelectorAll('main *')]
                    .filter(e => e.getBoundingClientRect().right > {width} + 1)
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
                check(False, f"{name}: nothing wider than the screen at {width} px (the page is {wide} px: {culprits})")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.add_script_tag(content=self.axe)
        result = page.evaluate("async () => (await axe.run()).violations.map(v => [v.id, v.impact, v.nodes.length])")
        bad = [v for v in result if v[1] in ("serious", "critical")]
        check(not bad, f"{name}: no serious or critical accessibility violation {bad or ''}".rstrip())
        self.pages_checked += 1


def start_server(binary, prefix, extra):
    """`helpdesk serve` on its zero-config default in a fresh directory, with the bootstrap
    admin, cheap hashing and a fast dispatcher, plus `extra` settings; waits until ready."""
    data = tempfile.mkdtemp(prefix=prefix)
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
    env.update(extra)
    env.pop("HELPDESK_STORAGE_URL", None)
    server = subprocess.Popen([binary, "serve"], env=env)
    for _ in range(200):
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1):
                break
        except OSError:
            time.sleep(0.05)
    return server, base, data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--axe", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()

    # Service levels, so the staff pages show their badges: an always-open calendar.
    sla = pathlib.Path(tempfile.mkdtemp(prefix="helpdesk-browser-sla-")) / "helpdesk.toml"
    days = ", ".join(f'{{ day = "{d}", hours = [{{ start = "00:00", end = "24:00" }}] }}'
                     for d in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    sla.write_text(
        f'[[sla.calendars]]\nkey = "always"\ntime_zone = "UTC"\nweek = [{days}]\n\n'
        '[[sla.policies]]\nkey = "standard"\ncalendar = "always"\n'
        'targets = [{ first_response_minutes = 60, next_response_minutes = 120, resolution_minutes = 480 }]\n')
    server, base, data = start_server(args.server, "helpdesk-browser-", {
        "HELPDESK_CONFIG": str(sla),
        "HELPDESK_WEB__NOTICE": "Support hours: Monday to Friday, 8:00–18:00. Urgent: call 555-0100.",
        "HELPDESK_WEB__TERMS_VERSION": TERMS_VERSION,
        # Every account of the journey registers from this one address.
        "HELPDESK_LIMITS__REGISTRATIONS_PER_HOUR_PER_ADDRESS": "20",
        "HELPDESK_WEB__TERMS_TEXT": "Use the help desk for work matters only. Do not attach personal data.",
    })
    try:
        run(Journey(args), base, data)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def mailed_token(data, to, pattern=r"/reset-password#token=([A-Za-z0-9_-]+)"):
    """The first group of `pattern` in the newest mail to `to` that has it (by default a reset
    mail's token), from the .eml files the server wrote; waits up to 10 s for it."""
    for _ in range(100):
        newest = None
        for path in sorted(pathlib.Path(data, "mail").glob("*.eml"), key=os.path.getmtime):
            msg = email.message_from_bytes(path.read_bytes())
            if to not in msg.get("To", ""):
                continue
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    text = part.get_payload(decode=True).decode("utf-8", "replace")
                    m = re.search(pattern, text)
                    if m:
                        newest = m.group(1)
        if newest:
            return newest
        time.sleep(0.1)
    return None


def tiny_png():
    """A 24×24 PNG (a red square), built with the standard library only."""
    width = height = 24
    raw = b"".join(b"\x00" + b"\xc8\x1e\x1e" * width for _ in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def approve(base, admin, email, role=None):
    _, pending = api(base, "GET", "/users?status=pending", admin)
    user = next(u for u in pending["items"] if u["email"] == email)
    check(api(base, "POST", f"/users/{user['id']}/approve", admin, {})[0] == 200, f"the admin approves {email}")
    if role:
        status, _ = api(base, "PATCH", f"/users/{user['id']}/role", admin, {"role": role})
        check(status == 200, f"{email} becomes {role}")


def api_user(base, admin, email, password, company_id, role=None, name=("Api", "Person")):
    """An approved account made through the API; its access token."""
    status, _ = api(base, "POST", "/auth/register", body={
        "email": email, "password": password, "first_name": name[0], "last_name": name[1],
        "company_id": company_id, "department": "it", "accepted_terms": TERMS_VERSION})
    check(status == 201, f"{email} registers through the API")
    approve(base, admin, email, role)
    _, login = api(base, "POST", "/auth/login", body={"email": email, "password": password})
    return login["access_token"]


def sign_in(page, base, email, password):
    page.goto(base + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")


def set_hidden(page, hidden):
    """Makes the page believe it was sent to the background (or shown again)."""
    page.evaluate("(h) => { Object.defineProperty(document, 'hidden', {value: h, configurable: true}); "
                  "document.dispatchEvent(new Event('visibilitychange')); }", hidden)


def live_ready(page):
    """Waits until the page's live-update stream is open."""
    try:
        page.wait_for_selector("body[data-live-ready]", state="attached", timeout=5000)
    except Exception:
        check(False, "the page's live-update stream opens", page)


def live(page, condition, what):
    """Waits (up to 3 s, no reload) until `condition` holds in the page; `part(name)` is the
    text of the part marked data-live=name."""
    script = ("() => { const part = (n) => { const e = document.querySelector(`[data-live=${n}]`); "
              "return e ? e.innerText : ''; }; return " + condition + "; }")
    try:
        page.wait_for_function(script, timeout=3000)
        ok = True
    except Exception:
        ok = False
    check(ok, what, page)


def dead_mail(j, browser):
    """A second server whose SMTP server nobody listens on (one attempt per mail): a mail goes
    dead, the admin sees it on the system page with the address masked, and retries it."""
    server, base, _ = start_server(j.args.server, "helpdesk-browser-smtp-", {
        "HELPDESK_MAIL__SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "HELPDESK_MAIL__SMTP_TIMEOUT_SECS": "2",
        "HELPDESK_OUTBOX__MAX_ATTEMPTS": "1",
        "HELPDESK_LOG": "error",
    })
    try:
        status, _ = api(base, "POST", "/auth/register", body={
            "email": "lost.mail@example.com", "password": "willow-granite-harbor-31", "first_name": "Lost",
            "last_name": "Mail", "company_id": "MA0990"})
        check(status == 201, "a registration whose confirmation mail cannot go out")
        admin = browser.new_context(bypass_csp=True).new_page()
        sign_in(admin, base, ADMIN[0], ADMIN[1])
        shown = False
        for _ in range(60):
            admin.goto(base + "/integrations")
            if admin.locator("button[aria-label^='Retry']").count() > 0:
                shown = True
                break
            time.sleep(0.25)
        check(shown, "the dead mail is listed on the system page", admin)
        table = admin.inner_text("section[aria-labelledby=dead-heading]")
        check("lost.mail@example.com" not in table and "@example.com" in table, "with the address masked", admin)
        check("refused" in table.lower() or "connect" in table.lower() or "error" in table.lower(),
              "and the last error", admin)
        j.look(admin, "integrations-dead-mail")
        admin.click("button[aria-label^='Retry']")
        check("Queued again" in admin.content(), "the admin retries it", admin)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def run(j, base, data):
    dialogs = []
    files = pathlib.Path(data, "files")
    files.mkdir()
    picture = files / "me.png"
    picture.write_bytes(tiny_png())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=j.args.chromium, args=["--no-sandbox", "--disable-gpu"])
        # bypass_csp only so that axe-core can be injected; the pages' own CSP is checked below.
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # Register, with a picture and the deployment's terms of use.
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
        page.set_input_files("#avatar", str(picture))
        page.click("main button[type=submit]")
        check(page.locator("#terms-error").count() == 0, "the browser asks for the terms before sending")
        page.check("input[name=accept_terms]")
        page.fill("#password", EMPLOYEE[1])
        page.fill("#confirm_password", EMPLOYEE[1])
        page.click("main button[type=submit]")
        check("Registration received" in page.content(), "a registration is received and waits for approval", page)
        j.look(page, "registered")

        # The admin approves through the API.
        status, login = api(base, "POST", "/auth/login", body={"email": ADMIN[0], "password": ADMIN[1]})
        check(status == 200, "the admin signs in through the API")
        admin = login["access_token"]
        approve(base, admin, EMPLOYEE[0])
        _, me = api(base, "GET", "/users?q=nadia", admin)
        check(me["items"][0]["terms_version"] == TERMS_VERSION, "the acceptance of the terms is recorded")
        check(me["items"][0]["has_avatar"], "the picture came with the registration")

        # Sign in (and back to where the visitor was going).
        page.goto(base + "/tickets?show=active")
        check("/sign-in?next=" in page.url, "a page that needs a session leads to sign-in")
        j.look(page, "sign-in")
        page.fill("#email", EMPLOYEE[0])
        page.fill("#password", "wrong-password-123")
        page.click("main button[type=submit]")
        check("Wrong email or password." in page.content(), "a wrong password is told in words")
        page.fill("#password", EMPLOYEE[1])
        page.click("button:has-text('Show')")
        check(page.get_attribute("#password", "type") == "text", "the password can be shown")
        page.click("button:has-text('Hide')")
        check(page.get_attribute("#password", "type") == "password", "and hidden again")
        page.click("main button[type=submit]")
        check(page.url == base + "/tickets?show=active", "signed in, and back where they were going", page)
        check(page.evaluate("document.cookie") == "", "the session cookie is not readable from script")
        page.goto(base + "/")
        check("Support hours" in page.content(), "the deployment's notice is on the home page")
        check(page.locator("header img.mini").count() == 1, "the picture shows in the header")
        j.look(page, "home-empty")
        page.keyboard.press("Tab")
        check(page.evaluate("document.activeElement.className") == "skip", "the first Tab reaches 'Skip to the content'")
        page.keyboard.press("Enter")
        # Following a fragment link updates the address a moment after the key press.
        try:
            page.wait_for_url("**#main", timeout=5000)
        except Exception:
            pass
        check(page.url.endswith("#main"), "and it leads to the content")

        # A coordinator, in a browser of their own, keeps the queue open while the employee files.
        check(page.goto(base + "/desk").status == 404, "an employee cannot open the queue")
        api_user(base, admin, "coord@example.com", "slate-meadow-copper-42", "MA0900", "coordinator")
        staff_context = browser.new_context(bypass_csp=True)
        desk = staff_context.new_page()
        desk.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(desk, base, "coord@example.com", "slate-meadow-copper-42")
        check("Tickets by status" in desk.content(), "the coordinator lands on the staff home")
        j.look(desk, "staff-home")
        desk.click("header >> text=Queue")
        live_ready(desk)
        page.goto(base + "/")

        # File a ticket whose subject carries markup, with two files in the same form (one
        # named with markup too).
        page.click("main >> text=New ticket")
        j.look(page, "new-ticket")
        page.select_option("#kind", "network/vpn")
        hostile = '<img src=x onerror="alert(1)"> VPN drops'
        page.fill("#subject", hostile)
        page.fill("#description", "Since Monday.\n<script>alert(2)</script>")
        notes = files / "<img src=x onerror=alert(3)>.txt"
        notes.write_text("VPN log excerpt\n")
        table = files / "times.csv"
        table.write_text("when,what\n09:00,drop\n")
        page.set_input_files("#files", [str(notes), str(table)])
        page.click("main form button[type=submit]")
        check("filed with 2 files." in page.content(), "the ticket is filed with its two files", page)
        check(hostile in page.inner_text("h1"), "markup in a subject is shown as text")
        check("img src=x onerror=alert(3).txt" in page.inner_text("main"), "markup in a file name is defused and shown as text", page)
        number = re.search(r"/tickets/(TX\d+)", page.url).group(1)
        j.look(page, "ticket-new")

        live(desk, f"part('queue').includes('{number}')", "the new ticket appears live in the open queue")
        check(desk.get_attribute("body", "data-live-updates") is not None, "without a reload of the queue")
        j.look(desk, "queue")
        # The coordinator hears of it in the bell too (a new ticket in their department).
        live(desk, "!document.getElementById('unread-count').hidden", "the coordinator's bell lights up live")

        page.goto(base + "/")
        check(number in page.inner_text("main"), "the new ticket is on the home page")
        j.look(page, "home")
        page.goto(base + f"/tickets/{number}")
        live_ready(page)

        # The coordinator accepts the ticket from the queue, takes it, writes an internal note
        # and asks the requester a question; the employee's open page follows live.
        desk.select_option(f"#p-{number}", "high")
        desk.click(f"button[aria-label='Accept {number}']")
        check("Done: accepted." in desk.content(), "accepted from the queue with a priority", desk)
        live(page, "part('summary').includes('Accepted')", "the employee's open page shows the acceptance live")
        desk.click("main button:has-text('Take it')")
        check("Done: taken on." in desk.content(), "taken with one button", desk)
        desk.fill("#body", "Check the split-tunnel profile first.")
        desk.check("input[name=internal]")
        desk.click("form[action$='/comments'] button[type=submit]")
        check("Internal note" in desk.content(), "an internal note is marked as such", desk)
        j.look(desk, "staff-ticket")
        check("First response: met" in desk.inner_text("main") and "Resolution: on track" in desk.inner_text("main"),
              "the coordinator sees the ticket's service levels", desk)
        live(page, "part('summary').includes('In progress')", "the employee's page shows the ticket taken, live")
        check("Service levels" not in page.content(), "the employee never sees service levels")
        # The coordinator tags the ticket, takes one tag off, and finds the ticket again from
        # the queue by the other; the employee never sees them.
        desk.fill("#add-tags", "VPN, Lisbon  office")
        desk.click("form[action$='/tags'] button[type=submit]")
        check(desk.locator("dl.facts .tag", has_text="lisbon-office").count() == 1
              and desk.locator("dl.facts .tag", has_text="vpn").count() == 1, "the tags are added, normalised", desk)
        check("Tags changed by" in desk.inner_text("main"), "the history names the change of tags", desk)
        j.look(desk, "staff-ticket-tags")
        desk.click("button[aria-label='Remove the tag lisbon-office']")
        check(desk.locator("dl.facts .tag", has_text="lisbon-office").count() == 0, "a tag comes off with one button", desk)
        desk.click("dl.facts a.tag:has-text('vpn')")
        check("tag=vpn" in desk.url and number in desk.inner_text("main"), "a tag leads to the queue filtered by it", desk)
        check(desk.locator(f"tr:has(a[href='/tickets/{number}']) a.tag", has_text="vpn").count() == 1,
              "the queue shows the tag beside the subject", desk)
        j.look(desk, "queue-tag")
        page.reload()
        check(page.locator(".tag").count() == 0 and "lisbon-office" not in page.content(),
              "the employee never sees the tags", page)
        # The employee adds a colleague as a follower; the colleague finds the ticket on their
        # home page, reads it without the internal note, and stops following.
        colleague_token = api_user(base, admin, "colleague@example.com", "amber-willow-harbor-17", "MA0779",
                                   name=("Tomás", "Reyes"))
        page.fill("#follower-email", "nobody@example.com")
        page.click("form[action$='/followers'] button[type=submit]")
        check("no approved user has this address" in page.inner_text("#follower-error")
              and page.input_value("#follower-email") == "nobody@example.com",
              "a refused follower is said beside the field, the address kept", page)
        page.fill("#follower-email", "colleague@example.com")
        page.click("form[action$='/followers'] button[type=submit]")
        check("Follower added" in page.content() and page.locator(".follower-list li", has_text="Tomás Reyes").count() == 1,
              "the colleague is listed as a follower", page)
        j.look(page, "ticket-followers")
        colleague_context = browser.new_context(bypass_csp=True)
        colleague = colleague_context.new_page()
        sign_in(colleague, base, "colleague@example.com", "amber-willow-harbor-17")
        check("Tickets you follow" in colleague.content() and number in colleague.inner_text("main"),
              "the followed ticket is on the colleague's home page", colleague)
        j.look(colleague, "home-following")
        colleague.goto(base + f"/tickets/{number}")
        check("split-tunnel" not in colleague.content() and "Internal note" not in colleague.content(),
              "a follower never sees the internal note", colleague)
        colleague.click("main button:has-text('Stop following')")
        check("You no longer follow that ticket" in colleague.content() and "Tickets you follow" not in colleague.content(),
              "the colleague stops following with one button", colleague)
        check(colleague.goto(base + f"/tickets/{number}").status == 404, "and loses the ticket at the next request")
        colleague_context.close()
        page.reload()
        live_ready(page)

        # The colleague files the same problem again; the coordinator merges the duplicate into
        # the ticket being worked on, after a confirmation page, and lands there.
        status, duplicate = api(base, "POST", "/tickets", colleague_token, {
            "subject": "VPN keeps dropping", "category": "network", "sub_category": "vpn",
            "description": "Same as my colleague's, I think."})
        check(status == 201, "the colleague files a duplicate")
        desk.goto(base + f"/tickets/{duplicate['number']}")
        desk.fill("#merge-into", number)
        desk.click("form.merge-form button[type=submit]")
        check(f"Merge {duplicate['number']} into {number}" in desk.inner_text("h1"), "the merge asks first", desk)
        j.look(desk, "merge-confirm")
        desk.click("main form button[type=submit]")
        check(desk.url.endswith(f"/tickets/{number}?merged={duplicate['number']}")
              and "was merged into this ticket" in desk.content()
              and "Same as my colleague" in desk.inner_text("main"),
              "the merge lands on the survivor, with the duplicate's conversation", desk)
        check(desk.locator(".link-list li", has_text=duplicate["number"]).count() == 1,
              "the survivor lists the duplicate among its linked tickets", desk)
        j.look(desk, "merged")
        desk.goto(base + f"/tickets/{duplicate['number']}")
        check(desk.url.endswith(f"/tickets/{number}?merged={duplicate['number']}"),
              "the duplicate's address leads to the survivor", desk)
        desk.goto(base + "/desk?sort=due")
        check(number in desk.inner_text("main") and "on track" in desk.inner_text("main"),
              "the queue lists tickets due soonest with their service-level badge", desk)
        j.look(desk, "queue-due")

        # The admin defines two ticket fields on the Ticket fields page (a bad key is refused
        # beside its input); the coordinator fills them in on the ticket (a bad number is said
        # beside it) and finds the ticket in the queue by one; the employee sees the site,
        # never the internal cost.
        fields_admin = browser.new_context(bypass_csp=True).new_page()
        sign_in(fields_admin, base, ADMIN[0], ADMIN[1])
        fields_admin.goto(base + "/integrations")
        fields_admin.click("main >> text=define the ticket fields")
        fields_admin.fill("#field-label", "Site")
        fields_admin.fill("#field-key", "Site Name")
        fields_admin.select_option("#field-kind", "choice")
        fields_admin.fill("#field-options", "Lisbon\nBerlin\nOsaka")
        fields_admin.check("input[name=requester_sets]")
        fields_admin.click("form.field-form button[type=submit]")
        check(fields_admin.locator("#key-error").count() == 1 and fields_admin.input_value("#field-key") == "Site Name",
              "a bad field key is refused beside its input, the typing kept", fields_admin)
        fields_admin.fill("#field-key", "site")
        fields_admin.click("form.field-form button[type=submit]")
        check("Field saved." in fields_admin.content(), "the field is added", fields_admin)
        fields_admin.fill("#field-label", "Cost")
        fields_admin.fill("#field-key", "cost")
        fields_admin.select_option("#field-kind", "number")
        fields_admin.check("input[name=internal]")
        fields_admin.click("form.field-form button[type=submit]")
        check("Staff (internal)" in fields_admin.inner_text("main table"), "an internal field is listed as staff's",
              fields_admin)
        j.look(fields_admin, "fields-admin")
        fields_admin.context.close()
        desk.goto(base + f"/tickets/{number}")
        desk.select_option("#field-site", "Lisbon")
        desk.fill("#field-cost", "lots")
        desk.click("form[action$='/fields'] button[type=submit]")
        check(desk.locator("#field-cost-error").count() == 1 and desk.input_value("#field-cost") == "lots",
              "a bad number is said beside its input, the typing kept", desk)
        desk.fill("#field-cost", "129.50")
        desk.click("form[action$='/fields'] button[type=submit]")
        facts = desk.inner_text("dl.facts")
        check("Lisbon" in facts and "129.5" in facts, "the ticket shows the fields filled in", desk)
        j.look(desk, "ticket-fields")
        desk.goto(base + "/desk?field.site=Lisbon&sort=field:cost")
        check(desk.locator(f"a[href='/tickets/{number}']").count() >= 1, "the queue finds the ticket by its site", desk)
        j.look(desk, "queue-fields")
        desk.goto(base + "/desk?field.site=Osaka")
        check(desk.locator(f"a[href='/tickets/{number}']").count() == 0, "and not under another site", desk)
        page.reload()
        live_ready(page)
        check("Lisbon" in page.inner_text("dl.facts") and "129.5" not in page.content() and "Cost" not in page.content(),
              "the employee sees the site, never the internal cost", page)
        desk.goto(base + f"/tickets/{number}")
        live_ready(desk)
        page.wait_for_timeout(500)
        check("split-tunnel" not in page.content(), "an internal note never reaches the employee's open page")
        desk.click("main >> text=Ask the requester")
        j.look(desk, "confirm-ask-requester")
        desk.fill("#text", "Which office, and since when exactly?")
        desk.click("main form button[type=submit]")
        check("Done: question sent." in desk.content(), "the question is sent", desk)

        # The employee answers with a comment and a file; the coordinator's open page shows it.
        live(page, "part('summary').includes('Waiting for you') && part('conversation').includes('Which office')",
             "the question arrives live on the employee's open page")
        live_ready(desk)
        page.reload()
        check("Waiting for you" in page.content() and "Which office" in page.content(), "the question is on the page")
        page.fill("#body", "The Lisbon office, since Monday 9:00.\n<b>thanks</b>")
        page.set_input_files("#comment-files", str(picture))
        page.click("form[action$='/comments'] button[type=submit]")
        check("Comment added with 1 file." in page.content(), "the answer is added with its file", page)
        check("<b>thanks</b>" in page.inner_text("main"), "markup in a comment is shown as text")
        check(page.locator(".comment img.mini").count() >= 1, "the avatar shows on the employee's comment")
        check("In progress" in page.content(), "the answer sends the ticket back to the help desk")
        check("split-tunnel" not in page.content() and "Internal note" not in page.content(),
              "the internal note never reaches the requester")
        j.look(page, "ticket-answered")

        # The coordinator sees the answer arrive live and resolves; the employee reads the bell
        # and closes the ticket from the list.
        live(desk, "part('conversation').includes('The Lisbon office')", "the answer arrives live on the coordinator's page")
        check("In progress" in desk.inner_text("[data-live=summary]"), "and the status with it")
        # Meanwhile the employee's tab is in the background: it lets its stream go, and catches
        # up when shown again.
        set_hidden(page, True)
        # The coordinator resolves with a macro of their own: a reply with the requester's name
        # filled in, a tag and the resolution, previewed first, applied as one step.
        desk.goto(base + "/macros")
        desk.fill("#macro-name", "Solved: VPN")
        desk.fill("#macro-comment", "Hello {{requester.first_name}}, {{ticket.number}} is solved: the split tunnel is fixed.")
        desk.fill("#macro-add-tags", "solved-by-macro")
        desk.select_option("#macro-action", "resolve")
        desk.fill("#macro-action-note", "Split tunnel fixed for the Lisbon office.")
        desk.click("form.macro-form button[type=submit]")
        check("Macro saved." in desk.content() and "Solved: VPN" in desk.inner_text("main table"), "the macro is saved", desk)
        j.look(desk, "macros")
        desk.goto(base + f"/tickets/{number}")
        check("The Lisbon office" in desk.content(), "the answer reached the coordinator")
        desk.select_option("#macro-id", label="Solved: VPN")
        desk.click("form.macro-pick button[type=submit]")
        check(f"{number} is solved" in desk.inner_text("main") and "Resolved" in desk.inner_text("main"),
              "the preview shows the reply filled in and the status after", desk)
        j.look(desk, "macro-preview")
        desk.click("main form button[type=submit]")
        check("Macro applied." in desk.content(), "the coordinator resolves the ticket with the macro", desk)
        check("Macro \u201cSolved: VPN\u201d applied by You" in desk.inner_text("main"),
              "the history shows the macro as one entry", desk)
        j.look(desk, "macro-applied")
        # The resolution mail asks the employee to rate the help: a link that needs no sign-in.
        rate_path = mailed_token(data, EMPLOYEE[0], r"(/rate/TX\d+/[A-Za-z0-9_-]+\?rating=good)")
        check(rate_path is not None and number in rate_path, "the resolution mail carries a rating link")
        rater = browser.new_context(bypass_csp=True).new_page()
        rater.goto(base + rate_path)
        check(rater.is_checked("input[value=good]"), "the mail's choice is checked on the rating page", rater)
        rater.fill("#comment", "Quick and friendly, thank you!")
        j.look(rater, "rate")
        rater.click("main form button[type=submit]")
        check("Thank you" in rater.content() and "Change my rating" in rater.content(),
              "the rating is recorded and can be changed", rater)
        j.look(rater, "rated")
        rater.goto(base + rate_path)
        check("was used already" in rater.content(), "the mailed link works once", rater)
        rater.context.close()
        desk.reload()
        check("Quick and friendly" in desk.inner_text(".ticket-rating"), "staff see the rating on the ticket", desk)
        page.wait_for_timeout(300)
        check("Resolved" not in page.inner_text("[data-live=summary]"), "a hidden tab holds no stream")
        set_hidden(page, False)
        live(page, "part('summary').includes('Resolved')", "shown again, the tab catches up on what it missed")
        check(page.locator("#unread-count").is_visible(), "the employee's bell shows unread notifications")
        page.click("header a.bell")
        check("Now: resolved" in page.content() and number in page.content(), "the notification says what happened")
        check("split-tunnel" not in page.content(), "and carries nothing internal")
        j.look(page, "notifications")
        page.click("main button:has-text('Mark all read')")
        check(page.locator("#unread-count").is_hidden(), "all marked read")
        page.goto(base + "/tickets")
        j.look(page, "my-tickets")
        page.click(f"a[aria-label='Close {number}']")
        check("cannot be reopened afterwards" in page.content(), "closing asks first")
        j.look(page, "confirm-close")
        page.fill("#text", "Works again, thank you.")
        page.click("main form button[type=submit]")
        check("Done: closed." in page.content(), "the ticket is closed", page)

        # A second ticket, withdrawn straight from the list.
        page.goto(base + "/tickets/new")
        page.select_option("#kind", "hardware/laptop")
        page.fill("#subject", "Need a dock")
        page.fill("#description", "For the new desk.")
        page.click("main form button[type=submit]")
        second = re.search(r"/tickets/(TX\d+)", page.url).group(1)
        # The coordinator ticks both of the employee's tickets in the queue and tags them at once.
        desk.goto(base + "/desk?status=")
        desk.check(f"input[aria-label='Select {number}']")
        desk.check(f"input[aria-label='Select {second}']")
        desk.fill("#bulk-add", "Dock batch")
        j.look(desk, "queue-bulk")
        desk.click("form#bulk button[type=submit]")
        check("2 tickets of 2 changed" in desk.inner_text("main"), "both ticked tickets are tagged at once", desk)
        j.look(desk, "bulk-done")
        desk.click("main >> text=Back to the queue")
        check(desk.locator(f"tr:has(a[href='/tickets/{second}']) a.tag", has_text="dock-batch").count() == 1,
              "the queue shows the new tag on the ticked tickets", desk)
        # The coordinator keeps that view: the tag, every status, fewer columns; the queue
        # opens on it from now on, with its count.
        desk.goto(base + "/desk?status=&tag=dock-batch")
        desk.click("details.save-view summary")
        desk.fill("#view-name", "Dock batch")
        desk.uncheck("input[name=column][value=department]")
        desk.uncheck("input[name=column][value=filed]")
        desk.check("input[name=default]")
        desk.click("details.save-view button[type=submit]")
        check("Dock batch" in desk.inner_text("main .view-controls"), "the view is saved and shown", desk)
        desk.goto(base + "/desk")
        check(desk.locator("nav.views a[aria-current=page]", has_text="Dock batch").count() == 1
              and desk.locator("nav.views a .count", has_text="2").count() == 1
              and desk.locator("table.queue th", has_text="Department").count() == 0,
              "the queue opens on the default view, with its count and its columns", desk)
        j.look(desk, "queue-view")
        page.goto(base + "/tickets?show=active")
        page.click(f"a[aria-label='Withdraw {second}']")
        check("It cannot be undone." in page.content(), "withdrawing asks first")
        page.click("main form button[type=submit]")
        check("Done: withdrawn." in page.content(), "the ticket is withdrawn", page)

        # Attacks.
        form = {"kind": "network/vpn", "subject": "forged", "description": "x"}
        cross = context.request.post(base + "/tickets/new", multipart=form,
                                     headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
        check(cross.status == 403, "a form posted from another site is refused")
        same = {"origin": base, "sec-fetch-site": "same-origin"}
        no_token = context.request.post(base + "/tickets/new", multipart=form, headers=same)
        check(no_token.status == 403, "a form posted without the form token is refused")
        other_token = api_user(base, admin, "other@example.com", "willow-granite-harbor-31", "MA0778")
        other_context = browser.new_context()
        other_page = other_context.new_page()
        sign_in(other_page, base, "other@example.com", "willow-granite-harbor-31")
        stolen = other_page.get_attribute("input[name=csrf]", "value")
        with_other = context.request.post(base + "/tickets/new", multipart={**form, "csrf": stolen}, headers=same)
        check(with_other.status == 403, "a form posted with another session's token is refused")
        _, t = api(base, "POST", "/tickets", other_token, {
            "subject": "Someone else's", "category": "hardware", "sub_category": "laptop", "description": "private"})
        response = page.goto(base + "/tickets/" + t["number"])
        check(response.status == 404 and "Someone else" not in page.content(), "another employee's ticket is not found")
        j.look(page, "not-found")
        page.goto(base + "/tickets")
        check("forged" not in page.content(), "nothing was filed by the refused forms")

        # Profile: a new picture, the sessions, the password.
        page.goto(base + "/profile")
        check("MA0777" in page.content() and "This browser" in page.content(), "the profile shows the account and sessions")
        page.set_input_files("#avatar", str(picture))
        page.click("form[action='/profile/avatar'] button")
        check("Picture updated." in page.content(), "the picture is replaced", page)
        j.look(page, "profile")
        page.goto(base + "/profile/sign-out-elsewhere")
        j.look(page, "confirm-sign-out-elsewhere")
        page.goto(base + "/password")
        j.look(page, "password")
        page.fill("#current_password", EMPLOYEE[1])
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#confirm_password", NEW_PASSWORD)
        page.click("main button[type=submit]")
        check(page.url == base + "/", "the password is changed", page)

        # Sign out, then reset a forgotten password from the mailed link.
        page.click("text=Sign out")
        check(page.url.endswith("/sign-in"), "signed out")
        page.goto(base + "/forgot-password")
        j.look(page, "forgot-password")
        page.fill("#email", EMPLOYEE[0])
        page.click("main button[type=submit]")
        check("Check your mail" in page.content(), "forgot password answers the same for everyone")
        token = mailed_token(data, EMPLOYEE[0])
        check(token is not None, "the reset mail was written with its link")
        page.goto(base + "/reset-password#token=" + token)
        check(page.is_hidden("#token-paste"), "the script took the token from the link")
        check("#" not in page.url, "the token left the address bar")
        j.look(page, "reset-password")
        page.fill("#new_password", FINAL_PASSWORD)
        page.fill("#confirm_password", FINAL_PASSWORD)
        page.click("main button[type=submit]")
        check("Password set" in page.content(), "the password is reset")
        sign_in(page, base, EMPLOYEE[0], FINAL_PASSWORD)
        check(page.url == base + "/", "signed in with the new password")

        # The admin's user management: approve one registration in place, reject another.
        for n, email in [(1, "pending.one@example.com"), (2, "pending.two@example.com")]:
            status, _ = api(base, "POST", "/auth/register", body={
                "email": email, "password": "willow-granite-harbor-31", "first_name": "Pending",
                "last_name": f"Person{n}", "company_id": f"MA08{n:02}", "accepted_terms": TERMS_VERSION})
            check(status == 201, f"{email} registers")
        admin_page = browser.new_context(bypass_csp=True).new_page()
        admin_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(admin_page, base, ADMIN[0], ADMIN[1])
        admin_page.click("header >> text=Users")
        check("Awaiting approval (2)" in admin_page.content(), "the pending registrations come first", admin_page)
        j.look(admin_page, "users")
        admin_page.click("button[aria-label='Approve Pending Person1']")
        check("Registration approved" in admin_page.content(), "approved in place", admin_page)
        admin_page.click("a[aria-label='Reject Pending Person2']")
        j.look(admin_page, "confirm-reject-registration")
        admin_page.fill("#reason", "Not one of our employees.")
        admin_page.click("main form button[type=submit]")
        check("Registration rejected" in admin_page.content(), "rejected with a reason", admin_page)
        admin_page.click("text=Nadia Okafor Jr.")
        j.look(admin_page, "user")
        # The approved one becomes a coordinator of the IT department, from their page.
        _, found = api(base, "GET", "/users?q=pending.one%40example.com", admin)
        admin_page.goto(base + "/users/" + found["items"][0]["id"])
        admin_page.select_option("#role", "coordinator")
        admin_page.select_option("#department", "it")
        admin_page.click("form[action$='/role'] button[type=submit]")
        check("Role and department saved" in admin_page.content(), "the admin makes a coordinator", admin_page)
        check("Role employee → coordinator" in admin_page.inner_text("main"), "the account's history shows it")
        _, made = api(base, "GET", "/users/" + found["items"][0]["id"], admin)
        check(made["role"] == "coordinator" and made["department"] == "it", "the API agrees")
        # Deactivating someone who has a page open signs them out.
        other_page.goto(base + "/tickets")
        live_ready(other_page)
        _, found = api(base, "GET", "/users?q=other%40example.com", admin)
        admin_page.goto(base + "/users/" + found["items"][0]["id"])
        admin_page.click("main button:has-text('Deactivate')")
        check("deactivated" in admin_page.content().lower(), "the admin deactivates a user", admin_page)
        try:
            other_page.wait_for_url("**/sign-in**", timeout=5000)
        except Exception:
            pass
        check("/sign-in" in other_page.url, "the deactivated user's open page signs them out", other_page)
        other_page.goto(base + "/tickets")
        check("/sign-in" in other_page.url, "and every next request asks them to sign in")
        admin_page.goto(base + "/users/new")
        j.look(admin_page, "new-user")
        check(desk.goto(base + "/users").status == 404, "a coordinator cannot open user management")
        check(desk.goto(base + "/reports").status == 404, "a coordinator cannot open the reports")
        admin_page.click("header >> text=Reports")
        _, summary = api(base, "GET", "/reports/summary", admin)
        closed = summary["by_status"].get("closed", 0)
        check(f"<th scope=\"row\">Closed</th><td>{closed}</td>" in admin_page.content(),
              "the reports page shows the API's figures", admin_page)
        _, sla = api(base, "GET", "/reports/sla", admin)
        check(sla["tickets"] >= 1 and "Service levels of the tickets filed" in admin_page.content(),
              "the reports page shows service levels", admin_page)
        _, csat = api(base, "GET", "/reports/satisfaction", admin)
        check(csat["overall"]["good"] == 1 and "Quick and friendly" in admin_page.inner_text("#satisfaction"),
              "the reports page shows the satisfaction score and the latest ratings", admin_page)
        j.look(admin_page, "reports")
        admin_page.goto(base + "/users/rejections")
        check("Not one of our employees." in admin_page.content(), "the rejection is in the audit list")
        j.look(admin_page, "rejections")
        admin_page.goto(base + "/audit")
        j.look(admin_page, "audit")
        admin_page.click("header >> text=System")
        admin_page.fill("#key-name", "The workflow system")
        admin_page.check("input[value=push_workflow]")
        admin_page.click("form[action='/integrations/keys'] button[type=submit]")
        credential = admin_page.inner_text(".secret-value")
        check(credential.startswith("ApiKey "), "the key's credential is shown once")
        j.look(admin_page, "integrations")
        admin_page.goto(base + "/integrations")
        check(credential not in admin_page.content(), "and never again")

        dead_mail(j, browser)

        check(not dialogs, f"no dialog ever opened from user input {dialogs or ''}".rstrip())
        browser.close()
    print(f"browser journey: {j.pages_checked} pages checked with axe-core; screenshots in {j.args.screenshots}")


if __name__ == "__main__":
    main()
