/*
 * live.c: the daemon: units (one per interface), the main loop, reload, shutdown.
 *
 * A unit is one configured interface: an exporter in the interface's observation domain (the
 * exporter has one domain, so each interface gets its own, with its own connections to the
 * collectors) and `workers` pipeline threads (worker.c), each with its own capture socket, flow
 * table, plugin state and export queue.
 * The main thread does everything else from one poll loop: signals (a signalfd: every thread
 * blocks them), STATUS= every STATUS_MS, WATCHDOG=1 while every worker's heartbeat is fresh,
 * SIGUSR1 statistics, SIGHUP reload, SIGTERM/SIGINT shutdown.
 *
 * Reload. The new file is loaded and checked as a whole; any error keeps the running
 * configuration. Then, interface by interface (matched by name):
 *   kept       when its entry is unchanged (bpf, promiscuous, snaplen, buffer, workers, the
 *              resolved observation domain) and so is everything that shapes a pipeline's flow
 *              state: profile, the flows keys other than the three timeouts, decoding, dpi,
 *              and the plugins with every option. A kept unit keeps its pipelines and flows;
 *              new idle/active/linger timeouts are applied in place; new collectors or ipfix
 *              settings give it a new exporter, which its workers switch to between two
 *              batches (nothing is lost), and the old exporter drains and closes on its own
 *              thread.
 *   restarted  otherwise: its workers flush every flow to its old exporter, which drains and
 *              closes; a new unit starts from the new configuration.
 *   added, removed: started; flushed and closed.
 * New exporters are made before anything stops, so a collector that cannot be set up (a file
 * that cannot be created) abandons the reload with nothing changed.
 * Shutdown: every worker flushes into its queue (made blocking), then every exporter drains
 * to its collectors; the exit code is 0.
 */
#include "live.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "exporter.h"
#include "log.h"
#include "loss.h"
#include "notify.h"
#include "observe.h"
#include "privs.h"
#include "worker.h"

#define STATUS_MS 5000
#define MAX_UNITS NFS_CONFIG_MAX_INTERFACES

/* A configuration, shared by the units built from it (their pipelines point at its plugin set,
 * their exporters at its field tables). */
struct gen {
    struct nfs_config *cfg;
    atomic_int refs;
};

struct unit {
    struct nfs_config_interface ifc;
    struct gen *gen;     /* the pipelines' configuration */
    struct gen *exp_gen; /* the exporter's */
    struct nfs_exporter *exp;
    char *export_key; /* what the exporter was made from: same key, same exporter */
    struct nfs_worker *workers[64];
    size_t n_workers;
};

/* An exporter draining on its own thread (reload, shutdown). */
struct closer {
    pthread_t thread;
    struct nfs_exporter *exp;
    struct gen *gen;
    char name[16];
    struct closer *next;
};

/* Counters of units and exporters that are gone, so totals only grow. */
struct retired {
    uint64_t packets, drops, records, queue_full;
};

struct daemon {
    const struct nfs_cli *cli;
    struct gen *gen;
    struct unit *units[MAX_UNITS];
    size_t n_units;
    struct closer *closers;
    pthread_mutex_t closers_lock;
    struct retired retired;
    unsigned next_pipeline;      /* pipeline index for plugins */
    struct nfs_observe *observe; /* metrics: NULL when off */
};

/* ------------------------------------------------------------------------------------------ */
/* Configurations */

static struct gen *
gen_new(struct nfs_config *cfg)
{
    struct gen *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        nfs_config_free(cfg);
        return NULL;
    }
    g->cfg = cfg;
    atomic_init(&g->refs, 1);
    return g;
}

static struct gen *
gen_ref(struct gen *g)
{
    atomic_fetch_add(&g->refs, 1);
    return g;
}

static void
gen_unref(struct gen *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1) {
        nfs_config_free(g->cfg);
        free(g);
    }
}

bool
nfs_live_check(const struct nfs_config *cfg)
{
    bool ok = true;

    if (cfg->n_collectors == 0) {
        nfs_log_err("%s: live capture exports to collectors: give collectors: (or --collector "
                    "or --write)",
                    cfg->path[0] ? cfg->path : "configuration");
        ok = false;
    }
    if (cfg->output.csv[0] != '\0') {
        nfs_log_err("%s: output.csv: CSV is written by offline runs only; live capture exports "
                    "IPFIX to collectors:",
                    cfg->path[0] ? cfg->path : "configuration");
        ok = false;
    }
    for (size_t i = 0; i < cfg->n_collectors; i++)
        if (strcmp(cfg->collectors[i].file, "-") == 0 && cfg->n_interfaces > 1) {
            nfs_log_err("%s: collectors[%zu]: standard output can take one interface's IPFIX "
                        "stream, not %zu",
                        cfg->path[0] ? cfg->path : "configuration", i, cfg->n_interfaces);
            ok = false;
        }
    return ok;
}

/* The settings that shape a pipeline's flow state: equal means its flows can go on. */
static bool
same_pipeline(const struct nfs_config *a, const struct nfs_config *b)
{
    const struct nfs_flow_options *fa = &a->flows, *fb = &b->flows;

    if (a->profile != b->profile || fa->max_flows != fb->max_flows ||
        fa->accounting != fb->accounting || fa->tcp_end != fb->tcp_end ||
        fa->keep_direction != fb->keep_direction || fa->active_scan != fb->active_scan ||
        fa->raw_size_u16 != fb->raw_size_u16 ||
        a->decode.decode_tunnels != b->decode.decode_tunnels ||
        a->decode.extra_tunnels != b->decode.extra_tunnels || a->dpi.enabled != b->dpi.enabled ||
        a->dpi.max_packets != b->dpi.max_packets || a->n_plugins != b->n_plugins ||
        strcmp(a->plugin_dir, b->plugin_dir) != 0)
        return false;
    for (size_t i = 0; i < a->n_plugins; i++) {
        const struct nfs_plugin *p = a->plugins[i].plugin;

        if (p != b->plugins[i].plugin ||
            (p->conf_size > 0 && memcmp(a->plugins[i].conf, b->plugins[i].conf, p->conf_size)))
            return false;
    }
    return true;
}

static bool
same_timeouts(const struct nfs_flow_options *a, const struct nfs_flow_options *b)
{
    return a->idle_timeout_ms == b->idle_timeout_ms &&
           a->active_timeout_ms == b->active_timeout_ms && a->tcp_linger_ms == b->tcp_linger_ms;
}

static bool
same_interface(const struct nfs_config_interface *a, const struct nfs_config_interface *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->bpf, b->bpf) == 0 &&
           a->promiscuous == b->promiscuous && a->snaplen == b->snaplen &&
           a->buffer_bytes == b->buffer_bytes && a->workers == b->workers &&
           a->observation_domain == b->observation_domain;
}

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

/* Everything an exporter is made from, as one string. */
static char *
export_key(const struct nfs_config *cfg, const struct nfs_config_interface *ifc)
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

/* ------------------------------------------------------------------------------------------ */
/* Exporters */

static struct nfs_exporter *
exporter_make(const struct nfs_config *cfg, const struct nfs_config_interface *ifc,
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
    struct closer *c = arg;
    struct nfs_error err;

    if (!nfs_exporter_close(c->exp, &err))
        nfs_log_warn("%s: export: %s", c->name, err.msg);
    gen_unref(c->gen);
    return NULL;
}

/* Closes exp on its own thread (draining to TCP collectors can take seconds); the gen
 * reference is the caller's, handed over. Its producers must have stopped. */
static void
close_async(struct daemon *d, struct nfs_exporter *exp, struct gen *g, const char *name)
{
    struct closer *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        c->exp = exp;
        c->gen = g;
        snprintf(c->name, sizeof(c->name), "%s", name);
        if (pthread_create(&c->thread, NULL, closer_run, c) == 0) {
            pthread_mutex_lock(&d->closers_lock);
            c->next = d->closers;
            d->closers = c;
            pthread_mutex_unlock(&d->closers_lock);
            return;
        }
        free(c);
    }
    closer_run(&(struct closer){.exp = exp, .gen = g});
}

static void
join_closers(struct daemon *d)
{
    struct closer *c, *next;

    pthread_mutex_lock(&d->closers_lock);
    c = d->closers;
    d->closers = NULL;
    pthread_mutex_unlock(&d->closers_lock);
    for (; c != NULL; c = next) {
        next = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Units */

static void
unit_free(struct unit *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_destroy(u->workers[i]);
    if (u->exp != NULL)
        nfs_exporter_close(u->exp, NULL);
    gen_unref(u->exp_gen);
    gen_unref(u->gen);
    free(u->export_key);
    free(u);
}

/* A unit with its exporter made, nothing opened yet. */
static struct unit *
unit_prepare(struct gen *g, const struct nfs_config_interface *ifc, struct nfs_error *err)
{
    struct unit *u = calloc(1, sizeof(*u));

    if (u == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    u->ifc = *ifc;
    u->gen = gen_ref(g);
    u->exp_gen = gen_ref(g);
    u->export_key = export_key(g->cfg, ifc);
    u->exp = exporter_make(g->cfg, ifc, err);
    if (u->exp == NULL || u->export_key == NULL) {
        if (u->export_key == NULL && u->exp != NULL)
            nfs_error_set(err, "out of memory");
        unit_free(u);
        return NULL;
    }
    return u;
}

/* Creates the workers (pipelines and capture sockets). False when one cannot be made at all
 * (*fatal: a missing permission or a bad filter); an interface that is absent or down is
 * retried by its worker. */
static bool
unit_open(struct daemon *d, struct unit *u, bool *fatal, struct nfs_error *err)
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
            .index = d->next_pipeline++,
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

static bool
unit_start(struct unit *u, uint64_t from_us, struct nfs_error *err)
{
    for (size_t i = 0; i < u->n_workers; i++) {
        struct nfs_export_queue *q = nfs_exporter_queue(u->exp, false, err);

        if (q == NULL || !nfs_worker_start(u->workers[i], q, from_us, err))
            return false;
    }
    return true;
}

static void retire_unit(struct daemon *d, struct unit *u);

/* Flushes every worker's flows (frames from until_us on are left to a replacement; 0: none),
 * then lets the exporter drain on its own. */
static void
unit_stop(struct daemon *d, struct unit *u, uint64_t until_us)
{
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_stop(u->workers[i], until_us);
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_join(u->workers[i]); /* its flows are in the queue now */
    retire_unit(d, u);
    for (size_t i = 0; i < u->n_workers; i++)
        nfs_worker_destroy(u->workers[i]);
    u->n_workers = 0;
    close_async(d, u->exp, u->exp_gen, u->ifc.name);
    u->exp = NULL;
    u->exp_gen = NULL;
    unit_free(u);
}

/* Sums a unit's worker snapshots. */
static void
unit_snap(struct unit *u, struct nfs_worker_snap *sum, size_t *retrying)
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
            if (retrying)
                (*retrying)++;
        }
    }
}

/* A unit's figures for its exporter's statistics records (RFC 7011 4.1, 4.2). */
static void
report_metering(struct unit *u, const struct nfs_worker_snap *s)
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
retire_unit(struct daemon *d, struct unit *u)
{
    struct nfs_worker_snap s;

    unit_snap(u, &s, NULL);
    report_metering(u, &s);
    d->retired.packets += s.counters.v[NFS_C_PACKETS];
    d->retired.drops += s.drops;
    d->retired.records += s.counters.v[NFS_C_FLOWS_EXPORTED];
    d->retired.queue_full += s.counters.v[NFS_C_FLOWS_QUEUE_FULL];
}

/* ------------------------------------------------------------------------------------------ */
/* Status, statistics, watchdog */

struct totals {
    uint64_t packets, drops, active, records, queue_full;
    size_t capturing, retrying;
};

static void
totals(struct daemon *d, struct totals *t, char *retrying, size_t size)
{
    size_t len = 0;

    memset(t, 0, sizeof(*t));
    t->packets = d->retired.packets;
    t->drops = d->retired.drops;
    t->records = d->retired.records;
    t->queue_full = d->retired.queue_full;
    if (size > 0)
        retrying[0] = '\0';
    for (size_t i = 0; i < d->n_units; i++) {
        struct unit *u = d->units[i];
        struct nfs_worker_snap s;

        unit_snap(u, &s, NULL); /* the pipelines' snapshots (loss.h): one set of counters */
        t->packets += s.counters.v[NFS_C_PACKETS];
        t->drops += s.drops;
        t->active += s.active_flows;
        t->records += s.counters.v[NFS_C_FLOWS_EXPORTED];
        t->queue_full += s.counters.v[NFS_C_FLOWS_QUEUE_FULL];
        if (s.state == NFS_WORKER_RETRYING) {
            t->retrying++;
            if (len < size)
                len += (size_t)snprintf(retrying + len, size - len, "; %s", s.why);
        } else {
            t->capturing++;
        }
        report_metering(u, &s);
    }
}

static void
status(struct daemon *d)
{
    struct totals t;
    char retrying[600], dropped[80] = "";

    totals(d, &t, retrying, sizeof(retrying));
    if (t.queue_full > 0)
        snprintf(dropped, sizeof(dropped), ", %" PRIu64 " records dropped (export queue full)",
                 t.queue_full);
    nfs_notify("STATUS=%zu of %zu interfaces capturing: %" PRIu64 " packets, %" PRIu64
               " drops, %" PRIu64 " active flows, %" PRIu64 " records exported%s%s",
               t.capturing, t.capturing + t.retrying, t.packets, t.drops, t.active, t.records,
               dropped, retrying);
}

/* Whether the loss identities (loss.h) hold on this snapshot, for SIGUSR1. */
static void
print_identities(struct unit *u, const struct nfs_worker_snap *s, FILE *fp)
{
    char why[200];

    fprintf(fp, "identities.interface %s\n",
            nfs_loss_check_interface(&s->counters, why, sizeof(why)) ? "hold" : why);
    for (size_t k = 0; k < nfs_exporter_target_count(u->exp); k++) {
        struct nfs_exporter_stats cs;

        nfs_exporter_get_stats(u->exp, k, &cs);
        fprintf(fp, "identities.collector[%zu] %s\n", k,
                nfs_loss_check_collector(&cs, why, sizeof(why)) ? "hold" : why);
    }
}

/* Every unit's snapshots for the metrics (observe.c); /health is unhealthy while an
 * interface is retrying its capture. */
static void
observe(struct daemon *d, uint64_t now_ms)
{
    struct nfs_metrics_interface ifs[MAX_UNITS];
    struct nfs_metrics_collector *cols[MAX_UNITS] = {0};
    char why[200] = "";

    for (size_t i = 0; i < d->n_units; i++) {
        struct unit *u = d->units[i];
        struct nfs_worker_snap s;
        size_t n = nfs_exporter_target_count(u->exp);

        unit_snap(u, &s, NULL);
        ifs[i] = (struct nfs_metrics_interface){
            .name = u->ifc.name, .c = s.counters, .capturing = s.state == NFS_WORKER_CAPTURING};
        nfs_exporter_get_totals(u->exp, &ifs[i].export);
        if (s.state == NFS_WORKER_RETRYING && why[0] == '\0')
            snprintf(why, sizeof(why), "%s", s.why);
        if (n == 0 || (cols[i] = calloc(n, sizeof(*cols[i]))) == NULL)
            continue;
        for (size_t k = 0; k < n; k++) {
            nfs_exporter_get_stats(u->exp, k, &cols[i][k].s);
            cols[i][k].target = cols[i][k].s.target;
        }
        ifs[i].collectors = cols[i];
        ifs[i].n_collectors = n;
    }
    nfs_observe_publish(d->observe, ifs, d->n_units, why[0] ? why : NULL, now_ms);
    for (size_t i = 0; i < d->n_units; i++)
        free(cols[i]);
}

/* SIGUSR1: the STATUS figures, every counter of every interface, every exporter's. */
static void
log_statistics(struct daemon *d)
{
    struct totals t;
    char retrying[600];

    totals(d, &t, retrying, sizeof(retrying));
    nfs_log_info("statistics: %" PRIu64 " packets, %" PRIu64 " drops, %" PRIu64
                 " active flows, %" PRIu64 " records exported, %" PRIu64
                 " records dropped (export queue full)%s",
                 t.packets, t.drops, t.active, t.records, t.queue_full, retrying);
    for (size_t i = 0; i < d->n_units; i++) {
        struct unit *u = d->units[i];
        struct nfs_worker_snap s;
        char *buf = NULL, *line, *save = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);

        if (fp == NULL)
            continue;
        unit_snap(u, &s, NULL);
        fprintf(fp, "capture.drops %" PRIu64 "\nflows.active %" PRIu64 "\n", s.drops,
                s.active_flows);
        for (int c = 0; c < NFS_C_COUNT; c++)
            if (s.counters.v[c] != 0)
                fprintf(fp, "%s %" PRIu64 "\n", nfs_counter_name((enum nfs_counter)c),
                        s.counters.v[c]);
        nfs_exporter_print_stats(u->exp, fp);
        print_identities(u, &s, fp);
        fclose(fp);
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            nfs_log_info("%s (domain %u): %s", u->ifc.name, u->ifc.observation_domain, line);
        free(buf);
    }
}

/* True while every worker's heartbeat is younger than stale_ms; logs a stuck one once. */
static bool
all_alive(struct daemon *d, uint64_t stale_ms, bool *warned)
{
    uint64_t now = nfs_mono_ms();

    for (size_t i = 0; i < d->n_units; i++)
        for (size_t k = 0; k < d->units[i]->n_workers; k++) {
            struct nfs_worker *w = d->units[i]->workers[k];
            struct nfs_worker_snap s;

            nfs_worker_snapshot(w, &s);
            if (now > s.beat_ms && now - s.beat_ms > stale_ms) {
                if (!*warned)
                    nfs_log_err("pipeline %s has made no progress for %" PRIu64
                                " ms: not feeding the watchdog",
                                nfs_worker_label(w), now - s.beat_ms);
                *warned = true;
                return false;
            }
        }
    *warned = false;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Applying a configuration: start and reload */

static struct unit *
find_unit(struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->n_units; i++)
        if (d->units[i] != NULL && strcmp(d->units[i]->ifc.name, name) == 0)
            return d->units[i];
    return NULL;
}

struct plan {
    struct unit *next[MAX_UNITS]; /* the new unit list, in the new configuration's order */
    bool kept[MAX_UNITS];
    struct nfs_exporter *new_exp[MAX_UNITS]; /* kept units whose exporter changes */
    char *new_key[MAX_UNITS];
};

static void
plan_abandon(struct plan *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p->kept[i]) {
            if (p->new_exp[i] != NULL)
                nfs_exporter_close(p->new_exp[i], NULL);
            free(p->new_key[i]);
        } else {
            unit_free(p->next[i]);
        }
    }
}

/* Phase 1: what stays, what is new; every new exporter made. False (nothing changed) when
 * an exporter cannot be made. */
static bool
plan_make(struct daemon *d, struct gen *g, struct plan *p)
{
    const struct nfs_config *cfg = g->cfg;
    struct nfs_error err;

    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < cfg->n_interfaces; i++) {
        const struct nfs_config_interface *ifc = &cfg->interfaces[i];
        struct unit *old = find_unit(d, ifc->name);

        if (old != NULL && same_interface(&old->ifc, ifc) && same_pipeline(old->gen->cfg, cfg)) {
            char *key = export_key(cfg, ifc);

            p->next[i] = old;
            p->kept[i] = true;
            if (key != NULL && strcmp(key, old->export_key) != 0) {
                p->new_key[i] = key;
                p->new_exp[i] = exporter_make(cfg, ifc, &err);
                if (p->new_exp[i] == NULL) {
                    nfs_log_err("%s: %s", ifc->name, err.msg);
                    plan_abandon(p, i + 1);
                    return false;
                }
            } else {
                free(key);
            }
            continue;
        }
        p->next[i] = unit_prepare(g, ifc, &err);
        if (p->next[i] == NULL) {
            nfs_log_err("%s: %s", ifc->name, err.msg);
            plan_abandon(p, i);
            return false;
        }
    }
    return true;
}

/* Phase 3: units that are not kept flush their flows and go; their replacements, already
 * open, meter the frames from until_us on. */
static void
stop_dropped(struct daemon *d, const struct plan *p, size_t n_next, uint64_t until_us)
{
    for (size_t i = 0; i < d->n_units; i++) {
        struct unit *u = d->units[i];
        bool kept = false;

        for (size_t k = 0; k < n_next && !kept; k++)
            kept = p->kept[k] && p->next[k] == u;
        if (kept)
            continue;
        nfs_log_info("%s: flushing its flows (interface changed or removed)", u->ifc.name);
        for (size_t k = 0; k < u->n_workers; k++)
            nfs_worker_stop(u->workers[k], until_us);
    }
    for (size_t i = 0; i < d->n_units; i++) {
        struct unit *u = d->units[i];
        bool kept = false;

        for (size_t k = 0; k < n_next && !kept; k++)
            kept = p->kept[k] && p->next[k] == u;
        if (!kept)
            unit_stop(d, u, until_us);
        d->units[i] = NULL;
    }
    d->n_units = 0;
}

/* Phase 4 for a kept unit: new timeouts in place, a new exporter switched to. */
static void
update_kept(struct daemon *d, struct unit *u, struct gen *g, struct nfs_exporter *exp, char *key)
{
    if (!same_timeouts(&u->gen->cfg->flows, &g->cfg->flows))
        for (size_t i = 0; i < u->n_workers; i++)
            nfs_worker_set_timeouts(u->workers[i], &g->cfg->flows);
    struct nfs_export_queue *q[64];
    struct nfs_error err;

    if (exp == NULL)
        return;
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
    close_async(d, u->exp, u->exp_gen, u->ifc.name);
    u->exp = exp;
    u->exp_gen = gen_ref(g);
    free(u->export_key);
    u->export_key = key;
    nfs_log_info("%s: exporting to the new collectors", u->ifc.name);
}

/* Phase 2: the captures of new and changed units open (old ones still run). False at startup
 * when one cannot (the units made so far go to d for the shutdown). */
static bool
open_new(struct daemon *d, struct plan *p, size_t n, bool startup)
{
    for (size_t i = 0; i < n; i++) {
        struct nfs_error err;
        bool fatal = false;

        if (p->kept[i] || unit_open(d, p->next[i], &fatal, &err))
            continue;
        nfs_log_err("%s", err.msg);
        if (startup) {
            for (size_t k = i; k < n; k++)
                unit_free(p->next[k]);
            for (size_t k = 0; k < i; k++)
                d->units[d->n_units++] = p->next[k];
            return false;
        }
        unit_free(p->next[i]);
        p->next[i] = NULL;
    }
    return true;
}

/*
 * Makes the running units those of g. startup: no units yet; failures are fatal (false);
 * privileges are dropped between opening the captures and starting the threads.
 */
static bool
apply(struct daemon *d, struct gen *g, bool startup)
{
    const struct nfs_config *cfg = g->cfg;
    struct plan p;
    size_t n = cfg->n_interfaces, kept = 0, started = 0;
    uint64_t handover_us;

    if (!plan_make(d, g, &p))
        return false;
    if (!open_new(d, &p, n, startup))
        return false;
    handover_us = startup ? 0 : nfs_wall_us();
    stop_dropped(d, &p, n, handover_us);
    for (size_t i = 0; i < n; i++)
        if (p.kept[i]) {
            update_kept(d, p.next[i], g, p.new_exp[i], p.new_key[i]);
            kept++;
        }
    if (startup) {
        struct nfs_error err;
        char who[160];

        if (!nfs_privs_drop(cfg->user, cfg->group, &err)) {
            nfs_log_err("%s", err.msg);
            for (size_t i = 0; i < n; i++)
                if (p.next[i] != NULL)
                    d->units[d->n_units++] = p.next[i];
            return false;
        }
        nfs_privs_describe(who, sizeof(who));
        nfs_log_info("running as %s", who);
    }
    for (size_t i = 0; i < n; i++) {
        struct nfs_error err;

        if (p.next[i] == NULL)
            continue;
        if (!p.kept[i]) {
            if (!unit_start(p.next[i], handover_us, &err)) {
                nfs_log_err("%s: %s", p.next[i]->ifc.name, err.msg);
                if (startup) {
                    d->units[d->n_units++] = p.next[i];
                    continue;
                }
                unit_free(p.next[i]);
                continue;
            }
            started++;
            nfs_log_info("%s: capturing (observation domain %u, %u worker%s)", p.next[i]->ifc.name,
                         p.next[i]->ifc.observation_domain, p.next[i]->ifc.workers,
                         p.next[i]->ifc.workers == 1 ? "" : "s");
        }
        d->units[d->n_units++] = p.next[i];
    }
    if (!startup)
        nfs_log_info("reloaded %s: %zu interface%s kept with their flows, %zu started", cfg->path,
                     kept, kept == 1 ? "" : "s", started);
    return startup ? d->n_units == n && started == n : true;
}

/* SIGHUP: a new configuration, or the old one kept. */
static void
reload(struct daemon *d)
{
    struct nfs_config_errors errs = {0};
    struct nfs_config *cfg;
    struct gen *g;

    nfs_notify("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading",
               nfs_notify_monotonic_usec());
    nfs_log_info("reloading %s", d->cli->config_path ? d->cli->config_path : "(no file)");
    cfg = nfs_config_load(d->cli->config_path, d->cli->args, d->cli->n_args, &errs);
    if (cfg == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            nfs_log_err("%s", errs.lines[i]);
        nfs_log_err("%zu error%s in configuration: keeping the running one", errs.n_total,
                    errs.n_total == 1 ? "" : "s");
    } else if (cfg->n_interfaces == 0 || cfg->n_inputs > 0 || !nfs_live_check(cfg)) {
        if (cfg->n_interfaces == 0 || cfg->n_inputs > 0)
            nfs_log_err("%s: a running daemon needs interfaces: and no inputs:", cfg->path);
        nfs_log_err("configuration not applied: keeping the running one");
        nfs_config_free(cfg);
    } else if ((g = gen_new(cfg)) != NULL) {
        if (apply(d, g, false)) {
            nfs_log_init("nfsensord", (enum nfs_log_level)g->cfg->log.level);
            gen_unref(d->gen);
            d->gen = g;
        } else {
            nfs_log_err("configuration not applied: keeping the running one");
            gen_unref(g);
        }
    }
    nfs_config_errors_free(&errs);
    nfs_notify("READY=1");
    status(d);
}

static void
shutdown_all(struct daemon *d)
{
    nfs_notify("STOPPING=1\nSTATUS=flushing flows");
    nfs_log_info("stopping: flushing every flow");
    for (size_t i = 0; i < d->n_units; i++)
        for (size_t k = 0; k < d->units[i]->n_workers; k++)
            nfs_worker_stop(d->units[i]->workers[k], 0);
    for (size_t i = 0; i < d->n_units; i++) {
        unit_stop(d, d->units[i], 0);
        d->units[i] = NULL;
    }
    d->n_units = 0;
    join_closers(d);
    nfs_log_info("stopped: %" PRIu64 " packets, %" PRIu64 " drops, %" PRIu64
                 " records exported, %" PRIu64 " dropped (export queue full)",
                 d->retired.packets, d->retired.drops, d->retired.records, d->retired.queue_full);
}

/* ------------------------------------------------------------------------------------------ */
/* The main loop */

static int
signals_open(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    /* Before any thread exists: they all inherit the mask, so only the signalfd sees these. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void
main_loop(struct daemon *d, int sfd)
{
    uint64_t wd_ms = nfs_notify_watchdog_usec() / 1000;
    uint64_t stale_ms = wd_ms / 2 > 1000 ? wd_ms / 2 : 1000;
    uint64_t next_status = 0, next_wd = 0;
    bool warned = false;

    while (true) {
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        struct signalfd_siginfo si;
        uint64_t now = nfs_mono_ms();
        int timeout = 1000;

        if (now >= next_status) {
            status(d);
            next_status = now + STATUS_MS;
        }
        if (wd_ms > 0 && now >= next_wd) {
            if (all_alive(d, stale_ms, &warned))
                nfs_notify("WATCHDOG=1");
            next_wd = now + (wd_ms / 4 > 50 ? wd_ms / 4 : 50);
        }
        if (wd_ms > 0 && next_wd - now < (uint64_t)timeout)
            timeout = (int)(next_wd - now);
        if (nfs_observe_due(d->observe, now))
            observe(d, now);
        if (d->observe != NULL && nfs_observe_wait_ms(d->observe, now) < timeout)
            timeout = nfs_observe_wait_ms(d->observe, now);
        if (poll(&pfd, 1, timeout) <= 0)
            continue;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            switch (si.ssi_signo) {
            case SIGHUP:
                reload(d);
                break;
            case SIGUSR1:
                log_statistics(d);
                break;
            case SIGTERM:
            case SIGINT:
                return;
            }
        }
    }
}

int
nfs_live_run(struct nfs_config *cfg, const struct nfs_cli *cli)
{
    struct daemon d = {.cli = cli};
    bool failed;
    int sfd, rc = 0;
    struct nfs_error err;

    if (!nfs_live_check(cfg)) {
        nfs_config_free(cfg);
        return NFS_EX_CONFIG;
    }
    if (!nfs_privs_check(cfg->user, cfg->group, &err)) {
        nfs_log_err("%s; nothing started", err.msg);
        nfs_config_free(cfg);
        return NFS_EX_NOPERM;
    }
    nfs_notify_init();
    if ((sfd = signals_open()) < 0) {
        nfs_log_err("signalfd: %s", strerror(errno));
        nfs_config_free(cfg);
        return 1;
    }
    pthread_mutex_init(&d.closers_lock, NULL);
    d.observe = nfs_observe_start(cfg, &failed); /* binds before privileges drop */
    if ((d.gen = gen_new(cfg)) == NULL || failed || !apply(&d, d.gen, true)) {
        nfs_log_err("not started");
        rc = 1;
    } else {
        nfs_notify("READY=1\nMAINPID=%d", (int)getpid());
        status(&d);
        main_loop(&d, sfd);
    }
    shutdown_all(&d);
    nfs_observe_stop(d.observe);
    gen_unref(d.gen);
    pthread_mutex_destroy(&d.closers_lock);
    close(sfd);
    return rc;
}
