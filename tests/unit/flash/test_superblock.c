/* tests/unit/flash/test_superblock.c - superblock and state record:
 * roundtrip, geometry rules, every single-bit flip detected, random bytes. */
#include <criterion/criterion.h>
#include <string.h>

#include "flash/superblock.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define MiB (1024u * 1024u)

static flash_sb_t good_sb(void)
{
    flash_sb_t sb;
    cr_assert_eq(flash_sb_init(&sb, 64ull * MiB + FLASH_HEADER_AREA + 4153, 1 * MiB, 512, 16384, 1700000000,
                               0x1122334455667788ull),
                 FLASH_SB_OK);
    return sb;
}

Test(superblock, init_geometry)
{
    flash_sb_t sb = good_sb();
    cr_assert_eq(sb.version, FLASH_FORMAT_VERSION);
    cr_assert_eq(sb.data_offset, FLASH_HEADER_AREA);
    /* (64 MiB + header area + 4153 - header area) / 1 MiB = 64 whole segments */
    cr_assert_eq(sb.segment_count, 64);
    cr_assert_eq(flash_sb_validate(&sb), FLASH_SB_OK);
    cr_assert_eq(flash_sb_segment_offset(&sb, 0), FLASH_HEADER_AREA);
    cr_assert_eq(flash_sb_segment_offset(&sb, 63), FLASH_HEADER_AREA + 63ull * MiB);
    cr_assert_eq(flash_sb_segment_offset(&sb, 64), UINT64_MAX);

    flash_sb_t x;
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 1 * MiB + 512, 512, 16384, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 16 * MiB, 512, 16384, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 32768, 512, 4096, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 1 * MiB, 768, 16384, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 1 * MiB, 8192, 16384, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 1 * MiB, 512, 256, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 64 * MiB, 1 * MiB, 512, MiB / 2, 0, 0), FLASH_SB_EGEOMETRY);
    cr_assert_eq(flash_sb_init(&x, 1 * MiB, 1 * MiB, 512, 16384, 0, 0), FLASH_SB_ETOOSMALL);
    cr_assert_eq(flash_sb_init(&x, 1 * MiB + FLASH_HEADER_AREA, 1 * MiB, 4096, 16384, 0, 0), FLASH_SB_OK);
    cr_assert_eq(x.segment_count, 1);
    /* count is capped at 2^18 */
    cr_assert_eq(flash_sb_init(&x, (1ull << 40), 64 * 1024, 512, 4096, 0, 0), FLASH_SB_OK);
    cr_assert_eq(x.segment_count, FLASH_MAX_SEGMENTS);
    cr_assert_eq(flash_sb_validate(&x), FLASH_SB_OK);
}

Test(superblock, roundtrip)
{
    flash_sb_t sb = good_sb();
    sb.created = 0xAABBCCDDEEFF0011ull;
    uint8_t buf[FLASH_SB_LEN];
    flash_sb_encode(&sb, buf);
    cr_assert_eq(memcmp(buf, "TIERCACHE-FLASH\0", 16), 0);
    cr_assert_eq(buf[16], FLASH_FORMAT_VERSION); /* version, little-endian */
    cr_assert_eq(buf[17] | buf[18] | buf[19], 0);
    flash_sb_t out;
    memset(&out, 0xff, sizeof out);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_OK);
    cr_assert_eq(out.version, sb.version);
    cr_assert_eq(out.device_size, sb.device_size);
    cr_assert_eq(out.data_offset, sb.data_offset);
    cr_assert_eq(out.segment_size, sb.segment_size);
    cr_assert_eq(out.segment_count, sb.segment_count);
    cr_assert_eq(out.alignment, sb.alignment);
    cr_assert_eq(out.block_target, sb.block_target);
    cr_assert_eq(out.created, sb.created);
    cr_assert_eq(out.instance_id, sb.instance_id);
    cr_assert_eq(out.features, 0);
    /* little-endian on disk: device size at offset 24 */
    uint64_t ds = 0;
    for (int i = 7; i >= 0; i--)
        ds = ds << 8 | buf[24 + i];
    cr_assert_eq(ds, sb.device_size);
}

Test(superblock, decode_errors)
{
    flash_sb_t sb = good_sb(), out;
    uint8_t buf[FLASH_SB_LEN];
    flash_sb_encode(&sb, buf);
    cr_assert_eq(flash_sb_decode(buf, FLASH_SB_LEN - 1, &out), FLASH_SB_ETRUNCATED);
    cr_assert_eq(flash_sb_decode(buf, 0, &out), FLASH_SB_ETRUNCATED);

    flash_sb_t bad = sb;
    bad.version = FLASH_FORMAT_VERSION + 1;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EVERSION);

    /* geometry checked even with a good checksum */
    bad = sb;
    bad.segment_count = sb.segment_count + 1; /* passes the device end */
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    bad = sb;
    bad.data_offset = 4096; /* inside the header area */
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    bad = sb;
    bad.segment_count = 0;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    bad = sb;
    bad.data_offset = UINT64_MAX - 4095;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    bad = sb;
    bad.features = 1;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EVERSION);
}

Test(superblock, every_bit_flip_detected)
{
    flash_sb_t sb = good_sb(), out;
    uint8_t buf[FLASH_SB_LEN], copy[FLASH_SB_LEN];
    flash_sb_encode(&sb, buf);
    for (unsigned bit = 0; bit < FLASH_SB_LEN * 8; bit++) {
        memcpy(copy, buf, sizeof buf);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        flash_sb_status_e st = flash_sb_decode(copy, sizeof copy, &out);
        if (bit < 128)
            cr_assert_eq(st, FLASH_SB_EMAGIC, "bit %u", bit);
        else if (bit < 160)
            cr_assert_eq(st, FLASH_SB_EVERSION, "bit %u", bit);
        else if (bit < 192)
            cr_assert_eq(st, FLASH_SB_EGEOMETRY, "bit %u", bit);
        else
            cr_assert_eq(st, FLASH_SB_ECHECKSUM, "bit %u", bit);
    }
}

Test(superblock, random_bytes)
{
    uint8_t buf[FLASH_SB_LEN];
    flash_sb_t out;
    flash_state_t st;
    for (int i = 0; i < 20000; i++) {
        for (size_t j = 0; j < sizeof buf; j++)
            buf[j] = (uint8_t)rnd();
        if (i & 1)
            memcpy(buf, FLASH_MAGIC, FLASH_MAGIC_LEN);
        if (i & 2)
            buf[16] = (uint8_t)FLASH_FORMAT_VERSION, buf[17] = buf[18] = buf[19] = 0;
        size_t len = (size_t)(rnd() % (sizeof buf + 1));
        cr_assert_neq(flash_sb_decode(buf, len, &out), FLASH_SB_OK);
        if (i & 1)
            memcpy(buf, FLASH_STATE_MAGIC, FLASH_STATE_MAGIC_LEN);
        cr_assert_neq(flash_state_decode(buf, len, &st), FLASH_SB_OK);
    }
}

static flash_state_t good_state(void)
{
    flash_state_t s = {
        .version = FLASH_FORMAT_VERSION,
        .state = FLASH_STATE_CLEAN,
        .instance_id = 0x1122334455667788ull,
        .run_count = 7,
        .last_seq = 123456789012ull,
        .min_valid_seq = 1000,
        .time = 1700000123,
        .flush_oldest_live = 1700000100,
        .flush_oldest_cas = 0xdeadbeefcafeull,
        .max_cas = 0xfeedfacefeedull,
        .map_first_seg = 12,
        .map_seg_count = 3,
        .map_len = 2500000,
        .map_cksum = 0x0123456789abcdefull,
        .map_seq = 123457,
    };
    return s;
}

Test(superblock, state_roundtrip)
{
    flash_state_t s = good_state(), out;
    uint8_t buf[FLASH_STATE_LEN];
    flash_state_encode(&s, buf);
    cr_assert_eq(memcmp(buf, "TCFSTATE", 8), 0);
    cr_assert_eq(flash_state_decode(buf, sizeof buf, &out), FLASH_SB_OK);
    cr_assert_eq(out.version, s.version);
    cr_assert_eq(out.state, s.state);
    cr_assert_eq(out.instance_id, s.instance_id);
    cr_assert_eq(out.run_count, s.run_count);
    cr_assert_eq(out.last_seq, s.last_seq);
    cr_assert_eq(out.min_valid_seq, s.min_valid_seq);
    cr_assert_eq(out.time, s.time);
    cr_assert_eq(out.flush_oldest_live, s.flush_oldest_live);
    cr_assert_eq(out.flush_oldest_cas, s.flush_oldest_cas);
    cr_assert_eq(out.max_cas, s.max_cas);
    cr_assert_eq(out.map_first_seg, s.map_first_seg);
    cr_assert_eq(out.map_seg_count, s.map_seg_count);
    cr_assert_eq(out.map_len, s.map_len);
    cr_assert_eq(out.map_cksum, s.map_cksum);
    cr_assert_eq(out.map_seq, s.map_seq);
    s.state = FLASH_STATE_RUNNING;
    flash_state_encode(&s, buf);
    cr_assert_eq(flash_state_decode(buf, sizeof buf, &out), FLASH_SB_OK);
    cr_assert_eq(out.state, FLASH_STATE_RUNNING);
    s.state = 3;
    flash_state_encode(&s, buf);
    cr_assert_eq(flash_state_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    s.state = FLASH_STATE_CLEAN;
    s.version = 9;
    flash_state_encode(&s, buf);
    cr_assert_eq(flash_state_decode(buf, sizeof buf, &out), FLASH_SB_EVERSION);
    cr_assert_eq(flash_state_decode(buf, FLASH_STATE_LEN - 1, &out), FLASH_SB_ETRUNCATED);
}

Test(superblock, state_every_bit_flip_detected)
{
    flash_state_t s = good_state(), out;
    uint8_t buf[FLASH_STATE_LEN], copy[FLASH_STATE_LEN];
    flash_state_encode(&s, buf);
    for (unsigned bit = 0; bit < FLASH_STATE_LEN * 8; bit++) {
        memcpy(copy, buf, sizeof buf);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_neq(flash_state_decode(copy, sizeof copy, &out), FLASH_SB_OK, "bit %u", bit);
    }
}

Test(superblock, strerror)
{
    for (int st = FLASH_SB_OK; st <= FLASH_SB_ETOOSMALL; st++) {
        const char *m = flash_sb_strerror((flash_sb_status_e)st);
        cr_assert_not_null(m);
        cr_assert_null(strstr(m, "unknown"));
        for (int o = FLASH_SB_OK; o < st; o++)
            cr_assert_str_neq(m, flash_sb_strerror((flash_sb_status_e)o));
    }
    cr_assert_not_null(strstr(flash_sb_strerror((flash_sb_status_e)99), "unknown"));
}
