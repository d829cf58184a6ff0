/*
 * tests/unit/flash/test_livemap.c - the LIVE MAP encoding (livemap.h):
 * round trip of header, table and bits; every byte of header and table
 * corrupted in turn is refused (or, for reserved bytes, changes nothing
 * the decoder returns); truncation; tables that are not a ring.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "flash/format.h"
#include "flash/livemap.h"

#define INST 0x1122334455667788ull

/* A map of 3 segments (ids 6, 7, 0 of 8: a wrap), counts 9, 0, 17. */
static uint8_t *make(uint64_t *len)
{
    flash_map_seg_t t[3] = {{6, 9, 100}, {7, 0, 101}, {0, 17, 105}};
    uint32_t counts[3] = {9, 0, 17};
    *len = flash_map_len(3, counts);
    uint8_t *buf = malloc(*len);
    uint8_t *bits;
    flash_map_encode(buf, INST, 3, t, &bits);
    flash_map_set(bits, 0);
    flash_map_set(bits, 8);
    flash_map_set(bits + 2, 16);   /* third run starts after 2 + 0 bytes */
    return buf;
}

Test(livemap, round_trip)
{
    uint64_t len;
    uint8_t *buf = make(&len);
    cr_assert_eq(len, FLASH_MAP_HDR_LEN + 3 * FLASH_MAP_ENT_LEN + 2 + 0 + 3);
    flash_map_t m;
    cr_assert_eq(flash_map_decode(buf, len, INST, 8, &m), FLASH_MAP_OK);
    cr_assert_eq(m.nsegs, 3);
    cr_assert_eq(m.len, len);
    flash_map_seg_t e;
    flash_map_entry(&m, 0, &e);
    cr_assert(e.seg_id == 6 && e.count == 9 && e.seq == 100);
    flash_map_entry(&m, 2, &e);
    cr_assert(e.seg_id == 0 && e.count == 17 && e.seq == 105);
    cr_assert(flash_map_get(m.bits, 0) && flash_map_get(m.bits, 8) && !flash_map_get(m.bits, 1));
    cr_assert(flash_map_get(m.bits + 2, 16) && !flash_map_get(m.bits + 2, 15));
    free(buf);
}

Test(livemap, every_header_and_table_byte)
{
    uint64_t len;
    uint8_t *buf = make(&len);
    flash_map_t ok;
    cr_assert_eq(flash_map_decode(buf, len, INST, 8, &ok), FLASH_MAP_OK);
    uint64_t seqs[3]; /* ok's views share buf: copy what it said */
    for (uint32_t k = 0; k < 3; k++) {
        flash_map_seg_t e;
        flash_map_entry(&ok, k, &e);
        seqs[k] = e.seq;
    }
    size_t end = FLASH_MAP_HDR_LEN + 3 * FLASH_MAP_ENT_LEN;
    for (size_t i = 0; i < end; i++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (uint8_t)(1u << bit);
            flash_map_t m;
            flash_map_status_e st = flash_map_decode(buf, len, INST, 8, &m);
            bool reserved = i >= 32 && i < 56;   /* header reserved bytes: checksummed */
            bool seq_up = i >= FLASH_MAP_HDR_LEN && (i - FLASH_MAP_HDR_LEN) % 16 >= 8;
            if (st == FLASH_MAP_OK) {
                /* only a seq may still make an increasing ring; it is then
                 * what the decoder reports (recovery checks it against
                 * the segment header) */
                cr_assert(seq_up && !reserved, "byte %zu bit %u accepted", i, bit);
                flash_map_seg_t e;
                uint32_t k = (uint32_t)((i - FLASH_MAP_HDR_LEN) / 16);
                flash_map_entry(&m, k, &e);
                cr_assert_neq(e.seq, seqs[k]);
            }
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(buf);
}

Test(livemap, truncation_and_other_instance)
{
    uint64_t len;
    uint8_t *buf = make(&len);
    flash_map_t m;
    for (uint64_t n = 0; n < len; n++)
        cr_assert_eq(flash_map_decode(buf, n, INST, 8, &m), FLASH_MAP_ETRUNCATED, "len %llu",
                     (unsigned long long)n);
    cr_assert_eq(flash_map_decode(buf, len, INST + 1, 8, &m), FLASH_MAP_EINSTANCE);
    /* a device with fewer segments than the table names */
    cr_assert_eq(flash_map_decode(buf, len, INST, 7, &m), FLASH_MAP_ETABLE);
    free(buf);
}

Test(livemap, not_a_ring)
{
    flash_map_seg_t gap[2] = {{1, 0, 10}, {3, 0, 11}};      /* ids not consecutive */
    flash_map_seg_t back[2] = {{1, 0, 10}, {2, 0, 10}};     /* seq not increasing */
    uint32_t counts[2] = {0, 0};
    uint64_t len = flash_map_len(2, counts);
    uint8_t buf[256];
    uint8_t *bits;
    flash_map_t m;
    flash_map_encode(buf, INST, 2, gap, &bits);
    cr_assert_eq(flash_map_decode(buf, len, INST, 8, &m), FLASH_MAP_ETABLE);
    flash_map_encode(buf, INST, 2, back, &bits);
    cr_assert_eq(flash_map_decode(buf, len, INST, 8, &m), FLASH_MAP_ETABLE);
    flash_map_encode(buf, INST, 0, NULL, &bits);
    cr_assert_eq(flash_map_decode(buf, FLASH_MAP_HDR_LEN, INST, 8, &m), FLASH_MAP_OK);
    cr_assert_eq(m.nsegs, 0);
}
