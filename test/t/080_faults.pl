# Faults iosat must survive with nothing lost: 200 statements queued at
# once and cancelled together; kill -9 of a queued and of a running heavy
# backend (the postmaster re-initialises shared memory; the gate must come
# back clean); the sampler terminated (restarted) and killed (crash
# restart); a loop device detached under the running sampler; the wall
# clock jumping forwards and backwards (libfaketime).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

my @faults;    # what was injected and survived, for the end-of-run figures
my ($node, $fx, $c, $saturate, $calm) = admission_fixture('faults',
	"max_connections = 240\niosat.max_queued = 230\niosat.queue_timeout = '60s'\n"
	  . "restart_after_crash = on\n");
$saturate->();

sub adm { $node->safe_psql('postgres', "SELECT $_[0] FROM iosat_admission") }

sub hold_slot
{
	my $h = async_psql($node, "SELECT pg_sleep(60);", user => 'worker');
	ok( $node->poll_query_until('postgres',
			'SELECT heavy_running = 1 FROM iosat_admission'),
		'a heavy statement holds the only slot');
	return $h;
}

my $queued_pids = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Extension'";
my $sleeper = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'";

# --- 200 statements queued at once, then cancelled together
{
	my $holder = hold_slot();
	my $left0 = adm('left_queue');
	my @q = map { async_psql($node, "SELECT $_;", user => 'worker') } 1 .. 200;
	ok( $node->poll_query_until('postgres',
			'SELECT queued = 200 FROM iosat_admission'),
		'200 statements queued');
	is( $node->safe_psql('postgres',
			"SELECT count(pg_cancel_backend(pid)) FROM ($queued_pids) s"),
		200, 'all 200 cancelled at once');
	ok($node->poll_query_until('postgres', 'SELECT queued = 0 FROM iosat_admission'),
		'the queue emptied');
	my $cancelled = grep { (finish_psql($_))[2] =~ /canceling statement/ } @q;
	is($cancelled, 200, 'each of them got the cancel error');
	is(adm('left_queue') - $left0, 200, '200 left the queue in the books');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) FROM ($sleeper) s");
	finish_psql($holder);
	ok( $node->poll_query_until('postgres',
			'SELECT heavy_running = 0 AND queued = 0 FROM iosat_admission'),
		'nothing left after the mass cancel');
	push @faults, '200 queued cancelled at once';
}

# --- kill -9 of a backend: the postmaster restarts everything; the gate
# comes back clean and working
sub after_crash
{
	my ($what) = @_;
	ok( $node->poll_query_until('postgres',
			'SELECT heavy_running = 0 AND queued = 0 AND saturated FROM iosat_admission'),
		"$what: gate clean and saturated again after the crash restart");
	ok( $node->poll_query_until('postgres',
			'SELECT sampler_pid IS NOT NULL AND NOT stale FROM iosat_status'),
		"$what: sampler back");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM t', extra_params => [ '-U', 'worker' ]),
		'1000', "$what: heavy statements run again");
	push @faults, $what;
}
{
	my $holder = hold_slot();
	my $waiter = async_psql($node, 'SELECT 42;', user => 'worker');
	$node->poll_query_until('postgres', 'SELECT queued = 1 FROM iosat_admission');
	my $pid = $node->safe_psql('postgres', $queued_pids);
	kill 'KILL', $pid;
	finish_psql($waiter);
	finish_psql($holder);
	after_crash('kill -9 of a queued backend');
}
{
	my $holder = hold_slot();
	my $pid = $node->safe_psql('postgres', $sleeper);
	kill 'KILL', $pid;
	finish_psql($holder);
	after_crash('kill -9 of a running heavy backend');
}

# --- the sampler terminated (SIGTERM, as an operator would: it has no
# database connection, so pg_terminate_backend() does not reach it):
# restarted, sampling again
{
	my ($pid, $samples) = split /\|/,
	  $node->safe_psql('postgres', 'SELECT sampler_pid, samples FROM iosat_status');
	kill 'TERM', $pid;
	ok( $node->poll_query_until('postgres',
			"SELECT sampler_pid IS NOT NULL AND sampler_pid <> $pid AND NOT stale FROM iosat_status"),
		'terminated sampler is restarted');
	ok($node->poll_query_until('postgres', 'SELECT saturated FROM iosat_admission'),
		'and judges saturation again');
	push @faults, 'SIGTERM of the sampler';
}

# --- the sampler killed: a crash restart, and iosat comes back
{
	my $pid = $node->safe_psql('postgres', 'SELECT sampler_pid FROM iosat_status');
	kill 'KILL', $pid;
	after_crash('kill -9 of the sampler');
}

# --- a loop device detached under the running sampler
SKIP:
{
	skip 'needs the root helper (run through test/run-tests.sh)', 3
	  unless rootctl_available();
	my $dev = rootctl('loop-create', 'iosat-t080', 64);
	my ($name) = $dev->{dev} =~ m{/dev/(\S+)};
	my $sys = $fx->sysroot;
	# the fixture sysfs stands in for /sys: point an entry at the real device
	symlink("/sys/block/$name", "$sys/block/$name") or die "symlink: $!";
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.devices = 'fake0, $name'; SELECT pg_reload_conf()");
	ok( $node->poll_query_until('postgres',
			"SELECT status = 'ok' FROM iosat_devices WHERE device = '$name'"),
		"$name sampled");
	my $sampler = $node->safe_psql('postgres', 'SELECT sampler_pid FROM iosat_status');
	rootctl('destroy', 'iosat-t080');
	my $samples = $node->safe_psql('postgres', 'SELECT samples FROM iosat_status');
	ok( $node->poll_query_until('postgres',
			"SELECT samples > $samples + 10 AND sampler_pid = $sampler FROM iosat_status"),
		'the sampler keeps going, same process, after the device is detached');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM iosat_devices WHERE r_iops_last < 0 OR w_iops_last < 0"),
		0, 'no nonsense figures for the detached device');
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.devices = 'fake0'; SELECT pg_reload_conf()");
	push @faults, 'loop device detached under the sampler';
}

$calm->();
$node->stop;

# --- wall-clock jumps: the server runs under libfaketime with an offset
# this test changes; rates are measured on CLOCK_MONOTONIC and must stay
# sane, and the sampler must not look stale for long after a jump
SKIP:
{
	my $lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
	skip "libfaketime is not installed ($lib)", 6 unless -e $lib;
	my $tsfile = PostgreSQL::Test::Utils::tempdir() . '/faketime';
	open(my $fh, '>', $tsfile) or die;
	print $fh "+0\n";
	close($fh);
	my $clock = iosat_node('clock', "iosat.sample_interval = '100ms'\n");
	{
		local $ENV{LD_PRELOAD} = $lib;
		local $ENV{FAKETIME_TIMESTAMP_FILE} = $tsfile;
		local $ENV{FAKETIME_NO_CACHE} = '1';
		local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = '1';
		$clock->start;
	}
	$clock->safe_psql('postgres', 'CREATE EXTENSION iosat');
	$clock->poll_query_until('postgres', 'SELECT samples > 5 FROM iosat_status');
	my $prev = 0;
	for my $offset ('+3600', '-7200')    # libfaketime: offsets from real time
	{
		my $before = $clock->safe_psql('postgres', 'SELECT extract(epoch FROM now())');
		open($fh, '>', $tsfile) or die;
		print $fh "$offset\n";
		close($fh);
		ok( $clock->poll_query_until('postgres',
				"SELECT abs(extract(epoch FROM now()) - $before - ($offset - $prev)) < 60"),
			"server clock jumped by $offset s");
		my $samples = $clock->safe_psql('postgres', 'SELECT samples FROM iosat_status');
		ok( $clock->poll_query_until('postgres',
				"SELECT samples > $samples + 10 AND NOT stale FROM iosat_status"),
			"sampling goes on and is fresh after a $offset s jump");
		is( $clock->safe_psql('postgres',
				'SELECT count(*) FROM iosat_devices WHERE r_iops_last < 0 OR r_iops_last > 1e7 OR w_iops_last < 0 OR w_iops_last > 1e7'),
			0, "rates stay sane across a $offset s jump");
		$prev = $offset;
		push @faults, "wall clock jump $offset s";
	}
	$clock->stop;
}

diag(sprintf('faults total: %d injected and survived (%s)', scalar @faults, join('; ', @faults)));
done_testing();
