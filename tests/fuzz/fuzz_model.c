/*
 * fuzz_model.c: the model-file loader of the ml_tree plugin (plugins/ml_model.c).
 *
 * Input: the model file. A model that loads is asked to predict twice, with every feature 0
 * and with every feature taken from the input's bytes (NaN and infinities included); the
 * class predicted must exist, and so must every feature and class name. A file that does not
 * load must be named in the error, which holds no control character but tab (it is logged).
 */
#include "fuzz.h"
#include "ml_model.h"

static void
predict(const struct nfs_ml_model *m, const uint8_t *data, size_t size)
{
    size_t nf = nfs_ml_model_n_features(m), nc = nfs_ml_model_n_classes(m), cls;
    float *x = calloc(nf + 1, sizeof(*x));
    double *proba = calloc(nc + 1, sizeof(*proba));

    if (x == NULL || proba == NULL)
        goto out;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; pass == 1 && i < nf && size >= 4; i++)
            memcpy(&x[i], data + (i * 4) % (size - 3), 4);
        cls = nfs_ml_model_predict(m, x, proba);
        if (cls >= nc)
            abort();
    }
    for (size_t i = 0; i < nf; i++)
        if (nfs_ml_model_feature(m, i) == NULL)
            abort();
    for (size_t k = 0; k < nc; k++)
        if (nfs_ml_model_class(m, k) == NULL)
            abort();
out:
    free(x);
    free(proba);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_file f;
    struct nfs_error err;
    struct nfs_ml_model *m;

    if (!fuzz_file_open(&f, data, size))
        return 0;
    m = nfs_ml_model_load(f.path, &err);
    if (m == NULL && strstr(err.msg, f.path) == NULL) {
        fprintf(stderr, "fuzz_model: error does not name the file: %s\n", err.msg);
        abort();
    }
    for (const unsigned char *c = (const unsigned char *)err.msg; m == NULL && *c; c++)
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
            fprintf(stderr, "fuzz_model: control character in \"%s\"\n", err.msg);
            abort();
        }
    fuzz_file_close(&f);
    if (m != NULL)
        predict(m, data, size);
    nfs_ml_model_destroy(m);
    return 0;
}
