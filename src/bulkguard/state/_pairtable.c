/* PairTable: the pair graph as a flat open-addressing table of machine integers.

   A dict[int, int] spends about 100 bytes per pair (a hash entry, a boxed key above 2**32 and
   a boxed value); this table keeps the key and the value side by side in two int64 slots,
   16 bytes, at a load between 3/8 and 3/4: 21-43 bytes per pair. It behaves as the dict
   it replaces for what bulkguard does with it (get, [], []=, del, in, len, items, keys,
   values, iteration, pickling), but that a key it does not hold reads as 0 (``t[key]``, as
   the pure build's dict with ``__missing__``): int keys in [0, 2**62) with int64 values live in the flat
   slots, any other int key or value in a small side dict, so it holds whatever the dict did. Built with the
   compiled hot path; the pure-Python build uses a dict (bulkguard.state.pairtable). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define EMPTY (-1)
#define DELETED (-2)
#define MIN_CAP 8

typedef struct {
    PyObject_HEAD
    int64_t *keys;
    int64_t *vals;
    Py_ssize_t cap;    /* a power of two, or 0 before the first insert */
    Py_ssize_t used;   /* live entries */
    Py_ssize_t fill;   /* live + deleted slots */
    PyObject *big;     /* a dict for what does not fit in int64 (a timestamp far in the future), or NULL */
} PairTable;

static PyTypeObject PairTableType;

static inline uint64_t mix(uint64_t x) {   /* splitmix64 finalizer: ids are dense, keys are not random */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The key as an int64 in [0, 2**62), or -1 with an exception set. */
static int64_t as_key(PyObject *o) {
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "PairTable key must be an int, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long k = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (k == -1 && PyErr_Occurred()) return -1;
    if (overflow || k < 0 || k >= ((long long)1 << 62)) {
        PyErr_SetString(PyExc_OverflowError, "PairTable key out of range [0, 2**62)");
        return -1;
    }
    return (int64_t)k;
}

/* 1 when key and value fit the flat slots (stored in *k, *v), 0 when they go to the side
   dict, -1 with an exception (not ints). */
static int fits(PyObject *ko, PyObject *vo, int64_t *k, int64_t *v) {
    if (!PyLong_Check(ko)) {
        PyErr_Format(PyExc_TypeError, "PairTable key must be an int, not %.100s", Py_TYPE(ko)->tp_name);
        return -1;
    }
    if (vo != NULL && !PyLong_Check(vo)) {
        PyErr_Format(PyExc_TypeError, "PairTable value must be an int, not %.100s", Py_TYPE(vo)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long kk = PyLong_AsLongLongAndOverflow(ko, &overflow);
    if (kk == -1 && PyErr_Occurred()) return -1;
    if (overflow || kk < 0 || kk >= ((long long)1 << 62)) return 0;
    *k = (int64_t)kk;
    if (vo != NULL) {
        long long vv = PyLong_AsLongLongAndOverflow(vo, &overflow);
        if (vv == -1 && PyErr_Occurred()) return -1;
        if (overflow) return 0;
        *v = (int64_t)vv;
    }
    return 1;
}

/* Slot of key, or -1 if absent. */
static Py_ssize_t find(PairTable *t, int64_t key) {
    if (t->cap == 0) return -1;
    size_t mask = (size_t)t->cap - 1;
    size_t i = (size_t)mix((uint64_t)key) & mask;
    for (;;) {
        int64_t k = t->keys[i];
        if (k == key) return (Py_ssize_t)i;
        if (k == EMPTY) return -1;
        i = (i + 1) & mask;
    }
}

static int resize(PairTable *t, Py_ssize_t cap) {
    int64_t *keys = PyMem_Malloc((size_t)cap * sizeof(int64_t));
    int64_t *vals = PyMem_Malloc((size_t)cap * sizeof(int64_t));
    if (keys == NULL || vals == NULL) {
        PyMem_Free(keys);
        PyMem_Free(vals);
        PyErr_NoMemory();
        return -1;
    }
    memset(keys, 0xff, (size_t)cap * sizeof(int64_t));   /* every slot EMPTY (-1) */
    size_t mask = (size_t)cap - 1;
    for (Py_ssize_t j = 0; j < t->cap; j++) {
        int64_t k = t->keys[j];
        if (k < 0) continue;
        size_t i = (size_t)mix((uint64_t)k) & mask;
        while (keys[i] != EMPTY) i = (i + 1) & mask;
        keys[i] = k;
        vals[i] = t->vals[j];
    }
    PyMem_Free(t->keys);
    PyMem_Free(t->vals);
    t->keys = keys;
    t->vals = vals;
    t->cap = cap;
    t->fill = t->used;
    return 0;
}

static int put(PairTable *t, int64_t key, int64_t val) {
    if ((t->fill + 1) * 4 > t->cap * 3) {   /* keep the load (with deleted slots) under 3/4 */
        Py_ssize_t cap = MIN_CAP;
        while ((t->used + 1) * 2 > cap) cap <<= 1;   /* at most half full after: 3/8 on growth */
        if (resize(t, cap) < 0) return -1;
    }
    size_t mask = (size_t)t->cap - 1;
    size_t i = (size_t)mix((uint64_t)key) & mask;
    Py_ssize_t tomb = -1;
    for (;;) {
        int64_t k = t->keys[i];
        if (k == key) { t->vals[i] = val; return 0; }
        if (k == EMPTY) break;
        if (k == DELETED && tomb < 0) tomb = (Py_ssize_t)i;
        i = (i + 1) & mask;
    }
    if (tomb >= 0) i = (size_t)tomb; else t->fill++;
    t->keys[i] = key;
    t->vals[i] = val;
    t->used++;
    return 0;
}

static PyObject *PairTable_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    if ((kw != NULL && PyDict_GET_SIZE(kw) > 0) || PyTuple_GET_SIZE(args) > 0) {
        PyErr_SetString(PyExc_TypeError, "PairTable() takes no arguments");
        return NULL;
    }
    PairTable *t = (PairTable *)type->tp_alloc(type, 0);
    if (t == NULL) return NULL;
    t->keys = t->vals = NULL;
    t->cap = t->used = t->fill = 0;
    t->big = NULL;
    return (PyObject *)t;
}

static void PairTable_dealloc(PairTable *t) {
    Py_XDECREF(t->big);
    PyMem_Free(t->keys);
    PyMem_Free(t->vals);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t big_len(PairTable *t) { return t->big != NULL ? PyDict_GET_SIZE(t->big) : 0; }

static Py_ssize_t PairTable_len(PairTable *t) { return t->used + big_len(t); }

static PyObject *PairTable_subscript(PairTable *t, PyObject *o) {
    int64_t key, v;
    int f = fits(o, NULL, &key, &v);
    if (f < 0) return NULL;
    if (f == 1) {
        Py_ssize_t i = find(t, key);
        if (i >= 0) return PyLong_FromLongLong(t->vals[i]);
    }
    if (big_len(t)) {
        PyObject *x = PyDict_GetItemWithError(t->big, o);
        if (x != NULL) { Py_INCREF(x); return x; }
        if (PyErr_Occurred()) return NULL;
    }
    /* a pair never seen reads as 0 (no flags, no time): the hot path's one look-up per
       message is a subscript, which compiled code calls directly (``get`` is a method
       look-up by name, about 400 instructions more) */
    return PyLong_FromLong(0);
}

static int PairTable_ass_subscript(PairTable *t, PyObject *o, PyObject *v) {
    int64_t key = 0, val = 0;
    int f = fits(o, v, &key, &val);
    if (f < 0) return -1;
    if (v == NULL) {   /* del t[key] */
        if (f == 1) {
            Py_ssize_t i = find(t, key);
            if (i >= 0) {
                t->keys[i] = DELETED;
                t->used--;
                return 0;
            }
        }
        if (big_len(t)) return PyDict_DelItem(t->big, o);
        PyErr_SetObject(PyExc_KeyError, o);
        return -1;
    }
    if (big_len(t)) {   /* the key lives in one place only */
        int had = PyDict_Contains(t->big, o);
        if (had < 0 || (had == 1 && PyDict_DelItem(t->big, o) < 0)) return -1;
    }
    if (f == 1) return put(t, key, val);
    if (key >= 0 && PyLong_Check(o)) {   /* a key that fits with a value that does not */
        int64_t kk;
        if (fits(o, NULL, &kk, &val) == 1) {
            Py_ssize_t i = find(t, kk);
            if (i >= 0) { t->keys[i] = DELETED; t->used--; }
        }
    }
    if (t->big == NULL && (t->big = PyDict_New()) == NULL) return -1;
    return PyDict_SetItem(t->big, o, v);
}

static int PairTable_contains(PairTable *t, PyObject *o) {
    if (!PyLong_Check(o)) return 0;
    int64_t key, v;
    int f = fits(o, NULL, &key, &v);
    if (f < 0) return -1;
    if (f == 1 && find(t, key) >= 0) return 1;
    return big_len(t) ? PyDict_Contains(t->big, o) : 0;
}

/* get(key, default=None): the hot path's one call per message. */
static PyObject *PairTable_get(PairTable *t, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get expected 1 or 2 arguments");
        return NULL;
    }
    PyObject *o = args[0];
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long k = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (k == -1 && PyErr_Occurred()) return NULL;
        if (!overflow && k >= 0 && k < ((long long)1 << 62)) {
            Py_ssize_t i = find(t, (int64_t)k);
            if (i >= 0) return PyLong_FromLongLong(t->vals[i]);
        }
        if (big_len(t)) {
            PyObject *x = PyDict_GetItemWithError(t->big, o);
            if (x != NULL) { Py_INCREF(x); return x; }
            if (PyErr_Occurred()) return NULL;
        }
    } else if (as_key(o) < 0) {
        return NULL;
    }
    PyObject *d = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(d);
    return d;
}

typedef enum { KEYS, VALUES, ITEMS } Which;

static PyObject *listing(PairTable *t, Which which) {
    PyObject *out = PyList_New(t->used);
    if (out == NULL) return NULL;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < t->cap; i++) {
        if (t->keys[i] < 0) continue;
        PyObject *x;
        if (which == KEYS) x = PyLong_FromLongLong(t->keys[i]);
        else if (which == VALUES) x = PyLong_FromLongLong(t->vals[i]);
        else x = Py_BuildValue("(LL)", (long long)t->keys[i], (long long)t->vals[i]);
        if (x == NULL) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, n++, x);
    }
    if (big_len(t)) {   /* the side dict's entries after the flat ones */
        PyObject *extra = which == KEYS ? PyDict_Keys(t->big)
                        : which == VALUES ? PyDict_Values(t->big) : PyDict_Items(t->big);
        if (extra == NULL) { Py_DECREF(out); return NULL; }
        int r = PyList_SetSlice(out, n, n, extra);
        Py_DECREF(extra);
        if (r < 0) { Py_DECREF(out); return NULL; }
    }
    return out;
}

static PyObject *PairTable_keys(PairTable *t, PyObject *unused) { return listing(t, KEYS); }
static PyObject *PairTable_values(PairTable *t, PyObject *unused) { return listing(t, VALUES); }
static PyObject *PairTable_items(PairTable *t, PyObject *unused) { return listing(t, ITEMS); }

static PyObject *PairTable_iter(PairTable *t) {
    PyObject *keys = listing(t, KEYS);   /* a snapshot: deleting while iterating is safe */
    if (keys == NULL) return NULL;
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *PairTable_clear(PairTable *t, PyObject *unused) {
    Py_CLEAR(t->big);
    PyMem_Free(t->keys);
    PyMem_Free(t->vals);
    t->keys = t->vals = NULL;
    t->cap = t->used = t->fill = 0;
    Py_RETURN_NONE;
}

static PyObject *PairTable_sizeof(PairTable *t, PyObject *unused) {
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(PairTable) + t->cap * 2 * (Py_ssize_t)sizeof(int64_t));
}

/* Pickled as its items through bulkguard.state.pairtable.from_items, so a checkpoint of the
   compiled build loads in the pure one (as a dict) and the other way round. */
static PyObject *PairTable_reduce(PairTable *t, PyObject *unused) {
    PyObject *mod = PyImport_ImportModule("bulkguard.state.pairtable");
    if (mod == NULL) return NULL;
    PyObject *f = PyObject_GetAttrString(mod, "from_items");
    Py_DECREF(mod);
    if (f == NULL) return NULL;
    PyObject *items = listing(t, ITEMS);
    if (items == NULL) { Py_DECREF(f); return NULL; }
    return Py_BuildValue("(N(N))", f, items);
}

static PyObject *PairTable_richcompare(PyObject *a, PyObject *b, int op) {
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, &PairTableType)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PairTable *x = (PairTable *)a, *y = (PairTable *)b;
    int eq = x->used == y->used;
    for (Py_ssize_t i = 0; eq && i < x->cap; i++) {
        if (x->keys[i] < 0) continue;
        Py_ssize_t j = find(y, x->keys[i]);
        eq = j >= 0 && y->vals[j] == x->vals[i];
    }
    if (eq && (big_len(x) || big_len(y))) {
        if (!big_len(x) || !big_len(y)) eq = 0;
        else {
            eq = PyObject_RichCompareBool(x->big, y->big, Py_EQ);
            if (eq < 0) return NULL;
        }
    }
    if (op == Py_NE) eq = !eq;
    return PyBool_FromLong(eq);
}

static PyMethodDef PairTable_methods[] = {
    {"get", (PyCFunction)(void (*)(void))PairTable_get, METH_FASTCALL, "get(key, default=None)"},
    {"keys", (PyCFunction)PairTable_keys, METH_NOARGS, "a list of the keys"},
    {"values", (PyCFunction)PairTable_values, METH_NOARGS, "a list of the values"},
    {"items", (PyCFunction)PairTable_items, METH_NOARGS, "a list of (key, value)"},
    {"clear", (PyCFunction)PairTable_clear, METH_NOARGS, "remove every entry"},
    {"__sizeof__", (PyCFunction)PairTable_sizeof, METH_NOARGS, "bytes held"},
    {"__reduce__", (PyCFunction)PairTable_reduce, METH_NOARGS, "pickle as items"},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods PairTable_mapping = {
    (lenfunc)PairTable_len, (binaryfunc)PairTable_subscript, (objobjargproc)PairTable_ass_subscript,
};

static PySequenceMethods PairTable_sequence = {
    .sq_contains = (objobjproc)PairTable_contains,
};

static PyTypeObject PairTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.state._pairtable.PairTable",
    .tp_basicsize = sizeof(PairTable),
    .tp_dealloc = (destructor)PairTable_dealloc,
    .tp_as_mapping = &PairTable_mapping,
    .tp_as_sequence = &PairTable_sequence,
    .tp_iter = (getiterfunc)PairTable_iter,
    .tp_richcompare = PairTable_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "int -> int table of the pair graph (keys in [0, 2**62), int64 values)",
    .tp_methods = PairTable_methods,
    .tp_new = PairTable_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pairtable", "Flat int64 table of the pair graph.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pairtable(void) {
    if (PyType_Ready(&PairTableType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&PairTableType);
    if (PyModule_AddObject(m, "PairTable", (PyObject *)&PairTableType) < 0) {
        Py_DECREF(&PairTableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
