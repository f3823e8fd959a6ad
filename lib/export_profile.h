/*
 * export_profile.h: what one collector gets, as a view of the field tables.
 *
 * A profile says how a collector wants flows: IPFIX or NetFlow v9, one biflow record per flow
 * (RFC 5103) or two uniflow records, delta or total counters, which field groups, lists as
 * RFC 6313 basicLists or one element per position, and addresses as they are or anonymised
 * (Crypto-PAn). The default profile (all zeros) is what every collector got before profiles:
 * IPFIX biflows with every group.
 *
 * A view applies a profile to the exporter's field groups: it derives the field tables an
 * encoder builds its templates from (ipfix.c, netflow9.c) and turns the values of one ended
 * flow into the values of the one or two records the collector gets. The flow table's records
 * are never changed: a view writes into its own copies, so another collector gets them raw.
 */
#ifndef NFS_EXPORT_PROFILE_H
#define NFS_EXPORT_PROFILE_H

#include <stdio.h>

#include "common.h"
#include "fields.h"

enum nfs_export_format { NFS_EXPORT_IPFIX = 0, NFS_EXPORT_NETFLOW9 = 1 };
enum nfs_export_records { NFS_EXPORT_BIFLOW = 0, NFS_EXPORT_UNIFLOW = 1 };
enum nfs_export_counters { NFS_EXPORT_DELTA = 0, NFS_EXPORT_TOTAL = 1 };
enum nfs_export_lists { NFS_EXPORT_BASICLIST = 0, NFS_EXPORT_FLAT = 1 };

struct nfs_export_profile {
    int format;           /* enum nfs_export_format; NetFlow v9 implies uniflow records */
    int records;          /* enum nfs_export_records */
    int counters;         /* enum nfs_export_counters */
    int lists;            /* enum nfs_export_lists */
    bool iana_only;       /* IANA and RFC 5103 reverse elements only, no enterprise ones */
    uint32_t groups;      /* bit g: field group g goes (0: the core); 0: every group */
    const char *key_file; /* Crypto-PAn key: anonymise addresses; NULL or "": as they are */
    bool key_owner_set;   /* the key file's owner must be key_owner (the user: a daemon started */
    uint32_t key_owner;   /* as root switches to); otherwise the effective uid */
};

/* True when a and b give the same records (collectors with equal profiles share an encoder). */
bool nfs_export_profile_equal(const struct nfs_export_profile *a,
                              const struct nfs_export_profile *b);

/* "ipfix biflow delta basiclist", "netflow9 uniflow total flat iana-only anonymised"... */
void nfs_export_profile_describe(const struct nfs_export_profile *p, char *buf, size_t size);

/* One record a view makes of a flow. */
struct nfs_export_view_record {
    const void *const *values; /* one block per group of the view's tables */
    uint64_t packets, octets;  /* what the record counts (loss accounting) */
    uint32_t flows;            /* 1 for the flow's first record, 0 for its second */
};

struct nfs_export_view;

/*
 * Applies profile p to the exporter's groups (groups[0]: the core). Loads the anonymisation
 * key when there is one (fails naming the file). The tables must outlive the view.
 */
struct nfs_export_view *nfs_export_view_create(const struct nfs_export_profile *p,
                                               const struct nfs_field_group *groups,
                                               size_t n_groups, struct nfs_error *err);
void nfs_export_view_destroy(struct nfs_export_view *v);

/* The view's own copy of its profile (key_file included). */
const struct nfs_export_profile *nfs_export_view_profile(const struct nfs_export_view *v);

/* The field tables to encode (the exporter's groups, then the direction group of uniflow). */
const struct nfs_field_group *nfs_export_view_groups(const struct nfs_export_view *v,
                                                     size_t *n_groups);

/*
 * The records of one flow: values[g] as the exporter got them (values[0]: the struct
 * nfs_record; NULL entries allowed). Writes 1 or 2 records into out (uniflow: the dst->src
 * one only when that direction has packets) and returns how many. They point into the view,
 * valid until the next call.
 */
size_t nfs_export_view_records(struct nfs_export_view *v, const void *const *values,
                               struct nfs_export_view_record out[2]);

/* The IPFIX elements of the groups this profile leaves out, one "name (why)" per call of fn. */
void nfs_export_view_left_out(const struct nfs_export_view *v,
                              void (*fn)(void *ctx, const char *name, const char *why), void *ctx);

/* True when IANA element id has a NetFlow v9 field type (RFC 3954's numbering, 1-127, and
 * the millisecond times 150-153 that v9 collectors read). */
bool nfs_netflow9_has_type(uint16_t id);

#endif
