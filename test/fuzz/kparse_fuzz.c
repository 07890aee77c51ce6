/*
 * kparse_fuzz.c - libFuzzer harness for every parser in src/collect/kparse.c.
 *
 * One binary, one target per run: IOSAT_FUZZ_TARGET=<name> selects the
 * parser (see targets[] below; test/fuzz/run.sh runs each in turn with its
 * own corpus).  Without IOSAT_FUZZ_TARGET, or with "all", the first byte of
 * the input picks the target and the rest is the input.
 *
 * Besides the sanitizers (the binary is built with
 * -fsanitize=fuzzer,address,undefined), each target asserts what its parser
 * promises in kparse.h: output strings NUL-terminated inside the caller's
 * bound, no writes past an output struct (they live in exactly-sized heap
 * blocks), field counts and ranges as documented, and, for the token-level
 * parsers (u64, majmin, diskstat, inflight), the same verdict and values as
 * an independent reference parser.  A broken invariant abort()s, which
 * libFuzzer reports as a crash and saves.
 *
 * Built by test/fuzz/run.sh:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -Isrc/collect test/fuzz/kparse_fuzz.c src/collect/kparse.c -o kparse_fuzz
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kparse.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "iosat fuzz invariant failed (%s): %s at %s:%d\n", \
					cur_target, #cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

static const char *cur_target = "?";

/* ---- helpers ---- */

static int
sp(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int
dig(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* reference: a token of decimal digits, false on empty/overflow/other chars */
static int
ref_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t	v = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
	{
		if (!dig(s[i]))
			return 0;
		if (__builtin_mul_overflow(v, 10, &v) ||
			__builtin_add_overflow(v, (uint64_t) (s[i] - '0'), &v))
			return 0;
	}
	*out = v;
	return 1;
}

/* reference tokenizer: split on the parsers' white space */
typedef struct
{
	const char *s;
	size_t		n;
} Tok;

static int
tokens(const char *buf, size_t len, Tok *toks, int max)
{
	int			n = 0;
	size_t		i = 0;

	while (i < len)
	{
		size_t		st;

		while (i < len && sp(buf[i]))
			i++;
		if (i >= len)
			break;
		st = i;
		while (i < len && !sp(buf[i]))
			i++;
		if (n < max)
		{
			toks[n].s = buf + st;
			toks[n].n = i - st;
		}
		n++;
	}
	return n;
}

/* an exactly-sized heap copy of a string out-buffer, poisoned beforehand */
static char *
outbuf(size_t len)
{
	char	   *p = malloc(len ? len : 1);

	if (len)
		memset(p, 0xA5, len);
	return p;
}

/* the output is a NUL-terminated string inside its bound */
static size_t
bounded_strlen(const char *p, size_t len)
{
	const char *z = len ? memchr(p, '\0', len) : NULL;

	CHECK(z != NULL);
	return (size_t) (z - p);
}

static int
contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
	if (nn == 0)
		return 1;
	for (size_t i = 0; i + nn <= hn; i++)
		if (memcmp(hay + i, needle, nn) == 0)
			return 1;
	return 0;
}

/* a second, small bound taken from the input (0 .. 39) */
static size_t
small_bound(const char *buf, size_t len)
{
	unsigned	h = (unsigned) len;

	for (size_t i = 0; i < len && i < 64; i++)
		h = h * 31 + (unsigned char) buf[i];
	return h % 40;
}

/* ---- targets ---- */

static void
t_u64(const char *buf, size_t len)
{
	uint64_t   *v = malloc(sizeof(*v));
	Tok			t[2];
	int			nt = tokens(buf, len, t, 2);
	uint64_t	ref;
	int			ok = kparse_u64(buf, len, v);
	int			rok = nt == 1 && ref_u64(t[0].s, t[0].n, &ref);

	CHECK(ok == rok);
	if (ok)
		CHECK(*v == ref);
	free(v);
}

static void
t_majmin(const char *buf, size_t len)
{
	unsigned   *ma = malloc(sizeof(*ma));
	unsigned   *mi = malloc(sizeof(*mi));
	Tok			t[2];
	int			nt = tokens(buf, len, t, 2);
	int			ok = kparse_majmin(buf, len, ma, mi);
	int			rok = 0;
	uint64_t	a = 0,
				b = 0;

	if (nt == 1)
	{
		const char *colon = memchr(t[0].s, ':', t[0].n);

		if (colon != NULL)
		{
			size_t		na = (size_t) (colon - t[0].s);

			rok = ref_u64(t[0].s, na, &a) &&
				ref_u64(colon + 1, t[0].n - na - 1, &b) &&
				a <= 0xFFFFFFFFu && b <= 0xFFFFFFFFu;
		}
	}
	CHECK(ok == rok);
	if (ok)
		CHECK(*ma == a && *mi == b);
	free(ma);
	free(mi);
}

static void
t_diskstat(const char *buf, size_t len)
{
	KDiskStat  *st = malloc(sizeof(*st));
	Tok			t[18];
	int			nt = tokens(buf, len, t, 18);
	uint64_t	ref[17];
	int			rok = (nt == 11 || nt == 15 || nt == 17);
	int			ok = kparse_diskstat(buf, len, st);

	for (int i = 0; rok && i < nt; i++)
		rok = ref_u64(t[i].s, t[i].n, &ref[i]);
	CHECK(ok == rok);
	if (ok)
	{
		const uint64_t got[17] = {
			st->rd_ios, st->rd_merges, st->rd_sectors, st->rd_ticks,
			st->wr_ios, st->wr_merges, st->wr_sectors, st->wr_ticks,
			st->in_flight, st->io_ticks, st->time_in_queue,
			st->dc_ios, st->dc_merges, st->dc_sectors, st->dc_ticks,
			st->fl_ios, st->fl_ticks
		};

		CHECK(st->nfields == 11 || st->nfields == 15 || st->nfields == 17);
		CHECK(st->nfields == nt);
		for (int i = 0; i < 17; i++)
			CHECK(got[i] == (i < nt ? ref[i] : 0));
	}
	free(st);
}

static void
t_inflight(const char *buf, size_t len)
{
	uint64_t   *r = malloc(sizeof(*r));
	uint64_t   *w = malloc(sizeof(*w));
	Tok			t[3];
	int			nt = tokens(buf, len, t, 3);
	uint64_t	a,
				b;
	int			rok = nt == 2 && ref_u64(t[0].s, t[0].n, &a) &&
		ref_u64(t[1].s, t[1].n, &b);
	int			ok = kparse_inflight(buf, len, r, w);

	CHECK(ok == rok);
	if (ok)
		CHECK(*r == a && *w == b);
	free(r);
	free(w);
}

/* scheduler, wchan: a string into a bounded buffer; check two bounds agree */
typedef int (*strparser) (const char *, size_t, char *, size_t);

static void
bounded_pair(const char *buf, size_t len, strparser fn, size_t big,
			 int (*valid) (const char *, size_t, const char *, size_t))
{
	size_t		b1 = big,
				b2 = small_bound(buf, len);
	char	   *a = outbuf(b1);
	char	   *b = outbuf(b2);
	int			oka = fn(buf, len, a, b1);
	int			okb = fn(buf, len, b, b2);
	size_t		la = 0,
				lb = 0;

	if (oka)
	{
		la = bounded_strlen(a, b1);
		CHECK(valid(a, la, buf, len));
	}
	if (okb)
	{
		lb = bounded_strlen(b, b2);
		CHECK(valid(b, lb, buf, len));
	}
	if (oka && okb)
		CHECK(la == lb && memcmp(a, b, la) == 0);
	/*
	 * the verdict depends on the bound only through the length: a result
	 * that fits the other bound is found with it too ("0", shown as "",
	 * needs 2 bytes)
	 */
	if (oka && (la > 0 ? la < b2 : b2 >= 2))
		CHECK(okb);
	if (okb && (lb > 0 ? lb < b1 : b1 >= 2))
		CHECK(oka);
	free(a);
	free(b);
}

static int
valid_scheduler(const char *s, size_t n, const char *buf, size_t len)
{
	if (n == 0 || !contains(buf, len, s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (sp(s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

static int
kparse_scheduler_i(const char *b, size_t l, char *o, size_t ol)
{
	return kparse_scheduler(b, l, o, ol);
}

static void
t_scheduler(const char *buf, size_t len)
{
	bounded_pair(buf, len, kparse_scheduler_i, 32, valid_scheduler);
}

static int
valid_wchan(const char *s, size_t n, const char *buf, size_t len)
{
	if (n == 1 && s[0] == '0')
		return 0;				/* "0" means running: reported as "" */
	for (size_t i = 0; i < n; i++)
	{
		char		ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  dig(ch) || ch == '_' || ch == '.' || ch == '$'))
			return 0;
	}
	return contains(buf, len, s, n);
}

static int
kparse_wchan_i(const char *b, size_t l, char *o, size_t ol)
{
	return kparse_wchan(b, l, o, ol);
}

static void
t_wchan(const char *buf, size_t len)
{
	bounded_pair(buf, len, kparse_wchan_i, 256, valid_wchan);
}

static void
check_psi_line(const KPsiLine *l)
{
	if (!l->present)
		return;
	CHECK(isfinite(l->avg10) && isfinite(l->avg60) && isfinite(l->avg300));
	CHECK(l->avg10 >= 0 && l->avg10 <= 100.0);
	CHECK(l->avg60 >= 0 && l->avg60 <= 100.0);
	CHECK(l->avg300 >= 0 && l->avg300 <= 100.0);
}

static void
t_psi(const char *buf, size_t len)
{
	KPsi	   *p = malloc(sizeof(*p));

	if (kparse_psi(buf, len, p))
	{
		CHECK(p->some.present);
		check_psi_line(&p->some);
		check_psi_line(&p->full);
		CHECK(contains(buf, len, "some", 4));
		if (p->full.present)
			CHECK(contains(buf, len, "full", 4));
	}
	free(p);
}

static void
t_proc_stat(const char *buf, size_t len)
{
	KProcStat  *st = malloc(sizeof(*st));

	if (kparse_proc_stat(buf, len, st))
	{
		const char *open = memchr(buf, '(', len);
		size_t		cl = bounded_strlen(st->comm, sizeof(st->comm));

		CHECK(st->pid > 0);
		CHECK(st->nfields >= 42 && st->nfields <= 52);
		CHECK(!sp(st->state));
		CHECK(open != NULL);
		/* comm is the start of what follows '(' (up to 16 bytes) */
		CHECK(cl <= 16 && (size_t) (buf + len - open - 1) >= cl);
		CHECK(memcmp(st->comm, open + 1, cl) == 0);
	}
	free(st);
}

static void
t_proc_status(const char *buf, size_t len)
{
	KProcStatus *st = malloc(sizeof(*st));

	if (kparse_proc_status(buf, len, st))
	{
		CHECK(!sp(st->state));
		CHECK(contains(buf, len, "State:", 6));
		if (st->have_sig)
			CHECK(contains(buf, len, "SigPnd:", 7) && contains(buf, len, "ShdPnd:", 7));
	}
	free(st);
}

static void
t_proc_io(const char *buf, size_t len)
{
	KProcIo    *io = malloc(sizeof(*io));

	if (kparse_proc_io(buf, len, io))
	{
		CHECK(io->nfound == 7);
		CHECK(io->rchar == 0 || contains(buf, len, "rchar:", 6));
	}
	else
		CHECK(io->nfound >= 0 && io->nfound <= 7);
	free(io);
}

static void
t_loadavg(const char *buf, size_t len)
{
	KLoadAvg   *la = malloc(sizeof(*la));

	if (kparse_loadavg(buf, len, la))
	{
		CHECK(isfinite(la->load1) && isfinite(la->load5) && isfinite(la->load15));
		CHECK(la->load1 >= 0 && la->load5 >= 0 && la->load15 >= 0);
		CHECK(la->running >= 0 && la->running <= la->total);
		CHECK(la->last_pid >= 0);
	}
	free(la);
}

/* a parsed system call prints back as the kernel would, and parses the same */
static void
t_proc_syscall(const char *buf, size_t len)
{
	KSyscall	a,
				b;
	char		again[256];
	int			n;

	if (!kparse_proc_syscall(buf, len, &a))
		return;
	CHECK(a.in_syscall == (a.nr >= 0));
	if (!a.in_syscall)
	{
		for (int i = 0; i < 6; i++)
			CHECK(a.args[i] == 0);
		return;
	}
	n = snprintf(again, sizeof(again),
				 "%lld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x0 0x0\n",
				 (long long) a.nr,
				 (unsigned long long) a.args[0], (unsigned long long) a.args[1],
				 (unsigned long long) a.args[2], (unsigned long long) a.args[3],
				 (unsigned long long) a.args[4], (unsigned long long) a.args[5]);
	CHECK(n > 0 && (size_t) n < sizeof(again));
	CHECK(kparse_proc_syscall(again, (size_t) n, &b));
	CHECK(b.in_syscall && b.nr == a.nr && memcmp(a.args, b.args, sizeof(a.args)) == 0);
}

/* value of the first line starting with key, by a simple scan */
static int
line_value(const char *buf, size_t len, const char *key, uint64_t *out)
{
	size_t		kl = strlen(key);
	size_t		i = 0;

	while (i < len)
	{
		size_t		e = i;

		while (e < len && buf[e] != '\n')
			e++;
		if (e - i >= kl && memcmp(buf + i, key, kl) == 0)
		{
			size_t		s = i + kl,
						d;

			while (s < e && (buf[s] == ' ' || buf[s] == '\t'))
				s++;
			d = s;
			while (d < e && dig(buf[d]))
				d++;
			return ref_u64(buf + s, d - s, out);
		}
		i = e + 1;
	}
	return 0;
}

static void
t_sysstat(const char *buf, size_t len)
{
	KSysStat   *ss = malloc(sizeof(*ss));

	if (kparse_sysstat(buf, len, ss))
	{
		uint64_t	r,
					b;

		CHECK(line_value(buf, len, "procs_running ", &r) && r == ss->procs_running);
		CHECK(line_value(buf, len, "procs_blocked ", &b) && b == ss->procs_blocked);
	}
	free(ss);
}

/* major:minor of one line's third field (0:0 when there is none) */
static void
line_key(const char *buf, size_t len, int last, unsigned *ma, unsigned *mi)
{
	size_t		s = 0,
				e;
	Tok			t[3];

	*ma = *mi = 0;
	if (last)
	{
		size_t		end = len;

		while (end > 0 && buf[end - 1] == '\n')
			end--;
		s = end;
		while (s > 0 && buf[s - 1] != '\n')
			s--;
	}
	e = s;
	while (e < len && buf[e] != '\n')
		e++;
	if (tokens(buf + s, e - s, t, 3) >= 3)
	{
		const char *colon = memchr(t[2].s, ':', t[2].n);
		uint64_t	a,
					b;

		if (colon && ref_u64(t[2].s, (size_t) (colon - t[2].s), &a) &&
			ref_u64(colon + 1, t[2].n - (size_t) (colon - t[2].s) - 1, &b))
		{
			*ma = (unsigned) a;
			*mi = (unsigned) b;
		}
	}
}

static void
mountinfo_one(const char *buf, size_t len, unsigned ma, unsigned mi)
{
	size_t		sb = small_bound(buf, len);
	size_t		bigf = 32,
				bigs = 1024,
				smallf = sb,
				smalls = (sb * 7) % 40;
	char	   *f1 = outbuf(bigf),
			   *s1 = outbuf(bigs),
			   *f2 = outbuf(smallf),
			   *s2 = outbuf(smalls);
	int			ok1 = kparse_mountinfo_find(buf, len, ma, mi, f1, bigf, s1, bigs);
	int			ok2 = kparse_mountinfo_find(buf, len, ma, mi, f2, smallf, s2, smalls);
	size_t		lf1 = 0,
				ls1 = 0;

	if (ok1)
	{
		lf1 = bounded_strlen(f1, bigf);
		ls1 = bounded_strlen(s1, bigs);
		CHECK(valid_scheduler(f1, lf1, buf, len));	/* one word of the input */
		CHECK(valid_scheduler(s1, ls1, buf, len));
	}
	if (ok2)
	{
		size_t		lf2 = bounded_strlen(f2, smallf),
					ls2 = bounded_strlen(s2, smalls);

		CHECK(valid_scheduler(f2, lf2, buf, len));
		CHECK(valid_scheduler(s2, ls2, buf, len));
		if (lf2 < bigf && ls2 < bigs)
			CHECK(ok1);
		if (ok1)
			CHECK(lf1 == lf2 && ls1 == ls2 &&
				  memcmp(f1, f2, lf1) == 0 && memcmp(s1, s2, ls1) == 0);
	}
	/* the verdict depends on the bounds only through the lengths */
	if (ok1 && lf1 < smallf && ls1 < smalls)
		CHECK(ok2);
	free(f1);
	free(s1);
	free(f2);
	free(s2);
}

static void
t_mountinfo(const char *buf, size_t len)
{
	unsigned	ma,
				mi;

	line_key(buf, len, 0, &ma, &mi);
	mountinfo_one(buf, len, ma, mi);
	line_key(buf, len, 1, &ma, &mi);
	mountinfo_one(buf, len, ma, mi);
}

/* kcounter_delta on two u64 from the input (little-endian, zero-padded) */
static void
t_counter(const char *buf, size_t len)
{
	uint64_t	prev = 0,
				cur = 0,
				d = 0;

	memcpy(&prev, buf, len < 8 ? len : 8);
	if (len > 8)
		memcpy(&cur, buf + 8, len - 8 < 8 ? len - 8 : 8);
	/* also the small, realistic range: the low 33 bits */
	for (int pass = 0; pass < 2; pass++)
	{
		if (kcounter_delta(prev, cur, &d))
		{
			if (cur >= prev)
				CHECK(d == cur - prev);
			else
			{
				CHECK(prev >= 0x80000000u && prev <= 0xFFFFFFFFu && cur <= 0xFFFFFFFFu);
				CHECK(d <= 0xFFFFFFFFu && ((prev + d) & 0xFFFFFFFFu) == cur);
			}
		}
		else
			CHECK(cur < prev);
		prev &= 0x1FFFFFFFFu;
		cur &= 0x1FFFFFFFFu;
	}
}

/*
 * reference for kparse_keyvals: the value of the last line named KEY (its
 * name runs to ':' or white space), parsed as the parser promises; -1: no
 * such line, 0: a malformed one
 */
static int
ref_keyval(const char *buf, size_t len, const char *key, uint64_t *out)
{
	size_t		kl = strlen(key);
	int			found = -1;

	for (size_t i = 0; i < len;)
	{
		size_t		e = i,
					n,
					d;

		while (e < len && buf[e] != '\n')
			e++;
		n = i;
		while (n < e && buf[n] != ':' && !sp(buf[n]))
			n++;
		if (n - i == kl && kl > 0 && memcmp(buf + i, key, kl) == 0)
		{
			if (found >= 0)
				return 0;		/* twice */
			if (n < e && buf[n] == ':')
				n++;
			while (n < e && (buf[n] == ' ' || buf[n] == '\t'))
				n++;
			d = n;
			while (d < e && dig(buf[d]))
				d++;
			if (!ref_u64(buf + n, d - n, out) || *out == UINT64_MAX)
				return 0;
			while (d < e && (buf[d] == ' ' || buf[d] == '\t'))
				d++;
			if (e - d >= 2 && buf[d] == 'k' && buf[d + 1] == 'B')
				d += 2;
			while (d < e && (buf[d] == ' ' || buf[d] == '\t'))
				d++;
			if (d != e)
				return 0;
			found = 1;
		}
		i = e + 1;
	}
	return found;
}

/* kparse_keyvals with memory.stat's and meminfo's names, against the reference */
static void
t_keyvals(const char *buf, size_t len)
{
	static const char *const keys[] = {"dirty", "writeback", "total_dirty",
	"file_dirty", "Dirty", "Writeback"};
	enum
	{
	NK = sizeof(keys) / sizeof(keys[0])};
	uint64_t   *vals = malloc(NK * sizeof(uint64_t));
	int			ok = 1;
	uint64_t	ref[NK];
	int			got[NK];

	for (int i = 0; i < NK; i++)
	{
		got[i] = ref_keyval(buf, len, keys[i], &ref[i]);
		if (got[i] == 0)
			ok = 0;
	}
	if (kparse_keyvals(buf, len, keys, NK, vals))
	{
		CHECK(ok);
		for (int i = 0; i < NK; i++)
			CHECK(got[i] < 0 ? vals[i] == KPARSE_ABSENT : vals[i] == ref[i]);
	}
	else
		CHECK(!ok);
	free(vals);
}

/* kparse_cgroup_path: a NUL-terminated absolute path inside its bound */
static void
t_cgroup(const char *buf, size_t len)
{
	static const char *const ctl[] = {"memory", "", "cpu"};

	for (int i = 0; i < 3; i++)
	{
		size_t		outlen = 1 + (len % 64);
		char	   *out = malloc(outlen);

		if (kparse_cgroup_path(buf, len, ctl[i], out, outlen))
		{
			size_t		n = strnlen(out, outlen);

			CHECK(n < outlen && n > 0 && out[0] == '/');
			CHECK(memchr(out, '\n', n) == NULL);
			CHECK(contains(buf, len, out, n));
		}
		free(out);
	}
}

typedef void (*target_fn) (const char *, size_t);

static const struct
{
	const char *name;
	target_fn	fn;
}			targets[] = {
	{"u64", t_u64},
	{"majmin", t_majmin},
	{"diskstat", t_diskstat},
	{"inflight", t_inflight},
	{"scheduler", t_scheduler},
	{"psi", t_psi},
	{"proc_stat", t_proc_stat},
	{"proc_status", t_proc_status},
	{"proc_io", t_proc_io},
	{"wchan", t_wchan},
	{"loadavg", t_loadavg},
	{"sysstat", t_sysstat},
	{"mountinfo", t_mountinfo},
	{"counter", t_counter},
	{"proc_syscall", t_proc_syscall},
	{"keyvals", t_keyvals},
	{"cgroup", t_cgroup},
};
#define NTARGETS ((int) (sizeof(targets) / sizeof(targets[0])))

static int	selected = -1;		/* -1: dispatch on the first byte */

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("IOSAT_FUZZ_TARGET");

	(void) argc;
	(void) argv;
	if (t == NULL || t[0] == '\0' || strcmp(t, "all") == 0)
		return 0;
	if (strcmp(t, "list") == 0)
	{
		for (int i = 0; i < NTARGETS; i++)
			printf("%s\n", targets[i].name);
		exit(0);
	}
	for (int i = 0; i < NTARGETS; i++)
		if (strcmp(t, targets[i].name) == 0)
			selected = i;
	if (selected < 0)
	{
		fprintf(stderr, "kparse_fuzz: unknown IOSAT_FUZZ_TARGET \"%s\"\n", t);
		exit(2);
	}
	cur_target = targets[selected].name;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			t = selected;
	char	   *buf;

	if (t < 0)
	{
		if (size == 0)
			return 0;
		t = data[0] % NTARGETS;
		data++;
		size--;
		cur_target = targets[t].name;
	}
	/* an exactly-sized copy, not NUL-terminated: a read past len is caught */
	buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	targets[t].fn(buf, size);
	free(buf);
	return 0;
}
