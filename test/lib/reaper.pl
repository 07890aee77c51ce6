#!/usr/bin/perl
# test/lib/reaper.pl CMD [ARGS...]: runs CMD and, when it ends or when the
# reaper is told to stop (SIGTERM, SIGINT, SIGHUP), stops every process CMD
# left behind, then exits with CMD's status (128 + the signal when stopped).
#
# test/run-tests.sh runs its suites under it. The reaper makes itself a child
# subreaper (prctl PR_SET_CHILD_SUBREAPER), so processes that leave their
# parent stay its descendants: a postmaster started by pg_ctl (which puts it
# in a session of its own and exits), a daemon that forks. "Every process
# left behind" is then every descendant: postgres processes get SIGQUIT
# (immediate shutdown), the others SIGTERM, newcomers too (a test's END block
# may still start a pg_ctl); whatever is left 10 s later gets SIGKILL.
# It returns once none is left (a zombie counts as gone), or after 30 s,
# naming what survived.
#
# The root helper's daemons (stallfs, iosatd: root's, started through
# test/lib/rootctl) are left to `rootctl destroy-all`, which unmounts and
# unpins before stopping them.
use strict;
use warnings;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

@ARGV or die "usage: reaper.pl CMD [ARGS...]\n";
require 'syscall.ph';
syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0 # PR_SET_CHILD_SUBREAPER
  or die "reaper.pl: prctl(PR_SET_CHILD_SUBREAPER): $!\n";

my $stop;
$SIG{$_} = sub { $stop //= $_[0] } for qw(TERM INT HUP);

my $child = fork() // die "reaper.pl: fork: $!\n";
if (!$child)
{
	$SIG{$_} = 'DEFAULT' for qw(TERM INT HUP QUIT);
	exec { $ARGV[0] } @ARGV or die "reaper.pl: exec $ARGV[0]: $!\n";
}

# processes: pid => [ppid, comm, uid, state]
sub processes
{
	my %p;
	opendir(my $d, '/proc') or return %p;
	for my $pid (grep { /^\d+$/ } readdir $d)
	{
		open(my $f, '<', "/proc/$pid/stat") or next;
		my $s = <$f> // next;
		close $f;
		$s =~ /^\d+ \((.*)\) (\S) (\d+)/s or next;
		my @st = stat("/proc/$pid");
		$p{$pid} = [ $3, $1, $st[4] // -1, $2 ];
	}
	return %p;
}

# live descendants of ours, but the root helper's daemons: pid => comm
sub left_behind
{
	my %p = processes();
	my %out;
	for my $pid (keys %p)
	{
		next if $p{$pid}[3] eq 'Z' || $p{$pid}[3] eq 'X';
		next if $p{$pid}[2] == 0 && $p{$pid}[1] =~ /^(stallfs|iosatd)$/;
		my ($q, $n) = ($p{$pid}[0], 0);
		while ($q > 1 && $q != $$ && exists $p{$q} && $n++ < 4096) { $q = $p{$q}[0] }
		$out{$pid} = $p{$pid}[1] if $q == $$;
	}
	return %out;
}

sub reap
{
	my $status;
	while ((my $p = waitpid(-1, WNOHANG)) > 0)
	{
		$status = $? if $p == $child;
	}
	return $status;
}

my $status;
while (!defined $status && !defined $stop)
{
	$status = reap();
	sleep(0.1) unless defined $status;
}

my %left = left_behind();
if (%left)
{
	printf STDERR "reaper.pl: %s: stopping %d processes (%s)\n",
	  defined $stop ? "SIG$stop" : "$ARGV[0] ended", scalar(keys %left),
	  join(' ', map { "$_:$left{$_}" } sort { $a <=> $b } keys %left);
	my %sent;
	my $t0 = time();
	while (%left)
	{
		my $kill = time() - $t0 > 10;
		for my $pid (keys %left)
		{
			my $sig = $kill ? 'KILL' : $left{$pid} eq 'postgres' ? 'QUIT' : 'TERM';
			next if ($sent{$pid} // '') eq $sig;
			kill($sig, $pid);
			$sent{$pid} = $sig;
		}
		my $s = reap();
		$status //= $s;
		last if time() - $t0 > 30;
		sleep(0.1);
		%left = left_behind();
	}
	printf STDERR "reaper.pl: still running after 30 s: %s\n",
	  join(' ', map { "$_:$left{$_}" } sort { $a <=> $b } keys %left)
	  if %left;
}
$status //= reap();

if (defined $stop)
{
	exit(128 + { HUP => 1, INT => 2, TERM => 15 }->{$stop});
}
exit(1) unless defined $status;    # the child outlived SIGKILL (said above)
exit($status >> 8) unless $status & 127;
exit(128 + ($status & 127));
