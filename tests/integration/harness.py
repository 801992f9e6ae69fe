"""Integration harness: the real panelmuxd, panelmux and fakepanel binaries
on free loopback ports, each test in its own temporary directory with its own
config and database, a timeout, and cleanup of every process it started.

The store backend comes from PMX_STORE: "sqlite" (the default; a file in the
test's directory) or "postgres" (a fresh database per Panelmux on the cluster
named by PMX_PG, created with tests/pg.sh and dropped at close).  Configs put
`{store}` where the store's backend line goes (see store_yaml); pm.sql()
reads and writes the store on either backend.

Stdlib only.  Every process is started by PID and stopped by PID."""
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

VALGRIND = bool(os.environ.get("PMX_VALGRIND"))
TEST_TIMEOUT = int(os.environ.get("TEST_TIMEOUT", "600" if VALGRIND else "240"))
START_TIMEOUT = 60.0 if VALGRIND else 20.0
# Under `make valgrind` the daemon runs under memcheck; an error or a
# definitely lost byte makes it exit 99, which stop() reports.
VALGRIND_CMD = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite"]

# PMX_KEEP=1: leave each Panelmux's directory and database for a post-mortem.
KEEP = bool(os.environ.get("PMX_KEEP"))

# --- the store backend ------------------------------------------------------
STORE = os.environ.get("PMX_STORE", "sqlite") or "sqlite"
if STORE not in ("sqlite", "postgres"):
    raise SystemExit(f"PMX_STORE={STORE!r}: expected sqlite or postgres")
PG_SH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pg.sh")


def pg_conninfo(name=None):
    """PMX_PG's keywords as a dict (dbname replaced by NAME if given)."""
    conninfo = os.environ.get("PMX_PG", "")
    if not conninfo:
        raise RuntimeError("PMX_STORE=postgres needs PMX_PG (a libpq conninfo of the test cluster; "
                           "tests/run.sh starts one)")
    kv = dict(w.split("=", 1) for w in conninfo.split())
    if name is not None:
        kv["dbname"] = name
    return kv


def pg_port():
    return int(pg_conninfo().get("port", "5432"))


def pg_run(name, *args, timeout=120, input=None):
    """tests/pg.sh psql on database NAME of the PMX_PG cluster."""
    return subprocess.run(["bash", PG_SH, "psql", os.environ.get("PMX_PG_DIR", "-"), str(pg_port()),
                           name, "-v", "ON_ERROR_STOP=1", *args],
                          capture_output=True, text=True, timeout=timeout, input=input)


def pg_createdb(name):
    """A fresh database NAME on the test cluster; returns its conninfo."""
    p = subprocess.run(["bash", PG_SH, "createdb", os.environ.get("PMX_PG_DIR", "-"),
                        str(pg_port()), name], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"pg.sh createdb {name} failed: {p.stderr}")
    kv = pg_conninfo(name)
    return " ".join(f"{k}={v}" for k, v in kv.items())


def pg_dropdb(name):
    p = pg_run("postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"DROP DATABASE {name} failed: {p.stderr}")


def store_yaml(pm):
    """The backend line of the `store:` section for Panelmux PM (what
    `{store}` in a config becomes): `sqlite: "PATH"` or `postgres: "CONNINFO"`."""
    if STORE == "postgres":
        return f'postgres: "{pm.conninfo}"'
    return f'sqlite: "{pm.db}"'


class Skip(Exception):
    """Raised by skip(): the runner reports the test as `ok N - name # SKIP reason`."""


def skip(reason):
    raise Skip(reason)


def sqlite_only(why):
    """Skip the calling test on PostgreSQL: WHY says what is SQLite-specific."""
    if STORE != "sqlite":
        skip(f"SQLite-specific: {why}")


def postgres_only(why):
    if STORE != "postgres":
        skip(f"needs PMX_STORE=postgres: {why}")


def exclusive(fn):
    """Mark a test that must run alone (it stops the shared PostgreSQL
    cluster, say): the runner runs it after the others, with nothing else."""
    fn.exclusive = True
    return fn


def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, bytes):
        return "'\\x" + v.hex() + "'::bytea"
    return "'" + str(v).replace("'", "''") + "'"


def _bind(query, params):
    """QUERY with each ? outside a quoted string replaced by the literal of
    the next parameter (psql has no bind parameters before PostgreSQL 16)."""
    out, it, quote = [], iter(params), None
    for ch in query:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            try:
                out.append(_sql_literal(next(it)))
            except StopIteration:
                raise ValueError(f"too few parameters for {query!r}") from None
            continue
        out.append(ch)
    if next(it, StopIteration) is not StopIteration:
        raise ValueError(f"too many parameters for {query!r}")
    return "".join(out)


class Env:
    def __init__(self, build, root):
        self.build = build
        self.root = root
        self.sanitized = os.path.basename(build.rstrip("/")).endswith("-san")

    def bin(self, name):
        return os.path.join(self.build, name)


def run_with_timeout(fn, seconds):
    """Run fn in this thread; fail if it takes longer than seconds (the
    thread is left to finish, its processes are cleaned up by their own
    finally blocks)."""
    result = {}

    def target():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the runner
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise TimeoutError(f"test exceeded {seconds}s")
    if "error" in result:
        raise result["error"]


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS_LOCK = threading.Lock()
_PORTS_GIVEN = set()
_PORTS_RNG = random.Random()  # the tests' own random sequences untouched


def free_port():
    """A loopback port for a server a test starts later.  Taken below the
    kernel's ephemeral range, so that no outgoing connection's local port
    (the tests' own clients, the daemon's upstream calls) can take it in
    between (port 0 gave ephemeral ports: a daemon once found its admin
    port taken), and never twice in this process (tests run in parallel)."""
    low = _ephemeral_low()
    with _PORTS_LOCK:
        if low > 11000:
            for _ in range(200):
                port = _PORTS_RNG.randrange(10000, low - 1000)
                if port in _PORTS_GIVEN:
                    continue
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                finally:
                    s.close()
                _PORTS_GIVEN.add(port)
                return port
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port


def wait_port(port, proc, timeout=START_TIMEOUT, logpath=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = open(logpath).read() if logpath and os.path.exists(logpath) else ""
            raise RuntimeError(f"process exited with {proc.returncode} before listening:\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"port {port} not listening after {timeout}s")


def raise_nofile(n):
    """Raise this process's RLIMIT_NOFILE soft limit to N (at most the hard
    limit); returns the new soft limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def nofile_preexec(n):
    """A Popen preexec_fn giving the child at least N descriptors."""
    return lambda: raise_nofile(n)


def vm_rss_kib(pid):
    """VmRSS of process PID in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def http_request(port, method, path, body=None, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def multipart(fields):
    boundary = "----pmx" + uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


BASE_CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  paths: ["/api/v2"]
  admin: "127.0.0.1:{admin_port}"
currency: USD
money:
  decimals: 5
store:
  {store}
log:
  level: debug
upstreams:
  - name: alpha
    url: "http://127.0.0.1:{up_port}/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
services:
  - id: 1
    route: ["alpha:1"]
"""


def alpha_config(level="info", reply_wait="1s", extra="", url=None, **alpha):
    """The configuration the order tests share: no abuse limits, one
    upstream `alpha` (the fake panel on {up_port}, or URL) imported whole.
    ALPHA adds keys to that upstream (timeout="2s", poll_interval="1s",
    ...); EXTRA is more top-level YAML (currency, pricing, ...).  The
    {port}, {admin_port}, {store} and {up_port} placeholders are
    Panelmux's."""
    keys = "".join(f"    {k}: {v}\n" for k, v in alpha.items())
    url = url or "http://127.0.0.1:{up_port}/api/v2"
    return f"""\
listen:
  api: "127.0.0.1:{{port}}"
  admin: "127.0.0.1:{{admin_port}}"
store:
  {{store}}
log:
  level: {level}
limits:
  max_connections_per_ip: 100000
  rate_per_key: "0/s"
  rate_per_ip: "0/s"
{extra}orders:
  reply_wait: {reply_wait}
upstreams:
  - name: alpha
    url: "{url}"
    key: "${{{{PMX_TEST_UPSTREAM_KEY}}}}"
{keys}services:
  - import: alpha
    id_offset: 0
"""


class Panelmux:
    """One daemon under test with its own directory, config and store.
    SHARE=another Panelmux: use that one's store (several daemons on one
    database); the database then belongs to the other (dropped with it)."""

    def __init__(self, env, config=None, extra="", up_port=None, name="pmx", share=None):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix=f"{name}-")
        self.port = free_port()
        self.admin_port = free_port()
        self.up_port = up_port or free_port()
        self.pg_db = None        # the database this instance created (postgres)
        if share is not None:
            self.db, self.pg_name, self.conninfo = share.db, share.pg_name, share.conninfo
        else:
            self.db = os.path.join(self.dir, "panelmux.db")
            self.pg_name = self.conninfo = None
            if STORE == "postgres":
                self.pg_name = "pmx_" + uuid.uuid4().hex
                try:
                    self.conninfo = pg_createdb(self.pg_name)
                except BaseException:
                    shutil.rmtree(self.dir, ignore_errors=True)
                    raise
                self.pg_db = self.pg_name
        self.config_path = os.path.join(self.dir, "panelmux.yaml")
        self.log_path = os.path.join(self.dir, "panelmuxd.log")
        self.proc = None
        self.logs = []
        self.environ = dict(os.environ, PMX_TEST_UPSTREAM_KEY="upstream-secret")
        text = config if config is not None else BASE_CONFIG + extra
        self.write_config(text)

    def write_config(self, text, mode=0o600):
        text = text.format(port=self.port, admin_port=self.admin_port, db=self.db,
                           store=store_yaml(self), up_port=self.up_port, dir=self.dir)
        with open(self.config_path, "w") as f:
            f.write(text)
        os.chmod(self.config_path, mode)

    # --- processes -------------------------------------------------------
    def cli(self, *args, check=True, input=None):
        p = subprocess.run([self.env.bin("panelmux"), "-c", self.config_path, *args],
                           capture_output=True, text=True, env=self.environ,
                           timeout=120, input=input)
        self.logs.append(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(f"panelmux {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    def start(self, args=(), nofile=None):
        """Start the daemon; NOFILE raises its RLIMIT_NOFILE soft limit
        (capped at the hard limit) for tests that open many connections."""
        self.logf = open(self.log_path, "a")
        cmd = [self.env.bin("panelmuxd"), "-c", self.config_path, *args]
        if VALGRIND:
            cmd = VALGRIND_CMD + cmd
        self.proc = subprocess.Popen(cmd,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.environ,
                                     preexec_fn=nofile_preexec(nofile) if nofile else None)
        wait_port(self.port, self.proc, logpath=self.log_path)
        # listen.admin is bound just after listen.api: wait for it too
        # when the config has it (under valgrind the gap is felt)
        if f"127.0.0.1:{self.admin_port}" in open(self.config_path).read():
            wait_port(self.admin_port, self.proc, logpath=self.log_path)
        return self

    def stop(self, expect_rc=0):
        """SIGTERM and wait; the exit status must be clean (under ASan a
        leak or error makes it non-zero)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("panelmuxd did not stop on SIGTERM")
        self.logf.close()
        rc = proc.returncode
        if expect_rc is not None and rc != expect_rc:
            raise AssertionError(f"panelmuxd exited {rc}:\n{self.log()[-4000:]}")
        # On PostgreSQL the loop must never have waited on the database
        # (the daemon reports calls made off a fiber when it stops).
        if STORE == "postgres" and "blocked the event loop" in self.log():
            raise AssertionError("store calls blocked the event loop:\n" +
                                 self.log()[-4000:])
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        try:
            self.kill()
        finally:
            if KEEP:
                print(f"# PMX_KEEP: {self.dir} {self.pg_name or ''}", flush=True)
                return
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.pg_db is not None:
                name, self.pg_db = self.pg_db, None
                pg_dropdb(name)

    # --- the store, directly ----------------------------------------------
    def sql(self, query, *params):
        """Run one SQL statement on this instance's store (either backend)
        with ? placeholders; returns the rows as tuples of strings (None for
        NULL), the same on both backends, so compare with str() or convert
        with int().  Writes commit at once."""
        if STORE == "postgres":
            p = pg_run(self.pg_name, "-A", "-t", "-F", "\x1f", "-R", "\x1e", "-P", "null=\x02",
                       "-c", _bind(query, params))
            if p.returncode != 0:
                raise AssertionError(f"psql failed on {query!r}: {p.stderr}")
            out = p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout
            if out == "" and not p.stdout:
                return []
            return [tuple(None if v == "\x02" else v for v in rec.split("\x1f"))
                    for rec in out.split("\x1e")]
        con = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            rows = con.execute(query, params).fetchall()
        finally:
            con.close()
        return [tuple(None if v is None else "\\x" + v.hex() if isinstance(v, bytes) else str(v)
                      for v in row) for row in rows]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        self.close()

    # --- customers ------------------------------------------------------
    def customer(self, name, fund=None):
        key = self.cli("customer", "add", name).stdout.strip()
        if fund is not None:
            self.cli("customer", "fund", name, str(fund))
        return key

    def check(self):
        p = self.cli("check", check=False)
        assert p.returncode == 0, f"panelmux check failed:\n{p.stdout}{p.stderr}"
        return p.stdout

    # --- requests --------------------------------------------------------
    def request(self, method="POST", path="/api/v2", body=None, headers=None, timeout=10.0):
        return http_request(self.port, method, path, body, headers, timeout)

    def api(self, path="/api/v2", **fields):
        body = urllib.parse.urlencode(fields)
        r = self.request("POST", path, body,
                         {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200, r
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers
        return r.json()

    # --- the admin API (listen.admin, /adminapi/v2) ----------------------
    def admin(self, method, path, key=None, body=None, form=None, query=None, raw=None,
              headers=None, port=None, timeout=10.0):
        """One request to /adminapi/v2/PATH on the admin listener (PORT:
        another listener, e.g. self.port for the customers' one).  KEY goes
        in X-Api-Key (None: no header).  BODY (a dict or list) is sent as
        JSON, FORM (a dict) form-encoded, RAW (bytes or str) as is; QUERY (a
        dict) becomes the query string.  Returns the Response (its .json()
        is the envelope)."""
        url = "/adminapi/v2/" + path.lstrip("/")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        hdrs = {}
        data = None
        if body is not None:
            data = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif raw is not None:
            data = raw
        if key is not None:
            hdrs["X-Api-Key"] = key
        hdrs.update(headers or {})
        return http_request(self.admin_port if port is None else port, method, url, data, hdrs, timeout)

    def customers_api(self, names, fund):
        """Customers NAMES, each funded with FUND, made through the running
        daemon's admin API (many at once without a CLI process each): their
        API keys."""
        op = self.admin_key("bulk-" + uuid.uuid4().hex[:8])
        keys = []
        for n in names:
            r = self.admin("POST", "users/add", key=op, body={"username": n}).json()
            assert r["error_code"] == 0, r
            keys.append(r["data"]["api_key"])
            r = self.admin("POST", "payments/add", key=op,
                           body={"username": n, "amount": fund}).json()
            assert r["error_code"] == 0, r
        return keys

    def admin_key(self, name, read_only=False):
        """`panelmux admin key add NAME [--read-only]`: the new operator key
        (the CLI prints it alone on one line)."""
        p = self.cli("admin", "key", "add", name, *(["--read-only"] if read_only else []))
        lines = p.stdout.splitlines()
        assert len(lines) == 1 and lines[0].strip() and p.stdout.endswith("\n"), \
            f"admin key add {name}: expected the key alone on one line, got {p.stdout!r}"
        return lines[0].strip()


def assert_no_secret(text, *secrets):
    for s in secrets:
        assert s not in text, f"secret {s[:6]}... appears in the log"


def assert_matches(pattern, text):
    assert re.search(pattern, text, re.M), f"{pattern!r} not found in:\n{text}"


class FakePanel:
    """The project's fake upstream panel on a free loopback port."""

    def __init__(self, env, key="upstream-secret", dialect="std", currency="USD",
                 services=20, extra=()):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="fakepanel-")
        self.log_path = os.path.join(self.dir, "calls.jsonl")
        self.args = [env.bin("fakepanel"), "--listen", "127.0.0.1:0", "--key", key,
                     "--dialect", dialect, "--currency", currency,
                     "--services", str(services), "--log", self.log_path, *extra]
        self.proc = None
        self.port = None
        self.start()

    def start(self, port=None):
        args = list(self.args)
        if port is not None:
            args[args.index("--listen") + 1] = f"127.0.0.1:{port}"
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"fakepanel did not start: {line!r}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}/api/v2"
        return self

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
            self.stderr.close()
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def control(self, **op):
        r = http_request(self.port, "POST", "/control", json.dumps(op),
                         {"Content-Type": "application/json"})
        assert r.status == 200, r
        return r.json() if r.body else None

    def fault(self, action, mode):
        return self.control(op="fault", action=action, mode=mode)

    def calls(self):
        r = http_request(self.port, "GET", "/control/log")
        return r.json()

    def api(self, **fields):
        r = http_request(self.port, "POST", "/api/v2", urllib.parse.urlencode(fields),
                         {"Content-Type": "application/x-www-form-urlencoded"})
        return r


def wait_for(pred, timeout=15.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
