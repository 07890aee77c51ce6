# Upgrades, the pg_stat_statements way: the SQL of a release after 1.0 ships
# as iosat--1.0--1.1.sql (and so on), and for every version that can still
# be installed:
#   - the new library serves the old SQL: every view answers, every
#     function runs, the old version's privileges hold, until the update;
#   - ALTER EXTENSION iosat UPDATE gives exactly the catalogue a fresh
#     CREATE EXTENSION of the default version gives: the member objects,
#     functions with their signatures, attributes and ACLs, views with
#     their definitions and columns, comments, and the initial privileges
#     pg_dump relies on (pg_init_privs).
# Then what 1.1 changed: the resets are for superusers, not pg_monitor;
# and the library's rule for iosat_vacuum's I/O columns (pg_stat_activity's
# visibility), which holds at every version.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IosatTest;

my $node = iosat_node('upgrade', <<'EOC');
iosat.vacuum_manual = on
autovacuum = off
EOC
$node->start;

# the default version is the control file's
my $root = $ENV{TESTDIR} // '.';
my $control = do { local $/; open(my $f, '<', "$root/iosat.control") or die "iosat.control: $!"; <$f> };
my ($control_default) = $control =~ /default_version\s*=\s*'([^']+)'/;
my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'iosat'");
is($default, $control_default, "the installed default version is the control file's ($default)");

my @versions = split /\n/, $node->safe_psql('postgres', <<'SQL');
SELECT version FROM pg_available_extension_versions
 WHERE name = 'iosat' ORDER BY string_to_array(version, '.')::int[]
SQL
ok((grep { $_ eq '1.0' } @versions), "1.0 can still be installed (versions: @versions)");
ok((grep { $_ eq $default } @versions), 'so can the default');

# every object of the extension, one line each, in a stable order; no OIDs
my $catalog_sql = <<'SQL';
WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'iosat'),
members AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
     AND d.deptype = 'e')
SELECT line FROM (
  SELECT format('extension %s %s relocatable=%s schema=%s config=%s comment=%s',
                e.extname, e.extversion, e.extrelocatable,
                e.extnamespace::regnamespace, e.extconfig,
                obj_description(e.oid, 'pg_extension')) AS line
    FROM ext e
  UNION ALL
  SELECT 'member ' || pg_describe_object(m.classid, m.objid, m.objsubid)
    FROM members m
  UNION ALL
  SELECT format('function %s(%s) returns %s language=%s kind=%s volatile=%s strict=%s parallel=%s secdef=%s leakproof=%s cost=%s rows=%s src=%s bin=%s config=%s acl=%s comment=%s',
                p.proname, pg_get_function_identity_arguments(p.oid),
                pg_get_function_result(p.oid), l.lanname, p.prokind,
                p.provolatile, p.proisstrict, p.proparallel, p.prosecdef,
                p.proleakproof, p.procost, p.prorows, p.prosrc, p.probin,
                p.proconfig,
                (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(p.proacl) a),
                obj_description(p.oid, 'pg_proc'))
    FROM pg_proc p
    JOIN pg_language l ON l.oid = p.prolang
    JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
  UNION ALL
  SELECT format('relation %s kind=%s owner=%s options=%s acl=%s comment=%s definition=%s',
                c.relname, c.relkind, pg_get_userbyid(c.relowner), c.reloptions,
                (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(c.relacl) a),
                obj_description(c.oid, 'pg_class'), pg_get_viewdef(c.oid, true))
    FROM pg_class c
    JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
  UNION ALL
  SELECT format('column %s #%s %s %s notnull=%s acl=%s comment=%s',
                c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, a.attacl, col_description(c.oid, a.attnum))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('initprivs %s %s %s',
                pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype,
                (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(i.initprivs) a))
    FROM pg_init_privs i
    JOIN members m ON m.classid = i.classoid AND m.objid = i.objoid
) s
ORDER BY line COLLATE "C"
SQL

sub catalog
{
	my ($db) = @_;
	return $node->safe_psql($db, $catalog_sql);
}

# equal, or the lines that differ
sub same_catalog
{
	my ($got, $want, $name) = @_;
	my %w = map { $_ => 1 } split /\n/, $want;
	my %g = map { $_ => 1 } split /\n/, $got;
	my @only_got = grep { !$w{$_} } sort keys %g;
	my @only_want = grep { !$g{$_} } sort keys %w;
	my $ok = ok(@only_got == 0 && @only_want == 0, $name);
	diag("only after the update: $_") for @only_got;
	diag("only in a fresh install: $_") for @only_want;
	return $ok;
}

# every view of the extension answers, and the functions the views do not
# call run
sub views_answer
{
	my ($db, $when) = @_;
	my @views = split /\n/, $node->safe_psql($db, <<'SQL');
SELECT c.relname FROM pg_class c
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
   AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'iosat'
 WHERE c.relkind = 'v' ORDER BY 1
SQL
	my @failed;
	for my $v (@views)
	{
		my ($rc, $out, $err) = $node->psql($db, "SELECT count(*) >= 0 FROM $v");
		push @failed, "$v: $err" if $rc != 0 || $out ne 't';
	}
	for my $f ('iosat_queries_reset()', 'iosat_wait_profile_reset()')
	{
		my ($rc, $out, $err) = $node->psql($db, "SELECT $f");
		push @failed, "$f: $err" if $rc != 0;
	}
	ok(@views >= 11 && !@failed,
		"$when: all " . scalar(@views) . ' views answer, the resets run')
	  or diag(join("\n", @failed));
}

$node->safe_psql('postgres', <<'SQL');
CREATE ROLE up_monitor LOGIN IN ROLE pg_monitor;
CREATE DATABASE fresh;
SQL
$node->safe_psql('fresh', 'CREATE EXTENSION iosat');
is($node->safe_psql('fresh', "SELECT extversion FROM pg_extension WHERE extname = 'iosat'"),
	$default, "CREATE EXTENSION installs $default");
my $fresh = catalog('fresh');
my $fresh_lines = () = $fresh =~ /\n/g;
cmp_ok($fresh_lines, '>', 100, "a fresh install's catalogue: " . ($fresh_lines + 1) . ' lines');

for my $v (grep { $_ ne $default } @versions)
{
	(my $db = "from_$v") =~ s/\W/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION iosat VERSION '$v'");
	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'iosat'"),
		$v, "$db: installed at $v");

	# the new library under the old SQL
	views_answer($db, "the new library, the SQL at $v");
	my $before = catalog($db);
	isnt($before, $fresh, "at $v the catalogue differs from that of $default (the comparison sees it)");
	if ($v eq '1.0')
	{
		my ($rc, $out, $err) = $node->psql($db, 'SELECT iosat_queries_reset()',
			extra_params => [ '-U', 'up_monitor' ]);
		is($rc, 0, 'at 1.0, pg_monitor may still reset, as 1.0 granted');
	}

	my ($rc, $out, $err) = $node->psql($db, 'ALTER EXTENSION iosat UPDATE');
	is($rc, 0, "ALTER EXTENSION iosat UPDATE from $v") or diag($err);
	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'iosat'"),
		$default, "$db: now at $default");
	same_catalog(catalog($db), $fresh,
		"$v -> $default: the catalogue is exactly a fresh CREATE EXTENSION's");
	views_answer($db, "after the update from $v");
}

# --- 1.1: resets are for superusers ---------------------------------------
for my $f ('iosat_queries_reset()', 'iosat_wait_profile_reset()')
{
	my ($rc, $out, $err) = $node->psql('fresh', "SELECT $f",
		extra_params => [ '-U', 'up_monitor' ]);
	like($err, qr/permission denied for function/, "$default: pg_monitor may not call $f");
	is($node->safe_psql('fresh',
			"SELECT has_function_privilege('pg_monitor', '$f', 'EXECUTE')"),
		'f', "$default: nor may pg_monitor's members through it");
}
like($node->safe_psql('fresh', 'SELECT count(*) FROM iosat_wait_profile',
		extra_params => [ '-U', 'up_monitor' ]),
	qr/^\d+$/, 'pg_monitor still reads the profile');

# --- iosat_vacuum's I/O columns: pg_stat_activity's visibility ------------
# a manual VACUUM (iosat.vacuum_manual) by vac_owner, slowed so that it lasts
$node->safe_psql('fresh', <<'SQL');
CREATE ROLE vac_owner LOGIN;
CREATE ROLE vac_other LOGIN;
CREATE ROLE vac_stats LOGIN IN ROLE pg_read_all_stats;
CREATE TABLE vt AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 50000) g;
DELETE FROM vt WHERE id % 2 = 0;
ALTER TABLE vt OWNER TO vac_owner;
SQL
my $vac = async_psql($node,
	"SET vacuum_cost_delay = '100ms';\nSET vacuum_cost_limit = 1;\nVACUUM vt;\n",
	user => 'vac_owner', db => 'fresh');
my $pid = wait_until(
	sub {
		my $p = $node->safe_psql('fresh', <<'SQL');
SELECT pid FROM iosat_vacuum_workers()
 WHERE kind = 'manual' AND read_bytes IS NOT NULL AND read_mbps IS NOT NULL
SQL
		return $p =~ /^\d+$/ ? $p : 0;
	},
	60, 'the manual VACUUM in iosat_vacuum with its I/O sampled');
ok($pid, "a manual VACUUM is in iosat_vacuum (pid $pid)");
my $io_cols = 'read_mbps IS NOT NULL, read_bytes IS NOT NULL, write_bytes IS NOT NULL, rchar IS NOT NULL, io_sample_time IS NOT NULL';
my %sees = (vac_owner => 't|t|t|t|t', vac_stats => 't|t|t|t|t', vac_other => 'f|f|f|f|f');
for my $role (sort keys %sees)
{
	is($node->safe_psql('fresh', "SELECT $io_cols FROM iosat_vacuum WHERE pid = $pid",
			extra_params => [ '-U', $role ]),
		$sees{$role}, "iosat_vacuum as $role: I/O columns " . ($sees{$role} =~ /t/ ? 'shown' : 'hidden'));
	is($node->safe_psql('fresh', "SELECT $io_cols FROM iosat_vacuum_workers() WHERE pid = $pid",
			extra_params => [ '-U', $role ]),
		$sees{$role}, "iosat_vacuum_workers() as $role: the same");
}
like($node->safe_psql('fresh', "SELECT kind || '|' || state FROM iosat_vacuum WHERE pid = $pid",
		extra_params => [ '-U', 'vac_other' ]),
	qr/^manual\|\w/, 'the row itself (pid, kind, state) stays public');
$node->safe_psql('fresh', "SELECT pg_cancel_backend($pid)");
finish_psql($vac);

$node->stop;
done_testing();
