/*
 * ipfix.h: the IPFIX view of the field tables, on libfixbuf 2.4.
 *
 * A struct nfs_ipfix_model turns field tables (the core table now, plugins' tables later) into
 * what an exporter needs: a libfixbuf information model that knows every enterprise element,
 * one template per IP version with a stable ID, the encoder that writes a data record in the
 * wire format those templates announce, and the RFC 5610 type records that name the enterprise
 * elements on the wire. Transports (files, UDP, TCP) live in exporter.c.
 *
 * Data records do not go through libfixbuf (docs/design.md, "Export"): nfs_ipfix_encode_wire()
 * writes them directly. libfixbuf keeps the information model, the templates and what is not
 * per record (type records, options records). nfs_ipfix_encode() writes the same record as
 * libfixbuf's internal record, for fBufAppend: the test of the wire encoder (test_ipfix_wire)
 * checks both give the same bytes.
 */
#ifndef NFS_IPFIX_H
#define NFS_IPFIX_H

#include <stdio.h>

#include <fixbuf/public.h>

#include "common.h"
#include "fields.h"

/* Template IDs: 0x0100 | the NFS_F_IP* flag of the version; later flags (encodings, field
 * sets) OR into the low byte. The RFC 5610 type-record template sits outside that range. */
#define NFS_IPFIX_TID_BASE     0x0100u
#define NFS_IPFIX_TID_IP4      (NFS_IPFIX_TID_BASE | NFS_F_IP4)
#define NFS_IPFIX_TID_IP6      (NFS_IPFIX_TID_BASE | NFS_F_IP6)
#define NFS_IPFIX_TID_IE_TYPES 0xFF01u


struct nfs_ipfix_model;

/* Sets err to "what: " and libfixbuf's message, frees gerr; returns false (for return). */
bool nfs_ipfix_gerror(struct nfs_error *err, GError *gerr, const char *what);

/* Builds the model for these groups (copied: the tables themselves must outlive the model).
 * NFS_PEN_OWN elements become elements of enterprise_number. Fails, naming the field, when a
 * table is inconsistent: an IANA/reverse element fixbuf does not know under that name, an
 * enterprise element that collides with a known one, a size that does not match the type, or
 * a variable-length element first in a template. */
struct nfs_ipfix_model *nfs_ipfix_model_create(const struct nfs_field_group *groups,
                                               size_t n_groups, uint32_t enterprise_number,
                                               struct nfs_error *err);
void nfs_ipfix_model_destroy(struct nfs_ipfix_model *m);

uint32_t nfs_ipfix_model_enterprise(const struct nfs_ipfix_model *m);

/* The model's field groups (its own copy) and their count in *n. */
const struct nfs_field_group *nfs_ipfix_model_groups(const struct nfs_ipfix_model *m, size_t *n);

/* The template ID for records of this IP version (4 or 6); 0 for any other version. Inline:
 * asked three times per record (queue push, export, encoder). */
static inline uint16_t
nfs_ipfix_template_id(unsigned ip_version)
{
    return ip_version == 4 ? NFS_IPFIX_TID_IP4 : ip_version == 6 ? NFS_IPFIX_TID_IP6 : 0;
}

/* Bytes of the internal record of this IP version (what nfs_ipfix_encode returns and
 * fBufAppend takes; list items, when there are lists, follow it in the same buffer). */
size_t nfs_ipfix_record_size(const struct nfs_ipfix_model *m, unsigned ip_version);

/* The buffer nfs_ipfix_encode needs for any version: the internal record and its list items. */
size_t nfs_ipfix_max_record_size(const struct nfs_ipfix_model *m);

/* The buffer nfs_ipfix_encode_wire needs for any version: every string and list at its longest. */
size_t nfs_ipfix_max_wire_size(const struct nfs_ipfix_model *m);

/* Writes the data record of this IP version into buf, as it goes in a data set of the
 * version's template (RFC 7011 §6, §7; lists RFC 6313): values[g] as for nfs_ipfix_encode,
 * NULL groups as zeros and empty lists. Returns its length, 0 when the version is unknown or
 * size is less than nfs_ipfix_max_wire_size(). */
size_t nfs_ipfix_encode_wire(const struct nfs_ipfix_model *m, unsigned ip_version,
                             const void *const *values, uint8_t *buf, size_t size);

/* Writes field f's fixed-size value (src: its bytes in its values block; NULL: zeros) at dst
 * in the wire format, big-endian at its wire size; returns that size. Also NetFlow v9's. */
size_t nfs_ipfix_put_fixed(const struct nfs_field *f, const uint8_t *src, uint8_t *dst);

/* Writes the internal record of this IP version into buf: values[g] is the struct holding the
 * values of group g (values[0]: the struct nfs_record); a NULL entry encodes that group's
 * fields as zeros and its lists as empty lists. String fields point into values[], which must
 * outlive the fBufAppend; list items are written after the record, into buf (see
 * nfs_ipfix_max_record_size). Returns the internal record's size, 0 when the version is
 * unknown or size is too small for the record and its list items. */
size_t nfs_ipfix_encode(const struct nfs_ipfix_model *m, unsigned ip_version,
                        const void *const *values, uint8_t *buf, size_t size);

/* Allocates a session on the model's fixbuf model with both data templates (internal and
 * external, same IDs) in observation domain `domain` and, when rfc5610 is set, the type-record
 * template. The session belongs to the caller until fBufAllocForExport takes it. NULL on
 * failure. */
fbSession_t *nfs_ipfix_session_create(const struct nfs_ipfix_model *m, uint32_t domain,
                                      bool rfc5610, struct nfs_error *err);

/* Writes the templates into the session's buffer: the type-record template and one RFC 5610
 * record per enterprise element first (when the session has them), so collectors know the
 * names and types before the first data template uses them, then the data templates. Used at
 * session start and for UDP template refresh. Leaves the buffer's templates unset. */
bool nfs_ipfix_announce(const struct nfs_ipfix_model *m, fBuf_t *fbuf, struct nfs_error *err);

/* Writes an element file in the IANA registry XML format (as /usr/share/libfixbuf/cert_ipfix.xml,
 * for ipfixDump --element-file and collectors that read that format) describing every
 * NFS_PEN_OWN field of the groups under enterprise_number. Fails when writing fails. */
bool nfs_ipfix_write_element_xml(FILE *out, const struct nfs_field_group *groups, size_t n_groups,
                                 uint32_t enterprise_number, struct nfs_error *err);

#endif
