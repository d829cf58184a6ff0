/*
 * bench/hops/hops.c - counts the file boundaries one request crosses
 * inside tiers/ (issue 13's check): a GET that misses RAM and hits flash,
 * without and with a promotion, and a RAM hit for comparison.
 *
 * Built by bench/hops/run against a tiers library compiled with
 * -finstrument-functions: every function entry and exit (inlined ones
 * too) calls the hooks below, which record the function's address while
 * tracing is on. run maps addresses to source files (addr2line) and
 * counts calls whose callee lies in another file than its caller.
 *
 * Uses cache.h only, so the same program measures any revision.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"

#define TRACE_MAX (1u << 20)

/* per thread: only the requesting thread's calls are the request's */
static _Thread_local int tracing;
static FILE *trace_out;

void __cyg_profile_func_enter(void *fn, void *site) __attribute__((no_instrument_function));
void __cyg_profile_func_exit(void *fn, void *site) __attribute__((no_instrument_function));

void __cyg_profile_func_enter(void *fn, void *site)
{
    (void)site;
    if (tracing && trace_out)
        fprintf(trace_out, "> %p\n", fn);
}

void __cyg_profile_func_exit(void *fn, void *site)
{
    (void)site;
    if (tracing && trace_out)
        fprintf(trace_out, "< %p\n", fn);
}

static void die(const char *what, cache_status_e st)
{
    fprintf(stderr, "hops: %s: %s\n", what, cache_strerror(st));
    exit(1);
}

static void put(cache_worker_t *w, const char *key, size_t n)
{
    cache_item_t *it;
    cache_status_e st = cache_item_alloc(w, key, strlen(key), 0, 0, n, &it);
    if (st != CACHE_OK)
        die("alloc", st);
    /* values that do not compress: keys spread over many segments, and
     * the first ones are on the device, not in a segment being built */
    static uint64_t x = 88172645463325252u;
    char *d = cache_item_data(it);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d[i] = (char)x;
    }
    st = cache_store(w, it, CACHE_STORE_SET, 0, NULL, NULL);
    cache_item_release(w, &it);
    if (st != CACHE_OK)
        die("store", st);
}

static uint64_t flash_hits(cache_t *c)
{
    cache_stats_t s;
    cache_stats_snapshot(c, &s);
    return s.flash_get_hits;
}

typedef struct got {
    int done;
    cache_result_t res;
} got_t;

static void got_done(void *ctx, cache_result_t *res)
{
    got_t *g = ctx;
    g->res = *res;
    g->done = 1;
}

/* One traced get of key into `label`'s section of the trace, driven as
 * the server drives it: the call, then (if it is pending) a wait on the
 * worker's fd and cache_worker_poll until done. Only the calls into the
 * cache are traced, not the waits. */
static void traced_get(cache_worker_t *w, const char *label, const char *key)
{
    /* completions left over from earlier requests first, untraced: the
     * traced polls are this request's */
    for (int i = 0; i < 3; i++) {
        struct pollfd p = {.fd = cache_worker_fd(w), .events = POLLIN};
        poll(&p, 1, 10);
        cache_worker_poll(w);
    }
    fprintf(trace_out, "# %s\n", label);
    fflush(trace_out);
    got_t g = {0};
    cache_async_t a = {.done = got_done, .ctx = &g};
    cache_item_t *it = NULL;
    tracing = 1;
    cache_status_e st = cache_get(w, key, strlen(key), &it, &a);
    tracing = 0;
    unsigned polls = 0;
    if (st == CACHE_PENDING) {
        while (!g.done) {
            struct pollfd p = {.fd = cache_worker_fd(w), .events = POLLIN};
            poll(&p, 1, 100);
            tracing = 1;
            cache_worker_poll(w);
            tracing = 0;
            polls++;
        }
        st = g.res.status;
        it = g.res.item;
    }
    fprintf(trace_out, "# polls %u\n", polls);
    if (st != CACHE_OK)
        die(label, st);
    cache_item_release(w, &it);
    fflush(trace_out);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: hops FLASH_FILE TRACE_OUT\n");
        return 2;
    }
    trace_out = fopen(argv[2], "w");
    if (!trace_out)
        return 1;
    unlink(argv[1]);
    cache_settings_t s;
    cache_settings_default(&s);
#ifdef TIERCACHE_RAM_RAM_SETTINGS_H /* settings per module (issue 13 item 3) */
    s.ram.mem_limit = (size_t)2 << 20;
    s.flash.path = argv[1];
    s.flash.size = (uint64_t)64 << 20;
    s.flash.segment_size = 1u << 20;
    s.flash.checkpoint_ms = 0;
    s.ram.maintainer_thread = false;
    s.ram.crawler_thread = false;
#else /* one cache_settings_t (before) */
    s.mem_limit = (size_t)2 << 20;
    s.flash_path = argv[1];
    s.flash_size = (uint64_t)64 << 20;
    s.flash_segment_size = 1u << 20;
    s.flash_checkpoint_ms = 0;
    s.maintainer_thread = false;
    s.crawler_thread = false;
#endif
    char err[512] = "";
    s.err = err;
    s.err_len = sizeof err;
    cache_t *c;
    cache_status_e st = cache_create(&c, &s);
    if (st != CACHE_OK) {
        fprintf(stderr, "hops: create: %s (%s)\n", cache_strerror(st), err);
        return 1;
    }
    cache_worker_t *w;
    if ((st = cache_worker_create(c, &w)) != CACHE_OK)
        die("worker", st);
    /* 8 MiB of 1000-byte values through 2 MiB of RAM: the first keys are
     * on flash only */
    char key[32];
    for (unsigned i = 0; i < 8000; i++) {
        snprintf(key, sizeof key, "key:%u", i);
        put(w, key, 1000);
    }
    put(w, "hot", 1000);
    /* wait (bounded) until key:0 is a flash hit */
    uint64_t h0 = flash_hits(c);
    for (int i = 0; i < 500; i++) {
        cache_item_t *it = NULL;
        if (cache_get(w, "key:1", 5, &it, NULL) == CACHE_OK)
            cache_item_release(w, &it);
        if (flash_hits(c) > h0)
            break;
        usleep(10000);
    }
    if (flash_hits(c) == h0) {
        fprintf(stderr, "hops: key:1 never became a flash hit\n");
        return 1;
    }
    traced_get(w, "ram hit", "hot");
    uint64_t before = flash_hits(c);
    traced_get(w, "flash hit, first read (not promoted)", "key:0");
    traced_get(w, "flash hit, second read (promoted)", "key:0");
    if (flash_hits(c) != before + 2)
        fprintf(stderr, "hops: warning: expected two flash hits, got %llu\n",
                (unsigned long long)(flash_hits(c) - before));
    traced_get(w, "ram hit after the promotion", "key:0");
    cache_worker_destroy(&w);
    cache_destroy(&c);
    fclose(trace_out);
    unlink(argv[1]);
    return 0;
}
