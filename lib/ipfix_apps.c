/*
 * ipfix_apps.c: see ipfix_apps.h.
 *
 * The whole table rather than only the ids in use: the preamble is what every transport
 * session, UDP template refresh and rotated file repeats, so an id never reaches a collector
 * before its name, whichever message or file it reads first, and a record never waits for a
 * table update. nDPI 4.2 names about 280 ids: about 5 KB once per session or refresh.
 *
 * applicationId is fixed at 7 bytes and the engine has a template of its own: a template made
 * of variable-length fields only has a minimum record length of 0, on which python3-ipfix 0.9
 * loops for ever at the end of the set.
 */
#include "ipfix_apps.h"

#include <stdio.h>
#include <string.h>

#include "dpi.h"

#define APP_ID_LEN 7

struct apps_template {
    uint16_t tid;
    const fbInfoElementSpec_t *specs;
    size_t n;
    size_t size; /* internal record: fields packed in order */
};

static const fbInfoElementSpec_t engine_specs[] = {
    {"observationDomainId", 4, 0},
    {"applicationName", FB_IE_VARLEN, 0},
    {"applicationDescription", FB_IE_VARLEN, 0},
};
static const fbInfoElementSpec_t protocol_specs[] = {
    {"applicationId", APP_ID_LEN, 0},
    {"applicationName", FB_IE_VARLEN, 0},
};

/* The dpi plugin's id field, by element name: the model exports nDPI ids. */
static bool
has_dpi_ids(const struct nfs_ipfix_model *m)
{
    size_t n;
    const struct nfs_field_group *g = nfs_ipfix_model_groups(m, &n);

    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g[i].n_fields; k++)
            if (strcmp(g[i].fields[k].name, "dpiAppProtocolId") == 0)
                return true;
    return false;
}

/* Adds t (scope: its first element) to the session as internal and external template. */
static bool
add_template(fbSession_t *s, const struct apps_template *t, struct nfs_error *err)
{
    fbTemplate_t *tmpl = fbTemplateAlloc(fbSessionGetInfoModel(s));
    GError *gerr = NULL;

    for (size_t i = 0; i < t->n; i++) {
        if (!fbTemplateAppendSpec(tmpl, (fbInfoElementSpec_t *)(uintptr_t)&t->specs[i], 0, &gerr)) {
            fbTemplateFreeUnused(tmpl);
            return nfs_ipfix_gerror(err, gerr, "application template");
        }
    }
    fbTemplateSetOptionsScope(tmpl, 1);
    if (fbTemplateGetIELenOfMemBuffer(tmpl) != t->size) {
        fbTemplateFreeUnused(tmpl);
        nfs_error_set(err, "application template %#x: unexpected layout", t->tid);
        return false;
    }
    if (!fbSessionAddTemplate(s, TRUE, t->tid, tmpl, &gerr)) {
        fbTemplateFreeUnused(tmpl);
        return nfs_ipfix_gerror(err, gerr, "application template");
    }
    if (!fbSessionAddTemplate(s, FALSE, t->tid, tmpl, &gerr) ||
        !fbSessionExportTemplate(s, t->tid, &gerr))
        return nfs_ipfix_gerror(err, gerr, "application template");
    return true;
}

struct writer {
    fBuf_t *fbuf;
    uint32_t pen;
    GError *gerr;
    bool ok;
};

/* Appends an internal record: `fixed` bytes, then each string as a varfield. */
static void
append(struct writer *w, uint16_t tid, const void *fixed, size_t fixed_len,
       const char *const *strings, size_t n)
{
    uint8_t rec[8 + 2 * sizeof(fbVarfield_t)];
    size_t off = fixed_len;

    if (!w->ok)
        return;
    memcpy(rec, fixed, fixed_len);
    for (size_t i = 0; i < n; i++) {
        fbVarfield_t v = {strlen(strings[i]), (uint8_t *)(uintptr_t)strings[i]};

        memcpy(rec + off, &v, sizeof(v));
        off += sizeof(v);
    }
    if (!fBufSetInternalTemplate(w->fbuf, tid, &w->gerr) ||
        !fBufSetExportTemplate(w->fbuf, tid, &w->gerr) || !fBufAppend(w->fbuf, rec, off, &w->gerr))
        w->ok = false;
}

/* applicationId: RFC 6759 engine 20 (PANA-L7-PEN), the PEN, the protocol id, big-endian. */
static void
write_protocol(void *arg, uint16_t id, const char *name)
{
    struct writer *w = arg;
    uint8_t b[APP_ID_LEN] = {NFS_IPFIX_ENGINE_PANA_L7_PEN,
                             (uint8_t)(w->pen >> 24),
                             (uint8_t)(w->pen >> 16),
                             (uint8_t)(w->pen >> 8),
                             (uint8_t)w->pen,
                             (uint8_t)(id >> 8),
                             (uint8_t)id};

    append(w, NFS_IPFIX_TID_APPS, b, sizeof(b), &name, 1);
}

bool
nfs_ipfix_apps_announce(const struct nfs_ipfix_model *m, fBuf_t *fbuf, struct nfs_error *err)
{
    const struct apps_template engine = {NFS_IPFIX_TID_APPS_ENGINE, engine_specs,
                                         NFS_NITEMS(engine_specs), 4 + 2 * sizeof(fbVarfield_t)};
    const struct apps_template protocols = {NFS_IPFIX_TID_APPS, protocol_specs,
                                            NFS_NITEMS(protocol_specs),
                                            APP_ID_LEN + sizeof(fbVarfield_t)};
    fbSession_t *s = fBufGetSession(fbuf);
    struct writer w = {fbuf, nfs_ipfix_model_enterprise(m), NULL, true};
    uint32_t domain = fbSessionGetDomain(s);
    char version[64];
    const char *strings[2] = {"nDPI", version};

    if (!has_dpi_ids(m))
        return true;
    if (!add_template(s, &engine, err) || !add_template(s, &protocols, err))
        return false;
    snprintf(version, sizeof(version), "nDPI %s", nfs_dpi_version());
    append(&w, NFS_IPFIX_TID_APPS_ENGINE, &domain, sizeof(domain), strings, 2);
    if (w.ok && !nfs_dpi_protocols(write_protocol, &w, err))
        return false;
    return w.ok || nfs_ipfix_gerror(err, w.gerr, "application records");
}
