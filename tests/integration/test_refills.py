"""Refill rules (issue 19): a service's refill window after completion and
a per-order cooldown, each answered with a clear error and never sent
upstream; a customer's own order that cannot be refilled says why, while
other customers' and unknown IDs stay `Incorrect order ID`."""
import json

from harness import Panelmux, FakePanel, http_request, wait_for
from test_refunds import upstream_order_id

WINDOW_S = 6
COOLDOWN_S = 2


def config(route):
    return f"""\
listen:
  api: "127.0.0.1:{{port}}"
  admin: "127.0.0.1:{{admin_port}}"
store:
  {{store}}
log:
  level: debug
limits:
  max_connections_per_ip: 100000
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
orders:
  reply_wait: 1s
  refill_cooldown: {COOLDOWN_S}s
upstreams:
  - name: alpha
    url: "http://127.0.0.1:{{up_port}}/api/v2"
    key: "${{{{PMX_TEST_UPSTREAM_KEY}}}}"
    poll_interval: 300ms
    timeout: 2s
services:
  - id: 1
    route: ["alpha:{route}"]
    refill_window: {WINDOW_S}s
  - import: alpha
    id_offset: 1000
"""


def refill_service(fp):
    """A service the fake panel offers with refill."""
    r = http_request(fp.port, "POST", "/api/v2", "key=upstream-secret&action=services",
                     {"Content-Type": "application/x-www-form-urlencoded"})
    svcs = json.loads(r.body)
    return next(int(s["service"]) for s in svcs
                if s.get("refill") in (True, 1, "1") and s["type"] == "Default")


def refill_calls(fp):
    return [c for c in fp.calls() if c["action"] == "refill"]


def completed_order(pm, fp, key, service):
    r = pm.api(key=key, action="add", service=service, link="https://x.example/r", quantity=100)
    assert "order" in r, r
    up = wait_for(lambda: _upstream(pm, r["order"]), what="sent")
    fp.control(op="set", order=up, status="Completed", remains=0)
    wait_for(lambda: pm.api(key=key, action="status", order=r["order"])["status"] == "Completed",
             what="completed")
    return r["order"]


def _upstream(pm, local):
    rows = pm.sql("SELECT upstream_order FROM orders WHERE id = ?", local)
    return rows[0][0] if rows and rows[0][0] else None


def test_refill_window_and_cooldown(env):
    with FakePanel(env, services=8) as fp:
        svc = refill_service(fp)
        with Panelmux(env, config=config(svc), up_port=fp.port) as pm:
            key = pm.customer("refiller", "50")
            other = pm.customer("someone", "5")
            pm.start()
            wait_for(lambda: any(s["service"] == 1 for s in pm.api(key=key, action="services")),
                     what="catalogue")
            order = completed_order(pm, fp, key, 1)
            # another customer's order and an unknown ID: as before
            assert pm.api(key=other, action="refill", order=order) == {"error": "Incorrect order ID"}
            assert pm.api(key=key, action="refill", order=order + 1000) == \
                {"error": "Incorrect order ID"}
            accepted = 0
            first = pm.api(key=key, action="refill", order=order)
            assert "refill" in first, first
            accepted += 1
            # inside the cooldown: refused with when the next may be asked
            again = pm.api(key=key, action="refill", order=order)
            assert again["error"].startswith("A refill of this order was requested at "), again
            assert "the next one can be requested from" in again["error"], again
            multi = pm.api(key=key, action="refill", orders=str(order))
            assert multi[0]["refill"]["error"] == again["error"], multi
            # the cooldown ends: accepted again (the condition, not a sleep)
            second = wait_for(lambda: (lambda r: r if "refill" in r else None)(
                pm.api(key=key, action="refill", order=order)),
                timeout=COOLDOWN_S + 5, interval=0.25, what="cooldown over")
            accepted += 1
            assert second["refill"] != first["refill"], (first, second)
            # past the window after completion: refused for good; count the
            # refills accepted on the way (a cooldown may end before it)
            def window_over():
                r = pm.api(key=key, action="refill", order=order)
                if "refill" in r:
                    window_over.extra += 1
                    return None
                return r if "refill period" in r["error"] else None
            window_over.extra = 0
            over = wait_for(window_over, timeout=WINDOW_S + 5, interval=0.25,
                            what="the window ended")
            accepted += window_over.extra
            assert over["error"].startswith("The refill period of this order ended at "), over
            assert f"({WINDOW_S} seconds after completion)" in over["error"], over
            # the upstream saw exactly the refills that were accepted
            wait_for(lambda: len(refill_calls(fp)) >= accepted, what="refills sent")
            calls = refill_calls(fp)
            assert len(calls) == accepted, (calls, accepted)
            assert "check: ok" in pm.check()


def test_own_orders_that_cannot_be_refilled_say_why(env):
    with FakePanel(env, services=8) as fp:
        svc = refill_service(fp)
        with Panelmux(env, config=config(svc), up_port=fp.port) as pm:
            key = pm.customer("asker", "50")
            pm.start()
            wait_for(lambda: any(s["service"] == 1 for s in pm.api(key=key, action="services")),
                     what="catalogue")
            # refused by the upstream: rejected and refunded
            fp.fault("add", "error:Link is invalid")
            r = pm.api(key=key, action="add", service=1, link="https://x.example/bad", quantity=100)
            assert r.get("error"), r
            rejected = pm.sql("SELECT id FROM orders WHERE state = 'rejected'")[0][0]
            assert pm.api(key=key, action="refill", order=rejected) == \
                {"error": "This order was canceled and refunded: it cannot be refilled"}
            # an add with no answer: in doubt, never sent as far as we know
            fp.fault("add", "hang")
            r = pm.api(key=key, action="add", service=1, link="https://x.example/doubt", quantity=100)
            doubt = r["order"]
            assert pm.api(key=key, action="refill", order=doubt) == \
                {"error": "This order has not been sent to the provider yet: it cannot be refilled"}
            fp.fault("add", "none")
            assert refill_calls(fp) == []
