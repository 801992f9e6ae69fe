#!/usr/bin/env python3
"""Writes tests/unit/match_set.json: the labelled set test_match.c measures
the matcher on (issue 22).  Stdlib only; deterministic (seeded).

    python3 tests/unit/match_set.py > tests/unit/match_set.json

Three fake upstreams, each writing names its own way:
  alpha  English, long bracketed names, emoji, speeds ("Instagram Followers
         [Real] [30 Days Refill] ⚡ 10K/Day")
  beta   the abbreviations (IG, TT, YT, FB, X, TG), dashes and pipes,
         "R30", "30D Refill", "NR" never (see "Limits" in DESIGN.md)
  gamma  mostly other languages: Turkish, Arabic, Italian and Kabyle, the
         languages of the seeds' API pages (/work/shared/seeds), and some
         English
Every product has a true group ("group"); a product sold by one upstream
only is a group of one.  Decoys are products that look alike but differ in
one thing: likes vs followers, refill vs no refill, Package vs Default,
story views vs views, a geo target, real vs bot, another refill window.
The file also holds a few hand-written irregular names (HAND below)."""
import json
import random
import sys

R = random.Random(22)

PLAT = {
    # platform: (alpha, beta, tr, ar, it)
    "instagram": ("Instagram", "IG", "Instagram", "انستقرام", "Instagram"),
    "tiktok": ("TikTok", "TT", "TikTok", "تيك توك", "TikTok"),
    "youtube": ("YouTube", "YT", "YouTube", "يوتيوب", "YouTube"),
    "facebook": ("Facebook", "FB", "Facebook", "فيسبوك", "Facebook"),
    "twitter": ("Twitter", "X", "Twitter", "تويتر", "Twitter"),
    "telegram": ("Telegram", "TG", "Telegram", "تيليجرام", "Telegram"),
    "spotify": ("Spotify", "Spotify", "Spotify", "سبوتيفاي", "Spotify"),
    "twitch": ("Twitch", "Twitch", "Twitch", "Twitch", "Twitch"),
    "threads": ("Threads", "Threads", "Threads", "Threads", "Threads"),
}
KIND = {
    # kind: (alpha, beta, tr, ar, it, kab or None)
    "followers": ("Followers", "Followers", "Takipçi", "متابعين", "Follower", "Imḍebbaren"),
    "likes": ("Likes", "Likes", "Beğeni", "لايكات", "Mi Piace", None),
    "views": ("Views", "Views", "İzlenme", "مشاهدات", "Visualizzazioni", None),
    "comments": ("Comments", "Comments", "Yorum", "تعليقات", "Commenti", "Imeslayen"),
    "subscribers": ("Subscribers", "Subs", "Abone", "مشتركين", "Iscritti", None),
    "members": ("Members", "Members", "Üye", "أعضاء", "Membri", None),
    "shares": ("Shares", "Shares", "Paylaşım", "مشاركات", "Condivisioni", None),
    "saves": ("Saves", "Saves", "Kaydetme", "حفظ", "Salvataggi", None),
    "plays": ("Plays", "Plays", "Dinlenme", "استماع", "Plays", None),
    "retweets": ("Retweets", "Retweets", "Retweet", "ريتويت", "Retweet", None),
    "reactions": ("Reactions", "Reactions", "Tepki", "تفاعلات", "Reazioni", None),
}
SUB = {  # sub: (alpha, beta, tr, ar, it)
    "story": ("Story", "Story", "Hikaye", "ستوري", "Storie"),
    "live": ("Live Stream", "Live", "Canlı Yayın", "بث مباشر", "Diretta"),
}
QUAL = {  # (alpha, beta, tr, ar, it)
    "real": ("Real", "Real", "Gerçek", "حقيقي", "Reali"),
    "hq": ("High Quality", "HQ", "Kaliteli", "جودة عالية", "Alta Qualità"),
    "bot": ("Bot", "Bot", "Bot", "بوت", "Bot"),
    None: ("", "", "", "", ""),
}
GEO = {  # (alpha, beta, tr, ar, it)
    "turkey": ("Turkish", "TR", "Türk", "أتراك", "Turchi"),
    "arab": ("Arab", "Arab", "Arap", "عرب", "Arabi"),
    "usa": ("USA", "USA", "Amerikan", "أمريكي", "USA"),
    None: ("", "", "", "", ""),
}


def refill_words(r, style):
    """The refill part of a name: r is None (name says nothing), 0 (none),
    an int (days), or "life"."""
    if r is None:
        return ""
    if style == "alpha":
        if r == 0:
            return R.choice(["[No Refill]", "No Refill", "[No Refill] ⚠️"])
        if r == "life":
            return R.choice(["[Lifetime Refill]", "♻️ Lifetime Guaranteed"])
        return R.choice([f"[{r} Days Refill]", f"♻️ {r} Days Refill", f"[Refill: {r} Days]"])
    if style == "beta":
        if r == 0:
            return R.choice(["No Refill", "Non-Refill", "NoRefill"])
        if r == "life":
            return R.choice(["Lifetime", "Refill Lifetime"])
        return R.choice([f"R{r}", f"{r}D Refill", f"Refill {r}D"])
    if style == "tr":
        if r == 0:
            return R.choice(["Garantisiz", "Refill Yok"])
        if r == "life":
            return "Ömür Boyu Garantili"
        return R.choice([f"{r} Gün Garantili", f"{r} Gün Telafili Garanti"])
    if style == "ar":
        if r == 0:
            return "بدون ضمان"
        if r == "life":
            return "ضمان مدى الحياة"
        return f"ضمان {r} يوم"
    if style == "it":
        if r == 0:
            return "Senza Ricarica"
        if r == "life":
            return "Ricarica a Vita"
        return f"Ricarica {r} Giorni"
    return ""


def speed_words(p, style):
    s = p.get("speed")
    if not s:
        return ""
    if style == "alpha":
        return R.choice([f"⚡ {s}/Day", f"[Speed {s}/Day]"])
    if style == "beta":
        return f"{s}/D"
    if style == "tr":
        return f"Günlük {s}"
    if style == "it":
        return f"{s} al giorno"
    return ""


def name_for(p, up, lang):
    plat = PLAT[p["platform"]]
    kind = KIND[p["kind"]]
    q, g = QUAL[p["quality"]], GEO[p["geo"]]
    sub = SUB.get(p["sub"])
    extra = p.get("extra", {})
    if up == "alpha":
        parts = [plat[0]]
        if g[0]:
            parts.append(g[0])
        if sub:
            parts.append(sub[0])
        parts.append(extra.get("alpha", kind[0]))
        if p["type"] == "Package":
            parts = [plat[0], f"{p['pack']} {kind[0]} Package"]
        if p["type"] == "Custom Comments":
            parts = [plat[0], "Custom", kind[0]]
        name = " ".join(parts)
        if q[0]:
            name += R.choice([f" [{q[0]}]", f" - {q[0]}"])
        rw = refill_words(p["refill"], "alpha")
        name += (" " + rw) if rw else ""
        sw = speed_words(p, "alpha")
        name += (" " + sw) if sw else ""
        if R.random() < 0.3:
            name = R.choice(["🔥 ", "⭐ ", "💎 "]) + name
        cat = f"{plat[0]} {kind[0]}"
        return name, cat
    if up == "beta":
        parts = [plat[1]]
        if g[1]:
            parts.append(g[1])
        if sub:
            parts.append(sub[1])
        parts.append(extra.get("beta", kind[1]))
        if p["type"] == "Package":
            parts = [plat[1], f"{p['pack'] // 1000}K {kind[1]}", "Package"]
        if p["type"] == "Custom Comments":
            parts = [plat[1], "Custom", kind[1]]
        name = " ".join(parts)
        bits = [b for b in (q[1], refill_words(p["refill"], "beta"), speed_words(p, "beta")) if b]
        if bits:
            name += R.choice([" - ", " | "]) + R.choice([" - ", " | "]).join(bits)
        cat = f"{plat[1]} - {kind[1]}" + (" [Refill]" if p["refill"] not in (None, 0) else "")
        return name, cat
    # gamma: one language per product
    if lang == "kab" and KIND[p["kind"]][5]:
        name = f"{KIND[p['kind']][5]} n {'Faysbuk' if p['platform'] == 'facebook' else plat[0]}"
        if q[0] == "Real":
            name += " (Real)"
        rw = refill_words(p["refill"], "beta")
        return (name + (" - " + rw if rw else "")), plat[0]
    if lang == "tr":
        parts = [plat[2]]
        if g[2]:
            parts.append(g[2])
        if q[2]:
            parts.append(q[2])
        if sub:
            parts.append(sub[2])
        parts.append(extra.get("tr", kind[2]))
        if p["type"] == "Package":
            parts = [plat[2], f"{p['pack']} {kind[2]} Paketi"]
        if p["type"] == "Custom Comments":
            parts = [plat[2], "Özel", kind[2]]
        name = " ".join(parts)
        rw = refill_words(p["refill"], "tr")
        name += (" | " + rw) if rw else ""
        sw = speed_words(p, "tr")
        name += (" | " + sw) if sw else ""
        return name, f"{plat[2]} {kind[2]}"
    if lang == "ar":
        parts = [kind[3]]
        if sub:
            parts.append(sub[3])
        parts.append(plat[3])
        if p["type"] == "Package":
            parts = [f"باقة {p['pack']}", kind[3], plat[3]]
        if p["type"] == "Custom Comments":
            parts = [kind[3], "مخصصة", plat[3]]
        if q[3]:
            parts.append(q[3])
        if g[3]:
            parts.append(g[3])
        name = " ".join(parts)
        rw = refill_words(p["refill"], "ar")
        name += (" - " + rw) if rw else ""
        return name, f"{plat[3]} {kind[3]}"
    if lang == "it":
        parts = [extra.get("it", kind[4])]
        if sub:
            parts.append(sub[4])
        parts.append("di " + plat[4])
        if p["type"] == "Package":
            parts = [f"Pacchetto {p['pack']}", kind[4], "di " + plat[4]]
        if p["type"] == "Custom Comments":
            parts = [kind[4], "Personalizzati", "di " + plat[4]]
        if q[4]:
            parts.append(q[4])
        if g[4]:
            parts.append(g[4])
        name = " ".join(parts)
        rw = refill_words(p["refill"], "it")
        name += (" - " + rw) if rw else ""
        sw = speed_words(p, "it")
        name += (" - " + sw) if sw else ""
        return name, f"{plat[4]} - {kind[4]}"
    # English, the beta way but spelled out
    n, c = name_for(p, "alpha", None)
    return n, c


def products():
    """The catalogue of true products.  Each is a dict; decoys are
    neighbours that differ in one field."""
    out = []

    def add(platform, kind, refill, quality=None, geo=None, sub=None, type_="Default",
            rate=1.0, mn=100, mx=100000, drip=False, pack=None, speed=None, extra=None,
            ups=("alpha", "beta", "gamma")):
        out.append(dict(platform=platform, kind=kind, refill=refill, quality=quality, geo=geo,
                        sub=sub, type=type_, rate=rate, min=mn, max=mx, drip=drip, pack=pack,
                        speed=speed, extra=extra or {}, ups=ups))

    base = [
        ("instagram", "followers", 1.2), ("instagram", "likes", 0.3), ("instagram", "views", 0.02),
        ("tiktok", "followers", 1.5), ("tiktok", "likes", 0.4), ("tiktok", "views", 0.01),
        ("youtube", "subscribers", 12.0), ("youtube", "views", 1.1), ("youtube", "likes", 0.9),
        ("facebook", "followers", 1.8), ("facebook", "likes", 1.4),
        ("twitter", "followers", 3.0), ("twitter", "likes", 0.8), ("twitter", "retweets", 1.0),
        ("telegram", "members", 0.9), ("telegram", "views", 0.05), ("telegram", "reactions", 0.2),
        ("spotify", "plays", 0.6), ("spotify", "followers", 0.9),
        ("twitch", "followers", 0.5), ("threads", "followers", 2.2), ("threads", "likes", 0.7),
    ]
    for plat, kind, rate in base:
        # the core decoy family: refill window, no refill, quality
        add(plat, kind, 30, "real", rate=rate * 1.6, mn=50, mx=50000, speed=R.choice([None, "5K", "10K"]))
        add(plat, kind, 0, None, rate=rate * 0.6, mn=100, mx=500000)
        if kind in ("followers", "likes", "subscribers", "members"):
            add(plat, kind, "life", "hq", rate=rate * 2.5, mn=100, mx=100000)
            add(plat, kind, 0, "bot", rate=rate * 0.3, mn=500, mx=1000000,
                ups=("alpha", "beta") if R.random() < 0.5 else ("alpha", "gamma"))
        if kind in ("followers", "likes") and plat in ("instagram", "tiktok"):
            add(plat, kind, 90, "real", rate=rate * 2.0, mn=100, mx=200000)
            add(plat, kind, 30, "real", geo="turkey", rate=rate * 3.0, mn=50, mx=20000)
            add(plat, kind, 30, "real", geo="arab", rate=rate * 3.5, mn=50, mx=10000,
                ups=("beta", "gamma"))
            add(plat, kind, None, None, type_="Package", pack=1000, rate=rate * 1.2,
                mn=1, mx=1)
            add(plat, kind, 365, "real", drip=True, rate=rate * 2.2, mn=100, mx=50000,
                ups=("alpha", "gamma"))
    # sub-kinds: story and live views, comment products, drip-feed views
    for plat in ("instagram", "tiktok", "facebook"):
        add(plat, "views", None, None, sub="story" if plat == "instagram" else "live",
            rate=0.5, mn=100, mx=50000)
        add(plat, "comments", None, None, type_="Custom Comments", rate=15.0, mn=10, mx=1000)
        add(plat, "comments", 0, "real", rate=9.0, mn=10, mx=500, ups=("alpha", "beta"))
    add("instagram", "saves", None, None, rate=0.15, mn=100, mx=20000)
    add("instagram", "shares", None, None, rate=0.2, mn=100, mx=100000)
    add("tiktok", "shares", None, None, rate=0.25, mn=100, mx=100000, ups=("beta", "gamma"))
    add("tiktok", "saves", None, None, rate=0.18, mn=100, mx=20000, ups=("alpha", "beta"))
    add("youtube", "views", None, None, sub="live", rate=2.5, mn=100, mx=10000)
    add("youtube", "comments", None, None, type_="Custom Comments", rate=20.0, mn=5, mx=500)
    add("twitch", "views", None, None, sub="live", rate=3.0, mn=10, mx=2000, ups=("alpha", "beta"))
    add("youtube", "views", "life", "hq", drip=True, rate=2.0, mn=500, mx=1000000)
    # singletons: one upstream only
    for plat, kind, up in (("instagram", "followers", "alpha"), ("tiktok", "views", "beta"),
                           ("youtube", "subscribers", "gamma"), ("telegram", "members", "alpha"),
                           ("facebook", "likes", "beta"), ("twitter", "views", "gamma"),
                           ("instagram", "likes", "gamma"), ("spotify", "plays", "alpha")):
        add(plat, kind, 60, "real", geo="usa", rate=4.0, mn=100, mx=10000, ups=(up,))
    return out


# Hand-written: irregular names as real panels write them, with their true
# groups.  (group, upstream, name, category, type, rate, min, max, refill,
# dripfeed)
HAND = [
    ("h1", "alpha", "🇹🇷 Instagram Türk Takipçi [Gerçek] [R60] ⚡", "Instagram Turkey", "Default", "4.10", 20, 20000, True, False),
    ("h1", "beta", "IG TR Followers | Real | Refill 60 Days", "IG - Turkey", "Default", "3.90", 50, 15000, True, False),
    ("h1", "gamma", "Instagram Gerçek Türk Takipçi | 60 Gün Garantili", "Instagram Türk Takipçi", "Default", "4.40", 10, 10000, True, False),
    ("h2", "alpha", "YouTube Views [Lifetime Refill] [Non Drop] 💎", "YouTube Views", "Default", "2.10", 500, 1000000, True, True),
    ("h2", "beta", "YT Views - NonDrop - Lifetime ♻️", "YT - Views", "Default", "1.95", 1000, 500000, True, True),
    ("h3", "alpha", "Instagram Followers (30 days auto refill) (Max 350K) (Indian Majority)", "Instagram - Followers [Guaranteed/Refill] - Less Drops ⭐", "Default", "1.20", 100, 350000, True, True),
    ("h3", "gamma", "IG Indian Followers R30 - Max 350K", "IG India", "Default", "1.10", 100, 300000, True, True),
    ("h4", "alpha", "Instagram Followers - Max 300k - No refill - 30-40k/Day", "Instagram - Followers [Guaranteed/Refill] - Less Drops ⭐", "Default", "0.04", 500, 300000, False, True),
    ("h4", "beta", "IG Followers [NO REFILL] 30K/Day", "IG - Followers", "Default", "0.05", 100, 500000, False, False),
    ("h5", "gamma", "Imḍebbaren n Instagram", "Instagram", "Default", "0.90", 50, 10000, True, False),
    ("h5", "alpha", "Instagram Followers ♻️ Refill", "Instagram Followers", "Default", "0.95", 50, 50000, True, False),
    ("h6", "gamma", "Imeslayen n Faysbuk", "Faysbuk", "Custom Comments", "8", 10, 1500, False, False),
    ("h6", "beta", "FB Custom Comments", "FB - Comments", "Custom Comments", "7.50", 10, 1000, False, False),
    ("h5", "beta", "Follower di Instagram", "Profilo utente", "Default", "0.90", 50, 10000, True, False),
    ("h8", "alpha", "Instagram Followers Package 5K", "Instagram Packages", "Package", "1.10", 1, 1, None, False),
    ("h9", "beta", "IG Followers 1K - Default", "IG - Followers", "Default", "1.05", 1000, 1000, None, False),
    ("h10", "alpha", "Telegram Post Views [Last 5 Posts]", "Telegram Views", "Default", "0.30", 100, 100000, None, False),
    ("h11", "beta", "TG Channel Members [Real] 90D Refill", "TG - Members", "Default", "1.40", 500, 50000, True, False),
    ("h11", "gamma", "أعضاء تيليجرام حقيقي ضمان 90 يوم", "تيليجرام", "Default", "1.55", 100, 20000, True, False),
    ("h12", "alpha", "X (Twitter) Followers [HQ] [R30]", "Twitter Followers", "Default", "3.80", 100, 20000, True, False),
    ("h12", "beta", "Twitter/X Followers - HQ - 30D Refill", "X - Followers", "Default", "3.20", 50, 10000, True, False),
    ("h13", "gamma", "TikTok Canlı Yayın İzlenme 30 Dakika", "TikTok Canlı", "Default", "6.00", 50, 5000, None, False),
    # The hard slice: written without the generator's word lists in mind.
    # Some are expected to be missed (abbreviations and words the
    # normaliser does not know: "Flw", "LT", "Listeners", "Brasileiros").
    ("h20", "alpha", "Instagram Followers | Non Drop | Lifetime Guarantee | Max 1M", "Instagram Non Drop", "Default", "3.20", 100, 1000000, True, False),
    ("h20", "beta", "IG Flw NonDrop ♻️ LT", "IG - NonDrop", "Default", "2.90", 100, 500000, True, False),
    ("h20", "gamma", "Instagram Düşmeyen Takipçi - Ömür Boyu Garanti", "Instagram Takipçi", "Default", "3.60", 50, 200000, True, False),
    ("h21", "alpha", "Facebook Page Likes + Followers [R30]", "Facebook Page", "Default", "2.40", 100, 50000, True, False),
    ("h21", "beta", "FB Page Likes | 30D Refill", "FB - Page", "Default", "2.10", 100, 100000, True, False),
    ("h22", "alpha", "Facebook Post Likes [R30]", "Facebook Post", "Default", "0.95", 50, 20000, True, False),
    ("h22", "beta", "FB Post/Photo Likes R30", "FB - Post", "Default", "0.85", 50, 50000, True, False),
    ("h23", "alpha", "YouTube Shorts Views [Lifetime]", "YouTube Shorts", "Default", "0.70", 100, 1000000, True, False),
    ("h23", "gamma", "YouTube Shorts İzlenme | Ömür Boyu Garantili", "YouTube Shorts", "Default", "0.80", 100, 500000, True, False),
    ("h26", "alpha", "Instagram Reels Views ⚡ Instant", "Instagram Reels", "Default", "0.01", 100, 10000000, None, False),
    ("h26", "beta", "IG Video Views (Reels/IGTV)", "IG - Views", "Default", "0.012", 100, 5000000, None, False),
    ("h27", "alpha", "Twitter Impressions [Tweet Views]", "Twitter Impressions", "Default", "0.05", 1000, 10000000, None, False),
    ("h27", "beta", "X Impressions", "X - Impressions", "Default", "0.04", 500, 5000000, None, False),
    ("h10", "beta", "TG Post Views - Last 5 Posts", "TG - Views", "Default", "0.28", 100, 100000, None, False),
    ("h28", "beta", "TG 1 Post Views", "TG - Views", "Default", "0.06", 100, 100000, None, False),
    ("h29", "alpha", "Instagram Comment Likes", "Instagram Comments", "Default", "1.50", 20, 5000, None, False),
    ("h29", "beta", "IG Comment Likes [Fast]", "IG - Comments", "Default", "1.30", 20, 10000, None, False),
    ("h30", "alpha", "Spotify Monthly Listeners [USA]", "Spotify", "Default", "1.90", 1000, 100000, None, False),
    ("h30", "beta", "Spotify Monthly Listeners - USA", "Spotify", "Default", "1.70", 500, 50000, None, False),
    ("h32", "alpha", "YouTube Watch Time [4000 Hours]", "YouTube Watch Time", "Default", "25.0", 100, 4000, None, False),
    ("h32", "beta", "YT WatchTime 4000H", "YT - Watch Time", "Default", "22.0", 100, 4000, None, False),
    ("h32", "gamma", "YouTube İzlenme Saati 4000 Saat", "YouTube", "Default", "27.0", 100, 4000, None, False),
    ("h33", "alpha", "Instagram Female Followers [Real] [R30]", "Instagram Female", "Default", "4.50", 50, 10000, True, False),
    ("h33", "beta", "IG Female Followers | Real | R30", "IG - Female", "Default", "4.10", 50, 5000, True, False),
    ("h34", "alpha", "Instagram Brazilian Followers [Real]", "Instagram Brazil", "Default", "2.80", 100, 20000, None, False),
    ("h34", "beta", "IG Brazil Followers - Real", "IG - Brazil", "Default", "2.60", 100, 10000, None, False),
    ("h34", "gamma", "Seguidores Brasileiros Instagram Reais", "Instagram Brasil", "Default", "3.00", 100, 10000, None, False),
]


def main():
    services = {"alpha": [], "beta": [], "gamma": []}
    langs = ["tr", "ar", "it", "en", "kab"]
    cost_factor = {"alpha": 1.0, "beta": 0.92, "gamma": 1.07}
    ids = {"alpha": 1000, "beta": 10, "gamma": 5000}
    for gi, p in enumerate(products()):
        lang = langs[gi % len(langs)]
        for up in p["ups"]:
            name, cat = name_for(p, up, lang)
            ids[up] += R.choice([1, 1, 2, 7])
            rate = p["rate"] * cost_factor[up] * R.uniform(0.85, 1.2)
            mn, mx = p["min"], p["max"]
            if p["type"] == "Default":
                mn = max(1, int(mn * R.choice([1, 1, 0.5, 2])))
                mx = int(mx * R.choice([1, 1, 0.5, 2]))
            refill = p["refill"] not in (None, 0)
            services[up].append(dict(
                service=ids[up], name=name.strip(), type=p["type"], category=cat,
                rate=f"{rate:.4f}", min=str(mn), max=str(mx),
                refill=refill if p["refill"] is not None or up != "gamma" else None,
                cancel=True, dripfeed=p["drip"], group=f"p{gi}"))
            if isinstance(p["refill"], int) and p["refill"] > 0 and up == "gamma":
                services[up][-1]["refill_time"] = str(p["refill"])
    for (grp, up, name, cat, typ, rate, mn, mx, refill, drip) in HAND:
        ids[up] += 3
        services[up].append(dict(service=ids[up], name=name, type=typ, category=cat, rate=rate,
                                 min=str(mn), max=str(mx), refill=refill, cancel=True,
                                 dripfeed=drip, group=grp))
    for up in services:
        for s in services[up]:
            if s["refill"] is None:
                del s["refill"]
    json.dump({"upstreams": ["alpha", "beta", "gamma"], "services": services}, sys.stdout,
              ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
