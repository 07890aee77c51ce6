# iosat works only from shared_preload_libraries, and says so when it is not.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IosatTest;
use File::Temp ();

my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->start;
my ($rc, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION iosat');
isnt($rc, 0, 'CREATE EXTENSION fails without preloading');
like($err, qr/iosat must be loaded via shared_preload_libraries/,
	'the error names shared_preload_libraries');
like($err, qr/HINT:.*shared_preload_libraries.*restart/,
	'the hint says what to do');
is($plain->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'iosat'"),
	0, 'nothing was installed');
# LOAD at run time installs nothing either, and does not break the session
($rc, $out, $err) = $plain->psql('postgres', "LOAD 'iosat'; SELECT 1");
is($out, '1', 'LOAD without preloading is harmless');
$plain->stop;

my $node = iosat_node('preloaded');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');
ok( $node->poll_query_until('postgres',
		'SELECT samples > 1 FROM iosat_status'),
	'sampler runs when preloaded');
like($node->safe_psql('postgres', 'SELECT sampler_pid FROM iosat_status'),
	qr/^\d+$/, 'sampler pid reported');

# a tablespace on a file system without a block device (tmpfs) is reported
# as such, and the sampler goes on
SKIP:
{
	skip '/dev/shm is not a writable tmpfs here', 3
	  unless -d '/dev/shm' && -w '/dev/shm';
	my $dir = File::Temp::tempdir('iosat_t001_XXXX', DIR => '/dev/shm', CLEANUP => 1);
	$node->safe_psql('postgres', "CREATE TABLESPACE shm_ts LOCATION '$dir'");
	ok( $node->poll_query_until('postgres',
			"SELECT status = 'no block device' AND note LIKE '%tmpfs%' AND major IS NULL
			   FROM iosat_devices WHERE roles @> '{\"tablespace shm_ts\"}'"),
		'tablespace on tmpfs: "no block device", with its file system named');
	my $samples = $node->safe_psql('postgres', 'SELECT samples FROM iosat_status');
	ok( $node->poll_query_until('postgres',
			"SELECT samples > $samples + 2 AND last_error IS NULL FROM iosat_status"),
		'not an error: the sampler goes on');
	$node->safe_psql('postgres', 'DROP TABLESPACE shm_ts');
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM iosat_devices WHERE status = 'no block device'"),
		'gone from iosat_devices when the tablespace is dropped');
}

# META.json (PGXN meta-spec 1.0.0) agrees with the control file
{
	my $root = $ENV{TESTDIR} // '.';
	my $meta = do { local $/; open(my $f, '<', "$root/META.json") or die "META.json: $!"; <$f> };
	my $control = do { local $/; open(my $f, '<', "$root/iosat.control") or die; <$f> };
	my ($default) = $control =~ /default_version\s*=\s*'([^']+)'/;
	like($meta, qr/"meta-spec"\s*:\s*\{[^}]*"version"\s*:\s*"1\.0\.0"/s, 'META.json follows meta-spec 1.0.0');
	like($meta, qr/"version"\s*:\s*"\Q$default\E\.0"/, "META.json's version matches default_version $default");
	my ($file) = $meta =~ /"file"\s*:\s*"([^"]+)"/;
	ok(defined $file && -f "$root/$file", "META.json's provided file exists ($file)");
}
$node->stop;
done_testing();
