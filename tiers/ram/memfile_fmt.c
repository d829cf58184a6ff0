/*
 * tiers/ram/memfile_fmt.c - encode and decode of the memory file's header
 * and records (the layout is in memfile.h). Pure: no I/O, no locks.
 */
#include <string.h>
#include <xxhash.h>

#include "../tier_types.h"
#include "memfile.h"

static void put32(unsigned char *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

const char *memfile_strerror(memfile_status_e st)
{
    switch (st) {
    case MEMFILE_OK: return "ok";
    case MEMFILE_NONE: return "no memory file";
    case MEMFILE_FOREIGN: return "not a tiercache memory file";
    case MEMFILE_DAMAGED: return "damaged memory file";
    case MEMFILE_UNSUPPORTED: return "unsupported memory file version";
    case MEMFILE_EIO: return "I/O error";
    case MEMFILE_ENOMEM: return "out of memory";
    }
    return "unknown status";
}

#define HDR_SUM_OFF 120u

void memfile_header_encode(const memfile_header_t *h, unsigned char out[MEMFILE_HDR_LEN])
{
    memset(out, 0, MEMFILE_HDR_LEN);
    memcpy(out, MEMFILE_MAGIC, MEMFILE_MAGIC_LEN);
    put32(out + 8, MEMFILE_VERSION);
    put32(out + 12, MEMFILE_HDR_LEN);
    put64(out + 16, (uint64_t)h->saved_at);
    put64(out + 24, h->max_cas);
    put64(out + 32, h->oldest_cas);
    put32(out + 40, h->oldest_live);
    put32(out + 44, h->flags);
    put64(out + 48, h->items);
    put64(out + 56, h->body_len);
    put64(out + 64, h->body_hash);
    put64(out + 72, h->mem_limit);
    put64(out + 80, h->item_size_max);
    put64(out + 88, (uint64_t)h->process_started);
    put64(out + HDR_SUM_OFF, XXH3_64bits(out, HDR_SUM_OFF));
}

memfile_status_e memfile_header_decode(const unsigned char *buf, size_t len,
                                       memfile_header_t *h)
{
    size_t m = len < MEMFILE_MAGIC_LEN ? len : MEMFILE_MAGIC_LEN;
    if (memcmp(buf, MEMFILE_MAGIC, m) != 0)
        return MEMFILE_FOREIGN;
    if (len < MEMFILE_HDR_LEN)
        return MEMFILE_DAMAGED; /* truncated (or empty) */
    uint32_t version = get32(buf + 8);
    /* every version keeps the magic, the version and this checksum where
     * they are; a later one may change the rest */
    if (XXH3_64bits(buf, HDR_SUM_OFF) != get64(buf + HDR_SUM_OFF))
        return MEMFILE_DAMAGED;
    if (version != MEMFILE_VERSION)
        return MEMFILE_UNSUPPORTED;
    if (get32(buf + 12) != MEMFILE_HDR_LEN)
        return MEMFILE_DAMAGED;
    memset(h, 0, sizeof *h);
    h->version = version;
    h->saved_at = (int64_t)get64(buf + 16);
    h->max_cas = get64(buf + 24);
    h->oldest_cas = get64(buf + 32);
    h->oldest_live = get32(buf + 40);
    h->flags = get32(buf + 44);
    h->items = get64(buf + 48);
    h->body_len = get64(buf + 56);
    h->body_hash = get64(buf + 64);
    h->mem_limit = get64(buf + 72);
    h->item_size_max = get64(buf + 80);
    h->process_started = (int64_t)get64(buf + 88);
    /* every record takes at least its fixed part and a 1-byte key */
    if (h->body_len > UINT64_MAX - MEMFILE_HDR_LEN ||
        h->items > h->body_len / (MEMFILE_REC_FIXED + 1))
        return MEMFILE_DAMAGED;
    if ((h->items == 0) != (h->body_len == 0))
        return MEMFILE_DAMAGED;
    return MEMFILE_OK;
}

#define ST_LRU_MASK 0x03u
#define ST_FETCHED 0x04u
#define ST_ACTIVE 0x08u
#define MARKS_ALL (CACHE_MARK_STALE | CACHE_MARK_TOKEN | CACHE_MARK_BINKEY)

void memfile_rec_encode(const memfile_rec_t *r, unsigned char out[MEMFILE_REC_FIXED])
{
    out[0] = r->nkey;
    out[1] = (unsigned char)((r->lru & ST_LRU_MASK) | (r->fetched ? ST_FETCHED : 0u) |
                             (r->active ? ST_ACTIVE : 0u));
    out[2] = (unsigned char)(r->marks & MARKS_ALL);
    out[3] = 0;
    put32(out + 4, r->flags);
    put32(out + 8, r->nbytes);
    put32(out + 12, r->time);
    put32(out + 16, r->exptime);
    put64(out + 20, r->cas);
}

memfile_status_e memfile_rec_decode(const unsigned char in[MEMFILE_REC_FIXED],
                                    memfile_rec_t *r)
{
    unsigned st = in[1];
    if (in[0] == 0 || in[0] > CACHE_KEY_MAX)
        return MEMFILE_DAMAGED;
    if ((st & ST_LRU_MASK) == ST_LRU_MASK || (st & ~(ST_LRU_MASK | ST_FETCHED | ST_ACTIVE)))
        return MEMFILE_DAMAGED;
    if ((in[2] & ~MARKS_ALL) || in[3] != 0)
        return MEMFILE_DAMAGED;
    r->nkey = in[0];
    r->lru = (uint8_t)(st & ST_LRU_MASK);
    r->fetched = (st & ST_FETCHED) != 0;
    r->active = (st & ST_ACTIVE) != 0;
    r->marks = in[2];
    r->flags = get32(in + 4);
    r->nbytes = get32(in + 8);
    r->time = get32(in + 12);
    r->exptime = get32(in + 16);
    r->cas = get64(in + 20);
    return MEMFILE_OK;
}
