"""The catalogue through the daemon: import from the fake panel in each
dialect, exact marked-up prices, the services reply shape, currency
conversion, dropped services and rate changes, the stored catalogue served
while upstreams are down, and the daemon answering under every fault."""
import json
import re
import time
from decimal import Decimal, ROUND_CEILING

from harness import Panelmux, FakePanel, wait_for

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
