/*
 * offline.c: an offline run (see offline.h).
 *
 * This is the interface scripts rely on: every file is read in order as one stream, every flow
 * is flushed at the end, and the exit code says whether all input was read and written. On a
 * terminal a progress line shows packets, active flows and the share of the input read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "clock.h"
#include "csv.h"
#include "export_profile.h"
#include "exporter.h"
#include "log.h"
#include "loss.h"
#include "observe.h"
#include "offline.h"
#include "pipeline.h"

/* The sinks every ended flow goes to. */
struct sinks {
    struct nfs_exporter *exporter;
    struct nfs_csv *csv;
    struct nfs_export_view *csv_view; /* output.anonymize: the CSV's addresses anonymised */
    uint64_t records;
    bool failed;
    struct nfs_error err;
    struct nfs_observe *observe; /* metrics: NULL when off */
};

static void
emit_record(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    struct sinks *s = ctx;
    struct nfs_export_view_record anon[2];
    const void *const *csv_values = groups;

    if (s->failed)
        return;
    if (s->csv_view != NULL && nfs_export_view_records(s->csv_view, groups, anon) > 0)
        csv_values = anon[0].values; /* a copy: the collectors get the real addresses */
    if ((s->exporter &&
         !nfs_exporter_export_values(s->exporter, rec->ip_version, groups, &s->err)) ||
        (s->csv && !nfs_csv_write(s->csv, rec->ip_version, csv_values, &s->err))) {
        s->failed = true;
        return;
    }
    s->records++;
}

static bool
open_sinks(const struct nfs_config *cfg, struct sinks *s)
{
    const struct nfs_field_group *groups = nfs_plugin_set_groups(cfg->plugin_set);
    size_t n_groups = nfs_plugin_set_count(cfg->plugin_set) + 1;
    struct nfs_exporter_options eo;
    struct nfs_error err;
    char target[NFS_CONFIG_PATH_SIZE + 8];

    nfs_exporter_options_default(&eo);
    eo.enterprise_number = cfg->ipfix.enterprise_number;
    eo.observation_domain = cfg->ipfix.observation_domain;
    eo.template_refresh_s = (uint32_t)(cfg->ipfix.template_refresh_ms / 1000);
    eo.rfc5610 = cfg->ipfix.rfc5610;
    eo.groups = groups;
    eo.n_groups = n_groups;
    if (cfg->n_collectors > 0 && (s->exporter = nfs_exporter_create(&eo, &err)) == NULL)
        return nfs_log_err("%s", err.msg), false;
    for (size_t i = 0; i < cfg->n_collectors; i++) {
        struct nfs_collector_options co;

        nfs_config_collector_target(&cfg->collectors[i], target, sizeof(target));
        nfs_collector_options_default(&co, target);
        nfs_config_collector_options(&cfg->collectors[i], &co);
        co.require_connect = true; /* an offline run fails at once on a collector it cannot reach */
        if (!nfs_exporter_add_collector(s->exporter, &co, &err))
            return nfs_log_err("%s", err.msg), false;
    }
    if (cfg->output.csv[0] != '\0' &&
        (s->csv = nfs_csv_open(cfg->output.csv, groups, n_groups, &err)) == NULL)
        return nfs_log_err("%s", err.msg), false;
    if (s->csv != NULL && cfg->output.csv_key_file[0] != '\0' &&
        (s->csv_view = nfs_export_view_create(
             &(struct nfs_export_profile){.key_file = cfg->output.csv_key_file}, groups,
             n_groups, &err)) == NULL)
        return nfs_log_err("output.csv: %s", err.msg), false;
    return true;
}

/* The metering figures of the run, for the exporter's statistics records (RFC 7011 4.1). */
static void
report_metering(struct sinks *s, const struct nfs_counters *c)
{
    if (s->exporter == NULL)
        return;
    nfs_exporter_set_metering(s->exporter, &(struct nfs_exporter_metering){
                                               .packets = c->v[NFS_C_PACKETS],
                                               .octets = c->v[NFS_C_BYTES],
                                               .ignored_packets = nfs_counters_ignored(c),
                                               .flows = c->v[NFS_C_FLOWS_CREATED],
                                           });
}

/* The run's figures for the metrics (docs/counters.md): the input is the interface
 * "offline". Called between batches, so the pipeline's counters are one snapshot. */
static void
publish_metrics(struct sinks *s, const struct nfs_pipeline *p)
{
    struct nfs_metrics_collector cols[NFS_CONFIG_MAX_COLLECTORS];
    struct nfs_metrics_interface m = {
        .name = "offline", .c = *nfs_pipeline_counters(p), .capturing = true, .collectors = cols};

    if (s->observe == NULL)
        return;
    nfs_loss_file_input(&m.c, s->records, nfs_pipeline_active_flows(p));
    if (s->exporter != NULL) {
        nfs_exporter_get_totals(s->exporter, &m.export);
        for (; m.n_collectors < nfs_exporter_target_count(s->exporter) &&
               m.n_collectors < NFS_CONFIG_MAX_COLLECTORS;
             m.n_collectors++) {
            nfs_exporter_get_stats(s->exporter, m.n_collectors, &cols[m.n_collectors].s);
            cols[m.n_collectors].target = cols[m.n_collectors].s.target;
        }
    }
    nfs_observe_publish(s->observe, &m, 1, NULL, nfs_mono_ms());
}

static bool
close_sinks(struct sinks *s, const struct nfs_pipeline *p)
{
    struct nfs_error err;
    bool ok = !s->failed;

    if (s->failed)
        nfs_log_err("%s", s->err.msg);
    if (!nfs_exporter_stop(s->exporter, &err)) /* drained: the final figures, then freed */
        ok = false, nfs_log_err("%s", err.msg);
    if (p != NULL)
        publish_metrics(s, p);
    nfs_exporter_close(s->exporter, NULL);
    if (p != NULL)
        nfs_observe_linger(s->observe);
    nfs_observe_stop(s->observe);
    if (!nfs_csv_close(s->csv, &err))
        ok = false, nfs_log_err("%s", err.msg);
    nfs_export_view_destroy(s->csv_view);
    return ok;
}

/* On a terminal: packets, flows and share of the input read, twice a second. */
static void
show_progress(const struct nfs_capture *cap, const struct nfs_pipeline *p, bool final)
{
    uint64_t done, total;

    nfs_capture_progress(cap, &done, &total);
    fprintf(stderr, "\r%" PRIu64 " packets, %u active flows, %.0f%% read%s",
            nfs_pipeline_counters(p)->v[NFS_C_PACKETS], nfs_pipeline_active_flows(p),
            total ? 100.0 * (double)done / (double)total : 100.0, final ? "\n" : "");
}

/* Reads every input into the pipeline; false when an input was unreadable or corrupt. */
static bool
read_inputs(const struct nfs_config *cfg, const char *bpf, struct nfs_pipeline *p, struct sinks *s)
{
    struct nfs_error err;
    struct nfs_frame f[256];
    struct nfs_capture *cap =
        nfs_capture_open_files((const char *const *)cfg->inputs, cfg->n_inputs, bpf, &err);
    bool tty = isatty(2), ok = true;
    uint64_t next_progress = 0;
    int rc;

    if (cap == NULL) {
        nfs_log_err("%s", err.msg);
        return false;
    }
    while ((rc = nfs_capture_next_batch(cap, f, (int)NFS_NITEMS(f), &err)) > 0) {
        nfs_pipeline_frames(p, f, (size_t)rc);
        if (nfs_observe_due(s->observe, nfs_mono_ms()))
            publish_metrics(s, p);
        if (tty && nfs_mono_ms() >= next_progress) {
            show_progress(cap, p, false);
            next_progress = nfs_mono_ms() + 500;
        }
    }
    if (tty)
        show_progress(cap, p, true);
    if (rc < 0) {
        nfs_log_err("%s", err.msg);
        ok = false;
    }
    nfs_capture_close(cap);
    return ok;
}

int
nfs_offline_run(const struct nfs_config *cfg, const char *bpf)
{
    struct nfs_pipeline_options po = {
        .flows = cfg->flows,
        .decode = cfg->decode,
        .plugins = cfg->plugin_set,
        .index = 0,
    };
    struct sinks sinks = {0};
    struct nfs_pipeline *p;
    struct nfs_error err;
    bool input_ok, output_ok, failed;

    sinks.observe = nfs_observe_start(cfg, &failed);
    if (failed || !open_sinks(cfg, &sinks)) {
        close_sinks(&sinks, NULL);
        return 1;
    }
    p = nfs_pipeline_create(&po, emit_record, &sinks, &err);
    if (p == NULL) {
        nfs_log_err("%s", err.msg);
        close_sinks(&sinks, NULL);
        return 1;
    }
    input_ok = read_inputs(cfg, bpf, p, &sinks);
    nfs_pipeline_flush(p);
    report_metering(&sinks, nfs_pipeline_counters(p));
    output_ok = close_sinks(&sinks, p);
    nfs_pipeline_destroy(p);
    return input_ok && output_ok ? 0 : 1;
}
