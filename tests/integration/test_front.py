"""The v2 front door: encodings, authentication, errors, limits."""
import json
import urllib.parse

from harness import Panelmux, multipart, assert_no_secret


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
