#!/usr/bin/env python3
"""Rows "add orders/s, 2 instances on PostgreSQL" and "balance req/s,
2 instances on PostgreSQL", each against one instance on SQLite measured in
the same run.  No target: the ratio is information.

A throw-away PostgreSQL cluster (tests/pg.sh, durable: fsync=on,
synchronous_commit=on) in the scenario's temp dir on a free port, pinned to
the server core; a fake panel (--progress manual) beside wrk on the client
core, as in bench_add.sh.

 (a) One panelmuxd on SQLite (server core): wrk with add.lua on
     BENCH_CONNS (64) connections, then wrk with request.lua (form POST
     key=..&action=balance) on BENCH_CONNS connections.
 (b) Two panelmuxd instances (each its own port, both on the server core,
     beside PostgreSQL) on one PostgreSQL database; the customer is made and
     funded with the CLI.  Two wrk processes at the same time, one per
     instance, BENCH_CONNS/2 connections each, the same duration; the figure
     is the sum of their req/s.  The same two measurements.

Each measurement: BENCH_WARMUP (2) s of warm-up, then BENCH_SECONDS (10) s.
After the adds the daemons are stopped (SIGTERM drains), the orders of each
store are counted by state (all must be 'active') and `panelmux check` must
exit 0 for both stores; otherwise the scenario fails (after its figures are
recorded).  Results: scaleout.add_pg, scaleout.add_sqlite,
scaleout.balance_pg, scaleout.balance_sqlite, and what they rest on
(per-instance req/s, errors, server CPU per request, states, checks)."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import benchlib as b

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
PG_SH = os.path.join(b.ROOT, "tests", "pg.sh")
DBNAME = "panelmux_bench"
FUND = 1000000


def log(msg):
    print(msg, flush=True)


# --- PostgreSQL -----------------------------------------------------------

def pg(*args, check=True, timeout=120):
    p = subprocess.run(["bash", PG_SH, *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"pg.sh {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def psql(pgdir, port, sql):
    return pg("psql", pgdir, str(port), DBNAME, "-At", "-c", sql).stdout.strip()


def postmaster_pid(pgdir):
    with open(os.path.join(pgdir, "postmaster.pid")) as f:
        return int(f.readline())


# --- panelmuxd ------------------------------------------------------------

def pg_panelmux(tmp, up_port, conninfo):
    """b.Panelmux with its own directory (config, log) and the store on
    PostgreSQL: benchlib's config with `postgres:` in place of `sqlite:`."""
    os.makedirs(tmp, exist_ok=True)
    pm = b.Panelmux(tmp, up_port)
    b.write_config(pm.conf, pm.port, up_port, conninfo)
    with open(pm.conf) as f:
        text = f.read().replace('  sqlite: "', '  postgres: "')
    fd = os.open(pm.conf, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    pm.db = None
    return pm


def cpu_ticks(pids):
    """User + system clock ticks of each of PIDS with its children
    (PostgreSQL's backends are the postmaster's children), a list."""
    each = []
    for top in pids:
        kids, total = [], 0
        for task in os.listdir(f"/proc/{top}/task"):
            try:
                with open(f"/proc/{top}/task/{task}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
        for pid in [top, *kids]:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        each.append(total)
    return each


# --- wrk ------------------------------------------------------------------

def wrk_once(name, conns, seconds, port, script, env, out):
    """One wrk on the client core; its report goes to the log (prefixed),
    its WRK_* figures into OUT[name]."""
    e = dict(os.environ, BENCH_DIR=b.HERE, **env)
    p = subprocess.run(b.pinned(b.CLIENT_CPU, ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                                              "--timeout", "10s", "--latency", "-s",
                                              os.path.join(b.HERE, script),
                                              f"http://127.0.0.1:{port}/api/v2"]),
                       capture_output=True, text=True, env=e, timeout=seconds + 60)
    figures = {}
    lines = []
    for line in p.stdout.splitlines():
        if line.startswith("WRK "):
            k, v = line[4:].split("=", 1)
            figures[k] = float(v)
        else:
            lines.append(f"  [{name}] {line}")
    out[name] = (p.returncode, figures, "\n".join(lines), p.stderr.strip())


def load(label, targets, script, server_pids):
    """wrk against each (name, port, env) of TARGETS at the same time, the
    connections split evenly; a warm-up, then the measured run.  Returns
    (sum of req/s, errors, server CPU us per request, per-target figures)."""
    conns = max(1, CONNS // len(targets))

    def together(seconds, suffix):
        out = {}
        threads = [threading.Thread(target=wrk_once,
                                    args=(name, conns, seconds, port, script,
                                          dict(env, BENCH_TAG=f"{label}-{name}{suffix}"), out))
                   for name, port, env in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    together(WARMUP, "-warm")
    t0 = cpu_ticks(server_pids)
    out = together(SECONDS, "")
    t1 = cpu_ticks(server_pids)
    rps = errors = requests = 0
    per = []
    for name, _, _ in targets:
        rc, w, report, err = out[name]
        log(report)
        if rc != 0 or "WRK_RPS" not in w:
            raise RuntimeError(f"wrk {label} {name} failed (exit {rc}): {err}")
        rps += w["WRK_RPS"]
        errors += int(w["WRK_ERRORS"])
        requests += w["WRK_REQUESTS"]
        per.append(f"{w['WRK_RPS']:.1f}")
        log(f"  [{label} {name}] {w['WRK_RPS']:.1f} req/s on {conns} connections,"
            f" p50 {w['WRK_P50_MS']:.3f} ms, p99 {w['WRK_P99_MS']:.3f} ms,"
            f" errors {int(w['WRK_ERRORS'])}")
    us = [(b1 - b0) / os.sysconf("SC_CLK_TCK") * 1e6 / max(requests, 1) for b0, b1 in zip(t0, t1)]
    cpu_us = sum(us)
    log(f"  [{label}] total {rps:.1f} req/s, errors {errors},"
        f" server CPU {cpu_us:.1f} us/request"
        f" ({' + '.join(f'{x:.1f}' for x in us)}: pid {', '.join(map(str, server_pids))})")
    return rps, errors, cpu_us, "+".join(per)


def probe(port, **fields):
    reply = b.api(port, **fields)
    log(f"probe {fields['action']} on :{port}: {reply}")
    return reply


def record(prefix, rps, errors, cpu_us, per):
    b.result(f"scaleout.{prefix}", f"{rps:.1f}")
    b.result(f"scaleout.{prefix}_errors", errors)
    b.result(f"scaleout.{prefix}_cpu_us", f"{cpu_us:.1f}")
    b.result(f"scaleout.{prefix}_per", per)


def check(pm, label, failures):
    p = subprocess.run([b.bin_path("panelmux"), "-c", pm.conf, "check"],
                       capture_output=True, text=True, timeout=300)
    log(f"panelmux check ({label}): exit {p.returncode}: {(p.stdout + p.stderr).strip()}")
    b.result(f"scaleout.{label}_check", "ok" if p.returncode == 0 else f"exit-{p.returncode}")
    if p.returncode != 0:
        failures.append(f"panelmux check on {label} exited {p.returncode}")


def states_ok(label, rows, failures):
    """ROWS: [(state, count)].  After the drain every add must be 'active'."""
    text = ",".join(f"{s}={n}" for s, n in rows) or "none"
    log(f"orders by state ({label}): {text}")
    b.result(f"scaleout.{label}_states", text)
    bad = [s for s, n in rows if s != "active" and int(n) > 0]
    if bad or not rows:
        failures.append(f"{label} orders not all active: {text}")


def main():
    tmp = tempfile.mkdtemp(prefix="pmx-bench-scaleout.")
    os.chmod(tmp, 0o711)  # PostgreSQL runs as the postgres user when we are root
    pgdir = os.path.join(tmp, "pg")
    pg_started = False
    fp = sq = None
    pms = []
    failures = []
    try:
        b.result("scaleout.conns", CONNS)
        fp = b.FakePanel(tmp, services=20)  # on the client core, beside wrk

        # (a) one instance on SQLite.
        sq = b.Panelmux(tmp, fp.port)
        key = sq.customer("bench", FUND)
        sq.start()
        probe(sq.port, key=key, action="add", service=1,
              link="https://bench.example/probe", quantity=100)
        add_env = {"BENCH_KEY": key}
        bal_env = {"BENCH_BODY": f"key={key}&action=balance", "BENCH_METHOD": "POST"}
        record("add_sqlite", *load("add-sqlite", [("sqlite", sq.port, add_env)],
                                   "add.lua", [sq.proc.pid]))
        probe(sq.port, key=key, action="balance")
        record("balance_sqlite", *load("balance-sqlite", [("sqlite", sq.port, bal_env)],
                                       "request.lua", [sq.proc.pid]))
        sq.stop()
        con = sqlite3.connect(sq.db, timeout=30)
        rows = con.execute("SELECT state, COUNT(*) FROM orders GROUP BY state"
                           " ORDER BY state").fetchall()
        con.close()
        states_ok("sqlite", rows, failures)
        check(sq, "sqlite", failures)

        # (b) two instances on one PostgreSQL database, durable.
        pg_port = b.free_port()
        t0 = time.monotonic()
        pg_started = True  # from here on, stop whatever pg.sh may have started
        p = subprocess.run(b.pinned(b.SERVER_CPU, ["bash", PG_SH, "start", pgdir, str(pg_port),
                                                   "-c", "fsync=on", "-c", "synchronous_commit=on"]),
                           capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            raise RuntimeError(f"pg.sh start: exit {p.returncode}: {p.stderr.strip()}")
        conninfo = pg("createdb", pgdir, str(pg_port), DBNAME).stdout.strip()
        settings = psql(pgdir, pg_port, "SELECT 'PostgreSQL ' || split_part("
                        "current_setting('server_version'), ' ', 1) || ' fsync='"
                        " || current_setting('fsync') || ' synchronous_commit='"
                        " || current_setting('synchronous_commit') || ' wal_sync_method='"
                        " || current_setting('wal_sync_method')")
        pmaster = postmaster_pid(pgdir)
        affinity = subprocess.run(["taskset", "-p", "-c", str(pmaster)], capture_output=True,
                                  text=True).stdout.strip()
        log(f"{settings} on port {pg_port}, started in {time.monotonic() - t0:.1f}s;"
            f" postmaster {affinity}")
        b.result("scaleout.pg_settings", settings)

        pms = [pg_panelmux(os.path.join(tmp, f"pg{i}"), fp.port, conninfo) for i in (1, 2)]
        key = pms[0].customer("bench", FUND)
        for pm in pms:
            pm.start()
        for pm in pms:
            probe(pm.port, key=key, action="add", service=1,
                  link=f"https://bench.example/probe{pm.port}", quantity=100)
        add_env = {"BENCH_KEY": key}
        bal_env = {"BENCH_BODY": f"key={key}&action=balance", "BENCH_METHOD": "POST"}
        servers = [pm.proc.pid for pm in pms] + [pmaster]
        record("add_pg", *load("add-pg", [(f"pg{i + 1}", pm.port, add_env)
                                          for i, pm in enumerate(pms)], "add.lua", servers))
        for pm in pms:
            probe(pm.port, key=key, action="balance")
        record("balance_pg", *load("balance-pg", [(f"pg{i + 1}", pm.port, bal_env)
                                                  for i, pm in enumerate(pms)],
                                   "request.lua", servers))
        for pm in pms:
            pm.stop()
        out = psql(pgdir, pg_port, "SELECT state, count(*) FROM orders GROUP BY state ORDER BY state")
        states_ok("pg", [tuple(line.split("|")) for line in out.splitlines() if line], failures)
        check(pms[0], "pg", failures)
        for pm in [sq, *pms]:
            with open(os.path.join(pm.tmp, "panelmuxd.log")) as f:
                text = f.read().strip()
            if text:
                log(f"panelmuxd {os.path.basename(pm.tmp)} ({pm.conf}) log (last lines):\n"
                    + "\n".join(text.splitlines()[-10:]))
            if "not durable" in text:
                failures.append(f"{pm.conf}: the store says its commits are not durable")
        if failures:
            raise SystemExit("scaleout: " + "; ".join(failures))
    finally:
        # the daemons before their database; the directory after both
        for pm in [*pms, sq]:
            if pm is not None and pm.proc is not None:
                pm.stop()
        if pg_started:
            if pg("stop", pgdir, "fast", check=False).returncode != 0:
                pg("stop", pgdir, "immediate", check=False)
        b.cleanup(tmp, fp)


if __name__ == "__main__":
    sys.exit(main())
