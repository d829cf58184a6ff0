/*
 * tiers/ram/memlimit.c - the memory limit at run time (cache_memlimit):
 * setting it, and shrinking total_malloced under a lowered one. See ram.h
 * ("the memory limit at run time") and slabs.h for the page side.
 *
 * Lock order: none of its own. ram_slabs_release takes the tier's locks
 * (move_lock first); the class picker takes one LRU or class lock at a
 * time.
 */
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "ram.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t ram_mem_limit(ram_t *r)
{
    return slabs_mem_limit(&r->slabs);
}

void ram_mem_limit_set(ram_t *r, size_t limit)
{
    slabs_mem_limit_set(&r->slabs, limit);
    atomic_fetch_add_explicit(&r->limit_seq, 1, memory_order_release);
}

bool ram_mem_shrink_wanted(ram_t *r)
{
    return atomic_load_explicit(&r->limit_seq, memory_order_acquire) !=
           atomic_load_explicit(&r->shrunk_seq, memory_order_acquire);
}

bool ram_mem_over(ram_t *r)
{
    size_t limit = slabs_mem_limit(&r->slabs);
    return limit != 0 && slabs_total_malloced(&r->slabs) > limit;
}

/* The class to take a page from, -1 if every class has fewer than 2. */
static int pick_class(ram_t *r)
{
    rel_time_t now = ram_now(r);
    int roomy = -1, oldest = -1;
    double roomy_pages = 0;
    uint32_t oldest_age = 0;
    for (unsigned id = 1; id <= r->slabs.largest; id++) {
        slabs_class_info_t in;
        slabs_class_info(&r->slabs, id, &in);
        if (in.total_pages < 2 || in.perslab == 0)
            continue;
        double free_pages = (double)in.free_chunks / in.perslab;
        if (free_pages >= 1.0 && free_pages > roomy_pages) {
            roomy = (int)id;
            roomy_pages = free_pages;
        }
        uint32_t age = lru_class_age(&r->lru[id], now);
        if (oldest < 0 || age > oldest_age) {
            oldest = (int)id;
            oldest_age = age;
        }
    }
    return roomy >= 0 ? roomy : oldest;
}

/* Pages freed: hand the memory back to the system. glibc keeps freed
 * pages that came from its heap (the dynamic mmap threshold grows past
 * 1 MiB after the first large free) until told. */
static void give_back(size_t before, ram_t *r)
{
#ifdef __GLIBC__
    if (slabs_total_malloced(&r->slabs) < before)
        malloc_trim(0);
#else
    (void)before;
    (void)r;
#endif
}

static ram_shrink_e do_shrink(ram_t *r, int64_t deadline)
{
    for (;;) {
        slabs_pool_release(&r->slabs);
        if (!ram_mem_over(r))
            return RAM_SHRINK_DONE;
        int id = pick_class(r);
        if (id < 0)
            return RAM_SHRINK_FLOOR;
        ram_move_e m = ram_slabs_release(r, (unsigned)id);
        if (m == RAM_MOVE_BUSY || m == RAM_MOVE_BADCLASS || mono_ms() >= deadline) {
            slabs_pool_release(&r->slabs);
            return ram_mem_over(r) ? RAM_SHRINK_MORE : RAM_SHRINK_DONE;
        }
        /* RAM_MOVE_NOSPARE: the class lost a page meanwhile; pick again */
    }
}

ram_shrink_e ram_mem_shrink(ram_t *r, unsigned budget_ms)
{
    uint64_t seq = atomic_load_explicit(&r->limit_seq, memory_order_acquire);
    size_t before = slabs_total_malloced(&r->slabs);
    ram_shrink_e res = do_shrink(r, mono_ms() + budget_ms);
    give_back(before, r);
    if (res != RAM_SHRINK_MORE) /* a later set (seq moved on) still wants one */
        atomic_store_explicit(&r->shrunk_seq, seq, memory_order_release);
    return res;
}
