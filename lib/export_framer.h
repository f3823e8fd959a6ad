/*
 * export_framer.h: IPFIX messages cut to each collector's size, from records encoded once.
 *
 * Every record is encoded once (export_encoder.c) as an item, one template record or data
 * record each, with the set it belongs in; what libfixbuf writes (templates, options records)
 * is split into items here (nfs_ipfix_split). A framer per collector packs items into messages
 * of at most that collector's size (1400 bytes for UDP, larger for TCP and files), opening a
 * new set whenever the set id changes, and counts what each message holds:
 * data records (for sequence numbers, RFC 7011 §3.1) and flow records with their packets and
 * octets (for exact loss accounting). Sequence numbers are written from the framer's counter;
 * a TCP collector rewrites them per connection (nfs_ipfix_msg_set_seq).
 */
#ifndef NFS_EXPORT_FRAMER_H
#define NFS_EXPORT_FRAMER_H

#include "common.h"

#define NFS_IPFIX_HDR_LEN     16
#define NFS_IPFIX_SET_HDR_LEN 4
#define NFS_IPFIX_SET_TMPL    2
#define NFS_IPFIX_SET_OPTS    3
#define NFS_IPFIX_MSG_MAX     65535

/* One template record or data record, wire encoded, and what it counts for. */
struct nfs_ipfix_item {
    uint16_t set_id; /* 2 template, 3 options template, >= 256 data (the template id) */
    uint16_t len;
    const uint8_t *data;
    uint32_t flows;  /* 1 for a flow record, else 0 */
    uint64_t packets, octets; /* of the flow, both directions */
};

/* A finished message; data belongs to the framer until the next call on it. */
struct nfs_ipfix_msg {
    uint8_t *data;
    uint32_t len;
    uint32_t records; /* data records (flows, options records): the sequence number step */
    uint32_t flows;
    uint64_t packets, octets;
};

/* Template ids -> field lengths, learnt from template sets, to split data sets into records. */
struct nfs_wire_templates;

struct nfs_wire_templates *nfs_wire_templates_create(void);
void nfs_wire_templates_destroy(struct nfs_wire_templates *t);

typedef void (*nfs_item_fn)(void *ctx, const struct nfs_ipfix_item *item);

/*
 * Splits one whole message into items, in order, learning the templates it defines. Returns
 * false, with err set, when the message is malformed or uses an unknown template.
 */
bool nfs_ipfix_split(struct nfs_wire_templates *t, const uint8_t *msg, size_t len,
                     nfs_item_fn fn, void *ctx, struct nfs_error *err);

/* Length of the message starting at p (from its header), 0 when fewer than 4 bytes. */
size_t nfs_ipfix_msg_len(const uint8_t *p, size_t avail);
void nfs_ipfix_msg_set_seq(uint8_t *msg, uint32_t seq);

struct nfs_framer;
typedef void (*nfs_msg_fn)(void *ctx, struct nfs_ipfix_msg *msg);

/* Messages of at most mtu bytes (clamped to 64..65535) in observation domain `domain`. */
struct nfs_framer *nfs_framer_create(size_t mtu, uint32_t domain, nfs_msg_fn emit, void *ctx);

/*
 * Switches the framer to NetFlow v9 export packets (RFC 3954 §5.1), before its first item:
 * a 20-byte header (version 9, record count, sysUptime in ms since this call, UNIX seconds,
 * a sequence number counting packets, source id = domain), flowsets padded to 4 bytes.
 */
void nfs_framer_set_netflow9(struct nfs_framer *f);
void nfs_framer_destroy(struct nfs_framer *f);

/* Adds an item, finishing the current message first when it does not fit. False when the
 * item alone exceeds the message size (it is not added). */
bool nfs_framer_add(struct nfs_framer *f, const struct nfs_ipfix_item *item);

/* True when the item fits in the current message (false when a new one must start). */
bool nfs_framer_fits(const struct nfs_framer *f, const struct nfs_ipfix_item *item);

/* Finishes the current message, if it holds anything, and hands it to emit. */
void nfs_framer_flush(struct nfs_framer *f);

/* Bytes in the unfinished message (0: nothing pending). */
size_t nfs_framer_pending(const struct nfs_framer *f);

/* Flow records in the unfinished message. */
uint32_t nfs_framer_pending_flows(const struct nfs_framer *f);

/* The sequence number the next message gets; set it when a transport session restarts. */
uint32_t nfs_framer_seq(const struct nfs_framer *f);
void nfs_framer_set_seq(struct nfs_framer *f, uint32_t seq);
size_t nfs_framer_mtu(const struct nfs_framer *f);

#endif
