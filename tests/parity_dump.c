/*
 * parity_dump.c - reference parity with PyTorch: write a tiny model's
 * weights, a batch, the CPU backend's loss and every gradient into a temp
 * folder, and have tests/parity_torch.py rebuild the same model in torch
 * (float64 autograd) and compare (tolerances in the script: loss 1e-5
 * relative, gradients 2e-3 of each tensor's largest entry).  One case per
 * LM head kind (tied, untied).  Exits 77 (skipped) when no python3 here
 * can import torch (Debian: python3-torch).
 */
#include "proto/common.h"

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "trainer/backend.h"
#include "trainer/model.h"

static const char *python;

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;
    size_t w;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* The first of /usr/bin/python3 and python3 that imports torch, or NULL. */
static const char *find_python(void)
{
    static const char *const cand[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "%s -c 'import torch' >/dev/null 2>&1", cand[i]);
        if (system(cmd) == 0)
            return cand[i];
    }
    return NULL;
}

static void parity(bool tied)
{
    const backend_ops_t *ops = backend_find("cpu");
    const char *root = getenv("CARBS_SOURCE_ROOT");
    trainer_config_t cfg;
    model_layout_t lay;
    backend_opts_t bo = {.batch = 3, .threads = 2};
    char dir[] = "/tmp/carbs-parity-XXXXXX", buf[1024];
    size_t B = 3, T = 72; /* longer than one attention block */
    float *p, *g, loss;
    int32_t tok[3 * 72], tgt[3 * 72];
    void *st = NULL;
    FILE *f;
    uint64_t z = 0x9e3779b97f4a7c15ULL;

    trainer_config_defaults(&cfg);
    cfg.d_model = 48;
    cfg.n_layers = 2;
    cfg.head_dim = 8;    /* 6 heads */
    cfg.kv_ratio = 0.34; /* 2 kv heads */
    cfg.seq_len = (int64_t)T;
    cfg.vocab_size = 97;
    cfg.tie_embeddings = tied;
    cfg.rope_base = 500;
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    CHECK_EQ(lay.shape.n_kv_heads, 2);
    CHECK(mkdtemp(dir) != NULL);
    p = xmalloc(lay.n_floats * sizeof(float));
    g = xmalloc(lay.n_floats * sizeof(float));
    model_init(&lay, 0.2, 5, p);
    for (size_t i = lay.off_norms; i < lay.n_floats; i++) /* gains away from 1 */
        p[i] = 1.0f + 0.25f * sinf((float)i * 0.7f);
    for (size_t i = 0; i < B * T; i++) {
        z = z * 6364136223846793005ULL + 1442695040888963407ULL;
        tok[i] = (int32_t)((z >> 33) % 97);
        tgt[i] = (int32_t)((z >> 17) % 97);
    }
    CHECK_EQ(ops->open(&st, &lay, &cfg, &bo, NULL), 0);
    ops->set_params(st, p);
    ops->load_batch(st, tok, tgt);
    ops->forward_backward(st, &loss);
    ops->get_grads(st, g);
    ops->close(st);

    CHECK_EQ(write_file(dir, "params.bin", p, lay.n_floats * sizeof(float)), 0);
    CHECK_EQ(write_file(dir, "grads.bin", g, lay.n_floats * sizeof(float)), 0);
    CHECK_EQ(write_file(dir, "tokens.bin", tok, sizeof(tok)), 0);
    CHECK_EQ(write_file(dir, "targets.bin", tgt, sizeof(tgt)), 0);
    snprintf(buf, sizeof(buf), "%.9g\n", (double)loss);
    CHECK_EQ(write_file(dir, "loss.txt", buf, strlen(buf)), 0);
    snprintf(buf, sizeof(buf),
             "vocab=%zu\nd_model=%zu\nn_layers=%zu\nn_heads=%zu\nn_kv_heads=%zu\nhead_dim=%zu\n"
             "ffn=%zu\nseq_len=%zu\nbatch=%zu\nnorm_eps=%.17g\nrope_base=%.17g\n",
             lay.shape.vocab, lay.shape.d, lay.shape.n_layers, lay.shape.n_heads,
             lay.shape.n_kv_heads, lay.shape.head_dim, lay.shape.ffn, T, B, MODEL_NORM_EPS,
             cfg.rope_base);
    CHECK_EQ(write_file(dir, "meta.txt", buf, strlen(buf)), 0);
    snprintf(buf, sizeof(buf), "%s/tensors.txt", dir);
    f = fopen(buf, "w");
    CHECK(f != NULL);
    for (int t = 0; f && t < MODEL_TENSOR_COUNT; t++) {
        size_t rows, cols;
        bool per_layer = t != MODEL_WTE && t != MODEL_LM_HEAD && t != MODEL_LNF;
        if (!model_has_tensor(&lay, (model_tensor_t)t))
            continue;
        model_tensor_dims(&lay, (model_tensor_t)t, &rows, &cols);
        for (size_t l = 0; l < (per_layer ? lay.shape.n_layers : 1); l++)
            fprintf(f, "%s %zu %zu %zu %zu\n", model_tensor_name((model_tensor_t)t), l,
                    model_offset(&lay, (model_tensor_t)t, l), rows, cols);
    }
    if (f)
        fclose(f);

    snprintf(buf, sizeof(buf), "%s %s/tests/parity_torch.py %s", python, root ? root : ".", dir);
    CHECK_EQ(system(buf), 0);
    snprintf(buf, sizeof(buf), "rm -rf %s", dir);
    CHECK_EQ(system(buf), 0);
    free(p);
    free(g);
}

static void test_parity_tied(void)
{
    parity(true);
}

static void test_parity_untied(void)
{
    parity(false);
}

int main(void)
{
    python = find_python();
    if (!python) {
        printf("skipped: no python3 with torch (apt-get install python3-torch)\n");
        return 77;
    }
    RUN(test_parity_tied);
    RUN(test_parity_untied);
    return check_summary();
}
