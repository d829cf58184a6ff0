/*
 * tiers/engine_int.h - the door's request and policy types, shared by its
 * files (engine.c: requests; policy.c: the tier policy; tier_walk.c: the
 * metadump walk of the flash tier). Not for the server.
 */
#ifndef TIERCACHE_ENGINE_INT_H
#define TIERCACHE_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "flash/flash.h"
#include "flash/format.h"
#include "ram/ram.h"
#include "policy.h"

#define TIER_MAX_TRIES 8
#define TIER_IFLT_SLOTS 1024   /* in-flight key heads: chains of ~1 at 1000 in flight */
/* a worker short of memory runs this many due written_fn calls itself */
#define TIER_COMPLETE_CHUNK 256
/* ... else waits this long for the writer's next batch, then retries */
#define TIER_COMPLETE_WAIT_MS 1
/* an allocation short of memory evicts this many more times before it
 * waits for the writer (tier_item_alloc): TIER_SPILL_AHEAD_LOAD while a
 * load outruns the writer (flash_load_behind_hint), else TIER_SPILL_AHEAD.
 * With 3 always, a load's workers waited once per ~16 keys (12,500
 * context switches each per 406k-key load); with 40, 3,900, and 247-253k
 * against 200k keys/s. But 40 always also evicted early where the writer
 * keeps up: the TTL-mix trace at 2x missed 38.02%
 * against 37.83% (bench/RESULTS.md, issue 14 items 2-3). What it holds:
 * up to 400 items of the class in the writer's hands, RAM hits until
 * written. */
#define TIER_SPILL_AHEAD 3
#define TIER_SPILL_AHEAD_LOAD 40
/* the index packs 10 slots in 64 bytes at ~90% load: 64 / 9 bytes per item */
#define TIER_INDEX_BYTES_PER_9_ITEMS 64

/* Records keep the RAM item's meta marks in the same bits (format.h). */
_Static_assert((CACHE_MARK_STALE | CACHE_MARK_TOKEN | CACHE_MARK_BINKEY) ==
                   (FLASH_REC_MARKS_MASK & ~FLASH_REC_FETCHED),
               "meta marks and the flash record's marks byte agree");

/* The policy's state (policy.h). Every cache has one; f is NULL without a
 * flash tier. */
struct tier {
    ram_t *r;
    flash_t *f;               /* the lower tier, or NULL (RAM only) */
    char *memory_file;        /* -e without a flash tier, else NULL */
    cache_flash_promote_e promote;
    unsigned promote_rate;     /* per worker per second; 0 = no limit */
    unsigned stall_ms;
    unsigned spill_ahead;      /* TIER_SPILL_AHEAD (tier_item_alloc) */
    unsigned spill_ahead_load; /* TIER_SPILL_AHEAD_LOAD: the writer is behind */
    _Atomic uint64_t drops_admission; /* refused by flash_admit at eviction */
    _Atomic uint64_t drops_stall;     /* evicted unspilled: stall bound */
    _Atomic uint64_t respill_skipped; /* evicted, already on flash */
    _Atomic uint64_t get_hits;
    _Atomic uint64_t get_misses;
    _Atomic uint64_t promotions;
    /* the flash walk (metadump): one at a time, process-wide */
    pthread_mutex_t walk_lock;
    bool walk_busy;            /* [walk_lock] */
    _Atomic bool walk_stop;    /* a worker going away: stop at once */
};

typedef struct tier_walk tier_walk_t;

typedef enum tr_op {
    TR_GET, TR_GAT, TR_TOUCH, TR_STORE, TR_DELETE, TR_UNLINK, TR_ARITH, TR_KEYED
} tr_op_e;

typedef struct tr_req tr_req_t;
struct tr_req {
    tr_req_t *next;     /* ready list, or the waiters chain */
    tr_req_t *inext;    /* inflight chain of its hv slot (heads only) */
    tr_req_t *wait_head, *wait_tail; /* heads only: queued behind */
    tier_worker_t *tw;
    tr_op_e op;
    uint64_t hv;          /* set once the request is kept (req_keep) */
    const char *key;      /* the caller's bytes, or keybuf once kept */
    size_t nkey;
    rel_time_t exptime;   /* gat / touch */
    unsigned nobump;      /* get / gat: RAM_F_NOBUMP or 0 */
    item_t *it;           /* store: our reference */
    cache_store_op_e sop;
    uint64_t cas_in;
    bool incr;
    uint64_t delta;
    ram_keyed_t k;        /* TR_KEYED: the step and its results */
    int64_t *old_exptime_out; /* TR_KEYED: written when it succeeds */
    cache_async_t async;
    bool is_async;
    bool started;         /* the first RAM pass counted cmd_* */
    bool deferred;        /* the first RAM step said PENDING: flash next */
    bool flash_absent;    /* flash answered: RAM decides alone */
    bool in_lookup;       /* inside flash_lookup (read_cb runs now) */
    bool have_read;       /* read_cb ran: rec / read_nomem */
    bool read_nomem;
    bool registered;      /* head in the inflight list */
    bool finished;
    unsigned tries;
    item_t *rec;          /* the record: slab item (to_ram) or temporary */
    item_t *spill;        /* evicted by rec's allocation: for the writer */
    enum { TR_LIVE, TR_EXPIRED, TR_FLUSHED } dead; /* the record's state */
    bool to_ram;          /* the record goes into RAM (promotion, install) */
    rel_time_t store_time;
    unsigned hits;
    uint64_t loc;
    uint64_t cas;         /* the record's */
    cache_result_t res;
    char keybuf[CACHE_KEY_MAX]; /* last: a stack request never touches it */
};

/* One worker's request engine (every cache has one per worker). */
struct tier_worker {
    tier_t *t;
    ram_t *r;
    ram_wstats_t *ws;
    flash_worker_t *fw;        /* NULL without a flash tier */
    unsigned defer;            /* RAM_F_DEFER with a flash tier, else 0 */
    tr_req_t *ready_head, *ready_tail;
    tr_req_t *iflt[TIER_IFLT_SLOTS]; /* heads, chained per hv slot */
    unsigned nheads;
    int64_t promo_sec;
    unsigned promo_count;
    tier_walk_t *walk;         /* the flash walk this worker started */
    _Atomic bool walk_done;    /* set by the walk thread when it ends */
};

/* tier_walk.c: ends the worker's flash walk, if any: joins its thread
 * (wait: also if it still runs: stops it first) and calls its done
 * callback on this worker. */
void tier_walk_finish(tier_worker_t *tw, bool wait);

/* Puts q on its worker's ready list (run by tier_worker_poll). */
static inline void ready_push(tier_worker_t *tw, tr_req_t *q)
{
    q->next = NULL;
    if (tw->ready_tail)
        tw->ready_tail->next = q;
    else
        tw->ready_head = q;
    tw->ready_tail = q;
}

/* policy.c, flash_read_fn of the engine's lookups (ctx: the tr_req_t):
 * takes the read result (a miss unless FLASH_OK) while it is valid - the
 * record's state, the promotion decision, one copy of the value - then
 * marks q read and, outside flash_lookup, puts it on the ready list. No
 * tier lock held. */
void tier_read_cb(void *ctx, flash_status_e st, const flash_hit_t *hit);
/* policy.c: applies a flash read to q (the policy's "still current"
 * check, promotion, the install). true: q->res is final; false: run the
 * RAM step again (q's flags say how). */
bool tier_apply_read(tr_req_t *q);

#endif /* TIERCACHE_ENGINE_INT_H */
