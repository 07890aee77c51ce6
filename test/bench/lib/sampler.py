#!/usr/bin/env python3
"""Per-second sampler for the storm benchmark (stdlib only).

Writes one CSV row per second: block-device counters of the throttled device
(and its lower loop), /proc/pressure/io, load average, kernel states of the
server's processes, pg_stat_activity counts by wait event, memory-cgroup usage.

pg_stat_activity is read through one long-lived psql process in a thread, so a
slow answer never delays the /sys samples; the row carries the age of the
snapshot it used (pg_age_s).

usage: sampler.py --dev loop3 [--lower loop2] --out FILE --pidfile PGDATA/postmaster.pid
                  [--psql-cmd 'runuser -u postgres -- psql ...'] [--memcg DIR]
Stops on SIGTERM/SIGINT.
"""
import argparse
import os
import shlex
import signal
import subprocess
import threading
import time

PG_QUERY = (
    "SELECT count(*) FILTER (WHERE backend_type = 'client backend'),"
    " count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'),"
    " count(*) FILTER (WHERE wait_event_type = 'IO'),"
    " count(*) FILTER (WHERE wait_event = 'DataFileRead'),"
    " count(*) FILTER (WHERE wait_event_type = 'Lock'),"
    " count(*) FILTER (WHERE wait_event_type = 'LWLock'),"
    " count(*) FILTER (WHERE wait_event_type = 'Extension'),"
    " count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active' AND wait_event IS NULL),"
    " count(*) FILTER (WHERE backend_type = 'autovacuum worker'),"
    " coalesce(string_agg(pid::text, ' ') FILTER (WHERE application_name = 'storm_heavy'"
    "   OR leader_pid IN (SELECT l.pid FROM pg_stat_activity l WHERE l.application_name = 'storm_heavy')), ''),"
    " coalesce(string_agg(pid::text, ' ') FILTER (WHERE application_name = 'storm_vacuum'"
    "   OR backend_type = 'autovacuum worker'), '')"
    " FROM pg_stat_activity WHERE pid <> pg_backend_pid();"
)
PG_COLS = ["backends", "active", "wait_io", "wait_datafileread", "wait_lock",
           "wait_lwlock", "wait_extension", "active_cpu", "autovacuum"]
PID_COLS = ["heavy_pids", "vacuum_pids"]  # not written: used for the read rates

# iosat's controller, when iosat is loaded (empty otherwise)
IOSAT_QUERY = (
    "SELECT saturated::int, round(pressure::numeric, 3), coalesce(heavy_limit, 0),"
    " heavy_running, heavy_apart, queued, coalesce(pace_rate, 0),"
    " round(paced_blocks_per_s::numeric, 1), round(usual_await_ms::numeric, 2),"
    " round(latency_threshold_ms::numeric, 2), heavy_completed, heavy_blocks_read"
    " FROM iosat_controller;"
)
IOSAT_COLS = ["iosat_saturated", "iosat_pressure", "iosat_limit", "iosat_running",
              "iosat_apart", "iosat_queued", "iosat_pace_rate", "iosat_paced_bps",
              "iosat_usual_await_ms", "iosat_latency_threshold_ms",
              "iosat_heavy_done", "iosat_heavy_blocks"]

COLS = (["ts", "r_iops", "w_iops", "r_await_ms", "w_await_ms", "aqu_sz", "util_pct",
         "inflight_r", "inflight_w", "lower_r_iops", "lower_w_iops", "lower_inflight",
         "psi_some_pct", "psi_full_pct", "load1", "procs_D", "procs_R", "procs"]
        + PG_COLS + ["pg_age_s", "memcg_cache_mb", "memcg_rss_mb",
                     "memcg_dirty_mb", "memcg_writeback_mb", "dirty_mb", "writeback_mb",
                     "read_kbs_all", "read_kbs_heavy", "read_kbs_vacuum",
                     "write_kbs_all", "write_kbs_heavy", "write_kbs_vacuum",
                     "tokens_ps", "budget_queued"] + IOSAT_COLS)


def read_stat(dev):
    try:
        with open(f"/sys/block/{dev}/stat") as f:
            v = [int(x) for x in f.read().split()]
        with open(f"/sys/block/{dev}/inflight") as f:
            i = [int(x) for x in f.read().split()]
        return v, i
    except OSError:
        return None, None


def read_psi():
    out = {}
    try:
        with open("/proc/pressure/io") as f:
            for line in f:
                kind, *kv = line.split()
                out[kind] = int(dict(x.split("=") for x in kv)["total"])
    except (OSError, KeyError, ValueError):
        pass
    return out


def read_memcg(d):
    """cache, rss, dirty and under write-back (MB) of the server's memory cgroup"""
    if not d:
        return "", "", "", ""
    try:
        st = {}
        with open(os.path.join(d, "memory.stat")) as f:
            for line in f:
                k, v = line.split()
                st[k] = int(v)
        return tuple(f"{st.get(k, 0) / 1048576:.1f}" for k in ("cache", "rss", "dirty", "writeback"))
    except OSError:
        return "", "", "", ""


def read_meminfo():
    """the system's dirty page cache and what is under write-back (MB): the
    writes the volume owes (deferred write-back is a debt paid later)"""
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, v = line.split(":", 1)
                if k in ("Dirty", "Writeback"):
                    out[k] = int(v.split()[0]) / 1024
    except (OSError, ValueError):
        pass
    return (f"{out['Dirty']:.1f}" if "Dirty" in out else "",
            f"{out['Writeback']:.1f}" if "Writeback" in out else "")


def postmaster_pid(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def io_bytes(pid):
    """Bytes the process caused to be read from and written to storage
    (/proc/<pid>/io read_bytes, write_bytes), or None."""
    r = w = None
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    r = int(line.split()[1])
                elif line.startswith("write_bytes:"):
                    w = int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None if r is None or w is None else (r, w)


def read_stallfs(path):
    """stallfs's counters (test/lib/stallfs.c): tokens spent, queued now."""
    v = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, x = line.strip().partition("=")
                v[k] = x
        return int(v["tokens"]), int(v["queued"])
    except (OSError, KeyError, ValueError):
        return None, None


def proc_states(ppid, rb=None):
    """Kernel states of the postmaster and its children; with rb (a dict),
    also each one's (read_bytes, write_bytes) by pid."""
    d = r = n = 0
    if ppid is None:
        return "", "", ""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        if int(p) != ppid and int(rest[1]) != ppid:
            continue
        n += 1
        if rb is not None:
            b = io_bytes(p)
            if b is not None:
                rb[int(p)] = b
        if rest[0] == "D":
            d += 1
        elif rest[0] == "R":
            r += 1
    return d, r, n


class PgPoller(threading.Thread):
    def __init__(self, cmd, query=PG_QUERY, ncols=len(PG_COLS) + len(PID_COLS)):
        super().__init__(daemon=True)
        self.cmd = cmd
        self.query = query
        self.ncols = ncols
        self.latest = None
        self.latest_ts = 0.0
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
            except OSError:
                time.sleep(1)
                continue
            try:
                while not self.stop:
                    t0 = time.time()
                    p.stdin.write(self.query + "\n\\echo __END__\n")
                    p.stdin.flush()
                    rows = []
                    while True:
                        line = p.stdout.readline()
                        if not line:
                            raise EOFError
                        line = line.strip()
                        if line == "__END__":
                            break
                        if line:
                            rows.append(line)
                    if rows:
                        vals = rows[-1].split("|")
                        if len(vals) == self.ncols:
                            self.latest = vals
                            self.latest_ts = t0
                    time.sleep(max(0.0, 1.0 - (time.time() - t0)))
            except (EOFError, BrokenPipeError, OSError):
                time.sleep(1)
            finally:
                try:
                    p.kill()
                    p.wait(timeout=2)
                except Exception:
                    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", required=True)
    ap.add_argument("--lower", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--pidfile", default="")
    ap.add_argument("--psql-cmd", default="")
    ap.add_argument("--memcg", default="")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--stallfs-state", default="",
                    help="stallfs state file: budget tokens spent per second")
    a = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    poller = ipoller = None
    if a.psql_cmd:
        poller = PgPoller(shlex.split(a.psql_cmd))
        poller.start()
        ipoller = PgPoller(shlex.split(a.psql_cmd), IOSAT_QUERY, len(IOSAT_COLS))
        ipoller.start()

    out = open(a.out, "a", buffering=1)
    if out.tell() == 0:
        out.write(",".join(COLS) + "\n")
    prev_t = time.time()
    prev, _ = read_stat(a.dev)
    prev_lower, _ = read_stat(a.lower) if a.lower else (None, None)
    prev_psi = read_psi()
    prev_rb = {}
    prev_tok = read_stallfs(a.stallfs_state)[0] if a.stallfs_state else None
    next_t = prev_t + a.interval
    while not stop.is_set():
        stop.wait(max(0.0, next_t - time.time()))
        next_t += a.interval
        now = time.time()
        dt = now - prev_t
        cur, infl = read_stat(a.dev)
        cur_lower, infl_lower = read_stat(a.lower) if a.lower else (None, None)
        psi = read_psi()
        row = {"ts": f"{now:.3f}"}
        if cur and prev and dt > 0:
            d = [c - p for c, p in zip(cur, prev)]
            row["r_iops"] = f"{d[0] / dt:.1f}"
            row["w_iops"] = f"{d[4] / dt:.1f}"
            row["r_await_ms"] = f"{d[3] / d[0]:.2f}" if d[0] else ""
            row["w_await_ms"] = f"{d[7] / d[4]:.2f}" if d[4] else ""
            row["aqu_sz"] = f"{d[10] / (dt * 1000):.2f}"
            row["util_pct"] = f"{min(100.0, d[9] / (dt * 10)):.1f}"
            row["inflight_r"], row["inflight_w"] = infl[0], infl[1]
        if cur_lower and prev_lower and dt > 0:
            d = [c - p for c, p in zip(cur_lower, prev_lower)]
            row["lower_r_iops"] = f"{d[0] / dt:.1f}"
            row["lower_w_iops"] = f"{d[4] / dt:.1f}"
            row["lower_inflight"] = infl_lower[0] + infl_lower[1]
        for kind, col in (("some", "psi_some_pct"), ("full", "psi_full_pct")):
            if kind in psi and kind in prev_psi and dt > 0:
                row[col] = f"{min(100.0, (psi[kind] - prev_psi[kind]) / (dt * 1e4)):.1f}"
        with open("/proc/loadavg") as f:
            row["load1"] = f.read().split()[0]
        rb = {}
        row["procs_D"], row["procs_R"], row["procs"] = proc_states(
            postmaster_pid(a.pidfile) if a.pidfile else None, rb)
        # KiB/s read from (i=0) or written to (i=1) storage by a set of pids,
        # over this interval; a pid new in this interval counts from zero
        def kbs(pids, i=0):
            if dt <= 0:
                return ""
            return f"{sum(rb[p][i] - prev_rb.get(p, (0, 0))[i] for p in pids if p in rb) / 1024 / dt:.0f}"
        if rb:
            row["read_kbs_all"] = kbs(rb.keys())
            row["write_kbs_all"] = kbs(rb.keys(), 1)
        if a.stallfs_state:
            tok, queued = read_stallfs(a.stallfs_state)
            if tok is not None and prev_tok is not None and dt > 0:
                row["tokens_ps"] = f"{(tok - prev_tok) / dt:.1f}"
                row["budget_queued"] = queued
            if tok is not None:
                prev_tok = tok
        if poller and poller.latest and now - poller.latest_ts < 30:
            row.update(zip(PG_COLS, poller.latest))
            row["pg_age_s"] = f"{now - poller.latest_ts:.1f}"
            heavy, vac = (set(int(x) for x in v.split()) for v in poller.latest[len(PG_COLS):])
            row["read_kbs_heavy"] = kbs(heavy)
            row["read_kbs_vacuum"] = kbs(vac)
            row["write_kbs_heavy"] = kbs(heavy, 1)
            row["write_kbs_vacuum"] = kbs(vac, 1)
        if ipoller and ipoller.latest and now - ipoller.latest_ts < 30:
            row.update(zip(IOSAT_COLS, ipoller.latest))
        (row["memcg_cache_mb"], row["memcg_rss_mb"],
         row["memcg_dirty_mb"], row["memcg_writeback_mb"]) = read_memcg(a.memcg)
        row["dirty_mb"], row["writeback_mb"] = read_meminfo()
        out.write(",".join(str(row.get(c, "")) for c in COLS) + "\n")
        prev_t, prev, prev_lower, prev_psi, prev_rb = now, cur, cur_lower, psi, rb
    for p in (poller, ipoller):
        if p:
            p.stop = True
    out.close()


if __name__ == "__main__":
    main()
