# 1,000 randomised interruptions of heavy statements while the device is
# saturated and the limit is one slot: cancels and terminates (of running
# and of queued statements), statement timeouts, errors, errors inside
# savepoints and EXCEPTION blocks, and clean runs, up to eight at a time.
# Afterwards no slot and no queue place may be left, the queue's books
# must balance, and the sampler must not have had to reclaim anything.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

my $events = $ENV{IOSAT_CHAOS_EVENTS} // 1000;
my $seed = $ENV{IOSAT_CHAOS_SEED} // int(time());
srand($seed);
diag("seed $seed, $events events (IOSAT_CHAOS_SEED / IOSAT_CHAOS_EVENTS to replay)");

my ($node, $fx, $c, $saturate, $calm) =
  admission_fixture('chaos', "iosat.queue_timeout = '2s'\n");
# the other paths a heavy statement takes (045): a CALL and a DO are heavy
# by their history, so each runs once before the chaos
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE t2 AS SELECT * FROM t;
CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t;
CREATE PROCEDURE heavy_proc() LANGUAGE plpgsql AS
  $$ BEGIN PERFORM count(*) FROM t; PERFORM pg_sleep(0.02); END $$;
SQL
$node->safe_psql('postgres',
	"CALL heavy_proc();\nDO \$\$ BEGIN PERFORM count(*) FROM t; END \$\$;",
	extra_params => [ '-U', 'worker' ]);
$saturate->();

my @statements = (
	[ 'ok',        "SELECT pg_sleep(0.02);" ],
	[ 'ok',        "SELECT count(*) FROM t;" ],
	[ 'timeout',   "SET statement_timeout = '%d ms';\nSELECT pg_sleep(0.5);" ],
	[ 'error',     "SELECT error_after(0.01);" ],
	[ 'error',     "SELECT 1 / (id - id) FROM t LIMIT 1;" ],
	[ 'savepoint', "BEGIN;\nSAVEPOINT a;\nSELECT error_after(0.01);\nROLLBACK TO a;\nCOMMIT;" ],
	[ 'exception', "SELECT swallow_error(), pg_sleep(0.01);" ],
	[ 'cursor',    "BEGIN;\nDECLARE c CURSOR FOR SELECT * FROM t;\nFETCH 5 FROM c;\nCOMMIT;" ],
	[ 'txn',       "BEGIN;\nSELECT count(*) FROM t;\nSELECT pg_sleep(0.02);\nCOMMIT;" ],
	[ 'execute',   "PREPARE q AS SELECT count(*) FROM t;\nEXECUTE q;" ],
	[ 'ctas',      "CREATE TEMP TABLE x AS SELECT * FROM t;" ],
	[ 'copy',      "COPY (SELECT * FROM t) TO STDOUT;" ],
	[ 'refresh',   "REFRESH MATERIALIZED VIEW mv;" ],
	[ 'index',     "CREATE TEMP TABLE y AS SELECT * FROM t;\nCREATE INDEX ON y (v);" ],
	[ 'vacfull',   "VACUUM FULL t2;" ],
	[ 'call',      "CALL heavy_proc();" ],
	[ 'do',        "DO \$\$ BEGIN PERFORM count(*) FROM t; END \$\$;" ],
);

my (@inflight, %done);
my $interrupts = 0;
my $worker_pids = "SELECT pid FROM pg_stat_activity WHERE usename = 'worker' AND pid <> pg_backend_pid()";

sub reap
{
	my ($block) = @_;
	my @still;
	for my $h (@inflight)
	{
		if ($block || !$h->{run}->pumpable)
		{
			finish_psql($h);
			$done{ $h->{kind} }++;
		}
		else
		{
			$h->{run}->pump_nb;
			push @still, $h;
		}
	}
	@inflight = @still;
}

my $t0 = time();
for my $i (1 .. $events)
{
	my $r = rand();
	if ($r < 0.15 && @inflight)
	{
		# cancel one worker backend at random, running or queued
		$node->safe_psql('postgres',
			"SELECT pg_cancel_backend(pid) FROM ($worker_pids) s ORDER BY random() LIMIT 1");
		$interrupts++;
	}
	elsif ($r < 0.22 && @inflight)
	{
		$node->safe_psql('postgres',
			"SELECT pg_terminate_backend(pid) FROM ($worker_pids) s ORDER BY random() LIMIT 1");
		$interrupts++;
	}
	else
	{
		my ($kind, $sql) = @{ $statements[ int(rand(@statements)) ] };
		$sql = sprintf($sql, 5 + int(rand(300))) if $kind eq 'timeout';
		my $h = async_psql($node, $sql, user => 'worker');
		$h->{kind} = $kind;
		push @inflight, $h;
	}
	reap(0);
	while (@inflight >= 8)
	{
		usleep(5_000);
		reap(0);
	}
}
reap(1);
my $elapsed = time() - $t0;
diag(sprintf("%d events in %.1f s: %d interrupts; %s", $events, $elapsed,
		$interrupts, join(', ', map { "$_ $done{$_}" } sort keys %done)));

ok( $node->poll_query_until('postgres',
		'SELECT heavy_running = 0 AND heavy_apart = 0 AND queued = 0 FROM iosat_controller'),
	'no slot and no queue place left after the chaos');
my ($entered, $admitted, $left, $reclaimed, $timed_out) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT entered_queue, admitted_from_queue, left_queue, reclaimed, timed_out FROM iosat_admission');
diag("queue: entered $entered, admitted $admitted, left $left (timed out $timed_out), reclaimed $reclaimed");
ok($entered > 100, "the queue was exercised ($entered entries)");
is($admitted + $left, $entered, 'every queue entry ended admitted or left');
is($reclaimed, 0, 'nothing had to be reclaimed by the sampler');

# the gate still works: a heavy statement takes the slot and releases it
is($node->safe_psql('postgres', 'SELECT count(*) FROM t', extra_params => [ '-U', 'worker' ]),
	'1000', 'heavy statement still runs after the chaos');
ok( $node->poll_query_until('postgres', 'SELECT heavy_running = 0 AND heavy_apart = 0 FROM iosat_controller'),
	'and releases its slot');

diag(sprintf('chaos total: %d random events, %d cancels/terminates, %d queue entries, books balanced',
		$events, $interrupts, $entered));

# --- the queue progresses while bypassers run.  Four transactions that
# hold row locks (an xid) start heavy statements while the only slot is
# held: they go at once, counted apart from the slot.  When the slot's
# holder ends, the queued statements get it, one after the other, within
# their timeout, while the four still run.
# (a queue timeout of 10 s for it: three statements pass one after the
# other, and the poll and the cancel take their time on a loaded machine)
$node->safe_psql('postgres', "ALTER SYSTEM SET iosat.queue_timeout = '10s'; SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres', "SELECT setting = '10000' FROM pg_settings WHERE name = 'iosat.queue_timeout'"),
	'bypassers: queue timeout 10 s');
my $holder = hold_admission_slot($node, 600);
my @bypassers = map {
	# the UPDATE, cheap for the occasion, takes the row lock (an xid)
	async_psql($node, <<"SQL", user => 'worker')
BEGIN;
SET LOCAL iosat.cheap_cost = 1000000000;
SET LOCAL iosat.cheap_reads = 1000000000;
UPDATE t2 SET v = v WHERE id = $_;
SET LOCAL iosat.cheap_cost = 0;
SET LOCAL iosat.cheap_reads = 0;
SELECT pg_sleep(601);
COMMIT;
SQL
} 1 .. 4;
ok($node->poll_query_until('postgres', 'SELECT heavy_apart = 4 AND heavy_running = 1 FROM iosat_controller'),
	'bypassers: four lock holders run apart from the one slot');
my ($admitted0, $timed_out0) = split /\|/,
  $node->safe_psql('postgres', 'SELECT admitted_from_queue, timed_out FROM iosat_admission');
my @queued = map { async_psql($node, 'SELECT count(*), pg_sleep(0.2) FROM t;', user => 'worker') } 1 .. 3;
ok($node->poll_query_until('postgres', 'SELECT queued = 3 FROM iosat_admission'),
	'bypassers: three heavy statements queue behind the slot');
cancel_query($node, 'SELECT pg_sleep(600)');
finish_psql($holder);
my @ok = grep { (finish_psql($_))[0] == 0 } @queued;
is(scalar(@ok), 3, 'bypassers: the three queued statements ran');
my ($admitted1, $timed_out1, $apart) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT admitted_from_queue, timed_out, (SELECT heavy_apart FROM iosat_controller) FROM iosat_admission');
is($admitted1 - $admitted0, 3, 'bypassers: all three admitted from the queue');
is($timed_out1, $timed_out0, 'bypassers: no queue timeout');
is($apart, 4, 'bypassers: ... while the four lock holders still ran');
cancel_query($node, 'SELECT pg_sleep(601)');
finish_psql($_) for @bypassers;
no_slot_left($node, 'bypassers');
$calm->();
$node->stop;
done_testing();
