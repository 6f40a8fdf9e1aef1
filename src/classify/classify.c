/* Zero-shot / prototype classification and KNN galleries over unit-length
 * embeddings (pecore.h, "classification").  Files: store.c. */
#include "store.h"

#include "../model/forward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hier {
    char **coarse;            /* [n_coarse] distinct coarse names, owned     */
    int n_coarse;
    int32_t *coarse_of;       /* [n_labels] coarse index of each label       */
    int any;                  /* some label has a '/'                        */
};

/* A prototype pack and a gallery are one kind of object, labelled unit
 * embeddings with their label hierarchy; they differ in what the store
 * keeps (a gallery: several entries per label, each with its source) and
 * in how they classify.  Each handle is a classes, its first member. */
typedef struct classes {
    pe_store s;
    struct hier h;
} classes;

struct pe_protos { classes c; };
struct pe_gallery { classes c; };

/* ------------------------------------------------------------ helpers */

static void hier_clear(struct hier *h) {
    for (int i = 0; i < h->n_coarse; i++) free(h->coarse[i]);
    free(h->coarse);
    free(h->coarse_of);
    memset(h, 0, sizeof *h);
}

static uint32_t str_hash(const char *s, size_t n) {
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < n; i++) x = (x ^ (uint8_t)s[i]) * 16777619u;
    return x;
}

/* The coarse level: the part before the first '/', or the whole label.
 * Rebuilt whenever the labels change; hashed so that a file with a million
 * labels stays linear. */
static pe_status hier_build(struct hier *h, char *const *labels, int n) {
    hier_clear(h);
    size_t hcap = 16;
    while (hcap < 2 * (size_t)n) hcap <<= 1;
    int32_t *tab = malloc(hcap * sizeof *tab);
    h->coarse = calloc(PE_MAX(n, 1), sizeof(char *));
    h->coarse_of = calloc(PE_MAX(n, 1), sizeof(int32_t));
    if (!tab || !h->coarse || !h->coarse_of) {
        free(tab);
        hier_clear(h);
        return pe_error(PE_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < hcap; i++) tab[i] = -1;
    for (int i = 0; i < n; i++) {
        const char *slash = strchr(labels[i], '/');
        size_t len = slash ? (size_t)(slash - labels[i]) : strlen(labels[i]);
        h->any |= slash != NULL;
        size_t j = str_hash(labels[i], len) & (hcap - 1);
        while (tab[j] >= 0) {
            const char *c = h->coarse[tab[j]];
            if (strlen(c) == len && !memcmp(c, labels[i], len)) break;
            j = (j + 1) & (hcap - 1);
        }
        if (tab[j] < 0) {
            char *c = malloc(len + 1);
            if (!c) {
                free(tab);
                hier_clear(h);
                return pe_error(PE_ERR_NOMEM, "out of memory");
            }
            memcpy(c, labels[i], len);
            c[len] = 0;
            tab[j] = h->n_coarse;
            h->coarse[h->n_coarse++] = c;
        }
        h->coarse_of[i] = tab[j];
    }
    free(tab);
    return PE_OK;
}

static int find_label(const pe_store *s, const char *label) {
    for (int i = 0; i < s->n_labels; i++)
        if (!strcmp(s->labels[i], label)) return i;
    return -1;
}

static void identity_of(const pe_model *m, pe_model_identity *id) {
    memset(id, 0, sizeof *id);
    snprintf(id->arch, sizeof id->arch, "%s", m->info.arch);
    id->dim = m->info.out_dim;
    id->fingerprint = m->info.fingerprint;
}

static pe_status store_init(pe_store *s, const pe_model *m, int gallery) {
    memset(s, 0, sizeof *s);
    s->gallery = gallery;
    identity_of(m, &s->id);
    s->logit_scale = m->info.logit_scale > 0 ? m->info.logit_scale : 100.0f;
    if (s->id.dim < 1 || s->id.dim > PE_STORE_MAX_DIM)
        return pe_error(PE_ERR_UNSUPPORTED, "model embedding size %d is not supported",
                        s->id.dim);
    if (m->info.pool == PE_POOL_NONE)
        return pe_error(PE_ERR_UNSUPPORTED,
                        "model %s has no pooling head: it gives token grids, not embeddings",
                        m->info.arch);
    return PE_OK;
}

static pe_status check_identity(const pe_model_identity *id, const pe_model *m, const char *what) {
    if (!m) return pe_error(PE_ERR_INVALID_ARG, "%s: model is NULL", what);
    pe_model_identity mi;
    identity_of(m, &mi);
    if (mi.dim != id->dim || mi.fingerprint != id->fingerprint || strcmp(mi.arch, id->arch))
        return pe_error(PE_ERR_UNSUPPORTED,
                        "%s was made with another model (%s, dim %d, fingerprint %016llx); "
                        "this model is %s, dim %d, fingerprint %016llx",
                        what, id->arch, id->dim, (unsigned long long)id->fingerprint, mi.arch,
                        mi.dim, (unsigned long long)mi.fingerprint);
    return PE_OK;
}

/* Unit vector of x into out; refuses zero, NaN and Inf. */
static pe_status normalise(const float *x, int dim, float *out, const char *what) {
    double nn = 0;
    for (int i = 0; i < dim; i++) nn += (double)x[i] * x[i];
    if (!(nn > 0) || !isfinite(nn))
        return pe_error(PE_ERR_INVALID_ARG, "%s: embedding is zero or not finite", what);
    double inv = 1.0 / sqrt(nn);
    for (int i = 0; i < dim; i++) out[i] = (float)(x[i] * inv);
    return PE_OK;
}

static float dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

static pe_status grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return PE_OK;
    int nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return pe_error(PE_ERR_NOMEM, "out of memory");
    *p = q;
    *cap = nc;
    return PE_OK;
}

/* Appends a row (label index li, normalised emb) to s; grows every array. */
static pe_status store_push(pe_store *s, int li, const char *source, const float *unit) {
    if (s->count >= (int)PE_STORE_MAX_COUNT)
        return pe_error(PE_ERR_LIMIT, "at most %u entries", PE_STORE_MAX_COUNT);
    int cap = s->cap, c2 = s->cap, c3 = s->cap;
    pe_status st;
    if ((st = grow((void **)&s->label_of, &cap, s->count + 1, sizeof(int32_t)))) return st;
    if ((st = grow((void **)&s->emb, &c2, s->count + 1, (size_t)s->id.dim * sizeof(float))))
        return st;
    if (s->gallery && (st = grow((void **)&s->sources, &c3, s->count + 1, sizeof(char *))))
        return st;
    s->cap = PE_MIN(cap, c2);
    if (s->gallery) {
        char *src = strdup(source ? source : "");
        if (!src) return pe_error(PE_ERR_NOMEM, "out of memory");
        s->sources[s->count] = src;
    }
    s->label_of[s->count] = li;
    memcpy(s->emb + (size_t)s->count * s->id.dim, unit, (size_t)s->id.dim * sizeof(float));
    s->count++;
    return PE_OK;
}

/* Adds a label; *li receives its index. */
static pe_status store_add_label(pe_store *s, const char *label, int *li) {
    pe_status st = pe_store_check_label(label, strlen(label), "label");
    if (st) return st;
    if (s->n_labels >= (int)PE_STORE_MAX_LABELS)
        return pe_error(PE_ERR_LIMIT, "at most %u labels", PE_STORE_MAX_LABELS);
    int cap = s->label_cap, c2 = s->label_cap;
    if ((st = grow((void **)&s->labels, &cap, s->n_labels + 1, sizeof(char *)))) return st;
    if (!s->gallery &&
        (st = grow((void **)&s->thresholds, &c2, s->n_labels + 1, sizeof(float))))
        return st;
    s->label_cap = s->gallery ? cap : PE_MIN(cap, c2);
    char *d = strdup(label);
    if (!d) return pe_error(PE_ERR_NOMEM, "out of memory");
    s->labels[s->n_labels] = d;
    if (!s->gallery) s->thresholds[s->n_labels] = PE_NO_THRESHOLD;
    *li = s->n_labels++;
    return PE_OK;
}

/* ------------------------------------------------------------ text */

/* template with every "{}" replaced by word; no "{}": "template word". */
static char *fill_template(const char *tpl, const char *word) {
    size_t tl = strlen(tpl), wl = strlen(word), n = 0;
    for (const char *p = strstr(tpl, "{}"); p; p = strstr(p + 2, "{}")) n++;
    size_t len = n ? tl - 2 * n + n * wl : tl + 1 + wl;
    char *out = malloc(len + 1), *o = out;
    if (!out) return NULL;
    if (!n) {
        snprintf(out, len + 1, "%s %s", tpl, word);
        return out;
    }
    for (const char *p = tpl; *p;) {
        if (p[0] == '{' && p[1] == '}') {
            memcpy(o, word, wl);
            o += wl;
            p += 2;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

pe_status pe_text_class_embedding(pe_ctx *c, const pe_tokenizer *t, const char *label,
                                  const char *const *templates, int n_templates, float *out,
                                  size_t out_len) {
    if (!c || !t || !label || !out || n_templates < 0 || (n_templates && !templates))
        return pe_error(PE_ERR_INVALID_ARG, "pe_text_class_embedding: NULL argument");
    const pe_model_info *in = &c->m->info;
    if (!in->has_text)
        return pe_error(PE_ERR_UNSUPPORTED, "model %s has no text tower: zero-shot needs one",
                        in->arch);
    int D = in->text_out_dim, ctx = in->text_context;
    if (out_len < (size_t)D)
        return pe_error(PE_ERR_INVALID_ARG, "output buffer holds %zu floats, %d needed", out_len, D);
    static const char *const def[] = {PE_TEMPLATE_DEFAULT};
    if (!n_templates) {
        templates = def;
        n_templates = 1;
    }
    const char *slash = strchr(label, '/');
    const char *word = slash ? slash + 1 : label;
    int32_t *ids = malloc((size_t)n_templates * ctx * sizeof(int32_t));
    float *e = malloc((size_t)n_templates * D * sizeof(float));
    double *acc = calloc((size_t)D, sizeof(double));
    pe_status s = PE_OK;
    if (!ids || !e || !acc) s = pe_error(PE_ERR_NOMEM, "out of memory");
    for (int i = 0; !s && i < n_templates; i++) {
        if (!templates[i]) { s = pe_error(PE_ERR_INVALID_ARG, "template %d is NULL", i); break; }
        char *text = fill_template(templates[i], word);
        if (!text) { s = pe_error(PE_ERR_NOMEM, "out of memory"); break; }
        s = pe_tokenize(t, text, ctx, ids + (size_t)i * ctx);
        if (s) pe_error_prefix(s, "tokenizing '%s'", text);
        free(text);
    }
    if (!s) s = pe_encode_text(c, ids, n_templates, ctx, e, (size_t)n_templates * D);
    /* CLIP's recipe: normalise each prompt, average, renormalise. */
    for (int i = 0; !s && i < n_templates; i++) {
        float *row = e + (size_t)i * D;
        if (!(s = normalise(row, D, row, "text embedding")))
            for (int j = 0; j < D; j++) acc[j] += row[j];
    }
    if (!s) {
        for (int j = 0; j < D; j++) e[j] = (float)(acc[j] / n_templates);
        s = normalise(e, D, out, "mean text embedding");
    }
    free(ids);
    free(e);
    free(acc);
    return s;
}

/* ------------------------------------------------------------ handles */

static void classes_free(classes *c) {
    if (!c) return;
    pe_store_clear(&c->s);
    hier_clear(&c->h);
    free(c);
}

/* A new handle of size bytes (a pe_protos or pe_gallery: a classes first),
 * loaded from path, or else empty for model m; NULL with *st set on an
 * error. */
static classes *classes_new(size_t size, const pe_model *m, const char *path, int gallery,
                            pe_status *st) {
    classes *c = calloc(1, size);
    if (!c) return *st = pe_error(PE_ERR_NOMEM, "out of memory"), NULL;
    pe_status s = path ? pe_store_load(&c->s, path, gallery) : store_init(&c->s, m, gallery);
    if (!s && path && !gallery && !c->s.count)
        s = pe_error(PE_ERR_FORMAT, "%s: the prototype pack has no classes", path);
    if (!s && path) s = hier_build(&c->h, c->s.labels, c->s.n_labels);
    if (s) classes_free(c);
    *st = s;
    return s ? NULL : c;
}

/* Adds emb, made unit length, under label (new unless a gallery has it
 * already: a pack's label gets threshold) with source; the hierarchy
 * follows a new label. */
static pe_status classes_add(classes *c, const char *label, const char *source, const float *emb,
                             int dim, float threshold) {
    float *unit = malloc((size_t)dim * sizeof(float));
    if (!unit) return pe_error(PE_ERR_NOMEM, "out of memory");
    pe_status s = normalise(emb, dim, unit, label);
    int li = s ? -1 : find_label(&c->s, label), added = 0;
    if (!s && li < 0) {
        s = store_add_label(&c->s, label, &li);
        added = !s;
        if (added && !c->s.gallery) c->s.thresholds[li] = threshold;
    }
    if (!s) s = store_push(&c->s, li, source, unit);
    if (s && added) free(c->s.labels[--c->s.n_labels]);
    free(unit);
    if (!s && added) s = hier_build(&c->h, c->s.labels, c->s.n_labels);
    return s;
}

/* ------------------------------------------------------------ prototypes */

pe_status pe_protos_create(const pe_model *m, pe_protos **out) {
    pe_status s = out && m ? PE_OK : pe_error(PE_ERR_INVALID_ARG, "pe_protos_create: %s is NULL", out ? "model" : "out");
    if (out) *out = s ? NULL : (pe_protos *)classes_new(sizeof **out, m, NULL, 0, &s);
    return s;
}

void pe_protos_free(pe_protos *p) { classes_free(p ? &p->c : NULL); }

pe_status pe_protos_add(pe_protos *p, const char *label, const float *emb, int dim,
                        float threshold) {
    if (!p || !label || !emb) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_add: NULL argument");
    if (dim != p->c.s.id.dim)
        return pe_error(PE_ERR_SHAPE, "class '%s': embedding of %d floats, the pack holds %d",
                        label, dim, p->c.s.id.dim);
    if (!(threshold >= -1.0f && threshold <= 1.0f))
        return pe_error(PE_ERR_INVALID_ARG, "class '%s': threshold %g is not a cosine in [-1, 1]",
                        label, (double)threshold);
    if (find_label(&p->c.s, label) >= 0)
        return pe_error(PE_ERR_INVALID_ARG, "class '%s' is already in the pack", label);
    return classes_add(&p->c, label, NULL, emb, dim, threshold);
}

pe_status pe_protos_add_text(pe_protos *p, pe_ctx *c, const pe_tokenizer *t,
                             const char *const *labels, int n_labels,
                             const char *const *templates, int n_templates) {
    if (!p || !c || !t || !labels || n_labels < 1)
        return pe_error(PE_ERR_INVALID_ARG, "pe_protos_add_text: NULL argument or no labels");
    pe_status s = check_identity(&p->c.s.id, c->m, "the prototype pack");
    if (s) return s;
    if (c->m->info.has_text && c->m->info.text_out_dim != p->c.s.id.dim)
        return pe_error(PE_ERR_UNSUPPORTED, "text embeddings have %d floats, image ones %d",
                        c->m->info.text_out_dim, p->c.s.id.dim);
    float *e = malloc((size_t)p->c.s.id.dim * sizeof(float));
    if (!e) return pe_error(PE_ERR_NOMEM, "out of memory");
    for (int i = 0; !s && i < n_labels; i++) {
        if (!labels[i]) { s = pe_error(PE_ERR_INVALID_ARG, "label %d is NULL", i); break; }
        if (find_label(&p->c.s, labels[i]) >= 0) {
            s = pe_error(PE_ERR_INVALID_ARG, "class '%s' is given twice", labels[i]);
            break;
        }
        s = pe_text_class_embedding(c, t, labels[i], templates, n_templates, e,
                                    (size_t)p->c.s.id.dim);
        if (!s) s = pe_protos_add(p, labels[i], e, p->c.s.id.dim, PE_NO_THRESHOLD);
    }
    free(e);
    return s;
}

pe_status pe_protos_set_threshold(pe_protos *p, const char *label, float threshold) {
    if (!p || !label) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_set_threshold: NULL argument");
    if (!(threshold >= -1.0f && threshold <= 1.0f))
        return pe_error(PE_ERR_INVALID_ARG, "class '%s': threshold %g is not a cosine in [-1, 1]",
                        label, (double)threshold);
    int i = find_label(&p->c.s, label);
    if (i < 0) return pe_error(PE_ERR_NOT_FOUND, "no class '%s' in the pack", label);
    p->c.s.thresholds[i] = threshold;
    return PE_OK;
}

int pe_protos_count(const pe_protos *p) { return p ? p->c.s.count : 0; }

const char *pe_protos_label(const pe_protos *p, int i) {
    return p && i >= 0 && i < p->c.s.n_labels ? p->c.s.labels[i] : NULL;
}

float pe_protos_threshold(const pe_protos *p, int i) {
    return p && i >= 0 && i < p->c.s.n_labels ? p->c.s.thresholds[i] : PE_NO_THRESHOLD;
}

const float *pe_protos_embedding(const pe_protos *p, int i) {
    return p && i >= 0 && i < p->c.s.count ? p->c.s.emb + (size_t)i * p->c.s.id.dim : NULL;
}

pe_status pe_protos_identity(const pe_protos *p, pe_model_identity *id) {
    if (!p || !id) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_identity: NULL argument");
    *id = p->c.s.id;
    return PE_OK;
}

pe_status pe_protos_save(const pe_protos *p, const char *path) {
    if (!p) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_save: NULL argument");
    if (!p->c.s.count) return pe_error(PE_ERR_INVALID_ARG, "the prototype pack has no classes");
    return pe_store_save(&p->c.s, path);
}

pe_status pe_protos_load(const char *path, pe_protos **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_load: out is NULL");
    pe_status s;
    *out = (pe_protos *)classes_new(sizeof **out, NULL, path, 0, &s);
    return s;
}

pe_status pe_protos_check_model(const pe_protos *p, const pe_model *m) {
    if (!p) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_check_model: NULL argument");
    return check_identity(&p->c.s.id, m, "the prototype pack");
}

/* ------------------------------------------------------------ ranking */

typedef struct ranked {
    double key;
    int idx;
} ranked;

static int by_key_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static pe_status check_query(const pe_store *s, const float *emb, int dim, int top_k,
                             pe_classification *out) {
    if (!emb || !out) return pe_error(PE_ERR_INVALID_ARG, "classify: NULL argument");
    if (dim != s->id.dim)
        return pe_error(PE_ERR_SHAPE, "embedding of %d floats, the %s holds %d", dim,
                        s->gallery ? "gallery" : "prototype pack", s->id.dim);
    if (top_k < 1 || top_k > PE_CLASSIFY_MAX_TOP)
        return pe_error(PE_ERR_INVALID_ARG, "top-k %d is not in 1..%d", top_k, PE_CLASSIFY_MAX_TOP);
    if (!s->count)
        return pe_error(PE_ERR_INVALID_ARG, "the %s is empty",
                        s->gallery ? "gallery" : "prototype pack");
    return PE_OK;
}

pe_status pe_protos_classify(const pe_protos *p, const float *emb, int dim, int top_k,
                             pe_classification *out) {
    if (!p) return pe_error(PE_ERR_INVALID_ARG, "pe_protos_classify: NULL argument");
    const pe_store *s = &p->c.s;
    pe_status st = check_query(s, emb, dim, top_k, out);
    if (st) return st;
    memset(out, 0, sizeof *out);
    int n = s->count;
    float *q = malloc((size_t)dim * sizeof(float));
    ranked *r = malloc((size_t)n * sizeof *r);
    double *prob = malloc((size_t)n * sizeof(double));
    double *cs = calloc((size_t)p->c.h.n_coarse + 1, sizeof(double));
    if (!q || !r || !prob || !cs) st = pe_error(PE_ERR_NOMEM, "out of memory");
    if (!st) st = normalise(emb, dim, q, "image");
    if (!st) {
        /* softmax of logit_scale * cosine, max-subtracted */
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++) {
            float cosv = dot(q, s->emb + (size_t)i * dim, dim);
            r[i].key = (double)s->logit_scale * cosv;
            r[i].idx = i;
            mx = r[i].key > mx ? r[i].key : mx;
        }
        for (int i = 0; i < n; i++) sum += prob[i] = exp(r[i].key - mx);
        for (int i = 0; i < n; i++) prob[i] /= sum;
        qsort(r, (size_t)n, sizeof *r, by_key_desc);
        out->n_top = PE_MIN(top_k, n);
        for (int i = 0; i < out->n_top; i++) {
            int c = r[i].idx;
            out->top[i] = (pe_label_score){s->labels[c], c, (float)prob[c], (float)r[i].key};
        }
        int best = r[0].idx;
        out->unknown = s->thresholds[best] > PE_NO_THRESHOLD &&
                       r[0].key / s->logit_scale < s->thresholds[best];
        if (p->c.h.any) {
            int nc = p->c.h.n_coarse;
            for (int i = 0; i < n; i++) cs[p->c.h.coarse_of[i]] += prob[i];
            for (int i = 0; i < nc; i++) r[i] = (ranked){cs[i], i};
            qsort(r, (size_t)nc, sizeof *r, by_key_desc);
            out->n_coarse = PE_MIN(top_k, nc);
            for (int i = 0; i < out->n_coarse; i++)
                out->coarse[i] = (pe_label_score){p->c.h.coarse[r[i].idx], r[i].idx,
                                                  (float)r[i].key, (float)log(r[i].key)};
        }
    }
    free(q);
    free(r);
    free(prob);
    free(cs);
    return st;
}

/* ------------------------------------------------------------ galleries */

pe_status pe_gallery_create(const pe_model *m, pe_gallery **out) {
    pe_status s = out && m ? PE_OK : pe_error(PE_ERR_INVALID_ARG, "pe_gallery_create: %s is NULL", out ? "model" : "out");
    if (out) *out = s ? NULL : (pe_gallery *)classes_new(sizeof **out, m, NULL, 1, &s);
    return s;
}

void pe_gallery_free(pe_gallery *g) { classes_free(g ? &g->c : NULL); }

pe_status pe_gallery_add(pe_gallery *g, const char *label, const char *source, const float *emb,
                         int dim) {
    if (!g || !label || !emb) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_add: NULL argument");
    if (dim != g->c.s.id.dim)
        return pe_error(PE_ERR_SHAPE, "embedding of %d floats, the gallery holds %d", dim,
                        g->c.s.id.dim);
    if (source && strlen(source) > 4096)
        return pe_error(PE_ERR_LIMIT, "source name of %zu bytes (max 4096)", strlen(source));
    return classes_add(&g->c, label, source, emb, dim, PE_NO_THRESHOLD);
}

pe_status pe_gallery_remove(pe_gallery *g, const char *label, int *removed) {
    if (removed) *removed = 0;
    if (!g || !label) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_remove: NULL argument");
    pe_store *s = &g->c.s;
    int li = find_label(s, label);
    if (li < 0) return pe_error(PE_ERR_NOT_FOUND, "no label '%s' in the gallery", label);
    int w = 0, dim = s->id.dim;
    for (int i = 0; i < s->count; i++) {
        if (s->label_of[i] == li) {
            free(s->sources[i]);
            continue;
        }
        s->sources[w] = s->sources[i];
        s->label_of[w] = s->label_of[i] - (s->label_of[i] > li);
        memmove(s->emb + (size_t)w * dim, s->emb + (size_t)i * dim, (size_t)dim * sizeof(float));
        w++;
    }
    if (removed) *removed = s->count - w;
    s->count = w;
    free(s->labels[li]);
    memmove(s->labels + li, s->labels + li + 1, (size_t)(s->n_labels - li - 1) * sizeof(char *));
    s->n_labels--;
    return hier_build(&g->c.h, s->labels, s->n_labels);
}

int pe_gallery_count(const pe_gallery *g) { return g ? g->c.s.count : 0; }
int pe_gallery_label_count(const pe_gallery *g) { return g ? g->c.s.n_labels : 0; }

const char *pe_gallery_label(const pe_gallery *g, int i) {
    return g && i >= 0 && i < g->c.s.n_labels ? g->c.s.labels[i] : NULL;
}

pe_status pe_gallery_entry(const pe_gallery *g, int i, const char **label, const char **source) {
    if (!g || i < 0 || i >= g->c.s.count)
        return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_entry: no entry %d", i);
    if (label) *label = g->c.s.labels[g->c.s.label_of[i]];
    if (source) *source = g->c.s.sources[i];
    return PE_OK;
}

pe_status pe_gallery_identity(const pe_gallery *g, pe_model_identity *id) {
    if (!g || !id) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_identity: NULL argument");
    *id = g->c.s.id;
    return PE_OK;
}

pe_status pe_gallery_save(const pe_gallery *g, const char *path) {
    if (!g) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_save: NULL argument");
    return pe_store_save(&g->c.s, path);
}

pe_status pe_gallery_load(const char *path, pe_gallery **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_load: out is NULL");
    pe_status s;
    *out = (pe_gallery *)classes_new(sizeof **out, NULL, path, 1, &s);
    return s;
}

pe_status pe_gallery_check_model(const pe_gallery *g, const pe_model *m) {
    if (!g) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_check_model: NULL argument");
    return check_identity(&g->c.s.id, m, "the gallery");
}

pe_status pe_gallery_classify(const pe_gallery *g, const float *emb, int dim, int k,
                              pe_metric metric, int top_k, pe_classification *out) {
    if (!g) return pe_error(PE_ERR_INVALID_ARG, "pe_gallery_classify: NULL argument");
    const pe_store *s = &g->c.s;
    pe_status st = check_query(s, emb, dim, top_k, out);
    if (st) return st;
    if (k < 1 || k > PE_CLASSIFY_MAX_TOP)
        return pe_error(PE_ERR_INVALID_ARG, "k %d is not in 1..%d", k, PE_CLASSIFY_MAX_TOP);
    if (metric != PE_METRIC_COSINE && metric != PE_METRIC_L2)
        return pe_error(PE_ERR_INVALID_ARG, "unknown metric %d", (int)metric);
    memset(out, 0, sizeof *out);
    float *q = malloc((size_t)dim * sizeof(float));
    if (!q) return pe_error(PE_ERR_NOMEM, "out of memory");
    if ((st = normalise(emb, dim, q, "image"))) { free(q); return st; }
    /* The k nearest by cosine, kept sorted by insertion (k is small).  On
     * unit vectors |a-b|^2 = 2 - 2cos, so both metrics rank alike. */
    ranked nn[PE_CLASSIFY_MAX_TOP];
    int m = 0;
    k = PE_MIN(k, s->count);
    for (int i = 0; i < s->count; i++) {
        double c = dot(q, s->emb + (size_t)i * dim, dim);
        if (m == k && c <= nn[m - 1].key) continue;
        int j = m < k ? m++ : m - 1;
        while (j > 0 && nn[j - 1].key < c) { nn[j] = nn[j - 1]; j--; }
        nn[j] = (ranked){c, i};
    }
    free(q);
    /* Votes: at most k distinct labels, in order of their nearest entry. */
    int vl[PE_CLASSIFY_MAX_TOP], nv = 0;
    double vw[PE_CLASSIFY_MAX_TOP], total = 0;
    for (int i = 0; i < m; i++) {
        int e = nn[i].idx, li = s->label_of[e];
        double c = nn[i].key < -1 ? -1 : nn[i].key > 1 ? 1 : nn[i].key;
        double d = sqrt(2.0 - 2.0 * c);
        double w = metric == PE_METRIC_COSINE ? (1.0 + c) / 2.0 : 1.0 / (1e-6 + d);
        out->neighbors[i] = (pe_neighbor){s->labels[li], s->sources[e], e, (float)c, (float)d};
        int j = 0;
        while (j < nv && vl[j] != li) j++;
        if (j == nv) { vl[nv] = li; vw[nv++] = 0; }
        vw[j] += w;
        total += w;
    }
    out->n_neighbors = m;
    if (!(total > 0)) total = 1; /* every weight 0: all opposite; shares stay 0 */
    ranked r[PE_CLASSIFY_MAX_TOP];
    /* ties keep the order of the nearest neighbour: idx = first-seen rank */
    for (int j = 0; j < nv; j++) r[j] = (ranked){vw[j], j};
    qsort(r, (size_t)nv, sizeof *r, by_key_desc);
    out->n_top = PE_MIN(top_k, nv);
    for (int i = 0; i < out->n_top; i++) {
        int li = vl[r[i].idx];
        out->top[i] = (pe_label_score){s->labels[li], li, (float)(r[i].key / total),
                                       (float)r[i].key};
    }
    if (g->c.h.any) {
        int cl[PE_CLASSIFY_MAX_TOP], nc = 0;
        double cw[PE_CLASSIFY_MAX_TOP];
        for (int j = 0; j < nv; j++) {
            int ci = g->c.h.coarse_of[vl[j]], x = 0;
            while (x < nc && cl[x] != ci) x++;
            if (x == nc) { cl[nc] = ci; cw[nc++] = 0; }
            cw[x] += vw[j];
        }
        for (int j = 0; j < nc; j++) r[j] = (ranked){cw[j], j};
        qsort(r, (size_t)nc, sizeof *r, by_key_desc);
        out->n_coarse = PE_MIN(top_k, nc);
        for (int i = 0; i < out->n_coarse; i++) {
            int ci = cl[r[i].idx];
            out->coarse[i] = (pe_label_score){g->c.h.coarse[ci], ci, (float)(r[i].key / total),
                                              (float)r[i].key};
        }
    }
    return PE_OK;
}
