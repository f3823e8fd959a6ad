/*
 * export_encoder.h: one profile's encoding of records into wire items, on the export thread.
 *
 * The exporter keeps one encoder per distinct collector profile (export_profile.h): collectors
 * with the same profile share its encoding, as every collector shared the one encoding before
 * profiles. An encoder turns each ended flow into the one or two records its view makes and
 * encodes them, IPFIX (ipfix.c) or NetFlow v9 (netflow9.c), into items (one template or data
 * record each, export_framer.h) that it hands to `deliver`; each collector frames them
 * into its own messages. The preamble (templates, RFC 5610 type records, the statistics
 * options templates) is encoded once at creation; collectors send it first on every transport
 * session.
 */
#ifndef NFS_EXPORT_ENCODER_H
#define NFS_EXPORT_ENCODER_H

#include "export_framer.h"
#include "export_profile.h"
#include "ipfix.h"

/* The statistics options records (RFC 7011 §4.1-4.3), in this order. */
enum nfs_export_stats {
    NFS_STATS_METERING = 0,
    NFS_STATS_METERING_RELIABILITY = 1,
    NFS_STATS_EXPORTING_RELIABILITY = 2,
};

struct nfs_export_encoder_options {
    const struct nfs_export_profile *profile;
    const struct nfs_field_group *groups; /* the exporter's; must outlive the encoder */
    size_t n_groups;
    uint32_t enterprise_number, domain;
    bool rfc5610, stats;
    nfs_item_fn deliver; /* every item after the preamble, in order */
    void *ctx;
};

struct nfs_export_encoder;

/* Fails when the profile's tables make no valid template, or its key cannot be loaded. */
struct nfs_export_encoder *nfs_export_encoder_create(const struct nfs_export_encoder_options *o,
                                                     struct nfs_error *err);
void nfs_export_encoder_destroy(struct nfs_export_encoder *e);

const struct nfs_export_profile *nfs_export_encoder_profile(const struct nfs_export_encoder *e);
bool nfs_export_encoder_netflow9(const struct nfs_export_encoder *e);
const struct nfs_ipfix_item *nfs_export_encoder_preamble(const struct nfs_export_encoder *e,
                                                         size_t *n);

/*
 * One ended flow (values as the exporter's queue holds them): its records are encoded and
 * delivered before this returns; each data item carries its record's flows, packets and
 * octets. False when a record could not be encoded.
 */
bool nfs_export_encoder_flow(struct nfs_export_encoder *e, unsigned ip_version,
                             const void *const *values, struct nfs_error *err);

/* Encodes and delivers one statistics record: scope, then n counters (see exporter.c). False
 * when the encoder has no statistics templates (NetFlow v9, or stats off). */
bool nfs_export_encoder_stats(struct nfs_export_encoder *e, enum nfs_export_stats which,
                              uint32_t scope, const uint64_t *v, size_t n, struct nfs_error *err);

/* The fields the profile leaves out (see nfs_export_view_left_out). */
void nfs_export_encoder_left_out(const struct nfs_export_encoder *e,
                                 void (*fn)(void *ctx, const char *name, const char *why),
                                 void *ctx);

#endif
