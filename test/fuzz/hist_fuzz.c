/*
 * hist_fuzz.c - libFuzzer harness for the BPF reader's histogram helpers
 * (src/bpf/bpf_reader.c: iosat_hist_quantile, iosat_hist_sub,
 * iosat_hist_mean), on histograms made from the input bytes.
 *
 * Input layout (little-endian, zero-padded when short): a double q, then two
 * struct iosat_hist (cur, prev) as raw words.  Checked:
 *   - quantile: -1 exactly when the histogram is empty; otherwise a value in
 *     [0, 2^(SLOTS-1)]; for q in (0, 1] it lies in the bucket that holds the
 *     rank q * total, and it does not decrease as q grows.  Any q (NaN,
 *     negative, > 1) must not crash.  The bucket checks assume the slots'
 *     total is at most 2^53 (exact as a double), as real counters are.
 *   - sub: 0 => out + prev == cur field by field; 1 => out == cur and some
 *     field of cur is below prev; the result is the same when out aliases cur.
 *   - mean: -1 exactly when count is 0.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_reader.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "iosat fuzz invariant failed (hist): %s at %s:%d\n", \
					#cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

#define TOP ((double) (1ULL << (IOSAT_HIST_SLOTS - 1)))

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double
lo_of(int k)
{
	return k == 0 ? 0.0 : (double) (1ULL << (k - 1));
}

/*
 * Total of the slots; 0 when it exceeds 2^53, where doubles stop being
 * exact and the interpolation may leave its bucket by a rounding step (no
 * device completes 2^53 requests).
 */
static int
slot_total(const struct iosat_hist *h, uint64_t *total)
{
	uint64_t	t = 0;

	for (int k = 0; k < IOSAT_HIST_SLOTS; k++)
		if (__builtin_add_overflow(t, h->slot[k], &t) || t > (1ULL << 53))
			return 0;
	*total = t;
	return 1;
}

static void
check_quantile(const struct iosat_hist *h, double q)
{
	double		v = iosat_hist_quantile(h, q);
	uint64_t	total;
	int			fits = slot_total(h, &total);

	CHECK(v == -1.0 || (v >= 0.0 && v <= 2.0 * TOP));
	if (!fits)
		return;
	CHECK(v == -1.0 || v <= TOP);
	CHECK((v == -1.0) == (total == 0));
	if (total == 0 || !(q > 0.0 && q <= 1.0))
		return;
	{
		/* the bucket holding rank q*total (at least 1), as documented */
		double		rank = q * (double) total;
		double		cum = 0.0;
		int			k;

		if (rank < 1.0)
			rank = 1.0;
		for (k = 0; k < IOSAT_HIST_SLOTS; k++)
		{
			if (h->slot[k] == 0)
				continue;
			cum += (double) h->slot[k];
			if (cum >= rank)
				break;
		}
		if (k == IOSAT_HIST_SLOTS)
		{
			/* rounding left the rank past the last bucket: its top */
			for (k = IOSAT_HIST_SLOTS - 1; k > 0 && h->slot[k] == 0; k--)
				;
		}
		if (k == 0)
			CHECK(v == 0.0);
		else
			CHECK(v >= lo_of(k) && v <= 2.0 * lo_of(k));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		raw[8 + 2 * sizeof(struct iosat_hist)];
	double		q;
	struct iosat_hist *cur = malloc(sizeof(*cur));
	struct iosat_hist *prev = malloc(sizeof(*prev));
	struct iosat_hist *out = malloc(sizeof(*out));
	struct iosat_hist *alias = malloc(sizeof(*alias));
	int			rc,
				rc2,
				backwards = 0;

	memset(raw, 0, sizeof(raw));
	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	memcpy(&q, raw, 8);
	memcpy(cur, raw + 8, sizeof(*cur));
	memcpy(prev, raw + 8 + sizeof(*cur), sizeof(*prev));

	/* quantiles: the input's q, the usual ones, and monotonicity */
	check_quantile(cur, q);
	{
		static const double qs[] = {0.0001, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0};
		double		last = -2.0;
		uint64_t	total;
		int			fits = slot_total(cur, &total);

		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		{
			double		v = iosat_hist_quantile(cur, qs[i]);

			check_quantile(cur, qs[i]);
			CHECK(!fits || v >= last);
			last = v;
		}
	}
	(void) iosat_hist_quantile(cur, NAN);
	(void) iosat_hist_quantile(cur, -1.0);
	(void) iosat_hist_quantile(cur, INFINITY);
	(void) iosat_hist_quantile(cur, 1e300);

	/* mean */
	{
		double		m = iosat_hist_mean(cur);

		CHECK((m == -1.0) == (cur->count == 0));
		if (cur->count)
			CHECK(m >= 0.0 && isfinite(m));
	}

	/* deltas */
	if (cur->count < prev->count || cur->sum_ns < prev->sum_ns)
		backwards = 1;
	for (int k = 0; k < IOSAT_HIST_SLOTS; k++)
		if (cur->slot[k] < prev->slot[k])
			backwards = 1;
	rc = iosat_hist_sub(out, cur, prev);
	CHECK(rc == backwards);
	if (rc == 0)
	{
		CHECK(out->count + prev->count == cur->count);
		CHECK(out->sum_ns + prev->sum_ns == cur->sum_ns);
		for (int k = 0; k < IOSAT_HIST_SLOTS; k++)
			CHECK(out->slot[k] + prev->slot[k] == cur->slot[k]);
		check_quantile(out, 0.5);
	}
	else
		CHECK(memcmp(out, cur, sizeof(*out)) == 0);

	/* out aliasing cur gives the same */
	memcpy(alias, cur, sizeof(*alias));
	rc2 = iosat_hist_sub(alias, alias, prev);
	CHECK(rc2 == rc && memcmp(alias, out, sizeof(*out)) == 0);

	/* a histogram minus itself is empty */
	CHECK(iosat_hist_sub(out, cur, cur) == 0);
	CHECK(iosat_hist_quantile(out, 0.5) == -1.0 && iosat_hist_mean(out) == -1.0);

	free(cur);
	free(prev);
	free(out);
	free(alias);
	return 0;
}
