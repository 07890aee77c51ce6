# Hot standby: admission control and read pacing on a streaming standby,
# where heavy read-only work is most often sent, and what they do to replay.
#
# A primary and a standby made from its backup, both with iosat preloaded
# and both sampling the same fixture device (the standby's postgresql.conf
# comes with the backup): saturated, heavy statements on the standby queue
# (or are refused in reject mode, SQLSTATE 53000) and are paced; what they
# cost is learned in the standby's own iosat_queries.
#
# Replay.  A paced scan sleeps with its current page pinned, and replaying
# a VACUUM that prunes that page needs a cleanup lock on it: the startup
# process waits (wait event BufferPin) and, after
# max_standby_streaming_delay, cancels the query.  iosat's bound
# (pacing.c): a paced statement holds replay at most PIN_POLL_MS (20 ms)
# at a time, after which it does not sleep for PIN_YIELD_MS (1 s); and
# while replay waits for its lock or snapshot, it does not sleep at all.
# Shown here with max_standby_streaming_delay = 5 s:
#   - VACUUM of a table replayed beside a scan paced over it: replay
#     catches up the primary about as fast as the same VACUUM without a
#     scan, the startup process was seen waiting on BufferPin (so the test
#     is not vacuous), no replay wait reached deadlock_timeout (200 ms on
#     the standby: with log_recovery_conflict_waits the server logs every
#     longer one) and the paced query completes, not cancelled;
#   - the control: a pin held across a sleep without the yield (a cursor
#     idle after its first row) holds the same replay for the whole delay,
#     is logged, and its session is cancelled (confl_bufferpin);
#   - an AccessExclusiveLock replayed (LOCK TABLE on the primary) while a
#     scan is paced over the table: the scan stops sleeping and completes
#     well within the delay, where at its pace it had longer than the delay
#     left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IPC::Run;
use IosatTest;

my $RATE = 1000;       # the pace floor for the admission and pacing checks
my $PIN_RATE = 250;    # ... and for the replay checks: a scan of big takes ~17 s
my $DELAY = 5;         # max_standby_streaming_delay, seconds
my ($primary, $fx, $c, $saturate, $calm) = pacing_fixture('primary', $RATE, <<"EOC");
wal_level = replica
max_wal_senders = 4
hot_standby = on
max_standby_streaming_delay = '${DELAY}s'
log_recovery_conflict_waits = on
EOC

# tables whose every page has dead rows for VACUUM to prune: pin_alone
# times the replay of VACUUM alone, pin_beside beside a paced scan, pin_ctl
# beside a pinned cursor; lock_tab is scanned while the primary locks it
$primary->safe_psql('postgres', <<'SQL');
CREATE TABLE pin_alone WITH (autovacuum_enabled = off) AS SELECT * FROM big;
CREATE TABLE pin_beside WITH (autovacuum_enabled = off) AS SELECT * FROM big;
CREATE TABLE pin_ctl WITH (autovacuum_enabled = off) AS SELECT * FROM big;
CREATE TABLE lock_tab WITH (autovacuum_enabled = off) AS SELECT * FROM big;
DELETE FROM pin_alone WHERE id % 10 = 0;
DELETE FROM pin_beside WHERE id % 10 = 0;
DELETE FROM pin_ctl WHERE id % 10 = 0;
GRANT SELECT ON pin_alone, pin_beside, pin_ctl, lock_tab TO worker;
SQL
create_wait_runs($primary);    # replicated to the standby

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
# with log_recovery_conflict_waits, every replay wait longer than
# deadlock_timeout is logged: 10 x iosat's 20 ms, room for a loaded machine
# (a pin holder that is not waiting for a lock itself is not cancelled at
# deadlock_timeout: the control below is held the whole delay)
$standby->append_conf('postgresql.conf', "deadlock_timeout = '200ms'\n");
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

sub sby
{
	return $standby->safe_psql('postgres', $_[0]);
}

sub adm
{
	return sby("SELECT $_[0] FROM iosat_admission");
}

sub worker_psql
{
	return $standby->psql('postgres', $_[0], extra_params => [ '-U', 'worker' ]);
}

# run QUERY on the standby as worker under EXPLAIN (ANALYZE, BUFFERS):
# (execution seconds, blocks read from storage)
sub explained
{
	my ($query) = @_;
	my $plan = $standby->safe_psql('postgres',
		"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) $query",
		extra_params => [ '-U', 'worker' ]);
	my ($read) = $plan =~ /Buffers: shared(?: hit=\d+)? read=(\d+)/;
	my ($ms) = $plan =~ /Execution Time: ([\d.]+) ms/;
	die "no buffers or time in:\n$plan" unless defined $read && defined $ms;
	return ($ms / 1000, $read);
}

sub queryid
{
	my ($query) = @_;
	my $plan = sby("EXPLAIN (VERBOSE, COSTS OFF) $query");
	my ($id) = $plan =~ /Query Identifier: (-?\d+)/;
	die "no query identifier in:\n$plan" unless defined $id;
	return $id;
}

# the standby's conflict counters for database postgres
sub conflicts
{
	return sby("SELECT confl_bufferpin + confl_lock + confl_snapshot
	              FROM pg_stat_database_conflicts WHERE datname = 'postgres'");
}

# set the standby's pace floor and wait until its governor uses it
sub standby_rate
{
	my ($rate) = @_;
	$standby->append_conf('postgresql.conf', "iosat.pacing_min_rate = $rate\n");
	$standby->reload;
	ok($standby->poll_query_until('postgres', "SELECT pace_rate = $rate FROM iosat_admission"),
		"standby: pace rate at $rate blocks/s");
}

# seconds from now until the standby has replayed the primary's WAL as it
# is now; every 20 ms
sub replay_lag
{
	my $lsn = $primary->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my $t0 = time;
	wait_until(sub { sby("SELECT pg_last_wal_replay_lsn() >= '$lsn'") eq 't' },
		60, "replay of $lsn")
	  or return undef;
	return time - $t0;
}

# a psql session fed line by line: returns [harness, \stdin, \stdout, \stderr]
sub interactive
{
	my ($node, $user) = @_;
	my ($in, $out, $err) = ('', '', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'),
			$user ? ('-U', $user) : ()
		],
		'<', \$in, '>', \$out, '2>', \$err);
	return [ $h, \$in, \$out, \$err ];
}

# send SQL ending in SELECT '<MARK>' and wait for the mark
sub send_wait
{
	my ($s, $sql, $mark) = @_;
	${ $s->[1] } .= "$sql\nSELECT '$mark';\n";
	my $deadline = time + 60;
	$s->[0]->pump until ${ $s->[2] } =~ /\Q$mark\E/ || time > $deadline;
	return ${ $s->[2] } =~ /\Q$mark\E/;
}

# --- calm: the standby samples the fixture; heavy statements run at full speed
my $FILTER = 'SELECT count(*) FROM big WHERE v < 0';
ok($standby->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM iosat_devices WHERE device = 'fake0'"),
	'standby: the sampler sees the fixture device');
ok($standby->poll_query_until('postgres', 'SELECT NOT saturated AND NOT stale FROM iosat_admission'),
	'standby: fresh verdict, not saturated');
my $t0 = time;
my ($rc, $out) = worker_psql($FILTER);
my $t = time - $t0;
is($out, '0', 'standby, calm: a heavy read-only query runs');
cmp_ok($t, '<', 2, sprintf('standby, calm: at full speed (%.2f s)', $t));
my $qid = queryid($FILTER);
ok($standby->poll_query_until('postgres',
		"SELECT calls >= 1 AND blocks_per_call > 4000 FROM iosat_queries WHERE queryid = $qid"),
	'standby: the query is learned in iosat_queries (shared memory: no catalog write)');
is($primary->safe_psql('postgres', "SELECT count(*) FROM iosat_queries WHERE queryid = $qid"),
	'0', 'the standby learns apart from the primary');

# --- saturated: both samplers read fake0
$saturate->();
ok($standby->poll_query_until('postgres',
		"SELECT saturated AND pace_rate = $RATE FROM iosat_admission"),
	'standby: saturated, pace rate at its floor');

# admission: a heavy statement holds the only slot, the next one queues,
# times out with 53000; reject mode refuses at once
{
	ok($standby->poll_query_until('postgres', 'SELECT heavy_limit = 1 FROM iosat_admission'),
		'standby: one slot');
	my $holder = async_psql($standby, 'SELECT pg_sleep(300);', user => 'worker');
	ok($standby->poll_query_until('postgres', 'SELECT heavy_running = 1 FROM iosat_admission'),
		'standby: a heavy statement holds the slot');
	my $QUEUED = 'SELECT count(*) FROM t';
	my $q = async_psql($standby, "$QUEUED;", user => 'worker');
	ok($standby->poll_query_until('postgres', <<"SQL"),
SELECT queued = 1 FROM iosat_admission
SQL
		'standby: a heavy read-only query is queued');
	is(sby("SELECT wait_event_type FROM pg_stat_activity WHERE query = '$QUEUED'"),
		'Extension', 'standby: the queued query shows an Extension wait event');

	my ($rc2, $o2, $err2) =
	  worker_psql("\\set VERBOSITY verbose\nSET iosat.queue_timeout = '300ms'; SELECT 1;");
	like($err2, qr/ERROR:  53000: statement waited \d+ ms for I\/O capacity: device "fake0" is saturated/,
		'standby: queue timeout, SQLSTATE 53000');
	($rc2, $o2, $err2) =
	  worker_psql("\\set VERBOSITY verbose\nSET iosat.admission = 'reject'; SELECT 1;");
	like($err2, qr/53000: statement rejected: device "fake0" is saturated/,
		'standby: reject mode refuses at once, SQLSTATE 53000');

	sby("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'");
	finish_psql($holder);
	my ($qrc, $qout) = finish_psql($q);
	is($qrc, 0, 'standby: the queued query gets the slot when the holder ends');
	is($qout, '1000', 'standby: and runs');
	my $qq = queryid($QUEUED);
	ok($standby->poll_query_until('postgres',
			"SELECT times_queued >= 1 FROM iosat_queries WHERE queryid = $qq"),
		'standby: iosat_queries counts the queueing');
	ok($standby->poll_query_until('postgres',
			'SELECT heavy_running = 0 AND queued = 0 FROM iosat_admission'),
		'standby: no slot or queue place left behind');
	cmp_ok(adm('timed_out'), '>=', 1, 'standby: the timeout is counted');
	cmp_ok(adm('rejected'), '>=', 1, 'standby: the refusal is counted');
}

# pacing: a heavy scan reads no faster than the pace rate
{
	my ($secs, $read) = explained($FILTER);
	my $least = ($read - $RATE / 10) / $RATE;
	cmp_ok($secs, '>=', $least * 0.95,
		sprintf('standby: paced, %d blocks read in %.2f s: at most %d blocks/s', $read, $secs, $RATE));
	cmp_ok(adm('paced'), '>=', 1, 'standby: the paced statement is counted');
	my $h = start_paced($standby, $FILTER);
	my ($prc) = finish_psql($h);
	is($prc, 0, 'standby: a paced query shows the Extension wait event (IosatPace on 17+) and completes');
}

# --- replay beside a paced scan
standby_rate($PIN_RATE);
is(conflicts(), '0', 'no recovery conflict so far');

# VACUUM alone: how long its replay takes to catch up the primary
$t0 = time;
$primary->safe_psql('postgres', 'VACUUM pin_alone');
my $vac_alone = time - $t0;
my $lag_alone = replay_lag();
ok(defined $lag_alone, 'replay of VACUUM alone catches up');

# the same VACUUM beside a scan paced over the table, on the standby
my $blocks = sby("SELECT pg_relation_size('pin_beside') / current_setting('block_size')::int");
my $ts = time;
my $scan = start_paced($standby, 'SELECT count(*) FROM pin_beside WHERE v < 0');
my $scan_t0 = time;
my $spid = sby("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT count(*) FROM pin_beside%'");
my $watch = async_psql($standby, "SELECT * FROM wait_runs($spid, 'startup', 'BufferPin');");
my $left = ($blocks - $PIN_RATE / 10) / $PIN_RATE - (time - $ts);
$t0 = time;
$primary->safe_psql('postgres', 'VACUUM pin_beside');
my $vac_beside = time - $t0;
my $lag_beside = replay_lag();
ok(defined $lag_beside, 'replay of VACUUM beside a paced scan catches up');
my ($src, $sout, $serr) = finish_psql($scan);
my $scan_t = time - $scan_t0;
is($src, 0, 'the paced scan is not cancelled') or diag($serr);
is($sout, '0', 'and returns its result');
my ($wrc, $wout) = finish_psql($watch);
my ($pin, $samples, $longest) = split /\|/, $wout;
diag(sprintf('replay: VACUUM alone %.2f s on the primary, replayed %.2f s after it; '
	  . 'beside a scan paced at %d blocks/s (%.1f s of it left) %.2f s, replayed %.2f s after it; '
	  . 'startup in BufferPin in %d of %d samples, longest run %.0f ms; '
	  . 'the scan ended %.2f s after it was seen paced',
	$vac_alone, $lag_alone, $PIN_RATE, $left, $vac_beside, $lag_beside, $pin, $samples, $longest,
	$scan_t));
# not vacuous: replay was seen waiting for the pin, or the scan stopped
# sleeping long before its pace would have let it end (only a waiter makes
# a paced scan yield; a loaded machine's sampling can miss a wait of a few
# milliseconds, which is all the yield leaves it)
ok($pin > 0 || $scan_t < $left / 2,
	sprintf('replay did wait for the paced scan\'s pin (the test is not vacuous): '
		  . 'seen in %d samples; the scan ended after %.1f s of the %.1f s its pace allowed',
		$pin, $scan_t, $left));
# the bound: PIN_POLL_MS at a time, PIN_YIELD_MS between; with room for
# timing replay on a loaded machine (twice the time alone, and a second).
# It must be under the delay, and well under what the scan had left
my $bound = 2 * $lag_alone + 1;
cmp_ok($bound, '<', $DELAY, sprintf('the bound (%.1f s) is under max_standby_streaming_delay', $bound));
cmp_ok($left, '>', 2 * $DELAY, sprintf('the scan had %.1f s left at its pace', $left));
cmp_ok($lag_beside, '<', $bound,
	sprintf('replay beside the paced scan catches up in %.2f s, about as alone (%.2f s)',
		$lag_beside, $lag_alone));
is(conflicts(), '0', 'no recovery conflict: nothing cancelled');
unlike(slurp_file($standby->logfile), qr/recovery still waiting after [\d.]+ ms: recovery conflict on buffer pin/,
	'no replay wait on a pin reached deadlock_timeout (200 ms)');

# the control: a pin held across a sleep without the yield -- a cursor idle
# after its first row keeps the table's first page pinned
{
	my $cur = interactive($standby);
	ok(send_wait($cur, 'BEGIN; DECLARE c CURSOR FOR SELECT * FROM pin_ctl; FETCH 1 FROM c;', 'fetched'),
		'control: a cursor on the standby holds its first page pinned');
	my $logpos = -s $standby->logfile;
	$t0 = time;
	$primary->safe_psql('postgres', 'VACUUM pin_ctl');
	ok($standby->poll_query_until('postgres',
			"SELECT wait_event IN ('BufferPin', 'BufferCleanup') FROM pg_stat_activity WHERE backend_type = 'startup'"),
		'control: replay waits on BufferPin');
	my $lag_ctl = replay_lag();
	ok(defined $lag_ctl, 'control: replay catches up once the holder is gone');
	my $held = time - $t0;
	diag(sprintf('control: replay of VACUUM held %.2f s by an idle pin', $held));
	cmp_ok($held, '>=', $DELAY * 0.9,
		sprintf('control: replay was held for max_standby_streaming_delay (%.2f s)', $held));
	ok($standby->poll_query_until('postgres', <<'SQL'),
SELECT confl_bufferpin = 1 FROM pg_stat_database_conflicts WHERE datname = 'postgres'
SQL
		'control: the pin holder was cancelled (confl_bufferpin)');
	like(slurp_file($standby->logfile, $logpos),
		qr/recovery still waiting after [\d.]+ ms: recovery conflict on buffer pin/,
		'control: the long replay wait is logged');
	${ $cur->[1] } .= "SELECT 1;\n\\q\n";
	$cur->[0]->finish;
	like(${ $cur->[3] }, qr/conflict with recovery/, 'control: the holder\'s session was told why');
}

# --- an AccessExclusiveLock replayed while a scan is paced over the table
{
	my $base = conflicts();
	my $ts2 = time;
	my $lscan = start_paced($standby, 'SELECT count(*) FROM lock_tab WHERE v < 0');
	my $lpid = sby("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT count(*) FROM lock_tab%'");
	my $lwatch = async_psql($standby, "SELECT * FROM wait_runs($lpid, 'startup', 'Lock');");
	my $lleft = ($blocks - $PIN_RATE / 10) / $PIN_RATE - (time - $ts2);
	my $locker = interactive($primary);
	ok(send_wait($locker, 'BEGIN; LOCK TABLE lock_tab IN ACCESS EXCLUSIVE MODE;', 'locked'),
		'lock: the primary holds an AccessExclusiveLock on the table');
	# flush the lock's WAL record: a commit of another transaction
	$primary->safe_psql('postgres', 'CREATE TABLE lock_flush (); DROP TABLE lock_flush;');
	my $lt0 = time;
	# replay waits on the lock, or is already past it: the scan ended (its
	# backend is no longer active; psql itself stays open, waiting for
	# input, until finish_psql)
	my $seen_lock = 0;
	wait_until(
		sub {
			my ($r, $o) = $standby->psql('postgres', <<"SQL");
SELECT coalesce((SELECT wait_event_type FROM pg_stat_activity WHERE backend_type = 'startup'), '-')
       || '|' || (SELECT count(*) FROM pg_stat_activity WHERE pid = $lpid AND state = 'active')
SQL
			my ($ev, $active) = split /\|/, $o // '';
			$seen_lock = 1 if ($ev // '') eq 'Lock';
			return $seen_lock || ($active // '1') eq '0';
		},
		60, 'replay waiting on the lock, or the scan ended');
	my ($lrc, $lout, $lerr) = finish_psql($lscan);
	my $after = time - $lt0;
	my (undef, $lw) = finish_psql($lwatch);
	my ($lsamples) = split /\|/, $lw;
	cmp_ok($lsamples, '>', 0, 'lock: replay did wait for the paced scan\'s lock (not vacuous)');
	diag('lock: replay seen waiting on Lock: ' . ($seen_lock ? 'yes' : 'no (the scan ended first)'));
	is($lrc, 0, 'lock: the paced scan is not cancelled') or diag($lerr);
	is($lout, '0', 'lock: and returns its result');
	diag(sprintf('lock: the scan had %.1f s left at its pace; it ended %.2f s after replay began to wait',
		$lleft, $after));
	cmp_ok($lleft, '>', $DELAY + 1,
		'lock: at its pace the scan would have outlasted max_standby_streaming_delay');
	cmp_ok($after, '<', $DELAY - 1, 'lock: it stopped sleeping and ended within the delay');
	${ $locker->[1] } .= "COMMIT;\n\\q\n";
	$locker->[0]->finish;
	ok(defined replay_lag(), 'lock: replay catches up');
	is(conflicts(), $base, 'lock: no recovery conflict');
}

$calm->();
ok($standby->poll_query_until('postgres', 'SELECT NOT saturated AND pace_rate IS NULL FROM iosat_admission'),
	'standby: calm again, pacing off');

$standby->stop;
$primary->stop;
done_testing();
