# Vacuum backpressure for real: an autovacuum worker vacuums a table with
# large indexes and many dead tuples in a tablespace on a throttled stack
# device (300 read IOPS; requests queue at the device like a cloud volume
# at its ceiling).  Its read rate is measured from /proc/<pid>/io.
#
#  1. backpressure off: the worker runs with its configured page costs
#     (stock) and no tick, and its rate is the stock rate;
#  2. on, device idle: the running worker is left alone until its next
#     table; cancelled, its table is taken up by a new worker, which
#     ticks: the multiplier falls to 1/max_speedup and the worker reads
#     faster than stock;
#  3. a competing random-read load saturates the device: within two
#     sample intervals of the pressure being published the worker applies
#     max_slowdown, and its read rate falls by at least the expected
#     factor (the ratio of the multipliers) and to at most
#     stock / max_slowdown;
#  4. the load stops: the multiplier returns and the rate recovers;
#  5. an anti-wraparound autovacuum under the same saturation is held at
#     its configured costs, never slowed;
#  6. a manual VACUUM is left alone, unless iosat.vacuum_manual.
#
# The vacuum is made cost-bound (cost limit 100 per 10 ms): stock it reads
# about 3.7 MB/s, well under what the device serves, so the page costs are
# what sets its speed, as the mechanism assumes.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;
use IPC::Run;

plan skip_all => 'needs the root helper (run through test/run-tests.sh)'
  unless rootctl_available();

my $name = 'iosat-t050';
my $node;
my @load;
my $dev = rootctl('stack-create', $name, 1024, 300, 1000);
END
{
	eval { $_->{run}->kill_kill for @load };
	eval { $node->stop('immediate') if $node };
	eval { rootctl('destroy', $name) };
}
(my $devname = $dev->{dev}) =~ s{^/dev/}{};
note("throttled device: $devname over $dev->{lower}, mounted at $dev->{mnt}");

my $interval_ms = 500;
my $tick_ms = 250;
$node = iosat_node('vacuum', <<"EOC");
shared_buffers = '16MB'
max_parallel_workers_per_gather = 0
synchronous_commit = off
log_min_messages = debug1
log_autovacuum_min_duration = 0
autovacuum_naptime = '1s'
autovacuum_vacuum_cost_delay = '10ms'
autovacuum_vacuum_cost_limit = 100
iosat.devices = '$devname'
iosat.iops_limit = 300
iosat.latency_target = '20ms'
iosat.sample_interval = '${interval_ms}ms'
iosat.smoothing_window = '1s'
iosat.vacuum_backpressure = off
iosat.vacuum_max_slowdown = 4
iosat.vacuum_max_speedup = 2
iosat.vacuum_tick = '${tick_ms}ms'
EOC
$node->start;
# 18+ with io_method = worker (its default): io workers read for the vacuum,
# so its own read_bytes stays flat; its heap scan's progress is measured
my $aio_workers = $node->pg_version >= 18
  && $node->safe_psql('postgres', 'SHOW io_method') eq 'worker';
note('io_method: ' . ($node->pg_version >= 18 ? $node->safe_psql('postgres', 'SHOW io_method') : 'none (before 18)'));

mkdir("$dev->{mnt}/ts") or die "mkdir $dev->{mnt}/ts: $!";
# vt: the vacuumed table, autovacuum off until its dead tuples are there;
# lt: what the competing load reads at random; wt: for an anti-wraparound
# vacuum (its own freeze age, the lowest allowed; never vacuumed otherwise)
$node->safe_psql('postgres', <<"SQL");
CREATE EXTENSION iosat;
CREATE TABLESPACE slow LOCATION '$dev->{mnt}/ts';
CREATE TABLE vt (id int, k int, pad text) WITH (autovacuum_enabled = off) TABLESPACE slow;
INSERT INTO vt SELECT g, (g::bigint * 7919 % 1000003)::int, repeat('x', 100)
  FROM generate_series(1, 1000000) g;
CREATE INDEX vt_id ON vt (id) TABLESPACE slow;
CREATE INDEX vt_k ON vt (k) TABLESPACE slow;
CREATE TABLE lt (id int, pad text) WITH (autovacuum_enabled = off) TABLESPACE slow;
INSERT INTO lt SELECT g, repeat('y', 200) FROM generate_series(1, 1000000) g;
CREATE INDEX lt_id ON lt (id) TABLESPACE slow;
CREATE TABLE wt (id int, pad text)
  WITH (autovacuum_enabled = off, autovacuum_freeze_max_age = 100000) TABLESPACE slow;
INSERT INTO wt SELECT g, repeat('z', 100) FROM generate_series(1, 200000) g;
CREATE INDEX wt_id ON wt (id) TABLESPACE slow;
VACUUM FREEZE vt, lt;
DELETE FROM vt WHERE id % 2 = 0;
DELETE FROM wt WHERE id % 2 = 0;
CHECKPOINT;
SQL
note('vt: ' . $node->safe_psql('postgres',
	"SELECT pg_size_pretty(pg_relation_size('vt')) || ' heap, ' || pg_size_pretty(pg_indexes_size('vt')) || ' indexes'"));

# none of the tablespace's pages in the page cache: the vacuum reads the device
sub evict
{
	for my $f (split /\n/, `find $dev->{mnt}/ts -type f`)
	{
		system('dd', "if=$f", 'iflag=nocache', 'count=0', 'status=none');
	}
}

sub proc_io
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/io") or return undef;
	my %io = map { /^(\w+):\s+(\d+)/ ? ($1 => $2) : () } <$fh>;
	close($fh);
	return \%io;
}

# MB/s of read_bytes (fetched from the device) over SECONDS
# (with io workers: MB/s of heap pages scanned, pg_stat_progress_vacuum)
sub read_rate
{
	my ($pid, $seconds) = @_;
	return scan_rate($pid, $seconds) if $aio_workers;
	my $a = proc_io($pid);
	my $t0 = time();
	usleep($seconds * 1e6);
	my $b = proc_io($pid);
	my $dt = time() - $t0;
	return undef unless $a && $b;
	return ($b->{read_bytes} - $a->{read_bytes}) / $dt / 1e6;
}

sub scan_rate
{
	my ($pid, $seconds) = @_;
	my $q = "SELECT heap_blks_scanned FROM pg_stat_progress_vacuum WHERE pid = $pid";
	my $a = $node->safe_psql('postgres', $q);
	my $t0 = time();
	usleep($seconds * 1e6);
	my $b = $node->safe_psql('postgres', $q);
	my $dt = time() - $t0;
	return undef if $a eq '' || $b eq '';
	return ($b - $a) * 8192 / $dt / 1e6;
}

sub sql { return $node->safe_psql('postgres', $_[0]) }

sub worker_row
{
	my ($rel) = @_;
	my $r = sql("SELECT pid, state, multiplier, target_multiplier, page_hit, page_miss, page_dirty,
	                  base_page_hit, base_page_miss, base_page_dirty, wraparound, coalesce(phase, ''),
	                  ticks, coalesce(heap_blks_scanned, 0)
	             FROM iosat_vacuum WHERE relation = '$rel'");
	return undef if $r eq '';
	my @f = split /\|/, $r;
	return {
		pid => $f[0], state => $f[1], m => $f[2], target => $f[3],
		cost => [ @f[ 4 .. 6 ] ], base => [ @f[ 7 .. 9 ] ],
		wraparound => $f[10] eq 't', phase => $f[11], ticks => $f[12],
		scanned => $f[13] };
}

sub set_conf
{
	my ($setting, $value) = @_;
	sql("ALTER SYSTEM SET $setting = '$value'");
	sql('SELECT pg_reload_conf()');
}

sub start_load
{
	my ($sessions) = @_;
	for (1 .. $sessions)
	{
		push @load, async_psql($node,
			"SET application_name = 'load';\n"
			  . "DO \$\$ DECLARE k int; BEGIN LOOP k := 1 + (random() * 999998)::int; "
			  . "PERFORM pad FROM lt WHERE id = k; END LOOP; END \$\$;\n");
	}
}

sub stop_load
{
	sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'load'");
	finish_psql($_) for @load;
	@load = ();
}

# --- 1. backpressure off: stock
evict();
sql("ALTER TABLE vt SET (autovacuum_enabled = on, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)");
my $w;
ok( wait_until(
		sub { $w = worker_row('vt'); $w && $w->{state} ne 'starting' && $w->{phase} eq 'scanning heap' },
		60, 'autovacuum on vt'),
	'an autovacuum worker vacuums vt, with a row in iosat_vacuum');
my $pid = $w->{pid};
is($w->{state}, 'disabled', 'backpressure off: state "disabled"');
is($w->{ticks}, '0', 'backpressure off: no tick');
is($w->{m}, '1', 'backpressure off: multiplier 1');
is_deeply($w->{cost}, $w->{base}, "backpressure off: page costs as configured (@{$w->{base}})");
is_deeply($w->{base}, [ split /\|/, sql("SELECT current_setting('vacuum_cost_page_hit') || '|' || current_setting('vacuum_cost_page_miss') || '|' || current_setting('vacuum_cost_page_dirty')") ],
	'base costs are the server settings');
my $r_stock = read_rate($pid, 3);
note(sprintf('stock: %.2f MB/s', $r_stock));
cmp_ok($r_stock, '>', 0.5, 'the worker reads from the device');

# --- 2. on, device idle: faster than stock, from the worker's next table
set_conf('iosat.vacuum_backpressure', 'on');
ok(wait_until(sub { sql('SELECT backpressure FROM iosat_vacuum_status') eq 't' }, 10, 'on'),
	'backpressure on (published)');
sleep(1);
$w = worker_row('vt');
is("$w->{pid} $w->{ticks}", "$pid 0", 'the running worker is not ticked within its table');
# cancelled, it leaves vt to the next worker: once past the pages the first
# one read (cached now), the new worker reads the device again
my $left_at = $w->{scanned};
sql("SELECT pg_cancel_backend($pid)");
ok( wait_until(
		sub {
			$w = worker_row('vt');
			$w && $w->{pid} != $pid && $w->{m} <= 0.5 && $w->{phase} eq 'scanning heap'
			  && $w->{scanned} > $left_at + 200;
		},
		60, 'speed-up'),
	"a new worker on vt ticks: the multiplier falls to 1/max_speedup ($w->{m})");
note("first worker left vt at block $left_at; the new one is at $w->{scanned}");
$pid = $w->{pid};
cmp_ok($w->{ticks}, '>', 0, 'the new worker is ticked');
my $r_fast = read_rate($pid, 3);
$w = worker_row('vt');
note(sprintf('idle, multiplier %s: %.2f MB/s (costs %s)', $w->{m}, $r_fast, join(',', @{ $w->{cost} })));
cmp_ok($r_fast, '>', 1.4 * $r_stock,
	sprintf('device idle: reads faster than stock (%.2f vs %.2f MB/s)', $r_fast, $r_stock));
my $m_fast = $w->{m};

# --- 3. saturation: slowed within two sample intervals, by the expected factor
start_load(8);
my ($t_p, $t_m);
my $t_load = time();
wait_until(
	sub {
		my ($p, $m) = split /\|/, sql("SELECT s.pressure, coalesce((SELECT multiplier FROM iosat_vacuum WHERE pid = $pid), 0) FROM iosat_vacuum_status s");
		$t_p //= time() if $p >= 1;
		if ($m >= 4) { $t_m = time(); return 1 }
		return 0;
	},
	30, 'slowdown');
ok(defined $t_p && defined $t_m, 'the load saturates the device and the worker is slowed to max_slowdown');
$t_p //= $t_load;
$t_m //= time();
note(sprintf('pressure >= 1 after %.1f s of load; worker at 4 %.2f s later', $t_p - $t_load, $t_m - $t_p));
cmp_ok($t_m - $t_p, '<=', (2 * $interval_ms + $tick_ms + 400) / 1000,
	'the worker applies max_slowdown within two sample intervals (plus a tick) of the pressure');
my $r_slow = read_rate($pid, 3);
$w = worker_row('vt');
# the policy's 4 is applied relative to the speed the worker reads at free:
# times its free factor, which the load itself raises (the worker, slowed
# by the device, spends less than its limit allows); at least 4
my $expected = $w->{target} / $m_fast;
note(sprintf('saturated, multiplier %s of target %s (costs %s): %.2f MB/s; drop %.1fx, expected %.1fx or more',
	$w->{m}, $w->{target}, join(',', @{ $w->{cost} }), $r_slow, $r_fast / ($r_slow || 1e-9), $expected));
is($w->{state}, 'applied', 'state "applied"');
is($w->{target}, '4', 'the target is max_slowdown');
cmp_ok($w->{m}, '>=', 4, 'the applied multiplier is at least the target');
# (error diffusion makes a fractional cost alternate between its neighbours)
my @want = map { my $v = $_ * $w->{m}; $v > 10000 ? 10000 : $v } @{ $w->{base} };
ok(!grep({ abs($w->{cost}[$_] - $want[$_]) > 1 + 0.01 * $want[$_] } 0 .. 2),
	"page costs are base x the applied multiplier, at most 10000 (@{$w->{cost}})");
cmp_ok($r_fast / ($r_slow || 1e-9), '>=', 0.6 * $expected,
	"the read rate drops by at least the policy's factor (${expected}x, 40% slack)");
cmp_ok($r_slow, '<=', 1.5 * $r_stock / 4, 'and is held near stock / max_slowdown or below');

# --- 4. the load stops: recovery
stop_load();
my $t_stop = time();
ok(wait_until(sub { $w = worker_row('vt'); $w && $w->{m} <= 1 }, 30, 'recovery'),
	'load gone: the multiplier returns to 1 or below');
note(sprintf('multiplier back to %s after %.1f s', $w->{m}, time() - $t_stop));
# the best of up to five 2-s windows: one window can land on the device
# still draining the stopped load, on the kernel writing back the pages the
# vacuum dirtied (the loop device under the stack serves reads and writes
# in one queue), or on a stretch of already-cached pages (only while the
# worker still scans vt's heap: once the heap is done, it reads indexes or
# nothing, and its rate says nothing about its costs)
my $scanning = sub {
	sql("SELECT count(*) FROM pg_stat_progress_vacuum WHERE pid = $pid AND phase = 'scanning heap'")
	  eq '1';
};
my ($r_rec, $heap_done) = (0, 0);
for my $try (1 .. 5)
{
	my $was_scanning = $scanning->();
	my $p = sql('SELECT pressure FROM iosat_vacuum_status');
	my $r = read_rate($pid, 2) // 0;
	if (!$was_scanning || !$scanning->())
	{
		$heap_done = 1;
		note("recovery window $try: the heap scan ended; the rate is not comparable");
		last;
	}
	note(sprintf('recovery window %d: %.2f MB/s (pressure %s at its start; multiplier %s)',
		$try, $r, $p, (worker_row('vt') // {})->{m} // '?'));
	$r_rec = $r if $r > $r_rec;
	last if $r_rec >= 0.7 * $r_stock;
}
note(sprintf('recovered: %.2f MB/s', $r_rec));
SKIP:
{
	skip 'the heap scan ended before a whole recovery window (costs are back at base: checked above)', 1
	  if $heap_done && $r_rec < 0.7 * $r_stock;
	cmp_ok($r_rec, '>=', 0.7 * $r_stock, 'and the read rate recovers to stock or better');
}

# the sampler logged the changes at DEBUG1
like(slurp_file($node->logfile), qr/iosat: autovacuum pid $pid: vacuum cost multiplier [0-9.]+ -> [0-9.]+/,
	'a DEBUG1 line for the changed multiplier');

# reload adoption: 16+ re-reads the configuration inside a table
if ($node->pg_version >= 16)
{
	set_conf('vacuum_cost_page_dirty', '30');
	ok(wait_until(sub { $w = worker_row('vt'); $w && $w->{base}[2] == 30 }, 10, 'adoption'),
		'a reloaded page cost becomes the new base inside the table');
	sql('ALTER SYSTEM RESET vacuum_cost_page_dirty');
	sql('SELECT pg_reload_conf()');
}

# --- 5. an anti-wraparound vacuum is never slowed
sql("ALTER TABLE vt SET (autovacuum_enabled = off)");
start_load(8);
ok(wait_until(sub { sql('SELECT multiplier FROM iosat_vacuum_status') >= 4 }, 30, 'saturated again'),
	'saturated again: the published multiplier is max_slowdown');
# age wt's relfrozenxid past its freeze age
$node->safe_psql('postgres', <<'SQL');
CREATE PROCEDURE burn(n int) LANGUAGE plpgsql AS
  $$ BEGIN FOR i IN 1..n LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$;
CALL burn(101000);
SQL
ok( wait_until(sub { $w = worker_row('wt'); $w && $w->{state} ne 'starting' && $w->{phase} =~ /heap|index/ }, 60,
		'wraparound vacuum'),
	'an anti-wraparound autovacuum of wt starts');
like(sql("SELECT query FROM pg_stat_activity WHERE pid = $w->{pid}"), qr/\(to prevent wraparound\)/,
	'its activity says so');
sleep(1);
$w = worker_row('wt');
ok($w->{wraparound}, 'iosat_vacuum: wraparound');
is($w->{state}, 'wraparound', 'state "wraparound" while the target is max_slowdown');
is($w->{target}, '4', 'target multiplier 4');
cmp_ok($w->{m}, '<=', 1, 'applied multiplier at most 1');
is_deeply($w->{cost}, $w->{base}, 'page costs at base');
ok(sql("SELECT wraparound_held_ticks > 0 FROM iosat_vacuum_status") eq 't', 'held ticks counted');
stop_load();

# --- 6. manual VACUUM: left alone unless iosat.vacuum_manual; costs put back
sub manual_vacuum
{
	my ($manual) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ('psql', '-XAtq', '-d', $node->connstr('postgres'),
		'-c', "SET application_name = 'manual'",
		'-c', "SET iosat.vacuum_manual = $manual",
		'-c', "SET vacuum_cost_delay = '10ms'",
		'-c', 'SET vacuum_cost_limit = 100',
		'-c', 'VACUUM (DISABLE_PAGE_SKIPPING) lt',
		'-c', "SELECT 'after:' || current_setting('vacuum_cost_page_hit') || ',' "
		  . "|| current_setting('vacuum_cost_page_miss') || ',' || current_setting('vacuum_cost_page_dirty')");
	my $h = IPC::Run::start(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	my $mpid;
	wait_until(sub { $mpid = sql("SELECT pid FROM pg_stat_progress_vacuum WHERE relid = 'lt'::regclass"); $mpid ne '' },
		30, 'manual vacuum');
	sleep(1);
	my $row = sql("SELECT kind || '|' || state || '|' || page_miss FROM iosat_vacuum WHERE pid = $mpid");
	sql("SELECT pg_cancel_backend($mpid)");
	$h->finish;
	my ($after) = $out =~ /after:(\S+)/;
	return ($row, $after // '', $err);
}
my $configured = sql("SELECT current_setting('vacuum_cost_page_hit') || ',' || current_setting('vacuum_cost_page_miss') || ',' || current_setting('vacuum_cost_page_dirty')");
my ($row, $after, $err) = manual_vacuum('off');
is($row, '', 'manual VACUUM: no row in iosat_vacuum, not ticked');
like($err, qr/canceling statement/, 'manual VACUUM cancelled');
is($after, $configured, 'page costs untouched');
($row, $after) = manual_vacuum('on');
like($row, qr/^manual\|applied\|\d+$/, "iosat.vacuum_manual = on: ticked ($row)");
is($after, $configured, 'page costs put back after the cancelled VACUUM');

# --- 7. a vacuum whose cost limit is far above what the device serves is
# slowed relative to the speed it reads at, not to its configured speed.
# A manual VACUUM of lt at vacuum_cost_limit 2000 per 2 ms (what a
# provisioned volume's autovacuum is often given: a million cost units a
# second) reads the 300-IOPS device as fast as it serves, beside the
# random-read load: first
# not ticked (iosat.vacuum_manual = off), then ticked.  Ticked, the applied
# multiplier is the policy's (4) times the vacuum's free factor, and it
# reads at a fraction of what it read not ticked (before, 4 x costs that
# never bound left it at full speed).  (At limit 10000 the nap floor, one
# page per delay at the largest page cost, 10000, is itself about the
# device's speed here, and "half" could not be reached: 17.11, 2026-12-04.)
sub fast_vacuum
{
	my ($manual) = @_;
	evict();
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		  '-c', "SET application_name = 'fastvac'",
		  '-c', "SET iosat.vacuum_manual = $manual",
		  '-c', "SET vacuum_cost_delay = '2ms'",
		  '-c', 'SET vacuum_cost_limit = 2000',
		  '-c', 'VACUUM (DISABLE_PAGE_SKIPPING) lt' ],
		'<', \undef, '>', \my $out, '2>', \my $err);
	my $vpid;
	wait_until(sub {
			$vpid = sql("SELECT pid FROM pg_stat_progress_vacuum WHERE relid = 'lt'::regclass AND phase = 'scanning heap'");
			$vpid ne '' },
		30, 'fast vacuum') or die 'the fast VACUUM did not start';
	my $row = '';
	if ($manual eq 'on')
	{
		wait_until(
			sub {
				$row = sql("SELECT target_multiplier || '|' || multiplier FROM iosat_vacuum WHERE pid = $vpid");
				my ($t, $m) = split /\|/, $row;
				return defined $m && $t >= 4 && $m >= 1.5 * $t;
			},
			30, 'relative slowdown');
		# one sample interval for the costs to take hold
		usleep(2 * $interval_ms * 1000);
	}
	my $r = read_rate($vpid, 3) // 0;
	my $scanning = sql("SELECT count(*) FROM pg_stat_progress_vacuum WHERE pid = $vpid AND phase = 'scanning heap'");
	sql("SELECT pg_cancel_backend($vpid)");
	$h->finish;
	return ($r, $row, $scanning eq '1');
}
start_load(8);
ok(wait_until(sub { sql('SELECT multiplier FROM iosat_vacuum_status') >= 4 }, 30, 'saturated'),
	'fast vacuum: the load saturates the device');
my ($r_free, undef, $still1) = fast_vacuum('off');
my ($r_held, $frow, $still2) = fast_vacuum('on');
note(sprintf('fast vacuum beside the load: %.2f MB/s not ticked, %.2f MB/s ticked (target|applied %s)',
	$r_free, $r_held, $frow));
my ($ft, $fm) = split /\|/, $frow;
ok(defined $fm && $ft >= 4 && $fm >= 1.5 * $ft,
	"ticked: the applied multiplier is the policy's times the free factor ($frow)");
ok($still1 && $still2, 'both still scanned the heap when measured');
cmp_ok($r_held, '<=', 0.5 * $r_free, 'ticked, it reads at half its free speed or less');
stop_load();

my $st = sql("SELECT workers_seen > 0 AND ticks > 0 AND cost_changes > 0 AND slowdowns > 0 AND slowed_s > 0 AND sped_up_s > 0 FROM iosat_vacuum_status");
is($st, 't', 'iosat_vacuum_status counts workers, ticks, changes, slowdowns and time slowed and sped up');

done_testing();
