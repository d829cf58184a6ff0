/* trace.h - a cache trace in the Twitter cache-trace CSV format, loaded
 * whole into memory for --trace.
 *
 * One request per line, seven comma-separated fields:
 *
 *   timestamp,anonymized key,key size,value size,client id,operation,TTL
 *   0,q:q:1:8WTfjZU,24,314,12,get,0
 *
 * timestamp: whole seconds (a decimal >= 0); key: non-empty; key size,
 * value size, client id, TTL: decimals; operation: get, gets, set, add,
 * replace, cas, append, prepend, delete, incr, decr. Lines end with \n or
 * \r\n; the last may lack one.
 *
 * Keys: the anonymized key padded with '.' or truncated to the recorded
 * key size (0: the anonymized key's own length), then cut to 250 bytes;
 * bytes that memcached refuses in a key (space, control, DEL) become '_'.
 * Equal resulting keys are one key. Key i is the i-th distinct key in
 * order of first appearance, so a file always gives the same numbering.
 * Value sizes above VALUE_MAX_SIZE are refused; TTLs above 30 days
 * (2592000 s, where memcached starts reading an absolute time) are cut
 * to 30 days.
 *
 * Keys touched by append / prepend / incr / decr are flagged: their
 * values are not the generated value of their size (TK_MODIFIED), and
 * incr / decr keys hold decimal numbers (TK_COUNTER).
 */
#ifndef TCB_TRACE_H
#define TCB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_MAX_LINE 4096u
#define TRACE_MAX_TTL 2592000u

enum trace_opkind {
    TOP_GET, TOP_GETS, TOP_SET, TOP_ADD, TOP_REPLACE, TOP_CAS,
    TOP_APPEND, TOP_PREPEND, TOP_DELETE, TOP_INCR, TOP_DECR,
    TOP_NKINDS,
};

enum trace_keyflag {
    TK_MODIFIED = 1,    /* appended, prepended, incremented: not verifiable */
    TK_COUNTER = 2,     /* incr / decr: values are decimal numbers */
};

struct trace_op {
    uint64_t ts;        /* seconds */
    uint32_t key;
    uint32_t vsize;
    uint32_t ttl;
    uint8_t op;         /* enum trace_opkind */
};

struct trace {
    struct trace_op *ops;
    uint64_t nops;
    uint64_t kind_count[TOP_NKINDS];
    uint64_t ts_min, ts_max;
    /* keys: names + off[i], len[i] bytes; flags[i] enum trace_keyflag */
    char *names;
    uint64_t names_len;
    uint64_t *off;
    uint8_t *len;
    uint8_t *flags;
    uint64_t nkeys;
    uint32_t *index;    /* open addressing on keyspace_hash: key + 1 */
    uint64_t index_mask;
    /* trace_partition(): ops of owner g are order[first[g] .. first[g+1]) */
    uint32_t *order;
    uint64_t *first;
};

enum trace_status {
    TRACE_OK,
    TRACE_EIO,          /* cannot open or read the file */
    TRACE_ESYNTAX,      /* a bad line (the message names it) */
    TRACE_ENOMEM,
    TRACE_EEMPTY,       /* no request in the file */
    TRACE_ETOOBIG,      /* more than 2^32 - 1 requests or keys */
};

/* Loads path into t (zeroed first). On failure returns the status,
 * writes "path:line: what is wrong" (or "path: ...") to err and leaves t
 * empty (trace_free is still safe). */
enum trace_status trace_load(struct trace *t, const char *path, char *err,
                             size_t errlen);

/* Groups the requests by owner (key % nowners, nowners >= 1), keeping
 * their order within an owner. Returns false on allocation failure. */
bool trace_partition(struct trace *t, unsigned nowners);

/* Frees everything t holds and zeroes it. */
void trace_free(struct trace *t);

/* Name of an operation ("get", ...). */
const char *trace_op_name(enum trace_opkind op);

/* Message for a status. */
const char *trace_strerror(enum trace_status st);

#endif
