/*
 * dpi.c: see dpi.h. The only file that includes nDPI's headers.
 *
 * Flows are nDPI flow structs inside a small wrapper that links them into the module's list of
 * open flows; nDPI's own members (URLs, certificates, user agents...) are released with
 * ndpi_free_flow_data() before the wrapper itself is freed.
 *
 * Confidence: nDPI 4.2 numbers its ndpi_confidence_t 0 unknown, 1 port, 2 IP, 3 DPI cache,
 * 4 DPI; later versions (NFStream's 4.7 and on) 0 unknown, 1 port, 2 nBPF, 3 DPI partial,
 * 4 partial cache, 5 DPI cache, 6 DPI, 7 IP. Records carry the later numbering, so a value
 * means the same whichever nDPI the sensor links.
 *
 * nDPI's module set-up and tear-down must not run in parallel (ndpi_api.h), and pipelines may
 * start and stop on their own threads: one lock serialises them. Detection itself needs none,
 * each module being one pipeline's.
 */
#include "dpi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <ndpi/ndpi_api.h>

struct nfs_dpi_flow {
    struct nfs_dpi_flow *prev, *next;
    struct ndpi_flow_struct ndpi;
};

struct nfs_dpi {
    struct ndpi_detection_module_struct *mod;
    struct nfs_dpi_flow *open; /* flows created and not destroyed */
    size_t n_open;
};

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;

static struct ndpi_detection_module_struct *
module_create(void)
{
    struct ndpi_detection_module_struct *mod;
    NDPI_PROTOCOL_BITMASK all;

    pthread_mutex_lock(&module_lock);
    mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (mod != NULL) {
        NDPI_BITMASK_SET_ALL(all);
        ndpi_set_protocol_detection_bitmask2(mod, &all);
        ndpi_finalize_initialization(mod);
    }
    pthread_mutex_unlock(&module_lock);
    return mod;
}

struct nfs_dpi *
nfs_dpi_create(struct nfs_error *err)
{
    struct nfs_dpi *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    d->mod = module_create();
    if (d->mod == NULL) {
        nfs_error_set(err, "nDPI %s: cannot initialise a detection module", ndpi_revision());
        free(d);
        return NULL;
    }
    return d;
}

static void
free_flow(struct nfs_dpi_flow *f)
{
    ndpi_free_flow_data(&f->ndpi);
    free(f);
}

void
nfs_dpi_destroy(struct nfs_dpi *d)
{
    if (d == NULL)
        return;
    while (d->open != NULL) {
        struct nfs_dpi_flow *f = d->open;

        d->open = f->next;
        free_flow(f);
    }
    pthread_mutex_lock(&module_lock);
    ndpi_exit_detection_module(d->mod);
    pthread_mutex_unlock(&module_lock);
    free(d);
}

struct nfs_dpi_flow *
nfs_dpi_flow_create(struct nfs_dpi *d)
{
    struct nfs_dpi_flow *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NULL;
    f->next = d->open;
    if (d->open != NULL)
        d->open->prev = f;
    d->open = f;
    d->n_open++;
    return f;
}

void
nfs_dpi_flow_destroy(struct nfs_dpi *d, struct nfs_dpi_flow *f)
{
    if (f == NULL)
        return;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        d->open = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    d->n_open--;
    free_flow(f);
}

size_t
nfs_dpi_open_flows(const struct nfs_dpi *d)
{
    return d->n_open;
}

static struct nfs_dpi_proto
from_ndpi(ndpi_protocol p)
{
    return (struct nfs_dpi_proto){p.master_protocol, p.app_protocol, (uint16_t)p.category};
}

static ndpi_protocol
to_ndpi(struct nfs_dpi_proto p)
{
    ndpi_protocol n = {p.master, p.app, (ndpi_protocol_category_t)p.category};

    return n;
}

/* nDPI takes an unsigned short length: a longer capture (jumbo, TSO) is given its first 64 KiB
 * rather than a wrapped length. */
struct nfs_dpi_proto
nfs_dpi_process(struct nfs_dpi *d, struct nfs_dpi_flow *f, const uint8_t *ip, uint32_t ip_len,
                uint64_t time_ms)
{
    unsigned short len = ip_len > 0xFFFF ? 0xFFFF : (unsigned short)ip_len;

    return from_ndpi(ndpi_detection_process_packet(d->mod, &f->ndpi, ip, len, time_ms));
}

bool
nfs_dpi_extra_possible(struct nfs_dpi *d, struct nfs_dpi_flow *f)
{
    return ndpi_extra_dissection_possible(d->mod, &f->ndpi) != 0;
}

struct nfs_dpi_proto
nfs_dpi_giveup(struct nfs_dpi *d, struct nfs_dpi_flow *f, bool *guessed)
{
    uint8_t was_guessed = 0;
    ndpi_protocol p = ndpi_detection_giveup(d->mod, &f->ndpi, 1, &was_guessed);

    *guessed = was_guessed != 0;
    return from_ndpi(p);
}

/* ndpi_confidence_t of nDPI 4.2 in the later numbering (see the top of this file). */
static uint8_t
confidence(ndpi_confidence_t c)
{
    switch (c) {
    case NDPI_CONFIDENCE_MATCH_BY_PORT:
        return 1;
    case NDPI_CONFIDENCE_MATCH_BY_IP:
        return 7;
    case NDPI_CONFIDENCE_DPI_CACHE:
        return 5;
    case NDPI_CONFIDENCE_DPI:
        return 6;
    default:
        return 0;
    }
}

static bool
is_proto(struct nfs_dpi_proto p, uint16_t id)
{
    return p.master == id || p.app == id;
}

/* NFStream's TLS family: JA3, JA3S and QUIC's user agent come from these. */
static bool
is_tls_like(struct nfs_dpi_proto p)
{
    return is_proto(p, NDPI_PROTOCOL_TLS) || is_proto(p, NDPI_PROTOCOL_DTLS) ||
           is_proto(p, NDPI_PROTOCOL_MAIL_SMTPS) || is_proto(p, NDPI_PROTOCOL_MAIL_IMAPS) ||
           is_proto(p, NDPI_PROTOCOL_MAIL_POPS) || is_proto(p, NDPI_PROTOCOL_QUIC);
}

/* A NUL-terminated string that nDPI allocated (NULL: none), truncated to the buffer. */
static void
copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* One of nDPI's fixed arrays: read no further than the array even without its NUL. */
#define COPY_ARRAY(dst, src) copy_n(dst, sizeof(dst), src, sizeof(src))

static void
copy_n(char *dst, size_t size, const char *src, size_t src_size)
{
    size_t n = strnlen(src, src_size);

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* NFStream's flow_bidirectional_dissection_collect_info: the first matching protocol wins. */
void
nfs_dpi_collect(struct nfs_dpi *d, struct nfs_dpi_flow *f, struct nfs_dpi_proto proto,
                struct nfs_dpi_result *res)
{
    const struct ndpi_flow_struct *n = &f->ndpi;

    (void)d;
    memset(res, 0, sizeof(*res));
    res->confidence = confidence(n->confidence);
    COPY_ARRAY(res->server_name, n->host_server_name);
    if (is_proto(proto, NDPI_PROTOCOL_DHCP)) {
        COPY_ARRAY(res->client_fp, n->protos.dhcp.fingerprint);
    } else if (is_proto(proto, NDPI_PROTOCOL_HTTP)) {
        copy(res->content_type, sizeof(res->content_type), n->http.content_type);
        copy(res->user_agent, sizeof(res->user_agent), n->http.user_agent);
    } else if (is_proto(proto, NDPI_PROTOCOL_SSH)) {
        COPY_ARRAY(res->client_fp, n->protos.ssh.hassh_client);
        COPY_ARRAY(res->server_fp, n->protos.ssh.hassh_server);
    } else if (is_tls_like(proto)) {
        copy(res->user_agent, sizeof(res->user_agent), n->http.user_agent);
        COPY_ARRAY(res->client_fp, n->protos.tls_quic.ja3_client);
        COPY_ARRAY(res->server_fp, n->protos.tls_quic.ja3_server);
    }
}

char *
nfs_dpi_app_name(struct nfs_dpi *d, struct nfs_dpi_proto proto, char *buf, size_t size)
{
    return ndpi_protocol2name(d->mod, to_ndpi(proto), buf, (u_int)size);
}

const char *
nfs_dpi_category_name(struct nfs_dpi *d, uint16_t category)
{
    const char *name = ndpi_category_get_name(d->mod, (ndpi_protocol_category_t)category);

    return name != NULL ? name : "";
}

const char *
nfs_dpi_version(void)
{
    return ndpi_revision();
}

bool
nfs_dpi_protocols(void (*fn)(void *arg, uint16_t id, const char *name), void *arg,
                  struct nfs_error *err)
{
    struct nfs_dpi *d = nfs_dpi_create(err);
    unsigned n;

    if (d == NULL)
        return false;
    n = ndpi_get_num_supported_protocols(d->mod);
    for (unsigned id = 0; id < n && id <= UINT16_MAX; id++) {
        const char *name = ndpi_get_proto_name(d->mod, (uint16_t)id);

        if (name != NULL && name[0] != '\0')
            fn(arg, (uint16_t)id, name);
    }
    nfs_dpi_destroy(d);
    return true;
}
