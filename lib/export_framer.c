/*
 * export_framer.c: see export_framer.h.
 *
 * Splitting needs each data record's length, which only its template knows: a fixed-length
 * field takes its template length, a variable-length one a 1-byte length (or 255 and a 2-byte
 * length) plus its bytes (RFC 7011 §7). Templates are learnt from the template sets that pass
 * through, as a collector would; libfixbuf always sends a template before using it.
 */
#include "export_framer.h"

#include <stdlib.h>
#include <time.h>

#include "clock.h"

#define MAX_TEMPLATES 64
#define VARLEN        0xFFFF
#define V9_HDR_LEN    20
#define V9_PAD        3 /* room kept for a flowset's padding to 4 bytes */

struct wire_template {
    uint16_t id;
    uint16_t n;
    uint16_t *lens;
};

struct nfs_wire_templates {
    struct wire_template t[MAX_TEMPLATES];
    size_t n;
};

struct nfs_framer {
    uint8_t *buf;
    size_t mtu, len;
    size_t set_start; /* offset of the open set's header; 0: none */
    uint16_t set_id;
    uint32_t domain, seq;
    bool v9;
    size_t hdr_len;
    uint32_t v9_count;   /* records of the message, templates included */
    uint64_t v9_boot_ms; /* sysUptime 0 */
    struct nfs_ipfix_msg msg;
    nfs_msg_fn emit;
    void *ctx;
};

struct nfs_wire_templates *
nfs_wire_templates_create(void)
{
    return calloc(1, sizeof(struct nfs_wire_templates));
}

void
nfs_wire_templates_destroy(struct nfs_wire_templates *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->t[i].lens);
    free(t);
}

static struct wire_template *
find(struct nfs_wire_templates *t, uint16_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->t[i].id == id)
            return &t->t[i];
    return NULL;
}

static bool
learn(struct nfs_wire_templates *t, uint16_t id, uint16_t *lens, uint16_t n,
      struct nfs_error *err)
{
    struct wire_template *w = find(t, id);

    if (w == NULL) {
        if (t->n == MAX_TEMPLATES) {
            free(lens);
            nfs_error_set(err, "more than %d templates", MAX_TEMPLATES);
            return false;
        }
        w = &t->t[t->n++];
        w->id = id;
    } else {
        free(w->lens);
    }
    w->lens = lens;
    w->n = n;
    return true;
}

/* One template record at p (end: end of its set); returns its length, 0 on error. */
static size_t
template_record(struct nfs_wire_templates *t, uint16_t set_id, const uint8_t *p,
                const uint8_t *end, struct nfs_error *err)
{
    size_t hdr = set_id == NFS_IPFIX_SET_OPTS ? 6 : 4, off = hdr;
    uint16_t id, n;
    uint16_t *lens;

    if (end - p < (ptrdiff_t)hdr)
        return nfs_error_set(err, "truncated template record"), 0;
    id = nfs_be16(p);
    n = nfs_be16(p + 2);
    if (n == 0)
        return 4; /* a withdrawal: no fields */
    lens = calloc(n, sizeof(*lens));
    if (lens == NULL)
        return nfs_error_set(err, "out of memory"), 0;
    for (uint16_t i = 0; i < n; i++) {
        if (end - p < (ptrdiff_t)(off + 4))
            return free(lens), nfs_error_set(err, "truncated template %u", id), 0;
        lens[i] = nfs_be16(p + off + 2);
        off += (nfs_be16(p + off) & 0x8000) ? 8 : 4;
        if (end - p < (ptrdiff_t)off)
            return free(lens), nfs_error_set(err, "truncated template %u", id), 0;
    }
    return learn(t, id, lens, n, err) ? off : 0;
}

/* Length of one data record of template w at p, 0 when it does not fit before end. */
static size_t
data_record(const struct wire_template *w, const uint8_t *p, const uint8_t *end)
{
    size_t off = 0;

    for (uint16_t i = 0; i < w->n; i++) {
        if (w->lens[i] != VARLEN) {
            off += w->lens[i];
        } else {
            if (end - p < (ptrdiff_t)(off + 1))
                return 0;
            if (p[off] < 255) {
                off += 1 + (size_t)p[off];
            } else {
                if (end - p < (ptrdiff_t)(off + 3))
                    return 0;
                off += 3 + (size_t)nfs_be16(p + off + 1);
            }
        }
        if (end - p < (ptrdiff_t)off)
            return 0;
    }
    return off;
}

static bool
split_set(struct nfs_wire_templates *t, uint16_t set_id, const uint8_t *p, const uint8_t *end,
          nfs_item_fn fn, void *ctx, struct nfs_error *err)
{
    const struct wire_template *w = NULL;

    if (set_id >= 256 && (w = find(t, set_id)) == NULL) {
        nfs_error_set(err, "data set %u without a template", set_id);
        return false;
    }
    while (p < end) {
        struct nfs_ipfix_item it = {.set_id = set_id, .data = p};
        size_t n;

        if (set_id < 256) {
            n = template_record(t, set_id, p, end, err);
        } else {
            n = data_record(w, p, end);
            if (n == 0)
                nfs_error_set(err, "truncated record of template %u", set_id);
        }
        if (n == 0)
            return false;
        it.len = (uint16_t)n;
        fn(ctx, &it);
        p += n;
    }
    return true;
}

bool
nfs_ipfix_split(struct nfs_wire_templates *t, const uint8_t *msg, size_t len, nfs_item_fn fn,
                void *ctx, struct nfs_error *err)
{
    const uint8_t *p = msg + NFS_IPFIX_HDR_LEN, *end = msg + len;

    if (len < NFS_IPFIX_HDR_LEN || nfs_be16(msg) != 10 || nfs_be16(msg + 2) != len) {
        nfs_error_set(err, "not an IPFIX message");
        return false;
    }
    while (end - p >= NFS_IPFIX_SET_HDR_LEN) {
        uint16_t id = nfs_be16(p), slen = nfs_be16(p + 2);

        if (slen < NFS_IPFIX_SET_HDR_LEN || slen > end - p) {
            nfs_error_set(err, "bad set length %u", slen);
            return false;
        }
        if ((id == NFS_IPFIX_SET_TMPL || id == NFS_IPFIX_SET_OPTS || id >= 256) &&
            !split_set(t, id, p + NFS_IPFIX_SET_HDR_LEN, p + slen, fn, ctx, err))
            return false;
        p += slen;
    }
    return true;
}

size_t
nfs_ipfix_msg_len(const uint8_t *p, size_t avail)
{
    return avail < 4 ? 0 : nfs_be16(p + 2);
}

void
nfs_ipfix_msg_set_seq(uint8_t *msg, uint32_t seq)
{
    nfs_put_be32(msg + 8, seq);
}

struct nfs_framer *
nfs_framer_create(size_t mtu, uint32_t domain, nfs_msg_fn emit, void *ctx)
{
    struct nfs_framer *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NULL;
    f->mtu = mtu < 64 ? 64 : mtu > NFS_IPFIX_MSG_MAX ? NFS_IPFIX_MSG_MAX : mtu;
    f->buf = malloc(f->mtu);
    if (f->buf == NULL) {
        free(f);
        return NULL;
    }
    f->domain = domain;
    f->emit = emit;
    f->ctx = ctx;
    f->hdr_len = NFS_IPFIX_HDR_LEN;
    return f;
}

void
nfs_framer_set_netflow9(struct nfs_framer *f)
{
    f->v9 = true;
    f->hdr_len = V9_HDR_LEN;
    f->v9_boot_ms = nfs_mono_ms();
    if (f->mtu > V9_HDR_LEN + V9_PAD + 64)
        f->mtu -= V9_PAD;
}

void
nfs_framer_destroy(struct nfs_framer *f)
{
    if (f == NULL)
        return;
    free(f->buf);
    free(f);
}

static void
close_set(struct nfs_framer *f)
{
    if (f->set_start != 0 && f->v9)
        while ((f->len - f->set_start) % 4 != 0)
            f->buf[f->len++] = 0;
    if (f->set_start != 0)
        nfs_put_be16(f->buf + f->set_start + 2, (uint16_t)(f->len - f->set_start));
    f->set_start = 0;
}

/* NetFlow v9's header; its sequence number counts packets, not records. */
static void
v9_header(struct nfs_framer *f)
{
    nfs_put_be16(f->buf, 9);
    nfs_put_be16(f->buf + 2, (uint16_t)f->v9_count);
    nfs_put_be32(f->buf + 4, (uint32_t)(nfs_mono_ms() - f->v9_boot_ms));
    nfs_put_be32(f->buf + 8, (uint32_t)time(NULL));
    nfs_put_be32(f->buf + 12, f->seq);
    nfs_put_be32(f->buf + 16, f->domain);
    f->v9_count = 0;
}

void
nfs_framer_flush(struct nfs_framer *f)
{
    if (f->len == 0)
        return;
    close_set(f);
    if (f->v9) {
        v9_header(f);
    } else {
        nfs_put_be16(f->buf, 10);
        nfs_put_be16(f->buf + 2, (uint16_t)f->len);
        nfs_put_be32(f->buf + 4, (uint32_t)time(NULL));
        nfs_put_be32(f->buf + 8, f->seq);
        nfs_put_be32(f->buf + 12, f->domain);
    }
    f->msg.data = f->buf;
    f->msg.len = (uint32_t)f->len;
    f->seq += f->v9 ? 1 : f->msg.records;
    f->emit(f->ctx, &f->msg);
    memset(&f->msg, 0, sizeof(f->msg));
    f->len = 0;
}

/* NetFlow v9: the padding the open flowset needs before another one starts. */
static size_t
v9_pad(const struct nfs_framer *f)
{
    return f->v9 && f->set_start != 0 ? (4 - (f->len - f->set_start) % 4) % 4 : 0;
}

bool
nfs_framer_add(struct nfs_framer *f, const struct nfs_ipfix_item *it)
{
    bool new_set = f->len == 0 || f->set_start == 0 || f->set_id != it->set_id;
    size_t need = it->len + (new_set ? NFS_IPFIX_SET_HDR_LEN + v9_pad(f) : 0);

    if (f->hdr_len + NFS_IPFIX_SET_HDR_LEN + (size_t)it->len > f->mtu)
        return false;
    if (f->len != 0 && f->len + need > f->mtu) {
        nfs_framer_flush(f);
        new_set = true;
    }
    if (f->len == 0)
        f->len = f->hdr_len;
    if (new_set) {
        close_set(f);
        f->set_start = f->len;
        f->set_id = it->set_id;
        nfs_put_be16(f->buf + f->len, it->set_id);
        f->len += NFS_IPFIX_SET_HDR_LEN;
    }
    memcpy(f->buf + f->len, it->data, it->len);
    f->len += it->len;
    if (it->set_id >= 256)
        f->msg.records++;
    f->v9_count++;
    f->msg.flows += it->flows;
    f->msg.packets += it->packets;
    f->msg.octets += it->octets;
    return true;
}

uint32_t
nfs_framer_pending_flows(const struct nfs_framer *f)
{
    return f->msg.flows;
}

bool
nfs_framer_fits(const struct nfs_framer *f, const struct nfs_ipfix_item *it)
{
    bool new_set = f->len == 0 || f->set_start == 0 || f->set_id != it->set_id;
    size_t len = f->len != 0 ? f->len : f->hdr_len;

    return len + it->len + (new_set ? NFS_IPFIX_SET_HDR_LEN + v9_pad(f) : 0) <= f->mtu;
}

size_t
nfs_framer_pending(const struct nfs_framer *f)
{
    return f->len;
}

uint32_t
nfs_framer_seq(const struct nfs_framer *f)
{
    return f->seq;
}

void
nfs_framer_set_seq(struct nfs_framer *f, uint32_t seq)
{
    f->seq = seq;
}

size_t
nfs_framer_mtu(const struct nfs_framer *f)
{
    return f->mtu;
}
