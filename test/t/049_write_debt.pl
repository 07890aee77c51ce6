# The write debt and the throughput signal (issue #18): the page cache the
# server holds dirty or under write-back, read from its memory cgroup (v1,
# v2) or /proc/meminfo, and its growth counted as throughput the volume owes
# against iosat.throughput_limit.
#
#  1. fixture: with nothing to read, the columns are NULL and the server
#     says so once in its log;
#  2. a cgroup v1 memory.stat is found and read; a debt that grows faster
#     than the throughput ceiling saturates a device that reads and writes
#     nothing, with the reason given; a debt that stops growing or drains
#     does not, and the saturation ends;
#     the growth, in writes of the size the device's writes have, counts
#     against the IOPS ceiling in full;
#  3. cgroup v2's file_dirty/file_writeback, then /proc/meminfo, are found
#     when the earlier source goes;
#  4. for real: on the data directory's device, 256 MB written to a file
#     and not synced are counted at once (the device has written nothing
#     yet), and the debt drains after a sync.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

my ($node, $fx) = admission_fixture('debt', <<'EOC');
iosat.throughput_limit = '10MB'
EOC
# the throughput signal alone first: no IOPS ceiling (the fixture's 100)
$node->safe_psql('postgres', 'ALTER SYSTEM SET iosat.iops_limit = 0; SELECT pg_reload_conf()');

sub ctl
{
	return $node->safe_psql('postgres', "SELECT $_[0] FROM iosat_controller");
}

# --- 1. nothing to read (the fixture's own cgroup, with no memory.stat)
$fx->fake_cgroup;
is(ctl("coalesce(write_debt_mb::text, 'null') || '|' || coalesce(write_debt_source, 'null')"),
	'null|null', 'no memory.stat and no meminfo under the fixture: the write debt is NULL');
ok(wait_until(sub { slurp_file($node->logfile) =~ /its write debt is not counted/ }, 10, 'log'),
	'the server says why the write debt is not counted');
my $s0 = $node->safe_psql('postgres', 'SELECT samples FROM iosat_status');
$node->poll_query_until('postgres', "SELECT samples >= $s0 + 10 FROM iosat_status")
  or die 'no samples';
my @said = slurp_file($node->logfile) =~ /its write debt is not counted/g;
is(scalar @said, 1, 'once, not at every sample');
is(ctl('throughput_limit_mb'), '10', 'throughput_limit_mb is iosat.throughput_limit');

# --- 2. cgroup v1
my $v1 = $fx->memcg_stat(1);
$fx->set_memcg($v1, 5 * 1048576, 1048576);
ok( $node->poll_query_until('postgres',
		"SELECT write_debt_source = 'memory cgroup v1 /iosat-test' AND write_debt_mb = 6 FROM iosat_controller"),
	'cgroup v1: the source is found, total_dirty + total_writeback read (6 MB)');
is(ctl('saturated'), 'f', 'a debt that does not grow is no pressure');

# 20 MiB/s of growth against a ceiling of 10 MiB/s; the device reads and
# writes nothing
my $grow = $fx->start_dirtying($v1, 6 * 1048576, 20 * 1048576);
ok($node->poll_query_until('postgres', 'SELECT saturated FROM iosat_admission'),
	'a debt growing at 20 MiB/s saturates a 10 MiB/s volume that reads and writes nothing');
# the smoothed growth reaches the 20 MiB/s (over 5 s: the debt's smoothing)
$node->poll_query_until('postgres', 'SELECT throughput_mb > 15 FROM iosat_controller')
  or die 'the throughput did not reach 15';
my ($tp, $growth, $reason) = split /\|/,
  ctl("round(throughput_mb::numeric, 1) || '|' || round(write_debt_growth_mbps::numeric, 1) || '|' || "
	  . "(SELECT reason FROM iosat_admission)");
cmp_ok($tp, '<', 25, "the throughput counts the growth, no more ($tp MiB/s, growth $growth MB/s)");
like($reason, qr/owed to write-back of 10 provisioned/, "the reason says so ($reason)");
kill 'TERM', $grow;
waitpid($grow, 0);

# the debt stays where it is: no growth, the saturation ends
ok($node->poll_query_until('postgres', 'SELECT NOT saturated FROM iosat_admission'),
	'a debt that stops growing: the saturation ends');
# draining (the kernel writing it back) is no pressure either
my $mb = ctl('write_debt_mb');
my $drain = $fx->start_dirtying($v1, $mb * 1048576, -20 * 1048576);
ok( $node->poll_query_until('postgres',
		'SELECT write_debt_growth_mbps < -5 AND throughput_mb < 1 FROM iosat_controller'),
	'a draining debt: negative growth, counted as no throughput');
is($node->safe_psql('postgres', 'SELECT saturated FROM iosat_admission'), 'f',
	'and not saturated');
kill 'TERM', $drain;
waitpid($drain, 0);

# --- 2b. the IOPS the debt's growth will cost, at the size the device's
# writes have now: 50 writes a second of 64 KiB, and a debt growing at
# 4 MiB/s (64 more writes of that size) against a ceiling of 100 IOPS
# (95 pressed); no throughput ceiling
$node->safe_psql('postgres',
	"ALTER SYSTEM SET iosat.iops_limit = 100; ALTER SYSTEM SET iosat.throughput_limit = 0; SELECT pg_reload_conf()");
$node->poll_query_until('postgres', 'SELECT throughput_limit_mb IS NULL FROM iosat_controller')
  or die 'reload';
open(my $sf, '<', $fx->sysroot . '/block/fake0/stat') or die "stat: $!";
my @f = split ' ', scalar <$sf>;
close $sf;
my $writes = $fx->start_load('fake0', { rd_ios => $f[0], rd_ticks => $f[3], wr_ios => $f[4], wr_sectors => $f[6], wr_ticks => $f[7] },
	wr_ios => 50, wr_sectors => 50 * 128, wr_ticks => 50);
ok($node->poll_query_until('postgres', 'SELECT NOT saturated FROM iosat_admission'),
	'50 writes a second of 64 KiB against 100 IOPS: not saturated');
$mb = ctl('write_debt_mb');
$grow = $fx->start_dirtying($v1, $mb * 1048576, 4 * 1048576);
ok($node->poll_query_until('postgres', 'SELECT saturated FROM iosat_admission'),
	'a debt growing by 64 such writes a second: saturated (114 of 100 IOPS)');
$node->poll_query_until('postgres', 'SELECT write_debt_iops > 55 FROM iosat_controller')
  or die 'the owed writes did not reach 55 a second';
my ($owed, $why) = split /\|/,
  ctl("round(write_debt_iops::numeric) || '|' || (SELECT reason FROM iosat_admission)");
cmp_ok($owed, '>', 45, "the writes owed, at the device's write size: $owed a second (64 expected)");
cmp_ok($owed, '<', 85, 'not at the 32-KiB floor (128)');
like($why, qr/IOPS with those owed to write-back, of 100 provisioned/, "the reason says so ($why)");
kill 'TERM', $grow;
waitpid($grow, 0);
ok($node->poll_query_until('postgres', 'SELECT NOT saturated AND write_debt_iops < 1 FROM iosat_controller'),
	'the debt stops growing: nothing owed, the saturation ends');
kill 'TERM', $writes;
waitpid($writes, 0);

# --- 3. cgroup v2, then /proc/meminfo, when the earlier source goes
my $v2 = $fx->memcg_stat(2);
$fx->set_memcg($v2, 2 * 1048576, 0);
unlink($fx->path($v1)) or die "unlink $v1: $!";
ok( $node->poll_query_until('postgres',
		"SELECT write_debt_source = 'memory cgroup v2 /iosat-test' AND write_debt_mb = 2 FROM iosat_controller"),
	'cgroup v2: file_dirty + file_writeback, once the v1 file has gone');
cmp_ok(abs(ctl('write_debt_growth_mbps')), '<', 1, 'a change of source is no growth');
$fx->put('proc/meminfo', "MemTotal:       1000000 kB\nDirty:              1000 kB\nWriteback:            24 kB\nWritebackTmp:          0 kB\n");
unlink($fx->path($v2)) or die "unlink $v2: $!";
ok( $node->poll_query_until('postgres',
		"SELECT write_debt_source = '/proc/meminfo (the whole system)' AND write_debt_mb = 1 FROM iosat_controller"),
	'no cgroup file: Dirty + Writeback of /proc/meminfo, in kB');
cmp_ok(abs(ctl('write_debt_growth_mbps')), '<', 1, 'nor is this one');

# a container without a cgroup namespace: /proc/self/cgroup names the
# host's path, the mount shows the container's cgroup; the nearest match
# with leading components dropped is taken
$fx->put('proc/self/cgroup', "5:memory:/host.slice/ctr-1/iosat-test\n0::/\n");
$fx->set_memcg($v1, 3 * 1048576, 0);
unlink($fx->path('proc/meminfo')) or die "unlink meminfo: $!";
ok( $node->poll_query_until('postgres',
		"SELECT write_debt_source = 'memory cgroup v1 /iosat-test' AND write_debt_mb = 3 FROM iosat_controller"),
	'a host path with no match under the mount: the nearest match, /iosat-test');
$node->stop;

# --- 4. for real: the data directory's device and the server's own cgroup
my $real = iosat_node('debt_real', <<'EOC');
iosat.throughput_limit = '20MB'
iosat.sample_interval = '100ms'
iosat.smoothing_window = '500ms'
EOC
my $fstype = `stat -f -c %T '@{[ $real->data_dir ]}' 2>/dev/null`;
chomp $fstype;
if ($fstype eq 'tmpfs' || $fstype eq 'ramfs')
{
	# pages of a memory file system are never dirty in the write-back sense
	note("real part skipped: the data directory is on $fstype, whose pages are never written back");
	done_testing();
	exit 0;
}
$real->start;
$real->safe_psql('postgres', 'CREATE EXTENSION iosat');
ok( $real->poll_query_until('postgres',
		"SELECT write_debt_source IS NOT NULL AND throughput_mb IS NOT NULL FROM iosat_controller"),
	'real: the write debt is read');
my $src = $real->safe_psql('postgres', 'SELECT write_debt_source FROM iosat_controller');
note("source: $src");
my $before = $real->safe_psql('postgres', 'SELECT write_debt_mb FROM iosat_controller');
my $file = $real->data_dir . '/iosat_debt_test';
my $peak_p = 0;
my $peak_debt = 0;
my $peak_tp = 0;
# 256 MB into the page cache at memory speed, not synced: the device has
# written nothing yet (dirty_expire_centisecs is 30 s)
system('dd', 'if=/dev/zero', "of=$file", 'bs=1M', 'count=256', 'status=none') == 0
  or die "dd: $?";
wait_until(
	sub {
		my ($p, $d, $t) = split /\|/, $real->safe_psql('postgres',
			'SELECT c.pressure, c.write_debt_mb, c.throughput_mb FROM iosat_controller c');
		$peak_p = $p if $p > $peak_p;
		$peak_debt = $d if $d > $peak_debt;
		$peak_tp = $t if $t > $peak_tp;
		return $peak_p >= 1 && $peak_debt - $before >= 200;
	},
	30, 'debt');
note(sprintf('real: debt %.0f MB before, peak %.0f MB; throughput peak %.0f MiB/s; pressure peak %.2f',
	$before, $peak_debt, $peak_tp, $peak_p));
cmp_ok($peak_debt - $before, '>=', 200, 'real: 256 MB written and not synced show as write debt');
cmp_ok($peak_p, '>=', 1, 'real: its growth presses a 20 MiB/s volume before the device has written it');
system('sync');
ok( $real->poll_query_until('postgres',
		"SELECT write_debt_mb < $peak_debt - 200 FROM iosat_controller"),
	'real: after a sync the debt is gone');
unlink($file);
$real->stop;
done_testing();
