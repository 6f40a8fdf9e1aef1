/* Temporal smoothing of per-frame class probabilities (pecore.h, "live
 * streams"): a time-constant EMA, a stable label with margin and dwell,
 * "unknown" with enter/leave hysteresis, and a reset at scene cuts.
 *
 * Everything is driven by the timestamps, never by frame counts: a stream
 * drops frames, so the gap between two results varies.  The state machine:
 *   reset (first update, pe_smoother_reset, scene cut): the average becomes
 *     the frame's probabilities; the stable label is the best class, or
 *     unknown when unknown is enabled and no class is above unknown_leave.
 *   known stable s: another class c that leads s by at least switch_margin
 *     starts a dwell timer at the first update it leads; when it still leads
 *     min_dwell_ms later, c becomes stable (a different leader restarts the
 *     timer, no leader clears it).  Independently, avg[s] below
 *     unknown_enter for min_dwell_ms makes the label unknown.
 *   unknown: the best class becomes stable as soon as its average rises
 *     above unknown_leave (no dwell: leaving unknown is the quick direction).
 */
#include "../common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pe_smoother {
    pe_smoother_options o;   /* defaults filled in                          */
    int n;                   /* classes                                     */
    float *avg;              /* [n] the smoothed probabilities              */
    float *prev_emb;         /* [prev_cap] last embedding, for scene cuts   */
    int prev_dim, prev_cap;  /* prev_dim 0: none yet                        */
    int started;             /* an update happened since the last reset    */
    double t_last;
    int stable;              /* class, -1 unknown                           */
    int challenger;          /* class leading stable by the margin, or -1   */
    double challenger_since; /* t of the first update it led               */
    double low_since;        /* t avg[stable] first fell below unknown_enter; NAN: not below */
};

static int unknown_enabled(const pe_smoother *s) { return s->o.unknown_enter > 0; }

static int argmax(const float *v, int n, int skip) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (i != skip && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

static pe_status fill_options(const pe_smoother_options *in, pe_smoother_options *o) {
    *o = in ? *in : (pe_smoother_options){0};
    if (o->tau_ms == 0) o->tau_ms = 300;
    if (o->switch_margin == 0) o->switch_margin = 0.10f;
    if (o->min_dwell_ms == 0) o->min_dwell_ms = 200;
    if (o->unknown_leave == 0 && o->unknown_enter > 0) o->unknown_leave = o->unknown_enter + 0.1f;
    if (o->scene_cut_cosine == 0) o->scene_cut_cosine = 0.75f;
    if (!(o->tau_ms > 0 && isfinite(o->tau_ms)))
        return pe_error(PE_ERR_INVALID_ARG, "smoother: tau_ms %g is not a positive time",
                        (double)o->tau_ms);
    if (!(o->switch_margin > 0 && o->switch_margin <= 1))
        return pe_error(PE_ERR_INVALID_ARG, "smoother: switch_margin %g is not in (0, 1]",
                        (double)o->switch_margin);
    if (!(o->min_dwell_ms > 0 && isfinite(o->min_dwell_ms)))
        return pe_error(PE_ERR_INVALID_ARG, "smoother: min_dwell_ms %g is not a positive time",
                        (double)o->min_dwell_ms);
    if (!(o->unknown_enter >= 0 && o->unknown_enter <= 1))
        return pe_error(PE_ERR_INVALID_ARG, "smoother: unknown_enter %g is not in [0, 1]",
                        (double)o->unknown_enter);
    if (o->unknown_enter > 0 && !(o->unknown_leave >= o->unknown_enter && o->unknown_leave <= 1))
        return pe_error(PE_ERR_INVALID_ARG,
                        "smoother: unknown_leave %g is not in [unknown_enter %g, 1]",
                        (double)o->unknown_leave, (double)o->unknown_enter);
    if (!(o->scene_cut_cosine <= 1))
        return pe_error(PE_ERR_INVALID_ARG, "smoother: scene_cut_cosine %g is over 1",
                        (double)o->scene_cut_cosine);
    return PE_OK;
}

pe_status pe_smoother_create(int n_classes, const pe_smoother_options *opt, pe_smoother **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_create: out is NULL");
    *out = NULL;
    if (n_classes < 1 || n_classes > (1 << 20))
        return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_create: %d classes (1..%d)", n_classes,
                        1 << 20);
    pe_smoother *s = calloc(1, sizeof *s);
    if (!s) return pe_error(PE_ERR_NOMEM, "out of memory");
    pe_status st = fill_options(opt, &s->o);
    if (!st && !(s->avg = calloc((size_t)n_classes, sizeof *s->avg)))
        st = pe_error(PE_ERR_NOMEM, "out of memory");
    if (st) { pe_smoother_free(s); return st; }
    s->n = n_classes;
    pe_smoother_reset(s);
    *out = s;
    return PE_OK;
}

void pe_smoother_free(pe_smoother *s) {
    if (!s) return;
    free(s->avg);
    free(s->prev_emb);
    free(s);
}

void pe_smoother_reset(pe_smoother *s) {
    if (!s) return;
    s->started = 0;
    s->stable = -1;
    s->challenger = -1;
    s->low_since = NAN;
    s->prev_dim = 0;
}

/* Cosine of emb with the previous embedding (1 when there is none or either
 * is zero), then emb becomes the previous one.  The buffer grows only when
 * the size grows: no allocation per frame. */
static pe_status scene_cosine(pe_smoother *s, const float *emb, int dim, double *cosv) {
    *cosv = 1;
    if (s->prev_dim == dim) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < dim; i++) {
            ab += (double)emb[i] * s->prev_emb[i];
            aa += (double)s->prev_emb[i] * s->prev_emb[i];
            bb += (double)emb[i] * emb[i];
        }
        if (aa > 0 && bb > 0) *cosv = ab / sqrt(aa * bb);
    }
    if (dim > s->prev_cap) {
        float *p = realloc(s->prev_emb, (size_t)dim * sizeof *p);
        if (!p) return pe_error(PE_ERR_NOMEM, "out of memory");
        s->prev_emb = p;
        s->prev_cap = dim;
    }
    memcpy(s->prev_emb, emb, (size_t)dim * sizeof *emb);
    s->prev_dim = dim;
    return PE_OK;
}

static void leave_unknown_if_above(pe_smoother *s) {
    int best = argmax(s->avg, s->n, -1);
    if (!unknown_enabled(s) || s->avg[best] > s->o.unknown_leave) {
        s->stable = best;
        s->challenger = -1;
        s->low_since = NAN;
    }
}

/* A known stable label: switch to a leader that held its margin for the
 * dwell, or fall to unknown after the dwell below unknown_enter. */
static void follow(pe_smoother *s, double t) {
    int c = argmax(s->avg, s->n, s->stable);
    if (c >= 0 && s->avg[c] - s->avg[s->stable] >= s->o.switch_margin) {
        if (c != s->challenger) {
            s->challenger = c;
            s->challenger_since = t;
        } else if (t - s->challenger_since >= s->o.min_dwell_ms) {
            s->stable = c;
            s->challenger = -1;
            s->low_since = NAN;
            return;
        }
    } else {
        s->challenger = -1;
    }
    if (!unknown_enabled(s)) return;
    if (s->avg[s->stable] >= s->o.unknown_enter) {
        s->low_since = NAN;
    } else if (isnan(s->low_since)) {
        s->low_since = t;
    } else if (t - s->low_since >= s->o.min_dwell_ms) {
        s->stable = -1;
        s->challenger = -1;
        s->low_since = NAN;
    }
}

pe_status pe_smoother_update(pe_smoother *s, double t_ms, const float *probs, int n_classes,
                             const float *emb, int dim, pe_smoothed *out) {
    if (!s || !probs || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_update: NULL argument");
    if (n_classes != s->n)
        return pe_error(PE_ERR_SHAPE, "pe_smoother_update: %d classes, the smoother has %d",
                        n_classes, s->n);
    if (emb && dim < 1) return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_update: dim %d", dim);
    if (!isfinite(t_ms)) return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_update: time is not finite");
    if (s->started && t_ms < s->t_last)
        return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_update: time %.3f ms before the previous %.3f ms",
                        t_ms, s->t_last);
    for (int i = 0; i < s->n; i++)
        if (!(probs[i] >= 0 && probs[i] <= 1))
            return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_update: probability %d is %g, not in [0, 1]",
                            i, (double)probs[i]);
    double cosv = 1;
    if (emb) {
        for (int i = 0; i < dim; i++)
            if (!isfinite(emb[i]))
                return pe_error(PE_ERR_INVALID_ARG, "pe_smoother_update: embedding value %d is not finite", i);
        pe_status st = scene_cosine(s, emb, dim, &cosv);
        if (st) return st;
    }
    int before = s->started ? s->stable : -1;
    int cut = s->started && s->o.scene_cut_cosine > 0 && cosv < s->o.scene_cut_cosine;
    if (!s->started || cut) {
        memcpy(s->avg, probs, (size_t)s->n * sizeof *probs);
        s->stable = -1;
        leave_unknown_if_above(s);
        s->started = 1;
    } else {
        float a = (float)(1.0 - exp(-(t_ms - s->t_last) / s->o.tau_ms));
        for (int i = 0; i < s->n; i++) s->avg[i] += a * (probs[i] - s->avg[i]);
        if (s->stable < 0) leave_unknown_if_above(s);
        else follow(s, t_ms);
    }
    s->t_last = t_ms;
    *out = (pe_smoothed){s->avg, s->stable, s->stable >= 0 ? s->avg[s->stable] : 0,
                         s->stable != before, cut};
    return PE_OK;
}
