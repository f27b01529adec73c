"""Markdown tables from the JSON lines of one or more run_all.py runs.

    python bench/summarize.py RUN1.jsonl [RUN2.jsonl ...]

One row per ours-vs-reference case (the lines that carry "ratio"), one
column group per run; then the per-pairing transfer lines and the limits.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}{unit}"
        if abs(v) >= 10:
            return f"{v:.1f}{unit}"
        return f"{v:.3g}{unit}"
    return f"{v}{unit}"


def main():
    runs = [load(p) for p in sys.argv[1:]]
    names = [f"run {i + 1}" for i in range(len(runs))]
    cases = []
    for r in runs:
        for rec in r:
            if "ratio" in rec and rec["case"] not in cases:
                cases.append(rec["case"])
    print("| case | unit | " + " | ".join(f"{n}: ours | {n}: ref | {n}: ref/ours | {n}: of limit" for n in names) + " |")
    print("|---|---|" + "---|---|---|---|" * len(runs))
    for c in cases:
        cells, unit = [], ""
        for r in runs:
            rec = next((x for x in r if x.get("case") == c and "ratio" in x), None)
            if rec is None:
                cells += ["–"] * 4
                continue
            unit = rec.get("unit", "").strip()
            frac = rec.get("fraction_of_limit")
            cells += [fmt(rec["ours"]), fmt(rec["ref"]), f"{rec['ratio']:.2f}x",
                      f"{frac:.1%}" if frac is not None else "n/a"]
        print(f"| {c} | {unit} | " + " | ".join(cells) + " |")
    print()
    print("| transfer pairing | " + " | ".join(f"{n}: MB/s | {n}: CPU s/GiB seed / leech | {n}: peak RSS MiB seed / leech"
                                               for n in names) + " |")
    print("|---|" + "---|---|---|" * len(runs))
    pairs = []
    for r in runs:
        for rec in r:
            if rec.get("case", "").startswith("transfer ") and "impl" in rec and rec["case"] not in pairs:
                pairs.append(rec["case"])
    for c in pairs:
        cells = []
        for r in runs:
            rec = next((x for x in r if x.get("case") == c), None)
            if rec is None:
                cells += ["–"] * 3
                continue
            cells += [f"{rec['MBps']:.0f} ({rec['fraction_of_limit']:.0%})",
                      f"{rec['seed_cpu_s_per_GiB']:.2f} / {rec['leech_cpu_s_per_GiB']:.2f}",
                      f"{rec['seed_peak_rss_MiB']:.0f} / {rec['leech_peak_rss_MiB']:.0f}"]
        print(f"| {c[len('transfer '):]} | " + " | ".join(cells) + " |")
    print()
    print("| limit | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(runs))
    lims = [rec["case"] for rec in runs[0] if rec.get("case", "").startswith("limit ")]
    for c in lims:
        vals = [next((x["value"] for x in r if x.get("case") == c), None) for r in runs]
        print(f"| {c[6:]} | " + " | ".join(fmt(v, " MB/s") for v in vals) + " |")


if __name__ == "__main__":
    main()
