/* Every PE variant (docs/pe.md) against an independent, naive double-precision
 * forward pass written straight from the spec: no cls token (RoPE offset 0),
 * LayerScale, no pooling (token output), no ln_post, no proj, patch 14,
 * head size 16 and 24, fractional MLP ratio, non-square inputs (position
 * embedding resampling), official and bare names.  Small random models are
 * written with the library's safetensors writer into a temporary directory. */
#include "test.h"

#include "format/safetensors.h"
#include "pecore.h"

#include <math.h>
#include <unistd.h>

typedef struct variant {
    const char *name;
    int P, W, L, heads, M, G, cls, ln_post, pool, proj_dim, ls, D_pool_mlp;
    const char *prefix;
} variant;

/* ------------------------------------------------------------ model files */

typedef struct tlist { pe_st_out t[256]; float *bufs[256]; char names[256][96]; int n; } tlist;

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) { /* xorshift64, uniform in [-1, 1) */
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1.0p-52 - 1.0;
}

static void add(tlist *l, const char *prefix, const char *name, int rank, int64_t d0, int64_t d1,
                int64_t d2, int64_t d3, double mean, double scale) {
    int64_t d[4] = {d0, d1, d2, d3};
    size_t n = 1;
    pe_st_out *t = &l->t[l->n];
    snprintf(l->names[l->n], sizeof l->names[0], "%s%s", prefix, name);
    t->name = l->names[l->n];
    t->dtype = PE_DT_F32;
    t->rank = rank;
    for (int i = 0; i < rank; i++) { t->shape[i] = d[i]; n *= (size_t)d[i]; }
    float *b = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) b[i] = (float)(mean + scale * urand());
    t->data = l->bufs[l->n] = b;
    l->n++;
}

static void write_model(const variant *v, const char *path) {
    tlist l = {0};
    const char *p = v->prefix;
    const int W = v->W, T0 = v->cls + v->G * v->G;
    if (v->cls) add(&l, p, "class_embedding", 1, W, 0, 0, 0, 0, 1);
    add(&l, p, "positional_embedding", 2, T0, W, 0, 0, 0, 0.5);
    add(&l, p, "conv1.weight", 4, W, 3, v->P, v->P, 0, 1.0 / v->P);
    add(&l, p, "ln_pre.weight", 1, W, 0, 0, 0, 1, 0.1);
    add(&l, p, "ln_pre.bias", 1, W, 0, 0, 0, 0, 0.1);
    for (int i = 0; i < v->L; i++) {
        char b[64];
        const double sw = 1.7 / sqrt(W), sm = 1.7 / sqrt(v->M);
#define BLK(n, r, a, c, mean, sc) snprintf(b, sizeof b, "%stransformer.resblocks.%d." n, p, i), add(&l, "", b, r, a, c, 0, 0, mean, sc)
        BLK("ln_1.weight", 1, W, 0, 1, 0.1);
        BLK("ln_1.bias", 1, W, 0, 0, 0.1);
        BLK("attn.in_proj_weight", 2, 3 * W, W, 0, sw);
        BLK("attn.in_proj_bias", 1, 3 * W, 0, 0, 0.1);
        BLK("attn.out_proj.weight", 2, W, W, 0, sw);
        BLK("attn.out_proj.bias", 1, W, 0, 0, 0.1);
        BLK("ln_2.weight", 1, W, 0, 1, 0.1);
        BLK("ln_2.bias", 1, W, 0, 0, 0.1);
        BLK("mlp.c_fc.weight", 2, v->M, W, 0, sw);
        BLK("mlp.c_fc.bias", 1, v->M, 0, 0, 0.1);
        BLK("mlp.c_proj.weight", 2, W, v->M, 0, sm);
        BLK("mlp.c_proj.bias", 1, W, 0, 0, 0.1);
        if (v->ls) { BLK("ls_1.gamma", 1, W, 0, 0.5, 0.3); BLK("ls_2.gamma", 1, W, 0, 0.5, 0.3); }
#undef BLK
    }
    if (v->ln_post) {
        add(&l, p, "ln_post.weight", 1, W, 0, 0, 0, 1, 0.1);
        add(&l, p, "ln_post.bias", 1, W, 0, 0, 0, 0, 0.1);
    }
    if (v->pool) {
        const double sw = 1.7 / sqrt(W);
        add(&l, p, "attn_pool.probe", 3, 1, 1, W, 0, 0, 1);
        add(&l, p, "attn_pool.attn.in_proj_weight", 2, 3 * W, W, 0, 0, 0, sw);
        add(&l, p, "attn_pool.attn.in_proj_bias", 1, 3 * W, 0, 0, 0, 0, 0.1);
        add(&l, p, "attn_pool.attn.out_proj.weight", 2, W, W, 0, 0, 0, sw);
        add(&l, p, "attn_pool.attn.out_proj.bias", 1, W, 0, 0, 0, 0, 0.1);
        add(&l, p, "attn_pool.layernorm.weight", 1, W, 0, 0, 0, 1, 0.1);
        add(&l, p, "attn_pool.layernorm.bias", 1, W, 0, 0, 0, 0, 0.1);
        add(&l, p, "attn_pool.mlp.c_fc.weight", 2, v->D_pool_mlp, W, 0, 0, 0, sw);
        add(&l, p, "attn_pool.mlp.c_fc.bias", 1, v->D_pool_mlp, 0, 0, 0, 0, 0.1);
        add(&l, p, "attn_pool.mlp.c_proj.weight", 2, W, v->D_pool_mlp, 0, 0, 0, 1.7 / sqrt(v->D_pool_mlp));
        add(&l, p, "attn_pool.mlp.c_proj.bias", 1, W, 0, 0, 0, 0, 0.1);
        if (v->proj_dim) add(&l, p, "proj", 2, W, v->proj_dim, 0, 0, 0, 1.7 / sqrt(W));
    }
    char heads[16];
    snprintf(heads, sizeof heads, "%d", v->heads);
    pe_st_meta meta[] = {{"vision_heads", heads}, {"attn_pooler_heads", "8"}};
    pe_status s = pe_st_write(path, l.t, l.n, meta, 2);
    CHECK(s == PE_OK, "%s: write: %s", v->name, pe_last_error());
    for (int i = 0; i < l.n; i++) free(l.bufs[i]);
}

/* ------------------------------------------------------------ reference */

static const float *tw(const pe_safetensors *st, const char *prefix, const char *fmt, int i) {
    char name[160], rest[128];
    snprintf(rest, sizeof rest, fmt, i);
    snprintf(name, sizeof name, "%s%s", prefix, rest);
    const pe_st_tensor *t = pe_st_find(st, name);
    return t ? (const float *)t->data : NULL;
}

static void ref_ln(double *x, int rows, int n, const float *w, const float *b) {
    for (int r = 0; r < rows; r++) {
        double *v = x + (size_t)r * n, mean = 0, var = 0;
        for (int i = 0; i < n; i++) mean += v[i];
        mean /= n;
        for (int i = 0; i < n; i++) var += (v[i] - mean) * (v[i] - mean);
        var /= n;
        for (int i = 0; i < n; i++) v[i] = (v[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i];
    }
}

/* y[r][o] = sum_i x[r][i] w[o][i] + b[o] (w row stride in, offset rows) */
static void ref_linear(const double *x, int rows, int in, const float *w, const float *b,
                       int out, double *y) {
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < in; i++) s += x[(size_t)r * in + i] * w[(size_t)o * in + i];
            y[(size_t)r * out + o] = s;
        }
}

static void ref_mha(const double *q, int Tq, const double *k, const double *v, int Tk, int W,
                    int heads, double *o) {
    int dh = W / heads;
    double *p = malloc((size_t)Tk * sizeof(double));
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < Tq; i++) {
            double mx = -1e300, sum = 0;
            for (int j = 0; j < Tk; j++) {
                double s = 0;
                for (int d = 0; d < dh; d++) s += q[(size_t)i * W + h * dh + d] * k[(size_t)j * W + h * dh + d];
                p[j] = s / sqrt(dh);
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < Tk; j++) sum += (p[j] = exp(p[j] - mx));
            for (int d = 0; d < dh; d++) {
                double acc = 0;
                for (int j = 0; j < Tk; j++) acc += p[j] * v[(size_t)j * W + h * dh + d];
                o[(size_t)i * W + h * dh + d] = acc / sum;
            }
        }
    free(p);
}

static void ref_rope(double *x, int T, int W, int heads, int cls, int gw) {
    int dh = W / heads, half = dh / 2, quarter = dh / 4;
    for (int t = cls; t < T; t++) {
        int y = (t - cls) / gw + cls, xx = (t - cls) % gw + cls;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++) {
                int j = i < quarter ? i : i - quarter;
                double a = (i < quarter ? xx : y) * pow(10000.0, -2.0 * j / half);
                double *pr = x + (size_t)t * W + h * dh + 2 * i, x0 = pr[0], x1 = pr[1];
                pr[0] = x0 * cos(a) - x1 * sin(a);
                pr[1] = x1 * cos(a) + x0 * sin(a);
            }
    }
}

static double gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

/* Returns tokens [T, W] (pool == 0) or the embedding. */
static double *ref_forward(const variant *v, const pe_safetensors *st, const float *img, int H,
                           int Wd, int *out_len) {
    const char *p = v->prefix;
    const int W = v->W, P = v->P, gh = H / P, gw = Wd / P, cls = v->cls, T = cls + gh * gw;
    double *x = calloc((size_t)T * W, sizeof(double)), *h = calloc((size_t)T * W, sizeof(double));
    double *qkv = calloc((size_t)T * 3 * W, sizeof(double)), *m = calloc((size_t)T * v->M, sizeof(double));
    double *q = calloc((size_t)T * W, sizeof(double)), *k = calloc((size_t)T * W, sizeof(double));
    double *vv = calloc((size_t)T * W, sizeof(double)), *a = calloc((size_t)T * W, sizeof(double));
    const float *conv = tw(st, p, "conv1.weight", 0), *pos = tw(st, p, "positional_embedding", 0);
    for (int gy = 0; gy < gh; gy++)
        for (int gx = 0; gx < gw; gx++)
            for (int o = 0; o < W; o++) {
                double s = 0;
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < P; ky++)
                        for (int kx = 0; kx < P; kx++)
                            s += (double)img[((size_t)c * H + gy * P + ky) * Wd + gx * P + kx] *
                                 conv[(((size_t)o * 3 + c) * P + ky) * P + kx];
                /* position: bilinear, align_corners = False, edge clamped */
                double sy = fmax(0, (gy + 0.5) * v->G / gh - 0.5), sx = fmax(0, (gx + 0.5) * v->G / gw - 0.5);
                int y0 = (int)sy, x0 = (int)sx, y1 = y0 + (y0 < v->G - 1), x1 = x0 + (x0 < v->G - 1);
                double ly = sy - y0, lx = sx - x0;
#define PE(yy, xx) pos[((size_t)cls + (size_t)(yy) * v->G + (xx)) * W + o]
                s += (1 - ly) * ((1 - lx) * PE(y0, x0) + lx * PE(y0, x1)) + ly * ((1 - lx) * PE(y1, x0) + lx * PE(y1, x1));
#undef PE
                x[((size_t)cls + gy * gw + gx) * W + o] = s;
            }
    if (cls)
        for (int o = 0; o < W; o++) x[o] = tw(st, p, "class_embedding", 0)[o] + pos[o];
    ref_ln(x, T, W, tw(st, p, "ln_pre.weight", 0), tw(st, p, "ln_pre.bias", 0));
    for (int L = 0; L < v->L; L++) {
#define BW(n) tw(st, p, "transformer.resblocks.%d." n, L)
        memcpy(h, x, (size_t)T * W * sizeof(double));
        ref_ln(h, T, W, BW("ln_1.weight"), BW("ln_1.bias"));
        ref_linear(h, T, W, BW("attn.in_proj_weight"), BW("attn.in_proj_bias"), 3 * W, qkv);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < W; i++) {
                q[(size_t)t * W + i] = qkv[(size_t)t * 3 * W + i];
                k[(size_t)t * W + i] = qkv[(size_t)t * 3 * W + W + i];
                vv[(size_t)t * W + i] = qkv[(size_t)t * 3 * W + 2 * W + i];
            }
        ref_rope(q, T, W, v->heads, cls, gw);
        ref_rope(k, T, W, v->heads, cls, gw);
        ref_mha(q, T, k, vv, T, W, v->heads, a);
        ref_linear(a, T, W, BW("attn.out_proj.weight"), BW("attn.out_proj.bias"), W, h);
        const float *ls1 = v->ls ? BW("ls_1.gamma") : NULL, *ls2 = v->ls ? BW("ls_2.gamma") : NULL;
        for (size_t i = 0; i < (size_t)T * W; i++) x[i] += (ls1 ? ls1[i % W] : 1) * h[i];
        memcpy(h, x, (size_t)T * W * sizeof(double));
        ref_ln(h, T, W, BW("ln_2.weight"), BW("ln_2.bias"));
        ref_linear(h, T, W, BW("mlp.c_fc.weight"), BW("mlp.c_fc.bias"), v->M, m);
        for (size_t i = 0; i < (size_t)T * v->M; i++) m[i] = gelu(m[i]);
        ref_linear(m, T, v->M, BW("mlp.c_proj.weight"), BW("mlp.c_proj.bias"), W, h);
        for (size_t i = 0; i < (size_t)T * W; i++) x[i] += (ls2 ? ls2[i % W] : 1) * h[i];
#undef BW
    }
    if (v->ln_post) ref_ln(x, T, W, tw(st, p, "ln_post.weight", 0), tw(st, p, "ln_post.bias", 0));
    double *res = x;
    *out_len = T * W;
    if (v->pool) {
        const float *wi = tw(st, p, "attn_pool.attn.in_proj_weight", 0), *bi = tw(st, p, "attn_pool.attn.in_proj_bias", 0);
        double probe[1024], pq[1024], pa[1024], ph[1024], y[1024], hid[4096];
        for (int i = 0; i < W; i++) probe[i] = tw(st, p, "attn_pool.probe", 0)[i];
        ref_linear(probe, 1, W, wi, bi, W, pq);
        ref_linear(x, T, W, wi + (size_t)W * W, bi + W, W, k);
        ref_linear(x, T, W, wi + (size_t)2 * W * W, bi + 2 * W, W, vv);
        ref_mha(pq, 1, k, vv, T, W, 8, pa);
        ref_linear(pa, 1, W, tw(st, p, "attn_pool.attn.out_proj.weight", 0), tw(st, p, "attn_pool.attn.out_proj.bias", 0), W, y);
        memcpy(ph, y, (size_t)W * sizeof(double));
        ref_ln(ph, 1, W, tw(st, p, "attn_pool.layernorm.weight", 0), tw(st, p, "attn_pool.layernorm.bias", 0));
        ref_linear(ph, 1, W, tw(st, p, "attn_pool.mlp.c_fc.weight", 0), tw(st, p, "attn_pool.mlp.c_fc.bias", 0), v->D_pool_mlp, hid);
        for (int i = 0; i < v->D_pool_mlp; i++) hid[i] = gelu(hid[i]);
        ref_linear(hid, 1, v->D_pool_mlp, tw(st, p, "attn_pool.mlp.c_proj.weight", 0), tw(st, p, "attn_pool.mlp.c_proj.bias", 0), W, ph);
        for (int i = 0; i < W; i++) y[i] += ph[i];
        res = calloc(1024, sizeof(double));
        if (v->proj_dim) {
            const float *pr = tw(st, p, "proj", 0); /* [W, D], used as y @ proj */
            for (int d = 0; d < v->proj_dim; d++) {
                double s = 0;
                for (int i = 0; i < W; i++) s += y[i] * pr[(size_t)i * v->proj_dim + d];
                res[d] = s;
            }
            *out_len = v->proj_dim;
        } else {
            memcpy(res, y, (size_t)W * sizeof(double));
            *out_len = W;
        }
        free(x);
    }
    free(h); free(qkv); free(m); free(q); free(k); free(vv); free(a);
    return res;
}

/* ------------------------------------------------------------ cases */

/* q8: the same model quantized (int8 linears and int8 attention), held to
 * the quantization target instead of the float tolerances. */
static void run(const variant *v, const char *dir, int H, int Wd, int q8) {
    char path[512], src[512];
    snprintf(src, sizeof src, "%s/%s.safetensors", dir, v->name);
    if (access(src, F_OK) != 0) write_model(v, src);
    snprintf(path, sizeof path, "%s/%s%s.safetensors", dir, v->name, q8 ? "-q8" : "");
    if (q8 && access(path, F_OK) != 0)
        CHECK(pe_quantize(src, path, &(pe_quantize_options){.type = PE_WEIGHTS_Q8}) == PE_OK,
              "%s: quantize: %s", v->name, pe_last_error());
    pe_model *m = NULL;
    pe_ctx *c = NULL;
    pe_status s = pe_model_load(path, NULL, &m);
    CHECK(s == PE_OK, "%s: load: %s", v->name, pe_last_error());
    if (s) return;
    pe_model_info in;
    pe_model_get_info(m, &in);
    CHECK(in.has_cls == v->cls && in.has_layerscale == v->ls && in.has_ln_post == v->ln_post &&
          (in.pool == PE_POOL_ATTN) == v->pool && in.heads == v->heads && in.mlp == v->M &&
          in.patch == v->P && in.grid == v->G && in.has_proj == (v->proj_dim > 0),
          "%s: inferred architecture differs", v->name);
    pe_ctx_options co = {.n_threads = 2};
    pe_ctx_create(m, &co, &c);
    float *img = malloc((size_t)3 * H * Wd * sizeof(float));
    for (size_t i = 0; i < (size_t)3 * H * Wd; i++) img[i] = (float)urand();
    pe_output kind = v->pool ? PE_OUTPUT_EMBEDDING : PE_OUTPUT_TOKENS;
    int rows, cols;
    s = pe_output_shape(m, H, Wd, kind, &rows, &cols);
    size_t n = (size_t)rows * cols;
    float *out = malloc(n * sizeof(float));
    if (!s) s = pe_encode_f32(c, img, 1, H, Wd, kind, out, n);
    CHECK(s == PE_OK, "%s %dx%d: %s", v->name, H, Wd, pe_last_error());
    pe_safetensors st;
    if (!s && pe_st_open(&st, src) == PE_OK) {
        int len;
        double *ref = ref_forward(v, &st, img, H, Wd, &len);
        CHECK((size_t)len == n, "%s: %zu outputs, reference has %d", v->name, n, len);
        double ab = 0, aa = 0, bb = 0, md = 0, mr = 0;
        for (size_t i = 0; i < n && (size_t)len == n; i++) {
            ab += out[i] * ref[i]; aa += (double)out[i] * out[i]; bb += ref[i] * ref[i];
            md = fmax(md, fabs(out[i] - ref[i])); mr = fmax(mr, fabs(ref[i]));
        }
        double cs = ab / sqrt(aa * bb);
        /* fp32 against fp64 on a few layers: the golden tolerances; q8: the
         * cosine target of quantized models */
        if (q8)
            CHECK(cs >= 0.999, "%s q8 %dx%d: cosine %.8f", v->name, H, Wd, cs);
        else
            CHECK(cs >= 0.99999 && md / mr <= 1e-4, "%s %dx%d: cosine %.8f, rel %.2e", v->name, H, Wd, cs,
                  md / mr);
        printf("  %-28s %3dx%-3d %s cos %.8f rel %.2e\n", v->name, H, Wd, q8 ? "q8 " : "f32", cs, md / mr);
        free(ref);
        pe_st_close(&st);
    }
    free(img);
    free(out);
    pe_ctx_free(c);
    pe_model_free(m);
}

int main(void) {
    char dir[] = "/tmp/pecore-variants-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return test_done("variants"); }
    static const variant vs[] = {
        /* name             P   W   L  heads M   G  cls lnp pool proj ls pool-mlp prefix */
        {"core-cls",        16, 64, 2, 2,  256, 4, 1,  1,  1,   32,  0, 256, ""},
        {"core-nocls-g14",  14, 96, 2, 4,  224, 3, 0,  1,  1,   40,  0, 384, "visual."},
        {"lang-ls-nopool",  14, 48, 3, 3,  120, 4, 1,  0,  0,   0,   1, 0,   ""},
        {"spatial-nocls-ls", 16, 64, 2, 4, 160, 3, 0,  0,  0,   0,   1, 0,   "module."},
        {"pool-noproj",     16, 64, 1, 2,  96,  2, 1,  1,  1,   0,   0, 256, ""},
    };
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++) {
        const variant *v = &vs[i];
        int S = v->G * v->P;
        for (int q8 = 0; q8 <= 1; q8++) {
            run(v, dir, S, S, q8);               /* native grid */
            run(v, dir, S + v->P, S - v->P, q8); /* resampled, non-square */
            run(v, dir, v->P, 3 * v->P, q8);     /* one row of patches */
        }
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_done("variants");
}
