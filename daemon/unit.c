/*
 * unit.c: see unit.h. The exporter half of a unit (its collectors, the key that says whether a
 * reload needs a new one, the closing threads) and the pipeline half (its workers, their
 * summed snapshots, the counters kept when it goes).
 */
#include "unit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture_live.h"
#include "log.h"

/* An exporter draining on its own thread (reload, shutdown). */
struct nfs_closer {
    pthread_t thread;
    struct nfs_exporter *exp;
    struct nfs_gen *gen;
    char name[16];
    struct nfs_closer *next;
};

/* ------------------------------------------------------------------------------------------ */
/* Configurations */

struct nfs_gen *
nfs_gen_new(struct nfs_config *cfg)
{
    struct nfs_gen *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        nfs_config_free(cfg);
        return NULL;
    }
    g->cfg = cfg;
    atomic_init(&g->refs, 1);
    return g;
}

struct nfs_gen *
nfs_gen_ref(struct nfs_gen *g)
{
    atomic_fetch_add(&g->refs, 1);
    return g;
}

void
nfs_gen_unref(struct nfs_gen *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1) {
        nfs_config_free(g->cfg);
        free(g);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Exporters */

/*
 * The exporter target of collector c for interface ifc. Each interface has its own exporter,
 * so when there are several, a file collector's name gets ".IFNAME" before its extension:
 * two exporters cannot write one file.
 */
static void
target_for(const struct nfs_config *cfg, const struct nfs_config_collector *c, const char *ifname,
           char *buf, size_t size)
{
    const char *slash, *dot;

    nfs_config_collector_target(c, buf, size);
    if (c->file[0] == '\0' || cfg->n_interfaces < 2)
        return;
    slash = strrchr(c->file, '/');
    dot = strrchr(slash ? slash + 1 : c->file, '.');
    if (dot == NULL || dot == (slash ? slash + 1 : c->file))
        snprintf(buf, size, "%s.%s", c->file, ifname);
    else
        snprintf(buf, size, "%.*s.%s%s", (int)(dot - c->file), c->file, ifname, dot);
}

char *
nfs_unit_export_key(const struct nfs_config *cfg, const struct nfs_config_interface *ifc)
{
    char target[NFS_CONFIG_PATH_SIZE + 300];
    char *key = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&key, &len);

    if (fp == NULL)
        return NULL;
    fprintf(fp, "%u %" PRIu64 " %d %u", cfg->ipfix.enterprise_number,
            cfg->ipfix.template_refresh_ms, cfg->ipfix.rfc5610, ifc->observation_domain);
    for (size_t i = 0; i < cfg->n_collectors; i++) {
        const struct nfs_config_collector *c = &cfg->collectors[i];
        struct nfs_collector_options co;
        char profile[128];

        target_for(cfg, c, ifc->name, target, sizeof(target));
        nfs_collector_options_default(&co, target);
        nfs_config_collector_options(c, &co);
        nfs_export_profile_describe(&co.profile, profile, sizeof(profile));
        /* a profile change (records:, fields:, the key file...) needs a new exporter */
        fprintf(fp, "\n%s %s %#x %s", target, profile, c->field_groups, c->key_file);
    }
    fclose(fp);
    return key;
}

struct nfs_exporter *
nfs_unit_exporter(const struct nfs_config *cfg, const struct nfs_config_interface *ifc,
                  struct nfs_error *err)
{
    struct nfs_exporter_options eo;
    struct nfs_exporter *exp;
    char target[NFS_CONFIG_PATH_SIZE + 300];

    nfs_exporter_options_default(&eo);
    eo.enterprise_number = cfg->ipfix.enterprise_number;
    eo.observation_domain = ifc->observation_domain;
    eo.template_refresh_s = (uint32_t)(cfg->ipfix.template_refresh_ms / 1000);
    eo.rfc5610 = cfg->ipfix.rfc5610;
    eo.groups = nfs_plugin_set_groups(cfg->plugin_set);
    eo.n_groups = nfs_plugin_set_count(cfg->plugin_set) + 1;
    if ((exp = nfs_exporter_create(&eo, err)) == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->n_collectors; i++) {
        struct nfs_collector_options co;

        target_for(cfg, &cfg->collectors[i], ifc->name, target, sizeof(target));
        nfs_collector_options_default(&co, target);
        nfs_config_collector_options(&cfg->collectors[i], &co);
        co.require_connect = false; /* a collector that is away is retried, not fatal */
        if (!nfs_exporter_add_collector(exp, &co, err)) {
            nfs_exporter_close(exp, NULL);
            return NULL;
        }
    }
    return exp;
}

static void *
closer_run(void *arg)
{
    struct nfs_closer *c = arg;
    struct nfs_error err;

    if (!nfs_exporter_close(c->exp, &err))
        nfs_log_warn("%s: export: %s", c->name, err.msg);
    nfs_gen_unref(c->gen);
    return NULL;
}

/* Closes exp on its own thread (draining to TCP collectors can take seconds); the gen
 * reference is the caller's, handed over. Its producers must have stopped. */
static void
close_async(struct nfs_retired *r, struct nfs_exporter *exp, struct nfs_gen *g, const char *name)
{
    struct nfs_closer *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        c->exp = exp;
        c->gen = g;
        snprintf(c->name, sizeof(c->name), "%s", name);
        if (pthread_create(&c->thread, NULL, closer_run, c) == 0) {
            pthread_mutex_lock(&r->closers_lock);
            c->next = r->closers;
            r->closers = c;
            pthread_mutex_unlock(&r->closers_lock);
            return;
        }
        free(c);
    }
    closer_run(&(struct nfs_closer){.exp = exp, .gen = g});
}

void
nfs_retired_init(struct nfs_retired *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->closers_lock, NULL);
}

void
nfs_retired_join(struct nfs_retired *r)
{
    struct nfs_closer *c, *next;

    pthread_mutex_lock(&r->closers_lock);
    c = r->closers;
    r->closers = NULL;
    pthread_mutex_unlock(&r->closers_lock);
    for (; c != NULL; c = next) {
        next = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
}

void
nfs_retired_destroy(struct nfs_retired *r)
{
    pthread_mutex_destroy(&r->closers_lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Units */

void
nfs_unit_free(struct nfs_unit *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_destroy(u->workers[i]);
    if (u->exp != NULL)
        nfs_exporter_close(u->exp, NULL);
    nfs_gen_unref(u->exp_gen);
    nfs_gen_unref(u->gen);
    free(u->export_key);
    free(u);
}

struct nfs_unit *
nfs_unit_prepare(struct nfs_gen *g, const struct nfs_config_interface *ifc, struct nfs_error *err)
{
    struct nfs_unit *u = calloc(1, sizeof(*u));

    if (u == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    u->ifc = *ifc;
    u->gen = nfs_gen_ref(g);
    u->exp_gen = nfs_gen_ref(g);
    u->export_key = nfs_unit_export_key(g->cfg, ifc);
    u->exp = nfs_unit_exporter(g->cfg, ifc, err);
    if (u->exp == NULL || u->export_key == NULL) {
        if (u->export_key == NULL && u->exp != NULL)
            nfs_error_set(err, "out of memory");
        nfs_unit_free(u);
        return NULL;
    }
    return u;
}

bool
nfs_unit_open(struct nfs_unit *u, unsigned *next_pipeline, bool *fatal, struct nfs_error *err)
{
    const struct nfs_config *cfg = u->gen->cfg;
    uint32_t group = u->ifc.workers > 1 ? nfs_live_fanout_group() : 0;

    for (uint32_t i = 0; i < u->ifc.workers; i++) {
        struct nfs_live_options lo = {
            .interface = u->ifc.name,
            .bpf = u->ifc.bpf,
            .promiscuous = u->ifc.promiscuous,
            .snaplen = u->ifc.snaplen,
            .buffer_bytes = u->ifc.buffer_bytes,
            .fanout_group = group,
        };
        struct nfs_pipeline_options po = {
            .flows = cfg->flows,
            .decode = cfg->decode,
            .plugins = cfg->plugin_set,
            .index = (*next_pipeline)++,
        };
        char label[40];

        if (u->ifc.workers > 1)
            snprintf(label, sizeof(label), "%s#%u", u->ifc.name, i);
        else
            snprintf(label, sizeof(label), "%s", u->ifc.name);
        u->workers[i] = nfs_worker_create(&lo, &po, label, fatal, err);
        if (u->workers[i] == NULL)
            return false;
        u->n_workers = i + 1;
    }
    return true;
}

bool
nfs_unit_start(struct nfs_unit *u, uint64_t from_us, struct nfs_error *err)
{
    for (size_t i = 0; i < u->n_workers; i++) {
        struct nfs_export_queue *q = nfs_exporter_queue(u->exp, false, err);

        if (q == NULL || !nfs_worker_start(u->workers[i], q, from_us, err))
            return false;
    }
    return true;
}

void
nfs_unit_switch_exporter(struct nfs_unit *u, struct nfs_gen *g, struct nfs_exporter *exp, char *key,
                         struct nfs_retired *r)
{
    struct nfs_export_queue *q[64];
    struct nfs_error err;

    for (size_t i = 0; i < u->n_workers; i++) {
        if ((q[i] = nfs_exporter_queue(exp, false, &err)) == NULL) {
            nfs_log_err("%s: %s: keeping the old collectors", u->ifc.name, err.msg);
            nfs_exporter_close(exp, NULL);
            free(key);
            return;
        }
    }
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_swap_queue(u->workers[i], q[i]);
    close_async(r, u->exp, u->exp_gen, u->ifc.name);
    u->exp = exp;
    u->exp_gen = nfs_gen_ref(g);
    free(u->export_key);
    u->export_key = key;
    nfs_log_info("%s: exporting to the new collectors", u->ifc.name);
}

void
nfs_unit_snap(struct nfs_unit *u, struct nfs_worker_snap *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (size_t i = 0; i < u->n_workers; i++) {
        struct nfs_worker_snap s;

        nfs_worker_snapshot(u->workers[i], &s);
        for (int c = 0; c < NFS_C_COUNT; c++)
            sum->counters.v[c] += s.counters.v[c];
        sum->drops += s.drops;
        sum->active_flows += s.active_flows;
        if (s.state == NFS_WORKER_RETRYING) {
            sum->state = NFS_WORKER_RETRYING;
            memcpy(sum->why, s.why, sizeof(sum->why));
        }
    }
}

void
nfs_unit_report_metering(struct nfs_unit *u, const struct nfs_worker_snap *s)
{
    nfs_exporter_set_metering(u->exp, &(struct nfs_exporter_metering){
                                          .packets = s->counters.v[NFS_C_PACKETS],
                                          .octets = s->counters.v[NFS_C_BYTES],
                                          .ignored_packets = nfs_counters_ignored(&s->counters),
                                          .kernel_drops = s->drops,
                                          .flows = s->counters.v[NFS_C_FLOWS_CREATED],
                                      });
}

/* Retires a unit's counters before it goes; its exporter's last statistics records carry
 * its final figures. */
static void
retire(struct nfs_unit *u, struct nfs_retired *r)
{
    struct nfs_worker_snap s;

    nfs_unit_snap(u, &s);
    nfs_unit_report_metering(u, &s);
    r->packets += s.counters.v[NFS_C_PACKETS];
    r->drops += s.drops;
    r->records += s.counters.v[NFS_C_FLOWS_EXPORTED];
    r->queue_full += s.counters.v[NFS_C_FLOWS_QUEUE_FULL];
}

void
nfs_unit_stop(struct nfs_unit *u, uint64_t until_us, struct nfs_retired *r)
{
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_stop(u->workers[i], until_us);
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_join(u->workers[i]); /* its flows are in the queue now */
    retire(u, r);
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_destroy(u->workers[i]);
    u->n_workers = 0;
    close_async(r, u->exp, u->exp_gen, u->ifc.name);
    u->exp = NULL;
    u->exp_gen = NULL;
    nfs_unit_free(u);
}
