/*
 * ml_model.h: a tree-ensemble classifier read from nfsensor's YAML model format, and its
 * inference (docs/plugins.md, "The model file"; tools/export_model.py writes the format).
 *
 * Three kinds, each predicting exactly as scikit-learn's predict_proba does:
 *   decision_tree      one tree; a leaf holds class probabilities
 *   random_forest      the mean of the trees' leaf probabilities, summed in tree order
 *   gradient_boosting  raw[k] = init[k] + sum of learning_rate * leaf value over the trees of
 *                      output k, then a link: softmax (multiclass), logistic or exponential
 *                      (binary: p1 = expit(raw), expit(2 raw); p0 = 1 - p1)
 * A node compares a feature, rounded to float as scikit-learn rounds its input, with a double
 * threshold: value <= threshold goes left. The model knows its features only by name; the
 * plugin that computes them maps names to values.
 * A loaded model is read-only: several pipelines may predict with one model at once.
 */
#ifndef NFS_ML_MODEL_H
#define NFS_ML_MODEL_H

#include "common.h"

#define NFS_ML_MAX_NAME 64 /* bytes of a class or feature name, NUL included */

struct nfs_ml_model;

/*
 * Loads and checks the model file. NULL when the file cannot be read, is not YAML, or its
 * trees are inconsistent (children out of range or pointing back, leaves of the wrong width,
 * unknown keys, a link that does not fit the classes); err reads "path:line:column: what".
 */
struct nfs_ml_model *nfs_ml_model_load(const char *path, struct nfs_error *err);

void nfs_ml_model_destroy(struct nfs_ml_model *m);

size_t nfs_ml_model_n_features(const struct nfs_ml_model *m);
const char *nfs_ml_model_feature(const struct nfs_ml_model *m, size_t i);
size_t nfs_ml_model_n_classes(const struct nfs_ml_model *m);
const char *nfs_ml_model_class(const struct nfs_ml_model *m, size_t i);
size_t nfs_ml_model_n_trees(const struct nfs_ml_model *m);
const char *nfs_ml_model_kind(const struct nfs_ml_model *m);

/*
 * Predicts the class of feature vector x (n_features values). proba (n_classes doubles,
 * the caller's) receives every class's probability. Returns the class of highest probability,
 * the first one on a tie, as numpy's argmax. Allocates nothing.
 */
size_t nfs_ml_model_predict(const struct nfs_ml_model *m, const float *x, double *proba);

#endif
