#!/usr/bin/env python3
"""Row "upstream calls caused by 1,000 concurrent customer multi-status
requests of fresh orders".

1,000 customers (`panelmux customer add`), each with 3 active orders polled
just now (SQL: polled_at = now in ms, with their charges and a deposit);
poll_interval 10m, so every copy is fresh.  BENCH_FRESH_WAVES (3) waves of
1,000 requests, one per customer on its own connection, all released at
once; each asks `status` of its 3 orders.  The fake panel's status counter
must not move.  Results: fresh.upstream_calls, fresh.requests, fresh.wave_s."""
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib as b

CUSTOMERS = int(os.environ.get("BENCH_FRESH_CUSTOMERS", "1000"))
PER = 3
WAVES = int(os.environ.get("BENCH_FRESH_WAVES", "3"))


def wave(port, asks):
    """One request per (key, ids) in ASKS, each on its own connection, all
    connected first and then sent together.  Returns the replies."""
    barrier = threading.Barrier(len(asks))
    replies = [None] * len(asks)

    def one(i):
        key, ids = asks[i]
        body = f"key={key}&action=status&orders={','.join(map(str, ids))}"
        conn = b.http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=60)
            conn.request("POST", "/api/v2", body,
                         {"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            replies[i] = (r.status, b.json.loads(r.read()))
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return replies


def main():
    threading.stack_size(256 * 1024)
    tmp = tempfile.mkdtemp(prefix="pmx-bench-fresh.")
    fp = pm = None
    try:
        fp = b.FakePanel(tmp, services=20)
        pm = b.Panelmux(tmp, fp.port, poll="10m")
        t0 = time.monotonic()
        names = [f"c{i}" for i in range(CUSTOMERS)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            keys = list(pool.map(pm.customer, names))
        ids = [b.customer_id(pm.db, n) for n in names]
        orders = b.insert_orders(pm.db, ids, PER, "active", int(time.time() * 1000), 1)
        asks = [(k, orders[cid]) for k, cid in zip(keys, ids)]
        print(f"{CUSTOMERS} customers with {PER} fresh orders each in {time.monotonic() - t0:.1f}s",
              flush=True)
        pm.start()

        before = fp.status_calls()
        t0 = time.monotonic()
        for w in range(WAVES):
            replies = wave(pm.port, asks)
            for (status, body), (key, oids) in zip(replies, asks):
                assert status == 200, status
                assert sorted(body) == sorted(map(str, oids)), body
                assert all(v.get("status") == "Pending" for v in body.values()), body
        wave_s = (time.monotonic() - t0) / WAVES
        after = fp.status_calls()
        print(f"{WAVES} waves of {CUSTOMERS} concurrent status requests, {wave_s:.2f}s a wave;"
              f" upstream status calls: {after - before}", flush=True)
        b.result("fresh.upstream_calls", after - before)
        b.result("fresh.requests", WAVES * CUSTOMERS)
        b.result("fresh.wave_s", f"{wave_s:.2f}")
    finally:
        b.cleanup(tmp, fp, pm)


if __name__ == "__main__":
    sys.exit(main())
