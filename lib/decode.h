/*
 * decode.h: raw link-layer bytes to struct nfs_packet, as NFStream decodes them.
 *
 * The decoder walks link layer -> 802.1Q/QinQ, MPLS, PPPoE -> IPv4/IPv6 (IP-in-IP always
 * unwrapped) -> tunnels (when enabled) -> L4, and never reads past caplen. A packet it cannot
 * meter gets a named reason (a counter id); nothing is logged per packet.
 * See docs/decode.md for every rule and where nfsensor departs from NFStream.
 */
#ifndef NFS_DECODE_H
#define NFS_DECODE_H

#include "common.h"
#include "counters.h"

/* TCP flag bits, in the order of IPFIX tcpControlBits. */
enum {
    NFS_TCP_FIN = 0x01,
    NFS_TCP_SYN = 0x02,
    NFS_TCP_RST = 0x04,
    NFS_TCP_PSH = 0x08,
    NFS_TCP_ACK = 0x10,
    NFS_TCP_URG = 0x20,
    NFS_TCP_ECE = 0x40,
    NFS_TCP_CWR = 0x80,
};

/*
 * tunnel_id values (docs/decode.md): 1-3 are nDPI's ndpi_packet_tunnel values that NFStream
 * decodes; 4 is nDPI's L2TP (not decoded); 5 is nDPI's VXLAN; 6 and up are nfsensor's own.
 * Values never change meaning. With nested tunnels the innermost one's id is kept.
 */
enum nfs_tunnel {
    NFS_TUNNEL_NONE = 0,
    NFS_TUNNEL_GTP_U = 1,
    NFS_TUNNEL_CAPWAP = 2,
    NFS_TUNNEL_TZSP = 3,
    NFS_TUNNEL_L2TP = 4, /* reserved (nDPI's value); not decoded */
    NFS_TUNNEL_VXLAN = 5,
    NFS_TUNNEL_GENEVE = 6,
    NFS_TUNNEL_GRE = 7,
    NFS_TUNNEL_ERSPAN = 8,
    NFS_TUNNEL_MPLS_UDP = 9,
};

/* One decoded packet. Pointers refer to the capture buffer and live as long as it does. */
struct nfs_packet {
    uint64_t ts_us;          /* capture time, microseconds since the epoch */
    uint32_t wire_len;       /* pcap len: bytes on the wire */
    uint32_t cap_len;        /* pcap caplen: bytes captured */
    const uint8_t *ip;       /* innermost IP header */
    uint32_t ip_cap_len;     /* captured bytes from ip on (what nDPI is given) */
    struct nfs_ip src_ip, dst_ip;
    uint16_t src_port, dst_port; /* host order; 0 for ICMP and "other" protocols */
    uint8_t protocol;        /* IPv4 protocol / IPv6 next header after extension headers */
    uint8_t ip_version;      /* 4 or 6, of the innermost IP header */
    uint16_t vlan_id;        /* innermost 802.1Q VID, 0 if none */
    uint8_t tunnel_id;       /* enum nfs_tunnel */
    uint8_t tcp_flags;       /* NFS_TCP_* bits, 0 unless TCP */
    bool has_mac;            /* src_mac/dst_mac were read from an Ethernet or 802.11 header */
    uint8_t src_mac[6], dst_mac[6];
    /* Sizes for the accounting modes (FEATURES.md 1.3); from header fields, not caplen. */
    uint16_t ip_size;        /* IPv4 tot_len; IPv6 payload_len (NFStream's definition) */
    uint16_t transport_size; /* L4 length incl. its header; 0 for non TCP/UDP/ICMP/ICMPv6 */
    uint16_t payload_size;   /* L4 payload length */
    uint32_t ip_octets;      /* IANA octetDeltaCount contribution: whole IP packet incl. header */
};

struct nfs_decode_options {
    bool decode_tunnels; /* GTP-U, CAPWAP, TZSP; IP-in-IP is always unwrapped */
    bool extra_tunnels;  /* with decode_tunnels, also VXLAN, Geneve, GRE (incl. ERSPAN),
                            MPLS-in-UDP: nfsensor's, off in the nfstream profile */
};

/*
 * Decodes one captured frame of link type dlt (a DLT_* value). Fills *pkt and returns
 * NFS_C_PROCESSED when the packet is to be metered, or else the counter naming why it is not.
 * ts_us, wire_len and cap_len are copied into *pkt by the caller beforehand.
 */
enum nfs_counter nfs_decode(struct nfs_packet *pkt, int dlt, const uint8_t *data,
                            const struct nfs_decode_options *opt);

/* True when dlt is a link type nfs_decode() understands. */
bool nfs_decode_link_supported(int dlt);

#endif
