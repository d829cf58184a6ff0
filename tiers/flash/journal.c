/*
 * tiers/flash/journal.c - kill journal pages (journal.h).
 */
#include "flash/journal.h"

#include <string.h>
#include <xxhash.h>

#include "flash/format.h"

static uint64_t page_sum(const uint8_t *b, uint32_t n)
{
    return XXH3_64bits_withSeed(b + FLASH_JPAGE_HDR, (size_t)n * 8, XXH3_64bits(b, 32));
}

void flash_jarea(uint64_t map_len, uint32_t segment_size, uint64_t *start, uint32_t *pages)
{
    uint64_t used = FLASH_IO_ALIGN + fl_round_up(map_len, FLASH_IO_ALIGN);
    *start = used;
    *pages = used < segment_size ? (uint32_t)((segment_size - used) / FLASH_JPAGE) : 0;
}

void flash_jpage_init(uint8_t *b, uint64_t instance_id, uint64_t map_seq, uint32_t page_no)
{
    memset(b, 0, FLASH_JPAGE);
    memcpy(b, FLASH_JPAGE_MAGIC, 4);
    fl_put_u32(b + 4, FLASH_JPAGE_VERSION);
    fl_put_u64(b + 8, instance_id);
    fl_put_u64(b + 16, map_seq);
    fl_put_u32(b + 24, page_no);
    fl_put_u32(b + 28, 0);
    fl_put_u64(b + 32, page_sum(b, 0));
}

bool flash_jpage_add(uint8_t *b, uint64_t hash)
{
    uint32_t n = fl_get_u32(b + 28);
    if (n >= FLASH_JPAGE_MAX || hash == 0)
        return false;
    fl_put_u64(b + FLASH_JPAGE_HDR + (size_t)n * 8, hash);
    fl_put_u32(b + 28, n + 1);
    fl_put_u64(b + 32, page_sum(b, n + 1));
    return true;
}

bool flash_jpage_add_extend(uint8_t *b, uint64_t seq, uint32_t seg, uint32_t gen)
{
    uint32_t n = fl_get_u32(b + 28);
    if (n + 3 > FLASH_JPAGE_MAX)
        return false;
    uint8_t *w = b + FLASH_JPAGE_HDR + (size_t)n * 8;
    fl_put_u64(w, 0);
    fl_put_u64(w + 8, seq);
    fl_put_u64(w + 16, (uint64_t)seg << 32 | gen);
    fl_put_u32(b + 28, n + 3);
    fl_put_u64(b + 32, page_sum(b, n + 3));
    return true;
}

bool flash_jpage_has(const uint8_t *b, uint32_t from, uint64_t hash)
{
    uint32_t n = fl_get_u32(b + 28);
    for (uint32_t i = from; i < n && i < FLASH_JPAGE_MAX; i++)
        if (fl_get_u64(b + FLASH_JPAGE_HDR + (size_t)i * 8) == hash)
            return true;
    return false;
}

uint32_t flash_jpage_count(const uint8_t *b)
{
    return fl_get_u32(b + 28);
}

bool flash_jpage_decode(const uint8_t *b, uint64_t instance_id, uint64_t map_seq,
                        uint32_t page_no, flash_jpage_t *out)
{
    uint32_t version = fl_get_u32(b + 4);
    if (memcmp(b, FLASH_JPAGE_MAGIC, 4) != 0 || version < 1 || version > FLASH_JPAGE_VERSION ||
        fl_get_u64(b + 8) != instance_id || fl_get_u64(b + 16) != map_seq ||
        fl_get_u32(b + 24) != page_no)
        return false;
    uint32_t n = fl_get_u32(b + 28);
    if (n > FLASH_JPAGE_MAX || fl_get_u64(b + 32) != page_sum(b, n))
        return false;
    out->instance_id = instance_id;
    out->map_seq = map_seq;
    out->page_no = page_no;
    out->version = version;
    out->count = n;
    out->words = b + FLASH_JPAGE_HDR;
    return true;
}

bool flash_jpage_next(const flash_jpage_t *p, uint32_t *pos, flash_jent_t *out)
{
    uint32_t i = *pos;
    if (i >= p->count)
        return false;
    memset(out, 0, sizeof *out);
    uint64_t w = fl_get_u64(p->words + (size_t)i * 8);
    if (w != 0 || p->version == 1) {
        out->kind = FLASH_JENT_KILL;
        out->hash = w;
        *pos = i + 1;
        return true;
    }
    if (i + 3 > p->count)
        return false;
    uint64_t where = fl_get_u64(p->words + (size_t)(i + 2) * 8);
    out->kind = FLASH_JENT_EXTEND;
    out->seq = fl_get_u64(p->words + (size_t)(i + 1) * 8);
    out->seg = (uint32_t)(where >> 32);
    out->gen = (uint32_t)where;
    *pos = i + 3;
    return true;
}
