/*
 * dpi.c: the "dpi" plugin: each flow's application, category and the names and fingerprints
 * nDPI finds (FEATURES.md 1.8), through the same plugin ABI as any other plugin.
 *
 * Dissection follows NFStream exactly: the first packet is dissected when the flow starts; each
 * later packet while the application is unknown or nDPI can still dissect more (certificates,
 * fingerprints); at packet max_packets an application still unknown is given up on, nDPI
 * guessing from ports and addresses; at expiry a flow still unknown and not complete is given
 * up on the same way. Packets are given from their (innermost) IP header with their captured
 * length and NFStream's millisecond time; nDPI works out direction itself.
 *
 * Memory: nDPI's flow state (about 700 bytes and what its dissectors allocate) exists only
 * while a flow is being dissected. Once detection completes, the results are copied out and it
 * is freed: the flow keeps 16 bytes in its slot (protocol ids, confidence, flags) and, when
 * nDPI found any text, one allocation holding exactly those strings; names are looked up again
 * from the ids at export. Both allocations are listed, so teardown frees whatever flows that
 * never ended still hold. One nDPI module per pipeline (setup), freed at teardown.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dpi.h"
#include "plugin.h"

struct dpi_conf {
    uint64_t max_packets;
};

static const struct nfs_option dpi_options[] = {
    {"max_packets", NFS_OPT_UINT, NFS_OPTION_AT(struct dpi_conf, max_packets), 0, 255, "20",
     "packets of a flow given to nDPI at most (NFStream's n_dissections); 0: no detection"},
};

/* One record's values. Text sizes are NFStream's buffers (dpi.h). */
struct dpi_values {
    uint16_t master_id, app_id;
    uint8_t is_guessed, confidence;
    char app_name[NFS_DPI_APP_NAME_LEN];
    char category[NFS_DPI_CATEGORY_LEN];
    char server_name[NFS_DPI_SERVER_LEN];
    char client_fp[NFS_DPI_FP_LEN];
    char server_fp[NFS_DPI_FP_LEN];
    char user_agent[NFS_DPI_UA_LEN];
    char content_type[NFS_DPI_CTYPE_LEN];
};

#define AT(member) offsetof(struct dpi_values, member), sizeof(((struct dpi_values *)0)->member)

/*
 * Enterprise element ids 1200-1299 belong to this plugin (docs/elements.md); ids are never
 * reused. The CSV columns are NFStream's, in its order; the numeric ids are IPFIX only, and
 * IANA's applicationName carries the same name as dpiApplicationName for collectors that know
 * only IANA elements.
 */
static const struct nfs_field dpi_fields[] = {
    {"dpiApplicationName", NFS_PEN_OWN, 1202, NFS_T_STRING, AT(app_name), "application_name", 0,
     "nDPI's application: \"Master.App\" (TLS.Google), \"App\", or \"Unknown\""},
    {"dpiCategoryName", NFS_PEN_OWN, 1203, NFS_T_STRING, AT(category),
     "application_category_name", 0, "nDPI's category of the application (Web, Media, ...)"},
    {"dpiIsGuessed", NFS_PEN_OWN, 1204, NFS_T_U8, AT(is_guessed), "application_is_guessed", 0,
     "1 when nDPI gave up and guessed the application from ports or addresses"},
    {"dpiConfidence", NFS_PEN_OWN, 1205, NFS_T_U8, AT(confidence), "application_confidence", 0,
     "0 unknown, 1 by port, 5 DPI cache, 6 DPI, 7 by IP address (nDPI >= 4.8 numbering)"},
    {"dpiServerName", NFS_PEN_OWN, 1206, NFS_T_STRING, AT(server_name), "requested_server_name",
     0, "TLS/QUIC SNI, HTTP Host, DNS query, DHCP/NetBIOS/SSDP names (nDPI host_server_name)"},
    {"dpiClientFingerprint", NFS_PEN_OWN, 1207, NFS_T_STRING, AT(client_fp),
     "client_fingerprint", 0, "JA3 (TLS, QUIC), HASSH client (SSH) or DHCP option-55 list"},
    {"dpiServerFingerprint", NFS_PEN_OWN, 1208, NFS_T_STRING, AT(server_fp),
     "server_fingerprint", 0, "JA3S (TLS) or HASSH server (SSH)"},
    {"dpiUserAgent", NFS_PEN_OWN, 1209, NFS_T_STRING, AT(user_agent), "user_agent", 0,
     "HTTP User-Agent, or QUIC's user agent id"},
    {"dpiContentType", NFS_PEN_OWN, 1210, NFS_T_STRING, AT(content_type), "content_type", 0,
     "HTTP response Content-Type"},
    {"dpiMasterProtocolId", NFS_PEN_OWN, 1200, NFS_T_U16, AT(master_id), NULL, 0,
     "nDPI 4.2 protocol id of the master protocol (TLS of TLS.Google), 0 if none"},
    {"dpiAppProtocolId", NFS_PEN_OWN, 1201, NFS_T_U16, AT(app_id), NULL, 0,
     "nDPI 4.2 protocol id of the application (Google of TLS.Google), 0 unknown"},
    {"applicationName", NFS_PEN_IANA, 96, NFS_T_STRING, AT(app_name), NULL, 0,
     "IANA's element for the same name as dpiApplicationName"},
};

enum {
    DPI_DETECTING = 1, /* held is the flow's struct nfs_dpi_flow */
    DPI_DONE = 2,      /* results are in the state; held is their strings, or NULL */
    DPI_GUESSED = 4,
};

/* A flow's state in its slot. */
struct dpi_state {
    void *held;
    struct nfs_dpi_proto proto;
    uint8_t confidence;
    uint8_t flags;
};

/* The text results of one flow, back to back, each NUL-terminated, in text_parts order. */
struct dpi_strings {
    struct dpi_strings *prev, *next;
    char text[];
};

/* The module comes first: tests/unit/test_dpi.c reads it to count the nDPI flows still open. */
struct dpi_ctx {
    struct nfs_dpi *dpi;           /* NULL when max_packets is 0 */
    uint64_t max_packets;
    struct dpi_strings *strings;   /* held by flows not yet ended */
};

/* ---- the text results: kept in one allocation per flow between detection and export ---- */

#define N_TEXTS 5

static void
result_texts(const struct nfs_dpi_result *r, const char *out[N_TEXTS])
{
    out[0] = r->server_name, out[1] = r->client_fp, out[2] = r->server_fp;
    out[3] = r->user_agent, out[4] = r->content_type;
}

/* The strings of r in one allocation listed in c; NULL when all are empty (or no memory). */
static struct dpi_strings *
strings_new(struct dpi_ctx *c, const struct nfs_dpi_result *r)
{
    const char *texts[N_TEXTS];
    size_t len = 0, off = 0;
    struct dpi_strings *s;

    result_texts(r, texts);
    for (size_t i = 0; i < N_TEXTS; i++)
        len += strlen(texts[i]) + 1;
    if (len == N_TEXTS || (s = malloc(sizeof(*s) + len)) == NULL)
        return NULL;
    for (size_t i = 0; i < N_TEXTS; i++) {
        size_t n = strlen(texts[i]) + 1;

        memcpy(s->text + off, texts[i], n);
        off += n;
    }
    s->prev = NULL;
    s->next = c->strings;
    if (c->strings != NULL)
        c->strings->prev = s;
    c->strings = s;
    return s;
}

/* Copies the strings into the record's values and frees them. */
static void
strings_export(struct dpi_ctx *c, struct dpi_strings *s, struct dpi_values *v)
{
    char *dst[N_TEXTS] = {v->server_name, v->client_fp, v->server_fp, v->user_agent,
                          v->content_type};
    const size_t size[N_TEXTS] = {sizeof(v->server_name), sizeof(v->client_fp),
                                  sizeof(v->server_fp), sizeof(v->user_agent),
                                  sizeof(v->content_type)};
    const char *p = s->text;

    for (size_t i = 0; i < N_TEXTS; i++) {
        snprintf(dst[i], size[i], "%s", p);
        p += strlen(p) + 1;
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->strings = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
}

/* ---- detection ---- */

/* Detection is over: results into the state and strings, nDPI's flow freed. */
static enum nfs_verdict
complete(struct dpi_ctx *c, struct dpi_state *st, bool guessed)
{
    struct nfs_dpi_flow *f = st->held;
    struct nfs_dpi_result res;

    nfs_dpi_collect(c->dpi, f, st->proto, &res);
    nfs_dpi_flow_destroy(c->dpi, f);
    st->confidence = res.confidence;
    st->flags = DPI_DONE | (guessed ? DPI_GUESSED : 0);
    st->held = strings_new(c, &res);
    return NFS_DONE;
}

static enum nfs_verdict
give_up(struct dpi_ctx *c, struct dpi_state *st)
{
    bool guessed = false;

    if (st->proto.app == 0)
        st->proto = nfs_dpi_giveup(c->dpi, st->held, &guessed);
    return complete(c, st, guessed);
}

/*
 * Packet k of the flow (1 = its first). NFStream checks "known and nothing more to dissect"
 * before dissecting the next packet; checking it right after this one gives the same result
 * and frees nDPI's state a packet earlier.
 */
static enum nfs_verdict
dissect(struct dpi_ctx *c, struct dpi_state *st, const struct nfs_observation *obs, uint64_t k)
{
    st->proto = nfs_dpi_process(c->dpi, st->held, obs->pkt->ip, obs->pkt->ip_cap_len,
                                obs->time_ms);
    if (k >= c->max_packets)
        return give_up(c, st);
    if (st->proto.app != 0 && !nfs_dpi_extra_possible(c->dpi, st->held))
        return complete(c, st, false);
    return NFS_CONTINUE;
}

/* ---- hooks ---- */

static bool
dpi_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    const struct dpi_conf *cf = conf;
    struct dpi_ctx *c = calloc(1, sizeof(*c));

    (void)env;
    if (c == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    c->max_packets = cf->max_packets;
    if (c->max_packets > 0 && (c->dpi = nfs_dpi_create(err)) == NULL) {
        free(c);
        return false;
    }
    *ctx = c;
    return true;
}

static enum nfs_verdict
dpi_init(void *ctx, void *state, const struct nfs_flow *flow, const struct nfs_observation *obs)
{
    struct dpi_ctx *c = ctx;
    struct dpi_state *st = state;

    (void)flow;
    if (c->dpi == NULL || (st->held = nfs_dpi_flow_create(c->dpi)) == NULL)
        return NFS_DONE; /* detection off, or no memory: the flow stays unclassified */
    st->flags = DPI_DETECTING;
    return dissect(c, st, obs, 1);
}

static enum nfs_verdict
dpi_update(void *ctx, void *state, const struct nfs_flow *flow,
           const struct nfs_observation *obs)
{
    struct dpi_state *st = state;

    if (!(st->flags & DPI_DETECTING))
        return NFS_DONE;
    return dissect(ctx, st, obs, flow->dir[0].packets + flow->dir[1].packets);
}

static void
dpi_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    struct dpi_ctx *c = ctx;
    struct dpi_state *st = state;
    struct dpi_values *v = values;

    (void)flow;
    if (st->flags & DPI_DETECTING)
        give_up(c, st);
    if (!(st->flags & DPI_DONE))
        return; /* never dissected: the values stay empty */
    v->master_id = st->proto.master;
    v->app_id = st->proto.app;
    v->is_guessed = (st->flags & DPI_GUESSED) != 0;
    v->confidence = st->confidence;
    nfs_dpi_app_name(c->dpi, st->proto, v->app_name, sizeof(v->app_name));
    snprintf(v->category, sizeof(v->category), "%s",
             nfs_dpi_category_name(c->dpi, st->proto.category));
    if (st->held != NULL)
        strings_export(c, st->held, v);
    st->held = NULL;
    st->flags = 0;
}

static void
dpi_teardown(void *ctx)
{
    struct dpi_ctx *c = ctx;

    while (c->strings != NULL) {
        struct dpi_strings *s = c->strings;

        c->strings = s->next;
        free(s);
    }
    nfs_dpi_destroy(c->dpi);
    free(c);
}

const struct nfs_plugin nfs_plugin_dpi = {
    .name = "dpi",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "application detection with nDPI: application, category, confidence, "
                   "server name, fingerprints, user agent, content type",
    .options = dpi_options,
    .n_options = NFS_NITEMS(dpi_options),
    .conf_size = sizeof(struct dpi_conf),
    .fields = dpi_fields,
    .n_fields = NFS_NITEMS(dpi_fields),
    .values_size = sizeof(struct dpi_values),
    .flow_state_size = sizeof(struct dpi_state),
    .setup = dpi_setup,
    .on_init = dpi_init,
    .on_update = dpi_update,
    .on_expire = dpi_expire,
    .teardown = dpi_teardown,
};
