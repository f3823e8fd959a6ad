/*
 * export_no_types.c: test helper for test_elements.py. Meters a capture with every built-in
 * plugin that starts on its default options and writes the records as an IPFIX file WITHOUT
 * RFC 5610 type records (the exporter's rfc5610 option off), so that a collector can name the
 * enterprise elements only from the generated element file.
 *
 *   export_no_types PCAP OUT.ipfix        prints the plugins it used, one per line
 */
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"
#include "exporter.h"
#include "pipeline.h"
#include "plugin_set.h"

struct sink {
    struct nfs_exporter *exp;
    bool failed;
    struct nfs_error err;
};

static void
emit(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    struct sink *s = ctx;

    if (!s->failed && !nfs_exporter_export_values(s->exp, rec->ip_version, groups, &s->err))
        s->failed = true;
}

/* True when p, alone with its defaults, can be set up (some need files their options name). */
static bool
starts(const struct nfs_plugin *p, const void *conf, const struct nfs_plugin_env *env)
{
    struct nfs_plugin_set *one = nfs_plugin_set_create();
    struct nfs_plugin_run *run = NULL;
    struct nfs_error err;

    if (one != NULL && nfs_plugin_set_add(one, p, conf, &err))
        run = nfs_plugin_run_create(one, env, &err);
    nfs_plugin_run_destroy(run);
    nfs_plugin_set_destroy(one);
    return run != NULL;
}

static struct nfs_plugin_set *
startable_builtins(const struct nfs_pipeline_options *opt)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct nfs_plugin_env env = {.flows = &opt->flows};
    struct nfs_error err;

    for (size_t i = 0; nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        void *conf = calloc(1, p->conf_size ? p->conf_size : 1);

        if (conf != NULL && nfs_plugin_conf_defaults(p, conf, &err) && starts(p, conf, &env) &&
            nfs_plugin_set_add(set, p, conf, &err))
            printf("%s\n", p->name);
        free(conf);
    }
    return set;
}

static bool
meter(const char *pcap, struct nfs_pipeline *p, struct nfs_error *err)
{
    struct nfs_capture *cap = nfs_capture_open_files(&pcap, 1, NULL, err);
    struct nfs_frame f;
    int rc;

    if (cap == NULL)
        return false;
    while ((rc = nfs_capture_next(cap, &f, err)) == 1)
        nfs_pipeline_packet(p, f.dlt, f.ts_us, f.cap_len, f.wire_len, f.data);
    nfs_capture_close(cap);
    nfs_pipeline_flush(p);
    return rc == 0;
}

int
main(int argc, char **argv)
{
    struct nfs_pipeline_options popt;
    struct nfs_exporter_options eopt;
    struct sink sink = {0};
    struct nfs_pipeline *p = NULL;
    struct nfs_plugin_set *set;
    struct nfs_error err;
    bool ok;

    if (argc != 3) {
        fprintf(stderr, "usage: export_no_types PCAP OUT.ipfix\n");
        return 64;
    }
    nfs_pipeline_options_default(&popt, false);
    set = startable_builtins(&popt);
    popt.plugins = set;
    nfs_exporter_options_default(&eopt);
    eopt.rfc5610 = false;
    eopt.groups = nfs_plugin_set_groups(set);
    eopt.n_groups = nfs_plugin_set_count(set) + 1;
    ok = (sink.exp = nfs_exporter_create(&eopt, &err)) != NULL &&
         nfs_exporter_add(sink.exp, argv[2], &err) &&
         (p = nfs_pipeline_create(&popt, emit, &sink, &err)) != NULL && meter(argv[1], p, &err);
    nfs_pipeline_destroy(p);
    if (sink.failed)
        ok = false, err = sink.err;
    if (!nfs_exporter_close(sink.exp, ok ? &err : &(struct nfs_error){{0}}))
        ok = false;
    nfs_plugin_set_destroy(set);
    if (!ok)
        fprintf(stderr, "export_no_types: %s\n", err.msg);
    return ok ? 0 : 1;
}
