# The latency threshold learned per device (iosat.latency_target = -1, the
# default), on the fixture device of 040 with no IOPS ceiling, so that the
# read latency is the only signal.  The governor learns the latency a
# device shows when it is not overloaded (docs/admission.md, "The usual
# latency"):
#   - it starts from the first latency it sees (at most half the unlearned
#     20-ms threshold), and the threshold is twice it, at least 10 ms;
#   - a busy but healthy device whose latency grows for good becomes the
#     usual: not saturated, and the threshold follows;
#   - for the first 30 s a device is sampled its usual follows whatever
#     runs; after that, while a heavy statement runs, what it adds is not
#     learned;
#   - while saturated, the usual rises only over ten minutes, so a storm
#     does not become the usual;
#   - a fall is followed at once.
# Time is counted in the sampler's samples (iosat_status.samples, every
# 100 ms here), not on the clock: a loaded machine gives fewer samples a
# second, not different ones.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IosatTest;

my ($node, $fx, $c) = admission_fixture('usual', <<'EOC');
iosat.latency_target = -1
iosat.iops_limit = 0
EOC

sub q1
{
	return $node->safe_psql('postgres', $_[0]);
}

sub ctl
{
	return q1("SELECT $_[0] FROM iosat_controller WHERE device = 'fake0'");
}

# the fixture device's read counters as the last load left them
sub counters
{
	open(my $sf, '<', $fx->sysroot . '/block/fake0/stat') or die "stat: $!";
	my @f = split ' ', scalar <$sf>;
	close $sf;
	return { rd_ios => $f[0], rd_ticks => $f[3] };
}

my $load;

# reads at 300 a second, each taking MS on average, from where the last
# load left the counters
sub latency
{
	my ($ms) = @_;
	if ($load)
	{
		kill 'TERM', $load;
		waitpid($load, 0);
	}
	$load = $fx->start_load('fake0', counters(), rd_ios => 300, rd_ticks => 300 * $ms);
	# the smoothed latency has followed (200-ms smoothing window)
	ok($node->poll_query_until('postgres',
			"SELECT abs(r_await_ms - $ms) < 0.1 * $ms FROM iosat_controller WHERE device = 'fake0'"),
		"the device reads at $ms ms");
}

# wait until the sampler has taken N more samples
sub samples
{
	my ($n) = @_;
	my $from = q1('SELECT samples FROM iosat_status');
	$node->poll_query_until('postgres', "SELECT samples >= $from + $n FROM iosat_status")
	  or die "the sampler took no $n samples";
}

# the usual latency before and after N more samples
sub usual_over
{
	my ($n) = @_;
	my $before = ctl('usual_await_ms');
	samples($n);
	return ($before, ctl('usual_await_ms'));
}

is(ctl('usual_await_ms IS NULL'), 't', 'idle: nothing learned before the first read');

# --- the first latency seen is the usual one; the floor sets the threshold
latency(4);
ok($node->poll_query_until('postgres',
		"SELECT usual_await_ms BETWEEN 3.6 AND 4.4 AND latency_threshold_ms = 10 FROM iosat_controller"),
	'first reads at 4 ms: the usual latency is 4 ms, the threshold its floor of 10 ms');

# --- busy for good, not overloaded: the usual follows, no saturation.  At
# 8 ms against a threshold of 10 the pressure is 0.8; it falls as the
# usual latency rises.
latency(8);
ok($node->poll_query_until('postgres', <<'SQL'),
SELECT usual_await_ms > 7 AND latency_threshold_ms > 14 FROM iosat_controller
SQL
	'a busy, healthy device at 8 ms: the usual latency follows, the threshold is twice it');
is(q1('SELECT saturated FROM iosat_admission'), 'f', 'and it was not judged saturated');

# --- the first 30 s a device is sampled (300 samples) are learned whatever runs;
# the reads above took at least 21 s to bring the usual from 4 to 7 ms
samples(100);

# --- a heavy statement runs: its latency is not learned
my $h = async_psql($node, 'SELECT pg_sleep(600);', user => 'worker');
ok($node->poll_query_until('postgres', 'SELECT heavy_running >= 1 FROM iosat_controller'),
	'a heavy statement runs');
latency(12);
my ($u0, $u1) = usual_over(30);
cmp_ok(abs($u1 - $u0), '<', 0.05,
	sprintf('while it runs, 12-ms reads leave the usual latency where it was (%.2f -> %.2f ms)', $u0, $u1));
is(q1('SELECT saturated FROM iosat_admission'), 'f', '12 ms is under the learned threshold: not saturated');
cancel_query($node, 'SELECT pg_sleep(600)');
finish_psql($h);
ok($node->poll_query_until('postgres', "SELECT usual_await_ms > $u1 + 0.3 FROM iosat_controller"),
	'once it has ended, the usual latency rises again');

# --- saturated: the storm does not become the usual
latency(60);
ok($node->poll_query_until('postgres', 'SELECT saturated FROM iosat_admission'),
	'60-ms reads: saturated');
($u0, $u1) = usual_over(30);
# over 3 s: at most 60 x (1 - e^(-3/600)) = 0.3 ms with the ten-minute time
# constant (15 s would give 10 ms); allow for a slow machine's longer samples
cmp_ok($u1 - $u0, '<', 1.0,
	sprintf('saturated, the usual latency barely moves (%.2f -> %.2f ms)', $u0, $u1));
cmp_ok($u1, '<', 20, 'and stays far below the storm\'s');

# --- a fall is followed
latency(3);
ok($node->poll_query_until('postgres', 'SELECT NOT saturated FROM iosat_admission'),
	'3-ms reads: saturation over');
($u0, $u1) = usual_over(20);
cmp_ok($u1, '<', $u0 - 0.2, sprintf('the usual latency falls (%.2f -> %.2f ms)', $u0, $u1));

# --- an explicit target replaces the learned threshold; 0 turns the signal off
q1("ALTER SYSTEM SET iosat.latency_target = '25ms'; SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres', 'SELECT latency_threshold_ms = 25 FROM iosat_controller'),
	'iosat.latency_target = 25ms: the threshold is 25 ms');
q1("ALTER SYSTEM SET iosat.latency_target = 0; SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres',
		'SELECT coalesce(latency_threshold_ms, 0) = 0 AND pressure = 0 FROM iosat_controller'),
	'iosat.latency_target = 0: no latency signal, no pressure');

kill 'TERM', $load;
waitpid($load, 0);
$node->stop;
done_testing();
