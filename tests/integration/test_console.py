"""The operator console (issue 18) end to end in Debian's Chromium, headless,
driven by Selenium: sign-in, every page from a seeded store at desktop width
and at 390 px, writes through the UI checked in the store and by `panelmux
check`, a read-only key without write controls, hostile strings from
customers and upstreams shown as text, no console error, and axe-core
(vendored under tests/integration/vendor/) on every page.  Screenshots go
to BUILD/test-artifacts/console/.

Chromium, chromedriver and python3-selenium come from `make deps`; without
them every browser test fails (never skips)."""
import base64
import contextlib
import gzip
import json
import os
import re
import socket
import sys
import time
from decimal import Decimal

from harness import FakePanel, Panelmux, STORE, alpha_config, http_request, wait_for

# Debian's python3-selenium lives in the system interpreter's path; a
# python3 of another installation (pyenv) still finds it there.
DEBIAN_PY = "/usr/lib/python3/dist-packages"
HERE = os.path.dirname(os.path.abspath(__file__))
AXE = os.path.join(HERE, "vendor", "axe-core-4.14.1", "axe.min.js")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

XSS_LINK = '"><img src=x onerror=alert(1)>'
XSS_SERVICE = "<script>"
PAGES = ["overview", "orders", "order", "customers", "customer", "services", "upstreams", "audit"]
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def selenium():
    """The selenium modules, or an assertion naming what to install."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        if DEBIAN_PY not in sys.path:
            sys.path.append(DEBIAN_PY)
    try:
        from selenium import webdriver
        from selenium.common.exceptions import (NoAlertPresentException,
                                                StaleElementReferenceException,
                                                TimeoutException)
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select, WebDriverWait
    except ImportError as e:
        raise AssertionError(f"python3-selenium is missing ({e}): run make deps") from e
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.access(path, os.X_OK), f"{path} is missing: run make deps (chromium chromium-driver)"
    return (webdriver, Service, By, Select, WebDriverWait, NoAlertPresentException,
            StaleElementReferenceException, TimeoutException)


def config(header_timeout=None):
    text = alpha_config(poll_interval="1s", timeout="2s", reply_wait="1s").replace(
        "services:\n", f'services:\n  - id: 900\n    route: ["alpha:1"]\n    name: "{XSS_SERVICE}"\n', 1)
    if header_timeout:
        text = text.replace("limits:\n", f"limits:\n  header_timeout: {header_timeout}\n", 1)
    return text


@contextlib.contextmanager
def seeded(env, header_timeout=None):
    """A daemon with an operator key, a read-only key, two customers, orders
    in several states (one in doubt, one with a hostile link) and payments."""
    with FakePanel(env, services=5) as fp, \
            Panelmux(env, config=config(header_timeout), up_port=fp.port) as pm:
        op = pm.cli("admin", "key", "add", "operator").stdout.strip()
        ro = pm.cli("admin", "key", "add", "support", "--read-only").stdout.strip()
        alice = pm.customer("alice", "100")
        bob = pm.customer("bob", "50")
        pm.start()
        svcs = wait_for(lambda: pm.api(key=alice, action="services") or None, what="catalogue import")
        plain = [int(v["service"]) for v in svcs if v["type"] == "Default" and int(v["service"]) != 900]
        assert len(plain) >= 2, svcs
        orders = []
        for i in range(6):
            r = pm.api(key=alice, action="add", service=plain[i % len(plain)],
                       link=f"https://example.com/post/{i}", quantity=100)
            assert "order" in r, r
            orders.append(r["order"])
        xss = pm.api(key=bob, action="add", service=plain[0], link=XSS_LINK, quantity=100)["order"]
        fp.fault("add", "502")
        doubt = [pm.api(key=alice, action="add", service=plain[1], link=f"https://example.com/doubt/{i}",
                        quantity=100)["order"] for i in range(2)]
        fp.fault("add", "none")
        pm.api(key=alice, action="cancel", orders=str(orders[0]))
        r = http_request(pm.admin_port, "POST", "/adminapi/v2/payments/add",
                         json.dumps({"username": "bob", "amount": "5", "memo": "<b>memo</b>",
                                     "external_id": "seed-1"}),
                         {"X-Api-Key": op, "Content-Type": "application/json"})
        assert r.status == 200, r
        yield {"pm": pm, "fp": fp, "op": op, "ro": ro, "alice": alice, "bob": bob,
               "orders": orders, "xss": xss, "doubt": doubt}


class Browser:
    def __init__(self, env, base):
        (self.webdriver, Service, self.By, self.Select, self.Wait,
         self.NoAlert, self.Stale, self.Timeout) = selenium()
        opts = self.webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = self.webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.base = base
        self.artifacts = os.path.join(env.build, "test-artifacts", "console")
        os.makedirs(self.artifacts, exist_ok=True)

    def close(self):
        self.d.quit()

    def wait(self, pred, what, timeout=15):
        def attempt(d):
            try:
                return pred()
            except self.Stale:  # the page was rendered again meanwhile
                return False
        try:
            return self.Wait(self.d, timeout).until(attempt)
        except self.Timeout as e:
            raise AssertionError(f"timed out waiting for {what}; page: "
                                 f"{self.d.find_element(self.By.TAG_NAME, 'main').text[:600]!r}") from e

    def css(self, sel):
        return self.d.find_elements(self.By.CSS_SELECTOR, sel)

    def one(self, sel):
        return self.d.find_element(self.By.CSS_SELECTOR, sel)

    def go(self, route, heading):
        """Load BASE/#ROUTE afresh (a bookmark) and wait for its heading."""
        self.d.get(self.base + "/#" + route)
        self.d.refresh()
        return self.settle(heading)

    def settle(self, heading):
        def ready():
            h = self.css("main h1")
            return (h and h[0].text.startswith(heading) and
                    self.one("main").get_attribute("aria-busy") is None and
                    not self.css("main [aria-busy]"))
        self.wait(ready, f"page {heading!r}")
        return self.one("main")

    def sign_in(self, key):
        self.d.get(self.base + "/")
        self.settle("Sign in")
        self.one("#key").send_keys(key)
        self.one("#signin button[type=submit]").click()
        self.settle("Overview")

    def errors(self):
        """Console messages at error level since the last call."""
        return [e for e in self.d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]

    def no_alert(self):
        try:
            a = self.d.switch_to.alert
        except self.NoAlert:
            return
        text = a.text
        a.dismiss()
        raise AssertionError(f"a dialog opened: {text!r}")

    def width(self, px):
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": px, "height": 844, "deviceScaleFactor": 1, "mobile": px < 600})

    def overflow(self):
        return self.d.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")

    def axe(self):
        """axe-core's serious and critical violations on the page (after
        checking that it ran its rules at all)."""
        if not self.d.execute_script("return !!window.axe"):
            with open(AXE) as f:
                self.d.execute_script(f.read())
        res = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then("
            " r => done({passes: r.passes.length, violations: r.violations.map(v => [v.id, v.impact,"
            "  v.help, v.nodes.slice(0, 3).map(n => n.target.join(' '))])}),"
            " e => done({passes: 0, violations: [['axe-error', 'critical', String(e), []]]}));")
        assert res["passes"] >= 10, res
        return [v for v in res["violations"] if v[1] in ("serious", "critical")]

    def shot(self, name):
        """The whole page, not only the viewport, as ARTIFACTS/STORE-NAME.png."""
        m = self.d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": m["width"], "height": m["height"], "scale": 1}})
        with open(os.path.join(self.artifacts, f"{STORE}-{name}.png"), "wb") as f:
            f.write(base64.b64decode(shot["data"]))


@contextlib.contextmanager
def browser(env, pm):
    b = Browser(env, f"http://127.0.0.1:{pm.admin_port}")
    try:
        yield b
    finally:
        b.close()


def routes(s):
    """(name, route, heading) of every page, with seeded IDs."""
    cid = s["pm"].sql("SELECT id FROM customers WHERE name = ?", "bob")[0][0]
    return [("overview", "/overview", "Overview"), ("orders", "/orders", "Orders"),
            ("order", f"/orders/{s['xss']}", f"Order #{s['xss']}"),
            ("customers", "/customers", "Customers"), ("customer", f"/customers/{cid}", "Customer bob"),
            ("services", "/services", "Services"), ("upstreams", "/upstreams", "Upstreams"),
            ("audit", "/audit", "Audit")]


# --- tests -----------------------------------------------------------------

def test_console_serving(env):
    """The files: CSP and the other headers, hashed names cached for a year,
    the page revalidated by its ETag, gzip, 405, 404, and GET me."""
    with seeded(env, header_timeout="1s") as s:
        pm = s["pm"]
        r = http_request(pm.admin_port, "GET", "/")
        assert r.status == 200, r
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-cache"
        html = r.body.decode()
        assert "<script>" not in html and " style=" not in html and "<style" not in html, html
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
        assert len(assets) == 6 and all(re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", a) for a in assets), assets
        r2 = http_request(pm.admin_port, "GET", "/", headers={"If-None-Match": r.headers["etag"]})
        assert r2.status == 304 and r2.body == b"", r2
        for a in assets:
            r = http_request(pm.admin_port, "GET", a, headers={"Accept-Encoding": "gzip"})
            assert r.status == 200, (a, r)
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.headers["content-security-policy"] == CSP
            body = gzip.decompress(r.body) if r.headers.get("content-encoding") == "gzip" else r.body
            plain = http_request(pm.admin_port, "GET", a, headers={"Accept-Encoding": "gzip;q=0"})
            assert "content-encoding" not in plain.headers and plain.body == body, a
        js = [a for a in assets if a.endswith(".js")]
        assert http_request(pm.admin_port, "GET", js[0]).headers["content-type"] == \
            "text/javascript; charset=utf-8"
        assert http_request(pm.admin_port, "GET", "/assets/app.000000000000.js").status == 404
        assert http_request(pm.admin_port, "POST", "/", body="x").status == 405
        assert http_request(pm.admin_port, "GET", "/metrics").status == 200
        for key, name, ro in ((s["op"], "operator", False), (s["ro"], "support", True)):
            r = http_request(pm.admin_port, "GET", "/adminapi/v2/me", headers={"X-Api-Key": key})
            assert r.json() == {"error_code": 0, "error_message": "",
                                "data": {"name": name, "read_only": ro}}, r
        assert http_request(pm.admin_port, "GET", "/adminapi/v2/me").status == 401
        # the connection guard knows a file was answered: a kept-alive
        # connection's next request has the header deadline again
        with socket.create_connection(("127.0.0.1", pm.admin_port), timeout=10) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                got += c.recv(65536)
            head, body = got.split(b"\r\n\r\n", 1)
            size = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < size:
                body += c.recv(65536)
            c.sendall(b"GET / HTTP/1.1\r\nHo")
            t0 = time.monotonic()
            try:
                while c.recv(65536):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            waited = time.monotonic() - t0
            assert waited < 5, f"a slow request after a console file was not cut off ({waited:.1f}s)"


def test_console_pages(env):
    """Every page from the seeded store at 1280 and 390 px: its heading, no
    horizontal overflow at 390, no console error, no dialog, no serious or
    critical axe violation at either width; the hostile link and service
    name as text; the navigation from the keyboard; filters in the URL."""
    with seeded(env) as s, browser(env, s["pm"]) as b:
        b.sign_in(s["op"])
        assert b.one("#who").text == "Signed in as operator"
        b.errors()
        problems = []
        for width in (1280, 390):
            b.width(width)
            for name, route, heading in routes(s):
                main = b.go(route, heading)
                b.no_alert()
                cur = b.css('nav a[aria-current="page"]')
                if len(cur) != 1:
                    problems.append(f"{name}@{width}: {len(cur)} current nav links")
                if width == 390:
                    sw, cw = b.overflow()
                    if sw > cw:
                        problems.append(f"{name}@390: page is {sw}px wide in {cw}px")
                for v in b.axe():
                    problems.append(f"{name}@{width}: axe {v}")
                b.shot(f"{name}-{width}")
                errs = b.errors()
                if errs:
                    problems.append(f"{name}@{width}: console errors {errs}")
                if name == "overview":
                    assert "2 orders in doubt" in b.one("#in-doubt").text, b.one("#in-doubt").text
                    for caption in ("Today (UTC)", "Orders created per hour, last 7 days",
                                    "Orders created per hour, last 30 days",
                                    "Margin per day, last 7 days",
                                    "Margin per day, last 30 days", "Failed calls",
                                    "Recent adds"):
                        assert caption in main.text, (caption, main.text)
                if name == "order":
                    assert XSS_LINK in main.text, main.text
                    assert b.css("main img") == [], "an img was made from the link"
                if name == "services":
                    assert XSS_SERVICE in main.text
                    assert "Dropped by their upstream" in main.text and "Price changes" in main.text, main.text[-600:]
                    assert len(b.css("main script")) == 0
                if name == "customer":
                    assert "<b>memo</b>" in main.text
        assert not problems, "\n".join(problems)
        # keyboard: the navigation is reachable by Tab and followed by Enter
        b.width(1280)
        b.go("/overview", "Overview")
        keys = b.webdriver.Keys
        for _ in range(12):
            if (b.d.switch_to.active_element.get_attribute("href") or "").endswith("#/audit"):
                break
            b.d.switch_to.active_element.send_keys(keys.TAB)
        assert (b.d.switch_to.active_element.get_attribute("href") or "").endswith("#/audit")
        b.d.switch_to.active_element.send_keys(keys.ENTER)
        b.settle("Audit")
        # bookmarkable filters: the URL carries them, the form shows them
        b.go("/orders?order_status=sending", "Orders")
        rows = b.css("main tbody tr")
        assert len(rows) == 2 and all("in doubt" in r.text for r in rows), [r.text for r in rows]
        assert b.Select(b.one("select[name=order_status]")).first_selected_option.text == "sending"
        # the link search (a substring of the forwarded link, as text)
        b.go("/orders?link=onerror%3Dalert", "Orders")
        rows = b.css("main tbody tr")
        assert len(rows) == 1 and rows[0].text.startswith(f"#{s['xss']}"), [r.text for r in rows]
        assert b.one("input[name=link]").get_attribute("value") == "onerror=alert"
        assert b.errors() == []


def test_console_writes(env):
    """Resolve an in-doubt order (refund) and credit a customer through the
    UI, each behind a confirmation step; the store and check agree."""
    with seeded(env) as s, browser(env, s["pm"]) as b:
        pm = s["pm"]
        b.sign_in(s["op"])
        b.errors()
        # from the overview's in-doubt count to the order
        b.one("#in-doubt a").click()
        b.settle("Orders")
        oid = s["doubt"][0]
        b.one(f'main a[href="#/orders/{oid}"]').click()
        b.settle(f"Order #{oid}")
        b.Select(b.one("#resolve-how")).select_by_value("refund")
        resolve = [e for e in b.css("main button") if e.text.startswith("Resolve")][0]
        resolve.click()
        assert pm.sql("SELECT state FROM orders WHERE id = ?", oid)[0][0] == "sending"
        b.one("[data-confirm]").click()
        b.wait(lambda: b.css("#flash") and "resolved" in b.one("#flash").text, "resolve confirmed")
        b.shot("resolved")
        row = pm.sql("SELECT state, refunded = charge FROM orders WHERE id = ?", oid)[0]
        assert row[0] == "rejected" and row[1] in ("1", "t", "true"), row
        # the other by its upstream order ID
        oid2 = s["doubt"][1]
        b.go(f"/orders/{oid2}", f"Order #{oid2}")
        b.one("#resolve-upstream").send_keys("777001")
        [e for e in b.css("main button") if e.text.startswith("Resolve")][0].click()
        assert "777001" in b.one(".confirm").text
        b.one("[data-confirm]").click()
        b.wait(lambda: b.css("#flash") and "resolved" in b.one("#flash").text, "second resolve")
        row = pm.sql("SELECT state, upstream_order FROM orders WHERE id = ?", oid2)[0]
        assert row == ("active", "777001"), row
        # credit bob 12.5 with a reference
        cid = pm.sql("SELECT id FROM customers WHERE name = ?", "bob")[0][0]
        b.go(f"/customers/{cid}", "Customer bob")
        before = b.one("#balance").text
        b.one("#pay-amount").send_keys("12.5")
        b.one("#pay-memo").send_keys("console test")
        ref = b.one("#pay-ref").get_attribute("value")
        assert re.fullmatch(r"console-[0-9a-f]{16}", ref), ref
        [e for e in b.css("main button") if e.text.startswith("Record payment")][0].click()
        b.one("[data-confirm]").click()
        b.wait(lambda: b.css("#flash") and "Recorded" in b.one("#flash").text, "payment")
        b.shot("credited")
        after = f"{Decimal(before) + Decimal('12.5'):.5f}"
        assert b.one("#balance").text == after, (before, b.one("#balance").text)
        assert pm.api(key=s["bob"], action="balance")["balance"] == after
        rows = pm.sql("SELECT amount, note, actor FROM ledger WHERE external_id = ?", ref)
        assert len(rows) == 1 and rows[0][1] == "console test" and rows[0][2] == "admin:operator", rows
        audit = pm.sql("SELECT action, result FROM audit WHERE actor = ? ORDER BY id", "admin:operator")
        assert ("orders/resolve" in {a for a, _ in audit}) or len(audit) >= 3, audit
        assert "check: ok" in pm.check()
        assert b.errors() == []


def test_console_sync_now(env):
    """Sync now on the Upstreams page asks the upstream for its services at
    once and is in the audit trail; a read-only key has no such button and
    the API refuses it (403)."""
    with seeded(env) as s, browser(env, s["pm"]) as b:
        pm, fp = s["pm"], s["fp"]
        b.sign_in(s["op"])
        b.errors()
        b.go("/upstreams", "Upstreams")
        before = len([c for c in fp.calls() if c["action"] == "services"])
        [e for e in b.css("main button") if e.text == "Sync alpha"][0].click()
        b.wait(lambda: b.css("#flash") and "alpha" in b.one("#flash").text, "sync flash")
        wait_for(lambda: len([c for c in fp.calls() if c["action"] == "services"]) > before,
                 what="a services call")
        assert ("upstreams/sync", "alpha", "ok") in {
            tuple(r) for r in pm.sql("SELECT action, target, result FROM audit WHERE actor = ?",
                                     "admin:operator")}
        r = http_request(pm.admin_port, "POST", "/adminapi/v2/upstreams/sync",
                         json.dumps({"upstream": "alpha"}),
                         {"X-Api-Key": s["ro"], "Content-Type": "application/json"})
        assert r.status == 403, r
        r = http_request(pm.admin_port, "POST", "/adminapi/v2/upstreams/sync",
                         json.dumps({"upstream": "nope"}),
                         {"X-Api-Key": s["op"], "Content-Type": "application/json"})
        assert r.status == 404, r
        assert b.errors() == []


def test_console_customers(env):
    """Add a customer (its key shown once, and working), rotate its key (the
    old one refused at once), disable and enable it, all through the UI."""
    with seeded(env) as s, browser(env, s["pm"]) as b:
        pm = s["pm"]
        b.sign_in(s["op"])
        b.errors()
        b.go("/customers", "Customers")
        b.one("#new-username").send_keys("carol")
        b.one("#add-customer button[type=submit]").click()
        b.wait(lambda: b.css("#shown-key"), "the new key")
        key = b.one("#shown-key").text
        assert pm.api(key=key, action="balance")["balance"] == "0.00000"
        b.one('#add-customer a[href^="#/customers/"]').click()
        b.settle("Customer carol")

        def act(label, then):
            [e for e in b.css("main button") if e.text.startswith(label)][0].click()
            b.one("[data-confirm]").click()
            b.wait(lambda: b.css("#flash") and then in b.one("#flash").text, label)

        act("Rotate API key", "New key")
        new = b.one("#shown-key").text
        assert new != key
        assert "error" in pm.api(key=key, action="balance")
        assert pm.api(key=new, action="balance")["balance"] == "0.00000"
        act("Disable", "disabled")
        assert pm.sql("SELECT disabled FROM customers WHERE name = ?", "carol")[0][0] in ("1", "t", "true")
        assert "error" in pm.api(key=new, action="balance")
        act("Enable", "enabled")
        assert pm.api(key=new, action="balance")["balance"] == "0.00000"
        actions = [r[0] for r in pm.sql("SELECT action FROM audit WHERE actor = ? ORDER BY id",
                                        "admin:operator")]
        for a in ("users/add", "users/rotate-key", "users/disable", "users/enable"):
            assert a in actions, (a, actions)
        b.shot("customer-actions")
        assert b.errors() == []


def test_console_csp(env):
    """The CSP holds in the browser: script put into the page (as a test's
    stand-in for an injection) does not run, and the refusal is reported."""
    with seeded(env) as s, browser(env, s["pm"]) as b:
        b.sign_in(s["op"])
        b.errors()
        b.d.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.pwned = 1';"
            "document.body.appendChild(s);"
            "const d = document.createElement('div'); d.innerHTML = '<img src=x onerror=\"window.pwned = 2\">';"
            "document.body.appendChild(d);")
        errs = []

        def refused():
            errs.extend(b.errors())
            return any("Content Security Policy" in e["message"] for e in errs)
        wait_for(refused, timeout=10, what="the CSP's refusal in the console log")
        assert b.d.execute_script("return window.pwned === undefined")


def test_console_read_only(env):
    """A read-only key sees every page and no write control."""
    with seeded(env) as s, browser(env, s["pm"]) as b:
        b.sign_in(s["ro"])
        assert b.one("#who").text == "Signed in as support (read-only)"
        writes = re.compile(r"Resolve|Cancel order|Record payment|Disable|Enable|Rotate|Add customer|Sync")
        pages = routes(s) + [("doubt", f"/orders/{s['doubt'][0]}", f"Order #{s['doubt'][0]}")]
        for name, route, heading in pages:
            b.go(route, heading)
            found = b.css("[data-write], [data-confirm], #add-customer, #pay-amount, #resolve-how")
            assert found == [], (name, [e.tag_name for e in found])
            buttons = [e.text for e in b.css("main button") if writes.search(e.text)]
            assert buttons == [], (name, buttons)
        b.shot("read-only-order")
        assert b.errors() == []
