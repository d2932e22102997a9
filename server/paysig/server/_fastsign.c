/*
 * paysig.server._fastsign: the compiled path of SignOrder, for the variants
 * order_spec.py marks `compiled` (minigame requestMidasPaymentGameItem,
 * miniprogram requestVirtualPayment).
 *
 * It holds no rule of its own: _fastsign_spec.h, generated from order_spec.py,
 * rules.py, audit.py and the proto by `make generate`, lists Order's fields,
 * each variant's checks, defaults and signData fields, the response's field
 * numbers and the audit line's fields; this file interprets those tables. It
 * signs only what passes every rule and produces the reference path's bytes
 * (ops/sign_order.py): the signData, both HMACs, the serialized
 * SignOrderResponse and the audit line. Anything else (a variant it was not
 * generated for, any broken rule, any doubt) is declined: the item's slot is
 * None and Python's reference path answers it, with its violations.
 * tests/test_fastsign.py holds the two paths to the same output on the
 * conformance cases and on generated orders.
 *
 * HMAC-SHA256 and SHA-256 come from OpenSSL's libcrypto (EVP_MAC, EVP_MD),
 * which uses the CPU's SHA extensions where it has them. Each app key is set
 * into an EVP_MAC_CTX once per config, in AppKeys, which has no repr of its
 * key and no way to read it back; each signature re-initialises that context
 * with the same key (no re-hashing of the key). sign_orders holds the GIL from
 * start to end and calls no Python code between a context's init and final,
 * so no two threads use a context at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* ---- HMAC-SHA256 and SHA-256 (OpenSSL) ------------------------------------ */

static EVP_MAC *HMAC_MAC;  /* fetched once, at import */
static EVP_MD *SHA256_MD;
static EVP_MAC_CTX *SESSION_TEMPLATE; /* HMAC-SHA256 with the empty key: duplicated per call, keyed per item */

static const char HEX[] = "0123456789abcdef";

static void to_hex(const uint8_t *d, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[d[i] >> 4];
        out[2 * i + 1] = HEX[d[i] & 15];
    }
}

/* A new HMAC-SHA256 context keyed with key; NULL with a Python error set. */
static EVP_MAC_CTX *hmac_new(const uint8_t *key, size_t n) {
    static const uint8_t empty[1] = {0};
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(HMAC_MAC);
    if (!ctx || !EVP_MAC_init(ctx, n ? key : empty, n, params)) {
        EVP_MAC_CTX_free(ctx);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL: cannot set up HMAC-SHA256");
        return NULL;
    }
    return ctx;
}

/* Lowercase hex HMAC of prefix||message into out[64]; with rekey (n bytes), the
 * context is first keyed with it, else re-initialised with its own key.
 * 0 with a Python error set when OpenSSL fails. */
static int hmac_hex(EVP_MAC_CTX *ctx, const uint8_t *rekey, size_t rekey_n, const char *prefix, size_t prefix_n,
                    const char *msg, size_t n, char out[64]) {
    static const uint8_t empty[1] = {0};
    uint8_t d[32];
    size_t d_n = 0;
    int ok = (rekey ? EVP_MAC_init(ctx, rekey_n ? rekey : empty, rekey_n, NULL) : EVP_MAC_init(ctx, NULL, 0, NULL)) &&
             EVP_MAC_update(ctx, (const uint8_t *)prefix, prefix_n) && EVP_MAC_update(ctx, (const uint8_t *)msg, n) &&
             EVP_MAC_final(ctx, d, &d_n, sizeof d) && d_n == sizeof d;
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL: HMAC-SHA256 failed");
        return 0;
    }
    to_hex(d, 32, out);
    return 1;
}

/* ---- a growable byte buffer ---------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} Buf;

static int buf_reserve(Buf *b, size_t more) {
    if (b->failed) return 0;
    if (b->n + more <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (!p) { b->failed = 1; return 0; }
    b->p = p;
    b->cap = cap;
    return 1;
}

static void buf_put(Buf *b, const void *p, size_t n) {
    if (!buf_reserve(b, n)) return;
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

#define PUT_LIT(b, s) buf_put((b), (s), sizeof(s) - 1)

static void buf_byte(Buf *b, uint8_t c) { buf_put(b, &c, 1); }

static void buf_varint(Buf *b, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    buf_put(b, tmp, n);
}

/* v in decimal, as Python's str(int) writes it. */
static void buf_int(Buf *b, long long v) {
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    buf_put(b, p, (size_t)(end - p));
}

/* How Python's json (ensure_ascii=False) writes each byte in a string: 0 as it is, 'u' as \u00XX, else a
   backslash and this character. */
static const char JSON_ESCAPE[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r', ['"'] = '"', ['\\'] = '\\',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u', [0x06] = 'u', [0x07] = 'u',
    [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u',
    [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u',
    [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u',
};

/* A JSON string as Python's json (ensure_ascii=False) writes it. */
static void buf_json_string(Buf *b, const char *s, size_t n) {
    if (n > (SIZE_MAX - 2) / 6 || !buf_reserve(b, 6 * n + 2)) { /* room for the worst case: every byte \u00XX */
        b->failed = 1;
        return;
    }
    char *o = b->p + b->n;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = JSON_ESCAPE[c];
        if (!e) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        *o++ = e;
        if (e == 'u') {
            *o++ = '0';
            *o++ = '0';
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 15];
        }
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
}

/* A JSON string of s, which needs no escaping (hex digits, generated identifiers). */
static void buf_quoted(Buf *b, const char *s, size_t n) {
    buf_byte(b, '"');
    buf_put(b, s, n);
    buf_byte(b, '"');
}

/* A protobuf field (tag: field number and wire type), left out when empty or 0 as proto3 does. */
static void pb_bytes(Buf *b, uint8_t tag, const char *s, size_t n) {
    if (n == 0) return;
    buf_byte(b, tag);
    buf_varint(b, n);
    buf_put(b, s, n);
}

static void pb_varint(Buf *b, uint8_t tag, uint64_t v) {
    if (v == 0) return;
    buf_byte(b, tag);
    buf_varint(b, v);
}

/* ---- the rules, generated from order_spec.py ------------------------------ */

enum { SPEC_STR, SPEC_INT };
typedef struct {
    const char *name;
    int type;         /* SPEC_STR or SPEC_INT */
    int has_presence; /* an `optional` field: HasField tells set from unset */
    int number;       /* its field number */
    int is32;         /* SPEC_INT: an int32 or enum (else int64) */
} SpecField;

enum { CHECK_TEXT, CHECK_POSITIVE, CHECK_OUT_TRADE_NO, CHECK_ONE_OF, CHECK_UNSET };
typedef struct {
    int field;              /* ORDER_* */
    int check;              /* CHECK_* */
    int required;
    long long limit;        /* CHECK_TEXT: max bytes; CHECK_OUT_TRADE_NO: min length; CHECK_ONE_OF: n values */
    const char *deflt;      /* for an empty string, or NULL */
    size_t deflt_n;
    const char *const *values; /* CHECK_ONE_OF */
    int not_above;          /* CHECK_POSITIVE: an ORDER_* field it may not exceed (when positive), or -1 */
} SpecRule;

enum { SRC_CONST, SRC_OFFER_ID, SRC_ENV, SRC_ORDER };
typedef struct {
    const char *prefix; /* "key": (SRC_CONST: with its value) */
    size_t prefix_n;
    int source;         /* SRC_* */
    int field;          /* SRC_ORDER: ORDER_* */
    int omit_empty;
} SpecKey;

typedef struct {
    int kind; /* KIND_* */
    long long api, mode;
    /* identifiers, written in JSON unescaped; client_mode: NULL for none */
    const char *method;
    size_t method_n;
    const char *pay_sig_prefix;
    size_t pay_sig_prefix_n;
    const char *api_name;
    size_t api_name_n;
    const char *client_mode;
    size_t client_mode_n;
    const SpecRule *rules;
    size_t n_rules;
    const SpecKey *keys;
    size_t n_keys;
} SpecVariant;

enum { OUT_SIGN_DATA, OUT_PAY_SIG, OUT_SIGNATURE, OUT_METHOD, OUT_KEY_VERSION, OUT_ENV, OUT_CLIENT_ARGS };
typedef struct {
    uint8_t tag;
    int source; /* OUT_* */
} SpecOut;
typedef struct {
    const char *key;
    size_t key_n;
    int source; /* OUT_* */
} SpecArg;

enum { AUDIT_STR, AUDIT_INT, AUDIT_ENV, AUDIT_API, AUDIT_CONST, AUDIT_KEY_VERSION, AUDIT_KEY_ENV, AUDIT_SIGNATURE_FP };
typedef struct {
    const char *prefix; /* ,"key": (AUDIT_CONST: with its value) */
    size_t prefix_n;
    int source;         /* AUDIT_* */
    int in_order;       /* field is ORDER_* (else REQ_*) */
    int field;
} SpecAudit;

#include "_fastsign_spec.h"

/* ---- AppKeys -------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    int kind;       /* KIND_*: SPEC_KIND_NAMES */
    char *offer_id; /* UTF-8, NUL-terminated */
    Py_ssize_t offer_id_n;
    int has[SPEC_N_ENVS]; /* by paysig.v1.Env */
    uint32_t version[SPEC_N_ENVS];
    EVP_MAC_CTX *key[SPEC_N_ENVS]; /* keyed with the env's signing key; OpenSSL cleanses it when freed */
} AppKeys;

static void AppKeys_clear_keys(AppKeys *self) {
    for (int env = 0; env < SPEC_N_ENVS; env++) {
        EVP_MAC_CTX_free(self->key[env]);
        self->key[env] = NULL;
        self->has[env] = 0;
    }
}

static void AppKeys_dealloc(AppKeys *self) {
    PyMem_Free(self->offer_id);
    AppKeys_clear_keys(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int AppKeys_init(AppKeys *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"kind", "offer_id", "keys", NULL};
    const char *kind, *offer;
    Py_ssize_t offer_n;
    PyObject *keys;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ss#O!", names, &kind, &offer, &offer_n, &PyDict_Type, &keys))
        return -1;
    self->kind = -1;
    for (int k = 0; k < KIND_COUNT; k++)
        if (strcmp(kind, SPEC_KIND_NAMES[k]) == 0) self->kind = k;
    if (self->kind < 0) {
        PyErr_SetString(PyExc_ValueError, "kind: not an app kind the fast path was generated for");
        return -1;
    }
    PyMem_Free(self->offer_id);
    self->offer_id = PyMem_Malloc((size_t)offer_n + 1);
    if (!self->offer_id) { PyErr_NoMemory(); return -1; }
    memcpy(self->offer_id, offer, (size_t)offer_n + 1);
    self->offer_id_n = offer_n;
    AppKeys_clear_keys(self);
    PyObject *env_obj, *spec;
    Py_ssize_t pos = 0;
    while (PyDict_Next(keys, &pos, &env_obj, &spec)) {
        long env = PyLong_AsLong(env_obj);
        if (env == -1 && PyErr_Occurred()) return -1;
        if (env < 0 || env >= SPEC_N_ENVS || SPEC_ENV_SIGN_DATA[env] < 0) {
            PyErr_SetString(PyExc_ValueError, "keys: by paysig.v1.Env number, production or sandbox");
            return -1;
        }
        unsigned int version;
        Py_buffer key;
        if (!PyArg_ParseTuple(spec, "Iy*", &version, &key)) return -1;
        EVP_MAC_CTX_free(self->key[env]);
        self->key[env] = hmac_new(key.buf, (size_t)key.len);
        PyBuffer_Release(&key);
        if (!self->key[env]) return -1;
        self->has[env] = 1;
        self->version[env] = version;
    }
    return 0;
}

static PyTypeObject AppKeysType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "paysig.server._fastsign.AppKeys",
    .tp_doc = PyDoc_STR("AppKeys(kind, offer_id, keys): an app's kind (one of KINDS), offerId and signing keys, "
                        "keys mapping a paysig.v1.Env number to (version, key bytes). The keys cannot be read back."),
    .tp_basicsize = sizeof(AppKeys),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)AppKeys_init,
    .tp_dealloc = (destructor)AppKeys_dealloc,
};

/* ---- checks (rules.py), for valid UTF-8 ----------------------------------- */

/* rules.CONTROL_CHARS, which matches code points below U+0100 only. */
static int has_control_chars(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 ? SPEC_CONTROL_CHAR[c]
                     : (c == 0xc2 || c == 0xc3) && i + 1 < n &&
                           SPEC_CONTROL_CHAR[((c & 0x1f) << 6) | ((unsigned char)s[i + 1] & 0x3f)])
            return 1;
    }
    return 0;
}

/* The number of characters (code points) of valid UTF-8. */
static Py_ssize_t utf8_chars(const char *s, Py_ssize_t n) {
    Py_ssize_t chars = 0;
    for (Py_ssize_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    return chars;
}

/* Every byte is an ASCII character table accepts. */
static int ascii_in(const char *s, Py_ssize_t n, const unsigned char table[128]) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || !table[(unsigned char)s[i]]) return 0;
    return 1;
}

static int positive_ok(long long v) { return v >= 1 && v <= SPEC_MAX_SAFE_INTEGER; }

/* ---- sign_orders ----------------------------------------------------------- */

static PyObject *S_order, *S_HasField, *S_request_names[REQ_COUNT], *S_order_names[ORDER_COUNT],
    *S_api_names[SPEC_N_VARIANTS], *S_env_labels[SPEC_N_ENVS];

typedef struct {
    PyObject *owned[REQ_COUNT + ORDER_COUNT + 1];
    int n_owned;
} Refs;

static void refs_clear(Refs *r) {
    for (int i = 0; i < r->n_owned; i++) Py_DECREF(r->owned[i]);
    r->n_owned = 0;
}

/* A str attribute as UTF-8; NULL with no error set means "decline". */
static const char *str_attr(Refs *r, PyObject *obj, PyObject *name, Py_ssize_t *n) {
    PyObject *v = PyObject_GetAttr(obj, name);
    if (!v) return NULL;
    r->owned[r->n_owned++] = v;
    if (!PyUnicode_Check(v)) return NULL;
    const char *s = PyUnicode_AsUTF8AndSize(v, n);
    if (!s) PyErr_Clear(); /* not encodable: Python's path answers it */
    return s;
}

static int int_attr(PyObject *obj, PyObject *name, long long *out) {
    PyObject *v = PyObject_GetAttr(obj, name);
    if (!v) return -1;
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    Py_DECREF(v);
    if (*out == -1 && PyErr_Occurred()) return -1;
    if (overflow) *out = -1; /* out of every accepted range */
    return 0;
}

typedef struct {
    const char *str[ORDER_COUNT]; /* as sent */
    Py_ssize_t str_n[ORDER_COUNT];
    const char *val[ORDER_COUNT]; /* as signed: the default for an empty string */
    Py_ssize_t val_n[ORDER_COUNT];
    long long num[ORDER_COUNT];
    int has[ORDER_COUNT]; /* set: a non-empty string or non-zero number, or HasField for optional fields */
    const char *req_str[REQ_COUNT];
    Py_ssize_t req_str_n[REQ_COUNT];
    long long req_num[REQ_COUNT];
    const SpecVariant *variant;
    int variant_index;
    long long env;
    AppKeys *app;
} Item;

/* Reads a field of obj into str/num; 1, 0 to decline, -1 on a Python error. */
static int read_field(Refs *r, PyObject *obj, PyObject *name, int type, const char **str, Py_ssize_t *str_n,
                      long long *num) {
    if (type == SPEC_INT) return int_attr(obj, name, num) < 0 ? -1 : 1;
    *num = 0;
    if (!(*str = str_attr(r, obj, name, str_n))) return PyErr_Occurred() ? -1 : 0;
    return 1;
}

/* Whether the value passes the rule (order_spec.Field, as ops/sign_order.py checks it). */
static int rule_ok(const SpecRule *rule, Item *it) {
    int f = rule->field;
    const char *s = it->val[f];
    Py_ssize_t n = it->val_n[f];
    long long v = it->num[f];
    switch (rule->check) {
        case CHECK_UNSET:
            return !it->has[f];
        case CHECK_POSITIVE:
            if (SPEC_ORDER_FIELDS[f].has_presence ? !it->has[f] : !rule->required && v == 0) return 1;
            if (!positive_ok(v)) return 0;
            return rule->not_above < 0 || !(v > it->num[rule->not_above] && it->num[rule->not_above] > 0);
        case CHECK_TEXT:
            if (n == 0) return !rule->required;
            return n <= rule->limit && !has_control_chars(s, n);
        case CHECK_OUT_TRADE_NO:
            return n >= rule->limit && n <= SPEC_MAX_OUT_TRADE_NO_CHARS && s[0] != SPEC_OUT_TRADE_NO_NOT_FIRST &&
                   ascii_in(s, n, SPEC_OUT_TRADE_NO_CHAR);
        case CHECK_ONE_OF:
            for (long long i = 0; i < rule->limit; i++)
                if ((size_t)n == strlen(rule->values[i]) && memcmp(s, rule->values[i], (size_t)n) == 0) return 1;
            return 0;
    }
    return 0;
}

/* ---- requests as bytes (the protobuf wire format) ------------------------ */


/* Only the simple form is read: every field at most once, each known to the spec (SignOrderRequest's and
   Order's) and of its wire type, strings of valid UTF-8, int32 and enum values within 32 bits. Protobuf
   parses that form into exactly these values; anything else (a repeated or unknown field, a group, a
   truncated or over-long varint, a tag or length of more than 5 bytes, ...) is declined and left to protobuf
   and the reference path. */

/* A varint of at most 64 bits; 0 when it is truncated or longer. */
static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return 0;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1) return 0;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* A tag or a length: a varint of at most 5 bytes (upb refuses a longer one, even with needless continuation
   bytes and a small value) and at most 32 bits; 0 otherwise. */
static int wire_varint32(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    const uint8_t *start = *p;
    return wire_varint(p, end, v) && *p - start <= 5 && *v <= UINT32_MAX;
}

/* The length of a length-delimited field that lies within [*p, end); 0 otherwise. */
static int wire_length(const uint8_t **p, const uint8_t *end, uint64_t *n) {
    return wire_varint32(p, end, n) && *n <= (uint64_t)(end - *p);
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as protobuf requires of strings. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) k = 3, cp = c & 0x07;
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            uint8_t d = s[i + j];
            if ((d & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (d & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Reads one message of the simple form into str/num (by the index of fields[]) and present[]; a
   length-delimited field numbered `nested` (0: none) into *sub. 1 when read, 0 to decline. */
static int wire_message(const uint8_t *p, const uint8_t *end, const SpecField *fields, int count, int nested,
                        const char **str, Py_ssize_t *str_n, long long *num, int *present, const uint8_t **sub,
                        size_t *sub_n) {
    int sub_seen = 0;
    for (int f = 0; f < count; f++) {
        str[f] = "";
        str_n[f] = 0;
        num[f] = 0;
        present[f] = 0;
    }
    while (p && p < end) { /* p NULL: an absent message, every field unset */
        uint64_t tag, v;
        if (!wire_varint32(&p, end, &tag)) return 0;
        uint64_t number = tag >> 3;
        int wire_type = (int)(tag & 7);
        if (nested && number == (uint64_t)nested) {
            if (wire_type != 2 || sub_seen || !wire_length(&p, end, &v)) return 0;
            sub_seen = 1;
            *sub = p;
            *sub_n = (size_t)v;
            p += v;
            continue;
        }
        int f = 0;
        while (f < count && (uint64_t)fields[f].number != number) f++;
        if (f == count || present[f]) return 0;
        present[f] = 1;
        if (fields[f].type == SPEC_INT) {
            if (wire_type != 0 || !wire_varint(&p, end, &v)) return 0;
            long long value = (long long)v;
            if (fields[f].is32 && value != (long long)(int32_t)value) return 0;
            num[f] = value;
        } else {
            if (wire_type != 2 || !wire_length(&p, end, &v) || !utf8_valid(p, (size_t)v))
                return 0;
            str[f] = (const char *)p;
            str_n[f] = (Py_ssize_t)v;
            p += v;
        }
    }
    return 1;
}

/* ---- reading an item ------------------------------------------------------- */

/* The values of a SignOrderRequest message (attribute by attribute); *app_id: its app_id str.
   1, 0 to decline, -1 on a Python error. */
static int read_message(PyObject *req, Refs *r, Item *it, PyObject **app_id) {
    for (int f = 0; f < REQ_COUNT; f++) {
        int ok = read_field(r, req, S_request_names[f], SPEC_REQUEST_FIELDS[f].type, &it->req_str[f],
                            &it->req_str_n[f], &it->req_num[f]);
        if (ok <= 0) return ok;
        if (f == REQ_APP_ID) *app_id = r->owned[r->n_owned - 1];
    }
    PyObject *order = PyObject_GetAttr(req, S_order);
    if (!order) return -1;
    r->owned[r->n_owned++] = order;
    for (int f = 0; f < ORDER_COUNT; f++) {
        it->str[f] = "";
        it->str_n[f] = 0;
        it->num[f] = 0;
        if (SPEC_ORDER_FIELDS[f].has_presence) {
            PyObject *has = PyObject_CallMethodOneArg(order, S_HasField, S_order_names[f]);
            if (!has) return -1;
            it->has[f] = PyObject_IsTrue(has);
            Py_DECREF(has);
            if (it->has[f] < 0) return -1;
            if (!it->has[f]) continue; /* unset: "" or 0 */
        }
        int ok = read_field(r, order, S_order_names[f], SPEC_ORDER_FIELDS[f].type, &it->str[f], &it->str_n[f],
                            &it->num[f]);
        if (ok <= 0) return ok;
    }
    return 1;
}

/* A serialized SignOrderRequest of the simple form into it: the request's and the order's values, and
   the order fields' presence in it->has. 1, or 0 to decline. */
static int wire_request(const uint8_t *p, size_t n, Item *it) {
    const uint8_t *sub = NULL;
    size_t sub_n = 0;
    int present[REQ_COUNT];
    return wire_message(p, p + n, SPEC_REQUEST_FIELDS, REQ_COUNT, SPEC_REQUEST_ORDER_NUMBER, it->req_str,
                        it->req_str_n, it->req_num, present, &sub, &sub_n) &&
           wire_message(sub, sub + sub_n, SPEC_ORDER_FIELDS, ORDER_COUNT, 0, it->str, it->str_n, it->num, it->has,
                        NULL, NULL);
}

/* The values of a serialized SignOrderRequest (bytes); *app_id: its app_id as a new str.
   1, 0 to decline, -1 on a Python error. */
static int read_bytes(PyObject *req, Refs *r, Item *it, PyObject **app_id) {
    if (!wire_request((const uint8_t *)PyBytes_AS_STRING(req), (size_t)PyBytes_GET_SIZE(req), it)) return 0;
    *app_id = PyUnicode_DecodeUTF8(it->req_str[REQ_APP_ID], it->req_str_n[REQ_APP_ID], NULL);
    if (!*app_id) return -1;
    r->owned[r->n_owned++] = *app_id;
    return 1;
}

/* 1: the item is valid and signable here; 0: decline; -1: a Python error.
 * The item is a SignOrderRequest message or its serialized bytes (as scan_orders found them).
 * The rules are the compiled variants' of order_spec.py. */
static int read_item(PyObject *req, PyObject *apps, Refs *r, Item *it) {
    PyObject *app_id = NULL;
    int ok = PyBytes_Check(req) ? read_bytes(req, r, it, &app_id) : read_message(req, r, it, &app_id);
    if (ok <= 0) return ok;
    it->env = it->req_num[REQ_ENV];
    if (it->env < 0 || it->env >= SPEC_N_ENVS || SPEC_ENV_SIGN_DATA[it->env] < 0) return 0;

    PyObject *app = PyDict_GetItemWithError(apps, app_id);
    if (!app) return PyErr_Occurred() ? -1 : 0;
    if (!PyObject_TypeCheck(app, &AppKeysType)) {
        PyErr_SetString(PyExc_TypeError, "apps: values must be AppKeys");
        return -1;
    }
    it->app = (AppKeys *)app;
    if (!it->app->has[it->env]) return 0;
    it->variant = NULL;
    for (int i = 0; i < SPEC_N_VARIANTS; i++) {
        const SpecVariant *v = &SPEC_VARIANTS[i];
        if (v->kind == it->app->kind && v->api == it->req_num[REQ_API] && v->mode == it->req_num[REQ_MODE]) {
            it->variant = v;
            it->variant_index = i;
        }
    }
    if (!it->variant) return 0;
    const char *session_key = it->req_str[REQ_SESSION_KEY];
    Py_ssize_t session_key_n = it->req_str_n[REQ_SESSION_KEY];
    if (session_key_n < 1 || session_key_n > SPEC_MAX_SESSION_KEY_CHARS ||
        !ascii_in(session_key, session_key_n, SPEC_SESSION_KEY_CHAR))
        return 0;

    for (int f = 0; f < ORDER_COUNT; f++) {
        if (!SPEC_ORDER_FIELDS[f].has_presence)
            it->has[f] = SPEC_ORDER_FIELDS[f].type == SPEC_INT ? it->num[f] != 0 : it->str_n[f] != 0;
        it->val[f] = it->str[f];
        it->val_n[f] = it->str_n[f];
    }
    for (size_t i = 0; i < it->variant->n_rules; i++) {
        const SpecRule *rule = &it->variant->rules[i];
        if (rule->deflt && it->val_n[rule->field] == 0) {
            it->val[rule->field] = rule->deflt;
            it->val_n[rule->field] = (Py_ssize_t)rule->deflt_n;
        }
        if (!rule_ok(rule, it)) return 0;
    }
    for (size_t i = 0; i < sizeof SPEC_AUDIT / sizeof SPEC_AUDIT[0]; i++) {
        const SpecAudit *a = &SPEC_AUDIT[i];
        if (a->source != AUDIT_STR) continue;
        const char *s = a->in_order ? it->str[a->field] : it->req_str[a->field];
        Py_ssize_t n = a->in_order ? it->str_n[a->field] : it->req_str_n[a->field];
        if (utf8_chars(s, n) > SPEC_MAX_AUDIT_CHARS) return 0;
    }
    return 1;
}

/* Appends item[0..n) to items as bytes when it is of the simple form: 1; 0 when it is not; -1 on a Python
   error. */
static int scan_item(const uint8_t *item, size_t n, PyObject *items) {
    Item it;
    if (!wire_request(item, n, &it)) return 0;
    PyObject *b = PyBytes_FromStringAndSize((const char *)item, (Py_ssize_t)n);
    int rc = b ? PyList_Append(items, b) : -1;
    Py_XDECREF(b);
    return rc < 0 ? -1 : 1;
}

/* scan_orders(data, batch) -> tuple of bytes, or None
 * The serialized SignOrderRequest (batch: each of BatchSignOrdersRequest's requests) when every one is of
 * the simple form read_bytes reads, else None (protobuf parses the request). */
static PyObject *scan_orders(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer data;
    int batch;
    if (!PyArg_ParseTuple(args, "y*p", &data, &batch)) return NULL;
    const uint8_t *p = data.buf, *end = p + data.len;
    PyObject *items = PyList_New(0);
    int rc = items ? 1 : -1;
    if (rc == 1 && !batch) rc = scan_item(p, (size_t)data.len, items);
    while (rc == 1 && batch && p < end) {
        uint64_t tag, n = 0;
        if (!wire_varint32(&p, end, &tag) || tag != (SPEC_BATCH_REQUESTS_NUMBER << 3 | 2) || !wire_length(&p, end, &n))
            rc = 0;
        else
            rc = scan_item(p, (size_t)n, items);
        p += rc == 1 ? n : 0;
    }
    PyBuffer_Release(&data);
    PyObject *out = rc == 1 ? PyList_AsTuple(items) : rc == 0 ? Py_NewRef(Py_None) : NULL;
    Py_XDECREF(items);
    return out;
}

/* signData: the variant's keys, in order. */
static void sign_data(const Item *it, Buf *data) {
    data->n = 0;
    buf_byte(data, '{');
    int first = 1;
    for (size_t i = 0; i < it->variant->n_keys; i++) {
        const SpecKey *k = &it->variant->keys[i];
        int f = k->field;
        if (k->omit_empty && k->source == SRC_ORDER &&
            (SPEC_ORDER_FIELDS[f].has_presence ? !it->has[f]
                                                : SPEC_ORDER_FIELDS[f].type == SPEC_STR && it->val_n[f] == 0))
            continue;
        if (!first) buf_byte(data, ',');
        first = 0;
        buf_put(data, k->prefix, k->prefix_n);
        switch (k->source) {
            case SRC_CONST: break;
            case SRC_OFFER_ID: buf_json_string(data, it->app->offer_id, (size_t)it->app->offer_id_n); break;
            case SRC_ENV: buf_int(data, SPEC_ENV_SIGN_DATA[it->env]); break;
            case SRC_ORDER:
                if (SPEC_ORDER_FIELDS[f].type == SPEC_INT) buf_int(data, it->num[f]);
                else buf_json_string(data, it->val[f], (size_t)it->val_n[f]);
                break;
        }
    }
    buf_byte(data, '}');
}

/* A response value (OUT_*) as bytes; numbers through *num. */
static const char *out_value(int source, const Item *it, const Buf *data, const char *pay_sig, const char *signature,
                             const Buf *args, size_t *n, uint64_t *num) {
    switch (source) {
        case OUT_SIGN_DATA: *n = data->n; return data->p;
        case OUT_PAY_SIG: *n = 64; return pay_sig;
        case OUT_SIGNATURE: *n = 64; return signature;
        case OUT_METHOD: *n = it->variant->method_n; return it->variant->method;
        case OUT_CLIENT_ARGS: *n = args->n; return args->p;
        case OUT_KEY_VERSION: *num = it->app->version[it->env]; return NULL;
        case OUT_ENV: *num = (uint64_t)it->env; return NULL;
    }
    *n = 0;
    return "";
}

/* Signs a valid item: the SignOrderResponse into out, its audit line into
 * audit. session: a context for the session key HMACs, keyed here per item.
 * 1, or 0 with a Python error set. */
static int sign_item(const Item *it, EVP_MAC_CTX *session, const char *head, Py_ssize_t head_n, Buf *out,
                     Buf *audit, Buf *data, Buf *args) {
    const SpecVariant *var = it->variant;
    sign_data(it, data);
    if (data->failed) return 1;

    char pay_sig[64], signature[64];
    if (!hmac_hex(it->app->key[it->env], NULL, 0, var->pay_sig_prefix, var->pay_sig_prefix_n, data->p,
                  data->n, pay_sig) ||
        !hmac_hex(session, (const uint8_t *)it->req_str[REQ_SESSION_KEY], (size_t)it->req_str_n[REQ_SESSION_KEY],
                  "", 0, data->p, data->n, signature))
        return 0;

    args->n = 0;
    buf_byte(args, '{');
    for (size_t i = 0; i < sizeof SPEC_CLIENT_ARGS / sizeof SPEC_CLIENT_ARGS[0]; i++) {
        size_t n = 0;
        uint64_t num = 0;
        const char *v = out_value(SPEC_CLIENT_ARGS[i].source, it, data, pay_sig, signature, args, &n, &num);
        if (i) buf_byte(args, ',');
        buf_put(args, SPEC_CLIENT_ARGS[i].key, SPEC_CLIENT_ARGS[i].key_n);
        if (SPEC_CLIENT_ARGS[i].source == OUT_SIGN_DATA) buf_json_string(args, v, n);
        else buf_quoted(args, v, n); /* hex or an identifier */
    }
    if (var->client_mode) {
        buf_byte(args, ',');
        PUT_LIT(args, SPEC_CLIENT_ARGS_MODE);
        buf_quoted(args, var->client_mode, var->client_mode_n);
    }
    buf_byte(args, '}');
    if (args->failed) return 1;

    for (size_t i = 0; i < sizeof SPEC_RESPONSE / sizeof SPEC_RESPONSE[0]; i++) {
        size_t n = 0;
        uint64_t num = 0;
        const char *v = out_value(SPEC_RESPONSE[i].source, it, data, pay_sig, signature, args, &n, &num);
        if (v) pb_bytes(out, SPEC_RESPONSE[i].tag, v, n);
        else pb_varint(out, SPEC_RESPONSE[i].tag, num);
    }

    /* the audit line: audit.CallAudit.record's keys and order after the caller's head */
    buf_put(audit, head, (size_t)head_n);
    for (size_t i = 0; i < sizeof SPEC_AUDIT / sizeof SPEC_AUDIT[0]; i++) {
        const SpecAudit *a = &SPEC_AUDIT[i];
        buf_put(audit, a->prefix, a->prefix_n);
        switch (a->source) {
            case AUDIT_STR:
                if (a->in_order) buf_json_string(audit, it->str[a->field], (size_t)it->str_n[a->field]);
                else buf_json_string(audit, it->req_str[a->field], (size_t)it->req_str_n[a->field]);
                break;
            case AUDIT_INT: buf_int(audit, a->in_order ? it->num[a->field] : it->req_num[a->field]); break;
            case AUDIT_ENV: {
                const char *name = SPEC_ENV_NAME[a->in_order ? it->num[a->field] : it->req_num[a->field]];
                buf_quoted(audit, name, strlen(name));
                break;
            }
            case AUDIT_API: buf_quoted(audit, var->api_name, var->api_name_n); break;
            case AUDIT_CONST: break;
            case AUDIT_KEY_VERSION: buf_int(audit, it->app->version[it->env]); break;
            case AUDIT_KEY_ENV: buf_quoted(audit, SPEC_ENV_NAME[it->env], strlen(SPEC_ENV_NAME[it->env])); break;
            case AUDIT_SIGNATURE_FP: {
                uint8_t d[EVP_MAX_MD_SIZE];
                char fp[2 * SPEC_FINGERPRINT_BYTES];
                if (!EVP_Digest(pay_sig, 64, d, NULL, SHA256_MD, NULL)) {
                    PyErr_SetString(PyExc_RuntimeError, "OpenSSL: SHA-256 failed");
                    return 0;
                }
                to_hex(d, SPEC_FINGERPRINT_BYTES, fp);
                buf_quoted(audit, fp, sizeof fp);
                break;
            }
        }
    }
    PUT_LIT(audit, "}\n");
    return 1;
}

/* Signed items counted by (app_id, env label, api), one run of equal keys at a time (a batch's items
   mostly share their app, env and api): run_add extends the run or flushes it into counts first. */
typedef struct {
    Buf app_id;
    int env, variant;
    long n;
} Run;

static int run_flush(PyObject *counts, Run *run) {
    if (run->n == 0) return 1;
    PyObject *key = Py_BuildValue("(s#OO)", run->app_id.p, (Py_ssize_t)run->app_id.n, S_env_labels[run->env],
                                  S_api_names[run->variant]);
    if (!key) return 0;
    PyObject *old = PyDict_GetItemWithError(counts, key);
    long n = old ? PyLong_AsLong(old) + run->n : run->n;
    PyObject *value = (old || !PyErr_Occurred()) ? PyLong_FromLong(n) : NULL;
    int rc = value ? PyDict_SetItem(counts, key, value) : -1;
    Py_XDECREF(value);
    Py_DECREF(key);
    run->n = 0;
    return rc == 0;
}

static int run_add(PyObject *counts, Run *run, const Item *it) {
    const char *app_id = it->req_str[REQ_APP_ID];
    size_t app_id_n = (size_t)it->req_str_n[REQ_APP_ID];
    if (run->n && run->env == it->env && run->variant == it->variant_index && run->app_id.n == app_id_n &&
        memcmp(run->app_id.p, app_id, app_id_n) == 0) {
        run->n++;
        return 1;
    }
    if (!run_flush(counts, run)) return 0;
    run->app_id.n = 0;
    buf_put(&run->app_id, app_id, app_id_n);
    if (run->app_id.failed) { PyErr_NoMemory(); return 0; }
    run->env = it->env;
    run->variant = it->variant_index;
    run->n = 1;
    return 1;
}

static PyObject *sign_orders(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *items, *apps;
    const char *head;
    Py_ssize_t head_n;
    int wrap;
    if (!PyArg_ParseTuple(args, "OO!s#p", &items, &PyDict_Type, &apps, &head, &head_n, &wrap)) return NULL;
    PyObject *seq = PySequence_Fast(items, "items must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *results = PyList_New(n), *counts = PyDict_New();
    Buf out = {0}, audit = {0}, data = {0}, cargs = {0}, one = {0};
    EVP_MAC_CTX *session = NULL; /* created for the first signed item, freed (and cleansed) at the end */
    Run run = {.n = 0};
    if (!results || !counts) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        Refs r = {.n_owned = 0};
        Item it;
        int ok = read_item(PySequence_Fast_GET_ITEM(seq, i), apps, &r, &it);
        if (ok < 0) { refs_clear(&r); goto fail; }
        if (ok == 0) {
            refs_clear(&r);
            PyList_SET_ITEM(results, i, Py_NewRef(Py_None));
            continue;
        }
        one.n = 0;
        if (!session && !(session = EVP_MAC_CTX_dup(SESSION_TEMPLATE))) {
            PyErr_SetString(PyExc_RuntimeError, "OpenSSL: cannot set up HMAC-SHA256");
            refs_clear(&r);
            goto fail;
        }
        if (!sign_item(&it, session, head, head_n, &one, &audit, &data, &cargs)) {
            refs_clear(&r);
            goto fail;
        }
        PyObject *encoded = NULL;
        if (!(one.failed || audit.failed || data.failed || cargs.failed)) {
            if (wrap) { /* BatchSignOrdersResponse.results[i] = SignOrderResult{response} */
                out.n = 0;
                size_t inner = one.n;
                uint8_t tmp[10];
                Buf len = {(char *)tmp, 0, sizeof tmp, 0};
                buf_varint(&len, inner);
                buf_byte(&out, SPEC_BATCH_RESULTS_TAG);
                buf_varint(&out, 1 + len.n + inner);
                buf_byte(&out, SPEC_RESULT_RESPONSE_TAG);
                buf_put(&out, tmp, len.n);
                buf_put(&out, one.p, one.n);
                if (!out.failed) encoded = PyBytes_FromStringAndSize(out.p, (Py_ssize_t)out.n);
            } else {
                encoded = PyBytes_FromStringAndSize(one.p, (Py_ssize_t)one.n);
            }
        } else {
            PyErr_NoMemory();
        }
        if (!encoded || !run_add(counts, &run, &it)) { Py_XDECREF(encoded); refs_clear(&r); goto fail; }
        refs_clear(&r);
        PyList_SET_ITEM(results, i, encoded);
    }
    if (!run_flush(counts, &run)) goto fail;
    PyMem_Free(run.app_id.p);
    PyObject *lines = PyBytes_FromStringAndSize(audit.p ? audit.p : "", (Py_ssize_t)audit.n);
    PyMem_Free(out.p); PyMem_Free(audit.p); PyMem_Free(data.p); PyMem_Free(cargs.p); PyMem_Free(one.p);
    EVP_MAC_CTX_free(session);
    Py_DECREF(seq);
    if (!lines) { Py_DECREF(results); Py_DECREF(counts); return NULL; }
    return Py_BuildValue("(NNN)", results, lines, counts);
fail:
    PyMem_Free(run.app_id.p);
    PyMem_Free(out.p); PyMem_Free(audit.p); PyMem_Free(data.p); PyMem_Free(cargs.p); PyMem_Free(one.p);
    EVP_MAC_CTX_free(session);
    Py_DECREF(seq);
    Py_XDECREF(results);
    Py_XDECREF(counts);
    return NULL;
}

static PyObject *hmac_sha256_hex(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer key, msg;
    if (!PyArg_ParseTuple(args, "y*y*", &key, &msg)) return NULL;
    char out[64];
    EVP_MAC_CTX *ctx = hmac_new(key.buf, (size_t)key.len);
    int ok = ctx && hmac_hex(ctx, NULL, 0, "", 0, msg.buf, (size_t)msg.len, out);
    EVP_MAC_CTX_free(ctx);
    PyBuffer_Release(&key);
    PyBuffer_Release(&msg);
    return ok ? PyUnicode_FromStringAndSize(out, 64) : NULL;
}

static PyMethodDef methods[] = {
    {"scan_orders", scan_orders, METH_VARARGS,
     PyDoc_STR("scan_orders(data, batch) -> tuple of bytes, or None\n\n"
               "The serialized SignOrderRequest (batch: each request of a BatchSignOrdersRequest) when all\n"
               "are of the simple form sign_orders reads as bytes (each field at most once, all known, strings\n"
               "of valid UTF-8), else None: protobuf must parse the request.")},
    {"sign_orders", sign_orders, METH_VARARGS,
     PyDoc_STR("sign_orders(items, apps, audit_head, wrap) -> (results, audit_lines, counts)\n\n"
               "results[i] is the serialized SignOrderResponse of items[i] (with wrap, the serialized\n"
               "BatchSignOrdersResponse.results entry), or None where the item is not signed here.\n"
               "audit_lines holds one line per signed item, each starting with audit_head.\n"
               "counts maps (app_id, env, api) to the number of items signed, env as the metrics label it\n"
               "(production or sandbox).")},
    {"hmac_sha256_hex", hmac_sha256_hex, METH_VARARGS,
     PyDoc_STR("hmac_sha256_hex(key, message) -> lowercase hex, through the same OpenSSL calls as the "
               "signatures; for tests.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "paysig.server._fastsign",
    PyDoc_STR("The compiled SignOrder path for the variants order_spec.py marks compiled; see fastpath.py."), -1,
    methods,
};

PyMODINIT_FUNC PyInit__fastsign(void) {
    if (PyType_Ready(&AppKeysType) < 0) return NULL;
    if (!HMAC_MAC && !(HMAC_MAC = EVP_MAC_fetch(NULL, "HMAC", NULL))) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL provides no HMAC");
        return NULL;
    }
    if (!SHA256_MD && !(SHA256_MD = EVP_MD_fetch(NULL, "SHA256", NULL))) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL provides no SHA-256");
        return NULL;
    }
    if (!SESSION_TEMPLATE && !(SESSION_TEMPLATE = hmac_new((const uint8_t *)"", 0))) return NULL;
    if (!(S_order = PyUnicode_InternFromString("order")) || !(S_HasField = PyUnicode_InternFromString("HasField")))
        return NULL;
    for (int f = 0; f < REQ_COUNT; f++)
        if (!(S_request_names[f] = PyUnicode_InternFromString(SPEC_REQUEST_FIELDS[f].name))) return NULL;
    for (int f = 0; f < ORDER_COUNT; f++)
        if (!(S_order_names[f] = PyUnicode_InternFromString(SPEC_ORDER_FIELDS[f].name))) return NULL;
    for (int i = 0; i < SPEC_N_VARIANTS; i++)
        if (!(S_api_names[i] = PyUnicode_InternFromString(SPEC_VARIANTS[i].api_name))) return NULL;
    for (int env = 0; env < SPEC_N_ENVS; env++)
        if (SPEC_ENV_LABEL[env] && !(S_env_labels[env] = PyUnicode_InternFromString(SPEC_ENV_LABEL[env]))) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    PyObject *kinds = PyTuple_New(KIND_COUNT);
    for (int k = 0; kinds && k < KIND_COUNT; k++) {
        PyObject *name = PyUnicode_FromString(SPEC_KIND_NAMES[k]);
        if (!name) Py_CLEAR(kinds);
        else PyTuple_SET_ITEM(kinds, k, name);
    }
    if (!kinds || PyModule_AddObjectRef(m, "AppKeys", (PyObject *)&AppKeysType) < 0 ||
        PyModule_AddObject(m, "KINDS", kinds) < 0 || PyModule_AddStringConstant(m, "SPEC_DIGEST", SPEC_DIGEST) < 0) {
        Py_XDECREF(kinds);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
