# The per-queryid table (iosat_queries) at its smallest, 100 entries:
#   - full, it still learns a queryid that recurs, and a queryid looked up
#     at every start survives a stream of new queryids (eviction by CLOCK);
#   - iosat_queries_reset() racing with updates never puts one queryid's
#     counts on another's entry.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IosatTest;

my $node = iosat_node('query_table', <<'EOC');
iosat.max_queries = 100
iosat.admission = 'monitor'
max_connections = 30
EOC
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');
create_qid_of($node);

# SELECT 1, 2, ..., K: one queryid per K on every version (a target list
# is never squashed, as IN-lists are on 18)
sub select_k
{
	my ($k) = @_;
	return 'SELECT ' . join(',', 1 .. $k);
}

sub qid_of { return query_id($node, $_[0]) }

sub calls_of
{
	my ($qid) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(calls), 0) FROM iosat_queries WHERE queryid = $qid");
}

# calls are published at the latest when the session's backend exits
sub wait_calls
{
	my ($qid, $want, $what) = @_;
	my $ok = wait_until(sub { calls_of($qid) == $want }, 10, $what);
	ok($ok, $what) or diag("calls of $qid: " . calls_of($qid) . ", want $want");
}

# --- a full table learns new queryids ------------------------------------
# 400 queryids, each run twice, for 100 entries
$node->safe_psql('postgres',
	join('', map { my $s = select_k($_); "$s;\n$s;\n" } 1 .. 400));
is($node->safe_psql('postgres', 'SELECT count(*) FROM iosat_queries'),
	'100', 'the table is full');

my $new = select_k(500);
my $new_qid = qid_of($new);
$node->safe_psql('postgres', "$new;\n" x 8);
wait_calls($new_qid, 8, 'a full table learns a queryid that recurs, with all its calls');

# a queryid looked up at every start survives a stream of new queryids,
# each run twice (the second run of each tries to evict)
my $hot = 'SELECT count(*) FROM pg_namespace';
my $hot_qid = qid_of($hot);
$node->safe_psql('postgres',
	"$hot;\n" x 8
	  . join('', map { my $s = select_k($_); "$s;\n$s;\n$hot;\n" } 601 .. 900));
wait_calls($hot_qid, 308,
	'a queryid in use is not evicted by 300 new ones: none of its 308 calls lost');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM iosat_queries'),
	'<=', 100, 'the table holds no more than iosat.max_queries');

# --- iosat_queries_reset() racing with updates ----------------------------
# Queries over 20 tables of 1 to 20 rows: an entry's rows are exactly its
# calls times its table's rows, unless counts meant for one queryid landed
# on an entry that another holds (a reset freed it, the other claimed it)
# or were half cleared.  Every call is published at once (cheap_reads = 0).
# A misattribution lasts until the next reset, so the checker resets, reads
# the table, and counts an entry only if it is still wrong 0.2 s later (a
# read between two adds of one publish is not a misattribution).
$node->safe_psql('postgres', <<'SQL');
DO $$ BEGIN
  FOR i IN 1..20 LOOP
    EXECUTE format('CREATE TABLE r%s AS SELECT g FROM generate_series(1, %s) g', i, i);
  END LOOP;
END $$;
CREATE TABLE expect (queryid bigint PRIMARY KEY, nrows bigint);
INSERT INTO expect SELECT qid_of('SELECT * FROM r' || i), i FROM generate_series(1, 20) i;
CREATE FUNCTION misattributed() RETURNS TABLE (queryid bigint, calls bigint, rows bigint, nrows bigint)
LANGUAGE sql AS $$
  SELECT q.queryid, q.calls, q.rows, e.nrows FROM iosat_queries q JOIN expect e USING (queryid)
  WHERE q.rows <> q.calls * e.nrows $$;
CREATE FUNCTION race_for(secs float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  first bigint[];
  rounds bigint := 0;
  found text := '';
  t0 timestamptz := clock_timestamp();
BEGIN
  WHILE clock_timestamp() < t0 + secs * interval '1 s' AND found = '' LOOP
    rounds := rounds + 1;
    PERFORM iosat_queries_reset();
    first := ARRAY(SELECT m.queryid FROM misattributed() m);
    IF cardinality(first) > 0 THEN
      PERFORM pg_sleep(0.2);
      SELECT coalesce(string_agg(format('queryid %s: %s calls, %s rows, not %s rows per call',
                                        m.queryid, m.calls, m.rows, m.nrows), '; '), '')
        INTO found FROM misattributed() m WHERE m.queryid = ANY(first);
    END IF;
  END LOOP;
  RETURN format('%s resets; %s', rounds, coalesce(nullif(found, ''), 'no misattribution'));
END $$;
SQL
is($node->safe_psql('postgres', 'SELECT count(DISTINCT queryid) FROM expect'),
	'20', '20 distinct queryids');

my $dir = PostgreSQL::Test::Utils::tempdir();
my @scripts;
for my $i (1 .. 20)
{
	open(my $fh, '>', "$dir/r$i.sql") or die;
	print $fh "SELECT * FROM r$i;\n";
	close($fh);
	push @scripts, '-f', "$dir/r$i.sql";
}
my $secs = 30;
my ($bench_out, $bench_err) = ('', '');
my $bench;
{
	local $ENV{PGOPTIONS} = '-c iosat.cheap_reads=0';
	$bench = IPC::Run::start(
		[
			'pgbench', '-h', $node->host, '-p', $node->port, '-n',
			'-M', 'prepared', '-c', '4', '-j', '2', '-T', $secs + 2,
			@scripts, 'postgres'
		],
		'>', \$bench_out, '2>', \$bench_err);
}
sleep 1;
my $t0 = time();
my $race = $node->safe_psql('postgres', "SELECT race_for($secs)");
note(sprintf('race: %s (%.1f s)', $race, time() - $t0));
like($race, qr/no misattribution$/,
	'a reset racing with updates puts no counts on another queryid');
$bench->finish;
my ($tps) = $bench_out =~ /tps = ([0-9.]+)/;
ok(defined $tps, 'the load ran: ' . ($tps // "none: $bench_err") . ' tps');
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'"
			) == 0;
		},
		10,
		'the load to disconnect'),
	'the load is gone');
is($node->safe_psql('postgres', 'SELECT count(*) FROM misattributed()'),
	'0', 'after the race every entry holds its own queryid\'s counts');

$node->stop;
done_testing();
