/*
 * live.c: the daemon: the main loop, startup, reload, shutdown.
 *
 * It runs one unit per configured interface (unit.c: an exporter and its pipeline threads,
 * worker.c) and tells how they do through status.c. The main thread does everything else from
 * one poll loop: signals (a signalfd: every thread blocks them), STATUS= every STATUS_MS,
 * WATCHDOG=1 while every worker's heartbeat is fresh, the metrics when due, SIGUSR1
 * statistics, SIGHUP reload, SIGTERM/SIGINT shutdown.
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
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "notify.h"
#include "observe.h"
#include "privs.h"
#include "status.h"
#include "unit.h"

#define STATUS_MS 5000

struct daemon {
    const struct nfs_cli *cli;
    struct nfs_gen *gen;
    struct nfs_unit *units[NFS_MAX_UNITS];
    size_t n_units;
    struct nfs_retired retired;
    unsigned next_pipeline;      /* pipeline index for plugins */
    struct nfs_observe *observe; /* metrics: NULL when off */
};

/* ------------------------------------------------------------------------------------------ */
/* Configurations: what live capture needs, what a reload can keep running */

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

/* ------------------------------------------------------------------------------------------ */
/* Applying a configuration: start and reload */

static struct nfs_unit *
find_unit(struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->n_units; i++)
        if (d->units[i] != NULL && strcmp(d->units[i]->ifc.name, name) == 0)
            return d->units[i];
    return NULL;
}

struct plan {
    struct nfs_unit *next[NFS_MAX_UNITS]; /* the new unit list, in the new configuration's order */
    bool kept[NFS_MAX_UNITS];
    struct nfs_exporter *new_exp[NFS_MAX_UNITS]; /* kept units whose exporter changes */
    char *new_key[NFS_MAX_UNITS];
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
            nfs_unit_free(p->next[i]);
        }
    }
}

/* Phase 1: what stays, what is new; every new exporter made. False (nothing changed) when
 * an exporter cannot be made. */
static bool
plan_make(struct daemon *d, struct nfs_gen *g, struct plan *p)
{
    const struct nfs_config *cfg = g->cfg;
    struct nfs_error err;

    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < cfg->n_interfaces; i++) {
        const struct nfs_config_interface *ifc = &cfg->interfaces[i];
        struct nfs_unit *old = find_unit(d, ifc->name);

        if (old != NULL && same_interface(&old->ifc, ifc) && same_pipeline(old->gen->cfg, cfg)) {
            char *key = nfs_unit_export_key(cfg, ifc);

            p->next[i] = old;
            p->kept[i] = true;
            if (key != NULL && strcmp(key, old->export_key) != 0) {
                p->new_key[i] = key;
                p->new_exp[i] = nfs_unit_exporter(cfg, ifc, &err);
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
        p->next[i] = nfs_unit_prepare(g, ifc, &err);
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
        struct nfs_unit *u = d->units[i];
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
        struct nfs_unit *u = d->units[i];
        bool kept = false;

        for (size_t k = 0; k < n_next && !kept; k++)
            kept = p->kept[k] && p->next[k] == u;
        if (!kept)
            nfs_unit_stop(u, until_us, &d->retired);
        d->units[i] = NULL;
    }
    d->n_units = 0;
}

/* Phase 4 for a kept unit: new timeouts in place, a new exporter switched to. */
static void
update_kept(struct daemon *d, struct nfs_unit *u, struct nfs_gen *g, struct nfs_exporter *exp,
            char *key)
{
    if (!same_timeouts(&u->gen->cfg->flows, &g->cfg->flows))
        for (size_t i = 0; i < u->n_workers; i++)
            nfs_worker_set_timeouts(u->workers[i], &g->cfg->flows);
    if (exp != NULL)
        nfs_unit_switch_exporter(u, g, exp, key, &d->retired);
}

/* Phase 2: the captures of new and changed units open (old ones still run). False at startup
 * when one cannot (the units made so far go to d for the shutdown). */
static bool
open_new(struct daemon *d, struct plan *p, size_t n, bool startup)
{
    for (size_t i = 0; i < n; i++) {
        struct nfs_error err;
        bool fatal = false;

        if (p->kept[i] || nfs_unit_open(p->next[i], &d->next_pipeline, &fatal, &err))
            continue;
        nfs_log_err("%s", err.msg);
        if (startup) {
            for (size_t k = i; k < n; k++)
                nfs_unit_free(p->next[k]);
            for (size_t k = 0; k < i; k++)
                d->units[d->n_units++] = p->next[k];
            return false;
        }
        nfs_unit_free(p->next[i]);
        p->next[i] = NULL;
    }
    return true;
}

/*
 * Makes the running units those of g. startup: no units yet; failures are fatal (false);
 * privileges are dropped between opening the captures and starting the threads.
 */
static bool
apply(struct daemon *d, struct nfs_gen *g, bool startup)
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
            if (!nfs_unit_start(p.next[i], handover_us, &err)) {
                nfs_log_err("%s: %s", p.next[i]->ifc.name, err.msg);
                if (startup) {
                    d->units[d->n_units++] = p.next[i];
                    continue;
                }
                nfs_unit_free(p.next[i]);
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
    struct nfs_gen *g;

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
    } else if ((g = nfs_gen_new(cfg)) != NULL) {
        if (apply(d, g, false)) {
            nfs_log_init("nfsensord", (enum nfs_log_level)g->cfg->log.level);
            nfs_gen_unref(d->gen);
            d->gen = g;
        } else {
            nfs_log_err("configuration not applied: keeping the running one");
            nfs_gen_unref(g);
        }
    }
    nfs_config_errors_free(&errs);
    nfs_notify("READY=1");
    nfs_status_notify(d->units, d->n_units, &d->retired);
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
        nfs_unit_stop(d->units[i], 0, &d->retired);
        d->units[i] = NULL;
    }
    d->n_units = 0;
    nfs_retired_join(&d->retired);
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
            nfs_status_notify(d->units, d->n_units, &d->retired);
            next_status = now + STATUS_MS;
        }
        if (wd_ms > 0 && now >= next_wd) {
            if (nfs_status_alive(d->units, d->n_units, stale_ms, &warned))
                nfs_notify("WATCHDOG=1");
            next_wd = now + (wd_ms / 4 > 50 ? wd_ms / 4 : 50);
        }
        if (wd_ms > 0 && next_wd - now < (uint64_t)timeout)
            timeout = (int)(next_wd - now);
        if (nfs_observe_due(d->observe, now))
            nfs_status_observe(d->units, d->n_units, d->observe, now);
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
                nfs_status_log(d->units, d->n_units, &d->retired);
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
    nfs_retired_init(&d.retired);
    d.observe = nfs_observe_start(cfg, &failed); /* binds before privileges drop */
    if ((d.gen = nfs_gen_new(cfg)) == NULL || failed || !apply(&d, d.gen, true)) {
        nfs_log_err("not started");
        rc = 1;
    } else {
        nfs_notify("READY=1\nMAINPID=%d", (int)getpid());
        nfs_status_notify(d.units, d.n_units, &d.retired);
        main_loop(&d, sfd);
    }
    shutdown_all(&d);
    nfs_observe_stop(d.observe);
    nfs_gen_unref(d.gen);
    nfs_retired_destroy(&d.retired);
    close(sfd);
    return rc;
}
