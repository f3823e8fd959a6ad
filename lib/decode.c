/*
 * decode.c: the decoder's general steps, the link layers and the 802.1Q / MPLS / PPPoE loop.
 *
 * nfs_decode_steps(), for every frame decode_fast.c does not take, runs NFStream's
 * packet_process steps in order: link layer (datalink_check), ethertype loop
 * (ether_type_check), IP (decode_ip.c, iph_check), tunnels when enabled (decode_tunnel.c,
 * which may send decoding back to the link layer or to IP), then the packet
 * fields (decode_ip.c, packet_parse). Each link decoder sets the cursor's ethertype and IP
 * offset the way NFStream does; the IP version nibble decides v4/v6 later anyway.
 * Link-layer reads are covered by the first check (caplen >= frame offset + 28) unless noted.
 */
#include <pcap/dlt.h>

#include "decode_internal.h"

#define LINKTYPE_RAW   101 /* pcap file value, mapped to DLT_RAW by libpcap but accepted too */
#define SNAP_SAP       0xAA
#define STP_SAP        0x42
#define RADIOTAP_BAD_FCS 0x50 /* nDPI's BAD_FCS: flags "FCS at end" | "bad FCS" */

/* BSD loopback: NFStream compares the family word in network order with 2 (AF_INET); a
 * little-endian capture's IPv4 thus gets the IPv6 ethertype, which only matters for the
 * IPv4 fragment and tunnel checks (decode_ip.c). */
static void
link_null(struct nfs_decode_cursor *c, const uint8_t *p)
{
    c->type = nfs_be32(p) == 2 ? NFS_ETH_P_IP : NFS_ETH_P_IPV6;
    c->ip_offset = c->eth_offset + 4;
}

/* Cisco HDLC: address, control, then an ethertype. */
static void
link_chdlc(struct nfs_decode_cursor *c, const uint8_t *p)
{
    c->type = nfs_be16(p + 2);
    c->ip_offset = c->eth_offset + 4;
}

/* PPP or C_HDLC: NFStream tests the capture's first byte (not the inner frame's) for HDLC. */
static void
link_ppp(struct nfs_decode_cursor *c, const uint8_t *p)
{
    if (c->data[0] == 0x0f || c->data[0] == 0x8f) {
        link_chdlc(c, p);
        return;
    }
    c->type = nfs_be16(p);
    c->ip_offset = c->eth_offset + 2;
}

/* Ethernet II or 802.3 + LLC. The SNAP protocol id is taken in host order on a little-endian
 * machine, as NFStream does (it forgets ntohs): IPv4 over SNAP is then not "IPv4" for the
 * fragment check. We read it little-endian explicitly so every host decodes alike. */
static enum nfs_counter
link_en10mb(struct nfs_decode_cursor *c, const uint8_t *p)
{
    uint16_t check = nfs_be16(p + 12);

    copy_macs(c->pkt, p + 6, p);
    c->ip_offset = c->eth_offset + 14;
    if (check <= 1500)
        c->pyld_eth_len = check;
    else if (check >= 1536)
        c->type = check;
    if (c->pyld_eth_len == 0)
        return NFS_C_PROCESSED;
    const uint8_t *llc = p + 14;
    if (llc[0] == SNAP_SAP || llc[1] == SNAP_SAP) {
        c->type = (uint16_t)(llc[7] << 8 | llc[6]);
        c->ip_offset += 8;
    } else if (llc[0] == STP_SAP || llc[1] == STP_SAP) {
        return NFS_C_LINK_STP;
    }
    return NFS_C_PROCESSED;
}

/*
 * 802.11 header length. ToDS xor FromDS: NFStream's fixed 26 (a QoS data header). Otherwise
 * NFStream keeps its previous value (0 at first) and reads the LLC inside the 802.11 header,
 * which yields nothing sensible; we compute the real length there instead.
 */
static unsigned
wifi_header_len(const uint8_t *wifi)
{
    bool to_ds = wifi[1] & 0x01, from_ds = wifi[1] & 0x02;

    if (to_ds != from_ds)
        return 26;
    return 24 + (to_ds ? 6 : 0) + ((wifi[0] & 0x80) ? 2 : 0);
}

/* Radiotap + 802.11 data frame + LLC. Flags are read at NFStream's fixed offset 16. The
 * destination MAC is the third address, as NFStream's struct calls it "dest". */
static enum nfs_counter
link_radiotap(struct nfs_decode_cursor *c, const uint8_t *p)
{
    uint32_t radio_len = (uint32_t)(p[3] << 8 | p[2]);

    if ((p[16] & RADIOTAP_BAD_FCS) == RADIOTAP_BAD_FCS)
        return NFS_C_LINK_BAD_FCS;
    if (c->caplen < c->eth_offset + radio_len + 24)
        return NFS_C_LINK_TRUNCATED;
    const uint8_t *wifi = p + radio_len;
    if (((wifi[0] >> 2) & 0x3) != 2)
        return NFS_C_L2_NOT_DATA;
    c->wifi_len = wifi_header_len(wifi);
    copy_macs(c->pkt, wifi + 10, wifi + 16);
    if (c->caplen < c->eth_offset + radio_len + c->wifi_len + 8)
        return NFS_C_LINK_TRUNCATED;
    const uint8_t *llc = wifi + c->wifi_len;
    if (llc[0] == SNAP_SAP)
        c->type = nfs_be16(llc + 6);
    c->ip_offset = c->eth_offset + radio_len + c->wifi_len + 8;
    return NFS_C_PROCESSED;
}

/* NFStream's packet_datalink_checker, plus DLT_LOOP, LINUX_SLL2 and LINKTYPE_RAW. */
static enum nfs_counter
decode_datalink(struct nfs_decode_cursor *c)
{
    const uint8_t *p = c->data + c->eth_offset;

    if (c->caplen < c->eth_offset + 28) /* 28 = min IP + min UDP */
        return NFS_C_LINK_TRUNCATED;
    switch (c->dlt) {
    case DLT_NULL:
    case DLT_LOOP:
        link_null(c, p);
        break;
    case DLT_PPP_SERIAL:
        link_chdlc(c, p);
        break;
    case DLT_C_HDLC:
    case DLT_PPP:
        link_ppp(c, p);
        break;
    case DLT_IPV4:
        c->type = NFS_ETH_P_IP;
        c->ip_offset = c->eth_offset;
        break;
    case DLT_IPV6:
        c->type = NFS_ETH_P_IPV6;
        c->ip_offset = c->eth_offset;
        break;
    case DLT_EN10MB:
        return link_en10mb(c, p);
    case DLT_LINUX_SLL:
        c->type = nfs_be16(p + 14);
        c->ip_offset = c->eth_offset + 16;
        break;
    case DLT_LINUX_SLL2:
        c->type = nfs_be16(p);
        c->ip_offset = c->eth_offset + 20;
        break;
    case DLT_IEEE802_11_RADIO:
        return link_radiotap(c, p);
    case DLT_RAW:
    case LINKTYPE_RAW:
        c->ip_offset = c->eth_offset;
        if (p[0] >> 4 == 4)
            c->type = NFS_ETH_P_IP;
        else if (p[0] >> 4 == 6)
            c->type = NFS_ETH_P_IPV6;
        break;
    default:
        return NFS_C_LINK_UNSUPPORTED;
    }
    return NFS_C_PROCESSED;
}

static bool
is_vlan_type(uint16_t type)
{
    return type == NFS_ETH_P_8021Q || type == NFS_ETH_P_8021AD || type == NFS_ETH_P_QINQ;
}

/* 802.1Q, 802.1ad and 0x9100 tags, stacked: the innermost VID wins. */
static enum nfs_counter
pop_vlans(struct nfs_decode_cursor *c)
{
    do {
        if (c->ip_offset + 4 >= c->caplen)
            return NFS_C_VLAN_TRUNCATED;
        const uint8_t *tag = c->data + c->ip_offset;
        c->vlan_id = nfs_be16(tag) & 0xFFF;
        c->type = nfs_be16(tag + 2);
        c->ip_offset += 4;
    } while (is_vlan_type(c->type));
    return NFS_C_PROCESSED;
}

/* MPLS labels up to bottom of stack; the payload is then taken as IPv4 (the nibble decides). */
static enum nfs_counter
pop_mpls(struct nfs_decode_cursor *c)
{
    bool bottom;

    do {
        if (c->ip_offset + 4 >= c->caplen)
            return NFS_C_MPLS_TRUNCATED;
        bottom = c->data[c->ip_offset + 2] & 0x01;
        c->ip_offset += 4;
    } while (!bottom);
    c->type = NFS_ETH_P_IP;
    return NFS_C_PROCESSED;
}

/* NFStream's ether_type_check loop. */
static enum nfs_counter
decode_ethertypes(struct nfs_decode_cursor *c)
{
    enum nfs_counter rc;

    for (;;) {
        if (is_vlan_type(c->type)) {
            rc = pop_vlans(c);
        } else if (c->type == NFS_ETH_P_MPLS || c->type == NFS_ETH_P_MPLS_M) {
            rc = pop_mpls(c);
        } else if (c->type == NFS_ETH_P_PPPOE) {
            c->type = NFS_ETH_P_IP; /* 6 bytes PPPoE + 2 bytes PPP protocol */
            c->ip_offset += 8;
            rc = NFS_C_PROCESSED;
        } else {
            return NFS_C_PROCESSED;
        }
        if (rc != NFS_C_PROCESSED)
            return rc;
    }
}

/* UDP can carry any decoded tunnel; GRE (IP protocol 47) is one of nfsensor's extra ones. */
static bool
may_tunnel(const struct nfs_decode_cursor *c)
{
    if (!c->opt->decode_tunnels)
        return false;
    return c->proto == NFS_IPPROTO_UDP || (c->opt->extra_tunnels && c->proto == NFS_IPPROTO_GRE);
}

static enum nfs_counter
decode_steps(struct nfs_decode_cursor *c)
{
    enum nfs_decode_step step = NFS_STEP_LINK;
    enum nfs_counter rc;

    for (;;) {
        if (step == NFS_STEP_LINK) {
            if ((rc = decode_datalink(c)) != NFS_C_PROCESSED ||
                (rc = decode_ethertypes(c)) != NFS_C_PROCESSED)
                return rc;
        }
        if (step <= NFS_STEP_IP && (rc = nfs_decode_ip(c)) != NFS_C_PROCESSED)
            return rc;
        if (step <= NFS_STEP_IP && may_tunnel(c)) {
            if ((rc = nfs_decode_tunnel(c, &step)) != NFS_C_PROCESSED)
                return rc;
            if (step != NFS_STEP_PARSE) {
                if (++c->depth > NFS_DECODE_MAX_DEPTH)
                    return NFS_C_TUNNEL_DEPTH;
                continue;
            }
        }
        return nfs_decode_parse(c);
    }
}

enum nfs_counter
nfs_decode_steps(struct nfs_packet *pkt, int dlt, const uint8_t *data,
                 const struct nfs_decode_options *opt)
{
    struct nfs_decode_cursor c = {
        .pkt = pkt, .data = data, .caplen = pkt->cap_len, .dlt = dlt, .opt = opt,
    };
    uint64_t ts_us = pkt->ts_us;
    uint32_t wire_len = pkt->wire_len, cap_len = pkt->cap_len;

    memset(pkt, 0, sizeof(*pkt));
    pkt->ts_us = ts_us;
    pkt->wire_len = wire_len;
    pkt->cap_len = cap_len;
    return decode_steps(&c);
}

bool
nfs_decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_PPP_SERIAL:
    case DLT_C_HDLC:
    case DLT_PPP:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_IEEE802_11_RADIO:
    case DLT_RAW:
    case LINKTYPE_RAW:
        return true;
    default:
        return false;
    }
}
