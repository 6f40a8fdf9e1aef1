/*
 * pecore_jni.c — the JNI glue behind dev.pecore (bindings/java/src).
 *
 * Every entry point checks its handles (0 = closed), sizes and buffers,
 * calls the C API once and turns a failing pe_status into a
 * dev.pecore.PecoreException carrying the status and pe_last_error().
 * Pixels and outputs are direct ByteBuffers read and written in place; the
 * buffer's capacity is the size the library checks against.  Strings come
 * as NUL-terminated UTF-8 byte arrays and go back as byte arrays (JNI's
 * modified UTF-8 cannot carry characters outside the BMP).
 * The Java classes hold the locks; nothing here keeps state but the class
 * and method ids cached at load time.
 */
#include <jni.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pecore.h"
#include "dev_pecore_Native.h"

static jclass g_exc, g_info, g_classification, g_bytes;
static jmethodID g_exc_make, g_info_new, g_classification_new;

static jclass global_class(JNIEnv *env, const char *name) {
    jclass c = (*env)->FindClass(env, name);
    if (!c) return NULL;
    jclass g = (*env)->NewGlobalRef(env, c);
    (*env)->DeleteLocalRef(env, c);
    return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
    if (!(g_exc = global_class(env, "dev/pecore/PecoreException")) ||
        !(g_info = global_class(env, "dev/pecore/ModelInfo")) ||
        !(g_classification = global_class(env, "dev/pecore/Classification")) ||
        !(g_bytes = global_class(env, "[B")))
        return JNI_ERR;
    g_exc_make = (*env)->GetStaticMethodID(env, g_exc, "fromNative",
                                           "(I[B)Ldev/pecore/PecoreException;");
    g_info_new = (*env)->GetMethodID(env, g_info, "<init>", "([B[B[B[IFJJJ)V");
    g_classification_new = (*env)->GetMethodID(env, g_classification, "<init>",
                                               "([[B[I[F[FZ[[B[I[F[F[[B[[B[I[F[F)V");
    if (!g_exc_make || !g_info_new || !g_classification_new) return JNI_ERR;
    return JNI_VERSION_1_6;
}

/* ---------------------------------------------------------------- errors */

static jbyteArray bytes_of(JNIEnv *env, const char *s) {
    if (!s) return NULL;
    jsize n = (jsize)strlen(s);
    jbyteArray b = (*env)->NewByteArray(env, n);
    if (b) (*env)->SetByteArrayRegion(env, b, 0, n, (const jbyte *)s);
    return b;
}

static void throw_message(JNIEnv *env, pe_status s, const char *msg) {
    if ((*env)->ExceptionCheck(env)) return;
    jbyteArray b = bytes_of(env, msg);
    if (!b) return; /* OutOfMemoryError pending */
    jthrowable e = (*env)->CallStaticObjectMethod(env, g_exc, g_exc_make, (jint)s, b);
    if (e && !(*env)->ExceptionCheck(env)) (*env)->Throw(env, e);
}

/* The library's status and message; returns 1 when it threw. */
static int failed(JNIEnv *env, pe_status s) {
    if (s == PE_OK) return 0;
    throw_message(env, s, pe_last_error());
    return 1;
}

static int fail(JNIEnv *env, pe_status s, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    throw_message(env, s, msg);
    return 1;
}

/* A handle from Java, or NULL after throwing: 0 is a closed object. */
static void *open_handle(JNIEnv *env, jlong h, const char *what) {
    if (h == 0) fail(env, PE_ERR_INVALID_ARG, "%s is closed", what);
    return (void *)(intptr_t)h;
}

#define HANDLE(type, var, h, what, ret)                              \
    type *var = open_handle(env, h, what);                           \
    if (!var) return ret

static jlong to_handle(const void *p) { return (jlong)(intptr_t)p; }

/* ---------------------------------------------------------------- strings */

/* A NUL-terminated UTF-8 byte array as a C string (malloc'd, free it);
 * NULL for a null array (after throwing unless nullable). */
static char *c_string(JNIEnv *env, jbyteArray a, int nullable, const char *what) {
    if (!a) {
        if (!nullable) fail(env, PE_ERR_INVALID_ARG, "%s is null", what);
        return NULL;
    }
    jsize n = (*env)->GetArrayLength(env, a);
    char *s = malloc((size_t)n + 1);
    if (!s) {
        fail(env, PE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
    s[n] = 0;
    if (n == 0 || memchr(s, 0, (size_t)n - 1) || s[n - 1]) {
        free(s);
        fail(env, PE_ERR_INVALID_ARG, "%s holds a NUL character", what);
        return NULL;
    }
    return s;
}

typedef struct strings {
    char **v;
    int n;
} strings;

static void strings_free(strings *s) {
    for (int i = 0; s->v && i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
}

/* byte[][] -> char *[]; a null array is n = 0.  Returns 1 when it threw. */
static int c_strings(JNIEnv *env, jobjectArray a, const char *what, strings *out) {
    out->v = NULL;
    out->n = a ? (*env)->GetArrayLength(env, a) : 0;
    if (out->n == 0) return 0;
    out->v = calloc((size_t)out->n, sizeof *out->v);
    if (!out->v) return fail(env, PE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < out->n; i++) {
        jbyteArray b = (*env)->GetObjectArrayElement(env, a, i);
        out->v[i] = c_string(env, b, 0, what);
        (*env)->DeleteLocalRef(env, b);
        if (!out->v[i]) {
            strings_free(out);
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- buffers */

/* A direct buffer's address and capacity; NULL after throwing. */
static uint8_t *direct(JNIEnv *env, jobject buf, const char *what, size_t *size) {
    if (!buf) {
        fail(env, PE_ERR_INVALID_ARG, "%s is null", what);
        return NULL;
    }
    uint8_t *p = (*env)->GetDirectBufferAddress(env, buf);
    jlong cap = (*env)->GetDirectBufferCapacity(env, buf);
    if (!p || cap < 0) {
        fail(env, PE_ERR_INVALID_ARG, "%s is not a direct ByteBuffer", what);
        return NULL;
    }
    *size = (size_t)cap;
    return p;
}

/* The output buffer for n floats. */
static float *out_floats(JNIEnv *env, jobject buf, jlong n) {
    size_t cap;
    uint8_t *p = direct(env, buf, "output buffer", &cap);
    if (!p) return NULL;
    if (n <= 0 || (uint64_t)n > cap / sizeof(float)) {
        fail(env, PE_ERR_SHAPE, "output buffer holds %zu floats, %lld needed",
             cap / sizeof(float), (long long)n);
        return NULL;
    }
    return (float *)(void *)p;
}

/* Preprocess.toNative(): height, width, crop, resample, resize, norm. */
static int get_pp(JNIEnv *env, jintArray a, pe_preprocess *pp) {
    jint v[6];
    if (!a || (*env)->GetArrayLength(env, a) != 6)
        return fail(env, PE_ERR_INVALID_ARG, "preprocess: 6 values expected");
    (*env)->GetIntArrayRegion(env, a, 0, 6, v);
    *pp = (pe_preprocess){.height = v[0], .width = v[1], .crop = (pe_crop)v[2],
                          .resample = (pe_resample)v[3], .resize = v[4],
                          .norm = (pe_normalize)v[5]};
    return 0;
}

/* A float[] of exactly dim values, read in place (callers make no other
 * JNI call before releasing it). */
static float *floats_critical(JNIEnv *env, jfloatArray a, int *dim) {
    if (!a) {
        fail(env, PE_ERR_INVALID_ARG, "embedding is null");
        return NULL;
    }
    *dim = (*env)->GetArrayLength(env, a);
    float *p = (*env)->GetPrimitiveArrayCritical(env, a, NULL);
    if (!p) fail(env, PE_ERR_NOMEM, "out of memory");
    return p;
}

static void floats_release(JNIEnv *env, jfloatArray a, float *p) {
    (*env)->ReleasePrimitiveArrayCritical(env, a, p, JNI_ABORT);
}

/* ---------------------------------------------------------------- library */

JNIEXPORT jstring JNICALL Java_dev_pecore_Native_version(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, pe_version());
}

JNIEXPORT jstring JNICALL Java_dev_pecore_Native_kernelIsa(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, pe_kernel_isa());
}

/* ---------------------------------------------------------------- models */

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_modelLoad(JNIEnv *env, jclass cls, jbyteArray path,
                                                         jbyteArray sha256, jint vision_heads,
                                                         jint text_heads, jint pool_heads,
                                                         jboolean vision_only) {
    (void)cls;
    char *p = c_string(env, path, 0, "model path");
    if (!p) return 0;
    char *h = c_string(env, sha256, 1, "sha256");
    if ((*env)->ExceptionCheck(env)) {
        free(p);
        return 0;
    }
    pe_model_options o = {.sha256_hex = h, .vision_heads = vision_heads,
                          .text_heads = text_heads, .pool_heads = pool_heads,
                          .vision_only = vision_only};
    pe_model *m = NULL;
    failed(env, pe_model_load(p, &o, &m));
    free(p);
    free(h);
    return to_handle(m);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_modelFree(JNIEnv *env, jclass cls, jlong m) {
    (void)env, (void)cls;
    pe_model_free((pe_model *)(intptr_t)m);
}

JNIEXPORT jobject JNICALL Java_dev_pecore_Native_modelInfo(JNIEnv *env, jclass cls, jlong mh) {
    (void)cls;
    HANDLE(pe_model, m, mh, "Model", NULL);
    pe_model_info in;
    if (failed(env, pe_model_get_info(m, &in))) return NULL;
    /* the order ModelInfo's constructor reads them in */
    const jint v[] = {in.patch, in.width, in.layers, in.heads, in.head_dim, in.mlp,
                      in.image_size, in.grid, in.has_cls, (jint)in.pool, in.out_dim,
                      in.has_text, in.text_context, in.text_width, in.text_heads,
                      in.text_layers, in.text_vocab, in.text_out_dim, in.n_registers,
                      (jint)in.transform};
    const jsize nv = (jsize)(sizeof v / sizeof v[0]);
    jintArray ints = (*env)->NewIntArray(env, nv);
    jbyteArray arch = bytes_of(env, in.arch), naming = bytes_of(env, in.naming),
               family = bytes_of(env, pe_family_name(in.family));
    if (!ints || !arch || !naming || !family) return NULL;
    (*env)->SetIntArrayRegion(env, ints, 0, nv, v);
    return (*env)->NewObject(env, g_info, g_info_new, arch, naming, family, ints,
                             (jfloat)in.logit_scale, (jlong)in.n_params, (jlong)in.file_bytes,
                             (jlong)in.fingerprint);
}

JNIEXPORT jintArray JNICALL Java_dev_pecore_Native_outputShape(JNIEnv *env, jclass cls, jlong mh,
                                                               jint height, jint width,
                                                               jint kind) {
    (void)cls;
    HANDLE(pe_model, m, mh, "Model", NULL);
    int rc[2];
    if (failed(env, pe_output_shape(m, height, width, (pe_output)kind, &rc[0], &rc[1])))
        return NULL;
    if ((int64_t)rc[0] * rc[1] > INT32_MAX) {
        fail(env, PE_ERR_LIMIT, "output of %d x %d floats is too large", rc[0], rc[1]);
        return NULL;
    }
    jintArray a = (*env)->NewIntArray(env, 2);
    if (a) (*env)->SetIntArrayRegion(env, a, 0, 2, (const jint[]){rc[0], rc[1]});
    return a;
}

JNIEXPORT jintArray JNICALL Java_dev_pecore_Native_preprocessInit(JNIEnv *env, jclass cls,
                                                                  jint transform, jint size) {
    (void)cls;
    pe_preprocess pp;
    if (failed(env, pe_preprocess_init((pe_transform)transform, size, &pp))) return NULL;
    const jint v[6] = {pp.height, pp.width, (jint)pp.crop, (jint)pp.resample, pp.resize,
                       (jint)pp.norm};
    jintArray a = (*env)->NewIntArray(env, 6);
    if (a) (*env)->SetIntArrayRegion(env, a, 0, 6, v);
    return a;
}

/* ---------------------------------------------------------------- contexts and encoding */

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_ctxCreate(JNIEnv *env, jclass cls, jlong mh,
                                                         jint threads, jint compute) {
    (void)cls;
    HANDLE(pe_model, m, mh, "Model", 0);
    /* Compute's ordinals are pe_compute's values (F32 = 0, F16 = 1) */
    pe_ctx_options o = {.n_threads = threads, .compute = (pe_compute)compute};
    pe_ctx *c = NULL;
    failed(env, pe_ctx_create(m, &o, &c));
    return to_handle(c);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_ctxFree(JNIEnv *env, jclass cls, jlong c) {
    (void)env, (void)cls;
    pe_ctx_free((pe_ctx *)(intptr_t)c);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_encodeF32(JNIEnv *env, jclass cls, jlong ch,
                                                        jobject x, jint n, jint height,
                                                        jint width, jint kind, jobject out,
                                                        jlong out_floats_n) {
    (void)cls;
    HANDLE(pe_ctx, c, ch, "Encoder", );
    size_t cap;
    const uint8_t *in = direct(env, x, "input buffer", &cap);
    float *o = in ? out_floats(env, out, out_floats_n) : NULL;
    if (!o) return;
    if (n <= 0 || height <= 0 || width <= 0 ||
        (uint64_t)n * 3 * (uint64_t)height * (uint64_t)width > cap / sizeof(float)) {
        fail(env, PE_ERR_SHAPE, "input buffer holds %zu floats, not %d x 3 x %d x %d",
             cap / sizeof(float), n, height, width);
        return;
    }
    failed(env, pe_encode_f32(c, (const float *)(const void *)in, n, height, width,
                              (pe_output)kind, o, (size_t)out_floats_n));
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_encodeImage(JNIEnv *env, jclass cls, jlong ch,
                                                          jobject pixels, jint width,
                                                          jint height, jint row_stride,
                                                          jint format, jintArray ppa,
                                                          jint kind, jobject out,
                                                          jlong out_floats_n) {
    (void)cls;
    static const int bpp[] = {1, 2, 3, 4, 4}; /* by pe_pixel_format */
    HANDLE(pe_ctx, c, ch, "Encoder", );
    pe_preprocess pp;
    size_t cap;
    const uint8_t *px = direct(env, pixels, "pixel buffer", &cap);
    float *o = px ? out_floats(env, out, out_floats_n) : NULL;
    if (!o || get_pp(env, ppa, &pp)) return;
    if (format < 0 || format >= (jint)(sizeof bpp / sizeof bpp[0])) {
        fail(env, PE_ERR_INVALID_ARG, "unknown pixel format %d", format);
        return;
    }
    if (width <= 0 || height <= 0 || row_stride < width * bpp[format]) {
        fail(env, PE_ERR_INVALID_ARG, "image %d x %d with row stride %d", width, height,
             row_stride);
        return;
    }
    /* pe_image has no size: the buffer must hold every row it reads */
    uint64_t need = (uint64_t)(height - 1) * (uint64_t)row_stride + (uint64_t)width * bpp[format];
    if (need > cap) {
        fail(env, PE_ERR_SHAPE, "pixel buffer holds %zu bytes, a %d x %d image with row stride %d needs %llu",
             cap, width, height, row_stride, (unsigned long long)need);
        return;
    }
    pe_image img = {px, width, height, (size_t)row_stride, (pe_pixel_format)format};
    failed(env, pe_encode_image(c, &img, &pp, (pe_output)kind, o, (size_t)out_floats_n));
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_encodeFrame(JNIEnv *env, jclass cls, jlong ch,
                                                          jint format, jint width, jint height,
                                                          jobjectArray planes,
                                                          jintArray row_strides,
                                                          jintArray pixel_strides, jint yuv,
                                                          jintArray crop, jint rotation,
                                                          jboolean mirror, jintArray ppa,
                                                          jint kind, jobject out,
                                                          jlong out_floats_n) {
    (void)cls;
    HANDLE(pe_ctx, c, ch, "Encoder", );
    pe_preprocess pp;
    float *o = out_floats(env, out, out_floats_n);
    if (!o || get_pp(env, ppa, &pp)) return;
    jsize np = planes ? (*env)->GetArrayLength(env, planes) : 0;
    jint rs[3] = {0}, ps[3] = {0}, cr[4];
    if (np > 3 || !row_strides || !pixel_strides || !crop ||
        (*env)->GetArrayLength(env, row_strides) != np ||
        (*env)->GetArrayLength(env, pixel_strides) != np ||
        (*env)->GetArrayLength(env, crop) != 4) {
        fail(env, PE_ERR_INVALID_ARG, "frame: up to 3 planes, each with its strides, and a crop");
        return;
    }
    (*env)->GetIntArrayRegion(env, row_strides, 0, np, rs);
    (*env)->GetIntArrayRegion(env, pixel_strides, 0, np, ps);
    (*env)->GetIntArrayRegion(env, crop, 0, 4, cr);
    pe_frame f = {.format = (pe_frame_format)format, .width = width, .height = height,
                  .yuv = (pe_yuv_matrix)yuv, .crop = {cr[0], cr[1], cr[2], cr[3]},
                  .rotation = rotation, .mirror = mirror};
    for (jsize i = 0; i < np; i++) {
        jobject b = (*env)->GetObjectArrayElement(env, planes, i);
        if (!b) continue; /* unused plane: zeroed, pe_frame_check says if it is needed */
        static const char *names[] = {"plane 0", "plane 1", "plane 2"};
        size_t size;
        const uint8_t *p = direct(env, b, names[i], &size);
        (*env)->DeleteLocalRef(env, b);
        if (!p) return;
        if (rs[i] < 0 || ps[i] < 0) {
            fail(env, PE_ERR_INVALID_ARG, "plane %d: negative stride", (int)i);
            return;
        }
        f.planes[i] = (pe_plane){p, size, (size_t)rs[i], ps[i]};
    }
    failed(env, pe_encode_frame(c, &f, &pp, (pe_output)kind, o, (size_t)out_floats_n));
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_encodeText(JNIEnv *env, jclass cls, jlong ch,
                                                         jintArray ids, jint n, jint context_len,
                                                         jobject out, jlong out_floats_n) {
    (void)cls;
    HANDLE(pe_ctx, c, ch, "Encoder", );
    float *o = out_floats(env, out, out_floats_n);
    if (!o) return;
    if (!ids || n <= 0 || context_len <= 0 ||
        (int64_t)n * context_len != (*env)->GetArrayLength(env, ids)) {
        fail(env, PE_ERR_SHAPE, "token ids: n x contextLen (%d x %d) expected", n, context_len);
        return;
    }
    int32_t *v = malloc((size_t)n * (size_t)context_len * sizeof *v);
    if (!v) {
        fail(env, PE_ERR_NOMEM, "out of memory");
        return;
    }
    (*env)->GetIntArrayRegion(env, ids, 0, n * context_len, (jint *)v);
    failed(env, pe_encode_text(c, v, n, context_len, o, (size_t)out_floats_n));
    free(v);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_textClassEmbedding(JNIEnv *env, jclass cls,
                                                                 jlong ch, jlong th,
                                                                 jbyteArray label,
                                                                 jobjectArray templates,
                                                                 jobject out,
                                                                 jlong out_floats_n) {
    (void)cls;
    HANDLE(pe_ctx, c, ch, "Encoder", );
    HANDLE(pe_tokenizer, t, th, "Tokenizer", );
    float *o = out_floats(env, out, out_floats_n);
    char *l = o ? c_string(env, label, 0, "label") : NULL;
    strings tp;
    if (!l) return;
    if (!c_strings(env, templates, "template", &tp)) {
        failed(env, pe_text_class_embedding(c, t, l, (const char *const *)tp.v, tp.n, o,
                                            (size_t)out_floats_n));
        strings_free(&tp);
    }
    free(l);
}

/* ---------------------------------------------------------------- tokenizer */

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_tokenizerLoad(JNIEnv *env, jclass cls,
                                                             jbyteArray path) {
    (void)cls;
    char *p = c_string(env, path, 0, "vocabulary path");
    if (!p) return 0;
    pe_tokenizer *t = NULL;
    failed(env, pe_tokenizer_load(p, &t));
    free(p);
    return to_handle(t);
}

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_tokenizerLoadModel(JNIEnv *env, jclass cls,
                                                                  jlong mh) {
    (void)cls;
    HANDLE(pe_model, m, mh, "Model", 0);
    pe_tokenizer *t = NULL;
    failed(env, pe_tokenizer_load_model(m, &t));
    return to_handle(t);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_tokenizerFree(JNIEnv *env, jclass cls, jlong t) {
    (void)env, (void)cls;
    pe_tokenizer_free((pe_tokenizer *)(intptr_t)t);
}

JNIEXPORT jintArray JNICALL Java_dev_pecore_Native_tokenize(JNIEnv *env, jclass cls, jlong th,
                                                            jbyteArray text, jint context_len) {
    (void)cls;
    HANDLE(pe_tokenizer, t, th, "Tokenizer", NULL);
    if (context_len <= 0 || context_len > 65536) {
        fail(env, PE_ERR_INVALID_ARG, "context length %d", context_len);
        return NULL;
    }
    char *s = c_string(env, text, 0, "text");
    if (!s) return NULL;
    jintArray a = NULL;
    int32_t *ids = malloc((size_t)context_len * sizeof *ids);
    if (!ids) fail(env, PE_ERR_NOMEM, "out of memory");
    else if (!failed(env, pe_tokenize(t, s, context_len, ids)) &&
             (a = (*env)->NewIntArray(env, context_len)))
        (*env)->SetIntArrayRegion(env, a, 0, context_len, (const jint *)ids);
    free(ids);
    free(s);
    return a;
}

/* ---------------------------------------------------------------- classification results */

static jobjectArray byte_arrays(JNIEnv *env, int n) {
    return (*env)->NewObjectArray(env, n, g_bytes, NULL);
}

static int set_bytes(JNIEnv *env, jobjectArray a, int i, const char *s) {
    jbyteArray b = bytes_of(env, s ? s : "");
    if (!b) return 1;
    (*env)->SetObjectArrayElement(env, a, i, b);
    (*env)->DeleteLocalRef(env, b);
    return 0;
}

typedef struct score_arrays {
    jobjectArray label;
    jintArray index;
    jfloatArray score, logit;
} score_arrays;

static int scores_of(JNIEnv *env, const pe_label_score *s, int n, score_arrays *out) {
    out->label = byte_arrays(env, n);
    out->index = (*env)->NewIntArray(env, n);
    out->score = (*env)->NewFloatArray(env, n);
    out->logit = (*env)->NewFloatArray(env, n);
    if (!out->label || !out->index || !out->score || !out->logit) return 1;
    for (int i = 0; i < n; i++) {
        if (set_bytes(env, out->label, i, s[i].label)) return 1;
        (*env)->SetIntArrayRegion(env, out->index, i, 1, &s[i].index);
        (*env)->SetFloatArrayRegion(env, out->score, i, 1, &s[i].score);
        (*env)->SetFloatArrayRegion(env, out->logit, i, 1, &s[i].logit);
    }
    return 0;
}

static jobject classification_of(JNIEnv *env, const pe_classification *r) {
    score_arrays top, coarse;
    if (scores_of(env, r->top, r->n_top, &top) ||
        scores_of(env, r->coarse, r->n_coarse, &coarse))
        return NULL;
    int k = r->n_neighbors;
    jobjectArray nl = byte_arrays(env, k), ns = byte_arrays(env, k);
    jintArray ne = (*env)->NewIntArray(env, k);
    jfloatArray nsim = (*env)->NewFloatArray(env, k), nd = (*env)->NewFloatArray(env, k);
    if (!nl || !ns || !ne || !nsim || !nd) return NULL;
    for (int i = 0; i < k; i++) {
        const pe_neighbor *n = &r->neighbors[i];
        if (set_bytes(env, nl, i, n->label) || set_bytes(env, ns, i, n->source)) return NULL;
        (*env)->SetIntArrayRegion(env, ne, i, 1, &n->entry);
        (*env)->SetFloatArrayRegion(env, nsim, i, 1, &n->similarity);
        (*env)->SetFloatArrayRegion(env, nd, i, 1, &n->distance);
    }
    return (*env)->NewObject(env, g_classification, g_classification_new, top.label, top.index,
                             top.score, top.logit, (jboolean)(r->unknown != 0), coarse.label,
                             coarse.index, coarse.score, coarse.logit, nl, ns, ne, nsim, nd);
}

/* ---------------------------------------------------------------- prototype packs */

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_protosCreate(JNIEnv *env, jclass cls, jlong mh) {
    (void)cls;
    HANDLE(pe_model, m, mh, "Model", 0);
    pe_protos *p = NULL;
    failed(env, pe_protos_create(m, &p));
    return to_handle(p);
}

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_protosLoad(JNIEnv *env, jclass cls,
                                                          jbyteArray path) {
    (void)cls;
    char *s = c_string(env, path, 0, "path");
    if (!s) return 0;
    pe_protos *p = NULL;
    failed(env, pe_protos_load(s, &p));
    free(s);
    return to_handle(p);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_protosFree(JNIEnv *env, jclass cls, jlong p) {
    (void)env, (void)cls;
    pe_protos_free((pe_protos *)(intptr_t)p);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_protosAdd(JNIEnv *env, jclass cls, jlong ph,
                                                        jbyteArray label, jfloatArray emb,
                                                        jfloat threshold) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", );
    char *l = c_string(env, label, 0, "label");
    int dim;
    float *e = l ? floats_critical(env, emb, &dim) : NULL;
    if (e) {
        pe_status s = pe_protos_add(p, l, e, dim, threshold);
        floats_release(env, emb, e);
        failed(env, s);
    }
    free(l);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_protosAddText(JNIEnv *env, jclass cls, jlong ph,
                                                            jlong ch, jlong th,
                                                            jobjectArray labels,
                                                            jobjectArray templates) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", );
    HANDLE(pe_ctx, c, ch, "Encoder", );
    HANDLE(pe_tokenizer, t, th, "Tokenizer", );
    strings l, tp;
    if (c_strings(env, labels, "label", &l)) return;
    if (!c_strings(env, templates, "template", &tp)) {
        failed(env, pe_protos_add_text(p, c, t, (const char *const *)l.v, l.n,
                                       (const char *const *)tp.v, tp.n));
        strings_free(&tp);
    }
    strings_free(&l);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_protosSetThreshold(JNIEnv *env, jclass cls,
                                                                 jlong ph, jbyteArray label,
                                                                 jfloat threshold) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", );
    char *l = c_string(env, label, 0, "label");
    if (l) failed(env, pe_protos_set_threshold(p, l, threshold));
    free(l);
}

JNIEXPORT jint JNICALL Java_dev_pecore_Native_protosCount(JNIEnv *env, jclass cls, jlong ph) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", 0);
    return pe_protos_count(p);
}

JNIEXPORT jbyteArray JNICALL Java_dev_pecore_Native_protosLabel(JNIEnv *env, jclass cls,
                                                                jlong ph, jint i) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", NULL);
    return bytes_of(env, pe_protos_label(p, i));
}

JNIEXPORT jfloat JNICALL Java_dev_pecore_Native_protosThreshold(JNIEnv *env, jclass cls,
                                                                jlong ph, jint i) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", 0);
    return pe_protos_threshold(p, i);
}

JNIEXPORT jfloatArray JNICALL Java_dev_pecore_Native_protosEmbedding(JNIEnv *env, jclass cls,
                                                                     jlong ph, jint i) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", NULL);
    const float *e = pe_protos_embedding(p, i);
    pe_model_identity id;
    if (!e || failed(env, pe_protos_identity(p, &id))) return NULL;
    jfloatArray a = (*env)->NewFloatArray(env, id.dim);
    if (a) (*env)->SetFloatArrayRegion(env, a, 0, id.dim, e);
    return a;
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_protosSave(JNIEnv *env, jclass cls, jlong ph,
                                                         jbyteArray path) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", );
    char *s = c_string(env, path, 0, "path");
    if (s) failed(env, pe_protos_save(p, s));
    free(s);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_protosCheckModel(JNIEnv *env, jclass cls,
                                                               jlong ph, jlong mh) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", );
    HANDLE(pe_model, m, mh, "Model", );
    failed(env, pe_protos_check_model(p, m));
}

JNIEXPORT jobject JNICALL Java_dev_pecore_Native_protosClassify(JNIEnv *env, jclass cls,
                                                                jlong ph, jfloatArray emb,
                                                                jint top_k) {
    (void)cls;
    HANDLE(pe_protos, p, ph, "Protos", NULL);
    int dim;
    float *e = floats_critical(env, emb, &dim);
    if (!e) return NULL;
    pe_classification r;
    pe_status s = pe_protos_classify(p, e, dim, top_k, &r);
    floats_release(env, emb, e);
    return failed(env, s) ? NULL : classification_of(env, &r);
}

/* ---------------------------------------------------------------- galleries */

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_galleryCreate(JNIEnv *env, jclass cls, jlong mh) {
    (void)cls;
    HANDLE(pe_model, m, mh, "Model", 0);
    pe_gallery *g = NULL;
    failed(env, pe_gallery_create(m, &g));
    return to_handle(g);
}

JNIEXPORT jlong JNICALL Java_dev_pecore_Native_galleryLoad(JNIEnv *env, jclass cls,
                                                           jbyteArray path) {
    (void)cls;
    char *s = c_string(env, path, 0, "path");
    if (!s) return 0;
    pe_gallery *g = NULL;
    failed(env, pe_gallery_load(s, &g));
    free(s);
    return to_handle(g);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_galleryFree(JNIEnv *env, jclass cls, jlong g) {
    (void)env, (void)cls;
    pe_gallery_free((pe_gallery *)(intptr_t)g);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_galleryAdd(JNIEnv *env, jclass cls, jlong gh,
                                                         jbyteArray label, jbyteArray source,
                                                         jfloatArray emb) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", );
    char *l = c_string(env, label, 0, "label");
    char *src = l ? c_string(env, source, 1, "source") : NULL;
    int dim;
    float *e = l && !(*env)->ExceptionCheck(env) ? floats_critical(env, emb, &dim) : NULL;
    if (e) {
        pe_status s = pe_gallery_add(g, l, src, e, dim);
        floats_release(env, emb, e);
        failed(env, s);
    }
    free(src);
    free(l);
}

JNIEXPORT jint JNICALL Java_dev_pecore_Native_galleryRemove(JNIEnv *env, jclass cls, jlong gh,
                                                            jbyteArray label) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", 0);
    char *l = c_string(env, label, 0, "label");
    int removed = 0;
    if (l) failed(env, pe_gallery_remove(g, l, &removed));
    free(l);
    return removed;
}

JNIEXPORT jint JNICALL Java_dev_pecore_Native_galleryCount(JNIEnv *env, jclass cls, jlong gh) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", 0);
    return pe_gallery_count(g);
}

JNIEXPORT jint JNICALL Java_dev_pecore_Native_galleryLabelCount(JNIEnv *env, jclass cls,
                                                                jlong gh) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", 0);
    return pe_gallery_label_count(g);
}

JNIEXPORT jbyteArray JNICALL Java_dev_pecore_Native_galleryLabel(JNIEnv *env, jclass cls,
                                                                 jlong gh, jint i) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", NULL);
    return bytes_of(env, pe_gallery_label(g, i));
}

JNIEXPORT jobjectArray JNICALL Java_dev_pecore_Native_galleryEntry(JNIEnv *env, jclass cls,
                                                                   jlong gh, jint i) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", NULL);
    const char *label, *source;
    if (failed(env, pe_gallery_entry(g, i, &label, &source))) return NULL;
    jobjectArray a = byte_arrays(env, 2);
    if (!a || set_bytes(env, a, 0, label) || set_bytes(env, a, 1, source)) return NULL;
    return a;
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_gallerySave(JNIEnv *env, jclass cls, jlong gh,
                                                          jbyteArray path) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", );
    char *s = c_string(env, path, 0, "path");
    if (s) failed(env, pe_gallery_save(g, s));
    free(s);
}

JNIEXPORT void JNICALL Java_dev_pecore_Native_galleryCheckModel(JNIEnv *env, jclass cls,
                                                                jlong gh, jlong mh) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", );
    HANDLE(pe_model, m, mh, "Model", );
    failed(env, pe_gallery_check_model(g, m));
}

JNIEXPORT jobject JNICALL Java_dev_pecore_Native_galleryClassify(JNIEnv *env, jclass cls,
                                                                 jlong gh, jfloatArray emb,
                                                                 jint k, jint metric,
                                                                 jint top_k) {
    (void)cls;
    HANDLE(pe_gallery, g, gh, "Gallery", NULL);
    int dim;
    float *e = floats_critical(env, emb, &dim);
    if (!e) return NULL;
    pe_classification r;
    pe_status s = pe_gallery_classify(g, e, dim, k, (pe_metric)metric, top_k, &r);
    floats_release(env, emb, e);
    return failed(env, s) ? NULL : classification_of(env, &r);
}
