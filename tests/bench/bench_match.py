#!/usr/bin/env python3
"""Row "services match, 3 upstreams x 5,000 services" (issue 22).

Three fake panels each list 5,000 services drawn from 7,000 synthetic
products (platform, kind, refill window, quality, geo, speed, type), named
each panel's own way by tests/unit/match_set.py's renderer (English with
brackets and emoji; abbreviations; Turkish, Arabic, Italian, Kabyle), so
most products are sold by two or three panels under different names.
`panelmux services sync` stores the three catalogues.  Timed, wall clock,
median of BENCH_MATCH_RUNS (3) runs, each a whole CLI process:

  match   `panelmux services match --format yaml` (load the three stored
          catalogues, price them, normalise, block, score, group, print;
          yaml also looks up the config's imports for the first free ID)
  anchor  `panelmux services list` with the three upstreams imported whole:
          the same process start, config, and loads of the same three
          stored catalogues, priced and printed one line per service.
          What an operator already runs over the same data, so the ratio
          is what matching adds to reading the catalogues.

Target: match under 2 s (the issue's bound, on this machine).  Results:
match.pmx_s, match.anchor_s, match.json_s, match.groups, match.pairs,
match.services."""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib as b

sys.path.insert(0, os.path.join(b.ROOT, "tests", "unit"))
import match_set  # noqa: E402

PER_UPSTREAM = int(os.environ.get("BENCH_MATCH_SERVICES", "5000"))
RUNS = int(os.environ.get("BENCH_MATCH_RUNS", "3"))
UPS = ("alpha", "beta", "gamma")

CONFIG = """\
listen:
  api: "127.0.0.1:{port}"
  admin: ""
store:
  sqlite: "{db}"
log:
  level: warn
upstreams:
{ups}services:
  - import: alpha
    id_offset: 0
  - import: beta
    id_offset: 1000000
  - import: gamma
    id_offset: 2000000
"""


def catalogues():
    r = random.Random(5000)
    match_set.R.seed(5000)
    base = [(p, k) for p in match_set.PLAT for k in ("followers", "likes", "views", "comments",
                                                    "subscribers", "shares", "saves")]
    langs = ["tr", "ar", "it", "en", "kab"]
    products = []
    for i in range(int(PER_UPSTREAM * 1.4)):
        plat, kind = r.choice(base)
        typ = r.choices(["Default", "Package", "Custom Comments"], [92, 5, 3])[0]
        if typ == "Custom Comments":
            kind = "comments"
        products.append(dict(platform=plat, kind=kind, type=typ,
                             refill=r.choice([None, 0, 0, 30, 30, 60, 90, 365, "life"]),
                             quality=r.choice([None, None, "real", "hq", "bot"]),
                             geo=r.choice([None] * 6 + ["turkey", "arab", "usa"]),
                             sub=r.choice([None] * 8 + ["story", "live"]) if kind == "views" else None,
                             speed=r.choice([None, "1K", "5K", "10K", "20K", "50K"]),
                             pack=r.choice([100, 500, 1000, 5000]), extra={},
                             rate=r.uniform(0.01, 20), min=r.choice([10, 50, 100, 500]),
                             max=r.choice([5000, 10000, 100000, 1000000])))
    out = {}
    for u, up in enumerate(UPS):
        pick = sorted(r.sample(range(len(products)), PER_UPSTREAM))
        lst = []
        for n, i in enumerate(pick):
            p = products[i]
            name, cat = match_set.name_for(p, up, langs[i % len(langs)])
            lst.append(dict(service=n + 1, name=name.strip(), type=p["type"], category=cat,
                            rate=f"{p['rate'] * r.uniform(0.85, 1.2):.4f}",
                            min=str(p["min"]), max=str(p["max"]),
                            refill=p["refill"] not in (None, 0), cancel=True,
                            dripfeed=False))
        out[up] = lst
    return out


def timed(argv):
    t0 = time.monotonic()
    p = subprocess.run(b.pinned(b.SERVER_CPU, argv), capture_output=True, text=True, timeout=300)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr}")
    return secs, p.stdout


def main():
    import json
    tmp = tempfile.mkdtemp(prefix="bench-match-")
    panels = []
    try:
        for up, lst in catalogues().items():
            path = os.path.join(tmp, f"{up}.json")
            with open(path, "w") as f:
                json.dump(lst, f, ensure_ascii=False)
            panels.append(b.FakePanel(tmp, extra=["--services-file", path]))
        ups = "".join(f"""  - name: {up}
    url: "http://127.0.0.1:{fp.port}/api/v2"
    key: "{b.UPSTREAM_KEY}"
""" for up, fp in zip(UPS, panels))
        conf = os.path.join(tmp, "panelmux.yaml")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(CONFIG.format(port=b.free_port(), db=os.path.join(tmp, "panelmux.db"), ups=ups))
        cli = [b.bin_path("panelmux"), "-c", conf]
        subprocess.run(cli + ["services", "sync"], check=True, timeout=300)
        runs = {"pmx": [], "anchor": [], "json": []}
        groups = pairs = services = None
        for _ in range(RUNS):
            s, out = timed(cli + ["services", "list"])
            runs["anchor"].append(s)
            listed = out.count("\n") - 1
            s, out = timed(cli + ["services", "match", "--format", "yaml"])
            runs["pmx"].append(s)
            s, out = timed(cli + ["services", "match", "--format", "json"])
            runs["json"].append(s)
            js = json.loads(out)
            groups, pairs, services = js["count"], js["pairs_scored"], js["services"]
        print(f"services listed by the anchor: {listed}; matched: {services}; "
              f"groups {groups}; pairs scored {pairs}")
        for k, v in runs.items():
            print(f"{k}: " + ", ".join(f"{x:.3f}" for x in v))
        b.result("match.pmx_s", f"{statistics.median(runs['pmx']):.3f}")
        b.result("match.anchor_s", f"{statistics.median(runs['anchor']):.3f}")
        b.result("match.json_s", f"{statistics.median(runs['json']):.3f}")
        b.result("match.groups", groups)
        b.result("match.pairs", pairs)
        b.result("match.services", services)
    finally:
        for fp in panels:
            fp.close()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
