# Vacuum backpressure's switch and signals, on a fixture device (no root,
# seconds): autovacuum workers vacuum three cost-throttled tables, one
# worker at a time, on the ordinary disk; the fixture device fake0 is what
# the sampler judges, idle or saturated at will.
#
#  1. backpressure off: a worker shows in iosat_vacuum, but no tick is
#     armed (every tick cuts a nap short: installing iosat must not make
#     vacuum faster), and its costs are the configured ones;
#  2. a reload turns it on: the worker's current table goes on untouched,
#     its next table is ticked;
#  3. the only signal is iosat.read_iops_limit: an idle device lets the
#     multiplier fall below 1, reads above the ceiling raise it above 1,
#     published and applied (the signal admission already acted on);
#  4. a reload turns it off: the costs are back at base within ticks, and
#     the tick is disarmed at the next table;
#  5. a ceiling for a device that is not sampled is no signal: on, and the
#     multiplier stays 1.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

my ($node, $fx, $c, $saturate, $calm) = admission_fixture('vacswitch', <<'EOC');
iosat.iops_limit = 0
iosat.latency_target = 0
iosat.read_iops_limit = 100
iosat.vacuum_backpressure = off
iosat.vacuum_max_slowdown = 4
iosat.vacuum_tick = '250ms'
autovacuum_naptime = '1s'
autovacuum_max_workers = 1
autovacuum_vacuum_cost_delay = '20ms'
autovacuum_vacuum_cost_limit = 50
log_autovacuum_min_duration = 0
EOC

sub sql { return $node->safe_psql('postgres', $_[0]) }

sub set_conf
{
	my ($setting, $value) = @_;
	sql("ALTER SYSTEM SET $setting = '$value'");
	sql('SELECT pg_reload_conf()');
}

# three tables with half their rows dead on every page: ~7000 heap pages
# each, ~60 s of a worker at these costs (22 per pruned page, 50 per 20 ms)
for my $t (qw(va vb vc))
{
	sql(<<"SQL");
CREATE TABLE $t (id int, pad text) WITH (autovacuum_enabled = off);
INSERT INTO $t SELECT g, repeat('x', 100) FROM generate_series(1, 400000) g;
DELETE FROM $t WHERE id % 2 = 0;
SQL
}
sql('CHECKPOINT');
my $configured = sql("SELECT current_setting('vacuum_cost_page_hit') || ',' || current_setting('vacuum_cost_page_miss') || ',' || current_setting('vacuum_cost_page_dirty')");

# the autovacuum worker's row, while it scans the heap of one of our tables
# (a worker may be in another database first)
sub worker
{
	my $r = sql(<<'SQL');
SELECT pid, relation, state, ticks, multiplier, target_multiplier,
       page_hit || ',' || page_miss || ',' || page_dirty,
       base_page_hit || ',' || base_page_miss || ',' || base_page_dirty
  FROM iosat_vacuum
 WHERE kind = 'autovacuum' AND phase = 'scanning heap' AND relation IN ('va', 'vb', 'vc')
SQL
	return undef if $r eq '';
	my @f = split /\|/, $r;
	return { pid => $f[0], rel => $f[1], state => $f[2], ticks => $f[3],
		m => $f[4], target => $f[5], cost => $f[6], base => $f[7] };
}

# wait for the worker to scan a table other than those in @not
sub worker_on_new_table
{
	my ($what, @not) = @_;
	my $w;
	wait_until(sub { $w = worker(); $w && !grep { $_ eq $w->{rel} } @not }, 60, $what);
	return $w;
}

sub published { sql('SELECT multiplier FROM iosat_vacuum_status') }

# --- 1. off: the worker shows, unticked, at its configured costs
# in one transaction: the worker's list has all three
sql(join('', 'BEGIN;',
	map { "ALTER TABLE $_ SET (autovacuum_enabled = on, autovacuum_vacuum_scale_factor = 0, "
		  . "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 2000000000);" }
	  qw(va vb vc)) . 'COMMIT;');
my $w = worker_on_new_table('a worker on a table');
ok($w, 'backpressure off: an autovacuum worker vacuums a table, with a row in iosat_vacuum');
my ($pid, $first) = ($w->{pid}, $w->{rel});
note("worker $pid on $first");
# four ticks' worth, on the table
sleep(1);
$w = worker();
is($w->{rel}, $first, 'still on the same table');
is($w->{ticks}, '0', 'backpressure off: no tick (no timer armed)');
is($w->{state}, 'disabled', 'state "disabled"');
is($w->{m}, '1', 'multiplier 1');
is($w->{cost}, $configured, "page costs as configured ($configured)");
is($w->{base}, $configured, 'base costs as configured');

# --- 2. on: the current table goes on untouched, the next one is ticked
set_conf('iosat.vacuum_backpressure', 'on');
ok(wait_until(sub { sql('SELECT backpressure FROM iosat_vacuum_status') eq 't' }, 10, 'on'),
	'backpressure on (published)');
sleep(1);
$w = worker();
is("$w->{pid} $w->{rel} $w->{ticks}", "$pid $first 0",
	'reload on: the same worker on the same table is still not ticked');
# cancelled, the worker goes on with the next table in its list
sql("SELECT pg_cancel_backend($pid)");
$w = worker_on_new_table('the next table', $first);
my $second = $w->{rel};
is($w->{pid}, $pid, "the same worker moves to the next table ($second)");
ok(wait_until(sub { $w = worker(); $w && $w->{ticks} > 0 && $w->{state} eq 'applied' }, 10, 'ticks'),
	"its next table is ticked (ticks $w->{ticks}, state $w->{state})");

# --- 3. the read ceiling alone is a signal: headroom, then pressure
ok(wait_until(sub { published() < 1 }, 15, 'speed-up'),
	'read ceiling only, device idle: the published multiplier falls below 1 (' . published() . ')');
$saturate->();
ok(wait_until(sub { published() > 1 }, 10, 'slowdown'),
	'reads above the read ceiling: the published multiplier rises above 1 (' . published() . ')');
ok(wait_until(sub { $w = worker(); $w && $w->{m} > 1 }, 10, 'applied'),
	"and the worker applies it (multiplier $w->{m}, costs $w->{cost})");
$calm->();

# --- 4. off: costs back at base within ticks, disarmed at the next table
set_conf('iosat.vacuum_backpressure', 'off');
ok(wait_until(sub { $w = worker(); $w && $w->{state} eq 'disabled' && $w->{cost} eq $configured }, 10, 'off'),
	"reload off: the ticking worker is back at its configured costs ($w->{cost})");
is($w->{rel}, $second, 'on the same table');
sql("SELECT pg_cancel_backend($w->{pid})");
$w = worker_on_new_table('the third table', $first, $second);
my $third = $w->{rel};
my $ticks = $w->{ticks};
sleep(1);
$w = worker();
is("$w->{rel} $w->{ticks}", "$third $ticks", "at the next table ($third) the tick is disarmed: ticks stay at $ticks");
is($w->{state}, 'disabled', 'state "disabled"');
is($w->{cost}, $configured, 'page costs as configured');

# --- 5. a ceiling for a device not sampled is no signal
set_conf('iosat.read_iops_limit', '0');
set_conf('iosat.device_iops_limits', 'nosuch0:100');
set_conf('iosat.vacuum_backpressure', 'on');
ok(wait_until(sub { sql('SELECT backpressure FROM iosat_vacuum_status') eq 't' }, 10, 'on'),
	'backpressure on again');
# the multiplier would be 0.72 after 2 s of relaxing at 15 % a second
sleep(2);
is(published(), '1', 'only a ceiling for a device not sampled: the multiplier stays 1');

done_testing();
