# iosat on real block devices: pg_wal on one loop device (initdb --waldir),
# a tablespace on another, created while the server runs; a known fio load
# on each; iosat_devices must agree with the kernel's own counters
# (/sys/block/<dev>/stat, read by this test) within 10%.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

plan skip_all => 'needs the root helper (run through test/run-tests.sh)'
  unless rootctl_available();
plan skip_all => 'fio is not installed' if system('fio --version >/dev/null 2>&1') != 0;

my $wal = rootctl('loop-create', 'iosat-t020-wal', 256);
my $ts = rootctl('loop-create', 'iosat-t020-ts', 256);
END
{
	# never leave devices behind, whatever happened above
	eval { rootctl('destroy', 'iosat-t020-wal') };
	eval { rootctl('destroy', 'iosat-t020-ts') };
}
my ($waldev) = $wal->{dev} =~ m{/dev/(\S+)};
my ($tsdev) = $ts->{dev} =~ m{/dev/(\S+)};

my $node = iosat_node(
	'loopdev', <<'EOC',
iosat.sample_interval = '200ms'
iosat.smoothing_window = '1s'
EOC
	extra => [ '--waldir', "$wal->{mnt}/pg_wal" ]);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');

sub roles_of
{
	my ($dev) = @_;
	return $node->safe_psql('postgres',
		"SELECT roles FROM iosat_devices WHERE device = '$dev'");
}

ok(wait_until(sub { roles_of($waldev) eq '{wal}' }, 10),
	"pg_wal symlinked to $waldev is found with role wal");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM iosat_devices WHERE 'data' = ANY (roles) AND device <> '$waldev'"),
	1, 'the data directory has its own device');

# a tablespace created at run time is discovered without a reload
mkdir("$ts->{mnt}/ts") or die "mkdir: $!";
$node->safe_psql('postgres', "CREATE TABLESPACE iosat_ts LOCATION '$ts->{mnt}/ts'");
ok(wait_until(sub { roles_of($tsdev) eq '{"tablespace iosat_ts"}' }, 10),
	"new tablespace on $tsdev discovered, named in roles");

# lay out the fio files with real data first: reads of fallocated
# (unwritten) extents are answered by ext4 without touching the device
for my $f ("$ts->{mnt}/fio.dat", "$wal->{mnt}/fio.dat")
{
	system("fio --name=layout --filename=$f --size=64M --rw=write --bs=1M "
		  . "--direct=1 --fallocate=none --output=/dev/null") == 0
	  or die "fio layout failed";
}

sub kstat
{
	my ($dev) = @_;
	open(my $fh, '<', "/sys/block/$dev/stat") or die "$dev: $!";
	my @f = split ' ', scalar <$fh>;
	return { rd_ios => $f[0], rd_ticks => $f[3], wr_ios => $f[4], t => time() };
}

my @fio = ('fio', '--time_based', '--runtime=9', '--bs=4k', '--direct=1',
	'--ioengine=psync', '--size=64M', '--randrepeat=0');
my $reader = fork();
if ($reader == 0)
{
	exec(@fio, '--name=reads', "--filename=$ts->{mnt}/fio.dat",
		'--rw=randread', '--rate_iops=300', '--output=/dev/null');
}
my $writer = fork();
if ($writer == 0)
{
	exec(@fio, '--name=writes', "--filename=$wal->{mnt}/fio.dat",
		'--rw=randwrite', '--rate_iops=150', '--output=/dev/null');
}

# compare means over the same 5-second window: the kernel's from two
# readings of its counters, iosat's from its per-interval rates read at
# every sample in between (a loaded machine makes fio's rate wobble, so an
# instantaneous smoothed value is not what to compare)
sleep(2);
my ($r0, $w0) = (kstat($tsdev), kstat($waldev));
my (%seen, @r, @w);
my $until = time() + 5;
while (time() < $until)
{
	my ($t, $ri, $wi) = split /\|/,
	  $node->safe_psql('postgres',
		"SELECT (SELECT sample_time FROM iosat_devices WHERE device = '$tsdev'),
		        (SELECT r_iops_last FROM iosat_devices WHERE device = '$tsdev'),
		        (SELECT w_iops_last FROM iosat_devices WHERE device = '$waldev')");
	if (!$seen{$t}++)
	{
		push @r, $ri;
		push @w, $wi;
	}
	usleep(50_000);
}
my ($r1, $w1) = (kstat($tsdev), kstat($waldev));
my $mean = sub { my $n = 0; $n += $_ for @_; @_ ? $n / @_ : 0 };
my ($iosat_r, $iosat_w) = ($mean->(@r), $mean->(@w));
my $iosat_rawait = $node->safe_psql('postgres',
	"SELECT r_await_ms FROM iosat_devices WHERE device = '$tsdev'");
waitpid($reader, 0);
waitpid($writer, 0);

my $k_r = ($r1->{rd_ios} - $r0->{rd_ios}) / ($r1->{t} - $r0->{t});
my $k_w = ($w1->{wr_ios} - $w0->{wr_ios}) / ($w1->{t} - $w0->{t});
diag(sprintf("reads on %s: kernel %.1f/s, iosat %.1f/s; writes on %s: kernel %.1f/s, iosat %.1f/s (%d samples)",
		$tsdev, $k_r, $iosat_r, $waldev, $k_w, $iosat_w, scalar @r));
ok($k_r > 100, 'the read load reached the device');
ok(abs($iosat_r - $k_r) <= 0.10 * $k_r, 'read IOPS within 10% of the kernel counters');
ok($k_w > 50, 'the write load reached the device');
ok(abs($iosat_w - $k_w) <= 0.10 * $k_w, 'write IOPS within 10% of the kernel counters');
ok(defined $iosat_rawait && $iosat_rawait >= 0, 'read latency reported');

# when the load stops, the smoothed rate follows it down
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT r_iops < 10 FROM iosat_devices WHERE device = '$tsdev'")
			  eq 't';
		},
		15),
	'rates fall back when the load stops');

$node->safe_psql('postgres', 'DROP TABLESPACE iosat_ts');
$node->stop;
done_testing();
