/*
 * test_splt.c: the splt plugin (plugins/splt.c): NFStream's arrays with -1 padding, no more
 * packets asked for after the N-th, the field tables of both encodings built from the options,
 * option errors, and every built-in plugin's elements fitting in one record.
 */
#include "check.h"
#include "test_plugin_harness.h"

/* splt's conf with these option texts, set through its option table as the config does. */
static bool
splt_conf(void *conf, const char *packets, const char *encoding)
{
    const struct nfs_plugin *p = nfs_plugin_find("splt");
    struct nfs_error err;

    memset(conf, 0, p->conf_size);
    return nfs_plugin_conf_defaults(p, conf, &err) &&
           nfs_option_parse(&p->options[0], conf, packets, &err) &&
           nfs_option_parse(&p->options[1], conf, encoding, &err);
}

static bool
start(struct harness *h, const char *packets, const char *encoding)
{
    uint64_t conf[64];
    struct nfs_error err;

    if (splt_conf(conf, packets, encoding) && harness_start(h, "splt", conf, &err))
        return true;
    fprintf(stderr, "  cannot start splt: %s\n", err.msg);
    return false;
}

static void
test_short_flow_is_padded(void)
{
    struct harness h;

    CHECK(start(&h, "5", "basiclist"));
    harness_packet(&h, 1000, 58, false, 0);
    harness_packet(&h, 1034, 60, true, 0);
    harness_packet(&h, 1168, 54, false, 0);
    harness_expire(&h);
    CHECK_STR(harness_text(&h, "splt_direction"), "[0, 1, 0, -1, -1]");
    CHECK_STR(harness_text(&h, "splt_ps"), "[58, 60, 54, -1, -1]");
    CHECK_STR(harness_text(&h, "splt_piat_ms"), "[0, 34, 134, -1, -1]");
    CHECK(nfs_field_is_text(harness_field(&h, "splt_ps"))); /* quoted in the CSV */
    harness_stop(&h);
}

static void
test_stops_after_n_packets(void)
{
    struct harness h;

    CHECK(start(&h, "3", "basiclist"));
    harness_packet(&h, 1000, 100, false, 0);
    harness_packet(&h, 1001, 200, true, 0);
    CHECK_EQ(h.slot.flow.plugins_done, 0);
    harness_packet(&h, 1003, 300, true, 0);
    CHECK_EQ(h.slot.flow.plugins_done, 1); /* NFS_DONE at the third */
    harness_packet(&h, 1010, 400, false, 0);
    harness_expire(&h);
    CHECK_STR(harness_text(&h, "splt_direction"), "[0, 1, 1]");
    CHECK_STR(harness_text(&h, "splt_ps"), "[100, 200, 300]");
    CHECK_STR(harness_text(&h, "splt_piat_ms"), "[0, 1, 2]");
    harness_stop(&h);
}

static void
test_255_packets(void)
{
    struct harness h;
    const char *text;

    CHECK(start(&h, "255", "basiclist"));
    for (uint64_t i = 0; i < 300; i++)
        harness_packet(&h, 1000 + i * 100000, (uint32_t)(60 + i), i % 2 == 1, 0);
    harness_expire(&h);
    text = harness_text(&h, "splt_piat_ms");
    CHECK(strncmp(text, "[0, 100000, 100000, ", 20) == 0);
    CHECK(strcmp(text + strlen(text) - 9, ", 100000]") == 0);
    CHECK(strstr(harness_text(&h, "splt_ps"), ", 313, 314]") != NULL);
    harness_stop(&h);
}

static const struct nfs_field *
field_named(const struct nfs_field_group *g, const char *name)
{
    for (size_t i = 0; i < g->n_fields; i++)
        if (strcmp(g->fields[i].name, name) == 0)
            return &g->fields[i];
    return NULL;
}

static void
test_list_encoding_fields(void)
{
    struct harness h;
    const struct nfs_field_group *g;

    CHECK(start(&h, "10", "basiclist"));
    g = &nfs_plugin_set_groups(h.set)[1];
    CHECK_EQ(g->n_fields, 3);
    CHECK_EQ(field_named(g, "spltDirection")->id, 1300);
    CHECK_EQ(field_named(g, "spltDirection")->type, NFS_T_LIST_I8);
    CHECK_EQ(field_named(g, "spltPacketSize")->id, 1301);
    CHECK_EQ(field_named(g, "spltPacketSize")->size, 40);
    CHECK_EQ(field_named(g, "spltPiatMilliseconds")->id, 1302);
    CHECK_EQ(nfs_plugin_set_values_size(h.set), 13 * 10 + 6); /* aligned to 8 */
    CHECK_EQ(nfs_plugin_set_state_size(h.set), 88);            /* 8 * 10 + 2, aligned */
    harness_stop(&h);
}

static void
test_flat_encoding_fields_and_values(void)
{
    struct harness h;
    const struct nfs_field_group *g;
    const struct nfs_field *f;
    char buf[64];

    CHECK(start(&h, "4", "flat"));
    g = &nfs_plugin_set_groups(h.set)[1];
    CHECK_EQ(g->n_fields, 3 + 3 * 4);
    CHECK_EQ(field_named(g, "spltPacketSize")->id, 0); /* the CSV keeps NFStream's lists */
    CHECK_STR(field_named(g, "spltPacketSize")->csv, "splt_ps");
    CHECK_EQ(field_named(g, "spltDirection1")->id, 2001);
    CHECK_EQ(field_named(g, "spltDirection4")->id, 2004);
    CHECK_EQ(field_named(g, "spltPacketSize1")->id, 2301);
    CHECK_EQ(field_named(g, "spltPiatMilliseconds4")->id, 2604);
    CHECK(field_named(g, "spltPiatMilliseconds4")->csv == NULL);
    CHECK(field_named(g, "spltDirection5") == NULL);
    harness_packet(&h, 1000, 58, false, 0);
    harness_packet(&h, 1034, 60, true, 0);
    harness_expire(&h);
    CHECK_STR(harness_text(&h, "splt_ps"), "[58, 60, -1, -1]");
    f = field_named(g, "spltPacketSize2");
    CHECK_STR(nfs_field_format(f, h.groups[1], buf, sizeof(buf)), "60");
    f = field_named(g, "spltDirection2");
    CHECK_STR(nfs_field_format(f, h.groups[1], buf, sizeof(buf)), "1");
    f = field_named(g, "spltPiatMilliseconds3");
    CHECK_STR(nfs_field_format(f, h.groups[1], buf, sizeof(buf)), "-1");
    harness_stop(&h);
}

static void
test_bad_options_are_config_errors(void)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    const struct nfs_plugin *p = nfs_plugin_find("splt");
    uint64_t c[64];
    struct nfs_error err;

    CHECK(splt_conf(c, "10", "ipfix"));
    CHECK(!nfs_plugin_set_add(set, p, c, &err));
    CHECK(strstr(err.msg, "plugin splt: encoding: expected basiclist or flat, got \"ipfix\"") !=
          NULL);
    CHECK(!nfs_option_parse(&p->options[0], &c, "256", &err));
    CHECK(strstr(err.msg, "out of range") != NULL);
    CHECK(nfs_plugin_set_count(set) == 0);
    nfs_plugin_set_destroy(set);
}

/* Every built-in with its defaults, and splt flat at its most, in one record: no id clash. */
static void
test_builtins_share_a_record(void)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    struct nfs_error err;

    for (size_t i = 0; nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        void *conf = calloc(1, p->conf_size + 1);
        bool added;

        CHECK(nfs_plugin_conf_defaults(p, conf, &err));
        if (strcmp(p->name, "splt") == 0)
            CHECK(splt_conf(conf, "255", "flat"));
        added = nfs_plugin_set_add(set, p, conf, &err);
        if (!added)
            fprintf(stderr, "  %s\n", err.msg);
        CHECK(added || strstr(err.msg, "clashes") == NULL); /* required options may be missing */
        free(conf);
    }
    CHECK(nfs_plugin_find("splt") != NULL && nfs_plugin_find("statistics") != NULL);
    nfs_plugin_set_destroy(set);
}

int
main(void)
{
    RUN(test_short_flow_is_padded);
    RUN(test_stops_after_n_packets);
    RUN(test_255_packets);
    RUN(test_list_encoding_fields);
    RUN(test_flat_encoding_fields_and_values);
    RUN(test_bad_options_are_config_errors);
    RUN(test_builtins_share_a_record);
    return check_exit();
}
