/*
 * capture_live.c: see capture_live.h.
 *
 * libpcap opens the socket and its TPACKET_V3 ring (snaplen, promiscuous mode, ring size, a
 * 100 ms block timeout so a quiet link still hands its packets over promptly) and compiles the
 * filter. libpcap has no fanout API, so the socket joins its PACKET_FANOUT group right after
 * activation, on pcap_fileno(): PACKET_FANOUT_HASH is the kernel's symmetric flow hash
 * (__skb_get_hash_symmetric: both directions of a connection land on one socket), and
 * PACKET_FANOUT_FLAG_DEFRAG reassembles IP fragments first so that all of a datagram goes where
 * its first fragment goes. Keeping libpcap (rather than our own TPACKET_V3 code) keeps its
 * filter compiler, its link-type handling and its per-kernel workarounds; the cost is one copy
 * per frame below.
 * Frames are copied out of the ring: libpcap hands a ring block back to the kernel as soon as
 * it has walked past it, inside the same pcap_dispatch call, so pointers into the ring would not
 * survive until a batch is metered. The copy lets the pipeline meter whole batches with its
 * prefetching.
 */
#include "capture_live.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BLOCK_TIMEOUT_MS 100
#define COPY_BYTES       (1u << 20) /* copy buffer, at least one snaplen */

struct nfs_live {
    pcap_t *pcap;
    char name[IF_NAMESIZE];
    int dlt;
    uint8_t *copy;
    size_t copy_size, used;
    struct nfs_frame *frames; /* the batch being filled by the callback */
    int n, max;
    struct pcap_stat last; /* libpcap's u_int counts wrap at 2^32: summed by delta */
    struct nfs_live_stats total;
};

/* IFF_UP of the interface: NFS_LIVE_OK, NFS_LIVE_DOWN or NFS_LIVE_NO_DEVICE. */
static enum nfs_live_failure
link_state(const char *name)
{
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0)
        return NFS_LIVE_OK; /* cannot tell: let libpcap say */
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    close(fd);
    if (rc != 0)
        return errno == ENODEV || errno == ENXIO ? NFS_LIVE_NO_DEVICE : NFS_LIVE_OK;
    return (ifr.ifr_flags & IFF_UP) ? NFS_LIVE_OK : NFS_LIVE_DOWN;
}

static enum nfs_live_failure
activate_failure(const struct nfs_live_options *o, pcap_t *p, int rc, struct nfs_error *err)
{
    const char *msg = pcap_geterr(p);

    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        nfs_error_set(err, "%s: no such interface", o->interface);
        return NFS_LIVE_NO_DEVICE;
    case PCAP_ERROR_IFACE_NOT_UP:
        nfs_error_set(err, "%s: interface is down", o->interface);
        return NFS_LIVE_DOWN;
    case PCAP_ERROR_PERM_DENIED:
        nfs_error_set(err,
                      "%s: capturing needs the capability CAP_NET_RAW (%s): run nfsensord as "
                      "root, from its systemd unit (AmbientCapabilities=CAP_NET_RAW), or grant "
                      "it with setcap cap_net_raw+ep on the binary",
                      o->interface, msg[0] ? msg : "permission denied");
        return NFS_LIVE_PERMISSION;
    default:
        nfs_error_set(err, "%s: cannot capture: %s", o->interface,
                      msg[0] ? msg : pcap_statustostr(rc));
        return NFS_LIVE_OTHER;
    }
}

/* Joins the interface's fanout group (see the top of the file). */
static bool
join_fanout(struct nfs_live *l, uint32_t group, struct nfs_error *err)
{
    int arg = (int)((group & 0xFFFF) |
                    ((uint32_t)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16));

    if (setsockopt(pcap_fileno(l->pcap), SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0)
        return true;
    nfs_error_set(err, "%s: cannot join PACKET_FANOUT group %u: %s", l->name, group & 0xFFFF,
                  strerror(errno));
    return false;
}

static bool
set_filter(struct nfs_live *l, const char *bpf, struct nfs_error *err)
{
    struct bpf_program prog;

    if (bpf == NULL || bpf[0] == '\0')
        return true;
    if (pcap_compile(l->pcap, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        nfs_error_set(err, "%s: bpf \"%s\": %s", l->name, bpf, pcap_geterr(l->pcap));
        return false;
    }
    if (pcap_setfilter(l->pcap, &prog) != 0) {
        nfs_error_set(err, "%s: bpf \"%s\": %s", l->name, bpf, pcap_geterr(l->pcap));
        pcap_freecode(&prog);
        return false;
    }
    pcap_freecode(&prog);
    return true;
}

struct nfs_live *
nfs_live_open(const struct nfs_live_options *o, enum nfs_live_failure *why, struct nfs_error *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    struct nfs_live *l = calloc(1, sizeof(*l));
    int rc;

    *why = NFS_LIVE_OTHER;
    if (l == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    snprintf(l->name, sizeof(l->name), "%s", o->interface);
    if ((*why = link_state(o->interface)) != NFS_LIVE_OK) {
        nfs_error_set(err, "%s: %s", o->interface,
                      *why == NFS_LIVE_DOWN ? "interface is down" : "no such interface");
        goto fail;
    }
    *why = NFS_LIVE_OTHER;
    l->copy_size = COPY_BYTES > o->snaplen ? COPY_BYTES : o->snaplen;
    l->copy = malloc(l->copy_size);
    l->pcap = pcap_create(o->interface, errbuf);
    if (l->copy == NULL || l->pcap == NULL) {
        nfs_error_set(err, "%s: %s", o->interface, l->pcap ? "out of memory" : errbuf);
        goto fail;
    }
    pcap_set_snaplen(l->pcap, (int)o->snaplen);
    pcap_set_promisc(l->pcap, o->promiscuous);
    pcap_set_timeout(l->pcap, BLOCK_TIMEOUT_MS);
    pcap_set_buffer_size(l->pcap, o->buffer_bytes > INT32_MAX ? INT32_MAX : (int)o->buffer_bytes);
    pcap_set_tstamp_precision(l->pcap, PCAP_TSTAMP_PRECISION_MICRO);
    rc = pcap_activate(l->pcap);
    if (rc < 0) {
        *why = activate_failure(o, l->pcap, rc, err);
        goto fail;
    }
    if (o->fanout_group != 0 && !join_fanout(l, o->fanout_group, err))
        goto fail;
    if (!set_filter(l, o->bpf, err)) {
        *why = NFS_LIVE_BAD_FILTER;
        goto fail;
    }
    if (pcap_setnonblock(l->pcap, 1, errbuf) != 0) {
        nfs_error_set(err, "%s: %s", o->interface, errbuf);
        goto fail;
    }
    l->dlt = pcap_datalink(l->pcap);
    *why = NFS_LIVE_OK;
    return l;
fail:
    nfs_live_close(l);
    return NULL;
}

void
nfs_live_close(struct nfs_live *l)
{
    if (l == NULL)
        return;
    if (l->pcap != NULL)
        pcap_close(l->pcap);
    free(l->copy);
    free(l);
}

int
nfs_live_fd(const struct nfs_live *l)
{
    return pcap_get_selectable_fd(l->pcap);
}

static void
on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct nfs_live *l = (struct nfs_live *)user;
    uint32_t caplen = h->caplen;

    if (l->n == l->max || l->used + caplen > l->copy_size)
        return; /* cannot happen: the dispatch count keeps within both */
    memcpy(l->copy + l->used, data, caplen);
    l->frames[l->n++] = (struct nfs_frame){
        .dlt = l->dlt,
        .ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec,
        .cap_len = caplen,
        .wire_len = h->len,
        .data = l->copy + l->used,
    };
    l->used += caplen;
}

int
nfs_live_read(struct nfs_live *l, struct nfs_frame *f, int max, struct nfs_error *err)
{
    int fit = (int)(l->copy_size / (size_t)pcap_snapshot(l->pcap));
    int rc;

    l->frames = f;
    l->n = 0;
    l->max = max < fit ? max : fit;
    l->used = 0;
    rc = pcap_dispatch(l->pcap, l->max, on_packet, (u_char *)l);
    if (rc == PCAP_ERROR) {
        nfs_error_set(err, "%s: capture failed: %s", l->name, pcap_geterr(l->pcap));
        return -1;
    }
    return l->n;
}

uint64_t
nfs_live_drops(struct nfs_live *l)
{
    struct pcap_stat st;

    if (pcap_stats(l->pcap, &st) != 0)
        return 0;
    return (uint64_t)st.ps_drop + st.ps_ifdrop;
}

void
nfs_live_stats(struct nfs_live *l, struct nfs_live_stats *out)
{
    struct pcap_stat st;

    if (pcap_stats(l->pcap, &st) == 0) {
        l->total.seen += (u_int)(st.ps_recv - l->last.ps_recv);
        l->total.dropped += (u_int)(st.ps_drop - l->last.ps_drop);
        l->total.if_dropped += (u_int)(st.ps_ifdrop - l->last.ps_ifdrop);
        l->last = st;
    }
    *out = l->total;
}

uint32_t
nfs_live_fanout_group(void)
{
    static atomic_uint next;
    uint32_t base = ((uint32_t)getpid() * 2654435761u) >> 16;
    uint32_t id = (base + atomic_fetch_add(&next, 1)) & 0xFFFF;

    return id == 0 ? 0x8000 : id;
}
