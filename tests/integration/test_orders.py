"""Orders end to end through panelmuxd and the fake panel: every order type,
exact charges and refunds, concurrency on one balance, batching of status
calls, ambiguous adds and their resolution, and kill -9 crash safety."""
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, ROUND_CEILING, ROUND_FLOOR

from harness import Panelmux, FakePanel, alpha_config, wait_for, http_request, VALGRIND

SLOW = 5 if VALGRIND else 1  # timeouts stretch under valgrind

PRICING = """\
pricing:
  markup: "25%"
  round_to: "0.0001"
"""


def config(poll="60s", reply_wait="5s", timeout="3s"):
    return alpha_config(level="debug", reply_wait=reply_wait, extra=PRICING,
                        timeout=timeout, poll_interval=poll, max_connections=16)


def q(x, places="0.00001", rounding=ROUND_CEILING):
    return Decimal(x).quantize(Decimal(places), rounding=rounding)


def marked(rate):
    r = Decimal(rate) * Decimal("1.25")
    return (r / Decimal("0.0001")).to_integral_value(rounding=ROUND_CEILING) * Decimal("0.0001")


def setup(env, fp, poll="60s", reply_wait="5s", timeout="3s"):
    return Panelmux(env, config=config(poll, reply_wait, timeout), up_port=fp.port)


def services(pm, key):
    return {s["service"]: s for s in pm.api(key=key, action="services")}


def start(pm, key):
    pm.start()
    return wait_for(lambda: services(pm, key) or None, what="catalogue import")


def balance(pm, key):
    return Decimal(pm.api(key=key, action="balance")["balance"])


def polls_seen(fp, ids, n=3):
    """Wait until the fake panel has been asked for the status of every
    upstream order of IDS N more times: the condition 'several poll
    cycles have run', not a guess at their duration."""
    ids = {str(i) for i in ids}
    mark = len(fp.calls())

    def enough():
        asked = {}
        for c in fp.calls()[mark:]:
            if c["action"] == "status":
                for i in c.get("ids", []):
                    asked[str(i)] = asked.get(str(i), 0) + 1
        return all(asked.get(i, 0) >= n for i in ids)
    wait_for(enough, timeout=20 * SLOW, what=f"{n} polls of {sorted(ids)}")


def upstream_order(fp, pm, local):
    """The fake panel's order behind local order LOCAL."""
    out = pm.cli("order", "show", str(local)).stdout
    m = re.search(r"^upstream order:\s+(\S+)", out, re.M)
    assert m and m.group(1) != "-", out
    r = http_request(fp.port, "GET", f"/control/orders/{m.group(1)}")
    assert r.status == 200, r
    return r.json()


LINES10 = "\n".join(f"comment {i}" for i in range(10))

# service -> (fields, charged units or None for a package, forwarded checks)
TYPE_CASES = {
    1: ({"link": "https://ig.example/p1", "quantity": "1000"}, 1000),
    3: ({"link": "https://ig.example/p3", "quantity": "100", "runs": "3", "interval": "10"}, 300),
    2: ({"link": "https://ig.example/p2", "comments": LINES10 + "\r\n\r\n"}, 10),
    5: ({"link": "https://ig.example/p5"}, None),
    6: ({"link": "https://ig.example/p6", "quantity": "100", "usernames": "ann\nbob"}, 100),
    7: ({"link": "https://ig.example/p7", "quantity": "100", "usernames": "ann", "hashtags": "#a\n#b"}, 100),
    8: ({"link": "https://ig.example/p8", "usernames": "\n".join(f"user{i}" for i in range(10))}, 10),
    9: ({"link": "https://ig.example/p9", "quantity": "100", "hashtag": "#cats"}, 100),
    10: ({"link": "https://ig.example/p10", "quantity": "100", "username": "natgeo"}, 100),
    11: ({"link": "https://ig.example/p11", "quantity": "100", "media": "https://ig.example/m"}, 100),
    12: ({"link": "https://ig.example/p12", "quantity": "20", "username": "owner"}, 20),
    13: ({"link": "https://ig.example/p13", "username": "owner", "comments": "a\nb\nc\nd\ne"}, 5),
    14: ({"link": "https://ig.example/p14", "quantity": "100", "answer_number": "2"}, 100),
    15: ({"link": "https://ig.example/p15", "quantity": "100", "groups": "g1\ng2"}, 100),
    16: ({"username": "someone", "min": "50", "max": "100", "posts": "5", "delay": "30"}, 500),
    17: ({"link": "https://ig.example/p17", "comments": "great\nnice"}, None),
}

# service -> (fields without a required one, the error)
TYPE_ERRORS = {
    1: ({"link": "https://x.example", "quantity": "5"}, "Quantity less than minimal 10"),
    3: ({"link": "https://x.example", "quantity": "600000"}, "Quantity more than maximum 500000"),
    2: ({"link": "https://x.example"}, "Missing comments"),
    5: ({}, "Missing link"),
    7: ({"link": "https://x.example", "quantity": "100", "usernames": "a"}, "Missing hashtags"),
    9: ({"link": "https://x.example", "quantity": "100"}, "Missing hashtag"),
    14: ({"link": "https://x.example", "quantity": "100"}, "Missing answer_number"),
    16: ({"username": "u", "min": "50", "max": "100"}, "Missing delay"),
    20: ({"link": "https://x.example", "quantity": "100", "runs": "2", "interval": "5"},
         "Drip-feed is not available for this service"),
}


def test_every_order_type(env):
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("types", "1000")
        svcs = start(pm, key)
        spent = Decimal(0)
        for sid, (fields, units) in TYPE_CASES.items():
            rate = Decimal(svcs[sid]["rate"])
            before = balance(pm, key)
            r = pm.api(key=key, action="add", service=sid, **fields)
            assert "order" in r, (sid, r)
            want = rate if units is None else q(rate * units / 1000)
            got = before - balance(pm, key)
            assert got == want, (sid, svcs[sid]["type"], got, want)
            st = pm.api(key=key, action="status", order=r["order"])
            assert Decimal(st["charge"]) == want and st["currency"] == "USD", st
            spent += want
            # the fake panel got the type's fields, with its own service ID
            up = upstream_order(fp, pm, r["order"])
            params = up["params"]
            assert params["service"] == str(sid), params
            for k, v in fields.items():
                if k == "comments":
                    assert params[k].split("\n") == [l for l in v.replace("\r", "").split("\n") if l], (k, params)
                else:
                    assert params[k] == v, (sid, k, params)
        for sid, (fields, err) in TYPE_ERRORS.items():
            before = balance(pm, key)
            assert pm.api(key=key, action="add", service=sid, **fields) == {"error": err}, sid
            assert balance(pm, key) == before
        assert pm.api(key=key, action="add", service=999, link="x", quantity=100) == \
            {"error": "Incorrect service ID"}
        assert balance(pm, key) == Decimal(1000) - spent
        adds = [c for c in fp.calls() if c["action"] == "add"]
        assert len(adds) == len(TYPE_CASES)
        assert "check: ok" in pm.check()


def test_concurrent_adds_exact_funds(env):
    """500 concurrent adds on a key funded for exactly 100 of them."""
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("racer")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])  # 1000 units at the rate per 1000
        pm.cli("customer", "fund", "racer", str(charge * 100))

        def one(i):
            return pm.api(key=key, action="add", service=1, link=f"https://x.example/{i}", quantity=1000)

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(one, range(500)))
        ok = [r for r in results if "order" in r]
        funds = [r for r in results if r.get("error") == "Not enough funds on balance"]
        assert len(ok) == 100 and len(funds) == 400, (len(ok), len(funds), [r for r in results if r not in ok + funds][:3])
        assert len({r["order"] for r in ok}) == 100
        assert pm.api(key=key, action="balance")["balance"] == "0.00000"
        assert len([c for c in fp.calls() if c["action"] == "add"]) == 100
        assert "check: ok" in pm.check()


def test_refunds_exact_once(env):
    with FakePanel(env, services=20) as fp, setup(env, fp, poll="300ms") as pm:
        key = pm.customer("refunds", "100")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])
        ids = {}
        for name in ("partial", "canceled", "refunded", "completed", "flip"):
            r = pm.api(key=key, action="add", service=1, link=f"https://x.example/{name}", quantity=1000)
            ids[name] = r["order"]
        start_balance = balance(pm, key)
        assert start_balance == 100 - 5 * charge
        up = {n: upstream_order(fp, pm, i)["order"] for n, i in ids.items()}
        fp.control(op="set", order=up["partial"], status="Partial", remains=157, start_count=3572)
        fp.control(op="set", order=up["canceled"], status="Canceled")
        fp.control(op="set", order=up["refunded"], status="Refunded")
        fp.control(op="set", order=up["completed"], status="Completed", remains=0)
        fp.control(op="set", order=up["flip"], status="Partial", remains=500)
        partial = q(charge * 157 / 1000, rounding=ROUND_FLOOR)
        flip = q(charge * 500 / 1000, rounding=ROUND_FLOOR)
        want = start_balance + partial + charge + charge + flip
        wait_for(lambda: balance(pm, key) == want, timeout=20, what="settlement")
        st = pm.api(key=key, action="status", orders=",".join(str(i) for i in ids.values()))
        assert st[str(ids["partial"])]["status"] == "Partial"
        assert st[str(ids["partial"])]["remains"] == "157"
        assert Decimal(st[str(ids["partial"])]["charge"]) == charge - partial
        assert st[str(ids["canceled"])]["status"] == "Canceled"
        # Refunded is not a v2 word: customers see Canceled (DESIGN.md)
        assert st[str(ids["refunded"])]["status"] == "Canceled"
        assert st[str(ids["completed"])] == {"charge": str(charge.quantize(Decimal("0.00001"))),
                                             "start_count": "0", "status": "Completed",
                                             "remains": "0", "currency": "USD"}
        # replays and flips move nothing
        fp.control(op="set", order=up["partial"], status="Partial", remains=10)
        fp.control(op="set", order=up["flip"], status="Canceled")
        fp.control(op="set", order=up["completed"], status="Refunded")
        # Settled orders are never polled again: the open one's polls
        # show the cycles have run.
        r = pm.api(key=key, action="add", service=1, link="https://x.example/odd", quantity=1000)
        odd = upstream_order(fp, pm, r["order"])["order"]
        polls_seen(fp, [odd])
        assert balance(pm, key) == want - charge
        assert "check: ok" in pm.check()
        # unknown words move no money either
        fp.control(op="set", order=odd, status="Teleported")
        polls_seen(fp, [odd])
        assert balance(pm, key) == want - charge
        assert "Teleported" in pm.log()


def _insert_active_orders(pm, n, customer_id=1):
    """N active orders of CUSTOMER_ID (upstream orders 100001..) with their
    charges and the deposit that paid them, in SQL both backends take."""
    pm.sql("WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)"
           " INSERT INTO orders (customer_id, service_id, type, state, quantity, rate, charge,"
           " fields, upstream, upstream_service, upstream_order, created_at, updated_at, polled_at,"
           " upstream_quantity)"
           " SELECT ?, 1, 'Default', 'active', 1000, 100000000, 100000000, '{}', 'alpha', 1,"
           " CAST(100000 + i AS TEXT), 0, 0, 0, 1000 FROM seq", n, customer_id)
    pm.sql("INSERT INTO ledger (customer_id, kind, amount, order_id, created_at)"
           " SELECT customer_id, 'charge', -100000000, id, 0 FROM orders WHERE customer_id = ?", customer_id)
    pm.sql("INSERT INTO ledger (customer_id, kind, amount, created_at) VALUES (?, 'deposit', ?, 0)",
           customer_id, n * 100000000)


def test_poll_cycle_batches(env):
    n = 10000
    # A generous upstream timeout: a loaded machine must not turn slow
    # answers into re-asked IDs, which is not what this test measures.
    with FakePanel(env, services=20) as fp, setup(env, fp, poll="5s", timeout="20s") as pm:
        key = pm.customer("bulk")
        _insert_active_orders(pm, n)
        pm.start()
        wait_for(lambda: services(pm, key) or None, what="import")
        # one whole cycle: every open order asked once, in full batches
        def status_calls():
            return [c for c in fp.calls() if c["action"] == "status"]
        wait_for(lambda: sum(len(c["ids"]) for c in status_calls()) >= n, timeout=30 * SLOW, what="a poll cycle")
        calls = status_calls()
        first = calls[: (n + 99) // 100]
        assert sum(len(c["ids"]) for c in first) == n, [len(c["ids"]) for c in first][:5]
        assert all(len(c["ids"]) <= 100 for c in calls)
        assert len({i for c in first for i in c["ids"]}) == n
        print(f"# poll cycle: {len(first)} status calls for {n} open orders")

        # fresh orders: 100 customers asking multi-status add no upstream
        # call.  A long poll interval from here on (SIGHUP), so that orders
        # stay fresh however slowly this machine creates them.
        text = open(pm.config_path).read().replace("poll_interval: 5s", "poll_interval: 10m")
        with open(pm.config_path, "w") as f:
            f.write(text)
        pm.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in pm.log(), what="reload")
        keys = pm.customers_api([f"c{i}" for i in range(100)], "10")
        mine = {}
        for k in keys:
            mine[k] = [pm.api(key=k, action="add", service=1, link=f"https://x.example/{k}/{j}", quantity=100)["order"]
                       for j in range(2)]
        mark = len(fp.calls())

        def ask(k):
            r = pm.api(key=k, action="status", orders=",".join(map(str, mine[k])))
            return all(v.get("status") == "Pending" for v in r.values())

        with ThreadPoolExecutor(max_workers=100) as pool:
            assert all(pool.map(ask, keys))
        ids = [o for k in keys for o in mine[k]]
        fresh = {row[0] for row in pm.sql(
            f"SELECT upstream_order FROM orders WHERE id IN ({','.join('?' * len(ids))})", *ids)}
        assert len(fresh) == 200
        later = [c for c in fp.calls()[mark:] if c["action"] == "status"]
        carried = [i for c in later for i in c["ids"] if str(i) in fresh]
        assert carried == [], carried[:10]


AMBIGUOUS_MODES = ["hang", "close", "502", "garbage"]


def test_ambiguous_adds(env):
    with FakePanel(env, services=20) as fp, setup(env, fp, reply_wait="1s", timeout="2s") as pm:
        key = pm.customer("amb", "100")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])
        orders = {}
        for mode in AMBIGUOUS_MODES:
            fp.fault("add", mode)
            r = pm.api(key=key, action="add", service=1, link=f"https://x.example/{mode}", quantity=1000)
            assert "order" in r, (mode, r)
            orders[mode] = r["order"]
            fp.fault("add", "none")
        # all stay 'sending' with their funds reserved, shown as Pending
        wait_for(lambda: len(re.findall(r"sending", pm.cli("order", "list", "--state", "sending").stdout))
                 == len(AMBIGUOUS_MODES), timeout=10, what="ambiguous orders")
        assert balance(pm, key) == 100 - len(AMBIGUOUS_MODES) * charge
        for mode, oid in orders.items():
            assert pm.api(key=key, action="status", order=oid)["status"] == "Pending"
        # the panel saw each add exactly once (never re-sent)
        adds = [c for c in fp.calls() if c["action"] == "add"]
        for mode in AMBIGUOUS_MODES:
            assert len([c for c in adds if c["params"].get("link") == f"https://x.example/{mode}"]) == 1, mode
        time.sleep(2.5)  # the sweeper runs; nothing is re-sent
        assert len([c for c in fp.calls() if c["action"] == "add"]) == len(AMBIGUOUS_MODES)
        # the operator resolves them: one found upstream, the others refunded
        created = next(c for c in adds if c["params"].get("link") == "https://x.example/close")
        p = pm.cli("order", "resolve", str(orders["close"]), "--upstream-order", str(created["order"]))
        assert "active" in p.stdout
        for mode in ("hang", "502", "garbage"):
            pm.cli("order", "resolve", str(orders[mode]), "--refund")
        assert pm.cli("order", "resolve", str(orders["hang"]), "--refund", check=False).returncode == 1
        assert balance(pm, key) == 100 - charge
        assert pm.api(key=key, action="status", order=orders["garbage"])["status"] == "Canceled"
        assert "check: ok" in pm.check()
        rep = pm.cli("report").stdout
        assert re.search(r"^alpha\s+1\s+4\s", rep, re.M), rep


def test_upstream_reuses_an_order_id(env):
    """An upstream that hands out an order ID again (the fake panel reset):
    the acceptance that would map a second order to it is refused alone,
    that order stays in doubt (charged, shown Pending), and the acceptances
    recorded with it in the same group commit (on PostgreSQL, one pipeline
    that the duplicate aborts and that then runs again statement by
    statement) stay recorded."""
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("dup", "100")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])
        first = pm.api(key=key, action="add", service=1, link="https://x.example/first", quantity=1000)["order"]
        wait_for(lambda: "active" in pm.cli("order", "show", str(first)).stdout, what="first accepted")
        fp.control(op="reset")
        replies = [None] * 6

        def add(i):
            replies[i] = pm.api(key=key, action="add", service=1,
                                link=f"https://x.example/again{i}", quantity=1000)
        ts = [threading.Thread(target=add, args=(i,)) for i in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert all(r is not None and "order" in r for r in replies), replies
        wait_for(lambda: len(re.findall(r"\bactive\b", pm.cli("order", "list", "--state", "active").stdout)) >= 6,
                 what="the other acceptances")
        sending = re.findall(r"\bsending\b", pm.cli("order", "list", "--state", "sending").stdout)
        active = re.findall(r"\bactive\b", pm.cli("order", "list", "--state", "active").stdout)
        assert (len(sending), len(active)) == (1, 6), (sending, active)
        assert "active" in pm.cli("order", "show", str(first)).stdout
        assert balance(pm, key) == 100 - 7 * charge
        assert "already mapped" in pm.log()
        assert "check: ok" in pm.check()


def test_failover_and_rejection(env):
    cfg = config(timeout="2s") + """\
  - id: 500
    route: ["alpha:1", "beta:1"]
"""
    cfg = cfg.replace("services:\n", """  - name: beta
    url: "http://127.0.0.1:{beta_port}/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
services:
""")
    with FakePanel(env, services=20) as fp, FakePanel(env, services=20) as fb:
        pm = Panelmux(env, config=cfg.replace("{beta_port}", str(fb.port)), up_port=fp.port)
        with pm:
            key = pm.customer("fo", "100")
            svcs = start(pm, key)
            wait_for(lambda: 500 in services(pm, key), what="routed service")
            # beta's import is in too (the catalogue has both routes)
            wait_for(lambda: re.search(r"^beta\s+closed\s+\S+ \S+\s+20\s", pm.cli("upstream", "list").stdout, re.M),
                     what="beta imported")
            # a definite rejection on alpha fails over to beta
            fp.fault("add", "error:Incorrect link")
            r = pm.api(key=key, action="add", service=500, link="https://x.example/fo", quantity=1000)
            assert "order" in r, r
            assert "beta" in pm.cli("order", "show", str(r["order"])).stdout
            # rejected by every route: refunded, the upstream's error to the customer
            fb.fault("add", "error:Incorrect link")
            before = balance(pm, key)
            r = pm.api(key=key, action="add", service=500, link="https://x.example/bad", quantity=1000)
            assert r == {"error": "Incorrect link"}, r
            assert balance(pm, key) == before
            # the upstream's own funds problem is not shown as the customer's
            fp.fault("add", "error:neworder.error.not_enough_funds")
            fb.fault("add", "error:Not enough funds on balance")
            r = pm.api(key=key, action="add", service=500, link="https://x.example/f", quantity=1000)
            assert r == {"error": "This service is temporarily unavailable, please try again later"}, r
            assert balance(pm, key) == before
            fp.fault("add", "none")
            fb.fault("add", "none")
            # not sent (alpha down): beta takes it
            fp.stop()
            r = pm.api(key=key, action="add", service=500, link="https://x.example/down", quantity=1000)
            assert "order" in r and "beta" in pm.cli("order", "show", str(r["order"])).stdout, r
            assert "check: ok" in pm.check()


def test_request_id_idempotent(env):
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("idem", "10")
        svcs = start(pm, key)
        a = pm.api(key=key, action="add", service=1, link="https://x.example/i", quantity=1000, request_id="r-1")
        b = pm.api(key=key, action="add", service=1, link=" https://x.example/i ", quantity="1000", request_id="r-1")
        assert a == b and "order" in a
        assert balance(pm, key) == 10 - Decimal(svcs[1]["rate"])
        c = pm.api(key=key, action="add", service=1, link="https://x.example/other", quantity=1000, request_id="r-1")
        assert "error" in c and "request_id" in c["error"], c
        assert len([x for x in fp.calls() if x["action"] == "add"]) == 1


def test_refill_and_refill_status(env):
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("rf", "100")
        other = pm.customer("other", "10")
        start(pm, key)
        o1 = pm.api(key=key, action="add", service=1, link="https://x.example/r1", quantity=1000)["order"]
        o2 = pm.api(key=key, action="add", service=1, link="https://x.example/r2", quantity=1000)["order"]
        for o in (o1, o2):
            fp.control(op="set", order=upstream_order(fp, pm, o)["order"], status="Completed", remains=0)
        r = pm.api(key=key, action="refill", order=o1)
        assert set(r) == {"refill"} and isinstance(r["refill"], str), r
        multi = pm.api(key=key, action="refill", orders=f"{o2},{o1 + 1000}")
        assert multi[0]["order"] == o2 and isinstance(multi[0]["refill"], int), multi
        assert multi[1] == {"order": o1 + 1000, "refill": {"error": "Incorrect order ID"}}
        # other customers never see these
        assert pm.api(key=other, action="refill", order=o1) == {"error": "Incorrect order ID"}
        assert pm.api(key=other, action="refill_status", refill=r["refill"]) == {"error": "Refill not found"}
        st = pm.api(key=key, action="refill_status", refill=r["refill"])
        assert st["status"] in ("Pending", "In progress", "Completed"), st
        ms = pm.api(key=key, action="refill_status", refills=f"{r['refill']},{multi[0]['refill']},999")
        assert [x["refill"] for x in ms] == [int(r["refill"]), multi[0]["refill"], 999]
        assert ms[2]["status"] == {"error": "Refill not found"}
        # the PHP client's forms without action
        assert "status" in pm.api(key=key, refill=r["refill"])
        # refill calls were batched: o2's multi request went as one call
        refills = [c for c in fp.calls() if c["action"] == "refill"]
        assert len(refills) == 2, refills


def test_cancel(env):
    with FakePanel(env, services=20) as fp, setup(env, fp, poll="60s") as pm:
        key = pm.customer("cx", "100")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])
        oids = [pm.api(key=key, action="add", service=1, link=f"https://x.example/c{i}", quantity=1000)["order"]
                for i in range(3)]
        r = pm.api(key=key, action="cancel", orders=f"{oids[0]},{oids[1]},424242")
        assert r == [{"order": oids[0], "cancel": 1}, {"order": oids[1], "cancel": 1},
                     {"order": 424242, "cancel": {"error": "Incorrect order ID"}}], r
        assert len([c for c in fp.calls() if c["action"] == "cancel"]) == 1  # one batched call
        # the refunds follow the Canceled status at once
        wait_for(lambda: balance(pm, key) == 100 - charge, what="cancel refunds")
        assert pm.api(key=key, action="cancel", order=oids[0]) == \
            [{"order": oids[0], "cancel": {"error": "This order cannot be canceled"}}]
        assert "check: ok" in pm.check()


def test_multi_refused_falls_back_to_single(env):
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("mr", "100")
        start(pm, key)
        oids = [pm.api(key=key, action="add", service=1, link=f"https://x.example/m{i}", quantity=1000)["order"]
                for i in range(3)]
        fp.control(op="multi", enabled=False)
        time.sleep(0.1)
        r = pm.api(key=key, action="cancel", orders=",".join(map(str, oids)))
        assert all(x["cancel"] == 1 for x in r), r
        assert "one ID at a time" in pm.log()


def _client(pm, key, n, stop, acked, lock, errors):
    rnd = random.Random(n)
    i = 0
    while not stop.is_set():
        i += 1
        link = f"https://x.example/k{n}/{i}"
        try:
            action = rnd.random()
            if action < 0.6:
                r = pm.api(key=key, action="add", service=1, link=link, quantity=100)
                if "order" in r:
                    with lock:
                        acked[r["order"]] = link
            elif action < 0.85 and acked:
                with lock:
                    some = random.sample(sorted(acked), min(5, len(acked)))
                pm.api(key=key, action="status", orders=",".join(map(str, some)))
            elif acked:
                with lock:
                    one = random.choice(sorted(acked))
                pm.api(key=key, action="cancel", orders=str(one))
        except Exception as e:  # connection refused/reset while the daemon is down
            errors.append(type(e).__name__)
            time.sleep(0.05)


def _adds_per_link(fp):
    seen = {}
    with open(fp.log_path) as f:
        for line in f:
            c = json.loads(line)
            if c.get("action") == "add":
                link = c["params"]["link"]
                seen[link] = seen.get(link, 0) + 1
    return seen


def _verify_after_restart(pm, fp, acked, lock):
    """What must hold after every restart: the ledger and the store's
    integrity (panelmux check), every acknowledged order present, and no
    order received twice upstream."""
    assert "check: ok" in pm.check()
    with lock:
        snapshot = dict(acked)
    known = {int(row[0]) for row in pm.sql("SELECT id FROM orders")}
    missing = [o for o in snapshot if o not in known]
    assert not missing, missing[:10]
    twice = {l: n for l, n in _adds_per_link(fp).items() if n > 1}
    assert not twice, list(twice.items())[:5]


def test_kill9_crash_safety(env):
    kills = int(os.environ.get("PMX_KILLS", "20"))
    clients = int(os.environ.get("PMX_CLIENTS", "200"))
    with FakePanel(env, services=20, extra=("--progress", "timer:400")) as fp, \
            setup(env, fp, poll="500ms", reply_wait="1s") as pm:
        key = pm.customer("crash", "1000000")
        start(pm, key)
        stop = threading.Event()
        acked, lock, errors = {}, threading.Lock(), []
        threads = [threading.Thread(target=_client, args=(pm, key, n, stop, acked, lock, errors), daemon=True)
                   for n in range(clients)]
        for t in threads:
            t.start()
        rnd = random.Random(7)
        for k in range(kills):
            time.sleep(rnd.uniform(0.2, 0.6))
            pm.proc.send_signal(signal.SIGKILL)
            pm.proc.wait()
            pm.proc = None
            pm.logf.close()
            pm.start()
            _verify_after_restart(pm, fp, acked, lock)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        _verify_after_restart(pm, fp, acked, lock)
        seen = _adds_per_link(fp)
        print(f"# {kills} kills, {clients} clients: {len(acked)} orders acknowledged, "
              f"{sum(seen.values())} adds upstream, {len(errors)} client errors while down")
        assert len(acked) > 50


def test_queued_order_sent_after_crash(env):
    """Charged but not sent (upstream down), then kill -9: the restarted
    daemon sends it once the upstream is back."""
    with FakePanel(env, services=20) as fp, setup(env, fp) as pm:
        key = pm.customer("q", "10")
        svcs = start(pm, key)
        port = fp.port
        fp.stop()
        r = pm.api(key=key, action="add", service=1, link="https://x.example/queued", quantity=1000)
        assert "order" in r, r
        assert "queued" in pm.cli("order", "show", str(r["order"])).stdout
        assert balance(pm, key) == 10 - Decimal(svcs[1]["rate"])
        pm.kill()
        pm.logf.close()
        fp.start(port=port)
        pm.start()
        wait_for(lambda: "active" in pm.cli("order", "show", str(r["order"])).stdout, timeout=15,
                 what="the queued order to be sent")
        adds = [c for c in fp.calls() if c["action"] == "add"]
        assert len(adds) == 1 and adds[0]["params"]["link"] == "https://x.example/queued", adds
        assert "check: ok" in pm.check()


def test_settled_orders_never_polled_and_private(env):
    with FakePanel(env, services=20) as fp, setup(env, fp, poll="300ms") as pm:
        key = pm.customer("s", "10")
        other = pm.customer("o", "10")
        start(pm, key)
        done = pm.api(key=key, action="add", service=1, link="https://x.example/done", quantity=1000)["order"]
        open_ = pm.api(key=key, action="add", service=1, link="https://x.example/open", quantity=1000)["order"]
        up_done = upstream_order(fp, pm, done)["order"]
        up_open = upstream_order(fp, pm, open_)["order"]
        fp.control(op="set", order=up_done, status="Completed", remains=0)
        wait_for(lambda: pm.api(key=key, action="status", order=done)["status"] == "Completed", what="settle")
        mark = len(fp.calls())
        polls_seen(fp, [up_open])
        polled = [i for c in fp.calls()[mark:] if c["action"] == "status" for i in c["ids"]]
        assert str(up_open) in map(str, polled), polled
        assert str(up_done) not in map(str, polled), polled
        # another customer's order IDs do not exist for them
        assert pm.api(key=other, action="status", order=done) == {"error": "Incorrect order ID"}
        assert pm.api(key=other, action="status", orders=f"{done},{open_}") == \
            {str(done): {"error": "Incorrect order ID"}, str(open_): {"error": "Incorrect order ID"}}
        assert pm.api(key=other, action="cancel", orders=str(open_)) == \
            [{"order": open_, "cancel": {"error": "Incorrect order ID"}}]
