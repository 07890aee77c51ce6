# Two things iosat depends on stop answering while PostgreSQL is under load.
#
# 1. The BPF companion killed mid-storm.  A tablespace on a throttled stack
#    device (120 read IOPS: requests queue at the device like a cloud volume
#    at its ceiling; the only device iosat judges, iosat.devices, so that
#    the machine's own disk cannot be what saturates); admission in queue
#    mode; twelve sessions of heavy statements, each reading random pages of
#    a table evicted from every cache, keep it saturated; iosatd runs and
#    the device is on source "bpf".  kill -9 of iosatd: within two sample
#    intervals the sampler is on /sys, and the governor goes on deciding
#    from it (still saturated, statements still queued and admitted);
#    iosatd restarted: back on BPF.  When the storm ends nothing is left
#    running or queued, the queue's books balance, no statement failed but
#    with 53000 (queue timeout), no backend was left behind.
#
# 2. The data directory's device stops answering, like a network volume
#    (iSCSI, NBD, a cloud disk) whose server goes away.  The whole data
#    directory is on ext4 on a loop device whose file is served by stallfs
#    (test/lib/stallfs.c through rootctl fuse-*), a FUSE passthrough that is
#    told to hold every read and write without answering.  Four heavy
#    statements start reading an evicted table as it stalls.  A DBA must
#    still see what happens: the sampler goes on publishing (it does no I/O
#    on the data directory); iosat_status, iosat_devices, iosat_admission
#    and iosat_backends answer a session opened before the stall; the
#    device is reported stalled (stalled_since, requests in flight, no
#    completions) about a second into the stall, and the governor counts it
#    as saturated with reason "stalled", so that a heavy statement arriving
#    now waits in iosat's queue (S, visible) instead of joining the readers
#    in D.  When the device answers again everything drains: every
#    statement completes without an error, nothing is left running or
#    queued, the books balance, the postmaster never restarted (no
#    "terminated by signal", no PANIC).
#
#    Then reads fail with EIO (stallfs "fail" mode).  That phase is
#    read-only on purpose: stallfs lets writes through, because a write
#    that fails makes the checkpointer PANIC -- PostgreSQL's answer to a
#    lost write, not something iosat could or should prevent.  A heavy
#    statement fails with PostgreSQL's own read error (58030); iosat keeps
#    sampling, reports the device "ok" with sane figures (failed requests
#    are completions) and, with iosatd, counts them in bpf_errors.
#
# Part 1 needs iosatd (BPF, BTF, kernel >= 5.19); part 2 needs /dev/fuse.
# Each is skipped, with the reason, where that is missing.  Prints
# "unreachable faults total: ..." for the end-of-run figures.
use strict;
use warnings;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IosatTest;

plan skip_all => 'needs the root helper (run through test/run-tests.sh)'
  unless rootctl_available();

my $INTERVAL_MS = 250;
my @faults;     # injected and survived, for the end-of-run figures
my @figures;    # measured, for the same line

# ---- what this machine allows ---------------------------------------------------------------
my $bpf_skip;
{
	my ($maj, $min) = (POSIX::uname())[2] =~ /^(\d+)\.(\d+)/;
	$bpf_skip =
	    !-e '/proc/sys/kernel/unprivileged_bpf_disabled' ? 'kernel has no BPF syscall'
	  : !-r '/sys/kernel/btf/vmlinux' ? 'kernel has no BTF (/sys/kernel/btf/vmlinux)'
	  : ($maj < 5 || ($maj == 5 && $min < 19))
	  ? "kernel $maj.$min: the postgres user can open pinned maps read-only from 5.19 on"
	  : !-x '/usr/local/sbin/iosatd' ? 'iosatd is not installed'
	  :                                undef;
}
my $fuse_skip = -c '/dev/fuse' ? undef : '/dev/fuse is missing (no FUSE here)';

my $STACK = 'iosat-t081s';
my $FUSE = 'iosat-t081f';
my $pindir = "/sys/fs/bpf/iosat-test-t081-$$";
my $pidfile = "/run/iosat-test/iosatd-t081-$$.pid";
my ($stack_made, $fuse_made, $iosatd_up, @nodes);

END
{
	local $?;    # the test's own exit status stays
	# a stalled device lets go first: nothing may wait on it forever
	eval { rootctl('fuse-resume', $FUSE) } if $fuse_made;
	eval { $_->stop('immediate') } for @nodes;
	eval { rootctl('iosatd-stop', $pidfile) } if $iosatd_up;
	eval { rootctl('destroy', $FUSE) } if $fuse_made;
	eval { rootctl('destroy', $STACK) } if $stack_made;
}

if (!$bpf_skip)
{
	my $d = rootctl('iosatd-start', $pindir, $pidfile);
	$iosatd_up = 1;
	note("iosatd pid $d->{pid}, pins in $pindir");
}

# ---- helpers ----------------------------------------------------------------------------------

sub q1 { my ($node, $sql) = @_; return $node->safe_psql('postgres', $sql); }

# the server log since an offset has no crash and no PANIC
sub log_clean
{
	my ($node, $off, $what) = @_;
	my $log = slurp_file($node->logfile, $off);
	my @bad = $log =~ /^(.*(?:terminated by signal|PANIC:|was terminated|server process .* exited with exit code [^0]|all server processes terminated).*)$/mg;
	ok(!@bad, "$what: the postmaster never restarted, no PANIC") or diag(join("\n", @bad));
	return $log;
}

# a pool of psql processes running heavy statements as role "storm", each
# a few statements long; while the pool is open a finished one is
# replaced.  Errors are counted by SQLSTATE.
sub pool_new
{
	my ($node, $size, $sql, $per) = @_;
	return { node => $node, size => $size, sql => $sql, per => $per, open => 1,
		procs => [], done => 0, statements => 0, errors => {}, started => 0 };
}

sub pool_pump
{
	my ($p) = @_;
	my @still;
	for my $h (@{ $p->{procs} })
	{
		$h->{run}->pump_nb if $h->{run}->pumpable;
		if ($h->{run}->pumpable)
		{
			push @still, $h;
			next;
		}
		my ($rc, $out, $err) = finish_psql($h);
		$p->{done}++;
		$p->{statements} += () = $out =~ /^\d+$/mg;
		$p->{errors}{$1}++ while $err =~ /ERROR:\s+([0-9A-Z]{5}):/g;
		$p->{errors}{'exit without SQLSTATE'}++ if $rc != 0 && $err !~ /ERROR:\s+[0-9A-Z]{5}:/;
		$p->{last_err} = $err if $err =~ /\S/;
	}
	$p->{procs} = \@still;
	while ($p->{open} && @{ $p->{procs} } < $p->{size})
	{
		push @{ $p->{procs} },
		  async_psql($p->{node}, join('', ($p->{sql} . ";\n") x $p->{per}), user => 'storm');
		$p->{started}++;
	}
	return scalar @{ $p->{procs} };
}

# poll CODE every 50 ms while keeping the pool going; like wait_until
sub wait_pumping
{
	my ($p, $code, $timeout, $what) = @_;
	return wait_until(sub { pool_pump($p); $code->() }, $timeout, $what);
}

sub errors_other_than
{
	my ($p, @ok) = @_;
	my %e = %{ $p->{errors} };
	delete @e{@ok};
	return join(', ', map { "$_ x$e{$_}" } sort keys %e);
}

sub errors_text
{
	my ($p) = @_;
	my %e = %{ $p->{errors} };
	return %e ? join(', ', map { "$_ x$e{$_}" } sort keys %e) : 'none';
}

# roles and a table of WIDTH-byte rows, ROWS of them, in TABLESPACE
sub make_table
{
	my ($node, $rows, $tablespace) = @_;
	my $ts = $tablespace ? "TABLESPACE $tablespace" : '';
	q1($node, <<"SQL");
CREATE ROLE storm LOGIN SUPERUSER;
ALTER ROLE storm SET iosat.cheap_reads = 0;
ALTER ROLE storm SET iosat.cheap_cost = 0;
ALTER ROLE storm SET enable_bitmapscan = off;
ALTER ROLE storm SET enable_seqscan = off;
CREATE TABLE big (id int PRIMARY KEY, pad text) WITH (fillfactor = 100) $ts;
INSERT INTO big SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, $rows) g;
VACUUM (ANALYZE) big;
CHECKPOINT;
SQL
}

# one statement reading N random pages of big (an index lookup per key;
# the heap column keeps it from being an index-only scan)
sub random_reads_sql
{
	my ($rows, $n) = @_;
	return "SELECT sum(length(pad)) FROM big WHERE id = ANY (ARRAY(SELECT (1 + random() * "
	  . ($rows - 1) . ")::int FROM generate_series(1, $n)))";
}

# the device's source, the sampler's and the gate's state, in one query
sub devrow1
{
	my ($node, $devname) = @_;
	my @f = split /\|/, q1($node,
		"SELECT d.source, s.bpf_status, a.saturated, a.queued, a.heavy_running,
		        a.entered_queue, a.admitted_from_queue, a.admitted_slot, s.samples, s.stale
		   FROM iosat_devices d, iosat_status s, iosat_admission a WHERE d.device = '$devname'");
	my %h;
	@h{qw(source bpf saturated queued running entered admitted slot samples stale)} = @f;
	return \%h;
}

# what a DBA looks at, through a session opened before the stall
sub look
{
	my ($obs, $devname) = @_;
	my %h;
	@h{qw(pid samples age stale stalled inflight iops bpf_inflight status note saturated reason running queued pressure)} =
	  split /\|/, $obs->query_safe(
		"SELECT s.sampler_pid, s.samples, s.sample_age_ms, s.stale,
		        d.stalled_since IS NOT NULL, d.inflight, coalesce(d.r_iops_last, -1) + coalesce(d.w_iops_last, -1),
		        coalesce(d.bpf_inflight, -1), d.status, coalesce(d.note, ''),
		        a.saturated, coalesce(a.reason, ''), a.heavy_running, a.queued, a.pressure
		   FROM iosat_status s, iosat_devices d, iosat_admission a WHERE d.device = '$devname'");
	return \%h;
}

# heavy statements of role storm in D (all; on DataFileRead), and queued by iosat
sub who
{
	my ($obs) = @_;
	return split /\|/, $obs->query_safe(
		"SELECT count(*) FILTER (WHERE task_state = 'D'),
		        count(*) FILTER (WHERE task_state = 'D' AND wait_event = 'DataFileRead'),
		        count(*) FILTER (WHERE wait_event_type = 'Extension' AND task_state <> 'D')
		   FROM iosat_backends WHERE usename = 'storm'");
}

# drop a relation's pages from the page cache (the files are the server
# user's: fdatasync, then POSIX_FADV_DONTNEED)
sub evict
{
	my ($node, @rels) = @_;
	for my $rel (@rels)
	{
		my $path = $node->data_dir . '/' . q1($node, "SELECT pg_relation_filepath('$rel')");
		for my $f (glob("$path $path.*"))
		{
			next unless -f $f;
			system('dd', "of=$f", 'oflag=nocache', 'conv=notrunc,fdatasync', 'count=0', 'status=none') == 0
			  or die "evicting $f failed";
		}
	}
}

# =============================================================================================
# 1. iosatd killed and restarted under a Postgres storm
# =============================================================================================
SKIP:
{
	skip "iosatd mid-storm: $bpf_skip", 1 if $bpf_skip;

	my $t_part = time();
	my $dev = rootctl('stack-create', $STACK, 768, 120, 0);
	$stack_made = 1;
	(my $devname = $dev->{dev}) =~ s{^/dev/}{};
	my $ROWS = 60000;    # ~7 rows a page: ~8600 pages, 70 MB

	my $node = iosat_node('storm', <<"EOC");
shared_buffers = '16MB'
max_connections = 40
autovacuum = off
max_parallel_workers_per_gather = 0
log_statement = none
iosat.sample_interval = '${INTERVAL_MS}ms'
iosat.smoothing_window = '1s'
iosat.devices = '$devname'
iosat.iops_limit = 120
iosat.latency_target = '20ms'
iosat.admission = 'queue'
iosat.queue_timeout = '8s'
iosat.bpf_pin_dir = '$pindir'
EOC
	push @nodes, $node;
	$node->start;
	mkdir("$dev->{mnt}/ts") or die "mkdir: $!";
	q1($node, "CREATE EXTENSION iosat; CREATE TABLESPACE slow LOCATION '$dev->{mnt}/ts'");
	make_table($node, $ROWS, 'slow');
	$node->restart;    # empty shared buffers
	rootctl('drop-caches', $STACK);    # and none of it in the page cache

	ok(wait_until(sub { devrow1($node, $devname)->{source} eq 'bpf' }, 15),
		"the tablespace's device $devname is sampled with BPF");
	is(devrow1($node, $devname)->{bpf}, 'ok', 'bpf_status ok');

	# the writes of the load and of the cache drop count against the
	# ceiling too: let them pass, so that the storm is what saturates
	ok( wait_until(sub { devrow1($node, $devname)->{saturated} eq 'f' }, 30),
		'before the storm the device is not saturated');

	my $logoff = -s $node->logfile;
	my $pool = pool_new($node, 12, random_reads_sql($ROWS, 20), 2);
	my $t_storm = time();
	my $r;
	ok( wait_pumping(
			$pool,
			sub {
				$r = devrow1($node, $devname);
				$r->{saturated} eq 't' && $r->{queued} > 0 && $r->{source} eq 'bpf';
			},
			30, 'storm'),
		sprintf('12 sessions of random reads saturate the device; statements queue (%.1f s)',
			time() - $t_storm));
	my $sat_at = time() - $t_storm;

	# --- kill -9 of iosatd mid-storm
	my $before = devrow1($node, $devname);
	my $k = rootctl('iosatd-kill', $pidfile);
	ok(wait_pumping($pool, sub { devrow1($node, $devname)->{source} eq 'sysfs' }, 10),
		"kill -9 of iosatd $k->{killed}: the sampler falls back to /sys");
	my $fallback_ms = q1($node,
		"SELECT round((extract(epoch FROM bpf_since) - $k->{killed_at}) * 1000) FROM iosat_status");
	cmp_ok($fallback_ms, '<=', 2 * $INTERVAL_MS,
		"within two sample intervals of the kill (${fallback_ms} ms, two intervals: "
		  . 2 * $INTERVAL_MS . ' ms)');
	is(q1($node, 'SELECT bpf_status FROM iosat_status'), 'stale', 'bpf_status is stale');

	# the governor goes on deciding from /sys: saturated at every look,
	# statements still queued and admitted, samples fresh
	my ($looks, $sat, $fresh) = (0, 0, 0);
	my $on_sys = devrow1($node, $devname);
	my $t_sys = time();
	while (time() - $t_sys < 4)
	{
		pool_pump($pool);
		my $x = devrow1($node, $devname);
		$looks++;
		$sat++ if $x->{saturated} eq 't';
		$fresh++ if $x->{stale} eq 'f' && $x->{source} eq 'sysfs';
		usleep(200_000);
	}
	my $after_sys = devrow1($node, $devname);
	is($sat, $looks, "on /sys the device is still judged saturated ($sat of $looks looks)");
	is($fresh, $looks, 'samples stay fresh, from /sys');
	cmp_ok($after_sys->{entered} - $on_sys->{entered}, '>', 0,
		'statements still enter the queue (' . ($after_sys->{entered} - $on_sys->{entered}) . ')');
	cmp_ok($after_sys->{admitted} + $after_sys->{slot} - $on_sys->{admitted} - $on_sys->{slot},
		'>', 0, 'and are still admitted ('
		  . ($after_sys->{admitted} + $after_sys->{slot} - $on_sys->{admitted} - $on_sys->{slot}) . ')');
	cmp_ok($after_sys->{samples} - $on_sys->{samples}, '>=', 4000 / $INTERVAL_MS * 0.6,
		'the sampler kept its pace (' . ($after_sys->{samples} - $on_sys->{samples}) . ' samples in 4 s)');

	# --- restart: back to BPF
	my $t_restart = time();
	my $d2 = rootctl('iosatd-start', $pindir, $pidfile);
	ok(wait_pumping($pool, sub { devrow1($node, $devname)->{source} eq 'bpf' }, 10),
		"iosatd restarted (pid $d2->{pid}): back on BPF");
	my $back_ms = int((time() - $t_restart) * 1000);
	is(q1($node, 'SELECT bpf_status FROM iosat_status'), 'ok', 'bpf_status ok again');
	ok(wait_pumping($pool, sub { devrow1($node, $devname)->{saturated} eq 't' }, 5),
		'still saturated, now with BPF');

	# --- the end of the storm: everything drains, the books balance
	wait_pumping($pool, sub { time() - $t_storm > $sat_at + 14 }, 30);
	$pool->{open} = 0;
	my $t_end = time();
	ok(wait_pumping($pool, sub { pool_pump($pool) == 0 }, 40),
		'every session of the storm ends (no backend stuck)');
	my $drain1 = time() - $t_end;
	ok( $node->poll_query_until('postgres',
			'SELECT heavy_running = 0 AND queued = 0 FROM iosat_admission'),
		'no slot and no queue place left');
	my ($entered, $admitted, $left, $reclaimed, $timed_out) = split /\|/, q1($node,
		'SELECT entered_queue, admitted_from_queue, left_queue, reclaimed, timed_out FROM iosat_admission');
	is($admitted + $left, $entered,
		"the books balance: $entered entered the queue, $admitted admitted, $left left ($timed_out timed out)");
	is($reclaimed, 0, 'no slot had to be reclaimed from a dead backend');
	is(errors_other_than($pool, '53000'), '', 'no error but 53000 (queue timeout): ' . errors_text($pool))
	  or diag($pool->{last_err});
	cmp_ok($pool->{statements}, '>', 50, "the storm ran $pool->{statements} heavy statements");
	my $log = log_clean($node, $logoff, 'storm');
	my @stale = $log =~ /iosat: BPF maps stale/g;
	my @back = $log =~ /iosat: reading BPF maps in/g;
	is(scalar(@stale) . ' ' . scalar(@back), '1 1', 'the fallback and the return are logged once each');
	$node->stop;
	@nodes = grep { $_ != $node } @nodes;
	rootctl('destroy', $STACK);
	$stack_made = 0;

	my $f = sprintf('iosatd kill -9 mid-storm: /sys after %d ms, BPF back %d ms after the restart; '
		  . '%d statements, %d queued, %d timed out, drained in %.1f s; part 1 took %.0f s',
		$fallback_ms, $back_ms, $pool->{statements}, $entered, $timed_out, $drain1, time() - $t_part);
	diag($f);
	push @faults, 'iosatd killed and restarted mid-storm';
	push @figures, $f;
}

# =============================================================================================
# 2. the data directory's device stops answering
# =============================================================================================
SKIP:
{
	skip "stalled data directory: $fuse_skip", 1 if $fuse_skip;

	my $t_part = time();
	my $fx = rootctl('fuse-create', $FUSE, 384);
	$fuse_made = 1;
	(my $devname = $fx->{dev}) =~ s{^/dev/}{};
	note("data directory device: $devname (loop on a stallfs file), ext4 at $fx->{mnt}");
	my $ROWS = 30000;    # ~4300 pages, 35 MB

	# the data directory itself (pg_wal too) on the device
	my $node = PostgreSQL::Test::Cluster->new('unreach');
	mkdir("$fx->{mnt}/pgdata", 0700) or die "mkdir: $!";
	symlink("$fx->{mnt}/pgdata", $node->data_dir) or die "symlink: $!";
	$node->init;
	$node->append_conf('postgresql.conf', <<"EOC");
shared_preload_libraries = 'iosat'
shared_buffers = '16MB'
max_connections = 40
autovacuum = off
max_parallel_workers_per_gather = 0
log_statement = none
iosat.sample_interval = '${INTERVAL_MS}ms'
iosat.smoothing_window = '1s'
iosat.admission = 'queue'
iosat.queue_timeout = '60s'
iosat.bpf_pin_dir = '$pindir'
EOC
	push @nodes, $node;
	$node->start;
	q1($node, 'CREATE EXTENSION iosat');
	is(q1($node, "SELECT roles FROM iosat_devices WHERE device = '$devname'"), '{data,wal}',
		"the data directory and pg_wal are on $devname");
	make_table($node, $ROWS, undef);
	$node->restart;
	my $bpf = !$bpf_skip
	  && wait_until(sub { q1($node, "SELECT source FROM iosat_devices WHERE device = '$devname'") eq 'bpf' }, 10);
	note($bpf ? 'device on source bpf' : 'device on source sysfs (no iosatd)');
	my $heavy = random_reads_sql($ROWS, 4000);

	# sessions opened, and their caches warmed, before the device stalls:
	# the observer (a superuser, as a DBA), four readers and a late comer,
	# all running heavy statements as role storm
	my $obs = $node->background_psql('postgres', timeout => 30);
	$obs->set_query_timer_restart;
	look($obs, $devname);
	who($obs);
	$obs->query_safe('SELECT * FROM iosat_backends; SELECT * FROM iosat_devices; '
		  . 'SELECT * FROM iosat_admission; SELECT * FROM iosat_status');
	my @readers = map {
		my $s = $node->background_psql('postgres', timeout => 60, on_error_stop => 0,
			extra_params => [ '-U', 'storm' ]);
		$s->set_query_timer_restart;
		$s->query_safe($heavy);    # planned once, relation files open
		$s
	} 1 .. 5;
	my $late = pop @readers;
	my $a0 = look($obs, $devname);
	is($a0->{saturated} . ' ' . $a0->{running}, 'f 0', 'before: not saturated, nothing running');
	my ($entered0, $admitted0, $left0) = split /\|/,
	  $obs->query_safe('SELECT entered_queue, admitted_from_queue, left_queue FROM iosat_admission');

	# the table's pages out of every cache (the catalogs stay, as on a
	# live server); the device stops answering, and the readers start: their
	# first read of the table waits for it
	my $logoff = -s $node->logfile;
	evict($node, 'big', 'big_pkey');
	my $st = rootctl('fuse-stall', $FUSE);
	my $t_stall = $st->{at};
	note("stalled at $t_stall");
	for my $i (0 .. $#readers)
	{
		$readers[$i]->query_until(qr/r$i started/, "\\echo r$i started\nSELECT 'r$i:' || ($heavy);\n");
	}

	# watch: the sampler publishes, the device turns stalled, the governor saturated
	my ($detect_s, $seen, @ages, $min_samples, $max_samples);
	my $t_end_watch = time() + 3;
	while (time() < $t_end_watch || !defined $detect_s && time() < $t_stall + 10)
	{
		my $x = look($obs, $devname);
		$min_samples //= $x->{samples};
		$max_samples = $x->{samples};
		push @ages, $x->{age};
		if (!defined $detect_s && $x->{stalled} eq 't')
		{
			$detect_s = time() - $t_stall;
			$seen = $x;
		}
		usleep(50_000);
	}
	ok(defined $detect_s, sprintf('the device is reported stalled (%.2f s into the stall)', $detect_s // -1));
	$detect_s //= -1;
	# a request held from the switch on may have been in flight at the last
	# sample before it: the stall can count from there, an interval early
	cmp_ok($detect_s, '>=', 1 - $INTERVAL_MS / 1000 - 0.1,
		'not before a second without completions');
	cmp_ok($detect_s, '<=', 1 + 4 * $INTERVAL_MS / 1000, 'and within a few sample intervals of it');
	$seen //= look($obs, $devname);
	cmp_ok($seen->{inflight}, '>', 0, "requests in flight ($seen->{inflight})");
	is($seen->{iops}, 0, 'none completed in the last interval');
	like($seen->{note}, qr/^stalled: \d+ requests in flight, none completed for [0-9.]+ s$/,
		"note: $seen->{note}");
	is($seen->{status}, 'ok', 'the device itself is still sampled (status ok)');
	cmp_ok($seen->{bpf_inflight}, '>', 0, "BPF: requests at the device ($seen->{bpf_inflight})") if $bpf;
	ok(wait_until(sub { look($obs, $devname)->{saturated} eq 't' }, 2), 'the governor counts it as saturated');
	my $x = look($obs, $devname);
	like($x->{reason}, qr/^stalled: \d+ requests in flight, none completed for [0-9.]+ s$/,
		"reason: $x->{reason}");
	cmp_ok($x->{pressure}, '>=', 1, "pressure $x->{pressure}");
	is($x->{running}, scalar(@readers), "the $x->{running} readers hold their slots");

	# the readers sleep in D, on the reads the device does not answer
	my ($d_all, $d_read) = who($obs);
	cmp_ok($d_read, '>=', 1, "iosat_backends: $d_read heavy statements in D on DataFileRead ($d_all in D)");

	# a heavy statement that arrives now waits in iosat's queue, not in D
	$late->query_until(qr/late started/, "\\echo late started\nSELECT 'late:' || ($heavy);\n");
	ok(wait_until(sub { look($obs, $devname)->{queued} >= 1 }, 5), 'a heavy statement arriving now is queued');
	my (undef, undef, $q_waiting) = who($obs);
	is($q_waiting, 1, 'it waits in iosat_backends as Extension, not in D');

	# the sampler went on: fresh samples all along, at its pace
	my $max_age = (sort { $b <=> $a } @ages)[0];
	cmp_ok($max_age, '<', 3 * $INTERVAL_MS, "the sampler published throughout (oldest sample seen: $max_age ms)");
	cmp_ok($max_samples - $min_samples, '>=', 3000 / $INTERVAL_MS * 0.6,
		($max_samples - $min_samples) . ' samples in 3 s of the stall');
	is(look($obs, $devname)->{pid}, $a0->{pid}, 'same sampler process');

	# --- the device answers again: everything drains
	usleep(100_000) while time() - $t_stall < 5;
	my $rs = rootctl('fuse-resume', $FUSE);
	my $t_resume = $rs->{at};
	my $stalled_for = $t_resume - $t_stall;
	my $held = $rs->{held_total};
	note("resumed after ${stalled_for} s; stallfs held $held requests");
	my @all = (@readers, $late);
	ok( wait_until(
			sub {
				$_->{run}->pump_nb for @all;
				my $y = look($obs, $devname);
				!grep({ $_->{stdout} !~ /(?:r\d|late):\d+/ } @all)
				  && $y->{running} == 0 && $y->{queued} == 0;
			},
			30, 'drain'),
		'after the resume every statement completes, nothing is left running or queued');
	my $drain_s = time() - $t_resume;
	is(join('', map { $_->{stderr} } @all), '', 'no error in any of them');
	is(scalar(grep { $_->{stdout} =~ /(?:r\d|late):\d+/ } @all), scalar(@all),
		'each returned its result, the queued one too');
	$_->{stdout} = '' for @all;
	ok(wait_until(sub { look($obs, $devname)->{stalled} eq 'f' }, 5), 'no longer stalled');
	ok(wait_until(sub { look($obs, $devname)->{saturated} eq 'f' }, 20), 'saturation ends');
	my $unsat_s = time() - $t_resume;
	# the held requests complete with the stall's latency; that is the stall,
	# not a slow device: saturation ends after the exit hold (2 s), not after
	# the smoothed latency has decayed (7-10 s before the sampler left those
	# completions out)
	cmp_ok($unsat_s, '<', 5, sprintf('saturation ends %.1f s after the resume', $unsat_s));
	my ($entered, $admitted, $left) = split /\|/,
	  $obs->query_safe('SELECT entered_queue, admitted_from_queue, left_queue FROM iosat_admission');
	cmp_ok($entered - $entered0, '>=', 1, 'the late statement went through the queue');
	is(($admitted - $admitted0) + ($left - $left0), $entered - $entered0,
		'the books balance (' . ($entered - $entered0) . ' entered the queue, '
		  . ($admitted - $admitted0) . ' admitted, ' . ($left - $left0) . ' left)');
	my $log = log_clean($node, $logoff, 'stall');
	like($log, qr/iosat: device "$devname" \(\d+:\d+\) is stalled\n.*DETAIL:  \d+ requests have been in flight with none completed/,
		'the stall is logged');
	like($log, qr/iosat: device "$devname" \(\d+:\d+\) completes requests again/, 'and its end');
	like($obs->query_safe('SELECT last_error FROM iosat_status'), qr/"$devname".*is stalled/,
		'iosat_status.last_error names it');
	my $f = sprintf('data directory device stalled %.1f s: reported stalled after %.2f s (%d requests held), '
		  . 'drained %.2f s after the resume, saturation over after %.1f s',
		$stalled_for, $detect_s, $held, $drain_s, $unsat_s);
	diag($f);
	push @faults, 'data directory device stalled';
	push @figures, $f;

	# --- reads fail with EIO (writes pass: see the header)
	$logoff = -s $node->logfile;
	my $bpf_err0 = $bpf ? q1($node, "SELECT bpf_errors FROM iosat_devices WHERE device = '$devname'") : 0;
	evict($node, 'big', 'big_pkey');
	my $sampler0 = look($obs, $devname);
	rootctl('fuse-fail', $FUSE);
	my ($out, $failed) = $late->query($heavy);
	# (17+: "could not read blocks N..M")
	like($late->{stderr}, qr/could not read blocks? .*Input\/output error/,
		'a statement reading the device gets PostgreSQL\'s read error');
	$late->{stderr} = '';
	usleep(3 * $INTERVAL_MS * 1000);
	my $y = look($obs, $devname);
	cmp_ok($y->{samples}, '>', $sampler0->{samples} + 2, 'iosat keeps sampling');
	is($y->{pid}, $sampler0->{pid}, 'same sampler process');
	is($y->{status} . ' ' . $y->{stale}, 'ok f', 'the device stays "ok" (its requests complete, with an error)');
	is( $obs->query_safe(
			"SELECT count(*) FROM iosat_devices WHERE device = '$devname'
			    AND r_iops_last >= 0 AND r_iops_last < 1e7 AND r_await_ms_last >= 0 AND aqu_sz >= 0"),
		1, 'with sane figures');
	my $bpf_errs = 0;
	if ($bpf)
	{
		ok(wait_until(sub { ($bpf_errs = q1($node, "SELECT bpf_errors FROM iosat_devices WHERE device = '$devname'")) > $bpf_err0 }, 5),
			'BPF counts the failed completions in bpf_errors');
		$bpf_errs -= $bpf_err0;
	}
	my $fr = rootctl('fuse-resume', $FUSE);
	like($late->query_safe("SELECT 'again:' || ($heavy)"), qr/^again:\d+$/,
		'once the device answers, the same statement succeeds');
	log_clean($node, $logoff, 'EIO');
	is(q1($node, "SELECT heavy_running || ' ' || queued FROM iosat_admission"), '0 0', 'nothing left running or queued');
	push @faults, 'data directory device failing reads with EIO';
	$f = sprintf('reads failing with EIO: %d failed at the FUSE server%s', $fr->{failed},
		$bpf ? ", bpf_errors +$bpf_errs" : '');
	diag($f);
	push @figures, $f;

	$_->quit for $obs, @all;
	$node->stop;
	@nodes = grep { $_ != $node } @nodes;
	diag(sprintf('part 2 took %.0f s', time() - $t_part));
}

diag(sprintf('unreachable faults total: %d injected and survived (%s)',
		scalar @faults, join('; ', @figures)));
done_testing();
