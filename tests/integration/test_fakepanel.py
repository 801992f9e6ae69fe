"""Integration tests of tests/fakepanel, the simulated upstream SMM panel.

Each test_* function takes ``env`` (``env.build`` is the build directory
holding ``fakepanel``), starts its own panel on a free loopback port, and
stops it by PID in a ``finally`` (SIGTERM, then SIGKILL after a deadline).
A panel that does not exit 0 on SIGTERM, or that printed a sanitizer
report, fails the test.  Python 3 standard library only.
"""

import contextlib
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
KEY = "test-key"


class Panel:
    """One running fakepanel process."""

    def __init__(self, env, args, pass_fds=()):
        self.errfile = tempfile.TemporaryFile()
        binary = os.path.join(env.build, "fakepanel")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0"] + list(args),
            stdout=subprocess.PIPE, stderr=self.errfile,
            stdin=subprocess.DEVNULL, pass_fds=pass_fds)
        self.port = self._read_port()
        self.path = "/api/v2"
        for i, a in enumerate(args):
            if a == "--path":
                self.path = args[i + 1]

    def _read_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError("fakepanel did not start: %r %r"
                                     % (line, self.stderr()))
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1)
                if not chunk:
                    continue
                line += chunk
        text = line.decode().strip()
        assert text.startswith("listening on 127.0.0.1:"), text
        port = int(text.rsplit(":", 1)[1])
        assert port > 0
        return port

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read().decode(errors="replace")

    def stop(self):
        """SIGTERM by PID, wait, SIGKILL if it hangs; returns the code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        err = self.stderr()
        self.errfile.close()
        return self.proc.returncode, err

    # HTTP helpers --------------------------------------------------------

    def http(self, method, path, body=None, headers=None, timeout=5.0,
             conn=None):
        """(status, content type, body bytes)."""
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            if conn is None:
                c.close()

    def raw(self, params, key=KEY, method="POST", path=None, conn=None,
            timeout=5.0):
        """Call the API with form fields; (status, type, bytes)."""
        fields = dict(params)
        if key is not None:
            fields["key"] = key
        body = urllib.parse.urlencode(fields)
        path = path or self.path
        if method == "GET":
            return self.http("GET", path + "?" + body, conn=conn,
                             timeout=timeout)
        return self.http("POST", path, body=body, conn=conn, timeout=timeout,
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded"})

    def api(self, params, **kw):
        status, ctype, body = self.raw(params, **kw)
        assert status == 200, (status, body)
        assert ctype == "application/json", ctype
        return json.loads(body)

    def control(self, op, expect=200):
        status, _, body = self.http("POST", "/control",
                                    body=json.dumps(op).encode(),
                                    headers={"Content-Type":
                                             "application/json"})
        reply = json.loads(body)
        assert status == expect, (op, status, reply)
        return reply

    def get(self, what):
        status, _, body = self.http("GET", "/control/" + what)
        assert status == 200, (what, status, body)
        return json.loads(body)

    def add(self, **fields):
        fields.setdefault("action", "add")
        return self.api(fields)


@contextlib.contextmanager
def panel(env, *args):
    p = Panel(env, list(args))
    try:
        yield p
    finally:
        code, err = p.stop()
        assert "Sanitizer" not in err and "runtime error" not in err, err
        assert code == 0, (code, err)


def _no_reply(p, params, timeout=5.0):
    """Send a call and return the exception that ended it (or None)."""
    try:
        p.raw(params, timeout=timeout)
    except (http.client.HTTPException, OSError) as e:
        return e
    return None


# Start-up, paths, keys ---------------------------------------------------


def test_start_ready_fd_and_sigterm(env):
    rfd, wfd = os.pipe()
    try:
        p = Panel(env, ["--ready-fd", str(wfd)], pass_fds=(wfd,))
    except BaseException:
        os.close(rfd)
        os.close(wfd)
        raise
    os.close(wfd)
    try:
        with os.fdopen(rfd, "rb") as r:
            line = r.read().decode()
        assert line == "listening on 127.0.0.1:%d\n" % p.port, line
        assert p.api({"action": "balance"}) == {
            "balance": "1000000.00000", "currency": "USD"}
    finally:
        code, err = p.stop()
    assert code == 0, err


def test_paths_methods_and_bodies(env):
    with panel(env, "--path", "/api2/v2") as p:
        want = {"balance": "1000000.00000", "currency": "USD"}
        assert p.api({"action": "balance"}) == want
        assert p.api({"action": "balance"}, path="/api2/v2/") == want
        assert p.api({"action": "balance"}, method="GET") == want
        assert p.api({"action": "balance"}, method="GET",
                     path="/api2/v2/") == want
        status, ctype, body = p.http(
            "POST", "/api2/v2",
            body=json.dumps({"key": KEY, "action": "balance"}).encode(),
            headers={"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (200, want)
        # JSON arrays of IDs are accepted as lists.
        p.add(service=1, link="https://x/1", quantity=100)
        status, _, body = p.http(
            "POST", "/api2/v2",
            body=json.dumps({"key": KEY, "action": "status",
                             "orders": [1, 2]}).encode(),
            headers={"Content-Type": "application/json"})
        assert sorted(json.loads(body)) == ["1", "2"]
        status, _, body = p.raw({"action": "balance"}, path="/api/v2")
        assert status == 404
        # Body and header limits are enforced by evhttp.
        with socket.create_connection(("127.0.0.1", p.port), 5) as s:
            s.sendall(b"POST /api2/v2 HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 2097152\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 413"), "no 413"
        try:
            status, _, _ = p.http("GET", "/api2/v2",
                                  headers={"X-Big": "y" * 40000})
            assert status >= 400
        except (http.client.HTTPException, OSError):
            pass  # closing the connection is a fine answer too
        assert p.api({"action": "balance"})["balance"] == "999999.91000"


def test_bad_key_in_each_dialect(env):
    with panel(env, "--key", "k1", "--key", "k2") as p:
        assert p.api({"action": "balance"}, key="k2")["currency"] == "USD"
        assert p.api({"action": "balance"}, key="nope") == {
            "error": "Invalid API key"}
        assert p.api({"action": "balance"}, key=None) == {
            "error": "Invalid API key"}
        log = p.get("log")
        assert [e["key_ok"] for e in log] == [True, False, False]
        assert all("key" not in e["params"] for e in log)
        p.control({"op": "dialect", "dialect": "v1"})
        assert p.api({"action": "balance"}, key="nope") == {
            "status": "error", "message": "Invalid API key"}
        p.control({"op": "dialect", "dialect": "var"})
        assert p.api({"action": "balance"}, key="nope") == {
            "error": "Invalid API key"}
        assert p.get("stats")["bad_key"] == 4


# Catalogue ----------------------------------------------------------------


ALL_TYPES = {"Default", "Package", "Custom Comments",
             "Custom Comments Package", "Mentions", "Mentions with Hashtags",
             "Mentions Custom List", "Mentions Hashtag",
             "Mentions User Followers", "Mentions Media Likers",
             "Comment Likes", "Comment Replies", "Poll",
             "Invites from Groups", "Subscriptions"}


def test_services_std(env):
    with panel(env, "--services", "300") as p:
        svcs = p.api({"action": "services"})
        assert len(svcs) == 300
        assert [s["service"] for s in svcs] == list(range(1, 301))
        assert svcs[0] == {
            "service": 1, "name": "Followers", "type": "Default",
            "category": "Instagram Followers", "rate": "0.90",
            "min": "10", "max": "100000", "refill": True, "cancel": True,
            "dripfeed": False}
        assert {s["type"] for s in svcs[:20]} == ALL_TYPES
        assert any(s["dripfeed"] for s in svcs[:20])
        rates = {s["rate"] for s in svcs}
        assert {"0.90", "8", "1.02", "0.0045"} <= rates
        for s in svcs:
            assert isinstance(s["min"], str) and isinstance(s["max"], str)
            assert int(s["min"]) <= int(s["max"])
        # The same catalogue every time.
        with panel(env, "--services", "300") as q:
            assert q.api({"action": "services"}) == svcs


def test_services_v1_and_var(env):
    with panel(env, "--dialect", "v1") as p:
        svcs = p.api({"action": "services"})
        assert svcs[0] == {
            "service": "1", "name": "Followers",
            "category": "Instagram Followers", "rate": "0.90", "min": "10",
            "max": "100000", "type": "default",
            "desc": svcs[0]["desc"], "dripfeed": 0}
        assert isinstance(svcs[0]["desc"], str) and svcs[0]["desc"]
        assert {s["dripfeed"] for s in svcs} == {0, 1}
        assert "custom_comments" in {s["type"] for s in svcs}
        p.control({"op": "services", "remove": list(range(1, 21))})
        assert p.api({"action": "services"}) == {
            "status": "success", "data": "Empty Data"}
    with panel(env, "--dialect", "var") as p:
        status, _, body = p.raw({"action": "services"})
        assert b"\n    " in body  # pretty-printed, as some panels send it
        s = json.loads(body)[0]
        assert s["min"] == 10 and s["max"] == 100000
        assert s["description"] and s["refill_time"] == "30"


def test_services_file_and_control(env):
    catalogue = [
        {"service": 7, "name": "A", "type": "Default", "category": "C",
         "rate": "0.0123", "min": 5, "max": "500", "refill": 1,
         "cancel": "0"},
        {"service": "9", "name": "Pack", "type": "package", "category": "C",
         "rate": 3, "min": "1", "max": "1", "dripfeed": True,
         "description": "d"},
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(catalogue, f)
        f.flush()
        with panel(env, "--services-file", f.name) as p:
            svcs = p.api({"action": "services"})
            assert svcs == [
                {"service": 7, "name": "A", "type": "Default",
                 "category": "C", "rate": "0.0123", "min": "5",
                 "max": "500", "refill": True, "cancel": False,
                 "dripfeed": False},
                {"service": 9, "name": "Pack", "type": "Package",
                 "category": "C", "rate": "3", "min": "1", "max": "1",
                 "refill": False, "cancel": False, "dripfeed": True}]
            p.control({"op": "services", "rate": {"7": "1.10"}})
            p.control({"op": "services", "remove": [9]})
            p.control({"op": "services", "add": [
                {"service": 3, "name": "New", "type": "Poll",
                 "category": "C", "rate": "2", "min": 1, "max": 10}]})
            svcs = p.api({"action": "services"})
            assert [(s["service"], s["rate"]) for s in svcs] == [
                (3, "2"), (7, "1.10")]
            assert p.add(service=9, link="x") == {
                "error": "Incorrect service ID"}
            # The new rate is what an order costs: 1.10 x 100 / 1000.
            p.add(service=7, link="x", quantity=100)
            assert p.api({"action": "status", "order": 1})["charge"] == \
                "0.11000"
            p.control({"op": "services", "rate": {"99": "1"}}, expect=400)
            p.control({"op": "reset"})
            assert len(p.api({"action": "services"})) == 2


# Orders -------------------------------------------------------------------


def test_add_and_status_std(env):
    with panel(env) as p:
        assert p.add(service=1, link="https://ig/x", quantity=100) == {
            "order": 1}
        assert p.api({"action": "status", "order": 1}) == {
            "charge": "0.09000", "start_count": "0", "status": "Pending",
            "remains": "100", "currency": "USD"}
        assert p.api({"action": "status", "order": 2}) == {
            "error": "Incorrect order ID"}
        p.add(service=1, link="https://ig/y", quantity=1000)
        multi = p.api({"action": "status", "orders": "1, 2,9,1, 2"})
        assert list(multi) == ["1", "2", "9"]
        assert multi["2"]["charge"] == "0.90000"
        assert multi["9"] == {"error": "Incorrect order ID"}
        p.control({"op": "set", "order": 1, "status": "Partial",
                   "remains": 157, "start_count": 3572,
                   "charge": "0.27819"})
        # Exactly the standard template's example.
        assert p.api({"action": "status", "order": 1}) == {
            "charge": "0.27819", "start_count": "3572", "status": "Partial",
            "remains": "157", "currency": "USD"}
        p.control({"op": "set", "order": 2, "status": "in progress",
                   "remains": "10"})
        assert p.api({"action": "status", "order": 2})["status"] == \
            "In progress"
        p.control({"op": "set", "order": 2, "status": "Mystery"})
        assert p.api({"action": "status", "order": 2})["status"] == "Mystery"
        p.control({"op": "set", "order": 99, "status": "Partial"},
                  expect=400)
        detail = p.get("orders/1")
        assert detail["params"] == {"action": "add", "service": "1",
                                    "link": "https://ig/x",
                                    "quantity": "100"}
        assert detail["status"] == "Partial"
        assert len(p.get("orders")) == 2


def test_add_and_status_v1(env):
    with panel(env, "--dialect", "v1", "--first-order", "32") as p:
        assert p.add(service=1, link="x", quantity=40) == {
            "status": "success", "order": "32"}
        assert p.api({"action": "status", "order": 32}) == {
            "order": "32", "status": "pending", "charge": "0.0360",
            "start_count": "0", "remains": "40"}
        multi = p.api({"action": "status", "orders": "32,2"})
        assert multi["2"] == "Incorrect order ID"
        assert multi["32"]["status"] == "pending"
        for std, v1 in [("In progress", "processing"),
                        ("Completed", "completed"), ("Partial", "partial"),
                        ("Canceled", "canceled")]:
            p.control({"op": "set", "order": 32, "status": std})
            assert p.api({"action": "status", "order": 32})["status"] == v1
        assert p.add(service=1, link="x", quantity=1) == {
            "status": "error", "message": "Quantity less than minimal 10"}
        assert p.api({"action": "balance"})["status"] == "success"


def test_var_dialect_shapes(env):
    with panel(env, "--dialect", "var", "--balance", "1") as p:
        assert p.add(service=1, link="x", quantity=100) == {"order": 1}
        st = p.api({"action": "status", "order": 1})
        assert st["remains"] == "Unknown" and st["status"] == "Pending"
        assert isinstance(st["charge"], float) and st["charge"] == 0.09
        p.control({"op": "set", "order": 1, "status": "In progress",
                   "remains": 50})
        assert p.api({"action": "status", "order": 1})["status"] == \
            "in_progress"
        assert p.api({"action": "cancel", "orders": "1,77"}) == {
            "1": {"cancel": "requested"},
            "77": {"error": "Incorrect order ID"}}
        st = p.api({"action": "status", "order": 1})
        assert st["status"] == "Cancelled" and st["remains"] == "100"
        p.add(service=1, link="x", quantity=100)
        p.control({"op": "set", "order": 2, "status": "Completed",
                   "remains": 0})
        assert p.api({"action": "refill", "order": 2}) == {
            "success": "Your order will be refill asap. Thank you for "
                       "patience", "refill": 1}
        assert p.api({"action": "refill", "order": 1}) == {
            "error": "Order not eligible for refill."}
        assert p.api({"action": "refill", "orders": "2,9"})[1] == {
            "order": 9, "refill": "Incorrect order ID"}
        assert p.add(service=1, link="x", quantity=100000) == {
            "error": "neworder.error.not_enough_funds"}
        assert p.api({"action": "cancel", "orders": "2"}) == {
            "2": {"error": "Cannot cancel"}}
        bal = p.api({"action": "balance"})
        assert isinstance(bal["balance"], float)


def _fields_error(p, service, fields, want):
    assert p.add(service=service, **fields) == {"error": want}, (
        service, fields)


def test_order_types_validation_and_charges(env):
    with panel(env) as p:
        catalogue = p.api({"action": "services"})
        svcs = {s["type"]: s for s in catalogue}
        sid = {t: int(s["service"]) for t, s in svcs.items()}
        assert p.add(service=999, link="x", quantity=10) == {
            "error": "Incorrect service ID"}
        _fields_error(p, 1, {"quantity": 100}, "Incorrect link")
        _fields_error(p, 1, {"link": "x"}, "Incorrect quantity")
        _fields_error(p, 1, {"link": "x", "quantity": 5},
                      "Quantity less than minimal 10")
        _fields_error(p, 1, {"link": "x", "quantity": 100001},
                      "Quantity more than maximum 100000")
        # Custom Comments: quantity = non-empty lines; rate 8 per 1000.
        cc = sid["Custom Comments"]
        _fields_error(p, cc, {"link": "x"}, "Incorrect comments")
        _fields_error(p, cc, {"link": "x", "comments": "a\nb"},
                      "Quantity less than minimal 10")
        comments = "\r\n".join("nice %d" % i for i in range(12)) + "\n\n"
        oid = p.add(service=cc, link="x", comments=comments)["order"]
        o = p.get("orders/%d" % oid)
        assert o["quantity"] == 12 and o["charge"] == "0.096"
        assert o["params"]["comments"] == comments
        # Package: the rate is the price of one package.
        pk = sid["Package"]
        oid = p.add(service=pk, link="x")["order"]
        assert p.get("orders/%d" % oid)["charge"] == svcs["Package"]["rate"]
        # Fields each type needs.
        need = {
            "Mentions": ({"link": "x", "quantity": 100}, "usernames",
                         "Incorrect usernames"),
            "Mentions with Hashtags": ({"link": "x", "quantity": 100,
                                        "usernames": "a\nb"}, "hashtags",
                                       "Incorrect hashtags"),
            "Mentions Hashtag": ({"link": "x", "quantity": 100}, "hashtag",
                                 "Incorrect hashtag"),
            "Mentions User Followers": ({"link": "x", "quantity": 100},
                                        "username", "Incorrect username"),
            "Mentions Media Likers": ({"link": "x", "quantity": 100},
                                      "media", "Incorrect media"),
            "Comment Likes": ({"link": "x", "quantity": 100}, "username",
                              "Incorrect username"),
            "Poll": ({"link": "x", "quantity": 100}, "answer_number",
                     "Incorrect answer number"),
            "Invites from Groups": ({"link": "x", "quantity": 100},
                                    "groups", "Incorrect groups"),
        }
        for t, (base, field, err) in need.items():
            _fields_error(p, sid[t], base, err)
            fields = dict(base)
            fields[field] = "v1\nv2"
            assert "order" in p.add(service=sid[t], **fields), t
        mcl = sid["Mentions Custom List"]
        oid = p.add(service=mcl, link="x",
                    usernames="\n".join("u%d" % i for i in range(15)))[
                        "order"]
        assert p.get("orders/%d" % oid)["quantity"] == 15
        cr = sid["Comment Replies"]
        oid = p.add(service=cr, link="x", username="bob",
                    comments="a\nb\nc\nd\ne")["order"]
        assert p.get("orders/%d" % oid)["quantity"] == 5
        # Subscriptions: rate x max x posts / 1000 (0.75 x 1000 x 4).
        sub = sid["Subscriptions"]
        _fields_error(p, sub, {"username": "u", "min": 100, "max": 1000},
                      "Incorrect delay")
        _fields_error(p, sub, {"username": "u", "min": 100, "max": 1000,
                               "delay": 7}, "Incorrect delay")
        _fields_error(p, sub, {"username": "u", "min": 10, "max": 1000,
                               "delay": 0}, "Quantity less than minimal 50")
        _fields_error(p, sub, {"username": "u", "min": 100, "max": 1000,
                               "delay": 30, "expiry": "2030-01-01"},
                      "Incorrect expiry date")
        oid = p.add(service=sub, username="u", min=100, max=1000, posts=4,
                    old_posts=2, delay=30, expiry="31/12/2030")["order"]
        o = p.get("orders/%d" % oid)
        assert o["charge"] == "3.00"
        assert o["params"]["expiry"] == "31/12/2030"
        assert o["params"]["old_posts"] == "2"
        # Drip-feed: per-run quantity, x runs; only where allowed.
        drip = next(s for s in catalogue if s["dripfeed"] and
                    s["type"] == "Default")
        oid = p.add(service=drip["service"], link="x", quantity=200,
                    runs=5, interval=30)["order"]
        o = p.get("orders/%d" % oid)
        assert (o["runs"], o["interval"]) == (5, 30)
        _fields_error(p, 1, {"link": "x", "quantity": 100, "runs": 2,
                             "interval": 5},
                      "Drip-feed is not available for this service")
        _fields_error(p, drip["service"], {"link": "x", "quantity": 200,
                                           "runs": 2},
                      "Incorrect interval")


def test_money_is_exact(env):
    with panel(env, "--balance", "1.00", "--currency", "EUR") as p:
        assert p.api({"action": "balance"}) == {"balance": "1.00000",
                                                "currency": "EUR"}
        # 0.0045 x 50 / 1000 = 0.000225, charged exactly.
        likes = 3
        p.add(service=likes, link="x", quantity=50)
        assert p.api({"action": "status", "order": 1})["charge"] == \
            "0.000225"
        assert p.api({"action": "status", "order": 1})["currency"] == "EUR"
        assert p.api({"action": "balance"})["balance"] == "0.999775"
        assert p.add(service=1, link="x", quantity=2000) == {
            "error": "Not enough funds on balance"}
        p.add(service=1, link="x", quantity=1000)  # 0.90
        assert p.api({"action": "balance"})["balance"] == "0.099775"
        # Partial with 250 of 1000 left refunds 0.225 to the panel.
        p.control({"op": "set", "order": 2, "status": "Partial",
                   "remains": 250})
        assert p.api({"action": "balance"})["balance"] == "0.324775"
        p.control({"op": "balance", "set": "12.5"})
        assert p.api({"action": "balance"})["balance"] == "12.50000"


def test_refill_refill_status_and_cancel(env):
    with panel(env) as p:
        for _ in range(3):
            p.add(service=1, link="x", quantity=100)
        p.add(service=2, link="x", comments="\n".join("c"*10))
        assert p.api({"action": "refill", "order": 1}) == {
            "error": "Refill is disabled for this order"}
        p.control({"op": "set", "order": 1, "status": "Completed",
                   "remains": 0})
        p.control({"op": "set", "order": 2, "status": "Completed",
                   "remains": 0})
        assert p.api({"action": "refill", "order": 1}) == {"refill": "1"}
        assert p.api({"action": "refill", "orders": "2,3,99"}) == [
            {"order": 2, "refill": 2},
            {"order": 3, "refill": {
                "error": "Refill is disabled for this order"}},
            {"order": 99, "refill": {"error": "Incorrect order ID"}}]
        assert p.api({"action": "refill_status", "refill": 1}) == {
            "status": "Pending"}
        p.control({"op": "set", "refill": 2, "status": "Rejected"})
        p.control({"op": "set", "refill": 1, "status": "Completed"})
        assert p.api({"action": "refill_status", "refills": "1,2,3"}) == [
            {"refill": 1, "status": "Completed"},
            {"refill": 2, "status": "Rejected"},
            {"refill": 3, "status": {"error": "Refill not found"}}]
        assert p.api({"action": "refill_status", "refill": 3}) == {
            "error": "Refill not found"}
        assert p.api({"action": "cancel", "orders": "9,3,1"}) == [
            {"order": 9, "cancel": {"error": "Incorrect order ID"}},
            {"order": 3, "cancel": 1},
            {"order": 1, "cancel": {"error": "Order cannot be canceled"}}]
        assert p.api({"action": "status", "order": 3})["status"] == \
            "Canceled"
        assert p.api({"action": "cancel", "order": 4}) == {"cancel": 1}
        assert p.api({"action": "cancel", "order": 4}) == {
            "error": "Order cannot be canceled"}
        # Two full refunds went back to the panel's balance.
        assert p.api({"action": "balance"})["balance"] == "999999.82000"
        p.control({"op": "dialect", "dialect": "v1"})
        assert p.api({"action": "refill_status", "refills": "1"}) == [
            {"refill": "1", "status": "completed"}]


def test_progress_instant_and_timer(env):
    with panel(env, "--progress", "instant") as p:
        p.add(service=1, link="x", quantity=100)
        st = p.api({"action": "status", "order": 1})
        assert st["status"] == "Completed" and st["remains"] == "0"
        assert int(st["start_count"]) > 0
        assert p.api({"action": "refill", "order": 1}) == {"refill": "1"}
        assert p.api({"action": "refill_status", "refill": 1}) == {
            "status": "Completed"}
    with panel(env, "--progress", "timer:800") as p:
        p.add(service=1, link="x", quantity=100)
        assert p.api({"action": "status", "order": 1})["status"] == \
            "Pending"
        time.sleep(0.45)
        st = p.api({"action": "status", "order": 1})
        assert st["status"] == "In progress", st
        assert 0 < int(st["remains"]) < 100
        time.sleep(0.5)
        st = p.api({"action": "status", "order": 1})
        assert (st["status"], st["remains"]) == ("Completed", "0")
        p.control({"op": "progress", "mode": "manual"})
        p.add(service=1, link="x", quantity=100)
        assert p.api({"action": "status", "order": 2})["status"] == \
            "Pending"


def test_multi_disabled_and_id_limits(env):
    with panel(env, "--max-ids", "5") as p:
        p.add(service=1, link="x", quantity=100)
        six = "1,2,3,4,5,6"
        assert p.api({"action": "status", "orders": six}) == {
            "error": "Maximum 5 IDs per request"}
        assert len(p.api({"action": "status", "orders": "1,2,3,4,5,5"})) == 5
        p.control({"op": "multi", "enabled": False})
        for params in [{"action": "status", "orders": "1"},
                       {"action": "refill", "orders": "1"},
                       {"action": "refill_status", "refills": "1"},
                       {"action": "cancel", "orders": "1"}]:
            assert p.api(params) == {"error": "Incorrect request"}, params
        assert p.api({"action": "status", "order": 1})["status"] == \
            "Pending"
        assert p.api({"action": "cancel", "order": 1}) == {"cancel": 1}
        p.control({"op": "multi", "enabled": True})
        assert "1" in p.api({"action": "status", "orders": "1"})
        assert p.api({"action": "nonsense"}) == {
            "error": "Incorrect request"}


def test_assume_orders(env):
    with panel(env, "--assume-orders", "250", "--first-order", "11") as p:
        assert p.get("stats")["orders"] == 250
        ids = ",".join(str(i) for i in range(11, 111))
        multi = p.api({"action": "status", "orders": ids})
        assert len(multi) == 100
        assert multi["11"] == {"charge": "0.90000", "start_count": "0",
                               "status": "Pending", "remains": "1000",
                               "currency": "USD"}
        last = p.api({"action": "status", "orders": "260,261,10"})
        assert last["260"]["status"] == "Pending"
        assert last["261"] == {"error": "Incorrect order ID"}
        assert last["10"] == {"error": "Incorrect order ID"}
        # The balance is not charged; a new order comes after them.
        assert p.api({"action": "balance"})["balance"] == "1000000.00000"
        assert p.add(service=1, link="x", quantity=100) == {"order": 261}
        p.control({"op": "set", "order": 12, "status": "Completed"})
        assert p.api({"action": "status", "order": 12})["status"] == \
            "Completed"
        p.control({"op": "reset"})
        assert p.get("stats")["orders"] == 250
        assert p.api({"action": "status", "order": 12})["status"] == \
            "Pending"


# Faults -------------------------------------------------------------------


def test_fault_hang_does_not_block_and_is_freed(env):
    with panel(env, "--fault", "add=hang") as p:
        t0 = time.monotonic()
        e = _no_reply(p, {"action": "add", "service": 1, "link": "x",
                          "quantity": 100}, timeout=0.5)
        assert isinstance(e, (socket.timeout, TimeoutError)), e
        assert time.monotonic() - t0 < 3
        # The panel received it and created the order: the reply was lost.
        log = p.get("log")
        assert log[-1]["action"] == "add" and log[-1]["fault"] == "hang"
        assert log[-1]["order"] == 1
        assert p.api({"action": "status", "order": 1})["status"] == \
            "Pending"
        # Others are answered while one hangs.
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
        c.request("POST", p.path, body=urllib.parse.urlencode(
            {"key": KEY, "action": "add", "service": 1, "link": "x",
             "quantity": 100}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        time.sleep(0.1)
        assert p.api({"action": "balance"})["currency"] == "USD"
        assert p.get("stats")["hung"] == 1
        c.close()
        deadline = time.monotonic() + 3
        while p.get("stats")["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = p.get("stats")
        assert stats["pending"] == 0 and stats["orders"] == 2, stats


def test_fault_close_and_nocreate(env):
    with panel(env, "--fault", "add=close") as p:
        e = _no_reply(p, {"action": "add", "service": 1, "link": "x",
                          "quantity": 100})
        assert isinstance(e, (http.client.RemoteDisconnected,
                              ConnectionError)), e
        assert p.get("log")[-1]["fault"] == "close"
        assert p.get("stats")["orders"] == 1
        p.control({"op": "fault", "action": "add", "mode": "close",
                   "create": False})
        e = _no_reply(p, {"action": "add", "service": 1, "link": "x",
                          "quantity": 100})
        assert e is not None
        assert p.get("log")[-1]["fault"] == "close:nocreate"
        assert p.get("stats")["orders"] == 1
        p.control({"op": "fault", "action": "add", "mode": "none"})
        assert p.add(service=1, link="x", quantity=100) == {"order": 2}


def test_fault_502_524_garbage_empty(env):
    with panel(env) as p:
        p.control({"op": "fault", "action": "add", "mode": "502"})
        status, ctype, body = p.raw({"action": "add", "service": 1,
                                     "link": "x", "quantity": 100})
        assert status == 502 and ctype.startswith("text/html")
        assert b"<title>502 Bad Gateway</title>" in body
        assert p.get("stats")["orders"] == 1  # reached the panel

        p.control({"op": "fault", "action": "add", "mode": "524"})
        status, _, body = p.raw({"action": "add", "service": 1,
                                 "link": "x", "quantity": 100})
        assert status == 524 and b"524: A timeout occurred" in body
        assert p.get("stats")["orders"] == 2

        p.control({"op": "fault", "action": "add", "mode": "502:nocreate"})
        status, _, _ = p.raw({"action": "add", "service": 1, "link": "x",
                              "quantity": 100})
        assert status == 502 and p.get("stats")["orders"] == 2

        p.control({"op": "fault", "action": "status", "mode": "garbage"})
        status, _, body = p.raw({"action": "status", "order": 1})
        assert status == 200 and body.startswith(b"<br />\n<b>Warning</b>")
        assert json.loads(body[body.index(b"{"):])["status"] == "Pending"

        p.control({"op": "fault", "action": "status",
                   "mode": "garbage:truncated"})
        status, _, body = p.raw({"action": "status", "order": 1})
        assert status == 200 and body.startswith(b"{")
        try:
            json.loads(body)
            raise AssertionError("truncated body parsed: %r" % body)
        except ValueError:
            pass

        # An action's own fault wins over the one for all actions.
        p.control({"op": "fault", "action": "all", "mode": "empty"})
        assert p.raw({"action": "balance"})[:3:2] == (200, b"")
        assert p.raw({"action": "status", "order": 1})[2].startswith(b"{")
        p.control({"op": "fault", "action": "status", "mode": "none"})
        assert p.raw({"action": "status", "order": 1})[2] == b""
        p.control({"op": "reset"})
        assert p.get("stats")["orders"] == 0
        assert p.api({"action": "balance"})["balance"] == "1000000.00000"


def test_fault_slow_is_not_blocking(env):
    with panel(env, "--fault", "status=slow:700") as p:
        p.add(service=1, link="x", quantity=100)
        result = {}

        def slow():
            t0 = time.monotonic()
            result["reply"] = p.api({"action": "status", "order": 1})
            result["took"] = time.monotonic() - t0

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        assert p.api({"action": "balance"})["currency"] == "USD"
        assert time.monotonic() - t0 < 0.4
        t.join(5)
        assert result["reply"]["status"] == "Pending"
        assert result["took"] >= 0.65, result


def test_fault_error_after_and_count(env):
    with panel(env, "--fault", "add=after:2:error:Service is down, sorry",
               "--fault", "balance=502,count=1") as p:
        assert "order" in p.add(service=1, link="x", quantity=100)
        assert "order" in p.add(service=1, link="x", quantity=100)
        assert p.add(service=1, link="x", quantity=100) == {
            "error": "Service is down, sorry"}
        assert p.get("stats")["orders"] == 2  # a definite rejection
        assert p.raw({"action": "balance"})[0] == 502
        assert p.raw({"action": "balance"})[0] == 200  # count=1 used up
        p.control({"op": "fault", "action": "status", "mode": "error",
                   "text": "Maintenance", "count": 2})
        for _ in range(2):
            assert p.api({"action": "status", "order": 1}) == {
                "error": "Maintenance"}
        assert p.api({"action": "status", "order": 1})["status"] == \
            "Pending"
        p.control({"op": "fault", "action": "nope", "mode": "hang"},
                  expect=400)
        p.control({"op": "fault", "action": "add", "mode": "slow:x"},
                  expect=400)


# Call log ------------------------------------------------------------------


def test_call_log_connections_and_stats(env):
    with panel(env) as p:
        p.add(service=1, link="https://l/1", quantity=100, runs="",
              extra="kept")
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5)
        try:
            for ids in ["1", "1,2,3", "3, 4"]:
                p.raw({"action": "status", "orders": ids}, conn=conn)
        finally:
            conn.close()
        p.raw({"action": "refill_status", "refills": "5,6"})
        log = p.get("log")
        assert [e["seq"] for e in log] == [1, 2, 3, 4, 5]
        assert log[0]["params"] == {"action": "add", "service": "1",
                                    "link": "https://l/1",
                                    "quantity": "100", "runs": "",
                                    "extra": "kept"}
        assert log[0]["order"] == 1 and log[0]["method"] == "POST"
        assert [e["ids"] for e in log[1:]] == [[1], [1, 2, 3], [3, 4],
                                              [5, 6]]
        # One kept-alive connection for the three status calls.
        conns = [e["conn"] for e in log]
        assert conns[1] == conns[2] == conns[3]
        assert len(set(conns)) == 3
        assert all(e["fault"] is None for e in log)
        assert [e["seq"] for e in p.get("log?since=3")] == [4, 5]
        stats = p.get("stats")
        assert stats["requests"] == 5 and stats["ids"] == 8
        assert stats["max_ids"] == 3 and stats["connections"] == 3
        assert stats["actions"]["status"] == 3
        assert stats["actions"]["refill_status"] == 1
        p.control({"op": "reset"})
        assert p.get("log") == []
        assert p.get("stats")["requests"] == 0


def test_log_file_survives_kill(env):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "calls.jsonl")
        p = Panel(env, ["--log", path, "--log-max", "0"])
        try:
            p.add(service=1, link="x", quantity=100)
            p.api({"action": "status", "orders": "1,2"})
            assert p.get("log") == []  # memory log off, file still on
        finally:
            os.kill(p.proc.pid, signal.SIGKILL)
            p.proc.wait()
            p.stop()
        with open(path) as f:
            lines = [json.loads(line) for line in f]
        assert [e["action"] for e in lines] == ["add", "status"]
        assert lines[0]["order"] == 1 and lines[1]["ids"] == [1, 2]
        assert "key" not in lines[0]["params"]
