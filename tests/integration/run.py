#!/usr/bin/env python3
"""Integration test runner: imports tests/integration/test_*.py, runs every
function named test_* with an Env, prints TAP.  Stdlib only.

    [PMX_STORE=postgres PMX_PG=CONNINFO] python3 tests/integration/run.py --build build [--filter REGEX] [-j N]

A test that calls harness.skip(reason) is reported `ok N - name # SKIP reason`.
Tests marked @harness.exclusive run after the others, one at a time.
"""
import argparse
import importlib.util
import os
import re
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def discover(pattern, exclude="", only=""):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        modname = fn[:-3]
        spec = importlib.util.spec_from_file_location(modname, os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            tests.append((modname + ".import", None, traceback.format_exc()))
            continue
        for name in sorted(dir(mod)):
            if name.startswith("test_") and callable(getattr(mod, name)):
                full = f"{modname}.{name}"
                if pattern and not re.search(pattern, full):
                    continue
                if exclude and re.search(exclude, full):
                    continue
                if only and not re.search(only, full):
                    continue
                tests.append((full, getattr(mod, name), None))
    return tests


def run_one(env, name, fn):
    start = time.monotonic()
    try:
        harness.run_with_timeout(lambda: fn(env), harness.TEST_TIMEOUT)
        return (name, True, "", time.monotonic() - start)
    except harness.Skip as e:
        return (name, True, f"SKIP {e}", time.monotonic() - start)
    except Exception:
        return (name, False, traceback.format_exc(), time.monotonic() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--filter", default="")
    ap.add_argument("--exclude", default="", help="leave out the tests this matches")
    ap.add_argument("--only", default="", help="keep only the tests this matches too")
    ap.add_argument("-j", type=int, default=int(os.environ.get("TESTS_JOBS", "2")))
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(HERE))
    os.chdir(root)
    env = harness.Env(os.path.abspath(args.build), root)
    tests = discover(args.filter, args.exclude, args.only)
    print(f"1..{len(tests)}")
    print(f"# store: {harness.STORE}")
    sys.stdout.flush()
    results = []
    runnable = [(n, f) for (n, f, err) in tests if f is not None]
    for (n, f, err) in tests:
        if f is None:
            results.append((n, False, err, 0.0))

    def report(res):
        results.append(res)
        name, ok, err, secs = res
        if ok and err.startswith("SKIP "):
            print(f"ok {len(results)} - {name} # SKIP {err[5:]}")
        elif ok:
            print(f"ok {len(results)} - {name} ({secs:.1f}s)")
        else:
            print(f"not ok {len(results)} - {name} ({secs:.1f}s)")
            for line in err.rstrip().splitlines()[-25:]:
                print("#   " + line)
        sys.stdout.flush()

    shared = [t for t in runnable if not getattr(t[1], "exclusive", False)]
    alone = [t for t in runnable if getattr(t[1], "exclusive", False)]
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        for res in pool.map(lambda t: run_one(env, t[0], t[1]), shared):
            report(res)
    for t in alone:
        report(run_one(env, t[0], t[1]))
    for (n, ok, err, _) in results[: len(tests) - len(runnable)]:
        print(f"not ok - {n}")
        for line in err.rstrip().splitlines()[-25:]:
            print("#   " + line)
    return 0 if all(r[1] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
