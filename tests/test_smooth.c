/* pe_smoother on synthetic score sequences: the EMA against its closed
 * form (even and uneven frame gaps), margin, dwell, unknown hysteresis,
 * scene cuts, reset, invalid arguments.  Everything is deterministic. */
#include "test.h"

#include "pecore.h"

#include <math.h>

#define NC 3

/* One update; returns the result (aborts the check on an error). */
static pe_smoothed step(pe_smoother *s, double t, float a, float b, float c) {
    float p[NC] = {a, b, c};
    pe_smoothed r = {0};
    pe_status st = pe_smoother_update(s, t, p, NC, NULL, 0, &r);
    CHECK(st == PE_OK, "update at %.1f: %s", t, pe_last_error());
    return r;
}

static pe_smoother *make(const pe_smoother_options *o) {
    pe_smoother *s = NULL;
    pe_status st = pe_smoother_create(NC, o, &s);
    CHECK(st == PE_OK && s, "create: %s", pe_last_error());
    return s;
}

/* Constant input p1 after a start at p0: avg(t) = p1 + (p0 - p1) exp(-t / tau),
 * whatever the gaps between the updates. */
static void test_ema_closed_form(void) {
    const double tau = 250;
    for (int uneven = 0; uneven < 2; uneven++) {
        pe_smoother_options o = {.tau_ms = (float)tau, .scene_cut_cosine = -1};
        pe_smoother *s = make(&o);
        if (!s) return;
        pe_smoothed r = step(s, 0, 1, 0, 0);
        CHECK(r.probs[0] == 1 && r.probs[1] == 0, "first update is taken as is");
        rng_seed(7);
        double t = 0, worst = 0;
        for (int i = 0; i < 200; i++) {
            t += uneven ? 1 + rng_u32() % 90 : 10;   /* dropped frames: gaps of 1..90 ms */
            r = step(s, t, 0, 1, 0);
            double want0 = exp(-t / tau), want1 = 1 - exp(-t / tau);
            worst = fmax(worst, fabs(r.probs[0] - want0));
            worst = fmax(worst, fabs(r.probs[1] - want1));
            CHECK(r.probs[2] == 0, "an absent class stays 0");
        }
        CHECK(worst < 2e-6, "%s gaps: EMA off its closed form by %g", uneven ? "uneven" : "even",
              worst);
        pe_smoother_free(s);
    }
    /* Same final time, different gaps, same average: time, not frame count. */
    pe_smoother_options o = {.tau_ms = 100, .scene_cut_cosine = -1};
    pe_smoother *a = make(&o), *b = make(&o);
    if (!a || !b) return;
    step(a, 0, 0.2f, 0.8f, 0);
    step(b, 0, 0.2f, 0.8f, 0);
    pe_smoothed ra = {0}, rb = {0};
    for (int i = 1; i <= 30; i++) ra = step(a, i * 10.0, 0.9f, 0.1f, 0);  /* 30 frames */
    rb = step(b, 150, 0.9f, 0.1f, 0);                                      /* 2 frames */
    rb = step(b, 300, 0.9f, 0.1f, 0);
    CHECK(fabsf(ra.probs[0] - rb.probs[0]) < 1e-5f, "30 frames %g vs 2 frames %g over 300 ms",
          (double)ra.probs[0], (double)rb.probs[0]);
    pe_smoother_free(a);
    pe_smoother_free(b);
}

/* A fast average (tau 1 ms) so that the labels follow the input: dwell and
 * margin are what is under test. */
static pe_smoother_options fast(void) {
    return (pe_smoother_options){.tau_ms = 1, .switch_margin = 0.1f, .min_dwell_ms = 200,
                                 .scene_cut_cosine = -1};
}

static void test_dwell_and_margin(void) {
    pe_smoother_options o = fast();
    pe_smoother *s = make(&o);
    if (!s) return;
    pe_smoothed r = step(s, 0, 0.8f, 0.1f, 0.1f);
    CHECK(r.stable == 0 && r.changed == 1, "first update: stable %d changed %d", r.stable, r.changed);
    double t = 0;
    /* A flicker to class 1 for 150 ms (< 200 ms dwell), then back. */
    int changes = 0;
    for (int i = 0; i < 15; i++) {
        r = step(s, t += 10, 0.1f, 0.8f, 0.1f);
        changes += r.changed;
    }
    for (int i = 0; i < 30; i++) {
        r = step(s, t += 10, 0.8f, 0.1f, 0.1f);
        changes += r.changed;
    }
    CHECK(r.stable == 0 && changes == 0, "a 150 ms flicker changed the label (%d changes)", changes);
    /* A lead just under the margin, for a long time. */
    for (int i = 0; i < 100; i++) {
        r = step(s, t += 10, 0.44f, 0.52f, 0.04f);
        changes += r.changed;
    }
    CHECK(r.stable == 0 && changes == 0, "a 0.08 lead (< margin 0.1) changed the label");
    /* A real change: class 2 leads from t0 on; it becomes stable at exactly t0 + 200. */
    double t0 = t += 10;
    r = step(s, t0, 0.1f, 0.1f, 0.8f);
    int switched_at = -1;
    for (int i = 1; i <= 40 && switched_at < 0; i++) {
        r = step(s, t0 + 10 * i, 0.1f, 0.1f, 0.8f);
        if (r.changed) switched_at = 10 * i;
    }
    CHECK(switched_at == 200 && r.stable == 2, "switched %d ms after the lead began (want 200), stable %d",
          switched_at, r.stable);
    /* A new leader restarts the timer: 1 leads 150 ms, then 0 leads: neither
     * before 200 ms of its own. */
    t = t0 + 1000;
    step(s, t, 0.1f, 0.1f, 0.8f);
    changes = 0;
    for (int i = 0; i < 15; i++) changes += step(s, t += 10, 0.1f, 0.8f, 0.1f).changed;
    for (int i = 0; i < 15; i++) changes += step(s, t += 10, 0.8f, 0.1f, 0.1f).changed;
    CHECK(changes == 0, "two 150 ms leaders in a row changed the label");
    for (int i = 0; i < 10; i++) r = step(s, t += 10, 0.8f, 0.1f, 0.1f);
    CHECK(r.stable == 0, "the second leader after its own 200+ ms: stable %d", r.stable);
    /* Uneven gaps: the dwell is time, so one late frame 250 ms after the lead began switches. */
    t += 10;
    step(s, t, 0.1f, 0.8f, 0.1f);
    r = step(s, t + 250, 0.1f, 0.8f, 0.1f);
    CHECK(r.stable == 1 && r.changed, "a frame 250 ms after the lead began: stable %d", r.stable);
    pe_smoother_free(s);
}

static void test_unknown_hysteresis(void) {
    pe_smoother_options o = fast();
    o.unknown_enter = 0.5f;
    o.unknown_leave = 0.7f;
    pe_smoother *s = make(&o);
    if (!s) return;
    pe_smoothed r = step(s, 0, 0.6f, 0.3f, 0.1f);
    CHECK(r.stable == -1 && !r.changed, "start at 0.6 < leave 0.7: unknown (stable %d)", r.stable);
    r = step(s, 10, 0.75f, 0.2f, 0.05f);
    CHECK(r.stable == 0 && r.changed, "0.75 > leave: class 0 at once (stable %d)", r.stable);
    CHECK(fabsf(r.stable_prob - r.probs[0]) == 0, "stable_prob is the average of the stable class");
    /* Between enter and leave: stays known. */
    double t = 10;
    for (int i = 0; i < 50; i++) r = step(s, t += 10, 0.55f, 0.3f, 0.15f);
    CHECK(r.stable == 0, "0.55 >= enter 0.5 keeps the label");
    /* Below enter: unknown only after the dwell. */
    double t0 = t += 10;
    r = step(s, t0, 0.4f, 0.35f, 0.25f);
    int unknown_at = -1;
    for (int i = 1; i <= 40 && unknown_at < 0; i++) {
        r = step(s, t0 + 10 * i, 0.4f, 0.35f, 0.25f);
        if (r.stable == -1) unknown_at = 10 * i;
    }
    CHECK(unknown_at == 200 && r.changed, "unknown %d ms after falling below enter (want 200)", unknown_at);
    CHECK(r.stable_prob == 0, "unknown: stable_prob 0");
    /* Back up, but only between enter and leave: still unknown. */
    t = t0 + 400;
    for (int i = 0; i < 50; i++) r = step(s, t += 10, 0.65f, 0.25f, 0.1f);
    CHECK(r.stable == -1, "0.65 < leave 0.7: stays unknown (hysteresis)");
    r = step(s, t += 10, 0.1f, 0.72f, 0.18f);
    CHECK(r.stable == 1 && r.changed, "class 1 at 0.72 > leave leaves unknown: stable %d", r.stable);
    /* A dip shorter than the dwell. */
    for (int i = 0; i < 10; i++) r = step(s, t += 10, 0.3f, 0.4f, 0.3f);
    for (int i = 0; i < 10; i++) r = step(s, t += 10, 0.1f, 0.8f, 0.1f);
    CHECK(r.stable == 1, "a 100 ms dip below enter made it unknown");
    pe_smoother_free(s);

    /* unknown_leave 0 defaults to enter + 0.1. */
    pe_smoother_options d = fast();
    d.unknown_enter = 0.5f;
    s = make(&d);
    if (!s) return;
    CHECK(step(s, 0, 0.59f, 0.4f, 0.01f).stable == -1, "0.59 < default leave 0.6");
    pe_smoother_reset(s);
    CHECK(step(s, 0, 0.61f, 0.38f, 0.01f).stable == 0, "0.61 > default leave 0.6");
    pe_smoother_free(s);
}

static void test_scene_cut(void) {
    pe_smoother_options o = {.tau_ms = 1000, .min_dwell_ms = 500, .scene_cut_cosine = 0.8f};
    pe_smoother *s = make(&o);
    if (!s) return;
    float e1[4] = {1, 0, 0, 0}, e1b[4] = {1, 0.3f, 0, 0}, e2[4] = {0, 0, 1, 0};
    float p1[NC] = {0.9f, 0.05f, 0.05f}, p2[NC] = {0.1f, 0.1f, 0.8f};
    pe_smoothed r;
    CHECK(!pe_smoother_update(s, 0, p1, NC, e1, 4, &r) && r.stable == 0 && !r.scene_cut, "start");
    /* cos(e1, e1b) = 0.958 > 0.8: no cut, the slow average barely moves */
    CHECK(!pe_smoother_update(s, 33, p2, NC, e1b, 4, &r) && !r.scene_cut && r.stable == 0,
          "a similar frame is no cut");
    CHECK(r.probs[0] > 0.85f, "slow average: %g", (double)r.probs[0]);
    /* cos(e1b, e2) = 0: a cut restarts the average and the label follows now */
    CHECK(!pe_smoother_update(s, 66, p2, NC, e2, 4, &r), "%s", pe_last_error());
    CHECK(r.scene_cut && r.changed && r.stable == 2, "cut: scene_cut %d changed %d stable %d",
          r.scene_cut, r.changed, r.stable);
    CHECK(r.probs[0] == p2[0] && r.probs[2] == p2[2], "cut: average restarted from the frame");
    /* No embedding: no cut test, and the previous embedding stays. */
    CHECK(!pe_smoother_update(s, 99, p1, NC, NULL, 0, &r) && !r.scene_cut, "no embedding, no cut");
    CHECK(!pe_smoother_update(s, 132, p1, NC, e1, 4, &r) && r.scene_cut && r.stable == 0,
          "e2 -> e1 is a cut again");
    /* Scene cuts off. */
    pe_smoother_options off = o;
    off.scene_cut_cosine = -1;
    pe_smoother *n = make(&off);
    if (!n) { pe_smoother_free(s); return; }
    pe_smoother_update(n, 0, p1, NC, e1, 4, &r);
    CHECK(!pe_smoother_update(n, 33, p2, NC, e2, 4, &r) && !r.scene_cut && r.stable == 0,
          "negative scene_cut_cosine: no cuts");
    pe_smoother_free(n);
    /* Reset: the next update starts afresh (no dwell, average = frame). */
    pe_smoother_reset(s);
    CHECK(!pe_smoother_update(s, 10, p2, NC, e1, 4, &r) && r.stable == 2 && r.probs[2] == p2[2] &&
              !r.scene_cut,
          "after reset: stable %d, earlier time accepted", r.stable);
    pe_smoother_free(s);
}

static void test_invalid(void) {
    pe_smoother *s = NULL;
    CHECK(pe_smoother_create(0, NULL, &s) == PE_ERR_INVALID_ARG && !s, "0 classes");
    CHECK(pe_smoother_create(3, NULL, NULL) == PE_ERR_INVALID_ARG, "NULL out");
    pe_smoother_options bad[] = {{.tau_ms = -1}, {.switch_margin = 1.5f}, {.min_dwell_ms = -5},
                                 {.unknown_enter = 0.6f, .unknown_leave = 0.5f},
                                 {.unknown_enter = 1.2f}, {.scene_cut_cosine = 1.5f},
                                 {.tau_ms = NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = NULL;
        CHECK(pe_smoother_create(3, &bad[i], &s) == PE_ERR_INVALID_ARG && !s && *pe_last_error(),
              "bad options %zu accepted", i);
    }
    s = make(NULL);
    if (!s) return;
    float p[NC] = {0.5f, 0.5f, 0}, nanp[NC] = {NAN, 0, 0}, neg[NC] = {-0.1f, 0.6f, 0.5f};
    float e[2] = {1, INFINITY};
    pe_smoothed r;
    CHECK(pe_smoother_update(s, 0, p, 2, NULL, 0, &r) == PE_ERR_SHAPE, "wrong class count");
    CHECK(pe_smoother_update(s, 0, NULL, NC, NULL, 0, &r) == PE_ERR_INVALID_ARG, "NULL probs");
    CHECK(pe_smoother_update(s, 0, p, NC, NULL, 0, NULL) == PE_ERR_INVALID_ARG, "NULL out");
    CHECK(pe_smoother_update(s, 0, nanp, NC, NULL, 0, &r) == PE_ERR_INVALID_ARG, "NaN probability");
    CHECK(pe_smoother_update(s, 0, neg, NC, NULL, 0, &r) == PE_ERR_INVALID_ARG, "negative probability");
    CHECK(pe_smoother_update(s, NAN, p, NC, NULL, 0, &r) == PE_ERR_INVALID_ARG, "NaN time");
    CHECK(pe_smoother_update(s, 0, p, NC, e, 2, &r) == PE_ERR_INVALID_ARG, "infinite embedding");
    CHECK(pe_smoother_update(s, 0, p, NC, e, 0, &r) == PE_ERR_INVALID_ARG, "dim 0 with an embedding");
    CHECK(pe_smoother_update(s, 100, p, NC, NULL, 0, &r) == PE_OK, "%s", pe_last_error());
    CHECK(pe_smoother_update(s, 99, p, NC, NULL, 0, &r) == PE_ERR_INVALID_ARG &&
              strstr(pe_last_error(), "before"),
          "time going back: %s", pe_last_error());
    CHECK(pe_smoother_update(s, 100, p, NC, NULL, 0, &r) == PE_OK, "the same time again is fine");
    pe_smoother_free(s);
    pe_smoother_free(NULL);
    pe_smoother_reset(NULL);
}

int main(void) {
    test_ema_closed_form();
    test_dwell_and_margin();
    test_unknown_hysteresis();
    test_scene_cut();
    test_invalid();
    return test_done("test_smooth");
}
