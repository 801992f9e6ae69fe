"""The admin API (/adminapi/v2 on listen.admin; the contract is
README "Admin API"), end to end against the real daemon:

- payment scripts as shops write them (clients/pay.py: urllib, JSON or a
  form; clients/pay.php: PHP curl, JSON, a form or multipart) credit a user
  and read data.user.balance; amounts as JSON numbers and strings;
- exactly-once payments: 200 concurrent calls on 20 references, one
  reference raced by different users/amounts/directions, kill -9 with 200
  payments in flight then every call retried (two daemons on one database
  on PostgreSQL where it says so);
- a table of bad inputs, each with its status and error_code, writing
  nothing (balances, payments, ledger) and auditing a failed entry (none
  for failed authentications); the failed-authentication limit (429) and
  that good keys never count against it; the 64 KiB body limit; framing;
- users (add, list, paging, disable/enable, rotate-key, a creation race),
  deductions never below zero, orders (filters, sort, paging, detail with
  provider and ledger, resolve, cancel), the read-only views (services,
  upstreams, report, check, audit), money.decimals 2;
- the CLI: operator keys (add, --read-only, list, revoke) and the audit
  trail of the CLI's own writes.

Money is checked with Decimal computed here, never read back from the
server and compared with itself.  Every test runs on both stores."""
import calendar
import hashlib
import http.client
import base64
import json
import os
import signal
import random
import re
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, ROUND_CEILING

import harness
from harness import Panelmux, FakePanel, alpha_config, wait_for, assert_no_secret, STORE

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
PLACES = Decimal("0.00001")               # money.decimals: 5, written in every config below
MONEY = re.compile(r"-?[0-9]+\.[0-9]{5}")  # money in replies: exactly 5 decimals
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
USER_FIELDS = {"id", "username", "balance", "status", "created"}
PAYMENT_FIELDS = {"id", "user", "amount", "method", "memo", "external_id", "by", "created"}
ORDER_FIELDS = {"id", "user", "user_id", "service_id", "type", "status", "quantity", "runs",
                "interval", "charge", "refunded", "start_count", "remains", "created", "last_update"}


def config(**alpha):
    """alpha_config (no abuse limits on the customers' side) with
    money.decimals written out, since the tests compute with 5 places."""
    return alpha_config(level="debug", extra="money:\n  decimals: 5\n", **alpha)


def two_upstreams_config(beta_port):
    """alpha (services 1..20) and beta (imported with id_offset 100:
    101..120), polled every 300 ms, adds answered after 1 s at most."""
    cfg = alpha_config(level="debug", reply_wait="1s", extra="money:\n  decimals: 5\n",
                       timeout="2s", poll_interval="300ms")
    cfg = cfg.replace("services:\n", """  - name: beta
    url: "http://127.0.0.1:{beta_port}/api/v2"
    key: "${{PMX_TEST_UPSTREAM_KEY}}"
    timeout: 2s
    poll_interval: 300ms
services:
""", 1)
    cfg += "  - import: beta\n    id_offset: 100\n"
    return cfg.replace("{beta_port}", str(beta_port))


def q(x, rounding=ROUND_CEILING):
    return Decimal(x).quantize(PLACES, rounding=rounding)


def money(s):
    """A money string of a reply as Decimal, after checking its form."""
    assert isinstance(s, str) and MONEY.fullmatch(s), f"money not a string with 5 decimals: {s!r}"
    return Decimal(s)


# --- envelopes ------------------------------------------------------------------

def ok(r):
    """The data of a success: HTTP 200, JSON, error_code 0, error_message ""."""
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("application/json"), (r.headers, r)
    e = r.json()
    assert isinstance(e, dict) and set(e) == {"error_code", "error_message", "data"}, e
    assert e["error_code"] == 0 and e["error_message"] == "", e
    return e["data"]


def err(r, status):
    """An error envelope with HTTP STATUS == error_code, a sentence, data
    null; returns the sentence."""
    assert r.status == status, f"expected HTTP {status}, got {r}"
    assert r.headers.get("content-type", "").startswith("application/json"), (r.headers, r)
    e = r.json()
    assert isinstance(e, dict) and set(e) == {"error_code", "error_message", "data"}, e
    assert e["error_code"] == status, e
    assert isinstance(e["error_message"], str) and e["error_message"].strip(), e
    assert e["data"] is None, e
    return e["error_message"]


def get(pm, key, path, **query):
    return ok(pm.admin("GET", path, key, query=query or None))


def post(pm, key, path, **body):
    return ok(pm.admin("POST", path, key, body=body))


def check_user(u, name=None):
    assert USER_FIELDS <= set(u), u
    assert not [k for k in u if "key" in k.lower() or "hash" in k.lower()], u
    assert isinstance(u["id"], int) and u["status"] in ("active", "disabled"), u
    assert TIME.fullmatch(u["created"]), u
    money(u["balance"])
    if name is not None:
        assert u["username"] == name, u
    return u


def user(pm, key, name):
    """The user NAME from the list filtered by username."""
    lst = get(pm, key, "users", username=name)
    found = [u for u in lst["list"] if u["username"] == name]
    assert len(found) == 1, lst
    return check_user(found[0], name)


def balance(pm, key, uid):
    u = check_user(get(pm, key, f"users/{uid}"))
    return money(u["balance"])


def payments(pm, key, name):
    d = get(pm, key, "payments", username=name, limit=1000)
    assert d["count"] == len(d["list"]), d
    for p in d["list"]:
        assert PAYMENT_FIELDS <= set(p), p
        assert p["user"] == name, p
        money(p["amount"])
        assert TIME.fullmatch(p["created"]), p
    ids = [p["id"] for p in d["list"]]
    assert ids == sorted(ids, reverse=True), f"payments not newest first: {ids}"
    return d["list"]


def audit(pm, key, **query):
    d = get(pm, key, "audit", limit=1000, **query)
    assert d["count"] == len(d["list"]), d
    for a in d["list"]:
        assert {"id", "created", "actor", "action", "target", "detail", "result"} <= set(a), a
    ids = [a["id"] for a in d["list"]]
    assert ids == sorted(ids, reverse=True), f"audit not newest first: {ids}"
    return d["list"]


def ledger_count(pm):
    return int(pm.sql("SELECT COUNT(*) FROM ledger")[0][0])


def customer_balance(pm, ckey):
    """The balance the customer sees on /api/v2."""
    return Decimal(pm.api(key=ckey, action="balance")["balance"])


def crash(pm):
    """kill -9 the daemon (the caller restarts it)."""
    pm.proc.kill()
    pm.proc.wait()
    pm.proc = None
    pm.logf.close()


def instances(env, n, cfg):
    """N daemons on one store (the first one's database)."""
    first = Panelmux(env, config=cfg, name="pmx-a")
    pms = [first]
    try:
        for i in range(1, n):
            pms.append(Panelmux(env, config=cfg, name=f"pmx-{'abc'[i]}", share=first))
    except BaseException:
        close_all(pms)
        raise
    return pms


def close_all(pms):
    for p in reversed(pms):
        try:
            p.close()
        except Exception:  # noqa: BLE001 - close the others all the same
            pass


def base_url(pm):
    return f"http://127.0.0.1:{pm.admin_port}/adminapi/v2"


def run_client(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), f"{cmd[:2]} exited {p.returncode}: {p.stdout}{p.stderr}"
    lines = p.stdout.splitlines()
    assert len(lines) == 1, (cmd, p.stdout, p.stderr)
    return p.returncode, json.loads(lines[0])


def pay_py(pm, key, name, amount, *opts):
    return run_client(["python3", os.path.join(CLIENTS, "pay.py"), base_url(pm), key, name,
                       str(amount), *opts])


def pay_php(pm, key, name, amount, *opts):
    return run_client(["php", os.path.join(CLIENTS, "pay.php"), base_url(pm), key, name,
                       str(amount), *opts])


def require_php():
    """php with curl must be there (make deps installs php-cli and
    php-curl): its absence is a failure, not a skip."""
    php = shutil.which("php")
    assert php, "php is not installed: the PHP payment script cannot run (Debian: php-cli php-curl)"
    p = subprocess.run([php, "-r", "exit(function_exists('curl_init') ? 0 : 3);"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"php has no curl extension (Debian: php-curl): {p.stdout}{p.stderr}"


# --- 1. payment scripts ------------------------------------------------------------

def test_payment_scripts(env):
    """The scripts shops run (Python urllib with JSON or a form, PHP curl
    with JSON, a form or multipart) credit a user and read the new balance
    from data.user.balance; errors come back as the envelope."""
    require_php()
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        ckey = pm.customer("john")
        pm.start()
        uid = user(pm, key, "john")["id"]
        want = Decimal(0)
        seen = []   # (payment_id, amount, method, memo, external_id), oldest first

        def credited(rc, out, amount, method, memo, ext):
            nonlocal want
            want += Decimal(amount)
            assert rc == 0 and out["http"] == 200 and out["error_code"] == 0, out
            assert out["error_message"] == "" and out["duplicate"] is False, out
            assert isinstance(out["payment_id"], int), out
            assert money(out["balance"]) == want, (out, want)
            seen.append((out["payment_id"], Decimal(amount), method, memo, ext))

        rc, out = pay_py(pm, key, "john", "25.00", "--method", "PayPal", "--memo", "order #1",
                         "--external-id", "py-1")
        credited(rc, out, "25.00", "PayPal", "order #1", "py-1")
        assert out["balance"] == "25.00000", out
        rc, out = pay_php(pm, key, "john", "10.5", "--number", "--method=Stripe", "--memo=php json",
                          "--external-id=php-1")
        credited(rc, out, "10.5", "Stripe", "php json", "php-1")
        rc, out = pay_php(pm, key, "john", "0.1", "--number", "--form", "--memo=php form")
        credited(rc, out, "0.1", "PHP", "php form", None)
        rc, out = pay_php(pm, key, "john", "0.2", "--number", "--multipart", "--memo=php multipart")
        credited(rc, out, "0.2", "PHP", "php multipart", None)
        rc, out = pay_py(pm, key, "john", "4.2", "--form", "--memo", "py form")
        credited(rc, out, "4.2", "Python", "py form", None)
        assert want == Decimal("40.00000"), want
        # the Idempotency-Key header as the reference
        rc, out = pay_php(pm, key, "john", "1", "--idempotency-key=php-idem-1", "--memo=idem")
        credited(rc, out, "1", "PHP", "idem", "php-idem-1")
        # a script that retries: the same payment, not a second credit
        rc, out = pay_php(pm, key, "john", "10.5", "--number", "--method=Stripe",
                          "--memo=php json", "--external-id=php-1")
        by_ref = {s[4]: s[0] for s in seen if s[4] is not None}
        assert rc == 0 and out["duplicate"] is True and out["payment_id"] == by_ref["php-1"], out
        assert money(out["balance"]) == want, out
        rc, out = pay_py(pm, key, "john", "1.00000", "--external-id", "php-idem-1", "--memo", "idem")
        assert rc == 0 and out["duplicate"] is True and out["payment_id"] == by_ref["php-idem-1"], out
        # errors as the scripts see them
        rc, out = pay_php(pm, key, "nobody", "5")
        assert rc == 1 and out["http"] == 404 and out["error_code"] == 404 and out["error_message"], out
        rc, out = pay_py(pm, "not-a-key", "john", "5")
        assert rc == 1 and out["http"] == 401 and out["error_code"] == 401, out
        rc, out = pay_py(pm, key, "john", "5.000001")
        assert rc == 1 and out["http"] == 400 and out["error_code"] == 400, out
        # POST takes query parameters too; the body wins
        r = pm.admin("POST", "payments/add", key, query={"username": "john", "amount": "5"},
                     body={"amount": "1.5", "memo": "query and body"})
        d = ok(r)
        want += Decimal("1.5")
        assert money(d["user"]["balance"]) == want, d
        seen.append((d["payment_id"], Decimal("1.5"), None, "query and body", None))

        # independently of the scripts: the user, the customer's own view, the list
        assert balance(pm, key, uid) == want
        assert customer_balance(pm, ckey) == want
        lst = payments(pm, key, "john")
        assert [p["id"] for p in lst] == [s[0] for s in reversed(seen)], (lst, seen)
        for p, (pid, amount, method, memo, ext) in zip(lst, reversed(seen)):
            assert money(p["amount"]) == amount and p["memo"] == memo and p["external_id"] == ext, p
            assert p["by"] == "admin:shop", p
            if method is not None:
                assert p["method"] == method, p
        assert "check: ok" in pm.check()
        log = pm.log()
    assert_no_secret(log, key, ckey)


def test_amount_forms(env):
    """Amounts as JSON numbers are read through their shortest decimal
    text (so 0.1 is 0.1, 1e-05 is 0.00001, 1.000000 is 1, and
    0.30000000000000004 has too many decimals), as strings with up to 5
    decimals, and as form values."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.customer("amy")
        pm.start()
        uid = user(pm, key, "amy")["id"]
        want = Decimal(0)
        J = {"Content-Type": "application/json"}
        for text, value in [("25", "25"), ("25.5", "25.5"), ("0.1", "0.1"), ('"0.2"', "0.2"),
                            ('"7.12345"', "7.12345"), ("1e-05", "0.00001"), ("1E+2", "100"),
                            ("1.000000", "1"),
                            # other numbers in the body are not the amount
                            ('10.5, "affiliate_commission": 0', "10.5"),
                            ('10.25, "affiliate_commission": 5', "10.25"),
                            ('"3.5", "affiliate_commission": 1.5', "3.5"),
                            ('12, "affiliate_commission": 0.25, "memo": "x"', "12")]:
            r = pm.admin("POST", "payments/add", key,
                         raw='{"username": "amy", "amount": %s}' % text, headers=J)
            try:
                d = ok(r)
            except AssertionError as e:
                raise AssertionError(f"amount {text}: {e}") from None
            want += Decimal(value)
            assert money(d["user"]["balance"]) == want, (text, d, want)
            assert money(payments(pm, key, "amy")[0]["amount"]) == Decimal(value), text
        for text in ("0.30000000000000004", "1.000001", '"1.000001"', '"1,5"', '" "', '"0x10"',
                     '"NaN"', '"Infinity"', "-0", '"-0.00000"', "10000000001", '"+"'):
            r = pm.admin("POST", "payments/add", key,
                         raw='{"username": "amy", "amount": %s}' % text, headers=J)
            try:
                err(r, 400)
            except AssertionError as e:
                raise AssertionError(f"amount {text}: {e}") from None
        assert balance(pm, key, uid) == want
        assert "check: ok" in pm.check()


# --- 2. exactly once, concurrently ------------------------------------------------

def fire(calls):
    """Run each zero-argument callable of CALLS in its own thread, all
    released together by a barrier; results (or the exception) in order."""
    n = len(calls)
    barrier = threading.Barrier(n)
    out = [None] * n

    def one(i):
        try:
            barrier.wait(timeout=60)
            out[i] = calls[i]()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "requests did not finish"
    return out


def pay_call(pm, key, name, amount, ref, header, timeout=30.0):
    """payments/add with reference REF in the body (external_id) or, with
    HEADER, in Idempotency-Key."""
    body = {"username": name, "amount": str(amount), "method": "Card", "memo": f"ref {ref}"}
    headers = {}
    if header:
        headers["Idempotency-Key"] = ref
    else:
        body["external_id"] = ref
    return lambda: pm.admin("POST", "payments/add", key, body=body, headers=headers, timeout=timeout)


def test_exactly_once_concurrent(env):
    """200 concurrent payments/add carrying 20 references (10 calls each,
    the reference in the body or in Idempotency-Key): exactly 20 credits,
    each reference answered with one payment_id by all its calls, one of
    them not a duplicate.  On PostgreSQL the calls go to two daemons on one
    database."""
    n_daemons = 2 if STORE == "postgres" else 1
    pms = instances(env, n_daemons, config())
    try:
        key = pms[0].admin_key("shop")
        pms[0].customer("rich")
        for p in pms:
            p.start()
        uid = user(pms[0], key, "rich")["id"]
        rnd = random.Random(20)
        refs = {f"once-{i:02d}": Decimal(i + 1) + Decimal(rnd.randrange(1, 100000)) / 100000
                for i in range(20)}
        total = sum(refs.values(), Decimal(0))
        plan = [(ref, j) for ref in refs for j in range(10)]
        rnd.shuffle(plan)
        calls = [pay_call(pms[k % n_daemons], key, "rich", refs[ref], ref, header=(j % 2 == 1))
                 for k, (ref, j) in enumerate(plan)]
        results = fire(calls)
        bad = [(plan[k], r) for k, r in enumerate(results) if not (hasattr(r, "status") and r.status == 200)]
        assert not bad, f"{len(bad)} calls failed: {bad[:3]}"
        by_ref = {}
        for (ref, _), r in zip(plan, results):
            d = ok(r)
            assert d["user"]["username"] == "rich", d
            b = money(d["user"]["balance"])
            assert refs[ref] <= b <= total, (ref, d)
            by_ref.setdefault(ref, []).append((d["payment_id"], d["duplicate"]))
        for ref, answers in by_ref.items():
            ids = {pid for pid, _ in answers}
            assert len(ids) == 1, f"{ref}: payment IDs {ids}"
            flags = sorted(dup for _, dup in answers)
            assert flags == [False] + [True] * 9, f"{ref}: duplicate flags {flags}"
        assert len({a[0][0] for a in by_ref.values()}) == 20
        for p in pms:
            assert balance(p, key, uid) == total, (p.port, total)
        lst = payments(pms[-1], key, "rich")
        assert len(lst) == 20, [(p["external_id"], p["amount"]) for p in lst]
        assert {p["external_id"]: money(p["amount"]) for p in lst} == refs
        assert {p["external_id"]: p["id"] for p in lst} == {ref: a[0][0] for ref, a in by_ref.items()}
        assert "check: ok" in pms[0].check()
        for p in pms:
            p.stop()
    finally:
        close_all(pms)


def test_reference_race_conflicts(env):
    """One reference raced with different users, amounts and directions at
    once: exactly one variant is credited, every call of it answered with
    that payment, every call of the others 409; nothing else moves.  On
    PostgreSQL the calls go to two daemons on one database."""
    n_daemons = 2 if STORE == "postgres" else 1
    pms = instances(env, n_daemons, config())
    try:
        key = pms[0].admin_key("shop")
        pms[0].customer("alice", "10")
        pms[0].customer("bob", "10")
        for p in pms:
            p.start()
        uids = {n: user(pms[0], key, n)["id"] for n in ("alice", "bob")}
        variants = {
            "race-1": [("alice", "5", "add"), ("alice", "6", "add"), ("bob", "5", "add")],
            "race-2": [("alice", "1", "add"), ("alice", "1", "deduct"), ("bob", "1", "deduct")],
        }
        plan = [(ref, v) for ref, vs in variants.items() for v in vs for _ in range(12)]
        random.Random(3).shuffle(plan)

        def call(k, ref, v):
            name, amount, way = v
            pm = pms[k % n_daemons]
            return lambda: pm.admin("POST", f"payments/{way}", key, timeout=30,
                                    body={"username": name, "amount": amount, "external_id": ref})
        results = fire([call(k, ref, v) for k, (ref, v) in enumerate(plan)])
        want = {"alice": Decimal(10), "bob": Decimal(10)}
        for ref, vs in variants.items():
            got = {v: [r for (rf, vv), r in zip(plan, results) if rf == ref and vv == v] for v in vs}
            bad = [(v, r) for v, rs in got.items() for r in rs
                   if isinstance(r, Exception) or r.status not in (200, 409)]
            assert not bad, (ref, bad[:3])
            winners = [v for v, rs in got.items() if any(r.status == 200 for r in rs)]
            assert len(winners) == 1, (ref, {v: [r.status for r in rs] for v, rs in got.items()})
            w = winners[0]
            assert all(r.status == 200 for r in got[w]), (ref, w, [r.status for r in got[w]])
            data = [ok(r) for r in got[w]]
            assert len({d["payment_id"] for d in data}) == 1, (ref, data)
            assert sorted(d["duplicate"] for d in data) == [False] + [True] * 11, (ref, data)
            for v in vs:
                if v != w:
                    for r in got[v]:
                        err(r, 409)
            name, amount, way = w
            want[name] += Decimal(amount) if way == "add" else -Decimal(amount)
        for p in pms:
            for name, uid in uids.items():
                assert balance(p, key, uid) == want[name], (name, want)
        refs = [x["external_id"] for n in uids for x in payments(pms[0], key, n) if x["external_id"]]
        assert sorted(refs) == ["race-1", "race-2"], refs
        assert "check: ok" in pms[0].check()
        for p in pms:
            p.stop()
    finally:
        close_all(pms)


# --- 3. kill -9 with payments in flight ---------------------------------------------

def test_kill9_payments_exactly_once(env):
    """kill -9 while 200 payments with references are in flight; after a
    restart every call is retried (twice): each reference credited once,
    its payment_id the same in every answer, the balance the sum of the 200
    amounts (plus the CLI deposit before), check ok."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.customer("crash", "0.5")
        pm.start()
        uid = user(pm, key, "crash")["id"]
        refs = {f"k9-{i:03d}": Decimal(1000 + 37 * i) / 1000 + Decimal(i) / 100000 for i in range(200)}
        assert len(set(refs.values())) == 200
        want = Decimal("0.5") + sum(refs.values(), Decimal(0))
        names = sorted(refs)
        lock, answers = threading.Lock(), [0]

        killed = threading.Event()
        pid = pm.proc.pid

        def call(i):
            inner = pay_call(pm, key, "crash", refs[names[i]], names[i], header=(i % 3 == 0), timeout=60)

            def run():
                r = inner()
                with lock:
                    answers[0] += 1
                    # kill -9 from the thread that saw the 5th answer, at
                    # once: a killer thread woken for it came too late
                    # once the daemon answered all 200 first
                    if answers[0] == 5:
                        os.kill(pid, signal.SIGKILL)
                        killed.set()
                return r
            return run

        results = fire([call(i) for i in range(200)])
        assert killed.is_set(), f"the daemon was not killed: {results[:3]}"
        crash(pm)  # reaps it
        cut = [names[i] for i, r in enumerate(results) if isinstance(r, Exception)]
        odd = [(names[i], r) for i, r in enumerate(results)
               if isinstance(r, Exception) and not isinstance(r, (OSError, http.client.HTTPException))]
        assert not odd, odd[:3]
        refused = [(names[i], r) for i, r in enumerate(results) if not isinstance(r, Exception) and r.status != 200]
        assert not refused, f"{len(refused)} payments answered but not 200 before the kill: {refused[:3]}"
        before = {names[i]: ok(r)["payment_id"] for i, r in enumerate(results) if not isinstance(r, Exception)}
        print(f"# kill -9 with 200 payments in flight: {len(before)} answered, {len(cut)} cut off",
              flush=True)
        assert cut, "every payment was answered before the kill: nothing was in flight"
        pm.start()
        stored = [x for x in get(pm, key, "payments", username="crash", limit=1000)["list"]
                  if x["external_id"]]
        print(f"# after the restart: {len(stored)} of them in the store, {len(before)} answered"
              f" (the rest are credited by the retries)", flush=True)
        assert len(stored) >= len(before), (len(stored), len(before))
        first = {}
        for attempt in range(2):
            with ThreadPoolExecutor(max_workers=20) as pool:
                rs = list(pool.map(lambda i: pay_call(pm, key, "crash", refs[names[i]], names[i],
                                                      header=(i % 3 == 1))(), range(200)))
            for ref, r in zip(names, rs):
                d = ok(r)
                if ref in before:
                    assert d["payment_id"] == before[ref] and d["duplicate"] is True, (ref, before[ref], d)
                if attempt == 0:
                    first[ref] = d["payment_id"]
                else:
                    assert d["payment_id"] == first[ref] and d["duplicate"] is True, (ref, first[ref], d)
        assert len(set(first.values())) == 200
        assert balance(pm, key, uid) == want
        lst = [p for p in payments(pm, key, "crash") if p["external_id"] is not None]
        assert len(lst) == 200, len(lst)
        assert {p["external_id"]: money(p["amount"]) for p in lst} == refs
        assert {p["external_id"]: p["id"] for p in lst} == first
        assert "check: ok" in pm.check()


# --- 4. bad input writes nothing ------------------------------------------------------

def test_bad_input_writes_nothing(env):
    """Each bad request gets its status and error_code, and writes nothing:
    balances, payments and the ledger unchanged, no audit entry but a
    failed one (none for authentication failures)."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        ro = pm.admin_key("viewer", read_only=True)
        gone = pm.admin_key("gone")
        pm.customer("alice", "10")
        pm.customer("bob")
        pm.start()
        ids = {n: user(pm, key, n)["id"] for n in ("alice", "bob")}
        d = post(pm, key, "payments/add", username="alice", amount="2", external_id="ref-1")
        ref1 = d["payment_id"]
        ok(pm.admin("GET", "users", gone))
        pm.cli("admin", "key", "revoke", "gone")

        def state():
            return ({n: balance(pm, key, i) for n, i in ids.items()},
                    {n: payments(pm, key, n) for n in ids},
                    ledger_count(pm))

        start = state()
        assert start[0] == {"alice": Decimal(12), "bob": Decimal(0)}, start[0]
        big = {"username": "alice", "amount": "1", "memo": "m" * (70 * 1024)}
        J = {"Content-Type": "application/json"}
        FAILED, NONE, EITHER = "failed", "none", "none or failed"
        # (what, method, path, kwargs for pm.admin, status, audit)
        cases = [
            ("unknown user", "POST", "payments/add", dict(body={"username": "nobody", "amount": "1"}), 404, FAILED),
            ("amount zero", "POST", "payments/add", dict(body={"username": "alice", "amount": "0"}), 400, FAILED),
            ("amount 0.00000", "POST", "payments/add", dict(body={"username": "alice", "amount": "0.00000"}), 400, FAILED),
            ("amount negative", "POST", "payments/add", dict(body={"username": "alice", "amount": "-1"}), 400, FAILED),
            ("amount negative number", "POST", "payments/add", dict(body={"username": "alice", "amount": -5}), 400, FAILED),
            ("6 decimals", "POST", "payments/add", dict(body={"username": "alice", "amount": "1.000001"}), 400, FAILED),
            ("6 decimals, number", "POST", "payments/add", dict(body={"username": "alice", "amount": 0.000001}), 400, FAILED),
            ("huge number 1e12", "POST", "payments/add", dict(body={"username": "alice", "amount": 1e12}), 400, FAILED),
            ("huge 99999999999", "POST", "payments/add", dict(body={"username": "alice", "amount": "99999999999"}), 400, FAILED),
            ("over 10^10: 10000000001", "POST", "payments/add", dict(body={"username": "alice", "amount": "10000000001"}), 400, FAILED),
            ("over 10^10, deduct", "POST", "payments/deduct", dict(body={"username": "alice", "amount": "10000000001"}), 400, FAILED),
            ("exponent text", "POST", "payments/add", dict(body={"username": "alice", "amount": "1e12"}), 400, FAILED),
            ("abc", "POST", "payments/add", dict(body={"username": "alice", "amount": "abc"}), 400, FAILED),
            ("true", "POST", "payments/add", dict(body={"username": "alice", "amount": True}), 400, FAILED),
            ("null amount", "POST", "payments/add", dict(body={"username": "alice", "amount": None}), 400, FAILED),
            ("empty amount", "POST", "payments/add", dict(body={"username": "alice", "amount": ""}), 400, FAILED),
            ("amount a list", "POST", "payments/add", dict(body={"username": "alice", "amount": ["1"]}), 400, FAILED),
            ("amount missing", "POST", "payments/add", dict(body={"username": "alice"}), 400, FAILED),
            ("form amount abc", "POST", "payments/add", dict(form={"username": "alice", "amount": "abc"}), 400, FAILED),
            ("username missing", "POST", "payments/add", dict(body={"amount": "1"}), 400, FAILED),
            ("username a number", "POST", "payments/add", dict(body={"username": 12, "amount": "1"}), 400, FAILED),
            ("username a list", "POST", "payments/add", dict(body={"username": ["alice"], "amount": "1"}), 400, FAILED),
            ("body a JSON array", "POST", "payments/add", dict(raw='["alice", "1"]', headers=J), 400, EITHER),
            ("undecodable JSON", "POST", "payments/add", dict(raw='{"username": "alice", "amount": ', headers=J), 400, EITHER),
            ("body over 64 KiB", "POST", "payments/add", dict(body=big), 413, EITHER),
            ("reference, other amount", "POST", "payments/add",
             dict(body={"username": "alice", "amount": "3", "external_id": "ref-1"}), 409, FAILED),
            ("reference, other user", "POST", "payments/add",
             dict(body={"username": "bob", "amount": "2", "external_id": "ref-1"}), 409, FAILED),
            ("reference, other direction", "POST", "payments/deduct",
             dict(body={"username": "alice", "amount": "2", "external_id": "ref-1"}), 409, FAILED),
            ("reference in the header, other amount", "POST", "payments/add",
             dict(body={"username": "alice", "amount": "2.5"}, headers={"Idempotency-Key": "ref-1"}), 409, FAILED),
            ("Idempotency-Key and external_id disagree", "POST", "payments/add",
             dict(body={"username": "alice", "amount": "1", "external_id": "ref-a"},
                  headers={"Idempotency-Key": "ref-b"}), 400, FAILED),
            ("reference of 65 bytes", "POST", "payments/add",
             dict(body={"username": "alice", "amount": "1", "external_id": "r" * 65}), 400, FAILED),
            ("reference not printable ASCII", "POST", "payments/add",
             dict(body={"username": "alice", "amount": "1", "external_id": "caf\u00e9"}), 400, FAILED),
            ("deduct zero", "POST", "payments/deduct", dict(body={"username": "alice", "amount": "0"}), 400, FAILED),
            ("deduct unknown user", "POST", "payments/deduct", dict(body={"username": "nobody", "amount": "1"}), 404, FAILED),
            ("GET on a POST path", "GET", "payments/add", dict(query={"username": "alice", "amount": "1"}), 405, NONE),
            ("POST on a GET path", "POST", "users", dict(body={"username": "alice"}), 405, NONE),
            ("unknown path", "POST", "payments/credit", dict(body={"username": "alice", "amount": "1"}), 404, NONE),
            ("unknown path, GET", "GET", "nothing/here", {}, 404, NONE),
            ("unknown user ID", "GET", "users/999999", {}, 404, NONE),
            ("limit 0", "GET", "payments", dict(query={"username": "alice", "limit": "0"}), 400, NONE),
            ("limit 1001", "GET", "users", dict(query={"limit": "1001"}), 400, NONE),
            ("offset -1", "GET", "users", dict(query={"offset": "-1"}), 400, NONE),
            ("limit abc", "GET", "audit", dict(query={"limit": "abc"}), 400, NONE),
        ]
        # authentication: each counts as a failed authentication (5 of the
        # 10 allowed per minute; test_failed_auth_limit goes past them)
        auth_cases = [
            ("wrong key", "f" * 32, 401),
            ("the key in the body, not in X-Api-Key", "IN-BODY", 401),
            ("no key", None, 401),
            ("empty key", "", 401),
            ("revoked key", gone, 401),
            ("read-only key writing", ro, 403),
        ]
        last = audit(pm, key)
        mark = last[0]["id"] if last else 0

        def new_audit():
            nonlocal mark
            fresh = [a for a in audit(pm, key) if a["id"] > mark]
            if fresh:
                mark = fresh[0]["id"]
            return fresh

        failures = []
        for what, method, path, kw, status, aud in cases:
            r = pm.admin(method, path, key, **kw)
            try:
                if status == 413:
                    # refused by the HTTP layer before the body is read:
                    # libevent's own page, not the envelope (DESIGN.md)
                    assert r.status == 413, f"expected HTTP 413, got {r}"
                    msg = None
                else:
                    msg = err(r, status)
            except AssertionError as e:
                failures.append(f"{what}: {e}")
                new_audit()
                continue
            now = state()
            if now != start:
                failures.append(f"{what}: something was written: {now} != {start}")
                start = now
            fresh = new_audit()
            if aud == NONE and fresh:
                failures.append(f"{what}: audit entries {fresh}")
            elif aud == FAILED and not (len(fresh) == 1 and fresh[0]["result"] == msg
                                        and fresh[0]["action"] == path
                                        and fresh[0]["actor"] == "admin:shop"):
                failures.append(f"{what}: expected one failed {path} entry by admin:shop with result "
                                f"{msg!r}, got {fresh}")
            elif aud == EITHER and not (len(fresh) <= 1 and all(a["result"] != "ok" for a in fresh)):
                failures.append(f"{what}: expected at most one failed entry, got {fresh}")
        for what, k, status in auth_cases:
            if k == "IN-BODY":
                r = pm.admin("POST", "payments/add", None, query={"key": key, "api_key": key},
                             body={"username": "alice", "amount": "1", "key": key, "api_key": key})
            else:
                r = pm.admin("POST", "payments/add", k, body={"username": "alice", "amount": "1"})
            try:
                err(r, status)
            except AssertionError as e:
                failures.append(f"{what}: {e}")
            if state() != start:
                failures.append(f"{what}: something was written")
            fresh = new_audit()
            if status == 401 and fresh:
                failures.append(f"{what}: audit entries for a failed authentication: {fresh}")
            if status == 403 and not (len(fresh) <= 1 and all(a["result"] != "ok" for a in fresh)):
                failures.append(f"{what}: expected at most one failed entry, got {fresh}")
        # the read-only key reads
        try:
            assert balance(pm, ro, ids["alice"]) == Decimal(12)
            ok(pm.admin("GET", "payments", ro, query={"username": "alice"}))
            ok(pm.admin("GET", "audit", ro))
        except AssertionError as e:
            failures.append(f"read-only key reading: {e}")
        # admin paths are never served on the customers' listener
        for method, path, kw in [("POST", "payments/add", dict(body={"username": "alice", "amount": "1"})),
                                 ("GET", "users", {}), ("GET", "check", {})]:
            r = pm.admin(method, path, key, port=pm.port, **kw)
            if r.status != 404 or b"alice" in r.body:
                failures.append(f"{method} {path} on the customers' listener: {r}")
        if state() != start:
            failures.append("the customers' listener wrote something")
        if new_audit():
            failures.append("the customers' listener left audit entries")
        assert not failures, "\n".join(failures)

        # the control: the same request made right credits, once
        d = post(pm, key, "payments/add", username="alice", amount="1.00001", external_id="ref-2")
        assert money(d["user"]["balance"]) == Decimal("13.00001") and d["duplicate"] is False, d
        assert d["payment_id"] != ref1
        assert balance(pm, key, ids["alice"]) == Decimal("13.00001")
        assert ledger_count(pm) == start[2] + 1
        a = new_audit()
        assert len(a) == 1 and a[0]["result"] == "ok" and a[0]["action"] == "payments/add" \
            and a[0]["target"] == "alice", a
        assert "check: ok" in pm.check()


def from_address(src, port, path, headers):
    """GET PATH on PORT from source address SRC (another loopback address)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(src, 0))
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return harness.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def test_failed_auth_limit(env):
    """Failed authentications from one address: 10 pass as 401, then 429
    (the envelope) until the bucket refills (10 a minute), and then even a
    valid key from that address is refused; other addresses' keys and the
    customers' listener are not affected."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        ckey = pm.customer("alice", "1")
        pm.start()
        ok(pm.admin("GET", "check", key))
        statuses = []
        t0 = time.monotonic()
        for i in range(40):
            k = [None, "wrong", "f" * 64][i % 3]
            r = pm.admin("GET", "users", k)
            statuses.append(r.status)
            if r.status == 429:
                err(r, 429)
                break
            err(r, 401)
        elapsed = time.monotonic() - t0
        # now a valid key from this address is refused too, before it is looked at
        r = pm.admin("GET", "users", key)
        # 10 as burst, plus what refilled meanwhile (one each 6 s)
        allowed = 10 + int(elapsed / 6) + 1
        assert 429 in statuses, statuses
        assert 10 <= statuses.index(429) <= allowed, (statuses, elapsed)
        err(r, 429)
        assert b"alice" not in r.body
        # another address is not limited
        r = from_address("127.0.0.2", pm.admin_port, "/adminapi/v2/users", {"X-Api-Key": key})
        assert r.status == 200 and b"alice" in r.body, r
        # the customers' API is another matter
        assert pm.api(key=ckey, action="balance")["balance"] == "1.00000"
        # and nothing was audited but the CLI's writes
        out = pm.cli("audit").stdout
        acts = re.findall(r"(?:users|payments|keys|orders)/[a-z-]+", out)
        assert sorted(acts) == ["keys/add", "payments/add", "users/add"], out


def test_valid_key_concurrency_not_limited(env):
    """Good keys are never failed authentications: 60 concurrent requests
    with a valid key from one address all answer 200 (the failure bucket
    holds 10), and a wrong key after them still gets 401, not 429."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.customer("alice", "1")
        pm.start()
        for round_ in range(2):
            results = fire([lambda: pm.admin("GET", "users", key, query={"username": "alice"}, timeout=30)
                            for _ in range(60)])
            statuses = [r.status if hasattr(r, "status") else repr(r) for r in results]
            bad = [s for s in statuses if s != 200]
            assert not bad, f"round {round_}: {len(bad)} of 60 not 200: {sorted(set(map(str, bad)))} " \
                f"({next((r.body for r in results if hasattr(r, 'status') and r.status != 200), b'')!r})"
        err(pm.admin("GET", "users", "wrong-key"), 401)


def test_body_limit(env):
    """A body of 64 KiB is read; one byte more is 413 (libevent's own page:
    the body is refused unread, DESIGN.md "Admin API"), nothing written."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.customer("alice")
        pm.start()
        uid = user(pm, key, "alice")["id"]

        def body(size):
            head = '{"username": "alice", "amount": "1", "memo": "'
            tail = '"}'
            text = head + "m" * (size - len(head) - len(tail)) + tail
            assert len(text.encode()) == size
            return text
        J = {"Content-Type": "application/json"}
        r = pm.admin("POST", "payments/add", key, raw=body(64 * 1024), headers=J)
        assert r.status != 413, r
        assert r.headers.get("content-type", "").startswith("application/json"), r
        if r.status != 200:
            err(r, r.status)          # a memo too long for the store, say: the envelope
        n = len(payments(pm, key, "alice"))
        r = pm.admin("POST", "payments/add", key, raw=body(64 * 1024 + 1), headers=J)
        assert r.status == 413, r
        r = pm.admin("POST", "payments/add", key,
                     form={"username": "alice", "amount": "1", "memo": "m" * (65 * 1024)})
        assert r.status == 413, r
        assert len(payments(pm, key, "alice")) == n
        assert balance(pm, key, uid) == n


def raw_exchange(port, data, timeout=10.0):
    """Send DATA on a fresh connection, read until the server closes it
    or goes quiet; returns the bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        s.sendall(data)
        s.settimeout(2.0)
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got


def test_bad_framing(env):
    """A request whose length two readings could disagree on (two
    Content-Lengths, one beside Transfer-Encoding) is refused with 400 and
    nothing behind it is acted on: no payment."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.customer("alice")
        pm.start()
        uid = user(pm, key, "alice")["id"]
        inner = json.dumps({"username": "alice", "amount": "7"})
        smuggled = (f"POST /adminapi/v2/payments/add HTTP/1.1\r\nHost: t\r\nX-Api-Key: {key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(inner)}\r\n\r\n{inner}").encode()
        outer = json.dumps({"username": "alice", "amount": "1"}).encode()
        n = len(outer)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (n, outer)

        def head(*lines):
            return ("POST /adminapi/v2/payments/add HTTP/1.1\r\nHost: t\r\n"
                    f"X-Api-Key: {key}\r\nContent-Type: application/json\r\n" +
                    "".join(l + "\r\n" for l in lines) + "\r\n").encode()
        cases = [
            ("two different lengths", head(f"Content-Length: {n}", f"Content-Length: {n + len(smuggled)}")
             + outer + smuggled),
            ("two equal lengths", head(f"Content-Length: {n}", f"Content-Length: {n}") + outer + smuggled),
            ("a signed length", head(f"Content-Length: +{n}") + outer + smuggled),
            ("length and chunked", head("Transfer-Encoding: chunked", f"Content-Length: {len(chunked)}")
             + chunked + smuggled),
        ]
        for what, data in cases:
            got = raw_exchange(pm.admin_port, data)
            assert got.startswith(b"HTTP/1.1 400"), (what, got[:300])
            assert got.count(b"HTTP/1.1 ") == 1, (what, got[:600])
            if b"Transfer-Encoding" not in data.split(b"\r\n\r\n")[0]:
                body = got.split(b"\r\n\r\n", 1)[1]
                e = json.loads(body)
                assert e["error_code"] == 400 and e["data"] is None, (what, e)
        assert balance(pm, key, uid) == 0 and payments(pm, key, "alice") == []
        # the plain framings work
        got = raw_exchange(pm.admin_port, head(f"Content-Length: {n}", "Connection: close") + outer)
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        got = raw_exchange(pm.admin_port, head("Transfer-Encoding: chunked", "Connection: close") + chunked)
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        assert balance(pm, key, uid) == 2


def test_list_defaults(env):
    """limit defaults to 100, offset to 0; a page past the end is empty."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.customer("ivy")
        pm.start()
        ids = [post(pm, key, "payments/add", username="ivy", amount=str(i + 1))["payment_id"]
               for i in range(105)]
        d = get(pm, key, "payments", username="ivy")
        assert d["count"] == 100 == len(d["list"]), d["count"]
        assert [p["id"] for p in d["list"]] == ids[::-1][:100]
        d = get(pm, key, "payments", username="ivy", offset=100)
        assert [p["id"] for p in d["list"]] == ids[::-1][100:], d
        assert [money(p["amount"]) for p in d["list"]] == [Decimal(5), Decimal(4), Decimal(3), Decimal(2), Decimal(1)]
        d = get(pm, key, "payments", username="ivy", limit=1000)
        assert d["count"] == 105, d["count"]
        assert get(pm, key, "payments", username="ivy", offset=105) == {"count": 0, "list": []}
        assert get(pm, key, "audit")["count"] == 100
        assert balance(pm, key, user(pm, key, "ivy")["id"]) == Decimal(105 * 106 // 2)


def test_money_decimals_two(env):
    """With money.decimals: 2, replies carry 2 decimals and a third is refused."""
    cfg = alpha_config(level="debug", extra="money:\n  decimals: 2\n")
    with Panelmux(env, config=cfg) as pm:
        key = pm.admin_key("shop")
        pm.customer("jon")
        pm.start()
        d = post(pm, key, "payments/add", username="jon", amount="1.5")
        assert d["user"]["balance"] == "1.50", d
        d = post(pm, key, "payments/add", username="jon", amount=2.25)
        assert d["user"]["balance"] == "3.75", d
        err(pm.admin("POST", "payments/add", key, body={"username": "jon", "amount": "1.005"}), 400)
        err(pm.admin("POST", "payments/add", key, body={"username": "jon", "amount": 0.001}), 400)
        d = post(pm, key, "payments/deduct", username="jon", amount="0.75")
        assert d["user"]["balance"] == "3.00", d
        lst = get(pm, key, "payments", username="jon")["list"]
        assert [p["amount"] for p in lst] == ["-0.75", "2.25", "1.50"], lst
        assert get(pm, key, "users", username="jon")["list"][0]["balance"] == "3.00"
        assert "check: ok" in pm.check()


# --- 5. users ------------------------------------------------------------------------

def test_users(env):
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.start()
        d = post(pm, key, "users/add", username="carol")
        assert set(d) >= {"user", "api_key"}, d
        carol = check_user(d["user"], "carol")
        ckey = d["api_key"]
        assert isinstance(ckey, str) and len(ckey) >= 16, d
        assert carol["status"] == "active" and money(carol["balance"]) == 0, carol
        # the key works on the customers' API
        assert pm.api(key=ckey, action="balance") == {"balance": "0.00000", "currency": "USD"}
        # and is never shown again, nor its hash
        digest = hashlib.sha256(ckey.encode()).digest()
        secrets = [ckey, digest.hex(), base64.b64encode(digest).decode()]
        one = check_user(get(pm, key, f"users/{carol['id']}"), "carol")
        assert {k: one[k] for k in USER_FIELDS} == {k: carol[k] for k in USER_FIELDS}, (one, carol)
        for path, query in [(f"users/{carol['id']}", None), ("users", None), ("users", {"username": "carol"}),
                            ("audit", None)]:
            r = pm.admin("GET", path, key, query=query)
            ok(r)
            text = r.body.decode()
            for s in secrets:
                assert s not in text, f"{path} shows the key or its hash"
        # duplicate and bad names
        err(pm.admin("POST", "users/add", key, body={"username": "carol"}), 409)
        err(pm.admin("POST", "users/add", key, body={"username": "bad name!"}), 400)
        err(pm.admin("POST", "users/add", key, body={"username": "x" * 65}), 400)
        err(pm.admin("POST", "users/add", key, body={}), 400)
        err(pm.admin("POST", "users/add", key, body={"username": 7}), 400)
        # a list, filtered and paged
        names = ["carol"] + [f"user{i:02d}" for i in range(12)]
        for n in names[1:]:
            ok(pm.admin("POST", "users/add", key, form={"username": n}))   # a form body too
        full = get(pm, key, "users", limit=1000)
        assert full["count"] == len(full["list"]) == len(names), full
        assert sorted(u["username"] for u in full["list"]) == sorted(names)
        for u in full["list"]:
            check_user(u)
        paged = []
        for off in range(0, 15, 5):
            page = get(pm, key, "users", limit=5, offset=off)
            assert page["count"] == len(page["list"]) == min(5, len(names) - off), (off, page)
            paged += page["list"]
        assert paged == full["list"], "limit/offset pages differ from the whole list"
        assert get(pm, key, "users", limit=5, offset=13) == {"count": 0, "list": []}
        assert [u["username"] for u in get(pm, key, "users", username="user07")["list"]] == ["user07"]
        assert get(pm, key, "users", username="nobody")["list"] == []
        # disable: the customer's key is refused at once; enable: accepted again
        d = post(pm, key, "users/disable", username="carol")
        assert check_user(d, "carol")["status"] == "disabled", d
        assert pm.api(key=ckey, action="balance") == {"error": "Invalid API key"}
        assert get(pm, key, f"users/{carol['id']}")["status"] == "disabled"
        dis = get(pm, key, "users", status="disabled")["list"]
        assert [u["username"] for u in dis] == ["carol"], dis
        act = get(pm, key, "users", status="active", limit=1000)["list"]
        assert sorted(u["username"] for u in act) == sorted(names[1:]), act
        d = post(pm, key, "users/enable", username="carol")
        assert d["status"] == "active", d
        assert pm.api(key=ckey, action="balance")["balance"] == "0.00000"
        err(pm.admin("POST", "users/disable", key, body={"username": "nobody"}), 404)
        err(pm.admin("POST", "users/enable", key, body={}), 400)
        # rotate: the old key refused, the new one works
        d = post(pm, key, "users/rotate-key", username="carol")
        new = d["api_key"]
        assert check_user(d["user"], "carol") and new != ckey, d
        assert pm.api(key=ckey, action="balance") == {"error": "Invalid API key"}
        assert pm.api(key=new, action="balance")["balance"] == "0.00000"
        err(pm.admin("POST", "users/rotate-key", key, body={"username": "nobody"}), 404)
        # the CLI sees what the API did
        assert re.search(r"^carol\s", pm.cli("customer", "list").stdout, re.M)
        # the audit: each write, by admin:shop, without the keys
        trail = audit(pm, key, actor="admin:shop")
        assert all(a["actor"] == "admin:shop" for a in trail), trail
        acts = [(a["action"], a["target"], a["result"]) for a in reversed(trail)
                if a["target"] == "carol"]
        assert acts == [("users/add", "carol", "ok"), ("users/add", "carol", acts[1][2]),
                        ("users/disable", "carol", "ok"), ("users/enable", "carol", "ok"),
                        ("users/rotate-key", "carol", "ok")], acts
        assert acts[1][2] != "ok", acts
        assert len([a for a in trail if a["action"] == "users/add" and a["result"] == "ok"]) == len(names)
        for a in trail:
            for s in secrets + [new, key]:
                assert s not in json.dumps(a), f"the audit shows a key: {a}"
        assert "check: ok" in pm.check()
        log = pm.log()
    assert_no_secret(log, ckey, new, key)


def test_users_add_race(env):
    """20 concurrent users/add of one name (two daemons on PostgreSQL):
    one 200 with a working key, 19 x 409."""
    n_daemons = 2 if STORE == "postgres" else 1
    pms = instances(env, n_daemons, config())
    try:
        key = pms[0].admin_key("shop")
        for p in pms:
            p.start()
        results = fire([(lambda p: lambda: p.admin("POST", "users/add", key, body={"username": "kim"}, timeout=30))(
            pms[i % n_daemons]) for i in range(20)])
        statuses = sorted(r.status if hasattr(r, "status") else repr(r) for r in results)
        assert statuses == [200] + [409] * 19, statuses
        won = next(ok(r) for r in results if r.status == 200)
        for r in results:
            if r.status == 409:
                err(r, 409)
        for p in pms:
            assert p.api(key=won["api_key"], action="balance")["balance"] == "0.00000"
        lst = get(pms[0], key, "users", limit=1000)["list"]
        assert [u["username"] for u in lst] == ["kim"], lst
        for p in pms:
            p.stop()
    finally:
        close_all(pms)


# --- 6. deductions -----------------------------------------------------------------

def test_payments_deduct(env):
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        ckey = pm.customer("dave")
        pm.start()
        uid = user(pm, key, "dave")["id"]
        d = post(pm, key, "payments/add", username="dave", amount="10", method="Bank")
        assert money(d["user"]["balance"]) == 10
        n_ledger = ledger_count(pm)
        # never below zero
        err(pm.admin("POST", "payments/deduct", key, body={"username": "dave", "amount": "10.00001"}), 409)
        assert balance(pm, key, uid) == 10 and ledger_count(pm) == n_ledger
        assert len(payments(pm, key, "dave")) == 1
        d = post(pm, key, "payments/deduct", username="dave", amount="3.33333", memo="chargeback",
                 external_id="cb-1")
        assert d["duplicate"] is False and money(d["user"]["balance"]) == Decimal("6.66667"), d
        # the same reference again: no second deduction
        d2 = post(pm, key, "payments/deduct", username="dave", amount="3.33333", external_id="cb-1")
        assert d2["duplicate"] is True and d2["payment_id"] == d["payment_id"], d2
        assert money(d2["user"]["balance"]) == Decimal("6.66667"), d2
        # to exactly zero, then not one unit more
        d = post(pm, key, "payments/deduct", username="dave", amount=6.66667)
        assert d["user"]["balance"] == "0.00000", d
        err(pm.admin("POST", "payments/deduct", key, form={"username": "dave", "amount": "0.00001"}), 409)
        assert balance(pm, key, uid) == 0 and customer_balance(pm, ckey) == 0
        lst = payments(pm, key, "dave")
        assert [money(p["amount"]) for p in lst] == [Decimal("-6.66667"), Decimal("-3.33333"), Decimal(10)], lst
        assert lst[1]["external_id"] == "cb-1" and lst[1]["memo"] == "chargeback", lst
        # the CLI's funding and withdrawal are payments by "cli", audited as such
        pm.cli("customer", "fund", "dave", "2.5", "--note", "cli top-up")
        pm.cli("customer", "fund", "dave", "-0.5")
        assert balance(pm, key, uid) == 2
        lst = payments(pm, key, "dave")
        assert [(money(p["amount"]), p["by"]) for p in lst[:2]] == [(Decimal("-0.5"), "cli"), (Decimal("2.5"), "cli")], lst
        cli = audit(pm, key, actor="cli")
        acts = [(a["action"], a["target"], a["result"]) for a in cli]
        assert acts[:2] == [("payments/deduct", "dave", "ok"), ("payments/add", "dave", "ok")], acts
        trail = audit(pm, key, actor="admin:shop")
        acts = [(a["action"], a["result"] == "ok") for a in reversed(trail)]
        want = [("payments/add", True), ("payments/deduct", False), ("payments/deduct", True),
                ("payments/deduct", True), ("payments/deduct", True), ("payments/deduct", False)]
        # The duplicate answer (the fourth) was a success (HTTP 200): its
        # entry, if any, says ok, or names the first payment (the contract
        # has "ok or the error sentence"; a note naming the payment is not
        # an error either).
        dup = [a for a in reversed(trail)][3]
        if dup["result"] == f"duplicate of payment {d2['payment_id']}":
            acts[3] = ("payments/deduct", True)
        assert acts in (want, want[:3] + want[4:]), (acts, [a["result"] for a in reversed(trail)])
        assert all(a["target"] == "dave" for a in trail), trail
        assert "check: ok" in pm.check()


# --- 7. orders -----------------------------------------------------------------------

def rates(pm, ckey):
    """The customers' rates by service, once both upstreams' catalogues
    (alpha 1..20, beta 101..120) are in."""
    def both():
        r = {s["service"]: Decimal(s["rate"]) for s in pm.api(key=ckey, action="services")}
        return r if 1 in r and 101 in r else None
    return wait_for(both, what="both catalogues imported")


def add_order(pm, ckey, service, link, quantity):
    r = pm.api(key=ckey, action="add", service=service, link=link, quantity=quantity)
    assert "order" in r, r
    return r["order"]


def upstream_id(fp, link):
    adds = [c for c in fp.calls() if c["action"] == "add" and c["params"].get("link") == link]
    assert len(adds) == 1, adds
    return str(adds[0]["order"])


def unix(t):
    return calendar.timegm(time.strptime(t, "%Y-%m-%d %H:%M:%S"))


def order_ids(pm, key, **query):
    d = get(pm, key, "orders", limit=1000, **query)
    assert d["count"] == len(d["list"]), d
    for o in d["list"]:
        assert ORDER_FIELDS <= set(o), o
    return [o["id"] for o in d["list"]]


def test_orders_list_and_detail(env):
    with FakePanel(env, services=20) as fa, FakePanel(env, services=20) as fb:
        pm = Panelmux(env, config=two_upstreams_config(fb.port), up_port=fa.port)
        with pm:
            key = pm.admin_key("shop")
            ann = pm.customer("ann", "100")
            ben = pm.customer("ben", "100")
            pm.start()
            rate = rates(pm, ann)
            plan = {}   # local order -> (user, service, quantity, link, upstream)

            def place(ckey, who, service, qty):
                link = f"https://x.example/{who}/{len(plan)}"
                o = add_order(pm, ckey, service, link, qty)
                plan[o] = (who, service, qty, link, "beta" if service > 100 else "alpha")
                return o
            t_first = time.time()
            o1 = place(ann, "ann", 1, 1000)
            o2 = place(ben, "ben", 3, 1000)
            o3 = place(ann, "ann", 101, 1000)
            sec = int(time.time())
            # the next second on the daemon's clock too: time(3) reads the
            # coarse clock, a few ms behind this one at the boundary
            wait_for(lambda: time.time() > sec + 1.05, what="the next second")
            o4 = place(ben, "ben", 1, 2000)
            o5 = place(ann, "ann", 101, 1500)
            t_last = time.time()
            charge = {o: q(rate[s] * qty / 1000) for o, (_, s, qty, _, _) in plan.items()}
            # the upstream's order IDs, known once each add was answered
            wait_for(lambda: all(get(pm, key, f"orders/{o}")["status"] == "active" for o in plan),
                     what="all orders active")
            fa.control(op="set", order=upstream_id(fa, plan[o1][3]), status="Completed", remains=0)
            wait_for(lambda: get(pm, key, f"orders/{o1}")["status"] == "completed", what="o1 completed")
            rows = {o["id"]: o for o in get(pm, key, "orders", limit=1000)["list"]}
            assert sorted(rows) == sorted(plan), rows
            for o, (who, service, qty, link, up) in plan.items():
                row = rows[o]
                assert ORDER_FIELDS <= set(row), row
                assert (row["user"], row["service_id"], row["quantity"], row["type"]) == \
                    (who, service, qty, "Default"), row
                assert row["user_id"] == user(pm, key, who)["id"], row
                assert money(row["charge"]) == charge[o] and money(row["refunded"]) == 0, (row, charge[o])
                assert (row["runs"], row["interval"]) == (0, 0), row
                assert row["status"] == ("completed" if o == o1 else "active"), row
                assert TIME.fullmatch(row["created"]) and TIME.fullmatch(row["last_update"]), row
                assert t_first - 2 <= unix(row["created"]) <= t_last + 2, (row, t_first, t_last)
            # filters
            assert set(order_ids(pm, key, user="ann")) == {o1, o3, o5}
            assert set(order_ids(pm, key, user="ben")) == {o2, o4}
            assert order_ids(pm, key, order_status="completed") == [o1]
            assert set(order_ids(pm, key, order_status="active")) == {o2, o3, o4, o5}
            assert order_ids(pm, key, order_status="canceled") == []
            assert set(order_ids(pm, key, service_ids="1")) == {o1, o4}
            assert set(order_ids(pm, key, service_ids="1,101")) == {o1, o3, o4, o5}
            assert order_ids(pm, key, service_ids="3") == [o2]
            assert set(order_ids(pm, key, upstream="beta")) == {o3, o5}
            assert set(order_ids(pm, key, upstream="alpha")) == {o1, o2, o4}
            assert set(order_ids(pm, key, user="ann", upstream="alpha")) == {o1}
            created = {o: unix(rows[o]["created"]) for o in plan}
            t = created[o4]
            assert t > created[o1], created
            assert set(order_ids(pm, key, created_from=t)) == {o for o in plan if created[o] >= t}
            assert set(order_ids(pm, key, created_to=t)) == {o for o in plan if created[o] < t}
            assert set(order_ids(pm, key, created_from=created[o1], created_to=created[o1] + 1)) == \
                {o for o in plan if created[o] == created[o1]}
            # sort and paging
            desc = order_ids(pm, key)
            asc = order_ids(pm, key, sort="date-asc")
            assert order_ids(pm, key, sort="date-desc") == desc
            assert [created[o] for o in desc] == sorted((created[o] for o in desc), reverse=True), desc
            assert [created[o] for o in asc] == sorted(created[o] for o in asc), asc
            assert desc[0] in (o4, o5) and asc[0] in (o1, o2, o3), (desc, asc)
            pages = []
            for off in (0, 2, 4):
                page = get(pm, key, "orders", limit=2, offset=off)
                assert page["count"] == len(page["list"]) == (2 if off < 4 else 1), page
                pages += [o["id"] for o in page["list"]]
            assert pages == desc
            # keyset paging: each page below the last ID seen (newest
            # first), or above it with date-asc; the same order as offsets
            pages, last = [], 0
            while True:
                page = get(pm, key, "orders", limit=2, **({"before_id": last} if last else {}))
                if not page["list"]:
                    break
                pages += [o["id"] for o in page["list"]]
                last = pages[-1]
            assert pages == sorted(desc, reverse=True) and set(pages) == set(desc), (pages, desc)
            pages, last = [], 0
            while True:
                page = get(pm, key, "orders", limit=2, sort="date-asc", after_id=last)
                if not page["list"]:
                    break
                pages += [o["id"] for o in page["list"]]
                last = pages[-1]
            assert pages == sorted(desc), pages
            assert order_ids(pm, key, user="ann", before_id=o5) == sorted({o1, o3}, reverse=True)
            err(pm.admin("GET", "orders", key, query={"before_id": "x"}), 400)
            err(pm.admin("GET", "orders", key, query={"limit": "0"}), 400)
            err(pm.admin("GET", "orders", key, query={"created_from": "yesterday"}), 400)
            # one order in full
            d = get(pm, key, f"orders/{o4}")
            assert d["id"] == o4 and money(d["charge"]) == charge[o4] and "provider" not in d, d
            assert d["fields"]["link"] == plan[o4][3], d
            d = get(pm, key, f"orders/{o4}", include="provider")
            pv = d["provider"]
            assert pv["upstream"] == "alpha" and str(pv["service"]) == "1", pv
            assert str(pv["order"]) == upstream_id(fa, plan[o4][3]), (pv, fa.calls())
            led = d["ledger"]
            assert [(e["kind"], money(e["amount"])) for e in led] == [("charge", -charge[o4])], led
            assert all(TIME.fullmatch(e["created"]) for e in led), led
            d = get(pm, key, f"orders/{o5}", include="provider")
            assert d["provider"]["upstream"] == "beta" and str(d["provider"]["order"]) == \
                upstream_id(fb, plan[o5][3]), d
            err(pm.admin("GET", "orders/999999", key), 404)
            # the customers' balances, independently
            for ckey, who in ((ann, "ann"), (ben, "ben")):
                spent = sum((charge[o] for o, p in plan.items() if p[0] == who), Decimal(0))
                assert customer_balance(pm, ckey) == 100 - spent
                assert balance(pm, key, user(pm, key, who)["id"]) == 100 - spent
            assert "check: ok" in pm.check()


def test_orders_resolve_and_cancel(env):
    with FakePanel(env, services=20) as fa, FakePanel(env, services=20) as fb:
        pm = Panelmux(env, config=two_upstreams_config(fb.port), up_port=fa.port)
        with pm:
            key = pm.admin_key("shop")
            ck = pm.customer("eve", "50")
            pm.start()
            rate = rates(pm, ck)
            c1000 = q(rate[1])
            # two adds whose outcome is unknown (the panel takes them, then
            # closes the connection): left sending, funds reserved
            fa.fault("add", "close")
            x = add_order(pm, ck, 1, "https://x.example/doubt-refund", 1000)
            y = add_order(pm, ck, 1, "https://x.example/doubt-found", 1000)
            w = add_order(pm, ck, 1, "https://x.example/doubt-json", 1000)
            fa.fault("add", "none")
            for o in (x, y, w):
                wait_for(lambda: get(pm, key, f"orders/{o}")["status"] == "sending", what=f"{o} in doubt")
            assert customer_balance(pm, ck) == 50 - 3 * c1000
            assert set(order_ids(pm, key, order_status="sending")) == {x, y, w}
            # refund
            d = post(pm, key, "orders/resolve", id=x, refund=True)
            # the contract names no state for it: refunded, or rejected
            # (the state of an order refunded in full without running)
            assert d["id"] == x and d["status"] in ("refunded", "rejected"), d
            assert money(d["refunded"]) == c1000, d
            assert get(pm, key, f"orders/{x}")["status"] == d["status"]
            assert customer_balance(pm, ck) == 50 - 2 * c1000
            led = get(pm, key, f"orders/{x}", include="provider")["ledger"]
            assert sorted((e["kind"], money(e["amount"])) for e in led) == \
                [("charge", -c1000), ("refund", c1000)], led
            # found upstream (a form body)
            up = upstream_id(fa, "https://x.example/doubt-found")
            d = ok(pm.admin("POST", "orders/resolve", key, form={"id": str(y), "upstream_order": up}))
            assert d["id"] == y and d["status"] == "active" and money(d["refunded"]) == 0, d
            pv = get(pm, key, f"orders/{y}", include="provider")["provider"]
            assert pv["upstream"] == "alpha" and str(pv["order"]) == up, pv
            assert customer_balance(pm, ck) == 50 - 2 * c1000
            # not in doubt any more, or never
            z = add_order(pm, ck, 1, "https://x.example/plain", 1000)
            wait_for(lambda: get(pm, key, f"orders/{z}")["status"] == "active", what="z active")
            n_ledger = ledger_count(pm)
            err(pm.admin("POST", "orders/resolve", key, body={"id": x, "refund": True}), 409)
            err(pm.admin("POST", "orders/resolve", key, body={"id": y, "refund": True}), 409)
            err(pm.admin("POST", "orders/resolve", key, body={"id": z, "upstream_order": "777"}), 409)
            err(pm.admin("POST", "orders/resolve", key, body={"id": 999999, "refund": True}), 404)
            err(pm.admin("POST", "orders/resolve", key, body={"id": z}), 400)
            err(pm.admin("POST", "orders/resolve", key, body={"refund": True}), 400)
            assert ledger_count(pm) == n_ledger
            assert customer_balance(pm, ck) == 50 - 3 * c1000
            # cancel: two of eve's active orders and an unknown one
            c = add_order(pm, ck, 1, "https://x.example/cancel-me", 1000)
            wait_for(lambda: get(pm, key, f"orders/{c}")["status"] == "active", what="c active")
            d = post(pm, key, "orders/cancel", ids=[z, c, 999999])
            res = {e["id"]: e for e in d["list"]}
            assert set(res) == {z, c, 999999}, d
            assert res[z]["result"] in ("requested", "canceled") and res[c]["result"] in ("requested", "canceled"), d
            assert res[999999]["result"] == "error" and res[999999]["error"], d
            for o in (z, c):
                wait_for(lambda: get(pm, key, f"orders/{o}")["status"] == "canceled", what=f"{o} canceled")
            wait_for(lambda: customer_balance(pm, ck) == 50 - 2 * c1000, what="cancel refunds")
            for o in (z, c):
                assert money(get(pm, key, f"orders/{o}")["refunded"]) == c1000
            # once canceled, a cancel is an error for that ID (a comma list)
            d = ok(pm.admin("POST", "orders/cancel", key, form={"ids": f"{z},{c}"}))
            assert [e["result"] for e in d["list"]] == ["error", "error"], d
            err(pm.admin("POST", "orders/cancel", key, body={"ids": list(range(1, 102))}), 400)
            err(pm.admin("POST", "orders/cancel", key, body={"ids": []}), 400)
            err(pm.admin("POST", "orders/cancel", key, body={}), 400)
            # the audit
            trail = audit(pm, key, actor="admin:shop")
            acts = [(a["action"], str(a["target"]), a["result"] == "ok") for a in reversed(trail)]
            assert acts[:2] == [("orders/resolve", str(x), True), ("orders/resolve", str(y), True)], acts
            # the refused resolves: 409 x 3 and 404 at least (the 400s are
            # test_bad_input_writes_nothing's matter)
            refused = [a for a in acts if a[0] == "orders/resolve" and not a[2]]
            assert [t for _, t, _ in refused[:4]] == [str(x), str(y), str(z), "999999"], acts
            # the cancels: the first (one ID of three unknown) with its IDs;
            # its result ok or what was not canceled
            cancels = [a for a in reversed(trail) if a["action"] == "orders/cancel"]
            assert cancels, acts
            assert all(str(i) in json.dumps(cancels[0]["detail"]) for i in (z, c, 999999)), cancels[0]
            assert cancels[0]["result"] == "ok" or "not canceled" in cancels[0]["result"], cancels[0]
            # found upstream, told in JSON numbers: the upstream's order ID
            # as a number, refund 0 (no) beside it
            up_w = upstream_id(fa, "https://x.example/doubt-json")
            d = post(pm, key, "orders/resolve", id=w, upstream_order=int(up_w), refund=0)
            assert d["id"] == w and d["status"] == "active", d
            pv = get(pm, key, f"orders/{w}", include="provider")["provider"]
            assert str(pv["order"]) == up_w, (pv, up_w)
            assert customer_balance(pm, ck) == 50 - 2 * c1000
            err(pm.admin("POST", "orders/resolve", key, body={"id": w, "refund": True}), 409)
            assert "check: ok" in pm.check()


# --- 8. read-only views -----------------------------------------------------------

def test_views(env):
    with FakePanel(env, services=20) as fa, FakePanel(env, services=20) as fb:
        pm = Panelmux(env, config=two_upstreams_config(fb.port), up_port=fa.port)
        with pm:
            key = pm.admin_key("shop")
            ro = pm.admin_key("viewer", read_only=True)
            ck = pm.customer("fay", "100")
            pm.start()
            rate = rates(pm, ck)
            up_rate = {s["service"]: Decimal(s["rate"]) for s in json.loads(fa.api(action="services", key="upstream-secret").body)}
            # /services: each route with its cost (the upstream's rate), our rate and the margin
            form = []   # money not written with money.decimals places: asserted last

            def amount(where, v):
                assert isinstance(v, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", v), (where, v)
                if not MONEY.fullmatch(v):
                    form.append(f"{where}: {v!r}")
                return Decimal(v)
            svcs = {s["id"]: s for s in get(pm, ro, "services")["list"]}
            assert set(svcs) == set(rate), (sorted(svcs), sorted(rate))
            for sid in (1, 3, 101):
                s = svcs[sid]
                assert amount(f"services {sid} rate", s["rate"]) == rate[sid], s
                assert len(s["routes"]) == 1, s
                rt = s["routes"][0]
                assert rt["upstream"] == ("beta" if sid > 100 else "alpha") and str(rt["service"]) == str(sid % 100), rt
                cost = up_rate[sid % 100]
                rc, rr, rm = (amount(f"services {sid} route {k}", rt[k]) for k in ("cost", "rate", "margin"))
                assert rc == cost and rr == rate[sid], (rt, cost, rate[sid])
                assert rm == rr - rc, rt
            # /upstreams
            ups = {u["name"]: u for u in get(pm, ro, "upstreams")["list"]}
            assert set(ups) == {"alpha", "beta"}, ups
            for u in ups.values():
                assert u["circuit"] == "closed" and u["currency"] == "USD" and u["services"] == 20, u
                assert u["last_sync"] is not None and TIME.fullmatch(u["last_sync"]), u
                assert u["balance"] is None or amount(f"upstreams {u['name']} balance", u["balance"]) >= 0, u
            # /report: three orders on alpha:1, one on alpha:3, one on beta's 101
            placed = [(1, 1000), (1, 1000), (1, 2000), (3, 1000), (101, 1000)]
            oids = [add_order(pm, ck, s, f"https://x.example/rep{i}", n) for i, (s, n) in enumerate(placed)]
            wait_for(lambda: all(get(pm, key, f"orders/{o}")["status"] == "active" for o in oids),
                     what="orders active")
            want = {}
            for sid, n in placed:
                ch = q(rate[sid] * n / 1000)
                cost = q(ch * up_rate[sid % 100] / rate[sid])
                row = want.setdefault(("beta" if sid > 100 else "alpha", sid), [0, Decimal(0), Decimal(0)])
                row[0] += 1
                row[1] += ch
                row[2] += cost
            rep = get(pm, ro, "report")
            got = {(r["upstream"], int(r["service_id"])): [r["orders"], money(r["revenue"]), money(r["cost"])]
                   for r in rep["list"]}
            assert got == want, (got, want)
            for r in rep["list"]:
                assert money(r["margin"]) == money(r["revenue"]) - money(r["cost"]), r
            tot = rep["total"]
            assert money(tot["revenue"]) == sum((w[1] for w in want.values()), Decimal(0)), tot
            assert money(tot["cost"]) == sum((w[2] for w in want.values()), Decimal(0)), tot
            assert money(tot["margin"]) == money(tot["revenue"]) - money(tot["cost"]), tot
            assert customer_balance(pm, ck) == 100 - sum((w[1] for w in want.values()), Decimal(0))
            # /stats: the same orders by hour and by UTC day (all made today,
            # unless this test ran across midnight UTC)
            st = get(pm, ro, "stats", days=7)
            assert sum(h[1] for h in st["hours"]) == len(placed), st["hours"]
            today = time.strftime("%Y-%m-%d", time.gmtime())
            if st["days"] and st["days"][-1]["day"] == today:
                t = st["today"]
                assert t["orders"] == len(placed), st
                assert money(t["revenue"]) == money(tot["revenue"]), st
                assert money(t["cost"]) == money(tot["cost"]), st
                assert money(t["margin"]) == money(tot["revenue"]) - money(tot["cost"]), st
            assert pm.admin("GET", "stats", ro, query={"days": "91"}).status == 400
            # /check: ok, and not ok once the ledger and a balance disagree
            assert get(pm, ro, "check") == {"ok": True, "violations": []}
            pm.sql("UPDATE customers SET balance = balance + 1 WHERE name = ?", "fay")
            c = get(pm, ro, "check")
            assert c["ok"] is False and c["violations"] and all(isinstance(v, str) for v in c["violations"]), c
            assert any("balance" in v for v in c["violations"]), c
            pm.sql("UPDATE customers SET balance = balance - 1 WHERE name = ?", "fay")
            assert get(pm, ro, "check") == {"ok": True, "violations": []}
            # /audit: the CLI's writes by "cli", the API's by admin:NAME, reads not at all
            post(pm, key, "payments/add", username="fay", amount="1")
            trail = audit(pm, ro)
            acts = [(a["actor"], a["action"], str(a["target"])) for a in trail]
            assert acts[0] == ("admin:shop", "payments/add", "fay"), acts
            assert ("cli", "payments/add", "fay") in acts and ("cli", "users/add", "fay") in acts, acts
            assert ("cli", "keys/add", "viewer") in acts and ("cli", "keys/add", "shop") in acts, acts
            assert not [a for a in trail if a["actor"] == "admin:viewer"], trail
            assert all(TIME.fullmatch(a["created"]) for a in trail), trail
            assert audit(pm, ro, actor="cli") == [a for a in trail if a["actor"] == "cli"]
            assert audit(pm, ro, actor="admin:shop") == [a for a in trail if a["actor"] == "admin:shop"]
            page = get(pm, ro, "audit", limit=2, offset=1)
            assert [a["id"] for a in page["list"]] == [a["id"] for a in trail[1:3]], page
            # a read-only key writes nothing
            err(pm.admin("POST", "payments/add", ro, body={"username": "fay", "amount": "1"}), 403)
            err(pm.admin("POST", "orders/cancel", ro, body={"ids": oids[:1]}), 403)
            assert get(pm, key, f"orders/{oids[0]}")["status"] == "active"
            assert "check: ok" in pm.check()
            assert not form, "money in replies without exactly 5 decimals (the contract's " \
                "'Money in replies'):\n" + "\n".join(form)


# --- 9. the CLI ------------------------------------------------------------------------

def test_cli_writes_audited(env):
    """The CLI's writes carry the same action names as the API's, actor
    "cli", target the user or key name, result ok or the refusal; they
    are payments where they move money."""
    with Panelmux(env, config=config()) as pm:
        key = pm.admin_key("shop")
        pm.cli("customer", "add", "hal")
        pm.cli("customer", "key", "hal")
        pm.cli("customer", "disable", "hal")
        pm.cli("customer", "enable", "hal")
        pm.cli("customer", "fund", "hal", "5.5", "--note", "top-up")
        pm.cli("customer", "fund", "hal", "-1.25")
        assert pm.cli("customer", "fund", "hal", "-100", check=False).returncode != 0
        pm.cli("admin", "key", "add", "temp")
        pm.cli("admin", "key", "revoke", "temp")
        pm.start()
        trail = audit(pm, key)
        got = [(a["actor"], a["action"], str(a["target"]), a["result"] == "ok") for a in reversed(trail)]
        assert got == [("cli", "keys/add", "shop", True), ("cli", "users/add", "hal", True),
                       ("cli", "users/rotate-key", "hal", True), ("cli", "users/disable", "hal", True),
                       ("cli", "users/enable", "hal", True), ("cli", "payments/add", "hal", True),
                       ("cli", "payments/deduct", "hal", True), ("cli", "payments/deduct", "hal", False),
                       ("cli", "keys/add", "temp", True), ("cli", "keys/revoke", "temp", True)], got
        lst = payments(pm, key, "hal")
        assert [(money(p["amount"]), p["by"]) for p in lst] == [(Decimal("-1.25"), "cli"), (Decimal("5.5"), "cli")], lst
        assert balance(pm, key, user(pm, key, "hal")["id"]) == Decimal("4.25")
        assert "check: ok" in pm.check()


def all_store_text(pm):
    """Everything the store holds, as text (SQLite: the files' bytes)."""
    if STORE == "sqlite":
        raw = b""
        for suffix in ("", "-wal"):
            if os.path.exists(pm.db + suffix):
                raw += open(pm.db + suffix, "rb").read()
        return raw.decode("latin-1")
    tables = [r[0] for r in pm.sql("SELECT table_name FROM information_schema.tables"
                                   " WHERE table_schema = 'public'")]
    out = []
    for t in tables:
        out += [r[0] or "" for r in pm.sql(f'SELECT CAST(t AS TEXT) FROM "{t}" t')]
    return "\n".join(out)


def test_cli_admin_keys_and_audit(env):
    with Panelmux(env, config=config()) as pm:
        p = pm.cli("admin", "key", "add", "ops")
        assert re.fullmatch(r"[!-~]{16,}\n", p.stdout), repr(p.stdout)   # the key alone, one line
        ops = p.stdout.strip()
        ro = pm.admin_key("auditor", read_only=True)
        assert ro != ops
        lst = pm.cli("admin", "key", "list").stdout
        assert re.search(r"^ops\s+read-write\s+active\s+\S", lst, re.M), lst
        assert re.search(r"^auditor\s+read-only\s+active\s+\S", lst, re.M), lst
        assert ops not in lst and ro not in lst
        assert len([l for l in lst.splitlines() if re.match(r"(ops|auditor)\s", l)]) == 2, lst
        # only hashes are stored
        text = all_store_text(pm)
        assert ops not in text and ro not in text, "an operator key is stored in clear"
        pm.customer("gil")
        pm.start()
        assert get(pm, ops, "check")["ok"] is True
        assert get(pm, ro, "check")["ok"] is True
        post(pm, ops, "payments/add", username="gil", amount="3")
        # revoked: refused at once by the running daemon
        pm.cli("admin", "key", "revoke", "ops")
        err(pm.admin("GET", "check", ops), 401)
        err(pm.admin("POST", "payments/add", ops, body={"username": "gil", "amount": "3"}), 401)
        assert get(pm, ro, "check")["ok"] is True
        lst = pm.cli("admin", "key", "list").stdout
        assert re.search(r"^ops\s+read-write\s+revoked\s+\S", lst, re.M), lst
        assert re.search(r"^auditor\s+read-only\s+active\s+\S", lst, re.M), lst
        # the CLI's audit, newest first
        out = pm.cli("audit").stdout
        order = [a for l in out.splitlines()
                 for a in re.findall(r"(keys/add|keys/revoke|users/add|payments/add)", l)[:1]]
        assert order == ["keys/revoke", "payments/add", "users/add", "keys/add", "keys/add"], out
        revoke = next(l for l in out.splitlines() if "keys/revoke" in l)
        assert "cli" in revoke and "ops" in revoke and "ok" in revoke, revoke
        pay = next(l for l in out.splitlines() if "payments/add" in l)
        assert "admin:ops" in pay and "gil" in pay, pay
        one = pm.cli("audit", "--limit", "1").stdout
        assert len(re.findall(r"keys/add|keys/revoke|users/add|payments/add", one)) == 1 and \
            "keys/revoke" in one, one
        assert pm.cli("audit", "--limit", "x", check=False).returncode != 0
        # the API's view of the same trail: never a key in it
        trail = audit(pm, ro)
        assert [(a["actor"], a["action"], str(a["target"])) for a in trail] == [
            ("cli", "keys/revoke", "ops"), ("admin:ops", "payments/add", "gil"), ("cli", "users/add", "gil"),
            ("cli", "keys/add", "auditor"), ("cli", "keys/add", "ops")], trail
        assert ops not in json.dumps(trail) and ro not in json.dumps(trail)
        # refusals: a name taken (also by a revoked key), bad names, an
        # unknown name to revoke; a read-only key writing.  None adds an
        # entry that says ok.
        assert pm.cli("admin", "key", "add", "auditor", check=False).returncode != 0
        assert pm.cli("admin", "key", "add", "bad name!", check=False).returncode != 0
        assert pm.cli("admin", "key", "add", "x" * 65, check=False).returncode != 0
        assert pm.cli("admin", "key", "revoke", "nobody", check=False).returncode != 0
        err(pm.admin("POST", "users/add", ro, body={"username": "nope"}), 403)
        assert pm.cli("customer", "show", "nope", check=False).returncode != 0
        later = [a for a in audit(pm, ro) if a["id"] > trail[0]["id"]]
        assert all(a["result"] != "ok" for a in later), later
        assert len(pm.cli("admin", "key", "list").stdout.splitlines()) == len(lst.splitlines()), lst
        # A revoked name again (the contract is silent: refused, or a new
        # key for it): the old key stays refused either way.
        p = pm.cli("admin", "key", "add", "ops", check=False)
        if p.returncode == 0:
            again = p.stdout.strip()
            assert again != ops and get(pm, again, "check")["ok"] is True, p.stdout
            assert re.search(r"^ops\s+read-write\s+active\s+\S", pm.cli("admin", "key", "list").stdout, re.M)
        err(pm.admin("GET", "check", ops), 401)
        log = pm.log() + "".join(pm.logs)
    assert_no_secret(log, ops, ro)
