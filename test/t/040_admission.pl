# Admission control, made deterministic with a fixture device whose
# counters a child process advances: saturated (high IOPS and latency) or
# calm (no I/O).  Heavy/cheap is steered per session with iosat.cheap_reads
# and iosat.cheap_cost: the superuser observing the views is cheap (so its
# own queries never take or wait for a slot), the role "worker" that runs
# the workload is heavy.  Every test ends by checking that no slot and no
# queue place is left behind.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

my ($node, $fx, $c, $saturate, $calm) = admission_fixture('admission');
sub saturate { $saturate->() }
sub calm     { $calm->() }

sub worker_psql
{
	my ($sql, %opt) = @_;
	return $node->psql('postgres', $sql, extra_params => [ '-U', 'worker' ], %opt);
}

sub worker_safe
{
	return $node->safe_psql('postgres', $_[0], extra_params => [ '-U', 'worker' ]);
}

sub adm { admission_value($node, $_[0]) }
sub clean_state { no_slot_left($node, $_[0]) }
sub hold_slot { hold_admission_slot($node, $_[0]) }

sub queued_count { adm('queued') }

saturate();
is(adm('heavy_limit'), '1', 'limit starts at 1 with nothing running');
like(adm('reason'), qr/IOPS of 100 provisioned|read latency/, 'reason given');

# --- FIFO: three heavy statements wait behind the holder, run in order
{
	my $holder = hold_slot(2);
	my @q;
	for my $name (qw(A B C))
	{
		push @q, async_psql($node,
			"SELECT '$name', extract(epoch from clock_timestamp());",
			user => 'worker');
		my $n = scalar @q;
		$node->poll_query_until('postgres',
			"SELECT queued = $n FROM iosat_admission")
		  or die "not queued";
	}
	is(queued_count(), 3, 'three statements queued');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Extension'"),
		3, 'queued statements show an Extension wait event');
	finish_psql($holder);
	my @t;
	for my $h (@q)
	{
		my ($rc, $out) = finish_psql($h);
		is($rc, 0, 'queued statement ran');
		push @t, (split /\|/, $out)[1];
	}
	ok($t[0] <= $t[1] && $t[1] <= $t[2], 'admitted in FIFO order');
	ok(adm('admitted_from_queue') >= 3, 'counted as admitted from the queue');
	ok(adm('max_wait_ms') > 100, 'wait time recorded');
	clean_state('FIFO');
}

# --- timeout: 53000 with device, figures and a retry hint
{
	# the slot is held until the block cancels it (the steps below take
	# longer than any fixed hold on a loaded machine; EXPLAIN ANALYZE at the
	# end must still find the slot taken)
	my $holder = hold_slot(300);
	my ($rc, $out, $err) = worker_psql(
		"\\set VERBOSITY verbose\nSET iosat.queue_timeout = '300ms'; SELECT 1;");
	isnt($rc, 0, 'timed out');
	like($err, qr/ERROR:  53000: statement waited \d+ ms for I\/O capacity: device "fake0" is saturated/,
		'timeout error names the device, SQLSTATE 53000');
	like($err, qr/DETAIL:  Device "fake0": \d+ IOPS of 100 provisioned, read latency [\d.]+ ms/,
		'detail has the measured figures');
	like($err, qr/HINT:  The statement was not started and is safe to retry/, 'retry hint');
	ok(adm('timed_out') >= 1, 'timeout counted');

	# reject mode refuses at once
	$node->safe_psql('postgres', "ALTER ROLE worker SET iosat.admission = 'reject'");
	($rc, $out, $err) = worker_psql("\\set VERBOSITY verbose\nSELECT 1;");
	$node->safe_psql('postgres', "ALTER ROLE worker RESET iosat.admission");
	like($err, qr/53000: statement rejected: device "fake0" is saturated/, 'reject mode');

	# cheap statements pass while saturated
	my $t0 = time();
	is( worker_safe(
			"SET iosat.cheap_reads = 1000000; SET iosat.cheap_cost = 1000000000; SELECT count(*) FROM t"),
		'1000', 'cheap statement passes');
	ok(time() - $t0 < 1.5, 'without waiting');
	ok(adm('passed_cheap') >= 1, 'counted as cheap');

	# exempt roles never wait
	$node->safe_psql('postgres', "ALTER SYSTEM SET iosat.exempt_roles = 'exempt_role'; SELECT pg_reload_conf()");
	sleep(1);
	$t0 = time();
	is($node->safe_psql('postgres', 'SELECT count(*) FROM t', extra_params => [ '-U', 'exempt_role' ]),
		'1000', 'exempt role runs');
	ok(time() - $t0 < 1.5, 'exempt role did not wait');
	ok(adm('bypass_exempt') >= 1, 'counted as exempt');

	# utility statements and EXPLAIN without ANALYZE are not gated
	$t0 = time();
	worker_safe('CREATE TABLE u1 (a int); DROP TABLE u1; EXPLAIN SELECT * FROM t');
	ok(time() - $t0 < 1.5, 'utility statements and plain EXPLAIN pass');

	# EXPLAIN ANALYZE is gated
	ok($node->poll_query_until('postgres', 'SELECT heavy_running = 1 AND heavy_limit = 1 FROM iosat_admission'),
		'the slot is still held');
	($rc, $out, $err) = worker_psql(
		"SET iosat.queue_timeout = '300ms'; EXPLAIN ANALYZE SELECT count(*) FROM t;");
	like($err, qr/waited \d+ ms for I\/O capacity/, 'EXPLAIN ANALYZE is gated');

	# nested statements never wait: the outer one is cheap, the inner heavy
	$t0 = time();
	is( worker_safe(
			"SET iosat.cheap_cost = 1000000000; SET iosat.cheap_reads = 1000000; SELECT nested_heavy()"),
		'1000', 'nested statement ran');
	ok(time() - $t0 < 1.5, 'nested statement did not wait');
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(300)%'");
	finish_psql($holder);
	clean_state('timeout, reject, bypasses');
}

# --- queue full
{
	$node->safe_psql('postgres', "ALTER SYSTEM SET iosat.max_queued = 1; SELECT pg_reload_conf()");
	sleep(1);
	my $holder = hold_slot(3);
	my $waiter = async_psql($node, 'SELECT 1;', user => 'worker');
	$node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission');
	my ($rc, $out, $err) = worker_psql("\\set VERBOSITY verbose\nSELECT 2;");
	like($err, qr/53000: I\/O admission queue is full \(1 statements\)/, 'queue full refused');
	finish_psql($holder);
	is((finish_psql($waiter))[0], 0, 'the queued one ran');
	$node->safe_psql('postgres', "ALTER SYSTEM RESET iosat.max_queued; SELECT pg_reload_conf()");
	clean_state('queue full');
}

# --- a lock holder never waits behind a slot holder that waits for it
{
	my $a = $node->background_psql('postgres', extra_params => [ '-U', 'worker' ]);
	$a->query_safe('BEGIN');
	$a->query_safe('UPDATE t SET v = v + 1 WHERE id = 1');    # xid, row lock
	# B takes the only slot, then blocks on A's row lock
	my $b = async_psql($node, 'UPDATE t SET v = v + 1 WHERE id = 1;', user => 'worker');
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"),
		'B holds the slot and waits for A');
	is(adm('heavy_running'), '1', 'B holds the slot');
	my $entered = adm('entered_queue');
	is($a->query_safe('SELECT count(*) FROM t'), '1000',
		'A (holding an xid) runs a heavy statement');
	# (B waits in the lock manager: its slot is lent, so A finds room
	# before its locks are looked at; 045 tests each rule on its own)
	is(adm('entered_queue'), $entered, 'A did not wait behind B: no deadlock');
	$a->query_safe('COMMIT');
	is((finish_psql($b))[0], 0, 'B completes after A commits');
	$a->quit;
	clean_state('lock holders');
}

# --- cursors: a cursor is admitted at DECLARE, but holds its slot only
# while its query runs (each FETCH); an idle cursor holds nothing that
# others wait for.  A backend holding a slot is never made to wait for a
# second one.
{
	my $s = $node->background_psql('postgres', extra_params => [ '-U', 'worker' ]);
	$s->query_safe('BEGIN');
	$s->query_safe('DECLARE c CURSOR FOR SELECT * FROM t');
	is(adm('heavy_running'), '0', 'a declared cursor holds no slot before its first FETCH');
	$s->query_safe('FETCH 1 FROM c');
	is(adm('heavy_running'), '0', 'an idle cursor between FETCHes holds no slot');
	# another heavy statement gets the only slot meanwhile, at once
	my $t0 = time();
	my $holder = hold_slot(30);
	ok(time() - $t0 < 5, 'the slot an idle cursor left is free for others');
	# the cursor's next FETCH runs: it was admitted already
	$t0 = time();
	like($s->query_safe('FETCH 1 FROM c'), qr/^\d+\|\d+$/, 'a FETCH while another holds the slot runs');
	ok(time() - $t0 < 1.5, 'without waiting');
	is(adm('heavy_running'), '1', 'and gives the slot back after it');
	$t0 = time();
	$s->query_safe('SELECT count(*) FROM t');
	ok(time() - $t0 < 1.5, 'a backend with an open cursor does not wait for a slot');
	$s->query_safe('CLOSE c');
	# with no cursor open and no lock that others could wait for, the
	# transaction's next heavy statement waits like any other
	my $q0 = queued_count();
	$s->query_until(qr/^$/, "DECLARE d CURSOR FOR SELECT * FROM t;\n");
	ok( $node->poll_query_until('postgres', "SELECT queued = $q0 + 1 FROM iosat_admission"),
		'a later statement of a read-only transaction waits in the queue');
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'");
	finish_psql($holder);
	$s->query_safe('FETCH 1 FROM d');
	$s->query_safe('COMMIT');
	$s->quit;
	clean_state('cursors');
}

# --- exemption follows role membership: a REVOKE takes it from the role's
# open sessions at once, with no reload
{
	$node->safe_psql('postgres', <<'SQL');
CREATE ROLE member LOGIN IN ROLE exempt_role;
GRANT ALL ON t TO member;
ALTER ROLE member SET iosat.cheap_reads = 0;
ALTER ROLE member SET iosat.cheap_cost = 0;
SQL
	my $holder = hold_slot(30);
	my $m = $node->background_psql('postgres',
		extra_params => [ '-U', 'member' ], on_error_stop => 0);
	$m->query_safe("SET iosat.queue_timeout = '300ms'");
	my $before = adm('bypass_exempt');
	my $t0 = time();
	is($m->query_safe('SELECT count(*) FROM t'), '1000', 'a member of an exempt role runs');
	ok(time() - $t0 < 1.5 && adm('bypass_exempt') > $before, 'exempt, without waiting');
	$node->safe_psql('postgres', 'REVOKE exempt_role FROM member');
	$before = adm('bypass_exempt');
	$m->query('SELECT count(*) FROM t');
	like($m->{stderr}, qr/waited \d+ ms for I\/O capacity/,
		'after REVOKE its open session waits like anyone else');
	is(adm('bypass_exempt'), $before, 'and is not counted as exempt');
	$m->{stderr} = '';    # (15's BackgroundPsql keeps a failed query's stderr)
	$node->safe_psql('postgres', 'GRANT exempt_role TO member');
	$before = adm('bypass_exempt');
	$m->query_safe('SELECT count(*) FROM t');
	ok(adm('bypass_exempt') > $before, 'a GRANT makes it exempt again at once');
	$m->quit;
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'");
	finish_psql($holder);
	clean_state('exemption by membership');
}

# --- a reload that turns admission off, or to monitor, lets the statements
# already queued go at once (they do not reload their configuration while
# they wait)
for my $mode ('off', 'monitor')
{
	my $holder = hold_slot(60);
	my $waiter = async_psql($node,
		"SET iosat.queue_timeout = '60s'; SELECT 'admitted';", user => 'worker');
	ok($node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission'),
		"a statement is queued (then admission goes $mode)");
	my $t0 = time();
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.admission = '$mode'; SELECT pg_reload_conf()");
	my ($rc, $out) = finish_psql($waiter);
	is($rc, 0, "the queued statement ran after admission went $mode");
	ok(time() - $t0 < 10, sprintf('within a few samples, not its 60-s timeout (%.1f s)', time() - $t0));
	$node->safe_psql('postgres', "ALTER SYSTEM RESET iosat.admission; SELECT pg_reload_conf()");
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'");
	finish_psql($holder);
	clean_state("admission $mode while queued");
}

# --- a session may shorten its wait, not lengthen it: the server's
# iosat.queue_timeout (postgresql.conf, ALTER SYSTEM) is a ceiling
sub reload_and_wait_samples
{
	my ($sql) = @_;
	my $s0 = $node->safe_psql('postgres', 'SELECT samples FROM iosat_status');
	$node->safe_psql('postgres', "$sql; SELECT pg_reload_conf()");
	# the sampler has read the file once it has taken two more samples
	$node->poll_query_until('postgres', "SELECT samples > $s0 + 2 FROM iosat_status")
	  or die 'sampler stuck';
}
{
	reload_and_wait_samples("ALTER SYSTEM SET iosat.queue_timeout = '1s'");
	my $holder = hold_slot(30);
	my $t0 = time();
	my ($rc, $out, $err) = worker_psql("SET iosat.queue_timeout = '1h'; SELECT 1;");
	my $took = time() - $t0;
	like($err, qr/waited \d+ ms for I\/O capacity/,
		'a session that sets iosat.queue_timeout to 1 h still times out');
	ok($took < 15, sprintf('at the server\'s 1 s, not its own hour (%.1f s)', $took));
	reload_and_wait_samples('ALTER SYSTEM RESET iosat.queue_timeout');
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'");
	finish_psql($holder);
	clean_state('queue timeout ceiling');
}

# --- a role in queue mode on a server whose setting is off still queues
# (only a reload that turns the server's setting off releases the queue)
{
	reload_and_wait_samples("ALTER SYSTEM SET iosat.admission = 'off'");
	$node->safe_psql('postgres', "ALTER ROLE worker SET iosat.admission = 'queue'");
	my $holder = hold_slot(30);
	my ($rc, $out, $err) = worker_psql("SET iosat.queue_timeout = '1s'; SELECT 1;");
	like($err, qr/waited \d+ ms for I\/O capacity/,
		'a role set to queue waits though the server is off');
	$node->safe_psql('postgres', 'ALTER ROLE worker RESET iosat.admission');
	reload_and_wait_samples('ALTER SYSTEM RESET iosat.admission');
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'");
	finish_psql($holder);
	clean_state('role in queue mode');
}

# --- the AFTER triggers of a DML run with its slot (ExecutorFinish)
{
	$node->safe_psql('postgres', <<'SQL');
CREATE TABLE trig_t (a int);
CREATE FUNCTION slow_after() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$;
CREATE TRIGGER slow AFTER INSERT ON trig_t FOR EACH ROW EXECUTE FUNCTION slow_after();
GRANT ALL ON trig_t TO worker;
SQL
	my $ins = async_psql($node, 'INSERT INTO trig_t VALUES (1);', user => 'worker');
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'INSERT INTO trig_t%' AND wait_event = 'PgSleep'"),
		'the INSERT is in its AFTER trigger');
	is(adm('heavy_running'), '1', 'and holds its slot there');
	is((finish_psql($ins))[0], 0, 'the INSERT completes');
	clean_state('AFTER triggers');
}

# --- release paths of a running slot holder
sub released_after
{
	my ($what, $sql, $action) = @_;
	my $h = async_psql($node, $sql, user => 'worker');
	$node->poll_query_until('postgres', 'SELECT heavy_running = 1 FROM iosat_admission');
	$action->() if $action;
	finish_psql($h);
	clean_state($what);
}
my $sleeper = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()";
released_after('cancel while running', 'SELECT pg_sleep(30);',
	sub { $node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) FROM ($sleeper) s") });
released_after('terminate while running', 'SELECT pg_sleep(30);',
	sub { $node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM ($sleeper) s") });
released_after('statement_timeout while running',
	"SET statement_timeout = '500ms'; SELECT pg_sleep(30);");
released_after('error', 'SELECT error_after(1);');
{
	# an error inside a savepoint releases the slot at once, while the
	# transaction goes on; so does a PL/pgSQL EXCEPTION block.  The session
	# looks at the view itself, made cheap for that, so it holds no slot.
	my $look = "SET iosat.cheap_reads = 1000000000; SET iosat.cheap_cost = 1000000000;\n"
	  . "SELECT '%s', heavy_running FROM iosat_admission;\n"
	  . "RESET iosat.cheap_reads; RESET iosat.cheap_cost;\n";
	my ($rc, $out, $err) = worker_psql(
		"BEGIN;\nSAVEPOINT s1;\nSELECT count(*) / 0 FROM t;\nROLLBACK TO s1;\n"
		  . sprintf($look, 'savepoint')
		  . "SELECT swallow_error();\n"
		  . sprintf($look, 'exception')
		  . "COMMIT;\n",
		on_error_stop => 0);
	like($err, qr/division by zero/, 'the statement failed inside the savepoint');
	like($out, qr/^savepoint\|0$/m, 'error inside a savepoint released the slot');
	like($out, qr/^1$/m, 'PL/pgSQL EXCEPTION block caught the error');
	like($out, qr/^exception\|0$/m, 'nothing held after an EXCEPTION block');
	clean_state('savepoint and EXCEPTION block');
}

# --- release paths of a queued statement
sub leaves_queue
{
	my ($what, $sql, $action) = @_;
	my $holder = hold_slot(3);
	my $h = async_psql($node, $sql, user => 'worker');
	$node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission');
	$action->() if $action;
	my ($rc, $out, $err) = finish_psql($h);
	isnt($rc, 0, "$what: the queued statement failed");
	is(queued_count(), '0', "$what: left the queue");
	finish_psql($holder);
	clean_state($what);
	return $err;
}
my $queued = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Extension'";
like(leaves_queue('cancel while queued', 'SELECT 42;',
		sub { $node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) FROM ($queued) s") }),
	qr/canceling statement due to user request/, 'cancel while queued');
like(leaves_queue('terminate while queued', 'SELECT 42;',
		sub { $node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM ($queued) s") }),
	qr/terminating connection/, 'terminate while queued');
like(leaves_queue('statement_timeout while queued',
		"SET statement_timeout = '400ms'; SELECT 42;"),
	qr/statement timeout/, 'statement_timeout while queued');

# --- fail open: a frozen sampler makes the verdict stale; everything passes
{
	my $holder = hold_slot(4);
	my $pid = $node->safe_psql('postgres', 'SELECT sampler_pid FROM iosat_status');
	kill 'STOP', $pid;
	sleep(1);
	my $t0 = time();
	worker_safe('SELECT count(*) FROM t');
	ok(time() - $t0 < 1.5, 'stale verdict: admitted at once (fail open)');
	ok(adm('fail_open') >= 1, 'counted as fail-open');
	is(adm('stale'), 't', 'iosat_admission says the verdict is stale');
	kill 'CONT', $pid;
	finish_psql($holder);
	clean_state('fail open');
}

# --- monitor mode decides and counts but admits
{
	my $holder = hold_slot(2);
	my $before = adm('would_queue');
	my $t0 = time();
	$node->safe_psql('postgres', "ALTER ROLE worker SET iosat.admission = 'monitor'");
	worker_safe('SELECT count(*) FROM t');
	$node->safe_psql('postgres', "ALTER ROLE worker RESET iosat.admission");
	ok(time() - $t0 < 1.5, 'monitor mode admits');
	ok(adm('would_queue') > $before, 'and counts what queue mode would have done');
	finish_psql($holder);
	clean_state('monitor');
}

# --- a parallel query: the leader is gated, its workers are not
{
	# 16 renamed force_parallel_mode to debug_parallel_query
	my $force = $node->safe_psql('postgres', 'SHOW server_version_num') >= 160000
	  ? 'debug_parallel_query' : 'force_parallel_mode';
	my $t0 = time();
	is( worker_safe(
			"SET $force = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
			  . " SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;"
			  . " SELECT count(*) FROM t"),
		'1000', 'parallel query ran under a limit of 1');
	ok(time() - $t0 < 3, 'its workers did not wait for slots');
	clean_state('parallel');
}

# --- a statement whose PL/pgSQL EXCEPTION block caught an error is still
# learned (a subtransaction abort must not forget the running statement)
{
	my $sum = "SELECT coalesce(sum(calls), 0) FROM iosat_queries";
	my $before = $node->safe_psql('postgres', $sum);
	worker_safe("SELECT swallow_error(); SELECT swallow_error(); SELECT swallow_error()");
	# the three, plus the first look at the view itself
	cmp_ok($node->safe_psql('postgres', $sum) - $before, '>=', 4,
		'statements with a caught error are learned at ExecutorEnd');
}

# --- the view of what statements cost
{
	my $q = $node->safe_psql('postgres',
		"SELECT calls > 0, blocks_per_call >= 0, last_decision IS NOT NULL FROM iosat_queries ORDER BY calls DESC LIMIT 1");
	is($q, 't|t|t', 'iosat_queries learns calls, blocks and decisions');
}

# --- a backend publishes what it learned in batches (querystats.c): the
# first call of a queryid at once, then every 32 cheap calls; a heavy call
# at once; everything when it looks at iosat_queries itself or exits
{
	my $qid_of = sub {
		my $plan = $node->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $_[0]");
		$plan =~ /Query Identifier: (-?\d+)/ or die "no query identifier in: $plan";
		return $1;
	};
	my $cheap = 'SELECT v FROM t WHERE id = 7';
	my $spill = 'SELECT count(*) FROM (SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC) s';
	my ($cheap_id, $spill_id) = map { $qid_of->($_) } $cheap, $spill;
	my $calls = sub {
		$node->safe_psql('postgres',
			"SELECT coalesce(sum(calls), 0) FROM iosat_queries WHERE queryid = $_[0]");
	};
	$node->safe_psql('postgres', 'SELECT iosat_queries_reset()');
	my $s = $node->background_psql('postgres');
	$s->query_safe($cheap) for 1 .. 40;
	is($calls->($cheap_id), 33,
		'another session sees the first call and one batch of 32 of 40 cheap calls');
	is( $s->query_safe("SELECT calls FROM iosat_queries WHERE queryid = $cheap_id"),
		40, 'the session itself sees all 40 in iosat_queries');
	is($calls->($cheap_id), 40, 'looking at the view published the rest');

	# a call that reads at least iosat.cheap_reads blocks (temp blocks of a
	# spilled sort here) is published at once
	$s->query_safe("SET work_mem = '64kB'");
	$s->query_safe("SET iosat.cheap_reads = 1");
	$s->query_safe($spill) for 1 .. 3;
	is($calls->($spill_id), 3, 'each heavy call is published at once');
	cmp_ok( $node->safe_psql('postgres',
			"SELECT blocks_read FROM iosat_queries WHERE queryid = $spill_id"),
		'>', 0, 'with its blocks read');

	$s->query_safe($cheap) for 1 .. 5;
	$s->quit;
	ok($node->poll_query_until('postgres',
			"SELECT calls = 45 FROM iosat_queries WHERE queryid = $cheap_id"),
		'a backend publishes its cached calls when it exits');
}

calm();
is(adm('heavy_limit'), '', 'no limit once the device is calm');

# --- heavy statements start with their prefetch depth capped (queue and
# reject modes), cheap ones and monitor mode are left alone
{
	my $before = adm('prefetch_capped');
	worker_safe("SET iosat.heavy_io_concurrency = 1; SET effective_io_concurrency = 16; SELECT count(*) FROM t");
	is(adm('prefetch_capped') - $before, 1, 'heavy statement started with capped prefetch');
	is( worker_safe("SET iosat.heavy_io_concurrency = 1; SET effective_io_concurrency = 16; SHOW effective_io_concurrency"),
		'16', 'the session setting is untouched');
	worker_safe("SET iosat.heavy_io_concurrency = 1; SET effective_io_concurrency = 16;"
		  . " SET iosat.cheap_reads = 1000000000; SET iosat.cheap_cost = 1000000000; SELECT count(*) FROM t");
	worker_safe("SET iosat.heavy_io_concurrency = 1; SET effective_io_concurrency = 16;"
		  . " SET iosat.admission = 'monitor'; SELECT count(*) FROM t");
	worker_safe("SET effective_io_concurrency = 16; SELECT count(*) FROM t");
	is(adm('prefetch_capped') - $before, 1,
		'not for cheap statements, monitor mode, or with the cap off');

	# the cap holds while the statement runs, not only while it starts
	# (18 sets up a bitmap heap scan's read stream at its first row)
	is( worker_safe("SET iosat.heavy_io_concurrency = 1; SET effective_io_concurrency = 16;"
			  . " SELECT current_setting('effective_io_concurrency') FROM t LIMIT 1;"
			  . " SHOW effective_io_concurrency"),
		"1\n16", 'a capped statement runs with the cap; the session keeps its value');
	is( worker_safe("SET iosat.heavy_io_concurrency = 1; SET effective_io_concurrency = 16;"
			  . " BEGIN; DECLARE c CURSOR FOR SELECT current_setting('effective_io_concurrency') FROM t;"
			  . " FETCH 1 FROM c; SHOW effective_io_concurrency; FETCH 1 FROM c; COMMIT"),
		"1\n16\n1", 'each FETCH of a capped cursor runs with the cap');
}
clean_state('end');
$node->stop;
done_testing();
