/*
 * nfsensord.c: the process: command line, wiring of capture -> pipeline -> sinks, exit codes.
 *
 * Offline mode (--read) is the interface scripts rely on: every file is read in order as one
 * stream, every flow is flushed at the end, and the exit code says whether all input was read.
 * Exit codes: 0 success, 1 unreadable or corrupt input or a failed sink (every flow built
 * before the failure is still exported), 64 bad usage, 78 (EX_CONFIG) bad option values.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "csv.h"
#include "exporter.h"
#include "fields.h"
#include "log.h"
#include "pipeline.h"
#include "plugin_set.h"

#define EX_USAGE 64
#define MAX_INPUTS 4096
#define MAX_COLLECTORS 16

struct options {
    const char *reads[MAX_INPUTS];
    size_t n_reads;
    const char *write_path;
    const char *csv_path;
    const char *collectors[MAX_COLLECTORS];
    size_t n_collectors;
    const char *bpf;
    const char *plugins[NFS_MAX_PLUGINS];
    size_t n_plugins;
    bool nfstream;
    struct nfs_pipeline_options pipeline;
    struct nfs_exporter_options exporter;
};

/* The sinks every ended flow goes to. */
struct sinks {
    struct nfs_exporter *exporter;
    struct nfs_csv *csv;
    uint64_t records;
    bool failed;
    struct nfs_error err;
};

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: nfsensord --read FILE [--read FILE ...] [--write OUT.ipfix|-] [--csv OUT.csv]\n"
            "                 [--collector udp://HOST:PORT|tcp://HOST:PORT ...] [--profile nfstream]\n"
            "options:\n"
            "  --read FILE             pcap or pcapng file; several are one continuous stream\n"
            "  --write FILE            RFC 5655 IPFIX file (- for stdout)\n"
            "  --csv FILE              flows as CSV with NFStream's columns (- for stdout)\n"
            "  --collector URL         export IPFIX over udp:// or tcp:// (repeatable)\n"
            "  --profile NAME          default, or nfstream: NFStream's behaviour throughout\n"
            "  --idle-timeout SEC      end a flow after SEC seconds without packets [120]\n"
            "  --active-timeout SEC    cut a flow older than SEC seconds [1800]\n"
            "  --accounting-mode N     bytes counted: 0 raw, 1 IP, 2 transport, 3 payload [0]\n"
            "  --max-flows N           flow table size; the least recent flow is evicted [1000000]\n"
            "  --bpf EXPR              capture filter, also applied to files\n"
            "  --no-tunnels            do not decode GTP-U, CAPWAP, TZSP\n"
            "  --plugin NAME           enable a built-in plugin with its defaults (repeatable)\n"
            "  --observation-domain N  IPFIX observation domain id [1]\n"
            "  --enterprise-number N   PEN of nfsensor's own IPFIX elements [32473]\n"
            "  --list-fields           print every exported field and exit\n"
            "  --version, --help\n");
}

/* Parses an unsigned number within [min, max] for option `name`; false with a message. */
static bool
parse_uint(const char *name, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
        nfs_log_err("--%s: expected a whole number from %" PRIu64 " to %" PRIu64 ", got \"%s\"",
                    name, min, max, text);
        return false;
    }
    *out = v;
    return true;
}

enum {
    OPT_READ = 'r',
    OPT_WRITE = 'w',
    OPT_HELP = 'h',
    OPT_CSV = 256,
    OPT_COLLECTOR,
    OPT_PROFILE,
    OPT_IDLE,
    OPT_ACTIVE,
    OPT_ACCOUNTING,
    OPT_MAX_FLOWS,
    OPT_BPF,
    OPT_NO_TUNNELS,
    OPT_PLUGIN,
    OPT_DOMAIN,
    OPT_PEN,
    OPT_LIST_FIELDS,
    OPT_VERSION,
};

static const struct option long_options[] = {
    {"read", required_argument, NULL, OPT_READ},
    {"write", required_argument, NULL, OPT_WRITE},
    {"csv", required_argument, NULL, OPT_CSV},
    {"collector", required_argument, NULL, OPT_COLLECTOR},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"active-timeout", required_argument, NULL, OPT_ACTIVE},
    {"accounting-mode", required_argument, NULL, OPT_ACCOUNTING},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"bpf", required_argument, NULL, OPT_BPF},
    {"no-tunnels", no_argument, NULL, OPT_NO_TUNNELS},
    {"plugin", required_argument, NULL, OPT_PLUGIN},
    {"observation-domain", required_argument, NULL, OPT_DOMAIN},
    {"enterprise-number", required_argument, NULL, OPT_PEN},
    {"list-fields", no_argument, NULL, OPT_LIST_FIELDS},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* The field table as Markdown: docs/fields.md is this output, and a test keeps them equal. */
static void
list_fields(void)
{
    printf("# Exported fields\n\n"
           "Generated by `nfsensord --list-fields` from the field table (lib/fields.c); do not "
           "edit.\nPEN \"own\" is `--enterprise-number` (default %u); \"-\": CSV only.\n\n"
           "| IPFIX name | PEN | id | CSV column | description |\n|---|---|---|---|---|\n",
           NFS_PEN_DEFAULT);
    for (size_t i = 0; i < nfs_core_fields_count; i++) {
        const struct nfs_field *f = &nfs_core_fields[i];
        char pen[16] = "-", id[8] = "-";

        if (f->id != 0) {
            snprintf(id, sizeof(id), "%u", f->id);
            if (f->pen == NFS_PEN_OWN)
                snprintf(pen, sizeof(pen), "own");
            else
                snprintf(pen, sizeof(pen), "%u", f->pen);
        }
        printf("| %s | %s | %s | %s | %s |\n", f->name, pen, id, f->csv ? f->csv : "-", f->doc);
    }
}

/* Applies the profile first so that explicit options given in any order win over it. */
static int
parse_profile(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;

        if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
            v = argv[i + 1];
        else if (strncmp(argv[i], "--profile=", 10) == 0)
            v = argv[i] + 10;
        if (v == NULL)
            continue;
        if (strcmp(v, "nfstream") != 0 && strcmp(v, "default") != 0) {
            nfs_log_err("--profile: expected default or nfstream, got \"%s\"", v);
            return NFS_EX_CONFIG;
        }
        o->nfstream = strcmp(v, "nfstream") == 0;
    }
    nfs_pipeline_options_default(&o->pipeline, o->nfstream);
    nfs_exporter_options_default(&o->exporter);
    return 0;
}

/* Returns 0 to run, -1 to exit 0 (help, version, list), or an exit code. */
static int
parse_options(int argc, char **argv, struct options *o)
{
    struct nfs_flow_options *fo = &o->pipeline.flows;
    uint64_t v;
    int c, rc;

    if ((rc = parse_profile(argc, argv, o)) != 0)
        return rc;
    while ((c = getopt_long(argc, argv, "r:w:h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_READ:
            if (o->n_reads == MAX_INPUTS)
                return nfs_log_err("--read: at most %d files", MAX_INPUTS), EX_USAGE;
            o->reads[o->n_reads++] = optarg;
            break;
        case OPT_WRITE:
            o->write_path = optarg;
            break;
        case OPT_CSV:
            o->csv_path = optarg;
            break;
        case OPT_COLLECTOR:
            if (o->n_collectors == MAX_COLLECTORS)
                return nfs_log_err("--collector: at most %d", MAX_COLLECTORS), EX_USAGE;
            o->collectors[o->n_collectors++] = optarg;
            break;
        case OPT_PROFILE:
            break; /* applied by parse_profile() */
        case OPT_IDLE:
            if (!parse_uint("idle-timeout", optarg, 0, 86400 * 365, &v))
                return NFS_EX_CONFIG;
            fo->idle_timeout_ms = v * 1000;
            break;
        case OPT_ACTIVE:
            if (!parse_uint("active-timeout", optarg, 0, 86400 * 365, &v))
                return NFS_EX_CONFIG;
            fo->active_timeout_ms = v * 1000;
            break;
        case OPT_ACCOUNTING:
            if (!parse_uint("accounting-mode", optarg, 0, 3, &v))
                return NFS_EX_CONFIG;
            fo->accounting = (enum nfs_accounting)v;
            break;
        case OPT_MAX_FLOWS:
            if (!parse_uint("max-flows", optarg, 1, 100000000, &v))
                return NFS_EX_CONFIG;
            fo->max_flows = (uint32_t)v;
            break;
        case OPT_BPF:
            o->bpf = optarg;
            break;
        case OPT_NO_TUNNELS:
            o->pipeline.decode.decode_tunnels = false;
            break;
        case OPT_PLUGIN:
            if (o->n_plugins == NFS_MAX_PLUGINS)
                return nfs_log_err("--plugin: at most %d", NFS_MAX_PLUGINS), EX_USAGE;
            o->plugins[o->n_plugins++] = optarg;
            break;
        case OPT_DOMAIN:
            if (!parse_uint("observation-domain", optarg, 0, UINT32_MAX, &v))
                return NFS_EX_CONFIG;
            o->exporter.observation_domain = (uint32_t)v;
            break;
        case OPT_PEN:
            if (!parse_uint("enterprise-number", optarg, 1, UINT32_MAX - 1, &v))
                return NFS_EX_CONFIG;
            o->exporter.enterprise_number = (uint32_t)v;
            break;
        case OPT_LIST_FIELDS:
            list_fields();
            return -1;
        case OPT_VERSION:
            printf("nfsensord %s\n", NFS_VERSION);
            return -1;
        case OPT_HELP:
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        nfs_log_err("unexpected argument \"%s\"", argv[optind]);
        return EX_USAGE;
    }
    if (o->n_reads == 0) {
        nfs_log_err("nothing to read: give --read FILE (live capture comes with --config)");
        usage(stderr);
        return EX_USAGE;
    }
    if (o->write_path == NULL && o->csv_path == NULL && o->n_collectors == 0) {
        nfs_log_err("no output: give --write, --csv or --collector");
        return EX_USAGE;
    }
    return 0;
}

/* Builds the plugin set of the --plugin options; NULL with a message when one is unknown. */
static struct nfs_plugin_set *
make_plugins(const struct options *o)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct nfs_error err;
    uint8_t conf[4096];

    for (size_t i = 0; set && i < o->n_plugins; i++) {
        const struct nfs_plugin *p = nfs_plugin_find(o->plugins[i]);

        if (p == NULL || p->conf_size > sizeof(conf)) {
            nfs_log_err("--plugin: unknown plugin \"%s\"", o->plugins[i]);
            nfs_plugin_set_destroy(set);
            return NULL;
        }
        memset(conf, 0, sizeof(conf));
        if (!nfs_plugin_conf_defaults(p, conf, &err) || !nfs_plugin_set_add(set, p, conf, &err)) {
            nfs_log_err("%s", err.msg);
            nfs_plugin_set_destroy(set);
            return NULL;
        }
    }
    return set;
}

static void
emit_record(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    struct sinks *s = ctx;

    if (s->failed)
        return;
    if ((s->exporter &&
         !nfs_exporter_export_values(s->exporter, rec->ip_version, groups, &s->err)) ||
        (s->csv && !nfs_csv_write(s->csv, rec->ip_version, groups, &s->err))) {
        s->failed = true;
        return;
    }
    s->records++;
}

static bool
open_sinks(struct options *o, const struct nfs_plugin_set *plugins, struct sinks *s)
{
    const struct nfs_field_group *groups = nfs_plugin_set_groups(plugins);
    size_t n_groups = nfs_plugin_set_count(plugins) + 1;
    struct nfs_error err;

    o->exporter.groups = groups;
    o->exporter.n_groups = n_groups;
    if (o->write_path || o->n_collectors) {
        s->exporter = nfs_exporter_create(&o->exporter, &err);
        if (s->exporter == NULL)
            return nfs_log_err("%s", err.msg), false;
    }
    if (o->write_path && !nfs_exporter_add(s->exporter, o->write_path, &err))
        return nfs_log_err("%s", err.msg), false;
    for (size_t i = 0; i < o->n_collectors; i++)
        if (!nfs_exporter_add(s->exporter, o->collectors[i], &err))
            return nfs_log_err("%s", err.msg), false;
    if (o->csv_path && (s->csv = nfs_csv_open(o->csv_path, groups, n_groups, &err)) == NULL)
        return nfs_log_err("%s", err.msg), false;
    return true;
}

static bool
close_sinks(struct sinks *s)
{
    struct nfs_error err;
    bool ok = !s->failed;

    if (s->failed)
        nfs_log_err("%s", s->err.msg);
    if (!nfs_exporter_close(s->exporter, &err))
        ok = false, nfs_log_err("%s", err.msg);
    if (!nfs_csv_close(s->csv, &err))
        ok = false, nfs_log_err("%s", err.msg);
    return ok;
}

static uint64_t
monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
read_inputs(const struct options *o, struct nfs_pipeline *p)
{
    struct nfs_error err;
    struct nfs_frame f[256];
    struct nfs_capture *cap = nfs_capture_open_files(o->reads, o->n_reads, o->bpf, &err);
    bool tty = isatty(2), ok = true;
    uint64_t next_progress = 0;
    int rc;

    if (cap == NULL) {
        nfs_log_err("%s", err.msg);
        return false;
    }
    while ((rc = nfs_capture_next_batch(cap, f, (int)NFS_NITEMS(f), &err)) > 0) {
        nfs_pipeline_frames(p, f, (size_t)rc);
        if (tty && monotonic_ms() >= next_progress) {
            show_progress(cap, p, false);
            next_progress = monotonic_ms() + 500;
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
main(int argc, char **argv)
{
    struct options o = {0};
    struct sinks sinks = {0};
    struct nfs_plugin_set *plugins;
    struct nfs_pipeline *p;
    struct nfs_error err;
    bool input_ok, output_ok;
    int rc;

    nfs_log_init("nfsensord", NFS_LOG_INFO);
    /* A collector that closes its TCP connection must give an error, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    if ((rc = parse_options(argc, argv, &o)) != 0)
        return rc < 0 ? 0 : rc;
    if ((plugins = make_plugins(&o)) == NULL)
        return NFS_EX_CONFIG;
    o.pipeline.plugins = plugins;
    if (!open_sinks(&o, plugins, &sinks)) {
        close_sinks(&sinks);
        nfs_plugin_set_destroy(plugins);
        return 1;
    }
    p = nfs_pipeline_create(&o.pipeline, emit_record, &sinks, &err);
    if (p == NULL) {
        nfs_log_err("%s", err.msg);
        close_sinks(&sinks);
        nfs_plugin_set_destroy(plugins);
        return 1;
    }
    input_ok = read_inputs(&o, p);
    nfs_pipeline_flush(p);
    nfs_pipeline_destroy(p);
    output_ok = close_sinks(&sinks);
    nfs_plugin_set_destroy(plugins);
    return input_ok && output_ok ? 0 : 1;
}
