"""Field findings (issue 15): what real clients and a hostile probe tripped
on, each through the real binaries: an upstream's refusal text never
reaches the customer, customers see the standard v2 status words only, an
unknown upstream status is logged once per change, money.decimals cannot
change under a store, a deposit past the largest balance is refused
clearly, the CLI works without the upstreams' secrets, and unset drip-feed
fields make a plain order."""
import re
import urllib.request
from decimal import Decimal

from harness import Panelmux, FakePanel, alpha_config, wait_for, http_request


def config(**alpha):
    alpha.setdefault("poll_interval", "300ms")
    return alpha_config(level="info", reply_wait="5s", **alpha)


def services(pm, key):
    return {s["service"]: s for s in pm.api(key=key, action="services")}


def start(pm, key):
    pm.start()
    return wait_for(lambda: services(pm, key) or None, what="catalogue import")


def upstream_order_id(pm, local):
    out = pm.cli("order", "show", str(local)).stdout
    m = re.search(r"^upstream order:\s+(\S+)", out, re.M)
    assert m and m.group(1) != "-", out
    return m.group(1)


def metric(pm, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{pm.admin_port}/metrics",
                                  timeout=10).read().decode()
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def status_calls(fp):
    return sum(1 for c in fp.calls() if c["action"] == "status")


def test_refusal_text_never_names_the_upstream(env):
    """An upstream refusing an add with its own name and address: the
    customer gets a neutral sentence and a full refund, the operator's log
    and the order record keep the original."""
    with FakePanel(env) as fp, Panelmux(env, config=config(), up_port=fp.port) as pm:
        key = pm.customer("refused", "10")
        start(pm, key)
        text = f"Order refused by SuperSMM.example (upstream 127.0.0.1:{fp.port})"
        fp.fault("add", "error:" + text)
        r = pm.api(key=key, action="add", service=1, link="https://x.example/a", quantity=100)
        assert r == {"error": "The order was refused, please check it and try again"}, r
        assert Decimal(pm.api(key=key, action="balance")["balance"]) == 10
        assert "SuperSMM.example" in pm.log()
        fp.fault("add", "error:Not enough funds on balance")
        r = pm.api(key=key, action="add", service=1, link="https://x.example/b", quantity=100)
        assert r == {"error": "This service is temporarily unavailable, please try again later"}, r
        fp.fault("add", "error:Quantity less than minimal 250")
        r = pm.api(key=key, action="add", service=1, link="https://x.example/c", quantity=100)
        assert r == {"error": "Quantity less than minimal 250"}, r
        fp.fault("add", "none")
        # refill and cancel refusals are neutral too
        r = pm.api(key=key, action="add", service=1, link="https://x.example/d", quantity=100)
        up = upstream_order_id(pm, r["order"])
        fp.control(op="set", order=up, status="Completed", remains=0)
        wait_for(lambda: pm.api(key=key, action="status", order=r["order"])["status"] == "Completed",
                 what="completed")
        fp.fault("refill", "error:" + text)
        got = pm.api(key=key, action="refill", order=r["order"])
        assert "SuperSMM" not in str(got) and "127.0.0.1" not in str(got), got
        assert Decimal(pm.api(key=key, action="balance")["balance"]) < 10
        assert "check: ok" in pm.check()


def test_customers_see_v2_status_words(env):
    """A v1 upstream's lower-case `processing` is shown as In progress;
    Refunded is shown as Canceled."""
    with FakePanel(env, dialect="v1") as fp, \
            Panelmux(env, config=config(), up_port=fp.port) as pm:
        key = pm.customer("words", "10")
        start(pm, key)
        a = pm.api(key=key, action="add", service=1, link="https://x.example/p", quantity=100)
        b = pm.api(key=key, action="add", service=1, link="https://x.example/r", quantity=100)
        fp.control(op="set", order=upstream_order_id(pm, a["order"]), status="Processing")
        fp.control(op="set", order=upstream_order_id(pm, b["order"]), status="Refunded")
        wait_for(lambda: pm.api(key=key, action="status", order=a["order"])["status"] == "In progress",
                 what="In progress")
        wait_for(lambda: pm.api(key=key, action="status", order=b["order"])["status"] == "Canceled",
                 what="Canceled")
        st = pm.api(key=key, action="status", orders=f"{a['order']},{b['order']}")
        assert {v["status"] for v in st.values()} <= {"Pending", "In progress", "Completed",
                                                     "Partial", "Canceled"}, st


def test_unknown_status_logged_once_per_change(env):
    """An order stuck in `Fail` is logged and counted once, not at every
    poll, and the operator sees the word in `order show`."""
    with FakePanel(env) as fp, Panelmux(env, config=config(), up_port=fp.port) as pm:
        key = pm.customer("stuck", "10")
        start(pm, key)
        r = pm.api(key=key, action="add", service=1, link="https://x.example/f", quantity=100)
        up = upstream_order_id(pm, r["order"])
        fp.control(op="set", order=up, status="Fail")
        wait_for(lambda: 'reports status "Fail"' in pm.log(), what="the Fail line")
        seen = status_calls(fp)
        wait_for(lambda: status_calls(fp) >= seen + 5, timeout=20, what="five more polls")
        assert pm.log().count('reports status "Fail"') == 1, pm.log()
        assert metric(pm, 'panelmux_order_events_total{event="unknown_status"}') == 1
        out = pm.cli("order", "show", str(r["order"])).stdout
        assert re.search(r"^upstream status:\s+Fail$", out, re.M), out
        assert pm.api(key=key, action="status", order=r["order"])["status"] == "Pending"
        # a change to another unknown word is news again
        fp.control(op="set", order=up, status="Stalled")
        wait_for(lambda: 'reports status "Stalled"' in pm.log(), what="the Stalled line")
        assert metric(pm, 'panelmux_order_events_total{event="unknown_status"}') == 2
        assert Decimal(pm.api(key=key, action="balance")["balance"]) < 10


def test_money_decimals_cannot_change(env):
    """money.decimals is recorded in the store: a restart with another value
    is refused with the reason, the CLI too; the old value works again."""
    with FakePanel(env) as fp, Panelmux(env, config=config(), up_port=fp.port) as pm:
        key = pm.customer("dec", "1.23456")
        start(pm, key)
        pm.stop()
        text = open(pm.config_path).read()
        assert "decimals" not in text
        pm.write_config(config(extra="money:\n  decimals: 2\n"))
        try:
            pm.start()
            raise AssertionError("panelmuxd started with another money.decimals")
        except RuntimeError as e:
            assert "money.decimals" in str(e), e
        pm.proc = None
        p = pm.cli("check", check=False)
        assert p.returncode != 0 and "money.decimals 5" in p.stderr, p.stderr
        pm.write_config(config(extra="money:\n  decimals: 5\n"))
        start(pm, key)
        assert pm.api(key=key, action="balance")["balance"] == "1.23456"
        assert "check: ok" in pm.check()


def test_deposit_past_the_largest_balance(env):
    """A deposit that would overflow is refused up front with a clear
    message; no SQL reaches the operator; nothing is written."""
    with Panelmux(env, config=config()) as pm:
        pm.customer("whale", "9999999999")
        p = pm.cli("customer", "fund", "whale", "2", check=False)
        assert p.returncode == 1, p
        assert "would exceed 10000000000" in p.stderr, p.stderr
        assert not re.search(r"UPDATE|INSERT|SELECT|customers SET", p.stderr), p.stderr
        # an amount no balance can hold is bad input (exit 2), with the
        # same sentence (the admin API answers it 400)
        p = pm.cli("customer", "fund", "whale", "92233720368", check=False)
        assert p.returncode == 2 and "would exceed" in p.stderr, p.stderr
        assert "9999999999.00000" in pm.cli("customer", "show", "whale").stdout
        pm.cli("customer", "fund", "whale", "1")
        assert "check: ok" in pm.check()


def test_cli_without_upstream_secrets(env):
    """The line `make run` prints works in another shell: commands that do
    not call an upstream need no upstream key; sync says what is missing."""
    with Panelmux(env, config=config()) as pm:
        pm.environ.pop("PMX_TEST_UPSTREAM_KEY")
        key = pm.cli("customer", "add", "bare").stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{32}", key), key
        pm.cli("customer", "fund", "bare", "5")
        assert "bare" in pm.cli("customer", "list").stdout
        assert "check: ok" in pm.check()
        pm.cli("order", "list")
        pm.cli("report")
        p = pm.cli("services", "sync", check=False)
        assert p.returncode != 0, p
        assert "PMX_TEST_UPSTREAM_KEY is not set" in p.stderr, p.stderr
        # the daemon still refuses to start without its secrets
        try:
            pm.start()
            raise AssertionError("panelmuxd started without its upstream key")
        except RuntimeError as e:
            assert "PMX_TEST_UPSTREAM_KEY" in str(e), e
        pm.proc = None


def test_unset_dripfeed_fields_make_a_plain_order(env):
    """`runs=undefined&interval=undefined` (a Node SDK) and `runs=1&interval=0`
    are plain orders: placed, charged once, no runs forwarded."""
    with FakePanel(env) as fp, Panelmux(env, config=config(), up_port=fp.port) as pm:
        key = pm.customer("sdk", "10")
        svcs = start(pm, key)
        rate = Decimal(svcs[1]["rate"])
        for runs, interval in (("undefined", "undefined"), ("1", "0"), ("", ""), ("null", "null")):
            before = Decimal(pm.api(key=key, action="balance")["balance"])
            r = pm.api(key=key, action="add", service=1, link=f"https://x.example/{runs}",
                       quantity=1000, runs=runs, interval=interval)
            assert "order" in r, (runs, interval, r)
            assert before - Decimal(pm.api(key=key, action="balance")["balance"]) == rate
            up = http_request(fp.port, "GET",
                              f"/control/orders/{upstream_order_id(pm, r['order'])}").json()
            assert "runs" not in up["params"] and "interval" not in up["params"], up
        assert "check: ok" in pm.check()
