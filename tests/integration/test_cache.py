"""Read-cache coherence (DESIGN.md, "Read caches"): whatever the daemon keeps
in memory, a reply never shows data older than a write that finished before
the request was sent, whether the write came from the operator CLI (another
process: funding, disabling, re-keying) or from the daemon itself (debits,
settlement by the poller, one order's row among many).  Requests go both on
fresh connections and on kept-alive ones, where a stale cache would show.
The same tests run on either store; only SQLite caches today."""
import http.client
import json
import threading
import urllib.parse
from decimal import Decimal, ROUND_FLOOR

from harness import Panelmux, FakePanel, alpha_config, wait_for, VALGRIND

SLOW = 5 if VALGRIND else 1

CENT5 = Decimal("0.00001")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def setup(env, fp, poll="60s"):
    cfg = alpha_config(reply_wait="5s", extra="currency: USD\nmoney:\n  decimals: 5\n",
                       timeout="3s", poll_interval=poll, max_connections=16)
    return Panelmux(env, config=cfg, up_port=fp.port)


def fmt(amount):
    return str(Decimal(amount).quantize(CENT5))


class Conn:
    """One kept-alive HTTP/1.1 connection to the daemon; fails if the
    daemon closes it (the point is to reuse a warm connection)."""

    def __init__(self, pm):
        self.conn = http.client.HTTPConnection("127.0.0.1", pm.port, timeout=10 * SLOW)
        self.sock = None

    def api(self, **fields):
        self.conn.request("POST", "/api/v2", urllib.parse.urlencode(fields), FORM)
        r = self.conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        assert not r.will_close, "the daemon closed a kept-alive connection"
        if self.sock is None:
            self.sock = self.conn.sock
        assert self.conn.sock is self.sock, "reconnected: not the same connection"
        return json.loads(body)

    def close(self):
        self.conn.close()



def balance_load(pm, key, amount, stop, errors):
    """A thread body keeping the daemon busy: balance of KEY (which must stay
    AMOUNT) on one kept-alive connection until STOP; anything else goes to
    ERRORS."""
    def busy():
        c = Conn(pm)
        try:
            while not stop.is_set():
                r = c.api(key=key, action="balance")
                if r != balance_reply(amount):
                    errors.append(r)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(repr(e))
        finally:
            c.close()
    return busy

def balance_reply(amount):
    return {"balance": fmt(amount), "currency": "USD"}


def fund(pm, name, amount, want):
    """Fund NAME by AMOUNT with the CLI; its reply must be WANT."""
    out = pm.cli("customer", "fund", name, str(amount)).stdout.strip()
    assert out == f"{fmt(want)} USD", (out, want)


def services(pm, key):
    return {s["service"]: s for s in pm.api(key=key, action="services")}


def start(pm, key):
    pm.start()
    return wait_for(lambda: services(pm, key) or None, timeout=15 * SLOW, what="catalogue import")


def test_cli_fund_seen_at_once(env):
    """30 CLI fundings (and a few withdrawals), each followed at once by a
    balance on a warm kept-alive connection and on a fresh one, first with
    the daemon idle, then with another client keeping it busy (so that it
    has just read the store when the CLI commits)."""
    with FakePanel(env) as fp, setup(env, fp) as pm:
        key = pm.customer("alice")
        other = pm.customer("bob", "7")
        start(pm, key)
        warm = Conn(pm)
        total = Decimal(0)
        stop = threading.Event()
        errors = []

        busy = balance_load(pm, other, 7, stop, errors)
        load = None
        try:
            for i in range(30):
                if i == 15:
                    load = threading.Thread(target=busy, daemon=True)
                    load.start()
                # the cache is warm: both paths just read this balance
                assert warm.api(key=key, action="balance") == balance_reply(total)
                assert pm.api(key=key, action="balance") == balance_reply(total)
                amount = CENT5 * (1 + (i * 7919) % 100000)
                if i % 6 == 5:
                    amount = -(total / 3).quantize(CENT5, rounding=ROUND_FLOOR)
                total += amount
                fund(pm, "alice", amount, total)
                if i % 2 == 0:
                    first, second = warm.api, pm.api
                else:
                    first, second = pm.api, warm.api
                r = first(key=key, action="balance")
                assert r == balance_reply(total), (i, fmt(total), r)
                r = second(key=key, action="balance")
                assert r == balance_reply(total), (i, fmt(total), r)
        finally:
            stop.set()
            if load is not None:
                load.join(timeout=30)
            warm.close()
        assert not errors, errors[:5]
        assert pm.api(key=other, action="balance") == balance_reply(7)
        assert "check: ok" in pm.check()


def test_cli_disable_enable_and_rotate(env):
    """A key refused right after `customer disable`, accepted right after
    `enable`; after `customer key` the old key is refused at once and the
    new one accepted, on a warm connection as on fresh ones.  Another
    customer is untouched throughout."""
    with FakePanel(env) as fp, setup(env, fp) as pm:
        key = pm.customer("bob", "3")
        carol = pm.customer("carol", "2")
        start(pm, key)
        warm = Conn(pm)
        invalid = {"error": "Invalid API key"}
        try:
            for rnd in range(6):
                assert warm.api(key=key, action="balance") == balance_reply(3)
                assert pm.api(key=key, action="balance") == balance_reply(3)
                pm.cli("customer", "disable", "bob")
                assert warm.api(key=key, action="balance") == invalid, rnd
                assert pm.api(key=key, action="balance") == invalid, rnd
                # an order by a disabled key is refused too, charging nothing
                assert warm.api(key=key, action="add", service=1, link="https://x.example/d",
                                quantity=1000) == invalid
                assert warm.api(key=carol, action="balance") == balance_reply(2)
                pm.cli("customer", "enable", "bob")
                assert warm.api(key=key, action="balance") == balance_reply(3), rnd
                assert pm.api(key=key, action="balance") == balance_reply(3), rnd
                old = key
                if rnd % 2 == 1:
                    # re-keyed while disabled: neither key works until enabled
                    pm.cli("customer", "disable", "bob")
                    key = pm.cli("customer", "key", "bob").stdout.strip()
                    assert warm.api(key=old, action="balance") == invalid
                    assert warm.api(key=key, action="balance") == invalid
                    pm.cli("customer", "enable", "bob")
                else:
                    key = pm.cli("customer", "key", "bob").stdout.strip()
                assert key != old
                assert warm.api(key=old, action="balance") == invalid, rnd
                assert pm.api(key=old, action="balance") == invalid, rnd
                assert warm.api(key=key, action="balance") == balance_reply(3), rnd
                assert pm.api(key=key, action="balance") == balance_reply(3), rnd
                assert warm.api(key=carol, action="balance") == balance_reply(2)
        finally:
            warm.close()
        # nothing was charged by the refused adds
        assert pm.api(key=key, action="balance") == balance_reply(3)
        assert "check: ok" in pm.check()


def test_own_writes_seen_at_once(env):
    """The daemon's own writes: the debit of each add in the very next
    balance, a new order found at once (even right after its ID was asked
    for and did not exist), each status change made by the poller in the
    single status and in a multi-status of orders of which only that one
    changed, and a settlement's refund in the balance as soon as the status
    shows it."""
    with FakePanel(env) as fp, setup(env, fp, poll="200ms") as pm:
        key = pm.customer("carl", "100")
        other = pm.customer("olga", "5")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])  # quantity 1000: one rate
        warm = Conn(pm)
        try:
            assert warm.api(key=key, action="balance") == balance_reply(100)
            ids = []
            for n in range(5):
                # IDs that do not exist yet: asked for before they do
                probe = ",".join(str((ids[-1] if ids else 0) + d) for d in range(1, 4))
                st = warm.api(key=key, action="status", orders=probe)
                assert all(v == {"error": "Incorrect order ID"} for v in st.values()), st
                r = warm.api(key=key, action="add", service=1, link=f"https://x.example/{n}",
                             quantity=1000)
                assert "order" in r, r
                ids.append(r["order"])
                assert warm.api(key=key, action="balance") == balance_reply(100 - (n + 1) * charge), n
                assert pm.api(key=key, action="balance") == balance_reply(100 - (n + 1) * charge), n
                assert warm.api(key=key, action="status", order=ids[-1])["charge"] == fmt(charge)
            bal = 100 - 5 * charge
            pending = {"charge": fmt(charge), "start_count": "0", "status": "Pending",
                       "remains": "1000", "currency": "USD"}
            allids = ",".join(map(str, ids))
            want = {str(i): dict(pending) for i in ids}
            assert warm.api(key=key, action="status", orders=allids) == want
            for i in ids:
                assert warm.api(key=key, action="status", order=i) == pending
            # another customer never sees these orders, cached or not
            assert pm.api(key=other, action="status", order=ids[0]) == {"error": "Incorrect order ID"}
            up = {}
            for i in ids:
                out = pm.cli("order", "show", str(i)).stdout
                line = [l for l in out.splitlines() if l.startswith("upstream order:")]
                assert line and line[0].split()[-1] != "-", out
                up[i] = line[0].split()[-1]

            def status_of(i):
                return warm.api(key=key, action="status", order=i)

            # one order moves: its status, then a multi-status where only it changed
            fp.control(op="set", order=int(up[ids[1]]), status="In progress", remains=400,
                       start_count=10)
            wait_for(lambda: status_of(ids[1])["status"] == "In progress", timeout=10 * SLOW,
                     what="In progress")
            want[str(ids[1])] = dict(pending, status="In progress", remains="400", start_count="10")
            assert status_of(ids[1]) == want[str(ids[1])]
            assert warm.api(key=key, action="status", orders=allids) == want
            assert pm.api(key=key, action="status", orders=allids) == want
            # another one completes, seen first through the multi-status
            fp.control(op="set", order=int(up[ids[3]]), status="Completed", remains=0)
            want[str(ids[3])] = dict(pending, status="Completed", remains="0")
            wait_for(lambda: warm.api(key=key, action="status", orders=allids) == want,
                     timeout=10 * SLOW, what="Completed in a multi-status")
            assert status_of(ids[3]) == want[str(ids[3])]
            assert warm.api(key=key, action="balance") == balance_reply(bal)
            # a Partial settles with a refund: in the balance as soon as the
            # status shows it (one transaction)
            fp.control(op="set", order=int(up[ids[2]]), status="Partial", remains=250)
            wait_for(lambda: status_of(ids[2])["status"] == "Partial", timeout=10 * SLOW,
                     what="Partial")
            refund = (charge * 250 / 1000).quantize(CENT5, rounding=ROUND_FLOOR)
            bal += refund
            assert warm.api(key=key, action="balance") == balance_reply(bal)
            assert pm.api(key=key, action="balance") == balance_reply(bal)
            want[str(ids[2])] = dict(pending, status="Partial", remains="250",
                                     charge=fmt(charge - refund))
            assert warm.api(key=key, action="status", orders=allids) == want
            # a cancel through the API: the upstream cancels, the poller
            # refunds in full
            r = warm.api(key=key, action="cancel", orders=str(ids[4]))
            assert r == [{"order": ids[4], "cancel": 1}], r
            wait_for(lambda: status_of(ids[4])["status"] == "Canceled", timeout=10 * SLOW,
                     what="Canceled")
            bal += charge
            assert warm.api(key=key, action="balance") == balance_reply(bal)
            want[str(ids[4])] = dict(pending, status="Canceled", charge=fmt(0))
            got = warm.api(key=key, action="status", orders=allids)
            assert got == want, got
            # the untouched orders never changed
            assert got[str(ids[0])] == pending
            # a new add after all this is debited from the settled balance
            r = warm.api(key=key, action="add", service=1, link="https://x.example/last",
                         quantity=1000)
            assert "order" in r, r
            assert warm.api(key=key, action="balance") == balance_reply(bal - charge)
            assert status_of(r["order"]) == pending
        finally:
            warm.close()
        assert "check: ok" in pm.check()


def test_concurrent_balance_while_cli_funds(env):
    """20 clients asking for one balance (~50 times each, half on kept-alive
    connections) while the CLI funds it 25 times.  Every reply is a balance
    that existed, no client sees it go down, none sees one older than a
    funding the CLI had finished before the request was sent, and once the
    funding is over every client sees the final amount."""
    threads_n, per_thread, fundings = 20, 50, 25
    with FakePanel(env) as fp, setup(env, fp) as pm:
        key = pm.customer("dora")
        start(pm, key)
        amounts = [CENT5 * (1 + (i * 104729) % 99991) for i in range(fundings)]
        sums = [Decimal(0)]
        for a in amounts:
            sums.append(sums[-1] + a)
        valid = set(sums)
        lock = threading.Lock()
        floor = [Decimal(0)]  # the balance the CLI last reported as committed
        done = threading.Event()
        errors = []
        counts = [0] * threads_n

        def client(t):
            warm = Conn(pm) if t % 2 == 0 else None
            last = Decimal(-1)
            try:
                n = 0
                while n < per_thread or (not done.is_set() and n < 500):
                    with lock:
                        low = floor[0]
                    r = warm.api(key=key, action="balance") if warm else \
                        pm.api(key=key, action="balance")
                    b = Decimal(r["balance"])
                    if b not in valid:
                        errors.append(f"client {t}: {b} never existed")
                    if b < last:
                        errors.append(f"client {t}: {b} after {last}")
                    if b < low:
                        errors.append(f"client {t}: {b} sent after {low} was committed")
                    last = b
                    n += 1
                counts[t] = n
                done.wait(60 * SLOW)
                r = warm.api(key=key, action="balance") if warm else pm.api(key=key, action="balance")
                if r != balance_reply(sums[-1]):
                    errors.append(f"client {t}: final {r}, want {fmt(sums[-1])}")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"client {t}: {e!r}")
            finally:
                if warm:
                    warm.close()

        workers = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(threads_n)]
        for w in workers:
            w.start()
        try:
            for i, a in enumerate(amounts):
                fund(pm, "dora", a, sums[i + 1])
                with lock:
                    floor[0] = sums[i + 1]
                # and one reply right after, from this thread
                r = pm.api(key=key, action="balance")
                assert r == balance_reply(sums[i + 1]), (i, r)
        finally:
            done.set()
            for w in workers:
                w.join(timeout=60 * SLOW)
        assert not any(w.is_alive() for w in workers), "a client hung"
        assert not errors, errors[:10]
        assert min(counts) >= per_thread, counts
        print(f"# {sum(counts)} balance requests during {fundings} CLI fundings")
        assert pm.api(key=key, action="balance") == balance_reply(sums[-1])
        assert "check: ok" in pm.check()


def test_other_connection_writes_seen_at_once(env):
    """Writes by another connection straight to the store (pm.sql: on SQLite
    an in-process connection, whose commit returns far sooner than the CLI's
    process exits), with another client keeping the daemon busy: a balance,
    a disabled flag and an order's status changed that way show in the very
    next reply.  Each deposit goes into the ledger first, so `check` holds
    at the end.  (This is the sharpest probe of a store check amortised over
    a loop iteration: the busy daemon has just checked when the write
    commits, and the next request follows within a fraction of a
    millisecond, so "the same iteration" must really mean one iteration,
    not one tick of a coarse clock.)"""
    with FakePanel(env) as fp, setup(env, fp) as pm:
        key = pm.customer("erin", "10")
        other = pm.customer("fred", "4")
        svcs = start(pm, key)
        charge = Decimal(svcs[1]["rate"])
        cid = int(pm.sql("SELECT id FROM customers WHERE name = ?", "erin")[0][0])
        order = pm.api(key=key, action="add", service=1, link="https://x.example/e", quantity=1000)
        assert "order" in order, order
        order = order["order"]
        total = 10 - charge
        stop = threading.Event()
        errors = []

        busy = balance_load(pm, other, 4, stop, errors)
        load = threading.Thread(target=busy, daemon=True)
        load.start()
        warm = Conn(pm)
        try:
            for i in range(30):
                assert warm.api(key=key, action="balance") == balance_reply(total)
                amount = CENT5 * (1 + (i * 6151) % 50000)
                units = int(amount * 100000000)
                pm.sql("INSERT INTO ledger (customer_id, kind, amount, created_at)"
                       " VALUES (?, 'deposit', ?, 0)", cid, units)
                pm.sql("UPDATE customers SET balance = balance + ? WHERE id = ?", units, cid)
                total += amount
                r = warm.api(key=key, action="balance")
                assert r == balance_reply(total), (i, fmt(total), r)
                if i % 3 == 0:
                    pm.sql("UPDATE customers SET disabled = 1 WHERE id = ?", cid)
                    r = warm.api(key=key, action="balance")
                    assert r == {"error": "Invalid API key"}, (i, r)
                    pm.sql("UPDATE customers SET disabled = 0 WHERE id = ?", cid)
                    r = warm.api(key=key, action="balance")
                    assert r == balance_reply(total), (i, r)
                if i % 5 == 0:
                    # an order row changed by another connection (as
                    # `order resolve` or an operator's repair would)
                    assert warm.api(key=key, action="status", order=order)["remains"] == \
                        str(1000 - i)
                    pm.sql("UPDATE orders SET remains = ? WHERE id = ?", 1000 - i - 5, order)
                    r = warm.api(key=key, action="status", order=order)
                    assert r["remains"] == str(1000 - i - 5), (i, r)
        finally:
            stop.set()
            load.join(timeout=30)
            warm.close()
        assert not errors, errors[:5]
        assert "check: ok" in pm.check()


def test_many_customers_each_see_their_own(env):
    """120 customers with distinct balances ask at once (a barrier releases
    them together, twice each), so that on PostgreSQL their key lookups are
    answered together in shared statements (DESIGN.md, "PostgreSQL at
    speed"): every reply is the asker's own balance.  Then each customer, on
    its own thread, is credited through the admin API and asks right after:
    the reply already has the credit, whatever the other lookups of the
    moment."""
    n = 120
    with FakePanel(env) as fp, setup(env, fp) as pm:
        pm.start()
        names = [f"m{i}" for i in range(n)]
        keys = pm.customers_api(names, "1")
        op = pm.admin_key("credits")
        base = [Decimal(1)] * n
        errors = []
        barrier = threading.Barrier(n)

        def ask(i, want, rounds):
            c = Conn(pm)
            try:
                for _ in range(rounds):
                    barrier.wait(30 * SLOW)
                    r = c.api(key=keys[i], action="balance")
                    if r != balance_reply(want):
                        errors.append(f"{names[i]}: {r}, want {fmt(want)}")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"{names[i]}: {e!r}")
            finally:
                c.close()

        def run(target, argsets):
            ts = [threading.Thread(target=target, args=a, daemon=True) for a in argsets]
            for t in ts:
                t.start()
            for t in ts:
                t.join(120 * SLOW)
            assert not any(t.is_alive() for t in ts), "a client hung"

        run(ask, [(i, base[i], 2) for i in range(n)])
        assert not errors, errors[:10]

        credit = [CENT5 * (7 + 13 * i) for i in range(n)]

        def credit_then_ask(i):
            try:
                r = pm.admin("POST", "payments/add", key=op,
                             body={"username": names[i], "amount": fmt(credit[i])}).json()
                assert r["error_code"] == 0, r
                got = pm.api(key=keys[i], action="balance")
                if got != balance_reply(base[i] + credit[i]):
                    errors.append(f"{names[i]}: {got} after the credit, want "
                                  f"{fmt(base[i] + credit[i])}")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"{names[i]}: {e!r}")

        run(credit_then_ask, [(i,) for i in range(n)])
        assert not errors, errors[:10]
        assert "check: ok" in pm.check()
