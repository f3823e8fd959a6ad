/*
 * test_plugin_harness.h: one flow driven through a plugin set without a flow table, for the
 * built-in plugins' unit tests. Packets are counted into the flow by nfs_flow_update, as the
 * table does, then given to the plugins; the flow's values are read back by CSV column, as
 * text (nfs_field_format) or as a number.
 */
#ifndef NFS_TEST_PLUGIN_HARNESS_H
#define NFS_TEST_PLUGIN_HARNESS_H

#include <stdlib.h>

#include "packets.h"
#include "plugin_set.h"

struct harness {
    struct nfs_plugin_set *set;
    struct nfs_plugin_run *run;
    struct nfs_flow_options opt;
    struct {
        struct nfs_flow flow;
        uint64_t state[2048]; /* the plugins' state, right after the flow as in the table */
    } slot;
    uint8_t values[16384];
    const void *groups[NFS_MAX_PLUGINS + 1];
};

/* Starts h with plugin `name` (built in) and conf (NULL: defaults); false with err. */
static inline bool
harness_start(struct harness *h, const char *name, const void *conf, struct nfs_error *err)
{
    const struct nfs_plugin *p = nfs_plugin_find(name);
    struct nfs_plugin_env env = {.flows = &h->opt, .pipeline_index = 0};
    struct nfs_flow_key key;
    uint8_t defaults[1024] = {0};

    memset(h, 0, sizeof(*h));
    nfs_flow_options_default(&h->opt);
    nfs_flow_options_nfstream(&h->opt);
    if (p == NULL || (conf == NULL && !nfs_plugin_conf_defaults(p, defaults, err)))
        return false;
    h->set = nfs_plugin_set_create();
    if (!nfs_plugin_set_add(h->set, p, conf != NULL ? conf : defaults, err))
        return false;
    h->run = nfs_plugin_run_create(h->set, &env, err);
    memset(&key, 0, sizeof(key));
    nfs_flow_init(&h->slot.flow, &key, 0);
    return h->run != NULL;
}

static inline void
harness_stop(struct harness *h)
{
    nfs_plugin_run_destroy(h->run);
    nfs_plugin_set_destroy(h->set);
}

/* One packet of `len` wire bytes at t_ms; reply: from the flow's dst. */
static inline void
harness_packet(struct harness *h, uint64_t t_ms, uint32_t len, bool reply, uint8_t tcp_flags)
{
    struct nfs_packet pkt = reply ? pkt4(IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 1000, 6, t_ms,
                                         len, tcp_flags)
                                  : pkt4(IP(10, 0, 0, 1), 1000, IP(10, 0, 0, 2), 80, 6, t_ms,
                                         len, tcp_flags);
    struct nfs_observation obs;

    nfs_flow_update(&h->slot.flow, &pkt, reply, &h->opt, &obs);
    nfs_plugin_run_packet(h->run, &h->slot.flow, &obs);
}

/* Ends the flow: the plugins fill their values. */
static inline void
harness_expire(struct harness *h)
{
    nfs_plugin_run_expire(h->run, &h->slot.flow, h->values, h->groups);
}

static inline const struct nfs_field *
harness_field(const struct harness *h, const char *csv)
{
    const struct nfs_field_group *g = &nfs_plugin_set_groups(h->set)[1];

    for (size_t i = 0; i < g->n_fields; i++)
        if (g->fields[i].csv != NULL && strcmp(g->fields[i].csv, csv) == 0)
            return &g->fields[i];
    fprintf(stderr, "no column %s\n", csv);
    abort();
}

/* The value of CSV column `csv` as the CSV writes it (static buffer, one at a time). */
static inline const char *
harness_text(const struct harness *h, const char *csv)
{
    static char buf[NFS_FIELD_TEXT_MAX];

    return nfs_field_format(harness_field(h, csv), h->groups[1], buf, sizeof(buf));
}

static inline double
harness_number(const struct harness *h, const char *csv)
{
    return strtod(harness_text(h, csv), NULL);
}

#endif
