#!/usr/bin/env python3
"""Rows "webhook deliveries/s" (over 10 endpoints, and to one) and
"balance / add req/s with webhooks on against off" (README "Webhooks").

The receiver is nginx (one worker, `return 200 '{}'` on /api/v2, pinned to
the client core beside the fake panel and wrk), logging each request's
$msec, status and size: the deliveries and their instants come from there.

1. Webhooks off: panelmuxd (benchlib's CONFIG, no `webhooks:`), one
   customer; wrk `request.lua` (balance) then `add.lua` on BENCH_CONNS (64)
   connections, BENCH_HOOK_WARMUP (1) s + BENCH_HOOK_SECONDS (5, at most
   BENCH_SECONDS) s each.
2. Webhooks on: a fresh store, `webhooks: {enabled: true, allow_private:
   true}`, BENCH_HOOK_CUSTOMERS (10) customers each with an endpoint
   (`panelmux webhook add`) at the receiver; the same two loads by one of
   them, so every accepted add writes an event, delivered while the load
   runs.  The daemon is then stopped: deliveries received + events still
   pending must account for every accepted add (an event in flight at the
   stop may count twice); the backlog is printed.  The leftovers are
   deleted.
3. Deliveries/s: with the daemon stopped, BENCH_HOOK_EVENTS (20,000) due
   events are written with SQL (copies of one real pending event, each
   its own order's chain), spread over the 10 endpoints; the daemon starts
   and runs for BENCH_HOOK_WINDOW (10) s or until all came; the figure is
   (n - 1) / (last - first delivery) from the receiver's log over the
   deliveries before the SIGTERM that ends the window, every request
   answered 200 (the stop's duration and the deliveries after the SIGTERM
   are printed).  Then the same with all of them for one endpoint
   (webhooks.max_per_endpoint applies).

No target is set in the issue: the rows are `info`.  About 60 s in all.
Results: hooks.deliver_rps/_got/_cpu_us (10 endpoints), hooks.deliver1_*
(one endpoint), hooks.deliver_n, hooks.{balance,add}_{on,off}[_cpu_us,
_errors], hooks.add_events."""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

import benchlib as b

SECONDS = int(os.environ.get("BENCH_HOOK_SECONDS", min(int(os.environ.get("BENCH_SECONDS", "10")), 5)))
WARMUP = int(os.environ.get("BENCH_HOOK_WARMUP", "1"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
EVENTS = int(os.environ.get("BENCH_HOOK_EVENTS", "20000"))
WINDOW = float(os.environ.get("BENCH_HOOK_WINDOW", "10"))
CUSTOMERS = int(os.environ.get("BENCH_HOOK_CUSTOMERS", "10"))
HZ = os.sysconf("SC_CLK_TCK")

WEBHOOKS = """\
webhooks:
  enabled: true
  allow_private: true
  retry_base: 1s
  retry_max: 10s
"""


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def measure(name, url, script, pid, **env):
    if WARMUP > 0:
        b.wrk(CONNS, WARMUP, url, script, BENCH_TAG=f"{name}-warm", **env)
    t0 = cpu_ticks(pid)
    w = b.wrk(CONNS, SECONDS, url, script, BENCH_TAG=name, **env)
    w["cpu_us"] = (cpu_ticks(pid) - t0) / HZ * 1e6 / max(w["WRK_REQUESTS"], 1)
    print(f"  [{name}] {w['WRK_RPS']:.1f} req/s, p50 {w['WRK_P50_MS']:.3f} ms, p99 {w['WRK_P99_MS']:.3f} ms,"
          f" errors {w['WRK_ERRORS']:.0f}, server CPU {w['cpu_us']:.1f} us/request", flush=True)
    return w


def loads(pm, key, label):
    """balance then add, BENCH_CONNS connections each: (balance, add) figures."""
    url = f"http://127.0.0.1:{pm.port}/api/v2"
    reply = b.api(pm.port, key=key, action="balance")
    if "balance" not in reply:
        raise RuntimeError(f"balance: {reply}")
    bal = measure(f"balance-{label}", url, "request.lua", pm.proc.pid,
                  BENCH_BODY=f"key={key}&action=balance", BENCH_METHOD="POST")
    add = measure(f"add-{label}", url, "add.lua", pm.proc.pid, BENCH_KEY=key)
    return bal, add


# --- the receiver: nginx with an access log of $msec ------------------------

class Receiver:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "receiver")
        os.makedirs(self.dir)
        self.port = b.free_port()
        body = os.path.join(self.dir, "body.json")
        with open(body, "w") as f:
            f.write("{}")
        conf = b.nginx_conf(self.dir, self.port, body)
        self.log = os.path.join(self.dir, "deliveries.log")
        text = open(conf).read().replace(
            "access_log off;",
            f"log_format hook '$msec $status $request_length';\n  access_log {self.log} hook;")
        with open(conf, "w") as f:
            f.write(text)
        open(self.log, "w").close()
        os.chmod(self.log, 0o666)
        err = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(b.pinned(b.CLIENT_CPU, ["nginx", "-p", self.dir, "-c", conf, "-e",
                                                            os.path.join(self.dir, "nginx-error.log")]),
                                     stdout=err, stderr=subprocess.STDOUT)
        err.close()
        b.wait_port(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}/api/v2"

    def lines(self):
        with open(self.log) as f:
            return [ln.split() for ln in f.read().splitlines() if ln.strip()]

    def close(self):
        b.stop(self.proc)


def outbox_pending(pm):
    st, body = b.http_request(pm.admin_port, "GET", "/metrics")
    m = re.search(rb'^panelmux_webhook_outbox_events\{state="pending"\} (\S+)$', body, re.M)
    if st != 200 or not m:
        raise RuntimeError("no panelmux_webhook_outbox_events{state=\"pending\"} on /metrics")
    return int(float(m.group(1)))


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def outbox_count(db, names):
    """Pending events of the endpoints of the customers NAMES (the store read directly)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(webhook_events)")]
        pending = " AND e.delivery = 'pending'" if "delivery" in cols else ""
        q = ("SELECT COUNT(*) FROM webhook_events e JOIN webhooks w ON w.id = e.endpoint_id"
             " JOIN customers c ON c.id = w.customer_id WHERE c.name IN (%s)%s"
             % (",".join("?" * len(names)), pending))
        return con.execute(q, names).fetchone()[0]
    finally:
        con.close()


def clear_outbox(db, names):
    con = sqlite3.connect(db, timeout=30)
    with con:
        con.execute("DELETE FROM webhook_events WHERE endpoint_id IN (SELECT w.id FROM webhooks w"
                    " JOIN customers c ON c.id = w.customer_id WHERE c.name IN (%s))"
                    % ",".join("?" * len(names)), names)
    con.close()


def fill_outbox(db, n, template_customer, customers):
    """N due events spread over the endpoints of CUSTOMERS (round robin),
    copies of TEMPLATE_CUSTOMER's one pending event, each its own order's
    chain.  The template stays (pending to an address nobody answers)."""
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA synchronous=OFF")
    with con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(webhook_events)")]
        need = {"id", "order_id", "next_at", "endpoint_id", "customer_id"}
        if not need <= set(cols):
            raise RuntimeError(f"webhook_events lacks {need - set(cols)}: {cols}")

        def endpoint(name):
            return con.execute("SELECT w.id, w.customer_id FROM webhooks w JOIN customers c"
                               " ON c.id = w.customer_id WHERE c.name = ?", (name,)).fetchone()
        tep, _ = endpoint(template_customer)
        (src,), = con.execute("SELECT id FROM webhook_events WHERE endpoint_id = ?", (tep,)).fetchall()
        con.execute("CREATE TEMP TABLE bench_ep (k INTEGER PRIMARY KEY, id INTEGER, customer_id INTEGER)")
        con.executemany("INSERT INTO bench_ep VALUES (?, ?, ?)",
                        [(k, *endpoint(c)) for k, c in enumerate(customers)])
        keep = [c for c in cols if c not in need and c != "attempts"]
        con.execute(
            f"""WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
                INSERT INTO webhook_events (endpoint_id, customer_id, order_id, next_at{''.join(', ' + c for c in keep)})
                SELECT p.id, p.customer_id, 10000000 + seq.i, 0{''.join(', e.' + c for c in keep)}
                FROM seq JOIN bench_ep p ON p.k = seq.i % ?, webhook_events e WHERE e.id = ?""",
            (n, len(customers), src))
        con.execute("DROP TABLE bench_ep")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    got = outbox_count(db, customers)
    if got != n:
        raise RuntimeError(f"outbox holds {got} for the endpoints, not {n}")


def deliver_window(pm, rx, n, label):
    """Start PM with N events due; deliveries for WINDOW s at most (or
    until all came): (rate from the first to the last, count, CPU us each)."""
    before = len(rx.lines())
    pm.start()
    c0 = cpu_ticks(pm.proc.pid)
    deadline = time.monotonic() + WINDOW
    while time.monotonic() < deadline and len(rx.lines()) < before + n:
        time.sleep(0.1)
    cpu = cpu_ticks(pm.proc.pid) - c0
    term = time.time()
    pm.stop()
    stopped = time.time() - term
    new = rx.lines()[before:]
    if len(new) < 2 or any(ln[1] != "200" for ln in new):
        raise RuntimeError(f"{label}: {len(new)} deliveries, statuses {sorted({ln[1] for ln in new})}")
    late = [ln for ln in new if float(ln[0]) > term]
    print(f"  [{label}] SIGTERM: stopped in {stopped:.2f} s, {len(late)} deliveries after it", flush=True)
    new = [ln for ln in new if float(ln[0]) <= term]   # the window only
    t = sorted(float(ln[0]) for ln in new)
    rate = (len(t) - 1) / max(t[-1] - t[0], 1e-3)
    size = sum(int(ln[2]) for ln in new) / len(new)
    cpu_us = cpu / HZ * 1e6 / len(new)
    print(f"deliveries, {label}: {len(new)} of {n} in {t[-1] - t[0]:.2f} s = {rate:.1f}/s"
          f"{'' if len(new) >= n else f' (window of {WINDOW} s over)'}, {size:.0f} bytes a request,"
          f" server CPU {cpu_us:.1f} us/delivery", flush=True)
    return rate, len(new), cpu_us


def main():
    tmp = tempfile.mkdtemp(prefix="pmx-bench-hooks.")
    os.chmod(tmp, 0o711)  # nginx's workers drop root and must reach their dir
    fp = rx = off = on = None
    try:
        fp = b.FakePanel(tmp, services=20)
        rx = Receiver(tmp)

        # --- 1. webhooks off ------------------------------------------------
        os.makedirs(os.path.join(tmp, "off"))
        off = b.Panelmux(os.path.join(tmp, "off"), fp.port, poll="10m")
        key = off.customer("bench", 1000000)
        off.start()
        bal_off, add_off = loads(off, key, "off")
        off.stop()
        off = None

        # --- 2. webhooks on -------------------------------------------------
        d = os.path.join(tmp, "on")
        os.makedirs(d)
        on = b.Panelmux(d, fp.port, poll="10m", admin=True)
        with open(on.conf, "a") as f:
            f.write(WEBHOOKS)
        names = ["bench"] + [f"c{i}" for i in range(1, CUSTOMERS)]
        keys = {}
        for n in names:
            keys[n] = on.customer(n, 1000000)
            secret = on.cli("webhook", "add", n, rx.url).strip()
            if not re.fullmatch(r"whsec_[0-9a-f]{64}", secret):
                raise RuntimeError(f"webhook add printed {secret!r}")
        on.start()
        bal_on, add_on = loads(on, keys["bench"], "on")
        on.stop()   # drains what is in flight
        con = sqlite3.connect(on.db, timeout=30)
        accepted = con.execute("SELECT COUNT(*) FROM orders WHERE state = 'active'").fetchone()[0]
        states = con.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall()
        con.close()
        got = len(rx.lines())
        backlog = outbox_count(on.db, names)
        print(f"webhooks on: orders by state {states}; {got} deliveries received during the load,"
              f" {backlog} events still pending, for {accepted} accepted adds", flush=True)
        # every accepted add made one event, delivered or pending (one in
        # flight at the stop may be both)
        if not accepted <= got + backlog <= accepted + 256:
            raise RuntimeError(f"{got} delivered + {backlog} pending for {accepted} accepted orders")
        clear_outbox(on.db, names)

        # --- 3. deliveries per second ---------------------------------------
        # One real pending event as the template: an endpoint nobody answers.
        on.start()
        tkey = on.customer("tmpl", 10)
        on.cli("webhook", "add", "tmpl", f"http://127.0.0.1:{b.free_port()}/api/v2")
        r = b.api(on.port, key=tkey, action="add", service=1, link="https://bench.example/template",
                  quantity=100)
        if "order" not in r:
            raise RuntimeError(f"template add: {r}")
        wait(lambda: outbox_pending(on) == 1, 30, "the template event pending")
        on.stop()
        fill_outbox(on.db, EVENTS, "tmpl", names)
        rate, n_all, cpu_all = deliver_window(on, rx, EVENTS, f"{len(names)} endpoints")
        clear_outbox(on.db, names)
        fill_outbox(on.db, EVENTS, "tmpl", ["bench"])
        rate1, n_one, cpu_one = deliver_window(on, rx, EVENTS, "one endpoint")
        on = None

        b.result("hooks.deliver_rps", f"{rate:.1f}")
        b.result("hooks.deliver_n", EVENTS)
        b.result("hooks.deliver_got", n_all)
        b.result("hooks.deliver_endpoints", len(names))
        b.result("hooks.deliver_cpu_us", f"{cpu_all:.1f}")
        b.result("hooks.deliver1_rps", f"{rate1:.1f}")
        b.result("hooks.deliver1_got", n_one)
        b.result("hooks.deliver1_cpu_us", f"{cpu_one:.1f}")
        for k, w in (("balance_off", bal_off), ("balance_on", bal_on), ("add_off", add_off), ("add_on", add_on)):
            b.result(f"hooks.{k}", f"{w['WRK_RPS']:.1f}")
            b.result(f"hooks.{k}_cpu_us", f"{w['cpu_us']:.1f}")
            b.result(f"hooks.{k}_errors", f"{w['WRK_ERRORS']:.0f}")
        b.result("hooks.add_events", f"{got} deliveries during the add run, {backlog} pending after it,"
                                     f" for {accepted} accepted adds")
        b.result("hooks.conns", CONNS)
    finally:
        if rx is not None:
            rx.close()
        b.cleanup(tmp, fp, off, on)


if __name__ == "__main__":
    sys.exit(main())
