/*
 * ipfix.c: field tables -> libfixbuf information model, templates, wire data records.
 *
 * Everything here is derived from the field tables; nothing lists elements a second time.
 * IANA and RFC 5103 reverse elements are checked against fixbuf's built-in model (same id,
 * same name), so a typo in a table fails at start-up instead of exporting the wrong element.
 * NFS_PEN_OWN elements are added to the model under the configured enterprise number, with a
 * type, semantics and units derived from the field (meaning_of()).
 *
 * Wire records. nfs_ipfix_encode_wire() writes a data record exactly as the template announces
 * it (RFC 7011 §6-7, RFC 6313), from the same slots: fixed-size values big-endian at their
 * template length, strings and basicLists with the 1-byte or 255 + 2-byte length prefix, lists
 * in the form libfixbuf writes them (always the 3-byte length). Exported records take this
 * path; libfixbuf's fBufAppend transcoded each internal record field by field, about 6600
 * instructions per record, ten times this encoder (bench/README.md). test_ipfix_wire checks
 * the two give the same bytes for random records of every group, profile and string length.
 *
 * Internal records (nfs_ipfix_encode: the reference the wire encoder is tested against, and
 * what the libfixbuf templates are checked with). libfixbuf reads an internal record as the
 * template's elements packed in template order, each taking its internal-template length,
 * without padding; a
 * variable-length element takes an fbVarfield_t {size_t len; uint8_t *buf;} (fbtemplate.c,
 * fbTemplateExtendIndices: ie_internal_len += len, or += sizeof(fbVarfield_t)). Integers,
 * dateTimeMilliseconds and IPv4 addresses are host-order values of their length (the
 * elements carry FB_IE_F_ENDIAN); IPv6 and MAC addresses are raw bytes. The layout is
 * computed once per IP version and cross-checked against fbTemplateGetIELenOfMemBuffer()
 * whenever a template is built, so a disagreement is an error, not corrupt records.
 *
 * Lists (RFC 6313). A list field goes into the template as IANA's basicList (291); its items
 * are the field's own element, typed signed8/32/64, named in each list's header. The internal
 * record holds an fbBasicList_t; its items sit after the record in the same buffer, already
 * in network byte order, and their element has no FB_IE_F_ENDIAN: libfixbuf copies list items
 * as they are (2.4) or converts them only when that flag is set (later versions), so both
 * write the same bytes. The list semantic is "ordered" (4): items are packets in order.
 */
#include "ipfix.h"

#include <endian.h>
#include <stdlib.h>

/* How a value goes on the wire (put_kind): bytes as they are, or big-endian of its size. */
enum kind { K_COPY4, K_COPY6, K_COPY16, K_BE8, K_BE16, K_BE32, K_BE64, K_STRING, K_LIST };

/* One element of a template, where its value comes from and where it goes. */
struct slot {
    const struct nfs_field *f;
    size_t group;       /* index into model->groups: which values[] entry holds the value */
    uint16_t src;       /* f->offset: the value in its values block */
    uint16_t wire;      /* template length; FB_IE_VARLEN for strings and lists */
    enum kind kind;     /* of the value, from its type and wire length */
    uint16_t off;       /* offset in the internal record */
    uint16_t items_off; /* lists: offset of the items after the internal record */
    const fbInfoElement_t *item; /* lists: the items' element */
    uint32_t item_pen;           /* lists: the items' element's enterprise number (0: IANA) */
};

/* Consecutive slots of one group: all fixed-size (kind below K_STRING), or one string or list.
 * The encoder tests the group's values once a run, not once a value. */
struct run {
    uint16_t first, n; /* slots[first .. first + n) */
    uint16_t wire;     /* fixed runs: their wire bytes (zeros when the group has no values) */
    bool fixed;
    size_t group;
};

struct layout {
    struct slot *slots;
    size_t n;
    struct run *runs;
    size_t n_runs;
    size_t size;       /* bytes of the internal record */
    size_t items_size; /* bytes of list items after it */
    size_t wire_max;   /* bytes of the longest wire record: full strings and lists */
};

struct nfs_ipfix_model {
    fbInfoModel_t *fb;
    uint32_t pen;
    struct nfs_field_group *groups;
    size_t n_groups;
    struct layout ip4, ip6;
    const fbInfoElement_t **own; /* the enterprise elements, for RFC 5610 records */
    size_t n_own;
};

/* IPFIX data type of each enum nfs_type: fixbuf's code and the registry name. */
static const struct {
    uint8_t fb;
    const char *xml;
    uint16_t size; /* bytes the value takes in the record; 0: any (strings); lists: one item */
} types[] = {
    [NFS_T_U8] = {FB_UINT_8, "unsigned8", 1},
    [NFS_T_U16] = {FB_UINT_16, "unsigned16", 2},
    [NFS_T_U32] = {FB_UINT_32, "unsigned32", 4},
    [NFS_T_U64] = {FB_UINT_64, "unsigned64", 8},
    [NFS_T_I8] = {FB_INT_8, "signed8", 1},
    [NFS_T_MS] = {FB_DT_MILSEC, "dateTimeMilliseconds", 8},
    [NFS_T_IPV4] = {FB_IP4_ADDR, "ipv4Address", sizeof(struct nfs_ip)},
    [NFS_T_IPV6] = {FB_IP6_ADDR, "ipv6Address", sizeof(struct nfs_ip)},
    [NFS_T_MAC] = {FB_MAC_ADDR, "macAddress", 6},
    [NFS_T_OUI] = {FB_OCTET_ARRAY, NULL, 6}, /* CSV only: no IPFIX form */
    [NFS_T_STRING] = {FB_STRING, "string", 0},
    [NFS_T_DOUBLE] = {FB_FLOAT_64, "float64", 8},
    [NFS_T_I32] = {FB_INT_32, "signed32", 4},
    [NFS_T_I64] = {FB_INT_64, "signed64", 8},
    /* lists: the items' type; the template carries basicList */
    [NFS_T_LIST_I8] = {FB_INT_8, "signed8", 1},
    [NFS_T_LIST_I32] = {FB_INT_32, "signed32", 4},
    [NFS_T_LIST_I64] = {FB_INT_64, "signed64", 8},
};

#define LIST_SEMANTIC_ORDERED 4    /* RFC 6313 §4.5.1 */
#define LIST_MAX_BYTES        4096 /* items of one list: IPFIX messages are 64 KiB at most */
#define VARLEN_LONG           255  /* RFC 7011 §7: a 2-byte length follows */
#define LIST_HDR              5    /* RFC 6313 §4.5.1: semantic, field id, element length */
#define LIST_HDR_PEN          9    /* ... and the enterprise number */

/* Semantics and units of an enterprise element, in fixbuf's flag bits and registry names. */
struct meaning {
    uint32_t flags;
    const char *semantics; /* NULL: default */
    const char *units;     /* NULL: none */
};

/*
 * The table has no semantics column, so they follow the naming conventions IANA's own
 * elements use: ...DeltaCount is a deltaCounter (octets or packets by name), ...Id an
 * identifier, ...Flags/...ControlBits flags, times are in milliseconds. nfsensor's own names
 * add: ...Packets counts packets (a deltaCounter), ...Milliseconds is a duration in
 * milliseconds, ...PacketSize is in octets.
 */
static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static struct meaning
meaning_of(const struct nfs_field *f)
{
    struct meaning m = {FB_IE_DEFAULT, NULL, NULL};

    if (f->type == NFS_T_MS) {
        m.flags = FB_UNITS_MILLISECONDS;
        m.units = "milliseconds";
    } else if (ends_with(f->name, "DeltaCount")) {
        m.flags = FB_IE_DELTACOUNTER;
        m.semantics = "deltaCounter";
        if (strstr(f->name, "Octet") != NULL) {
            m.flags |= FB_UNITS_OCTETS;
            m.units = "octets";
        } else if (strstr(f->name, "Packet") != NULL) {
            m.flags |= FB_UNITS_PACKETS;
            m.units = "packets";
        }
    } else if (ends_with(f->name, "Id")) {
        m.flags = FB_IE_IDENTIFIER;
        m.semantics = "identifier";
    } else if (ends_with(f->name, "Flags") || ends_with(f->name, "ControlBits")) {
        m.flags = FB_IE_FLAGS;
        m.semantics = "flags";
    } else if (ends_with(f->name, "Packets")) {
        m.flags = FB_IE_DELTACOUNTER | FB_UNITS_PACKETS;
        m.semantics = "deltaCounter";
        m.units = "packets";
    } else if (strstr(f->name, "Milliseconds") != NULL) {
        m.flags = FB_UNITS_MILLISECONDS;
        m.units = "milliseconds";
    } else if (strstr(f->name, "PacketSize") != NULL) {
        m.flags = FB_UNITS_OCTETS;
        m.units = "octets";
    }
    return m;
}

static bool
is_element(const struct nfs_field *f)
{
    return f->id != 0;
}

static uint32_t
pen_of(const struct nfs_field *f, uint32_t own_pen)
{
    return f->pen == NFS_PEN_OWN ? own_pen : f->pen;
}

bool
nfs_ipfix_gerror(struct nfs_error *err, GError *gerr, const char *what)
{
    nfs_error_set(err, "%s: %s", what, gerr != NULL ? gerr->message : "unknown libfixbuf error");
    g_clear_error(&gerr);
    return false;
}

/* A field the encoder can write: an IPFIX type, and a size in the record that fits it. */
static bool
check_field(const struct nfs_field *f, struct nfs_error *err)
{
    if (f->type >= NFS_NITEMS(types) || types[f->type].xml == NULL) {
        nfs_error_set(err, "field %s: type %u has no IPFIX encoding", f->name, f->type);
        return false;
    }
    if (nfs_field_is_list(f)) {
        if (f->size != 0 && f->size % types[f->type].size == 0 && f->size <= LIST_MAX_BYTES)
            return true;
        nfs_error_set(err, "field %s: a list of %u bytes is not 1 to %u %s items", f->name, f->size,
                      LIST_MAX_BYTES / types[f->type].size, types[f->type].xml);
        return false;
    }
    if (types[f->type].size != 0 ? f->size != types[f->type].size : f->size == 0) {
        nfs_error_set(err, "field %s: %u bytes in the record do not fit type %s", f->name, f->size,
                      types[f->type].xml);
        return false;
    }
    return true;
}

/* IANA and reverse elements must be known to fixbuf under the table's name. */
static bool
check_known(fbInfoModel_t *fb, const struct nfs_field *f, struct nfs_error *err)
{
    const fbInfoElement_t *ie = fbInfoModelGetElementByID(fb, f->id, f->pen);

    if (ie == NULL) {
        nfs_error_set(err, "field %s: no element %u/%u in libfixbuf's information model", f->name,
                      f->pen, f->id);
        return false;
    }
    if (strcmp(ie->ref.name, f->name) != 0) {
        nfs_error_set(err, "field %s: element %u/%u is %s", f->name, f->pen, f->id, ie->ref.name);
        return false;
    }
    return true;
}

static bool
add_own(struct nfs_ipfix_model *m, const struct nfs_field *f, struct nfs_error *err)
{
    const fbInfoElement_t *old = fbInfoModelGetElementByID(m->fb, f->id, m->pen);
    struct meaning mean = meaning_of(f);
    fbInfoElement_t ie;

    if (old != NULL && strcmp(old->ref.name, f->name) != 0) {
        nfs_error_set(err, "field %s: element %u/%u is already %s", f->name, m->pen, f->id,
                      old->ref.name);
        return false;
    }
    if (fbInfoModelGetElementByName(m->fb, f->name) != NULL && old == NULL) {
        nfs_error_set(err, "field %s: name already used by another element", f->name);
        return false;
    }
    memset(&ie, 0, sizeof(ie));
    ie.ref.name = f->name;
    ie.ent = m->pen;
    ie.num = f->id;
    ie.len = nfs_field_is_list(f) ? types[f->type].size : nfs_field_wire_size(f);
    ie.type = types[f->type].fb;
    ie.flags = mean.flags;
    if (f->type != NFS_T_IPV6 && f->type != NFS_T_MAC && f->type != NFS_T_STRING &&
        !nfs_field_is_list(f))
        ie.flags |= FB_IE_F_ENDIAN;
    ie.description = f->doc;
    fbInfoModelAddElement(m->fb, &ie);
    m->own[m->n_own++] = fbInfoModelGetElementByID(m->fb, f->id, m->pen);
    return true;
}

static bool
add_elements(struct nfs_ipfix_model *m, struct nfs_error *err)
{
    for (size_t g = 0; g < m->n_groups; g++) {
        for (size_t i = 0; i < m->groups[g].n_fields; i++) {
            const struct nfs_field *f = &m->groups[g].fields[i];

            if (!is_element(f))
                continue;
            if (!check_field(f, err))
                return false;
            if (f->pen == NFS_PEN_OWN ? !add_own(m, f, err) : !check_known(m->fb, f, err))
                return false;
        }
    }
    return true;
}

static size_t
count_elements(const struct nfs_field_group *groups, size_t n_groups)
{
    size_t n = 0;

    for (size_t g = 0; g < n_groups; g++)
        for (size_t i = 0; i < groups[g].n_fields; i++)
            n += is_element(&groups[g].fields[i]);
    return n;
}

/*
 * The wire form of a fixed-size value (RFC 7011 §6.1): addresses and MACs are the bytes they
 * are (struct nfs_ip holds network order), numbers, times and doubles are host-order values
 * of their field's size written big-endian. check_field() holds that size to the field's type;
 * where it is less than the IANA element's (tcpControlBits and its reverse: unsigned16 in one
 * byte) the template announces it, RFC 7011 §6.2's reduced-size encoding, whose low-order
 * bytes are exactly these. A slot keeps its kind, so the per-record loop makes one switch per
 * value, with constant-size copies.
 */
static enum kind
kind_of(uint8_t type, uint16_t size)
{
    if (type == NFS_T_STRING)
        return K_STRING;
    if (type == NFS_T_LIST_I8 || type == NFS_T_LIST_I32 || type == NFS_T_LIST_I64)
        return K_LIST;
    if (type == NFS_T_IPV4 || type == NFS_T_IPV6 || type == NFS_T_MAC)
        return size == 4 ? K_COPY4 : size == 6 ? K_COPY6 : K_COPY16;
    return size == 1 ? K_BE8 : size == 2 ? K_BE16 : size == 4 ? K_BE32 : K_BE64;
}

/* Writes one fixed-size value of kind k; returns its size. */
static inline size_t
put_kind(enum kind k, const uint8_t *src, uint8_t *dst)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;

    switch (k) {
    case K_COPY4:
        memcpy(dst, src, 4);
        return 4;
    case K_COPY6:
        memcpy(dst, src, 6);
        return 6;
    case K_COPY16:
        memcpy(dst, src, 16);
        return 16;
    case K_BE8:
        *dst = *src;
        return 1;
    case K_BE16:
        memcpy(&v16, src, 2);
        v16 = htobe16(v16);
        memcpy(dst, &v16, 2);
        return 2;
    case K_BE32:
        memcpy(&v32, src, 4);
        v32 = htobe32(v32);
        memcpy(dst, &v32, 4);
        return 4;
    default: /* K_BE64; strings and lists never get here */
        memcpy(&v64, src, 8);
        v64 = htobe64(v64);
        memcpy(dst, &v64, 8);
        return 8;
    }
}

/* Places slot s at *off; a list's items go after the record, at l->items_size. */
static void
place(const struct nfs_ipfix_model *m, struct layout *l, struct slot *s, size_t *off)
{
    s->off = (uint16_t)*off;
    s->wire = nfs_field_wire_size(s->f);
    s->src = s->f->offset;
    s->kind = kind_of(s->f->type, s->wire);
    if (nfs_field_is_list(s->f)) {
        s->item_pen = pen_of(s->f, m->pen);
        s->item = fbInfoModelGetElementByID(m->fb, s->f->id, s->item_pen);
        s->items_off = (uint16_t)l->items_size;
        l->items_size += s->f->size;
        l->wire_max += 3 + LIST_HDR_PEN + s->f->size;
        *off += sizeof(fbBasicList_t);
    } else if (s->wire == FB_IE_VARLEN) {
        l->wire_max += 3 + s->f->size;
        *off += sizeof(fbVarfield_t);
    } else {
        l->wire_max += s->wire;
        *off += s->wire;
    }
}

/* Cuts the slots into runs (struct run). */
static bool
build_runs(struct layout *l, struct nfs_error *err)
{
    l->runs = calloc(l->n + 1, sizeof(*l->runs));
    if (l->runs == NULL)
        return nfs_error_set(err, "out of memory"), false;
    for (size_t i = 0; i < l->n; i++) {
        const struct slot *s = &l->slots[i];
        struct run *r = l->n_runs > 0 ? &l->runs[l->n_runs - 1] : NULL;
        bool fixed = s->kind < K_STRING;

        if (r == NULL || !fixed || !r->fixed || r->group != s->group) {
            r = &l->runs[l->n_runs++];
            *r = (struct run){.first = (uint16_t)i, .fixed = fixed, .group = s->group};
        }
        r->n++;
        if (fixed)
            r->wire = (uint16_t)(r->wire + s->wire);
    }
    return true;
}

/* The template of one IP version: the applicable elements of every group, in table order. */
static bool
build_layout(struct nfs_ipfix_model *m, unsigned ip_version, struct layout *l,
             struct nfs_error *err)
{
    size_t off = 0;

    l->slots = calloc(count_elements(m->groups, m->n_groups) + 1, sizeof(*l->slots));
    if (l->slots == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    for (size_t g = 0; g < m->n_groups; g++) {
        for (size_t i = 0; i < m->groups[g].n_fields; i++) {
            const struct nfs_field *f = &m->groups[g].fields[i];
            struct slot *s = &l->slots[l->n];

            if (!is_element(f) || !nfs_field_applies(f, ip_version))
                continue;
            s->f = f;
            s->group = g;
            place(m, l, s, &off);
            l->n++;
        }
    }
    l->size = off;
    if (!build_runs(l, err))
        return false;
    /* COLLECTORS.md: python3-ipfix misreads a template whose first element is variable-length. */
    if (l->n == 0 || l->slots[0].wire == FB_IE_VARLEN || off + l->items_size > UINT16_MAX ||
        l->wire_max > UINT16_MAX) {
        nfs_error_set(err, "IPv%u template: %s", ip_version,
                      l->n == 0 ? "no elements"
                      : off + l->items_size > UINT16_MAX || l->wire_max > UINT16_MAX
                          ? "record too large"
                          : "first element is variable-length");
        return false;
    }
    return true;
}

struct nfs_ipfix_model *
nfs_ipfix_model_create(const struct nfs_field_group *groups, size_t n_groups,
                       uint32_t enterprise_number, struct nfs_error *err)
{
    struct nfs_ipfix_model *m = calloc(1, sizeof(*m));
    size_t n = count_elements(groups, n_groups);

    if (enterprise_number == NFS_PEN_IANA || enterprise_number == NFS_PEN_REVERSE ||
        enterprise_number == NFS_PEN_OWN) {
        nfs_error_set(err, "enterprise number %u is reserved", enterprise_number);
        free(m);
        return NULL;
    }
    if (m == NULL || (m->groups = calloc(n_groups + 1, sizeof(*groups))) == NULL ||
        (m->own = calloc(n + 1, sizeof(*m->own))) == NULL) {
        nfs_error_set(err, "out of memory");
        nfs_ipfix_model_destroy(m);
        return NULL;
    }
    memcpy(m->groups, groups, n_groups * sizeof(*groups));
    m->n_groups = n_groups;
    m->pen = enterprise_number;
    m->fb = fbInfoModelAlloc();
    if (!add_elements(m, err) || !build_layout(m, 4, &m->ip4, err) ||
        !build_layout(m, 6, &m->ip6, err)) {
        nfs_ipfix_model_destroy(m);
        return NULL;
    }
    return m;
}

void
nfs_ipfix_model_destroy(struct nfs_ipfix_model *m)
{
    if (m == NULL)
        return;
    if (m->fb != NULL)
        fbInfoModelFree(m->fb);
    free(m->ip4.slots);
    free(m->ip6.slots);
    free(m->ip4.runs);
    free(m->ip6.runs);
    free(m->own);
    free(m->groups);
    free(m);
}

uint32_t
nfs_ipfix_model_enterprise(const struct nfs_ipfix_model *m)
{
    return m->pen;
}

static const struct layout *
layout_of(const struct nfs_ipfix_model *m, unsigned ip_version)
{
    return ip_version == 4 ? &m->ip4 : ip_version == 6 ? &m->ip6 : NULL;
}

size_t
nfs_ipfix_record_size(const struct nfs_ipfix_model *m, unsigned ip_version)
{
    const struct layout *l = layout_of(m, ip_version);
    return l != NULL ? l->size : 0;
}

size_t
nfs_ipfix_max_record_size(const struct nfs_ipfix_model *m)
{
    size_t ip4 = m->ip4.size + m->ip4.items_size, ip6 = m->ip6.size + m->ip6.items_size;

    return ip4 > ip6 ? ip4 : ip6;
}

/* Writes one value; src points at the field's bytes in its struct. */
static void
put(const struct slot *s, const uint8_t *src, uint8_t *dst)
{
    const struct nfs_field *f = s->f;

    switch (f->type) {
    case NFS_T_IPV4: {
        uint32_t host = nfs_be32(src);
        memcpy(dst, &host, 4);
        break;
    }
    case NFS_T_STRING: {
        fbVarfield_t v = {strnlen((const char *)src, f->size), (uint8_t *)(uintptr_t)src};
        memcpy(dst, &v, sizeof(v));
        break;
    }
    default: /* integers and times in host order, IPv6 and MAC as bytes: copied as they are */
        memcpy(dst, src, s->wire);
        break;
    }
}

size_t
nfs_ipfix_put_fixed(const struct nfs_field *f, const uint8_t *src, uint8_t *dst)
{
    uint16_t size = nfs_field_wire_size(f);

    if (src == NULL)
        memset(dst, 0, size);
    else
        put_kind(kind_of(f->type, size), src, dst);
    return size;
}

/* A list: its items in network order after the record, and the fbBasicList_t pointing at
 * them. src NULL (the group has no values): an empty list. */
static void
put_list(const struct layout *l, const struct slot *s, const uint8_t *src, uint8_t *buf)
{
    size_t item = nfs_field_item_size(s->f), n = src != NULL ? s->f->size / item : 0;
    uint8_t *items = buf + l->size + s->items_off;
    fbBasicList_t bl;

    for (size_t i = 0; i < n; i++)
        put_kind(kind_of(NFS_T_I64, (uint16_t)item), src + i * item, items + i * item);
    memset(&bl, 0, sizeof(bl));
    fbBasicListInitWithOwnBuffer(&bl, LIST_SEMANTIC_ORDERED, s->item, (uint16_t)n,
                                 (uint16_t)(n * item), items);
    memcpy(buf + s->off, &bl, sizeof(bl));
}

size_t
nfs_ipfix_encode(const struct nfs_ipfix_model *m, unsigned ip_version, const void *const *values,
                 uint8_t *buf, size_t size)
{
    const struct layout *l = layout_of(m, ip_version);

    if (l == NULL || size < l->size + l->items_size)
        return 0;
    memset(buf, 0, l->size);
    for (size_t i = 0; i < l->n; i++) {
        const struct slot *s = &l->slots[i];
        const uint8_t *base = values[s->group];

        if (nfs_field_is_list(s->f))
            put_list(l, s, base != NULL ? base + s->f->offset : NULL, buf);
        else if (base != NULL)
            put(s, base + s->f->offset, buf + s->off);
    }
    return l->size;
}

/* A string (RFC 7011 §7): a 1-byte length, or 255 and a 2-byte length, then its bytes. */
static uint8_t *
put_string(const struct slot *s, const uint8_t *src, uint8_t *dst)
{
    size_t len = src != NULL ? strnlen((const char *)src, s->f->size) : 0;

    if (len < VARLEN_LONG) {
        *dst++ = (uint8_t)len;
    } else {
        *dst++ = VARLEN_LONG;
        nfs_put_be16(dst, (uint16_t)len);
        dst += 2;
    }
    if (len > 0)
        memcpy(dst, src, len);
    return dst + len;
}

/*
 * A basicList (RFC 6313 §4.5.1) as libfixbuf writes one: always the 3-byte length form, the
 * semantic, the items' element id (enterprise bit set when it has a PEN), their length, the
 * PEN, then the items big-endian. src NULL (the group has no values): an empty list.
 */
static uint8_t *
put_wire_list(const struct slot *s, const uint8_t *src, uint8_t *dst)
{
    uint16_t item = nfs_field_item_size(s->f);
    size_t n = src != NULL ? s->f->size / item : 0;
    size_t hdr = s->item_pen != 0 ? LIST_HDR_PEN : LIST_HDR;
    enum kind k = kind_of(NFS_T_I64, item);

    dst[0] = VARLEN_LONG;
    nfs_put_be16(dst + 1, (uint16_t)(hdr + n * item));
    dst[3] = LIST_SEMANTIC_ORDERED;
    nfs_put_be16(dst + 4, (uint16_t)(s->f->id | (s->item_pen != 0 ? 0x8000u : 0)));
    nfs_put_be16(dst + 6, item);
    if (s->item_pen != 0)
        nfs_put_be32(dst + 8, s->item_pen);
    dst += 3 + hdr;
    for (size_t i = 0; i < n; i++, dst += item)
        put_kind(k, src + i * item, dst);
    return dst;
}

size_t
nfs_ipfix_max_wire_size(const struct nfs_ipfix_model *m)
{
    return m->ip4.wire_max > m->ip6.wire_max ? m->ip4.wire_max : m->ip6.wire_max;
}

/* A string, a list, or a value of a group without values (src NULL: zeros, empty). */
static uint8_t *
put_other(const struct slot *s, const uint8_t *src, uint8_t *p)
{
    if (s->kind == K_LIST)
        return put_wire_list(s, src, p);
    if (s->kind == K_STRING)
        return put_string(s, src, p);
    memset(p, 0, s->wire);
    return p + s->wire;
}

size_t
nfs_ipfix_encode_wire(const struct nfs_ipfix_model *m, unsigned ip_version,
                      const void *const *values, uint8_t *buf, size_t size)
{
    const struct layout *l = layout_of(m, ip_version);
    uint8_t *p = buf;

    if (l == NULL || size < l->wire_max)
        return 0;
    for (const struct run *r = l->runs, *end = r + l->n_runs; r < end; r++) {
        const uint8_t *base = values[r->group];
        const struct slot *s = &l->slots[r->first];

        if (!r->fixed) {
            p = put_other(s, base != NULL ? base + s->src : NULL, p);
        } else if (base == NULL) {
            memset(p, 0, r->wire);
            p += r->wire;
        } else {
            for (const struct slot *e = s + r->n; s < e; s++)
                p += put_kind(s->kind, base + s->src, p);
        }
    }
    return (size_t)(p - buf);
}

static fbTemplate_t *
template_build(const struct nfs_ipfix_model *m, const struct layout *l, struct nfs_error *err)
{
    fbTemplate_t *t = fbTemplateAlloc(m->fb);
    GError *gerr = NULL;

    for (size_t i = 0; i < l->n; i++) {
        const char *name = nfs_field_is_list(l->slots[i].f) ? "basicList" : l->slots[i].f->name;
        fbInfoElementSpec_t spec = {(char *)(uintptr_t)name, l->slots[i].wire, 0};

        if (!fbTemplateAppendSpec(t, &spec, 0, &gerr)) {
            fbTemplateFreeUnused(t);
            nfs_ipfix_gerror(err, gerr, l->slots[i].f->name);
            return NULL;
        }
    }
    if (fbTemplateGetIELenOfMemBuffer(t) != l->size) {
        nfs_error_set(err, "libfixbuf expects %u-byte records, the encoder writes %zu",
                      fbTemplateGetIELenOfMemBuffer(t), l->size);
        fbTemplateFreeUnused(t);
        return NULL;
    }
    return t;
}

/* Adds the template of one version as internal and external template, same ID. */
static bool
session_add(const struct nfs_ipfix_model *m, fbSession_t *s, unsigned ip_version,
            struct nfs_error *err)
{
    uint16_t tid = nfs_ipfix_template_id(ip_version);
    fbTemplate_t *t = template_build(m, layout_of(m, ip_version), err);
    GError *gerr = NULL;

    if (t == NULL)
        return false;
    if (!fbSessionAddTemplate(s, TRUE, tid, t, &gerr)) {
        fbTemplateFreeUnused(t);
        return nfs_ipfix_gerror(err, gerr, "adding internal template");
    }
    if (!fbSessionAddTemplate(s, FALSE, tid, t, &gerr))
        return nfs_ipfix_gerror(err, gerr, "adding external template");
    return true;
}

fbSession_t *
nfs_ipfix_session_create(const struct nfs_ipfix_model *m, uint32_t domain, bool rfc5610,
                         struct nfs_error *err)
{
    fbSession_t *s = fbSessionAlloc(m->fb);
    GError *gerr = NULL;

    fbSessionSetDomain(s, domain);
    /* Enabled FALSE: this only adds the type-record template; nfs_ipfix_announce() writes
     * the records itself, for our elements only and before the data templates. */
    if (rfc5610 &&
        fbSessionSetMetadataExportElements(s, FALSE, NFS_IPFIX_TID_IE_TYPES, &gerr) == 0) {
        nfs_ipfix_gerror(err, gerr, "adding the RFC 5610 template");
        fbSessionFree(s);
        return NULL;
    }
    if (!session_add(m, s, 4, err) || !session_add(m, s, 6, err)) {
        fbSessionFree(s);
        return NULL;
    }
    return s;
}

static bool
announce_types(const struct nfs_ipfix_model *m, fBuf_t *fbuf, struct nfs_error *err)
{
    fbSession_t *s = fBufGetSession(fbuf);
    GError *gerr = NULL;

    if (fbSessionGetTemplate(s, FALSE, NFS_IPFIX_TID_IE_TYPES, NULL) == NULL)
        return true;
    if (!fbSessionExportTemplate(s, NFS_IPFIX_TID_IE_TYPES, &gerr))
        return nfs_ipfix_gerror(err, gerr, "RFC 5610 template");
    for (size_t i = 0; i < m->n_own; i++) {
        if (!fbInfoElementWriteOptionsRecord(fbuf, m->own[i], NFS_IPFIX_TID_IE_TYPES,
                                             NFS_IPFIX_TID_IE_TYPES, &gerr))
            return nfs_ipfix_gerror(err, gerr, "RFC 5610 records");
    }
    return true;
}

bool
nfs_ipfix_announce(const struct nfs_ipfix_model *m, fBuf_t *fbuf, struct nfs_error *err)
{
    fbSession_t *s = fBufGetSession(fbuf);
    GError *gerr = NULL;

    if (!announce_types(m, fbuf, err))
        return false;
    if (!fbSessionExportTemplate(s, NFS_IPFIX_TID_IP4, &gerr) ||
        !fbSessionExportTemplate(s, NFS_IPFIX_TID_IP6, &gerr))
        return nfs_ipfix_gerror(err, gerr, "data templates");
    return true;
}

/* XML text: the few characters that cannot appear as they are. */
static void
xml_text(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void
xml_record(FILE *out, const struct nfs_field *f, uint32_t pen)
{
    struct meaning mean = meaning_of(f);

    fprintf(out, "    <record>\n      <name>%s</name>\n      <dataType>%s</dataType>\n", f->name,
            types[f->type].xml);
    if (mean.semantics != NULL)
        fprintf(out, "      <dataTypeSemantics>%s</dataTypeSemantics>\n", mean.semantics);
    if (mean.units != NULL)
        fprintf(out, "      <units>%s</units>\n", mean.units);
    fprintf(out, "      <cert:enterpriseId>%u</cert:enterpriseId>\n", pen);
    fprintf(out, "      <elementId>%u</elementId>\n      <status>current</status>\n", f->id);
    fputs("      <description>\n        <paragraph>", out);
    xml_text(out, f->doc);
    fputs("</paragraph>\n      </description>\n    </record>\n\n", out);
}

bool
nfs_ipfix_write_element_xml(FILE *out, const struct nfs_field_group *groups, size_t n_groups,
                            uint32_t enterprise_number, struct nfs_error *err)
{
    fputs("<?xml version='1.0' encoding='UTF-8'?>\n"
          "<registry id=\"nfsensor_ipfix\"\n"
          "          xmlns=\"http://www.iana.org/assignments\"\n"
          "          xmlns:cert=\"http://www.cert.org/ipfix\">\n\n"
          "  <title>nfsensor IPFIX elements</title>\n\n"
          "  <registry id=\"nfsensor-information-elements\">\n",
          out);
    fprintf(out, "    <title>nfsensor enterprise elements (PEN %u)</title>\n\n", enterprise_number);
    for (size_t g = 0; g < n_groups; g++) {
        for (size_t i = 0; i < groups[g].n_fields; i++) {
            const struct nfs_field *f = &groups[g].fields[i];

            if (is_element(f) && f->pen == NFS_PEN_OWN && f->type < NFS_NITEMS(types) &&
                types[f->type].xml != NULL)
                xml_record(out, f, pen_of(f, enterprise_number));
        }
    }
    fputs("  </registry>\n</registry>\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        nfs_error_set(err, "writing the element file failed");
        return false;
    }
    return true;
}

const struct nfs_field_group *
nfs_ipfix_model_groups(const struct nfs_ipfix_model *m, size_t *n)
{
    *n = m->n_groups;
    return m->groups;
}
