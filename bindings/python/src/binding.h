/* Shared by the files of the _pecore extension: the Model object, errors,
 * locking and the NumPy helpers.  The Python layer (pecore/__init__.py)
 * converts user inputs; these files take checked, contiguous arrays. */
#ifndef PECORE_BINDING_H
#define PECORE_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL pecore_ARRAY_API
#ifndef BINDING_MAIN
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "pecore.h"

/* One loaded model and the one context every thread shares, behind lock. */
typedef struct {
    PyObject_HEAD
    pe_model *m;
    pe_ctx *c;                /* used only while lock is held             */
    PyThread_type_lock lock;
    pe_model_info info;
} ModelObject;

typedef struct {
    PyObject_HEAD
    pe_tokenizer *t;          /* read-only once loaded: no lock            */
} TokenizerObject;

extern PyTypeObject Model_Type, Tokenizer_Type;

/* Raises the pecore.Error subclass of s with msg (pe_last_error() when
 * msg is NULL or empty); returns NULL. */
PyObject *raise_status(pe_status s, const char *msg);

/* Takes lock; waits for it with the GIL released, so a holder that needs
 * the GIL back (to build its results) never deadlocks against a waiter.
 * (Code running without the GIL takes a lock with PyThread_acquire_lock.) */
void lock_take(PyThread_type_lock lock);

/* Runs the statements with the GIL released (the caller holds the object's lock). */
#define WITHOUT_GIL(...)                               \
    do {                                               \
        Py_BEGIN_ALLOW_THREADS __VA_ARGS__; Py_END_ALLOW_THREADS \
    } while (0)

/* A C-contiguous float32 array of obj with ndim in [lo, hi], or NULL with
 * pecore.ShapeError (what names the argument). New reference. */
PyArrayObject *as_f32(PyObject *obj, int lo, int hi, const char *what);

/* Adds Gallery and Prototypes (classify.c); 0 or -1. */
int classify_add_types(PyObject *module);

#endif
