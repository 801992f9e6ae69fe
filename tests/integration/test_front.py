"""The v2 front door: encodings, authentication, errors, limits."""
import http.client
import json
import socket
import urllib.parse

from harness import FakePanel, Panelmux, alpha_config, assert_no_secret, multipart, wait_for


def _started(env, **kw):
    pm = Panelmux(env, **kw)
    return pm


def test_balance_all_encodings(env):
    with _started(env) as pm:
        key = pm.customer("alice", "100.84292")
        pm.start()
        want = {"balance": "100.84292", "currency": "USD"}
        # form-urlencoded
        assert pm.api(key=key, action="balance") == want
        # multipart/form-data
        body, ctype = multipart({"key": key, "action": "balance"})
        r = pm.request("POST", "/api/v2", body, {"Content-Type": ctype})
        assert r.status == 200 and r.json() == want, r
        # JSON body
        r = pm.request("POST", "/api/v2", json.dumps({"key": key, "action": "balance"}),
                       {"Content-Type": "application/json"})
        assert r.status == 200 and r.json() == want, r
        # GET with a query string, and the trailing-slash path
        q = urllib.parse.urlencode({"key": key, "action": "balance"})
        for path in ("/api/v2?", "/api/v2/?"):
            r = pm.request("GET", path + q)
            assert r.status == 200 and r.json() == want, (path, r)
        # X-Api-Key header instead of the key field
        r = pm.request("POST", "/api/v2/", "action=balance",
                       {"Content-Type": "application/x-www-form-urlencoded", "X-Api-Key": key})
        assert r.status == 200 and r.json() == want, r
        # no redirect ever
        assert r.headers.get("location") is None
        log = pm.log()
    assert_no_secret(log, key)


def test_invalid_key(env):
    with _started(env) as pm:
        key = pm.customer("bob", "1")
        pm.start()
        assert pm.api(key="nope", action="balance") == {"error": "Invalid API key"}
        assert pm.api(action="balance") == {"error": "Invalid API key"}
        assert pm.api(key="", action="balance") == {"error": "Invalid API key"}
        assert pm.api(key=key + "x", action="balance") == {"error": "Invalid API key"}
        assert pm.api(key="k" * 5000, action="balance") == {"error": "Invalid API key"}
        # a disabled customer's key stops working at once
        pm.cli("customer", "disable", "bob")
        assert pm.api(key=key, action="balance") == {"error": "Invalid API key"}
        pm.cli("customer", "enable", "bob")
        assert pm.api(key=key, action="balance")["balance"] == "1.00000"
        log = pm.log()
    assert_no_secret(log, key)


def test_actions_recognised(env):
    with _started(env) as pm:
        key = pm.customer("carol", "5")
        pm.start()
        assert pm.api(key=key, action="bogus") == {"error": "Incorrect request"}
        assert pm.api(key=key) == {"error": "Incorrect request"}
        # actions whose issues have not landed answer a clear error
        assert pm.api(key=key, action="services") == []  # no upstream reachable: empty catalogue
        # every action is recognised; with nothing to act on, the panels' errors
        assert pm.api(key=key, action="add", service=1) == {"error": "Incorrect service ID"}
        assert pm.api(key=key, action="status", order=1) == {"error": "Incorrect order ID"}
        assert pm.api(key=key, action="status") == {"error": "Incorrect order ID"}
        assert pm.api(key=key, action="refill", order=1) == {"error": "Incorrect order ID"}
        assert pm.api(key=key, action="refill_status", refill=1) == {"error": "Refill not found"}
        assert pm.api(key=key, action="cancel", orders="1") == [{"order": 1, "cancel": {"error": "Incorrect order ID"}}]
        # the PHP client's refill family without `action`
        assert pm.api(key=key, refills="1,2") == [{"refill": 1, "status": {"error": "Refill not found"}},
                                                  {"refill": 2, "status": {"error": "Refill not found"}}]
        assert pm.api(key=key, orders="1,2") == [{"order": 1, "refill": {"error": "Incorrect order ID"}},
                                                 {"order": 2, "refill": {"error": "Incorrect order ID"}}]
        # ID lists: spaces trimmed, duplicates answered once, at most 100
        assert pm.api(key=key, action="status", orders="3, 3 ,4") == {"3": {"error": "Incorrect order ID"},
                                                                      "4": {"error": "Incorrect order ID"}}
        assert pm.api(key=key, action="status", orders=",".join(str(i) for i in range(1, 102))) == \
            {"error": "Maximum 100 IDs per request"}
        assert len(pm.api(key=key, action="status", orders=",".join(str(i) for i in range(1, 101)))) == 100
        # action names are matched case-insensitively
        assert pm.api(key=key, action="BALANCE")["balance"] == "5.00000"


def test_bad_bodies(env):
    with _started(env) as pm:
        key = pm.customer("dave", "1")
        pm.start()
        cases = [
            ("application/json", b"{not json"),
            ("application/json", b"[1,2,3]"),
            ("application/json", b'{"key":{"nested":1}}'),
            ("multipart/form-data; boundary=xyz", b"--xyz\r\nno headers end"),
            ("multipart/form-data", b"--xyz\r\n\r\n"),
            ("application/x-www-form-urlencoded", b"key=%zz&action=balance"),
            ("application/x-www-form-urlencoded", b"key=a%00b&action=balance"),
        ]
        for ctype, body in cases:
            r = pm.request("POST", "/api/v2", body, {"Content-Type": ctype})
            assert r.status == 200, (ctype, body, r)
            assert "error" in r.json(), (ctype, body, r)
        # still serving
        assert pm.api(key=key, action="balance")["balance"] == "1.00000"


def test_oversized_body_413(env):
    with _started(env, extra="limits:\n  max_body: 64KiB\n") as pm:
        key = pm.customer("erin", "1")
        pm.start()
        big = "key=%s&action=balance&pad=%s" % (key, "x" * (70 * 1024))
        r = pm.request("POST", "/api/v2", big, {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 413, r
        ok = "key=%s&action=balance&pad=%s" % (key, "x" * (60 * 1024))
        r = pm.request("POST", "/api/v2", ok, {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200 and r.json()["balance"] == "1.00000", r


def test_oversized_headers(env):
    with _started(env) as pm:
        pm.start()
        r = pm.request("GET", "/api/v2?action=balance", headers={"X-Pad": "y" * 40000})
        assert r.status in (400, 413, 431), r
        assert pm.api(key="x", action="balance") == {"error": "Invalid API key"}


def test_unknown_path_and_method(env):
    with _started(env) as pm:
        pm.start()
        r = pm.request("POST", "/api/v1", "action=balance")
        assert r.status == 404 and r.json() == {"error": "Not found"}, r
        r = pm.request("POST", "/api/v2x", "action=balance")
        assert r.status == 404, r
        r = pm.request("PUT", "/api/v2", "action=balance")
        assert r.status in (405, 501), r  # evhttp answers 501 Not Implemented


# --- issue 15: field findings ------------------------------------------------

FORM_CT = "application/x-www-form-urlencoded"


def _start_catalogue(pm):
    """Start PM (on a fake panel) once its catalogue is imported; returns a
    funded customer's key."""
    key = pm.customer("cust", "100")
    pm.start()
    wait_for(lambda: pm.api(key=key, action="services") or None, what="catalogue import")
    return key


def _read_responses(data):
    """Split the bytes DATA read from one connection into (status, headers,
    body) responses; a truncated tail is ignored."""
    out = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return out
        head = data[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(data) < end + 4 + n:
            return out
        out.append((status, headers, data[end + 4:end + 4 + n]))
        data = data[end + 4 + n:]


def _raw(pm, data, want=None, timeout=5.0):
    """Send the bytes DATA on a fresh connection and read the answers: until
    WANT responses have come (then whether the server closed is looked at
    without waiting), or with WANT None until the server closes (at most
    TIMEOUT seconds without a byte).  Returns (responses, closed)."""
    s = socket.create_connection(("127.0.0.1", pm.port), timeout=timeout)
    got, closed = b"", False
    try:
        s.sendall(data)
        while want is None or len(_read_responses(got)) < want:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
        if not closed and want is not None:
            s.setblocking(False)
            try:
                closed = s.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed = True
    finally:
        s.close()
    return _read_responses(got), closed


def _head(*lines):
    return ("POST /api/v2 HTTP/1.1\r\nHost: t\r\n" + "".join(l + "\r\n" for l in lines) + "\r\n").encode()


def test_framing_refused(env):
    """Request smuggling: a Content-Length that more than one reading could
    disagree on, or one beside Transfer-Encoding, is refused with 400 and
    the connection is closed, before the request or what follows it is
    acted on."""
    with FakePanel(env) as fp, Panelmux(env, config=alpha_config(), up_port=fp.port) as pm:
        key = _start_catalogue(pm)
        inner = urllib.parse.urlencode({"key": key, "action": "add", "service": 1,
                                        "link": "https://x.example/smuggled", "quantity": 1000})
        smuggled = (_head("Content-Type: " + FORM_CT, f"Content-Length: {len(inner)}") +
                    inner.encode())
        outer = urllib.parse.urlencode({"key": key, "action": "balance"}).encode()
        n = len(outer)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (n, outer)
        cases = [
            # two lengths: the first covers the balance request, the second
            # also the smuggled add behind it
            ("two different lengths",
             _head("Content-Type: " + FORM_CT, f"Content-Length: {n}",
                   f"Content-Length: {n + len(smuggled)}") + outer + smuggled),
            ("two equal lengths",
             _head("Content-Type: " + FORM_CT, f"Content-Length: {n}", f"Content-Length: {n}") +
             outer + smuggled),
            ("a signed length",
             _head("Content-Type: " + FORM_CT, f"Content-Length: +{n}") + outer + smuggled),
            ("a leading zero",
             _head("Content-Type: " + FORM_CT, f"Content-Length: 0{n}") + outer + smuggled),
            ("a tab before the digits",
             _head("Content-Type: " + FORM_CT, f"Content-Length: \t{n}") + outer + smuggled),
            ("space before the colon",
             _head("Content-Type: " + FORM_CT, f"Content-Length : {n}") + outer + smuggled),
            ("length and chunked",
             _head("Content-Type: " + FORM_CT, "Transfer-Encoding: chunked",
                   f"Content-Length: {len(chunked) + len(smuggled)}") + chunked + smuggled),
            ("length and an unknown transfer coding",
             _head("Content-Type: " + FORM_CT, "Transfer-Encoding: gzip, chunked",
                   f"Content-Length: {n}") + outer + smuggled),
            ("length and an obfuscated chunked",
             _head("Content-Type: " + FORM_CT, "Transfer-Encoding: \tchunked",
                   f"Content-Length: {n}") + outer + smuggled),
            ("an unknown transfer coding",
             _head("Content-Type: " + FORM_CT, "Transfer-Encoding: gzip, chunked") +
             chunked + smuggled),
            ("identity", _head("Content-Type: " + FORM_CT, "Transfer-Encoding: identity") +
             outer + smuggled),
            ("two transfer codings",
             _head("Content-Type: " + FORM_CT, "Transfer-Encoding: identity",
                   "Transfer-Encoding: chunked") + chunked + smuggled),
        ]
        for what, data in cases:
            resps, closed = _raw(pm, data)
            assert len(resps) == 1, (what, resps)
            status, headers, body = resps[0]
            assert status == 400, (what, status, body)
            assert closed and headers.get("connection", "").lower() == "close", (what, headers)
            # Debian's libevent 2.1.12 (security fixes) refuses some
            # Transfer-Encoding cases itself, with an HTML page
            if "Transfer-Encoding" not in data.split(b"\r\n\r\n")[0].decode():
                assert headers.get("content-type") == "application/json", (what, headers)
            if headers.get("content-type") == "application/json":
                assert "error" in json.loads(body), (what, body)
        # evhttp refuses what it cannot read as a number itself (an HTML 400)
        for bad in (f"{n}, {n}", f"{n}x", f"-{n}", ""):
            resps, closed = _raw(pm, _head("Content-Type: " + FORM_CT, f"Content-Length: {bad}") +
                                 outer + smuggled)
            assert [r[0] for r in resps] == [400] and closed, (bad, resps)
        # nothing was acted on: no order, no money moved
        assert pm.sql("SELECT count(*) FROM orders") == [("0",)]
        assert pm.api(key=key, action="balance")["balance"] == "100.00000"
        assert [c for c in fp.calls() if c["action"] == "add"] == []
        # an overlong length is over any body limit: evhttp's own 413
        resps, closed = _raw(pm, _head("Content-Type: " + FORM_CT,
                                       "Content-Length: 99999999999999999999999") + outer)
        assert [r[0] for r in resps] == [413] and closed, resps
        # the ordinary framings still work, kept alive
        for data in (_head("Content-Type: " + FORM_CT, f"Content-Length: {n}") + outer,
                     _head("Content-Type: " + FORM_CT, "Transfer-Encoding: chunked") + chunked,
                     _head("Content-Type: " + FORM_CT, "Content-Length: 0")):
            resps, closed = _raw(pm, data * 2, want=2)
            assert len(resps) == 2 and not closed, (data, resps)
            assert all(r[1].get("connection", "").lower() != "close" for r in resps), resps
            assert all(r[0] == 200 for r in resps), resps
        assert pm.sql("SELECT count(*) FROM orders") == [("0",)]


def test_text_plain_json_body(env):
    """A JSON object sent as text/plain (fetch() with a string body) or with
    no Content-Type is read as JSON; a text/plain body that is neither JSON
    nor form data gets an error naming the accepted types."""
    with _started(env) as pm:
        key = pm.customer("plain", "3")
        pm.start()
        want = {"balance": "3.00000", "currency": "USD"}
        body = json.dumps({"key": key, "action": "balance"})
        for headers in ({"Content-Type": "text/plain"},
                        {"Content-Type": "text/plain;charset=UTF-8"},
                        {}):
            r = pm.request("POST", "/api/v2", body, headers)
            assert r.status == 200 and r.json() == want, (headers, r)
        # form data sent as text/plain still works
        r = pm.request("POST", "/api/v2", urllib.parse.urlencode({"key": key, "action": "balance"}),
                       {"Content-Type": "text/plain;charset=UTF-8"})
        assert r.status == 200 and r.json() == want, r
        # neither: a clear error, not "Invalid API key"
        for text in ("hello", "[1,2]", key):
            r = pm.request("POST", "/api/v2", text, {"Content-Type": "text/plain"})
            assert r.status == 200, r
            err = r.json()["error"]
            assert "application/x-www-form-urlencoded" in err and "application/json" in err, (text, err)
        # JSON meant as JSON: its own error
        r = pm.request("POST", "/api/v2", '{"key":', {"Content-Type": "text/plain"})
        assert r.json() == {"error": "The body is not valid JSON."}, r


def test_json_quantity_above_int64(env):
    """A JSON quantity beyond int64 is a quantity over the maximum, not
    invalid JSON; nothing is charged."""
    with FakePanel(env) as fp, Panelmux(env, config=alpha_config(), up_port=fp.port) as pm:
        key = _start_catalogue(pm)
        svc = {s["service"]: s for s in pm.api(key=key, action="services")}[1]
        want = {"error": "Quantity more than maximum %s" % svc["max"]}
        for q in ("99999999999999999999999", "9223372036854775808"):
            body = '{"key":"%s","action":"add","service":1,"link":"https://x.example/big",' \
                   '"quantity":%s}' % (key, q)
            r = pm.request("POST", "/api/v2", body, {"Content-Type": "application/json"})
            assert r.status == 200 and r.json() == want, (q, r)
        assert pm.sql("SELECT count(*) FROM orders") == [("0",)]
        assert pm.api(key=key, action="balance")["balance"] == "100.00000"


def test_id_list_in_single_form(env):
    """`order=1,2` (a Node SDK's multi-status) is the list form: the multi
    shape.  The same for refill_status `refill=`, refill and cancel."""
    with FakePanel(env) as fp, Panelmux(env, config=alpha_config(), up_port=fp.port) as pm:
        key = _start_catalogue(pm)
        oid = pm.api(key=key, action="add", service=1, link="https://x.example/l", quantity=1000)["order"]
        one = pm.api(key=key, action="status", order=oid)
        assert one["status"] in ("Pending", "In progress"), one
        got = pm.api(key=key, action="status", order=f"{oid},999999")
        assert got == {str(oid): one, "999999": {"error": "Incorrect order ID"}}, got
        assert pm.api(key=key, action="status", order=f"{oid}, {oid}") == {str(oid): one}
        # a single ID stays the single form
        assert pm.api(key=key, action="status", order=str(oid)) == one
        assert pm.api(key=key, action="refill_status", refill="7,8") == \
            [{"refill": 7, "status": {"error": "Refill not found"}},
             {"refill": 8, "status": {"error": "Refill not found"}}]
        assert pm.api(key=key, action="refill", order="999998,999999") == \
            [{"order": 999998, "refill": {"error": "Incorrect order ID"}},
             {"order": 999999, "refill": {"error": "Incorrect order ID"}}]
        assert pm.api(key=key, action="cancel", order="999998,999999") == \
            [{"order": 999998, "cancel": {"error": "Incorrect order ID"}},
             {"order": 999999, "cancel": {"error": "Incorrect order ID"}}]
        # the list form's own field wins, and its limit holds
        assert pm.api(key=key, action="status", order=f"{oid},5", orders="999999") == \
            {"999999": {"error": "Incorrect order ID"}}
        assert pm.api(key=key, action="status", order=",".join(str(i) for i in range(1, 102))) == \
            {"error": "Maximum 100 IDs per request"}


DEFAULT_LIMITS_CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  admin: "127.0.0.1:{admin_port}"
store:
  {store}
log:
  level: info
upstreams:
  - name: alpha
    url: "http://127.0.0.1:{up_port}/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
services:
  - import: alpha
    id_offset: 0
"""


def test_default_limits_status_cron(env):
    """With the default limits, a status cron (one unpaced `status` per
    order, from one key and one address, over keep-alive) is never
    refused; a burst of writes beyond the write bucket still is."""
    with FakePanel(env) as fp, \
            Panelmux(env, config=DEFAULT_LIMITS_CONFIG, up_port=fp.port) as pm:
        key = pm.customer("cron", "100")
        pm.start()
        wait_for(lambda: pm.api(key=key, action="services") or None, what="catalogue import")
        oid = pm.api(key=key, action="add", service=1, link="https://x.example/c", quantity=1000)["order"]
        conn = http.client.HTTPConnection("127.0.0.1", pm.port, timeout=10)
        statuses = []
        try:
            for i in range(1000):
                conn.request("POST", "/api/v2",
                             urllib.parse.urlencode({"key": key, "action": "status",
                                                     "order": oid if i % 2 == 0 else 999000 + i}),
                             {"Content-Type": FORM_CT})
                r = conn.getresponse()
                body = r.read()
                statuses.append(r.status)
                assert r.status == 200, (i, r.status, body)
            # writes: the bucket (50/s, burst 100) runs out
            writes = []
            for i in range(400):
                conn.request("POST", "/api/v2",
                             urllib.parse.urlencode({"key": key, "action": "cancel",
                                                     "orders": 999000 + i}),
                             {"Content-Type": FORM_CT})
                r = conn.getresponse()
                writes.append((r.status, json.loads(r.read())))
            # reads are still served: separate buckets
            conn.request("POST", "/api/v2", urllib.parse.urlencode({"key": key, "action": "balance"}),
                         {"Content-Type": FORM_CT})
            r = conn.getresponse()
            after = (r.status, json.loads(r.read()))
        finally:
            conn.close()
        assert statuses.count(200) == 1000
        limited = [b for s, b in writes if s == 429]
        assert all(s == 200 for s, _ in writes[:100]), writes[:100]
        assert limited and all(b == {"error": "Too many requests"} for b in limited), writes[-3:]
        assert after[0] == 200 and "balance" in after[1], after
