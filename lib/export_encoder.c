/*
 * export_encoder.c: see export_encoder.h.
 *
 * IPFIX data records are written in the wire format by ipfix.c (nfs_ipfix_encode_wire) and
 * delivered at once, one item each, with their flows, packets and octets (loss accounting).
 * libfixbuf writes what is not per flow: the preamble (templates, RFC 5610 type records, the
 * application table) and the statistics options records. One libfixbuf session and fBuf per
 * encoder: its exporter is a FILE from fopencookie(3), so every message libfixbuf emits lands
 * in cookie_write() as bytes; export_framer.c splits those messages back into template and
 * options records (learning the templates from the template sets that pass), which go to
 * `deliver` one by one. So libfixbuf never touches a socket or a file. Both statistics and
 * the preamble are emitted as soon as they are appended, so items leave in the order they
 * were made.
 *
 * NetFlow v9. netflow9.c writes the template and data records directly; no statistics.
 */
#include "export_encoder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipfix_apps.h"
#include "netflow9.h"

/* Statistics options templates; outside ipfix.c's data template range (0x01xx). */
#define TID_METERING      0xFF10u
#define TID_METERING_REL  0xFF11u
#define TID_EXPORTING_REL 0xFF12u

struct stats_template {
    uint16_t tid;
    const char *const *names; /* scope first */
    size_t n;
    size_t size; /* internal record size */
};

static const char *const metering_names[] = {
    "observationDomainId",       "observationTimeMilliseconds",
    "exportedMessageTotalCount", "exportedFlowRecordTotalCount",
    "exportedOctetTotalCount",   "observedFlowTotalCount",
    "packetTotalCount",          "octetTotalCount",
};
static const char *const metering_rel_names[] = {
    "observationDomainId",    "observationTimeMilliseconds", "ignoredPacketTotalCount",
    "ignoredOctetTotalCount", "droppedPacketTotalCount",
};
static const char *const exporting_rel_names[] = {
    "exportingProcessId",      "observationTimeMilliseconds", "notSentFlowTotalCount",
    "notSentPacketTotalCount", "notSentOctetTotalCount",
};

struct nfs_export_encoder {
    struct nfs_export_encoder_options o;
    struct nfs_export_view *view;
    /* IPFIX */
    struct nfs_ipfix_model *model;
    fbSession_t *session;
    fBuf_t *fbuf;
    FILE *fp;
    uint8_t *in;
    size_t in_len, in_cap;
    struct nfs_wire_templates *wire;
    uint16_t tid;
    uint8_t *rec;
    size_t rec_size;
    struct stats_template stats[3];
    bool have_stats;
    /* NetFlow v9 */
    struct nfs_netflow9 *v9;
    /* both */
    struct nfs_ipfix_item *preamble;
    size_t n_preamble, cap_preamble;
    bool capturing_preamble;
};

/* A copy of the item, kept for every collector's transport sessions. */
static void
keep_preamble(struct nfs_export_encoder *e, const struct nfs_ipfix_item *item)
{
    struct nfs_ipfix_item it = *item, *p = e->preamble;
    uint8_t *copy = malloc(item->len);

    if (e->n_preamble == e->cap_preamble) {
        e->cap_preamble = e->cap_preamble ? e->cap_preamble * 2 : 32;
        p = realloc(e->preamble, e->cap_preamble * sizeof(*p));
    }
    if (copy == NULL || p == NULL) {
        free(copy);
        return;
    }
    e->preamble = p;
    memcpy(copy, item->data, item->len);
    it.data = copy;
    e->preamble[e->n_preamble++] = it;
}

static void
split_item(void *ctx, const struct nfs_ipfix_item *item)
{
    struct nfs_export_encoder *e = ctx;

    if (e->capturing_preamble)
        keep_preamble(e, item);
    else
        e->o.deliver(e->o.ctx, item);
}

/* ------------------------------------------------------------------------------------------ */
/* IPFIX through libfixbuf */

static ssize_t
cookie_write(void *ctx, const char *buf, size_t size)
{
    struct nfs_export_encoder *e = ctx;

    if (e->in_len + size > e->in_cap) {
        size_t cap = (e->in_len + size) * 2;
        uint8_t *p = realloc(e->in, cap);

        if (p == NULL)
            return -1;
        e->in = p;
        e->in_cap = cap;
    }
    memcpy(e->in + e->in_len, buf, size);
    e->in_len += size;
    return (ssize_t)size;
}

/* Splits and delivers every complete message libfixbuf has written. */
static bool
drain_encoded(struct nfs_export_encoder *e, struct nfs_error *err)
{
    size_t off = 0, len;
    bool ok = true;

    while ((len = nfs_ipfix_msg_len(e->in + off, e->in_len - off)) != 0 && len <= e->in_len - off) {
        if (len < NFS_IPFIX_HDR_LEN) {
            nfs_error_set(err, "libfixbuf wrote a bad message");
            off = e->in_len;
            ok = false;
            break;
        }
        if (!nfs_ipfix_split(e->wire, e->in + off, len, split_item, e, err))
            ok = false;
        off += len;
    }
    memmove(e->in, e->in + off, e->in_len - off);
    e->in_len -= off;
    return ok;
}

static bool
use_template(struct nfs_export_encoder *e, uint16_t tid, GError **gerr)
{
    if (e->tid == tid)
        return true;
    if (!fBufSetInternalTemplate(e->fbuf, tid, gerr) || !fBufSetExportTemplate(e->fbuf, tid, gerr))
        return false;
    e->tid = tid;
    return true;
}

/* Appends one internal record with template tid (statistics); libfixbuf emits when its
 * message is full. */
static bool
append(struct nfs_export_encoder *e, uint16_t tid, const uint8_t *rec, size_t size,
       struct nfs_error *err)
{
    GError *gerr = NULL;

    if (!use_template(e, tid, &gerr) ||
        !fBufAppend(e->fbuf, (uint8_t *)(uintptr_t)rec, size, &gerr))
        return nfs_ipfix_gerror(err, gerr, "encoding a record");
    return drain_encoded(e, err);
}

/* Delivers what libfixbuf holds. */
static bool
emit(struct nfs_export_encoder *e, struct nfs_error *err)
{
    GError *gerr = NULL;

    if (!fBufEmit(e->fbuf, &gerr))
        return nfs_ipfix_gerror(err, gerr, "encoding");
    return drain_encoded(e, err);
}

static bool
stats_template_add(struct nfs_export_encoder *e, struct stats_template *st, struct nfs_error *err)
{
    fbInfoModel_t *fb = fbSessionGetInfoModel(e->session);
    fbTemplate_t *t = fbTemplateAlloc(fb);
    GError *gerr = NULL;

    for (size_t i = 0; i < st->n; i++) {
        fbInfoElementSpec_t spec = {(char *)(uintptr_t)st->names[i], i == 0 ? 4 : 8, 0};

        if (!fbTemplateAppendSpec(t, &spec, 0, &gerr)) {
            fbTemplateFreeUnused(t);
            return nfs_ipfix_gerror(err, gerr, st->names[i]);
        }
    }
    fbTemplateSetOptionsScope(t, 1);
    st->size = fbTemplateGetIELenOfMemBuffer(t);
    if (st->size != 4 + 8 * (st->n - 1)) {
        fbTemplateFreeUnused(t);
        nfs_error_set(err, "statistics template %#x: unexpected sizes", st->tid);
        return false;
    }
    if (!fbSessionAddTemplate(e->session, TRUE, st->tid, t, &gerr)) {
        fbTemplateFreeUnused(t);
        return nfs_ipfix_gerror(err, gerr, "statistics template");
    }
    if (!fbSessionAddTemplate(e->session, FALSE, st->tid, t, &gerr))
        return nfs_ipfix_gerror(err, gerr, "statistics template");
    return true;
}

static bool
stats_templates(struct nfs_export_encoder *e, struct nfs_error *err)
{
    e->stats[0] =
        (struct stats_template){TID_METERING, metering_names, NFS_NITEMS(metering_names), 0};
    e->stats[1] = (struct stats_template){TID_METERING_REL, metering_rel_names,
                                          NFS_NITEMS(metering_rel_names), 0};
    e->stats[2] = (struct stats_template){TID_EXPORTING_REL, exporting_rel_names,
                                          NFS_NITEMS(exporting_rel_names), 0};
    for (size_t i = 0; i < 3; i++)
        if (!stats_template_add(e, &e->stats[i], err))
            return false;
    return true;
}

bool
nfs_export_encoder_stats(struct nfs_export_encoder *e, enum nfs_export_stats which, uint32_t scope,
                         const uint64_t *v, size_t n, struct nfs_error *err)
{
    const struct stats_template *st = &e->stats[which];
    uint8_t buf[128];

    if (!e->have_stats || n + 1 != st->n || st->size > sizeof(buf))
        return false;
    /* The internal record: a 4-byte scope, then 8-byte counters, host order, packed. */
    memcpy(buf, &scope, 4);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + 4 + 8 * i, &v[i], 8);
    return append(e, st->tid, buf, st->size, err) && emit(e, err);
}

static bool
ipfix_create(struct nfs_export_encoder *e, const struct nfs_field_group *groups, size_t n_groups,
             struct nfs_error *err)
{
    cookie_io_functions_t io = {.write = cookie_write};

    e->model = nfs_ipfix_model_create(groups, n_groups, e->o.enterprise_number, err);
    if (e->model == NULL)
        return false;
    e->wire = nfs_wire_templates_create();
    e->rec_size = nfs_ipfix_max_wire_size(e->model);
    e->rec = calloc(1, e->rec_size);
    if (e->wire == NULL || e->rec == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    e->session = nfs_ipfix_session_create(e->model, e->o.domain, e->o.rfc5610, err);
    if (e->session == NULL)
        return false;
    e->have_stats = e->o.stats;
    if (e->have_stats && !stats_templates(e, err))
        return false;
    e->fp = fopencookie(e, "w", io);
    if (e->fp == NULL) {
        nfs_error_set(err, "fopencookie: %s", strerror(errno));
        return false;
    }
    setvbuf(e->fp, NULL, _IONBF, 0);
    e->fbuf = fBufAllocForExport(e->session, fbExporterAllocFP(e->fp));
    return true;
}

/* The preamble: type records and data templates (ipfix.c), the statistics ones, then the
 * application table (ipfix_apps.c). */
static bool
ipfix_preamble(struct nfs_export_encoder *e, struct nfs_error *err)
{
    GError *gerr = NULL;

    if (!nfs_ipfix_announce(e->model, e->fbuf, err))
        return false;
    for (size_t i = 0; e->have_stats && i < 3; i++)
        if (!fbSessionExportTemplate(e->session, e->stats[i].tid, &gerr))
            return nfs_ipfix_gerror(err, gerr, "statistics templates");
    if (!nfs_ipfix_apps_announce(e->model, e->fbuf, err)) /* nDPI's id -> name table */
        return false;
    if (!fBufEmit(e->fbuf, &gerr))
        return nfs_ipfix_gerror(err, gerr, "templates");
    return drain_encoded(e, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Records */

static bool
encode_record(struct nfs_export_encoder *e, unsigned ip_version,
              const struct nfs_export_view_record *r, struct nfs_error *err)
{
    struct nfs_ipfix_item it = {0};
    size_t size;

    if (e->v9 != NULL) {
        if (!nfs_netflow9_encode(e->v9, ip_version, r->values, &it))
            return nfs_error_set(err, "IP version %u has no template", ip_version), false;
    } else {
        size = nfs_ipfix_encode_wire(e->model, ip_version, r->values, e->rec, e->rec_size);
        if (size == 0)
            return nfs_error_set(err, "IP version %u has no template", ip_version), false;
        it = (struct nfs_ipfix_item){
            nfs_ipfix_template_id(ip_version), (uint16_t)size, e->rec, 0, 0, 0};
    }
    it.flows = r->flows, it.packets = r->packets, it.octets = r->octets;
    e->o.deliver(e->o.ctx, &it);
    return true;
}

bool
nfs_export_encoder_flow(struct nfs_export_encoder *e, unsigned ip_version,
                        const void *const *values, struct nfs_error *err)
{
    struct nfs_export_view_record r[2];
    size_t n = nfs_export_view_records(e->view, values, r);

    for (size_t i = 0; i < n; i++)
        if (!encode_record(e, ip_version, &r[i], err))
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Life */

static bool
v9_create(struct nfs_export_encoder *e, const struct nfs_field_group *groups, size_t n_groups,
          struct nfs_error *err)
{
    struct nfs_ipfix_item t[2];
    size_t n;

    if ((e->v9 = nfs_netflow9_create(groups, n_groups, err)) == NULL)
        return false;
    n = nfs_netflow9_templates(e->v9, t);
    for (size_t i = 0; i < n; i++)
        keep_preamble(e, &t[i]);
    return true;
}

struct nfs_export_encoder *
nfs_export_encoder_create(const struct nfs_export_encoder_options *o, struct nfs_error *err)
{
    struct nfs_export_encoder *e = calloc(1, sizeof(*e));
    const struct nfs_field_group *groups;
    size_t n_groups;
    bool ok;

    if (e == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    e->o = *o;
    e->view = nfs_export_view_create(o->profile, o->groups, o->n_groups, err);
    if (e->view == NULL) {
        free(e);
        return NULL;
    }
    groups = nfs_export_view_groups(e->view, &n_groups);
    if (o->profile->format == NFS_EXPORT_NETFLOW9) {
        ok = v9_create(e, groups, n_groups, err);
    } else {
        e->capturing_preamble = true;
        ok = ipfix_create(e, groups, n_groups, err) && ipfix_preamble(e, err);
        e->capturing_preamble = false;
    }
    if (ok && e->n_preamble == 0) {
        nfs_error_set(err, "no templates were encoded");
        ok = false;
    }
    if (!ok) {
        nfs_export_encoder_destroy(e);
        return NULL;
    }
    e->o.profile = nfs_export_encoder_profile(e);
    return e;
}

void
nfs_export_encoder_destroy(struct nfs_export_encoder *e)
{
    if (e == NULL)
        return;
    if (e->fbuf != NULL)
        fBufFree(e->fbuf); /* frees the session and the libfixbuf exporter */
    else if (e->session != NULL)
        fbSessionFree(e->session);
    if (e->fp != NULL)
        fclose(e->fp);
    for (size_t i = 0; i < e->n_preamble; i++)
        free((void *)(uintptr_t)e->preamble[i].data);
    free(e->preamble);
    nfs_wire_templates_destroy(e->wire);
    free(e->in);
    free(e->rec);
    nfs_netflow9_destroy(e->v9);
    /* Sessions hold the model's elements: the model goes after them. */
    nfs_ipfix_model_destroy(e->model);
    nfs_export_view_destroy(e->view);
    free(e);
}

const struct nfs_export_profile *
nfs_export_encoder_profile(const struct nfs_export_encoder *e)
{
    return nfs_export_view_profile(e->view);
}

bool
nfs_export_encoder_netflow9(const struct nfs_export_encoder *e)
{
    return e->v9 != NULL;
}

const struct nfs_ipfix_item *
nfs_export_encoder_preamble(const struct nfs_export_encoder *e, size_t *n)
{
    *n = e->n_preamble;
    return e->preamble;
}

void
nfs_export_encoder_left_out(const struct nfs_export_encoder *e,
                            void (*fn)(void *ctx, const char *name, const char *why), void *ctx)
{
    nfs_export_view_left_out(e->view, fn, ctx);
}
