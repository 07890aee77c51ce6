# Writers (issue #18), on the fixture device of 040/042:
#   - iosat_queries learns what a statement writes beside what it reads:
#     buffers dirtied, blocks written, temporary-file blocks, WAL bytes; a
#     statement is heavy by its reads (iosat.cheap_reads) or its writes
#     (iosat.cheap_writes); a heavy statement that never completes (here:
#     statement_timeout) is learned from what it did before it ended;
#   - a statement heavy by its writes only is queued while the device is
#     saturated and the slot is taken; a cheap writer is not;
#   - a heavy writer (its transaction has an xid) is paced by the blocks it
#     reads and dirties, but not while someone waits for one of its locks:
#     a row-lock waiter does not wait longer because of pacing;
#   - cancel and statement_timeout end a paced writer at once, and nothing
#     is left behind;
#   - writes saturate a volume whose write budget (iosat.write_iops_limit)
#     they exceed, whatever its reads do.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

# blocks/s a paced statement may read and dirty while fake0 is saturated
my $RATE = 100;
my ($node, $fx, $c, $saturate, $calm) = pacing_fixture('writers', $RATE);
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE wt (id int PRIMARY KEY, v int, pad text) WITH (fillfactor = 50);
INSERT INTO wt SELECT g, 0, repeat('w', 200) FROM generate_series(1, 8000) g;
VACUUM ANALYZE wt;
CREATE TABLE sink (id int, pad text);
-- heavy by its writes only: its reads and its plan never make it heavy
CREATE ROLE writer LOGIN SUPERUSER;
ALTER ROLE writer SET iosat.cheap_reads = 1000000000;
ALTER ROLE writer SET iosat.cheap_cost = 1000000000;
ALTER ROLE writer SET iosat.cheap_writes = 100;
GRANT ALL ON wt, sink TO worker, writer;
SQL
create_qid_of($node);
my $wt_blocks = $node->safe_psql('postgres',
	"SELECT pg_relation_size('wt') / current_setting('block_size')::int");
cmp_ok($wt_blocks, '>', 200, "wt has $wt_blocks blocks (cached: 16MB of shared_buffers)");

my $BULK = 'UPDATE wt SET v = v + 1';
my $ONE = 'UPDATE wt SET v = v + 1 WHERE id = 42';
my $SORT = 'SELECT * FROM big ORDER BY pad, id OFFSET 1000000';
my $LOAD = "INSERT INTO sink SELECT g, repeat('s', 200) FROM generate_series(1, 100000000) g";

sub qid { return query_id($node, $_[0]) }

# what iosat_queries learned of SQL: "calls|read/call|dirtied/call|written|wal|heavy"
# as the role writer judges it (iosat.cheap_writes = 100)
sub learned
{
	my ($sql) = @_;
	my $qid = qid($sql);
	return $node->safe_psql('postgres', <<"SQL", extra_params => [ '-U', 'writer' ]);
SELECT calls, round(blocks_per_call), round(dirtied_per_call), blocks_written,
       wal_bytes, heavy
  FROM iosat_queries WHERE queryid = $qid
SQL
}

# --- learning: writes beside reads ---------------------------------------
# into shared_buffers, every buffer clean: what the UPDATE dirties is its own
$node->safe_psql('postgres', 'SELECT count(*) FROM wt; CHECKPOINT');
$node->safe_psql('postgres', $BULK, extra_params => [ '-U', 'writer' ]);
$node->safe_psql('postgres', "$ONE; $ONE", extra_params => [ '-U', 'writer' ]);
my ($calls, $rpc, $dpc, $written, $wal, $heavy) = split /\|/, learned($BULK);
is($calls, 1, 'a bulk UPDATE is learned');
cmp_ok($dpc, '>=', 0.9 * $wt_blocks, "it dirtied every page of wt ($dpc per call, wt has $wt_blocks)");
cmp_ok($rpc, '<', 100, "it read few blocks from storage ($rpc per call): cheap by its reads");
cmp_ok($wal, '>', 8000 * 50, "its WAL is counted ($wal bytes)");
is($heavy, 't', 'heavy by its writes');
($calls, $rpc, $dpc, undef, $wal, $heavy) = split /\|/, learned($ONE);
is($calls, 2, 'a one-row UPDATE is learned');
cmp_ok($dpc, '<', 10, "it dirtied a few pages ($dpc per call)");
is($heavy, 'f', 'cheap');

# temporary files: written blocks are writes too
$node->safe_psql('postgres', "SET work_mem = '64kB'; $SORT", extra_params => [ '-U', 'writer' ]);
($calls, $rpc, $dpc, $written) = split /\|/, learned($SORT);
cmp_ok($written, '>', 1000, "a sort that spills writes its temporary file ($written blocks)");
cmp_ok($dpc, '>', 1000, "and they count as its writes ($dpc per call)");

# a statement that never completes is learned from what it did
my ($rc, $out, $err) = $node->psql('postgres', "SET statement_timeout = '1s'; $LOAD",
	extra_params => [ '-U', 'writer' ]);
like($err, qr/statement timeout/, 'a bulk load ended by statement_timeout');
($calls, undef, $dpc, undef, undef, $heavy) = split /\|/, learned($LOAD);
is($calls, 1, 'it is learned all the same');
cmp_ok($dpc, '>', 100, "from what it dirtied before it ended ($dpc blocks)");
is($heavy, 't', 'so its next run is heavy');

# --- admission: heavy by writes is queued, cheap writers pass ------------
$saturate->();
my $holder = hold_admission_slot($node, 120);
my $bulk = async_psql($node, "$BULK;", user => 'writer');
ok( $node->poll_query_until('postgres', <<"SQL"),
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE query = '$BULK' AND wait_event_type = 'Extension'
   AND (SELECT queued = 1 FROM iosat_controller)
SQL
	'saturated, the slot taken: the bulk UPDATE (heavy by its writes) waits in the queue');
my $t0 = time;
$node->safe_psql('postgres', $ONE, extra_params => [ '-U', 'writer' ]);
cmp_ok(time - $t0, '<', 5, 'the one-row UPDATE (cheap) is not queued');
cancel_query($node, 'SELECT pg_sleep(120)');
finish_psql($holder);
($rc, undef, $err) = finish_psql($bulk);
is($rc, 0, 'the slot freed, the bulk UPDATE is admitted and completes') or diag($err);
is($node->safe_psql('postgres', "SELECT times_queued FROM iosat_queries WHERE queryid = " . qid($BULK)),
	'1', 'iosat_queries counts it as queued');
no_slot_left($node, 'queued writer');

# --- pacing: a writer is paced by the blocks it reads and dirties --------
ok($node->poll_query_until('postgres', "SELECT pace_rate = $RATE FROM iosat_admission"),
	"pace rate at iosat.pacing_min_rate ($RATE blocks/s)");
# a buffer already dirty is not dirtied again: each paced run starts from
# clean buffers, so that what it dirties is all of wt
sub clean { $node->safe_psql('postgres', 'CHECKPOINT') }
clean();
my $paced_before = $node->safe_psql('postgres', 'SELECT paced FROM iosat_admission');
my $dirtied_before = $node->safe_psql('postgres', 'SELECT heavy_blocks_dirtied FROM iosat_controller');
$t0 = time;
$node->safe_psql('postgres', $BULK, extra_params => [ '-U', 'worker' ]);
my $t = time - $t0;
# it dirties every page of wt (and reads few): at RATE, >= that / RATE,
# less a tenth of a second's burst
my $least = (0.9 * $wt_blocks - $RATE / 10) / $RATE;
cmp_ok($t, '>=', $least,
	sprintf('a bulk UPDATE (it has an xid) is paced: %.2f s for >= %d blocks dirtied at %d/s',
		$t, $wt_blocks, $RATE));
cmp_ok($node->safe_psql('postgres', 'SELECT paced FROM iosat_admission'), '>', $paced_before,
	'and counted as paced');
my $dirtied = $node->safe_psql('postgres', 'SELECT heavy_blocks_dirtied FROM iosat_controller')
  - $dirtied_before;
cmp_ok($dirtied, '>=', 0.9 * $wt_blocks,
	"iosat_controller counts what the heavy writer dirtied ($dirtied blocks)");

# --- a writer with a lock waiter is not paced ----------------------------
# a second session updates a row the paced writer has updated already (its
# visible version's xmax is the writer's xid), and so waits on the writer's
# transaction id: from then on the writer does not sleep at its pacing
# points, and ends as fast as it can
clean();
my $w = start_paced($node, $BULK);
my $wpid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query = '$BULK' AND wait_event_type = 'Extension'");
my $row = $node->safe_psql('postgres', <<"SQL");
SELECT id FROM wt
 WHERE xmax::text = (SELECT backend_xid::text FROM pg_stat_activity WHERE pid = $wpid)
 LIMIT 1
SQL
like($row, qr/^\d+$/, "the paced writer has updated row $row");
my $WAIT = "UPDATE wt SET v = -1 WHERE id = $row";
# the writer would need >= $least s paced; once the waiter waits (on the
# writer's xid: the row is the writer's), it runs unpaced and ends in a
# fraction of that (a wait too short to be caught by polling
# pg_stat_activity, so the times tell)
my $wait_from = time;
my $waiter = async_psql($node, "$WAIT;");
($rc, undef, $err) = finish_psql($w);
my $writer_left = time - $wait_from;
is($rc, 0, 'the writer completes') or diag($err);
($rc, undef, $err) = finish_psql($waiter);
my $waited = time - $wait_from;
is($rc, 0, 'the waiter gets its row') or diag($err);
is($node->safe_psql('postgres', "SELECT v FROM wt WHERE id = $row"), '-1',
	'after the writer: it waited for the row');
cmp_ok($writer_left, '<', $least * 0.5,
	sprintf('with a session waiting for its row, the writer is not paced: it ended %.2f s '
		  . 'after the waiter came (paced, its whole run takes >= %.2f s)', $writer_left, $least));
cmp_ok($waited, '<', $least * 0.5,
	sprintf('the waiter waited %.2f s, not the paced writer\'s time', $waited));

# --- release paths: cancel and statement_timeout on a paced writer -------
clean();
$w = start_paced($node, $BULK);
$t0 = time;
cancel_query($node, $BULK);
($rc, undef, $err) = finish_psql($w);
like($err, qr/57014/, 'a paced writer is cancelled');
cmp_ok(time - $t0, '<', 3, 'at once');
$node->safe_psql('postgres', "ALTER ROLE worker SET statement_timeout = '1500ms'");
clean();
$w = start_paced($node, $BULK);
($rc, undef, $err) = finish_psql($w);
$node->safe_psql('postgres', 'ALTER ROLE worker RESET statement_timeout');
like($err, qr/57014.*statement timeout/s, 'statement_timeout ends a paced writer');
is($node->safe_psql('postgres', 'SELECT count(*) FROM wt WHERE v < 0 OR v > 100'), '1',
	'what the cancelled writers did is rolled back (only the waiter\'s row is -1)');
no_slot_left($node, 'paced writers');

$calm->();

# --- write pressure alone: a volume that budgets writes apart ------------
# fake0 writes 80 times a second, over 95% of iosat.write_iops_limit = 50,
# while it reads 50 times a second at 1 ms, its usual: the read latency
# that confirms the other IOPS signals says nothing of a write budget, and
# it is saturated by its writes all the same
$node->safe_psql('postgres',
	'ALTER SYSTEM SET iosat.write_iops_limit = 50; SELECT pg_reload_conf()');
my $load = $fx->start_load('fake0', $c, wr_ios => 80, wr_ticks => 80,
	rd_ios => 50, rd_ticks => 50);
ok($node->poll_query_until('postgres', 'SELECT saturated FROM iosat_admission'),
	'writes over iosat.write_iops_limit, reads at their usual latency: saturated');
like($node->safe_psql('postgres', 'SELECT reason FROM iosat_admission'),
	qr/write IOPS \(with those owed to write-back\) of 50 provisioned for writes/, 'and the reason says so');
kill 'TERM', $load;
waitpid($load, 0);
ok($node->poll_query_until('postgres', 'SELECT NOT saturated FROM iosat_admission'),
	'the writes stop: saturation over');
$node->safe_psql('postgres',
	'ALTER SYSTEM RESET iosat.write_iops_limit; SELECT pg_reload_conf()');

$node->stop;
done_testing();
