# The kernel-state views against a fixture procfs (iosat.procfs_root):
# exact values through the production parsers, for states the machine will
# not show on demand -- a backend in D on folio_wait_bit_common with SIGTERM
# pending (the incident's "terminated but still there"), delay accounting on,
# off and absent, /proc/<pid>/io unreadable, an unsigned stat field above
# INT64_MAX, and iosat_loadavg's figures and formula from a known
# /proc/loadavg and /proc/stat.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Path qw(make_path remove_tree);
use POSIX ();
use IosatTest;

my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK);
my $root = PostgreSQL::Test::Utils::tempdir() . '/proc';
make_path("$root/sys/kernel");
symlink('/proc/self', "$root/self") or die "symlink: $!";

sub put
{
	my ($rel, $content) = @_;
	my $path = "$root/$rel";
	open(my $fh, '>', "$path.tmp") or die "open $path: $!";
	print $fh $content;
	close($fh);
	rename("$path.tmp", $path) or die "rename: $!";
}

put('loadavg', "12.50 8.25 4.00 3/500 4321\n");
put('stat', "cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\n"
	  . "intr 12345 " . join(' ', (0) x 300) . "\nctxt 99\nbtime 1700000000\n"
	  . "processes 4242\nprocs_running 3\nprocs_blocked 7\nsoftirq 1 2 3\n");
put('sys/kernel/task_delayacct', "1\n");

my $node = iosat_node('procfix', <<"EOC");
iosat.procfs_root = '$root'
iosat.profile_interval = '50ms'
EOC
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');
open(my $pidfile, '<', $node->data_dir . '/postmaster.pid') or die "postmaster.pid: $!";
my $pm = <$pidfile>;
chomp $pm;
close($pidfile);

# a real backend whose /proc directory is made up
my $victim = $node->background_psql('postgres');
my $vpid = $victim->query_safe('SELECT pg_backend_pid()');
make_path("$root/$vpid");

# /proc/<pid>/stat, 52 fields: state D, utime 250, stime 50, majflt 42,
# minflt 1000, processor 1, delayacct_blkio_ticks 123, rsslim unlimited
my @f = (0) x 53;
@f[ 4, 10, 12, 14, 15, 20, 25, 39, 42 ] =
  ($pm, 1000, 42, 250, 50, 1, '18446744073709551615', 1, 123);
my $stat = "$vpid (postgres) D " . join(' ', @f[ 4 .. 52 ]) . "\n";
put("$vpid/stat", $stat);
put("$vpid/status",
	"Name:\tpostgres\nState:\tD (disk sleep)\nVmRSS:\t   20480 kB\n"
	  . "SigQ:\t2/7823\nSigPnd:\t0000000000000000\nShdPnd:\t0000000200004000\n"
	  . "SigBlk:\t0000000000000000\nvoluntary_ctxt_switches:\t77\n"
	  . "nonvoluntary_ctxt_switches:\t5\n");
put("$vpid/io",
	"rchar: 111\nwchar: 222\nsyscr: 3\nsyscw: 4\nread_bytes: 81920\n"
	  . "write_bytes: 8192\ncancelled_write_bytes: 4096\n");
put("$vpid/wchan", "folio_wait_bit_common");

sub victim_row
{
	my ($cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM iosat_backends WHERE pid = $vpid");
}

is( victim_row(
		"task_state || '|' || task_state_name || '|' || wchan || '|' || pending_signals::text"),
	'D|disk sleep|folio_wait_bit_common|{SIGTERM,SIG34}',
	'a backend in D on folio_wait_bit_common with SIGTERM pending (ShdPnd decoded)');
is( victim_row(
		"rchar || '|' || wchar || '|' || read_bytes || '|' || write_bytes || '|' "
		  . "|| cancelled_write_bytes || '|' || syscr || '|' || syscw"),
	'111|222|81920|8192|4096|3|4',
	'/proc/<pid>/io columns');
is( victim_row(
		"voluntary_ctxt_switches || '|' || nonvoluntary_ctxt_switches || '|' "
		  . "|| minor_faults || '|' || major_faults || '|' || rss_kb || '|' || last_cpu"),
	'77|5|1000|42|20480|1',
	'context switches, faults, RSS, last CPU');
is( victim_row("round(user_cpu_s::numeric, 4) || '|' || round(system_cpu_s::numeric, 4)"),
	sprintf('%.4f|%.4f', 250 / $hz, 50 / $hz),
	"CPU times in seconds (ticks / $hz)");
is( victim_row("round(blkio_delay_s::numeric, 4) || '|' || coalesce(kernel_note, 'none')"),
	sprintf('%.4f|none', 123 / $hz),
	'block-I/O delay from delayacct_blkio_ticks when delay accounting is on');

put('sys/kernel/task_delayacct', "0\n");
is( victim_row("coalesce(blkio_delay_s::text, 'null') || '|' || kernel_note"),
	'null|blkio_delay_s: delay accounting is off (sysctl kernel.task_delayacct = 0)',
	'delay accounting off: NULL, with the reason');
unlink("$root/sys/kernel/task_delayacct");
like(victim_row("round(blkio_delay_s::numeric, 4) || '|' || kernel_note"),
	qr/^\d+\.\d+\|blkio_delay_s: kernel.task_delayacct not found/,
	'no sysctl (kernel < 5.14): the value, and a note');
put('sys/kernel/task_delayacct', "1\n");

chmod(0, "$root/$vpid/io") or die;
is( victim_row(
		"coalesce(read_bytes::text, 'null') || '|' || task_state || '|' || kernel_note"),
	'null|D|/proc/<pid>/io: permission denied',
	'/proc/<pid>/io unreadable: its columns NULL, the rest there, the reason given');
chmod(0644, "$root/$vpid/io") or die;

put("$vpid/status", "Name:\tpostgres\nState:\tD (disk sleep)\nShdPnd:\tzz\n");
like(victim_row("coalesce(pending_signals::text, 'null') || '|' || kernel_note"),
	qr{^null\|/proc/<pid>/status: unexpected content},
	'malformed status: NULL signals, said so');

# the process "exits": its directory disappears
remove_tree("$root/$vpid");
is($node->safe_psql('postgres', "SELECT count(*) FROM iosat_backends WHERE pid = $vpid"),
	0, 'a process whose /proc directory is gone is left out');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $vpid"),
	1, '(while pg_stat_activity still lists the backend)');

# ---------------------------------------------------------------- loadavg

# Postgres processes: the postmaster (S) and a made-up child in D; another
# made-up process in D and one running, outside Postgres
make_path("$root/$pm", "$root/999991", "$root/999992", "$root/999993");
my @g = (0) x 53;
$g[4] = 1;
put("$pm/stat", "$pm (postgres) S " . join(' ', @g[ 4 .. 52 ]) . "\n");
put("$pm/wchan", "poll_schedule_timeout.constprop.0");
$g[4] = $pm;
put("999991/stat", "999991 (postgres) D " . join(' ', @g[ 4 .. 52 ]) . "\n");
$g[4] = 1;
put("999992/stat", "999992 (jbd2/loop3-8) D " . join(' ', @g[ 4 .. 52 ]) . "\n");
put("999993/stat", "999993 (a (weird) name) R " . join(' ', @g[ 4 .. 52 ]) . "\n");

is( $node->safe_psql('postgres',
		'SELECT load1, load5, load15, running_tasks, total_tasks, procs_running, procs_blocked '
		  . 'FROM iosat_loadavg'),
	'12.5|8.25|4|3|500|3|7',
	'load averages and task counts from /proc/loadavg and /proc/stat');
is( $node->safe_psql('postgres',
		'SELECT pg_processes, pg_running, pg_disk_sleep, other_running, other_disk_sleep '
		  . 'FROM iosat_loadavg'),
	'2|0|1|1|1',
	'now: Postgres processes (postmaster and children) and others, in R and D');

# a child with io_uring worker threads (io_method = io_uring): its stat
# says 5 threads; task/ holds the main thread (S), io-wq workers in D, in
# R and idle in S, and a thread of another name in D.  The busy workers
# count, as the kernel counts them in its load; the process once.
make_path(map { "$root/999994/task/$_" } 999994 .. 999998);
$g[4] = $pm;
$g[20] = 5;
put("999994/stat", "999994 (postgres) S " . join(' ', @g[ 4 .. 52 ]) . "\n");
my %threads = (
	999994 => 'postgres) S',
	999995 => 'iou-wrk-999994) D',
	999996 => 'iou-wrk-999994) R',
	999997 => 'iou-wrk-999994) S',
	999998 => 'other thread) D');
put("999994/task/$_/stat", "$_ ($threads{$_} " . join(' ', @g[ 4 .. 52 ]) . "\n")
  for keys %threads;
$g[20] = 0;
is( $node->safe_psql('postgres',
		'SELECT pg_processes, pg_running, pg_disk_sleep, other_running, other_disk_sleep '
		  . 'FROM iosat_loadavg'),
	'3|1|2|1|1',
	'io_uring worker threads of a Postgres process in R and D count; idle ones and other threads do not');
# the same process, its stat saying one thread: task/ is not read
$g[4] = $pm;
$g[20] = 1;
put("999994/stat", "999994 (postgres) S " . join(' ', @g[ 4 .. 52 ]) . "\n");
$g[4] = 1;
$g[20] = 0;
is( $node->safe_psql('postgres', 'SELECT pg_running, pg_disk_sleep FROM iosat_loadavg'),
	'0|1', 'a process whose stat says one thread: its task directory is not looked at');
remove_tree("$root/999994");

# the profiler samples the postmaster (the only Postgres process it finds
# under this procfs: S), so Postgres's damped load is ~0, and the share is
# 100 * min(1, pg_loadN / loadN)
ok( wait_until(
		sub {
			$node->safe_psql('postgres', 'SELECT window_passes >= 3 FROM iosat_loadavg') eq 't';
		},
		30,
		'profiler passes'),
	'the profiler runs under the fixture procfs');
is( $node->safe_psql('postgres', <<'SQL'),
SELECT abs(pg_share1_pct - 100 * least(1, pg_load1 / load1)) < 1e-9
   AND abs(pg_share5_pct - 100 * least(1, pg_load5 / load5)) < 1e-9
   AND abs(pg_share15_pct - 100 * least(1, pg_load15 / load15)) < 1e-9
  FROM iosat_loadavg
SQL
	't',
	'pg_shareN_pct = 100 * min(1, pg_loadN / loadN)');
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM iosat_wait_profile WHERE backend_type = 'postmaster' "
				  . "AND state = 'S' AND wchan = 'poll_schedule_timeout.constprop.0'") == 1;
		},
		30,
		'postmaster in the profile'),
	'the postmaster is in the profile, with its wchan');

# malformed inputs: NULL figures and a note, never an error
put('loadavg', "garbage\n");
put('stat', "cpu 1 2 3\nprocs_running 3\nprocs_running 4\n");
is( $node->safe_psql('postgres',
		"SELECT coalesce(load1::text, 'null') || '|' || coalesce(procs_blocked::text, 'null') "
		  . "|| '|' || note FROM iosat_loadavg"),
	"null|null|$root/loadavg is unreadable or malformed; $root/stat has no procs_running/procs_blocked",
	'malformed /proc/loadavg and /proc/stat: NULLs and a note');

$victim->quit;
$node->stop;
done_testing();
