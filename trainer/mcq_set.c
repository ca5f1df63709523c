/*
 * mcq_set.c - building and freeing the question sets of mcq_set.h.
 */
#include "proto/common.h"
#include "trainer/mcq_set.h"

static int pool_append(mcq_set_t *set, const int32_t *tok, size_t n, size_t *off)
{
    if (da__grow((void **)&set->pool, &set->pool_cap, set->pool_n + n, sizeof(int32_t)))
        return CARBS_ENOMEM;
    *off = set->pool_n;
    if (n) memcpy(set->pool + set->pool_n, tok, n * sizeof(int32_t));
    set->pool_n += n;
    return 0;
}

int mcq_set_add(mcq_set_t *set, mcq_task_t task, const int32_t *context, size_t n_context,
                const int32_t *const choice[MCQ_CHOICES], const size_t n_choice[MCQ_CHOICES],
                const size_t choice_bytes[MCQ_CHOICES], int answer)
{
    mcq_item_t it = {.task = task, .n_context = n_context, .answer = answer};
    size_t pool_mark = set->pool_n;
    if (answer < 0 || answer >= MCQ_CHOICES || (unsigned)task >= MCQ_TASK_COUNT ||
        (n_context && !context))
        return CARBS_EINVAL;
    for (int c = 0; c < MCQ_CHOICES; c++)
        if (!choice[c] || !n_choice[c]) return CARBS_EINVAL;
    if (DA_RESERVE(set, 1)) return CARBS_ENOMEM;
    if (pool_append(set, context, n_context, &it.context)) goto nomem;
    for (int c = 0; c < MCQ_CHOICES; c++) {
        if (pool_append(set, choice[c], n_choice[c], &it.choice[c])) goto nomem;
        it.n_choice[c] = n_choice[c];
        it.choice_bytes[c] = choice_bytes ? choice_bytes[c] : 0;
    }
    set->v[set->n++] = it;
    return 0;
nomem:
    set->pool_n = pool_mark;
    return CARBS_ENOMEM;
}

void mcq_set_release(mcq_set_t *set)
{
    free(set->v);
    free(set->pool);
    memset(set, 0, sizeof(*set));
}
