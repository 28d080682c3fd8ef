/*
 * Sets of UIDs as sorted, disjoint, non-adjacent ranges: the form IMAP
 * writes them in ("1:5,9,12:20"), and small however many UIDs a folder
 * holds, which keeps the cursor file and the memory of a poll flat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailfetch.h"
#include "xalloc.h"

void
uidset_free(struct uidset *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

unsigned long long
uidset_count(const struct uidset *s)
{
	unsigned long long n = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		n += (unsigned long long)s->r[i].hi - s->r[i].lo + 1;
	return n;
}

/* Index of the first range whose hi >= uid (or s->n). */
static size_t
find(const struct uidset *s, uint32_t uid)
{
	size_t lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->r[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
uidset_has(const struct uidset *s, uint32_t uid)
{
	size_t i = find(s, uid);

	return i < s->n && s->r[i].lo <= uid;
}

void
uidset_add_range(struct uidset *s, uint32_t lo, uint32_t hi)
{
	size_t i, j;

	if (lo == 0)
		lo = 1;
	if (hi < lo)
		return;
	/* Ranges that overlap or touch [lo, hi] merge into it. */
	i = find(s, lo > 1 ? lo - 1 : lo);
	j = i;
	while (j < s->n && (hi == UINT32_MAX || s->r[j].lo <= hi + 1)) {
		if (s->r[j].lo < lo)
			lo = s->r[j].lo;
		if (s->r[j].hi > hi)
			hi = s->r[j].hi;
		j++;
	}
	if (j == i) {
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 8;
			s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
		}
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
		s->n++;
	} else if (j > i + 1) {
		memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
		s->n -= j - i - 1;
	}
	s->r[i].lo = lo;
	s->r[i].hi = hi;
}

void
uidset_add(struct uidset *s, uint32_t uid)
{
	uidset_add_range(s, uid, uid);
}

void
uidset_del(struct uidset *s, uint32_t uid)
{
	size_t i = find(s, uid);
	struct uidrange *r;

	if (i >= s->n || s->r[i].lo > uid)
		return;
	r = &s->r[i];
	if (r->lo == uid && r->hi == uid) {
		memmove(r, r + 1, (s->n - i - 1) * sizeof(*r));
		s->n--;
	} else if (r->lo == uid)
		r->lo++;
	else if (r->hi == uid)
		r->hi--;
	else {
		uint32_t hi = r->hi;

		r->hi = uid - 1;
		uidset_add_range(s, uid + 1, hi);
	}
}

void
uidset_union(struct uidset *s, const struct uidset *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		uidset_add_range(s, t->r[i].lo, t->r[i].hi);
}

void
uidset_minus(struct uidset *s, const struct uidset *t)
{
	struct uidset out = { NULL, 0, 0 };
	size_t i, j = 0;
	uint32_t lo, hi;

	for (i = 0; i < s->n; i++) {
		lo = s->r[i].lo;
		hi = s->r[i].hi;
		while (j < t->n && t->r[j].hi < lo)
			j++;
		while (lo <= hi) {
			size_t k = j;

			while (k < t->n && t->r[k].hi < lo)
				k++;
			if (k == t->n || t->r[k].lo > hi) {
				uidset_add_range(&out, lo, hi);
				break;
			}
			if (t->r[k].lo > lo)
				uidset_add_range(&out, lo, t->r[k].lo - 1);
			if (t->r[k].hi >= hi)
				break;
			lo = t->r[k].hi + 1;
		}
	}
	uidset_free(s);
	*s = out;
}

void
uidset_below(struct uidset *s, uint32_t limit)
{
	while (s->n > 0 && s->r[s->n - 1].lo >= limit)
		s->n--;
	if (s->n > 0 && s->r[s->n - 1].hi >= limit)
		s->r[s->n - 1].hi = limit - 1;
}

void
uidset_take(const struct uidset *s, unsigned long long max, int newest,
    struct uidset *out)
{
	unsigned long long left = max, n;
	size_t i;

	for (i = 0; i < s->n && left > 0; i++) {
		const struct uidrange *r = &s->r[newest ? s->n - 1 - i : i];

		n = (unsigned long long)r->hi - r->lo + 1;
		if (n > left)
			n = left;
		if (newest)
			uidset_add_range(out, (uint32_t)(r->hi - n + 1), r->hi);
		else
			uidset_add_range(out, r->lo, (uint32_t)(r->lo + n - 1));
		left -= n;
	}
}

uint32_t
uidset_max(const struct uidset *s)
{
	return s->n ? s->r[s->n - 1].hi : 0;
}

char *
uidset_format(const struct uidset *s, size_t from, size_t nranges,
    size_t *next)
{
	size_t i, len = 0, cap = 64;
	char *out = xmalloc(cap);

	out[0] = '\0';
	for (i = from; i < s->n && i < from + nranges; i++) {
		xgrow(&out, &cap, len + 24);
		if (s->r[i].lo == s->r[i].hi)
			len += (size_t)sprintf(out + len, "%s%u", len ? "," : "",
			    s->r[i].lo);
		else
			len += (size_t)sprintf(out + len, "%s%u:%u", len ? "," :
			    "", s->r[i].lo, s->r[i].hi);
	}
	if (next != NULL)
		*next = i;
	return out;
}

int
uidset_parse(struct uidset *s, const char *p, size_t n)
{
	const char *e = p + n;
	unsigned long a, b;
	char *end;

	while (p < e) {
		if (*p < '0' || *p > '9')
			return -1;
		a = strtoul(p, &end, 10);
		b = a;
		if (end < e && *end == ':') {
			if (end + 1 >= e || end[1] < '0' || end[1] > '9')
				return -1;
			b = strtoul(end + 1, &end, 10);
		}
		if (a == 0 || b == 0 || a > UINT32_MAX || b > UINT32_MAX)
			return -1;
		if (a > b) {
			unsigned long t = a;

			a = b;
			b = t;
		}
		uidset_add_range(s, (uint32_t)a, (uint32_t)b);
		p = end;
		if (p < e) {
			if (*p != ',')
				return -1;
			p++;
		}
	}
	return 0;
}
