/*
 * warp.h - output warping and cost scaling (docs/algorithm.md, Output warping
 * and cost scaling).
 *
 * warp_t is the quantile-to-normal transform fitted on the raw outputs of the
 * successful observations: m = floor(sqrt(n)) landmarks q[0..m) at levels
 * j/(m-1), mapped through Phi^-1 and clipped to +-WARP_CLIP.  The surrogate
 * value of an output is sign * warp_forward(y); larger is always better.
 * costscale_t maps ln(cost) min-max onto [-1, 1].
 */
#ifndef CARBS_OPTIMIZER_WARP_H
#define CARBS_OPTIMIZER_WARP_H

#include <stddef.h>

/* A value within this of the first or last landmark maps to level 0 or 1 (docs/algorithm.md,
 * Output warping and cost scaling, step 2). */
#define WARP_EDGE_TOL 1e-7

typedef struct warp {
    double *q;   /* landmarks, non-decreasing; owned */
    double *lv;  /* their levels j/(m-1); owned */
    double *nq;  /* -q reversed and -lv reversed: the "left" interpolation; owned */
    double *nlv;
    size_t m, cap;
    double clip; /* Phi^-1(1e-7 - eps) negated: 5.19933758... */
} warp_t;

/* Fit on y[0..n), n > 0, all finite.  Returns 0, CARBS_EINVAL (n = 0 or a
 * non-finite y) or CARBS_ENOMEM.  *w may be refit; release with warp_release. */
int warp_fit(warp_t *w, const double *y, size_t n);

/* Q(y): the warped value of a raw output, in [-clip, clip]. */
double warp_forward(const warp_t *w, double y);

/* The raw output whose surrogate value is z, for surrogate sign sign (+1/-1):
 * t = Phi(sign z) interpolated back through the landmarks (the inverse in
 * docs/algorithm.md, Output warping and cost scaling). */
double warp_inverse(const warp_t *w, double z, double sign);

void warp_release(warp_t *w);

typedef struct costscale {
    double a; /* min ln(cost) */
    double w; /* max ln(cost) - a, or 1 when all costs are equal */
} costscale_t;

/* Fit on c[0..n), n > 0.  Every cost must be finite and > 0 (the reference
 * accepts cost <= 0 and then takes its log: quirk 13 of docs/algorithm.md).
 * Returns 0 or CARBS_EINVAL. */
int costscale_fit(costscale_t *cs, const double *c, size_t n);

/* g(c) = 2 (ln c - a) / w - 1, and its inverse. */
double costscale_forward(const costscale_t *cs, double c);
double costscale_inverse(const costscale_t *cs, double g);

#endif
