#!/usr/bin/env python3
"""Row "upstream status calls per poll cycle, 100,000 open orders".

The fake panel gets 100,000 real orders (wrk adds, called directly); the
store gets 100,000 active orders pointing at them (SQL, polled_at = 0);
panelmuxd starts with poll_interval BENCH_POLL_INTERVAL (10s).  When the
first poll timer fires every order is due: the fake panel's call log shows
how many status calls it took until every order had been asked once.
Target: <= 1.02 x ceil(n / 100).  A cycle still running BENCH_POLL_WAIT
(150) s after the timer is reported as far as it got: the calls for the
orders asked so far against ceil(asked / 100).
Results: poll.calls, poll.ideal, poll.asked, poll.orders, poll.cycle_s,
poll.max_ids."""
import math
import os
import sys
import tempfile
import time

import benchlib as b

N = int(os.environ.get("BENCH_POLL_ORDERS", "100000"))
INTERVAL_S = int(os.environ.get("BENCH_POLL_INTERVAL", "10"))
WAIT_S = int(os.environ.get("BENCH_POLL_WAIT", "150"))  # for the cycle, after the first timer


def seed_fakepanel(fp):
    """N orders in the fake panel (IDs 1..N), through its own API."""
    url = f"http://127.0.0.1:{fp.port}/api/v2"
    t0 = time.monotonic()
    while fp.stats()["orders"] < N:
        left = N - fp.stats()["orders"]
        # wrk's threads stop after `left` replies, its main thread sleeps
        # the whole duration: size it for the fake panel's ~20,000 adds/s.
        b.wrk(64, 2 + left // 20000, url, "add.lua", BENCH_KEY=b.UPSTREAM_KEY, BENCH_TAG=f"seed{left}",
              BENCH_STOP_AFTER=left)
        if time.monotonic() - t0 > 120:
            raise RuntimeError("could not seed the fake panel's orders")
    print(f"fake panel: {fp.stats()['orders']} orders in {time.monotonic() - t0:.1f}s", flush=True)


def first_cycle(fp, mark):
    """The status calls since MARK until every order was asked once (or
    all of them so far), and the IDs they asked.  The batcher's queue is
    FIFO: an order due again in a later cycle is asked after the rest of
    the first cycle, so these are the first cycle's calls."""
    status, body = b.http_request(fp.port, "GET", f"/control/log?since={mark}", timeout=60)
    calls, seen = [], set()
    for c in b.json.loads(body):
        if c["action"] != "status":
            continue
        calls.append(c)
        seen.update(str(i) for i in c["ids"])
        if len(seen) >= N:
            break
    return calls, seen


def main():
    tmp = tempfile.mkdtemp(prefix="pmx-bench-poll.")
    fp = pm = None
    try:
        fp = b.FakePanel(tmp, services=20)
        seed_fakepanel(fp)
        pm = b.Panelmux(tmp, fp.port, poll=f"{INTERVAL_S}s")
        pm.customer("bulk")
        t0 = time.monotonic()
        b.insert_orders(pm.db, [b.customer_id(pm.db, "bulk")], N, "active", 0, 1)
        print(f"store: {N} active orders inserted in {time.monotonic() - t0:.1f}s", flush=True)

        mark = fp.stats()["requests"]
        pm.start()
        t_start = time.monotonic()
        deadline = t_start + INTERVAL_S + WAIT_S
        calls, seen = [], set()
        while len(seen) < N and time.monotonic() < deadline:
            time.sleep(1)
            calls, seen = first_cycle(fp, mark)
        if not calls:
            raise RuntimeError("no status call reached the fake panel")
        ideal = math.ceil(len(seen) / 100)
        cycle_s = (calls[-1]["ms"] - calls[0]["ms"]) / 1000
        asked = sum(len(c["ids"]) for c in calls)
        done = len(seen) >= N
        print(f"first cycle{'' if done else ' (INCOMPLETE)'}: {len(calls)} status calls for"
              f" {len(seen)} of {N} open orders ({asked} IDs sent, ideal {ideal}),"
              f" {cycle_s:.2f}s from first to last call, {len(seen) / max(cycle_s, 0.001):.0f} orders/s",
              flush=True)
        b.result("poll.calls", len(calls))
        b.result("poll.ideal", ideal)
        b.result("poll.asked", len(seen))
        b.result("poll.orders", N)
        b.result("poll.cycle_s", f"{cycle_s:.2f}")
        b.result("poll.max_ids", max(len(c["ids"]) for c in calls))
    finally:
        b.cleanup(tmp, fp, pm)


if __name__ == "__main__":
    sys.exit(main())
