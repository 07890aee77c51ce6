# iosat_backends against real processes: a backend in pg_sleep is in S with
# Timeout:PgSleep; a stopped backend is in T with its pending signals
# decoded; a role without pg_read_all_stats sees the kernel columns of its
# own backends only and no other role's query text; backends that exit
# while the view is being built are left out without an error.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use IosatTest;

my $node = iosat_node('kstate', <<'EOC');
iosat.profile_interval = '50ms'
max_connections = 60
EOC
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION iosat');

sub row_of
{
	my ($pid, $cols, %opts) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM iosat_backends WHERE pid = $pid", %opts);
}

# end a background session busy in a query: cancel it, then let psql go
sub stop_session
{
	my ($session, $pid) = @_;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	eval { $session->quit };
}

# ---------------------------------------------------------------- pg_sleep

my $sleeper = $node->background_psql('postgres');
my $spid = $sleeper->query_safe('SELECT pg_backend_pid()');
$sleeper->query_until(qr/sleeping/, "\\echo sleeping\nSELECT pg_sleep(600);\n");

ok( wait_until(
		sub {
			row_of($spid, "task_state || '|' || wait_event_type || '|' || wait_event")
			  eq 'S|Timeout|PgSleep';
		},
		30,
		'pg_sleep backend in S'),
	'a backend in pg_sleep is in S with Timeout:PgSleep');
is(row_of($spid, 'task_state_name'), 'sleeping', 'S is named "sleeping"');
isnt(row_of($spid, "coalesce(wchan, '')"), '',
	'a sleeping backend has a wchan: ' . row_of($spid, 'wchan'));
is(row_of($spid, 'pending_signals'), '{}', 'no pending signals');
is(row_of($spid, 'query'), 'SELECT pg_sleep(600);', 'query text from pg_stat_activity');

# the profile sees it too
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM iosat_wait_profile WHERE backend_type = 'client backend' "
				  . "AND wait_event = 'PgSleep' AND state = 'S' AND samples > 0") == 1;
		},
		30,
		'PgSleep in the profile'),
	'the profile counts client backends in Timeout:PgSleep as S');

# ---------------------------------------------------------------- signals

# a stopped process keeps the signals sent to it pending; SIGHUP and
# SIGUSR1 are harmless to a backend (reload, procsignal without a reason)
kill('STOP', $spid) or die "kill STOP: $!";
ok(wait_until(sub { row_of($spid, 'task_state') eq 'T' }, 10),
	'a stopped backend is in T');
is(row_of($spid, 'task_state_name'), 'stopped', 'T is named "stopped"');
kill('HUP', $spid) or die "kill HUP: $!";
kill('USR1', $spid) or die "kill USR1: $!";
ok(wait_until(sub { row_of($spid, 'pending_signals') eq '{SIGHUP,SIGUSR1}' }, 10),
	'pending signals decoded: ' . row_of($spid, 'pending_signals'));
kill('CONT', $spid) or die "kill CONT: $!";
ok( wait_until(
		sub { row_of($spid, "task_state || '|' || pending_signals::text") eq 'S|{}' },
		10),
	'continued: back in S, signals handled');

# ---------------------------------------------------------------- privileges

$node->safe_psql('postgres', <<'SQL');
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN IN ROLE pg_read_all_stats;
SQL

my $alice_sleeper = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
my $apid = $alice_sleeper->query_safe('SELECT pg_backend_pid()');
$alice_sleeper->query_until(qr/sleeping/,
	"\\echo sleeping\nSELECT pg_sleep(600) AS alice_secret;\n");
ok(wait_until(sub { row_of($apid, 'wait_event') eq 'PgSleep' }, 30),
	"alice's backend is sleeping");

# bob: alice's row is there, without query text or kernel columns
is( row_of(
		$apid,
		"coalesce(task_state, 'null') || '|' || coalesce(wchan, 'null') || '|' "
		  . "|| coalesce(read_bytes::text, 'null') || '|' || query || '|' || kernel_note",
		extra_params => [ '-U', 'bob' ]),
	'null|null|null|<insufficient privilege>|insufficient privilege',
	"bob sees neither alice's query text nor her backend's kernel state");
is( row_of(
		$apid, "coalesce(wait_event, 'null')",
		extra_params => [ '-U', 'bob' ]),
	'null',
	"bob does not see alice's wait event either");
is( $node->safe_psql(
		'postgres',
		"SELECT task_state || '|' || (syscr > 0) || '|' || (query LIKE 'SELECT task_state%') "
		  . "FROM iosat_backends WHERE pid = pg_backend_pid()",
		extra_params => [ '-U', 'bob' ]),
	'R|true|true',
	'bob sees the kernel columns and query of his own backend');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM iosat_backends WHERE query LIKE '%alice_secret%' "
		  . "AND pid <> pg_backend_pid()",
		extra_params => [ '-U', 'bob' ]),
	0,
	"alice's query text appears nowhere in bob's view");
my ($rc, $out, $err) = $node->psql(
	'postgres', 'SELECT count(*) FROM iosat_wait_profile',
	extra_params => [ '-U', 'bob' ]);
like($err, qr/permission denied/, 'bob may not read the profile');

# alice, in a second session: her own sleeping backend, fully
is( row_of(
		$apid, "task_state || '|' || wait_event || '|' || query",
		extra_params => [ '-U', 'alice' ]),
	'S|PgSleep|SELECT pg_sleep(600) AS alice_secret;',
	'alice sees the kernel state and query of her own other backend');

# carol (pg_read_all_stats) and the superuser see everything
is( row_of(
		$apid, "task_state || '|' || wait_event || '|' || (query LIKE '%alice_secret%')",
		extra_params => [ '-U', 'carol' ]),
	'S|PgSleep|true',
	"a pg_read_all_stats member sees alice's backend");
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM iosat_backends WHERE backend_type = 'checkpointer' AND task_state IS NOT NULL",
		extra_params => [ '-U', 'carol' ]),
	1,
	"a pg_read_all_stats member sees auxiliary processes' kernel state");
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM iosat_backends WHERE task_state IS NULL AND kernel_note = 'insufficient privilege'",
		extra_params => [ '-U', 'bob' ]) > 0
	  ? 'hidden'
	  : 'shown',
	'hidden',
	'bob does not see auxiliary processes\' kernel state');

stop_session($alice_sleeper, $apid);

# ---------------------------------------------------------------- exits

# deterministic: a backend in this transaction's pg_stat_activity snapshot
# exits before iosat_backends reads /proc for it
my $viewer = $node->background_psql('postgres');
my $victim = $node->background_psql('postgres');
my $vpid = $victim->query_safe('SELECT pg_backend_pid()');
$viewer->query_safe('BEGIN');
is($viewer->query_safe("SELECT count(*) FROM pg_stat_activity WHERE pid = $vpid"),
	1, 'the snapshot holds the victim');
$victim->quit;
ok(wait_until(sub { !-e "/proc/$vpid" }, 30), 'victim exited');
is($viewer->query_safe("SELECT count(*) FROM pg_stat_activity WHERE pid = $vpid"),
	1, 'still in this transaction\'s pg_stat_activity snapshot');
is($viewer->query_safe("SELECT count(*) FROM iosat_backends WHERE pid = $vpid"),
	0, 'an exited backend is left out of iosat_backends, without an error');
is( $viewer->query_safe(
		"SELECT count(*) FROM iosat_proc_info() WHERE pid = $vpid"),
	0, 'and out of iosat_proc_info()');
$viewer->query_safe('COMMIT');
$viewer->quit;

# churn: many short-lived connections while the views are read in a loop
my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$dir/short.sql") or die;
print $fh "SELECT 1;\n";
close($fh);
open($fh, '>', "$dir/view.sql") or die;
print $fh "SELECT count(*) FROM iosat_backends;\n"
  . "SELECT count(*) FROM iosat_proc_info();\n"
  . "SELECT count(*) FROM iosat_loadavg;\n"
  . "SELECT count(*) FROM iosat_wait_profile;\n";
close($fh);

my @conn = ('-h', $node->host, '-p', $node->port, '-n', 'postgres');
my ($churn_out, $churn_err) = ('', '');
my $churn = IPC::Run::start(
	[ 'pgbench', @conn, '-C', '-c', '6', '-T', '8', '-f', "$dir/short.sql" ],
	'>', \$churn_out, '2>', \$churn_err);
my ($view_out, $view_err) = ('', '');
my $ok = IPC::Run::run(
	[ 'pgbench', @conn, '-c', '2', '-T', '6', '-f', "$dir/view.sql" ],
	'>', \$view_out, '2>', \$view_err);
$churn->finish;
ok($ok, 'reading the views during connection churn never failed')
  or diag("pgbench: $view_out $view_err");
unlike($view_err, qr/ERROR/, 'no error from the views');
my ($conns) = $churn_out =~ /number of transactions actually processed: (\d+)/;
ok(defined $conns && $conns > 50,
	'the churn made short-lived connections: ' . ($conns // 'none'));
my ($reads) = $view_out =~ /number of transactions actually processed: (\d+)/;
ok(defined $reads && $reads > 10, 'the views were read many times: ' . ($reads // 'none'));

stop_session($sleeper, $spid);
$node->stop;
done_testing();
