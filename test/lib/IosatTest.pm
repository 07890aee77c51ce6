# IosatTest: helpers shared by iosat's TAP tests (test/t/*.pl).
#
# - iosat_node(NAME, CONF): a PostgreSQL::Test::Cluster with iosat preloaded
# - rootctl(ARGS): the root helper (loop devices, throttles, caches) through
#   sudo, as test/run-tests.sh sets it up; returns its key=value output
# - wait_until(CODE, TIMEOUT, WHAT): poll a condition
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

our @EXPORT = qw(iosat_node rootctl rootctl_available wait_until async_psql finish_psql);

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

# a child process that advances NAME's counters from C at per-second
# RATES, every 10 ms, until it is sent SIGTERM; returns its pid
sub start_load
{
	my ($self, $name, $c, %rate) = @_;
	my $parent = $$;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	return $pid if $pid;
	my %acc = %$c;
	my %now = %$c;
	my $t0 = time();
	my $n = 0;
	while (1)
	{
		$n++;
		for my $k (keys %rate)
		{
			$acc{$k} += $rate{$k} / 100;
			$now{$k} = int($acc{$k});
		}
		$self->set_stat($name, \%now);
		POSIX::_exit(0) if getppid() != $parent;    # orphaned: stop
		my $sleep = $t0 + $n * 0.01 - time();
		usleep($sleep * 1e6) if $sleep > 0;
	}
}

sub set_psi
{
	my ($self, $content) = @_;
	$self->put("proc/pressure/io", $content);
}

1;
