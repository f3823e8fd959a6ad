/*
 * test_ml_tree.c: the model file (plugins/ml_model.c) and the ml_tree plugin driven by a
 * pipeline: errors that name the file and what is wrong, predictions of each model kind
 * worked out by hand, scikit-learn's float rounding, the features, classification at
 * at_packet and at the end of a short flow, expire_early.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../plugins/ml_model.h"
#include "check.h"
#include "pipeline.h"
#include "plugin_set.h"

static char dir[] = "/tmp/test_ml_tree.XXXXXX";

/* Writes text to dir/name; returns the path (static buffer, one at a time). */
static const char *
model_file(const char *name, const char *text)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    return path;
}

#define HEAD "nfsensor_model: 1\nkind: decision_tree\nfeatures: [dst_port, ps_1]\n" \
             "classes: [dns, web]\n"

/* dst_port <= 100 -> dns (0.75); else ps_1 <= 16777216.5 -> web (0.8) else dns (1.0) */
static const char tree_text[] = HEAD
    "trees:\n"
    "  - feature: [0, -1, 1, -1, -1]\n"
    "    threshold: [100, 0, 16777216.5, 0, 0]\n"
    "    left: [1, -1, 3, -1, -1]\n"
    "    right: [2, -1, 4, -1, -1]\n"
    "    value: [[], [0.75, 0.25], [], [0.2, 0.8], [1.0, 0.0]]\n";

/* Loads text and returns the error message (empty when it loaded). */
static const char *
load_error(const char *text)
{
    static struct nfs_error err;
    struct nfs_ml_model *m = nfs_ml_model_load(model_file("bad.yaml", text), &err);

    if (m != NULL) {
        nfs_ml_model_destroy(m);
        err.msg[0] = '\0';
    }
    return err.msg;
}

static bool
has(const char *msg, const char *part)
{
    if (strstr(msg, part) != NULL)
        return true;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", msg, part);
    return false;
}

static void
test_errors_name_the_file_and_the_fault(void)
{
    struct nfs_error err;

    CHECK(nfs_ml_model_load("/nonexistent/model.yaml", &err) == NULL);
    CHECK(has(err.msg, "/nonexistent/model.yaml: No such file"));
    CHECK(has(load_error("kind: [unclosed\n"), "bad.yaml:"));
    CHECK(has(load_error("kind: [unclosed\n"), "not valid YAML"));
    CHECK(has(load_error(""), "bad.yaml: empty file"));
    CHECK(has(load_error("nfsensor_model: 2\n"), "bad.yaml:1:17: expected a whole number from 1"));
    CHECK(has(load_error(HEAD "colour: red\ntrees: []\n"), "bad.yaml:5:1: unknown key \"colour\""));
    CHECK(has(load_error(HEAD "trees: []\n"), "decision_tree needs exactly one tree"));
    /* a child pointing back to its parent would loop forever */
    CHECK(has(load_error(HEAD "trees:\n  - {feature: [0, -1], threshold: [1, 0], left: [1, -1], "
                              "right: [0, -1], value: [[], [1, 0]]}\n"),
              "node 0: children must be two different nodes after it"));
    CHECK(has(load_error(HEAD "trees:\n  - {feature: [0, -1, -1], threshold: [1, 0, 0], "
                              "left: [1, -1, -1], right: [2, -1, -1], value: [[], [1], [0, 1]]}\n"),
              "bad.yaml:6:101: leaf 1 has 1 values, expected 2"));
    CHECK(has(load_error(HEAD "trees:\n  - {feature: [-1, -1], threshold: [0, 0], left: [-1, -1], "
                              "right: [-1, -1], value: [[1, 0], [1, 0]]}\n"),
              "node 1 is not reachable"));
    CHECK(has(load_error(HEAD "trees:\n  - {feature: [2, -1, -1], threshold: [1, 0, 0], "
                              "left: [1, -1, -1], right: [2, -1, -1], "
                              "value: [[], [1, 0], [0, 1]]}\n"),
              "expected a whole number from -1 to 1, got \"2\""));
    CHECK(has(load_error(HEAD "trees:\n  - {feature: [-1], threshold: [0], left: [-1], "
                              "right: [-1, -1], value: [[1, 0]]}\n"),
              "right has 2 entries, feature has 1"));
    CHECK(has(load_error(HEAD "trees:\n  - {feature: [-1], threshold: [0], left: [-1], "
                              "right: [-1], value: [[1.5, 0]]}\n"),
              "a probability must lie in [0, 1]"));
    CHECK(has(load_error("nfsensor_model: 1\nkind: gradient_boosting\nfeatures: [ps_1]\n"
                         "classes: [a, b]\nlearning_rate: 0.1\ninit: [0]\nlink: softmax\n"
                         "trees: []\n"),
              "link softmax does not fit 2 classes"));
    CHECK(has(load_error("nfsensor_model: 1\nkind: random_forest\nfeatures: [ps_1, ps_1]\n"),
              "features: \"ps_1\" is listed twice"));
}

static void
test_decision_tree_rounds_features_to_float(void)
{
    struct nfs_error err;
    struct nfs_ml_model *m = nfs_ml_model_load(model_file("tree.yaml", tree_text), &err);
    double proba[2];
    float x[2] = {53, 1500};

    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK_EQ(nfs_ml_model_n_features(m), 2);
    CHECK_STR(nfs_ml_model_class(m, 1), "web");
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 0);
    CHECK(proba[0] == 0.75 && proba[1] == 0.25);
    x[0] = 443;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 1);
    CHECK(proba[1] == 0.8);
    /* 16777217 is 16777216 as a float, so it goes left of 16777216.5, as in scikit-learn */
    x[1] = (float)16777217;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 1);
    x[1] = (float)16777218;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 0);
    CHECK(proba[0] == 1.0);
    nfs_ml_model_destroy(m);
}

static void
test_forest_averages_its_trees(void)
{
    static const char text[] =
        "nfsensor_model: 1\nkind: random_forest\nfeatures: [dst_port]\nclasses: [a, b, c]\n"
        "trees:\n"
        "  - {feature: [0, -1, -1], threshold: [10, 0, 0], left: [1, -1, -1], right: [2, -1, -1],"
        " value: [[], [1, 0, 0], [0, 0.5, 0.5]]}\n"
        "  - {feature: [-1], threshold: [0], left: [-1], right: [-1], value: [[0, 0.25, 0.75]]}\n";
    struct nfs_error err;
    struct nfs_ml_model *m = nfs_ml_model_load(model_file("forest.yaml", text), &err);
    double proba[3];
    float x[1] = {20};

    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 2);
    CHECK(proba[0] == 0 && proba[1] == 0.375 && proba[2] == 0.625);
    x[0] = 5;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 0); /* 0.5 vs 0.375: first max */
    CHECK(proba[0] == 0.5);
    nfs_ml_model_destroy(m);
}

static void
test_boosting_links(void)
{
    static const char multi[] =
        "nfsensor_model: 1\nkind: gradient_boosting\nfeatures: [dst_port]\nclasses: [a, b, c]\n"
        "learning_rate: 0.5\ninit: [0.1, 0.2, 0.3]\nlink: softmax\ntrees:\n"
        "  - {output: 0, feature: [-1], threshold: [0], left: [-1], right: [-1], value: [[2]]}\n"
        "  - {output: 2, feature: [0, -1, -1], threshold: [10, 0, 0], left: [1, -1, -1],"
        " right: [2, -1, -1], value: [[], [-1], [4]]}\n";
    static const char binary[] =
        "nfsensor_model: 1\nkind: gradient_boosting\nfeatures: [dst_port]\nclasses: [no, yes]\n"
        "learning_rate: 0.1\ninit: [-0.5]\nlink: %s\ntrees:\n"
        "  - {feature: [-1], threshold: [0], left: [-1], right: [-1], value: [[3]]}\n";
    struct nfs_error err;
    struct nfs_ml_model *m = nfs_ml_model_load(model_file("gb.yaml", multi), &err);
    double proba[3], raw[3] = {0.1 + 0.5 * 2, 0.2, 0.3 + 0.5 * 4}, sum = 0;
    char text[sizeof(binary) + 16];
    float x[1] = {20};

    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 2);
    for (int k = 0; k < 3; k++)
        sum += exp(raw[k]);
    for (int k = 0; k < 3; k++)
        CHECK(fabs(proba[k] - exp(raw[k]) / sum) < 1e-15);
    nfs_ml_model_destroy(m);

    snprintf(text, sizeof(text), binary, "logistic");
    m = nfs_ml_model_load(model_file("gb2.yaml", text), &err);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK_EQ(nfs_ml_model_predict(m, x, proba), 0);
    CHECK(fabs(proba[1] - 1 / (1 + exp(0.2))) < 1e-15 && fabs(proba[0] + proba[1] - 1) < 1e-15);
    nfs_ml_model_destroy(m);
    snprintf(text, sizeof(text), binary, "exponential");
    m = nfs_ml_model_load(model_file("gb3.yaml", text), &err);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    nfs_ml_model_predict(m, x, proba);
    CHECK(fabs(proba[1] - 1 / (1 + exp(0.4))) < 1e-15);
    nfs_ml_model_destroy(m);
}

/* ml_tree's values block as its field table lays it out. */
struct got {
    char label[64];
    double probability;
    unsigned packets;
    struct nfs_record rec;
};

static struct got got[16];
static int n_got;

static void
collect(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    const struct nfs_plugin_set *set = ctx;
    const struct nfs_field_group *g = &nfs_plugin_set_groups(set)[1];
    const uint8_t *v = groups[1];
    struct got *o = &got[n_got++];

    o->rec = *rec;
    for (size_t i = 0; i < g->n_fields; i++) {
        const struct nfs_field *f = &g->fields[i];

        if (f->type == NFS_T_STRING)
            snprintf(o->label, sizeof(o->label), "%s", (const char *)v + f->offset);
        else if (f->type == NFS_T_DOUBLE)
            memcpy(&o->probability, v + f->offset, sizeof(double));
        else
            o->packets = v[f->offset];
    }
}

/* A set with ml_tree under these options ("name=value" each, NULL-terminated). */
static struct nfs_plugin_set *
ml_set(const char *const *opts, struct nfs_error *err)
{
    const struct nfs_plugin *p = nfs_plugin_find("ml_tree");
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    uint8_t conf[8192] = {0};

    CHECK(p != NULL && p->conf_size <= sizeof(conf));
    CHECK(nfs_plugin_conf_defaults(p, conf, err));
    for (; *opts != NULL; opts++) {
        const char *eq = strchr(*opts, '=');

        for (size_t i = 0; i < p->n_options; i++)
            if (strncmp(p->options[i].name, *opts, (size_t)(eq - *opts)) == 0 &&
                p->options[i].name[eq - *opts] == '\0')
                CHECK(nfs_option_parse(&p->options[i], conf, eq + 1, err));
    }
    CHECK(nfs_plugin_set_add(set, p, conf, err));
    return set;
}

static struct nfs_pipeline *
pipeline_with(struct nfs_plugin_set *set, struct nfs_error *err)
{
    struct nfs_pipeline_options opt;

    nfs_pipeline_options_default(&opt, true);
    opt.plugins = set;
    n_got = 0;
    return nfs_pipeline_create(&opt, collect, set, err);
}

/* Ethernet + IPv4 + UDP, `len` bytes on the wire, 10.0.0.1:1000 <-> 10.0.0.2:dport. */
static void
send_udp(struct nfs_pipeline *p, uint64_t t_ms, uint16_t len, uint16_t dport, bool reply)
{
    uint8_t f[64] = {0};
    uint16_t ip_len = (uint16_t)(len - 14);
    uint16_t sp = reply ? dport : 1000, dp = reply ? 1000 : dport;

    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = (uint8_t)(ip_len >> 8), f[17] = (uint8_t)ip_len;
    f[23] = 17;
    f[26] = 10, f[29] = reply ? 2 : 1;
    f[30] = 10, f[33] = reply ? 1 : 2;
    f[34] = (uint8_t)(sp >> 8), f[35] = (uint8_t)sp;
    f[36] = (uint8_t)(dp >> 8), f[37] = (uint8_t)dp;
    f[38] = (uint8_t)((ip_len - 20) >> 8), f[39] = (uint8_t)(ip_len - 20);
    nfs_pipeline_packet(p, 1, t_ms * 1000, sizeof(f), len, f);
}

/*
 * A model that reads every feature family: a flow to port 53 or below -> "dns" (1.0); else
 * direction_2 == 1 and piat_ms_3 <= 50 -> "chatty" (0.9), direction_2 == 1 -> "small" (0.5);
 * else ps_3 <= 100 -> "small" (0.7), else "big" (0.6). Missing packets are -1: "small" (0.7).
 */
static const char flow_model[] =
    "nfsensor_model: 1\nkind: decision_tree\n"
    "features: [protocol, ip_version, src_port, dst_port, direction_2, ps_3, piat_ms_3]\n"
    "classes: [chatty, small, big, dns]\ntrees:\n"
    "  - feature: [3, -1, 4, 5, 6, -1, -1, -1, -1]\n"
    "    threshold: [53, 0, 0.5, 100, 50, 0, 0, 0, 0]\n"
    "    left: [1, -1, 3, 5, 7, -1, -1, -1, -1]\n"
    "    right: [2, -1, 4, 6, 8, -1, -1, -1, -1]\n"
    "    value: [[], [0, 0, 0, 1], [], [], [], [0.3, 0.7, 0, 0], [0.4, 0, 0.6, 0],"
    " [0.9, 0, 0.1, 0], [0.2, 0.5, 0.3, 0]]\n";

static void
test_plugin_classifies_at_at_packet(void)
{
    const char *path = model_file("flow.yaml", flow_model);
    char model_opt[300];
    const char *opts[] = {model_opt, NULL};
    struct nfs_error err;
    struct nfs_plugin_set *set;
    struct nfs_pipeline *p;

    snprintf(model_opt, sizeof(model_opt), "model=%s", path);
    set = ml_set(opts, &err);
    p = pipeline_with(set, &err);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    send_udp(p, 1000, 60, 9999, false);
    send_udp(p, 1001, 60, 9999, true);
    send_udp(p, 1031, 1400, 9999, false); /* direction_2 1, piat_ms_3 30 -> chatty */
    send_udp(p, 1032, 1400, 9999, false); /* after the prediction: changes nothing */
    send_udp(p, 2000, 60, 80, false);
    send_udp(p, 2100, 90, 80, false);
    send_udp(p, 2200, 90, 80, false); /* direction_2 0, ps_3 90 -> small */
    send_udp(p, 3000, 60, 81, false); /* one packet: at the end, with -1s */
    send_udp(p, 4000, 60, 53, false);
    send_udp(p, 4001, 90, 53, true);
    nfs_pipeline_flush(p);
    CHECK_EQ(n_got, 4);
    CHECK_STR(got[0].label, "chatty");
    CHECK(got[0].probability == 0.9);
    CHECK_EQ(got[0].packets, 3);
    CHECK_EQ(got[0].rec.bidirectional.packets, 4);
    CHECK_EQ(got[0].rec.end_reason, NFS_END_FORCED);
    CHECK_STR(got[1].label, "small");
    CHECK(got[1].probability == 0.7);
    CHECK_STR(got[2].label, "small"); /* direction_2 -1 <= 0.5, ps_3 -1 <= 100 */
    CHECK(got[2].probability == 0.7);
    CHECK_EQ(got[2].packets, 1);
    CHECK_STR(got[3].label, "dns");
    CHECK(got[3].probability == 1.0);
    CHECK_EQ(got[3].packets, 2);
    nfs_pipeline_destroy(p);
    nfs_plugin_set_destroy(set);
}

static void
test_expire_early_ends_the_flow_at_at_packet(void)
{
    const char *path = model_file("flow.yaml", flow_model);
    char model_opt[300];
    const char *opts[] = {model_opt, "expire_early=true", "at_packet=4", NULL};
    struct nfs_error err;
    struct nfs_plugin_set *set;
    struct nfs_pipeline *p;

    snprintf(model_opt, sizeof(model_opt), "model=%s", path);
    set = ml_set(opts, &err);
    p = pipeline_with(set, &err);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (int i = 0; i < 6; i++)
        send_udp(p, 1000 + 200 * (uint64_t)i, 1000, 9999, false); /* ps_3 1000 -> big */
    nfs_pipeline_flush(p);
    CHECK_EQ(n_got, 2);
    CHECK_EQ(got[0].rec.bidirectional.packets, 4);
    CHECK_EQ(got[0].rec.end_reason, NFS_END_PLUGIN);
    CHECK_EQ(got[0].rec.expiration_id, -1);
    CHECK_STR(got[0].label, "big");
    CHECK(got[0].probability == 0.6);
    CHECK_EQ(got[1].rec.bidirectional.packets, 2); /* the rest: a new flow, classified at end */
    CHECK_EQ(got[1].packets, 2);
    CHECK_EQ(got[1].rec.end_reason, NFS_END_FORCED);
    nfs_pipeline_destroy(p);
    nfs_plugin_set_destroy(set);
}

static void
test_setup_refuses_what_it_cannot_compute(void)
{
    const char *path = model_file("flow.yaml", flow_model);
    char model_opt[300];
    const char *at2[] = {model_opt, "at_packet=2", NULL}, *none[] = {NULL};
    struct nfs_error err;
    struct nfs_plugin_set *set;

    snprintf(model_opt, sizeof(model_opt), "model=%s", path);
    set = ml_set(at2, &err);
    CHECK(pipeline_with(set, &err) == NULL);
    CHECK(has(err.msg, "plugin ml_tree: "));
    CHECK(has(err.msg, "flow.yaml: feature ps_3 needs 3 packets, but at_packet is 2"));
    nfs_plugin_set_destroy(set);

    snprintf(model_opt, sizeof(model_opt), "model=%s",
             model_file("odd.yaml", "nfsensor_model: 1\nkind: decision_tree\n"
                                    "features: [ttl]\nclasses: [a, b]\ntrees:\n"
                                    "  - {feature: [-1], threshold: [0], left: [-1], right: [-1],"
                                    " value: [[1, 0]]}\n"));
    set = ml_set(at2, &err);
    CHECK(pipeline_with(set, &err) == NULL);
    CHECK(has(err.msg, "odd.yaml: unknown feature \"ttl\""));
    nfs_plugin_set_destroy(set);

    set = ml_set(none, &err);
    CHECK(pipeline_with(set, &err) == NULL);
    CHECK(has(err.msg, "option model is required"));
    nfs_plugin_set_destroy(set);
}

int
main(void)
{
    char cmd[64];
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_errors_name_the_file_and_the_fault);
    RUN(test_decision_tree_rounds_features_to_float);
    RUN(test_forest_averages_its_trees);
    RUN(test_boosting_links);
    RUN(test_plugin_classifies_at_at_packet);
    RUN(test_expire_early_ends_the_flow_at_at_packet);
    RUN(test_setup_refuses_what_it_cannot_compute);
    rc = check_exit();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
