/*
 * The input, read and parsed on a thread of its own: parsing a record is
 * a tenth of what linking it costs, and the store's system calls keep
 * the main thread busy anyway, so on two cores the two overlap.  The
 * reader hands records over through a bounded queue in order; when it
 * is about to wait for input, it says so, and the linker ends its batch
 * as soon as it has taken everything (the records must not wait on a
 * quiet pipe).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "codematch.h"
#include "jsonl.h"
#include "xalloc.h"

/* Records parsed ahead of the linker. */
#define FEED_QUEUE	1024

struct feed {
	pthread_mutex_t	 mu;
	pthread_cond_t	 more, room;
	json_t		*q[FEED_QUEUE];
	size_t		 head, n;
	int		 stalled;	/* the reader waits for input */
	int		 done;		/* the reader has finished */
	int		 waiting;	/* the linker sleeps on more */
	int		 full;		/* the reader sleeps on room */
	int		 status;	/* the reader's */
	FILE		*fp;
	const char	*name;
};

static int
push(json_t *rec, void *arg)
{
	struct feed *f = arg;

	pthread_mutex_lock(&f->mu);
	while (f->n == FEED_QUEUE) {
		f->full = 1;
		pthread_cond_wait(&f->room, &f->mu);
	}
	f->q[(f->head + f->n++) % FEED_QUEUE] = rec;	/* ours now */
	f->stalled = 0;
	/* Wake the linker only when it sleeps: a futex call per record costs. */
	if (f->waiting)
		pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->mu);
	return JSONL_KEPT;
}

static int
stall(void *arg)
{
	struct feed *f = arg;

	pthread_mutex_lock(&f->mu);
	f->stalled = 1;
	pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void *
reader(void *arg)
{
	struct feed *f = arg;
	int status;

	status = jsonl_loop_idle(f->fp, f->name, NULL, push, stall, f);
	pthread_mutex_lock(&f->mu);
	f->status = status;
	f->done = 1;
	pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int
feed_link(FILE *fp, const char *name, struct linker *lk)
{
	struct feed f = { .fp = fp, .name = name };
	pthread_t t;
	json_t *rec;
	int status = 0, flushed = 1;

	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.more, NULL);
	pthread_cond_init(&f.room, NULL);
	if (pthread_create(&t, NULL, reader, &f) != 0)
		return jsonl_loop_idle(fp, name, NULL, link_record, link_flush, lk);
	pthread_mutex_lock(&f.mu);
	for (;;) {
		while (f.n == 0 && !f.done && (!f.stalled || flushed)) {
			f.waiting = 1;
			pthread_cond_wait(&f.more, &f.mu);
			f.waiting = 0;
		}
		if (f.n == 0 && f.done)
			break;
		if (f.n == 0) {
			/* The input is quiet: let this batch's records go. */
			pthread_mutex_unlock(&f.mu);
			status = status_worse(status, link_flush(lk));
			flushed = 1;
			pthread_mutex_lock(&f.mu);
			continue;
		}
		rec = f.q[f.head];
		f.head = (f.head + 1) % FEED_QUEUE;
		f.n--;
		if (f.full && f.n < FEED_QUEUE / 2) {
			f.full = 0;
			pthread_cond_signal(&f.room);
		}
		pthread_mutex_unlock(&f.mu);
		status = status_worse(status, link_record(rec, lk));
		json_decref(rec);
		flushed = 0;
		pthread_mutex_lock(&f.mu);
	}
	pthread_mutex_unlock(&f.mu);
	pthread_join(t, NULL);
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.more);
	pthread_cond_destroy(&f.room);
	return status_worse(status, f.status);
}
