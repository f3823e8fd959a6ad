/*
 * plugin_set.c: see plugin_set.h.
 *
 * Layout: plugin i's state starts state_off[i] bytes after the flow, its values values_off[i]
 * bytes into the values block; both rounded up to 8 so plugins may keep doubles and uint64s.
 * The sizes and fields are the plugin's shape under its conf (the shape hook's, if it has one),
 * fixed when the plugin is added.
 */
#include "plugin_set.h"

#include <stdlib.h>

#include "flow_table.h"

struct entry {
    const struct nfs_plugin *plugin;
    void *conf;
    struct nfs_plugin_shape shape;
    size_t state_off, values_off;
};

struct nfs_plugin_set {
    struct entry entries[NFS_MAX_PLUGINS];
    size_t n;
    struct nfs_field_group groups[NFS_MAX_PLUGINS + 1];
    size_t state_size, values_size;
};

struct nfs_plugin_run {
    const struct nfs_plugin_set *set;
    void *ctx[NFS_MAX_PLUGINS];
    size_t n_setup;
};

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

struct nfs_plugin_set *
nfs_plugin_set_create(void)
{
    struct nfs_plugin_set *s = calloc(1, sizeof(*s));

    if (s != NULL)
        s->groups[0] = (struct nfs_field_group){nfs_core_fields, nfs_core_fields_count};
    return s;
}

void
nfs_plugin_set_destroy(struct nfs_plugin_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].conf);
        free(s->entries[i].shape.owned);
    }
    free(s);
}

static bool
same_text(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The field of the set that f would clash with, or NULL. */
static const struct nfs_field *
clash(const struct nfs_plugin_set *s, const struct nfs_field *f)
{
    for (size_t g = 0; g <= s->n; g++) {
        for (size_t i = 0; i < s->groups[g].n_fields; i++) {
            const struct nfs_field *o = &s->groups[g].fields[i];

            if ((f->id != 0 && o->id == f->id && o->pen == f->pen) || same_text(o->name, f->name) ||
                same_text(o->csv, f->csv))
                return o;
        }
    }
    return NULL;
}

static bool
check_fields(const struct nfs_plugin_set *s, const struct nfs_plugin *p,
             const struct nfs_plugin_shape *sh, struct nfs_error *err)
{
    for (size_t i = 0; i < sh->n_fields; i++) {
        const struct nfs_field *f = &sh->fields[i], *o = clash(s, f);

        if (o != NULL) {
            nfs_error_set(err, "plugin %s: field %s (id %u) clashes with %s (id %u)", p->name,
                          f->name, f->id, o->name, o->id);
            return false;
        }
        if ((size_t)f->offset + f->size > sh->values_size) {
            nfs_error_set(err, "plugin %s: field %s lies outside its values (%zu bytes)",
                          p->name, f->name, sh->values_size);
            return false;
        }
    }
    return true;
}

/* p's shape under conf: the static one, then the shape hook's; false when the hook refuses. */
static bool
shape_of(const struct nfs_plugin *p, const void *conf, struct nfs_plugin_shape *sh,
         struct nfs_error *err)
{
    struct nfs_error why;

    *sh = (struct nfs_plugin_shape){p->fields, p->n_fields, p->values_size, p->flow_state_size,
                                    NULL};
    if (p->shape == NULL || p->shape(conf, sh, &why))
        return true;
    free(sh->owned);
    sh->owned = NULL;
    nfs_error_set(err, "plugin %s: %s", p->name, why.msg);
    return false;
}

static bool
check_new(const struct nfs_plugin_set *s, const struct nfs_plugin *p, struct nfs_error *err)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->entries[i].plugin->name, p->name) == 0) {
            nfs_error_set(err, "plugin %s is enabled twice", p->name);
            return false;
        }
    }
    if (s->n == NFS_MAX_PLUGINS) {
        nfs_error_set(err, "plugin %s: at most %d plugins", p->name, NFS_MAX_PLUGINS);
        return false;
    }
    return true;
}

bool
nfs_plugin_set_add(struct nfs_plugin_set *s, const struct nfs_plugin *p, const void *conf,
                   struct nfs_error *err)
{
    struct entry *e;

    if (!check_new(s, p, err))
        return false;
    e = &s->entries[s->n];
    e->conf = calloc(1, p->conf_size ? p->conf_size : 1);
    if (e->conf == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    if (conf != NULL && p->conf_size)
        memcpy(e->conf, conf, p->conf_size);
    if (!shape_of(p, e->conf, &e->shape, err) || !check_fields(s, p, &e->shape, err)) {
        free(e->shape.owned);
        free(e->conf);
        memset(e, 0, sizeof(*e));
        return false;
    }
    e->plugin = p;
    e->state_off = s->state_size;
    e->values_off = s->values_size;
    s->state_size += align8(e->shape.flow_state_size);
    s->values_size += align8(e->shape.values_size);
    s->n++;
    s->groups[s->n] = (struct nfs_field_group){e->shape.fields, e->shape.n_fields};
    return true;
}

size_t
nfs_plugin_set_count(const struct nfs_plugin_set *s)
{
    return s->n;
}

const struct nfs_plugin *
nfs_plugin_set_plugin(const struct nfs_plugin_set *s, size_t i)
{
    return i < s->n ? s->entries[i].plugin : NULL;
}

const struct nfs_field_group *
nfs_plugin_set_groups(const struct nfs_plugin_set *s)
{
    return s->groups;
}

size_t
nfs_plugin_set_state_size(const struct nfs_plugin_set *s)
{
    return s->state_size;
}

size_t
nfs_plugin_set_values_size(const struct nfs_plugin_set *s)
{
    return s->values_size;
}

struct nfs_plugin_run *
nfs_plugin_run_create(const struct nfs_plugin_set *s, const struct nfs_plugin_env *env,
                      struct nfs_error *err)
{
    struct nfs_plugin_run *r = calloc(1, sizeof(*r));
    struct nfs_error why;

    if (r == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    r->set = s;
    for (; r->n_setup < s->n; r->n_setup++) {
        const struct entry *e = &s->entries[r->n_setup];

        if (e->plugin->setup && !e->plugin->setup(&r->ctx[r->n_setup], e->conf, env, &why)) {
            nfs_error_set(err, "plugin %s: %s", e->plugin->name, why.msg);
            nfs_plugin_run_destroy(r);
            return NULL;
        }
    }
    return r;
}

void
nfs_plugin_run_destroy(struct nfs_plugin_run *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_setup; i++)
        if (r->set->entries[i].plugin->teardown)
            r->set->entries[i].plugin->teardown(r->ctx[i]);
    free(r);
}

bool
nfs_plugin_run_packet(struct nfs_plugin_run *r, struct nfs_flow *flow,
                      const struct nfs_observation *obs)
{
    const struct nfs_plugin_set *s = r->set;
    uint8_t *state = nfs_flow_state(flow);
    bool first = flow->dir[0].packets + flow->dir[1].packets == 1;
    bool expire = false;

    for (size_t i = 0; i < s->n; i++) {
        const struct nfs_plugin *p = s->entries[i].plugin;
        enum nfs_verdict v = NFS_CONTINUE;

        if (flow->plugins_done & (1u << i))
            continue;
        if (first && p->on_init)
            v = p->on_init(r->ctx[i], state + s->entries[i].state_off, flow, obs);
        else if (!first && p->on_update)
            v = p->on_update(r->ctx[i], state + s->entries[i].state_off, flow, obs);
        if (v == NFS_DONE)
            flow->plugins_done |= 1u << i;
        expire |= v == NFS_EXPIRE;
    }
    return expire;
}

void
nfs_plugin_run_expire(struct nfs_plugin_run *r, const struct nfs_flow *flow, uint8_t *values,
                      const void **groups)
{
    const struct nfs_plugin_set *s = r->set;
    uint8_t *state = nfs_flow_state(flow);

    memset(values, 0, s->values_size);
    for (size_t i = 0; i < s->n; i++) {
        const struct entry *e = &s->entries[i];

        groups[1 + i] = values + e->values_off;
        if (e->plugin->on_expire)
            e->plugin->on_expire(r->ctx[i], state + e->state_off, flow, values + e->values_off);
    }
}
