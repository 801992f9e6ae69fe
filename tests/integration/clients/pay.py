#!/usr/bin/env python3
"""A payment script of the kind shops run against a panel's admin API v2
(the public ones are a few lines of urllib): it adds (or deducts) a
payment for a user and reads the new balance from data.user.balance.

    pay.py BASE_URL API_KEY USERNAME AMOUNT [--method M] [--memo TEXT]
           [--external-id REF] [--form] [--number] [--deduct]

BASE_URL is the admin API's base, e.g. http://127.0.0.1:9090/adminapi/v2.
The body is JSON (Content-Type: application/json) unless --form (form
encoded); --number sends AMOUNT as a JSON number instead of a string.

Prints one JSON line: {"http", "error_code", "error_message",
"payment_id", "balance", "duplicate"}; exits 0 when error_code is 0, 1 on
an API error, 2 when there is no usable answer.  Stdlib only."""
import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("api_key")
    ap.add_argument("username")
    ap.add_argument("amount")
    ap.add_argument("--method", default="Python")
    ap.add_argument("--memo", default="added by pay.py")
    ap.add_argument("--external-id")
    ap.add_argument("--form", action="store_true")
    ap.add_argument("--number", action="store_true")
    ap.add_argument("--deduct", action="store_true")
    a = ap.parse_args()

    payload = {
        "username": a.username,
        "amount": json.loads(a.amount) if a.number else a.amount,
        "method": a.method,
        "memo": a.memo,
        "affiliate_commission": 0,
    }
    if a.external_id is not None:
        payload["external_id"] = a.external_id
    if a.form:
        data = urllib.parse.urlencode(payload).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        data = json.dumps(payload).encode()
        ctype = "application/json"
    url = a.base_url.rstrip("/") + ("/payments/deduct" if a.deduct else "/payments/add")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"X-Api-Key": a.api_key, "Content-Type": ctype,
                                          "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:   # 4xx/5xx: the envelope is in the body
        status, body = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        print(f"pay.py: {e}", file=sys.stderr)
        return 2
    try:
        r = json.loads(body)
    except ValueError:
        print(f"pay.py: HTTP {status}, not JSON: {body[:200]!r}", file=sys.stderr)
        return 2
    data = r.get("data") or {}
    print(json.dumps({
        "http": status,
        "error_code": r.get("error_code"),
        "error_message": r.get("error_message"),
        "payment_id": data.get("payment_id"),
        "balance": (data.get("user") or {}).get("balance"),
        "duplicate": data.get("duplicate"),
    }))
    return 0 if r.get("error_code") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
