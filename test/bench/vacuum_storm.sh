#!/bin/bash
# Autovacuum as the trigger, with and without iosat's vacuum backpressure.
#
# One throttled device (test/lib/rootctl stack-create: a provisioned-IOPS
# volume at its ceiling), one cluster on it (16MB shared_buffers, the server
# in a memory cgroup so that the page cache cannot hold the data), stock
# autovacuum cost settings (2 ms / 200).  For each configuration, back to
# back, on identical data:
#   reset      (unthrottled) vac: a fresh table with 3 indexes, DELETE of
#              30 % of its rows scattered over every page, CHECKPOINT; empty
#              page cache
#   baseline   cheap primary-key reads at a fixed rate (pgbench -R)
#   autovacuum autovacuum switched on for vac: it starts within a second
#              and walks the table and its indexes while the reads go on
#              (VACUUM only: vac's analyze threshold is out of reach; an
#              autovacuum ANALYZE is throttled the same way)
#   after      until the run's fixed length
# and prints side by side: the cheap reads' p50/p99 latency (from their
# scheduled start) per phase, device read latency and IOPS while the vacuum
# ran (per-second figures from /sys/block/<dev>/stat), how long the vacuum
# took, and the multiplier iosat applied.  Results: test/bench/results/
# vacuum-<timestamp>/ (summary.md, samples.csv, events.csv, raw/), the
# summary also in results/vacuum-latest/.
#
# usage: test/bench/vacuum_storm.sh [--configs off,on] [--read-iops N] [--write-iops N]
#            [--rate TPS] [--clients N] [--rows OLTP_ROWS,VAC_ROWS] [--baseline S]
#            [--length S] [--memcg-mb N] [--name NAME] [--out DIR] [--no-latest]
# Runs as root. Everything it creates is torn down on exit, Ctrl-C included.
#
# Defaults: 250 read / 1200 write IOPS, 150 reads/s from 16 clients on a
# 2M-row table (60 % of the read ceiling: stock autovacuum then saturates
# the device), vac 1M rows (about 135 MB heap + 3 indexes), 15 s baseline,
# 240 s per configuration.
# Configurations: off = iosat preloaded, iosat.vacuum_backpressure = off
# (stock autovacuum); on = backpressure with its defaults (max_slowdown 100,
# max_speedup 2).  Saturation is judged by read latency, target 10 ms (the
# rig budgets reads and writes separately, so one reads+writes IOPS ceiling
# would misjudge it; its unsaturated r_await is under 1 ms).  ~10 minutes.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

CONFIGS=off,on
READ_IOPS=250
WRITE_IOPS=1200
RATE=150
CLIENTS=16
ROWS=2000000,1000000
BASELINE=15
LENGTH=240
MEMCG_MB=256
NAME=vacstorm
OUT=""
LATEST=1
PGPORT_BENCH=${PGPORT_BENCH:-5492}

usage() { sed -n '/^# usage:/,/^# Runs as root/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--configs) CONFIGS=$2; shift ;;
	--read-iops) READ_IOPS=$2; shift ;;
	--write-iops) WRITE_IOPS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--rows) ROWS=$2; shift ;;
	--baseline) BASELINE=$2; shift ;;
	--length) LENGTH=$2; shift ;;
	--memcg-mb) MEMCG_MB=$2; shift ;;
	--name) NAME=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-latest) LATEST=0 ;;
	-h | --help) usage ;;
	*) echo "unknown option $1" >&2; usage ;;
	esac
	shift
done
[[ $EUID -eq 0 ]] || bench_die "run as root (it creates loop devices and cgroups)"
IFS=, read -r OLTP_ROWS VAC_ROWS <<<"$ROWS"
for v in READ_IOPS WRITE_IOPS RATE CLIENTS OLTP_ROWS VAC_ROWS BASELINE LENGTH MEMCG_MB; do
	[[ ${!v} =~ ^[0-9]+$ ]] || bench_die "bad value for $v: '${!v}'"
done
((LENGTH > BASELINE + 10)) || bench_die "--length must exceed --baseline by 10 s at least"
SIZE_MB=$(((OLTP_ROWS + VAC_ROWS) / 1000 * 2 + 3072))

STAMP=$(date +%Y%m%d-%H%M%S)
: "${OUT:=$here/results/vacuum-$STAMP}"
RAW="$OUT/raw"
mkdir -p "$RAW"

BG_PIDS=()
PGDATA=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	if [[ -n $PGDATA && -f $PGDATA/postmaster.pid ]]; then
		as_pg pg_ctl -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null 2>&1
	fi
	"$ROOTCTL" destroy "$NAME" >/dev/null 2>&1
	wait 2>/dev/null
	bench_log "torn down (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'bench_log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- setup
bench_log "results: $OUT"
{
	machine_description
	echo "machine_state_at_start: $(machine_busy_note)"
	echo "device: stack (ext4 on loopA -> loopB -> file; blkio throttle on loopB) read_iops=$READ_IOPS write_iops=$WRITE_IOPS"
	echo "cheap reads: pgbench -R $RATE -c $CLIENTS, primary-key SELECT on oltp ($OLTP_ROWS rows)"
	echo "trigger: autovacuum (VACUUM) of vac ($VAC_ROWS rows, 3 indexes, 30% dead), autovacuum_vacuum_cost_delay 2ms, limit 200; iosat.latency_target 10ms"
	echo "phases_s: baseline=$BASELINE length=$LENGTH"
	echo "server: shared_buffers=16MB memcg_limit_mb=$MEMCG_MB"
	echo "configs: $CONFIGS"
} >"$OUT/machine.txt"

"$ROOTCTL" destroy "$NAME" >/dev/null 2>&1 || true
bench_log "creating device '$NAME' (${SIZE_MB} MB)"
devinfo=$("$ROOTCTL" stack-create "$NAME" "$SIZE_MB" 0 0)
DEV=$(sed -n 's|^dev=/dev/||p' <<<"$devinfo")
MNT=$(sed -n 's|^mnt=||p' <<<"$devinfo")
"$ROOTCTL" memcg-create "$NAME" "$MEMCG_MB" >/dev/null
PGDATA=$MNT/pgdata
SOCK=$MNT/run
install -d -o "$PG_USER" -m 0700 "$SOCK"
chown -R "$PG_USER:" "$OUT"
echo "device_dev: $DEV" >>"$OUT/machine.txt"

start_server() {
	(
		"$ROOTCTL" memcg-add "$NAME" "$BASHPID" >/dev/null
		exec runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RAW/server.log" -w -t 120 start
	) >/dev/null 2>&1
}
q() { PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench psql_q "$1"; }

bench_log "initdb"
as_pg initdb -D "$PGDATA" -A trust -U "$PG_USER" --no-sync >"$RAW/initdb.log" 2>&1 || bench_die "initdb failed"
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = ''
port = $PGPORT_BENCH
unix_socket_directories = '$SOCK'
max_connections = $((CLIENTS + 20))
shared_buffers = 16MB
jit = off
max_wal_size = 4GB
checkpoint_timeout = 30min
log_line_prefix = '%m [%p] '
log_autovacuum_min_duration = 0
autovacuum_naptime = 1s
shared_preload_libraries = 'iosat'
iosat.devices = '$DEV'
iosat.latency_target = '10ms'
iosat.sample_interval = '250ms'
iosat.smoothing_window = '1s'
include_if_exists = 'bench_config.conf'
EOF
: >"$PGDATA/bench_config.conf"
chown "$PG_USER:" "$PGDATA/bench_config.conf"
start_server || bench_die "server did not start: $RAW/server.log"
as_pg createdb -h "$SOCK" -p "$PGPORT_BENCH" bench
q "CREATE EXTENSION iosat" >/dev/null

bench_log "loading oltp ($OLTP_ROWS rows)"
q "CREATE TABLE oltp (id int PRIMARY KEY, balance int, filler text) WITH (autovacuum_enabled = off);
   INSERT INTO oltp SELECT g, 0, repeat('o', 100) FROM generate_series(1, $OLTP_ROWS) g;" >/dev/null
q "VACUUM ANALYZE oltp" >/dev/null
cat >"$RAW/cheap.pgbench" <<EOF
\\set id random(1, $OLTP_ROWS)
SELECT balance FROM oltp WHERE id = :id;
EOF
chown "$PG_USER:" "$RAW/cheap.pgbench"

# ---------------------------------------------------------------- a sampler
cat >"$RAW/sample.py" <<'EOF'
import sys, time, subprocess
dev, out, psql = sys.argv[1], sys.argv[2], sys.argv[3:]
def stat():
    f = open(f"/sys/block/{dev}/stat").read().split()
    return [int(x) for x in f]
sql = ("SELECT coalesce(max(multiplier)::text, '') || ',' || coalesce(max(round(read_mbps::numeric, 2))::text, '') "
       "|| ',' || coalesce(max(page_miss)::text, '') || ',' || coalesce(max(phase), '') "
       "FROM iosat_vacuum WHERE relation = 'vac'")
with open(out, "w") as o:
    o.write("t,r_iops,w_iops,r_await_ms,w_await_ms,aqu_sz,multiplier,vac_read_mbps,page_miss,phase\n")
    prev, tp = stat(), time.time()
    while True:
        time.sleep(1 - (time.time() - tp) % 1)
        cur, t = stat(), time.time()
        dt = t - tp
        dr, dw = cur[0] - prev[0], cur[4] - prev[4]
        ra = (cur[3] - prev[3]) / dr if dr else 0
        wa = (cur[7] - prev[7]) / dw if dw else 0
        aq = (cur[10] - prev[10]) / 1000 / dt
        try:
            v = subprocess.run(psql + ["-c", sql], capture_output=True, text=True, timeout=5).stdout.strip()
        except Exception:
            v = ",,,"
        o.write(f"{t:.3f},{dr/dt:.1f},{dw/dt:.1f},{ra:.2f},{wa:.2f},{aq:.2f},{v}\n")
        o.flush()
        prev, tp = cur, t
EOF

echo "config,event,t" >"$OUT/events.csv"
event() { echo "$CFG,$1,$(date +%s.%N)" >>"$OUT/events.csv"; }

run_config() {
	CFG=$1
	local d="$RAW/$CFG" bp
	case $CFG in
	off) bp=off ;;
	on) bp=on ;;
	*) bench_die "unknown configuration '$CFG' (off, on)" ;;
	esac
	mkdir -p "$d"
	chown "$PG_USER:" "$d"
	bench_log "=== $CFG: reset (unthrottled)"
	"$ROOTCTL" throttle "$NAME" 0 0 >/dev/null
	echo "iosat.vacuum_backpressure = $bp" >"$PGDATA/bench_config.conf"
	q "SELECT pg_reload_conf()" >/dev/null
	q "DROP TABLE IF EXISTS vac;
	   CREATE TABLE vac (id int, k int, t timestamptz, pad text)
	     WITH (autovacuum_enabled = off, autovacuum_analyze_threshold = 2000000000);
	   INSERT INTO vac SELECT g, (g::bigint * 7919 % 1000003)::int, now() - g * interval '1 s', repeat('v', 80)
	     FROM generate_series(1, $VAC_ROWS) g;
	   CREATE INDEX vac_id ON vac (id); CREATE INDEX vac_k ON vac (k); CREATE INDEX vac_t ON vac (t);" >"$d/reset.log"
	q "VACUUM FREEZE vac" >>"$d/reset.log"
	q "DELETE FROM vac WHERE id % 10 < 3" >>"$d/reset.log"
	q "CHECKPOINT" >>"$d/reset.log"
	echo "vac_size: $(q "SELECT pg_size_pretty(pg_relation_size('vac')) || ' heap, ' || pg_size_pretty(pg_indexes_size('vac')) || ' indexes'")" >>"$OUT/machine.txt"
	[[ $(q "SHOW iosat.vacuum_backpressure") == "$bp" ]] || bench_die "iosat.vacuum_backpressure is not $bp"
	"$ROOTCTL" throttle "$NAME" "$READ_IOPS" "$WRITE_IOPS" >/dev/null
	"$ROOTCTL" memcg-empty "$NAME" >/dev/null
	"$ROOTCTL" drop-caches "$NAME" >/dev/null
	q "SELECT count(*) FROM oltp WHERE id % 1000 = 0" >/dev/null # warm the index's upper levels
	sleep 3

	"$PY" "$RAW/sample.py" "$DEV" "$d/samples.csv" \
		runuser -u "$PG_USER" -- "$PGBIN/psql" -X -q -A -t -h "$SOCK" -p "$PGPORT_BENCH" -d bench &
	local sampler=$!
	BG_PIDS+=("$sampler")
	event start
	(cd "$d" && exec runuser -u "$PG_USER" -- "$PGBIN/pgbench" -n -h "$SOCK" -p "$PGPORT_BENCH" \
		-c "$CLIENTS" -j 2 -R "$RATE" -T "$LENGTH" -f "$RAW/cheap.pgbench" \
		-l --log-prefix="$d/pgbench_log" bench >"$d/pgbench.out" 2>"$d/pgbench.err") &
	local pgb=$!
	BG_PIDS+=("$pgb")
	sleep "$BASELINE"
	bench_log "$CFG: autovacuum on for vac"
	event trigger
	q "ALTER TABLE vac SET (autovacuum_enabled = on, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)" >/dev/null
	local seen=0 i
	for i in $(seq 1 $((LENGTH * 2))); do
		# the worker's work on vac
		if [[ -n $(q "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND query LIKE 'autovacuum: %public.vac%'") ]]; then
			((seen)) || { event vacuum_start; seen=1; }
		elif ((seen)); then
			event vacuum_end
			bench_log "$CFG: autovacuum of vac done"
			break
		fi
		kill -0 "$pgb" 2>/dev/null || break
		sleep 0.5
	done
	wait "$pgb" 2>/dev/null || true
	event end
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	q "ALTER TABLE vac SET (autovacuum_enabled = off)" >/dev/null
	# a vacuum still running is cancelled by the next reset's DROP TABLE
	q "SELECT * FROM iosat_vacuum_status" >"$d/iosat_vacuum_status.txt" 2>&1 || true
	bench_log "$CFG: done ($(grep -E '^(number of transactions actually processed|latency average)' "$d/pgbench.out" | tr '\n' ' '))"
}

IFS=, read -r -a CFG_LIST <<<"$CONFIGS"
for c in "${CFG_LIST[@]}"; do run_config "$c"; done
echo "machine_state_at_end: $(machine_busy_note)" >>"$OUT/machine.txt"
cp "$RAW/server.log" "$OUT/server.log"

# ---------------------------------------------------------------- report
"$PY" - "$OUT" "$BASELINE" "$READ_IOPS" "$RATE" <<'EOF' >"$OUT/summary.md"
import csv, glob, os, re, sys
out, baseline, read_iops, rate = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ev = {}
for r in csv.DictReader(open(f"{out}/events.csv")):
    ev.setdefault(r["config"], {})[r["event"]] = float(r["t"])
import datetime
def ts(line):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (\w+)", line)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
vac_logs = []  # (time, elapsed)
lines = open(f"{out}/server.log").read().split("\n")
for n, line in enumerate(lines):
    if 'LOG:  automatic vacuum of table "bench.public.vac"' in line:
        for l2 in lines[n + 1:n + 20]:
            m = re.search(r"elapsed: ([0-9.]+) s", l2)
            if m:
                vac_logs.append((ts(line), float(m.group(1))))
                break

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)

rows = {}
order = [c for c in ev]
for i, cfg in enumerate(order):
    e = ev[cfg]
    lat = []  # (scheduled start, latency ms from schedule)
    for f in glob.glob(f"{out}/raw/{cfg}/pgbench_log*"):
        for line in open(f):
            p = line.split()
            if len(p) < 7 or p[2] == "skipped":
                continue
            us, epoch, usec, lag = int(p[2]), int(p[4]), int(p[5]), int(p[6])
            end = epoch + usec / 1e6
            lat.append((end - (us + lag) / 1e6, (us + lag) / 1000))
    vs = e.get("vacuum_start", e.get("trigger"))
    ve = e.get("vacuum_end")
    ends = e["end"]
    phases = {"baseline": (e["start"] + 3, e["trigger"]),
              "autovacuum": (vs, ve or ends),
              "after": (ve, ends) if ve else None}
    samples = list(csv.DictReader(open(f"{out}/raw/{cfg}/samples.csv")))
    r = {}
    for ph, w in phases.items():
        if w is None or w[1] - w[0] < 2:
            r[ph] = None
            continue
        l = [x for s, x in lat if w[0] <= s < w[1]]
        ss = [s for s in samples if w[0] <= float(s["t"]) < w[1]]
        ra = [float(s["r_await_ms"]) for s in ss]
        mult = [float(s["multiplier"]) for s in ss if s["multiplier"]]
        vmb = [float(s["vac_read_mbps"]) for s in ss if s["vac_read_mbps"]]
        r[ph] = dict(n=len(l), tps=len(l) / (w[1] - w[0]), p50=pct(l, 50), p99=pct(l, 99), mx=max(l) if l else float("nan"),
                     r_await=sum(ra) / len(ra) if ra else float("nan"), r_await_p95=pct(ra, 95),
                     r_iops=sum(float(s["r_iops"]) for s in ss) / max(len(ss), 1),
                     w_iops=sum(float(s["w_iops"]) for s in ss) / max(len(ss), 1),
                     mult=sum(mult) / len(mult) if mult else None, mult_max=max(mult) if mult else None,
                     vmb=sum(vmb) / len(vmb) if vmb else None)
    r["duration"] = ve - vs if ve else None
    r["vac_s"] = next((el for t, el in vac_logs if t and vs <= t <= ends + 5), None)
    r["unfinished"] = None if ve else ends - vs
    rows[cfg] = r

def f(x, fmt="{:.1f}"):
    return "–" if x is None or x != x else fmt.format(x)
print(f"# Autovacuum as the trigger: iosat vacuum backpressure off vs on\n")
print("Phases: baseline (cheap reads only), autovacuum (the worker's VACUUM of vac), after (until the end of the run).\n")
print(f"Device: {read_iops} read IOPS; cheap reads at {rate}/s (latency from scheduled start).\n")
hdr = "| | " + " | ".join(order) + " |"
print(hdr)
print("|---|" + "---|" * len(order))
def line(label, fn):
    print(f"| {label} | " + " | ".join(fn(rows[c]) for c in order) + " |")
line("autovacuum of vac: duration (s)", lambda r: f(r["duration"]) if r["duration"] is not None else f"> {f(r['unfinished'])} (unfinished)")
line("VACUUM elapsed (s, server log)", lambda r: f(r['vac_s']))
for ph in ("baseline", "autovacuum", "after"):
    line(f"{ph}: cheap read p50 / p99 / max (ms)", lambda r, ph=ph: "–" if not r[ph] else f"{f(r[ph]['p50'])} / {f(r[ph]['p99'])} / {f(r[ph]['mx'],'{:.0f}')}")
    line(f"{ph}: cheap reads done per s", lambda r, ph=ph: "–" if not r[ph] else f(r[ph]["tps"]))
    line(f"{ph}: device r_await mean / p95 (ms)", lambda r, ph=ph: "–" if not r[ph] else f"{f(r[ph]['r_await'])} / {f(r[ph]['r_await_p95'])}")
    line(f"{ph}: device r/w IOPS", lambda r, ph=ph: "–" if not r[ph] else f"{f(r[ph]['r_iops'],'{:.0f}')} / {f(r[ph]['w_iops'],'{:.0f}')}")
line("autovacuum: multiplier mean / max", lambda r: "–" if not r["autovacuum"] or r["autovacuum"]["mult"] is None else f"{f(r['autovacuum']['mult'],'{:.2f}')} / {f(r['autovacuum']['mult_max'],'{:.2f}')}")
line("autovacuum: the worker's read MB/s (mean)", lambda r: "–" if not r["autovacuum"] or r["autovacuum"]["vmb"] is None else f(r["autovacuum"]["vmb"], "{:.2f}"))
EOF
cat "$OUT/summary.md"
if ((LATEST)); then
	rm -rf "$here/results/vacuum-latest"
	mkdir -p "$here/results/vacuum-latest"
	cp "$OUT/summary.md" "$OUT/machine.txt" "$OUT/events.csv" "$here/results/vacuum-latest/"
	for c in "${CFG_LIST[@]}"; do cp "$RAW/$c/samples.csv" "$here/results/vacuum-latest/samples-$c.csv" 2>/dev/null || true; done
	echo "source: results/$(basename "$OUT")" >>"$here/results/vacuum-latest/machine.txt"
fi
