/*
 * blas.h - which OpenBLAS kernels this process runs, and the fix for a CPU
 * that OpenBLAS does not know.
 *
 * Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from the CPU
 * model at load time.  On a processor newer than the library it falls back to
 * "Prescott", SSE3 kernels: on the project machines (Xeon, model 207, with
 * AVX-512) that is 29 GFLOP/s of sgemm instead of 145.  The kernels are
 * chosen once, when the library loads, and only the OPENBLAS_CORETYPE
 * environment variable overrides them; so the fix is to set it and exec the
 * program again, first thing in main().
 */
#ifndef CARBS_TRAINER_BLAS_H
#define CARBS_TRAINER_BLAS_H

/* The kernel set OpenBLAS loaded ("SkylakeX", "Haswell", "Prescott", ...). */
const char *blas_core(void);

/* The kernel set to ask for instead, or NULL to keep the loaded one.  Only a
 * fallback core (one older than AVX2) on a CPU with AVX2/FMA or AVX-512 is
 * replaced, and never when OPENBLAS_CORETYPE is set already (the user's
 * choice, or ours after the exec). */
const char *blas_core_wanted(void);

/* If blas_core_wanted() names a core: set OPENBLAS_CORETYPE and exec
 * /proc/self/exe with argv.  Returns only when nothing is to be done or the
 * exec failed (then the program goes on with the kernels it has, and says
 * so at debug level). */
void blas_core_fix(char **argv);

#endif
