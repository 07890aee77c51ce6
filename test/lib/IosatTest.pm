# IosatTest: helpers shared by iosat's TAP tests (test/t/*.pl).
#
# - iosat_node(NAME, CONF): a PostgreSQL::Test::Cluster with iosat preloaded
# - rootctl(ARGS): the root helper (loop devices, throttles, caches) through
#   sudo, as test/run-tests.sh sets it up; returns its key=value output
# - wait_until(CODE, TIMEOUT, WHAT): poll a condition
# - pacing_fixture(NAME, RATE, CONF), start_paced(NODE, QUERY): the same,
#   with read pacing and a table to scan
# - faketime_lib(), with_faketime(FILE, CODE), step_clock(NODE, FILE, OFFSET):
#   a server whose wall clock a test steps (libfaketime; the monotonic clock
#   is left alone)
# - FixtureSysfs: a fake /sys and /proc tree whose counters a test advances
package IosatTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IPC::Run;

# PostgreSQL 16.2's BackgroundPsql::query returns a result with its trailing
# newline (later 16.x minors, and 15, 17, 18 strip it): strip it there too,
# so that a test compares the same value on every version.
{
	require PostgreSQL::Test::BackgroundPsql;
	my $query = \&PostgreSQL::Test::BackgroundPsql::query;
	no warnings 'redefine';
	*PostgreSQL::Test::BackgroundPsql::query = sub {
		my ($out, $ret) = $query->(@_);
		$out =~ s/\r?\n\z// if defined $out;
		return wantarray ? ($out, $ret) : $out;
	};
}

our @EXPORT = qw(iosat_node rootctl rootctl_available wait_until async_psql
  finish_psql admission_fixture pacing_fixture start_paced faketime_lib
  with_faketime step_clock admission_value hold_admission_slot
  no_slot_left cancel_query);

sub iosat_node
{
	my ($name, $conf, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%opts);
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'iosat'\n" . ($conf // ''));
	return $node;
}

sub rootctl_available
{
	return defined $ENV{IOSAT_ROOTCTL} && $ENV{IOSAT_ROOTCTL} ne '';
}

# run the root helper; die with its stderr on failure; return key=value pairs
sub rootctl
{
	my @args = @_;
	die "IOSAT_ROOTCTL is not set (run through test/run-tests.sh)"
	  unless rootctl_available();
	my $cmd = join(' ', $ENV{IOSAT_ROOTCTL}, map { quotemeta } @args);
	my $out = `$cmd 2>&1`;
	die "rootctl @args failed (exit " . ($? >> 8) . "): $out" if $? != 0;
	my %kv;
	for my $line (split /\n/, $out)
	{
		$kv{$1} = $2 if $line =~ /^(\w+)=(.*)$/;
	}
	return \%kv;
}

sub wait_until
{
	my ($code, $timeout, $what) = @_;
	my $deadline = time() + ($timeout // 30);
	while (time() < $deadline)
	{
		my $r = $code->();
		return $r if $r;
		usleep(50_000);
	}
	diag("timed out waiting for " . ($what // 'condition'));
	return 0;
}

# libfaketime's path, or undef when it is not installed
sub faketime_lib
{
	my $lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
	return -e $lib ? $lib : undef;
}

sub write_offset
{
	my ($file, $offset) = @_;
	open(my $fh, '>', "$file.tmp") or die "open $file.tmp: $!";
	print $fh "$offset\n";
	close($fh);
	rename("$file.tmp", $file) or die "rename $file: $!";
}

# run CODE (which starts a server) under libfaketime: the server's wall
# clock is real time plus the offset in FILE (now +0), read at every call;
# its monotonic clock is not faked
sub with_faketime
{
	my ($file, $code) = @_;
	write_offset($file, '+0');
	local $ENV{LD_PRELOAD} = faketime_lib();
	local $ENV{FAKETIME_TIMESTAMP_FILE} = $file;
	local $ENV{FAKETIME_NO_CACHE} = '1';
	local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = '1';
	return $code->();
}

# set the offset of NODE's wall clock from real time to OFFSET seconds
# ("+3600", "-7200") and wait until the server's clock shows it
sub step_clock
{
	my ($node, $file, $offset) = @_;
	write_offset($file, $offset);
	my $want = time() + $offset;
	return $node->poll_query_until('postgres',
		"SELECT abs(extract(epoch FROM clock_timestamp()) - $want) < 60");
}

# A node whose only device is a fixture "fake0", admission in queue mode,
# everything cheap for the superuser observing the views and heavy (by its
# reads: nothing is heavy by its writes here) for the role "worker" (a superuser: may SET iosat.*; superusers are not exempt);
# a table t of 1000 rows and a few functions.  Returns ($node, $fixture,
# \%counters, $saturate, $calm): $saturate->() starts a child that makes
# fake0 look saturated (300 reads/s at 200 ms), $calm->() stops it.
sub admission_fixture
{
	my ($name, $extra_conf) = @_;
	my $fx = FixtureSysfs->new(PostgreSQL::Test::Utils::tempdir());
	$fx->add_disk('fake0', 250, 0);
	my %c = (rd_ios => 1000, rd_ticks => 1000);
	$fx->set_stat('fake0', \%c);

	my $node = iosat_node($name, <<"EOC" . ($extra_conf // ''));
iosat.sysfs_root = '@{[ $fx->sysroot ]}'
iosat.procfs_root = '@{[ $fx->procroot ]}'
iosat.devices = 'fake0'
iosat.sample_interval = '100ms'
iosat.smoothing_window = '200ms'
iosat.iops_limit = 100
iosat.latency_target = '20ms'
iosat.admission = 'queue'
iosat.cheap_reads = 1000000000
iosat.cheap_writes = 1000000000
iosat.cheap_cost = 1000000000
iosat.queue_timeout = '20s'
max_connections = 60
max_worker_processes = 16
EOC
	$node->start;
	$node->safe_psql('postgres', <<'SQL');
CREATE EXTENSION iosat;
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;
CREATE ROLE worker LOGIN SUPERUSER;
CREATE ROLE exempt_role LOGIN;
ALTER ROLE worker SET iosat.cheap_reads = 0;
ALTER ROLE worker SET iosat.cheap_cost = 0;
ALTER ROLE exempt_role SET iosat.cheap_reads = 0;
ALTER ROLE exempt_role SET iosat.cheap_cost = 0;
GRANT ALL ON t TO worker, exempt_role;
CREATE FUNCTION nested_heavy() RETURNS bigint LANGUAGE plpgsql AS
  $$ DECLARE n bigint; BEGIN SELECT count(*) INTO n FROM t; RETURN n; END $$;
CREATE FUNCTION error_after(s float8) RETURNS int LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(s); RAISE EXCEPTION 'failing on purpose'; END $$;
CREATE FUNCTION swallow_error() RETURNS int LANGUAGE plpgsql AS
  $$ BEGIN PERFORM 1/0; RETURN 0; EXCEPTION WHEN division_by_zero THEN RETURN 1; END $$;
SQL

	my $load;
	my $saturate = sub {
		$load = $fx->start_load('fake0', \%c, rd_ios => 300, rd_ticks => 300 * 200);
		Test::More::ok(
			$node->poll_query_until('postgres', 'SELECT saturated FROM iosat_admission'),
			'device saturated');
	};
	my $calm = sub {
		kill 'TERM', $load;
		waitpid($load, 0);
		Test::More::ok(
			$node->poll_query_until('postgres', 'SELECT NOT saturated FROM iosat_admission'),
			'saturation over');
	};
	return ($node, $fx, \%c, $saturate, $calm);
}

# admission_fixture NAME (and CONF) with read pacing at RATE blocks/s, the
# floor the pace rate falls to while fake0 is saturated, and a table "big"
# of ~4,300 blocks, more than a quarter of shared_buffers: a seq scan of it
# reads through a ring, every block a miss each time.  Returns what
# admission_fixture returns.
sub pacing_fixture
{
	my ($name, $rate, $extra_conf) = @_;
	my @fixture = admission_fixture($name, <<"EOC" . ($extra_conf // ''));
shared_buffers = '16MB'
max_parallel_workers_per_gather = 0
iosat.pacing_min_rate = $rate
EOC
	$fixture[0]->safe_psql('postgres', <<'SQL');
CREATE TABLE big AS SELECT g AS id, g AS v, repeat('x', 200) AS pad
  FROM generate_series(1, 150000) g;
VACUUM ANALYZE big;
GRANT ALL ON big TO worker, exempt_role;
SQL
	return @fixture;
}

# create, in NODE's database postgres, the SQL function qid_of(sql text):
# the queryid of a statement (EXPLAIN VERBOSE's Query Identifier; iosat
# computes queryids, compute_query_id = auto); query_id NODE, SQL calls it
push @EXPORT, 'create_qid_of', 'query_id';

sub create_qid_of
{
	my ($node) = @_;
	$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION qid_of(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || sql INTO j;
  RETURN (j->0->>'Query Identifier')::bigint;
END $$;
SQL
	return;
}

sub query_id
{
	my ($node, $sql) = @_;
	my $q = $sql =~ s/'/''/gr;
	return $node->safe_psql('postgres', "SELECT qid_of('$q')");
}

# create, in NODE's database postgres, the SQL function
#   wait_runs(target int, watched text, evtype text,
#             OUT hits int, OUT samples int, OUT longest_ms float8)
# which samples, until backend TARGET is idle, the wait event type of the
# process WATCHED (a pid, or a backend_type such as 'startup'): how many
# samples found it waiting on EVTYPE, of how many, and the longest run of
# such samples (one wait, or several back to back)
push @EXPORT, 'create_wait_runs';

sub create_wait_runs
{
	my ($node) = @_;
	$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION wait_runs(target int, watched text, evtype text,
                          OUT hits int, OUT samples int, OUT longest_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
  ev text;
  run_from timestamptz;
BEGIN
  hits := 0; samples := 0; longest_ms := 0;
  LOOP
    PERFORM pg_stat_clear_snapshot();
    PERFORM 1 FROM pg_stat_activity WHERE pid = target AND state = 'active';
    EXIT WHEN NOT FOUND;
    -- a cleanup-lock wait is BufferPin:BufferPin up to 18, Buffer:BufferCleanup on 19
    SELECT CASE WHEN wait_event = 'BufferCleanup' THEN 'BufferPin' ELSE wait_event_type END
      INTO ev FROM pg_stat_activity
     WHERE pid::text = watched OR backend_type = watched;
    samples := samples + 1;
    IF ev IS NOT DISTINCT FROM evtype THEN
      hits := hits + 1;
      run_from := coalesce(run_from, clock_timestamp());
      longest_ms := greatest(longest_ms,
                             extract(epoch FROM clock_timestamp() - run_from) * 1000);
    ELSE
      run_from := NULL;
    END IF;
    PERFORM pg_sleep(0.002);
  END LOOP;
END $$;
SQL
	return;
}

# start QUERY (one statement) as worker, its scans from their first block
# (no synchronized start), and wait until it sleeps at a pacing point;
# returns its async_psql handle
sub start_paced
{
	my ($node, $query) = @_;
	my $h = async_psql($node, "SET synchronize_seqscans = off;\n$query;",
		user => 'worker');
	(my $lit = $query) =~ s/'/''/g;
	Test::More::ok(
		$node->poll_query_until('postgres', <<"SQL"),
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE query = '$lit' AND wait_event_type = 'Extension'
SQL
		"paced: $query");
	return $h;
}

# a column of iosat_admission
sub admission_value
{
	my ($node, $col) = @_;
	return $node->safe_psql('postgres', "SELECT $col FROM iosat_admission");
}

# a heavy statement of worker that holds the only slot for SECONDS (cancel
# it with cancel_query); returns its async_psql handle
sub hold_admission_slot
{
	my ($node, $seconds) = @_;
	# one slot, as the admission tests assume (a sample in which the
	# fixture's load child was starved reads as not pressed, and grows the
	# limit)
	$node->poll_query_until('postgres', 'SELECT heavy_limit = 1 FROM iosat_admission')
	  or die 'the limit did not come back to 1';
	my $h = async_psql($node, "SELECT pg_sleep($seconds);", user => 'worker');
	Test::More::ok(
		$node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep($seconds)' AND wait_event = 'PgSleep'"
			  . " AND (SELECT heavy_running >= 1 FROM iosat_admission)"),
		'a heavy statement holds the slot');
	return $h;
}

# cancel the statements whose text starts with PREFIX
sub cancel_query
{
	my ($node, $prefix) = @_;
	$node->safe_psql('postgres',
		"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '$prefix%' AND pid <> pg_backend_pid()");
}

# every test of the admission suites ends with this
sub no_slot_left
{
	my ($node, $what) = @_;
	Test::More::ok(
		$node->poll_query_until('postgres',
			'SELECT heavy_running = 0 AND heavy_apart = 0 AND queued = 0 FROM iosat_controller'),
		"no slot or queue place left behind: $what");
}

# start psql on SQL without waiting for it: one -c per statement (split at
# a semicolon that ends a line), errors with their SQLSTATE
sub async_psql
{
	my ($node, $sql, %opt) = @_;
	my $h = { out => '', err => '' };
	my @cmd = (
		'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		'-d', $node->connstr($opt{db} // 'postgres'));
	push @cmd, ('-U', $opt{user}) if $opt{user};
	push @cmd, map { ('-c', $_) } grep { /\S/ } split /;\s*(?:\n|$)/, $sql;
	$h->{run} = IPC::Run::start(\@cmd, '<', \undef, '>', \$h->{out},
		'2>', \$h->{err});
	return $h;
}

# wait for an async_psql; returns (exit code, stdout, stderr)
sub finish_psql
{
	my ($h) = @_;
	$h->{run}->finish;
	my $rc = $h->{run}->result(0);
	chomp(my $out = $h->{out});
	return ($rc, $out, $h->{err});
}

package FixtureSysfs;

use File::Path qw(make_path remove_tree);
use POSIX ();
use Time::HiRes qw(usleep time);

# a fake sysfs root (and procfs root) under DIR
sub new
{
	my ($class, $dir) = @_;
	my $self = bless { dir => $dir, sys => "$dir/sys", proc => "$dir/proc" },
	  $class;
	make_path("$self->{sys}/block", "$self->{sys}/dev/block",
		"$self->{proc}/pressure");
	symlink('/proc/self', "$self->{proc}/self")
	  or die "symlink: $!";
	return $self;
}

sub sysroot  { $_[0]->{sys} }
sub procroot { $_[0]->{proc} }
# the path of REL (as put takes it) under the fixture
sub path     { "$_[0]->{dir}/$_[1]" }

# write a file atomically, so the sampler never sees half of it
sub put
{
	my ($self, $rel, $content) = @_;
	my $path = "$self->{dir}/$rel";
	my $tmp = "$path.tmp$$";
	open(my $fh, '>', $tmp) or die "open $tmp: $!";
	print $fh $content;
	close($fh);
	rename($tmp, $path) or die "rename $tmp: $!";
}

# a whole disk NAME with MAJ:MIN and its queue attributes
sub add_disk
{
	my ($self, $name, $maj, $min, %q) = @_;
	my $d = "$self->{sys}/block/$name";
	make_path("$d/queue");
	$self->put("sys/block/$name/dev", "$maj:$min\n");
	$self->put("sys/block/$name/queue/nr_requests", ($q{nr_requests} // 64) . "\n");
	$self->put("sys/block/$name/queue/scheduler", ($q{scheduler} // "none [kyber] mq-deadline") . "\n");
	$self->put("sys/block/$name/queue/rotational", ($q{rotational} // 0) . "\n");
	$self->put("sys/block/$name/inflight", "       0        0\n");
	unlink("$self->{sys}/dev/block/$maj:$min");
	symlink("../../block/$name", "$self->{sys}/dev/block/$maj:$min")
	  or die "symlink: $!";
	return $d;
}

# the stat line for counters C (hash), with 11, 15 or 17 fields
sub stat_line
{
	my ($c, $nfields) = @_;
	my @f = map { $c->{$_} // 0 }
	  qw(rd_ios rd_merges rd_sectors rd_ticks wr_ios wr_merges wr_sectors
	  wr_ticks in_flight io_ticks time_in_queue dc_ios dc_merges dc_sectors
	  dc_ticks fl_ios fl_ticks);
	$nfields //= 17;
	return join(' ', map { sprintf('%8s', $_) } @f[ 0 .. $nfields - 1 ])
	  . "\n";
}

sub set_stat
{
	my ($self, $name, $c, $nfields) = @_;
	$self->put("sys/block/$name/stat", stat_line($c, $nfields));
}

sub set_raw_stat
{
	my ($self, $name, $content) = @_;
	$self->put("sys/block/$name/stat", $content);
}

# a child process that calls STEP every 10 ms until it is sent SIGTERM (or
# the test goes); returns its pid
sub start_ticker
{
	my ($self, $step) = @_;
	my $parent = $$;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	return $pid if $pid;
	# the child must not run the test's handlers or END blocks: 18's
	# PostgreSQL::Test::Cluster dies on SIGTERM, and a dying child would
	# tear the test's nodes down
	$SIG{TERM} = $SIG{INT} = sub { POSIX::_exit(0) };
	my $t0 = time();
	my $n = 0;
	while (1)
	{
		$n++;
		$step->();
		POSIX::_exit(0) if getppid() != $parent;    # orphaned: stop
		my $sleep = $t0 + $n * 0.01 - time();
		usleep($sleep * 1e6) if $sleep > 0;
	}
}

# a child process that advances NAME's counters from C at per-second
# RATES, every 10 ms, until it is sent SIGTERM; returns its pid
sub start_load
{
	my ($self, $name, $c, %rate) = @_;
	my %acc = %$c;
	my %now = %$c;
	return $self->start_ticker(
		sub {
			for my $k (keys %rate)
			{
				$acc{$k} += $rate{$k} / 100;
				$now{$k} = int($acc{$k});
			}
			$self->set_stat($name, \%now);
		});
}

# the fixture's own self/cgroup (the rest of self/ still the real process's):
# a cgroup v1 memory hierarchy and a v2 one, both at /iosat-test, whatever
# the host has
sub fake_cgroup
{
	my ($self) = @_;
	my $self_dir = "$self->{proc}/self";
	return if -d $self_dir && !-l $self_dir;
	unlink($self_dir) or die "unlink $self_dir: $!";
	make_path($self_dir);
	symlink('/proc/self/mountinfo', "$self_dir/mountinfo") or die "symlink: $!";
	$self->put('proc/self/cgroup', "5:memory:/iosat-test\n1:name=systemd:/iosat-test\n0::/iosat-test\n");
}

# the memory.stat of the fixture's cgroup (fake_cgroup) under the fake sysfs
# root, as collect/memcg.c looks for it: VERSION 1 (total_dirty,
# total_writeback) or 2 (file_dirty, file_writeback); returns its path
# under the fixture
sub memcg_stat
{
	my ($self, $version) = @_;
	$self->fake_cgroup;
	my $rel = $version == 1 ? 'sys/fs/cgroup/memory/iosat-test' : 'sys/fs/cgroup/iosat-test';
	make_path("$self->{dir}/$rel");
	return "$rel/memory.stat";
}

# write memory.stat REL (from memcg_stat) with DIRTY and WRITEBACK bytes
sub set_memcg
{
	my ($self, $rel, $dirty, $writeback) = @_;
	my ($d, $w) = (int($dirty), int($writeback));
	$self->put($rel, $rel =~ m{/memory/}
		? "cache 0\nrss 0\ndirty $d\nwriteback $w\ntotal_cache 0\ntotal_dirty $d\ntotal_writeback $w\n"
		: "anon 0\nfile 0\nfile_dirty $d\nfile_writeback $w\n");
}

# a child process that grows REL's dirty bytes from DIRTY at RATE bytes a
# second (negative: drains), every 10 ms, until it is sent SIGTERM
sub start_dirtying
{
	my ($self, $rel, $dirty, $rate) = @_;
	return $self->start_ticker(
		sub {
			$dirty = $dirty + $rate / 100;
			$dirty = 0 if $dirty < 0;
			$self->set_memcg($rel, $dirty, 0);
		});
}

sub set_psi
{
	my ($self, $content) = @_;
	$self->put("proc/pressure/io", $content);
}

1;
