/*
 * status.c: see status.h.
 */
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "loss.h"
#include "notify.h"

/* What STATUS= and SIGUSR1 both show: the retired units' figures plus the running ones'. */
struct totals {
    uint64_t packets, drops, active, records, queue_full;
    size_t capturing, retrying;
};

static void
totals(struct nfs_unit *const *units, size_t n, const struct nfs_retired *r, struct totals *t,
       char *retrying, size_t size)
{
    size_t len = 0;

    memset(t, 0, sizeof(*t));
    t->packets = r->packets;
    t->drops = r->drops;
    t->records = r->records;
    t->queue_full = r->queue_full;
    if (size > 0)
        retrying[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct nfs_unit *u = units[i];
        struct nfs_worker_snap s;

        nfs_unit_snap(u, &s); /* the pipelines' snapshots (loss.h): one set of counters */
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
        nfs_unit_report_metering(u, &s);
    }
}

void
nfs_status_notify(struct nfs_unit *const *units, size_t n, const struct nfs_retired *r)
{
    struct totals t;
    char retrying[600], dropped[80] = "";

    totals(units, n, r, &t, retrying, sizeof(retrying));
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
print_identities(struct nfs_unit *u, const struct nfs_worker_snap *s, FILE *fp)
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

void
nfs_status_observe(struct nfs_unit *const *units, size_t n, struct nfs_observe *obs,
                   uint64_t now_ms)
{
    /* zeroed: gcc cannot see that nfs_observe_publish reads only the n filled in */
    struct nfs_metrics_interface ifs[NFS_MAX_UNITS] = {0};
    struct nfs_metrics_collector *cols[NFS_MAX_UNITS] = {0};
    char why[200] = "";

    for (size_t i = 0; i < n; i++) {
        struct nfs_unit *u = units[i];
        struct nfs_worker_snap s;
        size_t n_cols = nfs_exporter_target_count(u->exp);

        nfs_unit_snap(u, &s);
        ifs[i] = (struct nfs_metrics_interface){
            .name = u->ifc.name, .c = s.counters, .capturing = s.state == NFS_WORKER_CAPTURING};
        nfs_exporter_get_totals(u->exp, &ifs[i].export);
        if (s.state == NFS_WORKER_RETRYING && why[0] == '\0')
            snprintf(why, sizeof(why), "%s", s.why);
        if (n_cols == 0 || (cols[i] = calloc(n_cols, sizeof(*cols[i]))) == NULL)
            continue;
        for (size_t k = 0; k < n_cols; k++) {
            nfs_exporter_get_stats(u->exp, k, &cols[i][k].s);
            cols[i][k].target = cols[i][k].s.target;
        }
        ifs[i].collectors = cols[i];
        ifs[i].n_collectors = n_cols;
    }
    nfs_observe_publish(obs, ifs, n, why[0] ? why : NULL, now_ms);
    for (size_t i = 0; i < n; i++)
        free(cols[i]);
}

void
nfs_status_log(struct nfs_unit *const *units, size_t n, const struct nfs_retired *r)
{
    struct totals t;
    char retrying[600];

    totals(units, n, r, &t, retrying, sizeof(retrying));
    nfs_log_info("statistics: %" PRIu64 " packets, %" PRIu64 " drops, %" PRIu64
                 " active flows, %" PRIu64 " records exported, %" PRIu64
                 " records dropped (export queue full)%s",
                 t.packets, t.drops, t.active, t.records, t.queue_full, retrying);
    for (size_t i = 0; i < n; i++) {
        struct nfs_unit *u = units[i];
        struct nfs_worker_snap s;
        char *buf = NULL, *line, *save = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);

        if (fp == NULL)
            continue;
        nfs_unit_snap(u, &s);
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

bool
nfs_status_alive(struct nfs_unit *const *units, size_t n, uint64_t stale_ms, bool *warned)
{
    uint64_t now = nfs_mono_ms();

    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < units[i]->n_workers; k++) {
            struct nfs_worker *w = units[i]->workers[k];
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
