/*
 * config_schema.c: every configuration key, once (see config_schema.h).
 *
 * To add a key: a member in struct nfs_config (or in a list's element struct), a row here in
 * the place it should appear in the canonical output, a line in conf/nfsensor.yaml, and
 * `nfsensord --config-reference` into docs/config.md; the config tests say what is missing.
 * Rows of a list's element ("collectors[].spool") take offsets into the element struct.
 * Defaults of the flow and decode keys come from the profile (nfs_pipeline_options_default), so
 * the NFStream switches exist in one place.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config_schema.h"
#include "cryptopan.h"
#include "export_profile.h"
#include "log.h"
#include "metrics_http.h"
#include "pipeline.h"

#define CFG(m) offsetof(struct nfs_config, m), sizeof(((struct nfs_config *)0)->m)
#define IFACE(m)                                                                                   \
    offsetof(struct nfs_config_interface, m), sizeof(((struct nfs_config_interface *)0)->m)
#define COLL(m)                                                                                    \
    offsetof(struct nfs_config_collector, m), sizeof(((struct nfs_config_collector *)0)->m)
#define NONE 0, 0

#define SECONDS(n) ((uint64_t)(n)*1000)
#define DAYS(n)    SECONDS((uint64_t)(n)*86400)

static const struct nfs_config_choice profiles[] = {
    {"default", NFS_PROFILE_DEFAULT}, {"nfstream", NFS_PROFILE_NFSTREAM}, {NULL, 0}};
static const struct nfs_config_choice accountings[] = {{"raw", NFS_ACCOUNT_RAW},
                                                       {"ip", NFS_ACCOUNT_IP},
                                                       {"transport", NFS_ACCOUNT_TRANSPORT},
                                                       {"payload", NFS_ACCOUNT_PAYLOAD},
                                                       {NULL, 0}};
static const struct nfs_config_choice transports[] = {
    {"udp", NFS_TRANSPORT_UDP}, {"tcp", NFS_TRANSPORT_TCP}, {NULL, 0}};
static const struct nfs_config_choice formats[] = {
    {"ipfix", NFS_EXPORT_IPFIX}, {"netflow9", NFS_EXPORT_NETFLOW9}, {NULL, 0}};
static const struct nfs_config_choice record_kinds[] = {
    {"biflow", NFS_EXPORT_BIFLOW}, {"uniflow", NFS_EXPORT_UNIFLOW}, {NULL, 0}};
static const struct nfs_config_choice counter_kinds[] = {
    {"delta", NFS_EXPORT_DELTA}, {"total", NFS_EXPORT_TOTAL}, {NULL, 0}};
static const struct nfs_config_choice list_forms[] = {
    {"basiclist", NFS_EXPORT_BASICLIST}, {"flat", NFS_EXPORT_FLAT}, {NULL, 0}};
static const struct nfs_config_choice levels[] = {{"err", NFS_LOG_ERR},
                                                  {"warning", NFS_LOG_WARNING},
                                                  {"info", NFS_LOG_INFO},
                                                  {"debug", NFS_LOG_DEBUG},
                                                  {NULL, 0}};

/* An interface name as the kernel takes it: 1 to 15 characters, no '/', no white space. */
static bool
check_ifname(const char *text, char *why, size_t why_size)
{
    size_t n = strlen(text);

    for (const char *c = text; *c; c++) {
        if (*c == '/' || isspace((unsigned char)*c))
            n = 0;
    }
    if (n == 0 || n > 15) {
        snprintf(why, why_size, "an interface name such as eth0 (1 to 15 characters, no '/')");
        return false;
    }
    return true;
}

/* user: and group: name accounts of this system (the switch happens after the captures open). */
static bool
account_known(bool found, const char *kind, const char *db, char *why, size_t why_size)
{
    if (!found)
        snprintf(why, why_size, "a %s name that exists on this system (getent %s)", kind, db);
    return found;
}

static bool
check_user(const char *text, char *why, size_t why_size)
{
    return account_known(text[0] == '\0' || getpwnam(text) != NULL, "user", "passwd", why,
                         why_size);
}

static bool
check_group(const char *text, char *why, size_t why_size)
{
    return account_known(text[0] == '\0' || getgrnam(text) != NULL, "group", "group", why,
                         why_size);
}

/* A capture filter that libpcap compiles (for Ethernet, the common case for a sensor). */
static bool
check_bpf(const char *text, char *why, size_t why_size)
{
    struct bpf_program prog;
    pcap_t *p;
    bool ok;

    if (text[0] == '\0')
        return true;
    p = pcap_open_dead(DLT_EN10MB, 65535);
    if (p == NULL)
        return true; /* cannot tell now; opening the interface will */
    ok = pcap_compile(p, &prog, text, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (ok)
        pcap_freecode(&prog);
    else
        snprintf(why, why_size, "a capture filter (pcap-filter(7)): %s", pcap_geterr(p));
    pcap_close(p);
    return ok;
}

/* "HOST:PORT" or "[V6]:PORT", port 1-65535; "" (a file collector) passes. */
static bool
check_hostport(const char *text, char *why, size_t why_size)
{
    const char *colon, *host = text, *host_end;
    char *end;
    unsigned long port;

    if (text[0] == '\0')
        return true;
    if (text[0] == '[') {
        host = text + 1;
        host_end = strchr(host, ']');
        colon = host_end ? host_end + 1 : NULL;
    } else {
        host_end = colon = strrchr(text, ':');
        if (colon != NULL && memchr(text, ':', (size_t)(colon - text)) != NULL)
            colon = NULL; /* an IPv6 literal needs brackets */
    }
    if (colon != NULL && *colon == ':' && host_end > host && colon[1] >= '0' && colon[1] <= '9') {
        port = strtoul(colon + 1, &end, 10);
        if (*end == '\0' && port >= 1 && port <= 65535)
            return true;
    }
    snprintf(why, why_size, "HOST:PORT such as 192.0.2.10:4739 or [2001:db8::1]:4739");
    return false;
}

/* A numeric ADDR:PORT to bind (no name lookup before privileges drop); "" passes (off). */
static bool
check_listen(const char *text, char *why, size_t why_size)
{
    struct sockaddr_storage ss;
    unsigned len;

    if (text[0] == '\0' || nfs_metrics_parse_listen(text, &ss, &len))
        return true;
    snprintf(why, why_size,
             "ADDR:PORT with a numeric address such as 127.0.0.1:9155 or [::1]:9155");
    return false;
}

/* A file in an existing directory this process can write (the file is replaced by rename). */
static bool
check_textfile(const char *text, char *why, size_t why_size)
{
    char dir[NFS_CONFIG_PATH_SIZE];
    const char *slash = strrchr(text, '/');

    if (text[0] == '\0')
        return true;
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == text ? 1 : (int)(slash - text), text);
    if (slash != NULL && slash[1] == '\0') {
        snprintf(why, why_size, "a file path, not a directory");
        return false;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(why, why_size, "a file in a writable directory (%s: %s)", dir, strerror(errno));
        return false;
    }
    return true;
}

/* Exactly one of address and file; NetFlow v9 over UDP only. */
static bool
check_collector(const void *elem, char *why, size_t why_size)
{
    const struct nfs_config_collector *c = elem;

    if ((c->address[0] != '\0') == (c->file[0] != '\0')) {
        snprintf(why, why_size, "expected exactly one of address: HOST:PORT or file: PATH, got %s",
                 c->address[0] ? "both" : "neither");
        return false;
    }
    if (c->format == NFS_EXPORT_NETFLOW9 &&
        (c->address[0] == '\0' || c->transport != NFS_TRANSPORT_UDP)) {
        snprintf(why, why_size,
                 "format: netflow9 goes over UDP only (RFC 3954 has no TCP or file form); use "
                 "transport: udp, or format: ipfix for %s",
                 c->address[0] ? "TCP" : "a file");
        return false;
    }
    return true;
}

/* all, iana-only, or field group names separated by commas (checked against the plugins
 * once they are known). */
static bool
check_fields(const char *text, char *why, size_t why_size)
{
    size_t n = strspn(text, NFS_CONFIG_FIELDS_CHARS);

    if (text[0] != '\0' && n == strlen(text))
        return true;
    snprintf(why, why_size, "all, iana-only, or field groups such as \"core, dpi\"");
    return false;
}

/* A Crypto-PAn key file the daemon's user alone can read. */
static bool
key_file_ok(const char *text, bool any_owner, char *why, size_t why_size)
{
    uint8_t key[NFS_CRYPTOPAN_KEY_SIZE];
    char reason[512];
    struct stat st;
    bool ok;

    if (text[0] == '\0')
        return true;
    if (any_owner && stat(text, &st) == 0) /* its owner is checked with user: (config.c) */
        ok = nfs_cryptopan_load_key_owned(text, st.st_uid, key, reason, sizeof(reason)) == 0;
    else
        ok = nfs_cryptopan_load_key(text, key, reason, sizeof(reason)) == 0;
    memset(key, 0, sizeof(key));
    if (!ok)
        snprintf(why, why_size,
                 "a Crypto-PAn key file only the daemon's user can read (32 bytes or 64 hex "
                 "digits, mode 0600: %s)",
                 reason);
    return ok;
}

/* The CSV's key: offline runs do not switch users, so its owner is this process's user. */
static bool
check_key_file(const char *text, char *why, size_t why_size)
{
    return key_file_ok(text, false, why, why_size);
}

/* A collector's key: from root, the daemon switches to user: and the key must be that user's,
 * which is checked once user: is known (config.c). */
static bool
check_collector_key_file(const char *text, char *why, size_t why_size)
{
    return key_file_ok(text, geteuid() == 0, why, why_size);
}

static bool
is_network(const void *elem)
{
    return ((const struct nfs_config_collector *)elem)->address[0] != '\0';
}

static bool
is_file(const void *elem)
{
    return !is_network(elem);
}

static bool
is_tcp(const void *elem)
{
    const struct nfs_config_collector *c = elem;

    return is_network(elem) && c->transport == NFS_TRANSPORT_TCP;
}

/* Rows leave the columns they do not use (choices, check...) to zero. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
const struct nfs_config_key nfs_config_keys[] = {
/*   type             key path                       where                          min  max             default      flags                help */
    {NFS_CT_CHOICE,   "profile",                     CFG(profile),                  NONE,            "default",   0,                   "default: nfsensor's behaviour; nfstream: NFStream 6.5.4's throughout (the defaults of the flows keys marked so)",
     .choices = profiles},

    {NFS_CT_SECTION,  "ipfix",                       NONE,                          NONE,            NULL,        0,                   "IPFIX encoding"},
    {NFS_CT_UINT,     "ipfix.enterprise_number",     CFG(ipfix.enterprise_number),  1, UINT32_MAX - 1, "32473",   0,                   "private enterprise number of nfsensor's own elements (32473: RFC 5612 documentation PEN)"},
    {NFS_CT_UINT,     "ipfix.observation_domain",    CFG(ipfix.observation_domain), 0, UINT32_MAX,   "1",         0,                   "observation domain id of offline runs; interfaces count up from it"},
    {NFS_CT_DURATION, "ipfix.template_refresh",      CFG(ipfix.template_refresh_ms), SECONDS(1), DAYS(1), "600s", NFS_CK_RELOAD,       "resend templates to UDP collectors this often (RFC 7011 8.4)"},
    {NFS_CT_BOOL,     "ipfix.rfc5610",               CFG(ipfix.rfc5610),            NONE,            "true",      0,                   "announce own elements' names and types (RFC 5610) so collectors print names"},

    {NFS_CT_SECTION,  "flows",                       NONE,                          NONE,            NULL,        0,                   "how flows are measured and cut"},
    {NFS_CT_DURATION, "flows.idle_timeout",          CFG(flows.idle_timeout_ms),    0, DAYS(365),    NULL,        NFS_CK_PROFILE | NFS_CK_RELOAD, "end a flow after this long without a packet"},
    {NFS_CT_DURATION, "flows.active_timeout",        CFG(flows.active_timeout_ms),  0, DAYS(365),    NULL,        NFS_CK_PROFILE | NFS_CK_RELOAD, "export and restart a flow this long after its first packet"},
    {NFS_CT_UINT,     "flows.max_flows",             CFG(flows.max_flows),          1, 100000000,    NULL,        NFS_CK_PROFILE,      "flow table size per pipeline; when full, the least recently seen flow is evicted"},
    {NFS_CT_CHOICE,   "flows.accounting",            CFG(flows.accounting),         NONE,            NULL,        NFS_CK_PROFILE,      "bytes counted: raw (wire length), ip, transport (L4 header and payload), payload",
     .choices = accountings},
    {NFS_CT_BOOL,     "flows.tcp_end",               CFG(flows.tcp_end),            NONE,            NULL,        NFS_CK_PROFILE,      "TCP FIN both ways or RST ends the flow"},
    {NFS_CT_DURATION, "flows.tcp_linger",            CFG(flows.tcp_linger_ms),      0, SECONDS(3600), NULL,       NFS_CK_PROFILE | NFS_CK_RELOAD, "after a TCP end, packets within this long still count to the flow"},
    {NFS_CT_BOOL,     "flows.keep_direction",        CFG(flows.keep_direction),     NONE,            NULL,        NFS_CK_PROFILE,      "an active-timeout continuation keeps the original src and dst"},
    {NFS_CT_BOOL,     "flows.active_scan",           CFG(flows.active_scan),        NONE,            NULL,        NFS_CK_PROFILE,      "the active timeout fires without waiting for the flow's next packet"},

    {NFS_CT_SECTION,  "dpi",                         NONE,                          NONE,            NULL,        0,                   "application detection (the built-in plugin dpi, nDPI)"},
    {NFS_CT_BOOL,     "dpi.enabled",                 CFG(dpi.enabled),              NONE,            "true",      NFS_CK_RELOAD,       "detect applications (a no-op when this build has no dpi plugin)"},
    {NFS_CT_UINT,     "dpi.max_packets",             CFG(dpi.max_packets),          0, 255,          "20",        NFS_CK_RELOAD,       "give up detection after this many packets of a flow; 0 disables DPI"},
    {NFS_CT_BOOL,     "dpi.decode_tunnels",          CFG(decode.decode_tunnels),    NONE,            NULL,        NFS_CK_PROFILE,                   "meter the inner packets of tunnels: GTP-U, CAPWAP, TZSP, and unless profile is nfstream VXLAN, Geneve, GRE, ERSPAN, MPLS-in-UDP"},

    {NFS_CT_SECTION,  "community_id",                NONE,                          NONE,            NULL,        0,                   "Community ID v1 of each flow (the built-in plugin community_id), to join with Zeek, Suricata, tshark"},
    {NFS_CT_BOOL,     "community_id.enabled",        CFG(community_id.enabled),     NONE,            NULL,        NFS_CK_PROFILE | NFS_CK_RELOAD, "add the communityId field and the CSV column community_id"},
    {NFS_CT_UINT,     "community_id.seed",           CFG(community_id.seed),        0, 65535,        "0",         NFS_CK_RELOAD,       "seed of the hash; the same as the other tools' (their default is 0)"},

    {NFS_CT_STRING,   "user",                        CFG(user),                     NONE,            "",          0,                   "live: once the captures are open, run as this user (from root), keeping CAP_NET_RAW only; empty: stay",
     .check = check_user, .expect = "a user name that exists on this system"},
    {NFS_CT_STRING,   "group",                       CFG(group),                    NONE,            "",          0,                   "live: with user, run with this group instead of the user's own; empty: the user's",
     .check = check_group, .expect = "a group name that exists on this system"},

    {NFS_CT_LIST,     "interfaces",                  CFG(interfaces),               0, NFS_CONFIG_MAX_INTERFACES, NULL, NFS_CK_RELOAD, "live capture: one pipeline per interface (per worker)",
     .elem_size = sizeof(struct nfs_config_interface), .pos_offset = offsetof(struct nfs_config_interface, pos),
     .count_offset = offsetof(struct nfs_config, n_interfaces)},
    {NFS_CT_STRING,   "interfaces[].name",           IFACE(name),                   NONE,            NULL,        NFS_CK_REQUIRED | NFS_CK_RELOAD, "network interface to capture on; each one once",
     .check = check_ifname, .expect = "an interface name such as eth0"},
    {NFS_CT_STRING,   "interfaces[].bpf",            IFACE(bpf),                    NONE,            "",      NFS_CK_RELOAD,       "capture filter (pcap-filter(7)); empty: every packet",
     .check = check_bpf, .expect = "a capture filter (pcap-filter(7))"},
    {NFS_CT_BOOL,     "interfaces[].promiscuous",    IFACE(promiscuous),            NONE,            "true",      NFS_CK_RELOAD,       "capture traffic not addressed to this host (CAP_NET_RAW suffices)"},
    {NFS_CT_UINT,     "interfaces[].snaplen",        IFACE(snaplen),                64, 262144,      "1536",      NFS_CK_RELOAD,       "bytes captured of each packet"},
    {NFS_CT_SIZE,     "interfaces[].buffer",         IFACE(buffer_bytes),           1u << 20, 1ull << 32, "64MiB", NFS_CK_RELOAD,       "kernel capture buffer per socket"},
    {NFS_CT_UINT,     "interfaces[].workers",        IFACE(workers),                1, 64,           "1",         NFS_CK_RELOAD,       "sockets joined by PACKET_FANOUT (symmetric hash), one pipeline each"},
    {NFS_CT_UINT,     "interfaces[].observation_domain", IFACE(observation_domain), 0, UINT32_MAX,   "0",         NFS_CK_RELOAD,       "observation domain id of this interface's records; 0: ipfix.observation_domain + position in the list"},

    {NFS_CT_PATHS,    "inputs",                      CFG(inputs),                   0, NFS_CONFIG_MAX_INPUTS, NULL, 0,                 "pcap/pcapng files of an offline run, read in order as one stream (--read replaces them)",
     .count_offset = offsetof(struct nfs_config, n_inputs)},

    {NFS_CT_PLUGINS,  "plugins",                     NONE,                          0, NFS_MAX_PLUGINS, NULL,     NFS_CK_RELOAD,       "feature plugins in order: NAME, or {name: NAME, option: value, ...} (nfsensord --list-plugins)"},
    {NFS_CT_PATH,     "plugin_dir",                  CFG(plugin_dir),               NONE,            "",      0,                   "directory of external plugins (NAME.so), for names that are not built in; empty: none"},

    {NFS_CT_LIST,     "collectors",                  CFG(collectors),               0, NFS_CONFIG_MAX_COLLECTORS, NULL, NFS_CK_RELOAD, "where IPFIX goes: every record to every collector",
     .elem_size = sizeof(struct nfs_config_collector), .pos_offset = offsetof(struct nfs_config_collector, pos),
     .count_offset = offsetof(struct nfs_config, n_collectors), .check_elem = check_collector},
    {NFS_CT_STRING,   "collectors[].address",        COLL(address),                 NONE,            "",      NFS_CK_RELOAD,       "collector HOST:PORT ([ADDR]:PORT for IPv6)",
     .check = check_hostport, .shown = is_network, .expect = "HOST:PORT such as 192.0.2.10:4739"},
    {NFS_CT_CHOICE,   "collectors[].transport",      COLL(transport),               NONE,            "udp",       NFS_CK_RELOAD,       "udp or tcp, for an address",
     .choices = transports, .shown = is_network},
    {NFS_CT_PATH,     "collectors[].file",           COLL(file),                    NONE,            "",      NFS_CK_RELOAD,       "RFC 5655 IPFIX file instead of an address (- for standard output); may hold strftime conversions",
     .shown = is_file},
    {NFS_CT_SIZE,     "collectors[].spool",          COLL(spool_bytes),             1u << 16, 1ull << 40, "64MiB", NFS_CK_RELOAD,      "TCP: records kept in memory while the collector is away (and for replay); beyond it they are dropped and counted",
     .shown = is_tcp},
    {NFS_CT_PATH,     "collectors[].spool_dir",      COLL(spool_dir),               NONE,            "",      NFS_CK_RELOAD,       "TCP: existing directory where a full memory spool spills; empty: no disk spool",
     .shown = is_tcp},
    {NFS_CT_SIZE,     "collectors[].spool_disk",     COLL(spool_disk_bytes),        1u << 20, 1ull << 44, "1GiB", NFS_CK_RELOAD,       "TCP: bound of the disk spool",
     .shown = is_tcp},
    {NFS_CT_SIZE,     "collectors[].replay",         COLL(replay_bytes),            0, 1ull << 40,   "8MiB",      NFS_CK_RELOAD,       "TCP: sent bytes kept to resend after a reset or a close nfsensord did not ask for (at most half the spool)",
     .shown = is_tcp},
    {NFS_CT_DURATION, "collectors[].reconnect_min",  COLL(reconnect_min_ms),        100, SECONDS(3600), "1s",     NFS_CK_RELOAD,       "TCP: first reconnect delay, doubled after each failure",
     .shown = is_tcp},
    {NFS_CT_DURATION, "collectors[].reconnect_max",  COLL(reconnect_max_ms),        100, SECONDS(3600), "60s",    NFS_CK_RELOAD,       "TCP: longest reconnect delay",
     .shown = is_tcp},
    {NFS_CT_DURATION, "collectors[].rotate",         COLL(rotate_ms),               0, DAYS(366),    "0s",        NFS_CK_RELOAD,       "file: start a new file this often (the name's strftime conversions tell them apart); 0: never",
     .shown = is_file},
    {NFS_CT_SIZE,     "collectors[].rotate_size",    COLL(rotate_bytes),            0, 1ull << 44,   "0",         NFS_CK_RELOAD,       "file: start a new file before this size; 0: never",
     .shown = is_file},
    {NFS_CT_CHOICE,   "collectors[].format",         COLL(format),                  NONE,            "ipfix",     NFS_CK_RELOAD,       "ipfix, or netflow9 (RFC 3954, UDP only: uniflow records of the fields that have a v9 type)",
     .choices = formats},
    {NFS_CT_CHOICE,   "collectors[].records",        COLL(records),                 NONE,            "biflow",    NFS_CK_RELOAD,       "biflow (one RFC 5103 record per flow) or uniflow (src->dst and dst->src records, flowDirection/biflowDirection set)",
     .choices = record_kinds},
    {NFS_CT_CHOICE,   "collectors[].counters",       COLL(counters),                NONE,            "delta",     NFS_CK_RELOAD,       "delta (octetDeltaCount/packetDeltaCount) or total (octetTotalCount/packetTotalCount)",
     .choices = counter_kinds},
    {NFS_CT_STRING,   "collectors[].fields",         COLL(fields),                  NONE,            "all",       NFS_CK_RELOAD,       "field groups sent: all, iana-only (no enterprise elements), or a list such as \"core, dpi, splt\" (core first)",
     .check = check_fields, .expect = "all, iana-only or \"core, dpi\""},
    {NFS_CT_CHOICE,   "collectors[].lists",          COLL(lists),                   NONE,            "basiclist", NFS_CK_RELOAD,       "basiclist (RFC 6313) or flat (one element per position) for list fields such as splt's",
     .choices = list_forms},
    {NFS_CT_SECTION,  "collectors[].anonymize",      NONE,                          NONE,            NULL,        NFS_CK_RELOAD,       "prefix-preserving address anonymisation (Crypto-PAn) for this collector only"},
    {NFS_CT_PATH,     "collectors[].anonymize.key_file", COLL(key_file),            NONE,            "",          NFS_CK_RELOAD,       "32 raw bytes or 64 hex digits, owned by the daemon's user (user: when started as root) and readable by it only (mode 0600); empty: addresses as they are",
     .check = check_collector_key_file},

    {NFS_CT_SECTION,  "output",                      NONE,                          NONE,            NULL,        0,                   "other outputs"},
    {NFS_CT_PATH,     "output.csv",                  CFG(output.csv),               NONE,            "",      NFS_CK_RELOAD,       "flows as CSV with NFStream's columns (- for standard output); empty: none"},
    {NFS_CT_SECTION,  "output.anonymize",            NONE,                          NONE,            NULL,        NFS_CK_RELOAD,       "prefix-preserving address anonymisation (Crypto-PAn) of the CSV"},
    {NFS_CT_PATH,     "output.anonymize.key_file",   CFG(output.csv_key_file),      NONE,            "",          NFS_CK_RELOAD,       "as collectors[].anonymize.key_file, for the CSV",
     .check = check_key_file},

    {NFS_CT_SECTION,  "log",                         NONE,                          NONE,            NULL,        0,                   "logging"},
    {NFS_CT_CHOICE,   "log.level",                   CFG(log.level),                NONE,            "info",      NFS_CK_RELOAD,       "least severe messages logged: err, warning, info or debug",
     .choices = levels},

    {NFS_CT_SECTION,  "metrics",                     NONE,                          NONE,            NULL,        0,                   "Prometheus metrics of the loss counters (docs/counters.md); off unless listen or textfile is set"},
    {NFS_CT_STRING,   "metrics.listen",              CFG(metrics.listen),           NONE,            "",          0,                   "serve /metrics and /health on ADDR:PORT, a numeric address such as 127.0.0.1:9155; empty: no HTTP server",
     .check = check_listen, .expect = "ADDR:PORT such as 127.0.0.1:9155"},
    {NFS_CT_PATH,     "metrics.textfile",            CFG(metrics.textfile),         NONE,            "",          0,                   "also write the metrics to this file for node_exporter's textfile collector (renamed into place; the directory must be writable); empty: none",
     .check = check_textfile},
    {NFS_CT_DURATION, "metrics.interval",            CFG(metrics.interval_ms),      100, SECONDS(3600), "1s",     0,                   "how often the counters are read for /metrics and the textfile rewritten"},
    {NFS_CT_DURATION, "metrics.linger",              CFG(metrics.linger_ms),        0, DAYS(1),      "0s",        0,                   "offline runs: keep serving the final figures on metrics.listen this long after the run (SIGTERM or SIGINT ends it early), so a scraper sees them"},
};
/* clang-format on */
#pragma GCC diagnostic pop

const size_t nfs_config_keys_count = NFS_NITEMS(nfs_config_keys);

const struct nfs_config_key *
nfs_config_key_find(const char *path)
{
    for (size_t i = 0; i < nfs_config_keys_count; i++)
        if (strcmp(nfs_config_keys[i].path, path) == 0)
            return &nfs_config_keys[i];
    return NULL;
}

const char *
nfs_config_key_name(const struct nfs_config_key *k)
{
    const char *dot = strrchr(k->path, '.');

    return dot ? dot + 1 : k->path;
}

bool
nfs_config_key_in(const struct nfs_config_key *k, const char *parent)
{
    const char *name = nfs_config_key_name(k);
    size_t n = strlen(parent);

    if (n == 0)
        return name == k->path;
    return (size_t)(name - k->path) == n + 1 && strncmp(k->path, parent, n) == 0;
}

/* Sets the defaults of the rows under `parent` whose storage is relative to base. */
static void
defaults_under(const char *parent, void *base)
{
    char why[256];

    for (size_t i = 0; i < nfs_config_keys_count; i++) {
        const struct nfs_config_key *k = &nfs_config_keys[i];

        if (k->type == NFS_CT_SECTION && nfs_config_key_in(k, parent))
            defaults_under(k->path, base);
        else if (k->def != NULL && nfs_config_key_in(k, parent) &&
                 !nfs_config_parse_value(k, nfs_config_at(k, base), k->def, why, sizeof(why)))
            abort(); /* a default the table cannot parse: a test catches it first */
    }
}

void
nfs_config_defaults(struct nfs_config *cfg, enum nfs_profile profile)
{
    struct nfs_pipeline_options p;

    defaults_under("", cfg);
    cfg->profile = profile;
    nfs_pipeline_options_default(&p, profile == NFS_PROFILE_NFSTREAM);
    cfg->flows = p.flows;
    cfg->decode = p.decode;
    cfg->community_id.enabled = profile != NFS_PROFILE_NFSTREAM; /* NFStream has no such column */
}

void
nfs_config_elem_defaults(const struct nfs_config_key *list, void *elem)
{
    char parent[64];

    snprintf(parent, sizeof(parent), "%s[]", list->path);
    defaults_under(parent, elem);
}
