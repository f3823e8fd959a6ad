/*
 * flood.c: a SYN flood or a random-source flood, generated in memory and fed to one pipeline
 * with every built-in plugin that starts (nDPI's dpi first), to show that memory stays bounded
 * under attack: the flow table fills to max_flows and then evicts, one counted eviction per
 * new flow, and the process's resident memory stops growing.
 *
 * usage: flood [--kind syn|random] [--packets N,N,...] [--max-flows N] [--tolerance PCT]
 *              [--no-rss]
 * At each packet count of --packets (ascending) it prints the packets, active flows, flows
 * created and evicted, records and VmRSS. It fails (exit 1) when the table is not full at a
 * checkpoint, when evictions do not match (created - max_flows), when records do not match
 * the ended flows, or when the last checkpoint's RSS exceeds the first's by more than
 * --tolerance percent (default 5; --no-rss skips that check, for sanitizer builds whose
 * allocator quarantine holds freed memory). Packets are Ethernet/IPv4 (random: a quarter IPv6)
 * frames, one microsecond apart, so no timeout ends a flow: only eviction does.
 *   syn     TCP SYNs from random sources and ports to 192.0.2.1:80
 *   random  random sources and destinations, TCP/UDP/ICMP, random ports and flags
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>


#include "frame_bytes.h"
#include "pipeline.h"
#include "plugin_set.h"

#define BATCH     256
#define FRAME_LEN 74 /* Ethernet + IPv6 + TCP without options, the largest frame made */

static uint64_t rng = 0x9E3779B97F4A7C15ull, records;

static uint64_t
rnd(void)
{
    return xorshift64(&rng);
}

/* Writes the L4 header at l4; returns its length. */
static size_t
l4_header(uint8_t *l4, uint8_t proto, bool syn)
{
    uint64_t r = rnd();

    memset(l4, 0, 20);
    if (proto == 1 || proto == 58) {
        l4[0] = proto == 1 ? 8 : 128;
        put16(l4 + 4, (uint16_t)r);
        return 8;
    }
    put16(l4, (uint16_t)(1024 + r % 64000));
    put16(l4 + 2, syn ? 80 : (uint16_t)(r >> 16));
    if (proto == 17) {
        put16(l4 + 4, 8);
        return 8;
    }
    put32(l4 + 4, (uint32_t)(r >> 32));
    l4[12] = 0x50;
    l4[13] = syn ? 0x02 : (uint8_t)(r >> 40);
    put16(l4 + 14, 65535);
    return 20;
}

/* One flood frame into f; returns its length. */
static size_t
make_frame(uint8_t *f, bool syn)
{
    uint64_t r = rnd();
    uint8_t proto = syn ? 6 : (uint8_t[]){6, 17, 1, 6}[r & 3];
    bool v6 = !syn && (r >> 2) % 4 == 0;
    size_t ip_len, l4_len;

    memset(f, 0, 14);
    f[0] = 2, f[5] = 1, f[6] = 2, f[11] = 2;
    put16(f + 12, v6 ? 0x86dd : 0x0800);
    if (v6) {
        proto = proto == 1 ? 58 : proto;
        l4_len = l4_header(f + 54, proto, false);
        memset(f + 14, 0, 40);
        f[14] = 0x60, put16(f + 18, (uint16_t)l4_len), f[20] = proto, f[21] = 64;
        put32(f + 22, 0x20010db8), put32(f + 30, (uint32_t)rnd()), put32(f + 34, (uint32_t)rnd());
        put32(f + 38, 0x20010db8), put32(f + 46, (uint32_t)rnd()), put32(f + 50, (uint32_t)rnd());
        ip_len = 40;
    } else {
        l4_len = l4_header(f + 34, proto, syn);
        f[14] = 0x45, f[15] = 0, put16(f + 16, (uint16_t)(20 + l4_len)), put32(f + 18, 0);
        f[22] = 64, f[23] = proto, put16(f + 24, 0);
        put32(f + 26, (uint32_t)(r >> 32));                       /* random source */
        put32(f + 30, syn ? 0xC0000201u : (uint32_t)rnd());       /* 192.0.2.1 or random */
        ip_len = 20;
    }
    return 14 + ip_len + l4_len;
}

static void
count(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    (void)ctx, (void)rec, (void)groups;
    records++;
}

static long
rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *fp = fopen("/proc/self/status", "r");

    while (fp && fgets(line, sizeof(line), fp))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (fp)
        fclose(fp);
    return kib;
}

/* Every built-in plugin that starts with its defaults (a required option leaves it out). */
static struct nfs_plugin_set *
plugins(const struct nfs_pipeline_options *base)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();

    for (size_t i = 0; set && nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        struct nfs_plugin_set *one = nfs_plugin_set_create();
        struct nfs_pipeline_options o = *base;
        struct nfs_pipeline *pl = NULL;
        void *conf = calloc(1, p->conf_size + 1);
        struct nfs_error err;

        if (conf && one && nfs_plugin_conf_defaults(p, conf, &err) &&
            nfs_plugin_set_add(one, p, conf, &err)) {
            o.plugins = one;
            pl = nfs_pipeline_create(&o, count, NULL, &err);
        }
        if (pl != NULL && nfs_plugin_set_add(set, p, conf, &err))
            printf("plugin %s\n", p->name);
        else
            printf("plugin %s left out: %s\n", p->name, err.msg);
        nfs_pipeline_destroy(pl);
        nfs_plugin_set_destroy(one);
        free(conf);
    }
    return set;
}

static uint64_t
ended(const struct nfs_counters *c)
{
    return c->v[NFS_C_FLOWS_IDLE] + c->v[NFS_C_FLOWS_ACTIVE] + c->v[NFS_C_FLOWS_TCP_END] +
           c->v[NFS_C_FLOWS_EVICTED] + c->v[NFS_C_FLOWS_FLUSHED] + c->v[NFS_C_FLOWS_PLUGIN];
}

int
main(int argc, char **argv)
{
    uint64_t checkpoints[16], done = 0, ts_us = 1700000000ull * 1000000;
    size_t n_checkpoints = 0;
    long first_rss = -1, last_rss = -1;
    double tolerance = 5;
    bool syn = true, check_rss = true;
    struct nfs_pipeline_options opt;
    struct nfs_plugin_set *set;
    struct nfs_pipeline *p;
    struct nfs_error err;
    static uint8_t buf[BATCH][FRAME_LEN];
    struct nfs_frame frames[BATCH];
    int failures = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows as it comes, also in meson's log */
    nfs_pipeline_options_default(&opt, false);
    opt.flows.max_flows = 100000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc) {
            syn = strcmp(argv[++i], "syn") == 0;
        } else if (strcmp(argv[i], "--packets") == 0 && i + 1 < argc) {
            for (char *s = argv[++i]; *s && n_checkpoints < 16; s += *s == ',')
                checkpoints[n_checkpoints++] = strtoull(s, &s, 10);
        } else if (strcmp(argv[i], "--max-flows") == 0 && i + 1 < argc) {
            opt.flows.max_flows = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--tolerance") == 0 && i + 1 < argc) {
            tolerance = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--no-rss") == 0) {
            check_rss = false;
        } else {
            fprintf(stderr, "usage: flood [--kind syn|random] [--packets N,N,...] "
                            "[--max-flows N] [--tolerance PCT] [--no-rss]\n");
            return 64;
        }
    }
    if (n_checkpoints == 0)
        checkpoints[n_checkpoints++] = 1000000;
    set = plugins(&opt);
    opt.plugins = set;
    p = nfs_pipeline_create(&opt, count, NULL, &err);
    if (p == NULL) {
        fprintf(stderr, "flood: %s\n", err.msg);
        return 1;
    }
    printf("%s flood, max_flows %u\n", syn ? "SYN" : "random-source", opt.flows.max_flows);
    printf("%12s %9s %12s %12s %12s %10s\n", "packets", "active", "created", "evicted",
           "records", "rss_kib");
    for (size_t c = 0; c < n_checkpoints; c++) {
        const struct nfs_counters *k = nfs_pipeline_counters(p);
        uint32_t active;
        long rss;

        while (done < checkpoints[c]) {
            size_t n = checkpoints[c] - done < BATCH ? (size_t)(checkpoints[c] - done) : BATCH;

            for (size_t i = 0; i < n; i++) {
                size_t len = make_frame(buf[i], syn);

                frames[i] = (struct nfs_frame){1, ts_us++, (uint32_t)len, (uint32_t)len, buf[i]};
            }
            nfs_pipeline_frames(p, frames, n);
            done += n;
        }
        active = nfs_pipeline_active_flows(p);
        rss = rss_kib();
        printf("%12" PRIu64 " %9u %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10ld\n", done,
               active, k->v[NFS_C_FLOWS_CREATED], k->v[NFS_C_FLOWS_EVICTED], records, rss);
        if (done >= opt.flows.max_flows * 2ull && active != opt.flows.max_flows) {
            printf("FAIL: the table holds %u flows, not max_flows\n", active);
            failures++;
        }
        if (k->v[NFS_C_FLOWS_CREATED] > opt.flows.max_flows &&
            k->v[NFS_C_FLOWS_EVICTED] + k->v[NFS_C_FLOWS_TCP_END] + k->v[NFS_C_FLOWS_PLUGIN] !=
                k->v[NFS_C_FLOWS_CREATED] - opt.flows.max_flows) {
            printf("FAIL: %" PRIu64 " evictions for %" PRIu64 " flows created\n",
                   k->v[NFS_C_FLOWS_EVICTED], k->v[NFS_C_FLOWS_CREATED]);
            failures++;
        }
        if (records != ended(k)) {
            printf("FAIL: %" PRIu64 " records for %" PRIu64 " ended flows\n", records, ended(k));
            failures++;
        }
        if (first_rss < 0)
            first_rss = rss;
        last_rss = rss;
    }
    if (n_checkpoints > 1) {
        double growth = 100.0 * (double)(last_rss - first_rss) / (double)first_rss;

        printf("rss %ld KiB at %" PRIu64 " packets, %ld KiB at %" PRIu64 ": %+.2f%% (limit %s%.1f%%)\n",
               first_rss, checkpoints[0], last_rss, done, growth, check_rss ? "" : "not checked, ",
               tolerance);
        if (check_rss && growth > tolerance) {
            printf("FAIL: resident memory grew by more than %.1f%%\n", tolerance);
            failures++;
        }
    }
    nfs_pipeline_flush(p);
    if (nfs_pipeline_active_flows(p) != 0 || records != ended(nfs_pipeline_counters(p))) {
        printf("FAIL: flows left after the flush, or records missing\n");
        failures++;
    }
    nfs_pipeline_destroy(p);
    nfs_plugin_set_destroy(set);
    printf("%.1f s of CPU, %s\n", (double)clock() / CLOCKS_PER_SEC, failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
