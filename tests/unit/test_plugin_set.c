/*
 * test_plugin_set.c: the plugin ABI as the pipeline drives it: hook order, per-flow state,
 * values in the record, NFS_DONE, NFS_EXPIRE, field clashes, option parsing.
 */
#include "check.h"
#include "packets.h"
#include "pipeline.h"
#include "plugin_set.h"

struct count_conf {
    uint64_t threshold;
    uint64_t expire_at;
    bool flag;
    uint64_t wait_ms;
    uint64_t spool;
};

struct count_state {
    uint64_t big, seen;
};

struct count_values {
    uint64_t big;
    uint64_t seen;
};

static const struct nfs_option count_options[] = {
    {"threshold", NFS_OPT_UINT, offsetof(struct count_conf, threshold), 1, 65535, "666", "bytes"},
    {"expire_at", NFS_OPT_UINT, offsetof(struct count_conf, expire_at), 0, 1000, "0", "packets"},
    {"flag", NFS_OPT_BOOL, offsetof(struct count_conf, flag), 0, 1, "false", ""},
    {"wait", NFS_OPT_DURATION, offsetof(struct count_conf, wait_ms), 0, 3600000, "2m", ""},
    {"spool", NFS_OPT_SIZE, offsetof(struct count_conf, spool), 0, UINT64_MAX, "64MiB", ""},
};

static const struct nfs_field count_fields[] = {
    {"bigPackets", NFS_PEN_OWN, 1900, NFS_T_U64, offsetof(struct count_values, big), 8,
     "udps.big_packets", 0, "packets of at least threshold bytes"},
    {"seenPackets", NFS_PEN_OWN, 1901, NFS_T_U64, offsetof(struct count_values, seen), 8,
     "udps.seen", 0, "packets the plugin saw"},
};

static int teardowns;

static bool
count_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    (void)env;
    (void)err;
    *ctx = (void *)conf;
    return true;
}

static enum nfs_verdict
count_packet(void *ctx, void *state, const struct nfs_flow *flow,
             const struct nfs_observation *obs)
{
    const struct count_conf *conf = ctx;
    struct count_state *st = state;

    (void)flow;
    st->seen++;
    st->big += obs->size >= conf->threshold;
    if (conf->expire_at && st->seen == conf->expire_at)
        return NFS_EXPIRE;
    return st->seen == 3 ? NFS_DONE : NFS_CONTINUE;
}

static void
count_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    const struct count_state *st = state;
    struct count_values *v = values;

    (void)ctx;
    (void)flow;
    v->big = st->big;
    v->seen = st->seen;
}

static void
count_teardown(void *ctx)
{
    (void)ctx;
    teardowns++;
}

static const struct nfs_plugin count_plugin = {
    .name = "count",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .options = count_options,
    .n_options = NFS_NITEMS(count_options),
    .conf_size = sizeof(struct count_conf),
    .fields = count_fields,
    .n_fields = NFS_NITEMS(count_fields),
    .values_size = sizeof(struct count_values),
    .flow_state_size = sizeof(struct count_state),
    .setup = count_setup,
    .on_init = count_packet,
    .on_update = count_packet,
    .on_expire = count_expire,
    .teardown = count_teardown,
};

static struct count_values got[16];
static struct nfs_record got_rec[16];
static int n_got;

static void
collect(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    (void)ctx;
    got_rec[n_got] = *rec;
    memcpy(&got[n_got++], groups[1], sizeof(struct count_values));
}

/* Ethernet + IPv4 + UDP, `len` bytes on the wire, from 10.0.0.1:1000 to 10.0.0.2:53. */
static void
send_udp(struct nfs_pipeline *p, uint64_t t_ms, uint16_t len, bool reply)
{
    uint8_t f[64] = {0};
    uint16_t ip_len = (uint16_t)(len - 14);

    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = (uint8_t)(ip_len >> 8), f[17] = (uint8_t)ip_len;
    f[23] = 17;
    f[26] = 10, f[29] = reply ? 2 : 1;
    f[30] = 10, f[33] = reply ? 1 : 2;
    f[34] = reply ? 0 : 0x03, f[35] = reply ? 53 : 0xe8;
    f[36] = reply ? 0x03 : 0, f[37] = reply ? 0xe8 : 53;
    f[38] = (uint8_t)((ip_len - 20) >> 8), f[39] = (uint8_t)(ip_len - 20);
    nfs_pipeline_packet(p, 1, t_ms * 1000, sizeof(f), len, f);
}

static struct nfs_pipeline *
pipeline_with(struct nfs_plugin_set *set)
{
    struct nfs_pipeline_options opt;
    struct nfs_error err;

    nfs_pipeline_options_default(&opt, true);
    opt.plugins = set;
    n_got = 0;
    return nfs_pipeline_create(&opt, collect, NULL, &err);
}

static void
test_hooks_state_and_values(void)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct count_conf conf = {0};
    struct nfs_error err;
    struct nfs_pipeline *p;

    CHECK(nfs_plugin_conf_defaults(&count_plugin, &conf, &err));
    CHECK_EQ(conf.threshold, 666);
    CHECK_EQ(conf.wait_ms, 120000);
    CHECK_EQ(conf.spool, 64ull << 20);
    CHECK(nfs_plugin_set_add(set, &count_plugin, &conf, &err));
    p = pipeline_with(set);
    send_udp(p, 1000, 700, false);
    send_udp(p, 1001, 60, true);
    send_udp(p, 1002, 1000, false);
    send_udp(p, 1003, 1000, true); /* after NFS_DONE at the third: not seen */
    nfs_pipeline_flush(p);
    CHECK_EQ(n_got, 1);
    CHECK_EQ(got[0].seen, 3);
    CHECK_EQ(got[0].big, 2);
    CHECK_EQ(got_rec[0].bidirectional.packets, 4);
    teardowns = 0;
    nfs_pipeline_destroy(p);
    CHECK_EQ(teardowns, 1);
    nfs_plugin_set_destroy(set);
}

static void
test_plugin_ends_its_flow(void)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct count_conf conf = {.threshold = 1, .expire_at = 2};
    struct nfs_error err;
    struct nfs_pipeline *p;

    CHECK(nfs_plugin_set_add(set, &count_plugin, &conf, &err));
    p = pipeline_with(set);
    send_udp(p, 1000, 100, false);
    send_udp(p, 1001, 100, true); /* ends the flow */
    send_udp(p, 1002, 100, false); /* a new flow, fresh state */
    nfs_pipeline_flush(p);
    CHECK_EQ(n_got, 2);
    CHECK_EQ(got_rec[0].end_reason, NFS_END_PLUGIN);
    CHECK_EQ(got_rec[0].expiration_id, -1);
    CHECK_EQ(got_rec[0].bidirectional.packets, 2);
    CHECK_EQ(got[1].seen, 1);
    CHECK_EQ(nfs_pipeline_counters(p)->v[NFS_C_FLOWS_PLUGIN], 1);
    nfs_pipeline_destroy(p);
    nfs_plugin_set_destroy(set);
}

static void
test_clashes_and_duplicates_are_refused(void)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct nfs_plugin twin = count_plugin;
    struct nfs_field core_clash[] = {
        {"myPort", NFS_PEN_IANA, 7, NFS_T_U16, 0, 2, NULL, 0, "clashes with IANA 7"}};
    struct nfs_error err;

    CHECK(nfs_plugin_set_add(set, &count_plugin, NULL, &err));
    CHECK(!nfs_plugin_set_add(set, &count_plugin, NULL, &err));
    CHECK(strstr(err.msg, "twice") != NULL);
    twin.name = "twin";
    CHECK(!nfs_plugin_set_add(set, &twin, NULL, &err));
    CHECK(strstr(err.msg, "clashes with bigPackets") != NULL);
    twin.fields = core_clash;
    twin.n_fields = 1;
    CHECK(!nfs_plugin_set_add(set, &twin, NULL, &err));
    CHECK(strstr(err.msg, "sourceTransportPort") != NULL);
    nfs_plugin_set_destroy(set);
}

static void
test_option_errors_say_what_was_expected(void)
{
    struct count_conf conf = {0};
    struct nfs_error err;

    CHECK(!nfs_option_parse(&count_options[3], &conf, "2 minutes", &err));
    CHECK(strstr(err.msg, "expected a duration such as 120s") != NULL);
    CHECK(!nfs_option_parse(&count_options[0], &conf, "70000", &err));
    CHECK(strstr(err.msg, "out of range") != NULL);
    CHECK(!nfs_option_parse(&count_options[2], &conf, "maybe", &err));
    CHECK(nfs_option_parse(&count_options[3], &conf, "500ms", &err));
    CHECK_EQ(conf.wait_ms, 500);
    CHECK(nfs_option_parse(&count_options[4], &conf, "1GiB", &err));
    CHECK_EQ(conf.spool, 1ull << 30);
}

int
main(void)
{
    RUN(test_hooks_state_and_values);
    RUN(test_plugin_ends_its_flow);
    RUN(test_clashes_and_duplicates_are_refused);
    RUN(test_option_errors_say_what_was_expected);
    return check_exit();
}
