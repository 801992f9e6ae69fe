"""The simulated WAN with real TLS, shared by the wan bench
(tests/bench/bench_wan.py) and the integration test
(tests/integration/test_wan.py, which puts tests/bench on sys.path).

    client --(plain TCP through wanrelay.py: the delay, the faults)-->
        nginx (TLS 1.3, HTTP/2 and HTTP/1.1, a throw-away CA's certificate
        for 127.0.0.1 and localhost) --(HTTP/1.1, upstream keep-alive)-->
        the fake panel

Stdlib and proclib only, no import of benchlib (whose SIGTERM handler may
only be installed from the main thread; the integration runner runs tests
in threads).  Every process is started and stopped by PID and binds to
127.0.0.1; everything it writes is in the directory it is given."""
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proclib  # noqa: E402
NGINX = next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), "nginx")


def _openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {p.stderr}")


# --- certificates -----------------------------------------------------------

def make_ca(dir_, name="ca"):
    """A throw-away CA (P-256, valid 2 days) in DIR_: (NAME.pem, NAME.key)."""
    pem, key = os.path.join(dir_, f"{name}.pem"), os.path.join(dir_, f"{name}.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", pem, "-days", "2",
             "-subj", f"/CN=panelmux throw-away test CA {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=dir_)
    return pem, key


def make_server_cert(dir_, ca, name="server"):
    """A server certificate for 127.0.0.1 and localhost signed by CA
    (make_ca's pair): (NAME.pem, NAME.key)."""
    pem, key = os.path.join(dir_, f"{name}.pem"), os.path.join(dir_, f"{name}.key")
    csr, ext = os.path.join(dir_, f"{name}.csr"), os.path.join(dir_, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=localhost", cwd=dir_)
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-days", "2", "-extfile", ext, "-out", pem, cwd=dir_)
    os.chmod(key, 0o644)  # read by nginx's master (root) only, but harmless in a temp dir
    return pem, key


# --- nginx, the TLS terminator ---------------------------------------------

def nginx_version():
    p = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", p.stderr + p.stdout)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


TLS_CONF = """\
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
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  upstream fakepanel {{
    server 127.0.0.1:{target};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port} ssl{h2listen};
{h2on}    server_name localhost;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1h;
    ssl_session_tickets on;
    client_max_body_size 16m;
    location / {{
      proxy_pass http://fakepanel;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }}
  }}
}}
"""


class TlsFront:
    """nginx terminating TLS on a free port (or PORT) of 127.0.0.1 and
    passing every request to 127.0.0.1:TARGET over kept-alive HTTP/1.1.
    CERT: (cert.pem, key.pem).  CPU pins it with taskset."""

    def __init__(self, dir_, target, cert, port=None, cpu=None):
        self.dir = os.path.join(dir_, "nginx-tls")
        for sub in ("", "tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
            os.chmod(os.path.join(self.dir, sub), 0o777 if sub else 0o755)
        self.port = port or proclib.free_port()
        new = nginx_version() >= (1, 25, 1)
        conf = TLS_CONF.format(dir=self.dir, port=self.port, target=target, cert=cert[0], key=cert[1],
                               h2listen="" if new else " http2", h2on="    http2 on;\n" if new else "")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        argv = [NGINX, "-p", self.dir, "-c", self.conf, "-e", os.path.join(self.dir, "nginx-error.log")]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu), *argv]
        self.errf = open(os.path.join(self.dir, "stderr.log"), "a")
        self.proc = subprocess.Popen(argv, stdout=self.errf, stderr=subprocess.STDOUT)
        try:
            proclib.wait_port(self.port, self.proc, what="nginx")
        except BaseException:
            self.close()
            raise

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "nginx-error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        proclib.stop(self.proc)  # SIGTERM: nginx's fast shutdown
        self.errf.close()


# --- the relay ---------------------------------------------------------------

class RelayProc:
    """tests/bench/wanrelay.py as its own process (so it never competes for
    the caller's interpreter) from a free port of 127.0.0.1 to TARGET, with
    --stats-file in DIR_.  stats() asks for a fresh copy (SIGUSR1)."""

    def __init__(self, dir_, target, rtt_ms=50, jitter_ms=0, stall=0.0, reset=0.0, seed=1,
                 cpu=None, name="relay", spare=0):
        self.stats_file = os.path.join(dir_, f"{name}-stats.json")
        self.rtt_ms = rtt_ms
        argv = [sys.executable, os.path.join(HERE, "wanrelay.py"), "--listen", "127.0.0.1:0",
                "--target", f"127.0.0.1:{target}", "--rtt-ms", str(rtt_ms), "--jitter-ms", str(jitter_ms),
                "--stall", str(stall), "--reset", str(reset), "--seed", str(seed), "--spare", str(spare),
                "--stats-file", self.stats_file, "--stats-interval", "1"]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu), *argv]
        self.errf = open(os.path.join(dir_, f"{name}.log"), "a")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.errf, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.close()
            raise RuntimeError(f"wanrelay did not start: {line!r}")
        self.port = int(m.group(1))
        self.final = None

    def _read(self):
        try:
            with open(self.stats_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"seq": -1}

    def stats(self, timeout=5.0):
        if self.proc.poll() is not None:
            return self.final or self._read()
        seq = self._read().get("seq", -1)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self._read()
            if s.get("seq", -1) > seq:
                return s
            time.sleep(0.01)
        raise TimeoutError("wanrelay wrote no stats")

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            proclib.stop(self.proc)
            self.final = self._read()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.errf.close()
        return self.final


# --- the chain ------------------------------------------------------------------

class WanChain:
    """The whole path to the fake panel on FP_PORT: a throw-away CA and a
    certificate for 127.0.0.1/localhost in DIR_, nginx TLS in front of the
    fake panel, the relay in front of nginx.  url: https://127.0.0.1:RELAY/api/v2;
    ca: the CA's PEM file (panelmux's ca_file, curl's CAINFO).  close()
    stops both and returns the relay's final counters.  DIR_ is made
    0755: nginx's workers (nobody, under root) reach their temp paths
    through it."""

    def __init__(self, dir_, fp_port, rtt_ms=50, jitter_ms=0, stall=0.0, reset=0.0, seed=1,
                 nginx_cpu=None, relay_cpu=None, ca=None, host="127.0.0.1", spare=0):
        self.dir = dir_
        os.chmod(dir_, 0o755)
        self.ca = ca or make_ca(dir_, "ca")
        self.cert = make_server_cert(dir_, self.ca, "server")
        self.tls = self.relay = None
        try:
            self.tls = TlsFront(dir_, fp_port, self.cert, cpu=nginx_cpu)
            self.relay = RelayProc(dir_, self.tls.port, rtt_ms, jitter_ms, stall, reset, seed,
                                   cpu=relay_cpu, spare=spare)
        except BaseException:
            self.close()
            raise
        self.url = f"https://{host}:{self.relay.port}/api/v2"
        self.ca_file = self.ca[0]

    def close(self):
        final = None
        if self.relay is not None:
            final = self.relay.close()
            self.relay = None
        if self.tls is not None:
            self.tls.close()
            self.tls = None
        return final


def tls_probe(url, ca_file, http1=False, timeout=10):
    """One `curl` POST to URL verified with CA_FILE: (TLS version, HTTP
    version, seconds) as curl saw them; used to check TLS 1.3 is what the
    chain negotiates (the bench states k from it)."""
    argv = ["curl", "-sS", "-o", "/dev/null", "--cacert", ca_file, "-w",
            "%{http_version} %{time_connect} %{time_appconnect} %{time_total}\\n", "-v",
            "--max-time", str(timeout), "-d", "action=balance&key=x", url]
    if http1:
        argv.insert(1, "--http1.1")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5)
    m = re.search(r"SSL connection using (TLSv[\d.]+)", p.stderr)
    parts = p.stdout.split()
    return {"tls": m.group(1) if m else None, "http": parts[0] if parts else None,
            "connect_s": float(parts[1]) if len(parts) > 1 else None,
            "tls_done_s": float(parts[2]) if len(parts) > 2 else None,
            "total_s": float(parts[3]) if len(parts) > 3 else None, "rc": p.returncode}
