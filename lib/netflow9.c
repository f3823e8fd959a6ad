/*
 * netflow9.c: see netflow9.h.
 *
 * Values are written as IPFIX writes fixed-size ones (nfs_ipfix_put_fixed, ipfix.c): big-endian
 * at their field's wire size, addresses and MACs as the bytes they are. The
 * times are IPFIX's flowStartMilliseconds/flowEndMilliseconds (152/153, absolute), which
 * nfdump, tshark and pmacct read in v9 templates too: v9's own FIRST_SWITCHED/LAST_SWITCHED
 * count from the exporter's boot and cannot hold the times of a capture read offline.
 */
#include "netflow9.h"

#include <stdlib.h>

#include "ipfix.h"

struct v9_template {
    const struct nfs_field **fields;
    size_t *group;
    size_t n;
    uint8_t *tmpl; /* the wire template record */
    size_t tmpl_len, rec_len;
};

struct nfs_netflow9 {
    struct v9_template t[2]; /* IPv4, IPv6 */
    uint8_t *rec;
    size_t rec_cap;
};

static bool
carried(const struct nfs_field *f, struct nfs_error *err)
{
    if (f->type == NFS_T_STRING || f->type == NFS_T_OUI || nfs_field_is_list(f) ||
        f->type == NFS_T_DOUBLE || f->pen != NFS_PEN_IANA) {
        nfs_error_set(err, "field %s: NetFlow v9 cannot carry it", f->name);
        return false;
    }
    return true;
}

static bool
build(struct v9_template *t, const struct nfs_field_group *groups, size_t n_groups,
      unsigned ip_version, struct nfs_error *err)
{
    size_t n = 0, off = 4;

    for (size_t g = 0; g < n_groups; g++)
        n += groups[g].n_fields;
    t->fields = calloc(n + 1, sizeof(*t->fields));
    t->group = calloc(n + 1, sizeof(*t->group));
    t->tmpl = malloc(4 + 4 * n);
    if (t->fields == NULL || t->group == NULL || t->tmpl == NULL)
        return nfs_error_set(err, "out of memory"), false;
    for (size_t g = 0; g < n_groups; g++)
        for (size_t i = 0; i < groups[g].n_fields; i++) {
            const struct nfs_field *f = &groups[g].fields[i];

            if (f->id == 0 || !nfs_field_applies(f, ip_version))
                continue;
            if (!carried(f, err))
                return false;
            t->fields[t->n] = f;
            t->group[t->n++] = g;
            nfs_put_be16(t->tmpl + off, f->id);
            nfs_put_be16(t->tmpl + off + 2, nfs_field_wire_size(f));
            off += 4;
            t->rec_len += nfs_field_wire_size(f);
        }
    if (t->n == 0)
        return nfs_error_set(err, "NetFlow v9 IPv%u template: no fields", ip_version), false;
    nfs_put_be16(t->tmpl, nfs_ipfix_template_id(ip_version));
    nfs_put_be16(t->tmpl + 2, (uint16_t)t->n);
    t->tmpl_len = off;
    return true;
}

struct nfs_netflow9 *
nfs_netflow9_create(const struct nfs_field_group *groups, size_t n_groups, struct nfs_error *err)
{
    struct nfs_netflow9 *e = calloc(1, sizeof(*e));

    if (e == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    if (!build(&e->t[0], groups, n_groups, 4, err) || !build(&e->t[1], groups, n_groups, 6, err)) {
        nfs_netflow9_destroy(e);
        return NULL;
    }
    e->rec_cap = e->t[0].rec_len > e->t[1].rec_len ? e->t[0].rec_len : e->t[1].rec_len;
    e->rec = malloc(e->rec_cap);
    if (e->rec == NULL) {
        nfs_error_set(err, "out of memory");
        nfs_netflow9_destroy(e);
        return NULL;
    }
    return e;
}

void
nfs_netflow9_destroy(struct nfs_netflow9 *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < 2; i++) {
        free(e->t[i].fields);
        free(e->t[i].group);
        free(e->t[i].tmpl);
    }
    free(e->rec);
    free(e);
}

size_t
nfs_netflow9_templates(const struct nfs_netflow9 *e, struct nfs_ipfix_item out[2])
{
    for (size_t i = 0; i < 2; i++)
        out[i] = (struct nfs_ipfix_item){
            NFS_NETFLOW9_SET_TMPL, (uint16_t)e->t[i].tmpl_len, e->t[i].tmpl, 0, 0, 0};
    return 2;
}

bool
nfs_netflow9_encode(struct nfs_netflow9 *e, unsigned ip_version, const void *const *values,
                    struct nfs_ipfix_item *item)
{
    const struct v9_template *t = ip_version == 4 ? &e->t[0] : ip_version == 6 ? &e->t[1] : NULL;
    size_t off = 0;

    if (t == NULL)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        const struct nfs_field *f = t->fields[i];
        const uint8_t *block = values[t->group[i]];

        off += nfs_ipfix_put_fixed(f, block != NULL ? block + f->offset : NULL, e->rec + off);
    }
    *item =
        (struct nfs_ipfix_item){nfs_ipfix_template_id(ip_version), (uint16_t)off, e->rec, 0, 0, 0};
    return true;
}
