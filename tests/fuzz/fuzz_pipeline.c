/*
 * fuzz_pipeline.c: the packet path end to end: decode -> flow table -> plugins -> IPFIX.
 *
 * Every built-in plugin that starts with its defaults is enabled (dpi, statistics, splt... as
 * they exist); a required path option (ml_tree's model) gets the small model below. Records are
 * encoded by a real exporter whose one target is /dev/null, so the encoder and libfixbuf see
 * every value a plugin produces.
 * Input: byte 0 picks one of 8 presets (bit 0 the nfstream profile, bit 1 a table of 4 flows
 * instead of 64, bit 2 payload accounting and no tunnels); then records of
 *   [flags+link] [time step] [len lo] [len hi] [len bytes of frame]
 * where the link is flags & 15 modulo the supported link types; flags 0x80: the time steps
 * back (the pipeline's clock must hold), 0x40: the frame ends a batch, 0x20: the wire length
 * exceeds the captured one, 0x10: a tick (live-capture expiry) before the frame. A time step
 * is 50 ms, so the presets' short timeouts (idle 2 s, active 5 s, TCP linger 1 s) and the
 * small table make every expiry and eviction path run. Each frame gets its own allocation.
 * Pipelines are created once per preset (plugin setup, nDPI's above all, is far slower than a
 * packet) and flushed after each input; each input starts a day after the previous one so no
 * state but nDPI's caches carries over. Checked: the table never holds more than max_flows,
 * it is empty after the flush, and every ended flow became exactly one record.
 */
#include "exporter.h"
#include "fuzz.h"
#include "pipeline.h"
#include "plugin_set.h"

#define PRESETS    8
#define MAX_FRAMES 256
#define MAX_DLT    300
#define DAY_US     (86400ull * 1000000)

static int dlts[MAX_DLT];
static size_t n_dlts;
static struct nfs_plugin_set *plugins;
static struct nfs_exporter *exporter;
static struct nfs_pipeline *pipelines[PRESETS];
static struct nfs_pipeline_options options[PRESETS];
static uint64_t records, base_us = 1700000000ull * 1000000;
static struct fuzz_file model_file;

/* A decision tree over features ml_tree computes (tests/fuzz/corpus/model has more). */
static const char model[] =
    "nfsensor_model: 1\n"
    "kind: decision_tree\n"
    "features: [\"protocol\", \"dst_port\", \"ps_1\", \"piat_ms_2\", \"direction_2\"]\n"
    "classes: [\"web\", \"dns\", \"other\"]\n"
    "trees:\n"
    "  - feature: [1, 2, 3, -1, -1, -1, -1]\n"
    "    threshold: [53.5, 100.0, 20.0, 0.0, 0.0, 0.0, 0.0]\n"
    "    left: [2, 3, 5, -1, -1, -1, -1]\n"
    "    right: [1, 4, 6, -1, -1, -1, -1]\n"
    "    value: [[], [], [], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.5, 0.5, 0.0]]\n";

static void
emit(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    struct nfs_error err;

    (void)ctx;
    records++;
    if (!nfs_exporter_export_values(exporter, rec->ip_version, groups, &err)) {
        fprintf(stderr, "fuzz_pipeline: export: %s\n", err.msg);
        abort();
    }
}

static void
preset(struct nfs_pipeline_options *o, unsigned k)
{
    memset(o, 0, sizeof(*o));
    nfs_pipeline_options_default(o, k & 1);
    o->flows.idle_timeout_ms = 2000;
    o->flows.active_timeout_ms = 5000;
    o->flows.tcp_linger_ms = 1000;
    o->flows.max_flows = k & 2 ? 4 : 64;
    if (k & 4) {
        o->flows.accounting = NFS_ACCOUNT_PAYLOAD;
        o->decode.decode_tunnels = false;
    }
    o->plugins = plugins;
}

/* Fills conf with p's defaults, and the model file for a required path option. */
static bool
plugin_conf(const struct nfs_plugin *p, void *conf, struct nfs_error *err)
{
    if (!nfs_plugin_conf_defaults(p, conf, err))
        return false;
    for (size_t i = 0; i < p->n_options; i++)
        if (p->options[i].type == NFS_OPT_PATH && p->options[i].def == NULL &&
            !nfs_option_parse(&p->options[i], conf, model_file.path, err))
            return false;
    return true;
}

/* True when plugin p starts in a pipeline of its own. */
static bool
plugin_usable(const struct nfs_plugin *p, void *conf)
{
    struct nfs_plugin_set *one = nfs_plugin_set_create();
    struct nfs_pipeline_options o;
    struct nfs_pipeline *pl = NULL;
    struct nfs_error err;

    if (one != NULL && plugin_conf(p, conf, &err) && nfs_plugin_set_add(one, p, conf, &err)) {
        preset(&o, 0);
        o.plugins = one;
        pl = nfs_pipeline_create(&o, emit, NULL, &err);
    }
    if (pl == NULL)
        fprintf(stderr, "fuzz_pipeline: plugin %s left out: %s\n", p->name, err.msg);
    nfs_pipeline_destroy(pl);
    nfs_plugin_set_destroy(one);
    return pl != NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct nfs_exporter_options eo;
    struct nfs_error err;

    (void)argc, (void)argv;
    for (int d = 0; d < MAX_DLT; d++)
        if (nfs_decode_link_supported(d))
            dlts[n_dlts++] = d;
    if (!fuzz_file_open(&model_file, (const uint8_t *)model, sizeof(model) - 1))
        abort();
    plugins = nfs_plugin_set_create();
    for (size_t i = 0; nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        void *conf = calloc(1, p->conf_size + 1);

        if (conf != NULL && plugin_usable(p, conf) && !nfs_plugin_set_add(plugins, p, conf, &err))
            fprintf(stderr, "fuzz_pipeline: plugin %s left out: %s\n", p->name, err.msg);
        free(conf);
    }
    nfs_exporter_options_default(&eo);
    eo.groups = nfs_plugin_set_groups(plugins);
    eo.n_groups = nfs_plugin_set_count(plugins) + 1;
    exporter = nfs_exporter_create(&eo, &err);
    if (exporter == NULL || !nfs_exporter_add(exporter, "/dev/null", &err)) {
        fprintf(stderr, "fuzz_pipeline: exporter: %s\n", err.msg);
        abort();
    }
    for (unsigned k = 0; k < PRESETS; k++) {
        preset(&options[k], k);
        pipelines[k] = nfs_pipeline_create(&options[k], emit, NULL, &err);
        if (pipelines[k] == NULL) {
            fprintf(stderr, "fuzz_pipeline: pipeline: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}

static uint64_t
ended(const struct nfs_counters *c)
{
    return c->v[NFS_C_FLOWS_IDLE] + c->v[NFS_C_FLOWS_ACTIVE] + c->v[NFS_C_FLOWS_TCP_END] +
           c->v[NFS_C_FLOWS_EVICTED] + c->v[NFS_C_FLOWS_FLUSHED] + c->v[NFS_C_FLOWS_PLUGIN];
}

static void
feed(struct nfs_pipeline *p, uint32_t max_flows, struct nfs_frame *f, uint8_t **copies, size_t *n)
{
    nfs_pipeline_frames(p, f, *n);
    if (nfs_pipeline_active_flows(p) > max_flows)
        abort();
    for (size_t i = 0; i < *n; i++)
        free(copies[i]);
    *n = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nfs_frame frames[MAX_FRAMES];
    uint8_t *copies[MAX_FRAMES];
    struct nfs_pipeline *p;
    uint64_t t_us, ended_before, records_before = records;
    struct nfs_error err;
    size_t pos = 1, n = 0;
    unsigned k;

    if (exporter == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1)
        return 0;
    k = data[0] % PRESETS;
    p = pipelines[k];
    ended_before = ended(nfs_pipeline_counters(p));
    t_us = base_us;
    while (size - pos >= 4) {
        uint8_t flags = data[pos], step = data[pos + 1];
        size_t len = (size_t)(data[pos + 2] | data[pos + 3] << 8);

        pos += 4;
        if (len > size - pos)
            len = size - pos;
        if (flags & 0x80)
            t_us -= t_us - base_us < step * 50000ull ? t_us - base_us : step * 50000ull;
        else
            t_us += step * 50000ull;
        if (flags & 0x10) {
            feed(p, options[k].flows.max_flows, frames, copies, &n);
            nfs_pipeline_tick(p, t_us);
        }
        copies[n] = fuzz_copy(data + pos, len);
        if (copies[n] == NULL)
            break;
        frames[n] = (struct nfs_frame){
            .dlt = dlts[(flags & 15) % n_dlts],
            .ts_us = t_us,
            .cap_len = (uint32_t)len,
            .wire_len = (uint32_t)len + (flags & 0x20 ? 1460 : 0),
            .data = copies[n],
        };
        n++;
        pos += len;
        if ((flags & 0x40) || n == MAX_FRAMES)
            feed(p, options[k].flows.max_flows, frames, copies, &n);
    }
    feed(p, options[k].flows.max_flows, frames, copies, &n);
    nfs_pipeline_flush(p);
    if (nfs_pipeline_active_flows(p) != 0)
        abort();
    if (ended(nfs_pipeline_counters(p)) - ended_before != records - records_before)
        abort();
    if (!nfs_exporter_flush(exporter, &err)) {
        fprintf(stderr, "fuzz_pipeline: flush: %s\n", err.msg);
        abort();
    }
    /* The next input starts a day after this one's last packet and the pipeline's clock. */
    base_us = (t_us > base_us ? t_us : base_us) + DAY_US;
    return 0;
}
