/*
 * reader_unit.c - unit tests (TAP) for the PostgreSQL-independent parts of
 * src/bpf/bpf_reader.c that need no kernel: histogram percentiles and their
 * error bound, histogram deltas, status names, and a closed reader.
 * Built and run by test/bpf/reader.t.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_reader.h"

static int	n_test = 0,
			n_fail = 0;

static void
ok(int cond, const char *fmt, double a, double b)
{
	n_test++;
	if (!cond)
		n_fail++;
	printf("%sok %d - ", cond ? "" : "not ", n_test);
	printf(fmt, a, b);
	printf("\n");
}

/* the slot the BPF program uses: bit length, clamped */
static int
slot_of(unsigned long long v)
{
	int			n = 0;

	while (v)
	{
		n++;
		v >>= 1;
	}
	return n >= IOSAT_HIST_SLOTS ? IOSAT_HIST_SLOTS - 1 : n;
}

static void
add(struct iosat_hist *h, unsigned long long ns)
{
	h->slot[slot_of(ns)]++;
	h->count++;
	h->sum_ns += ns;
}

static int
cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *) a,
				y = *(const unsigned long long *) b;

	return x < y ? -1 : x > y;
}

/* exact q-quantile of sorted samples (the same rank convention) */
static double
exact(const unsigned long long *v, int n, double q)
{
	int			i = (int) ceil(q * n) - 1;

	if (i < 0)
		i = 0;
	return (double) v[i];
}

static double
urand(void)
{
	return (rand() + 1.0) / ((double) RAND_MAX + 2.0);
}

int
main(void)
{
	static struct iosat_hist h,
				h2,
				d;
	static unsigned long long v[200000];
	const double qs[] = {0.5, 0.95, 0.99};
	double		e,
				worst = 1.0,
				sum_err = 0.0;
	int			i,
				k,
				dist,
				nerr = 0;

	/* empty */
	memset(&h, 0, sizeof(h));
	ok(iosat_hist_quantile(&h, 0.5) == -1.0, "empty histogram gives -1 (%g %g)",
	   iosat_hist_quantile(&h, 0.5), 0);
	ok(iosat_hist_mean(&h) == -1.0, "empty mean gives -1 (%g %g)", iosat_hist_mean(&h), 0);

	/* slot boundaries as documented in iosat_abi.h */
	ok(slot_of(0) == 0 && slot_of(1) == 1 && slot_of(2) == 2 && slot_of(3) == 2 && slot_of(4) == 3,
	   "slot k holds [2^(k-1), 2^k) (%g %g)", 0, 0);
	ok(slot_of(100000) == 17, "100 us is slot %g (expected %g)", slot_of(100000), 17);
	ok(slot_of(~0ULL) == IOSAT_HIST_SLOTS - 1, "huge values clamp to slot %g (%g)",
	   slot_of(~0ULL), IOSAT_HIST_SLOTS - 1);

	/* one bucket: estimates stay inside it and are monotonic */
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 1000; i++)
		add(&h, 70000);			/* slot 17: [65536, 131072) */
	e = iosat_hist_quantile(&h, 0.5);
	ok(e >= 65536 && e < 131072, "single bucket: p50 %g inside [65536, %g)", e, 131072);
	ok(iosat_hist_quantile(&h, 0.5) <= iosat_hist_quantile(&h, 0.99),
	   "p50 %g <= p99 %g", iosat_hist_quantile(&h, 0.5), iosat_hist_quantile(&h, 0.99));
	ok(fabs(iosat_hist_mean(&h) - 70000) < 1e-6, "mean is exact (%g vs %g)", iosat_hist_mean(&h), 70000);

	/* zeros */
	memset(&h, 0, sizeof(h));
	add(&h, 0);
	ok(iosat_hist_quantile(&h, 0.99) == 0.0, "only zero-length samples: p99 %g == %g",
	   iosat_hist_quantile(&h, 0.99), 0);

	/* bimodal: p50 in the fast mode, p99 in the slow one (the incident's question) */
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 980; i++)
		add(&h, 2000000);		/* 2 ms */
	for (i = 0; i < 20; i++)
		add(&h, 200000000);		/* 200 ms */
	e = iosat_hist_quantile(&h, 0.99);
	ok(e > 100e6 && e < 400e6, "bimodal: p99 %g ns is in the 200 ms mode (%g)", e, 200e6);
	e = iosat_hist_quantile(&h, 0.5);
	ok(e > 1e6 && e < 4e6, "bimodal: p50 %g ns is in the 2 ms mode (%g)", e, 2e6);

	/* error bound on realistic distributions: lognormal, exponential, uniform */
	srand(42);
	for (dist = 0; dist < 3; dist++)
	{
		int			n = 200000;

		memset(&h, 0, sizeof(h));
		for (i = 0; i < n; i++)
		{
			double		x;

			if (dist == 0)
				x = exp(log(300000.0) + 0.8 * sqrt(-2 * log(urand())) * cos(2 * M_PI * urand()));
			else if (dist == 1)
				x = -1e6 * log(urand());
			else
				x = 50000 + 950000 * urand();
			v[i] = (unsigned long long) x;
			add(&h, v[i]);
		}
		qsort(v, n, sizeof(v[0]), cmp_u64);
		for (k = 0; k < 3; k++)
		{
			double		t = exact(v, n, qs[k]),
						est = iosat_hist_quantile(&h, qs[k]),
						r = est / t;

			if (r > 1.0 ? r > worst : 1.0 / r > worst)
				worst = r > 1.0 ? r : 1.0 / r;
			sum_err += fabs(r - 1.0);
			nerr++;
			ok(r > 0.5 && r < 2.0, "estimate/true %.3f within the documented (0.5, 2) bound (true %g ns)",
			   r, t);
		}
	}
	printf("# worst estimate/true factor %.3f, mean relative error %.1f%% over %d percentiles\n",
		   worst, 100.0 * sum_err / nerr, nerr);

	/* deltas */
	memset(&h, 0, sizeof(h));
	memset(&h2, 0, sizeof(h2));
	for (i = 0; i < 100; i++)
		add(&h, 1000);
	h2 = h;
	for (i = 0; i < 50; i++)
		add(&h2, 1000000);
	i = iosat_hist_sub(&d, &h2, &h);
	ok(i == 0 && d.count == 50, "delta counts %g samples (%g)", (double) d.count, 50);
	e = iosat_hist_quantile(&d, 0.5);
	ok(e > 524288 && e < 1048576 * 2, "delta p50 %g ns only sees the new samples (%g)", e, 1e6);
	i = iosat_hist_sub(&d, &h, &h2);
	ok(i == 1 && d.count == h.count,
	   "a histogram that went backwards (restart) resets to the current one (%g %g)",
	   (double) d.count, (double) h.count);
	d = h2;
	i = iosat_hist_sub(&d, &d, &h);
	ok(i == 0 && d.count == 50, "delta may alias its input (%g %g)", (double) d.count, 50);

	/* status names, closed reader */
	ok(strcmp(iosat_bpf_strstatus(IOSAT_BPF_STALE), "stale") == 0 &&
	   strcmp(iosat_bpf_strstatus(IOSAT_BPF_MISSING), "missing") == 0 &&
	   strcmp(iosat_bpf_strstatus(IOSAT_BPF_OK), "ok") == 0, "status names (%g %g)", 0, 0);
	{
		iosat_bpf_reader r;
		struct iosat_disk_stats ds;
		char		err[256];
		int			st;

		iosat_bpf_init(&r, "/nonexistent/iosat");
		ok(iosat_bpf_disk(&r, 8, 0, &ds) == IOSAT_BPF_CLOSED, "lookups on a closed reader say closed (%g %g)", 0, 0);
		st = iosat_bpf_refresh(&r, 0, err, sizeof(err));
		ok(st == IOSAT_BPF_MISSING && strstr(err, "/nonexistent/iosat/meta") != NULL,
		   "missing pins: status missing with the path in the message (%g %g)", st, IOSAT_BPF_MISSING);
		printf("# %s\n", err);
		iosat_bpf_init(&r, NULL);
		ok(strcmp(r.dir, IOSAT_PIN_DIR_DEFAULT) == 0, "default pin dir (%g %g)", 0, 0);
	}
	printf("1..%d\n", n_test);
	return n_fail != 0;
}
