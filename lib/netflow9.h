/*
 * netflow9.h: NetFlow v9 (RFC 3954) records from derived field tables.
 *
 * The same field tables the IPFIX encoder takes (an export view's, export_profile.h) become
 * one v9 template per IP version and fixed-length data records, as items for the collectors'
 * framers (export_framer.h, in its NetFlow v9 mode): template records in flowset 0, data
 * records in the flowset of their template. v9 has neither enterprise nor reverse elements nor
 * variable-length fields: the view leaves those out before they get here.
 */
#ifndef NFS_NETFLOW9_H
#define NFS_NETFLOW9_H

#include "export_framer.h"
#include "fields.h"

#define NFS_NETFLOW9_SET_TMPL 0 /* template flowset id (RFC 3954 §5.2) */

struct nfs_netflow9;

/* Fails, naming the field, for a field v9 cannot carry, or when a template has no field. */
struct nfs_netflow9 *nfs_netflow9_create(const struct nfs_field_group *groups, size_t n_groups,
                                         struct nfs_error *err);
void nfs_netflow9_destroy(struct nfs_netflow9 *e);

/* The two template records (IPv4, IPv6); items point into the encoder. */
size_t nfs_netflow9_templates(const struct nfs_netflow9 *e, struct nfs_ipfix_item out[2]);

/* One data record of this IP version from values[g] (NULL: zeros); item->data points into the
 * encoder until the next call. False for an IP version without a template. */
bool nfs_netflow9_encode(struct nfs_netflow9 *e, unsigned ip_version, const void *const *values,
                         struct nfs_ipfix_item *item);

#endif
