# Read pacing of parallel plans, on the fixture device of 042: a paced
# statement's leader and workers share one budget (pacing.c, "Parallel
# statements").  While fake0 is saturated, a Parallel Seq Scan + Partial
# Aggregate over a table twice the size of shared_buffers, with two
# workers, reads no faster in all its processes together than the pace
# rate; its workers sleep at pacing points (wait event IosatPace on 17+,
# Extension before); iosat_parallel_pacing shows the budget while the
# statement runs and nothing once it ended, was cancelled or terminated, or
# lost a worker.  The prefetch cap reaches the workers.  A statement its
# leader does not pace, or a transaction that has written, is not paced in
# its workers either.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

my $RATE = 1000;
my ($node, $fx, $c, $saturate, $calm) =
  pacing_fixture('pacing_parallel', $RATE, "max_parallel_workers = 8\n");
$node->safe_psql('postgres', 'CREATE TABLE w (id int); GRANT ALL ON w TO worker');
my ($blocks, $sb) = split /\|/, $node->safe_psql('postgres', <<'SQL');
SELECT pg_relation_size('big') / current_setting('block_size')::int,
       pg_size_bytes(current_setting('shared_buffers')) / current_setting('block_size')::int
SQL
cmp_ok($blocks, '>', $sb, "big ($blocks blocks) is larger than shared_buffers ($sb)");
my $v17 = $node->safe_psql('postgres', 'SHOW server_version_num') >= 170000;
my $PACE_EVENT = $v17 ? 'IosatPace' : 'Extension';

# a parallel plan with two workers for any scan of big
my $PAR = <<'SQL';
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET synchronize_seqscans = off;
SQL
my $AGG = 'SELECT count(*) FROM big WHERE v < 0';

sub adm
{
	return $node->safe_psql('postgres', "SELECT $_[0] FROM iosat_admission");
}

sub budgets
{
	return $node->safe_psql('postgres', 'SELECT count(*) FROM iosat_parallel_pacing');
}

# run QUERY under EXPLAIN (ANALYZE, BUFFERS, VERBOSE) as USER with $PAR
# (and PRE): (seconds, blocks read by all processes, workers launched,
# blocks read by each worker)
sub explained
{
	my ($user, $query, $pre) = @_;
	my $plan = $node->safe_psql('postgres',
		$PAR . ($pre // '') . "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, COSTS OFF, TIMING OFF) $query",
		extra_params => [ defined $user ? ('-U', $user) : () ]);
	my ($read) = $plan =~ /Buffers: shared(?: hit=\d+)? read=(\d+)/;
	my ($ms) = $plan =~ /Execution Time: ([\d.]+) ms/;
	my ($launched) = $plan =~ /Workers Launched: (\d+)/;
	my @wread = $plan =~
	  /Worker \d+:[^\n]*\n\s+Buffers: shared(?: hit=\d+)? read=(\d+)/g;
	die "no buffers or time in:\n$plan" unless defined $read && defined $ms;
	return ($ms / 1000, $read, $launched // 0, \@wread, $plan);
}

sub least { my ($read) = @_; return ($read - $RATE / 10) / $RATE }

# the leader's pid of a running scan of TABLE (big), once its workers
# sleep at a pacing point
sub paced_leader { return paced_leader_of('big') }

sub paced_leader_of
{
	my ($table) = @_;
	my $pid;
	wait_until(
		sub {
			$pid = $node->safe_psql('postgres', <<"SQL");
SELECT l.pid FROM pg_stat_activity l
 WHERE l.query LIKE 'SELECT count(*) FROM $table %' AND l.backend_type = 'client backend'
   AND (SELECT count(*) FROM pg_stat_activity w
         WHERE w.leader_pid = l.pid AND w.backend_type = 'parallel worker'
           AND w.wait_event = '$PACE_EVENT') >= 1
SQL
			return $pid =~ /^\d+$/;
		},
		15, 'a parallel worker sleeping at a pacing point');
	return $pid;
}

# --- calm: the plan is parallel, runs at full speed; the prefetch cap
# reaches the workers (they get the leader's settings at launch)
my ($t, $read, $launched, $wread, $plan) = explained('worker', $AGG);
like($plan, qr/Parallel Seq Scan on public\.big/, 'the plan is a parallel seq scan');
is($launched, 2, 'two workers launched');
cmp_ok($t, '<', 2, sprintf('calm: full speed (%d blocks in %.2f s)', $read, $t));
is(budgets(), '0', 'calm: no budget left after the statement');

{
	# only the workers scan; a row passes where a process runs uncapped
	my $CAP = "SET parallel_leader_participation = off;\n"
	  . "SET effective_io_concurrency = 16;\nSET iosat.heavy_io_concurrency = 2;\n";
	my $Q = "SELECT count(*) FROM big WHERE current_setting('effective_io_concurrency')::int <> 2 + v * 0";
	my $capped0 = adm('prefetch_capped');
	my (undef, undef, $l) = explained('worker', $Q, $CAP);
	is($l, 2, 'prefetch cap: two workers scan');
	my $out = $node->safe_psql('postgres', "$PAR$CAP$Q", extra_params => [ '-U', 'worker' ]);
	is($out, '0', 'prefetch cap: every worker read effective_io_concurrency = 2');
	cmp_ok(adm('prefetch_capped'), '>', $capped0, 'prefetch cap: counted');
	# the control: a cheap statement (the superuser's) is not capped
	$out = $node->safe_psql('postgres', "$PAR$CAP$Q");
	is($out, '150000', 'prefetch cap: an uncapped statement tells them apart');
}

# --- saturated: one budget for leader and workers
$saturate->();
ok($node->poll_query_until('postgres', "SELECT pace_rate = $RATE FROM iosat_admission"),
	"saturated: pace rate at $RATE blocks/s");

{
	my $h = async_psql($node, "$PAR$AGG;", user => 'worker');
	my $leader = paced_leader();
	ok($leader, "paced: the workers sleep at pacing points (wait event $PACE_EVENT)");
	my $workers = $node->safe_psql('postgres',
		"SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE leader_pid = $leader AND pid <> $leader");
	my @w = split /,/, $workers;
	is(scalar @w, 2, 'paced: two workers');
	is($node->safe_psql('postgres',
			"SELECT workers FROM iosat_parallel_pacing WHERE leader_pid = $leader"),
		'2', 'iosat_parallel_pacing: the budget, with both workers attached');

	# blocks read by leader and workers over 2 s: iosat's charges, and the
	# kernel's count of bytes the three processes read (rchar in
	# /proc/<pid>/io, 8 kB per block; the server's processes are this
	# user's, and the fixture's iosat.procfs_root is not the real /proc)
	# with PostgreSQL 18's io_method = worker the io workers read for them:
	# theirs count too (nothing else reads here)
	my @io = $node->pg_version >= 18
	  ? split(/\n/, $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'io worker'"))
	  : ();
	my $rchar = sub {
		my $sum = 0;
		for my $pid ($leader, @w, @io)
		{
			open(my $f, '<', "/proc/$pid/io") or die "/proc/$pid/io: $!";
			while (<$f>) { $sum += $1 if /^rchar: (\d+)/ }
			close $f;
		}
		return $sum;
	};
	my $sample = sub {
		my $b = $node->safe_psql('postgres',
			"SELECT leader_blocks + worker_blocks FROM iosat_parallel_pacing WHERE leader_pid = $leader");
		return (time, $b, $rchar->());
	};
	my ($t1, $b1, $r1) = $sample->();
	usleep(2_000_000);
	my ($t2, $b2, $r2) = $sample->();
	my $alive = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid IN ($workers)");
	is($alive, '2', 'the workers were there all along the measure');
	my $bps = ($b2 - $b1) / ($t2 - $t1);
	my $kps = ($r2 - $r1) / 8192 / ($t2 - $t1);
	diag(sprintf('paced parallel scan: %.0f blocks/s charged, %.0f blocks/s read (rchar), pace rate %d',
		$bps, $kps, $RATE));
	cmp_ok($bps, '<', $RATE * 1.25, 'leader + workers: blocks charged per second within the pace rate');
	cmp_ok($bps, '>', $RATE * 0.5, 'and near it');
	SKIP:
	{
		# io_uring's reads go through no read system call: the kernel counts
		# none of them in rchar
		skip 'io_method = io_uring: the kernel does not count io_uring reads in rchar', 2
		  if $node->pg_version >= 18
		  && $node->safe_psql('postgres', 'SHOW io_method') eq 'io_uring';
		cmp_ok($kps, '<', $RATE * 1.25, 'leader + workers: blocks read per second (the kernel\'s count) within the pace rate');
		cmp_ok($kps, '>', $RATE * 0.5, 'and near it');
	}
	my ($rc, $out) = finish_psql($h);
	is($out, '0', 'paced: the parallel aggregate returns its result');
}
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM iosat_parallel_pacing'),
	'the budget goes with the statement');

($t, $read, $launched, $wread) = explained('worker', $AGG);
is($launched, 2, 'paced: two workers launched');
# a Worker line per node and worker: Partial Aggregate, Parallel Seq Scan
cmp_ok(scalar(@$wread), '>=', 2, 'paced: buffers shown for each worker');
ok(!grep({ $_ == 0 } @$wread), "paced: both workers read (@$wread blocks, by node)");
cmp_ok($t, '>=', least($read) * 0.95,
	sprintf('paced: %d blocks read by leader and workers in %.2f s: at most %d blocks/s', $read, $t, $RATE));
cmp_ok($t, '<', least($read) * 1.5 + 0.5,
	"paced: and not much slower (the workers' blocks are not charged twice, by the leader too)");

# --- not paced: a statement its leader does not pace (the superuser's is
# cheap), a transaction that has written (the workers have its xid)
($t, $read, $launched) = explained(undef, $AGG);
is($launched, 2, 'cheap: two workers launched');
cmp_ok($t, '<', 2, sprintf('cheap: its workers are not paced (%d blocks in %.2f s)', $read, $t));
($t, $read, $launched) = explained('worker', $AGG, "BEGIN;\nINSERT INTO w VALUES (1);\n");
is($launched, 2, 'written: two workers launched');
cmp_ok($t, '<', 2, sprintf('a transaction that has written is not paced, workers neither (%.2f s)', $t));
is(budgets(), '0', 'no budget left behind');

# --- interruptions: prompt, and no budget, slot or worker left behind
sub gone
{
	my ($what) = @_;
	ok( $node->poll_query_until('postgres', <<'SQL'),
SELECT (SELECT count(*) FROM iosat_parallel_pacing) = 0
   AND (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker') = 0
   AND (SELECT heavy_running FROM iosat_admission) = 0
SQL
		"$what: no budget, worker or slot left behind");
}
{
	my $h = async_psql($node, "$PAR$AGG;", user => 'worker');
	my $leader = paced_leader();
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($leader)");
	my ($rc, $o, $err) = finish_psql($h);
	like($err, qr/57014/, 'cancel: the paced parallel statement is cancelled');
	cmp_ok(time - $t0, '<', 1.5, sprintf('cancel: at once (%.2f s)', time - $t0));
	gone('cancel');
}
{
	my $h = async_psql($node, "$PAR$AGG;", user => 'worker');
	my $leader = paced_leader();
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($leader)");
	my ($rc) = finish_psql($h);
	isnt($rc, 0, 'terminate: the paced leader exits');
	cmp_ok(time - $t0, '<', 1.5, sprintf('terminate: at once (%.2f s)', time - $t0));
	gone('terminate');
}
{
	my $h = async_psql($node, "$PAR$AGG;", user => 'worker');
	my $leader = paced_leader();
	my $wpid = $node->safe_psql('postgres',
		"SELECT min(pid) FROM pg_stat_activity WHERE leader_pid = $leader AND pid <> $leader");
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid)");
	my ($rc, $o, $err) = finish_psql($h);
	isnt($rc, 0, 'a worker terminated: the statement fails');
	gone('a worker terminated');
}
{
	my ($rc, $o, $err) = $node->psql('postgres',
		"${PAR}SET statement_timeout = '1s';\n$AGG", extra_params => [ '-U', 'worker' ]);
	like($err, qr/statement timeout/, 'statement_timeout ends a paced parallel statement');
	gone('statement_timeout');
}

# --- buffer pins, as in 042: each process of a paced parallel scan sleeps
# with its current page pinned; a VACUUM (FREEZE) that needs a cleanup lock
# on those pages must not crawl at the scan's pace.  Every process yields
# to a BufferPin waiter on its own (pacing.c's PIN_POLL_MS, PIN_YIELD_MS).
{
	my $PIN_RATE = 250;
	$node->safe_psql('postgres', <<'SQL');
CREATE TABLE pin_alone WITH (autovacuum_enabled = off) AS SELECT * FROM big;
CREATE TABLE pin_beside WITH (autovacuum_enabled = off) AS SELECT * FROM big;
GRANT ALL ON pin_alone, pin_beside TO worker;
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
	my $ts = time;
	my $scan = async_psql($node, "${PAR}SELECT count(*) FROM pin_beside WHERE v < 0;",
		user => 'worker');
	my $leader = paced_leader_of('pin_beside');
	ok($leader, 'pins: the parallel scan is paced in its workers');
	my $left = ($blocks_b - $PIN_RATE / 10) / $PIN_RATE - (time - $ts);
	$t0 = time;
	$node->safe_psql('postgres', 'VACUUM (FREEZE) pin_beside');
	my $beside = time - $t0;
	my ($src, $sout) = finish_psql($scan);
	is($sout, '0', 'pins: the scan completes');
	my $bound = (2 * $alone + 1) * 1.02;
	diag(sprintf('pins: VACUUM (FREEZE) alone %.2f s; beside a parallel scan paced at %d blocks/s '
		  . '(%.1f s of it left) %.2f s', $alone, $PIN_RATE, $left, $beside));
	cmp_ok($bound, '<', $left / 2, sprintf('pins: the bound (%.1f s) tells a held VACUUM apart', $bound));
	cmp_ok($beside, '<', $bound,
		sprintf('pins: VACUUM beside a paced parallel scan takes %.2f s, not the %.1f s the scan had left',
			$beside, $left));
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.pacing_min_rate = $RATE; SELECT pg_reload_conf()");
	ok($node->poll_query_until('postgres', "SELECT pace_rate = $RATE FROM iosat_admission"),
		"pins: pace rate back at $RATE blocks/s");
}

$calm->();
ok($node->poll_query_until('postgres', 'SELECT pace_rate IS NULL FROM iosat_admission'),
	'calm: pacing stops');
($t, $read, $launched) = explained('worker', $AGG);
cmp_ok($t, '<', 2, sprintf('calm: full speed again (%.2f s)', $t));

$node->stop;
done_testing();
