# Read pacing of running heavy statements, on the fixture device of 040:
# saturated, the governor's pace rate falls to iosat.pacing_min_rate, and a
# heavy scan that reads N blocks from storage must then take about
# N / rate seconds -- whether it discards every row in its filter (the
# incident's query: the qual is the only place it can be paced) or returns
# them all (no qual: paced where the scan hands over its tuples).  Calm, the
# same scan runs at full speed.  Cheap statements, exempt roles, monitor
# mode and iosat.pacing = off are never paced; a transaction that has
# written is (048: not while someone waits for its locks); cancel,
# statement_timeout and terminate act at once on a paced statement, and
# nothing is left behind.  On a busy device that is not
# pressed, a heavy statement starts slow.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

# 1000 blocks/s; a seq scan of "big" (~4,300 blocks, larger than a quarter
# of shared_buffers, so it reads through a ring and every block is a miss
# each time) then takes > 4 s instead of ~0.1 s
my $RATE = 1000;
my ($node, $fx, $c, $saturate, $calm) = pacing_fixture('pacing', $RATE);
$node->safe_psql('postgres',
	'CREATE TABLE w (id int); GRANT ALL ON w TO worker, exempt_role');
my $blocks = $node->safe_psql('postgres',
	"SELECT pg_relation_size('big') / current_setting('block_size')::int");
cmp_ok($blocks, '>', 4000, "big has $blocks blocks");

sub adm
{
	return $node->safe_psql('postgres', "SELECT $_[0] FROM iosat_admission");
}

# run SQL as USER, return (seconds, stdout, exit code, stderr)
sub timed
{
	my ($user, $sql) = @_;
	my $t0 = time;
	my ($rc, $out, $err) = $node->psql('postgres', $sql,
		extra_params => [ defined $user ? ('-U', $user) : () ]);
	return (time - $t0, $out, $rc, $err);
}

# run QUERY under EXPLAIN (ANALYZE, BUFFERS) as USER (after PRE, if any):
# (execution seconds, blocks read from storage).  The blocks read vary
# with what earlier scans left in shared_buffers; the time a paced scan
# must take follows from them.
sub explained
{
	my ($user, $query, $pre) = @_;
	my $plan = $node->safe_psql('postgres',
		($pre // '') . "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) $query",
		extra_params => [ '-U', $user ]);
	my ($read) = $plan =~ /Buffers: shared(?: hit=\d+)? read=(\d+)/;
	my ($ms) = $plan =~ /Execution Time: ([\d.]+) ms/;
	die "no buffers or time in:\n$plan" unless defined $read && defined $ms;
	return ($ms / 1000, $read);
}

# the least time READ blocks take at RATE blocks/s, less one burst
sub least { my ($read) = @_; return ($read - $RATE / 10) / $RATE }

my $FILTER = 'SELECT count(*) FROM big WHERE v < 0';
my $ALL = 'SELECT count(*) FROM big';

# --- calm: full speed, nothing paced
my ($t, $out) = timed('worker', $FILTER);
is($out, '0', 'calm: the filter query returns its result');
cmp_ok($t, '<', 2, sprintf('calm: a heavy scan runs at full speed (%.2f s)', $t));
is(adm('pace_rate IS NULL'), 't', 'calm: no pace rate');
is(adm('paced'), '0', 'calm: nothing paced');

# --- saturated: the rate falls to the floor, heavy scans are paced
$saturate->();
ok($node->poll_query_until('postgres', "SELECT pace_rate = $RATE FROM iosat_admission"),
	"saturated: pace rate at iosat.pacing_min_rate ($RATE blocks/s)");

my $floor = least($blocks) / 2;    # a plain run: at least half the table is read
($t, $out) = timed('worker', $FILTER);
is($out, '0', 'paced: the filter query returns the same result');
cmp_ok($t, '>=', $floor,
	sprintf('paced: a scan discarding every row takes %.1f s (calm: well under 1 s)', $t));
is(adm('paced'), '1', 'the paced statement is counted');
cmp_ok(adm('paced_ms'), '>', $floor * 1000 * 0.8, 'its sleep is counted in paced_ms');

my $read;
($t, $read) = explained('worker', $FILTER);
cmp_ok($t, '>=', least($read) * 0.95,
	sprintf('paced: %d blocks read in %.2f s: at most %d blocks/s', $read, $t, $RATE));
cmp_ok($t, '<', least($read) * 2 + 0.5, 'paced: and not much slower');

($t, $out) = timed('worker', $ALL);
is($out, '150000', 'paced: the scan returning every row counts them all');
($t, $read) = explained('worker', $ALL);
cmp_ok($t, '>=', least($read) * 0.95,
	sprintf('paced: a scan without a filter is paced too (%d blocks in %.2f s)', $read, $t));

# EXPLAIN ANALYZE through the wrapper: the node's instrumentation still counts
my $plan = $node->safe_psql('postgres',
	"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $ALL",
	extra_params => [ '-U', 'worker' ]);
like($plan, qr/Seq Scan on big \(actual rows=150000(?:\.00)? loops=1\)/,
	'EXPLAIN ANALYZE of a paced statement counts the rows of the paced node');

# the wait is visible while it lasts
{
	my $h = async_psql($node, $FILTER, user => 'worker');
	ok( $node->poll_query_until('postgres', <<'SQL'),
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE query LIKE 'SELECT count(*) FROM big%' AND wait_event_type = 'Extension'
SQL
		'a paced statement shows an Extension wait event');
	my ($rc) = finish_psql($h);
	is($rc, 0, 'and completes');
}

# --- never paced: cheap statements, exempt roles, monitor mode, pacing off
($t, $out) = timed(undef, $FILTER);
cmp_ok($t, '<', 2, sprintf('cheap statement (superuser, cheap by its settings) not paced (%.2f s)', $t));

$node->safe_psql('postgres',
	"ALTER SYSTEM SET iosat.exempt_roles = 'exempt_role'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', 'SELECT pg_sleep(0.3)');
($t) = timed('exempt_role', $FILTER);
cmp_ok($t, '<', 2, sprintf('exempt role not paced (%.2f s)', $t));
$node->safe_psql('postgres',
	"ALTER SYSTEM RESET iosat.exempt_roles; SELECT pg_reload_conf()");

($t) = timed('worker', "SET iosat.admission = 'monitor'; $FILTER");
cmp_ok($t, '<', 2, sprintf('monitor mode: not paced (%.2f s)', $t));

($t, $read) = explained('worker', $FILTER, 'BEGIN; INSERT INTO w VALUES (1); ');
cmp_ok($t, '>=', least($read) * 0.95,
	sprintf('a transaction that has written is paced when nobody waits for it (%d blocks in %.2f s)',
		$read, $t));
($t, $read) = explained('worker', $FILTER, 'BEGIN; SELECT 1; ');
cmp_ok($t, '>=', least($read) * 0.95,
	sprintf('a read-only transaction is paced (%d blocks in %.2f s)', $read, $t));

$node->safe_psql('postgres', "ALTER SYSTEM SET iosat.pacing = off; SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres', 'SELECT pace_rate IS NULL FROM iosat_admission'),
	'iosat.pacing = off: no pace rate');
($t) = timed('worker', $FILTER);
cmp_ok($t, '<', 2, sprintf('iosat.pacing = off: not paced (%.2f s)', $t));
$node->safe_psql('postgres', "ALTER SYSTEM RESET iosat.pacing; SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres', "SELECT pace_rate = $RATE FROM iosat_admission"),
	'pacing back on');

# --- interruptions of a paced statement: prompt, and nothing left behind
sub paced_pid
{
	my $pid;
	wait_until(
		sub {
			$pid = $node->safe_psql('postgres', <<'SQL');
SELECT pid FROM pg_stat_activity
 WHERE query LIKE 'SELECT count(*) FROM big%' AND wait_event_type = 'Extension'
SQL
			return $pid =~ /^\d+$/;
		},
		10, 'a paced statement');
	return $pid;
}

{
	my $h = async_psql($node, $FILTER, user => 'worker');
	my $pid = paced_pid();
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	my ($rc, $o, $err) = finish_psql($h);
	my $dt = time - $t0;
	like($err, qr/57014/, 'cancel: a paced statement is cancelled');
	cmp_ok($dt, '<', 1.5, sprintf('cancel: at once (%.2f s)', $dt));
}
{
	($t, undef, my $rc, my $err) =
	  timed('worker', "SET statement_timeout = '1s'; $FILTER");
	like($err, qr/statement timeout/, 'statement_timeout ends a paced statement');
	cmp_ok($t, '<', 2.5, sprintf('at its time (%.2f s)', $t));
}
{
	my $h = async_psql($node, $FILTER, user => 'worker');
	my $pid = paced_pid();
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	my ($rc) = finish_psql($h);
	my $dt = time - $t0;
	isnt($rc, 0, 'terminate: the paced backend exits');
	cmp_ok($dt, '<', 1.5, sprintf('terminate: at once (%.2f s)', $dt));
}
{
	# a cursor: paced across FETCHes, closed early
	my ($rc, $o, $err) = $node->psql('postgres', <<"SQL", extra_params => [ '-U', 'worker' ]);
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM big;
FETCH 10 FROM c;
CLOSE c;
COMMIT;
SQL
	is($rc, 0, 'a paced cursor closed early');
}
ok( $node->poll_query_until('postgres',
		'SELECT heavy_running = 0 AND queued = 0 FROM iosat_admission'),
	'no slot or queue place left behind');

# --- buffer pins: a paced scan sleeps with its current page pinned, and
# VACUUM (FREEZE) needs a cleanup lock on every page it freezes
# (LockBufferForCleanup waits, wait event BufferPin, for every other pin to
# go).  Held at each of the scan's stops, a VACUUM behind a paced scan
# would crawl at the scan's pace to the end of the table.  The bound
# (pacing.c): a cleanup-lock waiter waits for a paced sleep at most
# PIN_POLL_MS, after which paced statements of the database do not sleep
# for PIN_YIELD_MS: a VACUUM beside a paced scan takes about as long as
# alone.  Two copies of big, neither frozen: one to time VACUUM alone, one
# for VACUUM beside a scan paced at PIN_RATE blocks/s.
{
	my $PIN_RATE = 250;
	my ($POLL_MS, $YIELD_MS) = (20, 1000);    # pacing.c's PIN_POLL_MS, PIN_YIELD_MS
	$node->safe_psql('postgres', <<'SQL');
CREATE TABLE pin_alone WITH (autovacuum_enabled = off) AS SELECT * FROM big;
CREATE TABLE pin_beside WITH (autovacuum_enabled = off) AS SELECT * FROM big;
GRANT ALL ON pin_alone, pin_beside TO worker;
-- sample the wait events of backend TARGET until it is idle: how often it
-- was in BufferPin, and its longest stretch there
CREATE FUNCTION pin_waits(target int, OUT pin_samples int, OUT samples int,
                          OUT longest_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
  ev text;
  run_from timestamptz;
BEGIN
  pin_samples := 0; samples := 0; longest_ms := 0;
  LOOP
    PERFORM pg_stat_clear_snapshot();
    -- a cleanup-lock wait is BufferPin:BufferPin up to 18, Buffer:BufferCleanup on 19
    SELECT CASE WHEN wait_event = 'BufferCleanup' THEN 'BufferPin' ELSE wait_event_type END
      INTO ev FROM pg_stat_activity
     WHERE pid = target AND state = 'active';
    EXIT WHEN NOT FOUND;
    samples := samples + 1;
    IF ev IS NOT DISTINCT FROM 'BufferPin' THEN
      pin_samples := pin_samples + 1;
      run_from := coalesce(run_from, clock_timestamp());
      longest_ms := greatest(longest_ms,
                             extract(epoch FROM clock_timestamp() - run_from) * 1000);
    ELSE
      run_from := NULL;
    END IF;
    PERFORM pg_sleep(0.005);
  END LOOP;
END $$;
SQL
	my $t0 = time;
	$node->safe_psql('postgres', 'VACUUM (FREEZE) pin_alone');
	my $alone = time - $t0;

	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.pacing_min_rate = $PIN_RATE; SELECT pg_reload_conf()");
	ok($node->poll_query_until('postgres', "SELECT pace_rate = $PIN_RATE FROM iosat_admission"),
		"pins: pace rate at $PIN_RATE blocks/s");
	my $blocks_b = $node->safe_psql('postgres',
		"SELECT pg_relation_size('pin_beside') / current_setting('block_size')::int");
	# from block 0, so VACUUM comes up behind it
	my $ts = time;
	my $scan = start_paced($node, 'SELECT count(*) FROM pin_beside WHERE v < 0');
	# what the scan has left to read at its pace
	my $left = ($blocks_b - $PIN_RATE / 10) / $PIN_RATE - (time - $ts);
	$t0 = time;
	my $vac = async_psql($node, 'VACUUM (FREEZE) pin_beside;');
	my $vpid;
	wait_until(
		sub {
			$vpid = $node->safe_psql('postgres',
				"SELECT pid FROM pg_stat_activity WHERE query LIKE 'VACUUM (FREEZE) pin_beside%'");
			return $vpid =~ /^\d+$/;
		},
		30, 'the VACUUM');
	my ($pin, $samples, $longest) = split /\|/,
	  $node->safe_psql('postgres', "SELECT * FROM pin_waits($vpid)");
	my ($vrc) = finish_psql($vac);
	my $beside = time - $t0;
	my ($src, $sout) = finish_psql($scan);
	is($vrc, 0, 'pins: VACUUM (FREEZE) beside the paced scan completes');
	is($sout, '0', 'pins: and so does the scan');
	diag(sprintf('pins: VACUUM (FREEZE) alone %.2f s; beside a scan paced at %d blocks/s '
		  . '(%.1f s of it left) %.2f s; BufferPin in %d of %d samples, longest %.0f ms',
		$alone, $PIN_RATE, $left, $beside, $pin, $samples, $longest));
	# the bound, PIN_POLL_MS in PIN_YIELD_MS, with room for the noise of
	# timing VACUUM on a loaded machine (twice the time alone, and a second);
	# it must be well under what the scan had left, or nothing is shown
	my $bound = (2 * $alone + 1) * (1 + $POLL_MS / $YIELD_MS);
	cmp_ok($bound, '<', $left / 2,
		sprintf('pins: the bound (%.1f s) tells a VACUUM held at the scan\'s pace apart', $bound));
	cmp_ok($beside, '<', $bound,
		sprintf('pins: VACUUM beside a paced scan takes %.2f s, about its %.2f s alone, '
			  . 'not the %.1f s the scan had left', $beside, $alone, $left));
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.pacing_min_rate = $RATE; SELECT pg_reload_conf()");
	ok($node->poll_query_until('postgres', "SELECT pace_rate = $RATE FROM iosat_admission"),
		"pins: pace rate back at $RATE blocks/s");
}

# --- calm again: pacing stops, full speed
$calm->();
ok($node->poll_query_until('postgres', 'SELECT pace_rate IS NULL FROM iosat_admission'),
	'calm: pacing stops');
($t) = timed('worker', $FILTER);
cmp_ok($t, '<', 2, sprintf('calm: full speed again (%.2f s)', $t));

# --- busy, not pressed: a heavy statement starts slow.  750 reads/s at
# 19 ms against the 20-ms latency target is a pressure of 0.95 (with no
# IOPS ceiling for this phase; 75 reads in each 100-ms sample keep the
# jitter of the fixture's whole ticks under 2%): no saturation and no pace
# rate, but at or above 0.9 (where the controllers stop growing) the
# slow-start cap (8 x iosat.pacing_min_rate) holds instead of doubling.
# The load goes on from the counters where the saturating load left them.
$node->safe_psql('postgres',
	"ALTER SYSTEM SET iosat.pacing_min_rate = 100; ALTER SYSTEM SET iosat.iops_limit = 0; "
	  . "ALTER SYSTEM SET iosat.vacuum_backpressure = on; SELECT pg_reload_conf()");
my $SLOW = 8 * 100;
# calm, the vacuum is sped past its configured costs (multiplier below 1:
# headroom, and no heavy statement held back); below 0.7 once 15 s have
# passed since the last pressure (the probe hold), so that easing off in
# the busy band below (5 % a second) takes 7 s to bring it back to 1
ok($node->poll_query_until('postgres', 'SELECT backpressure AND multiplier < 0.7 FROM iosat_vacuum_status'),
	'calm: vacuum backpressure on, the vacuum sped up (multiplier below 0.7)');
open(my $sf, '<', $fx->sysroot . '/block/fake0/stat') or die "stat: $!";
my @f = split ' ', scalar <$sf>;
close $sf;
my $busy = $fx->start_load('fake0', { rd_ios => $f[0], rd_ticks => $f[3] },
	rd_ios => 750, rd_ticks => 750 * 19);
ok( $node->poll_query_until('postgres',
		'SELECT pressure BETWEEN 0.9 AND 0.99 AND NOT saturated AND pace_rate IS NULL FROM iosat_admission'),
	'busy: pressure between 0.9 and 1, not saturated, no pace rate');
my $m_before = $node->safe_psql('postgres', 'SELECT multiplier FROM iosat_vacuum_status');
cmp_ok($m_before, '<', 0.8, "busy: the vacuum is still faster than configured before a heavy statement comes ($m_before)");
# a heavy statement starts slow and is held at its cap (0.9-1); while it
# sleeps at its pacing points the vacuum runs no faster than configured
my $heavy = async_psql($node,
	"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) $FILTER", user => 'worker');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'worker' AND state = 'active'")
  or die 'the heavy statement did not start';
my $t_active = time;
my $seen = $node->poll_query_until('postgres', <<'SQL');
SELECT v.multiplier >= 1 OR NOT EXISTS
  (SELECT 1 FROM pg_stat_activity WHERE usename = 'worker' AND state = 'active')
FROM iosat_vacuum_status v
SQL
my $held = $node->safe_psql('postgres', <<'SQL');
SELECT v.multiplier || '|' || (SELECT count(*) FROM pg_stat_activity
  WHERE usename = 'worker' AND state = 'active')
FROM iosat_vacuum_status v
SQL
my $t_held = time - $t_active;
my ($m2, $running) = split /\|/, $held;
ok($seen && $m2 >= 1 && $running == 1,
	"busy: while a heavy statement is held at slow start's cap, the vacuum runs at its configured costs (multiplier $m2)");
# easing off alone (at most 10 % a second below a pressure of 1) would take
# this long to bring the multiplier from where it was to 1
my $ease_s = log(1 / $m_before) / log(1.1);
cmp_ok($t_held, '<', $ease_s,
	sprintf('busy: at 1 within %.2f s of the heavy statement starting (easing off alone: %.1f s or more)',
		$t_held, $ease_s));
my ($hrc, $hplan) = finish_psql($heavy);
is($hrc, 0, 'busy: the heavy statement completes');
($read) = $hplan =~ /Buffers: shared(?: hit=\d+)? read=(\d+)/;
my ($ms) = $hplan =~ /Execution Time: ([\d.]+) ms/;
$read //= 0;
$t = ($ms // 0) / 1000;
cmp_ok($t, '>=', ($read - $SLOW / 10) / $SLOW * 0.95,
	sprintf('busy: a heavy statement starts slow (%d blocks in %.2f s, at most %d blocks/s)',
		$read, $t, $SLOW));
($t) = timed(undef, $FILTER);
cmp_ok($t, '<', 2, sprintf('busy: a cheap statement is not slowed (%.2f s)', $t));
# between 0.9 and 1 the vacuum multiplier (at 1 or above after the heavy
# statement) eases off as the pace rate does
# (by up to 10 % a second; 5 % at 0.95): it does not hold.  Counted in the
# sampler's samples, 100 ms each.
my ($m0, $s0) = split /\|/, $node->safe_psql('postgres',
	'SELECT v.multiplier, s.samples FROM iosat_vacuum_status v, iosat_status s');
$node->poll_query_until('postgres', "SELECT samples >= $s0 + 30 FROM iosat_status")
  or die 'no samples';
my ($m1, $p1) = split /\|/, $node->safe_psql('postgres',
	'SELECT multiplier, pressure FROM iosat_vacuum_status');
cmp_ok($m1, '>', $m0 * 1.05,
	sprintf('busy: the vacuum multiplier eases off (%.3f -> %.3f in 30 samples at pressure %.2f)',
		$m0, $m1, $p1));
kill 'TERM', $busy;
waitpid($busy, 0);
# calm, with no heavy statement held back: the vacuum is sped up again
ok($node->poll_query_until('postgres', 'SELECT multiplier < 1 FROM iosat_vacuum_status'),
	'calm again, nothing held: the vacuum is sped past its configured costs again');

$node->stop;
done_testing();
