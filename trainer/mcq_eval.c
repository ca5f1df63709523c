/*
 * mcq_eval.c - multiple-choice scoring with the context's forward pass
 * shared across choices (docs/data.md).
 *
 * For an item (context c, choices a..d) the sequence c + a is scored from
 * scratch; then each other choice overwrites the tail and only its rows
 * are computed, attending to the context rows the backend kept (its
 * score() op caches rows below n_prefix).  The first choice token is
 * predicted by the context's last row, so that row's logits are shared
 * too.  Cost per item: one pass over c + a plus |b| + |c| + |d| rows.
 */
#include "proto/common.h"
#include "trainer/mcq_eval.h"

#include <math.h>

void mcq_eval_add(mcq_eval_t *acc, const double ll[MCQ_CHOICES], const size_t n_tok[MCQ_CHOICES],
                  const size_t *bytes, int answer)
{
    double norm[MCQ_CHOICES], mx = -INFINITY, z = 0;
    bool best = true, best_norm = true;

    for (int k = 0; k < MCQ_CHOICES; k++) {
        double den = bytes && bytes[k] ? (double)bytes[k] : (double)n_tok[k];
        norm[k] = ll[k] / den;
        mx = ll[k] > mx ? ll[k] : mx;
    }
    for (int k = 0; k < MCQ_CHOICES; k++) {
        z += exp(ll[k] - mx);
        if (k == answer)
            continue;
        if (ll[k] >= ll[answer])
            best = false;
        if (norm[k] >= norm[answer])
            best_norm = false;
    }
    acc->n++;
    acc->correct += best;
    acc->correct_norm += best_norm;
    acc->prob_sum += exp(ll[answer] - mx) / z;
    acc->answer_nll += -ll[answer];
    acc->answer_tokens += (double)n_tok[answer];
}

size_t mcq_eval_index(size_t n_set, size_t n_scored, size_t i)
{
    if (n_scored >= n_set)
        return i;
    /* floor(i * n_set / n_scored) without overflow for any realistic set */
    return (size_t)((unsigned long long)i * n_set / n_scored);
}

void mcq_eval_metrics(const mcq_eval_t *acc, double *mcq_acc, double *mcq_acc_norm,
                      double *mcq_ppl, double *mcq_prob)
{
    double n = (double)acc->n;
    if (!acc->n) {
        *mcq_acc = *mcq_acc_norm = *mcq_ppl = *mcq_prob = NAN;
        return;
    }
    *mcq_acc = acc->correct / n;
    *mcq_acc_norm = acc->correct_norm / n;
    *mcq_ppl = exp(acc->answer_nll / acc->answer_tokens);
    *mcq_prob = acc->prob_sum / n;
}

int mcq_eval_item(const backend_ops_t *ops, void *state, const model_layout_t *lay,
                  const mcq_set_t *set, const mcq_item_t *it, int32_t *seq, float *nll,
                  double ll[MCQ_CHOICES], double *flops)
{
    size_t T = lay->shape.seq_len, longest = 0, nc;
    const int32_t *ctx;
    double fl = 0;

    for (int k = 0; k < MCQ_CHOICES; k++)
        longest = it->n_choice[k] > longest ? it->n_choice[k] : longest;
    if (!it->n_context || longest >= T)
        return CARBS_CONTINUE;
    nc = it->n_context < T - longest ? it->n_context : T - longest;
    ctx = set->pool + it->context + (it->n_context - nc);
    memcpy(seq, ctx, nc * sizeof(int32_t));
    for (int k = 0; k < MCQ_CHOICES; k++) {
        size_t nk = it->n_choice[k], n = nc + nk;
        double s = 0;
        int rc;
        memcpy(seq + nc, set->pool + it->choice[k], nk * sizeof(int32_t));
        rc = ops->score(state, seq, k ? nc : 0, n, nll);
        if (rc)
            return rc;
        fl += model_flops_rows(lay, k ? nc : 0, n, false);
        for (size_t p = nc; p < n; p++)
            s += (double)nll[p];
        ll[k] = -s;
    }
    if (flops)
        *flops += fl;
    return 0;
}
