/* pecore.Gallery and pecore.Prototypes over pe_gallery / pe_protos.  Each
 * object has its own lock: labels the library returns stay valid only until
 * the next change, so results are built while it is held. */
#include "binding.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    pe_gallery *g;
    PyThread_type_lock lock;
} GalleryObject;

typedef struct {
    PyObject_HEAD
    pe_protos *p;
    PyThread_type_lock lock;
} ProtosObject;

static PyTypeObject Gallery_Type, Protos_Type;

/* ---------------------------------------------------------------- shared */

static ModelObject *model_arg(PyObject *o) {
    if (PyObject_TypeCheck(o, &Model_Type) && ((ModelObject *)o)->m) return (ModelObject *)o;
    PyErr_Format(PyExc_TypeError, "expected a loaded pecore.Model, got %.60s", Py_TYPE(o)->tp_name);
    return NULL;
}

/* A new object of type and its lock; NULL on error. */
static PyObject *alloc_locked(PyTypeObject *type, PyThread_type_lock *lock) {
    if (!(*lock = PyThread_allocate_lock())) return PyErr_NoMemory();
    PyObject *self = type->tp_alloc(type, 0);
    if (!self) {
        PyThread_free_lock(*lock);
        *lock = NULL;
    }
    return self;
}

/* The one path argument of save/load as bytes; NULL with an exception. */
static PyObject *path_arg(PyObject *args) {
    PyObject *path;
    return PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path) ? path : NULL;
}

/* Gallery and Prototypes share the shape of these calls; small adapters
 * give the library's functions one signature. */
typedef pe_status (*load_fn)(const char *path, void **out);
typedef pe_status (*save_fn)(const void *h, const char *path);
typedef const char *(*label_fn)(const void *h, int i);

/* load(path) without the GIL: the new handle, or NULL with an exception. */
static void *load_path(PyObject *args, load_fn load) {
    PyObject *path = path_arg(args);
    if (!path) return NULL;
    const char *p = PyBytes_AS_STRING(path);
    void *h = NULL;
    pe_status s;
    char msg[512] = "";
    WITHOUT_GIL(s = load(p, &h); if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
    Py_DECREF(path);
    if (s) raise_status(s, msg);
    return s ? NULL : h;
}

/* save(path) under lock, without the GIL. */
static PyObject *save_path(const void *h, PyThread_type_lock lock, PyObject *args, save_fn save) {
    PyObject *path = path_arg(args);
    if (!path) return NULL;
    const char *p = PyBytes_AS_STRING(path);
    pe_status s;
    char msg[512] = "";
    lock_take(lock);
    WITHOUT_GIL(s = save(h, p); if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
    PyThread_release_lock(lock);
    Py_DECREF(path);
    return s ? raise_status(s, msg) : Py_NewRef(Py_None);
}

/* [label(h, 0), ..., label(h, n - 1)] as str; the caller holds the lock. */
static PyObject *label_list(const void *h, int n, label_fn label) {
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *s = PyUnicode_FromString(label(h, i));
        if (!s) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, s);
    }
    return list;
}

static int set_item(PyObject *d, const char *key, PyObject *v) {
    int rc = v ? PyDict_SetItemString(d, key, v) : -1;
    Py_XDECREF(v);
    return rc;
}

static PyObject *label_scores(const pe_label_score *ls, int n) {
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *d = PyDict_New();
        if (!d || set_item(d, "label", PyUnicode_FromString(ls[i].label)) ||
            set_item(d, "index", PyLong_FromLong(ls[i].index)) ||
            set_item(d, "score", PyFloat_FromDouble(ls[i].score)) ||
            set_item(d, "logit", PyFloat_FromDouble(ls[i].logit))) {
            Py_XDECREF(d);
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *neighbors(const pe_neighbor *nb, int n) {
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *d = PyDict_New();
        if (!d || set_item(d, "label", PyUnicode_FromString(nb[i].label)) ||
            set_item(d, "source", PyUnicode_FromString(nb[i].source ? nb[i].source : "")) ||
            set_item(d, "entry", PyLong_FromLong(nb[i].entry)) ||
            set_item(d, "similarity", PyFloat_FromDouble(nb[i].similarity)) ||
            set_item(d, "distance", PyFloat_FromDouble(nb[i].distance))) {
            Py_XDECREF(d);
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

/* {"labels": [...], "unknown": bool, "coarse": [...] [, "neighbors": [...]]},
 * the shape of `pecore classify --json`. */
static PyObject *result_dict(const pe_classification *r, int knn) {
    PyObject *d = PyDict_New();
    if (!d || set_item(d, "labels", label_scores(r->top, r->n_top)) ||
        set_item(d, "unknown", PyBool_FromLong(r->unknown)) ||
        set_item(d, "coarse", label_scores(r->coarse, r->n_coarse)) ||
        (knn && set_item(d, "neighbors", neighbors(r->neighbors, r->n_neighbors)))) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

typedef pe_status (*classify_fn)(const void *obj, const float *emb, int dim, int k, int metric,
                                 int top_k, pe_classification *out);

static pe_status gallery_classify(const void *g, const float *emb, int dim, int k, int metric,
                                  int top_k, pe_classification *out) {
    return pe_gallery_classify(g, emb, dim, k, (pe_metric)metric, top_k, out);
}

static pe_status protos_classify(const void *p, const float *emb, int dim, int k, int metric,
                                 int top_k, pe_classification *out) {
    (void)k, (void)metric;
    return pe_protos_classify(p, emb, dim, top_k, out);
}

/* Classifies emb [D] (one dict) or [N, D] (a list of dicts); the caller
 * holds the object's lock. */
static PyObject *classify_rows(const void *obj, classify_fn fn, PyObject *emb_obj, int k,
                               int metric, int top_k, int knn) {
    PyArrayObject *a = as_f32(emb_obj, 1, 2, "classify");
    if (!a) return NULL;
    int one = PyArray_NDIM(a) == 1;
    npy_intp n = one ? 1 : PyArray_DIM(a, 0), dim = PyArray_DIM(a, one ? 0 : 1);
    PyObject *list = PyList_New(n);
    pe_classification *r = PyMem_Malloc(sizeof *r);
    if (!r) PyErr_NoMemory();
    for (npy_intp i = 0; list && r && i < n; i++) {
        const float *row = (const float *)PyArray_DATA(a) + i * dim;
        pe_status s;
        char msg[512] = "";
        WITHOUT_GIL(s = fn(obj, row, (int)dim, k, metric, top_k, r);
                    if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
        PyObject *d = s ? raise_status(s, msg) : result_dict(r, knn);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, d);
    }
    PyMem_Free(r);
    Py_DECREF(a);
    if (!r) Py_CLEAR(list);
    if (list && one) {
        PyObject *d = Py_NewRef(PyList_GET_ITEM(list, 0));
        Py_DECREF(list);
        return d;
    }
    return list;
}

static PyObject *identity_dict(pe_status s, const pe_model_identity *id) {
    if (s) return raise_status(s, NULL);
    PyObject *d = PyDict_New();
    if (!d || set_item(d, "arch", PyUnicode_FromString(id->arch)) ||
        set_item(d, "dim", PyLong_FromLong(id->dim)) ||
        set_item(d, "fingerprint", PyLong_FromUnsignedLongLong(id->fingerprint))) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* ---------------------------------------------------------------- Gallery */

static void Gallery_dealloc(GalleryObject *self) {
    pe_gallery_free(self->g);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Takes ownership of g. */
static PyObject *gallery_wrap(PyTypeObject *type, pe_gallery *g) {
    PyThread_type_lock lock;
    PyObject *o = alloc_locked(type, &lock);
    if (!o) {
        pe_gallery_free(g);
        return NULL;
    }
    ((GalleryObject *)o)->g = g;
    ((GalleryObject *)o)->lock = lock;
    return o;
}

static PyObject *Gallery_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"model", NULL};
    PyObject *mobj;
    pe_gallery *g;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O", kwlist, &mobj)) return NULL;
    ModelObject *mo = model_arg(mobj);
    if (!mo) return NULL;
    pe_status s = pe_gallery_create(mo->m, &g);
    return s ? raise_status(s, NULL) : gallery_wrap(type, g);
}

static int gallery_ok(GalleryObject *self) {
    if (self->g) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Gallery is not initialised");
    return 0;
}

static pe_status gallery_load(const char *path, void **out) {
    return pe_gallery_load(path, (pe_gallery **)out);
}

static pe_status gallery_save(const void *g, const char *path) {
    return pe_gallery_save(g, path);
}

static const char *gallery_label(const void *g, int i) {
    return pe_gallery_label(g, i);
}

static PyObject *Gallery_load(PyObject *cls, PyObject *args) {
    pe_gallery *g = load_path(args, gallery_load);
    return g ? gallery_wrap((PyTypeObject *)cls, g) : NULL;
}

static PyObject *Gallery_save(GalleryObject *self, PyObject *args) {
    return gallery_ok(self) ? save_path(self->g, self->lock, args, gallery_save) : NULL;
}

static PyObject *Gallery_add(GalleryObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"label", "embedding", "source", NULL};
    const char *label, *source = NULL;
    PyObject *emb;
    if (!gallery_ok(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "sO|z", kwlist, &label, &emb, &source))
        return NULL;
    PyArrayObject *a = as_f32(emb, 1, 1, "Gallery.add embedding");
    if (!a) return NULL;
    lock_take(self->lock);
    pe_status s = pe_gallery_add(self->g, label, source, PyArray_DATA(a), (int)PyArray_DIM(a, 0));
    PyThread_release_lock(self->lock);
    Py_DECREF(a);
    return s ? raise_status(s, NULL) : Py_NewRef(Py_None);
}

static PyObject *Gallery_remove(GalleryObject *self, PyObject *args) {
    const char *label;
    int removed = 0;
    if (!gallery_ok(self) || !PyArg_ParseTuple(args, "s", &label)) return NULL;
    lock_take(self->lock);
    pe_status s = pe_gallery_remove(self->g, label, &removed);
    PyThread_release_lock(self->lock);
    return s ? raise_status(s, NULL) : PyLong_FromLong(removed);
}

static Py_ssize_t Gallery_len(GalleryObject *self) {
    return self->g ? pe_gallery_count(self->g) : 0;
}

static PyObject *Gallery_labels(GalleryObject *self, PyObject *unused) {
    (void)unused;
    if (!gallery_ok(self)) return NULL;
    lock_take(self->lock);
    PyObject *list = label_list(self->g, pe_gallery_label_count(self->g), gallery_label);
    PyThread_release_lock(self->lock);
    return list;
}

static PyObject *Gallery_entries(GalleryObject *self, PyObject *unused) {
    (void)unused;
    if (!gallery_ok(self)) return NULL;
    lock_take(self->lock);
    int n = pe_gallery_count(self->g);
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        const char *label = "", *source = "";
        pe_gallery_entry(self->g, i, &label, &source);
        PyObject *t = Py_BuildValue("(ss)", label, source ? source : "");
        if (!t) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, t);
    }
    PyThread_release_lock(self->lock);
    return list;
}

static PyObject *Gallery_identity(GalleryObject *self, PyObject *unused) {
    (void)unused;
    pe_model_identity id;
    if (!gallery_ok(self)) return NULL;
    return identity_dict(pe_gallery_identity(self->g, &id), &id);
}

static PyObject *Gallery_check_model(GalleryObject *self, PyObject *args) {
    PyObject *mobj;
    if (!gallery_ok(self) || !PyArg_ParseTuple(args, "O", &mobj)) return NULL;
    ModelObject *mo = model_arg(mobj);
    if (!mo) return NULL;
    pe_status s = pe_gallery_check_model(self->g, mo->m);
    return s ? raise_status(s, NULL) : Py_NewRef(Py_None);
}

static PyObject *Gallery_classify(GalleryObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"embedding", "k", "metric", "top_k", NULL};
    PyObject *emb;
    int k = 5, top_k = 5;
    const char *metric = "cosine";
    if (!gallery_ok(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O|isi", kwlist, &emb, &k, &metric, &top_k))
        return NULL;
    int m = !strcmp(metric, "cosine") ? PE_METRIC_COSINE : !strcmp(metric, "l2") ? PE_METRIC_L2 : -1;
    if (m < 0) return raise_status(PE_ERR_INVALID_ARG, "metric must be 'cosine' or 'l2'");
    lock_take(self->lock);
    PyObject *r = classify_rows(self->g, gallery_classify, emb, k, m, top_k, 1);
    PyThread_release_lock(self->lock);
    return r;
}

static PyMethodDef Gallery_methods[] = {
    {"load", (PyCFunction)Gallery_load, METH_VARARGS | METH_CLASS,
     "Gallery.load(path): a gallery file (checked: version, sizes, CRC-32)."},
    {"save", (PyCFunction)Gallery_save, METH_VARARGS, "save(path), atomically."},
    {"add", (PyCFunction)(void (*)(void))Gallery_add, METH_VARARGS | METH_KEYWORDS,
     "add(label, embedding [D], source=None): one entry (the embedding is normalised)."},
    {"remove", (PyCFunction)Gallery_remove, METH_VARARGS,
     "remove(label) -> entries removed; NotFoundError when none."},
    {"labels", (PyCFunction)Gallery_labels, METH_NOARGS, "The distinct labels."},
    {"entries", (PyCFunction)Gallery_entries, METH_NOARGS, "[(label, source)] per entry."},
    {"identity", (PyCFunction)Gallery_identity, METH_NOARGS,
     "The model it was made with: {arch, dim, fingerprint}."},
    {"check_model", (PyCFunction)Gallery_check_model, METH_VARARGS,
     "check_model(model): UnsupportedError when made with another model."},
    {"classify", (PyCFunction)(void (*)(void))Gallery_classify, METH_VARARGS | METH_KEYWORDS,
     "classify(embedding [D] or [N, D], k=5, metric='cosine', top_k=5) -> dict or list of "
     "dicts {labels, unknown, coarse, neighbors}."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Gallery_seq = {.sq_length = (lenfunc)Gallery_len};

/* ---------------------------------------------------------------- Prototypes */

static void Protos_dealloc(ProtosObject *self) {
    pe_protos_free(self->p);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int protos_ok(ProtosObject *self) {
    if (self->p) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Prototypes is not initialised");
    return 0;
}

/* Takes ownership of p. */
static PyObject *protos_wrap(PyTypeObject *type, pe_protos *p) {
    PyThread_type_lock lock;
    PyObject *o = alloc_locked(type, &lock);
    if (!o) {
        pe_protos_free(p);
        return NULL;
    }
    ((ProtosObject *)o)->p = p;
    ((ProtosObject *)o)->lock = lock;
    return o;
}

static PyObject *Protos_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"model", NULL};
    PyObject *mobj;
    pe_protos *p;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O", kwlist, &mobj)) return NULL;
    ModelObject *mo = model_arg(mobj);
    if (!mo) return NULL;
    pe_status s = pe_protos_create(mo->m, &p);
    return s ? raise_status(s, NULL) : protos_wrap(type, p);
}

static pe_status protos_load(const char *path, void **out) {
    return pe_protos_load(path, (pe_protos **)out);
}

static pe_status protos_save(const void *p, const char *path) {
    return pe_protos_save(p, path);
}

static const char *protos_label(const void *p, int i) {
    return pe_protos_label(p, i);
}

static PyObject *Protos_load(PyObject *cls, PyObject *args) {
    pe_protos *p = load_path(args, protos_load);
    return p ? protos_wrap((PyTypeObject *)cls, p) : NULL;
}

static PyObject *Protos_save(ProtosObject *self, PyObject *args) {
    return protos_ok(self) ? save_path(self->p, self->lock, args, protos_save) : NULL;
}

static float threshold_arg(PyObject *t) {
    return t == Py_None ? PE_NO_THRESHOLD : (float)PyFloat_AsDouble(t);
}

static PyObject *Protos_add(ProtosObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"label", "embedding", "threshold", NULL};
    const char *label;
    PyObject *emb, *th = Py_None;
    if (!protos_ok(self) || !PyArg_ParseTupleAndKeywords(args, kw, "sO|O", kwlist, &label, &emb, &th))
        return NULL;
    float t = threshold_arg(th);
    if (PyErr_Occurred()) return NULL;
    PyArrayObject *a = as_f32(emb, 1, 1, "Prototypes.add embedding");
    if (!a) return NULL;
    lock_take(self->lock);
    pe_status s = pe_protos_add(self->p, label, PyArray_DATA(a), (int)PyArray_DIM(a, 0), t);
    PyThread_release_lock(self->lock);
    Py_DECREF(a);
    return s ? raise_status(s, NULL) : Py_NewRef(Py_None);
}

/* A list of str as UTF-8 pointers into a tuple the caller keeps (*keep). */
static const char **utf8_list(PyObject *seq, PyObject **keep, Py_ssize_t *n) {
    if (!(*keep = PySequence_Tuple(seq))) return NULL;
    *n = PyTuple_GET_SIZE(*keep);
    const char **v = PyMem_Calloc((size_t)*n + 1, sizeof *v);
    if (!v) PyErr_NoMemory();
    for (Py_ssize_t i = 0; v && i < *n; i++)
        if (!(v[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(*keep, i)))) {
            PyMem_Free(v);
            v = NULL;
        }
    if (!v) Py_CLEAR(*keep);
    return v;
}

/* add_text(model, labels, templates=None, tokenizer=None): one class per
 * label from the text tower (pe_protos_add_text).  Locks: this object, then the
 * model (the only place holding two). */
static PyObject *Protos_add_text(ProtosObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"model", "labels", "templates", "tokenizer", NULL};
    PyObject *mobj, *labels, *templates = Py_None, *tobj = Py_None;
    if (!protos_ok(self) || !PyArg_ParseTupleAndKeywords(args, kw, "OO|OO", kwlist, &mobj,
                                                         &labels, &templates, &tobj))
        return NULL;
    ModelObject *mo = model_arg(mobj);
    if (!mo) return NULL;
    /* our reference to the tokenizer: model.tokenizer unless one is given */
    tobj = tobj == Py_None ? PyObject_GetAttrString(mobj, "tokenizer") : Py_NewRef(tobj);
    if (!tobj) return NULL;
    if (!PyObject_TypeCheck(tobj, &Tokenizer_Type) || !((TokenizerObject *)tobj)->t) {
        Py_DECREF(tobj);
        return PyErr_Format(PyExc_TypeError, "add_text: tokenizer must be a pecore.Tokenizer");
    }
    PyObject *lk = NULL, *tk = NULL;
    Py_ssize_t nl = 0, nt = 0;
    const char **lv = utf8_list(labels, &lk, &nl), **tv = NULL;
    if (!lv || (templates != Py_None && !(tv = utf8_list(templates, &tk, &nt)))) {
        PyMem_Free(lv);
        Py_XDECREF(lk);
        Py_DECREF(tobj);
        return NULL;
    }
    const pe_tokenizer *tok = ((TokenizerObject *)tobj)->t;
    pe_status s;
    char msg[512] = "";
    lock_take(self->lock);
    lock_take(mo->lock);
    WITHOUT_GIL(s = pe_protos_add_text(self->p, mo->c, tok, lv, (int)nl, tv, (int)nt);
                if (s) snprintf(msg, sizeof msg, "%s", pe_last_error()));
    PyThread_release_lock(mo->lock);
    PyThread_release_lock(self->lock);
    PyMem_Free(lv);
    PyMem_Free(tv);
    Py_XDECREF(lk);
    Py_XDECREF(tk);
    Py_DECREF(tobj);
    return s ? raise_status(s, msg) : Py_NewRef(Py_None);
}

static PyObject *Protos_set_threshold(ProtosObject *self, PyObject *args) {
    const char *label;
    PyObject *th;
    if (!protos_ok(self) || !PyArg_ParseTuple(args, "sO", &label, &th)) return NULL;
    float t = threshold_arg(th);
    if (PyErr_Occurred()) return NULL;
    lock_take(self->lock);
    pe_status s = pe_protos_set_threshold(self->p, label, t);
    PyThread_release_lock(self->lock);
    return s ? raise_status(s, NULL) : Py_NewRef(Py_None);
}

static Py_ssize_t Protos_len(ProtosObject *self) {
    return self->p ? pe_protos_count(self->p) : 0;
}

static PyObject *Protos_labels(ProtosObject *self, PyObject *unused) {
    (void)unused;
    if (!protos_ok(self)) return NULL;
    lock_take(self->lock);
    PyObject *list = label_list(self->p, pe_protos_count(self->p), protos_label);
    PyThread_release_lock(self->lock);
    return list;
}

static PyObject *Protos_thresholds(ProtosObject *self, PyObject *unused) {
    (void)unused;
    if (!protos_ok(self)) return NULL;
    lock_take(self->lock);
    int n = pe_protos_count(self->p);
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        float t = pe_protos_threshold(self->p, i);
        PyObject *v = t == PE_NO_THRESHOLD ? Py_NewRef(Py_None) : PyFloat_FromDouble(t);
        if (!v) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, v);
    }
    PyThread_release_lock(self->lock);
    return list;
}

static PyObject *Protos_embeddings(ProtosObject *self, PyObject *unused) {
    (void)unused;
    pe_model_identity id;
    if (!protos_ok(self)) return NULL;
    pe_status s = pe_protos_identity(self->p, &id);
    if (s) return raise_status(s, NULL);
    lock_take(self->lock);
    npy_intp dims[2] = {pe_protos_count(self->p), id.dim};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    for (npy_intp i = 0; out && i < dims[0]; i++)
        memcpy((float *)PyArray_DATA((PyArrayObject *)out) + i * id.dim,
               pe_protos_embedding(self->p, (int)i), sizeof(float) * (size_t)id.dim);
    PyThread_release_lock(self->lock);
    return out;
}

static PyObject *Protos_identity(ProtosObject *self, PyObject *unused) {
    (void)unused;
    pe_model_identity id;
    if (!protos_ok(self)) return NULL;
    return identity_dict(pe_protos_identity(self->p, &id), &id);
}

static PyObject *Protos_check_model(ProtosObject *self, PyObject *args) {
    PyObject *mobj;
    if (!protos_ok(self) || !PyArg_ParseTuple(args, "O", &mobj)) return NULL;
    ModelObject *mo = model_arg(mobj);
    if (!mo) return NULL;
    pe_status s = pe_protos_check_model(self->p, mo->m);
    return s ? raise_status(s, NULL) : Py_NewRef(Py_None);
}

static PyObject *Protos_classify(ProtosObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"embedding", "top_k", NULL};
    PyObject *emb;
    int top_k = 5;
    if (!protos_ok(self) || !PyArg_ParseTupleAndKeywords(args, kw, "O|i", kwlist, &emb, &top_k))
        return NULL;
    lock_take(self->lock);
    PyObject *r = classify_rows(self->p, protos_classify, emb, 0, 0, top_k, 0);
    PyThread_release_lock(self->lock);
    return r;
}

static PyMethodDef Protos_methods[] = {
    {"load", (PyCFunction)Protos_load, METH_VARARGS | METH_CLASS,
     "Prototypes.load(path): a prototype pack (checked: version, sizes, CRC-32)."},
    {"save", (PyCFunction)Protos_save, METH_VARARGS, "save(path), atomically."},
    {"add", (PyCFunction)(void (*)(void))Protos_add, METH_VARARGS | METH_KEYWORDS,
     "add(label, embedding [D], threshold=None): one class (the embedding is normalised)."},
    {"add_text", (PyCFunction)(void (*)(void))Protos_add_text, METH_VARARGS | METH_KEYWORDS,
     "add_text(model, labels, templates=None, tokenizer=None): one class per label from "
     "prompts (templates: PE_TEMPLATE_DEFAULT; tokenizer: model.tokenizer)."},
    {"set_threshold", (PyCFunction)Protos_set_threshold, METH_VARARGS,
     "set_threshold(label, cosine or None)."},
    {"labels", (PyCFunction)Protos_labels, METH_NOARGS, "The class labels."},
    {"thresholds", (PyCFunction)Protos_thresholds, METH_NOARGS, "Per class: cosine or None."},
    {"embeddings", (PyCFunction)Protos_embeddings, METH_NOARGS, "float32 [C, D], unit rows."},
    {"identity", (PyCFunction)Protos_identity, METH_NOARGS,
     "The model it was made with: {arch, dim, fingerprint}."},
    {"check_model", (PyCFunction)Protos_check_model, METH_VARARGS,
     "check_model(model): UnsupportedError when made with another model."},
    {"classify", (PyCFunction)(void (*)(void))Protos_classify, METH_VARARGS | METH_KEYWORDS,
     "classify(embedding [D] or [N, D], top_k=5) -> dict or list of dicts {labels, unknown, "
     "coarse}."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Protos_seq = {.sq_length = (lenfunc)Protos_len};

/* ---------------------------------------------------------------- types */

static PyTypeObject Gallery_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pecore.Gallery",
    .tp_basicsize = sizeof(GalleryObject),
    .tp_dealloc = (destructor)Gallery_dealloc,
    .tp_as_sequence = &Gallery_seq,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Gallery(model): labelled reference embeddings for k-nearest-neighbour "
              "classification; Gallery.load(path) reads a saved one.",
    .tp_methods = Gallery_methods,
    .tp_new = Gallery_new,
};

static PyTypeObject Protos_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pecore.Prototypes",
    .tp_basicsize = sizeof(ProtosObject),
    .tp_dealloc = (destructor)Protos_dealloc,
    .tp_as_sequence = &Protos_seq,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Prototypes(model): one embedding per class (zero-shot prompts or means of "
              "images); Prototypes.load(path) reads a saved pack.",
    .tp_methods = Protos_methods,
    .tp_new = Protos_new,
};

int classify_add_types(PyObject *module) {
    if (PyType_Ready(&Gallery_Type) || PyType_Ready(&Protos_Type)) return -1;
    if (PyModule_AddObjectRef(module, "Gallery", (PyObject *)&Gallery_Type) ||
        PyModule_AddObjectRef(module, "Prototypes", (PyObject *)&Protos_Type))
        return -1;
    return 0;
}
