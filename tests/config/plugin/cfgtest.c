/*
 * cfgtest.c: an external plugin for the configuration tests, with an option of every type.
 *
 * Built twice as a .so: cfgtest, and cfgclash (-DCLASH), whose field has cfgtest's IPFIX name,
 * so enabling both is a field clash. The option "model" is required, and setup fails when it
 * is "fail", so a configuration error only setup can find shows at the plugin's entry.
 * The plugin never meters anything.
 */
#include <stdio.h>

#include "plugin.h"

#ifdef CLASH
#define NAME "cfgclash"
#else
#define NAME "cfgtest"
#endif

struct conf {
    uint64_t packets;
    uint64_t wait_ms;
    uint64_t spool;
    bool flag;
    char label[16];
    char model[64];
};

struct values {
    uint64_t packets;
};

static const struct nfs_option options[] = {
    {"packets", NFS_OPT_UINT, offsetof(struct conf, packets), 1, 64, "10", "packets to look at"},
    {"wait", NFS_OPT_DURATION, offsetof(struct conf, wait_ms), 0, 3600 * 1000, "2m", "a wait"},
    {"spool", NFS_OPT_SIZE, offsetof(struct conf, spool), 0, 1u << 30, "64MiB", "a size"},
    {"flag", NFS_OPT_BOOL, offsetof(struct conf, flag), 0, 1, "false", "a switch"},
    {"label", NFS_OPT_STRING, offsetof(struct conf, label), 0, sizeof(((struct conf *)0)->label),
     "", "a short string"},
#ifndef CLASH
    {"model", NFS_OPT_PATH, offsetof(struct conf, model), 0, sizeof(((struct conf *)0)->model),
     NULL, "a file (required); \"fail\" makes setup fail"},
#endif
};

static const struct nfs_field fields[] = {
    {"cfgtestPackets", NFS_PEN_OWN, 1990, NFS_T_U64, offsetof(struct values, packets), 8,
     NAME "_packets", 0, "packets (config tests)"},
};

static bool
setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    const struct conf *c = conf;

    (void)env;
    if (strcmp(c->model, "fail") == 0) {
        snprintf(err->msg, sizeof(err->msg), "cannot open model \"%s\"", c->model);
        return false;
    }
    *ctx = NULL;
    return true;
}

const struct nfs_plugin nfs_plugin_entry = {
    .name = NAME,
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "configuration tests",
    .options = options,
    .n_options = NFS_NITEMS(options),
    .conf_size = sizeof(struct conf),
    .fields = fields,
    .n_fields = NFS_NITEMS(fields),
    .values_size = sizeof(struct values),
    .setup = setup,
};
