/* _pecore: the CPython extension over include/pecore.h.  Models, the
 * tokenizer, image encoding (files decoded by the CLI's own decoder,
 * tools/image_io.c, so the numbers are the CLI's), quantize, errors.
 * Every engine call runs with the GIL released and, for a model, under its
 * lock: threads share one model and its one context. */
#define BINDING_MAIN
#include "binding.h"

#include "image_io.h"

#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- errors */

#define N_STATUS (PE_ERR_CHECKSUM + 1)

/* [0] is pecore.Error, the base of the others; [s] the class of status s. */
static PyObject *g_err[N_STATUS];

static const struct {
    pe_status s;
    const char *name;         /* "pecore.<name>"                            */
    PyObject **builtin;       /* a second base, so `except ValueError` works */
} ERRORS[] = {
    {PE_ERR_INVALID_ARG, "InvalidArgumentError", &PyExc_ValueError},
    {PE_ERR_IO, "FileError", &PyExc_OSError},
    {PE_ERR_FORMAT, "FormatError", NULL},
    {PE_ERR_UNSUPPORTED, "UnsupportedError", NULL},
    {PE_ERR_SHAPE, "ShapeError", &PyExc_ValueError},
    {PE_ERR_NOMEM, "OutOfMemoryError", &PyExc_MemoryError},
    {PE_ERR_LIMIT, "LimitError", NULL},
    {PE_ERR_NOT_FOUND, "NotFoundError", &PyExc_LookupError},
    {PE_ERR_CHECKSUM, "ChecksumError", NULL},
};

PyObject *raise_status(pe_status s, const char *msg) {
    if (!msg || !*msg) msg = pe_last_error();
    if (!*msg) msg = pe_status_string(s);
    PyObject *cls = (int)s > 0 && (int)s < N_STATUS && g_err[s] ? g_err[s] : g_err[0];
    PyErr_SetString(cls, msg);
    return NULL;
}

static int add_errors(PyObject *mod) {
    g_err[0] = PyErr_NewExceptionWithDoc(
        "pecore.Error", "A pecore call failed; the message is the library's one line.", NULL, NULL);
    if (!g_err[0] || PyObject_SetAttrString(g_err[0], "status", Py_None) ||
        PyObject_SetAttrString(g_err[0], "index", Py_None) ||
        PyModule_AddObjectRef(mod, "Error", g_err[0]))
        return -1;
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
        char qual[64], doc[96];
        snprintf(qual, sizeof qual, "pecore.%s", ERRORS[i].name);
        snprintf(doc, sizeof doc, "pecore status %d: %s.", (int)ERRORS[i].s,
                 pe_status_string(ERRORS[i].s));
        PyObject *bases = ERRORS[i].builtin ? PyTuple_Pack(2, g_err[0], *ERRORS[i].builtin)
                                            : PyTuple_Pack(1, g_err[0]);
        if (!bases) return -1;
        PyObject *cls = PyErr_NewExceptionWithDoc(qual, doc, bases, NULL);
        Py_DECREF(bases);
        if (!cls) return -1;
        PyObject *st = PyLong_FromLong(ERRORS[i].s);
        int bad = !st || PyObject_SetAttrString(cls, "status", st);
        Py_XDECREF(st);
        if (bad || PyModule_AddObjectRef(mod, ERRORS[i].name, cls)) {
            Py_DECREF(cls);
            return -1;
        }
        g_err[ERRORS[i].s] = cls;
    }
    return 0;
}

/* ---------------------------------------------------------------- helpers */

void lock_take(PyThread_type_lock lock) {
    if (PyThread_acquire_lock(lock, NOWAIT_LOCK)) return;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(lock, WAIT_LOCK);
    Py_END_ALLOW_THREADS
}

PyArrayObject *as_f32(PyObject *obj, int lo, int hi, const char *what) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT32, 0, 0,
                                                         NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (!a) return NULL;
    if (PyArray_NDIM(a) < lo || PyArray_NDIM(a) > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: expected %d to %d dimensions, got %d", what, lo, hi,
                 PyArray_NDIM(a));
        Py_DECREF(a);
        return (PyArrayObject *)raise_status(PE_ERR_SHAPE, msg);
    }
    return a;
}

static int as_int(npy_intp v, const char *what) {
    if (v > 0x7fffffff) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: %lld is too large", what, (long long)v);
        raise_status(PE_ERR_LIMIT, msg);
        return -1;
    }
    return (int)v;
}

/* ---------------------------------------------------------------- Model */

static void Model_dealloc(ModelObject *self) {
    pe_ctx_free(self->c);
    pe_model_free(self->m);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "threads", "vision_only", "sha256", "vision_heads",
                             "text_heads", "pool_heads", "batch", "compute", NULL};
    PyObject *path = NULL;
    int threads = 0, vision_only = 0, vh = 0, th = 0, ph = 0, batch = 0;
    const char *sha = NULL, *compute = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|ipziiiiz", kwlist, PyUnicode_FSConverter, &path,
                                     &threads, &vision_only, &sha, &vh, &th, &ph, &batch, &compute))
        return -1;
    if (self->m) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialised");
        return -1;
    }
    if (threads < 0) {
        Py_DECREF(path);
        raise_status(PE_ERR_INVALID_ARG, "threads must be >= 0 (0 = all cores)");
        return -1;
    }
    pe_model_options mo = {.sha256_hex = sha, .vision_heads = vh, .text_heads = th,
                           .pool_heads = ph, .vision_only = vision_only};
    if (compute && strcmp(compute, "f32") && strcmp(compute, "f16")) {
        Py_DECREF(path);
        raise_status(PE_ERR_INVALID_ARG, "compute must be 'f32' or 'f16'");
        return -1;
    }
    pe_ctx_options co = {.n_threads = threads, .max_batch = batch,
                         .compute = compute && !strcmp(compute, "f16") ? PE_COMPUTE_F16 : PE_COMPUTE_F32};
    pe_status s;
    char msg[512] = "";
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    s = pe_model_load(p, &mo, &self->m);
    if (!s) s = pe_model_get_info(self->m, &self->info);
    if (!s) s = pe_ctx_create(self->m, &co, &self->c);
    if (s) snprintf(msg, sizeof msg, "%s", pe_last_error());
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (s) {
        pe_model_free(self->m);
        self->m = NULL;
        raise_status(s, msg);
        return -1;
    }
    if (!(self->lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int model_ready(ModelObject *self) {
    if (self->m && self->lock) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Model is not initialised");
    return 0;
}

#define SET_INT(d, k, v)                                                 \
    do {                                                                 \
        PyObject *o_ = PyLong_FromLongLong((long long)(v));              \
        if (!o_ || PyDict_SetItemString(d, k, o_)) goto fail;            \
        Py_DECREF(o_);                                                   \
    } while (0)

static PyObject *Model_info(ModelObject *self, PyObject *unused) {
    (void)unused;
    if (!model_ready(self)) return NULL;
    const pe_model_info *in = &self->info;
    PyObject *d = PyDict_New(), *o;
    if (!d) return NULL;
    if (!(o = PyUnicode_FromString(in->arch)) || PyDict_SetItemString(d, "arch", o)) goto fail;
    Py_DECREF(o);
    if (!(o = PyUnicode_FromString(in->naming)) || PyDict_SetItemString(d, "naming", o)) goto fail;
    Py_DECREF(o);
    if (!(o = PyUnicode_FromString(in->pool == PE_POOL_ATTN ? "attn" : "none")) ||
        PyDict_SetItemString(d, "pool", o))
        goto fail;
    Py_DECREF(o);
    if (!(o = PyUnicode_FromString(pe_family_name(in->family))) || PyDict_SetItemString(d, "family", o))
        goto fail;
    Py_DECREF(o);
    if (!(o = PyUnicode_FromString(in->transform == PE_TRANSFORM_DINOV2_EVAL ? "dinov2-eval" : "pe")) ||
        PyDict_SetItemString(d, "transform", o))
        goto fail;
    Py_DECREF(o);
    if (!(o = PyFloat_FromDouble(in->logit_scale)) || PyDict_SetItemString(d, "logit_scale", o))
        goto fail;
    Py_DECREF(o);
    if (!(o = PyFloat_FromDouble(in->ln_eps)) || PyDict_SetItemString(d, "ln_eps", o)) goto fail;
    Py_DECREF(o);
    o = NULL;
    SET_INT(d, "patch", in->patch);
    SET_INT(d, "width", in->width);
    SET_INT(d, "layers", in->layers);
    SET_INT(d, "heads", in->heads);
    SET_INT(d, "head_dim", in->head_dim);
    SET_INT(d, "mlp", in->mlp);
    SET_INT(d, "image_size", in->image_size);
    SET_INT(d, "grid", in->grid);
    SET_INT(d, "has_cls", in->has_cls);
    SET_INT(d, "has_ln_post", in->has_ln_post);
    SET_INT(d, "has_layerscale", in->has_layerscale);
    SET_INT(d, "pool_heads", in->pool_heads);
    SET_INT(d, "has_proj", in->has_proj);
    SET_INT(d, "out_dim", in->out_dim);
    SET_INT(d, "has_text", in->has_text);
    SET_INT(d, "text_context", in->text_context);
    SET_INT(d, "text_width", in->text_width);
    SET_INT(d, "text_heads", in->text_heads);
    SET_INT(d, "text_layers", in->text_layers);
    SET_INT(d, "text_vocab", in->text_vocab);
    SET_INT(d, "text_out_dim", in->text_out_dim);
    SET_INT(d, "n_params", in->n_params);
    SET_INT(d, "file_bytes", in->file_bytes);
    SET_INT(d, "n_tensors", in->n_tensors);
    SET_INT(d, "n_f32", in->n_f32);
    SET_INT(d, "n_f16", in->n_f16);
    SET_INT(d, "n_bf16", in->n_bf16);
    SET_INT(d, "n_q8", in->n_q8);
    SET_INT(d, "n_q4", in->n_q4);
    SET_INT(d, "n_registers", in->n_registers);
    SET_INT(d, "ffn_swiglu", in->ffn_swiglu);
    SET_INT(d, "rope", in->rope);
    SET_INT(d, "pos_resample", in->pos_resample);
    if (!(o = PyLong_FromUnsignedLongLong(in->fingerprint)) ||
        PyDict_SetItemString(d, "fingerprint", o))
        goto fail;
    Py_DECREF(o);
    return d;
fail:
    Py_XDECREF(o);
    Py_DECREF(d);
    return NULL;
}

/* rows x cols per image of kind at height x width (pe_output_shape). */
static int out_shape(ModelObject *self, int h, int w, int kind, int *rows, int *cols) {
    pe_status s = pe_output_shape(self->m, h, w, (pe_output)kind, rows, cols);
    if (s) raise_status(s, NULL);
    return s ? -1 : 0;
}

static PyObject *new_output(npy_intp n, int rows, int cols) {
    npy_intp dims[3] = {n, rows, cols};
    return PyArray_SimpleNew(3, dims, NPY_FLOAT32);
}

static PyObject *Model_output_shape(ModelObject *self, PyObject *args) {
    int h, w, kind, rows, cols;
    if (!model_ready(self) || !PyArg_ParseTuple(args, "iii", &h, &w, &kind)) return NULL;
    if (out_shape(self, h, w, kind, &rows, &cols)) return NULL;
    return Py_BuildValue("(ii)", rows, cols);
}

/* encode_f32(x float32 [N, 3, H, W], kind) -> float32 [N, rows, cols]. */
static PyObject *Model_encode_f32(ModelObject *self, PyObject *args) {
    PyObject *obj;
    int kind, rows, cols;
    if (!model_ready(self) || !PyArg_ParseTuple(args, "Oi", &obj, &kind)) return NULL;
    PyArrayObject *x = as_f32(obj, 4, 4, "encode_image");
    if (!x) return NULL;
    const npy_intp *d = PyArray_DIMS(x);
    PyObject *out = NULL;
    int n = as_int(d[0], "batch"), h = as_int(d[2], "height"), w = as_int(d[3], "width");
    if (n < 0 || h < 0 || w < 0) goto done;
    if (d[1] != 3) {
        char msg[96];
        snprintf(msg, sizeof msg, "encode_image: expected [N, 3, H, W], got %lld channels",
                 (long long)d[1]);
        raise_status(PE_ERR_SHAPE, msg);
        goto done;
    }
    if (out_shape(self, h, w, kind, &rows, &cols) || !(out = new_output(n, rows, cols))) goto done;
    if (n == 0) goto done;
    pe_status s;
    char msg[512] = "";
    float *o = PyArray_DATA((PyArrayObject *)out);
    const float *in = PyArray_DATA(x);
    size_t len = (size_t)n * rows * cols;
    lock_take(self->lock);
    WITHOUT_GIL(s = pe_encode_f32(self->c, in, n, h, w, (pe_output)kind, o, len);
                if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
    PyThread_release_lock(self->lock);
    if (s) {
        Py_CLEAR(out);
        raise_status(s, msg);
    }
done:
    Py_DECREF(x);
    return out;
}

/* One image of a batch: a file (decoded here) or 8-bit pixels the caller
 * holds a reference to. */
typedef struct item {
    PyObject *ref;            /* bytes path, or the uint8 array             */
    const char *path;         /* NULL for pixels                            */
    pe_image img;
    int nearest;              /* resized with NEAREST whatever the transform */
} item;

static const pe_pixel_format FORMATS_BY_CHANNELS[5] = {
    PE_PIXEL_GRAY8, PE_PIXEL_GRAY8, PE_PIXEL_GRAYA8, PE_PIXEL_RGB8, PE_PIXEL_RGBA8};

/* A path (str, bytes, os.PathLike) or a tuple (uint8 array HxW or HxWxC,
 * resample).  0, or -1 with an exception. */
static int item_parse(PyObject *obj, item *it) {
    memset(it, 0, sizeof *it);
    if (!PyTuple_Check(obj)) {
        if (!PyUnicode_FSConverter(obj, &it->ref)) return -1;
        it->path = PyBytes_AS_STRING(it->ref);
        return 0;
    }
    PyObject *arr;
    int rs;
    if (!PyArg_ParseTuple(obj, "Oi", &arr, &rs)) return -1;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(arr, NPY_UINT8, 2, 3, NPY_ARRAY_IN_ARRAY);
    if (!a) return -1;
    it->ref = (PyObject *)a;
    const npy_intp *d = PyArray_DIMS(a);
    npy_intp ch = PyArray_NDIM(a) == 2 ? 1 : d[2];
    if (ch < 1 || ch > 4) {
        char msg[96];
        snprintf(msg, sizeof msg, "image: expected HxW or HxWx{1,2,3,4} uint8, got %lld channels",
                 (long long)ch);
        raise_status(PE_ERR_SHAPE, msg);
        return -1;
    }
    int h = as_int(d[0], "image height"), w = as_int(d[1], "image width");
    if (h < 0 || w < 0) return -1;
    it->img = (pe_image){PyArray_DATA(a), w, h, (size_t)w * (size_t)ch, FORMATS_BY_CHANNELS[ch]};
    it->nearest = rs != 0;
    return 0;
}

static void items_free(item *it, Py_ssize_t n) {
    for (Py_ssize_t i = 0; it && i < n; i++) Py_XDECREF(it[i].ref);
    PyMem_Free(it);
}

static item *items_parse(PyObject *seq, Py_ssize_t *n) {
    PyObject *fast = PySequence_Fast(seq, "expected a list of images");
    if (!fast) return NULL;
    *n = PySequence_Fast_GET_SIZE(fast);
    item *it = PyMem_Calloc((size_t)*n + 1, sizeof *it);
    Py_ssize_t i = 0;
    if (!it) PyErr_NoMemory();
    for (; it && i < *n; i++)
        if (item_parse(PySequence_Fast_GET_ITEM(fast, i), &it[i])) break;
    Py_DECREF(fast);
    if (it && i < *n) {
        items_free(it, i + 1);
        return NULL;
    }
    return it;
}

/* The 8-bit image of it (decoding a file into buf), and pp's resampling
 * for it: NEAREST for palette and 1-bit images, as PIL (and the CLI's
 * cli_image_filter), else the transform's.  Without the GIL. */
static pe_status item_image(const item *it, img_buf *buf, const pe_image **img,
                            pe_preprocess *pp, char *msg, size_t cap) {
    int nearest = it->nearest;
    if (it->path) {
        if (image_load(it->path, buf, msg, cap))
            return access(it->path, R_OK) ? PE_ERR_IO : PE_ERR_FORMAT;
        nearest = buf->resample == PE_RESAMPLE_NEAREST;
    }
    *img = it->path ? &buf->image : &it->img;
    if (nearest) pp->resample = PE_RESAMPLE_NEAREST;
    return PE_OK;
}

/* The preprocessing the CLI gives (tools/cli.c cli_preprocess): transform's
 * defaults at a square size, then height x width (0: native) and crop (-1:
 * the transform's). */
static pe_status make_pp(int transform, int h, int w, int crop, int native, pe_preprocess *pp) {
    pe_status s = pe_preprocess_init((pe_transform)transform, h == w ? h : 0, pp);
    if (s) {
        raise_status(s, NULL);
        return s;
    }
    if (h) pp->height = h, pp->width = w;
    if (!pp->height) pp->height = pp->width = native;
    if (crop >= 0) pp->crop = crop ? PE_CROP_CENTER : PE_CROP_SQUASH;
    return PE_OK;
}

/* msg for the library's error in images first..first+count-1 of the call,
 * which were one pe_encode_images: that names the image relative to its
 * own call ("image 2: ..."), msg names it by path or by its index in ours.
 * Returns that index, or -1 when the error is the batch's as a whole. */
static Py_ssize_t run_error(pe_status s, const item *it, Py_ssize_t first, int count, char *msg,
                            size_t cap) {
    const char *e = pe_last_error();
    int j, len = 0;
    if (sscanf(e, "image %d%n", &j, &len) == 1 && j >= 0 && j < count && !strncmp(e + len, ": ", 2))
        e += len + 2;
    else if (count == 1)
        j = 0;
    else {
        snprintf(msg, cap, "images %zd to %zd: %s", first, first + count - 1, e);
        return -1;
    }
    if (!*e) e = pe_status_string(s);
    const Py_ssize_t i = first + j;
    if (it[i].path) snprintf(msg, cap, "%s: %s", it[i].path, e);
    else snprintf(msg, cap, "image %zd: %s", i, e);
    return i;
}

/* Encodes it[first..first+b), decoded as imgs and resampled with rs[], into
 * out (the call's): one pe_encode_images per run of images resampled alike,
 * under the model's lock.  *bad as encode_items. */
static pe_status encode_group(ModelObject *self, const item *it, Py_ssize_t first, int b,
                              const pe_image *imgs, const pe_resample *rs, pe_preprocess pp,
                              int kind, float *out, size_t per, Py_ssize_t *bad, char *msg,
                              size_t cap) {
    pe_status s = PE_OK;
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    for (int r0 = 0, r1; r0 < b && !s; r0 = r1) {
        for (r1 = r0 + 1; r1 < b && rs[r1] == rs[r0]; r1++) {}
        pp.resample = rs[r0];
        float *o = out + per * (size_t)(first + r0);
        if ((s = pe_encode_images(self->c, imgs + r0, r1 - r0, &pp, (pe_output)kind, o,
                                  per * (size_t)(r1 - r0))))
            *bad = run_error(s, it, first + r0, r1 - r0, msg, cap);
    }
    PyThread_release_lock(self->lock);
    return s;
}

/* Encodes each image into out + per * i, in groups of `group`: a group's
 * files are decoded without the model's lock (another thread's forward pass
 * overlaps the decoding), then the group runs as batches (pe_encode_images,
 * bit-identical to one image at a time).  Stops at the first error: msg
 * names the image and *bad is its index (-1: none, the batch failed as a
 * whole).  Runs without the GIL. */
static pe_status encode_items(ModelObject *self, const item *it, Py_ssize_t n, pe_preprocess pp,
                              int kind, float *out, size_t per, int group, Py_ssize_t *bad,
                              char *msg, size_t cap) {
    img_buf *bufs = PyMem_RawCalloc((size_t)group, sizeof *bufs);
    pe_image *imgs = PyMem_RawCalloc((size_t)group, sizeof *imgs);
    pe_resample *rs = PyMem_RawCalloc((size_t)group, sizeof *rs);
    pe_status s = bufs && imgs && rs ? PE_OK : PE_ERR_NOMEM;
    if (s) snprintf(msg, cap, "encode_image: no memory for a batch of %d images", group);
    *bad = -1;
    for (Py_ssize_t i0 = 0; i0 < n && !s; i0 += group) {
        const int b = n - i0 < group ? (int)(n - i0) : group;
        for (int j = 0; j < b && !s; j++) {
            pe_preprocess ip = pp;
            const pe_image *img;
            if ((s = item_image(&it[i0 + j], &bufs[j], &img, &ip, msg, cap))) *bad = i0 + j;
            else imgs[j] = *img, rs[j] = ip.resample;
        }
        if (!s) s = encode_group(self, it, i0, b, imgs, rs, pp, kind, out, per, bad, msg, cap);
        for (int j = 0; j < b; j++) image_free(&bufs[j]);
    }
    PyMem_RawFree(bufs);
    PyMem_RawFree(imgs);
    PyMem_RawFree(rs);
    return s;
}

/* raise_status, with the failing image's position in the call as the
 * exception's .index (pecore.Error.index is None). */
static PyObject *raise_image_error(pe_status s, const char *msg, Py_ssize_t index) {
    raise_status(s, msg);
    if (index < 0) return NULL;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    PyObject *i = PyLong_FromSsize_t(index);
    const int failed = !i || PyObject_SetAttrString(v, "index", i);
    Py_XDECREF(i);
    if (failed) {
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return NULL;
    }
    PyErr_Restore(t, v, tb);
    return NULL;
}

/* encode_images(items, kind, transform, height, width, crop, group) ->
 * float32 [N, rows, cols]; transform -1, size 0 and crop -1 are the model's;
 * group: images decoded, then encoded, together. */
static PyObject *Model_encode_images(ModelObject *self, PyObject *args) {
    PyObject *seq;
    int kind, t, h, w, crop, group, rows, cols;
    Py_ssize_t n;
    pe_preprocess pp;
    if (!model_ready(self) ||
        !PyArg_ParseTuple(args, "Oiiiiii", &seq, &kind, &t, &h, &w, &crop, &group))
        return NULL;
    if (group < 1 || group > PE_MAX_BATCH) {
        char msg[64];
        snprintf(msg, sizeof msg, "batch %d out of 1..%d", group, PE_MAX_BATCH);
        return raise_status(PE_ERR_INVALID_ARG, msg);
    }
    if (make_pp(t < 0 ? (int)self->info.transform : t, h, w, crop, self->info.image_size, &pp) ||
        out_shape(self, pp.height, pp.width, kind, &rows, &cols))
        return NULL;
    item *it = items_parse(seq, &n);
    if (!it) return NULL;
    PyObject *out = new_output(n, rows, cols);
    if (out && n) {
        float *o = PyArray_DATA((PyArrayObject *)out);
        char msg[768] = "";
        pe_status s;
        Py_ssize_t bad;
        WITHOUT_GIL(s = encode_items(self, it, n, pp, kind, o, (size_t)rows * cols, group, &bad,
                                     msg, sizeof msg));
        if (s) {
            Py_CLEAR(out);
            raise_image_error(s, msg, bad);
        }
    }
    items_free(it, n);
    return out;
}

/* encode_text(ids int32 [N, L]) -> float32 [N, text_out_dim]. */
static PyObject *Model_encode_text(ModelObject *self, PyObject *args) {
    PyObject *obj;
    if (!model_ready(self) || !PyArg_ParseTuple(args, "O", &obj)) return NULL;
    PyArrayObject *ids = (PyArrayObject *)PyArray_FROMANY(obj, NPY_INT32, 2, 2, NPY_ARRAY_IN_ARRAY);
    if (!ids) return NULL;
    PyObject *out = NULL;
    int n = as_int(PyArray_DIM(ids, 0), "batch"), len = as_int(PyArray_DIM(ids, 1), "length");
    int dim = self->info.text_out_dim;
    if (n < 0 || len < 0) goto done;
    if (!self->info.has_text) {
        raise_status(PE_ERR_UNSUPPORTED, "encode_text: the model has no text tower (a vision-only "
                                         "file, or loaded with vision_only=True)");
        goto done;
    }
    npy_intp dims[2] = {n, dim};
    if (!(out = PyArray_SimpleNew(2, dims, NPY_FLOAT32)) || n == 0) goto done;
    pe_status s;
    char msg[512] = "";
    float *o = PyArray_DATA((PyArrayObject *)out);
    const int32_t *in = PyArray_DATA(ids);
    lock_take(self->lock);
    WITHOUT_GIL(s = pe_encode_text(self->c, in, n, len, o, (size_t)n * dim);
                if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
    PyThread_release_lock(self->lock);
    if (s) {
        Py_CLEAR(out);
        raise_status(s, msg);
    }
done:
    Py_DECREF(ids);
    return out;
}

static PyMethodDef Model_methods[] = {
    {"_info", (PyCFunction)Model_info, METH_NOARGS, "The pe_model_info fields as a dict."},
    {"_output_shape", (PyCFunction)Model_output_shape, METH_VARARGS,
     "output_shape(height, width, kind) -> (rows, cols) per image."},
    {"_encode_f32", (PyCFunction)Model_encode_f32, METH_VARARGS,
     "encode_f32(x float32 [N,3,H,W], kind) -> float32 [N, rows, cols]."},
    {"_encode_images", (PyCFunction)Model_encode_images, METH_VARARGS,
     "encode_images(items, kind, transform, height, width, crop, group) -> float32 "
     "[N, rows, cols]; an item is a path or (uint8 array, nearest)."},
    {"_encode_text", (PyCFunction)Model_encode_text, METH_VARARGS,
     "encode_text(ids int32 [N, L]) -> float32 [N, D] (not normalised)."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject Model_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pecore._pecore.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path, threads=0, vision_only=False, sha256=None, vision_heads=0, "
              "text_heads=0, pool_heads=0, batch=0, compute=None): a loaded model and its context "
              "(batch: its max_batch, 0 = the model's; compute: 'f32' or 'f16').",
    .tp_methods = Model_methods,
    .tp_init = (initproc)Model_init,
    .tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------- Tokenizer */

static void Tokenizer_dealloc(TokenizerObject *self) {
    pe_tokenizer_free(self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Tokenizer(path) loads a vocabulary file; Tokenizer(model) the copy stored
 * inside the model file. */
static int Tokenizer_init(TokenizerObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"source", NULL};
    PyObject *src;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O", kwlist, &src)) return -1;
    if (self->t) {
        PyErr_SetString(PyExc_RuntimeError, "Tokenizer is already initialised");
        return -1;
    }
    pe_status s;
    char msg[512] = "";
    if (PyObject_TypeCheck(src, &Model_Type)) {
        ModelObject *mo = (ModelObject *)src;
        if (!model_ready(mo)) return -1;
        s = pe_tokenizer_load_model(mo->m, &self->t); /* a copy: no reference kept */
        if (s) snprintf(msg, sizeof msg, "%s", pe_last_error());
    } else {
        PyObject *path;
        if (!PyUnicode_FSConverter(src, &path)) return -1;
        const char *p = PyBytes_AS_STRING(path);
        WITHOUT_GIL(s = pe_tokenizer_load(p, &self->t);
                    if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
        Py_DECREF(path);
    }
    if (s) raise_status(s, msg);
    return s ? -1 : 0;
}

/* tokenize(texts, context_length) -> int64 [N, context_length]. */
static PyObject *Tokenizer_tokenize(TokenizerObject *self, PyObject *args) {
    PyObject *seq;
    int ctx;
    if (!PyArg_ParseTuple(args, "Oi", &seq, &ctx)) return NULL;
    if (!self->t) return PyErr_Format(PyExc_RuntimeError, "Tokenizer is not initialised");
    if (ctx < 2 || ctx > 4096) return raise_status(PE_ERR_INVALID_ARG, "context_length must be 2..4096");
    PyObject *texts = PySequence_Tuple(seq); /* our references while the GIL is released */
    if (!texts) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(texts);
    const char **utf8 = PyMem_Calloc((size_t)n + 1, sizeof *utf8);
    int32_t *ids = PyMem_Calloc((size_t)n * ctx + 1, sizeof *ids);
    npy_intp dims[2] = {n, ctx};
    PyObject *out = NULL;
    if (!utf8 || !ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        PyObject *t = PyTuple_GET_ITEM(texts, i);
        if (!PyUnicode_Check(t)) {
            PyErr_Format(PyExc_TypeError, "tokenize: text %zd is %.60s, not str", i,
                         Py_TYPE(t)->tp_name);
            goto done;
        }
        if (!(utf8[i] = PyUnicode_AsUTF8AndSize(t, &len))) goto done;
        if ((size_t)len != strlen(utf8[i])) {
            raise_status(PE_ERR_INVALID_ARG, "tokenize: text contains a NUL character");
            goto done;
        }
    }
    pe_status s = PE_OK;
    char msg[512] = "";
    WITHOUT_GIL(for (Py_ssize_t i = 0; i < n && !s; i++) s =
                    pe_tokenize(self->t, utf8[i], ctx, ids + (size_t)i * ctx);
                if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
    if (s) {
        raise_status(s, msg);
        goto done;
    }
    if (!(out = PyArray_SimpleNew(2, dims, NPY_INT64))) goto done;
    int64_t *o = PyArray_DATA((PyArrayObject *)out);
    for (size_t i = 0; i < (size_t)n * ctx; i++) o[i] = ids[i];
done:
    PyMem_Free(utf8);
    PyMem_Free(ids);
    Py_DECREF(texts);
    return out;
}

static PyMethodDef Tokenizer_methods[] = {
    {"tokenize", (PyCFunction)Tokenizer_tokenize, METH_VARARGS,
     "tokenize(texts, context_length) -> int64 [N, context_length]."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject Tokenizer_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pecore._pecore.Tokenizer",
    .tp_basicsize = sizeof(TokenizerObject),
    .tp_dealloc = (destructor)Tokenizer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Tokenizer(path | Model): the CLIP BPE tokenizer.",
    .tp_methods = Tokenizer_methods,
    .tp_init = (initproc)Tokenizer_init,
    .tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------- outputs */

/* encode_image(output=NAME): the pe_output of each name. */
static const struct {
    const char *name;
    pe_output kind;
} OUTPUTS[] = {
    {"embedding", PE_OUTPUT_EMBEDDING},
    {"tokens", PE_OUTPUT_TOKENS},
    {"linear4", PE_OUTPUT_LINEAR4},
};

static int add_outputs(PyObject *mod) {
    PyObject *d = PyDict_New();
    if (!d) return -1;
    for (size_t i = 0; i < sizeof OUTPUTS / sizeof OUTPUTS[0]; i++) {
        PyObject *v = PyLong_FromLong(OUTPUTS[i].kind);
        int bad = !v || PyDict_SetItemString(d, OUTPUTS[i].name, v);
        Py_XDECREF(v);
        if (bad) {
            Py_DECREF(d);
            return -1;
        }
    }
    int rc = PyModule_AddObjectRef(mod, "OUTPUTS", d);
    Py_DECREF(d);
    return rc;
}

/* ---------------------------------------------------------------- functions */

/* preprocess(item, transform, height, width, crop, native) -> float32
 * [3, H, W], as encode_images prepares each image. */
static PyObject *py_preprocess(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *obj;
    int t, h, w, crop, native;
    pe_preprocess pp;
    if (!PyArg_ParseTuple(args, "Oiiiii", &obj, &t, &h, &w, &crop, &native)) return NULL;
    if (make_pp(t, h, w, crop, native, &pp)) return NULL;
    if (pp.height < 1 || pp.width < 1)
        return raise_status(PE_ERR_INVALID_ARG, "preprocess: size must be positive");
    item it;
    if (item_parse(obj, &it)) {
        Py_XDECREF(it.ref);
        return NULL;
    }
    npy_intp dims[3] = {3, pp.height, pp.width};
    PyObject *out = PyArray_SimpleNew(3, dims, NPY_FLOAT32);
    if (out) {
        float *o = PyArray_DATA((PyArrayObject *)out);
        size_t len = (size_t)3 * pp.height * pp.width;
        char msg[768] = "";
        pe_status s;
        WITHOUT_GIL(img_buf buf = {0}; const pe_image *img;
                    s = item_image(&it, &buf, &img, &pp, msg, sizeof msg);
                    if (!s && (s = pe_preprocess_image(img, &pp, o, len)))
                        snprintf(msg, sizeof msg, "%s", pe_last_error());
                    image_free(&buf));
        if (s) {
            Py_CLEAR(out);
            raise_status(s, msg);
        }
    }
    Py_DECREF(it.ref);
    return out;
}

/* Calibration images for pe_quantize, decoded one at a time when asked
 * (calib_image; called without the GIL: only C data is touched). */
typedef struct calib_items {
    const item *it;
    Py_ssize_t n;
    img_buf buf;
    Py_ssize_t bad;           /* the image that failed, or -1                */
    char msg[768];            /* why, naming it                             */
} calib_items;

static pe_status calib_image(void *user, int i, pe_image *img) {
    calib_items *ci = user;
    image_free(&ci->buf);
    if (i < 0 || i >= ci->n) return PE_ERR_INVALID_ARG;
    pe_preprocess pp = {0}; /* the quantizer resizes with the model's own transform */
    const pe_image *p;
    char why[640] = "";
    pe_status s = item_image(&ci->it[i], &ci->buf, &p, &pp, why, sizeof why);
    if (s) {
        ci->bad = i;
        if (ci->it[i].path) snprintf(ci->msg, sizeof ci->msg, "calibrate: %s", why);
        else snprintf(ci->msg, sizeof ci->msg, "calibrate: image %d: %s", i, why);
        return s;
    }
    *img = *p;
    return PE_OK;
}

/* The report as a dict shaped like `pecore quantize --calibrate --json`. */
static PyObject *report_dict(const pe_quant_report *r) {
    PyObject *worst = PyList_New(0);
    for (int i = 0; worst && i < r->n_worst; i++) {
        PyObject *w = Py_BuildValue("{s:s,s:d,s:d,s:s}", "name", r->worst[i].name, "before",
                                    (double)r->worst[i].before, "after", (double)r->worst[i].after,
                                    "action", r->worst[i].action);
        if (!w || PyList_Append(worst, w)) {
            Py_XDECREF(w);
            Py_CLEAR(worst);
            break;
        }
        Py_DECREF(w);
    }
    if (!worst) return NULL;
    return Py_BuildValue("{s:s,s:i,s:d,s:d,s:i,s:i,s:i,s:i,s:N}", "method", r->method, "images",
                         r->n_images, "cos_mean", r->cos_mean, "cos_min", r->cos_min, "linears",
                         r->n_linears, "smoothed", r->n_smoothed, "gptq", r->n_gptq, "float_columns",
                         r->n_fcols, "worst", worst);
}

/* quantize(src, dst, type, rules [(type, patterns)], keep, vision_only,
 * calibrate [items] or None, plain) -> the report dict, or None without
 * calibration images. */
static PyObject *py_quantize(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *src, *dst, *rules, *calib;
    int type, vision_only, plain;
    const char *keep;
    if (!PyArg_ParseTuple(args, "O&O&iOzpOp", PyUnicode_FSConverter, &src, PyUnicode_FSConverter,
                          &dst, &type, &rules, &keep, &vision_only, &calib, &plain))
        return NULL;
    PyObject *fast = PySequence_Fast(rules, "rules must be a list of (type, patterns)");
    Py_ssize_t n = fast ? PySequence_Fast_GET_SIZE(fast) : 0;
    pe_quant_rule *r = fast ? PyMem_Calloc((size_t)n + 1, sizeof *r) : NULL;
    PyObject *ret = NULL;
    calib_items ci = {.bad = -1};
    item *it = NULL;
    if (fast && !r) PyErr_NoMemory();
    for (Py_ssize_t i = 0; r && i < n; i++) {
        int t;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "is", &t, &r[i].patterns))
            goto done;
        r[i].type = (pe_weight_type)t;
    }
    if (r && calib != Py_None) {
        if (!(it = items_parse(calib, &ci.n))) goto done;
        ci.it = it;
        if (!ci.n || ci.n > 0x7fffffff) {
            raise_status(PE_ERR_INVALID_ARG, "calibrate: expected a non-empty list of images");
            goto done;
        }
    }
    if (r) {
        pe_quant_report rep;
        pe_quantize_options qo = {.type = (pe_weight_type)type, .rules = r, .n_rules = (int)n,
                                  .keep = keep, .vision_only = vision_only, .plain = plain,
                                  .n_calib = (int)ci.n, .calib_image = ci.n ? calib_image : NULL,
                                  .user = &ci, .report = &rep};
        const char *in = PyBytes_AS_STRING(src), *out = PyBytes_AS_STRING(dst);
        char msg[768] = "";
        pe_status s;
        WITHOUT_GIL(s = pe_quantize(in, out, &qo);
                    if (s) snprintf(msg, sizeof msg, "%s", ci.bad >= 0 ? ci.msg : pe_last_error());
                    image_free(&ci.buf));
        if (s) ret = raise_image_error(s, msg, ci.bad);
        else ret = ci.n ? report_dict(&rep) : Py_NewRef(Py_None);
    }
done:
    if (it) items_free(it, ci.n);
    PyMem_Free(r);
    Py_XDECREF(fast);
    Py_DECREF(src);
    Py_DECREF(dst);
    return ret;
}

static PyObject *py_version(PyObject *mod, PyObject *unused) {
    (void)mod, (void)unused;
    return PyUnicode_FromString(pe_version());
}

static PyObject *py_kernel_isa(PyObject *mod, PyObject *unused) {
    (void)mod, (void)unused;
    return PyUnicode_FromString(pe_kernel_isa());
}

static PyMethodDef module_methods[] = {
    {"preprocess", py_preprocess, METH_VARARGS,
     "preprocess(item, transform, height, width, crop, native) -> float32 [3, H, W]."},
    {"quantize", py_quantize, METH_VARARGS,
     "quantize(src, dst, type, rules, keep, vision_only, calibrate, plain) -> report or None."},
    {"version", py_version, METH_NOARGS, "The library's version string."},
    {"kernel_isa", py_kernel_isa, METH_NOARGS, "The kernel set in use (avx512, avx2, scalar)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_pecore", "The C extension under the pecore package.", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pecore(void) {
    import_array();
    PyObject *mod = PyModule_Create(&module_def);
    if (!mod) return NULL;
    if (add_errors(mod) || PyType_Ready(&Model_Type) || PyType_Ready(&Tokenizer_Type) ||
        PyModule_AddObjectRef(mod, "Model", (PyObject *)&Model_Type) ||
        PyModule_AddObjectRef(mod, "Tokenizer", (PyObject *)&Tokenizer_Type) ||
        classify_add_types(mod) || add_outputs(mod)) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
