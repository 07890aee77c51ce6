# A backend caught in a real cold-page read on a throttled device: the
# table lives in a tablespace on a stack device whose lower loop is limited
# to 50 read IOPS (requests queue at the device, as on a cloud volume at its
# ceiling), is larger than shared_buffers, and its pages are evicted from
# the page cache, so a sequential scan waits for the device on every
# read-ahead window.  iosat_backends must show the reader in D with
# IO:DataFileRead, iosat_wait_profile must count those samples as D with a
# kernel function, and iosat_loadavg must count the reader in D.  A cancel
# must still end the statement promptly (D here is TASK_KILLABLE).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

plan skip_all => 'needs the root helper (run through test/run-tests.sh)'
  unless rootctl_available();

my $name = 'iosat-t031';
my $node;
my $dev = rootctl('stack-create', $name, 512, 50, 0);
END
{
	# the server first (its tablespace is on the device), then the device
	eval { $node->stop('immediate') if $node };
	eval { rootctl('destroy', $name) };
}
note("throttled device: $dev->{dev} over $dev->{lower}, mounted at $dev->{mnt}");

$node = iosat_node('coldread', <<'EOC');
shared_buffers = '16MB'
iosat.profile_interval = '50ms'
max_parallel_workers_per_gather = 0
EOC
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');

mkdir("$dev->{mnt}/ts") or die "mkdir $dev->{mnt}/ts: $!";
$node->safe_psql('postgres', <<"SQL");
CREATE TABLESPACE slow LOCATION '$dev->{mnt}/ts';
CREATE TABLE big (id int, pad text) TABLESPACE slow;
INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 250000) g;
VACUUM big;
CHECKPOINT;
SQL
my $size = $node->safe_psql('postgres', "SELECT pg_relation_size('big')");
cmp_ok($size, '>', 3 * 16 * 1024 * 1024, "table ($size bytes) is well over shared_buffers");

# an empty buffer pool, and none of the table's pages in the page cache:
# drop just this file's pages (dd iflag=nocache count=0), so that other
# work on the machine keeps its cache
my $file = $node->safe_psql('postgres',
	"SELECT current_setting('data_directory') || '/' || pg_relation_filepath('big')");
$node->restart;
my @segs = grep { /\/\d+(\.\d+)?$/ } glob("$file $file.*");
for my $seg (@segs)
{
	system('dd', "if=$seg", 'iflag=nocache', 'count=0', 'status=none') == 0
	  or rootctl('drop-caches');
}

$node->safe_psql('postgres', 'SELECT iosat_wait_profile_reset()');

my $reader = $node->background_psql('postgres');
my $rpid = $reader->query_safe('SELECT pg_backend_pid()');
$reader->query_until(qr/reading/, "\\echo reading\nSELECT count(*) FROM big;\n");

sub reader_row
{
	return $node->safe_psql('postgres',
		"SELECT task_state || '|' || coalesce(wait_event_type, '') || '|' "
		  . "|| coalesce(wait_event, '') || '|' || coalesce(wchan, '') || '|' "
		  . "|| task_state_name FROM iosat_backends WHERE pid = $rpid");
}

my $seen;
ok( wait_until(
		sub {
			$seen = reader_row();
			return $seen =~ /^D\|IO\|DataFileRead\|/;
		},
		60,
		'reader in D'),
	"the reader is caught in D with IO:DataFileRead ($seen)");
my (undef, undef, undef, $wchan, $state_name) = split /\|/, $seen // '';
ok(defined $wchan && $wchan ne '', "and sleeps in a kernel function: " . ($wchan // ''));
is($state_name, 'disk sleep', 'D is named "disk sleep"');

my $now_d;
ok( wait_until(
		sub {
			$now_d = $node->safe_psql('postgres', 'SELECT pg_disk_sleep FROM iosat_loadavg');
			return $now_d >= 1;
		},
		30,
		'pg_disk_sleep'),
	"iosat_loadavg counts Postgres processes in D now ($now_d)");

# let the profile collect a few seconds of the scan
sleep(3);
my $still = $node->safe_psql('postgres',
	"SELECT state FROM pg_stat_activity WHERE pid = $rpid");
is($still, 'active', 'the scan is still running (the device is slow)');

# the question iosat_wait_profile exists to answer, in one query
my $split = $node->safe_psql('postgres', <<'SQL');
SELECT state, wchan, sum(samples),
       round(100.0 * sum(samples) / sum(sum(samples)) OVER (), 1) AS pct
  FROM iosat_wait_profile
 WHERE backend_type = 'client backend'
   AND wait_event_type = 'IO' AND wait_event = 'DataFileRead'
 GROUP BY state, wchan
 ORDER BY 3 DESC
SQL
note("IO:DataFileRead samples of client backends by kernel state:\n$split");
my ($d_samples, $all_samples) = split /\|/, $node->safe_psql('postgres', <<'SQL');
SELECT coalesce(sum(samples) FILTER (WHERE state = 'D'), 0), coalesce(sum(samples), 0)
  FROM iosat_wait_profile
 WHERE backend_type = 'client backend' AND wait_event = 'DataFileRead'
SQL
cmp_ok($d_samples, '>=', 10, "the profile has D samples of IO:DataFileRead ($d_samples)");
cmp_ok($d_samples / ($all_samples || 1), '>=', 0.5,
	"most IO:DataFileRead samples are in D ($d_samples of $all_samples)");
is( $node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM iosat_wait_profile WHERE wait_event = 'DataFileRead' "
		  . "AND state = 'D' AND coalesce(wchan, '') <> ''"),
	't', 'with the kernel function they sleep in');
is( $node->safe_psql('postgres',
		"SELECT round(sum(pct_of_wait_event)) FROM iosat_wait_profile WHERE wait_event = 'DataFileRead'"),
	'100', 'pct_of_wait_event adds up to 100 over the rows of a wait event');

my ($avg_d, $pg_load1) = split /\|/, $node->safe_psql('postgres',
	'SELECT pg_disk_sleep_avg, pg_load1 FROM iosat_loadavg');
cmp_ok($avg_d, '>', 0.3, "average Postgres processes in D over the window: $avg_d");
cmp_ok($pg_load1, '>', 0.3, "Postgres's damped load: $pg_load1");
note('iosat_loadavg: ' . $node->safe_psql('postgres',
	'SELECT row_to_json(l) FROM iosat_loadavg l'));

# D here is killable: a cancel ends the statement once the read in flight
# returns, which is why the operators' pg_terminate_backend worked
my $t0 = time();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($rpid)");
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE pid = $rpid AND state = 'active'") == 0;
		},
		30,
		'cancel'),
	sprintf('the cancel ended the scan in %.1f s', time() - $t0));
eval { $reader->quit };

$node->stop;
done_testing();
