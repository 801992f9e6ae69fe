"""The operator alerts and dashboard shipped in conf/: the rules pass
promtool's check and their unit tests, the live /metrics exposition passes
promtool's lint, and every metric the rules and the dashboard query exists
in what panelmuxd exports."""
import json
import os
import re
import shutil
import subprocess

from harness import Panelmux, FakePanel, http_request, wait_for
from test_operations import config, scrape, start_with_catalogue

# Names PromQL uses that are not panelmux's metrics.
NOT_METRICS = {"up"}


def promtool(env, *args, stdin=None):
    # Not a skip: `make deps` installs Debian's prometheus package.
    exe = shutil.which("promtool")
    assert exe, "promtool is missing: install Debian's prometheus package (make deps)"
    return subprocess.run([exe, *args], cwd=os.path.join(env.root, "conf", "prometheus"),
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_rules_check_and_unit_tests(env):
    p = promtool(env, "check", "rules", "alerts.yml")
    assert p.returncode == 0, p.stdout + p.stderr
    n = int(re.search(r"SUCCESS: (\d+) rules found", p.stdout).group(1))
    p = promtool(env, "test", "rules", "alerts_test.yml")
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr
    # every alert has at least one unit test
    rules = open(os.path.join(env.root, "conf/prometheus/alerts.yml")).read()
    tests = open(os.path.join(env.root, "conf/prometheus/alerts_test.yml")).read()
    names = re.findall(r"^\s+- alert: (\w+)$", rules, re.M)
    assert len(names) == n, (names, n)
    untested = [a for a in names if not re.search(r"alertname: %s$" % a, tests, re.M)]
    assert not untested, untested


def exported(text):
    """The sample names of a Prometheus text exposition."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def queried(expr):
    """The panelmux metric names an expression reads."""
    return set(re.findall(r"\bpanelmux_[a-z_]+\b", expr))


def test_metrics_lint_and_every_queried_metric_exists(env):
    with FakePanel(env, services=5) as fp, \
            Panelmux(env, config=config(poll="400ms"), up_port=fp.port) as pm:
        key = pm.customer("watched", "50")
        start_with_catalogue(pm, key)
        order = pm.api(key=key, action="add", service=1, link="https://x.example/a", quantity=100)
        assert "order" in order, order
        # the series that appear with activity: a status batch, a balance
        wait_for(lambda: scrape(pm).get("panelmux_batch_ids_per_request_count",
                                        upstream="alpha") >= 1, what="a status batch")
        wait_for(lambda: scrape(pm).find("panelmux_upstream_balance", upstream="alpha"),
                 what="the upstream's balance")
        text = http_request(pm.admin_port, "GET", "/metrics").body.decode()

    p = promtool(env, "check", "metrics", stdin=text)
    assert p.returncode == 0, p.stdout + p.stderr
    have = exported(text)
    assert "panelmux_orders_active" in have and "panelmux_store_up" in have, sorted(have)

    rules = open(os.path.join(env.root, "conf/prometheus/alerts.yml")).read()
    exprs = re.findall(r"expr: (.*(?:\n\s{10,}.*)*)", rules)
    assert len(exprs) >= 10, exprs
    missing = {m for e in exprs for m in queried(e)} - have - NOT_METRICS
    assert not missing, ("alerts.yml queries metrics panelmuxd does not export", missing)

    dash = json.load(open(os.path.join(env.root, "conf/grafana/panelmux.json")))
    assert dash["uid"] and dash["panels"], dash.keys()
    names = set()
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            names |= queried(t["expr"])
    missing = names - have
    assert not missing, ("the dashboard queries metrics panelmuxd does not export", missing)
    # the dashboard shows what the issue asks: requests, latency, upstream
    # calls, batch sizes, orders by state, ledger, margin
    for m in ("panelmux_requests_total", "panelmux_request_duration_seconds_bucket",
              "panelmux_upstream_calls_total", "panelmux_batch_ids_per_request_bucket",
              "panelmux_orders", "panelmux_ledger_balance", "panelmux_upstream_cost"):
        assert m in names, m
