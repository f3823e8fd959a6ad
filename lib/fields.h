/*
 * fields.h: the field table, every exported attribute of a flow declared once.
 *
 * A field names its IPFIX information element (IANA, RFC 5103 reverse, or the configured
 * enterprise number), its type, where its value sits in struct nfs_record, and its NFStream CSV
 * column. The IPFIX templates, the CSV header and rows, --list-fields and docs/fields.md are all
 * derived from this table; nothing else lists fields.
 */
#ifndef NFS_FIELDS_H
#define NFS_FIELDS_H

#include "common.h"
#include "record.h"

#define NFS_PEN_IANA    0u
#define NFS_PEN_REVERSE 29305u      /* RFC 5103 reverse information elements */
#define NFS_PEN_OWN     0xFFFFFFFFu /* replaced by ipfix.enterprise_number (default 32473) */
#define NFS_PEN_DEFAULT 32473u      /* RFC 5612: reserved for documentation and examples */

enum nfs_type {
    NFS_T_U8,
    NFS_T_U16,
    NFS_T_U32,
    NFS_T_U64,
    NFS_T_I8,
    NFS_T_MS,   /* uint64 milliseconds since the epoch: IPFIX dateTimeMilliseconds */
    NFS_T_IPV4, /* struct nfs_ip, first 4 bytes: IPFIX ipv4Address */
    NFS_T_IPV6, /* struct nfs_ip: IPFIX ipv6Address */
    NFS_T_MAC,  /* uint8_t[6]: IPFIX macAddress */
    NFS_T_OUI,  /* uint8_t[6], printed as its first three octets (CSV only) */
    NFS_T_STRING, /* NUL-terminated char[size]: IPFIX string, variable length */
    NFS_T_DOUBLE, /* double: IPFIX float64 */
    NFS_T_I32,    /* int32_t: IPFIX signed32 */
    NFS_T_I64,    /* int64_t: IPFIX signed64 */
    /*
     * Lists: size / item-size values in order, of int8_t, int32_t or int64_t. IPFIX: an RFC 6313
     * basicList (IANA element 291, semantic "ordered") whose items are the field's own element,
     * of type signed8, signed32 or signed64; CSV: "[a, b, c]", as NFStream writes its arrays.
     */
    NFS_T_LIST_I8,
    NFS_T_LIST_I32,
    NFS_T_LIST_I64,
};

/* Room for any field's text, a list of 255 int64 included (nfs_field_format). */
#define NFS_FIELD_TEXT_MAX 8192

enum nfs_field_flags {
    NFS_F_IP4 = 1u << 0, /* only in IPv4 records */
    NFS_F_IP6 = 1u << 1, /* only in IPv6 records */
};

/*
 * A list field's flat form (a collector's `lists: flat`): position i (1..N) becomes its own
 * element, id base + i, named name + i, under the field's PEN. The base sits in the flags'
 * upper 16 bits; 0: the list has no flat form and such a collector goes without it.
 */
#define NFS_F_FLAT_BASE(base) ((uint32_t)(base) << 16)
#define NFS_FIELD_FLAT_BASE(f) ((uint16_t)((f)->flags >> 16))

struct nfs_field {
    const char *name; /* IPFIX element name; also the name --list-fields prints */
    uint32_t pen;     /* NFS_PEN_* */
    uint16_t id;      /* element id; 0: not an IPFIX element (CSV only) */
    uint8_t type;     /* enum nfs_type */
    uint16_t offset;  /* offsetof(struct nfs_record, ...) */
    uint16_t size;    /* bytes at offset (for strings: the array size) */
    const char *csv;  /* NFStream column, or NULL; version-specific twins share one column */
    uint32_t flags;   /* enum nfs_field_flags */
    const char *doc;  /* one line for docs/fields.md */
};

#define NFS_AT(member) offsetof(struct nfs_record, member), sizeof(((struct nfs_record *)0)->member)

/* One field table: the core's, or a plugin's; a record's values come in one block per group. */
struct nfs_field_group {
    const struct nfs_field *fields;
    size_t n_fields;
};

/* The core fields, in NFStream's CSV column order. */
extern const struct nfs_field nfs_core_fields[];
extern const size_t nfs_core_fields_count;

/* True when field f belongs in a record of this IP version. */
static inline bool
nfs_field_applies(const struct nfs_field *f, unsigned ip_version)
{
    if (f->flags & NFS_F_IP4)
        return ip_version == 4;
    if (f->flags & NFS_F_IP6)
        return ip_version == 6;
    return true;
}

/* Size of the field's value on the wire (IPFIX); 0xFFFF for variable length (strings, lists). */
uint16_t nfs_field_wire_size(const struct nfs_field *f);

/* True for the NFS_T_LIST_* types. */
static inline bool
nfs_field_is_list(const struct nfs_field *f)
{
    return f->type == NFS_T_LIST_I8 || f->type == NFS_T_LIST_I32 || f->type == NFS_T_LIST_I64;
}

/* Bytes of one item of a list field (1, 4 or 8); 0 for other fields. */
uint16_t nfs_field_item_size(const struct nfs_field *f);

/*
 * Writes the field's value, read from its group's values block (for the core: the struct
 * nfs_record), as text in NFStream's CSV form: decimal numbers, shortest round-trip floats,
 * dotted or colon addresses, "aa:bb:.." MACs, lists as "[1, -1]". Strings are not quoted here.
 * Text longer than size - 1 is cut (NFS_FIELD_TEXT_MAX fits every field). Returns buf.
 */
char *nfs_field_format(const struct nfs_field *f, const void *values, char *buf, size_t size);

/* True when the field's text is a string in NFStream's CSV (quoted there). */
bool nfs_field_is_text(const struct nfs_field *f);

#endif
