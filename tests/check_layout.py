#!/usr/bin/env python3
"""The layout rules of lib/ (issue 16, DESIGN.md "Layout"), as TAP:
  1. no include cycle among lib/'s modules (a module is the files named
     by its prefix: api.c and api.h; store.c, store_core.c, store_pg.c);
  2. the order engine (lib/orders*.c, lib/orders*.h) includes neither
     api.h nor params.h: it takes typed input and renders no v2 JSON;
  3. no lib/ source or header is over 1,000 lines;
  4. the store does not include the upstream reply parser (dialect.h).
Stdlib only.  Usage: python3 tests/check_layout.py [LIBDIR]"""
import os
import re
import sys

LIB = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "lib")
MAX_LINES = 1000
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module(name):
    """A file's node: its module, the name up to the first '_' (STYLE.md:
    the module prefix is the file name), so store.c, store.h,
    store_core.c and store_sqlite_orders.c are one node, the store."""
    return os.path.splitext(os.path.basename(name))[0].split("_")[0]


files = sorted(f for f in os.listdir(LIB) if f.endswith((".c", ".h")))
text = {f: open(os.path.join(LIB, f), encoding="utf-8", errors="replace").read() for f in files}
names = {module(f) for f in files}
edges = {}
for f in files:
    for inc in INCLUDE.findall(text[f]):
        if module(inc) in names and module(inc) != module(f):
            edges.setdefault(module(f), set()).add(module(inc))


def find_cycle():
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in names}
    stack = []

    def visit(n):
        color[n] = GREY
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if color[m] == GREY:
                return stack[stack.index(m):] + [m]
            if color[m] == WHITE:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        color[n] = BLACK
        return None

    for n in sorted(names):
        if color[n] == WHITE:
            c = visit(n)
            if c:
                return c
    return None


results = []
cycle = find_cycle()
results.append(("no include cycle among lib/ files",
                None if cycle is None else "cycle: " + " -> ".join(cycle)))
bad = [f"{f} includes {inc}" for f in files if module(f).startswith("orders")
       for inc in INCLUDE.findall(text[f]) if inc in ("api.h", "params.h")]
results.append(("lib/orders* include neither api.h nor params.h", "; ".join(bad) or None))
long_ = [f"{f}: {text[f].count(chr(10))} lines" for f in files if text[f].count("\n") > MAX_LINES]
results.append((f"no lib/ file over {MAX_LINES} lines", "; ".join(long_) or None))
bad = [f"{f} includes dialect.h" for f in files if module(f).startswith("store")
       and "dialect.h" in INCLUDE.findall(text[f])]
results.append(("the store does not include dialect.h", "; ".join(bad) or None))

print(f"1..{len(results)}")
for i, (what, why) in enumerate(results, 1):
    if why is None:
        print(f"ok {i} - {what}")
    else:
        print(f"not ok {i} - {what}")
        print(f"# {why}")
sys.exit(0 if all(w is None for _, w in results) else 1)
