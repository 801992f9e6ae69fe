"""Scale-out on PostgreSQL: several panelmuxd instances on one database and
the same upstream.  Under concurrent customer load spread over the
instances, with instances killed (SIGKILL) and restarted and PostgreSQL
itself stopped (immediate) and restarted, no acknowledged order is lost, no
order reaches the upstream twice, the money adds up (`panelmux check`), and
each open order is polled by one instance per cycle.  Also: adds racing on
one balance through two instances never overspend it.

Runs only with PMX_STORE=postgres; the chaos test also needs PMX_PG_DIR and
PMX_PG_PORT (tests/run.sh exports them) to stop and restart the cluster, and
runs alone (harness.exclusive) since every test shares that cluster."""
import json
import math
import os
import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import harness
from harness import FakePanel, Panelmux, wait_for, http_request, postgres_only, skip, VALGRIND

POLL = 1.0  # seconds: the upstream's poll_interval


def instances(env, fp, n):
    """N daemons on one database (the first one's), each with its own
    directory, listen port and admin port."""
    cfg = harness.alpha_config(timeout="2s", poll_interval=f"{int(POLL * 1000)}ms")
    first = Panelmux(env, config=cfg, up_port=fp.port, name="pmx-a")
    pms = [first]
    try:
        for i in range(1, n):
            pms.append(Panelmux(env, config=cfg, up_port=fp.port, name=f"pmx-{'abc'[i]}", share=first))
    except BaseException:
        close_all(pms)
        raise
    return pms


def close_all(pms):
    """Kill what still runs, remove the directories, drop the database (it
    belongs to the first instance, closed last)."""
    for pm in reversed(pms):
        try:
            pm.close()
        except Exception:  # noqa: BLE001 - the others are closed all the same
            pass


def stop_all(pms):
    """SIGTERM each; each must exit 0."""
    for pm in pms:
        pm.stop()


def crash(pm):
    """SIGKILL the instance's daemon (it is restarted by the caller)."""
    pm.proc.send_signal(signal.SIGKILL)
    pm.proc.wait()
    pm.proc = None
    pm.logf.close()


def catalogue(pm, key):
    return wait_for(lambda: {s["service"]: s for s in pm.api(key=key, action="services")} or None,
                    what=f"catalogue import on :{pm.port}")


def adds_per_link(fp):
    """The fake panel's add calls by link, from its call log (as
    test_orders' kill -9 test counts them)."""
    seen = {}
    with open(fp.log_path) as f:
        for line in f:
            c = json.loads(line)
            if c.get("action") == "add":
                link = c["params"].get("link")
                seen[link] = seen.get(link, 0) + 1
    return seen


def calls_since(fp, seq):
    r = http_request(fp.port, "GET", f"/control/log?since={seq}")
    assert r.status == 200, r
    return r.json()


def last_seq(fp):
    calls = fp.calls()
    return calls[-1]["seq"] if calls else 0


# --- the cluster -------------------------------------------------------------

def pg_cmd(*args, timeout=120):
    p = subprocess.run(["bash", harness.PG_SH, *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"pg.sh {' '.join(args)} failed: {p.stdout}{p.stderr}"


def pg_stop_immediate():
    pg_cmd("stop", os.environ["PMX_PG_DIR"], "immediate")


def pg_start():
    opts = os.environ.get("PMX_PG_OPTS", "-c fsync=off -c synchronous_commit=on").split()
    pg_cmd("start", os.environ["PMX_PG_DIR"], os.environ["PMX_PG_PORT"], *opts)


def pg_up():
    return harness.pg_run("postgres", "-c", "SELECT 1", timeout=30).returncode == 0


# --- load ----------------------------------------------------------------------

class Load:
    """Customer threads doing add (65%) and multi-status (35%) against the
    instances round-robin, recording every order ID a customer was given."""

    def __init__(self, pms, key, threads):
        self.pms, self.key = pms, key
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}          # order ID -> link
        self.errors = {}         # what went wrong (while instances or PostgreSQL were down)
        self.unknown = []        # (order, port, phase): an acknowledged order said not to exist
        self.phase = "all up"    # what the chaos is doing, set by the test
        self.threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(threads)]

    def count(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def client(self, n):
        rnd = random.Random(n)
        i = 0
        while not self.stop.is_set():
            i += 1
            pm = self.pms[(n + i) % len(self.pms)]
            try:
                if rnd.random() < 0.65:
                    link = f"https://x.example/s{n}/{i}"
                    r = pm.api(key=self.key, action="add", service=1, link=link, quantity=100)
                    if "order" in r:
                        with self.lock:
                            self.acked[r["order"]] = link
                    else:
                        self.count(r.get("error"))
                else:
                    with self.lock:
                        some = rnd.sample(sorted(self.acked), min(5, len(self.acked))) if self.acked else []
                    if not some:
                        continue
                    r = pm.api(key=self.key, action="status", orders=",".join(map(str, some)))
                    for oid in some:
                        if r.get(str(oid), {}).get("error") == "Incorrect order ID":
                            with self.lock:
                                self.unknown.append((oid, pm.port, self.phase))
            except Exception as e:  # refused/reset while the instance or PostgreSQL is down
                self.count(type(e).__name__)
                time.sleep(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def verify_store(pm, fp, acked):
    """check passes; every acknowledged order is in the store with its
    link; the upstream got no link twice and nothing the store does not
    know (store first, then send)."""
    assert "check: ok" in pm.check()
    rows = pm.sql("SELECT id, fields FROM orders")
    stored = {int(oid): json.loads(fields).get("link") for oid, fields in rows}
    lost = [(o, link) for o, link in acked.items() if stored.get(o) != link]
    assert not lost, f"{len(lost)} acknowledged orders lost or changed: {lost[:5]}"
    seen = adds_per_link(fp)
    twice = {link: n for link, n in seen.items() if n > 1}
    assert not twice, f"sent upstream more than once: {list(twice.items())[:5]}"
    links = set(stored.values())
    ghosts = [link for link in seen if link not in links]
    assert not ghosts, f"sent upstream without a stored order: {ghosts[:5]}"
    return stored, seen


def test_two_instances_exact_funds(env):
    """200 concurrent adds split over two instances on one database, with
    funds for exactly 100: exactly 100 accepted, 100 refused for funds, the
    balance 0 seen from both, 100 adds upstream, check ok."""
    postgres_only("several daemons on one database")
    with FakePanel(env, services=20) as fp:
        pms = instances(env, fp, 2)
        try:
            key = pms[0].customer("racer")
            for pm in pms:
                pm.start()
            svcs = catalogue(pms[0], key)
            catalogue(pms[1], key)
            charge = Decimal(svcs[1]["rate"])  # 1000 units at the rate per 1000
            pms[0].cli("customer", "fund", "racer", str(charge * 100))

            def one(i):
                return pms[i % 2].api(key=key, action="add", service=1,
                                      link=f"https://x.example/r{i}", quantity=1000)

            with ThreadPoolExecutor(max_workers=50) as pool:
                results = list(pool.map(one, range(200)))
            ok = [r for r in results if "order" in r]
            funds = [r for r in results if r.get("error") == "Not enough funds on balance"]
            assert len(ok) == 100 and len(funds) == 100, \
                (len(ok), len(funds), [r for r in results if r not in ok + funds][:3])
            assert len({r["order"] for r in ok}) == 100
            for pm in pms:
                assert pm.api(key=key, action="balance")["balance"] == "0.00000"
            assert len([c for c in fp.calls() if c["action"] == "add"]) == 100
            assert "check: ok" in pms[1].check()
            stop_all(pms)
        finally:
            close_all(pms)


@harness.exclusive
def test_chaos_kills_and_postgres_restart(env):
    """Three instances under 24 customer threads for ~20 s while instances
    are SIGKILLed and restarted and PostgreSQL is stopped (immediate) and
    restarted.  After: check ok, every acknowledged order stored, none sent
    twice or sent unstored, every instance knows every order, and with all
    up each open order is asked about once per poll cycle, by one instance."""
    postgres_only("several daemons on one database")
    if not (os.environ.get("PMX_PG_DIR") and os.environ.get("PMX_PG_PORT")):
        skip("needs PMX_PG_DIR and PMX_PG_PORT to stop and restart the cluster (tests/run.sh exports them)")
    if VALGRIND:
        skip("timing: measures the daemons, not memcheck")
    rnd = random.Random(int(os.environ.get("PMX_SEED", "11")))
    with FakePanel(env, services=20, extra=("--progress", "timer:400")) as fp:
        pms = instances(env, fp, 3)
        try:
            key = pms[0].customer("crowd", "1000000")
            for pm in pms:
                pm.start()
            for pm in pms:
                catalogue(pm, key)
            events = []
            t0 = time.monotonic()
            with Load(pms, key, threads=24) as load:
                try:
                    # kills and restarts, one at a time
                    for _ in range(4):
                        time.sleep(rnd.uniform(0.8, 1.6))
                        pm = rnd.choice(pms)
                        crash(pm)
                        load.phase = f":{pm.port} killed"
                        time.sleep(rnd.uniform(0, 0.3))
                        pm.start()
                        load.phase = f":{pm.port} restarted"
                        events.append(f"kill :{pm.port}")
                    # PostgreSQL goes away under load; one instance is killed
                    # meanwhile and restarted once PostgreSQL is back
                    time.sleep(1.0)
                    load.phase = "postgres stopping"
                    pg_stop_immediate()
                    load.phase = "postgres down"
                    events.append("postgres stopped")
                    time.sleep(1.0)
                    victim = rnd.choice(pms)
                    crash(victim)
                    time.sleep(1.5)
                finally:
                    if not pg_up():
                        pg_start()
                        events.append("postgres started")
                load.phase = "postgres restarted"
                victim.start()
                events.append(f"kill :{victim.port} while postgres was down")
                # more kills, two at once among them
                for k in range(4):
                    time.sleep(rnd.uniform(0.8, 1.6))
                    down = rnd.sample(pms, 2 if k == 1 else 1)
                    for pm in down:
                        crash(pm)
                    load.phase = "killed " + ",".join(f":{pm.port}" for pm in down)
                    for pm in down:
                        pm.start()
                    load.phase = "restarted " + ",".join(f":{pm.port}" for pm in down)
                    events.append("kill " + ",".join(f":{pm.port}" for pm in down))
                time.sleep(1.0)
            chaos_s = time.monotonic() - t0
            acked = dict(load.acked)
            print(f"# chaos {chaos_s:.1f}s: {len(acked)} orders acknowledged; "
                  f"errors {load.errors}; {'; '.join(events)}", flush=True)
            assert len(acked) > 100, (len(acked), load.errors)

            # settled: the same from every instance
            for pm in pms:
                wait_for(lambda: "balance" in pm.api(key=key, action="balance"), what=f":{pm.port} answering")
            stored, seen = verify_store(pms[1], fp, acked)
            ids = sorted(acked)
            for pm in pms:
                for i in range(0, len(ids), 100):
                    part = ids[i:i + 100]
                    r = pm.api(key=key, action="status", orders=",".join(map(str, part)))
                    bad = [o for o in part if "status" not in r.get(str(o), {})]
                    assert not bad, f":{pm.port} does not show {bad[:5]}: {r.get(str(bad[0]))}"
            print(f"# {len(stored)} orders stored, {sum(seen.values())} adds upstream", flush=True)
            # and while it all went on, no instance denied an order it had acknowledged
            assert not load.unknown, \
                f"{len(load.unknown)} times an acknowledged order was answered 'Incorrect order ID' " \
                f"(order, instance, what was going on): {load.unknown[:5]}"

            # polling with every instance up: orders stay open from here on
            fp.control(op="progress", mode="manual")
            fresh = [pms[i % 3].api(key=key, action="add", service=1,
                                    link=f"https://x.example/poll/{i}", quantity=100)["order"]
                     for i in range(250)]
            time.sleep(POLL * 1.5)  # the fresh orders come due
            open_ids = {r[0] for r in pms[0].sql("SELECT upstream_order FROM orders WHERE state = 'active'")}
            mark = last_seq(fp)
            window = 4 * POLL
            time.sleep(window)
            calls = [c for c in calls_since(fp, mark) if c["action"] == "status"]
            asked = {}
            for c in calls:
                assert len(c["ids"]) <= 100, len(c["ids"])
                for i in c["ids"]:
                    asked.setdefault(str(i), []).append(c["ms"])
            twice = {i: ms for i, ms in asked.items()
                     if any(b - a < POLL * 500 for a, b in zip(sorted(ms), sorted(ms)[1:]))}
            fresh_up = {r[0] for r in pms[0].sql(
                f"SELECT upstream_order FROM orders WHERE id IN ({','.join('?' * len(fresh))})", *fresh)}
            never = fresh_up - set(asked)
            total_ids = sum(len(v) for v in asked.values())
            cycles = window / POLL
            per_cycle = math.ceil(len(open_ids) / 100)
            print(f"# poll window {window:.0f}s, {len(open_ids)} open: {len(calls)} status calls "
                  f"(ceil(open/100) x cycles = {per_cycle * cycles:.0f}), {total_ids} IDs asked "
                  f"(open x cycles = {len(open_ids) * cycles:.0f})", flush=True)
            assert not twice, f"{len(twice)} orders asked twice within half a poll cycle: " \
                f"{list(twice.items())[:3]}"
            assert not never, f"{len(never)} open orders never polled: {sorted(never)[:5]}"
            # about open x cycles IDs (2x if two instances polled each order)
            assert total_ids <= len(open_ids) * (cycles + 1), (total_ids, len(open_ids))
            # full batches but for one partial batch per instance per cycle
            assert len(calls) <= (per_cycle + len(pms) - 1) * (cycles + 0.5), (len(calls), per_cycle)
            assert "check: ok" in pms[2].check()
            stop_all(pms)
        finally:
            try:
                if not pg_up():
                    pg_start()
            finally:
                close_all(pms)
