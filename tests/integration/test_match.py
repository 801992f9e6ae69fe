"""`panelmux services match` end to end (issue 22): three fake upstreams
serve the labelled catalogues of tests/unit/match_set.json, `services sync`
stores them, `services match --format yaml` proposes multi-route services,
the proposal pasted into the config passes `panelmuxd --check`, the daemon
serves the unified services, and an order on one fails over to its next
route when the first upstream refuses the add.  The admin API's
services/match answers the same groups."""
import json
import os
import re

import harness

SET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "unit", "match_set.json")
UPS = ("alpha", "beta", "gamma")


def config(panels, services):
    ups = "".join(f"""  - name: {name}
    url: "http://127.0.0.1:{fp.port}/api/v2"
    key: "${{{{PMX_TEST_UPSTREAM_KEY}}}}"
    sync_interval: 1h
""" for name, fp in zip(UPS, panels))
    return f"""\
listen:
  api: "127.0.0.1:{{port}}"
  admin: "127.0.0.1:{{admin_port}}"
store:
  {{store}}
log:
  level: info
limits:
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
orders:
  reply_wait: 2s
upstreams:
{ups}services:
{services}"""


def start_panels(env, tmp):
    data = json.load(open(SET))
    panels = []
    for name in UPS:
        path = os.path.join(tmp, f"{name}.json")
        with open(path, "w") as f:
            json.dump([{k: v for k, v in s.items() if k != "group"}
                       for s in data["services"][name]], f, ensure_ascii=False)
        panels.append(harness.FakePanel(env, extra=["--services-file", path,
                                                    "--progress", "manual"]))
    return data, panels


def parse_yaml_entries(text):
    """[(id, [routes], name)] from match's YAML output."""
    out = []
    for m in re.finditer(r'^  - id: (\d+)\n    route: \[([^\]]*)\]\n    name: "(.*)"\n', text, re.M):
        routes = [r.strip().strip('"') for r in m.group(2).split(",")]
        out.append((int(m.group(1)), routes, m.group(3)))
    return out


def test_match_yaml_check_serve_failover(env):
    import tempfile
    tmp = tempfile.mkdtemp(prefix="match-")
    data, panels = start_panels(env, tmp)
    pm = None
    try:
        # A first config routes one service, so that sync has a config.
        pm = harness.Panelmux(env, config=config(panels, '  - id: 1\n    route: ["alpha:1001"]\n'))
        pm.cli("services", "sync")
        text = pm.cli("services", "match").stdout
        assert re.search(r"^\d+ groups from \d+ services", text, re.M), text
        js = json.loads(pm.cli("services", "match", "--format", "json").stdout)
        assert js["services"] == sum(len(v) for v in data["services"].values()), js["services"]
        assert js["count"] > 50, js["count"]
        for g in js["groups"]:
            ups = [r["upstream"] for r in g["routes"]]
            assert len(ups) == len(set(ups)) >= 2, g
            assert len({r["type"] for r in g["routes"]}) == 1, g
            costs = [float(r["cost"]) for r in g["routes"]]
            assert costs == sorted(costs), g  # cheapest first
            assert g["reasons"] and float(g["score"]) >= 0.6, g
            assert re.fullmatch(r"[01]\.\d\d", g["score"]), g["score"]
        # Two upstreams only, and a stricter score: fewer, never more.
        two = json.loads(pm.cli("services", "match", "alpha", "beta", "--min-score", "0.8",
                                "--format", "json").stdout)
        assert all({r["upstream"] for r in g["routes"]} <= {"alpha", "beta"} for g in two["groups"])
        assert 0 < two["count"] < js["count"]
        assert pm.cli("services", "match", "nosuch", check=False).returncode == 2
        assert pm.cli("services", "match", "--min-score", "2", check=False).returncode == 2

        yaml = pm.cli("services", "match", "--format", "yaml").stdout
        entries = parse_yaml_entries(yaml)
        assert len(entries) == js["count"], (len(entries), js["count"])
        # Paste: the first config's entry, then the proposal as it is.
        pm.write_config(config(panels, '  - id: 1\n    route: ["alpha:1001"]\n' + yaml))
        chk = harness.subprocess.run([env.bin("panelmuxd"), "-c", pm.config_path, "--check"],
                                     capture_output=True, text=True, env=pm.environ, timeout=60)
        assert chk.returncode == 0, chk.stderr + chk.stdout

        # A three-route Default group whose limits overlap.
        by_key = {(up, s["service"]): s for up in UPS for s in data["services"][up]}
        target = None
        for (lid, routes, name) in entries:
            svc = [by_key[(r.split(":")[0], int(r.split(":")[1]))] for r in routes]
            lo = max(int(s["min"]) for s in svc)
            hi = min(int(s["max"]) for s in svc)
            if len(routes) == 3 and svc[0]["type"] == "Default" and lo <= 1000 <= hi:
                target = (lid, routes, name)
                break
        assert target is not None, yaml[:2000]
        lid, routes, name = target

        pm.start()
        key = pm.customer("bob", fund=100)
        listed = {s["service"]: s for s in pm.api(key=key, action="services")}
        assert lid in listed, sorted(listed)[:20]
        assert listed[lid]["name"] == name.replace('\\"', '"')

        # The first route's upstream refuses adds: the order goes to the next.
        first_up, first_id = routes[0].split(":")
        second_up, second_id = routes[1].split(":")
        panels[UPS.index(first_up)].control(op="fault", action="add",
                                            mode="error:Service is disabled")
        r = pm.api(key=key, action="add", service=lid, link="https://instagram.com/x", quantity=1000)
        assert "order" in r, r
        oid = r["order"]
        row = harness.wait_for(lambda: (lambda v: v if v and v[0][0] == "active" else None)(
            pm.sql("SELECT state, upstream, upstream_service FROM orders WHERE id = ?", oid)),
            what="order active")
        assert row[0][1] == second_up and int(row[0][2]) == int(second_id), row
        first_calls = [c for c in panels[UPS.index(first_up)].calls() if c["action"] == "add"]
        assert len(first_calls) == 1 and first_calls[0]["fault"], first_calls
        second = panels[UPS.index(second_up)]
        adds = [c for c in second.calls() if c["action"] == "add"]
        assert len(adds) == 1 and str(adds[0]["params"]["service"]) == second_id, adds

        # The admin API answers the same groups (read-only key enough).
        akey = pm.admin_key("support", read_only=True)
        resp = pm.admin("GET", "services/match", key=akey)
        assert resp.status == 200, resp
        env_ = resp.json()
        assert env_["error_code"] == 0, env_
        assert env_["data"]["count"] == js["count"]
        assert [[(x["upstream"], x["service"]) for x in g["routes"]] for g in env_["data"]["groups"]] == \
            [[(x["upstream"], x["service"]) for x in g["routes"]] for g in js["groups"]]
        resp = pm.admin("GET", "services/match", key=akey,
                        query={"upstreams": "alpha,beta", "min_score": "0.8"})
        assert resp.json()["data"]["count"] == two["count"], resp
        assert pm.admin("GET", "services/match", key=akey,
                        query={"upstreams": "nosuch"}).json()["error_code"] == 400
        assert pm.admin("GET", "services/match", key=akey,
                        query={"min_score": "x"}).json()["error_code"] == 400
        pm.check()
        pm.stop()
    finally:
        if pm is not None:
            pm.close()
        for p in panels:
            p.close()
        harness.shutil.rmtree(tmp, ignore_errors=True)
