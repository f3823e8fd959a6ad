/*
 * config.h: the configuration, from a YAML file and the command line, as one checked value.
 *
 * nfs_config_load() builds a struct nfs_config in this order: the built-in defaults of the
 * profile (profile: nfstream switches every departure from NFStream back), the file's values,
 * the command line's overrides, then the checks that need the whole configuration (duplicate
 * interfaces, collectors given twice, plugin options and field clashes). Every mistake becomes
 * one line "FILE:LINE:COLUMN: key.path: what was expected, got "..."" and loading goes on, so
 * one run shows them all; any error means no configuration.
 * The keys, their types, bounds, defaults and help are one table (config_schema.c);
 * `nfsensord --config-reference` prints it for docs/config.md, and tests hold conf/nfsensor.yaml
 * and docs/config.md to it. A loaded configuration never changes: a reload loads a new one.
 */
#ifndef NFS_CONFIG_H
#define NFS_CONFIG_H

#include <stdio.h>

#include "common.h"
#include "decode.h"
#include "flow.h"
#include "plugin_set.h"

#define NFS_CONFIG_MAX_INTERFACES 64
#define NFS_CONFIG_MAX_COLLECTORS 16
#define NFS_CONFIG_MAX_INPUTS     65536
#define NFS_CONFIG_PATH_SIZE      1024 /* paths, NUL included */
#define NFS_CONFIG_ERRORS_KEPT    100  /* error lines kept; the rest are only counted */

enum nfs_profile {
    NFS_PROFILE_DEFAULT = 0,  /* nfsensor's behaviour (docs/flows.md) */
    NFS_PROFILE_NFSTREAM = 1, /* NFStream 6.5.4's behaviour throughout */
};

enum nfs_transport { NFS_TRANSPORT_UDP = 0, NFS_TRANSPORT_TCP = 1 };

/* Where a value was given: a line and column of the file (from 1), or a command-line option. */
struct nfs_config_pos {
    unsigned line, column;
    const char *option; /* "--collector": given on the command line (line and column 0) */
};

struct nfs_config_interface {
    struct nfs_config_pos pos;
    char name[16]; /* IFNAMSIZ */
    char bpf[1024];
    bool promiscuous;
    uint32_t snaplen;
    uint64_t buffer_bytes;
    uint32_t workers;            /* sockets joined by PACKET_FANOUT, one pipeline each */
    uint32_t observation_domain; /* 0 in the file: ipfix.observation_domain + position */
};

/* A collector: a network address, or an RFC 5655 file (exactly one of address and file). */
struct nfs_config_collector {
    struct nfs_config_pos pos;
    char address[264]; /* "HOST:PORT" or "[V6]:PORT"; "" for a file */
    enum nfs_transport transport;
    char file[NFS_CONFIG_PATH_SIZE];
    /* TCP: how an outage is ridden out (docs/collectors.md) */
    uint64_t spool_bytes, spool_disk_bytes, replay_bytes;
    char spool_dir[NFS_CONFIG_PATH_SIZE];
    uint64_t reconnect_min_ms, reconnect_max_ms;
    /* files */
    uint64_t rotate_ms, rotate_bytes;
    /* what it gets (export_profile.h): enum nfs_export_* values, the fields: text and the
     * field groups it names (bit 0 core, 1 + i plugin i; 0 all), the anonymisation key */
    int format, records, counters, lists;
    char fields[256];
    uint32_t field_groups;
    bool iana_only;
    char key_file[NFS_CONFIG_PATH_SIZE];
    bool key_owner_set; /* started as root: the key belongs to key_owner (user:, or root) */
    uint32_t key_owner;
};

struct nfs_collector_options;

/* Fills co (after nfs_collector_options_default) from the collector's keys; target stays. */
void nfs_config_collector_options(const struct nfs_config_collector *c,
                                  struct nfs_collector_options *co);

/* An enabled plugin and its options, filled in and checked against the plugin's table. */
struct nfs_config_plugin {
    struct nfs_config_pos pos;
    const struct nfs_plugin *plugin;
    void *conf; /* plugin->conf_size bytes, owned by the configuration */
};

struct nfs_config {
    char path[NFS_CONFIG_PATH_SIZE]; /* the file read; "" when none */
    enum nfs_profile profile;
    struct {
        uint32_t enterprise_number;
        uint32_t observation_domain;
        uint64_t template_refresh_ms;
        bool rfc5610;
    } ipfix;
    struct nfs_flow_options flows;
    struct {
        bool enabled;
        uint32_t max_packets; /* 0: no DPI */
    } dpi;
    struct {
        bool enabled;
        uint32_t seed;
    } community_id;
    struct nfs_decode_options decode;
    char user[64], group[64]; /* live: switch to these once the captures are open; "": stay */
    struct nfs_config_interface interfaces[NFS_CONFIG_MAX_INTERFACES];
    size_t n_interfaces;
    char **inputs; /* pcap files of an offline run, in order */
    size_t n_inputs;
    char plugin_dir[NFS_CONFIG_PATH_SIZE];
    struct nfs_config_plugin plugins[NFS_MAX_PLUGINS]; /* plugins: in order; dpi is not one */
    size_t n_plugins;
    struct nfs_config_collector collectors[NFS_CONFIG_MAX_COLLECTORS];
    size_t n_collectors;
    struct {
        char csv[NFS_CONFIG_PATH_SIZE]; /* "" none, "-" stdout */
        char csv_key_file[NFS_CONFIG_PATH_SIZE]; /* anonymise the CSV's addresses; "" none */
    } output;
    struct {
        int level; /* enum nfs_log_level */
    } log;
    struct {
        char listen[64];                     /* "": no HTTP server */
        char textfile[NFS_CONFIG_PATH_SIZE]; /* "": none */
        uint64_t interval_ms;
        uint64_t linger_ms; /* offline: serve the final figures this long */
    } metrics;
    /* The plugins a pipeline runs: "dpi" first when enabled and built in, then plugins:. */
    struct nfs_plugin_set *plugin_set;
};

/*
 * One command-line override. key is a schema key path ("flows.idle_timeout") and value its text
 * as it would be written in YAML. The list keys take one item per override, and the overrides
 * of a list replace the file's list: "inputs" (a pcap file), "plugins" (a plugin name, with its
 * default options) and "collectors" (udp://HOST:PORT, tcp://HOST:PORT, or an IPFIX file path).
 * option names the override in errors; it must outlive the configuration.
 */
struct nfs_config_arg {
    const char *option;
    const char *key;
    const char *value;
};

/* Error lines, in the order of their place in the file (command-line ones first); at most
 * NFS_CONFIG_ERRORS_KEPT are kept, n_total counts all. */
struct nfs_config_errors {
    char **lines;
    size_t n, n_total;
    uint64_t *order; /* private: each line's place, for sorting */
};

/*
 * Loads path (NULL: no file, the defaults) with the overrides. Returns the configuration, or
 * NULL when anything was wrong, with every error appended to errs. Free with nfs_config_free.
 */
struct nfs_config *nfs_config_load(const char *path, const struct nfs_config_arg *args,
                                   size_t n_args, struct nfs_config_errors *errs);

/* NULL-safe. */
void nfs_config_free(struct nfs_config *cfg);
void nfs_config_errors_free(struct nfs_config_errors *errs);

/*
 * Writes the configuration as YAML in canonical form: every key, defaults filled in, in the
 * schema's order. Loading that output gives the same configuration, and the same output.
 */
void nfs_config_write(const struct nfs_config *cfg, FILE *fp);

/* Writes the configuration reference (Markdown tables, one per section) from the schema. */
void nfs_config_write_reference(FILE *fp);

/* Writes every plugin built in, with its options, for --list-plugins. */
void nfs_config_write_plugins(FILE *fp);

/* The exporter target of a collector: "udp://HOST:PORT", "tcp://HOST:PORT" or the file. */
void nfs_config_collector_target(const struct nfs_config_collector *c, char *buf, size_t size);

#endif
