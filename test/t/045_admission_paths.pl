# Every path a heavy statement takes is gated (issue 16): statements of
# explicit transactions, queries run by utility statements (EXECUTE,
# CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW, COPY (query) TO,
# REFRESH MATERIALIZED VIEW), maintenance (CREATE INDEX, REINDEX, CLUSTER,
# VACUUM FULL, ALTER TABLE rewrites, COPY table TO), CALL and DO.  A
# statement whose transaction holds something a slot holder could wait for
# goes at once; a slot holder waiting for a lock lends its slot; statements
# run by the planner or at COMMIT are not client statements.  Every exit
# releases what was taken.  Same fixture as 040: saturated, one slot, the
# role "worker" heavy for everything.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IosatTest;

my ($node, $fx, $c, $saturate, $calm) = admission_fixture('paths');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE t2 (id int PRIMARY KEY, v int);
INSERT INTO t2 SELECT g, 0 FROM generate_series(1, 1000) g;
VACUUM ANALYZE t2;
CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t;
CREATE PROCEDURE heavy_proc() LANGUAGE plpgsql AS
  $$ BEGIN PERFORM count(*) FROM t; PERFORM count(*) FROM t2; END $$;
CREATE PROCEDURE sleep_proc() LANGUAGE plpgsql AS
  $$ BEGIN PERFORM count(*) FROM t;
     PERFORM pg_sleep(current_setting('iosat_test.sleep')::float8); END $$;
CREATE FUNCTION t2_count() RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN RETURN (SELECT count(*) FROM t2); END $$;
CREATE TABLE t3 (id int);
CREATE FUNCTION deferred_check() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM count(*) FROM t; RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER t3_check AFTER INSERT ON t3
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION deferred_check();
CREATE FUNCTION plan_time_count() RETURNS bigint IMMUTABLE LANGUAGE sql
  AS 'SELECT count(*) FROM t';
SQL

sub adm { admission_value($node, $_[0]) }
sub clean_state { no_slot_left($node, $_[0]) }

sub worker_session
{
	return $node->background_psql('postgres', extra_params => [ '-U', 'worker' ]);
}

# every decision admission control counted (the query that reads them
# counts one itself: it passes as cheap)
my $decisions = 'passed_cheap + admitted_slot + entered_queue + bypass_exempt'
  . ' + bypass_locks + bypass_holder + would_queue + fail_open';

$saturate->();

# --- each path waits in the queue while the only slot is taken, runs when
# it is free, and its queryid is learned (calls, times queued)
sub queues_then_runs
{
	my ($what, $sql) = @_;
	my $holder = hold_admission_slot($node, 300);
	# the waits learned so far (a count of queryids would miss a statement
	# that shares one with an earlier case: 18 gives the inner query of a
	# CREATE TABLE AS, SELECT INTO or COPY (query) a queryid of its own, the
	# same for the three here, SELECT * FROM t, and iosat learns under it)
	my $waits_q = 'SELECT coalesce(sum(times_queued), 0) FROM iosat_queries WHERE calls > 0';
	my $queued_before = $node->safe_psql('postgres', $waits_q);
	my $h = async_psql($node, $sql, user => 'worker');
	ok($node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission'),
		"$what: waits in the queue while the slot is taken");
	cancel_query($node, 'SELECT pg_sleep(300)');
	finish_psql($holder);
	my ($rc, $out, $err) = finish_psql($h);
	is($rc, 0, "$what: runs when the slot is free") or diag($err);
	ok( $node->poll_query_until('postgres', "SELECT ($waits_q) > $queued_before"),
		"$what: learned under its queryid, with the wait");
	clean_state($what);
}

# a CALL or a DO is heavy by its history: one run first
$node->safe_psql('postgres', 'CALL heavy_proc()', extra_params => [ '-U', 'worker' ]);
$node->safe_psql('postgres', 'DO $$ BEGIN PERFORM count(*) FROM t; END $$',
	extra_params => [ '-U', 'worker' ]);
# (a CALL is one decision: the statements it runs are not gated one by one)
{
	my $before = $node->safe_psql('postgres', "SELECT $decisions FROM iosat_admission");
	$node->safe_psql('postgres', 'CALL heavy_proc()', extra_params => [ '-U', 'worker' ]);
	is($node->safe_psql('postgres', "SELECT $decisions FROM iosat_admission"),
		$before + 2, 'a CALL is one admission decision, not one per statement');
}

queues_then_runs('EXECUTE', "PREPARE q AS SELECT count(*) FROM t;\nEXECUTE q;");
queues_then_runs('CREATE TABLE AS', 'CREATE TABLE ctas1 AS SELECT * FROM t;');
queues_then_runs('SELECT INTO', 'SELECT * INTO into1 FROM t;');
queues_then_runs('CREATE MATERIALIZED VIEW', 'CREATE MATERIALIZED VIEW mv2 AS SELECT * FROM t;');
queues_then_runs('COPY (query) TO', 'COPY (SELECT * FROM t) TO STDOUT;');
queues_then_runs('COPY table TO', 'COPY t2 TO STDOUT;');
queues_then_runs('REFRESH MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW mv;');
queues_then_runs('CREATE INDEX', 'CREATE INDEX t2_v ON t2 (v);');
queues_then_runs('REINDEX', 'REINDEX TABLE t2;');
queues_then_runs('CLUSTER', 'CLUSTER t2 USING t2_pkey;');
queues_then_runs('VACUUM FULL', 'VACUUM FULL t2;');
queues_then_runs('ALTER TABLE rewrite', 'ALTER TABLE ctas1 ALTER COLUMN v TYPE bigint;');
queues_then_runs('CALL', 'CALL heavy_proc();');
queues_then_runs('DO', 'DO $$ BEGIN PERFORM count(*) FROM t; END $$;');
queues_then_runs('a DML statement (its own ROW EXCLUSIVE lock does not count)',
	'UPDATE t SET v = v WHERE id < 0;');

# --- a later statement of a read-only transaction waits like any other
# (applications with autocommit off); so does one of a REPEATABLE READ one
for my $iso ('READ COMMITTED', 'REPEATABLE READ')
{
	my $s = worker_session();
	$s->query_safe("BEGIN ISOLATION LEVEL $iso");
	$s->query_safe('SELECT count(*) FROM t2');
	my $holder = hold_admission_slot($node, 300);
	$s->query_until(qr/^$/, "SELECT count(*) FROM t;\n");
	ok($node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission'),
		"$iso: BEGIN; SELECT; SELECT <heavy> waits in the queue");
	cancel_query($node, 'SELECT pg_sleep(300)');
	finish_psql($holder);
	like($s->query_safe('COMMIT'), qr/1000/, "$iso: and runs once the slot is free");
	$s->quit;
	clean_state("$iso transaction");
}

# --- a transaction holding what others could wait for goes at once
sub goes_at_once
{
	my ($what, $before_sql, $begin) = @_;
	$begin //= 'BEGIN';
	my $s = worker_session();
	$s->query_safe($begin) if $begin ne '';
	$s->query_safe($before_sql);
	my $holder = hold_admission_slot($node, 300);
	my ($entered, $bypass) = (adm('entered_queue'), adm('bypass_locks'));
	is($s->query_safe('SELECT count(*) FROM t'), '1000', "$what: the heavy statement ran");
	is(adm('entered_queue'), $entered, "$what: without waiting in the queue");
	is(adm('bypass_locks'), $bypass + 1, "$what: counted as bypass_locks");
	$s->query_safe('COMMIT') if $begin ne '';
	$s->quit;
	cancel_query($node, 'SELECT pg_sleep(300)');
	finish_psql($holder);
	clean_state($what);
}

goes_at_once('a transaction ID', 'UPDATE t2 SET v = v + 1 WHERE id = 1');
goes_at_once('rows locked FOR UPDATE', 'SELECT * FROM t2 WHERE id = 2 FOR UPDATE');
goes_at_once('LOCK TABLE ... IN SHARE MODE', 'LOCK TABLE t2 IN SHARE MODE');
goes_at_once('a ROW EXCLUSIVE lock without a transaction ID', 'UPDATE t2 SET v = v WHERE false');
goes_at_once('an advisory transaction lock', 'SELECT pg_advisory_xact_lock(42)');
goes_at_once('a session advisory lock, autocommit', 'SELECT pg_advisory_lock(43)', '');
goes_at_once('SERIALIZABLE with an earlier statement', 'SELECT count(*) FROM t2',
	'BEGIN ISOLATION LEVEL SERIALIZABLE');

# --- statements of one simple-Query message share a timestamp: the lock
# taken by an earlier one is still seen (a DO with no history passes the
# gate: it takes the advisory lock for the implicit transaction)
for my $msg ('BEGIN; LOCK TABLE t2 IN ACCESS EXCLUSIVE MODE; SELECT count(*) FROM t; COMMIT;',
	'DO $$ BEGIN PERFORM pg_advisory_xact_lock(1); END $$; SELECT count(*) FROM t;')
{
	my $holder = hold_admission_slot($node, 300);
	my ($entered, $bypass) = (adm('entered_queue'), adm('bypass_locks'));
	my ($rc, $out, $err) = finish_psql(async_psql($node, $msg, user => 'worker'));
	is($rc, 0, "one message: $msg") or diag($err);
	is(adm('entered_queue'), $entered, 'one message: the heavy statement did not wait');
	ok(adm('bypass_locks') > $bypass, 'one message: counted as bypass_locks');
	cancel_query($node, 'SELECT pg_sleep(300)');
	finish_psql($holder);
	clean_state("one message: $msg");
}

# --- sessions that would wait for each other
# (1) the slot holder waits for a lock of a statement that would queue:
# VACUUM FULL (slot taken) waits for A's ACCESS SHARE lock; A's next heavy
# statement holds only read locks, but the slot is lent while its holder
# waits in the lock manager
{
	my $a = worker_session();
	$a->query_safe('BEGIN');
	$a->query_safe('SELECT count(*) FROM t2');
	my $b = async_psql($node, 'VACUUM FULL t2;', user => 'worker');
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'VACUUM FULL t2' AND wait_event_type = 'Lock'"
			  . ' AND (SELECT heavy_running = 1 FROM iosat_admission)'),
		'lent slot: VACUUM FULL holds the slot and waits for A');
	my $entered = adm('entered_queue');
	is($a->query_safe('SELECT count(*) FROM t'), '1000', 'lent slot: A runs its heavy statement');
	is(adm('entered_queue'), $entered, 'lent slot: without waiting in the queue');
	$a->query_safe('COMMIT');
	is((finish_psql($b))[0], 0, 'lent slot: VACUUM FULL completes after A commits');
	$a->quit;
	clean_state('lent slot');
}

# (2) three sessions: A holds an ACCESS EXCLUSIVE lock; B's heavy read
# (a function it calls reads A's table) waits for it with a slot (lent); C
# took the slot meanwhile; A's heavy statement must not queue behind C
# (3) the same with an advisory lock B's statement takes row by row
for my $case (
	[ 'ACCESS EXCLUSIVE', 'LOCK TABLE t2 IN ACCESS EXCLUSIVE MODE',
		'SELECT count(*) FROM t WHERE t2_count() > 0;' ],
	[ 'advisory', 'SELECT pg_advisory_xact_lock(7)',
		'SELECT count(*) FROM t2 WHERE pg_advisory_xact_lock(7) IS NOT NULL;' ])
{
	my ($what, $lock, $blocked) = @$case;
	my $a = worker_session();
	$a->query_safe('BEGIN');
	$a->query_safe($lock);
	my $b = async_psql($node, $blocked, user => 'worker');
	(my $lit = $blocked) =~ s/'/''/g;
	$lit =~ s/;$//;
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = '$lit' AND wait_event_type = 'Lock'"),
		"$what: B holds a slot and waits for A");
	my $c = hold_admission_slot($node, 300);
	my $entered = adm('entered_queue');
	is($a->query_safe('SELECT count(*) FROM t'), '1000', "$what: A runs its heavy statement");
	is(adm('entered_queue'), $entered, "$what: without waiting behind C");
	$a->query_safe('COMMIT');
	is((finish_psql($b))[0], 0, "$what: B completes after A commits");
	$a->quit;
	cancel_query($node, 'SELECT pg_sleep(300)');
	finish_psql($c);
	clean_state("three sessions, $what");
}

# --- statements run by the planner or at COMMIT are not client statements
{
	my $before = $node->safe_psql('postgres', "SELECT $decisions FROM iosat_admission");
	is( $node->safe_psql('postgres', 'SELECT plan_time_count()',
			extra_params => [ '-U', 'worker' ]),
		'1000', 'a function the planner evaluates');
	is($node->safe_psql('postgres', "SELECT $decisions FROM iosat_admission"),
		$before + 2, 'planning: one decision, for the client statement only');

	my $s = worker_session();
	$s->query_safe('BEGIN');
	$s->query_safe('INSERT INTO t3 VALUES (1)');
	$before = $node->safe_psql('postgres', "SELECT $decisions FROM iosat_admission");
	$s->query_safe('COMMIT');
	is($node->safe_psql('postgres', "SELECT $decisions FROM iosat_admission"),
		$before + 1, 'a deferred trigger at COMMIT: no decision');
	$s->quit;
	clean_state('planning and commit');
}

# --- every exit releases what the new paths took
{
	my $holder = hold_admission_slot($node, 300);
	my $left = adm('left_queue');
	for my $sql ("PREPARE q AS SELECT count(*) FROM t;\nEXECUTE q;", 'CREATE INDEX ON t2 (v);')
	{
		my $h = async_psql($node, $sql, user => 'worker');
		$node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission')
		  or die 'not queued';
		(my $last = (split /\n/, $sql)[-1]) =~ s/'/''/g;
		$last =~ s/;$//;
		cancel_query($node, $last);
		my ($rc, $out, $err) = finish_psql($h);
		like($err, qr/57014/, "cancel while queued: $last");
		ok($node->poll_query_until('postgres', 'SELECT queued = 0 FROM iosat_admission'),
			"cancel while queued: queue place given back ($last)");
	}
	is(adm('left_queue'), $left + 2, 'both counted as left the queue');

	my ($rc, $out, $err) = $node->psql('postgres',
		"SET statement_timeout = '300ms';\nVACUUM FULL t2;",
		extra_params => [ '-U', 'worker', '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/57014/, 'statement_timeout while a VACUUM FULL is queued');
	cancel_query($node, 'SELECT pg_sleep(300)');
	finish_psql($holder);
	clean_state('cancel and statement_timeout while queued');
}
{
	# an error inside a gated utility, after admission
	my ($rc, $out, $err) = $node->psql('postgres', 'CREATE INDEX ON t2 ((1 / (v - v)));',
		extra_params => [ '-U', 'worker' ]);
	like($err, qr/division by zero/, 'an error inside CREATE INDEX');
	clean_state('error inside a gated utility');

	# inside a savepoint, through EXECUTE
	my $s = $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'worker' ]);
	$s->query_safe('PREPARE bad AS SELECT 1 / (v - v) FROM t');
	$s->query_safe('BEGIN');
	$s->query_safe('SAVEPOINT a');
	# (psql's error may come in with the next query's output: neither is
	# checked for errors)
	$s->query('EXECUTE bad');
	$s->query('ROLLBACK TO a');
	is(adm('heavy_running'), '0', 'an EXECUTE that failed inside a savepoint holds no slot');
	like($s->query('SELECT count(*) FROM t'), qr/^1000$/m, 'the transaction goes on');
	$s->query('COMMIT');
	$s->quit;
	clean_state('error inside a savepoint');

	# a gated CALL, terminated while it runs
	$node->safe_psql('postgres', "SET iosat_test.sleep = 0;\nCALL sleep_proc()",
		extra_params => [ '-U', 'worker' ]);
	my $h = async_psql($node, "SET iosat_test.sleep = 300;\nCALL sleep_proc();", user => 'worker');
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'CALL sleep_proc()' AND wait_event = 'PgSleep'"
			  . ' AND (SELECT heavy_running = 1 FROM iosat_admission)'),
		'a CALL holds a slot while it runs');
	$node->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'CALL sleep_proc()'");
	finish_psql($h);
	clean_state('terminate during a CALL');
	is(adm('reclaimed'), '0', 'nothing had to be reclaimed by the sampler');
}

$calm->();
$node->stop;
done_testing();
