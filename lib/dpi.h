/*
 * dpi.h: nDPI (Debian's 4.2) behind a small interface, for the dpi plugin (plugins/dpi.c).
 *
 * A struct nfs_dpi is one nDPI detection module with every protocol enabled and no custom
 * protocol or category files, as NFStream sets it up; a pipeline has its own, so no lock is
 * taken. A struct nfs_dpi_flow is one flow's detection state (nDPI's flow struct, about 700
 * bytes plus what its dissectors allocate): the plugin creates it at the flow's first packet,
 * copies the results out with nfs_dpi_collect() once detection is complete and frees it then.
 * The module keeps a list of the flows it handed out, so destroying the module frees any that
 * are still open (a pipeline torn down without flushing its flows). Nothing here knows flows,
 * records or IPFIX; nothing outside this file includes nDPI's headers.
 */
#ifndef NFS_DPI_H
#define NFS_DPI_H

#include "common.h"

/* nDPI's protocol ids of a detection ("TLS.Google": master TLS, app Google) and category. */
struct nfs_dpi_proto {
    uint16_t master, app;
    uint16_t category;
};

/* Sizes of NFStream's buffers for each text result, NUL included. */
#define NFS_DPI_APP_NAME_LEN 40
#define NFS_DPI_CATEGORY_LEN 25 /* NFStream copies 24 bytes of the category name */
#define NFS_DPI_SERVER_LEN   80
#define NFS_DPI_FP_LEN       48
#define NFS_DPI_UA_LEN       256
#define NFS_DPI_CTYPE_LEN    64

/* What NFStream collects from a flow's detection (FEATURES.md 1.8); empty strings if absent. */
struct nfs_dpi_result {
    uint8_t confidence;                       /* NFStream's numbering, see nfs_dpi_collect */
    char server_name[NFS_DPI_SERVER_LEN];     /* host_server_name: SNI, HTTP Host, DNS query... */
    char client_fp[NFS_DPI_FP_LEN];           /* JA3, HASSH client or DHCP fingerprint */
    char server_fp[NFS_DPI_FP_LEN];           /* JA3S or HASSH server */
    char user_agent[NFS_DPI_UA_LEN];          /* HTTP User-Agent, QUIC UAID */
    char content_type[NFS_DPI_CTYPE_LEN];     /* HTTP response Content-Type */
};

struct nfs_dpi;
struct nfs_dpi_flow;

/* A detection module; NULL and err when nDPI cannot be initialised. */
struct nfs_dpi *nfs_dpi_create(struct nfs_error *err);

/* Frees the module and every flow of it not yet destroyed. NULL-safe. */
void nfs_dpi_destroy(struct nfs_dpi *d);

/* A new, empty flow detection; NULL when out of memory. Owned by d until nfs_dpi_flow_destroy. */
struct nfs_dpi_flow *nfs_dpi_flow_create(struct nfs_dpi *d);
void nfs_dpi_flow_destroy(struct nfs_dpi *d, struct nfs_dpi_flow *f);

/* Dissects one packet, given from its IP header with ip_len captured bytes, at time_ms.
 * Returns the detection so far (app 0: unknown). */
struct nfs_dpi_proto nfs_dpi_process(struct nfs_dpi *d, struct nfs_dpi_flow *f,
                                     const uint8_t *ip, uint32_t ip_len, uint64_t time_ms);

/* True when a detected flow's dissector still wants packets (certificates, fingerprints). */
bool nfs_dpi_extra_possible(struct nfs_dpi *d, struct nfs_dpi_flow *f);

/* Ends detection of a still unknown flow, guessing from ports and addresses; *guessed says
 * whether the result is a guess. */
struct nfs_dpi_proto nfs_dpi_giveup(struct nfs_dpi *d, struct nfs_dpi_flow *f, bool *guessed);

/* Copies what detection `proto` of f found into *res, as NFStream's collect_info does. */
void nfs_dpi_collect(struct nfs_dpi *d, struct nfs_dpi_flow *f, struct nfs_dpi_proto proto,
                     struct nfs_dpi_result *res);

/* "Master.App", "App" or "Unknown" (ndpi_protocol2name) into buf; returns buf. */
char *nfs_dpi_app_name(struct nfs_dpi *d, struct nfs_dpi_proto proto, char *buf, size_t size);

/* The category's name ("Web", "Unspecified"...), never NULL. */
const char *nfs_dpi_category_name(struct nfs_dpi *d, uint16_t category);

/* nDPI's version as it reports it (ndpi_revision(): "4.2.0"). */
const char *nfs_dpi_version(void);

/*
 * Calls fn once for every protocol id nDPI knows (0 "Unknown" included), in id order, with
 * its name: the id -> name table that the dpiMasterProtocolId/dpiAppProtocolId values index
 * (exported by lib/ipfix_apps.c). Sets up a detection module for the time of the call. False,
 * with err, when nDPI cannot be initialised.
 */
bool nfs_dpi_protocols(void (*fn)(void *arg, uint16_t id, const char *name), void *arg,
                       struct nfs_error *err);

/* Flows created and not yet destroyed (for tests and the memory benchmark). */
size_t nfs_dpi_open_flows(const struct nfs_dpi *d);

#endif
