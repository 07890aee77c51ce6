# The sampler's arithmetic and its survival of bad kernel files (and of a
# device that stops completing requests), made
# deterministic with a fixture sysfs/procfs tree (iosat.sysfs_root and
# iosat.procfs_root) whose counters this test advances at known rates.
# The parsing and derivation code is the production code; only the root
# of the tree differs.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use POSIX ();
use IosatTest;

my $fx = FixtureSysfs->new(PostgreSQL::Test::Utils::tempdir());
$fx->add_disk('fake0', 250, 0);
my %c = (rd_ios => 1000, rd_sectors => 8000, rd_ticks => 500,
	wr_ios => 100, wr_sectors => 800, wr_ticks => 100, io_ticks => 10,
	time_in_queue => 10);
$fx->set_stat('fake0', \%c);
$fx->set_psi("some avg10=12.50 avg60=3.00 avg300=1.00 total=1000\n"
	  . "full avg10=2.00 avg60=1.00 avg300=0.50 total=500\n");

# the data directory's real device, seen through the fixture as a
# device-mapper volume on a partition of a fake disk
my $node = iosat_node('fixture', <<"EOC");
iosat.sysfs_root = '@{[ $fx->sysroot ]}'
iosat.procfs_root = '@{[ $fx->procroot ]}'
iosat.sample_interval = '100ms'
iosat.smoothing_window = '1s'
iosat.devices = 'fake0, nosuchdisk'
iosat.iops_limit = 400
EOC
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');

sub row
{
	my ($dev, $cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM iosat_devices WHERE device = '$dev'");
}

# advance the counters of fake0 every 10 ms (ten times per sample, so the
# sampler does not alias with the writer) for SECONDS, at per-second rates
# RATES, in a child process; returns its pid
sub advance
{
	my ($seconds, %rate) = @_;
	my $nfields = delete $rate{nfields};
	# wrap32: the counters wrap at 2^32, as the kernel's unsigned long
	# does on 32-bit machines
	my $wrap32 = delete $rate{wrap32};
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	return $pid if $pid;
	my $t0 = time();
	my $n = 0;
	my %acc = %c;
	while (time() - $t0 < $seconds)
	{
		$n++;
		my $due = $t0 + $n * 0.01;
		for my $k (keys %rate)
		{
			$acc{$k} += $rate{$k} / 100;
			$c{$k} = int($acc{$k});
			$c{$k} %= 4294967296 if $wrap32;
		}
		$fx->set_stat('fake0', \%c, $nfields);
		my $sleep = $due - time();
		usleep($sleep * 1e6) if $sleep > 0;
	}
	POSIX::_exit(0);    # skip END blocks: they would stop the node
}

sub within
{
	my ($got, $want, $tol, $what) = @_;
	ok(defined $got && $got ne '' && abs($got - $want) <= $tol * abs($want),
		"$what: $got within " . ($tol * 100) . "% of $want");
}

# --- steady load: 100 r/s at 5 ms, 50 w/s at 2 ms, queue 2, util 50%
my $child = advance(8,
	rd_ios => 100, rd_sectors => 100 * 8, rd_ticks => 100 * 5,
	wr_ios => 50, wr_sectors => 50 * 16, wr_ticks => 50 * 2,
	time_in_queue => 2000, io_ticks => 500);
$fx->put('sys/block/fake0/inflight', "       3        1\n");
sleep(5);
my ($riops, $wiops, $rawait, $wawait, $aqu, $util, $inflight, $rmbps) =
  split /\|/,
  row('fake0', 'r_iops, w_iops, r_await_ms, w_await_ms, aqu_sz, util_pct, inflight, r_mbps');
within($riops, 100, 0.10, 'read IOPS');
within($wiops, 50, 0.10, 'write IOPS');
within($rawait, 5, 0.02, 'read await (ms)');
within($wawait, 2, 0.02, 'write await (ms)');
within($aqu, 2, 0.10, 'average queue depth');
within($util, 50, 0.10, 'utilisation');
within($rmbps, 100 * 8 * 512 / 1e6, 0.10, 'read MB/s');
is($inflight, 4, 'in flight = reads + writes from the inflight file');
my ($limit, $headroom) = split /\|/, row('fake0', 'iops_limit, headroom_pct');
is($limit, 400, 'iops_limit reported');
within($headroom, 100 * (1 - 150 / 400), 0.10, 'headroom against the ceiling');
is(row('fake0', "status || ' ' || source || ' ' || stat_fields"),
	'ok sysfs 17', 'status, source and layout');
is(row('fake0', "scheduler || ' ' || nr_requests || ' ' || rotational"),
	'kyber 64 false', 'queue attributes');
is(row('fake0', 'roles'), '{configured}', 'configured device role');
is(row('nosuchdisk', 'status'), 'not found',
	'a configured device that does not exist is reported, not fatal');
is( $node->safe_psql('postgres',
		'SELECT psi_some_avg10, psi_full_avg10 FROM iosat_devices LIMIT 1'),
	'12.5|2', 'PSI averages parsed');
waitpid($child, 0);
# the load is over: nothing in flight (in flight with no completions is a stall)
$fx->put('sys/block/fake0/inflight', "       0        0\n");

# --- the 11-field layout of old kernels, still at 100 r/s
$child = advance(4, rd_ios => 100, rd_ticks => 100, nfields => 11);
ok( wait_until(sub { row('fake0', 'stat_fields') eq '11' }, 10, '11 fields'),
	'11-field stat layout accepted');
sleep(2);
within(row('fake0', 'r_iops_last'), 100, 0.35, 'read IOPS from 11 fields');
waitpid($child, 0);

# --- malformed and truncated content: reported, sampler keeps going
my $samples = $node->safe_psql('postgres', 'SELECT samples FROM iosat_status');
for my $bad ("garbage in the stat file\n", "  1000  2000\n",
	"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n",
	"99999999999999999999999 0 0 0 0 0 0 0 0 0 0\n",
	"1 2 3 4 5 6 7 8 9 10 -11\n", "")
{
	$fx->set_raw_stat('fake0', $bad);
	ok( wait_until(sub { row('fake0', 'status') eq 'unreadable' }, 10),
		'malformed stat reported as unreadable: "' . ($bad =~ s/\n//r) . '"');
	$fx->set_stat('fake0', \%c);
	ok(wait_until(sub { row('fake0', 'status') eq 'ok' }, 10),
		'and recovers from it');
}
like($node->safe_psql('postgres', 'SELECT last_error FROM iosat_status'),
	qr/fake0.*unreadable/, 'last_error names the device');
ok( wait_until(
		sub {
			$node->safe_psql('postgres', 'SELECT samples FROM iosat_status') >
			  $samples + 10;
		},
		10),
	'sampler kept sampling');

# --- a stall: requests in flight and none completed, as when a network
# volume stops answering. No latency can be measured (it is known at
# completion) and IOPS fall to zero, yet the device must count as pressed
{
	my $logoff = -s $node->logfile;
	ok( wait_until(
			sub { $node->safe_psql('postgres', 'SELECT NOT saturated FROM iosat_admission') eq 't' },
			20),
		'before the stall the device is not saturated');
	$fx->put('sys/block/fake0/inflight', "       6        2\n");
	my $t0 = time();
	ok(wait_until(sub { row('fake0', 'stalled_since IS NOT NULL') eq 't' }, 10),
		'a device with requests in flight and no completions is reported stalled');
	my $took = time() - $t0;
	cmp_ok($took, '>=', 0.9, sprintf('not before a second without completions (%.2f s)', $took));
	cmp_ok($took, '<=', 5, 'nor long after');
	like(row('fake0', 'note'), qr/^stalled: 8 requests in flight, none completed for [0-9.]+ s$/,
		'the note says how many requests wait, and for how long');
	is(row('fake0', 'r_iops_last || status'), '0ok', 'no completions; the device is still sampled');
	like($node->safe_psql('postgres', 'SELECT last_error FROM iosat_status'),
		qr/fake0.*is stalled: 8 requests in flight/, 'last_error names the stalled device');
	my ($sat, $reason, $p) = split /\|/,
	  $node->safe_psql('postgres', 'SELECT saturated, reason, pressure FROM iosat_admission');
	is($sat, 't', 'the governor counts a stalled device as saturated');
	like($reason, qr/^stalled: 8 requests in flight, none completed for/, 'and gives the stall as the reason');
	cmp_ok($p, '>=', 1, "pressure >= 1 ($p)");
	my $child = advance(2, rd_ios => 100, rd_ticks => 100 * 5);
	ok(wait_until(sub { row('fake0', 'stalled_since IS NULL') eq 't' }, 10),
		'completions end the stall');
	waitpid($child, 0);
	$fx->put('sys/block/fake0/inflight', "       0        0\n");
	ok( wait_until(
			sub { $node->safe_psql('postgres', 'SELECT NOT saturated FROM iosat_admission') eq 't' },
			10),
		'and the saturation');
	my $log = slurp_file($node->logfile, $logoff);
	my @on = $log =~ /iosat: device "fake0" \(250:0\) is stalled/g;
	my @off = $log =~ /iosat: device "fake0" \(250:0\) completes requests again/g;
	is(scalar(@on) . ' ' . scalar(@off), '1 1', 'the stall and its end are logged once each');
}

# --- a 32-bit counter wrap (the kernel's unsigned long on 32 bits):
# reads that go on across the wrap must read as the same steady rate, not
# as 4 billion reads in one interval, nor as a reset.  With 2-s samples,
# polling sees every interval, the one that spans the wrap included (a
# slow build can miss a 100-ms one between two queries); the test waits
# for states, never for the one moment.
sub set_interval
{
	my ($ms) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET iosat.sample_interval = '${ms}ms'; SELECT pg_reload_conf()");
	ok( wait_until(
			sub {
				$node->safe_psql('postgres', 'SELECT sample_interval_ms FROM iosat_status') == $ms;
			},
			30),
		"sample interval now $ms ms");
}
set_interval(2000);
$c{rd_ios} = 4294967296 - 300;
$c{rd_ticks} = 4294967296 - 300;
$fx->set_stat('fake0', \%c);
# the jump to just below 2^32 is itself a huge (true) rate: let the
# sampler take it in two samples before the reads start
my $s0 = $node->safe_psql('postgres', 'SELECT samples FROM iosat_status');
ok( wait_until(
		sub { $node->safe_psql('postgres', 'SELECT samples FROM iosat_status') >= $s0 + 2 },
		30),
	'the sampler saw the counter before the wrap');
# 100 reads a second at 1 ms for 7 s: the counter wraps after 3 s
$child = advance(7, rd_ios => 100, rd_ticks => 100, wrap32 => 1);
my (%interval, @notes);
while (waitpid($child, POSIX::WNOHANG()) == 0)
{
	my ($t, $r, $n) = split /\|/,
	  row('fake0', "sample_time, r_iops_last, coalesce(note, '')");
	$interval{$t} = $r;
	push @notes, $n if $n ne '';
	usleep(50_000);
}
delete $interval{ (sort keys %interval)[0] };    # began before the reads
my @rates = map { $interval{$_} } sort keys %interval;
diag('intervals across the wrap: ' . join(' ', map { sprintf('%.0f/s', $_) } @rates));
cmp_ok(scalar(@rates), '>=', 2, 'intervals seen while reads went on across the wrap');
is(scalar(grep { $_ > 1000 } @rates), 0,
	'no interval reads the wrap as billions of reads');
cmp_ok(scalar(grep { $_ >= 50 && $_ <= 150 } @rates), '>=', 2,
	'and they read the steady 100/s');
is(join(',', @notes), '', 'a wrap is not reported as a reset');
# where the child left the counters (it wrote them, not this process's %c)
%c = (%c, rd_ios => 400, rd_ticks => 400);
$fx->set_stat('fake0', \%c);
set_interval(100);

# --- a counter going backwards from a small value is a reset, not a wrap
$fx->set_stat('fake0', { %c, rd_ios => 5000 });
usleep(300_000);
$fx->set_stat('fake0', { %c, rd_ios => 10 });
ok( wait_until(
		sub { row('fake0', 'note') =~ /backwards/ || row('fake0', 'r_iops_last') == 0 },
		10),
	'reset detected');
my $neg = $node->safe_psql('postgres',
	'SELECT count(*) FROM iosat_devices WHERE r_iops_last < 0 OR r_iops < 0');
is($neg, 0, 'no negative rates after a reset');

# --- the device vanishes, then comes back
rename($fx->sysroot . '/block/fake0', $fx->sysroot . '/block/fake0.gone')
  or die;
ok(wait_until(sub { row('fake0', 'status') eq 'vanished' }, 10),
	'vanished device reported');
rename($fx->sysroot . '/block/fake0.gone', $fx->sysroot . '/block/fake0')
  or die;
$fx->set_stat('fake0', \%c);
ok(wait_until(sub { row('fake0', 'status') eq 'ok' }, 20),
	'device picked up again after it reappears');

# --- PSI that disappears is reported as unavailable, not an error
$fx->set_psi("some nonsense\n");
ok( wait_until(
		sub {
			$node->safe_psql('postgres', 'SELECT psi_available FROM iosat_status')
			  eq 'f';
		},
		10),
	'malformed PSI: psi_available = false');

# --- discovery without iosat.devices: the data directory's st_dev resolved
# through a dm device whose slave is a partition of disk "fakedisk"
my $stdev = (stat($node->data_dir))[0];
# glibc's dev_t encoding
my $maj = (($stdev >> 8) & 0xfff) | (($stdev >> 32) & ~0xfff);
my $min = ($stdev & 0xff) | (($stdev >> 12) & ~0xff);
my $sys = $fx->sysroot;
$fx->add_disk('fakedisk', 251, 0);
$fx->set_stat('fakedisk', \%c);
mkdir("$sys/block/fakedisk/fakedisk1") or die;
$fx->put('sys/block/fakedisk/fakedisk1/partition', "1\n");
$fx->put('sys/block/fakedisk/fakedisk1/dev', "251:1\n");
mkdir("$sys/devices") or die;
mkdir("$sys/devices/dm-0") or die;
mkdir("$sys/devices/dm-0/slaves") or die;
$fx->put('sys/devices/dm-0/dev', "$maj:$min\n");
symlink('../../../block/fakedisk/fakedisk1', "$sys/devices/dm-0/slaves/fakedisk1")
  or die;
unlink("$sys/dev/block/$maj:$min");
symlink('../../devices/dm-0', "$sys/dev/block/$maj:$min") or die;
$node->safe_psql('postgres', "ALTER SYSTEM SET iosat.devices = ''");
$node->reload;
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT roles FROM iosat_devices WHERE device = 'fakedisk'")
			  eq '{data,wal}';
		},
		10),
	'data and pg_wal resolved through dm and a partition to the leaf disk');
is($node->safe_psql('postgres', 'SELECT count(*) FROM iosat_devices'),
	1, 'one device after discovery');

$node->stop;
done_testing();
