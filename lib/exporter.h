/*
 * exporter.h: IPFIX export of records to files, UDP and TCP collectors.
 *
 * One exporter serves any number of targets; each record goes to all of them. Every target
 * has its own libfixbuf session (sessions cannot be shared), so each one carries its own
 * templates, sequence numbers and RFC 5610 type records.
 */
#ifndef NFS_EXPORTER_H
#define NFS_EXPORTER_H

#include "common.h"
#include "ipfix.h"
#include "record.h"

struct nfs_exporter_options {
    uint32_t enterprise_number;  /* for NFS_PEN_OWN elements; 0: NFS_PEN_DEFAULT */
    uint32_t observation_domain; /* 0: 1 */
    uint32_t template_refresh_s; /* UDP: resend templates this often (RFC 7011 §8.4); 0: 600 */
    bool rfc5610;                /* send RFC 5610 type records for enterprise elements */
    /* Field tables: groups[0] is the core table (values from the struct nfs_record); NULL: the
     * core table alone. Copied by nfs_exporter_create; the tables must outlive the exporter. */
    const struct nfs_field_group *groups;
    size_t n_groups;
};

/* One target's counters. */
struct nfs_exporter_stats {
    const char *target; /* as given to nfs_exporter_add; owned by the exporter */
    uint64_t records;   /* records appended to the target */
    uint64_t errors;    /* records the target failed to take */
};

struct nfs_exporter;

/* Fills o with the defaults: NFS_PEN_DEFAULT, domain 1, 600 s refresh, RFC 5610 on, core table. */
void nfs_exporter_options_default(struct nfs_exporter_options *o);

/* Returns NULL, with err set, when the field tables do not make a valid model. opt may be NULL
 * (all defaults). Free with nfs_exporter_close. */
struct nfs_exporter *nfs_exporter_create(const struct nfs_exporter_options *opt,
                                         struct nfs_error *err);

/* Adds a target: "udp://HOST:PORT", "tcp://HOST:PORT" (HOST may be an IPv6 literal in
 * brackets), or an RFC 5655 file path ("-": standard output). Templates (and type records) are
 * written and sent at once, so a TCP collector that cannot be reached, or a file that cannot
 * be created, fails here with a message naming the target. */
bool nfs_exporter_add(struct nfs_exporter *exp, const char *target, struct nfs_error *err);

/* Appends the record to every target, with the template of rec->ip_version. Every target is
 * tried; on failure err names the first target that failed. */
bool nfs_exporter_export(struct nfs_exporter *exp, const struct nfs_record *rec,
                         struct nfs_error *err);

/* The general form: values[g] holds the values of field group g (see nfs_ipfix_encode). */
bool nfs_exporter_export_values(struct nfs_exporter *exp, unsigned ip_version,
                                const void *const *values, struct nfs_error *err);

/* Sends whatever is buffered to every target (a message per target). */
bool nfs_exporter_flush(struct nfs_exporter *exp, struct nfs_error *err);

size_t nfs_exporter_target_count(const struct nfs_exporter *exp);

/* Counters of target i (in order of nfs_exporter_add); false when i is out of range. */
bool nfs_exporter_get_stats(const struct nfs_exporter *exp, size_t i,
                            struct nfs_exporter_stats *out);

/* The model the exporter encodes with (for the element file, --list-fields...). */
const struct nfs_ipfix_model *nfs_exporter_model(const struct nfs_exporter *exp);

/* Emits what is buffered, closes every target and frees the exporter. NULL-safe. Returns false
 * when a final emit failed; everything is freed anyway. */
bool nfs_exporter_close(struct nfs_exporter *exp, struct nfs_error *err);

#endif
