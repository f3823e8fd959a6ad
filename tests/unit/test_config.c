/*
 * test_config.c: the schema table is well formed, values parse and print in canonical form,
 * the profile's defaults are the pipeline's, and a configuration made only of command-line
 * overrides loads. The error texts themselves are golden files in tests/config/.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config_internal.h"
#include "pipeline.h"

/* Every row sits in a section or list that comes before it, once, with help. */
static void
test_table_shape(void)
{
    for (size_t i = 0; i < nfs_config_keys_count; i++) {
        const struct nfs_config_key *k = &nfs_config_keys[i];
        const char *name = nfs_config_key_name(k);

        CHECK(k->help != NULL && k->help[0] != '\0');
        CHECK(nfs_config_key_find(k->path) == k);
        if (name != k->path) {
            char parent[64];
            const struct nfs_config_key *p;

            snprintf(parent, sizeof(parent), "%.*s", (int)(name - k->path - 1), k->path);
            if (parent[strlen(parent) - 1] == ']')
                parent[strlen(parent) - 2] = '\0';
            p = nfs_config_key_find(parent);
            CHECK(p != NULL && p < k);
            CHECK(p != NULL && (p->type == NFS_CT_SECTION || p->type == NFS_CT_LIST));
        }
        if (k->type == NFS_CT_LIST)
            CHECK(k->elem_size > 0 && k->count_offset > 0 && k->max * k->elem_size == k->size);
        if (k->type == NFS_CT_CHOICE)
            CHECK(k->choices != NULL && k->size == sizeof(int));
        if (k->flags & NFS_CK_REQUIRED)
            CHECK(k->def == NULL && strchr(k->path, '[') != NULL);
    }
}

/* The flow and decode defaults of each profile are the pipeline's own. */
static void
test_profile_defaults(void)
{
    for (int nfstream = 0; nfstream <= 1; nfstream++) {
        struct nfs_config *cfg = calloc(1, sizeof(*cfg));
        struct nfs_pipeline_options po;

        nfs_config_defaults(cfg, nfstream ? NFS_PROFILE_NFSTREAM : NFS_PROFILE_DEFAULT);
        nfs_pipeline_options_default(&po, nfstream);
        CHECK_EQ(cfg->flows.idle_timeout_ms, po.flows.idle_timeout_ms);
        CHECK_EQ(cfg->flows.active_timeout_ms, po.flows.active_timeout_ms);
        CHECK_EQ(cfg->flows.tcp_linger_ms, po.flows.tcp_linger_ms);
        CHECK_EQ(cfg->flows.max_flows, po.flows.max_flows);
        CHECK_EQ(cfg->flows.accounting, po.flows.accounting);
        CHECK_EQ(cfg->flows.tcp_end, po.flows.tcp_end);
        CHECK_EQ(cfg->flows.keep_direction, po.flows.keep_direction);
        CHECK_EQ(cfg->flows.active_scan, po.flows.active_scan);
        CHECK_EQ(cfg->flows.raw_size_u16, po.flows.raw_size_u16);
        CHECK_EQ(cfg->decode.decode_tunnels, po.decode.decode_tunnels);
        CHECK_EQ(cfg->decode.extra_tunnels, po.decode.extra_tunnels);
        CHECK_EQ(cfg->ipfix.enterprise_number, 32473);
        CHECK_EQ(cfg->dpi.max_packets, 20);
        free(cfg);
    }
}

/* text -> value -> canonical text */
static void
canonical(const char *path, const char *text, const char *want)
{
    const struct nfs_config_key *k = nfs_config_key_find(path);
    char value[64] = {0}, out[256], why[256] = "";

    CHECK(k != NULL);
    if (k == NULL)
        return;
    CHECK(nfs_config_parse_value(k, value, text, why, sizeof(why)));
    nfs_config_format_value(k, value, out, sizeof(out));
    CHECK_STR(out, want);
}

static void
test_canonical_values(void)
{
    canonical("flows.idle_timeout", "2m", "120s");
    canonical("flows.idle_timeout", "1500ms", "1500ms");
    canonical("flows.idle_timeout", "0s", "0s");
    canonical("flows.active_timeout", "1d", "86400s");
    canonical("flows.max_flows", "0042", "42");
    canonical("flows.accounting", "transport", "transport");
    canonical("flows.tcp_end", "off", "false");
    canonical("interfaces[].buffer", "1048576", "1MiB");
    canonical("interfaces[].buffer", "1536KiB", "1536KiB");
    canonical("interfaces[].buffer", "2000000", "2000000");
    canonical("interfaces[].name", "eth0", "\"eth0\"");
    canonical("output.csv", "a \"b\"\\c\td", "\"a \\\"b\\\"\\\\c\\x09d\"");
    canonical("log.level", "debug", "debug");
}

static void
refused(const char *path, const char *text, const char *want)
{
    const struct nfs_config_key *k = nfs_config_key_find(path);
    char value[2048], why[512] = "";

    CHECK(k != NULL);
    if (k == NULL)
        return;
    CHECK(!nfs_config_parse_value(k, value, text, why, sizeof(why)));
    CHECK_STR(why, want);
}

static void
test_refused_values(void)
{
    refused("flows.max_flows", "0", "expected a whole number from 1 to 100000000, got \"0\"");
    refused("flows.max_flows", "-1", "expected a whole number, got \"-1\"");
    refused("flows.idle_timeout", "99999999999999999999s",
            "expected a duration such as 120s, 500ms, 30m, 1h, got \"99999999999999999999s\"");
    refused("ipfix.observation_domain", "4294967296",
            "expected a whole number from 0 to 4294967295, got \"4294967296\"");
    refused("interfaces[].buffer", "1KiB", "expected a size from 1MiB to 4GiB, got \"1KiB\"");
    refused("collectors[].address", "[::1]",
            "expected HOST:PORT such as 192.0.2.10:4739 or [2001:db8::1]:4739, got \"[::1]\"");
    refused("collectors[].address", "h:65536",
            "expected HOST:PORT such as 192.0.2.10:4739 or [2001:db8::1]:4739, got \"h:65536\"");
}

/* "Did you mean" for a close name, the list for a far one. */
static void
test_hints(void)
{
    const char *const names[] = {"idle_timeout", "active_timeout", "bpf"};
    char hint[256];

    nfs_config_hint("idle_timout", names, 3, hint, sizeof(hint));
    CHECK_STR(hint, ", did you mean \"idle_timeout\"?");
    nfs_config_hint("bfp", names, 3, hint, sizeof(hint));
    CHECK_STR(hint, ", did you mean \"bpf\"?");
    nfs_config_hint("colour", names, 3, hint, sizeof(hint));
    CHECK_STR(hint, " (expected one of: idle_timeout, active_timeout, bpf)");
}

/* Without a file: the defaults and the overrides, in order, lists replaced. */
static void
test_overrides_only(void)
{
    const struct nfs_config_arg args[] = {
        {"--profile", "profile", "nfstream"}, {"--read", "inputs", "a.pcap"},
        {"--read", "inputs", "b.pcap"},       {"--collector", "collectors", "tcp://[::1]:4739"},
        {"--write", "collectors", "-"},       {"--set", "flows.tcp_end", "true"},
    };
    struct nfs_config_errors errs = {0};
    struct nfs_config *cfg = nfs_config_load(NULL, args, NFS_NITEMS(args), &errs);
    char target[64];

    CHECK(cfg != NULL);
    CHECK_EQ(errs.n_total, 0);
    if (cfg == NULL)
        return;
    CHECK_EQ(cfg->profile, NFS_PROFILE_NFSTREAM);
    CHECK(cfg->flows.tcp_end);
    CHECK(!cfg->flows.keep_direction);
    CHECK_EQ(cfg->n_inputs, 2);
    CHECK_STR(cfg->inputs[1], "b.pcap");
    CHECK_EQ(cfg->n_collectors, 2);
    nfs_config_collector_target(&cfg->collectors[0], target, sizeof(target));
    CHECK_STR(target, "tcp://[::1]:4739");
    nfs_config_collector_target(&cfg->collectors[1], target, sizeof(target));
    CHECK_STR(target, "-");
    CHECK(cfg->plugin_set != NULL);
    nfs_config_free(cfg);
}

/* A bad file gives every error; kept lines are capped, the total is not. */
static void
test_many_errors(void)
{
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    struct nfs_config_errors errs = {0};

    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    for (int i = 0; i < 150; i++)
        fprintf(fp, "key%d: %d\n", i, i);
    fclose(fp);
    CHECK(nfs_config_load(path, NULL, 0, &errs) == NULL);
    CHECK_EQ(errs.n_total, 150);
    CHECK_EQ(errs.n, NFS_CONFIG_ERRORS_KEPT);
    CHECK(strncmp(errs.lines[0], path, strlen(path)) == 0);
    CHECK(strstr(errs.lines[0], ":1:1: key0: unknown key") != NULL);
    nfs_config_errors_free(&errs);
    unlink(path);
}

int
main(void)
{
    RUN(test_table_shape);
    RUN(test_profile_defaults);
    RUN(test_canonical_values);
    RUN(test_refused_values);
    RUN(test_hints);
    RUN(test_overrides_only);
    RUN(test_many_errors);
    return check_exit();
}
