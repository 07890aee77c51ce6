# The monitoring set-up of contrib/prometheus, for real: Debian's
# prometheus-postgres-exporter with iosat-queries.yaml against a cluster
# with iosat preloaded, scraped over HTTP; and the alerting rules checked
# and unit-tested with promtool (Debian's prometheus package).
#
# The cluster is the admission fixture (test/lib/IosatTest.pm), with the
# real /proc: a fake device fake0 at 300 reads/s and 200 ms against a ceiling of 100 IOPS, so
# that the figures have known values: saturated, one heavy slot held, one
# statement timed out of the queue.  The exporter connects as a plain role
# in pg_monitor, as docs/monitoring.md advises.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use IosatTest;

my $exporter_bin = '/usr/bin/prometheus-postgres-exporter';
my $promtool = '/usr/bin/promtool';
for my $bin ($exporter_bin, $promtool)
{
	plan skip_all => "$bin is not installed (test/lib/deps.sh installs "
	  . "prometheus-postgres-exporter and prometheus)"
	  unless -x $bin;
}

my $root = $ENV{TESTDIR} // '.';
my $contrib = "$root/contrib/prometheus";
my $queries = "$contrib/iosat-queries.yaml";

# --- promtool: the configuration, the rules, their unit tests ------------
{
	my ($out, $err);
	my $ok = IPC::Run::run([ $promtool, 'check', 'config', "$contrib/prometheus.yml" ],
		'>', \$out, '2>', \$err);
	ok($ok, 'promtool check config prometheus.yml') or diag("$out$err");
	like($out . $err, qr/SUCCESS: 1 rule files found/, 'the example configuration loads the rules');

	$ok = IPC::Run::run([ $promtool, 'check', 'rules', "$contrib/iosat-alerts.yml" ],
		'>', \$out, '2>', \$err);
	ok($ok, 'promtool check rules iosat-alerts.yml') or diag("$out$err");
	my ($rules) = ($out . $err) =~ /SUCCESS: (\d+) rules found/;
	cmp_ok($rules // 0, '>=', 8, "iosat-alerts.yml: @{[ $rules // 0 ]} rules");

	# (promtool resolves rule_files beside the test file)
	$ok = IPC::Run::run([ $promtool, 'test', 'rules', "$contrib/iosat-alerts.test.yml" ],
		'>', \$out, '2>', \$err);
	ok($ok, 'promtool test rules iosat-alerts.test.yml') or diag("$out$err");
	like($out . $err, qr/SUCCESS/, 'every alert test passes');
	my $alerts_tested = () = do {
		open(my $f, '<', "$contrib/iosat-alerts.test.yml") or die $!;
		local $/;
		my %seen = map { $_ => 1 } (<$f> =~ /alertname: (\w+)/g);
		keys %seen;
	};
	my $alerts_defined = () = do {
		open(my $f, '<', "$contrib/iosat-alerts.yml") or die $!;
		local $/;
		(<$f> =~ /- alert: (\w+)/g);
	};
	is($alerts_tested, $alerts_defined,
		"every alert has a unit test ($alerts_tested of $alerts_defined)");
}

# --- a cluster under saturation -------------------------------------------
# (the real /proc: the profiler reads every process's task state there)
my ($node, $fx, $c, $saturate, $calm) = admission_fixture('prom', "iosat.procfs_root = '/proc'\n");
$node->safe_psql('postgres', 'CREATE ROLE prom_exporter LOGIN IN ROLE pg_monitor');

# the exporter, on a free port, as prom_exporter
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log = "$PostgreSQL::Test::Utils::log_path/090_exporter.log";
my $exporter;
{
	local $ENV{DATA_SOURCE_NAME} = sprintf(
		'host=%s port=%d user=prom_exporter dbname=postgres sslmode=disable',
		$node->host, $node->port);
	# built-in and settings metrics off: every query run is one of iosat's,
	# so pg_exporter_last_scrape_error speaks of them alone
	$exporter = IPC::Run::start(
		[
			$exporter_bin, "--web.listen-address=127.0.0.1:$port",
			"--extend.query-path=$queries", '--disable-default-metrics',
			'--disable-settings-metrics'
		],
		'<', \undef, '>', $log, '2>&1');
}
END { $exporter->kill_kill if $exporter && $exporter->pumpable; }

my $http = HTTP::Tiny->new(timeout => 10);

sub scrape
{
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	return $r->{success} ? $r->{content} : undef;
}

# name -> type, and name -> [ [ {labels}, value ], ... ]
sub parse
{
	my ($text) = @_;
	my (%type, %samples);
	for my $line (split /\n/, $text)
	{
		if ($line =~ /^# TYPE (\S+) (\S+)$/)
		{
			$type{$1} = $2;
		}
		elsif ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/)
		{
			my ($name, $labels, $value) = ($1, $2 // '', $3);
			my %l;
			$l{$1} = $2 while $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
			push @{ $samples{$name} }, [ \%l, $value ];
		}
	}
	return (\%type, \%samples);
}

ok(wait_until(sub { my $t = scrape(); defined $t && $t =~ /^iosat_status_samples_total/m },
		60, 'the exporter serving iosat metrics'),
	"the exporter answers on 127.0.0.1:$port with iosat metrics");

# saturated, the one slot held, one statement timed out of the queue
$saturate->();
$node->poll_query_until('postgres', 'SELECT heavy_limit = 1 FROM iosat_admission')
  or die 'the limit did not come down to 1';
my $holder = async_psql($node, 'SELECT pg_sleep(8);', user => 'worker');
ok($node->poll_query_until('postgres', 'SELECT heavy_running = 1 FROM iosat_admission'),
	'a heavy statement holds the slot');
my ($rc, $out, $err) = $node->psql('postgres',
	"SET iosat.queue_timeout = '300ms'; SELECT 1;",
	extra_params => [ '-U', 'worker' ]);
like($err, qr/statement waited \d+ ms for I\/O capacity/, 'a statement timed out of the queue');

# wait for the states the figures below are checked against (on a loaded
# machine the sampler and the profiler may not have got there yet)
ok($node->poll_query_until('postgres',
		"SELECT (SELECT samples > 10 FROM iosat_status)
		    AND (SELECT coalesce(sum(samples), 0) > 0 FROM iosat_wait_profile WHERE backend_type = 'client backend')"),
	'the sampler has taken samples and the profiler has seen client backends');

my ($type, $s) = parse(scrape() // '');
my @families = sort grep { /^iosat_/ } keys %$type;
cmp_ok(scalar @families, '>=', 40, scalar(@families) . ' iosat metric families scraped');
note("scraped: @families");

# exporter health: the queries file loaded, every query ran
sub value
{
	my ($name, %want) = @_;
	for my $sample (@{ $s->{$name} // [] })
	{
		my ($l, $v) = @$sample;
		return $v unless grep { ($l->{$_} // '') ne $want{$_} } keys %want;
	}
	return undef;
}
is(value('pg_exporter_user_queries_load_error'), '0', 'the queries file loaded');
is(value('pg_exporter_last_scrape_error'), '0', 'every iosat query ran without error');
is(value('pg_up'), '1', 'pg_up 1');

# types: counters are counters and end in _total; the rest are gauges
my @bad_types = grep {
	($type->{$_} eq 'counter') != ($_ =~ /_total$/)
	  || $type->{$_} !~ /^(counter|gauge)$/
} @families;
is_deeply(\@bad_types, [], 'every *_total is a counter and every counter ends in _total');
is($type->{$_}, 'counter', "TYPE $_ counter")
  for qw(iosat_admission_timeouts_total iosat_admission_queued_total
  iosat_admission_queue_wait_seconds_total iosat_status_samples_total
  iosat_wait_profile_samples_total iosat_vacuum_ticks_total);
is($type->{$_}, 'gauge', "TYPE $_ gauge")
  for qw(iosat_admission_saturated iosat_device_read_ops_per_second
  iosat_device_read_await_seconds iosat_status_sample_age_seconds
  iosat_vacuum_cost_multiplier);

# every sample carries the exporter's server label
my @no_server = grep {
	my $f = $_;
	grep { !defined $_->[0]{server} } @{ $s->{$f} // [] }
} @families;
is_deeply(\@no_server, [], 'every iosat sample has the server label');

# values, against what the fixture does
my %dev = (device => 'fake0');
my $riops = value('iosat_device_read_ops_per_second', %dev);
ok(defined $riops && $riops > 150 && $riops < 450, "fake0 reads: $riops/s (fixture: 300)");
my $await = value('iosat_device_read_await_seconds', %dev);
ok(defined $await && $await > 0.1 && $await < 0.4, "fake0 read await: $await s (fixture: 0.2)");
is(value('iosat_device_limit_ops_per_second', %dev), '100', 'fake0 ceiling: 100 IOPS');
my $util = value('iosat_device_utilization_ratio', %dev);
ok(defined $util && $util >= 0 && $util <= 1.01, "utilization is a ratio ($util)");
is(value('iosat_device_stalled_seconds', %dev), '0', 'fake0 is not stalled');
is(value('iosat_device_status_info', device => 'fake0', status => 'ok', roles => 'configured', source => 'sysfs'),
	'1', 'iosat_device_status_info{device="fake0",status="ok",roles="configured",source="sysfs"}');
is(value('iosat_admission_saturated'), '1', 'saturated');
ok(value('iosat_admission_saturated_seconds') > 0, 'saturated for ' . value('iosat_admission_saturated_seconds') . ' s');
is(value('iosat_admission_heavy_limit'), '1', 'one heavy slot');
is(value('iosat_admission_heavy_running'), '1', 'held by one statement');
cmp_ok(value('iosat_admission_timeouts_total'), '>=', 1, 'the timeout is counted');
cmp_ok(value('iosat_admission_queued_total'), '>=', 1, 'so is its entry in the queue');
cmp_ok(value('iosat_admission_pressure'), '>=', 1, 'pressure >= 1: pressed');
is(value('iosat_admission_mode_info', mode => 'queue'), '1', 'iosat_admission_mode_info{mode="queue"}');
is(value('iosat_controller_heavy_apart', device => 'fake0'), '0', 'iosat_controller{device="fake0"}: none admitted apart');
is(value('iosat_controller_latency_threshold_seconds', device => 'fake0'), '0.02',
	'the latency threshold in use: the fixture\'s fixed 20 ms');
cmp_ok(value('iosat_controller_iops_use_ratio', device => 'fake0'), '>', 1, 'IOPS over the ceiling');
is($type->{iosat_controller_heavy_completed_total}, 'counter', 'heavy_completed_total is a counter');
is($type->{iosat_controller_heavy_blocks_dirtied_total}, 'counter', 'heavy_blocks_dirtied_total (1.5) is a counter');
is($type->{$_}, 'gauge', "$_ (1.6) is a gauge")
  for qw(iosat_write_debt_bytes iosat_write_debt_throughput_bytes_per_second);
is(value('iosat_status_sampler_up'), '1', 'the sampler runs');
is(value('iosat_status_stale'), '0', 'and is not stale');
cmp_ok(value('iosat_status_sample_age_seconds'), '<', 2, 'the last sample is fresh');
is(value('iosat_status_sample_interval_seconds'), '0.1', 'sample interval 0.1 s');
cmp_ok(value('iosat_status_samples_total'), '>', 10, 'samples counted');
ok(abs(value('iosat_status_last_sample_timestamp_seconds') - time()) < 60, 'last sample time is now');
is(value('iosat_bpf_info', status => 'off'), '1', 'iosat_bpf_info{status="off"} (a fixture /sys: no BPF)');
is(value('iosat_vacuum_max_slowdown'), '100', 'vacuum max slowdown: the default 100');
is(value('iosat_vacuum_backpressure_enabled'), '0', 'vacuum backpressure off (the default)');
my $profiled = 0;
$profiled += $_->[1] for @{ $s->{iosat_wait_profile_samples_total} // [] };
cmp_ok($profiled, '>', 0, "wait profile: $profiled samples over "
	  . scalar(@{ $s->{iosat_wait_profile_samples_total} // [] }) . ' series');
my $client = 0;
$client += $_->[1]
  for grep { $_->[0]{backend_type} eq 'client backend' } @{ $s->{iosat_wait_profile_samples_total} // [] };
cmp_ok($client, '>', 0, "client backends are in the profile ($client samples)");
is(value('iosat_profiler_enabled'), '1', 'the profiler runs');

finish_psql($holder);
$calm->();
($type, $s) = parse(scrape() // '');
is(value('iosat_admission_saturated'), '0', 'a scrape after the calm: not saturated');
is(value('iosat_admission_heavy_limit'), '0', 'no limit in force');

$exporter->signal('TERM');
$exporter->finish;
$node->stop;
done_testing();
