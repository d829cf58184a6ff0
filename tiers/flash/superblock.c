/*
 * tiers/flash/superblock.c - superblock and state record codecs.
 * Layouts: format.h. No locks, no globals.
 */
#include "flash/superblock.h"

#include <string.h>
#include <xxhash.h>

const char *flash_sb_strerror(flash_sb_status_e st)
{
    switch (st) {
    case FLASH_SB_OK: return "ok";
    case FLASH_SB_ETRUNCATED: return "superblock: buffer truncated";
    case FLASH_SB_EMAGIC: return "superblock: bad magic";
    case FLASH_SB_EVERSION: return "superblock: unsupported format version";
    case FLASH_SB_ECHECKSUM: return "superblock: checksum mismatch";
    case FLASH_SB_EGEOMETRY: return "superblock: invalid geometry";
    case FLASH_SB_ETOOSMALL: return "superblock: device too small for one segment";
    }
    return "superblock: unknown status";
}

static int is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

static flash_sb_status_e check_sizes(uint32_t segment_size, uint32_t alignment,
                                     uint32_t block_target)
{
    if (!is_pow2(alignment) || alignment < FLASH_UNIT || alignment > FLASH_IO_ALIGN)
        return FLASH_SB_EGEOMETRY;
    if (segment_size < FLASH_MIN_SEGMENT_SIZE || segment_size > FLASH_MAX_SEGMENT_SIZE ||
        segment_size % FLASH_IO_ALIGN != 0)
        return FLASH_SB_EGEOMETRY;
    if (block_target < FLASH_UNIT || block_target > segment_size / 4)
        return FLASH_SB_EGEOMETRY;
    return FLASH_SB_OK;
}

flash_sb_status_e flash_sb_init(flash_sb_t *sb, uint64_t device_size,
                                uint32_t segment_size, uint32_t alignment,
                                uint32_t block_target, uint64_t now,
                                uint64_t instance_id)
{
    flash_sb_status_e st = check_sizes(segment_size, alignment, block_target);
    if (st != FLASH_SB_OK)
        return st;
    if (device_size < FLASH_HEADER_AREA + (uint64_t)segment_size)
        return FLASH_SB_ETOOSMALL;
    uint64_t n = (device_size - FLASH_HEADER_AREA) / segment_size;
    if (n > FLASH_MAX_SEGMENTS)
        n = FLASH_MAX_SEGMENTS;
    memset(sb, 0, sizeof *sb);
    sb->version = FLASH_FORMAT_VERSION;
    sb->device_size = device_size;
    sb->data_offset = FLASH_HEADER_AREA;
    sb->segment_size = segment_size;
    sb->segment_count = (uint32_t)n;
    sb->alignment = alignment;
    sb->block_target = block_target;
    sb->created = now;
    sb->instance_id = instance_id;
    sb->features = 0;
    sb->member_index = 0;
    sb->member_count = 1;
    sb->member_size = 0;
    return FLASH_SB_OK;
}

void flash_sb_set_member(flash_sb_t *sb, uint32_t index, uint32_t count,
                         uint64_t member_size)
{
    if (count <= 1) {
        sb->features &= ~FLASH_FEATURE_DEVSET;
        sb->member_index = 0;
        sb->member_count = 1;
        sb->member_size = 0;
        return;
    }
    sb->features |= FLASH_FEATURE_DEVSET;
    sb->member_index = index;
    sb->member_count = count;
    sb->member_size = member_size;
}

flash_sb_status_e flash_sb_validate(const flash_sb_t *sb)
{
    if (sb->version != FLASH_FORMAT_VERSION)
        return FLASH_SB_EVERSION;
    flash_sb_status_e st = check_sizes(sb->segment_size, sb->alignment, sb->block_target);
    if (st != FLASH_SB_OK)
        return st;
    if (sb->data_offset < FLASH_HEADER_AREA || sb->data_offset % FLASH_IO_ALIGN != 0)
        return FLASH_SB_EGEOMETRY;
    if (sb->segment_count == 0 || sb->segment_count > FLASH_MAX_SEGMENTS)
        return FLASH_SB_EGEOMETRY;
    /* no overflow: count <= 2^18, size <= 2^23, offset checked below */
    uint64_t need = (uint64_t)sb->segment_count * sb->segment_size;
    if (sb->data_offset > sb->device_size || need > sb->device_size - sb->data_offset)
        return FLASH_SB_EGEOMETRY;
    if ((sb->features & ~FLASH_FEATURE_DEVSET) != 0)
        return FLASH_SB_EVERSION;
    if (sb->features & FLASH_FEATURE_DEVSET) {
        if (sb->member_count < 2 || sb->member_count > FLASH_MAX_MEMBERS ||
            sb->member_index >= sb->member_count || sb->member_size < sb->data_offset ||
            sb->member_size % FLASH_IO_ALIGN != 0)
            return FLASH_SB_EGEOMETRY;
        /* each member holds ceil(N / count) segment slots */
        uint64_t per = (sb->segment_count + sb->member_count - 1) / sb->member_count;
        if (per * sb->segment_size > sb->member_size - sb->data_offset)
            return FLASH_SB_EGEOMETRY;
    } else if (sb->member_index != 0 || sb->member_count != 1) {
        return FLASH_SB_EGEOMETRY;
    }
    return FLASH_SB_OK;
}

void flash_sb_encode(const flash_sb_t *sb, uint8_t *b)
{
    memset(b, 0, FLASH_SB_LEN);
    memcpy(b, FLASH_MAGIC, FLASH_MAGIC_LEN);
    fl_put_u32(b + 16, sb->version);
    fl_put_u32(b + 20, FLASH_SB_LEN);
    fl_put_u64(b + 24, sb->device_size);
    fl_put_u64(b + 32, sb->data_offset);
    fl_put_u32(b + 40, sb->segment_size);
    fl_put_u32(b + 44, sb->segment_count);
    fl_put_u32(b + 48, sb->alignment);
    fl_put_u32(b + 52, sb->block_target);
    fl_put_u64(b + 56, sb->created);
    fl_put_u64(b + 64, sb->instance_id);
    fl_put_u32(b + 72, sb->features);
    if (sb->features & FLASH_FEATURE_DEVSET) {
        fl_put_u32(b + 76, sb->member_index);
        fl_put_u32(b + 80, sb->member_count);
        fl_put_u64(b + 84, sb->member_size);
    }
    fl_put_u64(b + FLASH_SB_CKSUM_OFF, XXH3_64bits(b, FLASH_SB_CKSUM_OFF));
}

uint32_t flash_sb_old_version(const uint8_t *b, size_t len)
{
    if (len < FLASH_SB_LEN || memcmp(b, FLASH_MAGIC, FLASH_MAGIC_LEN) != 0 ||
        fl_get_u32(b + 20) != FLASH_SB_LEN ||
        fl_get_u64(b + FLASH_SB_CKSUM_OFF) != XXH3_64bits(b, FLASH_SB_CKSUM_OFF))
        return 0;
    uint32_t v = fl_get_u32(b + 16);
    return v >= 1 && v < FLASH_FORMAT_VERSION ? v : 0;
}

flash_sb_status_e flash_sb_decode(const uint8_t *b, size_t len, flash_sb_t *out)
{
    if (len < FLASH_SB_LEN)
        return FLASH_SB_ETRUNCATED;
    if (memcmp(b, FLASH_MAGIC, FLASH_MAGIC_LEN) != 0)
        return FLASH_SB_EMAGIC;
    flash_sb_t sb;
    sb.version = fl_get_u32(b + 16);
    if (sb.version != FLASH_FORMAT_VERSION)
        return FLASH_SB_EVERSION;
    if (fl_get_u32(b + 20) != FLASH_SB_LEN)
        return FLASH_SB_EGEOMETRY;
    if (fl_get_u64(b + FLASH_SB_CKSUM_OFF) != XXH3_64bits(b, FLASH_SB_CKSUM_OFF))
        return FLASH_SB_ECHECKSUM;
    sb.device_size = fl_get_u64(b + 24);
    sb.data_offset = fl_get_u64(b + 32);
    sb.segment_size = fl_get_u32(b + 40);
    sb.segment_count = fl_get_u32(b + 44);
    sb.alignment = fl_get_u32(b + 48);
    sb.block_target = fl_get_u32(b + 52);
    sb.created = fl_get_u64(b + 56);
    sb.instance_id = fl_get_u64(b + 64);
    sb.features = fl_get_u32(b + 72);
    sb.member_index = 0;
    sb.member_count = 1;
    sb.member_size = 0;
    if (sb.features & FLASH_FEATURE_DEVSET) {
        sb.member_index = fl_get_u32(b + 76);
        sb.member_count = fl_get_u32(b + 80);
        sb.member_size = fl_get_u64(b + 84);
    }
    flash_sb_status_e st = flash_sb_validate(&sb);
    if (st != FLASH_SB_OK)
        return st;
    *out = sb;
    return FLASH_SB_OK;
}

uint64_t flash_sb_segment_offset(const flash_sb_t *sb, uint32_t id)
{
    if (id >= sb->segment_count)
        return UINT64_MAX;
    return sb->data_offset + (uint64_t)id * sb->segment_size;
}

void flash_state_encode(const flash_state_t *st, uint8_t *b)
{
    memset(b, 0, FLASH_STATE_LEN);
    memcpy(b, FLASH_STATE_MAGIC, FLASH_STATE_MAGIC_LEN);
    fl_put_u32(b + 8, st->version);
    fl_put_u32(b + 12, st->state);
    fl_put_u64(b + 16, st->instance_id);
    fl_put_u64(b + 24, st->run_count);
    fl_put_u64(b + 32, st->last_seq);
    fl_put_u64(b + 40, st->min_valid_seq);
    fl_put_u64(b + 48, st->time);
    fl_put_u32(b + 56, st->flush_oldest_live);
    fl_put_u64(b + 64, st->flush_oldest_cas);
    fl_put_u64(b + 72, st->max_cas);
    fl_put_u32(b + 80, st->map_first_seg);
    fl_put_u32(b + 84, st->map_seg_count);
    fl_put_u64(b + 88, st->map_len);
    fl_put_u64(b + 96, st->map_cksum);
    fl_put_u64(b + 104, st->map_seq);
    fl_put_u32(b + 112, st->boot_tag);
    fl_put_u32(b + 116, st->flags);
    fl_put_u64(b + 120, XXH3_64bits(b, 120));
}

flash_sb_status_e flash_state_decode(const uint8_t *b, size_t len, flash_state_t *out)
{
    if (len < FLASH_STATE_LEN)
        return FLASH_SB_ETRUNCATED;
    if (memcmp(b, FLASH_STATE_MAGIC, FLASH_STATE_MAGIC_LEN) != 0)
        return FLASH_SB_EMAGIC;
    flash_state_t st;
    st.version = fl_get_u32(b + 8);
    if (st.version != FLASH_FORMAT_VERSION)
        return FLASH_SB_EVERSION;
    if (fl_get_u64(b + 120) != XXH3_64bits(b, 120))
        return FLASH_SB_ECHECKSUM;
    st.state = fl_get_u32(b + 12);
    if (st.state != FLASH_STATE_CLEAN && st.state != FLASH_STATE_RUNNING)
        return FLASH_SB_EGEOMETRY;
    st.instance_id = fl_get_u64(b + 16);
    st.run_count = fl_get_u64(b + 24);
    st.last_seq = fl_get_u64(b + 32);
    st.min_valid_seq = fl_get_u64(b + 40);
    st.time = fl_get_u64(b + 48);
    st.flush_oldest_live = fl_get_u32(b + 56);
    st.flush_oldest_cas = fl_get_u64(b + 64);
    st.max_cas = fl_get_u64(b + 72);
    st.map_first_seg = fl_get_u32(b + 80);
    st.map_seg_count = fl_get_u32(b + 84);
    st.map_len = fl_get_u64(b + 88);
    st.map_cksum = fl_get_u64(b + 96);
    st.map_seq = fl_get_u64(b + 104);
    st.boot_tag = fl_get_u32(b + 112);
    st.flags = fl_get_u32(b + 116);
    *out = st;
    return FLASH_SB_OK;
}
