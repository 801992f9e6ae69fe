#!/usr/bin/env python3
"""Print run.sh's table from the scenarios' results (KEY<TAB>VALUE lines).

usage: table.py RESULTS_FILE [NOTE ...]"""
import math
import sys


def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                r[k] = v
    return r


def num(r, key):
    try:
        return float(r[key])
    except (KeyError, ValueError):
        return None


def fmt(x, unit="", digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}{unit}"


def ratio_row(r, key, label, unit, digits, target, need):
    """panelmux vs anchor, PASS when panelmux >= NEED x anchor."""
    p, a = num(r, key + ".pmx"), num(r, key + ".anchor")
    ratio = p / a if p is not None and a else None
    verdict = "NO DATA" if ratio is None else ("PASS" if ratio >= need else "MISS")
    return [label, fmt(p, unit, digits), fmt(a, unit, digits),
            "n/a" if ratio is None else f"{ratio:.3f} x", target, verdict]


def scale_rows(r):
    """bench_scale.py: ten million orders (issue 21)."""
    out = []
    if "scale.orders" not in r and "scale.startup_s" not in r:
        return out
    n = num(r, "scale.orders") or 10_000_000
    what = f"{n:,.0f} orders"
    s, a = num(r, "scale.startup_s"), num(r, "scale.startup_empty_s")
    out.append([f"start-up to READY, {what} (SQLite)", fmt(s, " s", 3),
                f"{fmt(a, ' s', 3)} (same daemon, store without orders)",
                "n/a" if s is None or not a else f"{s / a:.2f} x", "<= 2 s",
                "NO DATA" if s is None else ("PASS" if s <= 2 else "MISS")])
    empty = num(r, "scale.hwm_empty_kib")
    for key, when in (("hwm_start_kib", "after start-up"), ("hwm_poll_kib", "through a poll cycle")):
        k = num(r, f"scale.{key}")
        mib = k / 1024 if k is not None else None
        out.append([f"RSS of panelmuxd (VmHWM) {when}, {what}", fmt(mib, " MiB", 1),
                    f"{fmt(empty / 1024 if empty else None, ' MiB', 1)} (store without orders)",
                    "n/a" if k is None or not empty else f"{k / empty:.2f} x", "<= 128 MiB",
                    "NO DATA" if mib is None else ("PASS" if mib <= 128 else "MISS")])
    c = num(r, "scale.check_s")
    out.append([f"`panelmux check` of that store", fmt(c, " s", 1), "-", "-", "-",
                "NO DATA" if c is None else "info"])
    calls, ideal = r.get("scale.calls"), num(r, "scale.calls_ideal")
    per = num(r, "scale.per_up")
    ok = None
    if calls and ideal:
        got = [int(x) for x in calls.split(",")]
        ok = all(g == ideal for g in got) and r.get("scale.cycle_done") == "1"
    out.append([f"upstream status calls of one poll cycle, per upstream ({fmt(per)} open orders each)",
                (calls or "n/a").replace(",", " / ") + ("" if r.get("scale.cycle_done", "1") == "1"
                                                       else " (cycle INCOMPLETE)"),
                f"{fmt(ideal)} = ceil(n/100)", "-", "exactly ceil(n/100) each",
                "NO DATA" if ok is None else ("PASS" if ok else "MISS")])
    cy = num(r, "scale.cycle_s")
    out.append(["that poll cycle's duration (first to last status call, 5 upstreams)", fmt(cy, " s", 1),
                "-", "-", "-", "NO DATA" if cy is None else "info"])
    for k, label in (("add", "add"), ("status", "status of 100 orders")):
        p, a = num(r, f"scale.{k}_busy_p99"), num(r, f"scale.{k}_idle_p99")
        over = p - a if p is not None and a is not None else None
        out.append([f"{label} latency p99 while the poll cycle runs (ms)", fmt(p, "", 2),
                    f"{fmt(a, '', 2)} (the same, poller idle, same daemon and store)",
                    "n/a" if over is None else f"p99 {over:+.2f} ms", "p99 overhead <= 5 ms",
                    "NO DATA" if over is None else ("PASS" if over <= 5 else "MISS")])
    return out


def rows(r):
    out = [
        ratio_row(r, "balance", "balance req/s (wrk, 64 connections, keep-alive, form POST)",
                  "", 0, ">= 0.5 x nginx `return 200` (same body)", 0.5),
        ratio_row(r, "status", "status of 100 IDs req/s (orders fresh in the store)",
                  "", 0, ">= 0.2 x nginx `return 200` (same body)", 0.2),
        ratio_row(r, "services", "services with 10,000 services, MB/s",
                  "", 1, ">= 0.5 x nginx static file (same bytes)", 0.5),
    ]

    # Adds: the target's anchor is the fake panel called the way panelmux
    # must call it, a fresh connection per add (SPEC section 5); the
    # kept-alive anchor stays beside it, without a target (README).
    p, a = num(r, "add.pmx"), num(r, "add.anchor_fresh")
    ratio = p / a if p is not None and a else None
    ok = ratio is not None and p >= 2000 and ratio >= 0.3
    out.append(["add orders/s, durable, against the fake panel called with a fresh connection"
                " per add (as panelmux calls an upstream)", fmt(p), fmt(a),
                "n/a" if ratio is None else f"{ratio:.3f} x",
                ">= 2,000/s and >= 0.3 x the fake panel direct, fresh connections",
                "NO DATA" if ratio is None else ("PASS" if ok else "MISS")])
    a = num(r, "add.anchor")
    ratio = p / a if p is not None and a else None
    out.append(["add orders/s, the same, against the fake panel on kept-alive connections",
                fmt(p), fmt(a), "n/a" if ratio is None else f"{ratio:.3f} x", "-",
                "NO DATA" if ratio is None else "info"])

    p50, p99 = num(r, "add.pmx_p50"), num(r, "add.pmx_p99")
    a50, a99 = num(r, "add.anchor_p50"), num(r, "add.anchor_p99")
    over = p99 - a99 if p99 is not None and a99 is not None else None
    out.append(["add latency p50 / p99 through panelmux (ms)",
                f"{fmt(p50, '', 2)} / {fmt(p99, '', 2)}", f"{fmt(a50, '', 2)} / {fmt(a99, '', 2)}",
                "n/a" if over is None else f"p99 +{over:.2f} ms",
                "p99 overhead <= 5 ms",
                "NO DATA" if over is None else ("PASS" if over <= 5 else "MISS")])

    calls, ideal = num(r, "poll.calls"), num(r, "poll.ideal")
    ratio = calls / ideal if calls is not None and ideal else None
    asked, n = num(r, "poll.asked"), num(r, "poll.orders")
    partial = ""
    if asked is not None and n and asked < n:
        partial = f" (cycle incomplete: {asked:,.0f} of {n:,.0f} orders asked in {r.get('poll.cycle_s')} s)"
    out.append(["upstream status calls per poll cycle, 100,000 open orders",
                fmt(calls) + partial, f"{fmt(ideal)} = ceil(n/100)",
                "n/a" if ratio is None else f"{ratio:.3f} x", "<= 1.02 x ceil(n/100)",
                "NO DATA" if ratio is None else ("PASS" if ratio <= 1.02 else "MISS")])

    fresh = num(r, "fresh.upstream_calls")
    out.append(["upstream calls caused by 1,000 concurrent customer multi-status requests of fresh orders",
                fmt(fresh), "0", "-", "0",
                "NO DATA" if fresh is None else ("PASS" if fresh == 0 else "MISS")])

    hwm = num(r, "rss.hwm_kib")
    mib = hwm / 1024 if hwm is not None else None
    out.append(["RSS of panelmuxd with 1,000,000 orders and 10,000 services in the store (VmHWM)",
                fmt(mib, " MiB", 1), "-", "-", "<= 64 MiB",
                "NO DATA" if mib is None else ("PASS" if mib <= 64 else "MISS")])

    s = num(r, "startup.s")
    out.append(["start-up to READY with that store (median)", fmt(s, " s", 3), "-", "-", "<= 1 s",
                "NO DATA" if s is None else ("PASS" if s <= 1 else "MISS")])

    # The console (bench_console.py): no target in the issue; the anchor is
    # the same page from a store without orders.
    for key, label in (("overview", "console: time to first render of the overview, 1,000,000 orders"),
                       ("search", "console: time to first render of an orders search (customer + state),"
                                  " 1,000,000 orders")):
        p, a = num(r, f"console.{key}_ms"), num(r, f"console.{key}_empty_ms")
        out.append([label, fmt(p, " ms"), f"{fmt(a, ' ms')} (the same page, no orders)",
                    "n/a" if p is None or not a else f"{p / a:.2f} x", "-",
                    "NO DATA" if p is None else "info"])
    # services match (bench_match.py): seconds, lower is better.
    p, a = num(r, "match.pmx_s"), num(r, "match.anchor_s")
    out.append(["services match, 3 upstreams x 5,000 services (s, whole CLI run, --format yaml)",
                fmt(p, " s", 3), f"{fmt(a, ' s', 3)} (`services list` of the same 15,000)",
                "n/a" if p is None or not a else f"{p / a:.3f} x", "< 2 s",
                "NO DATA" if p is None else ("PASS" if p < 2 else "MISS")])

    # Scale-out (bench_scaleout.py): issue 21's targets for PostgreSQL.
    conns = int(num(r, "scaleout.conns") or 64)
    for key, label in (("add", f"add orders/s, 2 instances on PostgreSQL (durable; 2 wrk x {conns // 2} connections)"),
                       ("balance", f"balance req/s, 2 instances on PostgreSQL (2 wrk x {conns // 2} connections)")):
        p, a = num(r, f"scaleout.{key}_pg"), num(r, f"scaleout.{key}_sqlite")
        ratio = p / a if p is not None and a else None
        out.append([label, fmt(p), f"{fmt(a)} (1 instance on SQLite, {conns} connections)",
                    "n/a" if ratio is None else f"{ratio:.3f} x", ">= 0.5 x the SQLite instance",
                    "NO DATA" if ratio is None else ("PASS" if ratio >= 0.5 else "MISS")])
    p, a = num(r, "scaleout.add_pg_cpu_us"), num(r, "scaleout.add_sqlite_cpu_us")
    out.append(["server CPU per add on PostgreSQL (2 instances and the server, us)", fmt(p, " us"),
                f"{fmt(a, ' us')} (the SQLite instance)",
                "n/a" if p is None or not a else f"{p / a:.2f} x", "<= 500 us",
                "NO DATA" if p is None else ("PASS" if p <= 500 else "MISS")])

    # Admin API (bench_admin.py).
    conns = int(num(r, "admin.conns") or 8)
    p, a = num(r, "admin.pay_pmx"), num(r, "admin.fsync_anchor")
    ratio = p / a if p is not None and a else None
    out.append([f"admin payments/add per second, durable (SQLite, synchronous=FULL; wrk, {conns} connections,"
                f" JSON, a distinct external_id each)", fmt(p, "/s"),
                f"{fmt(a, '/s')} durable commits (Python sqlite3, 1 writer, WAL + synchronous=FULL,"
                f" one INSERT each, same directory)",
                "n/a" if ratio is None else f"{ratio:.3f} x", "-",
                "NO DATA" if ratio is None else "info"])
    for key, what in (("page", "no filter"), ("pagef", "user + order_status")):
        p, a = num(r, f"admin.{key}_pmx"), num(r, f"admin.{key}_anchor")
        p99, a99 = num(r, f"admin.{key}_pmx_p99"), num(r, f"admin.{key}_anchor_p99")
        size = num(r, f"admin.{key}_bytes")
        ratio = p / a if p is not None and a else None
        out.append([f"admin orders page of 100 over 100,000 orders, {what}, every page (wrk, {conns} connections):"
                    f" req/s, p99", f"{fmt(p)} req/s, p99 {fmt(p99, ' ms', 2)}",
                    f"{fmt(a)} req/s, p99 {fmt(a99, ' ms', 2)} (nginx `return 200`, same {fmt(size)} bytes)",
                    "n/a" if ratio is None else f"{ratio:.3f} x", "p99 <= 50 ms",
                    "NO DATA" if p99 is None else ("PASS" if p99 <= 50 else "MISS")])

    out.extend(scale_rows(r))

    # Webhooks (bench_webhooks.py): no target in the issue.
    n, e = num(r, "hooks.deliver_n"), num(r, "hooks.deliver_endpoints")
    for key, where in (("deliver", f"over {fmt(e)} endpoints"), ("deliver1", "to one endpoint")):
        p, got = num(r, f"hooks.{key}_rps"), num(r, f"hooks.{key}_got")
        part = "" if got is None or n is None or got >= n else f" ({fmt(got)} of them in the window)"
        out.append([f"webhook deliveries/s to a loopback receiver (nginx `return 200`), {fmt(n)} events due"
                    f" {where}{part}", fmt(p, "/s", 1), "-", "-", "-", "NO DATA" if p is None else "info"])
    conns = int(num(r, "hooks.conns") or 64)
    for key, label in (("balance", "balance req/s"), ("add", "add orders/s, durable")):
        p, a = num(r, f"hooks.{key}_on"), num(r, f"hooks.{key}_off")
        ratio = p / a if p is not None and a else None
        out.append([f"{label} with webhooks on, every customer with an endpoint ({conns} connections)",
                    fmt(p), f"{fmt(a)} (webhooks off, same run)",
                    "n/a" if ratio is None else f"{ratio:.3f} x", "-",
                    "NO DATA" if ratio is None else "info"])
    out += wan_rows(r)
    return out


def wan_rows(r):
    """bench_wan.py: each figure beside the protocol bound (A) and the
    one-order-at-a-time anchor (B) measured on the same simulated WAN."""
    out = []
    if "wan.rtts" not in r and "wan.50.add_rate" not in r:
        return out
    k = int(num(r, "wan.k") or 3)
    wc, rc = int(num(r, "wan.write_conns") or 32), int(num(r, "wan.read_conns") or 16)
    rtts = (r.get("wan.rtts") or "50 150").split()
    for rtt in rtts:
        p = f"wan.{rtt}"
        one, one_ms = num(r, f"{p}.one_rate"), num(r, f"{p}.one_p50")
        bound = num(r, f"{p}.add_bound")
        tag = f"WAN {rtt} ms RTT, TLS 1.3"
        # (a) adds/s
        x = num(r, f"{p}.add_rate")
        rb = x / bound if x is not None and bound else None
        ro = x / one if x is not None and one else None
        ok = rb is not None and ro is not None and rb >= 0.9 and ro >= 20
        out.append([f"{tag}: adds forwarded/s to one upstream (max_write_connections {wc}, a fresh"
                    f" connection each, {r.get(p + '.states', '')})", fmt(x, "/s", 1),
                    f"{fmt(one, '/s', 2)} one at a time; bound {fmt(bound, '/s', 1)} = {wc} / ({k} x RTT)",
                    "n/a" if rb is None else f"{rb:.3f} x bound, {ro:.1f} x one at a time",
                    ">= 0.9 x bound and >= 20 x one at a time",
                    "NO DATA" if rb is None else ("PASS" if ok else "MISS")])
        # burst drain
        x = num(r, f"{p}.burst_s")
        n = 1000
        tb = n / bound if bound else None
        to = n / one if one else None
        rb = tb / x if x and tb else None
        ro = to / x if x and to else None
        ok = rb is not None and ro is not None and rb >= 0.9 and ro >= 20
        out.append([f"{tag}: time to drain a burst of 1,000 adds", fmt(x, " s", 2),
                    f"{fmt(to, ' s', 0)} one at a time (1,000 / its rate); bound {fmt(tb, ' s', 2)}",
                    "n/a" if rb is None else f"{rb:.3f} x bound, {ro:.1f} x one at a time",
                    ">= 0.9 x bound and >= 20 x one at a time",
                    "NO DATA" if rb is None else ("PASS" if ok else "MISS")])
        for pre, lab, verdict_kind in (("", "http2 true", "target"), ("h1_", "http2 false", "info")):
            if f"{p}.{pre}poll_s" not in r:
                continue
            x, bs = num(r, f"{p}.{pre}poll_s"), num(r, f"{p}.{pre}poll_bound_s")
            calls, ideal = num(r, f"{p}.{pre}poll_calls"), num(r, f"{p}.{pre}poll_ideal")
            asked, norders = num(r, f"{p}.{pre}poll_asked"), num(r, f"{p}.{pre}poll_orders")
            done = num(r, f"{p}.{pre}poll_done")
            need, rate = num(r, f"{p}.{pre}poll_need"), num(r, f"{p}.{pre}poll_rate")
            inc = ""
            if not done and num(r, f"{p}.{pre}poll_projected_s") is not None:
                inc = (f" (INCOMPLETE: {fmt(asked)} of {fmt(need)} orders in {fmt(x, ' s', 1)},"
                       f" {fmt(rate)} orders/s; figure = the whole cycle projected)")
                x = num(r, f"{p}.{pre}poll_projected_s")
                ideal = math.ceil(need / 100) if need else ideal
            elif not done:
                inc = " (INCOMPLETE)"
            to = ideal * one_ms / 1000 if ideal and one_ms else None
            # A read's round trip: the path's own, measured (oneatatime
            # --status-ids through the same relay and nginx), else the RTT.
            net = num(r, f"{p}.{pre}net_ms")
            net_lab = (f"the path's round trip ({fmt(net, ' ms', 1)} measured, a kept-alive read"
                       f" straight to the fake panel; RTT {rtt} ms)" if net else "RTT")
            rb = bs / x if x and bs else None
            ok = rb is not None and rb >= 0.9 and calls is not None and calls <= 1.02 * ideal
            out.append([f"{tag}, {lab}: poll cycle of {fmt(norders)} open orders (first to last status call;"
                        f" {fmt(calls)} calls for {fmt(asked)} orders, ceil(n/100) = {fmt(ideal)}){inc}",
                        fmt(x, " s", 2),
                        f"{fmt(to, ' s', 0)} one call at a time on fresh connections (projected from the"
                        f" anchor's latency); bound {fmt(bs, ' s', 2)} = ceil(n/100) x {net_lab} / {rc}",
                        "n/a" if rb is None else f"{rb:.3f} x bound, {to / x:.1f} x one at a time",
                        ">= 0.9 x bound, calls <= 1.02 x ceil(n/100)" if verdict_kind == "target" else "-",
                        "NO DATA" if rb is None else (("PASS" if ok else "MISS") if verdict_kind == "target"
                                                      else "info")])
            for what, kk in (("status", 1), ("refill", k), ("cancel", k)):
                p50, p99 = num(r, f"{p}.{pre}{what}_p50"), num(r, f"{p}.{pre}{what}_p99")
                lb = net if what == "status" and net else kk * int(rtt)
                lb_lab = "the path's round trip" if what == "status" and net else f"{kk} x RTT"
                rb = lb / p50 if p50 else None
                ok = rb is not None and rb >= 0.9
                why = ("stale: one upstream call on a kept-alive connection" if what == "status"
                       else "a fresh connection each")
                out.append([f"{tag}, {lab}: {what} latency for a customer, p50 / p99 ms ({why})",
                            f"{fmt(p50, '', 1)} / {fmt(p99, '', 1)}",
                            f"{fmt(one_ms, ' ms', 1)} one at a time (fresh connection); bound {fmt(lb, ' ms', 1)}"
                            f" = {lb_lab}",
                            "n/a" if rb is None else f"{rb:.3f} x bound",
                            "p50 >= 0.9 x bound (p50 <= bound / 0.9)" if verdict_kind == "target" else "-",
                            "NO DATA" if rb is None else (("PASS" if ok else "MISS") if verdict_kind == "target"
                                                          else "info")])
        if f"{p}.fault_add_rate" in r:
            shares = r.get(f"{p}.fault_shares", "")
            st = r.get(f"{p}.fault_states", "")
            x = num(r, f"{p}.fault_add_rate")
            rb = x / bound if x is not None and bound else None
            out.append([f"{tag}, relay faults ({shares}; {r.get(p + '.fault_relay', '')}): adds forwarded/s"
                        f" ({st})", fmt(x, "/s", 1), f"bound {fmt(bound, '/s', 1)} (no faults)",
                        "n/a" if rb is None else f"{rb:.3f} x bound", "-",
                        "NO DATA" if rb is None else "info"])
            x = num(r, f"{p}.fault_burst_s")
            got = num(r, f"{p}.fault_burst_got")
            twice = "twice=0" in st
            out.append([f"{tag}, relay faults: burst of 1,000 adds drained, each accepted once upstream",
                        fmt(x, " s", 2), f"bound {fmt(n / bound if bound else None, ' s', 2)} (no faults)", "-",
                        "all 1,000 at the fake panel, no link twice",
                        "NO DATA" if got is None else ("PASS" if got >= 1000 and twice else "MISS")])
    return out


def details(r):
    """What each row's figure rests on, for the reader of the table."""
    d = []
    for key in ("balance", "status", "services", "add"):
        errs = [f"{w} {r[f'{key}.{w}_errors']}" for w in ("pmx", "anchor", "anchor_fresh")
                if r.get(f"{key}.{w}_errors", "0") != "0"]
        if errs:
            d.append(f"{key}: wrk counted errors (socket or non-2xx): {', '.join(errs)}")
    cpu = []
    for key in ("balance", "status", "services", "add"):
        p, a = num(r, key + ".pmx_cpu_us"), num(r, key + ".anchor_cpu_us")
        if p is not None and a is not None:
            cpu.append(f"{key} {p:,.1f} vs {a:,.1f}" + (f" ({a / p:.3f} x)" if p > 0 else ""))
    f = num(r, "add.anchor_fresh_cpu_us")
    if f is not None and num(r, "add.pmx_cpu_us"):
        cpu.append(f"add vs the fake panel on a fresh connection per add {f:,.1f}"
                   f" ({f / num(r, 'add.pmx_cpu_us'):.3f} x)")
    if cpu:
        d.append("server CPU per request (user + system, us), panelmux vs anchor (less disturbed"
                 " by other load than req/s): " + "; ".join(cpu))
    if "status.upstream_calls" in r:
        d.append(f"status: upstream status calls during the panelmux run: {r['status.upstream_calls']}")
    if "services.pmx_rps" in r:
        d.append(f"services: {r['services.pmx_rps']} req/s through panelmux,"
                 f" {r.get('services.anchor_rps', 'n/a')} req/s from nginx")
    if "add.pmx64_p99" in r:
        d.append(f"add: at 64 connections panelmux p50 {r['add.pmx64_p50']} ms, p99 {r['add.pmx64_p99']} ms;"
                 f" the latency row is a separate run on fewer connections;"
                 f" store afterwards: {r.get('add.states', 'n/a')}")
    if "poll.cycle_s" in r:
        rate = num(r, "poll.asked") / max(num(r, "poll.cycle_s"), 0.001) if "poll.asked" in r else None
        d.append(f"poll: first cycle: {r['poll.cycle_s']} s from first to last status call"
                 f" ({fmt(rate)} orders/s), at most {r.get('poll.max_ids')} IDs per call")
    if "fresh.wave_s" in r:
        d.append(f"fresh: {r['fresh.requests']} requests in waves of 1,000, {r['fresh.wave_s']} s a wave")
    if "console.overview_complete_ms" in r:
        d.append(f"console: the overview complete (money report and chart filled in)"
                 f" {r['console.overview_complete_ms']} ms with 1,000,000 orders,"
                 f" {r.get('console.overview_complete_empty_ms', 'n/a')} ms without")
    if "wan.k" in r:
        d.append(f"wan: TLS negotiated {r.get('wan.tls')} (curl probe and the anchor), so a fresh"
                 f" connection costs k = {r['wan.k']} round trips (TCP 1 + TLS 1; + the request 1);"
                 f" jitter +-{r.get('wan.jitter_ms')} ms; whole scenario {r.get('wan.total_s', 'n/a')} s;"
                 f" durable SQLite commits in the scenario's temp dir (one writer): {r.get('wan.fsync_ms', 'n/a')} ms"
                 f" each (the daemon commits on its event loop: 3 times per add - the order with its debit, sending, the acceptance - and once per order a status answer applies);"
                 f" panelmuxd CPU per add in the steady runs (us, from /proc): " + ", ".join(
                     f"{x} ms {r[f'wan.{x}.add_cpu_us']}" for x in (r.get('wan.rtts') or '').split()
                     if f"wan.{x}.add_cpu_us" in r) + ";"
                 f" upstream calls in the latency phases: " + "; ".join(
                     f"{x} {r[f'wan.{x}.lat_calls']}" for x in (r.get('wan.rtts') or '').split()
                     if f"wan.{x}.lat_calls" in r))
    if "startup.max_s" in r:
        d.append(f"start-up: slowest of the starts {r['startup.max_s']} s")
    if "rss.start_kib" in r:
        d.append(f"RSS: VmRSS {int(r['rss.start_kib']) / 1024:.1f} MiB after start-up and sync,"
                 f" {int(r['rss.load_kib']) / 1024:.1f} MiB after the services load")
    if "match.json_s" in r:
        d.append(f"match: --format json {r['match.json_s']} s; {r.get('match.groups')} groups from"
                 f" {r.get('match.services')} services, {r.get('match.pairs')} pairs scored")
    if "scaleout.add_pg" in r or "scaleout.add_sqlite" in r:
        g = lambda k: r.get(f"scaleout.{k}", "n/a")
        d.append(f"scale-out: {g('pg_settings')}; PostgreSQL and both instances share the server core,"
                 f" wrk x 2 and the fake panel the client core; req/s per instance:"
                 f" add {g('add_pg_per')}, balance {g('balance_pg_per')}")
        d.append(f"scale-out: server CPU per request (us; PostgreSQL's processes included for the"
                 f" 2 instances): add {g('add_pg_cpu_us')} vs {g('add_sqlite_cpu_us')} on SQLite,"
                 f" balance {g('balance_pg_cpu_us')} vs {g('balance_sqlite_cpu_us')};"
                 f" wrk errors (socket or non-2xx): add {g('add_pg_errors')} / {g('add_sqlite_errors')},"
                 f" balance {g('balance_pg_errors')} / {g('balance_sqlite_errors')}")
        d.append(f"scale-out: orders by state after the adds: PostgreSQL {g('pg_states')},"
                 f" SQLite {g('sqlite_states')}; `panelmux check`: PostgreSQL {g('pg_check')},"
                 f" SQLite {g('sqlite_check')}")
    if "admin.pay_pmx" in r:
        g = lambda k: r.get(f"admin.{k}", "n/a")
        d.append(f"admin payments/add: p50 {g('pay_pmx_p50')} ms, p99 {g('pay_pmx_p99')} ms, server CPU"
                 f" {g('pay_pmx_cpu_us')} us/payment, {g('pay_syncs')} fsync/fdatasync calls per payment"
                 f" (strace -c over 200; the anchor makes 1 per commit),"
                 f" wrk errors (socket or non-2xx) {g('pay_pmx_errors')};"
                 f" {g('pay_check')}; the anchor (1 writer) {g('fsync_anchor_range')} the payments;"
                 f" with {g('conns')} writers on their own connections:"
                 f" {g('fsync_anchor_n')}/s (SQLite {g('fsync_sqlite')})")
    if "admin.page_pmx" in r:
        g = lambda k: r.get(f"admin.{k}", "n/a")
        d.append(f"admin orders page: server CPU per request (us), panelmux vs nginx: no filter"
                 f" {g('page_pmx_cpu_us')} vs {g('page_anchor_cpu_us')}, filtered {g('pagef_pmx_cpu_us')} vs"
                 f" {g('pagef_anchor_cpu_us')}; p50 {g('page_pmx_p50')} / {g('pagef_pmx_p50')} ms;"
                 f" wrk errors {g('page_pmx_errors')} / {g('pagef_pmx_errors')}")
        d.append(f"admin orders page, one connection, median/max ms of 20: {g('probe')}")
    if "scale.fill_s" in r:
        g = lambda k: r.get(f"scale.{k}", "n/a")
        d.append(f"scale: store written in {g('fill_s')} s ({g('db_gib')} GiB); wrk {g('conns')} connections each"
                 f" for add and status at once; req/s idle/polling: add {g('add_idle_rps')}/{g('add_busy_rps')},"
                 f" status {g('status_idle_rps')}/{g('status_busy_rps')}; p50 idle/polling (ms): add"
                 f" {g('add_idle_p50')}/{g('add_busy_p50')}, status {g('status_idle_p50')}/{g('status_busy_p50')};"
                 f" wrk errors polling: add {g('add_busy_errors')}, status {g('status_busy_errors')};"
                 f" the cycle covered {float(g('overlap')) * 100 if g('overlap') != 'n/a' else 0:.0f}% of the"
                 f" polling measurement; open orders asked per upstream {g('asked')}")
    if "hooks.deliver_rps" in r:
        g = lambda k: r.get(f"hooks.{k}", "n/a")
        d.append(f"webhooks: server CPU per delivery {g('deliver_cpu_us')} us ({g('deliver1_cpu_us')} us to one"
                 f" endpoint); per request (us), on vs off: balance {g('balance_on_cpu_us')} vs"
                 f" {g('balance_off_cpu_us')}, add {g('add_on_cpu_us')} vs {g('add_off_cpu_us')} (deliveries"
                 f" included); {g('add_events')}; wrk errors (on/off): balance {g('balance_on_errors')}/"
                 f"{g('balance_off_errors')}, add {g('add_on_errors')}/{g('add_off_errors')}")
    return d


def main():
    r = load(sys.argv[1])
    header = ["row", "panelmux", "anchor (same run)", "ratio", "target", "result"]
    table = rows(r)
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    print()
    for line in details(r) + sys.argv[2:]:
        print(f"- {line}")
    verdicts = [row[-1] for row in table]
    print()
    info = f", {verdicts.count('info')} info (no target)" if "info" in verdicts else ""
    print(f"{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS, {verdicts.count('NO DATA')} NO DATA"
          + info)


if __name__ == "__main__":
    main()
