/* tests/unit/tiers/test_alloc_pending.c - an allocation that finds no
 * memory while the lower tier holds items of its class ("pending", ram.h):
 * it waits (CACHE_PENDING) rather than failing, and when the lower tier
 * finishes the class's last pending items during the allocation's own
 * tries, their memory serves it instead of an out-of-memory error. The
 * RAM tier alone, no background thread; the "writer" is a fake that holds
 * what it is handed until the test lets it go. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fake_lower.h"
#include "helpers.h"
#include "ram/hash.h"
#include "ram/items_int.h"
#include "ram/ram.h"

#define MiB ((size_t)1024 * 1024)
#define VAL (100 * 1024) /* one class of a few chunks a page */
#define HOLD_MAX 64

static fake_clock_t clk;
static ram_t ram;
static ram_wstats_t ws;

static item_t *held[HOLD_MAX]; /* in the fake writer's hands */
static unsigned nheld;
static unsigned finish_at;     /* victim call that finishes them (0: never) */
static unsigned victim_calls;
static uint64_t busy_hv;       /* the victim's key: its stripe is locked */

/* The writer finishes every held item (ram_spill_done: RAM lets each go
 * and its chunk is free). Called from the victim hook, which runs holding
 * the victim's stripe: no held item may share it. */
static void finish_held(void)
{
    for (unsigned i = 0; i < nheld; i++) {
        item_t *it = held[i];
        uint64_t hv = hash_key(item_ckey(it), item_nkey(it));
        cr_assert_neq(hash_stripe(&ram.hash, hv), hash_stripe(&ram.hash, busy_hv),
                      "a held item shares the victim's stripe: pick other keys");
        ram_spill_done(&ram, it, true);
    }
    nheld = 0;
}

/* The door's writer-behind rule; on call finish_at the writer catches up
 * in the middle of the allocator's tries (after it looked at the class). */
static ram_spill_e fk_victim(void *ctx, const ram_victim_t *v)
{
    (void)ctx;
    victim_calls++;
    if (finish_at && victim_calls == finish_at) {
        busy_hv = v->hv;
        finish_held();
        return RAM_SPILL_BEHIND; /* what it saw when it looked */
    }
    if (v->nospill)
        return RAM_SPILL_DROP;
    if (v->pending > v->linked / 2)
        return RAM_SPILL_BEHIND;
    return RAM_SPILL_QUEUE;
}

/* The writer takes the list and holds it. */
static void fk_enqueue(void *ctx, item_t *list)
{
    (void)ctx;
    for (item_t *it; (it = fake_lower_pop(&list)) != NULL;) {
        cr_assert_lt(nheld, HOLD_MAX);
        held[nheld++] = it;
    }
}

static void setup(void)
{
    cache_settings_t s;
    test_settings(&s, &clk);
    s.ram.mem_limit = 1 * MiB; /* the class gets one page */
    cr_assert_eq(ram_init(&ram, &s.ram), CACHE_OK);
    memset(&ws, 0, sizeof ws);
    ram_lower_hooks_t h = {
        .victim = fk_victim,
        .changed = fake_lower_changed,
        .current = fake_lower_current,
        .enqueue = fk_enqueue,
    };
    cr_assert(ram_lower_attach(&ram, &h));
    nheld = finish_at = victim_calls = 0;
}

static void teardown(void)
{
    finish_at = 0;
    busy_hv = 0;
    for (unsigned i = 0; i < nheld; i++)
        ram_spill_done(&ram, held[i], false);
    nheld = 0;
    ram_teardown(&ram);
}

TestSuite(alloc_pending, .init = setup, .fini = teardown);

/* One allocation as the door makes it: what it made pending goes to the
 * writer. CACHE_OK: stored. */
static cache_status_e put(unsigned i)
{
    char key[32];
    snprintf(key, sizeof key, "p%05u", i);
    cache_status_e st;
    item_t *spill = NULL;
    item_t *it = ram_item_alloc(&ram, &ws, key, strlen(key), 0, 0, VAL, 0, &spill, &st);
    if (spill)
        fk_enqueue(NULL, spill);
    if (!it)
        return st;
    memset(item_value(it), 'v', VAL);
    st = ram_store(&ram, &ws, it, CACHE_STORE_SET, 0, NULL, 0, NULL);
    ram_item_release(&ram, it);
    return st;
}

/* Fills the class's one page, then allocates until the writer holds so
 * much of the class that the next allocation must wait. Returns the next
 * key number. */
static unsigned fill_until_pending(unsigned *per)
{
    unsigned id = slabs_clsid(&ram.slabs, item_ntotal_for(6, VAL, 0, true));
    *per = ram.slabs.cls[id].perslab;
    cr_assert_geq(*per, 4);
    unsigned i = 0;
    for (; i < *per; i++)
        cr_assert_eq(put(i), CACHE_OK, "key %u of the first page", i);
    cache_status_e st;
    while ((st = put(i)) == CACHE_OK)
        i++;
    cr_assert_eq(st, CACHE_PENDING, "a full class with items in the writer's hands waits");
    cr_assert_gt(nheld, 0);
    cr_assert_eq(atomic_load(&ram.pending_cls[id]), nheld);
    return i;
}

Test(alloc_pending, waits_for_the_writer_then_uses_its_memory)
{
    unsigned per;
    unsigned i = fill_until_pending(&per);
    cr_assert_eq(put(i), CACHE_PENDING, "still waiting: nothing was finished");
    cr_assert_eq(atomic_load(&ws.store_no_memory), 0);
    busy_hv = 0;
    finish_held(); /* the writer catches up between two allocations */
    cr_assert_eq(put(i), CACHE_OK);
    cr_assert_eq(atomic_load(&ws.store_no_memory), 0);
}

Test(alloc_pending, writer_done_during_the_tries_is_not_out_of_memory)
{
    unsigned per;
    unsigned i = fill_until_pending(&per);
    /* the writer finishes the class's last pending items inside the last
     * eviction try, after the allocator's last look at the free list: the
     * count of pending items is 0 when it asks, their chunks are free */
    victim_calls = 0;
    finish_at = ALLOC_TRIES;
    cache_status_e st = put(i);
    cr_assert_eq(victim_calls >= ALLOC_TRIES, true, "the victim hook ran %u times",
                 victim_calls);
    cr_assert_eq(nheld, 0, "the writer finished during the tries");
    cr_assert_eq(st, CACHE_OK, "status %d: the freed chunks serve the allocation", st);
    cr_assert_eq(atomic_load(&ws.store_no_memory), 0);
    cr_assert_eq(atomic_load(&ram.pending), 0);
}
