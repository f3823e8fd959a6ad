/*
 * ml_model.c: see ml_model.h.
 *
 * Loading reads the whole file as one libyaml document, then checks it into flat arrays: every
 * tree's nodes in one array (a tree is its root's index), every leaf's values in another. The
 * checks are what make inference safe without bounds checks: a child always comes after its
 * parent and inside its own tree, every node but the root has one parent, a leaf has exactly
 * the width the kind needs, a feature index is below n_features. Walks therefore end, and
 * prediction touches only the model and the caller's arrays.
 */
#include "ml_model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

enum kind { K_DECISION_TREE, K_RANDOM_FOREST, K_GRADIENT_BOOSTING };
enum link { L_NONE, L_SOFTMAX, L_LOGISTIC, L_EXPONENTIAL };

static const char *const kind_names[] = {"decision_tree", "random_forest", "gradient_boosting"};
static const char *const link_names[] = {"none", "softmax", "logistic", "exponential"};

struct node {
    double threshold;
    int32_t feature; /* -1: leaf */
    uint32_t left, right; /* absolute node indexes */
    uint32_t value;       /* leaf: index of its first value */
};

struct tree {
    uint32_t root;
    uint32_t output; /* gradient boosting: the raw score it adds to */
};

struct nfs_ml_model {
    enum kind kind;
    enum link link;
    size_t n_features, n_classes, n_outputs, n_trees, n_nodes, n_values;
    size_t leaf_width; /* values per leaf: n_classes, or 1 for gradient boosting */
    char (*features)[NFS_ML_MAX_NAME];
    char (*classes)[NFS_ML_MAX_NAME];
    double learning_rate;
    double *init; /* n_outputs raw scores */
    struct tree *trees;
    struct node *nodes;
    double *values;
};

struct loader {
    const char *path;
    yaml_document_t doc;
    struct nfs_error *err;
    struct nfs_ml_model *m;
};

/* Sets the error at node n's position ("path:line:column: ..."); returns false. */
static bool NFS_PRINTF(3, 4)
fail(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* A quoted YAML scalar can hold any control character: none reaches a terminal or log. */
    for (char *c = msg; *c; c++)
        if ((*c > 0 && *c < 0x20 && *c != '\t') || *c == 0x7f)
            *c = '?';
    if (n != NULL)
        nfs_error_set(ld->err, "%s:%zu:%zu: %s", ld->path, n->start_mark.line + 1,
                      n->start_mark.column + 1, msg);
    else
        nfs_error_set(ld->err, "%s: %s", ld->path, msg);
    return false;
}

static yaml_node_t *
node(struct loader *ld, int id)
{
    return yaml_document_get_node(&ld->doc, id);
}

static const char *
text(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in mapping map, or NULL. */
static yaml_node_t *
get(struct loader *ld, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = text(node(ld, p->key));

        if (k != NULL && strcmp(k, key) == 0)
            return node(ld, p->value);
    }
    return NULL;
}

/* Fails on a key of map that is not in known (NULL-terminated) or that appears twice. */
static bool
only_keys(struct loader *ld, yaml_node_t *map, const char *const *known)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = node(ld, p->key);
        const char *k = text(kn);
        size_t i;

        if (k == NULL)
            return fail(ld, kn, "keys must be plain words");
        for (i = 0; known[i] != NULL && strcmp(known[i], k) != 0; i++)
            ;
        if (known[i] == NULL)
            return fail(ld, kn, "unknown key \"%s\"", k);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
            if (strcmp(text(node(ld, q->key)) ? text(node(ld, q->key)) : "", k) == 0)
                return fail(ld, kn, "key \"%s\" given twice", k);
    }
    return true;
}

static yaml_node_t *
need(struct loader *ld, yaml_node_t *map, const char *key)
{
    yaml_node_t *n = get(ld, map, key);

    if (n == NULL)
        fail(ld, map, "missing \"%s\"", key);
    return n;
}

static bool
to_double(struct loader *ld, yaml_node_t *n, double *out)
{
    const char *s = text(n);
    char *end;

    if (s == NULL)
        return fail(ld, n, "expected a number");
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(*out))
        return fail(ld, n, "expected a finite number, got \"%s\"", s);
    return true;
}

static bool
to_int(struct loader *ld, yaml_node_t *n, long long min, long long max, long long *out)
{
    const char *s = text(n);
    char *end;

    if (s == NULL)
        return fail(ld, n, "expected a whole number");
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || *out < min || *out > max)
        return fail(ld, n, "expected a whole number from %lld to %lld, got \"%s\"", min, max, s);
    return true;
}

/* n as a sequence: its items and count; fails when n is not one. */
static yaml_node_item_t *
items(struct loader *ld, yaml_node_t *n, const char *what, size_t *count)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        fail(ld, n, "%s: expected a list", what);
        return NULL;
    }
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return n->data.sequence.items.start;
}

/* A list of distinct names, as features and classes are. */
static bool
names(struct loader *ld, yaml_node_t *n, const char *what, char (**out)[NFS_ML_MAX_NAME],
      size_t *count)
{
    yaml_node_item_t *it = items(ld, n, what, count);

    if (it == NULL)
        return false;
    if (*count == 0)
        return fail(ld, n, "%s: the list is empty", what);
    *out = calloc(*count, NFS_ML_MAX_NAME);
    if (*out == NULL)
        return fail(ld, n, "out of memory");
    for (size_t i = 0; i < *count; i++) {
        yaml_node_t *e = node(ld, it[i]);
        const char *s = text(e);

        if (s == NULL || s[0] == '\0' || strlen(s) >= NFS_ML_MAX_NAME)
            return fail(ld, e, "%s: expected a name of 1 to %d bytes", what, NFS_ML_MAX_NAME - 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp((*out)[j], s) == 0)
                return fail(ld, e, "%s: \"%s\" is listed twice", what, s);
        strcpy((*out)[i], s);
    }
    return true;
}

static bool
word(struct loader *ld, yaml_node_t *n, const char *const *choices, size_t n_choices,
     const char *what, unsigned *out)
{
    const char *s = text(n);

    for (size_t i = 0; s != NULL && i < n_choices; i++) {
        if (strcmp(s, choices[i]) == 0) {
            *out = (unsigned)i;
            return true;
        }
    }
    return fail(ld, n, "%s: unknown value \"%s\"", what, s ? s : "(not a word)");
}

static bool
grow(struct loader *ld, yaml_node_t *at, void **array, size_t elem, size_t count)
{
    void *p = realloc(*array, elem * (count ? count : 1));

    if (p == NULL)
        return fail(ld, at, "out of memory");
    *array = p;
    return true;
}

/* The five parallel lists of one tree, checked to be the same length. */
struct tree_lists {
    yaml_node_item_t *feature, *threshold, *left, *right, *value;
    size_t n;
};

static bool
tree_lists(struct loader *ld, yaml_node_t *t, struct tree_lists *tl)
{
    static const char *const keys[] = {"feature", "threshold", "left", "right", "value", NULL};
    yaml_node_item_t **dst[] = {&tl->feature, &tl->threshold, &tl->left, &tl->right, &tl->value};

    for (size_t k = 0; k < NFS_NITEMS(dst); k++) {
        yaml_node_t *l = need(ld, t, keys[k]);
        size_t n;

        if (l == NULL || (*dst[k] = items(ld, l, keys[k], &n)) == NULL)
            return false;
        if (k == 0 && n == 0)
            return fail(ld, l, "a tree needs at least one node");
        if (k > 0 && n != tl->n)
            return fail(ld, l, "%s has %zu entries, feature has %zu", keys[k], n, tl->n);
        tl->n = n;
    }
    return true;
}

/* Node i of a tree whose nodes start at base: fills m->nodes[base + i] and its leaf values. */
static bool
tree_node(struct loader *ld, const struct tree_lists *tl, size_t base, size_t i, uint32_t *parents)
{
    struct nfs_ml_model *m = ld->m;
    struct node *nd = &m->nodes[base + i];
    yaml_node_t *vn = node(ld, tl->value[i]);
    long long f, l, r;
    size_t width;
    yaml_node_item_t *v;

    if (!to_int(ld, node(ld, tl->feature[i]), -1, (long long)m->n_features - 1, &f) ||
        !to_double(ld, node(ld, tl->threshold[i]), &nd->threshold) ||
        !to_int(ld, node(ld, tl->left[i]), -1, (long long)tl->n - 1, &l) ||
        !to_int(ld, node(ld, tl->right[i]), -1, (long long)tl->n - 1, &r) ||
        (v = items(ld, vn, "value", &width)) == NULL)
        return false;
    nd->feature = (int32_t)f;
    if (f < 0) {
        if (l != -1 || r != -1)
            return fail(ld, node(ld, tl->left[i]), "node %zu is a leaf (feature -1) with children",
                        i);
        if (width != m->leaf_width)
            return fail(ld, vn, "leaf %zu has %zu values, expected %zu", i, width, m->leaf_width);
        nd->left = nd->right = 0;
        nd->value = (uint32_t)m->n_values;
        for (size_t j = 0; j < width; j++) {
            double *d = &m->values[m->n_values++];

            if (!to_double(ld, node(ld, v[j]), d))
                return false;
            if (m->kind != K_GRADIENT_BOOSTING && (*d < 0 || *d > 1))
                return fail(ld, node(ld, v[j]), "leaf %zu: a probability must lie in [0, 1]", i);
        }
        return true;
    }
    if (l <= (long long)i || r <= (long long)i || l == r)
        return fail(ld, node(ld, tl->left[i]),
                    "node %zu: children must be two different nodes after it, got %lld and %lld",
                    i, l, r);
    if (width != 0)
        return fail(ld, vn, "node %zu is not a leaf: its value must be []", i);
    if (++parents[l] > 1 || ++parents[r] > 1)
        return fail(ld, node(ld, tl->left[i]), "node %zu: node %lld already has a parent", i,
                    parents[l] > 1 ? l : r);
    nd->left = (uint32_t)(base + (size_t)l);
    nd->right = (uint32_t)(base + (size_t)r);
    return true;
}

static bool
tree(struct loader *ld, yaml_node_t *t, size_t index)
{
    static const char *const keys[] = {"output", "feature", "threshold", "left", "right", "value",
                                       NULL};
    struct nfs_ml_model *m = ld->m;
    struct tree_lists tl = {0};
    yaml_node_t *out;
    uint32_t *parents;
    long long o = 0;
    bool ok = true;
    size_t base = m->n_nodes;

    if (t->type != YAML_MAPPING_NODE)
        return fail(ld, t, "trees[%zu]: expected a mapping", index);
    if (!only_keys(ld, t, keys) || !tree_lists(ld, t, &tl))
        return false;
    out = get(ld, t, "output");
    if (out != NULL && m->kind != K_GRADIENT_BOOSTING)
        return fail(ld, out, "output: only gradient_boosting trees add to an output");
    if (out != NULL && !to_int(ld, out, 0, (long long)m->n_outputs - 1, &o))
        return false;
    if (tl.n > UINT32_MAX - m->n_nodes)
        return fail(ld, t, "too many nodes");
    if (!grow(ld, t, (void **)&m->nodes, sizeof(*m->nodes), m->n_nodes + tl.n) ||
        !grow(ld, t, (void **)&m->values, sizeof(*m->values),
              m->n_values + tl.n * m->leaf_width))
        return false;
    parents = calloc(tl.n, sizeof(*parents));
    if (parents == NULL)
        return fail(ld, t, "out of memory");
    for (size_t i = 0; ok && i < tl.n; i++)
        ok = tree_node(ld, &tl, base, i, parents);
    for (size_t i = 1; ok && i < tl.n; i++)
        if (parents[i] == 0)
            ok = fail(ld, t, "trees[%zu]: node %zu is not reachable from the root", index, i);
    free(parents);
    m->trees[index] = (struct tree){(uint32_t)base, (uint32_t)o};
    m->n_nodes += tl.n;
    return ok;
}

/* learning_rate, init and link: what gradient boosting adds to the trees. */
static bool
boosting(struct loader *ld, yaml_node_t *root)
{
    struct nfs_ml_model *m = ld->m;
    yaml_node_t *lr = need(ld, root, "learning_rate"), *init, *link = need(ld, root, "link");
    yaml_node_item_t *it;
    unsigned l = 0; /* set by word(); gcc -O3 cannot see it */
    size_t n;

    if (lr == NULL || link == NULL || !to_double(ld, lr, &m->learning_rate) ||
        !word(ld, link, link_names, NFS_NITEMS(link_names), "link", &l))
        return false;
    m->link = (enum link)l;
    if (m->link == L_NONE || (m->link == L_SOFTMAX) != (m->n_classes > 2))
        return fail(ld, link, "link %s does not fit %zu classes (softmax: 3 or more; logistic, "
                    "exponential: 2)", link_names[l], m->n_classes);
    m->n_outputs = m->link == L_SOFTMAX ? m->n_classes : 1;
    if ((init = need(ld, root, "init")) == NULL || (it = items(ld, init, "init", &n)) == NULL)
        return false;
    if (n != m->n_outputs)
        return fail(ld, init, "init has %zu raw scores, expected %zu", n, m->n_outputs);
    m->init = calloc(n, sizeof(*m->init));
    if (m->init == NULL)
        return fail(ld, init, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!to_double(ld, node(ld, it[i]), &m->init[i]))
            return false;
    return true;
}

static bool
model(struct loader *ld, yaml_node_t *root)
{
    static const char *const keys[] = {"nfsensor_model", "kind", "features", "classes", "trees",
                                       "learning_rate", "init", "link", "meta", NULL};
    struct nfs_ml_model *m = ld->m;
    yaml_node_t *ver, *kind, *feats, *classes, *trees;
    yaml_node_item_t *it;
    long long v;
    unsigned k = 0; /* set by word(); gcc -O3 cannot see it */

    if (root->type != YAML_MAPPING_NODE)
        return fail(ld, root, "expected a mapping (nfsensor_model: 1, kind: ..., trees: ...)");
    if (!only_keys(ld, root, keys) || (ver = need(ld, root, "nfsensor_model")) == NULL ||
        !to_int(ld, ver, 1, 1, &v) || (kind = need(ld, root, "kind")) == NULL ||
        !word(ld, kind, kind_names, NFS_NITEMS(kind_names), "kind", &k) ||
        (feats = need(ld, root, "features")) == NULL ||
        !names(ld, feats, "features", &m->features, &m->n_features) ||
        (classes = need(ld, root, "classes")) == NULL ||
        !names(ld, classes, "classes", &m->classes, &m->n_classes))
        return false;
    m->kind = (enum kind)k;
    if (m->n_classes < 2)
        return fail(ld, classes, "a classifier needs at least 2 classes");
    if (m->kind == K_GRADIENT_BOOSTING) {
        if (!boosting(ld, root))
            return false;
    } else {
        static const char *const gb_only[] = {"learning_rate", "init", "link"};

        for (size_t i = 0; i < NFS_NITEMS(gb_only); i++)
            if (get(ld, root, gb_only[i]) != NULL)
                return fail(ld, get(ld, root, gb_only[i]), "%s: only for gradient_boosting",
                            gb_only[i]);
        m->n_outputs = m->n_classes;
    }
    m->leaf_width = m->kind == K_GRADIENT_BOOSTING ? 1 : m->n_classes;
    if ((trees = need(ld, root, "trees")) == NULL ||
        (it = items(ld, trees, "trees", &m->n_trees)) == NULL)
        return false;
    if (m->n_trees == 0 || (m->kind == K_DECISION_TREE && m->n_trees != 1))
        return fail(ld, trees, "%s needs %s, got %zu trees", kind_names[k],
                    m->kind == K_DECISION_TREE ? "exactly one tree" : "at least one tree",
                    m->n_trees);
    m->trees = calloc(m->n_trees, sizeof(*m->trees));
    if (m->trees == NULL)
        return fail(ld, trees, "out of memory");
    for (size_t i = 0; i < m->n_trees; i++)
        if (!tree(ld, node(ld, it[i]), i))
            return false;
    return true;
}

/* Parses the file into ld->doc; fails with libyaml's own words and position. */
static bool
parse(struct loader *ld, FILE *fp)
{
    yaml_parser_t parser;
    bool ok;

    if (!yaml_parser_initialize(&parser))
        return fail(ld, NULL, "out of memory");
    yaml_parser_set_input_file(&parser, fp);
    ok = yaml_parser_load(&parser, &ld->doc);
    if (!ok) {
        nfs_error_set(ld->err, "%s:%zu:%zu: not valid YAML: %s", ld->path,
                      parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                      parser.problem ? parser.problem : "parse error");
    } else if (yaml_document_get_root_node(&ld->doc) == NULL) {
        yaml_document_delete(&ld->doc);
        ok = fail(ld, NULL, "empty file: expected a model");
    }
    yaml_parser_delete(&parser);
    return ok;
}

struct nfs_ml_model *
nfs_ml_model_load(const char *path, struct nfs_error *err)
{
    struct loader ld = {.path = path, .err = err};
    FILE *fp = fopen(path, "r");
    bool ok;

    if (fp == NULL) {
        nfs_error_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    ok = parse(&ld, fp);
    fclose(fp);
    if (!ok)
        return NULL;
    ld.m = calloc(1, sizeof(*ld.m));
    ok = ld.m != NULL ? model(&ld, yaml_document_get_root_node(&ld.doc))
                      : fail(&ld, NULL, "out of memory");
    yaml_document_delete(&ld.doc);
    if (!ok) {
        nfs_ml_model_destroy(ld.m);
        return NULL;
    }
    return ld.m;
}

void
nfs_ml_model_destroy(struct nfs_ml_model *m)
{
    if (m == NULL)
        return;
    free(m->features);
    free(m->classes);
    free(m->init);
    free(m->trees);
    free(m->nodes);
    free(m->values);
    free(m);
}

size_t
nfs_ml_model_n_features(const struct nfs_ml_model *m)
{
    return m->n_features;
}

const char *
nfs_ml_model_feature(const struct nfs_ml_model *m, size_t i)
{
    return m->features[i];
}

size_t
nfs_ml_model_n_classes(const struct nfs_ml_model *m)
{
    return m->n_classes;
}

const char *
nfs_ml_model_class(const struct nfs_ml_model *m, size_t i)
{
    return m->classes[i];
}

size_t
nfs_ml_model_n_trees(const struct nfs_ml_model *m)
{
    return m->n_trees;
}

const char *
nfs_ml_model_kind(const struct nfs_ml_model *m)
{
    return kind_names[m->kind];
}

/* The first value of the leaf x reaches from root: scikit-learn's test, x as float. */
static const double *
leaf(const struct nfs_ml_model *m, uint32_t root, const float *x)
{
    const struct node *nd = &m->nodes[root];

    while (nd->feature >= 0)
        nd = &m->nodes[(double)x[nd->feature] <= nd->threshold ? nd->left : nd->right];
    return &m->values[nd->value];
}

static double
expit(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

/*
 * Gradient boosting: raw scores through the link into proba, as predict_proba does. Softmax
 * keeps the raw scores in proba itself: each is read for the max and the sum, then replaced.
 */
static void
boosted(const struct nfs_ml_model *m, const float *x, double *proba)
{
    double binary, *r = m->link == L_SOFTMAX ? proba : &binary;
    double max, sum = 0;

    memcpy(r, m->init, m->n_outputs * sizeof(*r));
    for (size_t t = 0; t < m->n_trees; t++)
        r[m->trees[t].output] += m->learning_rate * *leaf(m, m->trees[t].root, x);
    if (m->link != L_SOFTMAX) {
        proba[1] = expit(m->link == L_EXPONENTIAL ? 2.0 * binary : binary);
        proba[0] = 1.0 - proba[1];
        return;
    }
    max = r[0];
    for (size_t k = 1; k < m->n_outputs; k++)
        max = r[k] > max ? r[k] : max;
    for (size_t k = 0; k < m->n_outputs; k++)
        sum += exp(r[k] - max);
    sum = log(sum) + max; /* scipy's logsumexp */
    for (size_t k = 0; k < m->n_outputs; k++)
        proba[k] = exp(r[k] - sum);
}

size_t
nfs_ml_model_predict(const struct nfs_ml_model *m, const float *x, double *proba)
{
    size_t best = 0;

    if (m->kind == K_GRADIENT_BOOSTING) {
        boosted(m, x, proba);
    } else {
        memset(proba, 0, m->n_classes * sizeof(*proba));
        for (size_t t = 0; t < m->n_trees; t++) {
            const double *v = leaf(m, m->trees[t].root, x);

            for (size_t k = 0; k < m->n_classes; k++)
                proba[k] += v[k];
        }
        if (m->n_trees > 1)
            for (size_t k = 0; k < m->n_classes; k++)
                proba[k] /= (double)m->n_trees;
    }
    for (size_t k = 1; k < m->n_classes; k++)
        if (proba[k] > proba[best])
            best = k;
    return best;
}
