"""Refunds per order type against an independent decimal oracle.

Every order type of SPEC section 4 is ordered through panelmuxd, the fake
panel settles each order (Partial with several remains, Canceled, Refunded,
Completed), and the refund that reaches the customer's balance is compared
with a computation written here in Python's decimal arithmetic from the
request alone: the charged units and the unit the upstream counts `remains`
in are worked out per type in this file, never taken from panelmux.

The unit, per type (DESIGN.md, "Orders"): Default quantity, x runs when
drip-fed (the upstream delivers quantity x runs and counts remains against
it); the line-counted types their lines; packages 1; Subscriptions max (the
upstream's own quantity, while the charge is max x posts); the rest their
quantity."""
from decimal import Decimal, ROUND_CEILING, ROUND_FLOOR

from harness import Panelmux, FakePanel, alpha_config, wait_for, http_request
import re

PLACES = Decimal("0.00001")  # money.decimals: 5

LINES12 = "\n".join(f"comment {i}" for i in range(12))
USERS11 = "\n".join(f"user{i}" for i in range(11))
REPLIES10 = "\n".join("abcdefghij")

# service -> (type, fields, charged units (None: a package, charged its
# rate), the upstream's unit for remains)
CASES = {
    1: ("Default", {"link": "https://r.example/1", "quantity": "1000"}, 1000, 1000),
    3: ("Default", {"link": "https://r.example/3", "quantity": "400", "runs": "5",
                    "interval": "10"}, 2000, 2000),
    2: ("Custom Comments", {"link": "https://r.example/2", "comments": LINES12}, 12, 12),
    5: ("Package", {"link": "https://r.example/5"}, None, 1),
    6: ("Mentions", {"link": "https://r.example/6", "quantity": "100",
                     "usernames": "ann\nbob"}, 100, 100),
    7: ("Mentions with Hashtags", {"link": "https://r.example/7", "quantity": "100",
                                   "usernames": "ann", "hashtags": "#a\n#b"}, 100, 100),
    8: ("Mentions Custom List", {"link": "https://r.example/8", "usernames": USERS11}, 11, 11),
    9: ("Mentions Hashtag", {"link": "https://r.example/9", "quantity": "100",
                             "hashtag": "#cats"}, 100, 100),
    10: ("Mentions User Followers", {"link": "https://r.example/10", "quantity": "100",
                                     "username": "natgeo"}, 100, 100),
    11: ("Mentions Media Likers", {"link": "https://r.example/11", "quantity": "100",
                                   "media": "https://r.example/m"}, 100, 100),
    12: ("Comment Likes", {"link": "https://r.example/12", "quantity": "20",
                           "username": "owner"}, 20, 20),
    13: ("Comment Replies", {"link": "https://r.example/13", "username": "owner",
                             "comments": REPLIES10}, 10, 10),
    14: ("Poll", {"link": "https://r.example/14", "quantity": "100",
                  "answer_number": "2"}, 100, 100),
    15: ("Invites from Groups", {"link": "https://r.example/15", "quantity": "100",
                                 "groups": "g1\ng2"}, 100, 100),
    16: ("Subscriptions", {"username": "someone", "min": "50", "max": "100",
                           "posts": "10", "delay": "30"}, 1000, 100),
    17: ("Custom Comments Package", {"link": "https://r.example/17",
                                     "comments": "great\nnice"}, None, 1),
}


def money(x, rounding):
    return Decimal(x).quantize(PLACES, rounding=rounding)


def oracle_charge(rate, charged):
    """The charge: the listed rate per 1000 x the charged units, rounded up
    to money.decimals; a package costs its rate."""
    if charged is None:
        return money(rate, ROUND_CEILING)
    return money(Decimal(rate) * charged / 1000, ROUND_CEILING)


def oracle_refund(charge, unit, final, remains=None):
    """What a final upstream status owes back: Completed nothing, Canceled
    and Refunded everything, Partial the undelivered share of the charge in
    the upstream's unit (remains clamped to [0, unit]), rounded down."""
    if final == "Completed":
        return Decimal(0)
    if final in ("Canceled", "Refunded"):
        return charge
    r = min(max(remains, 0), unit)
    return money(charge * r / unit, ROUND_FLOOR)


def outcomes(unit):
    """The settlements tried for a type whose unit is UNIT: Partial with
    several remains (none, a third, all but one, all, above all, negative),
    Canceled, Refunded, Completed."""
    rs = sorted({0, unit // 3, max(unit - 1, 0), unit, unit + 7, -3})
    return [("Partial", r) for r in rs] + [("Canceled", None), ("Refunded", None),
                                           ("Completed", None)]


def shown_word(final):
    # Customers see the standard v2 words only: Refunded is Canceled.
    return "Canceled" if final == "Refunded" else final


def upstream_order_id(pm, local):
    out = pm.cli("order", "show", str(local)).stdout
    m = re.search(r"^upstream order:\s+(\S+)", out, re.M)
    assert m and m.group(1) != "-", out
    return m.group(1)


def balance(pm, key):
    return Decimal(pm.api(key=key, action="balance")["balance"])


def test_refund_oracle_every_type(env):
    """Each type x each settlement: the balance moves by exactly the
    oracle's refund, the status shows the net charge and the remains in the
    upstream's unit, and check holds."""
    cfg = alpha_config(level="info", reply_wait="5s", poll_interval="300ms",
                       extra='pricing:\n  markup: "25%"\n  round_to: "0.0001"\n')
    with FakePanel(env, services=20) as fp, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("oracle", "100000")
        pm.start()
        svcs = wait_for(lambda: {s["service"]: s for s in pm.api(key=key, action="services")}
                        or None, what="catalogue import")
        placed = []  # (local id, charge, unit, final, remains)
        deposit = Decimal(100000)
        for sid, (typ, fields, charged, unit) in CASES.items():
            assert svcs[sid]["type"] == typ, (sid, svcs[sid]["type"], typ)
            charge = oracle_charge(svcs[sid]["rate"], charged)
            for final, remains in outcomes(unit):
                before = balance(pm, key)
                r = pm.api(key=key, action="add", service=sid, **fields)
                assert "order" in r, (sid, r)
                assert before - balance(pm, key) == charge, (sid, typ, charge)
                placed.append((r["order"], sid, charge, unit, final, remains))
        spent = sum(p[2] for p in placed)
        for local, sid, charge, unit, final, remains in placed:
            op = {"op": "set", "order": upstream_order_id(pm, local), "status": final}
            if final == "Partial":
                op["remains"] = remains
            elif final == "Completed":
                op["remains"] = 0
            fp.control(**op)
        refunds = sum(oracle_refund(c, u, f, r) for _, _, c, u, f, r in placed)
        want = deposit - spent + refunds
        ids = [p[0] for p in placed]

        def statuses():
            got = {}
            for i in range(0, len(ids), 100):
                got.update(pm.api(key=key, action="status",
                                  orders=",".join(str(x) for x in ids[i:i + 100])))
            return got

        # Settled: every order shows its final word (then its money moved:
        # the state and the refund are one transaction).
        final_words = {"Partial", "Canceled", "Refunded", "Completed"}
        got = wait_for(lambda: (lambda g: g if all(
            g[str(p[0])]["status"] in final_words for p in placed) else None)(statuses()),
            timeout=60, what="every order settled")
        assert balance(pm, key) == want, (balance(pm, key), want)
        bad = []
        for local, sid, charge, unit, final, remains in placed:
            st = got[str(local)]
            refund = oracle_refund(charge, unit, final, remains)
            want_remains = {"Completed": 0, "Partial": min(max(remains or 0, 0), unit)}.get(final)
            if (st["status"] != shown_word(final)
                    or Decimal(st["charge"]) != charge - refund
                    or (want_remains is not None and st["remains"] != str(want_remains))):
                bad.append((sid, CASES[sid][0], final, remains, unit, str(charge),
                            str(refund), st))
        assert not bad, "\n".join(map(repr, bad))
        assert "check: ok" in pm.check()


def test_dripfeed_half_delivered_refunds_half(env):
    """The field finding: quantity=500000 runs=10, the upstream reports
    Partial with remains 2,500,000 of its 5,000,000: half the charge comes
    back, not all of it."""
    cfg = alpha_config(level="info", reply_wait="5s", poll_interval="300ms")
    with FakePanel(env, services=20) as fp, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("drip", "1000000")
        pm.start()
        svcs = wait_for(lambda: {s["service"]: s for s in pm.api(key=key, action="services")}
                        or None, what="catalogue import")
        assert svcs[3]["dripfeed"] is True and int(svcs[3]["max"]) >= 500000, svcs[3]
        r = pm.api(key=key, action="add", service=3, link="https://r.example/drip",
                   quantity=500000, runs=10, interval=5)
        assert "order" in r, r
        charge = money(Decimal(svcs[3]["rate"]) * 5000000 / 1000, ROUND_CEILING)
        assert balance(pm, key) == 1000000 - charge
        up = upstream_order_id(pm, r["order"])
        up_order = http_request(fp.port, "GET", f"/control/orders/{up}").json()
        assert up_order["quantity"] == 500000 and up_order["runs"] == 10, up_order
        fp.control(op="set", order=up, status="Partial", remains=2500000)
        half = money(charge / 2, ROUND_FLOOR)
        wait_for(lambda: balance(pm, key) == 1000000 - charge + half, timeout=20,
                 what="half refund")
        st = pm.api(key=key, action="status", order=r["order"])
        assert st["remains"] == "2500000" and st["status"] == "Partial", st
        assert Decimal(st["charge"]) == charge - half, st
        assert "check: ok" in pm.check()


def test_subscription_partial_refund_in_max(env):
    """Subscriptions are charged max x posts but the upstream counts remains
    against max: remains 50 of max 100 refunds half, not a twentieth."""
    cfg = alpha_config(level="info", reply_wait="5s", poll_interval="300ms")
    with FakePanel(env, services=20) as fp, \
            Panelmux(env, config=cfg, up_port=fp.port) as pm:
        key = pm.customer("subs", "1000")
        pm.start()
        svcs = wait_for(lambda: {s["service"]: s for s in pm.api(key=key, action="services")}
                        or None, what="catalogue import")
        r = pm.api(key=key, action="add", service=16, username="someone", min=50, max=100,
                   posts=10, delay=30)
        assert "order" in r, r
        charge = money(Decimal(svcs[16]["rate"]) * 1000 / 1000, ROUND_CEILING)
        up = upstream_order_id(pm, r["order"])
        fp.control(op="set", order=up, status="Partial", remains=50)
        half = money(charge * 50 / 100, ROUND_FLOOR)
        wait_for(lambda: balance(pm, key) == 1000 - charge + half, timeout=20,
                 what="half refund")
        assert "check: ok" in pm.check()
