#!/usr/bin/env python3
"""Analysis of a storm benchmark run (stdlib only; plots through gnuplot).

Reads OUT/runs.csv, RAW/<config>/pgbench_log.*, RAW/<config>/samples.csv and
RAW/heavy.csv; writes OUT/phases.csv, OUT/windows.csv, OUT/samples.csv,
OUT/summary.md and OUT/<config>.png + OUT/p99_all.png.

Latency of a cheap transaction is pgbench's per-transaction time, which under
-R counts from the *scheduled* start (schedule lag included): a transaction
that waited for a free connection is slow. Transactions are assigned to phases
and 5-second windows by scheduled start.

Recovery time: seconds after the trigger stops until the cheap-query p99 of
every later 5-s window stays within 1.5x the baseline-phase p99 (and each such
window completed at least half of its scheduled arrivals, so a backlog that
never completes cannot pass as recovered).
"""
import argparse
import csv
import glob
import math
import os
import shutil
import subprocess

WINDOW = 5.0
RECOVERY_FACTOR = 1.5
PHASES = ("baseline", "storm", "after")


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def mb(kbs):
    return kbs / 1024 if kbs is not None else None


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 10000:
        return f"{v / 1000:.1f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    return f"{v:.1f} ms"


def fmt(v, nd=0):
    return "-" if v is None else f"{v:.{nd}f}"


def read_pgbench_logs(d):
    """-> list of (sched_start, end, latency_ms or None if failed/skipped)"""
    tx = []
    for path in sorted(glob.glob(os.path.join(d, "pgbench_log*"))):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) < 6:
                    continue
                end = int(p[4]) + int(p[5]) / 1e6
                if p[2] in ("skipped", "failed", "serialization", "deadlock"):
                    tx.append((end, end, None))
                    continue
                lat = int(p[2]) / 1e6
                tx.append((end - lat, end, lat * 1000))
    return tx


def read_samples(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def mean(vals):
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def vmax(vals):
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--read-iops", type=int, default=0)
    ap.add_argument("--write-iops", type=int, default=0)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--scenario", default="read")
    ap.add_argument("--volume", default="split", choices=("shared", "split"))
    ap.add_argument("--iops", type=int, default=0, help="shared volume: the ceiling (reads + writes)")
    a = ap.parse_args()

    with open(os.path.join(a.out, "runs.csv")) as f:
        runs = list(csv.DictReader(f))
    heavy = []
    hp = os.path.join(a.raw, "heavy.csv")
    if os.path.exists(hp):
        with open(hp) as f:
            heavy = list(csv.DictReader(f))

    phase_rows, window_rows, sample_rows, rec_rows, unavailable = [], [], [], [], []
    for run in runs:
        cfg = run["config"]
        if run["status"] != "ok":
            unavailable.append((cfg, run["reason"]))
            continue
        t0 = float(run["pgbench_start"])
        bounds = {
            "baseline": (float(run["baseline_start"]), float(run["storm_start"])),
            "storm": (float(run["storm_start"]), float(run["storm_end"])),
            "after": (float(run["storm_end"]), float(run["end"])),
        }
        d = os.path.join(a.raw, cfg)
        tx = read_pgbench_logs(d)
        samples = read_samples(os.path.join(d, "samples.csv"))
        for s in samples:
            s["_t"] = float(s["ts"])
        per_cfg = {}
        for ph in PHASES:
            lo, hi = bounds[ph]
            dur = hi - lo
            lats = sorted(l for (st, en, l) in tx if lo <= st < hi and l is not None)
            failed = sum(1 for (st, en, l) in tx if lo <= st < hi and l is None)
            done = sum(1 for (st, en, l) in tx if lo <= en < hi and l is not None)
            ss = [s for s in samples if lo < s["_t"] <= hi]
            col = lambda k: [fnum(s.get(k)) for s in ss]
            r_iops, r_await = col("r_iops"), col("r_await_ms")
            sat = [v for v in col("iosat_saturated") if v is not None]
            wsum = sum(ri for ri in r_iops if ri)
            await_w = (sum((ri or 0) * (aw or 0) for ri, aw in zip(r_iops, r_await)) / wsum) if wsum else None
            # heavy units that ended in the phase (a unit that the stop
            # cancelled counts as cancelled, not as an error)
            hv = [h for h in heavy if h["config"] == cfg and h["loop"] != "vacuum" and lo <= float(h["end"]) < hi]
            hv_ok = sum(int(h.get("stmts") or 1) for h in hv if h["rc"] == "0")
            hv_cancel = sum(1 for h in hv if h["rc"] != "0" and "canceling statement due to user request" in h["error"])
            hv_53000 = sum(1 for h in hv if h["rc"] != "0" and "53000" in h["error"])
            hv_err = sum(1 for h in hv if h["rc"] != "0") - hv_cancel
            # device use against the ceiling: the shared volume's tokens;
            # the split one's reads against the read ceiling
            if a.volume == "shared" and a.iops:
                use = mean(col("tokens_ps"))
                use_pct = 100.0 * use / a.iops if use is not None else None
            elif a.read_iops:
                use = mean(r_iops)
                use_pct = 100.0 * use / a.read_iops if use is not None else None
            else:
                use_pct = None
            row = {
                "config": cfg, "phase": ph, "seconds": round(dur, 1),
                "tps": round(done / dur, 1) if dur > 0 else None,
                "scheduled": round(a.rate * dur),
                "logged": len(lats) + failed,
                "p50_ms": pct(lats, 0.50), "p95_ms": pct(lats, 0.95), "p99_ms": pct(lats, 0.99),
                "max_ms": lats[-1] if lats else None,
                "failed_tx": failed,
                "heavy_done": hv_ok, "heavy_cancelled": hv_cancel, "heavy_errors": hv_err,
                "heavy_53000": hv_53000, "device_use_pct": use_pct,
                "tokens_ps": mean(col("tokens_ps")), "max_budget_queued": vmax(col("budget_queued")),
                "max_backends": vmax(col("backends")),
                "max_active": vmax(col("active")),
                "max_wait_io": vmax(col("wait_io")),
                "max_wait_lock": vmax(col("wait_lock")),
                "max_wait_extension": vmax(col("wait_extension")),
                "r_iops": mean(r_iops), "w_iops": mean(col("w_iops")),
                "aqu_sz": mean(col("aqu_sz")), "max_aqu_sz": vmax(col("aqu_sz")),
                "r_await_ms": await_w,
                "max_inflight": vmax([(fnum(s.get("inflight_r")) or 0) + (fnum(s.get("inflight_w")) or 0) for s in ss]) if ss else None,
                "psi_some_pct": mean(col("psi_some_pct")), "psi_full_pct": mean(col("psi_full_pct")),
                "max_procs_D": vmax(col("procs_D")), "max_load1": vmax(col("load1")),
                "read_mbs_all": mb(mean(col("read_kbs_all"))),
                "read_mbs_heavy": mb(mean(col("read_kbs_heavy"))),
                "read_mbs_vacuum": mb(mean(col("read_kbs_vacuum"))),
                "write_mbs_all": mb(mean(col("write_kbs_all"))),
                "write_mbs_heavy": mb(mean(col("write_kbs_heavy"))),
                "write_mbs_vacuum": mb(mean(col("write_kbs_vacuum"))),
                # iosat's own verdict (iosat_controller, polled each second)
                "saturated_pct": (100.0 * sum(1 for v in sat if v) / len(sat)) if sat else None,
                "pace_rate": mean(col("iosat_pace_rate")) if sat else None,
                "paced_bps": mean(col("iosat_paced_bps")) if sat else None,
            }
            per_cfg[ph] = row
            phase_rows.append(row)

        # 5-s windows by scheduled start, from pgbench start to its nominal end
        end_nominal = float(run["end"])
        nwin = int((end_nominal - t0) // WINDOW)
        buckets = [[] for _ in range(nwin)]
        for st, en, l in tx:
            i = int((st - t0) // WINDOW)
            if 0 <= i < nwin and l is not None:
                buckets[i].append(l)
        # pgbench's -T clock starts after the connections are made: the last
        # window would be short; drop it
        wins = []
        for i, b in enumerate(buckets[:-1]):
            b.sort()
            ws = t0 + i * WINDOW
            ph = "warm"
            for p in PHASES:
                if bounds[p][0] <= ws < bounds[p][1]:
                    ph = p
            r = {"config": cfg, "t": round(i * WINDOW, 1), "phase": ph, "n": len(b),
                 "p50_ms": pct(b, 0.5), "p99_ms": pct(b, 0.99)}
            ss = [s for s in samples if ws < s["_t"] <= ws + WINDOW]
            r["r_iops"] = mean([fnum(s.get("r_iops")) for s in ss])
            r["w_iops"] = mean([fnum(s.get("w_iops")) for s in ss])
            r["aqu_sz"] = mean([fnum(s.get("aqu_sz")) for s in ss])
            r["backends"] = vmax([fnum(s.get("backends")) for s in ss])
            wins.append(r)
            window_rows.append(r)

        base_p99 = per_cfg["baseline"]["p99_ms"]
        storm_p99 = per_cfg["storm"]["p99_ms"]
        t_stop = bounds["storm"][1]
        after = [w for w in wins if t0 + w["t"] >= t_stop]
        rec = None
        if base_p99 is not None and after:
            thr = RECOVERY_FACTOR * base_p99
            ok = [w["p99_ms"] is not None and w["p99_ms"] <= thr and w["n"] >= 0.5 * a.rate * WINDOW for w in after]
            for i in range(len(after)):
                if all(ok[i:]):
                    rec = max(0.0, t0 + after[i]["t"] - t_stop)
                    break
        # the first window wholly after the stop whose p99 is back under the
        # bar (later windows may cross it again: the strict rule above)
        # (5-s windows sliding from the stop in 1-s steps: "first window
        # back after N s" = the transactions scheduled N..N+5 s after the
        # stop have their p99 within the bar)
        first_ok = None
        if base_p99 is not None:
            k = 0
            while t_stop + k + WINDOW <= bounds["after"][1]:
                lat_k = sorted(l for (st, en, l) in tx if t_stop + k <= st < t_stop + k + WINDOW and l is not None)
                if lat_k and pct(lat_k, 0.99) <= RECOVERY_FACTOR * base_p99:
                    first_ok = k
                    break
                k += 1
        after_len = (after[-1]["t"] + WINDOW + t0 - t_stop) if after else 0
        # the same rule applied to the baseline's own 5-s windows: how often
        # an undisturbed window would fail it (the rule's noise floor)
        bwins = [w for w in wins if bounds["baseline"][0] <= t0 + w["t"]
                 and t0 + w["t"] + WINDOW <= bounds["baseline"][1]]
        base_over = (sum(1 for w in bwins if w["p99_ms"] is not None and base_p99 is not None
                         and w["p99_ms"] > RECOVERY_FACTOR * base_p99), len(bwins))
        rec_rows.append({
            "baseline_windows_over": f"{base_over[0]}/{base_over[1]}",
            "first_window_back_s": first_ok,
            "config": cfg, "baseline_p99_ms": base_p99, "storm_p99_ms": storm_p99,
            "after_p99_ms": per_cfg["after"]["p99_ms"],
            "ratio": (storm_p99 / base_p99) if base_p99 and storm_p99 else None,
            "recovery_s": rec, "after_len_s": after_len,
            "aborted_clients": int(run["aborted_clients"] or 0),
        })
        # the server's page cache vanishing within a second or two is not the
        # benchmark's doing (its reclaim is gradual): someone dropped caches
        drops = []
        prev = None
        for s in samples:
            c = fnum(s.get("memcg_cache_mb"))
            if c is not None and prev is not None and prev[1] >= 60 and c < 0.5 * prev[1] and prev[1] - c >= 40:
                drops.append(f"{prev[1]:.0f}->{c:.0f} MB at t={s['_t'] - t0:.0f}s")
            if c is not None:
                prev = (s["_t"], c)
        rec_rows[-1]["cache_drops"] = "; ".join(drops)
        for s in samples:
            r = {"config": cfg, "t": round(s["_t"] - t0, 1)}
            r.update({k: v for k, v in s.items() if not k.startswith("_")})
            sample_rows.append(r)

    def write_csv(name, rows):
        if not rows:
            return
        keys = list(rows[0].keys())
        with open(os.path.join(a.out, name), "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            for r in rows:
                w.writerow({k: (f"{v:.2f}" if isinstance(v, float) else ("" if v is None else v)) for k, v in r.items()})

    write_csv("phases.csv", phase_rows)
    write_csv("windows.csv", window_rows)
    write_csv("samples.csv", sample_rows)
    write_csv("recovery.csv", rec_rows)

    plots = make_plots(a.out, runs, window_rows, sample_rows, a.scenario)

    # ---------------------------------------------------------- markdown
    L = []
    machine = ""
    mp = os.path.join(a.out, "machine.txt")
    if os.path.exists(mp):
        with open(mp) as f:
            machine = f.read()
    L.append(f"# Storm benchmark, scenario `{a.scenario}` ({a.volume} volume): IOPS death spiral, side by side\n")
    L.append("```\n" + machine.strip() + "\n```\n")
    L.append("## Spiral and recovery (cheap OLTP transaction, latency incl. schedule lag)\n")
    L.append("| config | baseline p99 | storm p99 | storm/baseline | after p99 | recovery (p99 ≤ 1.5× baseline) | first 5-s window back | baseline windows over 1.5× | aborted clients |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rec_rows:
        rec = (f"{r['recovery_s']:.0f} s" if r["recovery_s"] is not None
               else f"not recovered in {r['after_len_s']:.0f} s")
        ratio = f"{r['ratio']:.0f}×" if r["ratio"] is not None else "-"
        L.append(f"| {r['config']} | {fmt_ms(r['baseline_p99_ms'])} | {fmt_ms(r['storm_p99_ms'])} | {ratio} | "
                 f"{fmt_ms(r['after_p99_ms'])} | {rec} | "
                 f"{'after %.0f s' % r['first_window_back_s'] if r['first_window_back_s'] is not None else '-'} | "
                 f"{r['baseline_windows_over']} | {r['aborted_clients']} |")
    for cfg, reason in unavailable:
        L.append(f"| {cfg} | config unavailable: {reason} | | | | | | | |")
    L.append("")
    for r in rec_rows:
        if r.get("cache_drops"):
            L.append(f"**Disturbed: {r['config']}** — the server's page cache fell abruptly ({r['cache_drops']}; "
                     "t = seconds since arrivals started). The benchmark does not do that; another process dropped "
                     "the machine's caches (e.g. `rootctl drop-caches` without a name), evicting the prewarmed index. "
                     "Treat this configuration's figures as disturbed and re-run.\n")
    L.append("## Per configuration and phase\n")
    L.append("tps = cheap transactions completed per second; errors = failed cheap transactions "
             "(aborted pgbench clients are in the table above); heavy = report queries completed / "
             "errors (rejections) in the phase; device figures are averages of per-second samples of the "
             "throttled device (loopA), r_await weighted by reads; PSI = /proc/pressure/io some, system-wide; "
             "reads MB/s = bytes the server's processes caused to be read from storage (/proc/<pid>/io read_bytes), "
             "all / heavy statements / VACUUM (manual or autovacuum); writes MB/s likewise (write_bytes: what the "
             "process itself wrote back, not pages it dirtied that others wrote); heavy ok = heavy statements "
             "completed, err = units that failed other than by the trigger's cancel (53000 = rejected or queue "
             "timeout); device use = the shared volume's tokens spent against its ceiling (split volume: reads "
             "against the read ceiling).\n")
    L.append("| config | phase | tps | p50 | p95 | p99 | errors | heavy ok/err (53000) | max backends | max IO wait | max Lock wait | r IOPS | w IOPS | device use | aqu-sz (max) | r_await | PSI some | max D | max load1 | reads MB/s all/heavy/vac | writes MB/s all/heavy/vac |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in phase_rows:
        L.append(f"| {r['config']} | {r['phase']} | {fmt(r['tps'], 1)} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p95_ms'])} | "
                 f"{fmt_ms(r['p99_ms'])} | {r['failed_tx']} | {r['heavy_done']}/{r['heavy_errors']} ({r['heavy_53000']}) | {fmt(r['max_backends'])} | "
                 f"{fmt(r['max_wait_io'])} | {fmt(r['max_wait_lock'])} | {fmt(r['r_iops'])} | {fmt(r['w_iops'])} | "
                 f"{fmt(r['device_use_pct'])}% | "
                 f"{fmt(r['aqu_sz'], 1)} ({fmt(r['max_aqu_sz'], 0)}) | {fmt_ms(r['r_await_ms'])} | {fmt(r['psi_some_pct'])}% | "
                 f"{fmt(r['max_procs_D'])} | {fmt(r['max_load1'], 1)} | "
                 f"{fmt(r['read_mbs_all'], 1)}/{fmt(r['read_mbs_heavy'], 1)}/{fmt(r['read_mbs_vacuum'], 1)} | "
                 f"{fmt(r['write_mbs_all'], 1)}/{fmt(r['write_mbs_heavy'], 1)}/{fmt(r['write_mbs_vacuum'], 1)} |")
    for cfg, reason in unavailable:
        L.append(f"| {cfg} | - | config unavailable: {reason} |" + " |" * 18)
    L.append("")
    if plots:
        L.append("## Plots\n")
        for p in plots:
            L.append(f"![{p}]({p})")
        L.append("")
    L.append("Files: phases.csv (this table), recovery.csv, windows.csv (5-s windows), samples.csv "
             "(per-second device / PSI / pg_stat_activity / process-state samples), raw/ (pgbench logs, server log).")
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def make_plots(out, runs, window_rows, sample_rows, scenario=""):
    if not shutil.which("gnuplot"):
        return []
    made = []
    cfgs = [r for r in runs if r["status"] == "ok"]
    for r in cfgs:
        cfg = r["config"]
        t0 = float(r["pgbench_start"])
        ts, te = float(r["storm_start"]) - t0, float(r["storm_end"]) - t0
        wpath = os.path.join(out, f".w_{cfg}.dat")
        spath = os.path.join(out, f".s_{cfg}.dat")
        with open(wpath, "w") as f:
            for w in window_rows:
                if w["config"] == cfg and w["p99_ms"] is not None:
                    f.write(f"{w['t'] + WINDOW / 2} {w['p99_ms']:.3f} {w['p50_ms']:.3f}\n")
        with open(spath, "w") as f:
            for s in sample_rows:
                if s["config"] == cfg:
                    f.write(f"{s['t']} {s.get('r_iops') or 'NaN'} {s.get('w_iops') or 'NaN'} {s.get('backends') or 'NaN'}\n")
        png = f"{cfg}.png"
        script = f"""
set terminal pngcairo size 1000,520 noenhanced font ',10'
set output '{os.path.join(out, png)}'
set title 'storm benchmark: {scenario} / {cfg} (shaded: trigger on)'
set xlabel 'seconds since arrivals started'
set ylabel 'cheap-query latency per 5-s window (ms, log)'
set logscale y
set y2label 'device IOPS / client backends'
set y2tics
set ytics nomirror
set key top left
set grid
set object 1 rect from {ts},graph 0 to {te},graph 1 fc rgb '#ffdddd' fs solid 0.5 behind
plot '{wpath}' using 1:2 with linespoints lw 2 lc rgb '#cc0000' title 'p99', \\
     '{wpath}' using 1:3 with lines lc rgb '#ff9999' title 'p50', \\
     '{spath}' using 1:2 axes x1y2 with lines lc rgb '#0055cc' title 'read IOPS', \\
     '{spath}' using 1:3 axes x1y2 with lines lc rgb '#66aa66' title 'write IOPS', \\
     '{spath}' using 1:4 axes x1y2 with lines dt 2 lc rgb '#555555' title 'client backends'
"""
        if subprocess.run(["gnuplot"], input=script, text=True).returncode == 0:
            made.append(png)
    if cfgs:
        parts = []
        for r in cfgs:
            t0 = float(r["pgbench_start"])
            parts.append(f"'{os.path.join(out, '.w_' + r['config'] + '.dat')}' using 1:2 with linespoints lw 2 title '{r['config']}'")
        r0 = cfgs[0]
        t0 = float(r0["pgbench_start"])
        ts, te = float(r0["storm_start"]) - t0, float(r0["storm_end"]) - t0
        script = f"""
set terminal pngcairo size 1000,520 noenhanced font ',10'
set output '{os.path.join(out, 'p99_all.png')}'
set title '{scenario}: cheap-query p99 per 5-s window, all configurations (shaded: trigger on)'
set xlabel 'seconds since arrivals started'
set ylabel 'p99 (ms, log)'
set logscale y
set grid
set key top left
set object 1 rect from {ts},graph 0 to {te},graph 1 fc rgb '#ffdddd' fs solid 0.5 behind
plot {', '.join(parts)}
"""
        if subprocess.run(["gnuplot"], input=script, text=True).returncode == 0:
            made.insert(0, "p99_all.png")
    for p in glob.glob(os.path.join(out, ".[ws]_*.dat")):
        os.unlink(p)
    return made


if __name__ == "__main__":
    main()
