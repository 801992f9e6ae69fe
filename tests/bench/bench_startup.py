#!/usr/bin/env python3
"""Rows "RSS of panelmuxd with 1,000,000 orders and 10,000 services in the
store" and "start-up to READY with that store".

The fake panel lists 10,000 services; `panelmux services sync` stores them.
SQL adds 1,000,000 orders (with their charges, one deposit per customer)
over 100 customers: 99% completed, 1% active.  panelmuxd is started
BENCH_STARTS (3) times with NOTIFY_SOCKET pointing at a datagram socket
this script reads: start-up = from just before exec to "READY=1".  On the
last start: VmRSS/VmHWM once the start-up sync with the fake panel is done,
then again after BENCH_SECONDS of wrk asking for the services list on 64
connections.  `panelmux check` runs on the filled store first (BENCH_CHECK=0
skips it).  Results: startup.s (median), startup.max_s, rss.*_kib."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib as b

ORDERS = int(os.environ.get("BENCH_STORE_ORDERS", "1000000"))
CUSTOMERS = 100
SERVICES = 10000
STARTS = int(os.environ.get("BENCH_STARTS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))


def wait_synced(fp, before, timeout=60):
    """The daemon's start-up sync (services, then balance) reached the fake panel."""
    deadline = time.monotonic() + timeout
    while fp.stats()["actions"]["balance"] <= before:
        if time.monotonic() > deadline:
            raise RuntimeError("no start-up sync")
        time.sleep(0.1)


def rss(pid):
    return {f: b.proc_status_kib(pid, f) for f in ("VmRSS", "VmHWM")}


def main():
    tmp = tempfile.mkdtemp(prefix="pmx-bench-startup.")
    fp = pm = None
    try:
        fp = b.FakePanel(tmp, services=SERVICES)
        pm = b.Panelmux(tmp, fp.port, poll="60s")
        key = pm.customer("c0")
        for i in range(1, CUSTOMERS):
            pm.customer(f"c{i}")
        pm.cli("services", "sync")
        t0 = time.monotonic()
        ids = [b.customer_id(pm.db, f"c{i}") for i in range(CUSTOMERS)]
        b.insert_orders(pm.db, ids, ORDERS // CUSTOMERS, "completed", 0, 1, active_every=100)
        size = os.path.getsize(pm.db) / 2**20
        print(f"store: {ORDERS} orders (1% active), {SERVICES} services, {size:.0f} MiB,"
              f" filled in {time.monotonic() - t0:.1f}s", flush=True)
        if os.environ.get("BENCH_CHECK", "1") != "0":  # the SQL-made store is consistent
            t0 = time.monotonic()
            print(pm.cli("check").strip(), f"({time.monotonic() - t0:.1f}s)", flush=True)

        times = []
        for i in range(STARTS):
            syncs = fp.stats()["actions"]["balance"]
            times.append(b.start_until_ready(pm, os.path.join(tmp, "notify.sock")))
            print(f"start {i + 1}: READY=1 after {times[-1] * 1000:.0f} ms", flush=True)
            wait_synced(fp, syncs)
            if i < STARTS - 1:
                pm.stop()
        b.result("startup.s", f"{statistics.median(times):.3f}")
        b.result("startup.max_s", f"{max(times):.3f}")

        pid = pm.proc.pid  # taskset exec()s panelmuxd: the same PID
        time.sleep(0.5)
        r0 = rss(pid)
        print(f"after start-up and sync: VmRSS {r0['VmRSS']} KiB, VmHWM {r0['VmHWM']} KiB", flush=True)
        w = b.wrk(64, SECONDS, f"http://127.0.0.1:{pm.port}/api/v2", "request.lua",
                  BENCH_BODY=f"key={key}&action=services", BENCH_METHOD="POST")
        r1 = rss(pid)
        print(f"after {w['WRK_REQUESTS']:.0f} services requests ({w['WRK_MBPS']:.0f} MB/s):"
              f" VmRSS {r1['VmRSS']} KiB, VmHWM {r1['VmHWM']} KiB", flush=True)
        b.result("rss.start_kib", r0["VmRSS"])
        b.result("rss.load_kib", r1["VmRSS"])
        b.result("rss.hwm_kib", r1["VmHWM"])
    finally:
        b.cleanup(tmp, fp, pm)


if __name__ == "__main__":
    sys.exit(main())
