/*
 * export_profile.c: see export_profile.h.
 *
 * Derived tables. Each field of the exporter's groups is kept, renamed, expanded or left out:
 *   - a group not in the profile, an enterprise element under iana-only, a field without a v9
 *     type for NetFlow v9, a list without a flat form under `lists: flat`: left out, and
 *     reported (nfs_export_view_left_out);
 *   - uniflow: the RFC 5103 reverse elements go (the second record carries that direction);
 *   - total counters: octetDeltaCount/packetDeltaCount become octetTotalCount (85) and
 *     packetTotalCount (86), reverse ones alike; a record counts its flow from the flow's start,
 *     so the value is the same, under the name such collectors store;
 *   - lists flat: N elements of the item type, one per position (NFS_F_FLAT_BASE).
 * Derived fields keep their group and offset, so the values blocks need no copying, except
 * the core record when it is rewritten (uniflow's swapped copy, anonymised addresses).
 */
#include "export_profile.h"

#include <stdlib.h>
#include <unistd.h>

#include "cryptopan.h"
#include "record.h"

#define FLAT_NAME_SIZE 40

/* The direction group of uniflow records (RFC 5102/5103 direction elements). */
struct direction {
    uint8_t flow_direction;   /* flowDirection: 0 ingress (src->dst), 1 egress (dst->src) */
    uint8_t biflow_direction; /* biflowDirection: 1 initiator, 2 reverseInitiator */
};

static const struct nfs_field direction_fields[] = {
    {"flowDirection", NFS_PEN_IANA, 61, NFS_T_U8, offsetof(struct direction, flow_direction), 1,
     NULL, 0, "uniflow: 0 for the src->dst record, 1 for the dst->src one"},
    {"biflowDirection", NFS_PEN_IANA, 239, NFS_T_U8, offsetof(struct direction, biflow_direction),
     1, NULL, 0, "uniflow: 1 initiator (src->dst), 2 reverseInitiator (dst->src)"},
};

struct left_out {
    const char *name, *why;
};

struct nfs_export_view {
    struct nfs_export_profile p;
    size_t n_in;                    /* the exporter's groups */
    struct nfs_field_group *groups; /* n_in (+ 1 direction group for uniflow) */
    size_t n_groups;
    struct nfs_field *fields; /* every derived table, one after the other */
    char *names;              /* flat elements' names */
    struct left_out *left;
    size_t n_left;
    struct nfs_cryptopan *cp;
    /* per-call scratch: two records' core copies, direction blocks and values arrays */
    struct nfs_record rec[2];
    struct direction dir[2];
    const void **vals[2];
};

bool
nfs_netflow9_has_type(uint16_t id)
{
    return (id >= 1 && id <= 127) || (id >= 150 && id <= 153);
}

static bool
same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool
nfs_export_profile_equal(const struct nfs_export_profile *a, const struct nfs_export_profile *b)
{
    return a->format == b->format && a->records == b->records && a->counters == b->counters &&
           a->lists == b->lists && a->iana_only == b->iana_only && a->groups == b->groups &&
           same_str(a->key_file, b->key_file) && a->key_owner_set == b->key_owner_set &&
           a->key_owner == b->key_owner;
}

static bool
uniflow(const struct nfs_export_profile *p)
{
    return p->records == NFS_EXPORT_UNIFLOW || p->format == NFS_EXPORT_NETFLOW9;
}

static bool
anonymised(const struct nfs_export_profile *p)
{
    return p->key_file != NULL && p->key_file[0] != '\0';
}

void
nfs_export_profile_describe(const struct nfs_export_profile *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s %s %s %s%s%s", p->format == NFS_EXPORT_NETFLOW9 ? "netflow9" : "ipfix",
             uniflow(p) ? "uniflow" : "biflow", p->counters == NFS_EXPORT_TOTAL ? "total" : "delta",
             p->lists == NFS_EXPORT_FLAT ? "flat" : "basiclist", p->iana_only ? " iana-only" : "",
             anonymised(p) ? " anonymised" : "");
}

/* ------------------------------------------------------------------------------------------ */
/* Derived tables */

static const struct {
    uint32_t pen;
    uint16_t delta_id, total_id;
    const char *total_name;
} totals[] = {
    {NFS_PEN_IANA, 1, 85, "octetTotalCount"},
    {NFS_PEN_IANA, 2, 86, "packetTotalCount"},
    {NFS_PEN_REVERSE, 1, 85, "reverseOctetTotalCount"},
    {NFS_PEN_REVERSE, 2, 86, "reversePacketTotalCount"},
};

static void
leave_out(struct nfs_export_view *v, const struct nfs_field *f, const char *why)
{
    v->left[v->n_left++] = (struct left_out){f->name, why};
}

/* Why field f of group g does not go to this profile's collectors; NULL when it goes. */
static const char *
excluded(const struct nfs_export_view *v, const struct nfs_field *f, size_t g)
{
    const struct nfs_export_profile *p = &v->p;

    if (p->groups != 0 && g < 32 && !(p->groups & (1u << g)))
        return "field group not in fields:";
    if (p->iana_only && f->pen != NFS_PEN_IANA && f->pen != NFS_PEN_REVERSE)
        return "enterprise element (iana-only)";
    if (p->format == NFS_EXPORT_NETFLOW9 &&
        (f->pen != NFS_PEN_IANA || !nfs_netflow9_has_type(f->id)))
        return "no NetFlow v9 type";
    if (p->format == NFS_EXPORT_NETFLOW9 && f->type == NFS_T_STRING)
        return "variable length (NetFlow v9 has none)";
    if (p->lists == NFS_EXPORT_FLAT && nfs_field_is_list(f) && NFS_FIELD_FLAT_BASE(f) == 0)
        return "list without a flat form (lists: flat)";
    return NULL;
}

static const enum nfs_type flat_item_type[] = {
    [NFS_T_LIST_I8] = NFS_T_I8, [NFS_T_LIST_I32] = NFS_T_I32, [NFS_T_LIST_I64] = NFS_T_I64};

/* Appends field f (renamed or expanded as the profile says) at *out. */
static void
derive(struct nfs_export_view *v, const struct nfs_field *f, struct nfs_field **out, char **names)
{
    struct nfs_field d = *f;

    d.csv = NULL;
    if (v->p.counters == NFS_EXPORT_TOTAL)
        for (size_t i = 0; i < NFS_NITEMS(totals); i++)
            if (f->pen == totals[i].pen && f->id == totals[i].delta_id) {
                d.id = totals[i].total_id;
                d.name = totals[i].total_name;
            }
    if (v->p.lists == NFS_EXPORT_FLAT && nfs_field_is_list(f)) {
        uint16_t item = nfs_field_item_size(f);

        for (uint16_t i = 0; i < f->size / item; i++, *names += FLAT_NAME_SIZE) {
            snprintf(*names, FLAT_NAME_SIZE, "%s%u", f->name, i + 1u);
            *(*out)++ = (struct nfs_field){*names,
                                           f->pen,
                                           (uint16_t)(NFS_FIELD_FLAT_BASE(f) + i + 1),
                                           (uint8_t)flat_item_type[f->type],
                                           (uint16_t)(f->offset + i * item),
                                           item,
                                           NULL,
                                           f->flags & (NFS_F_IP4 | NFS_F_IP6),
                                           f->doc};
        }
        return;
    }
    *(*out)++ = d;
}

/* Room for every derived field and flat name, and every left-out entry. */
static bool
allocate(struct nfs_export_view *v, const struct nfs_field_group *groups, size_t n_groups)
{
    size_t n_fields = NFS_NITEMS(direction_fields), n_names = 0, n_all = 0;

    for (size_t g = 0; g < n_groups; g++)
        for (size_t i = 0; i < groups[g].n_fields; i++) {
            const struct nfs_field *f = &groups[g].fields[i];
            size_t n = nfs_field_is_list(f) ? f->size / nfs_field_item_size(f) : 1;

            n_fields += n;
            n_names += nfs_field_is_list(f) ? n : 0;
            n_all++;
        }
    v->fields = calloc(n_fields, sizeof(*v->fields));
    v->names = calloc(n_names + 1, FLAT_NAME_SIZE);
    v->left = calloc(n_all + 1, sizeof(*v->left));
    v->groups = calloc(n_groups + 1, sizeof(*v->groups));
    v->vals[0] = calloc(n_groups + 1, sizeof(void *));
    v->vals[1] = calloc(n_groups + 1, sizeof(void *));
    return v->fields && v->names && v->left && v->groups && v->vals[0] && v->vals[1];
}

static void
derive_tables(struct nfs_export_view *v, const struct nfs_field_group *groups, size_t n_groups)
{
    struct nfs_field *out = v->fields;
    char *names = v->names;

    for (size_t g = 0; g < n_groups; g++) {
        v->groups[g].fields = out;
        for (size_t i = 0; i < groups[g].n_fields; i++) {
            const struct nfs_field *f = &groups[g].fields[i];
            const char *why;

            if (f->id == 0 || (uniflow(&v->p) && f->pen == NFS_PEN_REVERSE))
                continue; /* CSV only; uniflow: the second record is the reverse direction */
            if ((why = excluded(v, f, g)) != NULL)
                leave_out(v, f, why);
            else
                derive(v, f, &out, &names);
        }
        v->groups[g].n_fields = (size_t)(out - v->groups[g].fields);
    }
    v->n_groups = n_groups;
    if (uniflow(&v->p)) {
        v->groups[n_groups].fields = out;
        for (size_t i = 0; i < NFS_NITEMS(direction_fields); i++) {
            const char *why = excluded(v, &direction_fields[i], 0);

            if (why != NULL)
                leave_out(v, &direction_fields[i], why);
            else
                *out++ = direction_fields[i];
        }
        v->groups[n_groups].n_fields = (size_t)(out - v->groups[n_groups].fields);
        v->n_groups++;
    }
}

static bool
load_key(struct nfs_export_view *v, struct nfs_error *err)
{
    uid_t owner = v->p.key_owner_set ? (uid_t)v->p.key_owner : geteuid();
    uint8_t key[NFS_CRYPTOPAN_KEY_SIZE];
    char why[512];

    if (!anonymised(&v->p))
        return true;
    if (nfs_cryptopan_load_key_owned(v->p.key_file, owner, key, why, sizeof(why)) != 0) {
        nfs_error_set(err, "anonymize: %s", why);
        return false;
    }
    v->cp = nfs_cryptopan_new(key);
    memset(key, 0, sizeof(key));
    if (v->cp == NULL)
        nfs_error_set(err, "anonymize: %s: cannot set up the cipher", v->p.key_file);
    return v->cp != NULL;
}

struct nfs_export_view *
nfs_export_view_create(const struct nfs_export_profile *p, const struct nfs_field_group *groups,
                       size_t n_groups, struct nfs_error *err)
{
    struct nfs_export_view *v = calloc(1, sizeof(*v));

    if (v == NULL || !allocate(v, groups, n_groups)) {
        nfs_error_set(err, "out of memory");
        nfs_export_view_destroy(v);
        return NULL;
    }
    v->p = *p;
    v->p.key_file = NULL;
    if (anonymised(p) && (v->p.key_file = strdup(p->key_file)) == NULL) {
        nfs_error_set(err, "out of memory");
        nfs_export_view_destroy(v);
        return NULL;
    }
    v->n_in = n_groups;
    derive_tables(v, groups, n_groups);
    if (!load_key(v, err)) {
        nfs_export_view_destroy(v);
        return NULL;
    }
    return v;
}

void
nfs_export_view_destroy(struct nfs_export_view *v)
{
    if (v == NULL)
        return;
    nfs_cryptopan_free(v->cp);
    free((void *)(uintptr_t)v->p.key_file);
    free(v->fields);
    free(v->names);
    free(v->left);
    free(v->groups);
    free(v->vals[0]);
    free(v->vals[1]);
    free(v);
}

const struct nfs_export_profile *
nfs_export_view_profile(const struct nfs_export_view *v)
{
    return &v->p;
}

const struct nfs_field_group *
nfs_export_view_groups(const struct nfs_export_view *v, size_t *n_groups)
{
    *n_groups = v->n_groups;
    return v->groups;
}

void
nfs_export_view_left_out(const struct nfs_export_view *v,
                         void (*fn)(void *ctx, const char *name, const char *why), void *ctx)
{
    for (size_t i = 0; i < v->n_left; i++)
        fn(ctx, v->left[i].name, v->left[i].why);
}

/* ------------------------------------------------------------------------------------------ */
/* Records */

static void
anonymise(const struct nfs_export_view *v, struct nfs_record *r)
{
    struct nfs_ip *ips[] = {&r->src_ip, &r->dst_ip};

    for (size_t i = 0; i < NFS_NITEMS(ips); i++) {
        uint8_t *a = (uint8_t *)ips[i];

        if (r->ip_version == 6) {
            nfs_cryptopan_ipv6(v->cp, a, a);
        } else {
            uint32_t host = nfs_cryptopan_ipv4(v->cp, nfs_be32(a));

            a[0] = (uint8_t)(host >> 24), a[1] = (uint8_t)(host >> 16);
            a[2] = (uint8_t)(host >> 8), a[3] = (uint8_t)host;
        }
    }
}

/* The dst->src view of a flow: endpoints and directions swapped. */
static void
swap_directions(struct nfs_record *r)
{
    struct nfs_record s = *r;

    r->src_ip = s.dst_ip, r->dst_ip = s.src_ip;
    r->src_port = s.dst_port, r->dst_port = s.src_port;
    memcpy(r->src_mac, s.dst_mac, 6), memcpy(r->dst_mac, s.src_mac, 6);
    r->src2dst = s.dst2src, r->dst2src = s.src2dst;
}

size_t
nfs_export_view_records(struct nfs_export_view *v, const void *const *values,
                        struct nfs_export_view_record out[2])
{
    const struct nfs_record *in = values[0];
    size_t n = 1;

    for (size_t k = 0; k < 2; k++)
        for (size_t g = 0; g < v->n_in; g++)
            v->vals[k][g] = values[g];
    out[0] = (struct nfs_export_view_record){v->vals[0], in->bidirectional.packets,
                                             in->bidirectional.ip_octets, 1};
    if (v->cp != NULL) {
        v->rec[0] = *in;
        anonymise(v, &v->rec[0]);
        v->vals[0][0] = &v->rec[0];
        in = &v->rec[0];
    }
    if (!uniflow(&v->p))
        return 1;
    v->dir[0] = (struct direction){0, 1};
    v->vals[0][v->n_in] = &v->dir[0];
    out[0].packets = in->src2dst.packets;
    out[0].octets = in->src2dst.ip_octets;
    if (in->dst2src.packets > 0) {
        v->rec[1] = *in;
        swap_directions(&v->rec[1]);
        v->dir[1] = (struct direction){1, 2};
        v->vals[1][0] = &v->rec[1];
        v->vals[1][v->n_in] = &v->dir[1];
        out[1] = (struct nfs_export_view_record){v->vals[1], in->dst2src.packets,
                                                 in->dst2src.ip_octets, 0};
        n = 2;
    }
    return n;
}
