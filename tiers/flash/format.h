/*
 * tiers/flash/format.h - every on-disk byte of a tiercache flash file.
 *
 * BYTE ORDER: every multi-byte integer on disk is LITTLE-ENDIAN, unsigned,
 * and is read and written byte by byte with the fl_get_* / fl_put_* helpers
 * at the bottom of this file. No C struct is ever cast onto disk bytes.
 * Reserved bytes are written as zero and ignored on read (a later version
 * may give them a meaning and bump FLASH_FORMAT_VERSION if old readers must
 * refuse). Checksums are XXH3_64bits (libxxhash) as described per structure.
 * Times are unix seconds (wall clock).
 *
 * DEVICE LAYOUT
 *
 *   offset 0      superblock (128 B used, rest of the first 4 KiB zero)
 *   offset 4096   state record (128 B used, rest of the next 4 KiB zero)
 *   offset 8192   dictionary slot 0, dictionary slot 1 (FLASH_DICT_SLOT_SIZE
 *                 each; zero until a dictionary is written there)
 *   data_offset   segment 0, segment 1, ... segment N-1   (a ring)
 *
 *   With a DEVICE SET (several --flash-path members) that is the set's
 *   address space, not one device's: see DEVICE SET below.
 *
 *   data_offset is 4096-aligned and >= FLASH_HEADER_AREA (147456: the
 *   three areas above; all of it is zeroed when the device is formatted,
 *   so a dictionary of an earlier format never survives). Segment i
 *   starts at data_offset + i * segment_size. segment_size is a multiple of
 *   4096 and <= FLASH_MAX_SEGMENT_SIZE (8 MiB: 2^14 units of 512 B, the
 *   width of a block offset). N <= FLASH_MAX_SEGMENTS (2^18).
 *
 * DEVICE SET (devset.h; --flash-path A,B,... or repeated -o ext_path)
 *
 *   D >= 2 members make one address space, RAID-0 with a stripe of one
 *   segment. Every member uses the smallest member's size M (the rest of a
 *   larger one is unused, logged at start). Each member holds k =
 *   (M - data_offset) / segment_size slots; N = D * k (capped at 2^18).
 *   The superblock's device size is data_offset + N * segment_size (the
 *   logical size).
 *
 *   member 0:    [0, data_offset)  superblock, state record, dictionary
 *                                  slots: the whole header area above
 *   member m:    [0, 4096)         superblock (member index m; every other
 *                                  byte as member 0's superblock)
 *                [4096, data_offset) zero
 *   segment i:   member (i mod D), offset data_offset + (i / D) * segment_size
 *
 *   A logical range is split at segment boundaries (a live map spans
 *   consecutive slots, so alternating members). Every member's superblock
 *   carries the same instance id, geometry and D, and its own index, so a
 *   start finds a reordered set (taken in the recorded order, logged), a
 *   member of another set or a missing member (refused without
 *   --flash-reset, naming it: its data would be lost), or an empty path in
 *   place of a recorded member (a replaced device: the set is
 *   reinitialised, logged). A single device (D = 1) is laid out and
 *   written exactly as before the set existed (features 0).
 *   A member that fails at run time is not used again in that run (its
 *   items read as misses, its slots are skipped by the writer: BAD); if it
 *   is member 0 the state record cannot be written, so the next start
 *   finds no clean state and trusts nothing of the run.
 *
 * SUPERBLOCK (offset 0; written once when the device is formatted, never
 * rewritten; geometry is fixed for the life of the format)
 *
 *   off  size  meaning
 *     0    16  magic FLASH_MAGIC "TIERCACHE-FLASH\0"
 *    16     4  format version (FLASH_FORMAT_VERSION = 4; 3 had no
 *              live map, crash checkpoint or kill journal, and its state
 *              record's bytes 104-119 held index geometry: a file of an
 *              earlier format kept nothing across restarts, so a start
 *              reinitialises it, saying so (DEVICE_KIND_OLD); a later
 *              format is refused. 2 had no
 *              dictionary area and no codec 2; 1 had a 4-byte value length
 *              and no meta marks in a record)
 *    20     4  encoded length in bytes (FLASH_SB_LEN = 128)
 *    24     8  device size used, bytes (>= data_offset + N * segment_size)
 *    32     8  data offset, bytes (4096-aligned, >= FLASH_HEADER_AREA)
 *    40     4  segment size, bytes (multiple of 4096, <= 8 MiB)
 *    44     4  segment count N (1 .. 2^18)
 *    48     4  alignment unit, bytes (power of two, 512 .. 4096; the
 *              device's logical block size at format time)
 *    52     4  block target, raw bytes (--flash-block-size)
 *    56     8  creation time
 *    64     8  instance id: random, chosen at format time. Every segment
 *              header and the state record repeat it; a segment with another
 *              instance id is a leftover of an earlier format: ignored.
 *    72     4  feature flags: 0, or FLASH_FEATURE_DEVSET (bit 1): this
 *              is a member of a device set (below). Any other bit: refused
 *              (FLASH_SB_EVERSION). A build without device sets refuses
 *              every member (its rule: features != 0 is EVERSION, so the
 *              file reads as a damaged superblock and is never used or
 *              reformatted without --flash-reset).
 *    76     4  member index (DEVSET only; else 0): this device's place
 *    80     4  member count D (DEVSET only, 2 .. FLASH_MAX_MEMBERS; else 0,
 *              which means a single device, member 0 of 1)
 *    84     8  member size: bytes this member uses (DEVSET only; else 0)
 *    92    28  reserved (0)
 *   120     8  checksum: XXH3_64bits of bytes [0, 120)
 *
 * STATE RECORD (offset 4096; rewritten at start and at clean shutdown, one
 * 4 KiB write (128 B used) each time, fdatasync'd; the used part lies in
 * one 512-B sector, so it is never torn on a device with 512-B atomic
 * sector writes; a torn or missing record reads as "not clean")
 *
 *   off  size  meaning
 *     0     8  magic "TCFSTATE"
 *     8     4  format version (FLASH_FORMAT_VERSION, 3)
 *    12     4  state: 1 = CLEAN (written last at a clean shutdown, after the
 *              open segment was written); 2 = RUNNING (written at start,
 *              before the first segment write or the first client request)
 *    16     8  instance id (must equal the superblock's)
 *    24     8  run count (incremented at every start)
 *    32     8  last seq: when CLEAN, the seq of the last segment written
 *    40     8  min valid seq: recovery replays only segments whose seq is
 *              >= this (see RECOVERY: set past everything after a crash)
 *    48     8  time of this write
 *    56     4  flush oldest_live at shutdown (0 = none), as segment header
 *    60     4  reserved (0)
 *    64     8  flush oldest_cas at shutdown (0 = none)
 *    72     8  max cas ever handed out (the next run starts above it)
 *    80     4  live map: first segment slot (0xffffffff = no map)
 *    84     4  live map: segment slots it covers (consecutive ids, no wrap)
 *    88     8  live map: length in bytes
 *    96     8  live map: XXH3_64bits of its length bytes
 *   104     8  map seq: RUNNING with a map (a crash checkpoint): the seq
 *              of the segment slot holding it (see CRASH CHECKPOINT)
 *   112     4  boot tag: with a crash checkpoint, the low 32 bits of
 *              XXH3_64bits of /proc/sys/kernel/random/boot_id when it was
 *              taken (0: unknown)
 *   116     4  flags: bit 0 JOURNALED (written, synced, before the first
 *              page of the checkpoint's kill journal is)
 *   120     8  checksum: XXH3_64bits of bytes [0, 120)
 *
 * DICTIONARY SLOT (at 8192 + slot * FLASH_DICT_SLOT_SIZE; written once, by
 * the dictionary trainer, BEFORE any block names the slot; never rewritten
 * in format 3, where only slot 0 is used: slot 1 is reserved for a retrained
 * dictionary, which may take a slot once no live block names it)
 *
 *   off  size  meaning
 *     0     4  magic "TCDI"
 *     4     4  slot format version (1)
 *     8     8  instance id (the superblock's; another id = not ours: ignored)
 *    16     4  dictionary id: the zstd dictionary id inside the content
 *              (ZDICT format; also in every zstd frame made with it)
 *    20     4  content length, bytes (1 .. FLASH_DICT_MAX = 65536)
 *    24     8  creation time
 *    32     4  samples the dictionary was trained on
 *    36     4  sample bytes
 *    40     8  content checksum: XXH3_64bits of the content bytes
 *    48    72  reserved (0)
 *   120     8  checksum: XXH3_64bits of bytes [0, 120)
 *   512     n  content: a zstd dictionary (n = content length)
 *
 *   Why a dictionary: a block is the unit of a flash read and of one
 *   decompression, so small blocks make reads cheap, but zstd compresses a
 *   small block badly: each starts with no history. A dictionary trained
 *   on the first spilled values gives every block that history. Measured
 *   (bench/RESULTS.md, 2026-11-25): 4 KiB blocks of the bench's JSON values
 *   compress 3.45x alone and 5.68x with a 64 KiB dictionary (16 KiB blocks
 *   without one: 4.49x), and decompress 1.5x faster per byte.
 *
 * SEGMENT (segment_size bytes, built in RAM and written whole, in order)
 *
 *   unit 0           segment header (128 B used, rest of the 512 B zero)
 *   unit 1 ..        blocks, each starting at a 512-B unit, back to back
 *   summary_offset   summary: entry_count entries of 12 B, right after the
 *                    last block (512-B aligned), zero-padded to data_end
 *   data_end ..      unused (stale bytes of an earlier use; never read)
 *
 *   The summary sits right after the last block rather than in a fixed tail
 *   area, so a partly filled segment (clean shutdown, flush) is written
 *   short: only [0, round_up(data_end, 4096)) needs to reach the device.
 *
 * SEGMENT HEADER (unit 0 of every segment)
 *
 *   off  size  meaning
 *     0     4  magic "TCSG"
 *     4     2  format version (1)
 *     6     2  encoded length in bytes (FLASH_SEGHDR_LEN = 128)
 *     8     8  instance id (the superblock's)
 *    16     8  seq: monotonic over the device's life, +1 per segment written
 *    24     4  segment id (0 .. N-1; must match its place on the device)
 *    28     4  generation: +1 each time this segment id is reused (also in
 *              every block header, so a read of a stale location is caught)
 *    32     8  creation (seal) time
 *    40     4  flags (0 in version 1)
 *    44     4  block count
 *    48     4  item count (records = item summary entries)
 *    52     4  tombstone count
 *    56     4  summary offset, bytes from the segment start (512-aligned)
 *    60     4  summary entry count (= items + tombstones)
 *    64     8  summary checksum: XXH3_64bits of the entry_count * 12 bytes
 *    72     4  data end, bytes: round_up(summary_offset + 12 * count, 512)
 *    76     4  min store time of the records (0 when there are none)
 *    80     4  max store time of the records (0 when there are none)
 *    84     4  flush oldest_live in effect when sealed (0 = none)
 *    88     8  flush oldest_cas in effect when sealed (0 = none)
 *    96     8  max cas of the records (0 when there are none)
 *   104     4  max exptime of the records; 0 if none or if any record
 *              never expires (recovery skips the segment once it is past)
 *   108    12  reserved (0)
 *   120     8  checksum: XXH3_64bits of bytes [0, 120)
 *
 * BLOCK (starts at a 512-B unit of its segment; its stored size is rounded up
 * to 512 with zero bytes; the next block starts right after)
 *
 *   off  size  meaning
 *     0     4  magic "TCBK"
 *     4     1  codec: 0 = raw (payload is the raw records), 1 = zstd (payload
 *              is one zstd frame that decompresses to exactly raw length),
 *              2 = zstd with a dictionary (as 1, the frame made with the
 *              dictionary of slot byte 5)
 *     5     1  codec 2: dictionary slot (0 .. FLASH_DICT_SLOTS - 1); else 0
 *     6     2  reserved (0)
 *     8     4  record count (>= 1)
 *    12     4  raw length, bytes (sum of the record sizes; <= 8 MiB)
 *    16     4  stored length, bytes of payload after this header (raw
 *              length when codec = raw, < raw length when codec = zstd)
 *    20     4  segment id
 *    24     4  generation
 *    28     2  block offset: this block's own 512-B unit in its segment
 *    30     2  reserved (0)
 *    32     8  checksum: XXH3_64bits_withSeed(payload, stored length,
 *              seed = XXH3_64bits(header bytes [0, 32)))
 *    40     -  payload (stored length bytes)
 *
 * RECORD (inside the raw bytes of a block, back to back, no padding)
 *
 *   off  size  meaning
 *     0     1  key length (1 .. 250)
 *     1     4  client flags
 *     5     3  value length, bytes (24-bit; <= FLASH_BLK_MAX_RAW, 8 MiB)
 *     8     1  meta marks (format 2): bit 0 STALE (invalidated by md I /
 *              ms I: served as a win/stale candidate), bit 1 TOKEN (a
 *              recache token was handed out), bit 2 BINKEY (the key was
 *              set base64-encoded, shown base64 to meta clients), bit 3
 *              FETCHED (the item had been read while in RAM: mg h, me);
 *              other bits 0. Bits 0-2 are tiers/tier_types.h's CACHE_MARK_*.
 *     9     4  exptime, absolute (0 = never)
 *    13     8  cas
 *    21     4  store time (when the item was last stored; for flush_all)
 *    25     k  key bytes
 *  25+k     v  value bytes (no trailing "\r\n")
 *
 *   The same key may appear more than once in a block (set, evicted, set
 *   again, evicted into the same open block): the LAST record wins.
 *
 * SUMMARY ENTRY (12 B; in the order the operations were added)
 *
 *   off  size  meaning
 *     0     8  key hash (XXH3_64bits of the key, as the index uses: the
 *              whole 64 bits, since both buckets and the tag derive from it)
 *     8     2  block offset, 512-B units (1 .. 16383; 0 for a tombstone)
 *    10     1  kind: 1 = ITEM (a record of this key is in that block),
 *              2 = TOMBSTONE (every copy of this hash in an older segment or
 *              earlier in this summary is dead)
 *    11     1  reserved (0)
 *
 *   No exptime per entry: at 20-B values a record compresses to ~20 B, so
 *   each summary byte costs ~2% of the items a segment holds. Recovery
 *   indexes expired items and they fall out on first read or at reclaim; a
 *   wholly expired segment is skipped by the header's max exptime.
 *
 * LIVE MAP (written at a clean shutdown only, over consecutive FREE segment
 * slots the state record names; livemap.h/.c draw it)
 *
 *   off  size  meaning
 *     0     8  magic "TCLIVMAP"
 *     8     4  version (1)
 *    12     4  segment count M (the ring, oldest first; 0 = empty)
 *    16     8  instance id (the superblock's)
 *    24     8  total length in bytes (header + table + bits)
 *    32    24  reserved (0)
 *    56     8  checksum: XXH3_64bits of bytes [0, 56)
 *    64  16*M  table: segment id (4), summary entry count (4), seq (8);
 *              ids consecutive modulo N, seqs increasing
 *  64+16M   -  bits: per table entry in order, ceil(count / 8) bytes; bit i
 *              (byte i/8, bit i%8) = summary entry i is live (the index
 *              held the slot it owns at the shutdown)
 *
 * Why a live map and not the index's buckets or a summary replay: the
 * index forgets flash copies (capacity eviction, collateral drop, reclaim
 * of a segment not yet overwritten) while they stay readable on the
 * device, and a later set or delete of such a key finds no slot, so no
 * tombstone can be written for it: a replay of the summaries would bring
 * that older copy back. The index as it stood at a clean shutdown holds
 * exactly the current flash version of each key. One bit per summary
 * entry (10M items: 1.25 MB) names it independently of the index's
 * geometry, so a start with another --flash-index-mem (or -m, -t) rebuilds
 * the same entries into an index of any size.
 *
 * CLEAN SHUTDOWN (persist.c; SIGTERM, SIGUSR1, `shutdown`)
 *
 *   1. The RAM tier hands every live RAM item that has no current flash
 *      copy to the writer (policy.c); the writer writes what is queued and
 *      the open segment, short.
 *   2. For each ring segment its summary is read back; an ITEM entry is
 *      live iff it owns an index slot (tag, segment, block; the LAST entry
 *      of the block with the slot's tag and bucket, as reclaim decides).
 *   3. The map goes into free slots (the tail is reclaimed if no run is
 *      long enough), fdatasync; then the state record CLEAN: last seq, min
 *      valid seq = the first ring segment's, flush oldest_live / oldest_cas,
 *      max cas, the map's place, length and checksum; fdatasync. A power
 *      cut after the stop loses nothing; a crash before the state record
 *      is written leaves RUNNING: the next start treats the run as crashed.
 *
 * RECOVERY (recover.c)
 *
 * 1. The superblock must decode and match the geometry the settings give
 *    (segment size and count, data offset, alignment; the segment size is
 *    the superblock's own when the settings do not give one:
 *    segment_size_given); otherwise the file is formatted anew (another instance id: no segment of the old one is
 *    ever read) and the log says why.
 * 2. State CLEAN with our instance id and a map whose checksum, header and
 *    table check: the dictionary slots are loaded first (a slot that fails
 *    its checks is lost; blocks naming it read as misses, ENODICT); each
 *    table segment's header and summary are read and must carry our
 *    instance id, sit at their own id, have the table's seq and entry
 *    count and pass the summary checksum (else the segment stays in the
 *    ring as BAD, its entries are misses, counted); the live entries are
 *    inserted in table (seq) order into a new index of the configured
 *    size. Ring: tail = the first table entry, head = after the last;
 *    next seq = last seq + 1. Flush state and max cas go back to the RAM
 *    tier (new cas values start above every old one).
 * 3. State RUNNING naming a crash checkpoint (below) whose slot header
 *    carries the record's map seq: as 2, from that map; the ring is the
 *    map's table (segments written after the checkpoint are not trusted:
 *    their slots are free), next seq = map seq + N + 1 (no later seq can
 *    equal one the crashed run wrote), cas = the record's max cas + 2^32
 *    (the crashed run handed out cas values past its last checkpoint).
 * 4. Otherwise (no or a damaged state record or map; RUNNING without a
 *    map: the run crashed and its checkpoint was made unusable, or none was
 *    taken) the file is formatted anew: nothing of the crashed run is
 *    served, so no deleted or overwritten value can come back.
 * 5. Before the first request: state RUNNING (run count + 1, no map),
 *    fdatasync, so a crash of this run cannot pass for a clean stop.
 *
 * CRASH CHECKPOINT (ckpt.c; --flash-checkpoint-interval, 60 s, 0 = none)
 *
 * Every interval, when something new is on the device and no eviction
 * waits for the writer, the writer thread builds the live map of the ring
 * as at a clean stop (USED segments only: the open segment is not on the
 * device), one segment's summary between two batches of its queue (a
 * segment reclaimed or reused meanwhile keeps nothing; segments written
 * meanwhile are not in it), and writes it into the next free ring slot: an empty segment
 * header (no blocks, no summary; seq = the slot's seq) in the first 4 KiB,
 * the map from offset 4096. The slot is in the ring like any segment
 * (reclaim frees it in turn). fdatasync; then the state record RUNNING
 * names it: map first seg = the slot, map seg count = 1, map len,
 * checksum, map seq, max cas and flush state at the build; fdatasync.
 *
 * KILL JOURNAL (journal.h: page layout). The rest of the checkpoint's
 * slot, from 4096 + round_up(map len, 4096) to the slot's end, holds 4 KiB
 * journal pages 0, 1, ...: in order, KILLs (key hashes that changed after
 * the checkpoint) and EXTENDs (segments sealed after it that it keeps).
 *
 * EXTEND. Once a segment's write completed, the writer adds its keys to
 * the checkpoint's extension filter (a second Bloom filter, sized for half
 * the checkpoint's keys or 8 of the fullest segments seen), then, holding
 * the journal lock, writes one page holding the EXTEND (seg id, seq, gen)
 * and a KILL for each of its copies the index no longer holds (superseded
 * while queued): both reach the device together or not at all. From then
 * on a change of one of its keys is journaled as for the map's keys.
 * Segments sealed while the next checkpoint is built are extended into it
 * after it is published (read back; up to 64). A segment whose record does
 * not fit one page, or one past the filter's room, is not kept, and the
 * next checkpoint is due at once. So a crash loses only the open segment
 * (measured in bench/RESULTS.md: 96% of flash items back right after a
 * load, the rest being the open segment).
 *
 * RECOVERY after a crash: the map's copies, then each EXTEND's segment
 * whose header still carries the recorded seq and gen (the last EXTEND of
 * a place wins; a map segment whose place a kept later segment reused is
 * skipped), in journal order; a copy is indexed unless a KILL of its hash
 * follows its source (the map counts as before every entry). The ring is
 * the map's segments plus every place written after them up to the newest
 * EXTEND (places and seqs advance together within a run); a place in it
 * that holds nothing kept is BAD, with the seq its place implies.
 *
 * Why it never brings back a changed value: the checkpoint's keys are held
 * in a Bloom filter (bloom.h, 16 bits a key). Before any store, delete,
 * arith or touch of a key the filter may hold, its hash is appended to the
 * journal and the page written (O_DIRECT, complete before the change is
 * applied, so before it is answered); the first kill of a checkpoint first
 * sets JOURNALED in the state record (synced). Recovery reads pages 0, 1,
 * ... while they carry the checkpoint's map seq and their own number and
 * pass their checksum (a torn last page was never answered) and leaves
 * every journaled hash out of the index. A flush_all, a full journal or a
 * failed journal write instead rewrites the state record without the map
 * (synced): the checkpoint is unusable. Keys the filter does not hold
 * (RAM-only keys, and ~1% false positives that only cost a journal entry)
 * never wait. During a build, a flash_remove of a key the new filter
 * holds is listed and becomes one of the new journal's first KILLs,
 * written before the state record names the checkpoint: the builder adds
 * each hash to the filter before it asks the index, flash_remove asks the
 * filter after it removed the index entries (seq_cst fences), so one of
 * them sees the other; flash_remove also applies the change rule to the published
 * checkpoint (one published between a change's check and its removal).
 * Before a build the due written_fn callbacks run, so a queued copy
 * superseded in RAM has left the index. Copies the index forgot
 * (eviction, collateral drop, reclaim) are either not in the map, or their
 * key is in the filter and its next change is journaled.
 *
 * What a crash loses: the open segment (not on the device), segments the
 * checkpoint could not extend (above), and everything after a flush_all
 * or a full journal until the next checkpoint. The first checkpoint of a
 * run is taken as soon as anything is on flash and the writer is idle, so
 * the segments of a first load are extended into it. Journal pages are
 * not synced (one write per change, ~0.06 ms here; fdatasync costs ~0.6 ms
 * p50, 5 ms p99): a crash of the process keeps them, a power cut or an OS
 * crash may not, so after the host restarted (the boot tag differs) a
 * JOURNALED checkpoint is not trusted; one without kills still is.
 *
 * POWER CUT. Every state record, map and checkpoint write is followed by
 * fdatasync; segment and journal page writes are not (O_DIRECT reaches
 * the device, but its volatile cache may hold them). After a power cut the
 * segments a map or checkpoint names were written before that map's
 * fdatasync, so they are on stable storage; a clean stop loses nothing; a
 * checkpoint with journaled kills is dropped (boot tag, above).
 *
 * TOMBSTONE entries: the writer adds one when a delete or overwrite removes
 * an indexed flash copy. Recovery through the live map does not need them;
 * a replay (tiercache-inspect, crash recovery) applies them so that every
 * deletion it can see is honoured.
 */
#ifndef TIERCACHE_FLASH_FORMAT_H
#define TIERCACHE_FLASH_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* The first 16 bytes of a tiercache flash file or device (offset 0). */
#define FLASH_MAGIC "TIERCACHE-FLASH"  /* 15 chars + NUL = 16 bytes */
#define FLASH_MAGIC_LEN 16

#define FLASH_FORMAT_VERSION 4u

/* Geometry. Field widths are the single source of these limits. */
#define FLASH_UNIT 512u                 /* block offset unit, min alignment */
#define FLASH_UNIT_SHIFT 9
#define FLASH_IO_ALIGN 4096u            /* data offset, segment size */
#define FLASH_SEGID_BITS 18
#define FLASH_BLKOFF_BITS 14
#define FLASH_MAX_SEGMENTS (1u << FLASH_SEGID_BITS)
#define FLASH_MAX_SEGMENT_SIZE ((uint32_t)(1u << FLASH_BLKOFF_BITS) * FLASH_UNIT)
#define FLASH_MIN_SEGMENT_SIZE (64u * 1024u)
/* Dictionary slots (offset FLASH_DICT_OFFSET + slot * FLASH_DICT_SLOT_SIZE). */
#define FLASH_DICT_OFFSET 8192u
#define FLASH_DICT_SLOTS 2u
#define FLASH_DICT_MAGIC "TCDI"
#define FLASH_DICT_VERSION 1u
#define FLASH_DICT_HDR_LEN 512u         /* 128 B used; content starts here */
#define FLASH_DICT_HDR_CKSUM_OFF 120u
#define FLASH_DICT_MAX 65536u           /* content bytes */
#define FLASH_DICT_MIN 1024u            /* smallest dictionary worth training */
#define FLASH_DICT_SLOT_SIZE 69632u     /* 512 + 64 KiB, rounded up to 4096 */
#define FLASH_HEADER_AREA (FLASH_DICT_OFFSET + FLASH_DICT_SLOTS * FLASH_DICT_SLOT_SIZE)

/* Superblock (offset 0) and state record (offset FLASH_STATE_OFFSET). */
#define FLASH_SB_LEN 128u
#define FLASH_SB_CKSUM_OFF 120u
#define FLASH_FEATURE_DEVSET 0x2u       /* features: a member of a device set */
#define FLASH_MAX_MEMBERS 16u           /* devices in a set (devset.h DEVSET_MAX) */
#define FLASH_STATE_OFFSET 4096u
#define FLASH_STATE_MAGIC "TCFSTATE"
#define FLASH_STATE_MAGIC_LEN 8
#define FLASH_STATE_LEN 128u
#define FLASH_STATE_CLEAN 1u
#define FLASH_STATE_RUNNING 2u
#define FLASH_STATE_NO_SNAPSHOT 0xffffffffu
#define FLASH_STATE_JOURNALED 0x1u  /* flags: the checkpoint's journal has kills */

/* Segment header (unit 0 of a segment). */
#define FLASH_SEG_MAGIC "TCSG"
#define FLASH_SEGHDR_LEN 128u
#define FLASH_SEGHDR_CKSUM_OFF 120u
#define FLASH_SEG_FIRST_BLOCK 1u        /* first block unit */

/* Block header. */
#define FLASH_BLK_MAGIC "TCBK"
#define FLASH_BLK_HDR_LEN 40u
#define FLASH_BLK_HDR_CKSUM_OFF 32u
#define FLASH_CODEC_RAW 0u
#define FLASH_CODEC_ZSTD 1u
#define FLASH_CODEC_ZSTD_DICT 2u
#define FLASH_BLK_MAX_RAW FLASH_MAX_SEGMENT_SIZE

/* Record. */
#define FLASH_REC_HDR_LEN 25u
#define FLASH_REC_VLEN_MASK 0xffffffu  /* offset 5: low 24 bits = value length */
#define FLASH_REC_MARKS_OFF 8u          /* offset 8: meta marks byte */
#define FLASH_REC_FETCHED 0x08u         /* marks bit 3: read while in RAM */
#define FLASH_REC_MARKS_MASK 0x0fu      /* STALE | TOKEN | BINKEY | FETCHED */
#define FLASH_KEY_MAX 250u

/* Summary entry. */
#define FLASH_SUM_ENTRY_LEN 12u
#define FLASH_SUM_ITEM 1u
#define FLASH_SUM_TOMBSTONE 2u

/* Round n up to a multiple of the power of two a. */
static inline uint64_t fl_round_up(uint64_t n, uint64_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Little-endian field access on byte buffers (no alignment required). */
static inline void fl_put_u8(uint8_t *p, uint8_t v) { p[0] = v; }
static inline void fl_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void fl_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void fl_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint8_t fl_get_u8(const uint8_t *p) { return p[0]; }
static inline uint16_t fl_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t fl_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t fl_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#endif /* TIERCACHE_FLASH_FORMAT_H */
