"""Shared helpers of the benchmark scenarios (tests/bench/).

Imported by the Python scenarios, and run as a small command line by the
shell ones (`python3 benchlib.py free-port`, `... nginx-conf ...`, ...).
Stdlib only.  Every process is started by PID, pinned with taskset, and
stopped by PID; every server binds to 127.0.0.1."""
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))  # an absolute BUILD stays as it is
UPSTREAM_KEY = "bench-upstream-key"

# Two cores: the server under test on one, the load generator on the other.
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("CLIENT_CPU", "1" if (os.cpu_count() or 1) > 1 else "0")


# run.sh's timeout sends SIGTERM: leave through the finally blocks, which
# stop the processes a scenario started.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


from proclib import free_port, stop, wait_port  # noqa: E402,F401 (benchlib's API)


def bin_path(name):
    return os.path.join(BUILD, name)


def pinned(cpu, argv):
    return ["taskset", "-c", cpu, *argv]


def start_until_ready(pm, sock_path, timeout=60):
    """Start panelmuxd PM with NOTIFY_SOCKET at SOCK_PATH; the seconds from
    exec to its READY=1."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock.bind(sock_path)
    sock.settimeout(timeout)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    try:
        t0 = time.monotonic()
        pm.start(env=env, wait=False)
        while True:
            msg = sock.recv(4096)
            if b"READY=1" in msg.split(b"\n"):
                return time.monotonic() - t0
    finally:
        sock.close()


def result(key, value):
    """One figure for run.sh's table: KEY<TAB>VALUE in $BENCH_RESULTS."""
    path = os.environ.get("BENCH_RESULTS")
    print(f"result {key} = {value}", flush=True)
    if path:
        with open(path, "a") as f:
            f.write(f"{key}\t{value}\n")


# --- HTTP -----------------------------------------------------------------

def http_request(port, method, path, body=None, headers=None, timeout=30.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def api(port, **fields):
    status, body = http_request(port, "POST", "/api/v2", urllib.parse.urlencode(fields),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    return json.loads(body)


def wrk(conns, seconds, url, script, **env):
    """wrk on the client core, one thread; the figures report.lua prints
    (WRK_RPS, WRK_MBPS, WRK_P50_MS, WRK_P99_MS, WRK_ERRORS, WRK_REQUESTS)."""
    e = dict(os.environ, BENCH_DIR=HERE, **{k: str(v) for k, v in env.items()})
    p = subprocess.run(pinned(CLIENT_CPU, ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                                           "--timeout", "10s", "--latency", "-s",
                                           os.path.join(HERE, script), url]),
                       capture_output=True, text=True, env=e, timeout=seconds + 60)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed: {p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("WRK "):
            k, v = line[4:].split("=", 1)
            out[k] = float(v)
    return out


# --- the fake panel -------------------------------------------------------

class FakePanel:
    def __init__(self, tmp, services=20, cpu=None, extra=()):
        cpu = cpu or CLIENT_CPU
        self.stderr = open(os.path.join(tmp, "fakepanel.log"), "a")
        argv = [bin_path("fakepanel"), "--listen", "127.0.0.1:0", "--key", UPSTREAM_KEY,
                "--services", str(services), "--progress", "manual", *extra]
        self.proc = subprocess.Popen(pinned(cpu, argv), stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            stop(self.proc)
            raise RuntimeError(f"fakepanel did not start: {line!r}")
        self.port = int(m.group(1))

    def stats(self):
        status, body = http_request(self.port, "GET", "/control/stats")
        return json.loads(body)

    def status_calls(self):
        return self.stats()["actions"].get("status", 0)

    def log(self):
        status, body = http_request(self.port, "GET", "/control/log", timeout=60)
        return json.loads(body)

    def close(self):
        stop(self.proc)
        self.proc.stdout.close()
        self.stderr.close()


# --- panelmuxd ------------------------------------------------------------

CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  paths: ["/api/v2"]
  admin: "{admin}"
store:
  sqlite: "{db}"
log:
  level: warn
limits:
  max_connections: 20000
  max_connections_per_ip: 20000
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
orders:
  reply_wait: 5s
upstreams:
{upstreams}services:
  - import: {first}
    id_offset: 0
"""

UPSTREAM = """\
  - name: {name}
    url: "http://127.0.0.1:{up_port}/api/v2"
    key: "{up_key}"
    timeout: 15s
    max_connections: {up_conns}
    poll_interval: {poll}
    sync_interval: 1h
"""


def cleanup(tmp, fp=None, *pms):
    """The end of a scenario, however it ends: stop the daemons PMS that
    still run, close the fake panel FP, remove the scratch directory TMP."""
    for pm in pms:
        if pm is not None and pm.proc is not None:
            pm.stop()
    if fp is not None:
        fp.close()
    shutil.rmtree(tmp, ignore_errors=True)


def write_config(path, port, up_port, db, poll="10m", up_conns=16, admin="", upstreams=None):
    """ADMIN: listen.admin ("" turns it off, as for the other scenarios).
    UPSTREAMS: [(name, port), ...] in place of the one upstream alpha at
    UP_PORT; the services are imported from the first."""
    ups = upstreams or [("alpha", up_port)]
    text = CONFIG.format(port=port, db=db, admin=admin, first=ups[0][0], upstreams="".join(
        UPSTREAM.format(name=n, up_port=p, poll=poll, up_conns=up_conns, up_key=UPSTREAM_KEY)
        for n, p in ups))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class Panelmux:
    """A config and store in TMP; the daemon is started by start().  With
    ADMIN, listen.admin is on at admin_port (/metrics, /healthz, /adminapi/)."""

    def __init__(self, tmp, up_port, poll="10m", up_conns=16, admin=False, upstreams=None):
        self.tmp = tmp
        self.port = free_port()
        self.admin_port = free_port() if admin else None
        self.db = os.path.join(tmp, "panelmux.db")
        self.conf = os.path.join(tmp, "panelmux.yaml")
        write_config(self.conf, self.port, up_port, self.db, poll, up_conns,
                     f"127.0.0.1:{self.admin_port}" if admin else "", upstreams)
        self.proc = None

    def cli(self, *args):
        p = subprocess.run([bin_path("panelmux"), "-c", self.conf, *args],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"panelmux {' '.join(args)}: exit {p.returncode}: {p.stderr}")
        return p.stdout

    def customer(self, name, fund=None):
        key = self.cli("customer", "add", name).strip()
        if fund is not None:
            self.cli("customer", "fund", name, str(fund))
        return key

    def start(self, env=None, wait=True):
        self.logf = open(os.path.join(self.tmp, "panelmuxd.log"), "a")
        self.proc = subprocess.Popen(pinned(SERVER_CPU, [bin_path("panelmuxd"), "-c", self.conf]),
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=env or os.environ)
        if wait:
            wait_port(self.port, self.proc)
            if self.admin_port:
                wait_port(self.admin_port, self.proc)
        return self.proc

    def stop(self):
        stop(self.proc)
        self.proc = None
        self.logf.close()


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


# --- the store, filled with SQL ------------------------------------------
# The schema is panelmux's own (created by `panelmux customer add`); rows
# are inserted the way the daemon leaves them: every order has exactly one
# charge in the ledger, every customer's balance equals its ledger, so
# `panelmux check` stays valid.

CHARGE = 112500000  # 1.125 in units of 10^-8: 1000 of service 1 at 1.125 per 1000


def insert_orders(db, customers, per_customer, state="active", polled_at_ms=0,
                  first_upstream_order=1, active_every=0):
    """PER_CUSTOMER orders for each customer ID in CUSTOMERS, in one
    transaction.  Orders are STATE, except every ACTIVE_EVERY-th which is
    active.  Active and completed orders carry upstream order IDs counted
    from FIRST_UPSTREAM_ORDER.  Returns {customer_id: [order IDs]}."""
    now = int(time.time())
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA synchronous=OFF")
    out = {}
    with con:
        base = con.execute("SELECT COALESCE(MAX(id), 0) FROM orders").fetchone()[0]
        total = len(customers) * per_customer
        # Order i (1-based) belongs to customers[(i - 1) // per_customer].
        con.execute("CREATE TEMP TABLE bench_cust (k INTEGER PRIMARY KEY, id INTEGER)")
        con.executemany("INSERT INTO bench_cust VALUES (?, ?)", list(enumerate(customers)))
        final = state in ("completed", "partial", "canceled", "refunded")
        con.execute(
            """WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :total)
               INSERT INTO orders (id, customer_id, service_id, type, state, quantity, rate, charge,
                   fields, upstream, upstream_service, upstream_order, cost, start_count, remains,
                   upstream_status, created_at, updated_at, polled_at, upstream_quantity)
               SELECT :base + i, (SELECT id FROM bench_cust WHERE k = (i - 1) / :per),
                   1, 'Default', st, 1000, 112500000, :charge,
                   '{"link":"https://bench.example/p/' || i || '","quantity":"1000"}',
                   'alpha', 1, CAST(:up0 + i - 1 AS TEXT), 90000,
                   CASE WHEN st = 'active' THEN NULL ELSE 100 END,
                   CASE WHEN st = 'active' THEN NULL ELSE 0 END,
                   CASE WHEN st = 'active' THEN 'Pending' ELSE 'Completed' END,
                   :now, :now, :polled, 1000
               FROM (SELECT i, CASE WHEN :every > 0 AND i % :every = 0 THEN 'active'
                                    ELSE :state END AS st FROM seq)""",
            {"total": total, "base": base, "per": per_customer, "charge": CHARGE,
             "up0": first_upstream_order, "now": now, "polled": polled_at_ms,
             "every": active_every, "state": state})
        assert final or state == "active", state
        con.execute("""INSERT INTO ledger (customer_id, kind, amount, order_id, created_at)
                       SELECT customer_id, 'charge', -charge, id, created_at FROM orders
                       WHERE id > ?""", (base,))
        # A deposit covering the charges plus 1000.00000, and the balance to match.
        for cid in customers:
            con.execute("INSERT INTO ledger (customer_id, kind, amount, note, created_at)"
                        " VALUES (?, 'deposit', ?, 'bench', ?)",
                        (cid, per_customer * CHARGE + 1000 * 10**8, now))
            con.execute("UPDATE customers SET balance = balance + ? WHERE id = ?",
                        (1000 * 10**8, cid))
        for k, cid in enumerate(customers):
            first = base + k * per_customer + 1
            out[cid] = list(range(first, first + per_customer))
        con.execute("DROP TABLE bench_cust")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return out


# Indexes fill_large leaves in place: partial ones its rows do not enter
# (no request_id, queued, sending, link_key, refund or external_id), and
# orders_poll, which the active rows enter in order.
FILL_KEEP_INDEXES = {"orders_request", "orders_queued", "orders_sending", "orders_poll",
                     "orders_open_link", "orders_open_link_up", "ledger_one_refund",
                     "ledger_external"}


def fill_large(db, customers, orders, upstreams, active_every=10, log=print):
    """A large store, fast: CUSTOMERS customers in all (the ones the CLI
    made, IDs 1.., kept; the rest written here with a random key_hash, so
    their keys are unknown), ORDERS orders over them (order j, 0-based,
    is customer (j % CUSTOMERS) + 1's), each with its charge in the
    ledger, a deposit per customer covering its charges plus 1000.00000
    and the balance to match (`panelmux check` holds).  Customer c has
    orders P(c-1)+1 .. Pc (P = ORDERS / CUSTOMERS, a multiple of
    ACTIVE_EVERY x U): its first P - P/ACTIVE_EVERY are completed, the
    last P/ACTIVE_EVERY active (Pending, polled_at 0).

    Orders go round-robin over UPSTREAMS (order j, 0-based, to
    UPSTREAMS[j % U]); the a-th active order in ID order (0-based) has
    upstream order ID a / U + 1, so each upstream's open orders are
    1..ORDERS / ACTIVE_EVERY / U, what `fakepanel --assume-orders` knows.
    Completed orders have upstream order IDs 10^9 + j.  created_at runs
    ten orders a second up to now.

    The store must exist (the daemon's migrations ran: the CLI made the
    first customer) and nothing may have it open.  The schema stays the
    daemon's own: the secondary indexes of orders and ledger are dropped,
    the rows written with journal_mode=OFF and synchronous=OFF, and the
    same indexes re-created from their stored SQL, in their order; the
    file goes back to WAL.  Partial indexes these rows leave empty, and
    orders_poll (appended to in order), stay through the insert: building
    one afterwards would cost a scan of the table each.  Returns the
    seconds of each step."""
    t = {}
    t0 = time.monotonic()
    con = sqlite3.connect(db, isolation_level=None)
    nup = len(upstreams)
    per = orders // customers
    assert per * customers == orders and per % (active_every * nup) == 0, (orders, customers)
    act = per // active_every  # active orders per customer, the last ones
    assert con.execute("PRAGMA journal_mode=OFF").fetchone()[0] == "off"
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1048576")  # 1 GiB for the index sorts
    con.execute("PRAGMA temp_store=MEMORY")
    con.execute("PRAGMA threads=2")
    idx = [(n, q) for n, q in con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        " AND tbl_name IN ('orders', 'ledger') AND sql IS NOT NULL ORDER BY rowid")
        if n not in FILL_KEEP_INDEXES]
    assert con.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    now = int(time.time())
    con.execute("BEGIN")
    for name, _ in idx:
        con.execute(f"DROP INDEX {name}")
    have = con.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM customers").fetchone()
    assert have[0] == have[1], "customer IDs must be 1..n"
    con.execute(
        """WITH RECURSIVE seq(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM seq WHERE i < :n)
           INSERT INTO customers (id, name, key_hash, balance, created_at)
           SELECT i, 'c' || i, randomblob(32), 0, :now FROM seq""",
        {"first": have[1] + 1, "n": customers, "now": now})
    t["customers"] = time.monotonic() - t0
    t1 = time.monotonic()
    ups = " ".join(f"WHEN {k} THEN '{u}'" for k, u in enumerate(upstreams))
    con.execute(
        f"""WITH RECURSIVE seq(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM seq WHERE j < :n - 1)
           INSERT INTO orders (id, customer_id, service_id, type, state, quantity, rate, charge,
               fields, upstream, upstream_service, upstream_order, cost, start_count, remains,
               upstream_status, created_at, updated_at, polled_at, upstream_quantity)
           SELECT j + 1, j / :per + 1, 1, 'Default', CASE WHEN a THEN 'active' ELSE 'completed' END,
               1000, 112500000, :charge,
               '{{"link":"https://bench.example/p/' || (j + 1) || '","quantity":"1000"}}',
               CASE j % :nup {ups} END, 1,
               CAST(CASE WHEN a THEN ((j / :per) * :act + j % :per - (:per - :act)) / :nup + 1
                    ELSE 1000000000 + j END AS TEXT), 90000,
               CASE WHEN a THEN NULL ELSE 100 END, CASE WHEN a THEN NULL ELSE 0 END,
               CASE WHEN a THEN 'Pending' ELSE 'Completed' END,
               :now - (:n - j) / 10, :now - (:n - j) / 10, 0, 1000
           FROM (SELECT j, j % :per >= :per - :act AS a FROM seq)""",
        {"n": orders, "per": per, "act": act, "charge": CHARGE, "nup": nup, "now": now})
    t["orders"] = time.monotonic() - t1
    t1 = time.monotonic()
    con.execute("""INSERT INTO ledger (customer_id, kind, amount, order_id, created_at)
                   SELECT customer_id, 'charge', -charge, id, created_at FROM orders""")
    con.execute("""INSERT INTO ledger (customer_id, kind, amount, note, created_at)
                   SELECT c.id, 'deposit', s.total + :extra, 'bench', :now
                   FROM customers c JOIN (SELECT customer_id, SUM(charge) AS total FROM orders
                                          GROUP BY customer_id) s ON s.customer_id = c.id""",
                {"extra": 1000 * 10**8, "now": now})
    con.execute("UPDATE customers SET balance = balance + :extra WHERE id IN"
                " (SELECT DISTINCT customer_id FROM orders)", {"extra": 1000 * 10**8})
    t["ledger"] = time.monotonic() - t1
    t1 = time.monotonic()
    for name, sql in idx:
        t2 = time.monotonic()
        con.execute(sql)
        log(f"  index {name}: {time.monotonic() - t2:.1f}s")
    con.execute("COMMIT")
    t["indexes"] = time.monotonic() - t1
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.close()
    t["total"] = time.monotonic() - t0
    return t


def customer_id(db, name):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT id FROM customers WHERE name = ?", (name,)).fetchone()[0]
    finally:
        con.close()


# --- nginx, the anchor ----------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  types {{ }}
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  client_body_temp_path {dir}/client_body;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location = /api/v2 {{
{body}
    }}
    location /static/ {{ }}
  }}
}}
"""


def nginx_return(body):
    """`return 200 '<body>'` for nginx: a config token is at most 4 KiB, so
    longer bodies are joined from variables set in chunks."""
    if "$" in body or "\n" in body:
        raise ValueError("body must not hold '$' or a newline")
    esc = body.replace("\\", "\\\\").replace("'", "\\'")
    if len(esc) <= 3000:
        return f"      return 200 '{esc}';"
    chunks, lines, i = [], [], 0
    while i < len(esc):
        n = 3000
        while esc[i + n - 1:i + n] == "\\" and i + n < len(esc):  # keep escapes whole
            n -= 1
        chunks.append(esc[i:i + n])
        i += n
    for k, c in enumerate(chunks):
        lines.append(f"      set $b{k} '{c}';")
    lines.append("      return 200 \"" + "".join(f"${{b{k}}}" for k in range(len(chunks))) + "\";")
    return "\n".join(lines)


def nginx_conf(dir_, port, body_file=None, static_file=None):
    os.makedirs(os.path.join(dir_, "www", "static"), exist_ok=True)
    os.makedirs(os.path.join(dir_, "client_body"), exist_ok=True)
    body = "      return 200 '{}';"
    if body_file:
        with open(body_file) as f:
            body = nginx_return(f.read())
    if static_file:
        dst = os.path.join(dir_, "www", "static", os.path.basename(static_file))
        with open(static_file, "rb") as src, open(dst, "wb") as out:
            out.write(src.read())
    # nginx workers drop root: the files must be readable by them.
    for path in (dir_, os.path.join(dir_, "www"), os.path.join(dir_, "www", "static")):
        os.chmod(path, 0o755)
    for name in os.listdir(os.path.join(dir_, "www", "static")):
        os.chmod(os.path.join(dir_, "www", "static", name), 0o644)
    conf = os.path.join(dir_, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=dir_, port=port, body=body))
    return conf


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "free-port":
        print(free_port())
    elif cmd == "config":  # config PATH PORT UP_PORT DB [POLL] [UP_CONNS]
        write_config(args[0], int(args[1]), int(args[2]), args[3], *args[4:5],
                     *[int(a) for a in args[5:6]])
    elif cmd == "nginx-conf":  # nginx-conf DIR PORT BODY_FILE|- STATIC_FILE|-
        body = None if args[2] == "-" else args[2]
        static = None if args[3] == "-" else args[3]
        print(nginx_conf(args[0], int(args[1]), body, static))
    elif cmd == "fresh-orders":  # fresh-orders DB CUSTOMER_NAME N FIRST_UPSTREAM_ORDER
        cid = customer_id(args[0], args[1])
        ids = insert_orders(args[0], [cid], int(args[2]), "active",
                            int(time.time() * 1000), int(args[3]))[cid]
        print(",".join(map(str, ids)))
    elif cmd == "fp-stat":  # fp-stat PORT KEY[.KEY]
        status, body = http_request(int(args[0]), "GET", "/control/stats")
        v = json.loads(body)
        for k in args[1].split("."):
            v = v.get(k, 0) if isinstance(v, dict) else 0
        print(v)
    elif cmd == "count-orders":  # count-orders DB: "state=N ..."
        con = sqlite3.connect(args[0], timeout=30)
        rows = con.execute("SELECT state, COUNT(*) FROM orders GROUP BY state ORDER BY state").fetchall()
        con.close()
        print(" ".join(f"{s}={n}" for s, n in rows))
    elif cmd == "result":  # result KEY VALUE
        result(args[0], args[1])
    else:
        raise SystemExit(f"benchlib: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
