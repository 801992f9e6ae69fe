"""Customers' webhooks (the contract: README "Webhooks"), end to end: the
real daemon delivers to a loopback receiver (receiver.py) that records
every request and can answer 200, 500, hang, redirect or slowly.

- the README's verification snippets (Python, PHP, Node), extracted from
  README.md and run as they are, against a signature table computed here
  with Python's hmac, and against real deliveries;
- an order's life: order.accepted, order.status In progress, Partial, in
  that order, each signed, its data what `status` answered then, IDs
  unique; a replayed delivery and a tampered body refused;
- retries through 500s, hangs longer than the timeout and redirects
  (never followed), growing gaps, every event delivered once it recovers,
  one order's events in order;
- kill -9 with deliveries in flight: every event at least once, a
  duplicate is the same ID and the same bytes, `panelmux check` ok;
- 100,000 undelivered events: RSS bounded and flat (SQLite);
- registrations refused (private, loopback, link-local, plain http) in
  the CLI and the admin API;
- dead letters after max_age, listed (CLI, API, metric), retried;
- secret rotation: two v1 during the overlap, one after;
- two daemons on one PostgreSQL database: each event delivered once.

Signatures are checked with an HMAC computed here (the oracle) as well as
with the README's own functions."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import Panelmux, FakePanel, alpha_config, wait_for, vm_rss_kib
from receiver import Receiver
from test_operations import scrape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SECRET_RE = re.compile(r"whsec_[0-9a-f]{64}")
EVENT_ID_RE = re.compile(r"evt_[0-9]+")
STATUS_FIELDS = {"charge", "start_count", "status", "remains", "currency"}


# --- configuration -------------------------------------------------------------

def hooks_config(poll="300ms", reply_wait="5s", level="debug", **hooks):
    """alpha_config with a `webhooks:` section: enabled, private
    destinations allowed, fast retries; HOOKS overrides or adds keys (None
    leaves one out)."""
    keys = {"enabled": "true", "allow_private": "true", "retry_base": "100ms",
            "retry_max": "1s", "poll_interval": "50ms", "timeout": "1s"}
    keys.update(hooks)
    extra = "money:\n  decimals: 5\nwebhooks:\n" + "".join(
        f"  {k}: {v}\n" for k, v in keys.items() if v is not None)
    return alpha_config(level=level, reply_wait=reply_wait, extra=extra, timeout="2s",
                        poll_interval=poll)


def start(pm, key):
    pm.start()
    return wait_for(lambda: {s["service"]: s for s in pm.api(key=key, action="services")} or None,
                    what="catalogue import")


def add_hook(pm, customer, url, *more):
    """`webhook add`: the secret, alone on one line."""
    p = pm.cli("webhook", "add", customer, url, *more)
    lines = p.stdout.splitlines()
    assert len(lines) == 1 and SECRET_RE.fullmatch(lines[0]) and p.stdout.endswith("\n"), \
        f"webhook add: expected whsec_ + 64 hex alone on one line, got {p.stdout!r}"
    return lines[0]


def hook_list(pm, customer=None):
    """`webhook list [CUSTOMER]`: {url: [id, customer, url, events, balance_below, pending, dead]}."""
    out = pm.cli("webhook", "list", *([customer] if customer else [])).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 7 and f[0].isdigit():
            rows[f[2]] = f
    return rows


def hook_id(pm, customer, url):
    rows = hook_list(pm, customer)
    assert url in rows, f"{url} not in `webhook list {customer}`: {rows}"
    return int(rows[url][0])


def upstream_order_id(pm, local):
    out = pm.cli("order", "show", str(local)).stdout
    m = re.search(r"^upstream order:\s+(\S+)", out, re.M)
    assert m and m.group(1) != "-", out
    return int(m.group(1))


def place(pm, key, n, tag):
    ids = []
    for i in range(n):
        r = pm.api(key=key, action="add", service=1, link=f"https://hooks.example/{tag}/{i}",
                   quantity=1000)
        assert "order" in r, r
        ids.append(r["order"])
    return ids


def status_of(pm, key, oid):
    return pm.api(key=key, action="status", order=oid)


def move(pm, fp, key, oid, status, **fields):
    """Set the fake panel's order to STATUS and wait until the customer
    sees it (the event is written in the same transaction)."""
    fp.control(op="set", order=upstream_order_id(pm, oid), status=status, **fields)
    shown = "Canceled" if status in ("Refunded", "Canceled") else status
    return wait_for(lambda: (lambda s: s if s.get("status") == shown else None)(status_of(pm, key, oid)),
                    timeout=20, what=f"order {oid} {status}")


def outbox(pm):
    """(pending, dead) from the outbox gauge on /metrics."""
    m = scrape(pm)
    return (m.get("panelmux_webhook_outbox_events", state="pending"),
            m.get("panelmux_webhook_outbox_events", state="dead"))


def deliveries(pm, outcome):
    return scrape(pm).get("panelmux_webhook_deliveries_total", outcome=outcome)


# --- signatures: the oracle ------------------------------------------------------

def sign(secret, t, body):
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def parse_sig(header):
    """X-Panelmux-Signature -> (t, [v1, ...]), strictly as the spec writes it."""
    m = re.fullmatch(r"t=([0-9]+)((?:,v1=[0-9a-f]{64})+)", header or "")
    assert m, f"signature header not t=<s>,v1=<hex>[,v1=<hex>]: {header!r}"
    return int(m.group(1)), m.group(2).split(",v1=")[1:]


def check_request(req, *secrets):
    """One delivery as the spec has it; SECRETS are the v1s' keys in order
    (the new one first).  Returns the parsed body."""
    assert req.method == "POST", req
    assert req.headers.get("content-type", "").startswith("application/json"), req.headers
    body = json.loads(req.body)
    assert set(body) == {"id", "type", "created", "data"}, body
    assert json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() == req.body, \
        f"body not compact JSON: {req.body!r}"
    assert EVENT_ID_RE.fullmatch(body["id"]), body
    assert req.headers.get("x-panelmux-delivery") == body["id"], (req.headers, body)
    assert req.headers.get("x-panelmux-event") == body["type"], (req.headers, body)
    assert isinstance(body["created"], int) and body["created"] <= req.wall + 2, (body, req.wall)
    t, v1 = parse_sig(req.signature)
    assert abs(t - req.wall) <= 5, f"t={t} far from the delivery's time {req.wall}"
    if secrets:
        assert v1 == [sign(s, t, req.body) for s in secrets], \
            f"v1 values {v1} are not HMAC-SHA256 of {len(secrets)} secret(s) over t.body"
    return body


def summary(req):
    """(order, type, status) of a delivery of an order event."""
    b = json.loads(req.body)
    return (b["data"].get("order"), b["type"], b["data"].get("status"))


# --- the README's snippets ---------------------------------------------------------

def readme_section():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## Webhooks\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README.md has no '## Webhooks' section"
    return m.group(1)


def snippets():
    """{python|php|node: code}: the fenced block right after each
    `<!-- verify:LANG -->` marker of the Webhooks section, exactly one each."""
    sec = readme_section()
    found = re.findall(r"<!-- verify:(\w+) -->\n```(\w+)\n(.*?)\n```", sec, re.S)
    out = {}
    for lang, fence, code in found:
        assert lang not in out, f"two verify:{lang} snippets"
        out[lang] = code
    assert set(out) == {"python", "php", "node"}, f"verify snippets found: {sorted(out)}"
    return out


def readme_verify():
    """The README's Python verify(), loaded in this process."""
    ns = {}
    exec(compile(snippets()["python"], "README.md:verify:python", "exec"), ns)
    return ns["verify"]


DRIVERS = {
    "python": ("py", "\nimport base64 as _b64, json as _json, sys as _sys\n"
                     "_out = []\n"
                     "for _c in _json.load(_sys.stdin):\n"
                     "    _a = [_c['secret'], _c['header'], _b64.b64decode(_c['body'])]\n"
                     "    if _c.get('tolerance') is not None:\n"
                     "        _a.append(_c['tolerance'])\n"
                     "    _out.append(verify(*_a))\n"
                     "print(_json.dumps(_out))\n"),
    "php": ("php", "\n$_out = [];\n"
                   "foreach (json_decode(stream_get_contents(STDIN), true) as $_c) {\n"
                   "    $_out[] = isset($_c['tolerance'])\n"
                   "        ? verify($_c['secret'], $_c['header'], base64_decode($_c['body']), $_c['tolerance'])\n"
                   "        : verify($_c['secret'], $_c['header'], base64_decode($_c['body']));\n"
                   "}\n"
                   "echo json_encode($_out), \"\\n\";\n"),
    "node": ("js", "\nconst _cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
                   "console.log(JSON.stringify(_cases.map((c) => c.tolerance == null\n"
                   "  ? verify(c.secret, c.header, Buffer.from(c.body, 'base64'))\n"
                   "  : verify(c.secret, c.header, Buffer.from(c.body, 'base64'), c.tolerance))));\n"),
}
INTERPRETERS = {
    "python": ("python3", "python3"),
    # Not skips: `make deps` installs php-cli; nodejs must be in the Makefile's DEBS.
    "php": ("php", "php is missing: install Debian's php-cli (make deps)"),
    "node": ("node", "node is missing: install Debian's nodejs package (add nodejs to the Makefile's DEBS)"),
}


def run_verify(lang, cases):
    """Run the README's LANG snippet on CASES ([{secret, header, body
    (bytes), tolerance (or None: the default)}]): a list of booleans."""
    exe_name, missing = INTERPRETERS[lang]
    exe = shutil.which(exe_name)
    assert exe, missing
    code = snippets()[lang]
    ext, driver = DRIVERS[lang]
    if lang == "php":
        code = re.sub(r"\A\s*<\?php\s*", "", code)
        code = "<?php\n" + code
    tmp = tempfile.mkdtemp(prefix=f"verify-{lang}-")
    try:
        path = os.path.join(tmp, f"verify.{ext}")
        with open(path, "w") as f:
            f.write(code + "\n" + driver)
        payload = json.dumps([{"secret": c["secret"], "header": c["header"],
                               "body": base64.b64encode(c["body"]).decode(),
                               "tolerance": c.get("tolerance")} for c in cases])
        p = subprocess.run([exe, path], input=payload, capture_output=True, text=True, timeout=60,
                           cwd=tmp)
        assert p.returncode == 0, f"{lang} snippet failed ({p.returncode}):\n{p.stdout}{p.stderr}"
        out = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert isinstance(out, list) and len(out) == len(cases), out
    assert all(isinstance(v, bool) for v in out), f"{lang} verify() must return true/false: {out}"
    return out


def all_verify(cases):
    """Every README snippet on CASES: {lang: [bool]}."""
    return {lang: run_verify(lang, cases) for lang in ("python", "php", "node")}


def assert_verdicts(cases, want):
    got = all_verify(cases)
    bad = [(lang, i, cases[i].get("what"), want[i], v[i]) for lang, v in got.items()
           for i in range(len(cases)) if v[i] != want[i]]
    assert not bad, "README verify() disagrees (lang, case, what, want, got):\n" + \
        "\n".join(map(repr, bad))


# --- the snippets alone ------------------------------------------------------------

def test_readme_snippets_against_the_oracle(env):
    """The three README functions agree with an HMAC computed here on a
    table of good and bad signatures, and accept the README's own example."""
    sec = readme_section()
    for lang, call in (("python", "compare_digest"), ("php", "hash_equals"), ("node", "timingSafeEqual")):
        assert call in snippets()[lang], f"the {lang} snippet must compare with {call}"
    s1 = "whsec_" + "ab" * 32
    s2 = "whsec_" + "cd" * 32
    body = '{"id":"evt_1","type":"order.status","created":1,"data":{"status":"Partial","n":"é"}}'.encode()
    now = int(time.time())

    def case(what, header, ok, secret=s1, b=body, tolerance=None):
        return ({"what": what, "secret": secret, "header": header, "body": b, "tolerance": tolerance}, ok)

    good = sign(s1, now, body)
    table = [
        case("valid", f"t={now},v1={good}", True),
        case("valid, spaces after commas", f"t={now}, v1={good}", True),
        case("290 s old", f"t={now - 290},v1={sign(s1, now - 290, body)}", True),
        case("301 s old (replay)", f"t={now - 301},v1={sign(s1, now - 301, body)}", False),
        case("an hour old", f"t={now - 3600},v1={sign(s1, now - 3600, body)}", False),
        case("an hour ahead", f"t={now + 3600},v1={sign(s1, now + 3600, body)}", False),
        case("20 s old, tolerance 10", f"t={now - 20},v1={sign(s1, now - 20, body)}", False, tolerance=10),
        case("20 s old, tolerance 60", f"t={now - 20},v1={sign(s1, now - 20, body)}", True, tolerance=60),
        case("tampered body", f"t={now},v1={good}", False, b=body.replace(b"Partial", b"Complete")),
        case("a byte more", f"t={now},v1={good}", False, b=body + b" "),
        case("wrong secret", f"t={now},v1={good}", False, secret=s2),
        case("t changed", f"t={now - 1},v1={good}", False),
        case("two v1, the second good", f"t={now},v1={sign(s2, now, body)},v1={good}", True),
        case("two v1, the first good", f"t={now},v1={good},v1={sign(s2, now, body)}", True),
        case("two v1, neither", f"t={now},v1={sign(s2, now, body)},v1={'0' * 64}", False),
        case("no v1", f"t={now}", False),
        case("no t", f"v1={good}", False),
        case("t twice", f"t={now},t={now},v1={good}", False),
        case("t not a number", f"t=now,v1={good}", False),
        case("empty header", "", False),
        case("junk", "garbage", False),
        case("v1 with a suffix", f"t={now},v1={good}00", False),
        case("v1 truncated", f"t={now},v1={good[:-2]}", False),
        case("v0 only", f"t={now},v0={good}", False),
        case("binary body", f"t={now},v1={sign(s1, now, bytes(range(256)))}", True, b=bytes(range(256))),
    ]
    # The README's example request: its header signs its body with whsec_ + 64 zeros.
    ex = re.search(r"```http\n(.*?)\n```", sec, re.S)
    assert ex, "README Webhooks: no ```http example"
    head, _, ex_body = ex.group(1).partition("\n\n")
    ex_sig = re.search(r"^X-Panelmux-Signature: (.*)$", head, re.M).group(1)
    assert json.loads(ex_body)["id"] == re.search(r"^X-Panelmux-Delivery: (.*)$", head, re.M).group(1)
    table.append(case("the README example", ex_sig, True, secret="whsec_" + "0" * 64,
                      b=ex_body.encode(), tolerance=10 ** 11))
    table.append(case("the README example, now", ex_sig, False, secret="whsec_" + "0" * 64,
                      b=ex_body.encode()))
    cases = [c for c, _ in table]
    assert_verdicts(cases, [ok for _, ok in table])


# --- an order's life -----------------------------------------------------------------

def test_order_life(env):
    """order.accepted, order.status In progress, order.status Partial: in
    that order, once each, signed with the printed secret (the README's
    three functions say so), data equal to the v2 status reply of the
    moment plus the order's ID; a replay past the tolerance and a
    tampered body refused."""
    with FakePanel(env, services=20) as fp, Receiver() as rx, \
            Panelmux(env, config=hooks_config(), up_port=fp.port) as pm:
        key = pm.customer("shop", "100")
        other = pm.customer("other", "100")     # no endpoint: no event of its orders
        start(pm, key)
        secret = add_hook(pm, "shop", rx.url("/hooks/panelmux"))
        assert hook_id(pm, "shop", rx.url("/hooks/panelmux")) > 0

        place(pm, other, 1, "other")
        oid = place(pm, key, 1, "life")[0]
        rx.wait(lambda rs: len(rs) >= 1, what="order.accepted")
        seen = [status_of(pm, key, oid)]
        assert seen[0]["status"] == "Pending", seen
        seen.append(move(pm, fp, key, oid, "In progress", remains=400, start_count=10))
        rx.wait(lambda rs: len(rs) >= 2, what="order.status In progress")
        seen.append(move(pm, fp, key, oid, "Partial", remains=250))
        rx.wait(lambda rs: len(rs) >= 3, what="order.status Partial")
        # drained: nothing pending, three acknowledged
        wait_for(lambda: outbox(pm) == (0, 0) and deliveries(pm, "ok") == 3, timeout=10,
                 what="the outbox drained")

        reqs = rx.requests()
        assert len(reqs) == 3 and all(r.status == 200 for r in reqs), reqs
        assert all(r.path == "/hooks/panelmux" for r in reqs), reqs
        bodies = [check_request(r, secret) for r in reqs]
        assert [(b["type"], b["data"]["status"]) for b in bodies] == [
            ("order.accepted", "Pending"), ("order.status", "In progress"), ("order.status", "Partial")], bodies
        for b, st in zip(bodies, seen):
            assert set(st) == STATUS_FIELDS, st
            assert b["data"] == dict(st, order=oid), (b["data"], st)
        ids = [b["id"] for b in bodies]
        assert len(set(ids)) == 3, ids
        assert bodies[2]["data"]["remains"] == "250" and bodies[1]["data"]["start_count"] == "10", bodies

        # The README's functions on the real deliveries, in the three languages.
        t_last = max(parse_sig(r.signature)[0] for r in reqs)
        cases, want = [], []
        for r in reqs:
            cases.append({"what": f"{r.event_id} as delivered", "secret": secret,
                          "header": r.signature, "body": r.body})
            want.append(True)
            cases.append({"what": f"{r.event_id} tampered", "secret": secret, "header": r.signature,
                          "body": r.body.replace(b'"order":', b'"order":1')})
            want.append(False)
            cases.append({"what": f"{r.event_id} other secret", "secret": "whsec_" + "1" * 64,
                          "header": r.signature, "body": r.body})
            want.append(False)
        tampered = reqs[2].body.replace(b'"Partial"', b'"Completed"').replace(b'"250"', b'"0"')
        assert tampered != reqs[2].body
        cases.append({"what": "Partial made Completed", "secret": secret, "header": reqs[2].signature,
                      "body": tampered})
        want.append(False)
        # A replay: the very header and body, once older than the tolerance.
        wait_for(lambda: time.time() >= t_last + 3, timeout=10, what="3 s after the last delivery")
        for r in reqs:
            cases.append({"what": f"{r.event_id} replayed, tolerance 2", "secret": secret,
                          "header": r.signature, "body": r.body, "tolerance": 2})
            want.append(False)
        # ... and one re-signed with the right secret 301 s ago: refused by the default.
        old = int(time.time()) - 301
        cases.append({"what": "signed 301 s ago", "secret": secret, "body": reqs[0].body,
                      "header": f"t={old},v1={sign(secret, old, reqs[0].body)}"})
        want.append(False)
        assert_verdicts(cases, want)
        assert "check: ok" in pm.check()


# --- retries ----------------------------------------------------------------------------

def attempts_by_id(reqs):
    by = defaultdict(list)
    for r in reqs:
        by[r.event_id].append(r)
    return by


def assert_chains_in_order(reqs, expected_order):
    """Per order: its events acknowledged in EXPECTED_ORDER's sequence of
    (type, status) (a list, or a function of the order ID giving one;
    an event acknowledged twice, after a crash, counts at its first), and
    no event tried before the previous one of its order was acknowledged."""
    by_order = defaultdict(list)
    for r in reqs:
        by_order[summary(r)[0]].append(r)
    for oid, rs in by_order.items():
        ack_time = {}
        for r in sorted(rs, key=lambda r: r.mono):
            if r.status is not None and 200 <= r.status < 300 and r.event_id not in ack_time:
                ack_time[r.event_id] = (r.done_mono, summary(r)[1:])
        seq = sorted(ack_time, key=lambda e: ack_time[e][0])
        want = expected_order(oid) if callable(expected_order) else expected_order
        assert [ack_time[e][1] for e in seq] == want, (oid, [ack_time[e][1] for e in seq], want)
        for prev, nxt in zip(seq, seq[1:]):
            first = min(r.mono for r in rs if r.event_id == nxt)
            assert first >= ack_time[prev][0], \
                f"order {oid}: {nxt} tried before {prev} was acknowledged"


def test_retries_error_hang_redirect(env):
    """500s, then hangs longer than the timeout, then 302s: retried with
    growing gaps, the redirect never followed; once the receiver answers
    200 every event produced arrives once, each order's in order."""
    n = 3
    cfg = hooks_config(retry_base="100ms", retry_max="1s", timeout="1s")
    with FakePanel(env, services=20) as fp, Receiver(mode="error") as rx, Receiver() as elsewhere, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("shop", "1000")
        start(pm, key)
        secret = add_hook(pm, "shop", rx.url("/h"))
        oids = place(pm, key, n, "retry")
        for oid in oids:
            move(pm, fp, key, oid, "In progress", remains=500)
            move(pm, fp, key, oid, "Completed", remains=0)
        expected = {(o, "order.accepted", "Pending") for o in oids} | \
                   {(o, "order.status", s) for o in oids for s in ("In progress", "Completed")}

        # 500: the first event is tried 6 times
        first = rx.wait(lambda rs: rs and (lambda f: len([r for r in rs if r.event_id == f]) >= 6
                                           and f)(rs[0].event_id), timeout=30, what="6 tries of one event")
        tries = [r for r in rx.requests() if r.event_id == first]
        gaps = [b.mono - a.mono for a, b in zip(tries, tries[1:])]
        # retry_base 100 ms doubling (+-20%), poll 50 ms, up to retry_max 1 s
        assert all(g >= 0.07 for g in gaps), f"a retry came early: gaps {gaps}"
        assert gaps[2] > 1.5 * gaps[0] and gaps[3] > 2 * gaps[0], f"gaps do not grow: {gaps}"
        assert max(gaps) <= 1.2 + 1.0, f"a gap well above retry_max (1 s + 20% jitter): {gaps}"

        # hang: each try given up after the timeout (1 s), then retried
        rx.set_mode("hang")
        hung = rx.wait(lambda rs: (lambda h: len(h) >= 3 and h)(
            [r for r in rs if r.mode == "hang" and r.done_mono is not None]), timeout=30,
            what="3 hung tries given up")
        held = [r.done_mono - r.mono for r in hung]
        assert all(0.8 <= h <= 3.0 for h in held), f"hung tries held {held} s (timeout 1 s)"

        # redirect: 302 to another receiver, never followed
        rx.set_mode("redirect", location=elsewhere.url("/stolen"))
        rx.wait(lambda rs: len([r for r in rs if r.mode == "redirect" and r.status == 302]) >= 3,
                timeout=30, what="3 tries answered 302")

        rx.set_mode("ok")
        rx.wait(lambda rs: {summary(r) for r in rs if r.status == 200} >= expected, timeout=60,
                what="every event delivered")
        wait_for(lambda: outbox(pm) == (0, 0), timeout=10, what="the outbox drained")

        reqs = rx.requests()
        assert elsewhere.requests() == [], f"a redirect was followed: {elsewhere.requests()}"
        by = attempts_by_id(reqs)
        for eid, rs in by.items():
            b0 = check_request(rs[0], secret)
            assert all(r.body == rs[0].body for r in rs), f"{eid}: the body changed between tries"
            assert all(r.headers.get("x-panelmux-event") == b0["type"] for r in rs), eid
            oks = [r for r in rs if r.status == 200]
            assert len(oks) == 1, f"{eid}: acknowledged {len(oks)} times"
            for r in rs:
                check_request(r, secret)
        delivered = {summary(r) for r in reqs if r.status == 200}
        assert delivered == expected, (delivered ^ expected)
        assert len(by) == len(expected), f"{len(by)} event IDs for {len(expected)} events"
        assert len(by[first]) > 6, by[first]
        assert_chains_in_order(reqs, [("order.accepted", "Pending"), ("order.status", "In progress"),
                                      ("order.status", "Completed")])
        failed = len([r for r in reqs if r.status != 200])
        assert deliveries(pm, "ok") == len(expected)
        assert deliveries(pm, "failed") == failed, (deliveries(pm, "failed"), failed)
        assert "check: ok" in pm.check()


# --- kill -9 --------------------------------------------------------------------------------

def test_kill9_mid_delivery(env):
    """kill -9 while a slow receiver holds deliveries: after the restart
    every event arrives at least once; a duplicate carries the same ID and
    the same bytes, and no change makes two events."""
    cfg = hooks_config(retry_base="100ms", retry_max="500ms", timeout="5s")
    with FakePanel(env, services=20) as fp, Receiver(mode="slow", delay=0.4) as rx, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("shop", "1000")
        start(pm, key)
        secret = add_hook(pm, "shop", rx.url("/h"))
        oids = place(pm, key, 12, "kill")
        # half of them move on: their events queue behind their order.accepted
        for oid in oids[:6]:
            fp.control(op="set", order=upstream_order_id(pm, oid), status="In progress", remains=100)
        rx.wait(lambda rs: len(rs) >= 3 and any(r.done_mono is None for r in rs), timeout=20,
                what="deliveries in flight")
        held = {r.event_id for r in rx.in_flight()}
        in_flight = len(held)
        assert in_flight >= 1
        pm.kill()
        killed = time.monotonic()
        answered_before = {r.event_id for r in rx.requests() if r.status == 200}
        rx.set_mode("ok")
        pm.start()
        expected = {(o, "order.accepted", "Pending") for o in oids} | \
                   {(o, "order.status", "In progress") for o in oids[:6]}
        rx.wait(lambda rs: {summary(r) for r in rs if r.status == 200} >= expected, timeout=60,
                what="every event after the restart")
        wait_for(lambda: outbox(pm) == (0, 0), timeout=10, what="the outbox drained")

        reqs = rx.requests()
        by = attempts_by_id(reqs)
        for eid, rs in by.items():
            for r in rs:
                check_request(r, secret)
            assert len({r.body for r in rs}) == 1, f"{eid}: different bodies: {[r.body for r in rs]}"
        per_change = defaultdict(set)
        for r in reqs:
            per_change[summary(r)].add(r.event_id)
        twice = {k: v for k, v in per_change.items() if len(v) > 1}
        assert not twice, f"one change, several event IDs: {twice}"
        assert set(per_change) == expected, set(per_change) ^ expected
        assert_chains_in_order(reqs, lambda oid: [("order.accepted", "Pending")] + (
            [("order.status", "In progress")] if oid in oids[:6] else []))
        # what was in flight at the kill was never acknowledged to the
        # daemon: it comes again after the restart, same ID, same bytes
        again = {e for e in held if any(r.mono > killed and r.status == 200 for r in by[e])}
        assert again == held, f"in flight at the kill, not delivered after the restart: {held - again}"
        acked = {eid: len([r for r in rs if r.status == 200]) for eid, rs in by.items()}
        print(f"# kill -9 with {in_flight} in flight; {len(answered_before)} answered 200 before;"
              f" events that arrived more than once: {sum(1 for rs in by.values() if len(rs) > 1)},"
              f" answered 200 more than once: {sum(1 for v in acked.values() if v > 1)}", flush=True)
        assert "check: ok" in pm.check()


# --- memory ---------------------------------------------------------------------------------

BACKLOG = 100_000
ENDPOINTS = 20


def rss_parts(pid):
    """(RssAnon, RssFile) of PID in KiB."""
    got = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile"):
                got[k] = int(v.split()[0])
    return got.get("RssAnon"), got.get("RssFile")


def test_memory_bounded_with_100k_undelivered(env):
    """100,000 events waiting for receivers that refuse connections (20
    endpoints, so that every connection is busy): the daemon works through
    them with VmRSS under its idle figure + 64 MiB and flat between
    samples; the gauge shows 100,000 pending."""
    harness.sqlite_only("the backlog is written into the SQLite file directly")
    dead_port = harness.free_port()        # nothing listens there: connection refused
    url = f"http://127.0.0.1:{dead_port}/h"
    cfg = hooks_config(level="info", retry_base="30s", retry_max="1m", timeout="1s")
    with FakePanel(env, services=20) as fp, Panelmux(env, config=cfg, up_port=fp.port) as pm:
        if env.sanitized:
            # ASan's quarantine holds freed blocks (256 MiB by default):
            # keep it small so RSS shows what the daemon holds (as test_operations does).
            opts = pm.environ.get("ASAN_OPTIONS", "")
            pm.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=1"
        key = pm.customer("shop", "1000")
        start(pm, key)
        for i in range(ENDPOINTS):
            add_hook(pm, "shop", f"{url}{i}")
        place(pm, key, 1, "mem")
        wait_for(lambda: outbox(pm)[0] == ENDPOINTS, timeout=10, what="an event per endpoint pending")
        wait_for(lambda: deliveries(pm, "failed") >= 1, timeout=10, what="a failed try")
        idle = vm_rss_kib(pm.proc.pid)
        pm.stop()

        cols = [r[1] for r in pm.sql("PRAGMA table_info(webhook_events)")]
        assert {"id", "order_id", "next_at", "endpoint_id"} <= set(cols), f"webhook_events columns: {cols}"
        copy = [c for c in cols if c not in ("id", "order_id", "next_at")]
        src = pm.sql("SELECT id FROM webhook_events ORDER BY id")
        assert len(src) == ENDPOINTS, src
        # copies of the real ones (one per endpoint), each its own order's chain, all due
        pm.sql(f"""WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq
                                            WHERE i < {(BACKLOG - ENDPOINTS) // ENDPOINTS})
                   INSERT INTO webhook_events (order_id, next_at, {", ".join(copy)})
                   SELECT 10000000 + seq.i * 100 + e.endpoint_id, 0, {", ".join("e." + c for c in copy)}
                   FROM seq, webhook_events e""")
        assert int(pm.sql("SELECT COUNT(*) FROM webhook_events")[0][0]) == BACKLOG

        pm.start()
        assert outbox(pm) == (BACKLOG, 0), outbox(pm)
        samples, parts = [], []
        failed = deliveries(pm, "failed")
        for _ in range(6):
            # a sample after each further 1,000 failed tries (the daemon at work)
            wait_for(lambda: deliveries(pm, "failed") >= failed + 1000, timeout=60,
                     what="1,000 more failed tries")
            failed = deliveries(pm, "failed")
            samples.append(vm_rss_kib(pm.proc.pid))
            parts.append(rss_parts(pm.proc.pid))
        print(f"# idle {idle} KiB; with {BACKLOG} pending: VmRSS {samples} KiB (RssAnon, RssFile: {parts});"
              f" {failed:.0f} failed tries", flush=True)
        assert max(samples) <= idle + 64 * 1024, (idle, samples, parts)
        assert samples[-1] <= samples[1] + 4 * 1024, f"RSS grows between samples: {samples} {parts}"
        pending, dead = outbox(pm)
        assert pending == BACKLOG and dead == 0, (pending, dead)


# --- registration refused ---------------------------------------------------------------------

REFUSED = [
    ("https://127.0.0.1/h", r"loopback|private"),
    ("https://10.1.2.3/h", r"private"),
    ("https://169.254.169.254/latest/meta-data", r"link-local|private|metadata"),
    ("https://[::1]/h", r"loopback|private"),
    ("http://example.com/h", r"https|http://|plain"),
    # the same places spelled otherwise, and other private ranges
    ("https://localhost/h", r"loopback|private"),
    ("https://[::ffff:127.0.0.1]/h", r"loopback|private"),
    ("https://2130706433/h", r"loopback|private"),
    ("https://0.0.0.0/h", r"private|unspecified|loopback|local"),
    ("https://192.168.1.1/h", r"private"),
    ("https://172.16.5.4/h", r"private"),
    ("https://[fe80::1]/h", r"link-local|private"),
    ("https://[fc00::1]/h", r"private|unique local"),
    # what DESIGN.md, "Destinations", adds: shared, multicast, documentation,
    # NAT64 and 6to4 forms of loopback, credentials in the URL
    ("https://100.64.0.1/h", r"private|shared|reserved|public"),
    ("https://224.0.0.1/h", r"private|multicast|reserved|public"),
    ("https://192.0.2.1/h", r"private|documentation|reserved|public"),
    ("https://[64:ff9b::7f00:1]/h", r"private|loopback|nat64|reserved|public"),
    ("https://[2002:7f00:1::1]/h", r"private|loopback|6to4|reserved|public"),
    ("https://user:pw@93.184.216.34/h", r"credential|user|password"),
]


def admin_err(r, status):
    assert r.status == status, f"expected HTTP {status}, got {r}"
    e = r.json()
    assert e["error_code"] == status and e["data"] is None, e
    assert isinstance(e["error_message"], str) and e["error_message"].strip(), e
    return e["error_message"]


def admin_ok(r):
    assert r.status == 200, r
    e = r.json()
    assert e["error_code"] == 0 and e["error_message"] == "", e
    return e["data"]


def test_registration_refused(env):
    """Private, loopback, link-local destinations and plain http are
    refused with the reason (the CLI exits 2 for a refused URL, as for any
    bad input, 1 for an unknown customer or webhooks off; the admin API
    answers 400); a public https
    address is taken; nothing refused is stored."""
    cfg = hooks_config(allow_private="false")
    with FakePanel(env, services=20) as fp, Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("shop", "10")
        start(pm, key)
        op = pm.admin_key("ops")
        wrong_exit = []   # collected, so that the rest is checked too
        for url, why in REFUSED:
            p = pm.cli("webhook", "add", "shop", url, check=False)
            assert p.returncode != 0 and p.stdout == "", (url, p.returncode, p.stdout, p.stderr)
            if p.returncode != 2:
                wrong_exit.append((url, p.returncode))
            assert re.search(why, p.stderr, re.I), f"{url}: the reason ({why}) not in {p.stderr!r}"
            msg = admin_err(pm.admin("POST", "webhooks/add", op, body={"user": "shop", "url": url}), 400)
            assert re.search(why, msg, re.I), f"{url}: the reason ({why}) not in {msg!r}"
        for args, why, code in ((("nobody", "https://93.184.216.34/h"), r"customer|nobody|unknown|not found", 1),
                                (("shop", "not a url"), r"url", 2),
                                (("shop", "ftp://93.184.216.34/h"), r"https|scheme|url", 2)):
            p = pm.cli("webhook", "add", *args, check=False)
            assert p.returncode != 0 and p.stdout == "", (args, p.returncode, p.stdout, p.stderr)
            if p.returncode != code:
                wrong_exit.append((args[1], p.returncode))
            assert re.search(why, p.stderr, re.I), (args, p.stderr)
        # a public address is taken, by both
        s1 = add_hook(pm, "shop", "https://93.184.216.34/h")
        d = admin_ok(pm.admin("POST", "webhooks/add", op, body={"user": "shop", "url": "https://93.184.216.35/h"}))
        assert SECRET_RE.fullmatch(d["secret"]) and d["secret"] != s1, d
        assert d["webhook"]["url"] == "https://93.184.216.35/h" and d["webhook"]["user"] == "shop", d
        listed = admin_ok(pm.admin("GET", "webhooks", op, query={"user": "shop"}))["list"]
        assert sorted(w["url"] for w in listed) == ["https://93.184.216.34/h", "https://93.184.216.35/h"], listed
        assert all(w["pending"] == 0 and w["dead"] == 0 for w in listed), listed
        fields = {"id", "user", "url", "events", "balance_below", "created", "pending", "dead"}
        for w in listed + [d["webhook"]]:
            assert fields <= set(w), (fields - set(w), w)
            assert w["events"] == ["order.accepted", "order.status", "refill.status"], w
        assert s1 not in json.dumps(listed) and d["secret"] not in json.dumps(listed), listed
        assert set(hook_list(pm)) == {"https://93.184.216.34/h", "https://93.184.216.35/h"}
        admin_ok(pm.admin("POST", "webhooks/remove", op, body={"id": d["webhook"]["id"]}))
        assert set(hook_list(pm)) == {"https://93.184.216.34/h"}
        admin_err(pm.admin("POST", "webhooks/remove", op, body={"id": d["webhook"]["id"]}), 404)
    # webhooks.enabled false: the CLI refuses to register
    with FakePanel(env, services=20) as fp, \
            Panelmux(env, config=hooks_config(enabled="false"), up_port=fp.port) as pm:
        pm.customer("shop", "10")
        p = pm.cli("webhook", "add", "shop", "https://93.184.216.34/h", check=False)
        assert p.returncode != 0 and p.stdout == "" and re.search(r"enabled|disabled|off", p.stderr), p
        if p.returncode != 1:
            wrong_exit.append(("webhooks.enabled false", p.returncode))
    assert not wrong_exit, f"wrong exit statuses (2 bad input, 1 refused): {wrong_exit}"


# --- dead letters -----------------------------------------------------------------------------

def dead_ids_api(pm, op):
    d = admin_ok(pm.admin("GET", "webhooks/dead", op))
    lst = d["list"] if isinstance(d, dict) else d
    return lst


def same_event(a, b):
    """An event ID as the API or CLI shows it (evt_N or N) against evt_N."""
    return str(a).removeprefix("evt_") == str(b).removeprefix("evt_")


def test_dead_letters_and_retry(env):
    """max_age 2 s and a receiver answering 500: the event is dead, in
    `webhook dead`, GET webhooks/dead and the gauge; `webhook retry --all`
    (and POST webhooks/retry) re-queue it and a recovered receiver gets it."""
    cfg = hooks_config(retry_base="100ms", retry_max="300ms", max_age="2s")
    with FakePanel(env, services=20) as fp, Receiver(mode="error") as rx, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("shop", "100")
        start(pm, key)
        op = pm.admin_key("ops")
        secret = add_hook(pm, "shop", rx.url("/h"))
        oid = place(pm, key, 1, "dead")[0]
        eid = rx.wait(lambda rs: rs and rs[0].event_id, what="a first try")
        wait_for(lambda: outbox(pm) == (0, 1), timeout=15, what="the event dead")
        out = pm.cli("webhook", "dead").stdout
        line = [l for l in out.splitlines() if l.split()[:1] in ([eid], [eid[4:]])]
        assert len(line) == 1, out
        assert "order.accepted" in line[0], line
        tries = len([r for r in rx.requests() if r.event_id == eid])
        assert tries >= 3, tries
        lst = dead_ids_api(pm, op)
        assert len(lst) == 1 and same_event(lst[0]["id"], eid), lst
        assert deliveries(pm, "dead") >= 1
        assert hook_list(pm, "shop")[rx.url("/h")][5:7] == ["0", "1"], hook_list(pm, "shop")

        rx.set_mode("ok")
        pm.cli("webhook", "retry", "--all")
        rx.wait(lambda rs: any(r.event_id == eid and r.status == 200 for r in rs), timeout=15,
                what="the retried dead letter delivered")
        wait_for(lambda: outbox(pm) == (0, 0), timeout=10, what="nothing pending or dead")
        ok = [r for r in rx.requests() if r.event_id == eid and r.status == 200]
        assert len(ok) == 1 and check_request(ok[0], secret)["data"]["order"] == oid, ok

        # again, retried by ID through the admin API
        rx.set_mode("error")
        move(pm, fp, key, oid, "Completed", remains=0)
        wait_for(lambda: outbox(pm) == (0, 1), timeout=15, what="the second event dead")
        lst = dead_ids_api(pm, op)
        assert len(lst) == 1 and not same_event(lst[0]["id"], eid), lst
        rx.set_mode("ok")
        admin_ok(pm.admin("POST", "webhooks/retry", op, body={"id": lst[0]["id"]}))
        rx.wait(lambda rs: any(same_event(lst[0]["id"], r.event_id) and r.status == 200 for r in rs),
                timeout=15, what="the second dead letter delivered")
        wait_for(lambda: outbox(pm) == (0, 0), timeout=10, what="nothing pending or dead")
        assert dead_ids_api(pm, op) == []


# --- rotation ----------------------------------------------------------------------------------

def test_secret_rotation(env):
    """`webhook rotate` prints a new secret; during the overlap a delivery
    carries the new secret's v1 then the old one's, each verifying; after
    an overlap ends only the newest signs."""
    verify = readme_verify()
    with FakePanel(env, services=20) as fp, Receiver() as rx, \
            Panelmux(env, config=hooks_config(), up_port=fp.port) as pm:
        key = pm.customer("shop", "100")
        start(pm, key)
        op = pm.admin_key("ops")
        s1 = add_hook(pm, "shop", rx.url("/h"))
        hid = hook_id(pm, "shop", rx.url("/h"))
        p = pm.cli("webhook", "rotate", str(hid))
        s2 = p.stdout.strip()
        assert SECRET_RE.fullmatch(s2) and p.stdout == s2 + "\n" and s2 != s1, p.stdout
        oid = place(pm, key, 1, "rot")[0]
        r1 = rx.wait(lambda rs: rs and rs[0], what="a delivery")
        check_request(r1, s2, s1)
        assert verify(s2, r1.signature, r1.body) and verify(s1, r1.signature, r1.body)
        assert not verify("whsec_" + "9" * 64, r1.signature, r1.body)

        d = admin_ok(pm.admin("POST", "webhooks/rotate", op, body={"id": hid, "overlap": "1s"}))
        s3 = d["secret"]
        assert SECRET_RE.fullmatch(s3) and s3 not in (s1, s2), d
        rotated = time.time()
        wait_for(lambda: time.time() >= rotated + 2.5, timeout=10, what="the 1 s overlap over")
        move(pm, fp, key, oid, "Completed", remains=0)
        r2 = rx.wait(lambda rs: len(rs) >= 2 and rs[1], what="a delivery after the overlap")
        check_request(r2, s3)
        assert verify(s3, r2.signature, r2.body)
        assert not verify(s2, r2.signature, r2.body) and not verify(s1, r2.signature, r2.body)
        assert len(rx.requests()) == 2 and hook_id(pm, "shop", rx.url("/h")) == hid


# --- two instances on PostgreSQL ---------------------------------------------------------------

def test_two_instances_deliver_once(env):
    """Two daemons on one PostgreSQL database, orders through both: every
    event delivered, each exactly once (no crash, so no duplicate)."""
    harness.postgres_only("two instances share one database")
    cfg = hooks_config(retry_base="100ms", retry_max="1s", timeout="2s")
    with FakePanel(env, services=20) as fp, Receiver(mode="slow", delay=0.05) as rx:
        a = Panelmux(env, config=cfg, up_port=fp.port, name="pmx-a")
        b = None
        try:
            b = Panelmux(env, config=cfg, up_port=fp.port, name="pmx-b", share=a)
            key = a.customer("shop", "1000")
            start(a, key)
            start(b, key)
            secret = add_hook(a, "shop", rx.url("/h"))
            with ThreadPoolExecutor(4) as pool:
                lists = list(pool.map(lambda i: place((a, b)[i % 2], key, 10, f"two{i}"), range(4)))
            oids = [o for l in lists for o in l]
            for i, oid in enumerate(oids):
                up = upstream_order_id(a, oid)
                fp.control(op="set", order=up, status="Completed", remains=0)
            expected = {(o, "order.accepted", "Pending") for o in oids} | \
                       {(o, "order.status", "Completed") for o in oids}
            rx.wait(lambda rs: {summary(r) for r in rs if r.status == 200} >= expected, timeout=60,
                    what="every event")
            wait_for(lambda: outbox(a) == (0, 0) and outbox(b) == (0, 0), timeout=10,
                     what="the outbox drained")
            reqs = rx.requests()
            by = attempts_by_id(reqs)
            twice = {e: len(rs) for e, rs in by.items() if len(rs) > 1}
            assert not twice, f"delivered more than once: {twice}"
            assert {summary(r) for r in reqs} == expected and len(reqs) == len(expected)
            for r in reqs:
                check_request(r, secret)
            na, nb = deliveries(a, "ok"), deliveries(b, "ok")
            print(f"# {len(reqs)} events: {na:.0f} delivered by a, {nb:.0f} by b", flush=True)
            assert na + nb == len(expected), (na, nb, len(expected))
            assert_chains_in_order(reqs, [("order.accepted", "Pending"), ("order.status", "Completed")])
            assert "check: ok" in a.check()
            b.stop()
            a.stop()
        finally:
            if b is not None:
                b.close()
            a.close()


# --- event kinds, filters, removal ---------------------------------------------------------------

def test_event_filters_balance_low_refill_remove(env):
    """--events picks what an endpoint gets; balance.low once, when a debit
    crosses the threshold; refill.status with the customer's refill ID;
    a removed endpoint gets nothing more."""
    with FakePanel(env, services=20) as fp, Receiver() as ra, Receiver() as rb, Receiver() as rc, \
            Panelmux(env, config=hooks_config(), up_port=fp.port) as pm:
        key = pm.customer("shop", "6.2")
        start(pm, key)
        sa = add_hook(pm, "shop", ra.url("/a"))
        sb = add_hook(pm, "shop", rb.url("/b"), "--events", "balance.low", "--balance-below", "5")
        sc = add_hook(pm, "shop", rc.url("/c"), "--events", "order.status")
        rows = hook_list(pm, "shop")
        assert rows[ra.url("/a")][3] == "order.accepted,order.status,refill.status", rows
        assert rows[rb.url("/b")][3] == "balance.low" and rows[rb.url("/b")][4] == "5.00000", rows
        oids, after = [], []
        for i in range(3):
            oids.append(place(pm, key, 1, f"f{i}")[0])
            after.append(pm.api(key=key, action="balance")["balance"])
        crossed = [i for i in range(3) if float(after[i]) < 5 <= float(([ "6.2" ] + after)[i])]
        assert len(crossed) == 1, after
        fp.control(op="set", order=upstream_order_id(pm, oids[0]), status="Completed", remains=0)
        wait_for(lambda: status_of(pm, key, oids[0])["status"] == "Completed", what="Completed")
        r = pm.api(key=key, action="refill", order=oids[0])
        assert "refill" in r, r
        fp.control(op="set", refill=1, status="Completed")
        wait_for(lambda: pm.api(key=key, action="refill_status", refill=r["refill"]).get("status") == "Completed",
                 timeout=15, what="refill Completed")
        wait_for(lambda: outbox(pm) == (0, 0) and any(
            json.loads(q.body)["type"] == "refill.status" and json.loads(q.body)["data"]["status"] == "Completed"
            for q in ra.requests()), timeout=15, what="the refill's event delivered")

        a = [check_request(q, sa) for q in ra.requests()]
        b = [check_request(q, sb) for q in rb.requests()]
        c = [check_request(q, sc) for q in rc.requests()]
        refills = [e["data"] for e in a if e["type"] == "refill.status"]
        # (in order per order only: other orders' events may pass each other)
        assert sorted((e["type"], e["data"].get("order")) for e in a if e["type"] != "refill.status") == \
            sorted([("order.accepted", o) for o in oids] + [("order.status", oids[0])]), a
        assert_chains_in_order(ra.requests(), lambda oid: [("order.accepted", "Pending")] + (
            [("order.status", "Completed")] + [("refill.status", s) for s in [e["status"] for e in refills]]
            if oid == oids[0] else []))
        assert refills and refills[-1] == {"refill": int(r["refill"]), "order": oids[0], "status": "Completed"}, refills
        assert [e["type"] for e in b] == ["balance.low"], b
        assert b[0]["data"] == {"balance": after[crossed[0]], "threshold": "5.00000", "currency": "USD"}, b
        assert [(e["type"], e["data"]["order"], e["data"]["status"]) for e in c] == \
            [("order.status", oids[0], "Completed")], c

        # removed: nothing more for it, the others go on
        pm.cli("webhook", "remove", str(hook_id(pm, "shop", rc.url("/c"))))
        assert rc.url("/c") not in hook_list(pm, "shop")
        n_a = len(ra.requests())
        move(pm, fp, key, oids[1], "Completed", remains=0)
        ra.wait(lambda rs: len(rs) > n_a, what="the other endpoint's event")
        wait_for(lambda: outbox(pm) == (0, 0), timeout=10, what="the outbox drained")
        assert len(rc.requests()) == 1, rc.requests()


def test_private_destination_refused_at_delivery(env):
    """Beyond the registration check (DESIGN.md, "Destinations": the sender
    checks the address each connection is about to use): endpoints
    registered while allow_private was on, http:// and https:// to
    localhost, get no connection at all once it is off."""
    with FakePanel(env, services=20) as fp, Receiver() as plain, Receiver() as tls, \
            Panelmux(env, config=hooks_config(), up_port=fp.port) as pm:
        key = pm.customer("shop", "100")
        add_hook(pm, "shop", plain.url("/h").replace("127.0.0.1", "localhost"))
        add_hook(pm, "shop", tls.url("/h").replace("http://127.0.0.1", "https://localhost"))
        pm.write_config(hooks_config(allow_private="false"))
        start(pm, key)
        place(pm, key, 1, "private")
        wait_for(lambda: deliveries(pm, "failed") >= 4, timeout=15, what="four failed tries")
        assert plain.connections() == 0 and tls.connections() == 0, \
            f"connections to a private address: http {plain.connections()}, https {tls.connections()}"
        assert plain.requests() == [] and tls.requests() == []
        assert outbox(pm) == (2, 0)


# --- SIGTERM ---------------------------------------------------------------------------------------

def test_sigterm_starts_no_new_delivery(env):
    """README, "Configuration": SIGTERM drains, waiting for the calls in
    flight.  With a backlog for a slow receiver, what arrives after the
    SIGTERM is at most what was already on its way (webhooks.max_connections),
    and the daemon exits 0 promptly; the rest waits in the outbox for the
    next start."""
    cfg = hooks_config(retry_base="100ms", retry_max="500ms", timeout="5s", max_connections=16)
    with FakePanel(env, services=20) as fp, Receiver(mode="slow", delay=0.3) as rx, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("shop", "1000")
        start(pm, key)
        for i in range(3):
            add_hook(pm, "shop", rx.url(f"/h{i}"))
        oids = place(pm, key, 30, "term")      # 90 events: 3 endpoints x 30 orders
        rx.wait(lambda rs: len(rs) >= 8, timeout=20, what="deliveries under way")
        term = time.monotonic()
        pm.stop()                              # SIGTERM; must exit 0
        took = time.monotonic() - term
        after = [r for r in rx.requests() if r.mono > term]
        print(f"# SIGTERM with {len(oids) * 3} events: stopped in {took:.2f} s,"
              f" {len(after)} deliveries arrived after it", flush=True)
        assert len(after) <= 16, f"{len(after)} deliveries started after the SIGTERM (stop took {took:.1f} s)"
        assert took < 5 + 2, took
        # nothing lost: the rest goes after a restart
        pm.start()
        want = {(o, "order.accepted", "Pending") for o in oids}
        rx.wait(lambda rs: all(len({r.path for r in rs if r.status == 200 and summary(r) == w}) == 3
                               for w in want), timeout=60, what="every event after the restart")
