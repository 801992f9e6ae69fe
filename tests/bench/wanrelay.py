#!/usr/bin/env python3
"""A TCP delay relay on loopback: a simulated WAN between a client and a
server on the same machine (the kernel here has no netem).  Stdlib only.

    python3 tests/bench/wanrelay.py --listen 127.0.0.1:P --target 127.0.0.1:Q \
        --rtt-ms 50 --jitter-ms 5 --stall 0.01 --reset 0.01 --seed 1 \
        [--stats-file FILE]

It accepts connections on --listen and connects each to --target at once
(loopback, no delay), then relays the bytes both ways, each chunk held for
half the round trip (RTT/2) plus a jitter drawn uniformly from
[-J, +J] (--jitter-ms J, or --jitter 10% of RTT/2).  A chunk is never
forwarded before the chunk read before it in the same direction: the jitter
may bunch chunks, it never reorders them.  The TCP handshake's round trip
is simulated too: the client's bytes are not forwarded before accept time +
one RTT (the kernel accepted the connection at once on loopback; a real
client could only send after SYN, SYN-ACK), so its first byte reaches the
target at accept + 1.5 RTT, as over a real path.  A fresh HTTPS request
then costs 3 round trips (TCP 1, TLS 1.3 1, the request 1); a request on a
kept-alive connection 1.

Faults, decided per connection at accept time from --seed (so a run is
repeatable), on a share of the connections:
  --stall S   the connection is accepted and held open but nothing is ever
              forwarded either way (what the client sends is read and
              dropped): the client's connect / TLS-handshake timeout fires.
  --reset R   the client is sent a TCP RST at once (SO_LINGER 0 and close),
              before the target was even connected to.
  --spare N   the first N connections are never faulted (a daemon's
              start-up calls, say).
Both happen before any byte of the connection reached the target, so the
requests on a faulted connection are provably not sent: a client that
treats a failure before its TLS handshake completed as "not sent" is
right to (panelmux: UP_NOT_SENT, lib/upstream.c up_classify).  No fault is
ever injected on a connection after its first byte was forwarded.

Counters: connections, active, stalled, reset, target_errors, bytes_up
(client -> target), bytes_down (target -> client).  With --stats-file they
are written there as JSON on SIGUSR1, on SIGTERM/SIGINT (then the relay
exits) and every --stats-interval seconds; "seq" grows with every write.
The CLI prints "wanrelay listening on 127.0.0.1:PORT" on stdout once
listening (--listen 127.0.0.1:0 picks a free port).

As a module: Relay(listen_port, target_host, target_port, rtt_ms=...)
with `await relay.start()` / `await relay.close()` in an asyncio loop, or
relay.run_in_thread() / relay.stop_thread() from synchronous code (the
relay then shares the caller's interpreter: for load tests run the CLI as
its own process)."""
import argparse
import asyncio
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

CHUNK = 65536
QUEUE_CHUNKS = 256  # per direction: at most 16 MiB held, then reads pause
STALL_HOLD_S = 300


class Relay:
    def __init__(self, listen_port, target_host, target_port, rtt_ms=50.0, jitter_ms=0.0,
                 jitter_pct=None, stall=0.0, reset=0.0, seed=1, listen_host="127.0.0.1", spare=0):
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.target = (target_host, target_port)
        self.rtt = rtt_ms / 1000.0
        self.half = self.rtt / 2.0
        if jitter_pct is not None:
            self.jitter = self.half * jitter_pct / 100.0
        else:
            self.jitter = jitter_ms / 1000.0
        self.jitter = min(self.jitter, self.half)  # never a negative delay
        self.p_stall = stall
        self.p_reset = reset
        self.spare = spare  # the first SPARE connections are never faulted
        self.fault_rng = random.Random(seed)
        self.jitter_rng = random.Random(seed * 7919 + 1)
        self.stats = {"connections": 0, "active": 0, "stalled": 0, "reset": 0,
                      "target_errors": 0, "bytes_up": 0, "bytes_down": 0, "seq": 0}
        self.server = None
        self.tasks = set()
        self.held = set()  # writers of stalled connections
        self._thread = None
        self._loop = None

    # --- lifecycle --------------------------------------------------------
    async def start(self):
        self.server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port,
                                                 backlog=1024, limit=CHUNK)
        self.listen_port = self.server.sockets[0].getsockname()[1]
        return self.listen_port

    async def close(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for w in list(self.held):
            w.transport.abort()
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def run_in_thread(self):
        """Start the relay on its own event loop in a daemon thread; returns
        the port it listens on."""
        ready = threading.Event()
        box = {}

        def main():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                box["port"] = self._loop.run_until_complete(self.start())
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                box["error"] = e
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.close())
            self._loop.close()

        self._thread = threading.Thread(target=main, daemon=True, name="wanrelay")
        self._thread.start()
        ready.wait(10)
        if "error" in box:
            raise box["error"]
        return box["port"]

    def stop_thread(self):
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def snapshot(self):
        return dict(self.stats)

    # --- one connection ---------------------------------------------------
    def _delay(self):
        j = self.jitter_rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return self.half + j

    def _spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    async def _accept(self, creader, cwriter):
        t_accept = time.monotonic()
        st = self.stats
        st["connections"] += 1
        r = self.fault_rng.random()
        if st["connections"] <= self.spare:
            r = 1.0
        if r < self.p_reset:
            st["reset"] += 1
            sock = cwriter.get_extra_info("socket")
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            cwriter.transport.abort()
            return
        if r < self.p_reset + self.p_stall:
            st["stalled"] += 1
            self.held.add(cwriter)
            try:
                while await creader.read(CHUNK):
                    pass  # read and dropped: nothing is ever forwarded
                # A half-close is not an answer either: held until the
                # relay closes (at most STALL_HOLD_S).
                await asyncio.sleep(STALL_HOLD_S)
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                self.held.discard(cwriter)
                cwriter.transport.abort()
            return
        try:
            treader, twriter = await asyncio.open_connection(*self.target, limit=CHUNK)
        except OSError:
            st["target_errors"] += 1
            cwriter.transport.abort()
            return
        for w in (cwriter, twriter):
            s = w.get_extra_info("socket")
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        st["active"] += 1
        up = self._spawn(self._pipe(creader, twriter, "bytes_up", t_accept + self.rtt))
        down = self._spawn(self._pipe(treader, cwriter, "bytes_down", 0.0))
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            st["active"] -= 1
            for w in (cwriter, twriter):
                if not w.transport.is_closing():
                    w.transport.abort()

    async def _pipe(self, reader, writer, counter, not_before):
        """Read from READER, forward to WRITER, each chunk RTT/2 +- jitter
        after it was read, never before NOT_BEFORE and never before the
        chunk ahead of it."""
        q = asyncio.Queue(QUEUE_CHUNKS)
        last = [0.0]
        loop = asyncio.get_running_loop()

        async def read_side():
            try:
                while True:
                    data = await reader.read(CHUNK)
                    now = loop.time()
                    # time.monotonic() and loop.time() share the clock on Linux
                    due = max(max(now, not_before) + self._delay(), last[0])
                    last[0] = due
                    await q.put((due, data))
                    if not data:
                        return
            except (OSError, asyncio.IncompleteReadError):
                await q.put((None, None))  # a reset: pass it on at once

        async def write_side():
            while True:
                due, data = await q.get()
                if due is None:
                    writer.transport.abort()
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof() and not writer.transport.is_closing():
                        try:
                            writer.write_eof()
                        except OSError:
                            pass
                    return
                self.stats[counter] += len(data)
                writer.write(data)
                await writer.drain()

        rt = self._spawn(read_side())
        try:
            await write_side()
        except (OSError, ConnectionError):
            pass
        finally:
            rt.cancel()
            await asyncio.gather(rt, return_exceptions=True)


def _parse_hostport(s):
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT (PORT 0: any free one)")
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--rtt-ms", type=float, default=50.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0, help="+- J ms on each one-way delay")
    ap.add_argument("--jitter", default=None, help="+- N%% of RTT/2 (e.g. 10%%), instead of --jitter-ms")
    ap.add_argument("--stall", type=float, default=0.0, help="share of connections stalled")
    ap.add_argument("--reset", type=float, default=0.0, help="share of connections reset at accept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--spare", type=int, default=0, help="the first N connections are never faulted")
    ap.add_argument("--stats-file", default=None)
    ap.add_argument("--stats-interval", type=float, default=1.0)
    a = ap.parse_args(argv)
    lh, lp = _parse_hostport(a.listen)
    th, tp = _parse_hostport(a.target)
    pct = float(a.jitter.rstrip("%")) if a.jitter else None
    relay = Relay(lp, th, tp, a.rtt_ms, a.jitter_ms, pct, a.stall, a.reset, a.seed, lh, a.spare)

    def write_stats():
        relay.stats["seq"] += 1
        if a.stats_file:
            tmp = a.stats_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(relay.stats, f)
            os.replace(tmp, a.stats_file)

    async def run():
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        port = await relay.start()
        print(f"wanrelay listening on {lh}:{port}", flush=True)
        loop.add_signal_handler(signal.SIGTERM, done.set)
        loop.add_signal_handler(signal.SIGINT, done.set)
        loop.add_signal_handler(signal.SIGUSR1, write_stats)
        write_stats()
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), a.stats_interval)
            except asyncio.TimeoutError:
                write_stats()
        await relay.close()
        write_stats()
        print("wanrelay " + json.dumps(relay.stats), file=sys.stderr, flush=True)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
