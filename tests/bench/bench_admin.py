#!/usr/bin/env python3
"""Rows "admin payments/add per second, durable" and "admin orders page of
100 rows over 100,000 orders" (the admin API on listen.admin, /adminapi/v2/).

Set-up: 100 customers (`panelmux customer add`), an operator key
(`panelmux admin key add bench`), then, with the daemon stopped, 100,000
orders in SQL (benchlib.insert_orders: 1,000 per customer, every 10th
active, the rest completed, each with its charge; created_at spread one
minute apart so the newest-first order is real).  Then panelmuxd.

Orders page: wrk (one thread, BENCH_ADMIN_CONNS (8) keep-alive connections)
GETs /adminapi/v2/orders?limit=100&before_id=... over every page of the
store (keyset pages, as a client walks deep: below the last ID it saw;
shuffled), then with filters user=cK&order_status=completed (every full
page of every customer).  Offsets walk every row they skip: the probes
show a deep offset beside the same page by keyset.  Anchor:
nginx `return 200` with a page's bytes, same connections, same requests.
Budget: p99 <= 50 ms.  A few single-connection probes (deep offsets, one
filter at a time) are printed as well.

payments/add: wrk on BENCH_ADMIN_CONNS connections POSTs JSON bodies
({"username","amount":"1.00","method","external_id"}, a distinct
external_id per request, X-Api-Key) rotating over the 100 customers.
Afterwards the sum of the balances must have grown by exactly the answered
payments (plus at most the ones in flight when wrk stopped), and a replayed
external_id must answer duplicate:true without a credit, another amount
409.  With strace installed, the fsync/fdatasync calls per payment are
counted over 200 more (strace -c).  Anchor: the same directory's durable commit rate, Python's sqlite3 on
a file next to the store, WAL + synchronous=FULL, one INSERT per
transaction, one writer (the daemon calls SQLite on its one event-loop
thread, so its commits are one after another too), measured right before
and right after the payments (the mean is the anchor); 8 writers on 8
connections are measured as well and printed beside it.

Results: admin.pay_*, admin.fsync_*, admin.page_*, admin.pagef_*, admin.probe.
Also runnable alone as `bench_admin.py fsync-anchor DIR SECONDS WRITERS`."""
import decimal
import glob
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import benchlib as b

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
CONNS = int(os.environ.get("BENCH_ADMIN_CONNS", "8"))
CUSTOMERS = 100
ORDERS = int(os.environ.get("BENCH_ADMIN_ORDERS", "100000"))
PER = ORDERS // CUSTOMERS
ACTIVE_EVERY = 10
PAGE = 100
BUDGET_MS = 50
HZ = os.sysconf("SC_CLK_TCK")

# wrk scripts, written into the scenario's temp dir.
PAY_LUA = r"""
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local users = {}
for u in string.gmatch(os.getenv("BENCH_USERS"), "[^,]+") do users[#users + 1] = u end
local tag = os.getenv("BENCH_TAG")
local headers = {["Content-Type"] = "application/json", ["X-Api-Key"] = os.getenv("BENCH_ADMIN_KEY")}
local n = 0
function request()
   n = n + 1
   local body = '{"username":"' .. users[(n - 1) % #users + 1] ..
      '","amount":"1.00","method":"bench","external_id":"' .. tag .. '-' .. n .. '"}'
   return wrk.format("POST", "/adminapi/v2/payments/add", headers, body)
end
"""

PAGE_LUA = r"""
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local queries = {}
for line in io.lines(os.getenv("BENCH_QUERIES")) do queries[#queries + 1] = line end
local prefix = os.getenv("BENCH_PATH")
local headers = {["X-Api-Key"] = os.getenv("BENCH_ADMIN_KEY")}
local i = 0
function request()
   i = i % #queries + 1
   return wrk.format("GET", prefix .. "?" .. queries[i], headers)
end
"""


def cpu_ticks(pid):
    """User + system clock ticks of PID and its children (nginx's worker)."""
    pids = [pid]
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(f) as fh:
                pids += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def measure(name, url, script, pid, **env):
    """A warm-up of WARMUP s, then SECONDS measured, with the server's CPU
    time per request.  Returns (warm-up figures, measured figures)."""
    warm = b.wrk(CONNS, WARMUP, url, script, BENCH_TAG=f"{name}-warm", **env) if WARMUP > 0 else {}
    t0 = cpu_ticks(pid)
    w = b.wrk(CONNS, SECONDS, url, script, BENCH_TAG=name, **env)
    w["cpu_us"] = (cpu_ticks(pid) - t0) / HZ * 1e6 / max(w["WRK_REQUESTS"], 1)
    print(f"  [{name}] {w['WRK_RPS']:.1f} req/s, {w['WRK_MBPS']:.2f} MB/s, p50 {w['WRK_P50_MS']:.3f} ms,"
          f" p99 {w['WRK_P99_MS']:.3f} ms, errors {w['WRK_ERRORS']:.0f},"
          f" server CPU {w['cpu_us']:.1f} us/request", flush=True)
    return warm, w


def results(prefix, w):
    b.result(prefix, f"{w['WRK_RPS']:.1f}")
    b.result(prefix + "_p50", f"{w['WRK_P50_MS']:.3f}")
    b.result(prefix + "_p99", f"{w['WRK_P99_MS']:.3f}")
    b.result(prefix + "_cpu_us", f"{w['cpu_us']:.1f}")
    b.result(prefix + "_errors", f"{w['WRK_ERRORS']:.0f}")


class Admin:
    """One keep-alive connection to /adminapi/v2 with the operator key."""

    def __init__(self, port, key):
        self.conn = b.http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.key = key

    def call(self, method, path, body=None):
        headers = {"X-Api-Key": self.key}
        if body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, "/adminapi/v2" + path, body=body, headers=headers)
            r = self.conn.getresponse()
        except (b.http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The admin listener closes keep-alive connections idle for 10 s
            # (evhttp_set_timeout): a GET is asked again on a new one.
            if method != "GET":
                raise
            self.conn.close()
            self.conn.request(method, "/adminapi/v2" + path, body=body, headers=headers)
            r = self.conn.getresponse()
        raw = r.read()
        try:
            reply = json.loads(raw)
        except ValueError:
            raise RuntimeError(f"{method} {path}: HTTP {r.status}, not JSON: {raw[:200]!r}")
        if not isinstance(reply, dict) or reply.get("error_code") != (0 if r.status == 200 else r.status):
            raise RuntimeError(f"{method} {path}: HTTP {r.status} with envelope {raw[:300]!r}")
        return r.status, reply, raw

    def ok(self, method, path, body=None):
        status, reply, raw = self.call(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {raw[:300]!r}")
        return reply["data"], raw

    def close(self):
        self.conn.close()


def balances(adm):
    data, _ = adm.ok("GET", "/users?limit=1000")
    assert data["count"] == len(data["list"]) == CUSTOMERS, data["count"]
    return sum(decimal.Decimal(u["balance"]) for u in data["list"])


def spread_created(db):
    """Orders one minute apart, the newest now (insert_orders gives them all
    the same second); updated_at with them."""
    con = sqlite3.connect(db, timeout=30)
    with con:
        top = con.execute("SELECT MAX(id) FROM orders").fetchone()[0]
        now = int(time.time())
        con.execute("UPDATE orders SET created_at = ? - (? - id) * 60, updated_at = ? - (? - id) * 60",
                    (now, top, now, top))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def check_page(adm, query, want_user=None, want_status=None):
    data, raw = adm.ok("GET", "/orders?" + query)
    rows = data["list"]
    if data["count"] != PAGE or len(rows) != PAGE:
        raise RuntimeError(f"orders?{query}: count {data['count']}, {len(rows)} rows, not {PAGE}")
    for o in rows:
        if want_user and o["user"] != want_user or want_status and o["status"] != want_status:
            raise RuntimeError(f"orders?{query}: row outside the filter: {o}")
    created = [o["created"] for o in rows]
    if created != sorted(created, reverse=True):
        raise RuntimeError(f"orders?{query}: not newest first")
    return raw


def keyset_pages(adm, query):
    """The queries of every full page of QUERY, newest first, each below
    the last ID of the page before (before_id), as a client walks them."""
    pages, last = [], 0
    while True:
        q = query + (f"&before_id={last}" if last else "")
        rows = adm.ok("GET", "/orders?" + q)[0]["list"]
        if len(rows) < PAGE:
            return pages
        pages.append(q)
        last = rows[-1]["id"]


def probe(adm, query, n=20):
    """Single-connection latency of one page, ms: (median, max)."""
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        adm.ok("GET", "/orders?" + query)
        t.append((time.perf_counter() - t0) * 1000)
    t.sort()
    return t[len(t) // 2], t[-1]


def start_nginx(tmp, name, body):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    body_file = os.path.join(d, "body.json")
    with open(body_file, "w") as f:
        f.write(body)
    port = b.free_port()
    conf = b.nginx_conf(d, port, body_file)
    log = open(os.path.join(d, "stderr.log"), "w")
    proc = subprocess.Popen(b.pinned(b.SERVER_CPU, ["nginx", "-p", d, "-c", conf,
                                                     "-e", os.path.join(d, "nginx-error.log")]),
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    b.wait_port(port, proc)
    st, got = b.http_request(port, "GET", "/api/v2?limit=100")
    assert st == 200 and got == body.encode(), (st, len(got), len(body))
    return proc, port


def page_rows(tmp, pm, key, label, queries):
    """wrk over QUERIES (written to a file page.lua reads) against panelmux.
    Returns (figures, the queries' file)."""
    qfile = os.path.join(tmp, f"{label}.queries")
    with open(qfile, "w") as f:
        f.write("\n".join(queries) + "\n")
    _, w = measure(f"{label}-panelmux", f"http://127.0.0.1:{pm.admin_port}/", os.path.join(tmp, "page.lua"),
                   pm.proc.pid, BENCH_QUERIES=qfile, BENCH_PATH="/adminapi/v2/orders", BENCH_ADMIN_KEY=key)
    return w, qfile


def syncs_per_call(pid, n, call):
    """fsync + fdatasync calls of PID per CALL(i), i in 0..N-1, counted by
    strace -c (exact however much strace slows it); None without strace."""
    if shutil.which("strace") is None:
        return None
    out = os.path.join(tempfile.gettempdir(), f"pmx-bench-strace.{os.getpid()}")
    st = subprocess.Popen(["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", out, "-p", str(pid)],
                          stderr=subprocess.PIPE, text=True)
    try:
        if "attached" not in st.stderr.readline():
            return None
        time.sleep(0.2)
        for i in range(n):
            call(i)
    finally:
        st.send_signal(signal.SIGINT)
        st.wait(30)
        st.stderr.close()
    calls = 0
    try:
        with open(out) as f:
            for line in f:
                w = line.split()
                if w and w[-1] in ("fsync", "fdatasync"):
                    calls += int(w[3])
    finally:
        os.unlink(out)
    return calls / n


def fsync_anchor(dir_, seconds, writers, warm=1.0):
    """Commits/s of one small INSERT per transaction (WAL, synchronous=FULL)
    by WRITERS threads, each on its own connection, in DIR."""
    path = os.path.join(dir_, "fsync-anchor.db")
    con = sqlite3.connect(path, isolation_level=None)
    mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    assert mode == "wal", mode
    con.execute("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL,"
                " kind TEXT NOT NULL, amount INTEGER NOT NULL, note TEXT, created_at INTEGER NOT NULL)")
    con.close()

    def phase(secs):
        barrier = threading.Barrier(writers + 1)
        counts = [0] * writers
        box = {}

        def run(i):
            c = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
            c.execute("PRAGMA synchronous=FULL")
            assert c.execute("PRAGMA synchronous").fetchone()[0] == 2
            barrier.wait()
            until = box["until"]
            n = 0
            while time.monotonic() < until:
                c.execute("BEGIN IMMEDIATE")
                c.execute("INSERT INTO ledger (customer_id, kind, amount, note, created_at)"
                          " VALUES (?, 'deposit', 100000000, 'anchor', ?)", (i, int(time.time())))
                c.execute("COMMIT")
                n += 1
            counts[i] = n
            c.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        box["until"] = time.monotonic() + secs
        t0 = time.monotonic()
        barrier.wait()
        for t in threads:
            t.join()
        return sum(counts), time.monotonic() - t0

    phase(warm)
    n, secs = phase(seconds)
    return {"commits": n, "seconds": round(secs, 3), "rate": round(n / secs, 1),
            "sqlite": sqlite3.sqlite_version}


def run_fsync_anchor(tmp, writers):
    p = subprocess.run(b.pinned(b.SERVER_CPU, [sys.executable, os.path.abspath(__file__), "fsync-anchor",
                                               tmp, str(SECONDS), str(writers)]),
                       capture_output=True, text=True, timeout=SECONDS + 60)
    if p.returncode != 0:
        raise RuntimeError(f"fsync anchor failed: {p.stderr}")
    r = json.loads(p.stdout)
    print(f"  [fsync-anchor] {writers} writer(s): {r['commits']} commits in {r['seconds']} s ="
          f" {r['rate']:.1f}/s (sqlite3 {r['sqlite']}, WAL + synchronous=FULL, {tmp})", flush=True)
    return r


def main():
    tmp = tempfile.mkdtemp(prefix="pmx-bench-admin.")
    os.chmod(tmp, 0o711)  # nginx's workers drop root and must reach their dir
    fp = pm = adm = None
    nginx = None
    try:
        with open(os.path.join(tmp, "pay.lua"), "w") as f:
            f.write(PAY_LUA)
        with open(os.path.join(tmp, "page.lua"), "w") as f:
            f.write(PAGE_LUA)

        fp = b.FakePanel(tmp, services=20)
        pm = b.Panelmux(tmp, fp.port, poll="10m", admin=True)
        t0 = time.monotonic()
        names = [f"c{i}" for i in range(CUSTOMERS)]
        for n in names:
            pm.customer(n)
        key = pm.cli("admin", "key", "add", "bench").strip()
        assert key and "\n" not in key, key
        ids = [b.customer_id(pm.db, n) for n in names]
        b.insert_orders(pm.db, ids, PER, "completed", 0, 1, active_every=ACTIVE_EVERY)
        spread_created(pm.db)
        print(f"store: {CUSTOMERS} customers, {ORDERS} orders ({100 // ACTIVE_EVERY}% active),"
              f" {os.path.getsize(pm.db) / 2**20:.0f} MiB, made in {time.monotonic() - t0:.1f}s", flush=True)
        pm.start()
        adm = Admin(pm.admin_port, key)

        # --- the orders page ---------------------------------------------
        rnd = random.Random(1)
        completed = PER - PER // ACTIVE_EVERY
        # Every page as a client pages deep: below the last ID it saw
        # (keyset, before_id); the first pages as they come.  Offsets walk
        # every row they skip: the probes below show what a deep one costs.
        plain = keyset_pages(adm, f"limit={PAGE}")
        filt = [q for n in names
                for q in keyset_pages(adm, f"user={n}&order_status=completed&limit={PAGE}")]
        if len(plain) != ORDERS // PAGE or len(filt) != CUSTOMERS * (completed // PAGE):
            raise RuntimeError(f"keyset pages: {len(plain)} and {len(filt)}")
        rnd.shuffle(plain)
        rnd.shuffle(filt)
        raw_plain = check_page(adm, f"limit={PAGE}&offset=0")
        check_page(adm, f"limit={PAGE}&offset={ORDERS - PAGE}")
        raw_filt = check_page(adm, f"user=c50&order_status=completed&limit={PAGE}&offset=0", "c50", "completed")
        check_page(adm, f"user=c50&order_status=completed&limit={PAGE}&offset={completed - PAGE}",
                   "c50", "completed")
        check_page(adm, plain[-1])
        check_page(adm, filt[-1], want_status="completed")
        print(f"orders page: {len(raw_plain)} bytes unfiltered, {len(raw_filt)} bytes filtered;"
              f" {len(plain)} and {len(filt)} distinct pages", flush=True)

        probes = []
        for label, q in (("limit 1", "limit=1&offset=0"), ("limit 10", "limit=10&offset=0"),
                         ("offset 0", f"limit={PAGE}&offset=0"),
                         (f"offset {ORDERS - PAGE}", f"limit={PAGE}&offset={ORDERS - PAGE}"),
                         ("user", f"user=c50&limit={PAGE}&offset=0"),
                         (f"user offset {PER - PAGE}", f"user=c50&limit={PAGE}&offset={PER - PAGE}"),
                         ("order_status=active", f"order_status=active&limit={PAGE}&offset=0"),
                         (f"order_status=active offset {ORDERS // ACTIVE_EVERY - PAGE}",
                          f"order_status=active&limit={PAGE}&offset={ORDERS // ACTIVE_EVERY - PAGE}"),
                         ("user+order_status", f"user=c50&order_status=completed&limit={PAGE}&offset=0"),
                         (f"before_id {PAGE + 1} (the last page, keyset)", f"limit={PAGE}&before_id={PAGE + 1}")):
            med, worst = probe(adm, q)
            probes.append(f"{label} {med:.1f}/{worst:.1f}")
            print(f"  [probe] {label}: median {med:.2f} ms, max {worst:.2f} ms (20 requests, one connection)",
                  flush=True)
        b.result("admin.probe", "; ".join(probes))

        page_pmx, plain_file = page_rows(tmp, pm, key, "page", plain)
        results("admin.page_pmx", page_pmx)
        pagef_pmx, filt_file = page_rows(tmp, pm, key, "pagef", filt)
        results("admin.pagef_pmx", pagef_pmx)
        for what, w in (("no filter", page_pmx), ("user + order_status", pagef_pmx)):
            print(f"orders page, {what}: p99 {w['WRK_P99_MS']:.1f} ms against a budget of {BUDGET_MS} ms:"
                  f" {'PASS' if w['WRK_P99_MS'] <= BUDGET_MS else 'MISS'}", flush=True)

        # --- payments/add ------------------------------------------------
        # The anchor right before and (below) right after the payments: a
        # neighbour's fsyncs move the disk's rate within seconds.
        one_before = run_fsync_anchor(tmp, 1)
        before = balances(adm)
        pay_lua = os.path.join(tmp, "pay.lua")
        warm, pay = measure("pay", f"http://127.0.0.1:{pm.admin_port}/", pay_lua, pm.proc.pid,
                            BENCH_USERS=",".join(names), BENCH_ADMIN_KEY=key)
        after = balances(adm)
        credited = after - before
        answered = sum(w.get("WRK_REQUESTS", 0) - w.get("WRK_ERRORS", 0) for w in (warm, pay))
        check = (f"{int(credited)} credited for {answered:.0f} answered 2xx"
                 f" ({warm.get('WRK_REQUESTS', 0):.0f} in the warm-up)")
        print(f"payments: balances grew by {credited} (1.00 each): {check}", flush=True)
        if credited != int(credited) or not answered <= credited <= answered + 2 * CONNS:
            raise RuntimeError(f"payments/add: {check}: not exactly once")
        # A replay of one of the measured run's payments, then the same
        # reference with another amount.  Not "pay-1": wrk calls request()
        # once on the first thread's script to check it, so n starts at 2.
        adm.conn.close()  # idle during wrk: the POSTs below go on a new connection
        body = {"username": names[1], "amount": "1.00", "method": "bench", "external_id": "pay-2"}
        data, _ = adm.ok("POST", "/payments/add", body)
        if data.get("duplicate") is not True:
            raise RuntimeError(f"replayed external_id pay-2 not a duplicate: {data}")
        status, _, raw = adm.call("POST", "/payments/add", dict(body, amount="2.00"))
        if status != 409:
            raise RuntimeError(f"external_id pay-2 with another amount: HTTP {status}: {raw[:200]!r}")
        if balances(adm) != after:
            raise RuntimeError("a replay moved a balance")
        check += "; replay duplicate:true, other amount 409, no credit"
        syncs = syncs_per_call(pm.proc.pid, 200, lambda i: adm.ok("POST", "/payments/add", {
            "username": names[i % len(names)], "amount": "1.00", "external_id": f"strace-{i}"}))
        if syncs is not None:
            print(f"payments/add: {syncs:.2f} fsync/fdatasync calls per payment (strace -c, 200 payments,"
                  f" one connection)", flush=True)
            b.result("admin.pay_syncs", f"{syncs:.2f}")
        results("admin.pay_pmx", pay)
        b.result("admin.pay_check", check)
        b.result("admin.conns", CONNS)
        adm.close()
        adm = None
        pm.stop()

        # --- the anchors -------------------------------------------------
        one = run_fsync_anchor(tmp, 1)
        many = run_fsync_anchor(tmp, CONNS)
        b.result("admin.fsync_anchor", f"{(one_before['rate'] + one['rate']) / 2:.1f}")
        b.result("admin.fsync_anchor_range", f"{one_before['rate']:.0f} before, {one['rate']:.0f} after")
        b.result("admin.fsync_anchor_n", f"{many['rate']:.1f}")
        b.result("admin.fsync_sqlite", one["sqlite"])

        for label, raw, qfile, key_prefix in (("page", raw_plain, plain_file, "admin.page"),
                                              ("pagef", raw_filt, filt_file, "admin.pagef")):
            body = raw.decode()
            if body.endswith("\n"):
                body = body[:-1]  # nginx's `return` text holds no newline: one byte shorter
            nginx, nport = start_nginx(tmp, f"nginx-{label}", body)
            _, nw = measure(f"{label}-nginx", f"http://127.0.0.1:{nport}/", os.path.join(tmp, "page.lua"),
                            nginx.pid,
                            BENCH_QUERIES=qfile, BENCH_PATH="/api/v2", BENCH_ADMIN_KEY=key)
            b.stop(nginx)
            nginx = None
            results(key_prefix + "_anchor", nw)
            b.result(key_prefix + "_bytes", len(raw))
    finally:
        if adm is not None:
            adm.close()
        b.stop(nginx)
        b.cleanup(tmp, fp, pm)


if __name__ == "__main__":
    if sys.argv[1:2] == ["fsync-anchor"]:
        print(json.dumps(fsync_anchor(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))))
        sys.exit(0)
    sys.exit(main())
