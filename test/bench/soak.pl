# The soak (not part of CI; run by test/bench/soak.sh): SOAK_MINUTES of
# storm cycles — the fixture device saturated for 20 s, calm for 10 s — under
# a steady pgbench load of cheap and heavy statements, with random cancels
# and terminates of the heavy ones.  At the end: no slot, no queue place, the
# queue's books balance, nothing reclaimed, and the resident memory of the
# sampler, the profiler and the long-lived pgbench backends has not grown.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IPC::Run;
use IosatTest;

my $minutes = $ENV{SOAK_MINUTES} // 30;
my $out = $ENV{SOAK_OUT} // '.';
my ($node, $fx, $c, $saturate, $calm) = admission_fixture('soak',
	"iosat.queue_timeout = '3s'\nmax_connections = 100\niosat.max_queued = 80\n");

sub sql { $node->safe_psql('postgres', $_[0]) }

sub rss_kb
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/status") or return 0;
	while (my $line = <$fh>) { return $1 if $line =~ /^VmRSS:\s+(\d+)/; }
	return 0;
}

# steady load: 6 heavy clients (worker), 6 cheap clients (postgres), each
# a long-lived connection, for the whole soak
my $script = PostgreSQL::Test::Utils::tempdir() . '/heavy.sql';
open(my $fh, '>', $script) or die;
print $fh "SELECT count(*) FROM t WHERE v >= 0;\nSELECT pg_sleep(0.05);\n";
close($fh);
my $cheap = PostgreSQL::Test::Utils::tempdir() . '/cheap.sql';
open($fh, '>', $cheap) or die;
print $fh "\\set id random(1, 1000)\nSELECT v FROM t WHERE id = :id;\n";
close($fh);
my $secs = $minutes * 60 + 30;
my @bench;
for my $spec ([ 'worker', $script, 6, 100 ], [ 'postgres', $cheap, 6, 300 ])
{
	my ($user, $file, $n, $rate) = @$spec;
	my ($o, $e) = ('', '');
	push @bench, IPC::Run::start(
		[ 'pgbench', '-n', '-c', $n, '-j', 2, '-T', $secs, '-R', $rate, '-f', $file,
		  '-U', $user, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$o, '2>', \$e);
}
sleep(5);
my @cheap_pids = split /\n/, sql("SELECT pid FROM pg_stat_activity WHERE usename = 'postgres' AND backend_type = 'client backend' AND pid <> pg_backend_pid()");
my ($sampler, $profiler) = split /\|/, sql("SELECT s.sampler_pid, p.profiler_pid FROM iosat_status s, iosat_profiler p");
my %rss0 = map { $_ => rss_kb($_) } grep { $_ } ($sampler, $profiler, @cheap_pids);
diag("start RSS (kB): " . join(', ', map { "$_=$rss0{$_}" } sort keys %rss0));

my ($cycles, $interrupts) = (0, 0);
my $t_end = time() + $minutes * 60;
while (time() < $t_end)
{
	$saturate->();
	my $storm_end = time() + 20;
	while (time() < $storm_end)
	{
		my $r = rand();
		my $fn = $r < 0.8 ? 'pg_cancel_backend' : 'pg_terminate_backend';
		sql("SELECT $fn(pid) FROM pg_stat_activity WHERE usename = 'worker' ORDER BY random() LIMIT 1");
		$interrupts++;
		usleep(200_000 + int(rand(600_000)));
	}
	$calm->();
	sleep(10);
	$cycles++;
}

# memory while the long-lived connections are still there
my %rss1 = map { $_ => rss_kb($_) } keys %rss0;
$_->kill_kill for @bench;
ok( $node->poll_query_until('postgres',
		'SELECT heavy_running = 0 AND heavy_apart = 0 AND queued = 0 FROM iosat_controller'),
	'no slot and no queue place left after the soak');
my ($entered, $admitted, $left, $reclaimed, $events) = split /\|/,
  sql('SELECT entered_queue, admitted_from_queue, left_queue, reclaimed, saturation_events FROM iosat_admission');
is($admitted + $left, $entered, 'the queue books balance');
is($reclaimed, 0, 'nothing had to be reclaimed');
ok($events >= $cycles, "every storm cycle was seen ($events saturations, $cycles cycles)");

my @grew;
for my $pid (sort keys %rss0)
{
	next unless $rss1{$pid};    # a cheap client's backend that ended
	push @grew, "$pid: $rss0{$pid} -> $rss1{$pid} kB"
	  if $rss1{$pid} > $rss0{$pid} * 1.10 + 1024;
}
ok(!@grew, 'no resident memory growth over 10% + 1 MB') or diag(join("\n", @grew));

my $summary = sprintf(
	"soak: %d min, %d storm cycles, %d random cancels/terminates\n"
	  . "queue: entered %d, admitted %d, left %d, reclaimed %d; saturations %d\n"
	  . "RSS kB start/end: %s\n",
	$minutes, $cycles, $interrupts, $entered, $admitted, $left, $reclaimed, $events,
	join(', ', map { "$_ $rss0{$_}/" . ($rss1{$_} // 0) } sort keys %rss0));
diag($summary);
if (open(my $s, '>', "$out/soak-summary.txt")) { print $s $summary; close($s); }
$node->stop;
done_testing();
