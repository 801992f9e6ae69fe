"""Customers' own rates (issue 19): groups, overrides and the floor, proven
against an independent computation in Python decimal through the
customer's `services` reply and the charge `add` takes; and a sync that
raises an upstream's cost above a customer's fixed rate: the rate follows
the floor, while an order placed before keeps its charge and its refund."""
import json
from decimal import Decimal, ROUND_CEILING, ROUND_FLOOR

from harness import Panelmux, FakePanel, http_request, wait_for
from test_refunds import upstream_order_id

MARKUP = Decimal("25")
MARGIN = Decimal("5")
STEP = Decimal("0.0001")
EUR = Decimal("1.08")
DECIMALS = Decimal("0.00001")


def config():
    return """\
listen:
  api: "127.0.0.1:{port}"
  admin: "127.0.0.1:{admin_port}"
store:
  {store}
limits:
  max_connections_per_ip: 100000
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
pricing:
  markup: "25%"
  round_to: "0.0001"
  min_margin: "5%"
orders:
  reply_wait: 2s
currencies:
  EUR: "1.08"
upstreams:
  - name: alpha
    url: "http://127.0.0.1:{up_port}/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
    poll_interval: 300ms
  - name: beta
    url: "http://127.0.0.1:BETA_PORT/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
    currency: EUR
services:
  - import: alpha
    id_offset: 0
  - import: beta
    id_offset: 1000
"""


def ceil_to(v, step):
    return (v / step).to_integral_value(rounding=ROUND_CEILING) * step


def ceil8(v):
    return ceil_to(v, Decimal("0.00000001"))


def upstream_rates(fp):
    r = http_request(fp.port, "POST", "/api/v2", "key=upstream-secret&action=services",
                     {"Content-Type": "application/x-www-form-urlencoded"})
    return {int(s["service"]): (Decimal(s["rate"]), s["type"]) for s in json.loads(r.body)}


def expected_rate(up_rate, factor, rule, clamps=None):
    """The rate a customer pays per 1000, computed here from the upstream's
    rate: cost = rate x currency (up to 8 places), list = cost x 1.25 up to
    the step, floor = cost x 1.05 up to the step; a group's percent or an
    override's percent off on the list rate (up to the step), a fixed rate
    as given; never under the floor."""
    cost = ceil8(up_rate * factor)
    listed = ceil_to(ceil8(cost * (100 + MARKUP) / 100), STEP)
    floor = ceil_to(ceil8(cost * (100 + MARGIN) / 100), STEP)
    kind, value = rule
    if kind == "list":
        rate = listed
    elif kind == "group":
        rate = ceil_to(ceil8(listed * (100 + value) / 100), STEP)
    elif kind == "off":
        rate = ceil_to(ceil8(listed * (100 - value) / 100), STEP)
    else:
        rate = value
    if clamps is not None and rate < floor:
        clamps.append(rule)
    return max(rate, floor) if max(rate, floor) > 0 else STEP


def services_of(pm, key):
    return {s["service"]: s for s in pm.api(key=key, action="services")}


def balance(pm, key):
    return Decimal(pm.api(key=key, action="balance")["balance"])


def test_rates_table_through_services_and_add(env):
    with FakePanel(env, services=6) as alpha, \
            FakePanel(env, services=6, currency="EUR") as beta:
        pm = Panelmux(env, config=config().replace("BETA_PORT", str(beta.port)),
                      up_port=alpha.port)
        with pm:
            ups = {0: (upstream_rates(alpha), Decimal(1)), 1000: (upstream_rates(beta), EUR)}
            # one Default service of each upstream to order from
            a_sid = next(i for i, (r, t) in ups[0][0].items() if t == "Default")
            b_sid = next(i for i, (r, t) in ups[1000][0].items() if t == "Default")
            keys = {n: pm.customer(n, "1000") for n in
                    ("plain", "vip", "extra", "percent", "fixed", "cheap")}
            pm.cli("group", "add", "vip", "-10%")
            pm.cli("group", "add", "extra", "7.5%")
            pm.cli("customer", "group", "vip", "vip")
            pm.cli("customer", "group", "extra", "extra")
            pm.cli("customer", "group", "percent", "vip")
            pm.cli("rate", "set", "percent", str(a_sid), "22.5%")
            pm.cli("rate", "set", "fixed", str(a_sid), "99.5")
            pm.cli("rate", "set", "cheap", str(a_sid), "0.0001")
            pm.cli("rate", "set", "cheap", str(1000 + b_sid), "95%")
            rules = {
                "plain": {}, "vip": {None: ("group", Decimal(-10))},
                "extra": {None: ("group", Decimal("7.5"))},
                "percent": {None: ("group", Decimal(-10)), a_sid: ("off", Decimal("22.5"))},
                "fixed": {a_sid: ("fixed", Decimal("99.5"))},
                "cheap": {a_sid: ("fixed", Decimal("0.0001")),
                          1000 + b_sid: ("off", Decimal(95))},
            }
            pm.start()
            wait_for(lambda: len(services_of(pm, keys["plain"])) == 12, what="both catalogues")
            checked, clamps = 0, []
            for name, key in keys.items():
                listed = services_of(pm, key)
                for off, (rates, factor) in ups.items():
                    for usid, (up_rate, _) in rates.items():
                        sid = off + usid
                        rule = rules[name].get(sid, rules[name].get(None, ("list", None)))
                        want = expected_rate(up_rate, factor, rule,
                                             clamps if sid in rules[name] else None)
                        got = Decimal(listed[sid]["rate"])
                        assert got == want, (name, sid, rule, got, want)
                        checked += 1
                # the charge of an add is the rate x quantity / 1000, up
                for sid in (a_sid, 1000 + b_sid):
                    rate = Decimal(listed[sid]["rate"])
                    qty = int(listed[sid]["min"]) * 3
                    before = balance(pm, key)
                    r = pm.api(key=key, action="add", service=sid,
                               link=f"https://x.example/{name}/{sid}", quantity=qty)
                    assert "order" in r, (name, sid, r)
                    want = ceil_to(rate * qty / 1000, DECIMALS)
                    assert before - balance(pm, key) == want, (name, sid, rate, qty)
                    row = pm.sql("SELECT rate, charge FROM orders WHERE id = ?", r["order"])[0]
                    assert Decimal(int(row[0])) / 10**8 == rate, (name, sid, row)
            assert checked == 6 * 12
            # the clamps are reported: the CLI and the metric
            assert len(clamps) >= 2, clamps  # the table has clamps to show
            out = pm.cli("rate", "list").stdout
            assert out.count("clamped to the floor") == len(clamps), (out, clamps)
            metrics = http_request(pm.admin_port, "GET", "/metrics").body.decode()
            assert f'panelmux_pricing_clamped{{kind="override"}} {len(clamps)}' in metrics
            assert "check: ok" in pm.check()


def test_sync_raising_cost_above_a_fixed_rate(env):
    with FakePanel(env, services=6) as alpha, \
            FakePanel(env, services=6, currency="EUR") as beta:
        pm = Panelmux(env, config=config().replace("BETA_PORT", str(beta.port)),
                      up_port=alpha.port)
        with pm:
            rates = upstream_rates(alpha)
            sid = next(i for i, (r, t) in rates.items() if t == "Default")
            up_rate = rates[sid][0]
            key = pm.customer("fixed", "1000")
            # a fixed rate between the floor and the list rate
            fixed = ceil_to(ceil8(up_rate * Decimal("1.15")), STEP)
            pm.cli("rate", "set", "fixed", str(sid), str(fixed))
            pm.start()
            wait_for(lambda: sid in services_of(pm, key), what="catalogue")
            assert Decimal(services_of(pm, key)[sid]["rate"]) == fixed
            qty = 1000
            before = balance(pm, key)
            r = pm.api(key=key, action="add", service=sid, link="https://x.example/f", quantity=qty)
            charge = ceil_to(fixed * qty / 1000, DECIMALS)
            assert before - balance(pm, key) == charge
            up = wait_for(lambda: pm.sql("SELECT upstream_order FROM orders WHERE id = ?",
                                         r["order"])[0][0], what="sent")
            # the upstream raises its rate by half: the floor passes the
            # fixed rate, which follows it
            new_rate = up_rate * Decimal("1.5")
            alpha.control(op="services", rate={str(sid): str(new_rate)})
            pm.cli("services", "sync", "alpha")
            floor = ceil_to(ceil8(ceil8(new_rate) * (100 + MARGIN) / 100), STEP)
            assert floor > fixed
            wait_for(lambda: Decimal(services_of(pm, key)[sid]["rate"]) == floor,
                     what="the rate at the new floor")
            assert "clamped to the floor" in pm.cli("rate", "list").stdout
            # the change is in the price-change log, cost before and after
            log = pm.admin("GET", "services/changes", key=pm.admin_key("log"),
                           query={"upstream": "alpha", "kind": "changed"}).json()["data"]["list"]
            mine = [e for e in log if int(e["service"]) == sid]
            assert len(mine) == 1, log
            assert Decimal(mine[0]["cost_before"]) == ceil8(up_rate), mine
            assert Decimal(mine[0]["cost_after"]) == ceil8(new_rate), mine
            # the order placed before keeps its charge, and its refund is
            # from that charge: Partial with 400 of 1000 remaining
            alpha.control(op="set", order=up, status="Partial", remains=400)
            refund = (charge * 400 / 1000).quantize(DECIMALS, rounding=ROUND_FLOOR)
            wait_for(lambda: balance(pm, key) == before - charge + refund, what="the refund")
            row = pm.sql("SELECT charge, refunded FROM orders WHERE id = ?", r["order"])[0]
            assert Decimal(int(row[0])) / 10**8 == charge
            # its timeline in the admin API (what the console shows)
            got = pm.admin("GET", f"orders/{r['order']}", key=pm.admin_key("ops")).json()
            assert [e["event"] for e in got["data"]["timeline"]] == \
                ["created", "sent", "accepted", "partial"], got["data"]["timeline"]
            assert Decimal(int(row[1])) / 10**8 == refund
            # a new order pays the new rate
            b2 = balance(pm, key)
            pm.api(key=key, action="add", service=sid, link="https://x.example/g", quantity=qty)
            assert b2 - balance(pm, key) == ceil_to(floor * qty / 1000, DECIMALS)
            assert "check: ok" in pm.check()


def test_admin_api_groups_and_rates(env):
    with FakePanel(env, services=6) as alpha, \
            FakePanel(env, services=6, currency="EUR") as beta:
        pm = Panelmux(env, config=config().replace("BETA_PORT", str(beta.port)),
                      up_port=alpha.port)
        with pm:
            key = pm.customer("shopper", "100")
            pm.start()
            wait_for(lambda: 1 in services_of(pm, key), what="catalogue")
            ak, ro = pm.admin_key("ops"), pm.admin_key("viewer", read_only=True)
            listed = Decimal(services_of(pm, key)[1]["rate"])

            def call(method, path, body=None, k=ak):
                r = pm.admin(method, path, key=k, body=body)
                return r.status, r.json()

            assert call("POST", "groups/add", {"name": "resellers", "percent": "-4%"})[0] == 200
            assert call("POST", "groups/add", {"name": "resellers", "percent": "-4"})[0] == 409
            assert call("POST", "groups/add", {"name": "bad", "percent": "-100%"})[0] == 400
            assert call("POST", "groups/add", {"name": "x", "percent": "1"}, k=ro)[0] == 403
            assert call("POST", "users/set-group", {"username": "shopper", "group": "resellers"})[0] == 200
            st, j = call("GET", "groups")
            assert [(g["name"], g["percent"], g["members"]) for g in j["data"]["list"]] == \
                [("resellers", "-4", 1)]
            # applied at once by the daemon that took the write
            want = ceil_to(ceil8(listed * 96 / 100), STEP)
            assert Decimal(services_of(pm, key)[1]["rate"]) == want
            assert call("POST", "groups/remove", {"name": "resellers"})[0] == 409
            assert call("POST", "rates/set", {"username": "shopper", "service_id": 1,
                                              "rate": "9.75"})[0] == 200
            assert call("POST", "rates/set", {"username": "shopper", "service_id": 2,
                                              "percent_off": "10"})[0] == 200
            assert call("POST", "rates/set", {"username": "shopper", "service_id": 2,
                                              "percent_off": "10", "rate": "1"})[0] == 400
            assert call("POST", "rates/set", {"username": "shopper", "service_id": 2,
                                              "percent_off": "101"})[0] == 400
            st, j = call("GET", "rates")
            rows = {(x["service_id"], x["rule"]["kind"]) for x in j["data"]["list"]}
            assert rows == {(1, "rate"), (2, "percent_off")}, j
            st, j = call("GET", "rates?username=shopper")
            mine = {x["service_id"]: x for x in j["data"]["list"]}
            assert Decimal(mine[1]["rate"]) == Decimal("9.75") and mine[1]["from"] == "fixed"
            assert mine[3]["from"] == "group"
            assert Decimal(services_of(pm, key)[1]["rate"]) == Decimal("9.75")
            assert call("POST", "rates/remove", {"username": "shopper", "service_id": 1})[0] == 200
            assert call("POST", "rates/remove", {"username": "shopper", "service_id": 1})[0] == 404
            assert call("POST", "users/set-group", {"username": "shopper", "group": ""})[0] == 200
            assert call("POST", "groups/remove", {"name": "resellers"})[0] == 200
            assert Decimal(services_of(pm, key)[1]["rate"]) == listed
            audit = pm.cli("audit", "--limit", "50").stdout
            for action in ("groups/add", "users/set-group", "rates/set", "rates/remove",
                           "groups/remove"):
                assert action in audit, action
