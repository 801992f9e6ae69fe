"""Price changes (issue 19): each sync's per-service changes against the
stored list (cost and price before/after, appeared, dropped) in the
price-change log, shown by `panelmux services changes`, GET
services/changes and /metrics, checked against an independent decimal
computation; and the bad-sync guard: a reply that drops more than max_drop
of the stored services is not applied, is logged and counted, and
`services sync --force` (or force: true) applies it."""
import json
import re
from decimal import Decimal, ROUND_CEILING

from harness import Panelmux, FakePanel, http_request, wait_for

CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  admin: "127.0.0.1:{admin_port}"
store:
  {store}
log:
  level: info
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
    currency: EUR
    sync_interval: 1h
    timeout: 2s
MAXDROP
services:
  - id: 1
    route: ["alpha:1"]
    markup: "40%"
  - import: alpha
    id_offset: 1000
"""

UNIT = Decimal("0.00000001")
FACTOR = Decimal("1.08")


def config(max_drop=None):
    return CONFIG.replace("MAXDROP\n", f"    max_drop: \"{max_drop}\"\n" if max_drop else "")


def ceil_to(x, step):
    return (x / step).to_integral_value(rounding=ROUND_CEILING) * step


def cost_price(rate):
    """The cost (EUR rate converted, rounded up to 10^-8) and the price (the
    upstream's 25%, rounded up to round_to), as money units; the service
    entry's own 40% is not the log's."""
    cost = ceil_to(Decimal(str(rate)) * FACTOR, UNIT)
    price = ceil_to(cost * Decimal("1.25"), Decimal("0.0001"))
    return int(cost / UNIT), int(price / UNIT)


def upstream_services(fp):
    r = fp.api(key="upstream-secret", action="services")
    return {int(s["service"]): s for s in json.loads(r.body.decode("utf-8-sig"))}


def expected(old, new):
    """(service, kind, cost_before, cost_after, price_before, price_after)
    by service, None where it does not apply."""
    rows = []
    for sid in sorted(set(old) | set(new)):
        if sid not in new:
            c, p = cost_price(old[sid]["rate"])
            rows.append((sid, "dropped", c, None, p, None))
        elif sid not in old:
            c, p = cost_price(new[sid]["rate"])
            rows.append((sid, "appeared", None, c, None, p))
        else:
            cb, pb = cost_price(old[sid]["rate"])
            ca, pa = cost_price(new[sid]["rate"])
            if (cb, pb) != (ca, pa):
                rows.append((sid, "changed", cb, ca, pb, pa))
    return rows


def logged(pm, since=0):
    def num(v):
        return None if v is None else int(v)
    rows = pm.sql("SELECT service, kind, cost_before, cost_after, price_before, price_after"
                  " FROM price_changes WHERE upstream = 'alpha' AND id > ? ORDER BY service", since)
    return [(int(r[0]), r[1], num(r[2]), num(r[3]), num(r[4]), num(r[5])) for r in rows]


def units(s):
    return None if s in (None, "-") else int(Decimal(s) / UNIT)


def metric(pm, name, labels):
    text = http_request(pm.admin_port, "GET", "/metrics").body.decode()
    m = re.search(r"^" + re.escape(name + "{" + labels + "}") + r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def changes(pm, key, **query):
    r = pm.admin("GET", "services/changes", key=key, query=query or None)
    assert r.status == 200, r
    env = r.json()
    assert env["error_code"] == 0, env
    return env["data"]


def test_sync_changes_logged(env):
    with FakePanel(env, currency="EUR", services=20) as fp, \
            Panelmux(env, config=config(), up_port=fp.port) as pm:
        # the first sync knows nothing before it: no rows
        assert pm.cli("services", "sync").stdout.strip() == "alpha: 20 services imported"
        assert logged(pm) == []
        old = upstream_services(fp)
        fp.control(op="services", rate={"1": "1.10", "4": "0.95", "5": str(old[5]["rate"])})
        fp.control(op="services", remove=[2, 7])
        fp.control(op="services", add=[{
            "service": 21, "name": "New Views", "type": "Default", "category": "YouTube",
            "rate": "0.3333", "min": "10", "max": "1000"}])
        new = upstream_services(fp)
        want = expected(old, new)
        assert [(r[0], r[1]) for r in want] == [(1, "changed"), (2, "dropped"), (4, "changed"),
                                                (7, "dropped"), (21, "appeared")], want
        assert pm.cli("services", "sync").stdout.strip() == "alpha: 19 services imported"
        assert logged(pm) == want
        # a sync that changes nothing adds nothing
        pm.cli("services", "sync")
        assert logged(pm) == want

        # the CLI, newest first
        out = pm.cli("services", "changes").stdout.splitlines()
        assert out[0].split() == ["id", "time", "upstream", "service", "kind", "cost_before",
                                  "cost_after", "price_before", "price_after"], out
        lines = [l.split() for l in out[1:]]
        assert len(lines) == 5, out
        ids = [int(l[0]) for l in lines]
        assert ids == sorted(ids, reverse=True), ids
        assert sorted((int(l[3]), l[4], units(l[5]), units(l[6]), units(l[7]), units(l[8]))
                      for l in lines) == want
        assert all(l[2] == "alpha" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", l[1])
                   for l in lines), out
        assert len(pm.cli("services", "changes", "--limit", "2").stdout.splitlines()) == 3
        assert len(pm.cli("services", "changes", "--upstream", "beta").stdout.splitlines()) == 1
        assert pm.cli("services", "changes", "--limit", "0", check=False).returncode == 2
        assert pm.cli("services", "changes", "--bogus", "1", check=False).returncode == 2

        # the admin API
        pm.start()
        wait_for(lambda: "upstream alpha: 19 services imported" in pm.log(), what="startup sync")
        key = pm.admin_key("ops")
        data = changes(pm, key)
        assert data["count"] == 5
        got = sorted((e["service"], e["kind"], units(e["cost_before"]), units(e["cost_after"]),
                      units(e["price_before"]), units(e["price_after"])) for e in data["list"])
        assert got == want, got
        assert [e["id"] for e in data["list"]] == ids
        assert all(e["upstream"] == "alpha" and e["created"] for e in data["list"])
        page = changes(pm, key, upstream="alpha", limit=2, offset=1)
        assert [e["id"] for e in page["list"]] == ids[1:3]
        assert changes(pm, key, upstream="beta")["count"] == 0
        # by kind (the console's "dropped by their upstream")
        for kind in ("changed", "appeared", "dropped"):
            mine = changes(pm, key, kind=kind)["list"]
            assert [e["id"] for e in mine] == [e["id"] for e in data["list"] if e["kind"] == kind]
        assert pm.admin("GET", "services/changes", key=key, query={"kind": "renamed"}).status == 400

        # a sync by the daemon: logged, counted on /metrics
        top = max(ids)
        fp.control(op="services", rate={"1": "1.20"})
        r = pm.admin("POST", "upstreams/sync", key=key, body={"upstream": "alpha"})
        assert r.status == 200 and r.json()["data"]["force"] is False, r
        wait_for(lambda: logged(pm, top), what="the daemon's sync in the log")
        c1, p1 = cost_price("1.10")
        c2, p2 = cost_price("1.20")
        assert logged(pm, top) == [(1, "changed", c1, c2, p1, p2)]
        assert changes(pm, key, limit=1)["list"][0]["service"] == 1
        assert metric(pm, "panelmux_price_changes_total", 'upstream="alpha",kind="changed"') == 1
        assert metric(pm, "panelmux_price_changes_total", 'upstream="alpha",kind="dropped"') == 0
        assert metric(pm, "panelmux_catalog_syncs_refused_total", 'upstream="alpha"') == 0
        assert "price changes: 1 changed, 0 appeared, 0 dropped" in pm.log()

        # a change saved by the CLI while the daemon runs is logged once:
        # the daemon's next sync compares with the store's list, not its own
        top = int(pm.sql("SELECT MAX(id) FROM price_changes")[0][0])
        fp.control(op="services", rate={"4": "1.00"})
        pm.cli("services", "sync")
        r = pm.admin("POST", "upstreams/sync", key=key, body={"upstream": "alpha"})
        assert r.status == 200, r
        wait_for(lambda: pm.log().count("upstream alpha: 19 services imported") >= 3,
                 what="the daemon's own sync after the CLI's")
        c1, p1 = cost_price("0.95")
        c2, p2 = cost_price("1.00")
        assert logged(pm, top) == [(4, "changed", c1, c2, p1, p2)]


def services_of(pm, key):
    return {s["service"] for s in pm.api(key=key, action="services")}


def test_bad_sync_refused_then_forced(env):
    with FakePanel(env, currency="EUR", services=20) as fp, \
            Panelmux(env, config=config(), up_port=fp.port) as pm:
        pm.cli("services", "sync")
        # the reply keeps 10% of the services
        fp.control(op="services", remove=list(range(3, 21)))
        assert len(upstream_services(fp)) == 2
        p = pm.cli("services", "sync", check=False)
        assert p.returncode == 1 and "sync failed (refused" in p.stdout, p
        assert "the reply lists 2 services and drops 18 of the 20 stored, over max_drop 50.00%" \
            in p.stderr, p.stderr
        assert "--force alpha" in p.stderr
        assert pm.sql("SELECT COUNT(*) FROM catalog WHERE upstream = 'alpha'") == [("20",)]
        assert logged(pm) == []

        # the daemon refuses it too: the old catalogue stays, counted
        key = pm.customer("cust")
        pm.start()
        wait_for(lambda: "not applied, the stored catalogue is kept" in pm.log(),
                 what="the daemon's refusal")
        assert services_of(pm, key) == {1} | {1000 + i for i in range(1, 21)}
        assert metric(pm, "panelmux_catalog_syncs_refused_total", 'upstream="alpha"') == 1
        admin = pm.admin_key("ops")
        r = pm.admin("POST", "upstreams/sync", key=admin, body={"upstream": "alpha"})
        assert r.status == 200, r
        wait_for(lambda: metric(pm, "panelmux_catalog_syncs_refused_total",
                                'upstream="alpha"') == 2, what="a second refusal")
        assert services_of(pm, key) == {1} | {1000 + i for i in range(1, 21)}

        # --force applies it; the daemon serves it within a second or so
        p = pm.cli("services", "sync", "--force", "alpha")
        assert p.stdout.strip() == "alpha: 2 services imported", p
        assert "applied, as forced" in p.stderr
        assert [(r[0], r[1]) for r in logged(pm)] == [(i, "dropped") for i in range(3, 21)]
        assert all(r[2] is not None and r[3] is None and r[5] is None for r in logged(pm))
        wait_for(lambda: services_of(pm, key) == {1, 1001, 1002}, what="the forced list served")
        assert pm.sql("SELECT COUNT(*) FROM catalog WHERE upstream = 'alpha'") == [("2",)]

        # the admin API's force: an empty list (the extreme case) applied
        fp.control(op="services", remove=[1, 2])
        r = pm.admin("POST", "upstreams/sync", key=admin, body={"upstream": "alpha"})
        wait_for(lambda: metric(pm, "panelmux_catalog_syncs_refused_total",
                                'upstream="alpha"') == 3, what="the empty list refused")
        assert services_of(pm, key) == {1, 1001, 1002}
        r = pm.admin("POST", "upstreams/sync", key=admin, body={"upstream": "alpha", "force": True})
        assert r.status == 200 and r.json()["data"]["force"] is True, r
        wait_for(lambda: services_of(pm, key) == set(), what="the empty list applied")
        assert metric(pm, "panelmux_price_changes_total", 'upstream="alpha",kind="dropped"') == 2
        audit = pm.sql("SELECT detail FROM audit WHERE action = 'upstreams/sync'"
                       " ORDER BY id DESC LIMIT 1")
        assert audit == [('{"force":true}',)], audit


def test_max_drop_per_upstream(env):
    """alpha's own max_drop over pricing.max_drop: 100% applies an empty
    list; 10% refuses dropping 3 of 20."""
    with FakePanel(env, currency="EUR", services=20) as fp, \
            Panelmux(env, config=config("10%"), up_port=fp.port) as pm:
        pm.cli("services", "sync")
        fp.control(op="services", remove=[1, 2])
        assert pm.cli("services", "sync").returncode == 0  # 2 of 20: 10%
        fp.control(op="services", remove=[3, 4, 5])
        p = pm.cli("services", "sync", check=False)
        assert p.returncode == 1 and "drops 3 of the 18 stored, over max_drop 10.00%" in p.stderr, p
        fp.control(op="services", remove=list(range(6, 21)))
        pm.write_config(config("100%"))
        assert pm.cli("services", "sync").stdout.strip() == "alpha: 0 services imported"
        assert [r[1] for r in logged(pm)].count("dropped") == 2 + 18
        pm.check()
