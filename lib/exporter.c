/*
 * exporter.c: sends IPFIX records to files, UDP and TCP collectors through libfixbuf.
 *
 * Each target owns an fBuf_t, which owns its fbSession_t and fbExporter_t: libfixbuf keeps
 * templates and sequence numbers per session, and a session serves one exporter. The
 * templates (ipfix.c) are written and sent when the target is added, so a file or a TCP
 * collector that cannot be opened is reported by nfs_exporter_add, naming the target, and a
 * file starts with its templates as RFC 5655 wants. UDP has no session to lose, so the
 * templates and type records are sent again every template_refresh_s seconds of export time
 * (RFC 7011 §8.4); libfixbuf 2.4 does not do this by itself.
 * A record is encoded once (nfs_ipfix_encode) and appended to every target. A failing target
 * counts the failure and does not stop the others. Reconnects and a spool (a later issue) belong
 * in struct target, which already keeps its own transport kind and error counter.
 */
#include "exporter.h"

#include <stdlib.h>
#include <time.h>

enum target_kind { TARGET_FILE, TARGET_UDP, TARGET_TCP };

struct target {
    char *name; /* as the user wrote it */
    enum target_kind kind;
    fBuf_t *fbuf; /* owns the session and the fbExporter_t */
    uint16_t tid; /* template set on fbuf, 0: none */
    time_t templates_at;
    uint64_t records, errors;
};

struct nfs_exporter {
    struct nfs_exporter_options opt;
    struct nfs_ipfix_model *model;
    struct target *targets;
    size_t n_targets;
    uint8_t *rec; /* one encoded record */
    size_t rec_size;
    const void **values; /* per field group, for nfs_exporter_export */
};

static bool
gerror_fail(struct nfs_error *err, GError *gerr, const char *target, const char *what)
{
    nfs_error_set(err, "%s: %s: %s", target, what,
                  gerr != NULL ? gerr->message : "unknown libfixbuf error");
    g_clear_error(&gerr);
    return false;
}

static void
options_defaults(struct nfs_exporter_options *o)
{
    if (o->enterprise_number == 0)
        o->enterprise_number = NFS_PEN_DEFAULT;
    if (o->observation_domain == 0)
        o->observation_domain = 1;
    if (o->template_refresh_s == 0)
        o->template_refresh_s = 600;
}

void
nfs_exporter_options_default(struct nfs_exporter_options *o)
{
    memset(o, 0, sizeof(*o));
    o->rfc5610 = true;
    options_defaults(o);
}

struct nfs_exporter *
nfs_exporter_create(const struct nfs_exporter_options *opt, struct nfs_error *err)
{
    struct nfs_exporter *exp = calloc(1, sizeof(*exp));
    struct nfs_field_group core = {nfs_core_fields, nfs_core_fields_count};

    if (exp == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    if (opt != NULL) {
        exp->opt = *opt;
        options_defaults(&exp->opt);
    } else {
        nfs_exporter_options_default(&exp->opt);
    }
    if (exp->opt.groups == NULL || exp->opt.n_groups == 0) {
        exp->opt.groups = &core;
        exp->opt.n_groups = 1;
    }
    exp->model =
        nfs_ipfix_model_create(exp->opt.groups, exp->opt.n_groups, exp->opt.enterprise_number, err);
    exp->opt.groups = NULL; /* the model keeps its own copy */
    if (exp->model == NULL) {
        free(exp);
        return NULL;
    }
    exp->rec_size = nfs_ipfix_max_record_size(exp->model);
    exp->rec = calloc(1, exp->rec_size);
    exp->values = calloc(exp->opt.n_groups, sizeof(*exp->values));
    if (exp->rec == NULL || exp->values == NULL) {
        nfs_error_set(err, "out of memory");
        nfs_exporter_close(exp, NULL);
        return NULL;
    }
    return exp;
}

/* "HOST:PORT" or "[V6]:PORT" -> host and port strings. */
static bool
split_host_port(const char *s, char *host, size_t hsize, char *port, size_t psize)
{
    const char *colon, *h = s, *hend;

    if (*s == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return false;
        colon = hend + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return false; /* an IPv6 literal needs brackets */
        hend = colon;
    }
    if (hend == h || colon[1] == '\0' || (size_t)(hend - h) >= hsize || strlen(colon + 1) >= psize)
        return false;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    strcpy(port, colon + 1);
    return strspn(port, "0123456789") == strlen(port);
}

/* The libfixbuf exporter for a target; NULL with err set when the target is malformed. */
static fbExporter_t *
open_transport(struct target *t, struct nfs_error *err)
{
    fbConnSpec_t spec = FB_CONNSPEC_INIT;
    char host[256], port[16];
    const char *rest;

    if (strncmp(t->name, "udp://", 6) == 0 || strncmp(t->name, "tcp://", 6) == 0) {
        t->kind = t->name[0] == 'u' ? TARGET_UDP : TARGET_TCP;
        rest = t->name + 6;
        if (!split_host_port(rest, host, sizeof(host), port, sizeof(port))) {
            nfs_error_set(err, "%s: expected %s://HOST:PORT ([ADDR]:PORT for IPv6)", t->name,
                          t->kind == TARGET_UDP ? "udp" : "tcp");
            return NULL;
        }
        spec.transport = t->kind == TARGET_UDP ? FB_UDP : FB_TCP;
        spec.host = host;
        spec.svc = port;
        return fbExporterAllocNet(&spec); /* copies spec */
    }
    if (strstr(t->name, "://") != NULL) {
        nfs_error_set(err, "%s: unknown scheme (udp://, tcp:// or a file path)", t->name);
        return NULL;
    }
    t->kind = TARGET_FILE;
    return fbExporterAllocFile(t->name);
}

/* Templates (and type records) into the buffer, then out: opens the file or connection. */
static bool
start(struct nfs_exporter *exp, struct target *t, struct nfs_error *err)
{
    GError *gerr = NULL;

    if (!nfs_ipfix_announce(exp->model, t->fbuf, err)) {
        char msg[sizeof(err->msg)];
        snprintf(msg, sizeof(msg), "%s", err != NULL ? err->msg : "");
        nfs_error_set(err, "%s: cannot send templates: %s", t->name, msg);
        return false;
    }
    t->tid = 0;
    t->templates_at = time(NULL);
    if (!fBufEmit(t->fbuf, &gerr))
        return gerror_fail(err, gerr, t->name, "cannot send templates");
    return true;
}

static bool
grow_targets(struct nfs_exporter *exp, struct nfs_error *err)
{
    struct target *n = realloc(exp->targets, (exp->n_targets + 1) * sizeof(*n));

    if (n == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    exp->targets = n;
    memset(&n[exp->n_targets], 0, sizeof(*n));
    return true;
}

bool
nfs_exporter_add(struct nfs_exporter *exp, const char *target, struct nfs_error *err)
{
    struct target *t;
    fbExporter_t *fx;
    fbSession_t *session;

    if (!grow_targets(exp, err))
        return false;
    t = &exp->targets[exp->n_targets];
    t->name = strdup(target);
    if (t->name == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    session =
        nfs_ipfix_session_create(exp->model, exp->opt.observation_domain, exp->opt.rfc5610, err);
    if (session == NULL || (fx = open_transport(t, err)) == NULL) {
        if (session != NULL)
            fbSessionFree(session);
        free(t->name);
        return false;
    }
    t->fbuf = fBufAllocForExport(session, fx);
    if (!start(exp, t, err)) {
        fBufFree(t->fbuf);
        free(t->name);
        return false;
    }
    exp->n_targets++;
    return true;
}

/* Selects the record's template on the target's buffer, unless it is already set. */
static bool
use_template(struct target *t, uint16_t tid, GError **gerr)
{
    if (t->tid == tid)
        return true;
    if (!fBufSetInternalTemplate(t->fbuf, tid, gerr) || !fBufSetExportTemplate(t->fbuf, tid, gerr))
        return false;
    t->tid = tid;
    return true;
}

/* UDP: templates again once template_refresh_s seconds have passed. */
static bool
refresh(struct nfs_exporter *exp, struct target *t, time_t now, struct nfs_error *err)
{
    if (t->kind != TARGET_UDP || now - t->templates_at < (time_t)exp->opt.template_refresh_s)
        return true;
    t->tid = 0;
    t->templates_at = now;
    return nfs_ipfix_announce(exp->model, t->fbuf, err);
}

static bool
append(struct nfs_exporter *exp, struct target *t, uint16_t tid, size_t size, time_t now,
       struct nfs_error *err)
{
    GError *gerr = NULL;

    if (!refresh(exp, t, now, err))
        return false;
    if (!use_template(t, tid, &gerr) || !fBufAppend(t->fbuf, exp->rec, size, &gerr))
        return gerror_fail(err, gerr, t->name, "cannot append record");
    return true;
}

bool
nfs_exporter_export_values(struct nfs_exporter *exp, unsigned ip_version, const void *const *values,
                           struct nfs_error *err)
{
    uint16_t tid = nfs_ipfix_template_id(ip_version);
    size_t size = nfs_ipfix_encode(exp->model, ip_version, values, exp->rec, exp->rec_size);
    struct nfs_error first = {{0}};
    time_t now = time(NULL);
    bool ok = true;

    if (size == 0) {
        nfs_error_set(err, "cannot export a record of IP version %u", ip_version);
        return false;
    }
    for (size_t i = 0; i < exp->n_targets; i++) {
        struct target *t = &exp->targets[i];

        if (append(exp, t, tid, size, now, ok ? &first : NULL)) {
            t->records++;
        } else {
            t->errors++;
            ok = false;
        }
    }
    if (!ok)
        nfs_error_set(err, "%s", first.msg);
    return ok;
}

bool
nfs_exporter_export(struct nfs_exporter *exp, const struct nfs_record *rec, struct nfs_error *err)
{
    exp->values[0] = rec; /* other groups' values are not in the record: sent as zeros */
    return nfs_exporter_export_values(exp, rec->ip_version, exp->values, err);
}

bool
nfs_exporter_flush(struct nfs_exporter *exp, struct nfs_error *err)
{
    bool ok = true;

    for (size_t i = 0; i < exp->n_targets; i++) {
        GError *gerr = NULL;

        if (!fBufEmit(exp->targets[i].fbuf, &gerr))
            ok = gerror_fail(ok ? err : NULL, gerr, exp->targets[i].name, "cannot send");
    }
    return ok;
}

size_t
nfs_exporter_target_count(const struct nfs_exporter *exp)
{
    return exp->n_targets;
}

bool
nfs_exporter_get_stats(const struct nfs_exporter *exp, size_t i, struct nfs_exporter_stats *out)
{
    if (i >= exp->n_targets)
        return false;
    out->target = exp->targets[i].name;
    out->records = exp->targets[i].records;
    out->errors = exp->targets[i].errors;
    return true;
}

const struct nfs_ipfix_model *
nfs_exporter_model(const struct nfs_exporter *exp)
{
    return exp->model;
}

bool
nfs_exporter_close(struct nfs_exporter *exp, struct nfs_error *err)
{
    bool ok;

    if (exp == NULL)
        return true;
    ok = nfs_exporter_flush(exp, err);
    for (size_t i = 0; i < exp->n_targets; i++) {
        fBufFree(exp->targets[i].fbuf);
        free(exp->targets[i].name);
    }
    /* Sessions hold the model's elements: the model goes last. */
    nfs_ipfix_model_destroy(exp->model);
    free(exp->targets);
    free(exp->values);
    free(exp->rec);
    free(exp);
    return ok;
}
