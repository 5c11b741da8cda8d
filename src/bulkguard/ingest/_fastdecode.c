/* Decoder: the edge's fast path for the commonest event lines (messages, contact adds, group
   joins, blocks), with names interned.

   msgspec decodes and validates any line of the contract; this decoder takes only lines of
   a plain shape it can decode exactly as msgspec would ("type" the first key, known fields
   once each, ASCII strings without escapes, plain numbers) and answers None for anything
   else, which then goes through msgspec as before: same events, same errors, same dead
   letters. What it buys: no generic tagged-union machinery, and identifiers come out as the
   same str object each time a name repeats (a bounded cache of recent names), so the
   engine's identity map finds them by pointer, with their hash already computed, and no
   new string is made and freed per name. Built with the compiled hot path; the pure-Python
   build decodes everything with msgspec (bulkguard.ingest.fastdecode). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define MAX_TYPES 8
#define MAX_FIELDS 16
#define MAX_LITERALS 16
#define SMALL_INTS 16384   /* counts 0..16383 (sizes, typing times): one object each */

/* what a field holds */
enum { K_TS = 0, K_ID = 1, K_STR = 2, K_LITERAL = 3, K_COUNT = 4 };

typedef struct {
    const char *name;      /* points into the key object's UTF-8 (kept alive by `spec`) */
    Py_ssize_t len;
    int kind;
    int required;
    int intern;            /* identifiers: interned; other strings (digests): not */
    PyObject *deflt;       /* a new reference: the value when absent */
    PyObject *literals;    /* K_LITERAL: tuple of the allowed str values */
    uint64_t k0, k1, m0, m1;   /* the name and its closing quote as two words, with masks */
} Field;

typedef struct {
    const char *tag;
    Py_ssize_t tag_len;
    PyObject *cls;
    int nfields;
    Field fields[MAX_FIELDS];
} TypeSpec;

typedef struct {
    PyObject *str;         /* a str, or NULL */
    uint64_t hash;
} Slot;

typedef struct {
    PyObject_HEAD
    PyObject *spec;        /* what the spec was built from (keeps names and tags alive) */
    int ntypes;
    TypeSpec types[MAX_TYPES];
    Py_ssize_t max_str;    /* longest string accepted (msgspec's max_length) */
    Slot *slots;           /* the intern cache: direct-mapped, 2**bits slots */
    uint64_t mask;
    Py_ssize_t hits, misses;
    PyObject **ints;       /* SMALL_INTS slots, each made at its first use */
} Decoder;

static PyTypeObject DecoderType;

/* 10**k for k <= 22: exactly representable doubles (Clinger's fast path). */
static const double POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')
/* one compare in the common case (no whitespace): every JSON space is <= ' ' */
#define SKIP_WS(p, end) while ((p) < (end) && *(p) <= ' ' && WS(*(p))) (p)++
#define DIGIT(c) ((c) >= '0' && (c) <= '9')

/* Bytes a plain string may hold: printable ASCII but the quote and the backslash. */
static unsigned char PLAIN[256];


/* words read from memory with the first byte lowest (where the bit tricks below may
   count bytes with __builtin_ctzll) */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LITTLE_WORDS 1
#else
#define LITTLE_WORDS 0
#endif

static inline uint64_t load8(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* some byte of w is zero / below n (n <= 128): exact as a yes-or-no */
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGHS)
#define HAS_LESS(w, n) (((w) - ONES * (n)) & ~(w) & HIGHS)

/* A string token at p (just after its opening quote): ASCII without escapes or control
   characters. Sets *s, *n and returns the position after the closing quote, or NULL.
   Eight bytes at a time while none of them is a quote or anything else but plain. */
static inline const unsigned char *scan_str(const unsigned char *p, const unsigned char *end,
                                            const unsigned char **s, Py_ssize_t *n) {
    const unsigned char *q = p;
    while (q + 8 <= end) {
        uint64_t w = load8(q);
        uint64_t bad = (w & HIGHS) | HAS_LESS(w, 0x20) | HAS_ZERO(w ^ (ONES * '"'))
                | HAS_ZERO(w ^ (ONES * '\\')) | HAS_ZERO(w ^ (ONES * 0x7f));
        if (bad) {
#if LITTLE_WORDS
            /* each test flags the first such byte exactly (a borrow only ever flags bytes
               after it), so the lowest flag is the first byte that is not plain */
            q += __builtin_ctzll(bad) >> 3;
            goto stop;
#else
            break;
#endif
        }
        q += 8;
    }
    while (q < end && PLAIN[*q]) q++;
#if LITTLE_WORDS
stop:
#endif
    if (q >= end || *q != '"') return NULL;
    *s = p;
    *n = q - p;
    return q + 1;
}

static inline int same(const char *a, const unsigned char *b, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)a[i] != b[i]) return 0;
    return 1;
}

/* Whether the key at p (after its opening quote) is f's name, closing quote included. */
static inline int key_at(const Field *f, const unsigned char *p, const unsigned char *end) {
    if (f->m0 != 0 && end - p >= 16)
        return ((load8(p) ^ f->k0) & f->m0) == 0 && ((load8(p + 8) ^ f->k1) & f->m1) == 0;
    return end - p > f->len && same(f->name, p, f->len) && p[f->len] == '"';
}

static inline uint64_t hash_bytes(const unsigned char *s, Py_ssize_t n, const unsigned char *end) {
#if LITTLE_WORDS
    if (n <= 16) {   /* a short name: two words, the bytes after it zero (wherever it is) */
        uint64_t a, b;
        if (end - s >= 16) {
            a = load8(s);
            b = load8(s + 8);
            if (n < 8) {
                a &= ((uint64_t)1 << (8 * n)) - 1;
                b = 0;
            } else if (n < 16) {
                b &= ((uint64_t)1 << (8 * (n - 8))) - 1;
            }
        } else {   /* near the end of the line: the same words from a copy */
            unsigned char w[16] = {0};
            memcpy(w, s, (size_t)n);
            a = load8(w);
            b = load8(w + 8);
        }
        uint64_t h = a ^ ((b ^ (uint64_t)n) * 0x9e3779b97f4a7c15ULL);
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 33);
    }
#else
    (void)end;
#endif
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n;   /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static inline PyObject *new_ascii(const unsigned char *s, Py_ssize_t n) {
    PyObject *o = PyUnicode_New(n, 127);
    if (o != NULL) memcpy(PyUnicode_DATA(o), s, (size_t)n);
    return o;
}

/* The name as a str, the same object as last time when it is still in the cache. */
static PyObject *intern(Decoder *d, const unsigned char *s, Py_ssize_t n,
                        const unsigned char *end) {
    uint64_t h = hash_bytes(s, n, end);
    Slot *slot = &d->slots[h & d->mask];
    PyObject *o = slot->str;
    if (o != NULL && slot->hash == h && PyUnicode_GET_LENGTH(o) == n
            && memcmp(PyUnicode_DATA(o), s, (size_t)n) == 0) {
        d->hits++;
        Py_INCREF(o);
        return o;
    }
    d->misses++;
    PyObject *fresh = new_ascii(s, n);
    if (fresh == NULL) return NULL;
    Py_INCREF(fresh);
    slot->str = fresh;
    slot->hash = h;
    Py_XDECREF(o);
    return fresh;
}

#if LITTLE_WORDS
/* Whether all eight bytes of w are ASCII digits, and their value (the first byte the most
   significant digit): the usual SWAR steps, two digits, then four, then eight at a time. */
static inline int eight_digits(uint64_t w) {
    return ((w & 0xF0F0F0F0F0F0F0F0ULL)
            | (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4))
           == 0x3333333333333333ULL;
}

static inline uint64_t value_of_eight(uint64_t w) {
    w -= 0x3030303030303030ULL;
    w = (w * 10) + (w >> 8);
    w = (((w & 0x000000FF000000FFULL) * 0x000F424000000064ULL)
         + (((w >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
    return w;
}
#endif

/* A JSON number for a float field, when it converts exactly as a correctly rounded parser
   would by the fast path (at most 2**53 as digits, at most 22 after the point, no
   exponent). Returns the position after it, or NULL. */
static inline const unsigned char *scan_ts(const unsigned char *p, const unsigned char *end,
                                           double *out) {
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !DIGIT(*p)) return NULL;
    if (*p == '0' && p + 1 < end && DIGIT(p[1])) return NULL;   /* a leading zero: not JSON */
    uint64_t m = 0;
    int nd = 0, frac = 0;
#if LITTLE_WORDS
    if (end - p >= 8 && eight_digits(load8(p))) {   /* a timestamp's first eight digits */
        m = value_of_eight(load8(p));
        nd = 8;
        p += 8;
    }
#endif
    while (p < end && DIGIT(*p)) {
        if (++nd > 17) return NULL;
        m = m * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !DIGIT(*p)) return NULL;
#if LITTLE_WORDS
        if (nd <= 17 - 8 && end - p >= 8 && eight_digits(load8(p))) {
            m = m * 100000000 + value_of_eight(load8(p));
            nd += 8;
            frac += 8;
            p += 8;
        }
#endif
        while (p < end && DIGIT(*p)) {
            if (++nd > 17) return NULL;
            m = m * 10 + (uint64_t)(*p - '0');
            frac++;
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) return NULL;
    if (m > ((uint64_t)1 << 53) || frac > 22) return NULL;
    if (neg && m == 0) return NULL;   /* -0: leave the sign of zero to msgspec */
    double v = (double)m;
    if (frac) v /= POW10[frac];
    *out = neg ? -v : v;
    return p;
}

/* A JSON integer >= 0 of at most 18 digits. */
static inline const unsigned char *scan_count(const unsigned char *p, const unsigned char *end,
                                              long long *out) {
    if (p >= end || !DIGIT(*p)) return NULL;
    if (*p == '0' && p + 1 < end && DIGIT(p[1])) return NULL;
    long long v = 0;
    int nd = 0;
    while (p < end && DIGIT(*p)) {
        if (++nd > 18) return NULL;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return NULL;
    *out = v;
    return p;
}

/* decode(line) -> event or None */
static PyObject *Decoder_decode(Decoder *d, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "decode() takes bytes");
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(arg);
    const unsigned char *end = p + PyBytes_GET_SIZE(arg);
    const unsigned char *s;
    Py_ssize_t n;
    SKIP_WS(p, end);
    if (p >= end || *p != '{') Py_RETURN_NONE;
    p++;
    SKIP_WS(p, end);
    /* "type" first */
    if (end - p < 7 || memcmp(p, "\"type\"", 6) != 0) Py_RETURN_NONE;
    p += 6;
    SKIP_WS(p, end);
    if (p >= end || *p != ':') Py_RETURN_NONE;
    p++;
    SKIP_WS(p, end);
    if (p >= end || *p != '"') Py_RETURN_NONE;
    p = scan_str(p + 1, end, &s, &n);
    if (p == NULL) Py_RETURN_NONE;
    TypeSpec *t = NULL;
    for (int i = 0; i < d->ntypes; i++) {
        if (d->types[i].tag_len == n && memcmp(d->types[i].tag, s, (size_t)n) == 0) {
            t = &d->types[i];
            break;
        }
    }
    if (t == NULL) Py_RETURN_NONE;

    PyObject *vals[MAX_FIELDS] = {NULL};
    uint32_t seen = 0;
    int hint = 0;
    PyObject *result = NULL;
    for (;;) {
        if (end - p >= 2 && p[0] == ',' && p[1] == '"') {   /* the common case: no spaces */
            p += 2;
        } else {
            SKIP_WS(p, end);
            if (p >= end) goto bail;
            if (*p == '}') {
                p++;
                break;
            }
            if (*p != ',') goto bail;
            p++;
            SKIP_WS(p, end);
            if (p >= end || *p != '"') goto bail;
            p++;
        }
        /* keys mostly come in the class's order (optional ones left out): look from the
           one after the last on, then from the start */
        int fi = -1;
        for (int i = hint; i < t->nfields; i++) {
            if (key_at(&t->fields[i], p, end)) {
                fi = i;
                break;
            }
        }
        if (fi < 0) {
            for (int i = 0; i < hint && i < t->nfields; i++) {
                if (key_at(&t->fields[i], p, end)) {
                    fi = i;
                    break;
                }
            }
        }
        if (fi < 0) goto bail;   /* not a field: msgspec skips it, or refuses the line */
        p += t->fields[fi].len + 1;
        hint = fi + 1;
        if (seen & (1u << fi)) goto bail;   /* repeated: msgspec's call */
        seen |= 1u << fi;
        if (p < end && *p == ':') {
            p++;
        } else {
            SKIP_WS(p, end);
            if (p >= end || *p != ':') goto bail;
            p++;
        }
        SKIP_WS(p, end);
        Field *f = &t->fields[fi];
        PyObject *v = NULL;
        switch (f->kind) {
        case K_TS: {
            double x;
            p = scan_ts(p, end, &x);
            if (p == NULL) goto bail;
            v = PyFloat_FromDouble(x);
            break;
        }
        case K_COUNT: {
            long long x;
            p = scan_count(p, end, &x);
            if (p == NULL) goto bail;
            if (x >= 0 && x < SMALL_INTS) {   /* no int made and freed per field */
                v = d->ints[x];
                if (v == NULL) v = d->ints[x] = PyLong_FromLongLong(x);
                Py_XINCREF(v);
            } else {
                v = PyLong_FromLongLong(x);
            }
            break;
        }
        default: {   /* strings */
            if (p >= end || *p != '"') goto bail;
            p = scan_str(p + 1, end, &s, &n);
            if (p == NULL || n > d->max_str) goto bail;
            if (f->kind == K_LITERAL) {
                PyObject *lits = f->literals;
                for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(lits); i++) {
                    PyObject *lit = PyTuple_GET_ITEM(lits, i);
                    if (PyUnicode_GET_LENGTH(lit) == n && same(PyUnicode_DATA(lit), s, n)) {
                        v = lit;
                        Py_INCREF(v);
                        break;
                    }
                }
                if (v == NULL) goto bail;   /* not one of the values: msgspec names the error */
            } else if (f->intern) {
                v = intern(d, s, n, end);
            } else {
                v = new_ascii(s, n);
            }
        }
        }
        if (v == NULL) goto fail;
        vals[fi] = v;
    }
    SKIP_WS(p, end);
    if (p != end) goto bail;   /* trailing characters */
    for (int i = 0; i < t->nfields; i++) {
        if (vals[i] == NULL) {
            if (t->fields[i].required) goto bail;   /* missing: msgspec names it */
            vals[i] = t->fields[i].deflt;
            Py_INCREF(vals[i]);
        }
    }
    result = PyObject_Vectorcall(t->cls, vals, (size_t)t->nfields, NULL);
    for (int i = 0; i < t->nfields; i++) Py_XDECREF(vals[i]);
    return result;
bail:
    for (int i = 0; i < t->nfields; i++) Py_XDECREF(vals[i]);
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < t->nfields; i++) Py_XDECREF(vals[i]);
    return NULL;
}

static int parse_field(Field *f, PyObject *item) {
    /* (name, kind, required, intern, default, literals or None) */
    PyObject *name, *deflt, *lits;
    int kind, required, intern_;
    if (!PyArg_ParseTuple(item, "UippOO", &name, &kind, &required, &intern_, &deflt, &lits))
        return -1;
    if (kind < K_TS || kind > K_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unknown field kind");
        return -1;
    }
    f->name = PyUnicode_AsUTF8AndSize(name, &f->len);
    if (f->name == NULL) return -1;
    f->k0 = f->k1 = f->m0 = f->m1 = 0;
    if (f->len + 1 <= 16) {   /* the words key_at compares (little- or big-endian alike) */
        unsigned char key[16] = {0}, mask[16] = {0};
        memcpy(key, f->name, (size_t)f->len);
        key[f->len] = '"';
        memset(mask, 0xff, (size_t)f->len + 1);
        memcpy(&f->k0, key, 8);
        memcpy(&f->k1, key + 8, 8);
        memcpy(&f->m0, mask, 8);
        memcpy(&f->m1, mask + 8, 8);
    }
    f->kind = kind;
    f->required = required;
    f->intern = intern_;
    Py_INCREF(deflt);
    f->deflt = deflt;
    f->literals = NULL;
    if (kind == K_LITERAL) {
        if (!PyTuple_Check(lits)) {
            PyErr_SetString(PyExc_TypeError, "literals must be a tuple of str");
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(lits); i++) {
            if (!PyUnicode_Check(PyTuple_GET_ITEM(lits, i))
                    || !PyUnicode_IS_ASCII(PyTuple_GET_ITEM(lits, i))) {
                PyErr_SetString(PyExc_TypeError, "literals must be ASCII str");
                return -1;
            }
        }
        Py_INCREF(lits);
        f->literals = lits;
    }
    return 0;
}

/* Decoder(spec, max_str, cache_bits): spec is a tuple of (tag, cls, fields), fields a tuple
   of (name, kind, required, intern, default, literals) in the class's positional order. */
static int Decoder_init(Decoder *d, PyObject *args, PyObject *kwds) {
    PyObject *spec;
    Py_ssize_t max_str;
    int bits;
    static char *kwlist[] = {"spec", "max_str", "cache_bits", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!ni", kwlist, &PyTuple_Type, &spec,
                                     &max_str, &bits))
        return -1;
    if (d->spec != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder already initialised");
        return -1;
    }
    if (bits < 4 || bits > 24) {
        PyErr_SetString(PyExc_ValueError, "cache_bits must be in 4..24");
        return -1;
    }
    if (PyTuple_GET_SIZE(spec) > MAX_TYPES) {
        PyErr_SetString(PyExc_ValueError, "too many event types");
        return -1;
    }
    Py_INCREF(spec);
    d->spec = spec;
    d->max_str = max_str;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(spec); i++) {
        PyObject *tag, *cls, *fields;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(spec, i), "UOO!", &tag, &cls, &PyTuple_Type, &fields))
            return -1;
        TypeSpec *t = &d->types[i];
        t->tag = PyUnicode_AsUTF8AndSize(tag, &t->tag_len);
        if (t->tag == NULL) return -1;
        if (PyTuple_GET_SIZE(fields) > MAX_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "too many fields");
            return -1;
        }
        Py_INCREF(cls);
        t->cls = cls;
        t->nfields = 0;
        d->ntypes = (int)i + 1;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(fields); j++) {
            if (parse_field(&t->fields[j], PyTuple_GET_ITEM(fields, j)) < 0) return -1;
            t->nfields = (int)j + 1;
        }
    }
    d->slots = PyMem_Calloc((size_t)1 << bits, sizeof(Slot));
    if (d->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    d->mask = ((uint64_t)1 << bits) - 1;
    d->ints = PyMem_Calloc(SMALL_INTS, sizeof(PyObject *));
    if (d->ints == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void Decoder_dealloc(Decoder *d) {
    for (int i = 0; i < d->ntypes; i++) {
        TypeSpec *t = &d->types[i];
        Py_XDECREF(t->cls);
        for (int j = 0; j < t->nfields; j++) {
            Py_XDECREF(t->fields[j].deflt);
            Py_XDECREF(t->fields[j].literals);
        }
    }
    if (d->slots != NULL) {
        for (uint64_t i = 0; i <= d->mask; i++) Py_XDECREF(d->slots[i].str);
        PyMem_Free(d->slots);
    }
    if (d->ints != NULL) {
        for (Py_ssize_t i = 0; i < SMALL_INTS; i++) Py_XDECREF(d->ints[i]);
        PyMem_Free(d->ints);
    }
    Py_XDECREF(d->spec);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static PyObject *Decoder_stats(Decoder *d, PyObject *Py_UNUSED(unused)) {
    return Py_BuildValue("(nn)", d->hits, d->misses);
}

static PyMethodDef Decoder_methods[] = {
    {"decode", (PyCFunction)Decoder_decode, METH_O,
     "decode(line) -> the event, or None when the line is not of the plain shape decoded here"},
    {"stats", (PyCFunction)Decoder_stats, METH_NOARGS, "stats() -> (intern hits, misses)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.ingest._fastdecode.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The edge's fast path: plain lines of the commonest event types, names interned.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
};

/* Lines(readline, size): readline(size) until it gives b"" -- what
   iter(partial(readline, size), b"") gives, without the partial object's call (a new
   argument array each line) and the callable iterator's generic comparison with b"". */
typedef struct {
    PyObject_HEAD
    PyObject *readline;    /* NULL once exhausted */
    PyObject *size;
} Lines;

static PyTypeObject LinesType;

static PyObject *Lines_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *readline, *size;
    static char *kwlist[] = {"readline", "size", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!", kwlist, &readline, &PyLong_Type, &size))
        return NULL;
    Lines *it = (Lines *)type->tp_alloc(type, 0);
    if (it == NULL) return NULL;
    Py_INCREF(readline);
    it->readline = readline;
    Py_INCREF(size);
    it->size = size;
    return (PyObject *)it;
}

static PyObject *Lines_next(Lines *it) {
    PyObject *readline = it->readline;
    if (readline == NULL) return NULL;
    PyObject *line = PyObject_Vectorcall(readline, &it->size, 1, NULL);
    if (line == NULL) return NULL;   /* a read error: the caller's */
    int done;
    if (PyBytes_CheckExact(line)) {
        done = PyBytes_GET_SIZE(line) == 0;
    } else {   /* not bytes: as the callable iterator decides, by == b"" */
        PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
        if (empty == NULL) {
            Py_DECREF(line);
            return NULL;
        }
        done = PyObject_RichCompareBool(line, empty, Py_EQ);
        Py_DECREF(empty);
        if (done < 0) {
            Py_DECREF(line);
            return NULL;
        }
    }
    if (done) {
        Py_DECREF(line);
        it->readline = NULL;
        Py_DECREF(readline);
        return NULL;
    }
    return line;
}

static int Lines_traverse(Lines *it, visitproc visit, void *arg) {
    Py_VISIT(it->readline);
    return 0;
}

static int Lines_clear(Lines *it) {
    Py_CLEAR(it->readline);
    return 0;
}

static void Lines_dealloc(Lines *it) {
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->readline);
    Py_CLEAR(it->size);
    Py_TYPE(it)->tp_free((PyObject *)it);
}

static PyTypeObject LinesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.ingest._fastdecode.Lines",
    .tp_basicsize = sizeof(Lines),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Lines(readline, size): readline(size) until it gives b\"\".",
    .tp_new = Lines_new,
    .tp_dealloc = (destructor)Lines_dealloc,
    .tp_traverse = (traverseproc)Lines_traverse,
    .tp_clear = (inquiry)Lines_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Lines_next,
};

/* OneOf(cls, value, a, b).get(ev): the field `value` of ev (of exactly the class cls) when
   exactly one of its fields a and b is not None, else None. The reorder stage's question
   about each message (its ts, if it has exactly one target), read from the struct's slots:
   no tuple of all its fields made and freed. */
typedef struct {
    PyObject_HEAD
    PyObject *cls;
    Py_ssize_t value, a, b;   /* the fields' offsets (member descriptors: object slots) */
} OneOf;

static PyTypeObject OneOfType;

static int slot_offset(PyObject *cls, PyObject *name, Py_ssize_t *off) {
    PyObject *d = PyObject_GetAttr(cls, name);
    if (d == NULL) return -1;
    int ok = Py_IS_TYPE(d, &PyMemberDescr_Type)
        && (((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX
            || ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT);
    if (ok) *off = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);   /* the class (kept alive) holds it */
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%R: field %R is not an object slot", cls, name);
        return -1;
    }
    return 0;
}

static PyObject *OneOf_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *cls, *value, *a, *b;
    static char *kwlist[] = {"cls", "value", "a", "b", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!UUU", kwlist, &PyType_Type, &cls, &value,
                                     &a, &b))
        return NULL;
    OneOf *o = (OneOf *)type->tp_alloc(type, 0);
    if (o == NULL) return NULL;
    Py_INCREF(cls);
    o->cls = cls;
    if (slot_offset(cls, value, &o->value) < 0 || slot_offset(cls, a, &o->a) < 0
            || slot_offset(cls, b, &o->b) < 0) {
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

static void OneOf_dealloc(OneOf *o) {
    Py_XDECREF(o->cls);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyObject *OneOf_get(OneOf *o, PyObject *ev) {
    if ((PyObject *)Py_TYPE(ev) != o->cls) {
        PyErr_Format(PyExc_TypeError, "expected %R, got %R", o->cls, (PyObject *)Py_TYPE(ev));
        return NULL;
    }
    PyObject *v = *(PyObject **)((char *)ev + o->value);
    PyObject *a = *(PyObject **)((char *)ev + o->a);
    PyObject *b = *(PyObject **)((char *)ev + o->b);
    if (v == NULL || a == NULL || b == NULL) {
        PyErr_SetString(PyExc_AttributeError, "field not set");
        return NULL;
    }
    if ((a == Py_None) == (b == Py_None)) Py_RETURN_NONE;
    Py_INCREF(v);
    return v;
}

static PyMethodDef OneOf_methods[] = {
    {"get", (PyCFunction)OneOf_get, METH_O,
     "get(ev) -> ev.value if exactly one of ev.a and ev.b is not None, else None"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject OneOfType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bulkguard.ingest._fastdecode.OneOf",
    .tp_basicsize = sizeof(OneOf),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "OneOf(cls, value, a, b): get(ev) -> ev.value if exactly one of a, b is set",
    .tp_new = OneOf_new,
    .tp_dealloc = (destructor)OneOf_dealloc,
    .tp_methods = OneOf_methods,
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_fastdecode",
    "The edge's fast path for plain event lines (see bulkguard.ingest.fastdecode).", -1, NULL,
};

PyMODINIT_FUNC PyInit__fastdecode(void) {
    for (int c = 0x20; c < 0x7f; c++) PLAIN[c] = (c != '"' && c != '\\');
    if (PyType_Ready(&DecoderType) < 0 || PyType_Ready(&LinesType) < 0
            || PyType_Ready(&OneOfType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (m == NULL) return NULL;
    Py_INCREF(&DecoderType);
    if (PyModule_AddObject(m, "Decoder", (PyObject *)&DecoderType) < 0) {
        Py_DECREF(&DecoderType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&LinesType);
    if (PyModule_AddObject(m, "Lines", (PyObject *)&LinesType) < 0) {
        Py_DECREF(&LinesType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&OneOfType);
    if (PyModule_AddObject(m, "OneOf", (PyObject *)&OneOfType) < 0) {
        Py_DECREF(&OneOfType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
