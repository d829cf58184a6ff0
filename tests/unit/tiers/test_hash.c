/* tests/unit/tiers/test_hash.c - hash table: insert, find, delete, grow. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ram/hash.h"

#define N 5000

static item_t *mk(const char *key)
{
    size_t nkey = strlen(key);
    item_t *it = calloc(1, item_ntotal_for(nkey, 0, 0, false));
    item_init_layout(it, nkey, 0, false);
    memcpy(item_key(it), key, nkey);
    return it;
}

static int walked;
static bool count_fn(void *ctx, item_t *it, uint64_t hv)
{
    (void)ctx;
    (void)it;
    (void)hv;
    walked++;
    return true;
}

Test(hash, insert_find_delete_grow)
{
    hash_t h;
    cr_assert_eq(hash_init(&h, 4), HASH_OK);
    static item_t *items[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        items[i] = mk(key);
        uint64_t hv = hash_key(key, strlen(key));
        hash_lock(&h, hv);
        cr_assert_null(do_hash_find(&h, key, strlen(key), hv));
        do_hash_insert(&h, items[i], hv);
        hash_unlock(&h, hv);
        if (hash_needs_expand(&h))
            hash_expand(&h);
    }
    cr_assert_gt(hash_buckets(&h), 2048, "table grew: %llu", (unsigned long long)hash_buckets(&h));
    cr_assert(!hash_needs_expand(&h));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        uint64_t hv = hash_key(key, strlen(key));
        hash_lock(&h, hv);
        cr_assert_eq(do_hash_find(&h, key, strlen(key), hv), items[i]);
        hash_unlock(&h, hv);
    }
    uint64_t pos = 0;
    walked = 0;
    while (hash_walk_step(&h, &pos, 100, count_fn, NULL))
        ;
    cr_assert_eq(walked, N);
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof key, "key:%d", i);
        uint64_t hv = hash_key(key, strlen(key));
        hash_lock(&h, hv);
        cr_assert(do_hash_remove(&h, items[i], hv));
        cr_assert(!do_hash_remove(&h, items[i], hv));
        hash_unlock(&h, hv);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        uint64_t hv = hash_key(key, strlen(key));
        hash_lock(&h, hv);
        item_t *f = do_hash_find(&h, key, strlen(key), hv);
        hash_unlock(&h, hv);
        if (i % 2)
            cr_assert_eq(f, items[i]);
        else
            cr_assert_null(f);
    }
    cr_assert_eq(h.nitems, N / 2);
    for (int i = 0; i < N; i++)
        free(items[i]);
    hash_teardown(&h);
}

Test(hash, same_prefix_keys_distinct)
{
    hash_t h;
    cr_assert_eq(hash_init(&h, 8), HASH_OK);
    item_t *a = mk("ab"), *b = mk("abc");
    uint64_t ha = hash_key("ab", 2), hb = hash_key("abc", 3);
    do_hash_insert(&h, a, ha);
    do_hash_insert(&h, b, hb);
    cr_assert_eq(do_hash_find(&h, "ab", 2, ha), a);
    cr_assert_eq(do_hash_find(&h, "abc", 3, hb), b);
    cr_assert_null(do_hash_find(&h, "a", 1, hash_key("a", 1)));
    free(a);
    free(b);
    hash_teardown(&h);
}

/* Threads insert, find and remove their own keys while another thread keeps
 * expanding the table stripe by stripe: no lookup may miss a key that is in
 * the table, and no removed key may be found. */
#define CT_THREADS 4
#define CT_KEYS 20000

struct ct_arg {
    hash_t *h;
    int id;
    item_t **items;
    int errors;
};

static void ct_key(char *buf, size_t n, int id, int i)
{
    snprintf(buf, n, "t%d:key:%d", id, i);
}

static void *ct_worker(void *p)
{
    struct ct_arg *a = p;
    char key[40];
    for (int i = 0; i < CT_KEYS; i++) {
        ct_key(key, sizeof key, a->id, i);
        uint64_t hv = hash_key(key, strlen(key));
        hash_lock(a->h, hv);
        do_hash_insert(a->h, a->items[i], hv);
        hash_unlock(a->h, hv);
        /* re-find an earlier key of ours: it must be there */
        int j = i / 2;
        ct_key(key, sizeof key, a->id, j);
        hv = hash_key(key, strlen(key));
        hash_lock(a->h, hv);
        item_t *f = do_hash_find(a->h, key, strlen(key), hv);
        if (j % 3 == 0 && f == a->items[j] && j < i) {
            /* remove every third key once it is half-way behind us */
            if (!do_hash_remove(a->h, f, hv))
                a->errors++;
        } else if (j % 3 != 0 && f != a->items[j]) {
            a->errors++;
        }
        hash_unlock(a->h, hv);
    }
    return NULL;
}

static _Atomic bool ct_stop;
static void *ct_expander(void *p)
{
    hash_t *h = p;
    while (!atomic_load(&ct_stop)) {
        if (hash_needs_expand(h))
            hash_expand(h);
    }
    return NULL;
}

Test(hash, expands_while_threads_work)
{
    hash_t h;
    cr_assert_eq(hash_init(&h, 4), HASH_OK);
    struct ct_arg args[CT_THREADS];
    pthread_t th[CT_THREADS], ex;
    char key[40];
    for (int t = 0; t < CT_THREADS; t++) {
        args[t] = (struct ct_arg){ .h = &h, .id = t };
        args[t].items = calloc(CT_KEYS, sizeof(item_t *));
        for (int i = 0; i < CT_KEYS; i++) {
            ct_key(key, sizeof key, t, i);
            args[t].items[i] = mk(key);
        }
    }
    atomic_store(&ct_stop, false);
    cr_assert_eq(pthread_create(&ex, NULL, ct_expander, &h), 0);
    for (int t = 0; t < CT_THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, ct_worker, &args[t]), 0);
    for (int t = 0; t < CT_THREADS; t++)
        pthread_join(th[t], NULL);
    atomic_store(&ct_stop, true);
    pthread_join(ex, NULL);
    cr_assert_gt(atomic_load(&h.expansions), 5, "expanded %llu times",
                 (unsigned long long)atomic_load(&h.expansions));
    uint64_t expect = 0;
    for (int t = 0; t < CT_THREADS; t++) {
        cr_assert_eq(args[t].errors, 0, "thread %d saw %d errors", t, args[t].errors);
        for (int i = 0; i < CT_KEYS; i++) {
            ct_key(key, sizeof key, t, i);
            uint64_t hv = hash_key(key, strlen(key));
            bool removed = i % 3 == 0 && i < CT_KEYS / 2;
            item_t *f = do_hash_find(&h, key, strlen(key), hv);
            cr_assert_eq(f, removed ? NULL : args[t].items[i], "thread %d key %d", t, i);
            expect += !removed;
        }
    }
    cr_assert_eq(atomic_load(&h.nitems), expect);
    uint64_t pos = 0;
    walked = 0;
    while (hash_walk_step(&h, &pos, 1000, count_fn, NULL))
        ;
    cr_assert_eq((uint64_t)walked, expect);
    for (int t = 0; t < CT_THREADS; t++) {
        for (int i = 0; i < CT_KEYS; i++)
            free(args[t].items[i]);
        free(args[t].items);
    }
    hash_teardown(&h);
}
