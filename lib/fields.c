/*
 * fields.c: the core field table (see fields.h).
 *
 * IPFIX mapping (docs/ipfix.md): a record is an RFC 5103 biflow. Forward elements describe the
 * src->dst direction (src is the sender of the flow's first packet), reverse elements (PEN 29305)
 * the dst->src direction. octetDeltaCount is IANA's IP-layer count whatever the accounting mode;
 * the accounting-mode byte count, which the CSV's *_bytes columns hold, travels as the enterprise
 * element accountedOctetDeltaCount. Bidirectional totals and durations are CSV-only: a
 * collector derives them from the two directions.
 * Enterprise element ids start above 1000 and never change meaning (COLLECTORS.md: pmacct keys
 * enterprise elements by id alone).
 */
#include "fields.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define DIR_CSV(dir, col) #dir "_" col

/* CSV-only columns of one direction (bidirectional, src2dst, dst2src). */
#define CSV_DIR(dir)                                                                               \
    {#dir "FirstSeenMilliseconds", 0, 0, NFS_T_MS, NFS_AT(dir.first_seen_ms),                      \
     DIR_CSV(dir, "first_seen_ms"), 0, "first packet of " #dir},                                   \
    {#dir "LastSeenMilliseconds", 0, 0, NFS_T_MS, NFS_AT(dir.last_seen_ms),                        \
     DIR_CSV(dir, "last_seen_ms"), 0, "last packet of " #dir},                                     \
    {#dir "DurationMilliseconds", 0, 0, NFS_T_U64, NFS_AT(dir.duration_ms),                        \
     DIR_CSV(dir, "duration_ms"), 0, "last_seen - first_seen"},                                    \
    {#dir "Packets", 0, 0, NFS_T_U64, NFS_AT(dir.packets), DIR_CSV(dir, "packets"), 0,             \
     "packets"},                                                                                   \
    {#dir "Bytes", 0, 0, NFS_T_U64, NFS_AT(dir.bytes), DIR_CSV(dir, "bytes"), 0,                   \
     "bytes, by the accounting mode"}

const struct nfs_field nfs_core_fields[] = {
    /* IPFIX name, PEN, id, type, value, CSV column, flags, doc */
    {"flowId", NFS_PEN_IANA, 148, NFS_T_U64, NFS_AT(id), "id", 0,
     "flow number, 0-based, in order of export"},
    {"nfstreamExpirationId", 0, 0, NFS_T_I8, NFS_AT(expiration_id), "expiration_id", 0,
     "NFStream's: 0 idle or end of input, 1 active timeout, 2 TCP end, 3 evicted, -1 plugin"},
    {"sourceIPv4Address", NFS_PEN_IANA, 8, NFS_T_IPV4, NFS_AT(src_ip), "src_ip", NFS_F_IP4,
     "address of the endpoint that sent the first packet"},
    {"sourceIPv6Address", NFS_PEN_IANA, 27, NFS_T_IPV6, NFS_AT(src_ip), "src_ip", NFS_F_IP6,
     "address of the endpoint that sent the first packet"},
    {"sourceMacAddress", NFS_PEN_IANA, 56, NFS_T_MAC, NFS_AT(src_mac), "src_mac", 0,
     "source MAC of the first packet; zeros without Ethernet"},
    {"sourceOui", 0, 0, NFS_T_OUI, NFS_AT(src_mac), "src_oui", 0, "first three octets of src_mac"},
    {"sourceTransportPort", NFS_PEN_IANA, 7, NFS_T_U16, NFS_AT(src_port), "src_port", 0,
     "0 for ICMP and other protocols"},
    {"destinationIPv4Address", NFS_PEN_IANA, 12, NFS_T_IPV4, NFS_AT(dst_ip), "dst_ip", NFS_F_IP4,
     "the other endpoint"},
    {"destinationIPv6Address", NFS_PEN_IANA, 28, NFS_T_IPV6, NFS_AT(dst_ip), "dst_ip", NFS_F_IP6,
     "the other endpoint"},
    {"destinationMacAddress", NFS_PEN_IANA, 80, NFS_T_MAC, NFS_AT(dst_mac), "dst_mac", 0,
     "destination MAC of the first packet"},
    {"destinationOui", 0, 0, NFS_T_OUI, NFS_AT(dst_mac), "dst_oui", 0,
     "first three octets of dst_mac"},
    {"destinationTransportPort", NFS_PEN_IANA, 11, NFS_T_U16, NFS_AT(dst_port), "dst_port", 0,
     "0 for ICMP and other protocols"},
    {"protocolIdentifier", NFS_PEN_IANA, 4, NFS_T_U8, NFS_AT(protocol), "protocol", 0,
     "IP protocol (IPv6: next header after extension headers)"},
    {"ipVersion", NFS_PEN_IANA, 60, NFS_T_U8, NFS_AT(ip_version), "ip_version", 0,
     "of the innermost IP header"},
    {"vlanId", NFS_PEN_IANA, 58, NFS_T_U16, NFS_AT(vlan_id), "vlan_id", 0,
     "innermost 802.1Q VLAN id, 0 if none"},
    {"tunnelId", NFS_PEN_OWN, 1001, NFS_T_U8, NFS_AT(tunnel_id), "tunnel_id", 0,
     "0 none, 1 GTP-U, 2 CAPWAP, 3 TZSP, 5 VXLAN, 6 Geneve, 7 GRE, 8 ERSPAN, 9 MPLS-in-UDP"},
    CSV_DIR(bidirectional),
    CSV_DIR(src2dst),
    CSV_DIR(dst2src),
    /*
     * The IPFIX view of the two directions. Reverse elements come first: collectors that ignore
     * the RFC 5103 reverse PEN (nfdump 1.7 for times and flags) then keep the forward values,
     * which are written last.
     */
    {"reverseFlowStartMilliseconds", NFS_PEN_REVERSE, 152, NFS_T_MS,
     NFS_AT(dst2src.first_seen_ms), NULL, 0, "first dst->src packet, 0 if none"},
    {"reverseFlowEndMilliseconds", NFS_PEN_REVERSE, 153, NFS_T_MS, NFS_AT(dst2src.last_seen_ms),
     NULL, 0, "last dst->src packet, 0 if none"},
    {"reversePacketDeltaCount", NFS_PEN_REVERSE, 2, NFS_T_U64, NFS_AT(dst2src.packets), NULL, 0,
     "dst->src packets"},
    {"reverseOctetDeltaCount", NFS_PEN_REVERSE, 1, NFS_T_U64, NFS_AT(dst2src.ip_octets), NULL, 0,
     "dst->src IP octets"},
    {"reverseAccountedOctetDeltaCount", NFS_PEN_OWN, 1003, NFS_T_U64, NFS_AT(dst2src.bytes), NULL,
     0, "dst->src bytes by the accounting mode"},
    {"reverseTcpControlBits", NFS_PEN_REVERSE, 6, NFS_T_U8, NFS_AT(dst2src.tcp_flags), NULL, 0,
     "OR of dst->src TCP flags"},
    {"flowStartMilliseconds", NFS_PEN_IANA, 152, NFS_T_MS, NFS_AT(src2dst.first_seen_ms), NULL, 0,
     "first src->dst packet (the flow's first packet)"},
    {"flowEndMilliseconds", NFS_PEN_IANA, 153, NFS_T_MS, NFS_AT(src2dst.last_seen_ms), NULL, 0,
     "last src->dst packet"},
    {"packetDeltaCount", NFS_PEN_IANA, 2, NFS_T_U64, NFS_AT(src2dst.packets), NULL, 0,
     "src->dst packets"},
    {"octetDeltaCount", NFS_PEN_IANA, 1, NFS_T_U64, NFS_AT(src2dst.ip_octets), NULL, 0,
     "src->dst IP octets, headers included"},
    {"accountedOctetDeltaCount", NFS_PEN_OWN, 1002, NFS_T_U64, NFS_AT(src2dst.bytes), NULL, 0,
     "src->dst bytes by the accounting mode (the CSV's src2dst_bytes)"},
    {"tcpControlBits", NFS_PEN_IANA, 6, NFS_T_U8, NFS_AT(src2dst.tcp_flags), NULL, 0,
     "OR of src->dst TCP flags"},
    {"flowEndReason", NFS_PEN_IANA, 136, NFS_T_U8, NFS_AT(end_reason), NULL, 0,
     "1 idle, 2 active, 3 end of flow (TCP), 4 forced (end of input), 5 table full"},
};

const size_t nfs_core_fields_count = NFS_NITEMS(nfs_core_fields);

uint16_t
nfs_field_wire_size(const struct nfs_field *f)
{
    switch (f->type) {
    case NFS_T_IPV4:
        return 4;
    case NFS_T_IPV6:
        return 16;
    case NFS_T_STRING:
    case NFS_T_LIST_I8:
    case NFS_T_LIST_I32:
    case NFS_T_LIST_I64:
        return 0xFFFF;
    default:
        return f->size;
    }
}

uint16_t
nfs_field_item_size(const struct nfs_field *f)
{
    switch (f->type) {
    case NFS_T_LIST_I8:
        return 1;
    case NFS_T_LIST_I32:
        return 4;
    case NFS_T_LIST_I64:
        return 8;
    default:
        return 0;
    }
}

static uint64_t
read_uint(const uint8_t *p, size_t size)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    switch (size) {
    case 1:
        memcpy(&u8, p, 1);
        return u8;
    case 2:
        memcpy(&u16, p, 2);
        return u16;
    case 4:
        memcpy(&u32, p, 4);
        return u32;
    default:
        memcpy(&u64, p, 8);
        return u64;
    }
}

/* A signed integer of 1, 4 or 8 bytes. */
static int64_t
read_int(const uint8_t *p, size_t size)
{
    int8_t i8;
    int32_t i32;
    int64_t i64;

    switch (size) {
    case 1:
        memcpy(&i8, p, 1);
        return i8;
    case 4:
        memcpy(&i32, p, 4);
        return i32;
    default:
        memcpy(&i64, p, 8);
        return i64;
    }
}

/* "[a, b, c]": Python's str() of a list of ints, which is how NFStream's CSV holds arrays. */
static void
format_list(const struct nfs_field *f, const uint8_t *v, char *buf, size_t size)
{
    size_t item = nfs_field_item_size(f), n = f->size / item;
    size_t used = (size_t)snprintf(buf, size, "[");

    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? ", " : "",
                                 read_int(v + i * item, item));
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* The shortest text that reads back as the same double, as Python prints floats. */
static void
format_double(double d, char *buf, size_t size)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 2 < size)
        strcat(buf, ".0"); /* 2.0, not 2: the column stays a float column */
}

char *
nfs_field_format(const struct nfs_field *f, const void *values, char *buf, size_t size)
{
    const uint8_t *v = (const uint8_t *)values + f->offset;
    double d;

    switch (f->type) {
    case NFS_T_I8:
    case NFS_T_I32:
    case NFS_T_I64:
        snprintf(buf, size, "%" PRId64, read_int(v, f->size));
        break;
    case NFS_T_LIST_I8:
    case NFS_T_LIST_I32:
    case NFS_T_LIST_I64:
        format_list(f, v, buf, size);
        break;
    case NFS_T_IPV4:
    case NFS_T_IPV6:
        nfs_ip_format((const struct nfs_ip *)v, f->type == NFS_T_IPV6 ? 6 : 4, buf, size);
        break;
    case NFS_T_MAC:
        snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", v[0], v[1], v[2], v[3], v[4], v[5]);
        break;
    case NFS_T_OUI:
        snprintf(buf, size, "%02x:%02x:%02x", v[0], v[1], v[2]);
        break;
    case NFS_T_STRING:
        snprintf(buf, size, "%.*s", (int)f->size, (const char *)v);
        break;
    case NFS_T_DOUBLE:
        memcpy(&d, v, sizeof(d));
        format_double(d, buf, size);
        break;
    default:
        snprintf(buf, size, "%" PRIu64, read_uint(v, f->size));
        break;
    }
    return buf;
}

bool
nfs_field_is_text(const struct nfs_field *f)
{
    switch (f->type) {
    case NFS_T_IPV4:
    case NFS_T_IPV6:
    case NFS_T_MAC:
    case NFS_T_OUI:
    case NFS_T_STRING:
        return true;
    default:
        return nfs_field_is_list(f); /* NFStream's CSV quotes "[0, 1, -1]" */
    }
}
