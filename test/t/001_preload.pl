# iosat works only from shared_preload_libraries, and says so when it is not.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IosatTest;

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
$node->stop;
done_testing();
