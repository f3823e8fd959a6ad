/*
 * stall_plugin.c: an external plugin for test_live_watchdog.py: a hook that hangs.
 *
 * The pipeline that meters a packet of exactly `wire_len` bytes on the wire sleeps `seconds`
 * in on_init, as a plugin stuck in a lock or a model would; the daemon must then stop feeding
 * the systemd watchdog, and feed it again when the pipeline moves.
 */
#include <time.h>

#include "plugin.h"

struct stall_conf {
    uint64_t wire_len;
    uint64_t seconds;
};

static const struct nfs_option stall_options[] = {
    {"wire_len", NFS_OPT_UINT, NFS_OPTION_AT(struct stall_conf, wire_len), 1, 65535, "1111",
     "stall on a packet of this many bytes on the wire"},
    {"seconds", NFS_OPT_UINT, NFS_OPTION_AT(struct stall_conf, seconds), 1, 60, "4",
     "for this long"},
};

static bool
stall_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    (void)env;
    (void)err;
    *ctx = (void *)conf;
    return true;
}

static enum nfs_verdict
stall_packet(void *ctx, void *state, const struct nfs_flow *flow, const struct nfs_observation *obs)
{
    const struct stall_conf *conf = ctx;

    (void)state;
    (void)flow;
    if (obs->pkt->wire_len == conf->wire_len)
        nanosleep(&(struct timespec){(time_t)conf->seconds, 0}, NULL);
    return NFS_CONTINUE;
}

const struct nfs_plugin nfs_plugin_entry = {
    .name = "stall",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "sleeps in on_init on a packet of a given size (test_live_watchdog)",
    .options = stall_options,
    .n_options = NFS_NITEMS(stall_options),
    .conf_size = sizeof(struct stall_conf),
    .setup = stall_setup,
    .on_init = stall_packet,
};
