# A backend caught in a real cold-page read on a throttled device: the
# table lives in a tablespace on a stack device whose lower loop is limited
# to 50 read IOPS (requests queue at the device, as on a cloud volume at its
# ceiling), is larger than shared_buffers, and its pages are evicted from
# the page cache, so each random heap read waits for the device.  iosat_backends must show the reader in D with
# IO:DataFileRead, iosat_wait_profile must count those samples as D with a
# kernel function, and iosat_loadavg must count the reader in D.  A cancel
# must still end the statement promptly (D here is TASK_KILLABLE).  On 18
# with asynchronous I/O, whoever performs a backend's reads for it (an io
# worker, or with io_uring a kernel io-wq thread of the backend) is linked
# to it, profiled under it and counted in the load (below).
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
# 18+ runs with its default io_method (worker), or the one TEMP_CONFIG
# sets.  With io workers, the backends' reads below (the planner's bitmap
# heap scans, through a read stream) are performed by the io workers: a
# reader waits in S on IO:AioIoCompletion while the worker reading for it
# is in D with IO:DataFileRead, iosat_backends links the two, and the
# profile counts the worker's samples as "io worker for client backend".
# At most io_workers processes (19: io_max_workers) are then in D at once.
#
# With io_method = io_uring (measured on 18.6, Linux 6.18): the read of a
# one-page bitmap heap scan, alone in flight, puts nobody in D (the kernel
# completes it through a callback; the backend waits in S in
# io_cqring_wait, IO:AioIoUringExecution, and the kernel's load average
# counts nobody); a read stream with more than four reads in flight has
# them performed by io-wq threads of the backend ("iou-wrk-<pid>"), in D;
# a read PostgreSQL performs synchronously (ReadBuffer(): an index scan's
# heap fetch) is the backend's own, in D with IO:DataFileRead.  So under
# io_uring the readers and the storm below read through plain index
# scans (enable_bitmapscan off), and the io_uring section checks the
# other two cases.
$node->start;
my $method =
  $node->pg_version >= 18
  ? $node->safe_psql('postgres', 'SHOW io_method')
  : 'none (before 18)';
my $aio = $method eq 'worker';
my $uring = $method eq 'io_uring';
# 19 sizes the pool between io_min_workers and io_max_workers, on demand
# (asked of the server: a 19 beta's pg_version is below 19)
my $io_workers = $aio
  ? $node->safe_psql('postgres',
	"SELECT setting FROM pg_settings WHERE name IN ('io_workers', 'io_max_workers')")
  : 0;
# whose IO:DataFileRead samples are the readers'
my $reader_types =
    $aio ? "('client backend', 'io worker for client backend')"
  : $uring ? "('client backend', 'io_uring worker for client backend')"
  :          "('client backend')";
# what the readers set first: under io_uring, plain index scans
my $reader_set = $uring ? "SET enable_bitmapscan = off;\n" : '';
note("io_method $method" . ($aio ? ", at most $io_workers io workers" : ''));
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');

mkdir("$dev->{mnt}/ts") or die "mkdir $dev->{mnt}/ts: $!";
$node->safe_psql('postgres', <<"SQL");
CREATE TABLESPACE slow LOCATION '$dev->{mnt}/ts';
CREATE TABLE big (id int, pad text) TABLESPACE slow;
INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 250000) g;
CREATE INDEX big_id ON big (id);
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
sub evict_table
{
	for my $seg (grep { /\/\d+(\.\d+)?$/ } glob("$file $file.*"))
	{
		system('dd', "if=$seg", 'iflag=nocache', 'count=0', 'status=none') == 0
		  or rootctl('drop-caches');
	}
}
$node->restart;
evict_table();

$node->safe_psql('postgres', 'SELECT iosat_wait_profile_reset()');

# random heap pages through the index, one 8 kB read each: a large
# sequential scan is no good here, since with read-ahead or PostgreSQL
# 18's asynchronous I/O its requests grow and merge until an IOPS limit
# hardly holds it back, and in 18 the waiting is done by the io workers.
# (The key is computed first: "id = random()" is no index condition, and
# concurrent readers would share one synchronized seq scan instead.)
sub random_reads_sql
{
	return "DO \$\$ DECLARE k int; BEGIN FOR i IN 1..10000000 LOOP "
	  . "k := 1 + (random() * 249998)::int; "
	  . "PERFORM pad FROM big WHERE id = k; "
	  . "END LOOP; END \$\$;\n";
}

my $reader = $node->background_psql('postgres');
my $t_reader = time();
my $rpid = $reader->query_safe('SELECT pg_backend_pid()');
$reader->query_until(qr/reading/, $reader_set . "\\echo reading\n" . random_reads_sql());

# the reader's kernel state, or with io workers that of the worker reading
# for it while the reader waits for it
sub reader_row
{
	my $cols = sub {
		my ($t) = @_;
		return "$t.task_state || '|' || coalesce($t.wait_event_type, '') || '|' "
		  . "|| coalesce($t.wait_event, '') || '|' || coalesce($t.wchan, '') || '|' "
		  . "|| $t.task_state_name";
	};
	return $node->safe_psql('postgres',
		"SELECT CASE WHEN r.task_state <> 'D' AND r.wait_event = 'AioIoCompletion' "
		  . "AND w.pid IS NOT NULL THEN 'io worker ' || w.pid || ': ' || "
		  . $cols->('w') . ' ELSE ' . $cols->('r') . ' END'
		  . ' FROM iosat_backends r LEFT JOIN iosat_backends w ON w.pid = r.aio_worker_pid'
		  . " WHERE r.pid = $rpid");
}

my $seen;
ok( wait_until(
		sub {
			$seen = reader_row();
			return $seen =~ /^(io worker \d+: )?D\|IO\|DataFileRead\|/;
		},
		60,
		'reader in D'),
	"the reader is caught in D with IO:DataFileRead ($seen)");
$seen =~ s/^io worker \d+: //;
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

# let the profile collect a few seconds of reads
sleep(3);
my $still = $node->safe_psql('postgres',
	"SELECT state FROM pg_stat_activity WHERE pid = $rpid");
is($still, 'active', 'the reader is still reading (the device is slow)');

# the question iosat_wait_profile exists to answer, in one query
my $split = $node->safe_psql('postgres', <<"SQL");
SELECT backend_type, state, wchan, sum(samples),
       round(100.0 * sum(samples) / sum(sum(samples)) OVER (), 1) AS pct
  FROM iosat_wait_profile
 WHERE backend_type IN $reader_types
   AND wait_event_type = 'IO' AND wait_event = 'DataFileRead'
 GROUP BY backend_type, state, wchan
 ORDER BY 4 DESC
SQL
note("IO:DataFileRead samples of client backends by kernel state:\n$split");
my ($d_samples, $all_samples) = split /\|/, $node->safe_psql('postgres', <<"SQL");
SELECT coalesce(sum(samples) FILTER (WHERE state = 'D'), 0), coalesce(sum(samples), 0)
  FROM iosat_wait_profile
 WHERE backend_type IN $reader_types AND wait_event = 'DataFileRead'
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
# one process in D since the reader started (the server was restarted just
# before): the kernel's recurrence gives 1 - exp(-t / 60 s)
my $expect1 = 1 - exp(-(time() - $t_reader) / 60);
cmp_ok(abs($pg_load1 - $expect1), '<', 0.5 * $expect1 + 0.02,
	sprintf("Postgres's damped load1 %.3f follows the kernel's recurrence (%.3f)",
		$pg_load1, $expect1));
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
	sprintf('the cancel ended the reads in %.1f s', time() - $t0));
eval { $reader->quit };

# ------------------------------------------------ asynchronous I/O (18+)
# With io_method = worker a read stream's reads (a sequential scan's) are
# performed by io worker processes: the backend waits in S on
# IO:AioIoCompletion and the worker is the process in D, reporting
# IO:DataFileRead.  iosat_backends links the two (aio_worker_pid and
# aio_worker_state on the backend's row, aio_for_pid on the worker's), and
# the profile counts the worker's D samples as "io worker for client
# backend".  With io_method = io_uring the scan's reads, more than four in
# flight, are performed by io-wq threads of the backend ("iou-wrk-<pid>")
# while it waits in S on IO:AioIoUringExecution: its row names such a
# thread in D (aio_worker_pid is the thread's id), the profile counts the
# threads as "io_uring worker for client backend" with IO:DataFileRead,
# and iosat_loadavg counts them in D, as the kernel's load average does.
SKIP:
{
	skip "io_method $method: nobody performs a backend's reads for it", 6
	  unless $aio || $uring;
	my $performer = $aio ? 'io worker' : 'io_uring worker';

	evict_table();
	$node->safe_psql('postgres', 'SELECT iosat_wait_profile_reset()');
	my $scan = $node->background_psql('postgres');
	my $spid = $scan->query_safe('SELECT pg_backend_pid()');
	# one block per read, no parallel workers: the io workers (or the
	# io_uring worker threads) do every read
	$scan->query_safe('SET io_combine_limit = 1');
	$scan->query_safe('SET max_parallel_workers_per_gather = 0');
	$scan->query_until(qr/scanning/,
		"\\echo scanning\nSELECT count(*) FROM big WHERE pad LIKE '%y%';\n");

	my $link = '';
	if ($aio)
	{
		ok( wait_until(
				sub {
					$link = $node->safe_psql('postgres', <<"SQL");
SELECT b.aio_worker_state || '|' || w.backend_type || '|' || w.task_state
       || '|' || coalesce(w.wait_event, '') || '|' || w.aio_for_pid
  FROM iosat_backends b JOIN iosat_backends w ON w.pid = b.aio_worker_pid
 WHERE b.pid = $spid
SQL
					return $link =~ /^D\|io worker\|D\|DataFileRead\|$spid$/;
				},
				60,
				'an io worker in D for the scan'),
			"the scanning backend's row names the io worker in D reading for it ($link)");
	}
	else
	{
		# the thread named is one of the backend's own, and the kernel
		# calls it iou-wrk-<pid>
		my $comm = '';
		ok( wait_until(
				sub {
					$link = $node->safe_psql('postgres',
						"SELECT task_state || '|' || wait_event || '|' || "
						  . "aio_worker_pid || '|' || aio_worker_state "
						  . "FROM iosat_backends WHERE pid = $spid");
					return 0 unless $link =~ /^S\|AioIoUringExecution\|(\d+)\|D$/;
					my $tid = $1;
					open(my $fh, '<', "/proc/$spid/task/$tid/comm") or return 0;
					$comm = <$fh> // '';
					chomp $comm;
					close($fh);
					return $comm =~ /^iou-wrk-/;
				},
				60,
				'an io_uring worker thread in D for the scan'),
			"the scanning backend (S, AioIoUringExecution) names a thread of its own "
			  . "in D reading for it ($link, $comm)");
	}

	# the profile: the performers' D samples under the backend they serve
	my $served = 0;
	ok( wait_until(
			sub {
				$served = $node->safe_psql('postgres', <<"SQL");
SELECT coalesce(sum(samples), 0) FROM iosat_wait_profile
 WHERE backend_type = '$performer for client backend' AND state = 'D'
   AND wait_event = 'DataFileRead'
SQL
				return $served >= 5;
			},
			60,
			"profile samples of ${performer}s for a client backend"),
		"iosat_wait_profile counts ${performer}s in D for a client backend ($served samples)");
	my $scan_states = $node->safe_psql('postgres', <<'SQL');
SELECT string_agg(backend_type || ' ' || coalesce(wait_event, '-') || ' ' || state || ' ' || samples, ', ' ORDER BY samples DESC)
  FROM iosat_wait_profile
 WHERE backend_type LIKE 'io%worker%' OR (backend_type = 'client backend' AND wait_event_type = 'IO')
SQL
	note("profile during the scan: $scan_states");
	# an io worker is attributed only in D; an io_uring worker thread is
	# sampled only while busy (D, or R), with its read's wait event
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM iosat_wait_profile WHERE backend_type LIKE '$performer for %' "
			  . ($aio ? "AND state <> 'D'"
				  : "AND (state NOT IN ('D', 'R') OR wait_event IS DISTINCT FROM 'DataFileRead')")),
		'0',
		$aio
		? 'only samples in D are attributed to a backend'
		: 'only busy threads are sampled, with IO:DataFileRead');

	# the load: the performers in D are Postgres's load, as the kernel
	# counts it, while the one client backend reading sleeps in S (with
	# io_uring several threads at once: the scan keeps more than four
	# reads in flight)
	my $now_d_scan = 0;
	my $want_d = $uring ? 2 : 1;
	ok( wait_until(
			sub {
				$now_d_scan = $node->safe_psql('postgres',
					'SELECT pg_disk_sleep FROM iosat_loadavg');
				return $now_d_scan >= $want_d;
			},
			60,
			"${performer}s in iosat_loadavg"),
		"iosat_loadavg counts the scan's ${performer}s in D ($now_d_scan)");

	# an idle backend is linked to no io worker, and a worker to no backend
	# once the scan has ended
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($spid)");
	ok( wait_until(
			sub {
				$node->safe_psql('postgres',
					"SELECT count(*) FROM pg_stat_activity WHERE pid = $spid AND state = 'active'") == 0;
			},
			30,
			'scan cancelled'),
		'the scan ended on cancel');
	# a read the worker took before the cancel completes after it (the
	# handle is the backend's until then): wait for the link to go
	ok( wait_until(
			sub {
				$node->safe_psql('postgres', <<"SQL") == 0;
SELECT count(*) FROM iosat_backends
 WHERE pid = $spid AND aio_worker_pid IS NOT NULL
    OR aio_for_pid = $spid
SQL
			},
			30,
			'io worker links of the cancelled scan gone'),
		"after it, no $performer is linked to that backend");
	eval { $scan->quit };
}

# ------------------------------------------------ io_uring: a lone read
# A one-page bitmap heap scan under io_uring: its read, alone in flight,
# is started by the kernel and completed from the page's unlock; the
# backend waits in S in the kernel (io_cqring_wait) on
# IO:AioIoUringExecution.  iosat shows that wait with its kernel function,
# the main thread's state as it is.
SKIP:
{
	skip "io_method $method: no io_uring waits", 3 unless $uring;

	evict_table();
	$node->safe_psql('postgres', 'SELECT iosat_wait_profile_reset()');
	my $lone = $node->background_psql('postgres');
	my $lpid = $lone->query_safe('SELECT pg_backend_pid()');
	$lone->query_safe('SET enable_indexscan = off');
	$lone->query_until(qr/lone/, "\\echo lone\n" . random_reads_sql());
	my $row = '';
	ok( wait_until(
			sub {
				$row = $node->safe_psql('postgres',
					"SELECT task_state || '|' || wait_event || '|' || coalesce(wchan, '') "
					  . "FROM iosat_backends WHERE pid = $lpid");
				return $row =~ /^S\|AioIoUringExecution\|.+/;
			},
			60,
			'a backend waiting in S on IO:AioIoUringExecution'),
		"a bitmap heap scan's reader waits in S on IO:AioIoUringExecution, in a kernel function ($row)");
	my $waits = 0;
	ok( wait_until(
			sub {
				$waits = $node->safe_psql('postgres', <<'SQL');
SELECT coalesce(sum(samples), 0) FROM iosat_wait_profile
 WHERE backend_type = 'client backend' AND wait_event = 'AioIoUringExecution'
   AND state = 'S' AND coalesce(wchan, '') <> ''
SQL
				return $waits >= 10;
			},
			60,
			'profile samples of the io_uring wait'),
		"the profile counts those waits in S with their kernel function ($waits samples)");
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($lpid)");
	ok( wait_until(
			sub {
				$node->safe_psql('postgres',
					"SELECT count(*) FROM pg_stat_activity WHERE pid = $lpid AND state = 'active'") == 0;
			},
			30,
			'lone reader cancelled'),
		'the lone reader ended on cancel');
	eval { $lone->quit };
}

# ---------------------------------------------------------------- a storm
# six backends reading random heap pages through the index: the device
# queue stays full, every one of them spends its time in D, and the load
# average climbs with them.  (Six synchronized seq scans would instead show
# one backend in D and five in IPC:BufferIO, sleeping in S.)
evict_table();
$node->safe_psql('postgres', 'SELECT iosat_wait_profile_reset()');
my $nstorm = 6;
my (@storm, @spids);
for my $i (1 .. $nstorm)
{
	my $s = $node->background_psql('postgres');
	push @spids, $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/storming/, $reader_set . "\\echo storming\n" . random_reads_sql());
	push @storm, $s;
}
my ($max_d, $max_workers) = (0, 0);
my $t_storm = time();
while (time() - $t_storm < 25)
{
	my ($d, $w) = split /\|/, $node->safe_psql('postgres',
		"SELECT pg_disk_sleep, (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'io worker') FROM iosat_loadavg");
	$max_d = $d if $d > $max_d;
	$max_workers = $w if $w > $max_workers;
	usleep(500_000);
}
# (with io workers, at most as many as there are: the readers wait in S;
# 19 starts them on demand, up to io_max_workers)
note("storm: at most $max_workers io workers at once") if $aio;
my $can_d = $aio && $max_workers < $nstorm ? $max_workers : $nstorm;
cmp_ok($max_d, '>=', $can_d < $nstorm - 2 ? $can_d : $nstorm - 2,
	"during the storm iosat_loadavg saw $max_d Postgres processes in D at once");

$split = $node->safe_psql('postgres', <<'SQL');
SELECT state, wchan, sum(samples),
       round(100.0 * sum(samples) / sum(sum(samples)) OVER (), 1) AS pct
  FROM iosat_wait_profile
 WHERE wait_event_type = 'IO' AND wait_event = 'DataFileRead'
 GROUP BY state, wchan
 ORDER BY 3 DESC
SQL
note("storm: IO:DataFileRead samples by kernel state:\n$split");
($d_samples, $all_samples) = split /\|/, $node->safe_psql('postgres', <<"SQL");
SELECT coalesce(sum(samples) FILTER (WHERE state = 'D'), 0), coalesce(sum(samples), 0)
  FROM iosat_wait_profile
 WHERE backend_type IN $reader_types AND wait_event = 'DataFileRead'
SQL
cmp_ok($d_samples / ($all_samples || 1), '>=', 0.5,
	"storm: most IO:DataFileRead samples are in D ($d_samples of $all_samples)");
cmp_ok($all_samples, '>=', 100, 'storm: many IO:DataFileRead samples');

my ($load1, $pgl1, $share1, $other_d, $pg_d_avg) = split /\|/, $node->safe_psql('postgres',
	'SELECT load1, pg_load1, coalesce(pg_share1_pct, -1), other_disk_sleep, pg_disk_sleep_avg FROM iosat_loadavg');
note("storm: load1 $load1, Postgres's part $pgl1 ($share1%), "
	  . "average Postgres processes in D $pg_d_avg, other processes in D now $other_d");
# (the kernel's load counts R and D: with io workers the readers sleep in S,
# and only the io workers reading for them are in D)
cmp_ok($pgl1, '>=', 1.5 * $can_d / $nstorm, "Postgres's load1 rose with the storm ($pgl1)");
cmp_ok($pgl1, '<=', $load1 + 1.0,
	"and does not exceed the kernel's load1 ($load1) beyond sampling noise");
cmp_ok($share1, '>', 0, "Postgres's share of load1 is estimated: $share1%");
cmp_ok($pg_d_avg, '>=', $can_d * 0.6,
	"average Postgres processes in D over the storm: $pg_d_avg");

$node->safe_psql('postgres',
	'SELECT pg_cancel_backend(pid) FROM unnest(ARRAY[' . join(',', @spids) . ']) pid');
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid IN ("
				  . join(',', @spids) . ')') == 0;
		},
		30,
		'storm cancelled'),
	'the storm is cancelled promptly');
eval { $_->quit } for @storm;

$node->stop;
done_testing();
