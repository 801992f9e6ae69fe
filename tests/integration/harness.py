"""Integration harness: the real panelmuxd, panelmux and fakepanel binaries
on free loopback ports, each test in its own temporary directory with its own
config and database, a timeout, and cleanup of every process it started.

Stdlib only.  Every process is started by PID and stopped by PID."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
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


def free_port():
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
  sqlite: "{db}"
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


class Panelmux:
    """One daemon under test with its own directory, config and store."""

    def __init__(self, env, config=None, extra="", up_port=None, name="pmx"):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix=f"{name}-")
        self.port = free_port()
        self.admin_port = free_port()
        self.up_port = up_port or free_port()
        self.db = os.path.join(self.dir, "panelmux.db")
        self.config_path = os.path.join(self.dir, "panelmux.yaml")
        self.log_path = os.path.join(self.dir, "panelmuxd.log")
        self.proc = None
        self.logs = []
        self.environ = dict(os.environ, PMX_TEST_UPSTREAM_KEY="upstream-secret")
        text = config if config is not None else BASE_CONFIG + extra
        self.write_config(text)

    def write_config(self, text, mode=0o600):
        text = text.format(port=self.port, admin_port=self.admin_port,
                           db=self.db, up_port=self.up_port, dir=self.dir)
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
            shutil.rmtree(self.dir, ignore_errors=True)

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
