"""The catalogue through the daemon: import from the fake panel in each
dialect, exact marked-up prices, the services reply shape, currency
conversion, dropped services and rate changes, the stored catalogue served
while upstreams are down, and the daemon answering under every fault."""
import json
import os
import re
import signal
import time
from decimal import Decimal, ROUND_CEILING

from harness import Panelmux, FakePanel, alpha_config, wait_for

CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  admin: "127.0.0.1:{admin_port}"
store:
  {store}
log:
  level: debug
limits:
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
pricing:
  markup: "25%"
  round_to: "0.0001"
currencies:
  EUR: "1.08"
upstreams:
  - name: alpha
    url: "http://127.0.0.1:{up_port}/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
    currency: {currency}
    sync_interval: {sync}
    timeout: 1s
services:
  - id: 1
    route: ["alpha:1"]
    markup: "40%"
  - import: alpha
    id_offset: 1000
"""


def ceil_to(x, step):
    return (x / step).to_integral_value(rounding=ROUND_CEILING) * step


def expected_rate(up_rate, pct, factor=Decimal(1)):
    conv = ceil_to(Decimal(up_rate) * factor, Decimal("0.00000001"))
    return ceil_to(conv * (1 + Decimal(pct) / 100), Decimal("0.0001"))


def upstream_services(fp):
    """The fake panel's own list, read in its std form."""
    r = fp.api(key="upstream-secret", action="services")
    data = json.loads(r.body.decode("utf-8-sig"))
    if isinstance(data, dict):
        data = data.get("services") or data.get("data")
    return {int(s["service"]): s for s in data}


def daemon(env, fp, currency="USD", sync="10m"):
    pm = Panelmux(env, config=CONFIG.replace("{currency}", currency).replace("{sync}", sync),
                  up_port=fp.port)
    return pm


def services_of(pm, key):
    return {s["service"]: s for s in pm.api(key=key, action="services")}


def check_shape(s):
    assert isinstance(s["service"], int)
    for k in ("name", "type", "category", "rate", "min", "max"):
        assert isinstance(s[k], str), (k, s)
    for k in ("refill", "cancel", "dripfeed"):
        assert isinstance(s[k], bool), (k, s)
    assert re.fullmatch(r"\d+\.\d{2,}", s["rate"]), s
    assert re.fullmatch(r"\d+", s["min"]) and re.fullmatch(r"\d+", s["max"]), s


def _dialect_case(env, dialect, currency="USD"):
    with FakePanel(env, dialect=dialect, currency=currency, services=20) as fp:
        with daemon(env, fp, currency=currency) as pm:
            key = pm.customer("cust")
            pm.start()
            got = wait_for(lambda: services_of(pm, key) or None, what="catalogue import")
            # the fake panel's own list, fetched in its dialect, as truth
            raw = json.loads(fp.api(key="upstream-secret", action="services").body.decode("utf-8-sig"))
            up = {int(s["service"]): s for s in raw}
            factor = Decimal("1.08") if currency == "EUR" else Decimal(1)
            assert set(got) == {1} | {1000 + i for i in up}, sorted(got)
            for sid, s in got.items():
                check_shape(s)
                u = up[1 if sid == 1 else sid - 1000]
                pct = 40 if sid == 1 else 25
                assert Decimal(s["rate"]) == expected_rate(str(u["rate"]), pct, factor), (sid, s, u)
                assert s["min"] == str(u["min"]) and s["max"] == str(u["max"]), (s, u)
                assert s["name"] == u["name"].strip() or s["name"] == u["name"], (s, u)
            lst = pm.cli("services", "list").stdout
            assert re.search(r"^1\s+\S+\s+\d+\s+\d+\s+alpha:1\s", lst, re.M), lst
            pat = re.compile(r"^alpha\s+closed\s+[\d.]+ " + currency + r"\s+20\s+\d{4}-", re.M)
            wait_for(lambda: pat.search(pm.cli("upstream", "list").stdout), what="upstream state")


def test_import_std(env):
    _dialect_case(env, "std")


def test_import_v1(env):
    _dialect_case(env, "v1")


def test_import_var(env):
    _dialect_case(env, "var")


def test_currency_conversion(env):
    _dialect_case(env, "std", currency="EUR")


def test_dropped_service_and_rate_change(env):
    with FakePanel(env, services=20) as fp, daemon(env, fp, sync="1s") as pm:
        key = pm.customer("cust")
        pm.start()
        wait_for(lambda: 1002 in services_of(pm, key), what="import")
        fp.control(op="services", remove=[2])
        fp.control(op="services", rate={"3": "1.10"})
        wait_for(lambda: 1002 not in services_of(pm, key), what="dropped service to disappear")
        s = wait_for(lambda: services_of(pm, key)[1003]["rate"] == "1.375" and services_of(pm, key)[1003],
                     what="rate change")
        assert s["rate"] == "1.375"


def test_upstream_down_at_startup_serves_stored_catalogue(env):
    with FakePanel(env, services=20) as fp:
        with daemon(env, fp) as pm:
            key = pm.customer("cust")
            pm.start()
            before = wait_for(lambda: services_of(pm, key) or None, what="import")
            pm.stop()
            fp.stop()  # every upstream down
            pm.start()
            after = services_of(pm, key)
            assert after == before
            assert pm.api(key=key, action="balance")["balance"] == "0.00000"
            assert "stored" in pm.log() or "from the store" in pm.log()


def test_daemon_answers_under_every_fault(env):
    modes = ["hang", "close", "502", "524", "garbage", "empty", "error:Incorrect request", "slow:300"]
    with FakePanel(env, services=20) as fp, daemon(env, fp, sync="1s") as pm:
        key = pm.customer("cust", "3")
        pm.start()
        before = wait_for(lambda: services_of(pm, key) or None, what="import")

        def syncs():
            # services syncs, and the breaker's balance probes once it opened
            return len([c for c in fp.calls() if c["action"] in ("services", "balance")])

        for mode in modes:
            fp.fault("services", mode)
            fp.fault("balance", mode)
            n0 = syncs()
            deadline = time.monotonic() + 20
            # keep asking while at least one sync runs into the fault
            while syncs() < n0 + 1 and time.monotonic() < deadline:
                assert pm.api(key=key, action="balance")["balance"] == "3.00000"
                assert services_of(pm, key) == before
            assert syncs() >= n0 + 1, mode
            if mode != "slow:300":
                assert services_of(pm, key) == before, mode
        fp.fault("services", "none")
        fp.fault("balance", "none")

        # consecutive failures open the breaker; a good probe closes it
        fp.fault("services", "502")
        wait_for(lambda: "circuit open" in pm.log(), timeout=20, what="breaker to open")
        wait_for(lambda: re.search(r"^alpha\s+open", pm.cli("upstream", "list").stdout, re.M),
                 timeout=10, what="open circuit in upstream list")
        assert pm.api(key=key, action="balance")["balance"] == "3.00000"
        fp.fault("services", "none")
        wait_for(lambda: "circuit closed" in pm.log(), timeout=30, what="breaker to close")
        assert services_of(pm, key) == before


def test_cli_services_sync(env):
    with FakePanel(env, services=20) as fp, daemon(env, fp) as pm:
        p = pm.cli("services", "sync")
        assert p.stdout.strip() == "alpha: 20 services imported", p.stdout
        lst = pm.cli("services", "list").stdout
        ids = [int(l.split()[0]) for l in lst.splitlines()[1:]]
        assert ids == [1] + list(range(1001, 1021)), ids
        fp.stop()
        p = pm.cli("services", "sync", "alpha", check=False)
        assert p.returncode == 1 and "sync failed" in p.stdout, p
        assert pm.cli("services", "sync", "nosuch", check=False).returncode == 2
        assert pm.cli("services", "list").stdout == lst  # the stored catalogue is kept
        # and the daemon starts on it with the upstream still down
        key = pm.customer("cust")
        pm.start()
        assert len(services_of(pm, key)) == 21


def test_proxy_environment_ignored(env):
    """Upstream calls never go through a proxy named in the environment."""
    with FakePanel(env, services=20) as fp, daemon(env, fp) as pm:
        for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            pm.environ[var] = "http://127.0.0.1:9"
        pm.environ.pop("no_proxy", None)
        pm.environ.pop("NO_PROXY", None)
        key = pm.customer("cust")
        pm.start()
        assert len(wait_for(lambda: services_of(pm, key) or None, what="import")) == 21


# --- issue 15 ---------------------------------------------------------------

def _imported(pm):
    """Wait until the daemon's first sync of alpha ended, either way; the
    number of services it imported, or its failure line."""
    def done():
        log = pm.log()
        m = re.search(r"upstream alpha: (\d+) services imported", log)
        if m:
            return int(m.group(1))
        m = re.search(r"upstream alpha: services: .*keeping the last known.*", log)
        return m.group(0) if m else None
    return wait_for(done, timeout=120, interval=0.2, what="alpha's first import")


def test_large_catalogue_imported(env):
    """A 20,000-service, ~10 MB list (over the parser's old 8 MiB cap, under
    the download cap) is imported and served."""
    with FakePanel(env, services=20000, extra=("--name-pad", "340")) as fp, \
            daemon(env, fp, sync="1h") as pm:
        size = len(fp.api(key="upstream-secret", action="services").body)
        assert size > 8 << 20 and size < 12 << 20, size
        key = pm.customer("cust")
        pm.start()
        assert _imported(pm) == 20000, pm.log()[-2000:]
        got = services_of(pm, key)
        assert len(got) == 20001, len(got)
        assert got[21000]["name"].startswith("Instagram Likes #20000 ~~~"), got[21000]
        assert len(got[21000]["name"]) == 340
        assert pm.sql("SELECT COUNT(*) FROM catalog WHERE upstream = 'alpha'") == [("20000",)]


def test_unlimited_max_clamped(env):
    """An upstream's "unlimited" max (int64's largest, as a string) keeps the
    service; it is listed with panelmux's largest quantity, 10^12."""
    with FakePanel(env, services=20) as fp, daemon(env, fp, sync="1h") as pm:
        fp.control(op="services", add=[{
            "service": 21, "name": "Unlimited Views", "type": "Default",
            "category": "YouTube Views", "rate": "0.50", "min": "100",
            "max": "9223372036854775807", "refill": False, "cancel": True}])
        raw = fp.api(key="upstream-secret", action="services").body.decode()
        assert '"max":"9223372036854775807"' in raw, raw[-400:]
        key = pm.customer("cust")
        pm.start()
        assert _imported(pm) == 21, pm.log()[-2000:]
        s = services_of(pm, key)[1021]
        assert (s["min"], s["max"]) == ("100", "1000000000000"), s
        assert s["name"] == "Unlimited Views"
        assert "clamped" in pm.log()


def test_cli_sync_reaches_running_daemon(env):
    """`panelmux services sync` changes what the running daemon serves within
    seconds, not at the daemon's own next sync (an hour away here)."""
    with FakePanel(env, services=20) as fp, daemon(env, fp, sync="1h") as pm:
        key = pm.customer("cust")
        pm.start()
        before = wait_for(lambda: services_of(pm, key) or None, what="import")
        assert before[1004]["rate"] == "1.275", before[1004]  # 1.02 x 1.25
        fp.control(op="services", rate={"4": "1.10"}, remove=[3])
        p = pm.cli("services", "sync")
        assert p.stdout.strip() == "alpha: 19 services imported", p.stdout
        s = wait_for(lambda: services_of(pm, key)[1004]["rate"] == "1.375" and services_of(pm, key),
                     timeout=5, what="the daemon to serve the CLI's sync")
        assert 1003 not in s
        assert len([c for c in fp.calls() if c["action"] == "services"]) == 2  # daemon's first, the CLI's
        # reloaded from the store (no fetch of its own), no restart needed
        assert "alpha: catalogue changed in the store" in pm.log()


def test_sighup_rearms_sync_timer(env):
    """SIGHUP applies a shorter sync_interval at once, not after the old one
    (an hour) has run out."""
    with FakePanel(env, services=20) as fp, daemon(env, fp, sync="1h") as pm:
        key = pm.customer("cust")
        pm.start()
        wait_for(lambda: services_of(pm, key) or None, what="import")

        def syncs():
            return len([c for c in fp.calls() if c["action"] == "services"])

        assert syncs() == 1
        pm.write_config(CONFIG.replace("{currency}", "USD").replace("{sync}", "1s"))
        os.kill(pm.proc.pid, signal.SIGHUP)
        wait_for(lambda: "SIGHUP: configuration reloaded" in pm.log(), timeout=5, what="reload")
        wait_for(lambda: syncs() >= 3, timeout=5, what="syncs at the new interval")


def _order_row(pm, oid):
    return pm.sql("SELECT state, refunded FROM orders WHERE id = ?", oid)[0]


def _upstream_id(pm, oid):
    return int(pm.sql("SELECT upstream_order FROM orders WHERE id = ?", oid)[0][0])


def _faulty_status_calls(fp, up_ids):
    return [c for c in fp.calls()
            if c["action"] == "status" and c["fault"] and set(c["ids"]) & set(up_ids)]


def test_status_naming_another_order_not_applied(env):
    """A status answer naming another order than the one asked (single form,
    or filed under the wrong key of a multi reply) is a fault for that ID:
    no settlement, no refund, logged; the same answer naming the right order
    settles it."""
    with FakePanel(env, services=20) as fp, \
            Panelmux(env, config=alpha_config(level="debug", poll_interval="1s"), up_port=fp.port) as pm:
        key = pm.customer("cust", "100")
        pm.start()
        wait_for(lambda: services_of(pm, key) or None, what="import")

        def balance():
            return pm.api(key=key, action="balance")["balance"]

        # the single-order form: one open order, asked alone
        a = pm.api(key=key, action="add", service=1, link="https://x.example/a", quantity=1000)["order"]
        wait_for(lambda: _order_row(pm, a)[0] == "active", what="order a active")
        ua = _upstream_id(pm, a)
        paid = balance()
        fp.fault("status", "wrongid")
        fp.control(op="set", order=ua, status="Canceled")
        wait_for(lambda: len(_faulty_status_calls(fp, [ua])) >= 3 or _order_row(pm, a)[0] != "active",
                 timeout=10, what="status calls under the fault")
        assert all(c["params"].get("order") == str(ua) for c in _faulty_status_calls(fp, [ua]))
        assert _order_row(pm, a) == ("active", "0"), _order_row(pm, a)
        assert balance() == paid
        assert pm.api(key=key, action="status", order=a)["status"] in ("Pending", "In progress")
        assert f"names order {int(ua) + 1}, not {ua}" in pm.log(), pm.log()[-3000:]
        # the right answer settles it
        fp.fault("status", "none")
        wait_for(lambda: _order_row(pm, a)[0] == "canceled", timeout=10, what="order a settled")

        # the multi form: two open orders asked together, each answer filed
        # under its own key but naming the next order
        b = pm.api(key=key, action="add", service=1, link="https://x.example/b", quantity=1000)["order"]
        c = pm.api(key=key, action="add", service=1, link="https://x.example/c", quantity=1000)["order"]
        for o in (b, c):
            wait_for(lambda o=o: _order_row(pm, o)[0] == "active", what="orders active")
        ub, uc = _upstream_id(pm, b), _upstream_id(pm, c)
        paid = balance()
        fp.fault("status", "wrongid")
        fp.control(op="set", order=ub, status="Canceled")
        fp.control(op="set", order=uc, status="Completed", remains=0)
        wait_for(lambda: len([x for x in _faulty_status_calls(fp, [ub, uc]) if len(x["ids"]) == 2]) >= 2
                 or _order_row(pm, b)[0] != "active" or _order_row(pm, c)[0] != "active",
                 timeout=10, what="multi status calls under the fault")
        assert _order_row(pm, b) == ("active", "0")
        assert _order_row(pm, c) == ("active", "0")
        assert balance() == paid
        fp.fault("status", "none")
        wait_for(lambda: (_order_row(pm, b)[0], _order_row(pm, c)[0]) == ("canceled", "completed"),
                 timeout=10, what="orders b and c settled")
        assert "check: ok" in pm.check()


def test_v1_refill_cancel_answered_locally(env):
    """A v1 upstream lists no refill/cancel flags: its services are listed
    refill:false, cancel:false, and refill and cancel are answered here,
    never forwarded; a `services` entry may say refill: true / cancel: true
    for services that do support them, which are then listed and forwarded."""
    cfg = alpha_config(level="debug") + ('  - id: 500\n    route: ["alpha:1"]\n'
                                         '    refill: true\n    cancel: true\n')
    with FakePanel(env, services=20, dialect="v1") as fp, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("cust", "100")
        pm.start()
        svcs = wait_for(lambda: services_of(pm, key) or None, what="import")
        assert (svcs[1]["refill"], svcs[1]["cancel"]) == (False, False), svcs[1]
        assert (svcs[500]["refill"], svcs[500]["cancel"]) == (True, True), svcs[500]

        x = pm.api(key=key, action="add", service=1, link="https://x.example/x", quantity=1000)["order"]
        wait_for(lambda: _order_row(pm, x)[0] == "active", what="order x active")
        fp.control(op="set", order=_upstream_id(pm, x), status="Completed", remains=0)
        assert pm.api(key=key, action="refill", order=x) == \
            {"error": "Refill is not available for this service"}
        assert pm.api(key=key, action="refill", orders=str(x)) == \
            [{"order": x, "refill": {"error": "Refill is not available for this service"}}]
        assert pm.api(key=key, action="cancel", order=x) == \
            [{"order": x, "cancel": {"error": "Cancel is not available for this service"}}]
        assert [c for c in fp.calls() if c["action"] in ("refill", "cancel")] == []

        # the override: listed, and forwarded
        y = pm.api(key=key, action="add", service=500, link="https://x.example/y", quantity=1000)["order"]
        wait_for(lambda: _order_row(pm, y)[0] == "active", what="order y active")
        uy = _upstream_id(pm, y)
        pm.api(key=key, action="refill", order=y)
        assert [c["ids"] for c in fp.calls() if c["action"] == "refill"] == [[uy]]
        assert pm.api(key=key, action="cancel", order=y) == [{"order": y, "cancel": 1}]
        assert [c["ids"] for c in fp.calls() if c["action"] == "cancel"] == [[uy]]
