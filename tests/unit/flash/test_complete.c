/*
 * tests/unit/flash/test_complete.c - the writer's completion list
 * (complete.c): entries the writer holds (flash_done_hold) are not due
 * until flash_done_flush lists them, in order, in one d_lock section;
 * the hold lists itself when full; flash_done_push lists held entries
 * first; a held or listed entry makes its hash due (the same-hash rule)
 * until its callback ran; a flush into a full list runs a chunk to make
 * room, order kept; a thread in flash_complete_wait wakes on a flush.
 *
 * Only the completion state of a flash_t is set up (locks, the list, the
 * written callback): complete.c touches nothing else.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flash/flash_int.h"

#define MAXLOG 4096

typedef struct {
    uintptr_t token[MAXLOG];
    flash_status_e st[MAXLOG];
    unsigned n;
} calls_t;

static void on_written(void *ctx, void *token, flash_status_e st)
{
    calls_t *c = ctx;
    cr_assert_lt(c->n, MAXLOG);
    c->token[c->n] = (uintptr_t)token;
    c->st[c->n] = st;
    c->n++;
}

static flash_t *mk(unsigned cap, calls_t *c)
{
    flash_t *f = calloc(1, sizeof *f);
    cr_assert_not_null(f);
    pthread_mutex_init(&f->c_lock, NULL);
    pthread_mutex_init(&f->d_lock, NULL);
    pthread_cond_init(&f->d_cond, NULL);
    cr_assert(flash_done_init(f, cap));
    memset(c, 0, sizeof *c);
    f->s.written = on_written;
    f->s.written_ctx = c;
    return f;
}

static void rm(flash_t *f)
{
    flash_done_free(f);
    pthread_cond_destroy(&f->d_cond);
    pthread_mutex_destroy(&f->d_lock);
    pthread_mutex_destroy(&f->c_lock);
    free(f);
}

static void *tok(unsigned i)
{
    return (void *)(uintptr_t)(i + 1);
}

/* distinct hashes far apart (distinct hash slots for small i) */
static uint64_t hsh(unsigned i)
{
    return (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
}

Test(complete, held_entries_are_listed_by_flush_in_order)
{
    calls_t c;
    flash_t *f = mk(64, &c);
    for (unsigned i = 0; i < 5; i++)
        flash_done_hold(f, tok(i), hsh(i), i == 2 ? FLASH_EFULL : FLASH_OK);
    cr_assert_eq(flash_done_len(f), 0, "held, not listed yet");
    cr_assert_eq(flash_complete(f, UINT32_MAX), 0, "nothing due before the flush");
    cr_assert_eq(c.n, 0);
    flash_done_flush(f);
    cr_assert_eq(f->nheld, 0);
    cr_assert_eq(flash_done_len(f), 5);
    cr_assert_eq(flash_complete(f, UINT32_MAX), 5);
    cr_assert_eq(c.n, 5);
    for (unsigned i = 0; i < 5; i++) {
        cr_assert_eq(c.token[i], (uintptr_t)tok(i), "order: call %u", i);
        cr_assert_eq(c.st[i], i == 2 ? FLASH_EFULL : FLASH_OK);
    }
    flash_done_flush(f); /* nothing held: no-op */
    cr_assert_eq(flash_done_len(f), 0);
    rm(f);
}

Test(complete, full_hold_lists_itself)
{
    calls_t c;
    flash_t *f = mk(256, &c);
    for (unsigned i = 0; i < FLASH_DONE_HOLD; i++)
        flash_done_hold(f, tok(i), hsh(i), FLASH_OK);
    cr_assert_eq(flash_done_len(f), 0);
    cr_assert_eq(f->nheld, FLASH_DONE_HOLD);
    flash_done_hold(f, tok(FLASH_DONE_HOLD), hsh(FLASH_DONE_HOLD), FLASH_OK);
    cr_assert_eq(flash_done_len(f), FLASH_DONE_HOLD, "a full hold is listed");
    cr_assert_eq(f->nheld, 1);
    flash_done_flush(f);
    cr_assert_eq(flash_complete(f, UINT32_MAX), FLASH_DONE_HOLD + 1);
    for (unsigned i = 0; i <= FLASH_DONE_HOLD; i++)
        cr_assert_eq(c.token[i], (uintptr_t)tok(i));
    rm(f);
}

Test(complete, push_lists_held_entries_first)
{
    calls_t c;
    flash_t *f = mk(64, &c);
    flash_done_hold(f, tok(0), hsh(0), FLASH_OK);
    flash_done_hold(f, tok(1), hsh(1), FLASH_OK);
    flash_done_push(f, tok(2), hsh(2), FLASH_OK);
    cr_assert_eq(f->nheld, 0);
    cr_assert_eq(flash_done_len(f), 3);
    cr_assert_eq(flash_complete(f, UINT32_MAX), 3);
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(c.token[i], (uintptr_t)tok(i));
    rm(f);
}

Test(complete, held_and_listed_hashes_are_due_until_run)
{
    calls_t c;
    flash_t *f = mk(64, &c);
    cr_assert_not(flash_done_hash_due(f, hsh(7)));
    flash_done_hold(f, tok(7), hsh(7), FLASH_OK);
    cr_assert(flash_done_hash_due(f, hsh(7)), "a held entry is due for the same-hash rule");
    cr_assert_not(flash_done_hash_due(f, hsh(8)));
    flash_done_flush(f);
    cr_assert(flash_done_hash_due(f, hsh(7)), "listed: still due");
    cr_assert_eq(flash_complete(f, UINT32_MAX), 1);
    cr_assert_not(flash_done_hash_due(f, hsh(7)), "ran: no longer due");
    /* two entries of one hash: due until both ran */
    flash_done_hold(f, tok(1), hsh(9), FLASH_OK);
    flash_done_hold(f, tok(2), hsh(9), FLASH_OK);
    flash_done_flush(f);
    cr_assert_eq(flash_complete(f, 1), 1);
    cr_assert(flash_done_hash_due(f, hsh(9)));
    cr_assert_eq(flash_complete(f, 1), 1);
    cr_assert_not(flash_done_hash_due(f, hsh(9)));
    rm(f);
}

Test(complete, flush_into_a_full_list_runs_a_chunk_order_kept)
{
    calls_t c;
    flash_t *f = mk(4, &c); /* room for 4: the hold's 16 do not fit */
    unsigned n = FLASH_DONE_HOLD;
    for (unsigned i = 0; i < n; i++)
        flash_done_hold(f, tok(i), hsh(i), FLASH_OK);
    flash_done_flush(f);
    cr_assert_eq(f->nheld, 0);
    cr_assert_leq(flash_done_len(f), 4);
    cr_assert_eq(c.n + flash_done_len(f), n, "every entry ran or is listed");
    flash_complete(f, UINT32_MAX);
    cr_assert_eq(c.n, n);
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(c.token[i], (uintptr_t)tok(i), "order: call %u", i);
    for (unsigned i = 0; i < n; i++)
        cr_assert_not(flash_done_hash_due(f, hsh(i)));
    rm(f);
}

typedef struct {
    flash_t *f;
    atomic_int state; /* 1: about to wait, 2: woke with entries due */
} waiter_t;

static void *wait_main(void *arg)
{
    waiter_t *w = arg;
    atomic_store(&w->state, 1);
    bool due = flash_complete_wait(w->f, 10000);
    atomic_store(&w->state, due ? 2 : 3);
    return NULL;
}

Test(complete, flush_wakes_a_waiting_thread)
{
    calls_t c;
    flash_t *f = mk(64, &c);
    waiter_t w = {.f = f};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, wait_main, &w), 0);
    /* until the thread is inside the wait (bounded: 5 s) */
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&f->d_lock);
        unsigned waiters = f->d_waiters;
        pthread_mutex_unlock(&f->d_lock);
        if (waiters > 0)
            break;
        usleep(1000);
    }
    flash_done_hold(f, tok(0), hsh(0), FLASH_OK);
    usleep(20000);
    cr_assert_eq(atomic_load(&w.state), 1, "a held entry wakes nobody");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    flash_done_flush(f);
    pthread_join(th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_eq(atomic_load(&w.state), 2, "woke with an entry due");
    cr_assert_lt(s, 5.0, "woken by the flush, not by its 10 s timeout (%.3f s)", s);
    cr_assert_eq(flash_complete(f, UINT32_MAX), 1);
    rm(f);
}
