/* IdMap: the identity map (names to account ids) as one flat open-addressing table.

   A dict[str, int] finds a name through its index array, then its entry, then the boxed int
   of the id: three places in memory, each a likely cache miss on a map of many names. This
   table keeps the name (a reference), its hash and the id side by side in one 24-byte slot,
   so a look-up of a name it holds touches one slot; the names the edge decoder interns
   (bulkguard.ingest._fastdecode) match by pointer. About 36-48 bytes a name at a load
   between 1/2 and 2/3 (a dict: about 100, with the boxed id).

   Reading a name it does not hold gives -1 (``m[name]``: the one look-up the engine makes
   per name, a subscript, which compiled code calls directly); ``get``, ``in``, ``len``,
   ``items`` behave as a dict's. Names are never deleted one by one (the world renumbers
   by building a new map). Built with the compiled hot path; the pure-Python build uses a
   dict (bulkguard.state.idmap). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject *key;   /* a str, or NULL (empty) */
    Py_hash_t hash;
    int64_t value;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    Py_ssize_t cap;    /* a power of two, or 0 */
    Py_ssize_t used;
} IdMap;

static PyTypeObject IdMapType;

/* Whether two exact str objects of equal hash hold the same characters. */
static inline int same_str(PyObject *a, PyObject *b) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    if (n != PyUnicode_GET_LENGTH(b) || PyUnicode_KIND(a) != PyUnicode_KIND(b)) return 0;
    return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
}

/* The slot holding key, or the empty slot where it would go. A slot keeps the object it was
   first given, the same one World.names holds: taking each look-up's object instead (the edge
   decoder makes a new one when its bounded cache forgot the name) kept a second copy of most
   names alive with a million accounts (about 56 B an account). */
static inline Slot *find(IdMap *m, PyObject *key, Py_hash_t h) {
    size_t mask = (size_t)m->cap - 1;
    size_t i = (size_t)h & mask;
    for (;;) {
        Slot *s = &m->slots[i];
        if (s->key == NULL || s->key == key) return s;
        if (s->hash == h && same_str(s->key, key)) return s;
        i = (i + 1) & mask;
    }
}

static int grow(IdMap *m) {
    Py_ssize_t ncap = m->cap ? m->cap * 2 : 16;
    Slot *ns = PyMem_Calloc((size_t)ncap, sizeof(Slot));
    if (ns == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t mask = (size_t)ncap - 1;
    for (Py_ssize_t j = 0; j < m->cap; j++) {
        Slot *s = &m->slots[j];
        if (s->key == NULL) continue;
        size_t i = (size_t)s->hash & mask;
        while (ns[i].key != NULL) i = (i + 1) & mask;
        ns[i] = *s;
    }
    PyMem_Free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int check_key(PyObject *key) {
    if (!PyUnicode_CheckExact(key)) {
        PyErr_Format(PyExc_TypeError, "IdMap key must be a str, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    return 0;
}

/* The id of key, -1 if absent (-2 with an exception set). */
static int64_t lookup(IdMap *m, PyObject *key) {
    if (check_key(key) < 0) return -2;
    if (m->used == 0) return -1;
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1) return -2;
    Slot *s = find(m, key, h);
    return s->key != NULL ? s->value : -1;
}

static PyObject *IdMap_subscript(IdMap *m, PyObject *key) {
    int64_t v = lookup(m, key);
    if (v == -2) return NULL;
    return PyLong_FromLongLong(v);
}

static int IdMap_ass_subscript(IdMap *m, PyObject *key, PyObject *value) {
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "IdMap names are not deleted one by one (build a new map)");
        return -1;
    }
    if (check_key(key) < 0) return -1;
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "IdMap value must be an int, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0) {
        PyErr_SetString(PyExc_ValueError, "IdMap value must be >= 0 (-1 means absent)");
        return -1;
    }
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1) return -1;
    if ((m->used + 1) * 3 > m->cap * 2 && grow(m) < 0) return -1;
    Slot *s = find(m, key, h);
    if (s->key == NULL) {
        Py_INCREF(key);
        s->key = key;
        s->hash = h;
        m->used++;
    }
    s->value = v;
    return 0;
}

static Py_ssize_t IdMap_length(IdMap *m) { return m->used; }

static int IdMap_contains(IdMap *m, PyObject *key) {
    if (!PyUnicode_CheckExact(key)) return 0;
    int64_t v = lookup(m, key);
    return v == -2 ? -1 : v >= 0;
}

static PyObject *IdMap_get(IdMap *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get() takes 1 or 2 arguments");
        return NULL;
    }
    PyObject *dflt = nargs == 2 ? args[1] : Py_None;
    if (!PyUnicode_CheckExact(args[0])) {
        Py_INCREF(dflt);
        return dflt;
    }
    int64_t v = lookup(m, args[0]);
    if (v == -2) return NULL;
    if (v < 0) {
        Py_INCREF(dflt);
        return dflt;
    }
    return PyLong_FromLongLong(v);
}

static int by_value(const void *a, const void *b) {
    int64_t x = (*(Slot *const *)a)->value, y = (*(Slot *const *)b)->value;
    return (x > y) - (x < y);
}

/* (name, id) pairs in id order (the order the names came in). */
static PyObject *IdMap_items(IdMap *m, PyObject *Py_UNUSED(unused)) {
    Slot **order = PyMem_Malloc(sizeof(Slot *) * (size_t)(m->used ? m->used : 1));
    if (order == NULL) return PyErr_NoMemory();
    Py_ssize_t k = 0;
    for (Py_ssize_t j = 0; j < m->cap; j++)
        if (m->slots[j].key != NULL) order[k++] = &m->slots[j];
    qsort(order, (size_t)k, sizeof(Slot *), by_value);
    PyObject *out = PyList_New(k);
    if (out == NULL) {
        PyMem_Free(order);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *t = Py_BuildValue("(OL)", order[i]->key, (long long)order[i]->value);
        if (t == NULL) {
            Py_DECREF(out);
            PyMem_Free(order);
            return NULL;
        }
        PyList_SET_ITEM(out, i, t);
    }
    PyMem_Free(order);
    return out;
}

static PyObject *IdMap_keys(IdMap *m, PyObject *Py_UNUSED(unused)) {
    PyObject *items = IdMap_items(m, NULL);
    if (items == NULL) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(items);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        Py_INCREF(k);
        PyList_SET_ITEM(out, i, k);
    }
    Py_DECREF(items);
    return out;
}

static PyObject *IdMap_iter(IdMap *m) {
    PyObject *keys = IdMap_keys(m, NULL);
    if (keys == NULL) return NULL;
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *IdMap_reduce(IdMap *m, PyObject *Py_UNUSED(unused)) {
    /* pickles as its names in id order, rebuilt by bulkguard.state.idmap.from_names */
    PyObject *keys = IdMap_keys(m, NULL);
    if (keys == NULL) return NULL;
    PyObject *mod = PyImport_ImportModule("bulkguard.state.idmap");
    if (mod == NULL) {
        Py_DECREF(keys);
        return NULL;
    }
    PyObject *fn = PyObject_GetAttrString(mod, "from_names");
    Py_DECREF(mod);
    if (fn == NULL) {
        Py_DECREF(keys);
        return NULL;
    }
    return Py_BuildValue("(N(N))", fn, keys);
}

static void IdMap_dealloc(IdMap *m) {
    for (Py_ssize_t j = 0; j < m->cap; j++) Py_XDECREF(m->slots[j].key);
    PyMem_Free(m->slots);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyObject *IdMap_sizeof(IdMap *m, PyObject *Py_UNUSED(unused)) {
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(IdMap) + m->cap * (Py_ssize_t)sizeof(Slot));
}

static PyMappingMethods IdMap_as_mapping = {
    (lenfunc)IdMap_length, (binaryfunc)IdMap_subscript, (objobjargproc)IdMap_ass_subscript,
};

static PySequenceMethods IdMap_as_sequence = {
    .sq_contains = (objobjproc)IdMap_contains,
};

static PyMethodDef IdMap_methods[] = {
    {"get", (PyCFunction)(void (*)(void))IdMap_get, METH_FASTCALL, "get(name[, default])"},
    {"items", (PyCFunction)IdMap_items, METH_NOARGS, "(name, id) pairs in id order"},
    {"keys", (PyCFunction)IdMap_keys, METH_NOARGS, "names in id order"},
    {"__reduce__", (PyCFunction)IdMap_reduce, METH_NOARGS, NULL},
    {"__sizeof__", (PyCFunction)IdMap_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject IdMapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.state._idmap.IdMap",
    .tp_basicsize = sizeof(IdMap),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "names to ids in one flat table; a name it does not hold reads as -1",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)IdMap_dealloc,
    .tp_as_mapping = &IdMap_as_mapping,
    .tp_as_sequence = &IdMap_as_sequence,
    .tp_iter = (getiterfunc)IdMap_iter,
    .tp_methods = IdMap_methods,
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_idmap", "The identity map as a flat table (see bulkguard.state.idmap).",
    -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__idmap(void) {
    if (PyType_Ready(&IdMapType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (m == NULL) return NULL;
    Py_INCREF(&IdMapType);
    if (PyModule_AddObject(m, "IdMap", (PyObject *)&IdMapType) < 0) {
        Py_DECREF(&IdMapType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
