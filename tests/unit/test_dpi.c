/*
 * test_dpi.c: lib/dpi.c (nDPI behind nfs_dpi_*) and the dpi plugin that drives it: detection,
 * give-up with guessing, NFStream's packet budget, nDPI state freed as soon as detection is
 * complete, values in the record, and nothing leaked however a flow ends (the ASan build runs
 * these cases with LeakSanitizer).
 *
 * Packets are built inline: Ethernet + IPv4 + UDP carrying a DNS query and its answer, or bytes
 * no dissector claims.
 */
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "dpi.h"
#include "flow_key.h"
#include "flow_table.h"
#include "pipeline.h"
#include "plugin.h"
#include "plugin_set.h"

extern const struct nfs_plugin nfs_plugin_dpi;

/* ---- frames ---- */

struct frame {
    uint8_t b[256];
    size_t len;
};

static size_t
put16(uint8_t *p, size_t off, uint16_t v)
{
    p[off] = (uint8_t)(v >> 8);
    p[off + 1] = (uint8_t)v;
    return off + 2;
}

/* Ethernet + IPv4 + UDP from 10.0.0.1:40000 to 10.0.0.53:dport (reply: the other way). */
static void
udp_frame(struct frame *f, uint16_t dport, bool reply, const uint8_t *payload, size_t n)
{
    uint8_t *p = f->b;
    uint16_t ip_len = (uint16_t)(20 + 8 + n);

    memset(f, 0, sizeof(*f));
    p[5] = reply ? 2 : 1, p[11] = reply ? 1 : 2;
    put16(p, 12, 0x0800);
    p[14] = 0x45;
    put16(p, 16, ip_len);
    p[22] = 64, p[23] = 17;
    p[26] = 10, p[29] = reply ? 53 : 1;
    p[30] = 10, p[33] = reply ? 1 : 53;
    put16(p, 34, reply ? dport : 40000);
    put16(p, 36, reply ? 40000 : dport);
    put16(p, 38, (uint16_t)(8 + n));
    memcpy(p + 42, payload, n);
    f->len = 42 + n;
}

/* A DNS query for example.com (A, IN); with answer, the response carrying 93.184.216.34. */
static size_t
dns_message(uint8_t *m, bool answer)
{
    static const uint8_t qname[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
    static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34};
    size_t off = 0;

    off = put16(m, off, 0x1234);
    off = put16(m, off, answer ? 0x8180 : 0x0100);
    off = put16(m, off, 1);
    off = put16(m, off, answer ? 1 : 0);
    off = put16(m, off, 0);
    off = put16(m, off, 0);
    memcpy(m + off, qname, sizeof(qname));
    off += sizeof(qname);
    off = put16(m, off, 1);
    off = put16(m, off, 1);
    if (answer) {
        memcpy(m + off, rr, sizeof(rr));
        off += sizeof(rr);
    }
    return off;
}

static void
dns_frame(struct frame *f, bool answer)
{
    uint8_t m[128];

    udp_frame(f, 53, answer, m, dns_message(m, answer));
}

/* Bytes no dissector recognises, to a port nothing is registered on. */
static void
noise_frame(struct frame *f, bool reply)
{
    uint8_t m[40];

    for (size_t i = 0; i < sizeof(m); i++)
        m[i] = (uint8_t)(i * 37 + 11);
    udp_frame(f, 47123, reply, m, sizeof(m));
}

static struct nfs_packet
decoded(const struct frame *f, uint64_t t_ms)
{
    struct nfs_decode_options opt = {.decode_tunnels = true, .extra_tunnels = true};
    struct nfs_packet pkt = {.ts_us = t_ms * 1000, .cap_len = (uint32_t)f->len,
                             .wire_len = (uint32_t)f->len};

    CHECK_EQ(nfs_decode(&pkt, DLT_EN10MB, f->b, &opt), NFS_C_PROCESSED);
    return pkt;
}

/* ---- lib/dpi.c ---- */

static void
test_module_detects_dns_and_collects(void)
{
    struct nfs_error err;
    struct nfs_dpi *d = nfs_dpi_create(&err);
    struct frame q, a;
    struct nfs_dpi_result res;
    char name[64];

    CHECK(d != NULL);
    dns_frame(&q, false);
    dns_frame(&a, true);
    struct nfs_packet pq = decoded(&q, 1000), pa = decoded(&a, 1001);
    struct nfs_dpi_flow *f = nfs_dpi_flow_create(d);
    CHECK_EQ(nfs_dpi_open_flows(d), 1);
    struct nfs_dpi_proto p = nfs_dpi_process(d, f, pq.ip, pq.ip_cap_len, 1000);
    CHECK_EQ(p.app, 5); /* NDPI_PROTOCOL_DNS */
    CHECK(nfs_dpi_extra_possible(d, f)); /* nDPI waits for the answer */
    p = nfs_dpi_process(d, f, pa.ip, pa.ip_cap_len, 1001);
    CHECK(!nfs_dpi_extra_possible(d, f));
    nfs_dpi_collect(d, f, p, &res);
    CHECK_STR(res.server_name, "example.com");
    CHECK_EQ(res.confidence, 6); /* DPI, in the later numbering */
    CHECK_STR(res.client_fp, "");
    CHECK_STR(nfs_dpi_app_name(d, p, name, sizeof(name)), "DNS");
    CHECK_STR(nfs_dpi_category_name(d, p.category), "Network");
    nfs_dpi_flow_destroy(d, f);
    CHECK_EQ(nfs_dpi_open_flows(d), 0);
    nfs_dpi_destroy(d);
}

static void
test_module_gives_up_and_frees_open_flows(void)
{
    struct nfs_error err;
    struct nfs_dpi *d = nfs_dpi_create(&err);
    struct frame n;
    bool guessed = true;
    char name[64];

    noise_frame(&n, false);
    struct nfs_packet pn = decoded(&n, 1000);
    struct nfs_dpi_flow *f = nfs_dpi_flow_create(d);
    struct nfs_dpi_proto p = nfs_dpi_process(d, f, pn.ip, pn.ip_cap_len, 1000);
    CHECK_EQ(p.app, 0);
    p = nfs_dpi_giveup(d, f, &guessed);
    CHECK_EQ(p.app, 0);
    CHECK(!guessed);
    CHECK_STR(nfs_dpi_app_name(d, p, name, sizeof(name)), "Unknown");
    nfs_dpi_flow_create(d); /* left open: destroying the module frees them */
    nfs_dpi_flow_create(d);
    CHECK_EQ(nfs_dpi_open_flows(d), 3);
    nfs_dpi_destroy(d);
}

/* ---- the plugin's hooks, driven directly ---- */

struct harness {
    void *ctx;
    struct nfs_flow flow;
    uint64_t state[4];
    uint8_t values[2048];
    struct nfs_flow_options opt;
};

/* The plugin's context begins with its module (plugins/dpi.c says so for this test). */
static size_t
open_flows(const struct harness *h)
{
    return nfs_dpi_open_flows(*(struct nfs_dpi *const *)h->ctx);
}

static void
harness_start(struct harness *h, const char *max_packets)
{
    uint64_t conf = 0;
    struct nfs_error err;
    struct nfs_plugin_env env = {.flows = &h->opt};

    memset(h, 0, sizeof(*h));
    nfs_flow_options_default(&h->opt);
    CHECK(nfs_plugin_dpi.flow_state_size <= sizeof(h->state));
    CHECK(nfs_plugin_dpi.values_size <= sizeof(h->values));
    CHECK(nfs_plugin_conf_defaults(&nfs_plugin_dpi, &conf, &err));
    CHECK_EQ(conf, 20);
    if (max_packets != NULL)
        CHECK(nfs_option_parse(&nfs_plugin_dpi.options[0], &conf, max_packets, &err));
    CHECK(nfs_plugin_dpi.setup(&h->ctx, &conf, &env, &err));
}

/* Counts the frame into the harness's flow and gives it to the plugin. */
static enum nfs_verdict
harness_packet(struct harness *h, const struct frame *f, uint64_t t_ms)
{
    struct nfs_packet pkt = decoded(f, t_ms);
    struct nfs_flow_key key;
    struct nfs_observation obs;
    unsigned side = nfs_flow_key_make(&key, &pkt);
    bool first = nfs_flow_is_empty(&h->flow);

    if (first)
        nfs_flow_init(&h->flow, &key, nfs_flow_key_hash(&key));
    nfs_flow_update(&h->flow, &pkt, side, &h->opt, &obs);
    if (first)
        return nfs_plugin_dpi.on_init(h->ctx, h->state, &h->flow, &obs);
    return nfs_plugin_dpi.on_update(h->ctx, h->state, &h->flow, &obs);
}

/* The record's value of the plugin field with this CSV column (or IPFIX name), as text. */
static const char *
value(const struct harness *h, const char *column)
{
    static char buf[512];

    for (size_t i = 0; i < nfs_plugin_dpi.n_fields; i++) {
        const struct nfs_field *f = &nfs_plugin_dpi.fields[i];

        if ((f->csv && strcmp(f->csv, column) == 0) || strcmp(f->name, column) == 0)
            return nfs_field_format(f, h->values, buf, sizeof(buf));
    }
    return "(no such field)";
}

static void
harness_expire(struct harness *h)
{
    memset(h->values, 0, sizeof(h->values));
    nfs_plugin_dpi.on_expire(h->ctx, h->state, &h->flow, h->values);
}

static void
test_plugin_frees_ndpi_state_when_detection_completes(void)
{
    struct harness h;
    struct frame q, a;

    harness_start(&h, NULL);
    dns_frame(&q, false);
    dns_frame(&a, true);
    CHECK_EQ(harness_packet(&h, &q, 1000), NFS_CONTINUE);
    CHECK_EQ(open_flows(&h), 1);
    CHECK_EQ(harness_packet(&h, &a, 1001), NFS_DONE); /* known, nothing more to dissect */
    CHECK_EQ(open_flows(&h), 0);                        /* long before the flow ends */
    harness_expire(&h);
    CHECK_STR(value(&h, "application_name"), "DNS");
    CHECK_STR(value(&h, "applicationName"), "DNS");
    CHECK_STR(value(&h, "application_category_name"), "Network");
    CHECK_STR(value(&h, "application_is_guessed"), "0");
    CHECK_STR(value(&h, "application_confidence"), "6");
    CHECK_STR(value(&h, "requested_server_name"), "example.com");
    CHECK_STR(value(&h, "dpiAppProtocolId"), "5");
    CHECK_STR(value(&h, "dpiMasterProtocolId"), "0");
    CHECK_STR(value(&h, "user_agent"), "");
    nfs_plugin_dpi.teardown(h.ctx);
}

static void
test_plugin_gives_up_at_max_packets(void)
{
    struct harness h;
    struct frame n, r;

    harness_start(&h, "3");
    noise_frame(&n, false);
    noise_frame(&r, true);
    CHECK_EQ(harness_packet(&h, &n, 1000), NFS_CONTINUE);
    CHECK_EQ(harness_packet(&h, &r, 1001), NFS_CONTINUE);
    CHECK_EQ(open_flows(&h), 1);
    CHECK_EQ(harness_packet(&h, &n, 1002), NFS_DONE); /* the third packet: give up */
    CHECK_EQ(open_flows(&h), 0);
    harness_expire(&h);
    CHECK_STR(value(&h, "application_name"), "Unknown");
    CHECK_STR(value(&h, "application_confidence"), "0");
    CHECK_STR(value(&h, "requested_server_name"), "");
    nfs_plugin_dpi.teardown(h.ctx);
}

static void
test_plugin_gives_up_at_expiry(void)
{
    struct harness h;
    struct frame n;

    harness_start(&h, NULL);
    noise_frame(&n, false);
    CHECK_EQ(harness_packet(&h, &n, 1000), NFS_CONTINUE);
    CHECK_EQ(open_flows(&h), 1);
    harness_expire(&h); /* still unknown and not complete: give-up, then collect */
    CHECK_EQ(open_flows(&h), 0);
    CHECK_STR(value(&h, "application_name"), "Unknown");
    nfs_plugin_dpi.teardown(h.ctx);
}

static void
test_max_packets_one_and_zero(void)
{
    struct harness h;
    struct frame q;

    dns_frame(&q, false);
    /* 1: the first packet is all nDPI gets; DNS is known from the query alone. */
    harness_start(&h, "1");
    CHECK_EQ(harness_packet(&h, &q, 1000), NFS_DONE);
    CHECK_EQ(open_flows(&h), 0);
    harness_expire(&h);
    CHECK_STR(value(&h, "application_name"), "DNS");
    CHECK_STR(value(&h, "requested_server_name"), "example.com");
    nfs_plugin_dpi.teardown(h.ctx);

    /* 0: no detection at all, no module; the values stay empty. */
    harness_start(&h, "0");
    CHECK(*(struct nfs_dpi **)h.ctx == NULL);
    CHECK_EQ(harness_packet(&h, &q, 1000), NFS_DONE);
    harness_expire(&h);
    CHECK_STR(value(&h, "application_name"), "");
    CHECK_STR(value(&h, "application_confidence"), "0");
    nfs_plugin_dpi.teardown(h.ctx);
}

static void
test_max_packets_bounds(void)
{
    uint64_t conf = 0;
    struct nfs_error err;

    CHECK(!nfs_option_parse(&nfs_plugin_dpi.options[0], &conf, "256", &err));
    CHECK(nfs_option_parse(&nfs_plugin_dpi.options[0], &conf, "255", &err));
    CHECK_EQ(conf, 255);
    CHECK_STR(nfs_plugin_dpi.options[0].name, "max_packets");
}

/* ---- through a pipeline: every way a flow ends reaches on_expire ---- */

static char got_app[8][64];
static int n_got;

static void
collect(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    (void)ctx;
    (void)rec;
    for (size_t i = 0; i < nfs_plugin_dpi.n_fields; i++) {
        const struct nfs_field *f = &nfs_plugin_dpi.fields[i];

        if (f->csv && strcmp(f->csv, "application_name") == 0 && n_got < 8)
            nfs_field_format(f, groups[1], got_app[n_got++], sizeof(got_app[0]));
    }
}

static struct nfs_pipeline *
dpi_pipeline(struct nfs_plugin_set **set, uint64_t active_timeout_ms, uint32_t max_flows)
{
    struct nfs_pipeline_options opt;
    struct nfs_error err;
    uint64_t conf = 20;

    *set = nfs_plugin_set_create();
    CHECK(nfs_plugin_set_add(*set, &nfs_plugin_dpi, &conf, &err));
    nfs_pipeline_options_default(&opt, false);
    opt.flows.active_timeout_ms = active_timeout_ms;
    opt.flows.max_flows = max_flows;
    opt.plugins = *set;
    n_got = 0;
    return nfs_pipeline_create(&opt, collect, NULL, &err);
}

static void
send(struct nfs_pipeline *p, const struct frame *f, uint64_t t_ms)
{
    nfs_pipeline_packet(p, DLT_EN10MB, t_ms * 1000, (uint32_t)f->len, (uint32_t)f->len, f->b);
}

static void
test_active_cut_and_eviction_end_detection(void)
{
    struct nfs_plugin_set *set;
    struct nfs_pipeline *p = dpi_pipeline(&set, 10000, 1);
    struct frame q, n;

    dns_frame(&q, false);
    noise_frame(&n, false);
    send(p, &q, 1000);   /* DNS flow, nDPI still waiting for the answer */
    send(p, &q, 12000);  /* active cut: the flow ends, its continuation starts afresh */
    send(p, &n, 12001);  /* table of one: evicts the DNS continuation mid-detection */
    nfs_pipeline_flush(p);
    CHECK_EQ(n_got, 3);
    CHECK_STR(got_app[0], "DNS");
    CHECK_STR(got_app[1], "DNS");
    CHECK_STR(got_app[2], "Unknown");
    nfs_pipeline_destroy(p);
    nfs_plugin_set_destroy(set);
}

static void
test_pipeline_destroyed_without_flush_leaks_nothing(void)
{
    struct nfs_plugin_set *set;
    struct nfs_pipeline *p = dpi_pipeline(&set, 1800000, 100);
    struct frame q, a, n;

    dns_frame(&q, false);
    dns_frame(&a, true);
    noise_frame(&n, false);
    send(p, &q, 1000);
    send(p, &a, 1001); /* complete: its strings wait for export */
    send(p, &n, 1002); /* still detecting: nDPI's state is held */
    nfs_pipeline_destroy(p); /* teardown frees both; LeakSanitizer checks */
    CHECK_EQ(n_got, 0);
    nfs_plugin_set_destroy(set);
}

int
main(void)
{
    RUN(test_module_detects_dns_and_collects);
    RUN(test_module_gives_up_and_frees_open_flows);
    RUN(test_plugin_frees_ndpi_state_when_detection_completes);
    RUN(test_plugin_gives_up_at_max_packets);
    RUN(test_plugin_gives_up_at_expiry);
    RUN(test_max_packets_one_and_zero);
    RUN(test_max_packets_bounds);
    RUN(test_active_cut_and_eviction_end_detection);
    RUN(test_pipeline_destroyed_without_flush_leaks_nothing);
    return check_exit();
}
