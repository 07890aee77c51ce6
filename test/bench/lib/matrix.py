#!/usr/bin/env python3
"""The storm matrix's summary: one table across scenarios (stdlib only).

Reads each scenario directory written by storm.sh + analyze.py (recovery.csv,
phases.csv, summary.md, p99_all.png) and writes <out>/summary.md and
<out>/matrix.csv.

usage: matrix.py --out DIR SCENARIO_DIR...
"""
import argparse
import csv
import os


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def ms(x):
    v = num(x)
    if v is None:
        return "-"
    return f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def fpct(x):
    v = num(x)
    return "-" if v is None else f"{v:.0f}%"


def headroom_share(base_use, storm_use):
    """Share of the budget the cheap load left (baseline) that the storm
    used: what heavy work took of the headroom, in percent."""
    b, st = num(base_use), num(storm_use)
    if b is None or st is None or b >= 100:
        return ""
    return f"{100.0 * (st - b) / (100.0 - b):.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()

    table = []
    for d in a.dirs:
        scn = os.path.basename(d.rstrip("/"))
        rec = {r["config"]: r for r in rows(os.path.join(d, "recovery.csv"))}
        ph = {(r["config"], r["phase"]): r for r in rows(os.path.join(d, "phases.csv"))}
        runs = rows(os.path.join(d, "runs.csv"))
        for run in runs:
            cfg = run["config"]
            if run["status"] != "ok":
                table.append({"scenario": scn, "config": cfg, "unavailable": run["reason"]})
                continue
            r = rec.get(cfg, {})
            st = ph.get((cfg, "storm"), {})
            base = ph.get((cfg, "baseline"), {})
            dur = num(st.get("seconds")) or 0
            done = num(st.get("heavy_done"))
            table.append({
                "scenario": scn, "config": cfg,
                "baseline_p99_ms": r.get("baseline_p99_ms"), "storm_p99_ms": r.get("storm_p99_ms"),
                "ratio": r.get("ratio"),
                "first_window_back_s": r.get("first_window_back_s"), "recovery_s": r.get("recovery_s"),
                "after_len_s": r.get("after_len_s"),
                "baseline_use_pct": base.get("device_use_pct"), "storm_use_pct": st.get("device_use_pct"),
                "storm_tps": st.get("tps"), "baseline_tps": base.get("tps"),
                "cheap_errors": st.get("failed_tx"),
                "heavy_done": st.get("heavy_done"),
                "heavy_per_min": f"{60 * done / dur:.1f}" if done is not None and dur else "",
                "heavy_53000": st.get("heavy_53000"), "heavy_errors": st.get("heavy_errors"),
                "heavy_read_mbs": st.get("read_mbs_heavy"), "heavy_write_mbs": st.get("write_mbs_heavy"),
                "vacuum_read_mbs": st.get("read_mbs_vacuum"), "vacuum_write_mbs": st.get("write_mbs_vacuum"),
                "max_procs_D": st.get("max_procs_D"), "max_load1": st.get("max_load1"),
                "max_backends": st.get("max_backends"),
                "baseline_saturated_pct": base.get("saturated_pct"),
                "storm_paced_bps": st.get("paced_bps"),
                "headroom_share_pct": headroom_share(base.get("device_use_pct"), st.get("device_use_pct")),
            })

    keys = []
    for t in table:
        for k in t:
            if k not in keys:
                keys.append(k)
    with open(os.path.join(a.out, "matrix.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        for t in table:
            w.writerow(t)

    machine = ""
    mp = os.path.join(a.out, "machine.txt")
    if os.path.exists(mp):
        with open(mp) as f:
            machine = f.read().strip()
    L = ["# Storm matrix: stock PostgreSQL and iosat, side by side\n", "```\n" + machine + "\n```\n"]
    L.append("Cheap query = the OLTP transaction at a fixed arrival rate (latency includes schedule lag). "
             "Ratio = storm p99 / baseline p99 (stock must reach 10× for a scenario to count as a spiral). "
             "Back = the first 5-s window after the trigger stops whose p99 is within 1.5× baseline; "
             "recovery = from when on every window stays there (the strict rule). Device use = the "
             "volume's budget spent in the storm (baseline in brackets). Heavy = the trigger's statements "
             "completed per minute in the storm, their reads/writes in MB/s (/proc/<pid>/io of the heavy "
             "processes; vacuum: the VACUUM or autovacuum workers), and units that ended in SQLSTATE 53000. "
             "Headroom used = of the budget the baseline left, the share the storm used. Baseline saturated = "
             "the share of the baseline's samples in which iosat judged the volume saturated "
             "(iosat_controller, once a second).\n")
    L.append("| scenario | config | baseline p99 | storm p99 | ratio | back | recovery | device use | headroom used | cheap tps (base) | cheap errors | heavy /min | heavy MB/s r/w | vacuum MB/s r/w | 53000 | max D | max load1 | baseline saturated |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        if "unavailable" in t:
            L.append(f"| {t['scenario']} | {t['config']} | unavailable: {t['unavailable']} |" + " |" * 15)
            continue
        ratio = num(t["ratio"])
        back = num(t["first_window_back_s"])
        rec = num(t["recovery_s"])
        L.append(
            f"| {t['scenario']} | {t['config']} | {ms(t['baseline_p99_ms'])} | {ms(t['storm_p99_ms'])} | "
            f"{f'{ratio:.0f}×' if ratio is not None else '-'} | "
            f"{f'{back:.0f} s' if back is not None else 'no'} | "
            f"{f'{rec:.0f} s' if rec is not None else 'not in %s s' % (t['after_len_s'] or '?')} | "
            f"{t['storm_use_pct'] or '-'}% ({t['baseline_use_pct'] or '-'}%) | "
            f"{t['headroom_share_pct'] + '%' if t['headroom_share_pct'] else '-'} | "
            f"{t['storm_tps'] or '-'} ({t['baseline_tps'] or '-'}) | {t['cheap_errors'] or 0} | "
            f"{t['heavy_per_min'] or '-'} | {t['heavy_read_mbs'] or '-'}/{t['heavy_write_mbs'] or '-'} | "
            f"{t['vacuum_read_mbs'] or '-'}/{t['vacuum_write_mbs'] or '-'} | {t['heavy_53000'] or 0} | "
            f"{t['max_procs_D'] or '-'} | {t['max_load1'] or '-'} | "
            f"{fpct(t['baseline_saturated_pct'])} |")
    L.append("")
    L.append("Per scenario (every phase, device figures, plots):\n")
    for d in a.dirs:
        scn = os.path.basename(d.rstrip("/"))
        L.append(f"- [{scn}]({scn}/summary.md)" + (f" ![{scn}]({scn}/p99_all.png)" if os.path.exists(os.path.join(d, "p99_all.png")) else ""))
    L.append("")
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
