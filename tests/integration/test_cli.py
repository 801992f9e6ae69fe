"""The operator CLI against the store, and the daemon's config handling."""
import os
import re
import subprocess

from harness import Panelmux, BASE_CONFIG, STORE


def test_customer_lifecycle(env):
    with Panelmux(env) as pm:
        p = pm.cli("customer", "add", "alice")
        key = p.stdout
        assert re.fullmatch(r"[0-9a-f]{32}\n", key), repr(key)  # the key alone
        key = key.strip()
        assert pm.cli("customer", "add", "alice", check=False).returncode == 1
        assert pm.cli("customer", "add", "bad name!", check=False).returncode == 2
        assert pm.cli("customer", "add", "x" * 65, check=False).returncode == 2
        # keys are random
        other = pm.customer("bob")
        assert other != key
        # funding, withdrawals, refusal below zero, decimals
        assert pm.cli("customer", "fund", "alice", "10.5", "--note", "first").stdout.strip() == "10.50000 USD"
        assert pm.cli("customer", "fund", "alice", "-0.5").stdout.strip() == "10.00000 USD"
        p = pm.cli("customer", "fund", "alice", "-10.00001", check=False)
        assert p.returncode == 1 and "negative" in p.stderr, p
        assert pm.cli("customer", "fund", "alice", "0.000001", check=False).returncode == 2
        assert pm.cli("customer", "fund", "alice", "1e3", check=False).returncode == 2
        assert pm.cli("customer", "fund", "alice", "0", check=False).returncode == 2
        assert pm.cli("customer", "fund", "nobody", "1", check=False).returncode == 1
        show = pm.cli("customer", "show", "alice").stdout
        assert "balance:  10.00000 USD" in show and "active" in show, show
        lst = pm.cli("customer", "list").stdout
        assert re.search(r"^alice\s+10\.00000 USD$", lst, re.M), lst
        assert re.search(r"^bob\s+0\.00000 USD$", lst, re.M), lst
        # the key is stored only as a hash: in no column of customers, and
        # (SQLite) nowhere in the database's files
        rows = pm.sql("SELECT * FROM customers")
        assert len(rows) == 2 and not any(key in (v or "") for row in rows for v in row), rows
        if STORE == "sqlite":
            raw = open(pm.db, "rb").read() + (open(pm.db + "-wal", "rb").read()
                                              if os.path.exists(pm.db + "-wal") else b"")
            assert key.encode() not in raw
        # rotation: the old key stops working, the new one works
        pm.start()
        assert pm.api(key=key, action="balance")["balance"] == "10.00000"
        new = pm.cli("customer", "key", "alice").stdout.strip()
        assert new != key and re.fullmatch(r"[0-9a-f]{32}", new)
        assert pm.api(key=key, action="balance") == {"error": "Invalid API key"}
        assert pm.api(key=new, action="balance")["balance"] == "10.00000"
        assert "check: ok" in pm.check()


def test_check_detects_tampering(env):
    """check must fail when the ledger and a balance disagree."""
    with Panelmux(env) as pm:
        pm.customer("alice", "5")
        pm.check()
        pm.sql("UPDATE customers SET balance = balance + 1 WHERE name = ?", "alice")
        p = pm.cli("check", check=False)
        assert p.returncode == 1 and "balance differs from its ledger" in p.stdout, p.stdout


def test_config_check_mode(env):
    with Panelmux(env) as pm:
        d = env.bin("panelmuxd")
        p = subprocess.run([d, "-c", pm.config_path, "--check"], capture_output=True, text=True,
                           env=pm.environ)
        assert p.returncode == 0, p.stderr
        pm.write_config(BASE_CONFIG + "bogus_key: 1\nlimits:\n  max_body: lots\n")
        p = subprocess.run([d, "-c", pm.config_path, "--check"], capture_output=True, text=True,
                           env=pm.environ)
        assert p.returncode == 2, p
        lines = p.stderr.strip().splitlines()
        n = len(BASE_CONFIG.splitlines())
        assert any(l.startswith(f"{pm.config_path}:{n + 1}:1: bogus_key") for l in lines), p.stderr
        assert any(l.startswith(f"{pm.config_path}:{n + 3}:13: limits.max_body") for l in lines), p.stderr
        # the daemon refuses to start on the same file
        p = subprocess.run([d, "-c", pm.config_path], capture_output=True, text=True, env=pm.environ,
                           timeout=20)
        assert p.returncode == 2, p


def test_unset_env_var(env):
    with Panelmux(env) as pm:
        e = dict(pm.environ)
        del e["PMX_TEST_UPSTREAM_KEY"]
        p = subprocess.run([env.bin("panelmuxd"), "-c", pm.config_path, "--check"],
                           capture_output=True, text=True, env=e)
        assert p.returncode == 2 and "PMX_TEST_UPSTREAM_KEY" in p.stderr, p


def test_literal_key_needs_private_config(env):
    with Panelmux(env) as pm:
        text = BASE_CONFIG.replace('"${{PMX_TEST_UPSTREAM_KEY}}"', '"literal-secret-123"')
        pm.write_config(text, mode=0o644)
        p = subprocess.run([env.bin("panelmuxd"), "-c", pm.config_path, "--check"],
                           capture_output=True, text=True, env=pm.environ)
        assert p.returncode == 2 and "readable by group or others" in p.stderr, p
        assert "literal-secret-123" not in p.stderr
        os.chmod(pm.config_path, 0o600)
        p = subprocess.run([env.bin("panelmuxd"), "-c", pm.config_path, "--check"],
                           capture_output=True, text=True, env=pm.environ)
        assert p.returncode == 0, p


def test_missing_config_file(env):
    p = subprocess.run([env.bin("panelmuxd"), "-c", "/nonexistent/panelmux.yaml", "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "/nonexistent/panelmux.yaml" in p.stderr, p
