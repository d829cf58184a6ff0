/* report.c - merged results, text table and JSON (see report.h). */
#include "report.h"

#include <errno.h>
#include <string.h>

static const char *const kind_names[RK_NKINDS] = { "get", "set", "mget", "del", "incr" };

void results_add(struct results *r, const struct window *win,
                 const struct counters *ctr)
{
    for (unsigned k = 0; k < RK_NKINDS; k++) {
        r->win.ops[k] += win->ops[k];
        hist_merge(&r->win.h[k], &win->h[k]);
        hist_merge(&r->all, &win->h[k]);
    }
    r->win.get_keys += win->get_keys;
    r->win.get_hits += win->get_hits;
    r->win.get_bytes += win->get_bytes;
    r->win.miss_bytes += win->miss_bytes;
    r->win.bytes_sent += win->bytes_sent;
    r->win.bytes_recv += win->bytes_recv;
#define X(name) r->tot.name += ctr_get(ctr->name);
    COUNTERS(X)
#undef X
    for (unsigned i = 0; i < BIN_STATUS_SLOTS; i++)
        r->tot.status[i] += ctr_get(ctr->status[i]);
}

static uint64_t window_ops(const struct results *r)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < RK_NKINDS; k++)
        n += r->win.ops[k];
    return n;
}

static uint64_t verify_failures(const struct results *r)
{
    return r->tot.verify_wrong + r->tot.verify_stale + r->tot.verify_key;
}

static uint64_t errors_total(const struct results *r)
{
    return r->tot.err_server + r->tot.err_client + r->tot.err_error +
           r->tot.not_stored + r->tot.err_status + r->tot.bad_reply +
           r->tot.conn_errors;
}

int results_exit_code(const struct bench *b, const struct results *r)
{
    if (b->opt.verify && (verify_failures(r) > 0 || r->tot.bad_reply > 0))
        return 1;
    if (r->tot.ops == 0 && r->tot.loaded == 0)
        return 3;
    return 0;
}

bool results_window_empty(const struct bench *b, const struct results *r)
{
    return r->run_ran && !b->trace && !r->interrupted && window_ops(r) == 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void table_row(FILE *f, const char *name, uint64_t ops, double secs,
                      const struct hist *h)
{
    fprintf(f, "  %-5s %12llu %12.0f %9.1f %9.1f %9.1f %9.1f %10.1f %9.1f\n",
            name, (unsigned long long)ops, secs > 0 ? (double)ops / secs : 0.0,
            us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
            us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
            us(h->count ? h->max : 0), hist_mean(h) / 1000.0);
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

/* --trace: what the file holds. */
static void describe_trace(FILE *f, const struct bench *b)
{
    const struct trace *t = b->trace;
    fprintf(f, "  trace %s: %llu requests, %llu keys, %llu s recorded, replayed at %s pace, "
               "%s values\n   ",
            b->opt.trace, (unsigned long long)t->nops, (unsigned long long)t->nkeys,
            (unsigned long long)(t->ts_max - t->ts_min),
            b->trace_recorded ? "the recorded" : "full",
            b->trace_json ? "json" : "random");
    for (unsigned k = 0; k < TOP_NKINDS; k++)
        if (t->kind_count[k])
            fprintf(f, " %s %llu", trace_op_name(k), (unsigned long long)t->kind_count[k]);
    fprintf(f, "\n");
}

static void describe(FILE *f, const struct bench *b)
{
    const struct bench_options *o = &b->opt;
    if (b->trace) {
        fprintf(f, "tiercache-bench: %s protocol, server %s, %llu thread(s), %llu conn(s), "
                   "depth %llu%s\n",
                b->proto->name, o->server, (unsigned long long)o->threads,
                (unsigned long long)o->conns, (unsigned long long)o->depth,
                o->verify ? "; verify on" : "");
        describe_trace(f, b);
        return;
    }
    fprintf(f, "tiercache-bench: %s protocol, server %s, %llu thread(s), %llu conn(s), ",
            b->proto->name, o->server, (unsigned long long)o->threads,
            (unsigned long long)o->conns);
    if (o->rate > 0)
        fprintf(f, "open loop at %.0f req/s (max %llu in flight per conn)\n",
                o->rate, (unsigned long long)o->max_inflight);
    else
        fprintf(f, "closed loop, depth %llu\n", (unsigned long long)o->depth);
    fprintf(f, "  keys %llu x %u B (prefix \"%s\"), %s keys",
            (unsigned long long)b->ks.nkeys, b->ks.key_size, b->ks.prefix,
            b->zipf_on ? "zipf" : "uniform");
    if (b->zipf_on)
        fprintf(f, " theta %.3f", o->zipf);
    fprintf(f, "; values %s %u-%u B (dataset ~%.1f MiB)\n", vdist_name(b->vdist),
            b->vmin, b->vmax,
            (double)b->ks.nkeys * (valgen_mean_len(b->vg) + b->ks.key_size) /
                (1024.0 * 1024.0));
    fprintf(f, "  mix: reads %.3f (multi-get of %llu keys for %.3f of them), sets %.3f, "
               "deletes %.3f%s\n",
            o->get_ratio, (unsigned long long)o->mget,
            o->mget ? o->mget_ratio : 0.0, (1.0 - o->get_ratio) * (1.0 - o->del_ratio),
            (1.0 - o->get_ratio) * o->del_ratio,
            o->verify ? "; verify on" : "");
    if (o->cache_aside)
        fprintf(f, "  cache-aside: a get miss is followed by a set of the key's value\n");
    if (o->ttl)
        fprintf(f, "  sets with exptime %llu s\n", (unsigned long long)o->ttl);
}

void report_table(FILE *f, const struct bench *b, const struct results *r)
{
    describe(f, b);
    if (r->load_ran)
        fprintf(f, "load: %llu of %llu keys stored in %.2f s = %.0f keys/s%s\n",
                (unsigned long long)r->tot.loaded,
                (unsigned long long)r->load_keys, r->load_secs,
                r->load_secs > 0 ? (double)r->tot.loaded / r->load_secs : 0.0,
                r->load_complete ? "" : " (INCOMPLETE)");
    if (b->trace)
        fprintf(f, "run: %.2f s, the whole replay measured%s\n", r->duration,
                r->interrupted ? " (INTERRUPTED)" : "");
    else
        fprintf(f, "run: %.2f s measured after %.2f s warm-up%s\n", r->duration,
                b->opt.warmup, r->interrupted ? " (INTERRUPTED)" : "");
    fprintf(f, "  %-5s %12s %12s %9s %9s %9s %9s %10s %9s\n", "op", "count",
            "ops/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "mean us");
    for (unsigned k = 0; k < RK_NKINDS; k++)
        if (r->win.ops[k])
            table_row(f, kind_names[k], r->win.ops[k], r->duration, &r->win.h[k]);
    table_row(f, "all", window_ops(r), r->duration, &r->all);
    fprintf(f, "  get hit ratio: %.4f (%llu of %llu keys)\n",
            r->win.get_keys ? (double)r->win.get_hits / (double)r->win.get_keys : 0.0,
            (unsigned long long)r->win.get_hits, (unsigned long long)r->win.get_keys);
    if (b->track_misses)
        fprintf(f, "  miss ratio: %.4f (%llu of %llu keys); byte miss ratio: %.4f "
                   "(%llu of %llu bytes); fills %llu, not applied %llu (whole run)\n",
                ratio(r->win.get_keys - r->win.get_hits, r->win.get_keys),
                (unsigned long long)(r->win.get_keys - r->win.get_hits),
                (unsigned long long)r->win.get_keys,
                ratio(r->win.miss_bytes, r->win.get_bytes),
                (unsigned long long)r->win.miss_bytes, (unsigned long long)r->win.get_bytes,
                (unsigned long long)r->tot.fills, (unsigned long long)r->tot.not_applied);
    fprintf(f, "  longest stretch of a thread without a completed request: %.1f ms\n",
            r->longest_gap * 1e3);
    fprintf(f, "  bytes: sent %llu (%.1f MiB/s), received %llu (%.1f MiB/s)\n",
            (unsigned long long)r->win.bytes_sent,
            r->duration > 0 ? (double)r->win.bytes_sent / r->duration / 1048576.0 : 0.0,
            (unsigned long long)r->win.bytes_recv,
            r->duration > 0 ? (double)r->win.bytes_recv / r->duration / 1048576.0 : 0.0);
    fprintf(f, "errors (whole run): %llu: server %llu, client %llu, ERROR %llu, "
               "not stored %llu, error status %llu, bad reply %llu, connection %llu "
               "(requests lost %llu)\n",
            (unsigned long long)errors_total(r),
            (unsigned long long)r->tot.err_server, (unsigned long long)r->tot.err_client,
            (unsigned long long)r->tot.err_error, (unsigned long long)r->tot.not_stored,
            (unsigned long long)r->tot.err_status,
            (unsigned long long)r->tot.bad_reply, (unsigned long long)r->tot.conn_errors,
            (unsigned long long)r->tot.lost);
    for (unsigned i = 0; i < BIN_STATUS_SLOTS; i++)
        if (r->tot.status[i])
            fprintf(f, "  status 0x%04x%s (%s): %llu\n", i,
                    i == BIN_STATUS_SLOTS - 1 ? " or above" : "",
                    proto_bin_status_name((uint16_t)i),
                    (unsigned long long)r->tot.status[i]);
    if (b->opt.verify)
        fprintf(f, "verify (whole run): %llu values checked (%llu values of trace keys "
                   "that append / incr modify not checked), %llu failures: "
                   "wrong value %llu, wrong version %llu, wrong key %llu -> %s\n",
                (unsigned long long)r->tot.verify_checked,
                (unsigned long long)r->tot.verify_skipped,
                (unsigned long long)verify_failures(r),
                (unsigned long long)r->tot.verify_wrong,
                (unsigned long long)r->tot.verify_stale,
                (unsigned long long)r->tot.verify_key,
                verify_failures(r) || r->tot.bad_reply ? "FAIL" : "ok");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_lat(FILE *f, const struct hist *h, uint64_t ops, double secs)
{
    fprintf(f, "{\"count\": %llu, \"ops_per_sec\": %.1f, \"p50\": %.3f, "
               "\"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f, "
               "\"mean\": %.3f}",
            (unsigned long long)ops, secs > 0 ? (double)ops / secs : 0.0,
            us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
            us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
            us(h->count ? h->max : 0), hist_mean(h) / 1000.0);
}

bool report_json(const char *path, const struct bench *b,
                 const struct results *r)
{
    const struct bench_options *o = &b->opt;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "tiercache-bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    fprintf(f, "{\n  \"config\": {\"server\": ");
    json_str(f, o->server);
    fprintf(f, ", \"protocol\": ");
    json_str(f, b->proto->name);
    fprintf(f, ", \"threads\": %llu, \"conns\": %llu, \"depth\": %llu, "
               "\"rate\": %.1f, \"max_inflight\": %llu, \"duration\": %.3f, "
               "\"warmup\": %.3f, \"keys\": %llu, \"key_size\": %u, \"key_prefix\": ",
            (unsigned long long)o->threads, (unsigned long long)o->conns,
            (unsigned long long)o->depth, o->rate,
            (unsigned long long)o->max_inflight, o->duration, o->warmup,
            (unsigned long long)b->ks.nkeys, b->ks.key_size);
    json_str(f, b->ks.prefix);
    fprintf(f, ", \"value_dist\": \"%s\", \"value_min\": %u, \"value_max\": %u, "
               "\"get_ratio\": %.4f, \"mget\": %llu, \"mget_ratio\": %.4f, "
               "\"zipf\": %.4f, \"load\": %s, \"verify\": %s, \"seed\": %llu},\n",
            vdist_name(b->vdist), b->vmin, b->vmax, o->get_ratio,
            (unsigned long long)o->mget, o->mget_ratio, b->zipf_on ? o->zipf : 0.0,
            o->load ? "true" : "false", o->verify ? "true" : "false",
            (unsigned long long)o->seed);
    fprintf(f, "  \"workload\": {\"cache_aside\": %s, \"ttl\": %llu, \"trace\": ",
            b->track_misses ? "true" : "false", (unsigned long long)o->ttl);
    if (b->trace) {
        json_str(f, o->trace);
        fprintf(f, ", \"trace_speed\": \"%s\", \"trace_values\": \"%s\", "
                   "\"trace_requests\": %llu, \"trace_keys\": %llu",
                b->trace_recorded ? "recorded" : "max", b->trace_json ? "json" : "random",
                (unsigned long long)b->trace->nops, (unsigned long long)b->trace->nkeys);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, "},\n");
    fprintf(f, "  \"load\": {\"ran\": %s, \"complete\": %s, \"keys\": %llu, "
               "\"stored\": %llu, \"failed\": %llu, \"seconds\": %.3f, \"keys_per_sec\": %.1f},\n",
            r->load_ran ? "true" : "false", r->load_complete ? "true" : "false",
            (unsigned long long)r->load_keys, (unsigned long long)r->tot.loaded,
            (unsigned long long)r->tot.load_failed, r->load_secs,
            r->load_secs > 0 ? (double)r->tot.loaded / r->load_secs : 0.0);
    uint64_t ops = window_ops(r);
    fprintf(f, "  \"results\": {\"duration\": %.3f, \"interrupted\": %s, \"ops\": %llu, "
               "\"ops_per_sec\": %.1f, \"get_keys\": %llu, \"get_hits\": %llu, "
               "\"hit_ratio\": %.6f, \"bytes_sent\": %llu, \"bytes_received\": %llu, "
               "\"longest_gap_ms\": %.3f,\n",
            r->duration, r->interrupted ? "true" : "false", (unsigned long long)ops,
            r->duration > 0 ? (double)ops / r->duration : 0.0,
            (unsigned long long)r->win.get_keys, (unsigned long long)r->win.get_hits,
            r->win.get_keys ? (double)r->win.get_hits / (double)r->win.get_keys : 0.0,
            (unsigned long long)r->win.bytes_sent, (unsigned long long)r->win.bytes_recv,
            r->longest_gap * 1e3);
    fprintf(f, "    \"miss_ratio\": %.6f, \"byte_miss_ratio\": %.6f, \"get_bytes\": %llu, "
               "\"miss_bytes\": %llu, \"fills\": %llu, \"fill_dropped\": %llu, "
               "\"not_applied\": %llu,\n",
            ratio(r->win.get_keys - r->win.get_hits, r->win.get_keys),
            ratio(r->win.miss_bytes, r->win.get_bytes),
            (unsigned long long)r->win.get_bytes, (unsigned long long)r->win.miss_bytes,
            (unsigned long long)r->tot.fills, (unsigned long long)r->tot.fill_dropped,
            (unsigned long long)r->tot.not_applied);
    fprintf(f, "    \"latency_us\": {\"all\": ");
    json_lat(f, &r->all, ops, r->duration);
    for (unsigned k = 0; k < RK_NKINDS; k++) {
        fprintf(f, ", \"%s\": ", kind_names[k]);
        json_lat(f, &r->win.h[k], r->win.ops[k], r->duration);
    }
    fprintf(f, "}},\n");
    fprintf(f, "  \"errors\": {\"total\": %llu, \"server_error\": %llu, \"client_error\": %llu, "
               "\"error\": %llu, \"not_stored\": %llu, \"error_status\": %llu, "
               "\"bad_reply\": %llu, \"connection\": %llu, \"lost_requests\": %llu, "
               "\"status\": {",
            (unsigned long long)errors_total(r), (unsigned long long)r->tot.err_server,
            (unsigned long long)r->tot.err_client, (unsigned long long)r->tot.err_error,
            (unsigned long long)r->tot.not_stored, (unsigned long long)r->tot.err_status,
            (unsigned long long)r->tot.bad_reply,
            (unsigned long long)r->tot.conn_errors, (unsigned long long)r->tot.lost);
    const char *sep = "";
    for (unsigned i = 0; i < BIN_STATUS_SLOTS; i++)
        if (r->tot.status[i]) {
            fprintf(f, "%s\"0x%04x\": %llu", sep, i, (unsigned long long)r->tot.status[i]);
            sep = ", ";
        }
    fprintf(f, "}},\n");
    fprintf(f, "  \"verify\": {\"enabled\": %s, \"checked\": %llu, \"failures\": %llu, "
               "\"wrong_value\": %llu, \"wrong_version\": %llu, \"wrong_key\": %llu, "
               "\"skipped\": %llu},\n",
            o->verify ? "true" : "false", (unsigned long long)r->tot.verify_checked,
            (unsigned long long)verify_failures(r),
            (unsigned long long)r->tot.verify_wrong, (unsigned long long)r->tot.verify_stale,
            (unsigned long long)r->tot.verify_key, (unsigned long long)r->tot.verify_skipped);
    fprintf(f, "  \"exit_code\": %d\n}\n", results_exit_code(b, r));
    bool ok = !ferror(f);
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "tiercache-bench: error writing %s\n", path);
    return ok;
}
