/*
 * backend.h - what every compute backend of the embedded trainer provides,
 * behind one table of function pointers selected by name.  No CUDA types
 * here.
 *
 * A backend owns the model's parameters, gradients, AdamW moments and
 * activations for one batch shape, allocated once in open(); nothing it
 * does afterwards allocates.  The trainer (trainer.c) drives it through
 * this table only and never contains an #ifdef: `cpu` (OpenBLAS sgemm +
 * OpenMP, trainer/cpu.c) is always built; a `cuda` backend (cuBLAS, bf16
 * mixed precision, NCCL all-reduce inside step()) registers itself in
 * backend.c's table when the build finds nvcc, with the same contract.
 *
 * Every op returns 0 or a negative CARBS_E* code.  A state is used by one
 * thread at a time; the backend makes its own threads inside a call.
 */
#ifndef CARBS_TRAINER_BACKEND_H
#define CARBS_TRAINER_BACKEND_H

#include "trainer/model.h"

/* Most devices one trial spreads over (a node's GPUs). */
#define BACKEND_DEVICES_MAX 16

/* How a backend is opened (not hyperparameters: they do not change what
 * is computed, only where and how fast). */
typedef struct backend_opts {
    size_t batch; /* sequences per training step (B), split evenly across devices; 0 means 1 */
    int threads;  /* CPU threads; 0 means 1 */
    int n_devices; /* device ordinals in devices[] to all-reduce across; 0 means {0} */
    int devices[BACKEND_DEVICES_MAX];
} backend_opts_t;

/* What open() will allocate, apart: host memory (checked against
 * MemAvailable) and device memory (checked against each device's free
 * memory; per device, 0 for the CPU backend). */
typedef struct backend_mem {
    size_t host, device;
} backend_mem_t;

/* One optimizer step's hyperparameters (the schedule's lr of this step). */
typedef struct backend_step {
    float lr, beta1, beta2, eps, weight_decay;
    float grad_clip; /* clip the global gradient norm to this; 0 = no clipping */
    int64_t t;       /* 1-based step number, for AdamW's bias correction */
} backend_step_t;

typedef struct backend_ops {
    const char *name; /* "cpu", "cuda" */

    /* Bytes open() will allocate for lay and opt into *mem: the trainer
     * checks them against free memory first.  Pure arithmetic. */
    void (*memory)(const model_layout_t *lay, const backend_opts_t *opt, backend_mem_t *mem);

    /* Whether the devices of opt can be used, before anything is
     * allocated: 0 with *free_bytes the least free device memory among
     * them (SIZE_MAX for a host-only backend), or CARBS_ENOTFOUND with err
     * saying in one line why not (no usable GPU, an ordinal out of range). */
    int (*probe)(const backend_opts_t *opt, size_t *free_bytes, carbs_err_t *err);

    /* Allocate everything for lay (copied) and opt; cfg gives rope_base.
     * Returns 0 and *state, CARBS_ENOMEM when the allocation fails (a
     * clean trial failure), or CARBS_ECUDA; err says which. */
    int (*open)(void **state, const model_layout_t *lay, const trainer_config_t *cfg,
                const backend_opts_t *opt, carbs_err_t *err);
    /* Free the state; NULL is a no-op. */
    void (*close)(void *state);

    /* Parameters: model_init() with init_std and seed, or copied in/out as
     * one host buffer of lay->n_floats floats; AdamW moments are zeroed by
     * init_params and set_params.  get_grads copies the gradient of the
     * last forward_backward. */
    int (*init_params)(void *state, double init_std, uint64_t seed);
    int (*set_params)(void *state, const float *params);
    int (*get_params)(void *state, float *params);
    int (*get_grads)(void *state, float *grads);

    /* Copy a batch of batch x seq_len input ids and their next-token
     * targets (row-major, host memory, borrowed). */
    int (*load_batch)(void *state, const int32_t *tokens, const int32_t *targets);
    /* Forward and backward over the loaded batch: *loss_out is the mean
     * cross-entropy; gradients are overwritten. */
    int (*forward_backward)(void *state, float *loss_out);
    /* Clip and apply AdamW (after an all-reduce on multi-device
     * backends).  *grad_norm_out gets the norm before clipping.  Returns
     * CARBS_EDIVERGED, parameters untouched, when the norm is not finite. */
    int (*step)(void *state, const backend_step_t *hp, float *grad_norm_out);
    /* Forward only over the loaded batch: the mean cross-entropy. */
    int (*eval)(void *state, float *loss_out);
    /* Score one sequence tokens[0..n) (n <= seq_len) for multiple-choice
     * evaluation: nll[p] = -log P(tokens[p] | tokens[0..p)) for p in
     * [max(1, n_prefix), n); other entries are not touched.  Rows below
     * n_prefix are reused from the previous score call, so a context is
     * computed once and shared across its choices: the caller guarantees
     * that tokens[0..n_prefix) equal that call's and that nothing but
     * score ran in between.  n_prefix = 0 computes everything. */
    int (*score)(void *state, const int32_t *tokens, size_t n_prefix, size_t n, float *nll);

    /* Seconds the devices spent computing since open, summed over
     * devices: core-seconds on the CPU, kernel time on a GPU. */
    double (*device_seconds)(void *state);
    /* The devices' combined dense peak in FLOP/s for the data type the
     * matrix multiplies run in (bf16 on GPUs), for MFU; 0 when unknown. */
    double (*peak_flops)(void *state);
    /* What the last failed op of state ran into, one line ("" when none
     * failed): a device backend's ops report a CUDA error this way, which
     * the trainer copies into the trial's failure message.  Points into
     * the state. */
    const char *(*error)(void *state);
} backend_ops_t;

/* The backend registered as name ("cpu"; "cuda" when built), or NULL when
 * none is compiled in under that name.  The table is static: never free. */
const backend_ops_t *backend_find(const char *name);

/* Names of every compiled-in backend, the default first, NULL-terminated;
 * static.  `carbs version` lists them. */
const char *const *backend_names(void);

/* Parse a device spec: "cpu", "cuda" (device 0), "cuda:K" or
 * "cuda:K,L,..." (distinct ordinals, at most BACKEND_DEVICES_MAX).  Sets
 * *name to the backend's name ("cpu" or "cuda", static) and fills
 * opt->n_devices and opt->devices (other fields untouched).  Returns 0 or
 * CARBS_EINVAL with err naming the bad part.  Does not check that the
 * backend is built or the devices exist (probe does). */
int backend_parse_device(const char *spec, const char **name, backend_opts_t *opt,
                         carbs_err_t *err);

/* The CPU backend's table (trainer/cpu.c). */
const backend_ops_t *cpu_backend(void);

/* The CUDA backend's table (trainer/cuda.cu), in builds with CUDA. */
const backend_ops_t *cuda_backend(void);

#endif
