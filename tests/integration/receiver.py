"""A loopback webhook receiver for the tests and the bench: a threaded HTTP
server on 127.0.0.1 (a port from harness.free_port() unless one is given)
that records every request it gets and answers according to its mode.

    with Receiver() as rx:                  # started; stopped and joined at exit
        url = rx.url("/hooks")              # http://127.0.0.1:PORT/hooks
        rx.set_mode("error")                # every request answered 500
        rx.set_mode("hang")                 # no answer until the mode changes or close()
        rx.set_mode("redirect", location="http://127.0.0.1:P/elsewhere")   # 302
        rx.set_mode("slow", delay=0.5)      # 200 after DELAY seconds
        rx.set_mode("ok")                   # 200 (the default)
        reqs = rx.requests()                # [Request], in arrival order
        rx.connections()                    # TCP connections accepted (a TLS hello included)

Each Request holds the method, path, headers (lower-case names), the raw
body bytes, when it arrived (time.time() and time.monotonic()), the mode it
met, the status it was answered with (None while unanswered, or when it was
never answered: hang) and when the answer went (or the peer went away).

Modes are read when a request arrives; a hung request is released (its
connection closed without a reply) as soon as the mode changes, the peer
closes its end, or the receiver closes.  Stdlib only; every thread it
starts is joined by close()."""
import http.server
import json
import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODES = ("ok", "error", "hang", "redirect", "slow")


class Request:
    __slots__ = ("seq", "method", "path", "headers", "body", "wall", "mono", "mode",
                 "status", "done_mono", "peer")

    def __init__(self, seq, method, path, headers, body, mode, peer):
        self.seq = seq
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.wall = time.time()
        self.mono = time.monotonic()
        self.mode = mode
        self.status = None
        self.done_mono = None
        self.peer = peer

    def json(self):
        return json.loads(self.body)

    @property
    def event_id(self):
        return self.headers.get("x-panelmux-delivery")

    @property
    def signature(self):
        return self.headers.get("x-panelmux-signature", "")

    def __repr__(self):
        return (f"<Request #{self.seq} {self.method} {self.path} {self.event_id} mode={self.mode}"
                f" status={self.status} {self.body[:120]!r}>")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as a real receiver
    server_version = "receiver/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _serve(self):
        rx = self.server.receiver
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        with rx._cond:
            mode, opts = rx._mode, dict(rx._opts)
            req = Request(len(rx._requests) + 1, self.command, self.path, headers, body, mode,
                          self.client_address)
            if rx._record:
                rx._requests.append(req)
            rx._count += 1
            rx._cond.notify_all()
        if mode == "hang":
            rx._hang(self.connection, req)
            self.close_connection = True
            return
        if mode == "slow":
            rx._closing.wait(opts.get("delay", 0.5))
        status, extra = 200, {}
        if mode == "error":
            status = opts.get("status", 500)
        elif mode == "redirect":
            status = opts.get("status", 302)
            extra["Location"] = opts["location"]
        reply = opts.get("body", b'{"ok":true}' if status == 200 else b"{}")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(reply)
            self.wfile.flush()
        except OSError:
            status = None   # the peer went away first: never answered
        with rx._cond:
            req.status = status
            req.done_mono = time.monotonic()
            if status is not None and 200 <= status < 300:
                rx._acked += 1
            rx._cond.notify_all()

    do_POST = do_GET = do_PUT = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False        # close() joins every handler thread
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *a, **kw):
        self.live = set()
        self.live_lock = threading.Lock()
        self.connections = 0    # TCP connections accepted, requests or not (a TLS hello too)
        super().__init__(*a, **kw)

    def process_request_thread(self, request, client_address):
        with self.live_lock:
            self.live.add(request)
            self.connections += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.live_lock:
                self.live.discard(request)

    def handle_error(self, request, client_address):
        """A client that went away (the daemon's timeout, kill -9) is no
        error of the receiver's: quiet; anything else as usual."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def drop_all(self):
        """Shut every open connection (idle keep-alive ones included), so
        that their threads end and server_close() can join them."""
        with self.live_lock:
            socks = list(self.live)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Receiver:
    def __init__(self, port=None, mode="ok", record=True, **opts):
        if port is None:
            from harness import free_port
            port = free_port()
        self.port = port
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._requests = []
        self._record = record
        self._count = 0
        self._acked = 0
        self._mode = "ok"
        self._opts = {}
        self.set_mode(mode, **opts)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # --- control ---------------------------------------------------------
    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def set_mode(self, mode, **opts):
        """MODE: ok, error (status=500), hang, redirect (location=URL,
        status=302), slow (delay=seconds).  Releases hung requests."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "redirect" and "location" not in opts:
            raise ValueError("redirect needs location=")
        with self._cond:
            self._mode, self._opts = mode, opts
            self._cond.notify_all()

    @property
    def mode(self):
        return self._mode

    def _hang(self, conn, req):
        """Hold the request unanswered until the mode changes, the peer
        closes, or the receiver closes; then drop the connection."""
        while True:
            with self._cond:
                if self._mode != "hang" or self._closing.is_set():
                    break
                self._cond.wait(0.05)
            try:
                r, _, _ = select.select([conn], [], [], 0)
                if r and conn.recv(1, socket.MSG_PEEK) == b"":
                    break   # the client gave up (its timeout)
            except OSError:
                break
        with self._cond:
            req.done_mono = time.monotonic()
            self._cond.notify_all()

    # --- what came -------------------------------------------------------
    def requests(self):
        with self._cond:
            return list(self._requests)

    def connections(self):
        """TCP connections accepted so far, whatever came on them."""
        with self._server.live_lock:
            return self._server.connections

    def count(self):
        with self._cond:
            return self._count

    def acked(self):
        """Requests answered 2xx so far."""
        with self._cond:
            return self._acked

    def in_flight(self):
        """Requests arrived and not yet answered or dropped."""
        with self._cond:
            return [r for r in self._requests if r.done_mono is None]

    def delivered(self):
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.requests() if r.status is not None and 200 <= r.status < 300]

    def wait(self, pred, timeout=15.0, what="requests"):
        """Wait until PRED(list of requests) is true; returns its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = pred(list(self._requests))
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: timed out waiting for {what}"
                                         f" ({len(self._requests)} requests: {self._requests[-5:]})")
                self._cond.wait(min(left, 0.1))

    def clear(self):
        with self._cond:
            self._requests = []

    # --- life --------------------------------------------------------------
    def close(self):
        if self._server is None:
            return
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.drop_all()
        self._server.server_close()   # joins the handler threads (block_on_close)
        self._thread.join(10)
        self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
