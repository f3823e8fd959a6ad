/*
 * ipfix_apps.h: the application labels' options records (RFC 6759 §5): which DPI engine and
 * version labelled the flows, and the name of every protocol id it can put in a record, so a
 * collector decodes dpiMasterProtocolId / dpiAppProtocolId with the table of the nDPI that
 * wrote them, even after the sensor's nDPI is upgraded.
 *
 * Two options templates. NFS_IPFIX_TID_APPS_ENGINE: scope observationDomainId,
 * applicationName "nDPI", applicationDescription "nDPI 4.2.0" (the engine and its version).
 * NFS_IPFIX_TID_APPS: scope applicationId (95, 7 bytes: RFC 6759's classification engine id 20
 * (PANA-L7-PEN), the enterprise number, the nDPI protocol id, big-endian: the value of
 * dpiAppProtocolId / dpiMasterProtocolId) and applicationName (96): one record per id.
 */
#ifndef NFS_IPFIX_APPS_H
#define NFS_IPFIX_APPS_H

#include "ipfix.h"

#define NFS_IPFIX_TID_APPS           0xFF20u
#define NFS_IPFIX_TID_APPS_ENGINE    0xFF21u
#define NFS_IPFIX_ENGINE_PANA_L7_PEN 20 /* RFC 6759 classification engine id */

/*
 * When the model exports nDPI's protocol ids (the dpi plugin's fields), adds the template to
 * fbuf's session and appends the engine record and one record per protocol nDPI knows. The
 * exporter calls it while it records the preamble, so every transport session, UDP template
 * refresh and file carries the whole table before the first flow record. True and nothing
 * written when the model has no DPI fields; false with err when nDPI or libfixbuf fail.
 */
bool nfs_ipfix_apps_announce(const struct nfs_ipfix_model *m, fBuf_t *fbuf, struct nfs_error *err);

#endif
