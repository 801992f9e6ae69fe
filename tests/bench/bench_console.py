#!/usr/bin/env python3
"""Rows "console: time to first render" of the overview and of an orders
search (one customer's completed orders) with 1,000,000 orders in the store,
beside the anchor measured in the same run: the same pages from a store
with no orders (the browser's, the page's and the API's fixed costs).

The store is filled as bench_startup.py fills it (SQL, 100 customers, 99%
completed, 1% active).  Debian's Chromium, headless, through Selenium
(make deps installs them) signs in once, then loads each page BENCH_LOADS
(5) times as a fresh document (the assets from its cache, as an operator's
second visit); the time is from navigation start to the console's
`panelmux:rendered:PATH` performance mark, set once the page's content is
in the document (the overview's money report and chart fill in after it:
`panelmux:complete:PATH`, reported beside).  Results:
console.{overview,search}{,_complete}{,_empty}_ms (medians)."""
import os
import shutil
import statistics
import sys
import tempfile

import benchlib as b

ORDERS = int(os.environ.get("BENCH_STORE_ORDERS", "1000000"))
CUSTOMERS = 100
LOADS = int(os.environ.get("BENCH_LOADS", "5"))
PAGES = (("overview", "/overview", "/overview"),
         ("search", "/orders?user=c5&order_status=completed", "/orders"))


def browser():
    sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-selenium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def mark_ms(d, name, timeout=120):
    """Milliseconds from navigation start to the performance mark NAME."""
    return d.execute_async_script(
        "const [name, limit, done] = arguments;"
        "const t0 = performance.now();"
        "(function poll() {"
        " const m = performance.getEntriesByName(name, 'mark');"
        " if (m.length) return done(m[0].startTime);"
        " if (performance.now() - t0 > limit) return done(null);"
        " setTimeout(poll, 5); })();", name, timeout * 1000)


def measure(d, base, key):
    d.set_script_timeout(180)
    d.get(base + "/#/overview")
    d.execute_script("sessionStorage.setItem('panelmux.operator-key', arguments[0])", key)
    out = {}
    for name, route, path in PAGES:
        times, whole = [], []
        for i in range(LOADS):
            d.get(f"{base}/?load={i}#{route}")
            ms = mark_ms(d, "panelmux:rendered:" + path)
            all_ms = mark_ms(d, "panelmux:complete:" + path)
            if ms is None or all_ms is None:
                raise RuntimeError(f"{name}: no render mark")
            times.append(ms)
            whole.append(all_ms)
        out[name] = statistics.median(times)
        out[name + "_complete"] = statistics.median(whole)
        print(f"  {name}: first render {', '.join(f'{t:.0f}' for t in times)} ms;"
              f" complete {', '.join(f'{t:.0f}' for t in whole)} ms", flush=True)
    return out


def daemon(tmp, fp, orders):
    os.makedirs(tmp)
    pm = b.Panelmux(tmp, fp.port, poll="60s")
    admin = b.free_port()
    with open(pm.conf) as f:
        text = f.read().replace('admin: ""', f'admin: "127.0.0.1:{admin}"')
    with open(pm.conf, "w") as f:
        f.write(text)
    for i in range(CUSTOMERS):
        pm.customer(f"c{i}")
    if orders:
        ids = [b.customer_id(pm.db, f"c{i}") for i in range(CUSTOMERS)]
        b.insert_orders(pm.db, ids, orders // CUSTOMERS, "completed", 0, 1, active_every=100)
    key = pm.cli("admin", "key", "add", "bench").strip()
    pm.start()
    return pm, f"http://127.0.0.1:{admin}", key


def main():
    tmp = tempfile.mkdtemp(prefix="pmx-bench-console.")
    fp = full = empty = d = None
    try:
        fp = b.FakePanel(tmp, services=20)
        d = browser()
        empty, base, key = daemon(os.path.join(tmp, "empty"), fp, 0)
        print("empty store (anchor):", flush=True)
        anchor = measure(d, base, key)
        empty.stop()
        full, base, key = daemon(os.path.join(tmp, "full"), fp, ORDERS)
        print(f"{ORDERS} orders:", flush=True)
        got = measure(d, base, key)
        for name in sorted(got):
            b.result(f"console.{name}_ms", f"{got[name]:.0f}")
            b.result(f"console.{name}_empty_ms", f"{anchor[name]:.0f}")
    finally:
        if d is not None:
            d.quit()
        for pm in (empty, full):
            if pm is not None and pm.proc is not None:
                pm.stop()
        if fp is not None:
            fp.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
