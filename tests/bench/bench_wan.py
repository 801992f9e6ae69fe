#!/usr/bin/env python3
"""Scenario `wan`: panelmux against an upstream across a simulated WAN with
real TLS (issue 21).

    panelmuxd --(TCP through wanrelay.py: RTT/2 + jitter each way)-->
        nginx (TLS 1.3, HTTP/2, a throw-away CA) --(HTTP/1.1 keep-alive)-->
        the fake panel

At each RTT of BENCH_WAN_RTTS ("50 150" ms, jitter BENCH_WAN_JITTER_MS 3):
  anchor   build/oneatatime: one order at a time, a new libcurl handle each
           (fresh TCP + full TLS handshake), straight to the fake panel
           through the same relay and nginx.
  adds     wrk (add.lua, BENCH_WAN_CONNS 64 customers' connections) on
           panelmuxd for BENCH_WAN_WARMUP (2) + BENCH_WAN_SECONDS (6) s;
           the figure is orders created at the fake panel per second over
           the measured seconds (its /control/stats, read directly).
  burst    1,000 adds sent at once (200 client threads): the time from the
           first request to the 1,000th order at the fake panel.
  reads    a second daemon on a store with BENCH_WAN_POLL_ORDERS (100,000)
           active orders (SQL, polled_at 0, pointing at the fake panel's
           orders 1..n, seeded directly): before its first poll timer,
           status of 200 of them (stale: each forces an upstream call),
           refill of 200 and cancel of 200 (writes: fresh connections),
           16 at a time; p50/p99.  Then its first poll cycle: status calls
           (ceil(n/100) wanted) and the time from first to last call.
At 50 ms the reads are measured again with `http2: false`, and the adds and
the burst again with the relay stalling BENCH_WAN_STALL (1%) and resetting
BENCH_WAN_RESET (1%) of the connections: a separate, labelled run.

Bounds: an add is a fresh connection (UP_FRESH), so it costs k round trips
(TCP 1 + TLS 1.3 1 + the request 1 = 3; TLS 1.3 is checked with curl and k
is 4 if TLS 1.2 were negotiated): at most max_write_connections / (k x RTT)
adds/s.  Reads on kept-alive connections cost one round trip: the path's
own, measured after each read phase (path_rtt: oneatatime --status-ids,
one kept-alive libcurl handle straight to the fake panel through the same
relay and nginx; a few ms above the nominal RTT, which no client gets on
this path); at most max_connections / that calls/s, so a poll cycle takes
at least ceil(n/100) x it / max_connections, and a stale status one of
it.  A refill or a cancel: k x RTT.  Config: max_write_connections
BENCH_WAN_WRITE_CONNS (32), max_connections BENCH_WAN_READ_CONNS (16),
connect_timeout 1s, timeout 15s.
Targets (issue 21): >= 0.9 x the bound and >= 20 x one at a time.

Results: wan.<rtt>.* (see table.py) and wan.k, wan.tls."""
import http.client
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import benchlib as b
import wanlib

RTTS = [int(x) for x in os.environ.get("BENCH_WAN_RTTS", "50 150").split()]
JITTER = float(os.environ.get("BENCH_WAN_JITTER_MS", "3"))
WARM = float(os.environ.get("BENCH_WAN_WARMUP", "2"))
SECONDS = float(os.environ.get("BENCH_WAN_SECONDS", "6"))
CONNS = int(os.environ.get("BENCH_WAN_CONNS", "64"))
WRITE_CONNS = int(os.environ.get("BENCH_WAN_WRITE_CONNS", "32"))
READ_CONNS = int(os.environ.get("BENCH_WAN_READ_CONNS", "16"))
BURST = int(os.environ.get("BENCH_WAN_BURST", "1000"))
N_POLL = int(os.environ.get("BENCH_WAN_POLL_ORDERS", "100000"))  # at the first RTT
N_POLL_SMALL = int(os.environ.get("BENCH_WAN_POLL_SMALL", "10000"))  # the other runs
LAT_N = int(os.environ.get("BENCH_WAN_LAT_N", "200"))
LAT_PAR_READ = int(os.environ.get("BENCH_WAN_LAT_PAR_READ", "8"))
LAT_PAR_WRITE = int(os.environ.get("BENCH_WAN_LAT_PAR_WRITE", "16"))
ONE_S = float(os.environ.get("BENCH_WAN_ONE_S", "3"))  # the anchor's time budget
STALL = float(os.environ.get("BENCH_WAN_STALL", "0.01"))
RESET = float(os.environ.get("BENCH_WAN_RESET", "0.01"))
FAULT_RTT = int(os.environ.get("BENCH_WAN_FAULT_RTT", str(RTTS[0])))
H1_RTT = int(os.environ.get("BENCH_WAN_H1_RTT", str(RTTS[0])))
POLL_WAIT = float(os.environ.get("BENCH_WAN_POLL_WAIT", "45"))  # after the first timer
POLL_S = int(os.environ.get("BENCH_WAN_POLL_INTERVAL", "3"))  # poll_interval for the cycle

CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  paths: ["/api/v2"]
store:
  sqlite: "{db}"
log:
  level: warn
limits:
  max_connections: 20000
  max_connections_per_ip: 20000
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
  read_rate_per_key: "0/s"
orders:
  reply_wait: 5s
upstreams:
  - name: alpha
    url: "{url}"
    key: "{up_key}"
    ca_file: "{ca}"
    timeout: 15s
    connect_timeout: 1s
    max_connections: {read_conns}
    max_write_connections: {write_conns}
    http2: {http2}
    poll_interval: {poll}
    sync_interval: 1h
services:
  - import: alpha
    id_offset: 0
"""


class Daemon(b.Panelmux):
    """benchlib's Panelmux with this scenario's config (TLS upstream)."""

    def __init__(self, tmp, url, ca, poll="10m", http2=True, name="pmx"):
        d = os.path.join(tmp, name)
        os.makedirs(d, exist_ok=True)
        super().__init__(d, 1)
        text = CONFIG.format(port=self.port, db=self.db, url=url, up_key=b.UPSTREAM_KEY, ca=ca,
                             read_conns=READ_CONNS, write_conns=WRITE_CONNS,
                             http2="true" if http2 else "false", poll=poll)
        with open(self.conf, "w") as f:
            f.write(text)

    def wait_catalogue(self, key, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = b.api(self.port, key=key, action="services")
                if isinstance(r, list) and r:
                    return
            except (OSError, RuntimeError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the catalogue did not arrive through the WAN:\n" + self.log_tail())

    def log_tail(self):
        try:
            with open(os.path.join(self.tmp, "panelmuxd.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""


# --- customers' requests ------------------------------------------------------

_local = threading.local()


def post(port, fields, timeout=60):
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "port", None) != port:
        conn = _local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        _local.port = port
    body = urllib.parse.urlencode(fields)
    try:
        conn.request("POST", "/api/v2", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        data = r.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        _local.conn = None
        raise
    return r.status, json.loads(data)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else None


def timed(port, fields_list, par):
    """Each request of FIELDS_LIST, PAR at a time: (latencies in ms, replies)."""
    def one(fields):
        t = time.monotonic()
        st, r = post(port, fields)
        return (time.monotonic() - t) * 1000, r

    with ThreadPoolExecutor(max_workers=par) as pool:
        out = list(pool.map(one, fields_list))
    return [x[0] for x in out], [x[1] for x in out]


# --- the pieces ----------------------------------------------------------------

def anchor(chain, rtt, tag):
    """oneatatime through the chain: its figures (orders/s, latencies)."""
    n = max(5, int(ONE_S / (3.3 * rtt / 1000)))
    p = subprocess.run(b.pinned(b.CLIENT_CPU, [b.bin_path("oneatatime"), "--url", chain.url, "--key",
                                               b.UPSTREAM_KEY, "--cainfo", chain.ca_file, "--n", str(n),
                                               "--tag", tag]),
                       capture_output=True, text=True, timeout=120)
    print(f"oneatatime {rtt} ms, {n} orders:\n{p.stdout}{p.stderr}", flush=True)
    if p.returncode != 0:
        raise RuntimeError(f"oneatatime failed: {p.stderr}")
    return {k: v for k, v in (line.split("=", 1) for line in p.stdout.split())}


def path_rtt(chain, http1, n=30):
    """The path's own round trip for a read (ms, p50): oneatatime
    --status-ids 100, one kept-alive libcurl handle straight to the fake
    panel through the relay and nginx, a status call of 100 IDs each.
    Above the nominal RTT by what the relay, nginx and the fake panel
    take, and by the jitter: a reply of several chunks waits for the
    latest of them, since the relay keeps their order."""
    argv = [b.bin_path("oneatatime"), "--url", chain.url, "--key", b.UPSTREAM_KEY, "--cainfo",
            chain.ca_file, "--n", str(n), "--status-ids", "100"] + (["--http1"] if http1 else [])
    p = subprocess.run(b.pinned(b.CLIENT_CPU, argv), capture_output=True, text=True, timeout=120)
    print(f"path round trip{' (HTTP/1.1)' if http1 else ''}:\n{p.stdout}{p.stderr}", flush=True)
    if p.returncode != 0:
        raise RuntimeError(f"oneatatime --status-ids failed: {p.stderr}")
    return float(dict(line.split("=", 1) for line in p.stdout.split())["p50_ms"])


def cpu_s(pid):
    """User + system CPU seconds of process PID so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steady_adds(fp, pm, key, tag):
    """wrk on panelmuxd; the fake panel's new orders per second over the
    measured window."""
    e = dict(os.environ, BENCH_DIR=b.HERE, BENCH_KEY=key, BENCH_TAG=tag)
    dur = WARM + SECONDS
    wrk = subprocess.Popen(b.pinned(b.CLIENT_CPU, ["wrk", "-t1", f"-c{CONNS}", f"-d{dur + 1:.0f}s",
                                                   "--timeout", "20s", "-s",
                                                   os.path.join(b.HERE, "add.lua"),
                                                   f"http://127.0.0.1:{pm.port}/api/v2"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=e)
    try:
        time.sleep(WARM)
        n0, t0, c0 = fp.stats()["orders"], time.monotonic(), cpu_s(pm.proc.pid)
        time.sleep(SECONDS)
        n1, t1, c1 = fp.stats()["orders"], time.monotonic(), cpu_s(pm.proc.pid)
        out, _ = wrk.communicate(timeout=dur + 60)
    finally:
        b.stop(wrk)
    print(f"wrk (customers' adds to panelmuxd):\n{out}", flush=True)
    per = (c1 - c0) / max(n1 - n0, 1) * 1e6
    print(f"panelmuxd CPU: {c1 - c0:.2f} s over {t1 - t0:.1f} s, {per:.0f} us per add", flush=True)
    STEADY_CPU.append(per)
    return (n1 - n0) / (t1 - t0)


STEADY_CPU = []  # panelmuxd's CPU per add in each steady_adds run (us)


def burst(fp, pm, key, tag, threads=200):
    """BURST adds at once from THREADS customers' connections, opened
    first and released together; seconds from the release until the fake
    panel has them all."""
    base = fp.stats()["orders"]
    replies, lock = [], threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def one(k):
        conn = http.client.HTTPConnection("127.0.0.1", pm.port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=60)
            for i in range(k, BURST, threads):
                body = urllib.parse.urlencode({"key": key, "action": "add", "service": 1, "quantity": 100,
                                               "link": f"https://burst.example/{tag}/{i}"})
                conn.request("POST", "/api/v2", body, {"Content-Type": "application/x-www-form-urlencoded"})
                r = json.loads(conn.getresponse().read())
                with lock:
                    replies.append(r)
        finally:
            conn.close()

    ts = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(threads)]
    for t in ts:
        t.start()
    barrier.wait(timeout=60)
    t0 = time.monotonic()
    t_end = None
    while time.monotonic() < t0 + 120:
        if fp.stats()["orders"] - base >= BURST:
            t_end = time.monotonic()
            break
        time.sleep(0.01)
    for t in ts:
        t.join(60)
    got = fp.stats()["orders"] - base
    bad = [r for r in replies if "order" not in r]
    print(f"burst {tag}: {got} orders at the fake panel, {len(replies)} replies, {len(bad)} without an"
          f" order {bad[:3]}", flush=True)
    return (t_end - t0) if t_end else None, got


def wait_quiet(fp, pm, timeout=60):
    """Until the fake panel's order count stops moving (the daemon's queue
    drained) so the next phase starts from idle."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = fp.stats()["orders"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 1.0:
            return
        time.sleep(0.1)


def writes_run(tmp, fp, chain, rtt, label, tag):
    pm = Daemon(tmp, chain.url, chain.ca_file, name=f"pmx-{label}")
    try:
        key = pm.customer("wan", fund=10_000_000)
        mark = fp.stats()["requests"]
        pm.start()
        pm.wait_catalogue(key)
        rate = steady_adds(fp, pm, key, f"{tag}s")
        wait_quiet(fp, pm)
        drain, got = burst(fp, pm, key, f"{tag}b")
        wait_quiet(fp, pm)
        pm.stop()
        con = sqlite3.connect(pm.db)
        states = con.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall()
        con.close()
        # Every add the fake panel received, once: no link twice.
        status, body = b.http_request(fp.port, "GET", f"/control/log?since={mark}", timeout=120)
        links = {}
        for c in json.loads(body):
            if c["action"] == "add":
                links[c["params"].get("link")] = links.get(c["params"].get("link"), 0) + 1
        twice = sum(1 for n in links.values() if n > 1)
        print(f"{label}: store by state {states}; {len(links)} links added upstream, {twice} of them"
              f" more than once", flush=True)
        return rate, drain, got, ",".join(f"{s}={n}" for s, n in states) + f",twice={twice}"
    finally:
        if pm.proc is not None:
            pm.stop()


def first_cycle(fp, mark, need):
    """The status calls logged since MARK until every upstream ID of NEED
    was asked, and the IDs asked.  A call asking only IDs already asked
    (the next cycle's, due again after 0.9 x poll_interval and logged among
    the last wave of this one) is left out."""
    status, body = b.http_request(fp.port, "GET", f"/control/log?since={mark}", timeout=120)
    calls, seen = [], set()
    for c in json.loads(body):
        if c["action"] != "status" or not c["ids"]:
            continue
        if seen.issuperset(c["ids"]):
            continue
        calls.append(c)
        seen.update(c["ids"])
        if need <= seen:
            break
    return calls, seen


def reads_run(tmp, fp, chain, rtt, http2, label, n_orders):
    """A store of N_ORDERS active orders (polled_at 0: every one stale).
    The daemon with poll_interval 10m: status, refill and cancel
    latencies (each status forces an upstream call).  Then the daemon
    again with poll_interval POLL_S: its first poll cycle."""
    pm = Daemon(tmp, chain.url, chain.ca_file, poll="10m", http2=http2, name=f"pmx-{label}")
    try:
        key = pm.customer("bulk")
        cid = b.customer_id(pm.db, "bulk")
        ids = b.insert_orders(pm.db, [cid], n_orders, "active", 0, 1)[cid]
        pm.start()
        pm.wait_catalogue(key)
        out = {}
        s0 = fp.stats()["actions"]
        st_ids, rf_ids, cn_ids = ids[:LAT_N], ids[LAT_N:2 * LAT_N], ids[2 * LAT_N:3 * LAT_N]
        for what, par, fields in (
                ("status", LAT_PAR_READ, [{"key": key, "action": "status", "order": i} for i in st_ids]),
                ("refill", LAT_PAR_WRITE, [{"key": key, "action": "refill", "order": i} for i in rf_ids]),
                ("cancel", LAT_PAR_WRITE, [{"key": key, "action": "cancel", "orders": str(i)} for i in cn_ids])):
            lat, replies = timed(pm.port, fields, par)
            out[what] = (pct(lat, 50), pct(lat, 99))
            print(f"{label} {what} ({par} at a time): p50 {out[what][0]:.1f} ms p99 {out[what][1]:.1f} ms;"
                  f" first replies {replies[:2]}", flush=True)
        s1 = fp.stats()["actions"]
        out["calls"] = {a: s1.get(a, 0) - s0.get(a, 0) for a in ("status", "refill", "cancel")}
        print(f"{label}: upstream calls during the latency phase {out['calls']}", flush=True)
        pm.stop()
        # The first poll cycle: every order but the ones just asked.
        with open(pm.conf) as f:
            text = f.read()
        with open(pm.conf, "w") as f:
            f.write(text.replace("poll_interval: 10m", f"poll_interval: {POLL_S}s"))
        asked_now = set(st_ids) | set(rf_ids) | set(cn_ids)
        # upstream IDs are the local IDs' position + 1 (insert_orders, first_upstream_order 1)
        need = {i - ids[0] + 1 for i in ids if i not in asked_now}
        mark = fp.stats()["requests"]
        pm.start()
        deadline = time.monotonic() + POLL_S + POLL_WAIT
        calls, seen = [], set()
        while time.monotonic() < deadline:
            time.sleep(1)
            calls, seen = first_cycle(fp, mark, need)
            if need <= seen:
                break
        pm.stop()
        if not calls:
            raise RuntimeError("no poll call reached the fake panel")
        done = need <= seen
        cycle = (calls[-1]["ms"] - calls[0]["ms"]) / 1000
        got = len(seen & need)
        rate = got / max(cycle, 0.001)
        out["poll"] = {"calls": len(calls), "ideal": math.ceil(len(seen) / 100), "asked": len(seen),
                       "cycle_s": cycle, "done": done, "need": len(need), "orders": n_orders,
                       "rate": rate, "projected_s": len(need) / rate if rate else None}
        print(f"{label}: first poll cycle{'' if done else ' INCOMPLETE'}: {len(calls)} status calls for"
              f" {len(seen)} orders (ideal {out['poll']['ideal']}), {cycle:.2f} s, {rate:.0f} orders/s"
              f"{'' if done else f', the whole cycle projected at {len(need) / rate:.0f} s'}", flush=True)
        return out
    finally:
        if pm.proc is not None:
            pm.stop()


def record_reads(p, pre, r, net):
    """R's figures under P.PRE; NET: the path's round trip (path_rtt)."""
    b.result(f"{p}.{pre}net_ms", f"{net:.1f}")
    for what in ("status", "refill", "cancel"):
        b.result(f"{p}.{pre}{what}_p50", f"{r[what][0]:.1f}")
        b.result(f"{p}.{pre}{what}_p99", f"{r[what][1]:.1f}")
    b.result(f"{p}.{pre}lat_calls", ",".join(f"{k}={v}" for k, v in r["calls"].items()))
    pl = r["poll"]
    rtt = int(p.split(".")[1])
    b.result(f"{p}.{pre}poll_orders", pl["orders"])
    b.result(f"{p}.{pre}poll_s", f"{pl['cycle_s']:.2f}")
    b.result(f"{p}.{pre}poll_done", int(pl["done"]))
    b.result(f"{p}.{pre}poll_calls", pl["calls"])
    b.result(f"{p}.{pre}poll_ideal", pl["ideal"])
    b.result(f"{p}.{pre}poll_asked", pl["asked"])
    b.result(f"{p}.{pre}poll_need", pl["need"])
    b.result(f"{p}.{pre}poll_rate", f"{pl['rate']:.0f}")
    if pl["projected_s"] is not None:
        b.result(f"{p}.{pre}poll_projected_s", f"{pl['projected_s']:.1f}")
    b.result(f"{p}.{pre}poll_bound_s", f"{math.ceil(pl['need'] / 100) * net / 1000 / READ_CONNS:.2f}")


def commit_ms(dir_, seconds=1.0):
    """ms per durable SQLite commit (WAL, synchronous=FULL, one writer) in
    DIR_: the floor of every write the daemon makes on the event loop."""
    path = os.path.join(dir_, "fsync-probe.db")
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("CREATE TABLE t (x INTEGER)")
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO t VALUES (?)", (n,))
            con.execute("COMMIT")
            n += 1
        return (time.monotonic() - t0) * 1000 / n
    finally:
        con.close()
        for ext in ("", "-wal", "-shm"):
            try:
                os.unlink(path + ext)
            except OSError:
                pass


def seed(fp):
    """N_POLL orders at the fake panel (IDs 1..N_POLL), straight to it."""
    url = f"http://127.0.0.1:{fp.port}/api/v2"
    t0 = time.monotonic()
    while fp.stats()["orders"] < N_POLL:
        left = N_POLL - fp.stats()["orders"]
        b.wrk(64, 2 + left // 20000, url, "add.lua", BENCH_KEY=b.UPSTREAM_KEY,
              BENCH_TAG=f"seed{left}", BENCH_STOP_AFTER=left)
        if time.monotonic() - t0 > 120:
            raise RuntimeError("could not seed the fake panel")
    print(f"fake panel: {fp.stats()['orders']} orders in {time.monotonic() - t0:.1f}s", flush=True)


def main():
    threading.stack_size(512 * 1024)
    tmp = tempfile.mkdtemp(prefix="pmx-bench-wan.")
    os.chmod(tmp, 0o755)
    fp = chain = None
    t_all = time.monotonic()
    try:
        fp = b.FakePanel(tmp, services=20)
        seed(fp)
        if fp.stats()["orders"] < N_POLL:
            raise RuntimeError(f"the fake panel has {fp.stats()['orders']} orders, not {N_POLL}")
        ca = wanlib.make_ca(tmp, "ca")
        fsync_before = commit_ms(tmp)
        b.result("wan.write_conns", WRITE_CONNS)
        b.result("wan.read_conns", READ_CONNS)
        b.result("wan.poll_orders", N_POLL)
        b.result("wan.jitter_ms", JITTER)
        for rtt in RTTS:
            t_rtt = time.monotonic()
            chain = wanlib.WanChain(tmp, fp.port, rtt_ms=rtt, jitter_ms=JITTER, seed=rtt, ca=ca,
                                    nginx_cpu=b.CLIENT_CPU, relay_cpu=b.CLIENT_CPU)
            probe = wanlib.tls_probe(chain.url, chain.ca_file)
            print(f"{rtt} ms: curl probe {probe}", flush=True)
            k = 3 if probe["tls"] == "TLSv1.3" else 4
            b.result("wan.tls", probe["tls"])
            b.result("wan.k", k)
            p = f"wan.{rtt}"
            b.result(f"{p}.rtt_ms", rtt)
            a = anchor(chain, rtt, f"one{rtt}")
            b.result(f"{p}.one_rate", a["orders_per_s"])
            b.result(f"{p}.one_p50", a["p50_ms"])
            b.result(f"{p}.one_tls", a["tls"])
            bound = WRITE_CONNS / (k * rtt / 1000)
            b.result(f"{p}.add_bound", f"{bound:.1f}")
            rate, drain, got, states = writes_run(tmp, fp, chain, rtt, f"w{rtt}", f"w{rtt}")
            b.result(f"{p}.add_rate", f"{rate:.1f}")
            b.result(f"{p}.add_cpu_us", f"{STEADY_CPU[-1]:.0f}")
            b.result(f"{p}.burst_s", "n/a" if drain is None else f"{drain:.2f}")
            b.result(f"{p}.burst_got", got)
            b.result(f"{p}.states", states)
            n_orders = N_POLL if rtt == RTTS[0] else N_POLL_SMALL
            r = reads_run(tmp, fp, chain, rtt, True, f"r{rtt}", n_orders)
            record_reads(p, "", r, path_rtt(chain, False))
            if rtt == H1_RTT:
                r = reads_run(tmp, fp, chain, rtt, False, f"r{rtt}-h1", N_POLL_SMALL)
                record_reads(p, "h1_", r, path_rtt(chain, True))
            final = chain.close()
            chain = None
            print(f"{rtt} ms: relay {final}; {time.monotonic() - t_rtt:.0f} s", flush=True)
            if rtt == FAULT_RTT and (STALL > 0 or RESET > 0):
                t_f = time.monotonic()
                chain = wanlib.WanChain(tmp, fp.port, rtt_ms=rtt, jitter_ms=JITTER, stall=STALL,
                                        reset=RESET, seed=rtt + 1, ca=ca,
                                        nginx_cpu=b.CLIENT_CPU, relay_cpu=b.CLIENT_CPU)
                rate, drain, got, states = writes_run(tmp, fp, chain, rtt, f"f{rtt}", f"f{rtt}")
                final = chain.close()
                chain = None
                b.result(f"{p}.fault_add_rate", f"{rate:.1f}")
                b.result(f"{p}.fault_burst_s", "n/a" if drain is None else f"{drain:.2f}")
                b.result(f"{p}.fault_burst_got", got)
                b.result(f"{p}.fault_states", states)
                b.result(f"{p}.fault_relay", f"connections={final['connections']},stalled={final['stalled']},"
                                             f"reset={final['reset']}")
                b.result(f"{p}.fault_shares", f"stall={STALL},reset={RESET}")
                print(f"{rtt} ms with faults: relay {final}; {time.monotonic() - t_f:.0f} s", flush=True)
        fsync_after = commit_ms(tmp)
        print(f"durable commits: {fsync_before:.2f} ms before, {fsync_after:.2f} ms after", flush=True)
        b.result("wan.fsync_ms", f"{fsync_before:.2f}/{fsync_after:.2f} (before/after)")
        b.result("wan.rtts", " ".join(map(str, RTTS)))
        b.result("wan.total_s", f"{time.monotonic() - t_all:.0f}")
    finally:
        if chain is not None:
            chain.close()
        b.cleanup(tmp, fp)


if __name__ == "__main__":
    sys.exit(main())
