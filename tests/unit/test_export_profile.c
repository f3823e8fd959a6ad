/*
 * test_export_profile.c: collector profiles without a network: the views of export_profile.c
 * (derived tables, uniflow records), netflow9.c's records and the framer's NetFlow v9 mode.
 */
#include <stdlib.h>

#include "check.h"
#include "export_framer.h"
#include "export_profile.h"
#include "netflow9.h"

/* A plugin group with a list that has a flat form, one without, and a string. */
struct pv {
    int32_t sizes[4];
    int8_t dirs[3];
    char name[8];
};

static const struct nfs_field plugin_fields[] = {
    {"testSizes", NFS_PEN_OWN, 1500, NFS_T_LIST_I32, offsetof(struct pv, sizes), 16, NULL,
     NFS_F_FLAT_BASE(2500), "sizes"},
    {"testDirs", NFS_PEN_OWN, 1501, NFS_T_LIST_I8, offsetof(struct pv, dirs), 3, NULL, 0, "dirs"},
    {"testName", NFS_PEN_OWN, 1502, NFS_T_STRING, offsetof(struct pv, name), 8, NULL, 0, "name"},
};

static const struct nfs_field_group groups[] = {
    {nfs_core_fields, 0}, /* count filled in main() */
    {plugin_fields, NFS_NITEMS(plugin_fields)},
};

static struct nfs_field_group test_groups[2];

static struct pv
plugin_values(void)
{
    struct pv p;

    memset(&p, 0, sizeof(p));
    return p;
}

static struct nfs_record
record(void)
{
    struct nfs_record r;

    memset(&r, 0, sizeof(r));
    r.ip_version = 4;
    r.protocol = 6;
    r.src_port = 1234;
    r.dst_port = 80;
    memcpy(&r.src_ip, "\xc0\x00\x02\x0a", 4);
    memcpy(&r.dst_ip, "\xc6\x33\x64\x14", 4);
    r.src_mac[5] = 0x0a;
    r.dst_mac[5] = 0x14;
    r.src2dst = (struct nfs_record_dir){1000, 2000, 1000, 3, 300, 180, 0x12};
    r.dst2src = (struct nfs_record_dir){1010, 1990, 980, 2, 200, 120, 0x10};
    r.bidirectional.packets = 5;
    r.bidirectional.ip_octets = 300;
    return r;
}

static const struct nfs_field *
find(const struct nfs_export_view *v, const char *name, size_t *group)
{
    size_t n;
    const struct nfs_field_group *g = nfs_export_view_groups(v, &n);

    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < g[k].n_fields; i++)
            if (strcmp(g[k].fields[i].name, name) == 0) {
                if (group)
                    *group = k;
                return &g[k].fields[i];
            }
    return NULL;
}

struct left {
    char names[64][48];
    char whys[64][64];
    size_t n;
};

static void
note_left(void *ctx, const char *name, const char *why)
{
    struct left *l = ctx;

    if (l->n < 64) {
        snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
        snprintf(l->whys[l->n++], sizeof(l->whys[0]), "%s", why);
    }
}

static bool
left_has(const struct left *l, const char *name, const char *why_part)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0 && strstr(l->whys[i], why_part) != NULL)
            return true;
    return false;
}

static struct nfs_export_view *
view(struct nfs_export_profile p, struct left *l)
{
    struct nfs_error err;
    struct nfs_export_view *v = nfs_export_view_create(&p, test_groups, 2, &err);

    CHECK(v != NULL);
    if (v != NULL && l != NULL) {
        memset(l, 0, sizeof(*l));
        nfs_export_view_left_out(v, note_left, l);
    }
    return v;
}

static void
test_default_is_biflow_unchanged(void)
{
    struct nfs_record r = record();
    struct pv p = plugin_values();
    const void *values[] = {&r, &p};
    struct nfs_export_view_record out[2];
    struct left l;
    struct nfs_export_view *v = view((struct nfs_export_profile){0}, &l);
    size_t n;

    CHECK_EQ(l.n, 0);
    CHECK(find(v, "reverseOctetDeltaCount", NULL) != NULL);
    CHECK(find(v, "flowDirection", NULL) == NULL);
    CHECK(find(v, "testSizes", NULL) != NULL);
    nfs_export_view_groups(v, &n);
    CHECK_EQ(n, 2);
    CHECK_EQ(nfs_export_view_records(v, values, out), 1);
    CHECK(out[0].values[0] == &r); /* no copy without anonymisation */
    CHECK_EQ(out[0].packets, 5);
    CHECK_EQ(out[0].flows, 1);
    nfs_export_view_destroy(v);
}

static void
test_uniflow_records(void)
{
    struct nfs_record r = record();
    struct pv p = plugin_values();
    const void *values[] = {&r, &p};
    struct nfs_export_view_record out[2];
    struct nfs_export_view *v =
        view((struct nfs_export_profile){.records = NFS_EXPORT_UNIFLOW}, NULL);
    const struct nfs_record *a, *b;
    const uint8_t *da, *db;
    size_t g;

    CHECK(find(v, "reverseOctetDeltaCount", NULL) == NULL);
    CHECK(find(v, "flowDirection", &g) != NULL && g == 2);
    CHECK(find(v, "biflowDirection", NULL) != NULL);
    CHECK_EQ(nfs_export_view_records(v, values, out), 2);
    a = out[0].values[0];
    b = out[1].values[0];
    da = out[0].values[2];
    db = out[1].values[2];
    CHECK(memcmp(&a->src_ip, &r.src_ip, 4) == 0);
    CHECK(memcmp(&b->src_ip, &r.dst_ip, 4) == 0 && memcmp(&b->dst_ip, &r.src_ip, 4) == 0);
    CHECK_EQ(b->src_port, 80);
    CHECK_EQ(b->dst_port, 1234);
    CHECK_EQ(b->src_mac[5], 0x14);
    CHECK_EQ(b->src2dst.packets, 2);
    CHECK_EQ(b->src2dst.ip_octets, 120);
    CHECK_EQ(b->src2dst.first_seen_ms, 1010);
    CHECK_EQ(b->dst2src.packets, 3);
    CHECK_EQ(da[0], 0);
    CHECK_EQ(da[1], 1);
    CHECK_EQ(db[0], 1);
    CHECK_EQ(db[1], 2);
    CHECK_EQ(out[0].packets, 3);
    CHECK_EQ(out[0].octets, 180);
    CHECK_EQ(out[0].flows, 1);
    CHECK_EQ(out[1].packets, 2);
    CHECK_EQ(out[1].octets, 120);
    CHECK_EQ(out[1].flows, 0);
    CHECK(out[1].values[1] == &p); /* plugin values describe the whole flow */
    CHECK_EQ(r.src_port, 1234);    /* the flow's record is untouched */
    r.dst2src.packets = 0;
    CHECK_EQ(nfs_export_view_records(v, values, out), 1);
    nfs_export_view_destroy(v);
}

static void
test_total_counters(void)
{
    struct nfs_export_view *v =
        view((struct nfs_export_profile){.counters = NFS_EXPORT_TOTAL}, NULL);
    const struct nfs_field *f;

    CHECK((f = find(v, "octetTotalCount", NULL)) != NULL && f->id == 85 && f->pen == 0);
    CHECK((f = find(v, "packetTotalCount", NULL)) != NULL && f->id == 86);
    CHECK((f = find(v, "reverseOctetTotalCount", NULL)) != NULL && f->id == 85 &&
          f->pen == NFS_PEN_REVERSE);
    CHECK(find(v, "octetDeltaCount", NULL) == NULL);
    CHECK(find(v, "accountedOctetDeltaCount", NULL) != NULL); /* own elements stay */
    nfs_export_view_destroy(v);
}

static void
test_fields_and_lists(void)
{
    struct left l;
    struct nfs_export_view *v = view((struct nfs_export_profile){.iana_only = true}, &l);
    const struct nfs_field *f;

    CHECK(find(v, "tunnelId", NULL) == NULL && find(v, "testSizes", NULL) == NULL);
    CHECK(left_has(&l, "tunnelId", "iana-only") && left_has(&l, "testName", "iana-only"));
    nfs_export_view_destroy(v);
    v = view((struct nfs_export_profile){.groups = 1}, &l);
    CHECK(find(v, "testSizes", NULL) == NULL && find(v, "sourceIPv4Address", NULL) != NULL);
    CHECK(left_has(&l, "testSizes", "not in fields"));
    nfs_export_view_destroy(v);
    v = view((struct nfs_export_profile){.lists = NFS_EXPORT_FLAT}, &l);
    CHECK(find(v, "testSizes", NULL) == NULL);
    CHECK((f = find(v, "testSizes1", NULL)) != NULL && f->id == 2501 && f->type == NFS_T_I32 &&
          f->size == 4 && f->offset == offsetof(struct pv, sizes));
    CHECK((f = find(v, "testSizes4", NULL)) != NULL && f->id == 2504 &&
          f->offset == offsetof(struct pv, sizes) + 12);
    CHECK(find(v, "testSizes5", NULL) == NULL);
    CHECK(left_has(&l, "testDirs", "flat form"));
    nfs_export_view_destroy(v);
}

static void
test_netflow9_view_and_records(void)
{
    struct nfs_record r = record();
    struct pv p = plugin_values();
    const void *values[] = {&r, &p};
    struct nfs_export_view_record out[2];
    struct left l;
    struct nfs_export_view *v =
        view((struct nfs_export_profile){.format = NFS_EXPORT_NETFLOW9}, &l);
    const struct nfs_field_group *g;
    struct nfs_netflow9 *nf;
    struct nfs_ipfix_item t[2], it;
    struct nfs_error err;
    size_t n, want = 0;

    CHECK(left_has(&l, "flowId", "no NetFlow v9 type"));
    CHECK(left_has(&l, "biflowDirection", "no NetFlow v9 type"));
    CHECK(left_has(&l, "testName", "no NetFlow v9 type"));
    CHECK(find(v, "flowDirection", NULL) != NULL);
    CHECK(find(v, "flowStartMilliseconds", NULL) != NULL);
    g = nfs_export_view_groups(v, &n);
    nf = nfs_netflow9_create(g, n, &err);
    CHECK(nf != NULL);
    if (nf == NULL) {
        nfs_export_view_destroy(v);
        return;
    }
    CHECK_EQ(nfs_netflow9_templates(nf, t), 2);
    CHECK_EQ(t[0].set_id, NFS_NETFLOW9_SET_TMPL);
    CHECK_EQ(nfs_be16(t[0].data), 0x0101);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < g[k].n_fields; i++)
            if (nfs_field_applies(&g[k].fields[i], 4)) {
                CHECK(nfs_netflow9_has_type(g[k].fields[i].id) && g[k].fields[i].pen == 0);
                want += nfs_field_wire_size(&g[k].fields[i]);
            }
    CHECK_EQ(t[0].len, 4 + 4 * nfs_be16(t[0].data + 2));
    CHECK_EQ(nfs_export_view_records(v, values, out), 2);
    CHECK(nfs_netflow9_encode(nf, 4, out[1].values, &it));
    CHECK_EQ(it.set_id, 0x0101);
    CHECK_EQ(it.len, want);
    /* the second record starts with the swapped source address (sourceIPv4Address first) */
    CHECK(memcmp(it.data, &r.dst_ip, 4) == 0);
    CHECK(!nfs_netflow9_encode(nf, 5, out[0].values, &it));
    nfs_netflow9_destroy(nf);
    nfs_export_view_destroy(v);
}

struct v9sink {
    unsigned msgs;
    size_t max_len;
    uint32_t seqs[16];
    uint16_t counts[16];
    bool aligned;
};

static void
v9_collect(void *ctx, struct nfs_ipfix_msg *m)
{
    struct v9sink *s = ctx;
    size_t off = 20;

    CHECK_EQ(nfs_be16(m->data), 9);
    if (s->msgs < 16) {
        s->counts[s->msgs] = nfs_be16(m->data + 2);
        s->seqs[s->msgs] = nfs_be32(m->data + 12);
    }
    CHECK_EQ(nfs_be32(m->data + 16), 7); /* source id: the domain */
    while (off + 4 <= m->len) {
        uint16_t len = nfs_be16(m->data + off + 2);

        if (len % 4 != 0 || len < 4)
            s->aligned = false;
        off += len ? len : m->len;
    }
    CHECK_EQ(off, m->len);
    if (m->len > s->max_len)
        s->max_len = m->len;
    s->msgs++;
}

static void
test_framer_netflow9(void)
{
    struct v9sink s = {.aligned = true};
    struct nfs_framer *f = nfs_framer_create(200, 7, v9_collect, &s);
    uint8_t data[64] = {0};
    unsigned total = 0;

    nfs_framer_set_netflow9(f);
    for (unsigned i = 0; i < 40; i++) {
        /* odd lengths, alternating flowsets: every flowset padded, no packet over 200 */
        struct nfs_ipfix_item it = {
            i % 3 == 0 ? 0 : 0x0101 + (i % 2), (uint16_t)(13 + i % 7), data, 0, 0, 0};

        CHECK(nfs_framer_add(f, &it));
        total++;
    }
    nfs_framer_flush(f);
    CHECK(s.aligned);
    CHECK(s.max_len <= 200);
    CHECK(s.msgs > 2);
    {
        unsigned counted = 0;

        for (unsigned i = 0; i < s.msgs && i < 16; i++) {
            CHECK_EQ(s.seqs[i], i); /* v9 counts packets */
            counted += s.counts[i];
        }
        CHECK_EQ(counted, total); /* the header's count: every record, templates included */
    }
    nfs_framer_destroy(f);
}

int
main(void)
{
    test_groups[0] = (struct nfs_field_group){nfs_core_fields, nfs_core_fields_count};
    test_groups[1] = groups[1];
    RUN(test_default_is_biflow_unchanged);
    RUN(test_uniflow_records);
    RUN(test_total_counters);
    RUN(test_fields_and_lists);
    RUN(test_netflow9_view_and_records);
    RUN(test_framer_netflow9);
    return check_exit();
}
