/*-------------------------------------------------------------------------
 *
 * kparse.c
 *	  Parsers for kernel text in /sys and /proc (see kparse.h).
 *
 * A small cursor walks the buffer; every number is parsed with an explicit
 * overflow check and every string is copied with an explicit bound, so that
 * truncated, malformed or hostile content yields "false", never a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "kparse.h"

#include <string.h>

typedef struct Cursor
{
	const char *p;
	const char *end;
} Cursor;

static void
cur_init(Cursor *c, const char *buf, size_t len)
{
	c->p = buf;
	c->end = buf + len;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static void
skip_blanks(Cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static void
skip_space(Cursor *c)
{
	while (c->p < c->end && is_space(*c->p))
		c->p++;
}

static bool
at_end_or_space(Cursor *c)
{
	return c->p >= c->end || is_space(*c->p);
}

/* unsigned decimal; at least one digit; overflow is an error */
static bool
take_u64(Cursor *c, uint64_t *out)
{
	uint64_t	v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
	{
		unsigned	d = (unsigned) (*c->p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		c->p++;
	}
	if (c->p == start)
		return false;
	*out = v;
	return true;
}

static bool
take_i64(Cursor *c, int64_t *out)
{
	bool		neg = false;
	uint64_t	v;

	if (c->p < c->end && *c->p == '-')
	{
		neg = true;
		c->p++;
	}
	if (!take_u64(c, &v))
		return false;
	if (neg)
	{
		if (v > (uint64_t) INT64_MAX + 1)
			return false;
		*out = (v == (uint64_t) INT64_MAX + 1) ? INT64_MIN : -(int64_t) v;
	}
	else
	{
		if (v > (uint64_t) INT64_MAX)
			return false;
		*out = (int64_t) v;
	}
	return true;
}

/* "12.34": non-negative decimal with optional fraction, as PSI prints */
static bool
take_fixed(Cursor *c, double *out)
{
	uint64_t	ip;
	double		v;

	if (!take_u64(c, &ip))
		return false;
	v = (double) ip;
	if (c->p < c->end && *c->p == '.')
	{
		double		scale = 0.1;
		const char *start;

		c->p++;
		start = c->p;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		{
			v += (*c->p - '0') * scale;
			scale /= 10;
			c->p++;
		}
		if (c->p == start)
			return false;
	}
	*out = v;
	return true;
}

static bool
hex_digit(char ch, unsigned *d)
{
	if (ch >= '0' && ch <= '9')
		*d = (unsigned) (ch - '0');
	else if (ch >= 'a' && ch <= 'f')
		*d = (unsigned) (ch - 'a' + 10);
	else if (ch >= 'A' && ch <= 'F')
		*d = (unsigned) (ch - 'A' + 10);
	else
		return false;
	return true;
}

/* "0x1f": hexadecimal with its prefix, as the kernel prints %lx; overflow is an error */
static bool
take_hex(Cursor *c, uint64_t *out)
{
	uint64_t	v = 0;
	const char *start;

	if (c->end - c->p < 2 || c->p[0] != '0' || c->p[1] != 'x')
		return false;
	c->p += 2;
	start = c->p;
	while (c->p < c->end)
	{
		unsigned	d;

		if (!hex_digit(*c->p, &d))
			break;
		if (v > (UINT64_MAX >> 4))
			return false;
		v = (v << 4) | d;
		c->p++;
	}
	if (c->p == start)
		return false;
	*out = v;
	return true;
}

static bool
take_literal(Cursor *c, const char *lit)
{
	size_t		n = strlen(lit);

	if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return false;
	c->p += n;
	return true;
}

/*
 * copy a bounded token up to white space; empty or too long is an error, and
 * so is a NUL byte (never in kernel text; it would cut the copy short and
 * yield an empty or truncated name)
 */
static bool
take_word(Cursor *c, char *out, size_t outlen)
{
	size_t		n = 0;

	if (outlen == 0)
		return false;
	while (c->p < c->end && !is_space(*c->p))
	{
		if (n + 1 >= outlen || *c->p == '\0')
			return false;
		out[n++] = *c->p++;
	}
	out[n] = '\0';
	return n > 0;
}

/* advance to the character after the next newline (or to the end) */
static void
next_line(Cursor *c)
{
	while (c->p < c->end && *c->p != '\n')
		c->p++;
	if (c->p < c->end)
		c->p++;
}

bool
kparse_u64(const char *buf, size_t len, uint64_t *out)
{
	Cursor		c;

	cur_init(&c, buf, len);
	skip_space(&c);
	if (!take_u64(&c, out))
		return false;
	skip_space(&c);
	return c.p == c.end;
}

bool
kparse_majmin(const char *buf, size_t len,
			  unsigned int *major, unsigned int *minor)
{
	Cursor		c;
	uint64_t	ma,
				mi;

	cur_init(&c, buf, len);
	skip_space(&c);
	if (!take_u64(&c, &ma) || !take_literal(&c, ":") || !take_u64(&c, &mi))
		return false;
	skip_space(&c);
	if (c.p != c.end || ma > 0xFFFFFFFFu || mi > 0xFFFFFFFFu)
		return false;
	*major = (unsigned int) ma;
	*minor = (unsigned int) mi;
	return true;
}

bool
kparse_diskstat(const char *buf, size_t len, KDiskStat *out)
{
	Cursor		c;
	uint64_t	v[17];
	int			n = 0;

	cur_init(&c, buf, len);
	for (;;)
	{
		skip_space(&c);
		if (c.p >= c.end)
			break;
		if (n == 17)
			return false;		/* more fields than any kernel prints */
		if (!take_u64(&c, &v[n]) || !at_end_or_space(&c))
			return false;
		n++;
	}
	if (n != 11 && n != 15 && n != 17)
		return false;

	memset(out, 0, sizeof(*out));
	out->nfields = n;
	out->rd_ios = v[0];
	out->rd_merges = v[1];
	out->rd_sectors = v[2];
	out->rd_ticks = v[3];
	out->wr_ios = v[4];
	out->wr_merges = v[5];
	out->wr_sectors = v[6];
	out->wr_ticks = v[7];
	out->in_flight = v[8];
	out->io_ticks = v[9];
	out->time_in_queue = v[10];
	if (n >= 15)
	{
		out->dc_ios = v[11];
		out->dc_merges = v[12];
		out->dc_sectors = v[13];
		out->dc_ticks = v[14];
	}
	if (n >= 17)
	{
		out->fl_ios = v[15];
		out->fl_ticks = v[16];
	}
	return true;
}

bool
kparse_inflight(const char *buf, size_t len, uint64_t *reads, uint64_t *writes)
{
	Cursor		c;

	cur_init(&c, buf, len);
	skip_space(&c);
	if (!take_u64(&c, reads) || !at_end_or_space(&c))
		return false;
	skip_space(&c);
	if (!take_u64(&c, writes))
		return false;
	skip_space(&c);
	return c.p == c.end;
}

/* "none [mq-deadline] kyber" -> "mq-deadline"; "none" alone -> "none" */
bool
kparse_scheduler(const char *buf, size_t len, char *out, size_t outlen)
{
	Cursor		c;
	int			words = 0;
	char		first[64] = "";

	cur_init(&c, buf, len);
	for (;;)
	{
		char		word[64];

		skip_space(&c);
		if (c.p >= c.end)
			break;
		if (!take_word(&c, word, sizeof(word)))
			return false;
		if (words++ == 0)
			memcpy(first, word, sizeof(first));
		if (word[0] == '[')
		{
			size_t		wl = strlen(word);

			if (wl < 3 || word[wl - 1] != ']' || wl - 2 >= outlen)
				return false;
			memcpy(out, word + 1, wl - 2);
			out[wl - 2] = '\0';
			return true;
		}
	}
	/* a single scheduler is printed without brackets on some kernels */
	if (words == 1 && strlen(first) < outlen)
	{
		memcpy(out, first, strlen(first) + 1);
		return true;
	}
	return false;
}

static bool
psi_line(Cursor *c, KPsiLine *line)
{
	skip_blanks(c);
	if (!take_literal(c, "avg10=") || !take_fixed(c, &line->avg10))
		return false;
	skip_blanks(c);
	if (!take_literal(c, "avg60=") || !take_fixed(c, &line->avg60))
		return false;
	skip_blanks(c);
	if (!take_literal(c, "avg300=") || !take_fixed(c, &line->avg300))
		return false;
	skip_blanks(c);
	if (!take_literal(c, "total=") || !take_u64(c, &line->total))
		return false;
	skip_blanks(c);
	if (c->p < c->end && *c->p != '\n')
		return false;
	if (line->avg10 > 100.0 || line->avg60 > 100.0 || line->avg300 > 100.0)
		return false;
	line->present = true;
	return true;
}

bool
kparse_psi(const char *buf, size_t len, KPsi *out)
{
	Cursor		c;

	memset(out, 0, sizeof(*out));
	cur_init(&c, buf, len);
	for (;;)
	{
		skip_space(&c);
		if (c.p >= c.end)
			break;
		if (take_literal(&c, "some"))
		{
			if (out->some.present || !psi_line(&c, &out->some))
				return false;
		}
		else if (take_literal(&c, "full"))
		{
			if (out->full.present || !psi_line(&c, &out->full))
				return false;
		}
		else
			return false;
	}
	return out->some.present;
}

/*
 * /proc/<pid>/stat: "pid (comm) S ppid ...".  comm may hold spaces and
 * parentheses, so it runs to the LAST ')' in the buffer.
 */
bool
kparse_proc_stat(const char *buf, size_t len, KProcStat *out)
{
	Cursor		c;
	const char *open;
	const char *close = NULL;
	uint64_t	pid;
	int			field;
	size_t		clen;

	memset(out, 0, sizeof(*out));
	cur_init(&c, buf, len);
	skip_space(&c);
	if (!take_u64(&c, &pid) || pid == 0 || pid > 0x7FFFFFFF)
		return false;
	out->pid = (int) pid;
	skip_blanks(&c);
	if (c.p >= c.end || *c.p != '(')
		return false;
	open = c.p;
	for (const char *q = c.end; q > open; q--)
	{
		if (q[-1] == ')')
		{
			close = q - 1;
			break;
		}
	}
	if (close == NULL || close <= open)
		return false;
	clen = (size_t) (close - open - 1);
	if (clen >= sizeof(out->comm))
		clen = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, clen);
	out->comm[clen] = '\0';
	c.p = close + 1;

	/* field 3: state */
	skip_blanks(&c);
	if (c.p >= c.end || is_space(*c.p))
		return false;
	out->state = *c.p++;
	if (!at_end_or_space(&c))
		return false;

	/*
	 * fields 4..52, all integers; keep the ones we use.  Some are unsigned
	 * and print values above INT64_MAX (rsslim is 18446744073709551615 when
	 * unlimited, as it is for most processes): read those as uint64.
	 */
	for (field = 4; field <= 52; field++)
	{
		int64_t		v;

		skip_blanks(&c);
		if (c.p >= c.end || *c.p == '\n')
			break;
		if (*c.p == '-')
		{
			if (!take_i64(&c, &v))
				return false;
		}
		else
		{
			uint64_t	u;

			if (!take_u64(&c, &u))
				return false;
			v = (int64_t) u;
		}
		if (!at_end_or_space(&c))
			return false;
		switch (field)
		{
			case 4:
				out->ppid = (int) v;
				break;
			case 10:
				out->minflt = (uint64_t) v;
				break;
			case 12:
				out->majflt = (uint64_t) v;
				break;
			case 14:
				out->utime = (uint64_t) v;
				break;
			case 15:
				out->stime = (uint64_t) v;
				break;
			case 18:
				out->priority = v;
				break;
			case 19:
				out->nice = v;
				break;
			case 20:
				out->num_threads = v;
				break;
			case 22:
				out->starttime = (uint64_t) v;
				break;
			case 39:
				out->processor = (int) v;
				break;
			case 42:
				out->delayacct_blkio_ticks = (uint64_t) v;
				break;
		}
	}
	out->nfields = field - 1;
	/* everything up to the processor field is in every supported kernel */
	return out->nfields >= 42;
}

static bool
status_hex(Cursor *c, uint64_t *out)
{
	uint64_t	v = 0;
	int			digits = 0;

	skip_blanks(c);
	while (c->p < c->end && !is_space(*c->p))
	{
		unsigned	d;

		if (!hex_digit(*c->p, &d))
			return false;
		if (++digits > 16)
			return false;
		v = (v << 4) | d;
		c->p++;
	}
	*out = v;
	return digits > 0;
}

static bool
status_u64(Cursor *c, uint64_t *out)
{
	skip_blanks(c);
	return take_u64(c, out);
}

bool
kparse_proc_status(const char *buf, size_t len, KProcStatus *out)
{
	Cursor		c;
	bool		have_state = false;
	unsigned	sigs = 0,		/* bits: SigPnd, ShdPnd seen */
				ctxt = 0;		/* bits: voluntary, nonvoluntary seen */

	memset(out, 0, sizeof(*out));
	cur_init(&c, buf, len);
	while (c.p < c.end)
	{
		bool		ok = true;

		if (take_literal(&c, "State:"))
		{
			skip_blanks(&c);
			if (c.p >= c.end || is_space(*c.p))
				return false;
			out->state = *c.p;
			have_state = true;
		}
		else if (take_literal(&c, "SigPnd:"))
			ok = !(sigs & 1) && status_hex(&c, &out->sigpnd) && (sigs |= 1);
		else if (take_literal(&c, "ShdPnd:"))
			ok = !(sigs & 2) && status_hex(&c, &out->shdpnd) && (sigs |= 2);
		else if (take_literal(&c, "SigBlk:"))
			ok = status_hex(&c, &out->sigblk);
		else if (take_literal(&c, "VmRSS:"))
			ok = status_u64(&c, &out->vm_rss_kb);
		else if (take_literal(&c, "voluntary_ctxt_switches:"))
			ok = !(ctxt & 1) && status_u64(&c, &out->voluntary_ctxt_switches) &&
				(ctxt |= 1);
		else if (take_literal(&c, "nonvoluntary_ctxt_switches:"))
			ok = !(ctxt & 2) &&
				status_u64(&c, &out->nonvoluntary_ctxt_switches) && (ctxt |= 2);
		if (!ok)
			return false;		/* malformed or duplicated line */
		next_line(&c);
	}
	out->have_sig = (sigs == 3);
	out->have_ctxt = (ctxt == 3);
	return have_state;
}

bool
kparse_proc_io(const char *buf, size_t len, KProcIo *out)
{
	static const char *const keys[] = {
		"rchar:", "wchar:", "syscr:", "syscw:",
		"read_bytes:", "write_bytes:", "cancelled_write_bytes:"
	};
	uint64_t   *slots[7];
	Cursor		c;
	unsigned	seen = 0;

	memset(out, 0, sizeof(*out));
	slots[0] = &out->rchar;
	slots[1] = &out->wchar;
	slots[2] = &out->syscr;
	slots[3] = &out->syscw;
	slots[4] = &out->read_bytes;
	slots[5] = &out->write_bytes;
	slots[6] = &out->cancelled_write_bytes;

	cur_init(&c, buf, len);
	while (c.p < c.end)
	{
		for (int i = 0; i < 7; i++)
		{
			if (take_literal(&c, keys[i]))
			{
				if (seen & (1u << i))
					return false;	/* duplicated key */
				skip_blanks(&c);
				if (!take_u64(&c, slots[i]))
					return false;
				seen |= 1u << i;
				out->nfound++;
				break;
			}
		}
		next_line(&c);
	}
	return out->nfound == 7;
}

/* /proc/<pid>/wchan: a symbol name, or "0" when running or unknown */
bool
kparse_wchan(const char *buf, size_t len, char *out, size_t outlen)
{
	Cursor		c;
	size_t		n = 0;

	if (outlen == 0)
		return false;
	cur_init(&c, buf, len);
	skip_space(&c);
	while (c.p < c.end && !is_space(*c.p))
	{
		char		ch = *c.p++;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
			  ch == '$'))
			return false;
		if (n + 1 >= outlen)
			return false;
		out[n++] = ch;
	}
	skip_space(&c);
	if (c.p != c.end)
		return false;
	out[n] = '\0';
	if (n == 1 && out[0] == '0')
		out[0] = '\0';
	return true;
}

bool
kparse_loadavg(const char *buf, size_t len, KLoadAvg *out)
{
	Cursor		c;
	uint64_t	r,
				t,
				lp;

	cur_init(&c, buf, len);
	skip_space(&c);
	if (!take_fixed(&c, &out->load1))
		return false;
	skip_blanks(&c);
	if (!take_fixed(&c, &out->load5))
		return false;
	skip_blanks(&c);
	if (!take_fixed(&c, &out->load15))
		return false;
	skip_blanks(&c);
	if (!take_u64(&c, &r) || !take_literal(&c, "/") || !take_u64(&c, &t))
		return false;
	skip_blanks(&c);
	if (!take_u64(&c, &lp))
		return false;
	skip_space(&c);
	if (c.p != c.end || r > t || t > 0x7FFFFFFF || lp > 0x7FFFFFFF)
		return false;
	out->running = (int) r;
	out->total = (int) t;
	out->last_pid = (int) lp;
	return true;
}

/*
 * /proc/<pid>/syscall (see KSyscall).  Anything but the three shapes the
 * kernel prints (proc_pid_syscall) is an error.
 */
bool
kparse_proc_syscall(const char *buf, size_t len, KSyscall *out)
{
	Cursor		c;
	uint64_t	v;
	int			nargs;

	cur_init(&c, buf, len);
	skip_space(&c);
	memset(out, 0, sizeof(*out));
	if (take_literal(&c, "running"))
	{
		out->nr = -1;			/* in no system call */
		skip_space(&c);
		return c.p == c.end;
	}
	if (!take_i64(&c, &out->nr) || out->nr < -1)
		return false;
	/* -1: 2 hex words (sp, pc); a system call: 6 arguments, sp, pc */
	nargs = out->nr == -1 ? 2 : 8;
	for (int i = 0; i < nargs; i++)
	{
		skip_blanks(&c);
		if (!take_hex(&c, &v) || !at_end_or_space(&c))
			return false;
		if (out->nr >= 0 && i < 6)
			out->args[i] = v;
	}
	skip_space(&c);
	if (c.p != c.end)
		return false;
	out->in_syscall = out->nr >= 0;
	return true;
}

/*
 * /proc/stat: only the "procs_running N" and "procs_blocked N" lines, which
 * come after the (possibly very long) per-CPU and "intr" lines.  Both must
 * be present exactly once.
 */
bool
kparse_sysstat(const char *buf, size_t len, KSysStat *out)
{
	Cursor		c;
	bool		have_running = false,
				have_blocked = false;

	memset(out, 0, sizeof(*out));
	cur_init(&c, buf, len);
	while (c.p < c.end)
	{
		bool	   *seen = NULL;
		uint64_t   *slot = NULL;

		if (take_literal(&c, "procs_running "))
		{
			seen = &have_running;
			slot = &out->procs_running;
		}
		else if (take_literal(&c, "procs_blocked "))
		{
			seen = &have_blocked;
			slot = &out->procs_blocked;
		}
		if (seen != NULL)
		{
			if (*seen)
				return false;	/* duplicated line */
			skip_blanks(&c);
			if (!take_u64(&c, slot) || !at_end_or_space(&c))
				return false;
			*seen = true;
		}
		next_line(&c);
	}
	return have_running && have_blocked;
}

/*
 * Find the mount whose st_dev is major:minor in /proc/self/mountinfo:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
 * Optional fields end at " - ", then fstype and source.
 */
bool
kparse_mountinfo_find(const char *buf, size_t len,
					  unsigned int major, unsigned int minor,
					  char *fstype, size_t fstypelen,
					  char *source, size_t sourcelen)
{
	Cursor		c;

	cur_init(&c, buf, len);
	while (c.p < c.end)
	{
		Cursor		line = c;
		const char *eol = c.p;
		uint64_t	id,
					parent,
					ma,
					mi;

		while (eol < c.end && *eol != '\n')
			eol++;
		line.end = eol;
		next_line(&c);

		if (!take_u64(&line, &id))
			continue;
		skip_blanks(&line);
		if (!take_u64(&line, &parent))
			continue;
		skip_blanks(&line);
		if (!take_u64(&line, &ma) || !take_literal(&line, ":") ||
			!take_u64(&line, &mi))
			continue;
		if (ma != major || mi != minor)
			continue;
		/* skip to the " - " separator */
		while (line.p < line.end)
		{
			if (line.end - line.p >= 3 && memcmp(line.p, " - ", 3) == 0)
				break;
			line.p++;
		}
		if (line.p >= line.end)
			return false;
		line.p += 3;
		if (!take_word(&line, fstype, fstypelen))
			return false;
		skip_blanks(&line);
		if (!take_word(&line, source, sourcelen))
			return false;
		return true;
	}
	return false;
}

/*
 * Lines "<name>[:] <u64>[ kB]" (see kparse.h).  Lines of other names are
 * skipped unread.  A wanted name whose value is not a number, or that comes
 * twice, is an error.
 */
bool
kparse_keyvals(const char *buf, size_t len, const char *const *keys, int nkeys,
			   uint64_t *vals)
{
	Cursor		c;

	for (int i = 0; i < nkeys; i++)
		vals[i] = KPARSE_ABSENT;
	cur_init(&c, buf, len);
	while (c.p < c.end)
	{
		const char *name = c.p;
		size_t		n;
		int			k = -1;

		while (c.p < c.end && *c.p != ':' && !is_space(*c.p))
			c.p++;
		n = (size_t) (c.p - name);
		for (int i = 0; i < nkeys && n > 0; i++)
			if (strlen(keys[i]) == n && memcmp(keys[i], name, n) == 0)
				k = i;
		if (k >= 0)
		{
			uint64_t	v;

			if (c.p < c.end && *c.p == ':')
				c.p++;
			skip_blanks(&c);
			if (vals[k] != KPARSE_ABSENT || !take_u64(&c, &v) || v == KPARSE_ABSENT)
				return false;
			skip_blanks(&c);
			(void) take_literal(&c, "kB");
			skip_blanks(&c);
			if (c.p < c.end && *c.p != '\n')
				return false;
			vals[k] = v;
		}
		next_line(&c);
	}
	return true;
}

/*
 * /proc/<pid>/cgroup, one line per hierarchy: "<id>:<controllers>:<path>"
 * (v1: controllers a comma list, such as "cpu,cpuacct" or "name=systemd";
 * v2: "0::<path>").  The path runs to the end of its line and must start
 * with '/' and hold no NUL.
 */
bool
kparse_cgroup_path(const char *buf, size_t len, const char *controller,
				   char *out, size_t outlen)
{
	Cursor		c;
	size_t		cl = strlen(controller);

	if (outlen == 0)
		return false;
	cur_init(&c, buf, len);
	while (c.p < c.end)
	{
		uint64_t	id;
		const char *list;
		const char *path;
		bool		match = false;
		size_t		n = 0;

		if (!take_u64(&c, &id) || !take_literal(&c, ":"))
			return false;
		list = c.p;
		while (c.p < c.end && *c.p != ':' && *c.p != '\n')
			c.p++;
		if (c.p >= c.end || *c.p != ':')
			return false;
		if (cl == 0)
			match = (id == 0 && c.p == list);
		else
		{
			const char *e = c.p;

			for (const char *s = list; s < e && !match;)
			{
				const char *t = s;

				while (t < e && *t != ',')
					t++;
				match = ((size_t) (t - s) == cl && memcmp(s, controller, cl) == 0);
				s = t + 1;
			}
		}
		c.p++;
		path = c.p;
		while (c.p < c.end && *c.p != '\n')
		{
			if (*c.p == '\0')
				return false;
			c.p++;
		}
		if (c.p == path || *path != '/')
			return false;
		if (match)
		{
			n = (size_t) (c.p - path);
			if (n >= outlen)
				return false;
			memcpy(out, path, n);
			out[n] = '\0';
			return true;
		}
		next_line(&c);
	}
	return false;
}

bool
kcounter_delta(uint64_t prev, uint64_t cur, uint64_t *delta)
{
	if (cur >= prev)
	{
		*delta = cur - prev;
		return true;
	}
	/*
	 * A 32-bit counter that wrapped (32-bit kernels print unsigned long).
	 * Only believe a wrap from the upper half: a counter that went from a
	 * small value to a smaller one was reset (device detached, re-created).
	 */
	if (prev <= UINT32_MAX && prev >= UINT32_C(0x80000000) && cur <= UINT32_MAX)
	{
		*delta = cur + ((uint64_t) UINT32_MAX + 1) - prev;
		return true;
	}
	return false;				/* reset: device re-created */
}
