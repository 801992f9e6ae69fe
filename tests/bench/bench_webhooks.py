#!/usr/bin/env python3
"""Rows "webhook deliveries/s" and "balance / add req/s with webhooks on
against off" (README "Webhooks").

The receiver is nginx (one worker, `return 200 '{}'` on /api/v2, pinned to
the client core beside the fake panel and wrk), logging each request's
$msec to its access log: the count of deliveries and their first and last
instants come from there.

1. Webhooks off: panelmuxd (benchlib's CONFIG, no `webhooks:`), one
   customer; wrk `request.lua` (balance) then `add.lua` on BENCH_CONNS (64)
   connections, BENCH_HOOK_WARMUP (1) s + BENCH_HOOK_SECONDS (5) s each.
2. Webhooks on: a fresh store, `webhooks: {enabled: true, allow_private:
   true}`, BENCH_HOOK_CUSTOMERS (10) customers each with an endpoint
   (`panelmux webhook add`) at the receiver; the same two loads with one
   of them (so every add's acceptance writes an event and it is delivered
   while the load runs).  Afterwards the outbox must drain (the gauge on
   /metrics at 0 pending) and the receiver must have got at least one
   delivery per accepted add.
3. Deliveries/s: with the daemon stopped, the outbox gets
   BENCH_HOOK_EVENTS (20,000) due events by SQL (copies of a real one,
   each its own order's chain, for the bench customer's endpoint); the
   daemon starts and the figure is (N - 1) / (last - first delivery) from
   the receiver's log; every one must arrive within 60 s.

No target is set in the issue: the rows are `info`.  The whole scenario
takes about 60 s (BENCH_HOOK_SECONDS 5).
Results: hooks.deliver_rps, hooks.deliver_n, hooks.deliver_cpu_us,
hooks.{balance,add}_{on,off}, hooks.add_events, hooks.drain_s."""
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
            f"log_format hook '$msec $status $request_length';\n  access_log {self.log} hook buffer=64k flush=100ms;")
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


def fill_outbox(db, n, template_customer, customer):
    """N due events for CUSTOMER's endpoint, copies of TEMPLATE_CUSTOMER's
    one pending event (which goes), each its own order's chain."""
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
        ep, cust = endpoint(customer)
        (src,), = con.execute("SELECT id FROM webhook_events WHERE endpoint_id = ?", (tep,)).fetchall()
        keep = [c for c in cols if c not in need and c != "attempts"]
        con.execute(
            f"""WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
                INSERT INTO webhook_events (endpoint_id, customer_id, order_id, next_at{''.join(', ' + c for c in keep)})
                SELECT ?, ?, 10000000 + seq.i, 0{''.join(', e.' + c for c in keep)}
                FROM seq, webhook_events e WHERE e.id = ?""", (n, ep, cust, src))
        con.execute("DELETE FROM webhook_events WHERE id = ?", (src,))
        got = con.execute("SELECT COUNT(*) FROM webhook_events WHERE endpoint_id = ?", (ep,)).fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    if got != n:
        raise RuntimeError(f"outbox holds {got} for the endpoint, not {n}")


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
        t0 = time.monotonic()
        bal_on, add_on = loads(on, keys["bench"], "on")
        wait(lambda: outbox_pending(on) == 0, 60, "the add run's events delivered")
        drain = time.monotonic() - t0 - 2 * (WARMUP + SECONDS)
        con = sqlite3.connect(on.db, timeout=30)
        accepted = con.execute("SELECT COUNT(*) FROM orders WHERE state = 'active'").fetchone()[0]
        states = con.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall()
        con.close()
        got = len(rx.lines())
        print(f"webhooks on: orders by state {states}; {got} deliveries received for {accepted} accepted"
              f" adds; outbox empty {max(drain, 0):.1f} s after the load", flush=True)
        if got < accepted:
            raise RuntimeError(f"{got} deliveries for {accepted} accepted orders")

        # --- 3. deliveries per second ---------------------------------------
        # One real pending event as the template: an endpoint nobody answers.
        tkey = on.customer("tmpl", 10)
        on.cli("webhook", "add", "tmpl", f"http://127.0.0.1:{b.free_port()}/api/v2")
        r = b.api(on.port, key=tkey, action="add", service=1, link="https://bench.example/template",
                  quantity=100)
        if "order" not in r:
            raise RuntimeError(f"template add: {r}")
        wait(lambda: outbox_pending(on) == 1, 30, "the template event pending")
        on.stop()
        fill_outbox(on.db, EVENTS, "tmpl", "bench")
        before = len(rx.lines())
        on.start()
        c0 = cpu_ticks(on.proc.pid)
        wait(lambda: len(rx.lines()) >= before + EVENTS, 60, f"{EVENTS} deliveries")
        cpu = cpu_ticks(on.proc.pid) - c0
        wait(lambda: outbox_pending(on) == 0, 30, "the outbox empty")
        new = rx.lines()[before:]
        if len(new) != EVENTS or any(ln[1] != "200" for ln in new):
            raise RuntimeError(f"{len(new)} deliveries for {EVENTS} events, statuses"
                               f" {sorted({ln[1] for ln in new})}")
        t = sorted(float(ln[0]) for ln in new)
        rate = (len(t) - 1) / max(t[-1] - t[0], 1e-3)
        size = sum(int(ln[2]) for ln in new) / len(new)
        print(f"deliveries: {EVENTS} in {t[-1] - t[0]:.2f} s = {rate:.0f}/s, {size:.0f} bytes a request,"
              f" server CPU {cpu / HZ * 1e6 / EVENTS:.1f} us/delivery", flush=True)
        on.stop()
        on = None

        b.result("hooks.deliver_rps", f"{rate:.1f}")
        b.result("hooks.deliver_n", EVENTS)
        b.result("hooks.deliver_cpu_us", f"{cpu / HZ * 1e6 / EVENTS:.1f}")
        for k, w in (("balance_off", bal_off), ("balance_on", bal_on), ("add_off", add_off), ("add_on", add_on)):
            b.result(f"hooks.{k}", f"{w['WRK_RPS']:.1f}")
            b.result(f"hooks.{k}_cpu_us", f"{w['cpu_us']:.1f}")
            b.result(f"hooks.{k}_errors", f"{w['WRK_ERRORS']:.0f}")
        b.result("hooks.add_events", f"{got} deliveries for {accepted} accepted adds")
        b.result("hooks.drain_s", f"{max(drain, 0):.1f}")
        b.result("hooks.conns", CONNS)
    finally:
        if rx is not None:
            rx.close()
        b.cleanup(tmp, fp, off, on)


if __name__ == "__main__":
    sys.exit(main())
