/*
 * test_ipfix_wire.c: the direct wire encoder against libfixbuf, byte for byte.
 *
 * Export writes IPFIX data records itself (nfs_ipfix_encode_wire); libfixbuf used to write
 * them from an internal record (nfs_ipfix_encode + fBufAppend). The oracle here is that old
 * path: for every record, libfixbuf encodes the internal record into a message of its own
 * (fbExporterAllocBuffer) and the data record in that message must equal, byte for byte, what
 * the wire encoder writes. Records are random values (a fixed seed) in the field tables of
 * the core and of every built-in plugin (dpi, statistics, splt at 10 and at 255 packets,
 * community_id, ml_tree) plus a test group with long strings and lists of each item type;
 * strings of every interesting length (0, 1, 254, 255, 256, 1000, full array without NUL),
 * NULL groups (zeros and empty lists), IPv4 and IPv6, through the views of the collector
 * profiles (biflow, uniflow, total + iana-only, a field-group subset, flat lists, anonymised).
 * Then real flows: every capture of the corpus (argv[1]: the shared directory) through a
 * pipeline with every built-in plugin but ml_tree (whose setup needs a model file), each ended
 * flow through four profiles.
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "export_profile.h"
#include "ipfix.h"
#include "pipeline.h"
#include "plugin.h"
#include "plugin_set.h"

#define RECORDS_PER_CASE 1000
#define MAX_GROUPS       16

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static size_t compared;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A group with the long strings and lists no plugin has. */
struct extra {
    uint32_t count;
    char long_text[1200];
    char short_text[4];
    int8_t l8[7];
    int32_t l32[1];
    int64_t l64[300];
    double ratio;
    uint16_t small;
};

#define EX(m) offsetof(struct extra, m), sizeof(((struct extra *)0)->m)

static const struct nfs_field extra_fields[] = {
    {"wireTestCount", NFS_PEN_OWN, 1590, NFS_T_U32, EX(count), NULL, 0, "u32"},
    {"wireTestLong", NFS_PEN_OWN, 1591, NFS_T_STRING, EX(long_text), NULL, 0, "long string"},
    {"wireTestShort", NFS_PEN_OWN, 1592, NFS_T_STRING, EX(short_text), NULL, 0, "short string"},
    {"wireTestL8", NFS_PEN_OWN, 1593, NFS_T_LIST_I8, EX(l8), NULL, NFS_F_FLAT_BASE(1600), "i8s"},
    {"wireTestL32", NFS_PEN_OWN, 1594, NFS_T_LIST_I32, EX(l32), NULL, 0, "one i32"},
    {"wireTestL64", NFS_PEN_OWN, 1595, NFS_T_LIST_I64, EX(l64), NULL, 0, "300 i64s"},
    {"wireTestRatio", NFS_PEN_OWN, 1596, NFS_T_DOUBLE, EX(ratio), NULL, 0, "float64"},
    {"wireTestSmall", NFS_PEN_OWN, 1597, NFS_T_U16, EX(small), NULL, 0, "u16"},
};

/* libfixbuf's side: a session on the model and a buffer exporter, one message per record. */
struct oracle {
    fBuf_t *fbuf;
    uint8_t msg[65535];
};

static bool
oracle_open(struct oracle *o, const struct nfs_ipfix_model *m)
{
    struct nfs_error err = {{0}};
    fbSession_t *s = nfs_ipfix_session_create(m, 1, false, &err);

    if (s == NULL) {
        fprintf(stderr, "session: %s\n", err.msg);
        return false;
    }
    o->fbuf = fBufAllocForExport(s, fbExporterAllocBuffer(o->msg, sizeof(o->msg)));
    return o->fbuf != NULL;
}

/* The data record libfixbuf writes for values: *len bytes at the returned pointer. */
static const uint8_t *
oracle_record(struct oracle *o, const struct nfs_ipfix_model *m, unsigned v,
              const void *const *values, size_t *len)
{
    static uint8_t rec[1 << 16];
    uint16_t tid = nfs_ipfix_template_id(v);
    size_t size = nfs_ipfix_encode(m, v, values, rec, sizeof(rec));
    GError *gerr = NULL;
    size_t msg_len;

    CHECK(nfs_ipfix_max_record_size(m) <= sizeof(rec));
    if (size == 0 || !fBufSetInternalTemplate(o->fbuf, tid, &gerr) ||
        !fBufSetExportTemplate(o->fbuf, tid, &gerr) || !fBufAppend(o->fbuf, rec, size, &gerr) ||
        !fBufEmit(o->fbuf, &gerr)) {
        fprintf(stderr, "libfixbuf: %s\n", gerr != NULL ? gerr->message : "encode failed");
        g_clear_error(&gerr);
        return NULL;
    }
    msg_len = fbExporterGetMsgLen(fBufGetExporter(o->fbuf));
    /* one message: header, one data set of template tid, the record */
    if (msg_len < 20 || nfs_be16(o->msg + 2) != msg_len || nfs_be16(o->msg + 16) != tid ||
        nfs_be16(o->msg + 18) != msg_len - 16) {
        fprintf(stderr, "libfixbuf wrote an unexpected message (%zu bytes)\n", msg_len);
        return NULL;
    }
    *len = msg_len - 20;
    return o->msg + 20;
}

static void
dump_diff(const uint8_t *want, size_t want_len, const uint8_t *got, size_t got_len)
{
    size_t i = 0;

    while (i < want_len && i < got_len && want[i] == got[i])
        i++;
    fprintf(stderr, "libfixbuf %zu bytes, wire encoder %zu; first difference at %zu:", want_len,
            got_len, i);
    for (size_t k = i; k < i + 12 && k < want_len; k++)
        fprintf(stderr, " %02x", want[k]);
    fprintf(stderr, " /");
    for (size_t k = i; k < i + 12 && k < got_len; k++)
        fprintf(stderr, " %02x", got[k]);
    fprintf(stderr, "\n");
}

/* Compares one record both ways; false (reported once per case) when they differ. */
static bool
compare(struct oracle *o, const struct nfs_ipfix_model *m, unsigned v, const void *const *values)
{
    static uint8_t wire[1 << 16];
    size_t want_len = 0, got_len = nfs_ipfix_encode_wire(m, v, values, wire, sizeof(wire));
    const uint8_t *want = oracle_record(o, m, v, values, &want_len);

    CHECK(want != NULL);
    CHECK(got_len != 0);
    if (want == NULL || got_len == 0)
        return false;
    compared++;
    if (want_len == got_len && memcmp(want, wire, got_len) == 0)
        return true;
    dump_diff(want, want_len, wire, got_len);
    return false;
}

/* A string of an interesting length in a char[size]; size itself: no NUL. */
static void
fill_string(char *s, size_t size)
{
    static const size_t lens[] = {0, 1, 2, 254, 255, 256, 1000, 1199};
    size_t len = rng() % 3 == 0 ? size : lens[rng() % NFS_NITEMS(lens)];

    if (len > size)
        len = rng() % (size + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(' ' + rng() % 95);
    if (len < size)
        s[len] = '\0';
}

/* Random bytes everywhere, then the strings made strings. */
static void
fill_block(const struct nfs_field_group *g, uint8_t *block, size_t size)
{
    for (size_t i = 0; i < size; i++)
        block[i] = (uint8_t)rng();
    for (size_t i = 0; i < g->n_fields; i++)
        if (g->fields[i].type == NFS_T_STRING)
            fill_string((char *)block + g->fields[i].offset, g->fields[i].size);
}

static size_t
block_size(const struct nfs_field_group *g)
{
    size_t end = 0;

    for (size_t i = 0; i < g->n_fields; i++)
        if (g->fields[i].offset + (size_t)g->fields[i].size > end)
            end = g->fields[i].offset + (size_t)g->fields[i].size;
    return end;
}

/* One profile under test: its view, the model of the view's tables, libfixbuf's side. */
struct wcase {
    const char *what;
    struct nfs_export_view *view;
    struct nfs_ipfix_model *m;
    struct oracle o;
    size_t bad;
};

static bool
case_open(struct wcase *c, const char *what, const struct nfs_export_profile *p,
          const struct nfs_field_group *groups, size_t n_groups)
{
    struct nfs_error err = {{0}};
    const struct nfs_field_group *vg;
    size_t n_vg;

    memset(c, 0, sizeof(*c));
    c->what = what;
    c->view = nfs_export_view_create(p, groups, n_groups, &err);
    if (c->view != NULL) {
        vg = nfs_export_view_groups(c->view, &n_vg);
        c->m = nfs_ipfix_model_create(vg, n_vg, NFS_PEN_DEFAULT, &err);
    }
    if (c->m == NULL) {
        fprintf(stderr, "%s: %s\n", what, err.msg);
        check_failures++;
        nfs_export_view_destroy(c->view);
        return false;
    }
    CHECK(oracle_open(&c->o, c->m));
    return c->o.fbuf != NULL;
}

/* Every record the view makes of one flow, both ways. */
static void
case_flow(struct wcase *c, unsigned v, const void *const *values)
{
    struct nfs_export_view_record r[2];
    size_t n = nfs_export_view_records(c->view, values, r);

    for (size_t i = 0; i < n; i++)
        c->bad += !compare(&c->o, c->m, v, r[i].values);
}

static void
case_close(struct wcase *c)
{
    if (c->bad != 0)
        fprintf(stderr, "%s: %zu records differ\n", c->what, c->bad);
    CHECK_EQ(c->bad, 0);
    if (c->o.fbuf != NULL)
        fBufFree(c->o.fbuf);
    nfs_ipfix_model_destroy(c->m);
    nfs_export_view_destroy(c->view);
}

/* Random flows through a profile's view. */
static void
run_profile(const char *what, const struct nfs_export_profile *p,
            const struct nfs_field_group *groups, size_t n_groups)
{
    struct wcase c;
    uint8_t *blocks[MAX_GROUPS] = {NULL};
    const void *values[MAX_GROUPS];

    if (!case_open(&c, what, p, groups, n_groups))
        return;
    for (size_t g = 0; g < n_groups; g++)
        blocks[g] = calloc(1, block_size(&groups[g]) + sizeof(struct nfs_record));
    for (size_t k = 0; k < RECORDS_PER_CASE; k++) {
        unsigned v = k % 2 ? 6 : 4;

        for (size_t g = 0; g < n_groups; g++) {
            fill_block(&groups[g], blocks[g], block_size(&groups[g]));
            values[g] = g > 0 && rng() % 5 == 0 ? NULL : blocks[g]; /* NULL: zeros */
        }
        ((struct nfs_record *)blocks[0])->ip_version = (uint8_t)v;
        if (k % 7 == 0) /* the uniflow view's second record needs reverse packets */
            ((struct nfs_record *)blocks[0])->dst2src.packets = 0;
        case_flow(&c, v, values);
    }
    for (size_t g = 0; g < n_groups; g++)
        free(blocks[g]);
    case_close(&c);
}

/* The core, every built-in plugin with its defaults (splt also at `packets`), the test group. */
static struct nfs_plugin_set *
all_groups(uint64_t splt_packets, bool splt_flat, bool ml_tree)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct nfs_error err = {{0}};

    for (size_t i = 0; nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        uint64_t *conf;

        if (!ml_tree && strcmp(p->name, "ml_tree") == 0)
            continue; /* its setup needs a model file; its fields are in the random records */
        conf = calloc(1, p->conf_size + sizeof(uint64_t));

        if (!nfs_plugin_conf_defaults(p, conf, &err))
            fprintf(stderr, "plugin %s: %s\n", p->name, err.msg);
        if (strcmp(p->name, "splt") == 0) {
            conf[0] = splt_packets; /* struct splt_conf: packets, encoding */
            if (splt_flat)
                strcpy((char *)&conf[1], "flat");
        }
        if (!nfs_plugin_set_add(set, p, conf, &err)) {
            fprintf(stderr, "plugin %s: %s\n", p->name, err.msg);
            check_failures++;
        }
        free(conf);
    }
    return set;
}

static size_t
with_extra(struct nfs_plugin_set *set, struct nfs_field_group *groups)
{
    size_t n = nfs_plugin_set_count(set) + 1;

    memcpy(groups, nfs_plugin_set_groups(set), n * sizeof(*groups));
    groups[n] = (struct nfs_field_group){extra_fields, NFS_NITEMS(extra_fields)};
    return n + 1;
}

static void
test_core_only(void)
{
    struct nfs_field_group g = {nfs_core_fields, nfs_core_fields_count};
    struct nfs_export_profile p = {0};

    run_profile("core", &p, &g, 1);
}

static void
test_every_group_every_profile(void)
{
    static const uint64_t splt[] = {10, 1, 255};
    char key_path[] = "/tmp/nfsensor-wire-key-XXXXXX";
    int fd = mkstemp(key_path);
    uint8_t key[32];

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)rng();
    CHECK(fd >= 0 && write(fd, key, sizeof(key)) == (ssize_t)sizeof(key));
    if (fd >= 0)
        close(fd);
    for (size_t s = 0; s < NFS_NITEMS(splt); s++) {
        struct nfs_plugin_set *set = all_groups(splt[s], false, true);
        struct nfs_field_group groups[MAX_GROUPS];
        size_t n = with_extra(set, groups);
        const struct {
            const char *what;
            struct nfs_export_profile p;
        } cases[] = {
            {"biflow", {0}},
            {"uniflow", {.records = NFS_EXPORT_UNIFLOW}},
            {"total iana-only", {.counters = NFS_EXPORT_TOTAL, .iana_only = true}},
            {"core+group 2+test group", {.groups = 1u | 4u | (1u << (n - 1))}},
            {"flat lists uniflow", {.lists = NFS_EXPORT_FLAT, .records = NFS_EXPORT_UNIFLOW}},
            {"anonymised", {.key_file = key_path}},
        };

        for (size_t c = 0; c < NFS_NITEMS(cases); c++) {
            char what[80];

            snprintf(what, sizeof(what), "splt %" PRIu64 ", %s", splt[s], cases[c].what);
            run_profile(what, &cases[c].p, groups, n);
        }
        nfs_plugin_set_destroy(set);
    }
    unlink(key_path);
}

/* splt's own flat encoding (encoding: flat) makes scalar elements, not lists. */
static void
test_splt_flat_encoding(void)
{
    struct nfs_plugin_set *set = all_groups(255, true, true);
    struct nfs_field_group groups[MAX_GROUPS];
    size_t n = with_extra(set, groups);
    struct nfs_export_profile p = {0};

    run_profile("splt flat 255", &p, groups, n);
    nfs_plugin_set_destroy(set);
}

/* Real flows: every corpus capture through a pipeline with every built-in plugin, each ended
 * flow through four profiles' views. */
static const char *corpus_dir;

static void
corpus_flow(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    struct wcase *cases = ctx;

    for (size_t c = 0; c < 4; c++)
        case_flow(&cases[c], rec->ip_version, groups);
}

static void
corpus_file(struct nfs_plugin_set *set, struct wcase *cases, const char *path)
{
    struct nfs_pipeline_options opt;
    struct nfs_error err = {{0}};
    struct nfs_pipeline *pl;
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, errbuf);
    struct pcap_pkthdr *h;
    const u_char *data;

    CHECK(pc != NULL);
    if (pc == NULL)
        return;
    nfs_pipeline_options_default(&opt, false);
    opt.flows.max_flows = 65536;
    opt.plugins = set;
    pl = nfs_pipeline_create(&opt, corpus_flow, cases, &err);
    if (pl == NULL) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        check_failures++;
        pcap_close(pc);
        return;
    }
    while (pcap_next_ex(pc, &h, &data) == 1)
        nfs_pipeline_packet(pl, pcap_datalink(pc),
                            (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec, h->caplen,
                            h->len, data);
    nfs_pipeline_flush(pl);
    nfs_pipeline_destroy(pl);
    pcap_close(pc);
}

static void
test_corpus_flows(void)
{
    struct nfs_plugin_set *set;
    const struct nfs_field_group *groups;
    struct wcase cases[4];
    const struct nfs_export_profile profiles[4] = {
        {0},
        {.records = NFS_EXPORT_UNIFLOW},
        {.counters = NFS_EXPORT_TOTAL, .iana_only = true},
        {.lists = NFS_EXPORT_FLAT},
    };
    static const char *const names[4] = {"corpus biflow", "corpus uniflow",
                                         "corpus total iana-only", "corpus flat lists"};
    size_t before = compared, n_files = 0, n_groups;
    char path[4096];
    struct dirent *d;
    DIR *dir;

    snprintf(path, sizeof(path), "%s/pcaps/corpus", corpus_dir != NULL ? corpus_dir : "");
    if (corpus_dir == NULL || (dir = opendir(path)) == NULL) {
        printf("skip test_corpus_flows: no %s\n", path);
        return;
    }
    set = all_groups(10, false, false);
    groups = nfs_plugin_set_groups(set);
    n_groups = nfs_plugin_set_count(set) + 1;
    for (size_t c = 0; c < 4; c++)
        CHECK(case_open(&cases[c], names[c], &profiles[c], groups, n_groups));
    while ((d = readdir(dir)) != NULL) {
        if (strstr(d->d_name, ".pcap") == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/pcaps/corpus/%s", corpus_dir, d->d_name);
        corpus_file(set, cases, path);
        n_files++;
    }
    closedir(dir);
    for (size_t c = 0; c < 4; c++)
        case_close(&cases[c]);
    nfs_plugin_set_destroy(set);
    printf("corpus: %zu captures, %zu records compared\n", n_files, compared - before);
    CHECK(n_files > 0 && compared > before);
}

int
main(int argc, char **argv)
{
    corpus_dir = argc > 1 ? argv[1] : NULL;
    RUN(test_core_only);
    RUN(test_every_group_every_profile);
    RUN(test_splt_flat_encoding);
    RUN(test_corpus_flows);
    printf("%zu records compared\n", compared);
    CHECK(compared > 0);
    return check_exit();
}
