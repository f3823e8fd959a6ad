/*
 * cli.c: the command line (see cli.h).
 *
 * Flags keep the forms scripts already use (timeouts in seconds, --accounting-mode 0..3) and
 * become key overrides in the YAML form (60 -> "60s", 2 -> "transport"), so the schema checks
 * them and its errors name the flag. A flag given twice: the last one wins, except for the list
 * flags (--read, --collector, --plugin, --set), which add up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"

void
nfs_cli_usage(FILE *fp)
{
    fputs("usage: nfsensord [--config FILE] [--read FILE ...] [--write OUT.ipfix|-]\n"
          "                 [--csv OUT.csv] [--collector udp://HOST:PORT|tcp://HOST:PORT ...]\n"
          "       nfsensord --check-config [-v] [--config FILE] [options]\n"
          "Each option that sets something overrides the configuration key in brackets\n"
          "(docs/config.md); the list options replace the file's list.\n"
          "  -c, --config FILE       YAML configuration (conf/nfsensor.yaml: every key)\n"
          "  -n, --check-config      check it, print \"configuration OK\" and exit\n"
          "  -v, --verbose           with -n: print the effective configuration; else debug log\n"
          "  -r, --read FILE         pcap/pcapng file; several are one stream [inputs]\n"
          "  -w, --write FILE        RFC 5655 IPFIX file, - for stdout [collectors]\n"
          "  --collector URL         udp://HOST:PORT or tcp://HOST:PORT, repeatable [collectors]\n"
          "  --csv FILE              NFStream's CSV columns, - for stdout [output.csv]\n"
          "  --profile NAME          default, or nfstream: NFStream's behaviour [profile]\n"
          "  --idle-timeout SEC      idle flows end after SEC s [flows.idle_timeout]\n"
          "  --active-timeout SEC    flows are cut after SEC s [flows.active_timeout]\n"
          "  --accounting-mode N     0 raw, 1 IP, 2 transport, 3 payload bytes [flows.accounting]\n"
          "  --max-flows N           flow table size [flows.max_flows]\n"
          "  --bpf EXPR              filter of the files read (interfaces have bpf:)\n"
          "  --no-tunnels            do not decode tunnels [dpi.decode_tunnels]\n"
          "  --plugin NAME           a plugin with its default options, repeatable [plugins]\n"
          "  --plugin-dir DIR        directory of external plugins [plugin_dir]\n"
          "  --observation-domain N  IPFIX observation domain [ipfix.observation_domain]\n"
          "  --enterprise-number N   PEN of nfsensor's elements [ipfix.enterprise_number]\n"
          "  --log-level LEVEL       err, warning, info or debug [log.level]\n"
          "  --user NAME             live: run as NAME (from root) once captures are open [user]\n"
          "  --group NAME            live: with --user, this group instead of NAME's [group]\n"
          "  --set KEY=VALUE         any key, as in YAML: --set flows.tcp_end=false\n"
          "  --list-fields           print every exported field (Markdown) and exit\n"
          "  --list-plugins          print the built-in plugins and their options and exit\n"
          "  --config-reference      print the configuration reference (Markdown) and exit\n"
          "  --version, --help\n"
          "exit codes: 0 success, 1 input or output failure, 64 usage, 77 no CAP_NET_RAW (live),\n"
          "78 configuration\n",
          fp);
}

enum {
    OPT_CSV = 256,
    OPT_COLLECTOR,
    OPT_PROFILE,
    OPT_IDLE,
    OPT_ACTIVE,
    OPT_ACCOUNTING,
    OPT_MAX_FLOWS,
    OPT_BPF,
    OPT_NO_TUNNELS,
    OPT_PLUGIN,
    OPT_PLUGIN_DIR,
    OPT_DOMAIN,
    OPT_PEN,
    OPT_LOG_LEVEL,
    OPT_SET,
    OPT_LIST_FIELDS,
    OPT_LIST_PLUGINS,
    OPT_REFERENCE,
    OPT_VERSION,
    OPT_USER,
    OPT_GROUP,
};

static const struct option long_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"check-config", no_argument, NULL, 'n'},
    {"verbose", no_argument, NULL, 'v'},
    {"read", required_argument, NULL, 'r'},
    {"write", required_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    {"csv", required_argument, NULL, OPT_CSV},
    {"collector", required_argument, NULL, OPT_COLLECTOR},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"active-timeout", required_argument, NULL, OPT_ACTIVE},
    {"accounting-mode", required_argument, NULL, OPT_ACCOUNTING},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"bpf", required_argument, NULL, OPT_BPF},
    {"no-tunnels", no_argument, NULL, OPT_NO_TUNNELS},
    {"plugin", required_argument, NULL, OPT_PLUGIN},
    {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
    {"observation-domain", required_argument, NULL, OPT_DOMAIN},
    {"enterprise-number", required_argument, NULL, OPT_PEN},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"set", required_argument, NULL, OPT_SET},
    {"list-fields", no_argument, NULL, OPT_LIST_FIELDS},
    {"list-plugins", no_argument, NULL, OPT_LIST_PLUGINS},
    {"config-reference", no_argument, NULL, OPT_REFERENCE},
    {"version", no_argument, NULL, OPT_VERSION},
    {"user", required_argument, NULL, OPT_USER},
    {"group", required_argument, NULL, OPT_GROUP},
    {NULL, 0, NULL, 0},
};

/* The schema key each value flag overrides; list flags are handled apart. */
static const struct {
    int opt;
    const char *option, *key;
} flag_keys[] = {
    {OPT_CSV, "--csv", "output.csv"},
    {OPT_PROFILE, "--profile", "profile"},
    {OPT_IDLE, "--idle-timeout", "flows.idle_timeout"},
    {OPT_ACTIVE, "--active-timeout", "flows.active_timeout"},
    {OPT_ACCOUNTING, "--accounting-mode", "flows.accounting"},
    {OPT_MAX_FLOWS, "--max-flows", "flows.max_flows"},
    {OPT_NO_TUNNELS, "--no-tunnels", "dpi.decode_tunnels"},
    {OPT_PLUGIN_DIR, "--plugin-dir", "plugin_dir"},
    {OPT_DOMAIN, "--observation-domain", "ipfix.observation_domain"},
    {OPT_PEN, "--enterprise-number", "ipfix.enterprise_number"},
    {OPT_LOG_LEVEL, "--log-level", "log.level"},
    {OPT_USER, "--user", "user"},
    {OPT_GROUP, "--group", "group"},
};

static const char *
own(struct nfs_cli *cli, char *s)
{
    char **grown = realloc(cli->owned, (cli->n_owned + 1) * sizeof(*grown));

    if (s == NULL || grown == NULL) {
        free(s);
        nfs_log_err("out of memory");
        exit(1);
    }
    cli->owned = grown;
    return cli->owned[cli->n_owned++] = s;
}

/* The YAML form of a flag's value: seconds get their unit, accounting modes their name. */
static const char *
yaml_value(struct nfs_cli *cli, int opt, const char *v)
{
    static const char *const modes[] = {"raw", "ip", "transport", "payload"};
    bool digits;
    char *s;

    if (opt == OPT_NO_TUNNELS)
        return "false";
    digits = v[0] != '\0' && strspn(v, "0123456789") == strlen(v);
    if ((opt == OPT_IDLE || opt == OPT_ACTIVE) && digits) {
        if (asprintf(&s, "%ss", v) < 0)
            s = NULL;
        return own(cli, s);
    }
    if (opt == OPT_ACCOUNTING && digits && strlen(v) == 1 && v[0] <= '3')
        return modes[v[0] - '0'];
    return v;
}

static void
add(struct nfs_cli *cli, const char *option, const char *key, const char *value)
{
    cli->args[cli->n_args++] = (struct nfs_config_arg){option, key, value};
}

/* --set KEY=VALUE; false when there is no '='. */
static bool
add_set(struct nfs_cli *cli, const char *text)
{
    const char *eq = strchr(text, '=');
    char *option, *key;

    if (eq == NULL || eq == text) {
        nfs_log_err("--set: expected KEY=VALUE such as flows.tcp_end=false, got \"%s\"", text);
        return false;
    }
    key = strndup(text, (size_t)(eq - text));
    own(cli, key);
    if (asprintf(&option, "--set %s", key) < 0)
        option = NULL;
    add(cli, own(cli, option), key, eq + 1);
    return true;
}

int
nfs_cli_parse(struct nfs_cli *cli, int argc, char **argv)
{
    const char *write_path = NULL;
    struct nfs_config_arg *collectors;
    size_t n_collectors = 0;
    int c;

    cli->args = calloc((size_t)argc + 1, sizeof(*cli->args));
    collectors = calloc((size_t)argc + 1, sizeof(*collectors));
    if (cli->args == NULL || collectors == NULL) {
        free(collectors);
        nfs_log_err("out of memory");
        return 1;
    }
    while ((c = getopt_long(argc, argv, "c:nvr:w:h", long_options, NULL)) != -1) {
        size_t i;

        for (i = 0; i < NFS_NITEMS(flag_keys) && flag_keys[i].opt != c; i++)
            continue;
        if (i < NFS_NITEMS(flag_keys)) {
            add(cli, flag_keys[i].option, flag_keys[i].key, yaml_value(cli, c, optarg));
            continue;
        }
        switch (c) {
        case 'c':
            cli->config_path = optarg;
            break;
        case 'n':
            cli->action = NFS_CLI_CHECK;
            break;
        case 'v':
            cli->verbose = true;
            break;
        case 'r':
            add(cli, "--read", "inputs", optarg);
            break;
        case 'w':
            write_path = optarg;
            break;
        case OPT_COLLECTOR:
            collectors[n_collectors++] =
                (struct nfs_config_arg){"--collector", "collectors", optarg};
            break;
        case OPT_PLUGIN:
            add(cli, "--plugin", "plugins", optarg);
            break;
        case OPT_BPF:
            cli->bpf = optarg;
            break;
        case OPT_SET:
            if (!add_set(cli, optarg))
                goto usage;
            break;
        case OPT_LIST_FIELDS:
            cli->action = NFS_CLI_LIST_FIELDS;
            break;
        case OPT_LIST_PLUGINS:
            cli->action = NFS_CLI_LIST_PLUGINS;
            break;
        case OPT_REFERENCE:
            cli->action = NFS_CLI_CONFIG_REFERENCE;
            break;
        case OPT_VERSION:
            cli->action = NFS_CLI_VERSION;
            break;
        case 'h':
            cli->action = NFS_CLI_HELP;
            break;
        default:
            nfs_cli_usage(stderr);
            goto usage;
        }
    }
    if (optind < argc) {
        nfs_log_err("unexpected argument \"%s\"", argv[optind]);
        goto usage;
    }
    /* The IPFIX file first, then the collectors, as targets were always added. */
    if (write_path != NULL)
        add(cli, "--write", "collectors", write_path);
    for (size_t i = 0; i < n_collectors; i++)
        cli->args[cli->n_args++] = collectors[i];
    free(collectors);
    return 0;
usage:
    free(collectors);
    return NFS_EX_USAGE;
}

void
nfs_cli_free(struct nfs_cli *cli)
{
    for (size_t i = 0; i < cli->n_owned; i++)
        free(cli->owned[i]);
    free(cli->owned);
    free(cli->args);
}
