/*
 * test_export.c: the exporter's parts without a network: framer (export_framer.c), spool
 * (spool.c) and producer queue (export_queue.c).
 *
 * Messages are built from hand-made items and split back; spools are filled past their
 * bounds, spilled to a disk directory, rewound and cleared, and every flow is accounted for;
 * queues are filled by a producer thread in both modes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "export_framer.h"
#include "export_queue.h"
#include "spool.h"

struct sink {
    uint8_t data[1 << 16];
    size_t len;
    unsigned msgs, records, flows;
    size_t max_len;
};

static void
collect(void *ctx, struct nfs_ipfix_msg *m)
{
    struct sink *s = ctx;

    if (s->len + m->len <= sizeof(s->data)) {
        memcpy(s->data + s->len, m->data, m->len);
        s->len += m->len;
    }
    s->msgs++;
    s->records += m->records;
    s->flows += m->flows;
    if (m->len > s->max_len)
        s->max_len = m->len;
}

/* A template set for template 256: two fixed fields (4 and 8 bytes) and a string. */
static const uint8_t tmpl[] = {
    0x01, 0x00, 0x00, 0x03,             /* tid 256, 3 fields */
    0x00, 0x08, 0x00, 0x04,             /* sourceIPv4Address, 4 */
    0x00, 0x01, 0x00, 0x08,             /* octetDeltaCount, 8 */
    0x80, 0x64, 0xff, 0xff, 0, 0, 0x7e, 0xd9, /* enterprise 32473 id 100, variable */
};

struct items {
    struct nfs_ipfix_item it[64];
    uint8_t bytes[64][32];
    size_t n;
};

static void
take(void *ctx, const struct nfs_ipfix_item *item)
{
    struct items *x = ctx;

    if (x->n < 64 && item->len <= 32) {
        memcpy(x->bytes[x->n], item->data, item->len);
        x->it[x->n] = *item;
        x->it[x->n].data = x->bytes[x->n];
        x->n++;
    }
}

static void
test_framer_packs_and_splits_back(void)
{
    struct sink s = {.len = 0};
    struct nfs_framer *f = nfs_framer_create(100, 7, collect, &s);
    struct nfs_ipfix_item t = {.set_id = 2, .len = sizeof(tmpl), .data = tmpl};
    uint8_t rec[5][20];
    struct nfs_wire_templates *wt = nfs_wire_templates_create();
    struct items back = {.n = 0};
    struct nfs_error err;
    size_t off = 0;

    CHECK(nfs_framer_add(f, &t));
    for (int i = 0; i < 5; i++) {
        struct nfs_ipfix_item it = {.set_id = 256, .data = rec[i], .flows = 1, .packets = 2};

        memset(rec[i], i, 12);
        rec[i][12] = 3; /* string of 3 bytes */
        memcpy(rec[i] + 13, "abc", 3);
        it.len = 16;
        CHECK(nfs_framer_add(f, &it));
    }
    nfs_framer_flush(f);
    CHECK(s.max_len <= 100);
    CHECK(s.msgs >= 2);
    CHECK_EQ(s.records, 5);
    CHECK_EQ(s.flows, 5);
    /* split every message back: the template, then the five records, in order */
    while (off < s.len) {
        size_t len = nfs_ipfix_msg_len(s.data + off, s.len - off);

        CHECK(len >= 16 && off + len <= s.len);
        if (len < 16 || off + len > s.len)
            break;
        CHECK_EQ(nfs_be16(s.data + off + 12) == 0 && s.data[off + 15] == 7, 1); /* domain 7 */
        CHECK(nfs_ipfix_split(wt, s.data + off, len, take, &back, &err));
        off += len;
    }
    CHECK_EQ(back.n, 6);
    CHECK_EQ(back.it[0].set_id, 2);
    for (size_t i = 1; i < back.n; i++) {
        CHECK_EQ(back.it[i].set_id, 256);
        CHECK_EQ(back.it[i].len, 16);
        CHECK(back.bytes[i][0] == i - 1 && memcmp(back.bytes[i] + 13, "abc", 3) == 0);
    }
    /* an item larger than a message is refused */
    {
        uint8_t big[200] = {0};
        struct nfs_ipfix_item it = {.set_id = 256, .len = sizeof(big), .data = big};

        CHECK(!nfs_framer_add(f, &it));
    }
    nfs_wire_templates_destroy(wt);
    nfs_framer_destroy(f);
}

static void
test_framer_sequence_numbers_count_data_records(void)
{
    struct sink s = {.len = 0};
    struct nfs_framer *f = nfs_framer_create(64, 1, collect, &s);
    uint8_t rec[16] = {0};
    struct nfs_ipfix_item it = {.set_id = 300, .len = sizeof(rec), .data = rec, .flows = 1};
    uint32_t seqs[8], n = 0;
    size_t off = 0;

    for (int i = 0; i < 7; i++)
        nfs_framer_add(f, &it);
    nfs_framer_flush(f);
    while (off < s.len && n < 8) {
        seqs[n++] = nfs_be32(s.data + off + 8);
        off += nfs_ipfix_msg_len(s.data + off, s.len - off);
    }
    /* 64-byte messages hold 2 records of 16 (16 header + 4 set header + 32) */
    CHECK_EQ(n, 4);
    for (uint32_t i = 0; i < n; i++)
        CHECK_EQ(seqs[i], 2 * i);
    CHECK_EQ(nfs_framer_seq(f), 7);
    nfs_framer_destroy(f);
}

static struct nfs_ipfix_msg
msg(uint8_t *buf, uint32_t len, uint32_t flows, uint8_t tag)
{
    memset(buf, tag, len);
    return (struct nfs_ipfix_msg){buf, len, flows, flows, flows * 10u, flows * 100u};
}

static void
test_spool_bound_counts_every_flow(void)
{
    struct nfs_spool_options o = {.mem_bytes = 1000};
    struct nfs_error err;
    struct nfs_spool *sp = nfs_spool_create(&o, &err);
    uint8_t buf[400];
    uint64_t delivered = 0, replayed = 0, cleared = 0, p = 0, oct = 0;
    unsigned pushed = 0, refused = 0;

    for (int i = 0; i < 5; i++) {
        struct nfs_ipfix_msg m = msg(buf, 300, 3, (uint8_t)i);

        if (nfs_spool_push(sp, &m, false))
            pushed++;
        else
            refused++;
    }
    CHECK_EQ(pushed, 3); /* 3 x 300 <= 1000 */
    CHECK_EQ(refused, 2);
    /* send two, confirm the first, lose the connection: the second comes back first */
    CHECK(nfs_spool_next(sp)->data[0] == 0);
    nfs_spool_sent(sp, 300);
    CHECK(nfs_spool_next(sp)->data[0] == 1);
    nfs_spool_sent(sp, 600);
    nfs_spool_release(sp, 450, &delivered);
    CHECK_EQ(delivered, 3);
    nfs_spool_rewind(sp, &replayed);
    CHECK_EQ(replayed, 3);
    CHECK(nfs_spool_next(sp)->data[0] == 1);
    /* a statistics message (no flow) passes the bound */
    {
        struct nfs_ipfix_msg m = msg(buf, 300, 0, 9);

        CHECK(nfs_spool_push(sp, &m, true));
    }
    nfs_spool_clear(sp, &cleared, &p, &oct);
    CHECK_EQ(cleared, 6); /* messages 1 and 2 */
    CHECK_EQ(p, 60);
    CHECK(nfs_spool_empty(sp));
    nfs_spool_destroy(sp);
}

static void
test_spool_spills_to_disk_in_order(void)
{
    char dir[] = "/tmp/test_export.XXXXXX";
    struct nfs_spool_options o = {.mem_bytes = 1000, .disk_bytes = 100000, .tag = "t"};
    struct nfs_spool_stats st;
    struct nfs_error err;
    struct nfs_spool *sp;
    uint8_t buf[300];
    uint64_t delivered = 0;
    int order_ok = 1;

    if (mkdtemp(dir) == NULL)
        return;
    o.dir = dir;
    sp = nfs_spool_create(&o, &err);
    CHECK(sp != NULL);
    if (sp == NULL)
        return;
    for (int i = 0; i < 20; i++) {
        struct nfs_ipfix_msg m = msg(buf, 300, 1, (uint8_t)i);

        CHECK(nfs_spool_push(sp, &m, false));
    }
    nfs_spool_get_stats(sp, &st);
    CHECK_EQ(st.pending_mem.msgs, 3);
    CHECK_EQ(st.pending_disk.msgs, 17);
    for (int i = 0; i < 20; i++) {
        struct nfs_spool_msg *m = nfs_spool_next(sp);

        if (m == NULL || m->data[0] != i || m->data[299] != i || m->flows != 1)
            order_ok = 0;
        if (m == NULL)
            break;
        nfs_spool_sent(sp, (uint64_t)(i + 1) * 300);
        nfs_spool_release(sp, (uint64_t)(i + 1) * 300, &delivered);
    }
    CHECK(order_ok);
    CHECK_EQ(delivered, 20);
    CHECK(nfs_spool_empty(sp));
    nfs_spool_destroy(sp);
    CHECK(rmdir(dir) == 0); /* the segments are gone */
}

struct producer {
    struct nfs_export_queue *q;
    unsigned n, refused;
};

static void *
produce(void *arg)
{
    struct producer *p = arg;

    for (unsigned i = 0; i < p->n; i++) {
        uint32_t *slot = nfs_export_queue_reserve(p->q);

        if (slot == NULL) {
            nfs_export_queue_drop(p->q, 1, 1);
            p->refused++;
            continue;
        }
        *slot = i;
        nfs_export_queue_commit(p->q);
    }
    return NULL;
}

static void
test_queue_blocking_loses_nothing_dropping_counts(void)
{
    struct nfs_export_wake w = {.fd = eventfd(0, EFD_NONBLOCK)};
    struct nfs_export_queue_counters c;

    for (int blocking = 1; blocking >= 0; blocking--) {
        struct nfs_export_queue *q = nfs_export_queue_create(64, 8, blocking, &w);
        struct producer p = {q, 100000, 0};
        pthread_t t;
        unsigned got = 0, expect = 0;
        int in_order = 1;

        pthread_create(&t, NULL, produce, &p);
        if (!blocking)
            pthread_join(t, NULL); /* nobody consumes while it produces: most are refused */
        while (got + p.refused < p.n) {
            uint32_t *slot = nfs_export_queue_peek(q);

            if (slot == NULL)
                continue;
            if (blocking && *slot != expect)
                in_order = 0;
            expect++;
            got++;
            nfs_export_queue_release(q);
        }
        if (blocking)
            pthread_join(t, NULL);
        nfs_export_queue_counters(q, &c);
        CHECK(in_order);
        CHECK_EQ(c.pushed + c.dropped, 100000);
        CHECK_EQ(c.dropped, p.refused);
        CHECK_EQ(got, c.pushed);
        if (blocking) {
            CHECK_EQ(c.dropped, 0);
        } else {
            CHECK_EQ(c.pushed, 64);
        }
        nfs_export_queue_destroy(q);
    }
    close(w.fd);
}

int
main(void)
{
    RUN(test_framer_packs_and_splits_back);
    RUN(test_framer_sequence_numbers_count_data_records);
    RUN(test_spool_bound_counts_every_flow);
    RUN(test_spool_spills_to_disk_in_order);
    RUN(test_queue_blocking_loses_nothing_dropping_counts);
    return check_exit();
}
