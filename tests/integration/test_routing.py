"""Routing and the same-link guard (issue 19): `cheapest` over three fake
panels with different costs, failing over on definite rejections, an open
circuit and a balance too low (that upstream receives no add at all); the
failover floor (pricing.min_margin) keeps the dearest route out; and the
same-link guard: 50 concurrent adds for one link from different customers,
exactly one accepted, the others refused with nothing charged; with
`reroute`, the second goes to another upstream."""
import re
import threading
from decimal import Decimal

from harness import FakePanel, Panelmux, http_request, postgres_only, wait_for

LINK_OPEN = "You have active order with this link. Please wait until order being completed."
UNAVAILABLE = "This service is temporarily unavailable, please try again later"

# Upstream costs of service 1: a is dearest, b cheapest, c between.  The
# listed rate is the dearest route's marked up 25%: 3.75.  With min_margin
# 30%, a (3.00 x 1.3 = 3.90) is under the floor: never used.
COSTS = {"a": "3.00", "b": "1.00", "c": "2.00"}


def config(extra_services="", min_margin="30%"):
    ups = "".join(f"""\
  - name: {n}
    url: "http://127.0.0.1:{{{n}_port}}/api/v2"
    key: "${{{{PMX_TEST_UPSTREAM_KEY}}}}"
    timeout: 1s
    sync_interval: 1h
""" for n in "abc")
    return f"""\
listen:
  api: "127.0.0.1:{{port}}"
  admin: "127.0.0.1:{{admin_port}}"
store:
  {{store}}
limits:
  max_connections_per_ip: 100000
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
pricing:
  min_margin: "{min_margin}"
orders:
  reply_wait: 5s
upstreams:
{ups}services:
  - id: 700
    route: ["a:1", "b:1", "c:1"]
    route_mode: cheapest
{extra_services}"""


class Three:
    """Three fake panels a, b, c with COSTS, and a daemon routing over
    them (not started)."""

    def __init__(self, env, extra_services="", balances=None, min_margin="30%"):
        self.fps = {}
        try:
            for n in "abc":
                extra = ("--balance", balances[n]) if balances and n in balances else ()
                self.fps[n] = FakePanel(env, services=5, extra=extra)
                self.fps[n].control(op="services", rate={"1": COSTS[n]})
            text = config(extra_services, min_margin)
            for n, fp in self.fps.items():
                text = text.replace("{%s_port}" % n, str(fp.port))
            self.text = text
            self.pm = Panelmux(env, config=text, up_port=self.fps["a"].port)
        except BaseException:
            self.close()
            raise

    def close(self):
        if getattr(self, "pm", None) is not None:
            self.pm.close()
        for fp in self.fps.values():
            fp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, key, sids=(700,)):
        self.pm.start()
        wait_for(lambda: all(s in self.services(key) for s in sids), what="routed services")
        # every upstream's list is in (the routes exist) and its balance read
        wait_for(lambda: len(re.findall(r"^[abc]\s+closed\s+\S+ \S+\s+5\s", self.pm.cli("upstream", "list").stdout,
                                        re.M)) == 3, what="three upstreams synced")

    def services(self, key):
        return {int(s["service"]): s for s in self.pm.api(key=key, action="services")}

    def adds(self, n):
        return [c for c in self.fps[n].calls() if c["action"] == "add"]

    def upstream_of(self, order):
        out = self.pm.cli("order", "show", str(order)).stdout
        m = re.search(r"^\s*upstream:?\s+([abc])\b", out, re.M)
        assert m, out
        return m.group(1)


def balance(pm, key):
    return Decimal(pm.api(key=key, action="balance")["balance"])


def add(pm, key, link, service=700):
    return pm.api(key=key, action="add", service=service, link=link, quantity=1000)


def test_cheapest_rejections_and_floor(env):
    with Three(env) as t:
        key = t.pm.customer("ch", "100")
        t.start(key)
        assert t.services(key)[700]["rate"] == "3.75"
        r = add(t.pm, key, "https://x.example/1")
        assert "order" in r, r
        assert t.upstream_of(r["order"]) == "b"
        # b refuses definitely: c (the next by cost) takes them; after a
        # few b is unhealthy and no longer tried first
        t.fps["b"].fault("add", "error:Incorrect link")
        for i in range(8):
            r = add(t.pm, key, f"https://x.example/r{i}")
            assert "order" in r, r
            assert t.upstream_of(r["order"]) == "c"
        tried = len(t.adds("b"))
        assert tried < 1 + 8, tried
        r = add(t.pm, key, "https://x.example/after")
        assert t.upstream_of(r["order"]) == "c" and len(t.adds("b")) == tried
        # c refuses too: a would sell under its cost x 1.3, so it is never
        # tried; the order is refused and refunded
        t.fps["c"].fault("add", "error:Incorrect link")
        before = balance(t.pm, key)
        r = add(t.pm, key, "https://x.example/none")
        assert r == {"error": "Incorrect link"}, r
        assert balance(t.pm, key) == before
        assert t.adds("a") == []
        assert "check: ok" in t.pm.check()


def test_cheapest_circuit_open(env):
    with Three(env, min_margin="0%") as t:
        key = t.pm.customer("co", "100")
        t.start(key)
        t.fps["b"].stop()  # not sent: the breaker opens after a few
        for i in range(8):
            r = add(t.pm, key, f"https://x.example/c{i}")
            assert "order" in r, r
            assert t.upstream_of(r["order"]) == "c"
        metrics = http_request(t.pm.admin_port, "GET", "/metrics").body.decode()
        assert re.search(r'^panelmux_upstream_circuit_open\{upstream="b",state="open"\} 1$', metrics, re.M), metrics
        # no margin floor here: a is the last resort when c fails too
        t.fps["c"].fault("add", "error:Incorrect link")
        r = add(t.pm, key, "https://x.example/last")
        assert "order" in r and t.upstream_of(r["order"]) == "a", r
        assert "check: ok" in t.pm.check()


def test_cheapest_balance_too_low(env):
    # b's own balance cannot pay an order (1.00 of cost per 1000)
    with Three(env, balances={"b": "0.01", "c": "2.50"}) as t:
        key = t.pm.customer("bl", "100")
        t.start(key)
        wait_for(lambda: re.search(r'^panelmux_upstream_balance_estimate\{upstream="b"\} 0\.01\b',
                                   http_request(t.pm.admin_port, "GET", "/metrics").body.decode(), re.M),
                 what="b's balance estimate")
        r = add(t.pm, key, "https://x.example/b1")
        assert "order" in r and t.upstream_of(r["order"]) == "c", r
        assert t.adds("b") == []
        # c's estimate is now 0.50: the next order waits queued (a is
        # under the floor), charged, never sent and refused upstream
        r = add(t.pm, key, "https://x.example/b2")
        assert "order" in r, r
        assert len(t.adds("c")) == 1 and t.adds("b") == [] and t.adds("a") == []
        st = t.pm.api(key=key, action="status", order=r["order"])
        assert st["status"] == "Pending", st
        assert "check: ok" in t.pm.check()


def concurrent_adds(pm, keys, links, service):
    """Each key adds one of LINKS at once; PM is a daemon or a list of
    them (the adds spread over them)."""
    pms = pm if isinstance(pm, list) else [pm]
    out = [None] * len(keys)
    go = threading.Event()

    def one(i):
        go.wait()
        out[i] = add(pms[i % len(pms)], keys[i], links[i % len(links)], service)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(keys))]
    for th in ts:
        th.start()
    go.set()
    for th in ts:
        th.join()
    return out


def test_same_link_refuse(env):
    svc = """\
  - id: 800
    route: ["b:1", "c:1"]
    same_link: refuse
"""
    with Three(env, extra_services=svc) as t:
        keys = [t.pm.customer("sl0", "10")]
        t.start(keys[0], sids=(700, 800))
        keys += t.pm.customers_api([f"sl{i}" for i in range(1, 50)], "10")
        # one link written many ways (the normalisation rule)
        links = ["https://www.insta.example/p/XyZ/", "http://insta.example/p/XyZ?utm_source=a",
                 "https://INSTA.example/p/XyZ#top", "https://m.insta.example/p/XyZ?igshid=1&si=2"]
        res = concurrent_adds(t.pm, keys, links, 800)
        ok = [i for i, r in enumerate(res) if "order" in r]
        assert len(ok) == 1, res
        assert all(r == {"error": LINK_OPEN} for i, r in enumerate(res) if i not in ok), res
        for i, k in enumerate(keys):
            want = Decimal("10") if i not in ok else Decimal("10") - Decimal(t.services(k)[800]["rate"])
            assert balance(t.pm, k) == want, (i, balance(t.pm, k))
        assert len(t.adds("b")) + len(t.adds("c")) == 1
        # another link, another service: fine; the same service after the
        # order ends: fine again
        assert "order" in add(t.pm, keys[1], "https://insta.example/p/Other", 800)
        assert "order" in add(t.pm, keys[1], links[0], 700)
        assert "check: ok" in t.pm.check()


def test_same_link_reroute(env):
    svc = """\
  - id: 801
    route: ["b:1", "c:1"]
    same_link: reroute
"""
    # no margin floor: c (2.00 of cost) may serve the listed 2.50
    with Three(env, extra_services=svc, min_margin="0%") as t:
        keys = [t.pm.customer(f"rr{i}", "10") for i in range(3)]
        t.start(keys[0], sids=(700, 801))
        r1 = add(t.pm, keys[0], "https://x.example/same", 801)
        r2 = add(t.pm, keys[1], "https://www.x.example/same/", 801)
        r3 = add(t.pm, keys[2], "http://x.example/same", 801)
        assert "order" in r1 and "order" in r2, (r1, r2)
        assert {t.upstream_of(r1["order"]), t.upstream_of(r2["order"])} == {"b", "c"}
        assert r3 == {"error": LINK_OPEN}, r3
        assert balance(t.pm, keys[2]) == Decimal("10")
        assert len(t.adds("b")) == 1 and len(t.adds("c")) == 1
        assert "check: ok" in t.pm.check()


def test_balance_reread_after_funds_refusal(env):
    # b's account empties behind panelmux's back: its first refusal for
    # funds fails over to c and reads b's balance again; from then on b
    # gets no add
    with Three(env, min_margin="0%") as t:
        key = t.pm.customer("rb", "100")
        t.start(key)
        t.fps["b"].control(op="balance", set="0.01")
        r = add(t.pm, key, "https://x.example/f1")
        assert "order" in r and t.upstream_of(r["order"]) == "c", r
        assert len(t.adds("b")) == 1
        wait_for(lambda: re.search(r'^panelmux_upstream_balance_estimate\{upstream="b"\} 0\.01\b',
                                   http_request(t.pm.admin_port, "GET", "/metrics").body.decode(), re.M),
                 what="b's balance read again")
        r = add(t.pm, key, "https://x.example/f2")
        assert "order" in r and t.upstream_of(r["order"]) == "c", r
        assert len(t.adds("b")) == 1
        assert "check: ok" in t.pm.check()


def test_same_link_two_instances(env):
    """Two daemons on one PostgreSQL database: the store decides, so one
    order for the link in all, whichever instance each add reached."""
    postgres_only("several instances share one database")
    svc = """\
  - id: 800
    route: ["b:1", "c:1"]
    same_link: refuse
"""
    with Three(env, extra_services=svc) as t:
        keys = [t.pm.customer("ti0", "10")]
        other = Panelmux(env, config=t.text, up_port=t.fps["a"].port, name="pmx-b", share=t.pm)
        try:
            t.start(keys[0], sids=(700, 800))
            keys += t.pm.customers_api([f"ti{i}" for i in range(1, 50)], "10")
            other.start()
            wait_for(lambda: 800 in t.services(keys[0]) and
                     800 in {int(s["service"]) for s in other.api(key=keys[0], action="services")},
                     what="the second instance's catalogue")
            res = concurrent_adds([t.pm, other], keys, ["https://x.example/two", "http://www.x.example/two/"], 800)
            ok = [i for i, r in enumerate(res) if "order" in r]
            assert len(ok) == 1, res
            assert all(r == {"error": LINK_OPEN} for i, r in enumerate(res) if i not in ok), res
            rate = Decimal(t.services(keys[0])[800]["rate"])
            for i, k in enumerate(keys):
                assert balance(t.pm, k) == (Decimal("10") - rate if i in ok else Decimal("10")), i
            assert len(t.adds("b")) + len(t.adds("c")) == 1
            assert "check: ok" in t.pm.check()
        finally:
            other.close()


def test_same_link_reroute_stays_on_its_upstream(env):
    """A rerouted order is bound to the upstream the store gave it: while
    that one is down it waits queued (the sweeper retries it there), never
    failing over to the upstream that holds the link's other order."""
    svc = """\
  - id: 801
    route: ["b:1", "c:1"]
    same_link: reroute
"""
    with Three(env, extra_services=svc, min_margin="0%") as t:
        keys = [t.pm.customer(f"rs{i}", "10") for i in range(2)]
        t.start(keys[0], sids=(700, 801))
        r1 = add(t.pm, keys[0], "https://x.example/bound", 801)
        assert t.upstream_of(r1["order"]) == "b", r1
        port = t.fps["c"].port
        t.fps["c"].stop()
        r2 = add(t.pm, keys[1], "https://x.example/bound", 801)
        assert "order" in r2, r2
        assert t.pm.api(key=keys[1], action="status", order=r2["order"])["status"] == "Pending"
        assert t.upstream_of(r2["order"]) == "c"
        t.fps["c"].start(port=port)
        wait_for(lambda: len(t.adds("c")) == 1, timeout=30, what="the sweeper sending it to c")
        assert len(t.adds("b")) == 1
        assert "check: ok" in t.pm.check()
