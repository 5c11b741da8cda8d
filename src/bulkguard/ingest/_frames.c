/* Frames: the events of `replay --workers 2` handed from the reading process to the engine's.

   The reading process (read, decode, validate, reorder window, dead letters) turns each
   event it releases into a fixed-layout record: the type's index, the input line, then
   each field as a tag byte and its value (a double, a 64-bit integer, a string, or a name
   as an integer id: a name is sent once, with its first use, and by id after that). The
   engine's process turns each record back into the same event object (the class called
   with the same positional values), names as one str object per name from a list indexed
   by id: no JSON, no hashing, no generic union machinery. Records travel in chunks of up
   to a few hundred kilobytes through a pipe, each chunk a 32-bit length and its records.

   Events of types not in the table, or with a field that is not None, bool, float, a
   64-bit int or str (a report's quoted messages), travel as "packed" records: bytes the
   Python side made (the event as JSON) and decodes back. Notes (dead letters) and the
   end record carry bytes for the Python side too.

   Record: u8 kind, u8 flags (1: a raw line follows), i64 line, [u32 len, raw bytes], then
     EVENT:  u8 type index, the fields (tag, value) in positional order
     PACKED, NOTE, END: u32 len, bytes
     RESET:  nothing (the name table starts again: the reader bounds its memory)
   All numbers in the machine's byte order: both ends are the same machine. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MAX_TYPES 32
#define MAX_FIELDS 16
#define SEEN_SLOTS ((Py_ssize_t)1 << 16)
#define SMALL_INTS 16384   /* field values 0..16383 (sizes, typing times): one object each */

enum { R_EVENT = 1, R_PACKED = 2, R_NOTE = 3, R_END = 4, R_RESET = 5 };
enum { V_NONE = 0, V_FALSE = 1, V_TRUE = 2, V_FLOAT = 3, V_INT = 4, V_NAME = 5,
       V_NEWNAME = 6, V_STR = 7 };

typedef struct {
    PyObject *cls;
    int nfields;
    Py_ssize_t offsets[MAX_FIELDS];   /* where each field's object pointer lives */
    char intern[MAX_FIELDS];          /* names: sent once, then by id */
} TypeSpec;

/* The type table, from a tuple of (cls, field names, intern flags) in positional order;
   the offsets are those of the class's member descriptors (msgspec structs keep each
   field in a slot). Returns the number of types or -1. */
static int parse_types(PyObject *spec, TypeSpec *types) {
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) > MAX_TYPES) {
        PyErr_SetString(PyExc_ValueError, "types: a tuple of at most 32 entries");
        return -1;
    }
    int n = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(spec); i++) {
        PyObject *cls, *names, *flags;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(spec, i), "O!O!O!", &PyType_Type, &cls,
                              &PyTuple_Type, &names, &PyTuple_Type, &flags))
            goto fail;
        Py_ssize_t nf = PyTuple_GET_SIZE(names);
        if (nf > MAX_FIELDS || PyTuple_GET_SIZE(flags) != nf) {
            PyErr_SetString(PyExc_ValueError, "types: too many fields, or flags do not match");
            goto fail;
        }
        TypeSpec *t = &types[i];
        for (Py_ssize_t j = 0; j < nf; j++) {
            /* the class's attribute: a member descriptor, here or in a base class */
            PyObject *d = PyObject_GetAttr(cls, PyTuple_GET_ITEM(names, j));
            if (d != NULL)
                Py_DECREF(d);   /* the class (kept alive) holds it */
            if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)
                    || (((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX
                        && ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT)) {
                if (!PyErr_Occurred())
                    PyErr_Format(PyExc_TypeError, "%R: field %R is not an object slot", cls,
                                 PyTuple_GET_ITEM(names, j));
                goto fail;
            }
            t->offsets[j] = ((PyMemberDescrObject *)d)->d_member->offset;
            t->intern[j] = (char)PyObject_IsTrue(PyTuple_GET_ITEM(flags, j));
        }
        Py_INCREF(cls);
        t->cls = cls;
        t->nfields = (int)nf;
        n = (int)i + 1;
    }
    return n;
fail:
    for (int i = 0; i < n; i++) Py_CLEAR(types[i].cls);
    return -1;
}

/* ------------------------------------------------------------------------------------ */
/* Encoder: the reading process's side. */

typedef struct {
    PyObject_HEAD
    int ntypes;
    TypeSpec types[MAX_TYPES];
    PyObject *names;          /* dict: name -> id (int) */
    Py_ssize_t max_names;     /* the table starts again beyond this many */
    /* recent names by object: the edge decoder hands out one str object per name while
       it is in its cache, so most names are found here without hashing (each slot holds
       a reference: its address cannot be reused while it is here) */
    PyObject **seen;
    uint32_t *seen_id;
    char *buf;
    Py_ssize_t len, cap;      /* buf[0:4] is the chunk's length, records from 4 on */
    Py_ssize_t events, packed;
} Encoder;

static int reserve(Encoder *e, Py_ssize_t more) {
    if (e->len + more <= e->cap) return 0;
    Py_ssize_t cap = e->cap * 2;
    while (cap < e->len + more) cap *= 2;
    char *b = PyMem_Realloc(e->buf, (size_t)cap);
    if (b == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->buf = b;
    e->cap = cap;
    return 0;
}

#define PUT(e, ptr, n) (memcpy((e)->buf + (e)->len, (ptr), (size_t)(n)), (e)->len += (n))

static inline void put_u8(Encoder *e, uint8_t v) { e->buf[e->len++] = (char)v; }
static inline void put_u32(Encoder *e, uint32_t v) { PUT(e, &v, 4); }
static inline void put_i64(Encoder *e, int64_t v) { PUT(e, &v, 8); }
static inline void put_f64(Encoder *e, double v) { PUT(e, &v, 8); }

/* kind, flags, line and the raw line: 14 bytes plus the raw line */
static int put_head(Encoder *e, uint8_t kind, int64_t line, const char *raw, Py_ssize_t rlen) {
    if (rlen > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "raw line too long for a frame");
        return -1;
    }
    if (reserve(e, 14 + rlen) < 0) return -1;
    put_u8(e, kind);
    put_u8(e, rlen > 0 ? 1 : 0);
    put_i64(e, line);
    if (rlen > 0) {
        put_u32(e, (uint32_t)rlen);
        PUT(e, raw, rlen);
    }
    return 0;
}

static int Encoder_init(Encoder *e, PyObject *args, PyObject *kwds) {
    PyObject *spec;
    Py_ssize_t max_names = 1 << 20;
    static char *kwlist[] = {"types", "max_names", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n", kwlist, &spec, &max_names)) return -1;
    if (e->buf != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Encoder already initialised");
        return -1;
    }
    if (max_names < MAX_FIELDS || max_names > (Py_ssize_t)INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "max_names out of range");
        return -1;
    }
    int n = parse_types(spec, e->types);
    if (n < 0) return -1;
    e->ntypes = n;
    e->max_names = max_names;
    e->names = PyDict_New();
    if (e->names == NULL) return -1;
    e->cap = 1 << 16;
    e->buf = PyMem_Malloc((size_t)e->cap);
    if (e->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->len = 4;
    e->seen = PyMem_Calloc(SEEN_SLOTS, sizeof(PyObject *));
    e->seen_id = PyMem_Calloc(SEEN_SLOTS, sizeof(uint32_t));
    if (e->seen == NULL || e->seen_id == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void forget_seen(Encoder *e) {
    if (e->seen == NULL) return;
    for (Py_ssize_t i = 0; i < SEEN_SLOTS; i++) Py_CLEAR(e->seen[i]);
}

static void Encoder_dealloc(Encoder *e) {
    for (int i = 0; i < e->ntypes; i++) Py_CLEAR(e->types[i].cls);
    forget_seen(e);
    PyMem_Free(e->seen);
    PyMem_Free(e->seen_id);
    Py_CLEAR(e->names);
    PyMem_Free(e->buf);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

/* An int that fits one digit of CPython's int (|v| < 2**30): always a 64-bit value, read
   without a call. */
static inline int small_long(PyObject *v) {
#if PY_VERSION_HEX >= 0x030C0000
    return PyUnstable_Long_IsCompact((PyLongObject *)v);
#else
    return Py_SIZE(v) >= -1 && Py_SIZE(v) <= 1;
#endif
}

static inline int64_t small_long_value(PyObject *v) {
#if PY_VERSION_HEX >= 0x030C0000
    return (int64_t)PyUnstable_Long_CompactValue((PyLongObject *)v);
#else
    return (int64_t)Py_SIZE(v) * (int64_t)((PyLongObject *)v)->ob_digit[0];
#endif
}

/* A str's UTF-8: a compact ASCII str (every name and digest the edge decoder makes) is
   its own UTF-8, read in place; any other through the codec (NULL: a lone surrogate). */
static inline const char *utf8_of(PyObject *v, Py_ssize_t *n) {
    if (PyUnicode_IS_COMPACT_ASCII(v)) {
        *n = PyUnicode_GET_LENGTH(v);
        return (const char *)PyUnicode_DATA(v);
    }
    return PyUnicode_AsUTF8AndSize(v, n);
}

/* Whether every field of ev has a value a record can carry. */
static int encodable(TypeSpec *t, PyObject *ev) {
    for (int j = 0; j < t->nfields; j++) {
        PyObject *v = *(PyObject **)((char *)ev + t->offsets[j]);
        if (v == NULL) return 0;
        if (v == Py_None || v == Py_True || v == Py_False || PyFloat_CheckExact(v)) continue;
        if (PyUnicode_CheckExact(v)) {
            if (PyUnicode_IS_COMPACT_ASCII(v)) {   /* its UTF-8 is itself */
                if (PyUnicode_GET_LENGTH(v) > (Py_ssize_t)UINT32_MAX) return 0;
                continue;
            }
            Py_ssize_t n;
            if (PyUnicode_AsUTF8AndSize(v, &n) == NULL) {   /* a lone surrogate */
                PyErr_Clear();
                return 0;
            }
            if (n > (Py_ssize_t)UINT32_MAX) return 0;
            continue;
        }
        if (PyLong_CheckExact(v)) {
            if (small_long(v)) continue;
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow || (x == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                return 0;
            }
            continue;
        }
        return 0;
    }
    return 1;
}

/* The record of one event whose type is in the table and whose fields are all encodable. */
static int put_event(Encoder *e, int ti, int64_t line, PyObject *ev, const char *raw,
                     Py_ssize_t rlen) {
    TypeSpec *t = &e->types[ti];
    if (PyDict_GET_SIZE(e->names) + MAX_FIELDS > e->max_names) {
        PyDict_Clear(e->names);
        forget_seen(e);
        if (put_head(e, R_RESET, 0, NULL, 0) < 0) return -1;
    }
    if (put_head(e, R_EVENT, line, raw, rlen) < 0 || reserve(e, 1 + 9 * t->nfields) < 0)
        return -1;
    put_u8(e, (uint8_t)ti);
    for (int j = 0; j < t->nfields; j++) {
        PyObject *v = *(PyObject **)((char *)ev + t->offsets[j]);
        if (v == Py_None) {
            put_u8(e, V_NONE);
        } else if (v == Py_True) {
            put_u8(e, V_TRUE);
        } else if (v == Py_False) {
            put_u8(e, V_FALSE);
        } else if (PyFloat_CheckExact(v)) {
            put_u8(e, V_FLOAT);
            put_f64(e, PyFloat_AS_DOUBLE(v));
        } else if (PyLong_CheckExact(v)) {
            put_u8(e, V_INT);
            put_i64(e, small_long(v) ? small_long_value(v)
                       : (int64_t)PyLong_AsLongLong(v));   /* checked by encodable */
        } else {
            Py_ssize_t n;
            const char *s = utf8_of(v, &n);   /* checked by encodable */
            if (t->intern[j]) {
                uintptr_t a = (uintptr_t)v;
                Py_ssize_t slot = (Py_ssize_t)(((a >> 4) ^ (a >> 20)) & (SEEN_SLOTS - 1));
                if (e->seen[slot] == v) {
                    put_u8(e, V_NAME);
                    put_u32(e, e->seen_id[slot]);
                    continue;
                }
                PyObject *id = PyDict_GetItemWithError(e->names, v);
                if (id != NULL) {
                    uint32_t k = (uint32_t)PyLong_AsLong(id);
                    Py_INCREF(v);
                    Py_XSETREF(e->seen[slot], v);
                    e->seen_id[slot] = k;
                    put_u8(e, V_NAME);
                    put_u32(e, k);
                    continue;
                }
                if (PyErr_Occurred()) return -1;
                uint32_t k = (uint32_t)PyDict_GET_SIZE(e->names);
                id = PyLong_FromSsize_t(k);
                if (id == NULL) return -1;
                int rc = PyDict_SetItem(e->names, v, id);
                Py_DECREF(id);
                if (rc < 0) return -1;
                Py_INCREF(v);
                Py_XSETREF(e->seen[slot], v);
                e->seen_id[slot] = k;
                if (reserve(e, 5 + n + 9 * (t->nfields - j)) < 0) return -1;
                put_u8(e, V_NEWNAME);
            } else {
                if (reserve(e, 5 + n + 9 * (t->nfields - j)) < 0) return -1;
                put_u8(e, V_STR);
            }
            put_u32(e, (uint32_t)n);
            PUT(e, s, n);
        }
    }
    e->events++;
    return 0;
}

static int type_index(Encoder *e, PyObject *ev) {
    PyObject *cls = (PyObject *)Py_TYPE(ev);
    for (int i = 0; i < e->ntypes; i++)
        if (e->types[i].cls == cls) return i;
    return -1;
}

/* add(line, event, raw) -> bool: False when the event needs a packed record instead. */
static PyObject *Encoder_add(Encoder *e, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "add(line, event, raw: bytes)");
        return NULL;
    }
    long long line = PyLong_AsLongLong(args[0]);
    if (line == -1 && PyErr_Occurred()) return NULL;
    int ti = type_index(e, args[1]);
    if (ti < 0 || !encodable(&e->types[ti], args[1])) Py_RETURN_FALSE;
    if (put_event(e, ti, line, args[1], PyBytes_AS_STRING(args[2]), PyBytes_GET_SIZE(args[2])) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/* add_record(kind, line, raw, payload): a packed event, a note or the end. */
/* One record of a packed event, a note or the end: its head, then the payload. */
static int put_record(Encoder *e, long kind, long long line, const char *raw, Py_ssize_t rlen,
                      const char *payload, Py_ssize_t plen) {
    if (plen > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "payload too long for a frame");
        return -1;
    }
    if (put_head(e, (uint8_t)kind, line, raw, rlen) < 0 || reserve(e, 4 + plen) < 0)
        return -1;
    put_u32(e, (uint32_t)plen);
    PUT(e, payload, plen);
    if (kind == R_PACKED) e->packed++;
    return 0;
}

static PyObject *Encoder_add_record(Encoder *e, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyBytes_Check(args[2]) || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "add_record(kind, line, raw: bytes, payload: bytes)");
        return NULL;
    }
    long kind = PyLong_AsLong(args[0]);
    if (kind == -1 && PyErr_Occurred()) return NULL;
    if (kind != R_PACKED && kind != R_NOTE && kind != R_END) {
        PyErr_SetString(PyExc_ValueError, "add_record: kind PACKED, NOTE or END");
        return NULL;
    }
    long long line = PyLong_AsLongLong(args[1]);
    if (line == -1 && PyErr_Occurred()) return NULL;
    if (put_record(e, kind, line, PyBytes_AS_STRING(args[2]), PyBytes_GET_SIZE(args[2]),
                   PyBytes_AS_STRING(args[3]), PyBytes_GET_SIZE(args[3])) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Write the chunk to fd (all of it) and start the next. */
static int flush_to(Encoder *e, int fd) {
    if (e->len <= 4) return 0;
    uint32_t n = (uint32_t)(e->len - 4);
    memcpy(e->buf, &n, 4);
    Py_ssize_t done = 0;
    while (done < e->len) {
        ssize_t w;
        Py_BEGIN_ALLOW_THREADS
        w = write(fd, e->buf + done, (size_t)(e->len - done));
        Py_END_ALLOW_THREADS
        if (w < 0) {
            if (errno == EINTR) {
                if (PyErr_CheckSignals() < 0) return -1;
                continue;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        done += w;
    }
    e->len = 4;
    return 0;
}

static PyObject *Encoder_flush(Encoder *e, PyObject *arg) {
    int fd = PyObject_AsFileDescriptor(arg);
    if (fd < 0 || flush_to(e, fd) < 0) return NULL;
    Py_RETURN_NONE;
}

/* run(source, fd, pack, chunk) -> None: every (line, event) of source into records,
   written to fd in chunks of about `chunk` bytes. The raw line of each event is
   source._raw (kept by the reorder stage only for events that may still be dead-lettered);
   pack(event) -> bytes makes a packed record of an event the table cannot carry. Notes
   the source adds meanwhile (add_record) fall in their place among the events. */
static PyObject *Encoder_run(Encoder *e, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "run(source, fd, pack, chunk)");
        return NULL;
    }
    PyObject *source = args[0], *pack = args[2];
    int fd = PyObject_AsFileDescriptor(args[1]);
    if (fd < 0) return NULL;
    Py_ssize_t chunk = PyLong_AsSsize_t(args[3]);
    if (chunk == -1 && PyErr_Occurred()) return NULL;
    PyObject *raw_name = PyUnicode_InternFromString("_raw");
    if (raw_name == NULL) return NULL;
    PyObject *it = PyObject_GetIter(source);
    if (it == NULL) {
        Py_DECREF(raw_name);
        return NULL;
    }
    /* source._raw through its data descriptor (a compiled class's attribute): no generic
       look-up per event */
    PyObject *desc = _PyType_Lookup(Py_TYPE(source), raw_name);
    descrgetfunc get = NULL;
    if (desc != NULL && Py_TYPE(desc)->tp_descr_get != NULL
            && Py_TYPE(desc)->tp_descr_set != NULL) {
        Py_INCREF(desc);
        get = Py_TYPE(desc)->tp_descr_get;
    } else {
        desc = NULL;
    }
    PyObject *item;
    int bad = 0;
    while ((item = PyIter_Next(it)) != NULL) {
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "source: (line, event) tuples");
            bad = 1;
        }
        PyObject *raw = bad ? NULL
            : get != NULL ? get(desc, source, (PyObject *)Py_TYPE(source))
            : PyObject_GetAttr(source, raw_name);
        if (raw != NULL && !PyBytes_Check(raw)) {
            Py_CLEAR(raw);
            PyErr_SetString(PyExc_TypeError, "source._raw: bytes");
        }
        if (raw == NULL) {
            Py_DECREF(item);
            bad = 1;
            break;
        }
        PyObject *lo = PyTuple_GET_ITEM(item, 0), *ev = PyTuple_GET_ITEM(item, 1);
        long long line = PyLong_AsLongLong(lo);
        int ti = (line == -1 && PyErr_Occurred()) ? -2 : type_index(e, ev);
        if (ti == -2) {
            bad = 1;
        } else if (ti >= 0 && encodable(&e->types[ti], ev)) {
            bad = put_event(e, ti, line, ev, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw)) < 0;
        } else {
            PyObject *p = PyObject_CallOneArg(pack, ev);
            if (p == NULL || !PyBytes_Check(p)) {
                if (p != NULL) PyErr_SetString(PyExc_TypeError, "pack() must return bytes");
                bad = 1;
            } else {
                bad = put_record(e, R_PACKED, line, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw),
                                 PyBytes_AS_STRING(p), PyBytes_GET_SIZE(p)) < 0;
            }
            Py_XDECREF(p);
        }
        Py_DECREF(raw);
        Py_DECREF(item);
        if (bad) break;
        if (e->len >= chunk && flush_to(e, fd) < 0) {
            bad = 1;
            break;
        }
    }
    Py_DECREF(it);
    Py_DECREF(raw_name);
    Py_XDECREF(desc);
    if (bad || PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Encoder_stats(Encoder *e, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("(nnn)", e->events, e->packed, PyDict_GET_SIZE(e->names));
}


static PyMethodDef Encoder_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Encoder_add, METH_FASTCALL,
     "add(line, event, raw) -> bool: the event's record, or False (pack it instead)"},
    {"add_record", (PyCFunction)(void (*)(void))Encoder_add_record, METH_FASTCALL,
     "add_record(kind, line, raw, payload): a packed event, a note or the end"},
    {"run", (PyCFunction)(void (*)(void))Encoder_run, METH_FASTCALL,
     "run(source, fd, pack, chunk): every event of source, written to fd"},
    {"flush", (PyCFunction)Encoder_flush, METH_O, "flush(fd): write what is pending"},
    {"stats", (PyCFunction)Encoder_stats, METH_NOARGS, "(events, packed, names held)"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.ingest._frames.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Encoder(types, max_names=2**20): events into frame records",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Encoder_init,
    .tp_dealloc = (destructor)Encoder_dealloc,
    .tp_methods = Encoder_methods,
};

/* ------------------------------------------------------------------------------------ */
/* Decoder: the engine's side, an iterator of (line, event). */

typedef struct {
    PyObject_HEAD
    int fd;
    int ntypes;
    TypeSpec types[MAX_TYPES];
    PyObject *names;          /* list of str: id -> name */
    PyObject *unpack;         /* bytes -> event (packed records) */
    PyObject *on_note;        /* (line, raw, payload) -> None */
    char *buf;
    Py_ssize_t len, pos, cap;
    PyObject *last_raw;       /* the raw line of the last event (b"" mostly) */
    PyObject *last_event;
    PyObject *end;            /* the end record's payload, once read */
    int done;                 /* the input of frames has ended (end record or not) */
    PyObject **ints;          /* small ints made so far, by value (NULL: not yet) */
    char flat[MAX_TYPES];     /* records of these types come out as (line, *fields) */
    int last_flat;            /* the type of the last record if it came out flat, else -1 */
} Decoder;

static PyObject *EMPTY;       /* b"" */

static int Decoder_init(Decoder *d, PyObject *args, PyObject *kwds) {
    PyObject *fdo, *spec, *unpack, *on_note, *flat = NULL;
    static char *kwlist[] = {"fd", "types", "unpack", "on_note", "flat", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO|$O!", kwlist, &fdo, &spec, &unpack,
                                     &on_note, &PyTuple_Type, &flat))
        return -1;
    if (d->names != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder already initialised");
        return -1;
    }
    d->fd = PyObject_AsFileDescriptor(fdo);
    if (d->fd < 0) return -1;
    int n = parse_types(spec, d->types);
    if (n < 0) return -1;
    d->ntypes = n;
    d->last_flat = -1;
    for (Py_ssize_t i = 0; flat != NULL && i < PyTuple_GET_SIZE(flat); i++) {
        long ti = PyLong_AsLong(PyTuple_GET_ITEM(flat, i));
        if (ti == -1 && PyErr_Occurred()) return -1;
        if (ti < 0 || ti >= n) {
            PyErr_SetString(PyExc_ValueError, "flat: a tuple of type indexes");
            return -1;
        }
        d->flat[ti] = 1;
    }
    d->names = PyList_New(0);
    if (d->names == NULL) return -1;
    Py_INCREF(unpack);
    d->unpack = unpack;
    Py_INCREF(on_note);
    d->on_note = on_note;
    Py_INCREF(EMPTY);
    d->last_raw = EMPTY;
    d->ints = PyMem_Calloc(SMALL_INTS, sizeof(PyObject *));
    if (d->ints == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void Decoder_dealloc(Decoder *d) {
    for (int i = 0; i < d->ntypes; i++) Py_CLEAR(d->types[i].cls);
    Py_CLEAR(d->names);
    Py_CLEAR(d->unpack);
    Py_CLEAR(d->on_note);
    Py_CLEAR(d->last_raw);
    Py_CLEAR(d->last_event);
    Py_CLEAR(d->end);
    if (d->ints != NULL)
        for (Py_ssize_t i = 0; i < SMALL_INTS; i++) Py_CLEAR(d->ints[i]);
    PyMem_Free(d->ints);
    PyMem_Free(d->buf);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

/* Read exactly n bytes into p: 1 done, 0 the input ended first (at its very start when
   *got is 0), -1 an error (set). */
static int read_exact(int fd, char *p, Py_ssize_t n, Py_ssize_t *got) {
    *got = 0;
    while (*got < n) {
        ssize_t r;
        Py_BEGIN_ALLOW_THREADS
        r = read(fd, p + *got, (size_t)(n - *got));
        Py_END_ALLOW_THREADS
        if (r < 0) {
            if (errno == EINTR) {
                if (PyErr_CheckSignals() < 0) return -1;
                continue;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (r == 0) return 0;
        *got += r;
    }
    return 1;
}

/* The next chunk into buf: 1, 0 at the end of the input, -1 an error. */
static int next_chunk(Decoder *d) {
    uint32_t n;
    Py_ssize_t got;
    int rc = read_exact(d->fd, (char *)&n, 4, &got);
    if (rc <= 0) {
        if (rc == 0 && got > 0) {
            PyErr_SetString(PyExc_EOFError, "frames: the input ended inside a chunk's length");
            return -1;
        }
        return rc;
    }
    if ((Py_ssize_t)n > d->cap) {
        Py_ssize_t cap = d->cap ? d->cap : 1 << 16;
        while (cap < (Py_ssize_t)n) cap *= 2;
        char *b = PyMem_Realloc(d->buf, (size_t)cap);
        if (b == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        d->buf = b;
        d->cap = cap;
    }
    rc = read_exact(d->fd, d->buf, (Py_ssize_t)n, &got);
    if (rc == 0) {
        PyErr_Format(PyExc_EOFError, "frames: the input ended inside a chunk (%zd of %u bytes)",
                     got, n);
        return -1;
    }
    if (rc < 0) return -1;
    d->len = n;
    d->pos = 0;
    return 1;
}

/* A str from UTF-8 (surrogates passed, as the encoder wrote them); ASCII (names and
   digests, nearly always) copied straight into a new str, no codec. */
static PyObject *str_from(const char *s, uint32_t n) {
    unsigned char any = 0;
    for (uint32_t i = 0; i < n; i++) any |= (unsigned char)s[i];
    if (any < 0x80) {
        PyObject *u = PyUnicode_New(n, 127);
        if (u != NULL) memcpy(PyUnicode_1BYTE_DATA(u), s, n);
        return u;
    }
    return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
}

static PyObject *corrupt(Decoder *d) {
    PyErr_Format(PyExc_ValueError, "frames: a corrupt record at byte %zd of a chunk", d->pos);
    return NULL;
}

#define NEED(d, n) if ((d)->len - (d)->pos < (Py_ssize_t)(n)) return corrupt(d)

static inline uint32_t get_u32(Decoder *d) {
    uint32_t v;
    memcpy(&v, d->buf + d->pos, 4);
    d->pos += 4;
    return v;
}

static inline int64_t get_i64(Decoder *d) {
    int64_t v;
    memcpy(&v, d->buf + d->pos, 8);
    d->pos += 8;
    return v;
}

static PyObject *Decoder_next(Decoder *d) {
    if (d->names == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder not initialised");
        return NULL;
    }
    for (;;) {
        if (d->done) return NULL;
        if (d->pos >= d->len) {
            int rc = next_chunk(d);
            if (rc < 0) return NULL;
            if (rc == 0) {
                d->done = 1;
                return NULL;
            }
            continue;
        }
        NEED(d, 10);
        uint8_t kind = (uint8_t)d->buf[d->pos];
        uint8_t flags = (uint8_t)d->buf[d->pos + 1];
        d->pos += 2;
        int64_t line = get_i64(d);
        PyObject *raw;
        if (flags & 1) {
            NEED(d, 4);
            uint32_t rl = get_u32(d);
            NEED(d, rl);
            raw = PyBytes_FromStringAndSize(d->buf + d->pos, rl);
            if (raw == NULL) return NULL;
            d->pos += rl;
        } else {
            raw = EMPTY;
            Py_INCREF(raw);
        }
        PyObject *ev = NULL;
        if (kind == R_EVENT) {
            if (d->len - d->pos < 1) {
                Py_DECREF(raw);
                return corrupt(d);
            }
            int ti = (uint8_t)d->buf[d->pos++];
            if (ti >= d->ntypes) {
                Py_DECREF(raw);
                return corrupt(d);
            }
            TypeSpec *t = &d->types[ti];
            /* a flat record's fields go straight into its tuple, after the line */
            PyObject *flat = NULL;
            if (d->flat[ti]) {
                flat = PyTuple_New(1 + t->nfields);
                if (flat == NULL) {
                    Py_DECREF(raw);
                    return NULL;
                }
            }
            PyObject *vals_[MAX_FIELDS];
            PyObject **vals = flat != NULL ? &PyTuple_GET_ITEM(flat, 1) : vals_;
            int j = 0;
            for (; j < t->nfields; j++) {
                PyObject *v = NULL;
                if (d->pos >= d->len) break;
                uint8_t tag = (uint8_t)d->buf[d->pos++];
                if (tag == V_NONE) {
                    v = Py_None;
                    Py_INCREF(v);
                } else if (tag == V_TRUE) {
                    v = Py_True;
                    Py_INCREF(v);
                } else if (tag == V_FALSE) {
                    v = Py_False;
                    Py_INCREF(v);
                } else if (tag == V_FLOAT || tag == V_INT) {
                    if (d->len - d->pos < 8) break;
                    if (tag == V_FLOAT) {
                        double x;
                        memcpy(&x, d->buf + d->pos, 8);
                        d->pos += 8;
                        v = PyFloat_FromDouble(x);
                    } else {
                        int64_t x = get_i64(d);
                        if (x >= 0 && x < SMALL_INTS) {
                            v = d->ints[x];
                            if (v == NULL) v = d->ints[x] = PyLong_FromLongLong(x);
                            Py_XINCREF(v);
                        } else {
                            v = PyLong_FromLongLong(x);
                        }
                    }
                } else if (tag == V_NAME) {
                    if (d->len - d->pos < 4) break;
                    uint32_t id = get_u32(d);
                    if ((Py_ssize_t)id >= PyList_GET_SIZE(d->names)) break;
                    v = PyList_GET_ITEM(d->names, id);
                    Py_INCREF(v);
                } else if (tag == V_NEWNAME || tag == V_STR) {
                    if (d->len - d->pos < 4) break;
                    uint32_t n = get_u32(d);
                    if (d->len - d->pos < (Py_ssize_t)n) break;
                    v = str_from(d->buf + d->pos, n);
                    d->pos += n;
                    if (v != NULL && tag == V_NEWNAME && PyList_Append(d->names, v) < 0)
                        Py_CLEAR(v);
                } else {
                    break;
                }
                if (v == NULL) {
                    if (flat != NULL) Py_DECREF(flat);   /* the tuple owns the fields so far */
                    else for (int k = 0; k < j; k++) Py_DECREF(vals[k]);
                    Py_DECREF(raw);
                    return NULL;
                }
                vals[j] = v;
            }
            if (j < t->nfields) {
                if (flat != NULL) Py_DECREF(flat);
                else for (int k = 0; k < j; k++) Py_DECREF(vals[k]);
                Py_DECREF(raw);
                return corrupt(d);
            }
            if (flat != NULL) {
                PyObject *lo = PyLong_FromLongLong(line);
                if (lo == NULL) {
                    Py_DECREF(flat);
                    Py_DECREF(raw);
                    return NULL;
                }
                PyTuple_SET_ITEM(flat, 0, lo);
                Py_SETREF(d->last_raw, raw);
                Py_INCREF(flat);
                Py_XSETREF(d->last_event, flat);   /* the event is made only if asked for */
                d->last_flat = ti;
                return flat;
            }
            ev = PyObject_Vectorcall(t->cls, vals, (size_t)t->nfields, NULL);
            for (int k = 0; k < t->nfields; k++) Py_DECREF(vals[k]);
        } else if (kind == R_PACKED || kind == R_NOTE || kind == R_END) {
            if (d->len - d->pos < 4) {
                Py_DECREF(raw);
                return corrupt(d);
            }
            uint32_t n = get_u32(d);
            if (d->len - d->pos < (Py_ssize_t)n) {
                Py_DECREF(raw);
                return corrupt(d);
            }
            PyObject *payload = PyBytes_FromStringAndSize(d->buf + d->pos, n);
            d->pos += n;
            if (payload == NULL) {
                Py_DECREF(raw);
                return NULL;
            }
            if (kind == R_END) {
                Py_DECREF(raw);
                Py_XSETREF(d->end, payload);
                d->done = 1;
                return NULL;
            }
            if (kind == R_NOTE) {
                PyObject *lo = PyLong_FromLongLong(line);
                PyObject *r = lo ? PyObject_CallFunctionObjArgs(d->on_note, lo, raw, payload, NULL)
                                 : NULL;
                Py_XDECREF(lo);
                Py_DECREF(payload);
                Py_DECREF(raw);
                if (r == NULL) return NULL;
                Py_DECREF(r);
                continue;
            }
            ev = PyObject_CallOneArg(d->unpack, payload);
            Py_DECREF(payload);
        } else if (kind == R_RESET) {
            Py_DECREF(raw);
            if (PyList_SetSlice(d->names, 0, PyList_GET_SIZE(d->names), NULL) < 0) return NULL;
            continue;
        } else {
            Py_DECREF(raw);
            d->pos -= 10;
            return corrupt(d);
        }
        if (ev == NULL) {
            Py_DECREF(raw);
            return NULL;
        }
        PyObject *lo = PyLong_FromLongLong(line);
        if (lo == NULL) {
            Py_DECREF(ev);
            Py_DECREF(raw);
            return NULL;
        }
        Py_SETREF(d->last_raw, raw);
        Py_INCREF(ev);
        Py_XSETREF(d->last_event, ev);
        d->last_flat = -1;
        PyObject *tup = PyTuple_New(2);
        if (tup == NULL) {
            Py_DECREF(lo);
            Py_DECREF(ev);
            return NULL;
        }
        PyTuple_SET_ITEM(tup, 0, lo);
        PyTuple_SET_ITEM(tup, 1, ev);
        return tup;
    }
}

static PyObject *Decoder_iter(PyObject *self) {
    Py_INCREF(self);
    return self;
}

static PyObject *Decoder_get_last_raw(Decoder *d, void *Py_UNUSED(c)) {
    PyObject *r = d->last_raw ? d->last_raw : EMPTY;
    Py_INCREF(r);
    return r;
}

static PyObject *Decoder_get_last_event(Decoder *d, void *Py_UNUSED(c)) {
    PyObject *r = d->last_event ? d->last_event : Py_None;
    if (d->last_flat >= 0) {   /* a flat record: its event, made now and kept */
        TypeSpec *t = &d->types[d->last_flat];
        r = PyObject_Vectorcall(t->cls, &PyTuple_GET_ITEM(r, 1), (size_t)t->nfields, NULL);
        if (r == NULL) return NULL;
        Py_XSETREF(d->last_event, r);
        d->last_flat = -1;
    }
    Py_INCREF(r);
    return r;
}

static PyObject *Decoder_get_end(Decoder *d, void *Py_UNUSED(c)) {
    PyObject *r = d->end ? d->end : Py_None;
    Py_INCREF(r);
    return r;
}

static PyGetSetDef Decoder_getset[] = {
    {"last_raw", (getter)Decoder_get_last_raw, NULL, "raw line of the last event (mostly b\"\")", NULL},
    {"last_event", (getter)Decoder_get_last_event, NULL, "the last event yielded, or None", NULL},
    {"end", (getter)Decoder_get_end, NULL, "the end record's payload, None until read", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.ingest._frames.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decoder(fd, types, unpack, on_note, *, flat=()): an iterator of (line, event) "
              "from frames; (line, *fields) for the records of the type indexes in flat",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_iter = Decoder_iter,
    .tp_iternext = (iternextfunc)Decoder_next,
    .tp_getset = Decoder_getset,
};

static struct PyModuleDef frames_module = {
    PyModuleDef_HEAD_INIT, "_frames",
    "Events in fixed-layout records between the two processes of replay --workers 2.", -1,
    NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__frames(void) {
    EMPTY = PyBytes_FromStringAndSize(NULL, 0);
    if (EMPTY == NULL) return NULL;
    PyObject *m = PyModule_Create(&frames_module);
    if (m == NULL) return NULL;
    /* PyModule_AddType: ready, a reference and the name in one call (Python 3.10+) */
    if (PyModule_AddType(m, &EncoderType) < 0 || PyModule_AddType(m, &DecoderType) < 0
            || PyModule_AddIntConstant(m, "PACKED", R_PACKED) < 0
            || PyModule_AddIntConstant(m, "NOTE", R_NOTE) < 0
            || PyModule_AddIntConstant(m, "END", R_END) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
