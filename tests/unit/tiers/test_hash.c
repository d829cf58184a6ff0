/* tests/unit/tiers/test_hash.c - hash table: insert, find, delete, grow. */
#include <criterion/criterion.h>
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
