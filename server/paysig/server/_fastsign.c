/*
 * paysig.server._fastsign: the compiled path of SignOrder for valid orders of
 * minigame apps (requestMidasPaymentGameItem) and miniprogram apps
 * (requestVirtualPayment).
 *
 * It signs only what it has checked against every rule of the Python
 * reference (ops/sign_order.py, rules.py) and produces the same bytes: the
 * signData, both HMACs, the serialized SignOrderResponse and the audit line.
 * Anything else (a superapp, a wrong API, any broken rule, any doubt) is
 * declined: the item's slot is None and Python's reference path answers it,
 * with its violations. tests/test_fastsign.py holds the two paths to the same
 * output on the conformance cases and on generated orders.
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

static void buf_int(Buf *b, long long v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    buf_put(b, tmp, (size_t)n);
}

/* A JSON string as Python's json (ensure_ascii=False) writes it. */
static void buf_json_string(Buf *b, const char *s, size_t n) {
    buf_byte(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_put(b, s + start, i - start);
        start = i + 1;
        switch (c) {
            case '"': PUT_LIT(b, "\\\""); break;
            case '\\': PUT_LIT(b, "\\\\"); break;
            case '\n': PUT_LIT(b, "\\n"); break;
            case '\r': PUT_LIT(b, "\\r"); break;
            case '\t': PUT_LIT(b, "\\t"); break;
            case '\b': PUT_LIT(b, "\\b"); break;
            case '\f': PUT_LIT(b, "\\f"); break;
            default: {
                char u[7] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15], 0};
                buf_put(b, u, 6);
            }
        }
    }
    buf_put(b, s + start, n - start);
    buf_byte(b, '"');
}

/* A length-delimited protobuf field. */
static void pb_bytes(Buf *b, int field, const char *s, size_t n) {
    if (n == 0) return;
    buf_byte(b, (uint8_t)(field << 3 | 2));
    buf_varint(b, n);
    buf_put(b, s, n);
}

static void pb_varint(Buf *b, int field, uint64_t v) {
    if (v == 0) return;
    buf_byte(b, (uint8_t)(field << 3));
    buf_varint(b, v);
}

/* ---- AppKeys -------------------------------------------------------------- */

enum { ENV_PRODUCTION = 1, ENV_SANDBOX = 2 }; /* paysig.v1.Env */

enum { KIND_MINIGAME = 0, KIND_MINIPROGRAM = 1 };

typedef struct {
    PyObject_HEAD
    int kind;       /* KIND_MINIGAME: requestMidasPaymentGameItem; KIND_MINIPROGRAM: requestVirtualPayment */
    char *offer_id; /* UTF-8, NUL-terminated */
    Py_ssize_t offer_id_n;
    int has[3];         /* by paysig.v1.Env */
    uint32_t version[3];
    EVP_MAC_CTX *key[3]; /* keyed with the env's signing key; OpenSSL cleanses it when freed */
} AppKeys;

static void AppKeys_clear_keys(AppKeys *self) {
    for (int env = 0; env < 3; env++) {
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

static int set_key(AppKeys *self, int env, PyObject *spec) {
    if (spec == Py_None) return 0;
    unsigned int version;
    Py_buffer key;
    if (!PyArg_ParseTuple(spec, "Iy*", &version, &key)) return -1;
    self->key[env] = hmac_new(key.buf, (size_t)key.len);
    PyBuffer_Release(&key);
    if (!self->key[env]) return -1;
    self->has[env] = 1;
    self->version[env] = version;
    return 0;
}

static int AppKeys_init(AppKeys *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"kind", "offer_id", "production", "sandbox", NULL};
    const char *kind, *offer;
    Py_ssize_t offer_n;
    PyObject *production, *sandbox;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ss#OO", names, &kind, &offer, &offer_n, &production, &sandbox))
        return -1;
    if (strcmp(kind, "minigame") == 0) {
        self->kind = KIND_MINIGAME;
    } else if (strcmp(kind, "miniprogram") == 0) {
        self->kind = KIND_MINIPROGRAM;
    } else {
        PyErr_SetString(PyExc_ValueError, "kind: minigame or miniprogram");
        return -1;
    }
    PyMem_Free(self->offer_id);
    self->offer_id = PyMem_Malloc((size_t)offer_n + 1);
    if (!self->offer_id) { PyErr_NoMemory(); return -1; }
    memcpy(self->offer_id, offer, (size_t)offer_n + 1);
    self->offer_id_n = offer_n;
    AppKeys_clear_keys(self);
    if (set_key(self, ENV_PRODUCTION, production) < 0 || set_key(self, ENV_SANDBOX, sandbox) < 0) return -1;
    return 0;
}

static PyTypeObject AppKeysType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "paysig.server._fastsign.AppKeys",
    .tp_doc = PyDoc_STR("AppKeys(kind, offer_id, production, sandbox): a minigame or miniprogram app's "
                        "offerId and signing keys, each (version, key bytes) or None. The key cannot be read back."),
    .tp_basicsize = sizeof(AppKeys),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)AppKeys_init,
    .tp_dealloc = (destructor)AppKeys_dealloc,
};

/* ---- the rules (rules.py), for the values the fast path accepts --------- */

#define MAX_SAFE_INTEGER 9007199254740991LL

/* Unicode category Cc: U+0000-U+001F, U+007F-U+009F (valid UTF-8 input). */
static int has_control_chars(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return 1;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f) return 1;
    }
    return 0;
}

/* The number of characters (code points) of valid UTF-8. */
static Py_ssize_t utf8_chars(const char *s, Py_ssize_t n) {
    Py_ssize_t chars = 0;
    for (Py_ssize_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    return chars;
}

static int text_ok(const char *s, Py_ssize_t n, Py_ssize_t max_bytes, int required) {
    if (n == 0) return !required;
    return n <= max_bytes && !has_control_chars(s, n);
}

static int out_trade_no_ok(const char *s, Py_ssize_t n, Py_ssize_t min_length) {
    if (n < min_length || n > 32 || s[0] == '_') return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' ||
              c == '|' || c == '*' || c == '@'))
            return 0;
    }
    return 1;
}

static int session_key_ok(const char *s, Py_ssize_t n) {
    if (n < 1 || n > 256) return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

static int positive_ok(long long v) { return v >= 1 && v <= MAX_SAFE_INTEGER; }

/* ---- sign_orders ----------------------------------------------------------- */

static PyObject *S_app_id, *S_env, *S_api, *S_mode, *S_order, *S_session_key, *S_product_id, *S_goods_price,
    *S_buy_quantity, *S_out_trade_no, *S_attach, *S_currency_type, *S_platform, *S_zone_id, *S_HasField,
    *S_activity_selling_price, *S_api_names[2], *S_env_names[3];

#define PAYMENT_API_GAME_ITEM 1
#define PAYMENT_API_VIRTUAL_PAYMENT 2
#define MODE_GOODS 1 /* VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS */
#define MODE_COIN 2  /* VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN */
#define MAX_AUDIT_CHARS 128 /* audit.MAX_FIELD_CHARS: longer values would be clipped there */

typedef struct {
    PyObject *owned[12];
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
    const char *app_id, *session_key, *product_id, *out_trade_no, *attach, *currency, *platform, *zone_id;
    Py_ssize_t app_id_n, session_key_n, product_id_n, out_trade_no_n, attach_n, currency_n, platform_n, zone_id_n;
    long long env, mode, goods_price, buy_quantity, activity_selling_price;
    int has_activity_selling_price;
    AppKeys *app;
} Item;

/* 1: the item is valid and signable here; 0: decline; -1: a Python error.
 * The rules are those of ops/sign_order.py for a minigame app's game item
 * order and a miniprogram app's virtual payment order. */
static int read_item(PyObject *req, PyObject *apps, Refs *r, Item *it) {
    long long api;
    if (int_attr(req, S_api, &api) < 0 || int_attr(req, S_mode, &it->mode) < 0 ||
        int_attr(req, S_env, &it->env) < 0)
        return -1;
    if (it->env != ENV_PRODUCTION && it->env != ENV_SANDBOX) return 0;

    if (!(it->app_id = str_attr(r, req, S_app_id, &it->app_id_n))) return PyErr_Occurred() ? -1 : 0;
    PyObject *app = PyDict_GetItemWithError(apps, r->owned[r->n_owned - 1]);
    if (!app) return PyErr_Occurred() ? -1 : 0;
    if (!PyObject_TypeCheck(app, &AppKeysType)) {
        PyErr_SetString(PyExc_TypeError, "apps: values must be AppKeys");
        return -1;
    }
    it->app = (AppKeys *)app;
    if (!it->app->has[it->env] || utf8_chars(it->app_id, it->app_id_n) > MAX_AUDIT_CHARS) return 0;
    int vp = it->app->kind == KIND_MINIPROGRAM;
    if (vp ? api != PAYMENT_API_VIRTUAL_PAYMENT || (it->mode != MODE_GOODS && it->mode != MODE_COIN)
           : api != PAYMENT_API_GAME_ITEM || it->mode != 0)
        return 0;
    int item = !vp || it->mode == MODE_GOODS; /* an item with a product_id and goods_price */

    if (!(it->session_key = str_attr(r, req, S_session_key, &it->session_key_n))) return PyErr_Occurred() ? -1 : 0;
    if (!session_key_ok(it->session_key, it->session_key_n)) return 0;

    PyObject *order = PyObject_GetAttr(req, S_order);
    if (!order) return -1;
    r->owned[r->n_owned++] = order;
    PyObject *has = PyObject_CallMethodOneArg(order, S_HasField, S_activity_selling_price);
    if (!has) return -1;
    it->has_activity_selling_price = PyObject_IsTrue(has);
    Py_DECREF(has);
    if (it->has_activity_selling_price < 0) return -1;
    if (it->has_activity_selling_price && !(vp && item)) return 0;

    if (int_attr(order, S_goods_price, &it->goods_price) < 0 || int_attr(order, S_buy_quantity, &it->buy_quantity) < 0)
        return -1;
    if (!positive_ok(it->buy_quantity)) return 0;
    if (item ? !positive_ok(it->goods_price) : it->goods_price != 0) return 0;
    if (it->has_activity_selling_price) {
        if (int_attr(order, S_activity_selling_price, &it->activity_selling_price) < 0) return -1;
        if (!positive_ok(it->activity_selling_price) || it->activity_selling_price > it->goods_price) return 0;
    }
    if (!(it->product_id = str_attr(r, order, S_product_id, &it->product_id_n)) ||
        !(it->out_trade_no = str_attr(r, order, S_out_trade_no, &it->out_trade_no_n)) ||
        !(it->attach = str_attr(r, order, S_attach, &it->attach_n)) ||
        !(it->currency = str_attr(r, order, S_currency_type, &it->currency_n)) ||
        !(it->platform = str_attr(r, order, S_platform, &it->platform_n)))
        return PyErr_Occurred() ? -1 : 0;
    if (!(it->zone_id = str_attr(r, order, S_zone_id, &it->zone_id_n))) return PyErr_Occurred() ? -1 : 0;

    if (item ? !text_ok(it->product_id, it->product_id_n, 256, 1) : it->product_id_n != 0) return 0;
    if (utf8_chars(it->product_id, it->product_id_n) > MAX_AUDIT_CHARS) return 0;
    if (!out_trade_no_ok(it->out_trade_no, it->out_trade_no_n, vp ? 8 : 1)) return 0;
    if (!text_ok(it->attach, it->attach_n, 1024, vp)) return 0;
    if (it->currency_n == 0) { it->currency = "CNY"; it->currency_n = 3; }
    if (it->currency_n != 3 || memcmp(it->currency, "CNY", 3) != 0) return 0;
    if (vp) return it->platform_n == 0 && it->zone_id_n == 0; /* virtual payment signData has neither */
    if (it->platform_n == 0) { it->platform = "android"; it->platform_n = 7; }
    if (it->platform_n != 7 || memcmp(it->platform, "android", 7) != 0) return 0;
    if (it->zone_id_n == 0) { it->zone_id = "1"; it->zone_id_n = 1; }
    if (!text_ok(it->zone_id, it->zone_id_n, 64, 1)) return 0;
    return 1;
}

/* By AppKeys.kind: the wx method, the PaymentApi name, and what paySig signs
 * before the signData ("method&"). */
static const char *const METHOD[2] = {"requestMidasPaymentGameItem", "requestVirtualPayment"};
static const char *const API_NAME[2] = {"PAYMENT_API_GAME_ITEM", "PAYMENT_API_VIRTUAL_PAYMENT"};
static const char *const PAY_SIG_PREFIX[2] = {"requestMidasPaymentGameItem&", "requestVirtualPayment&"};
static const char *const MODE_NAME[3] = {"", "short_series_goods", "short_series_coin"};

static void json_key_string(Buf *b, const char *key, const char *s, Py_ssize_t n) {
    buf_put(b, key, strlen(key));
    buf_json_string(b, s, (size_t)n);
}

static void json_key_int(Buf *b, const char *key, long long v) {
    buf_put(b, key, strlen(key));
    buf_int(b, v);
}

/* signData, in signdata.py's field order for each method. */
static void sign_data(const Item *it, Buf *data) {
    const char *env = it->env == ENV_SANDBOX ? "1" : "0";
    data->n = 0;
    if (it->app->kind == KIND_MINIGAME) {
        PUT_LIT(data, "{\"mode\":\"goods\"");
        json_key_string(data, ",\"offerId\":", it->app->offer_id, it->app->offer_id_n);
        json_key_int(data, ",\"buyQuantity\":", it->buy_quantity);
        PUT_LIT(data, ",\"env\":");
        buf_put(data, env, 1);
        json_key_string(data, ",\"currencyType\":", it->currency, it->currency_n);
        json_key_string(data, ",\"platform\":", it->platform, it->platform_n);
        json_key_string(data, ",\"zoneId\":", it->zone_id, it->zone_id_n);
        json_key_string(data, ",\"productId\":", it->product_id, it->product_id_n);
        json_key_int(data, ",\"goodsPrice\":", it->goods_price);
        json_key_string(data, ",\"outTradeNo\":", it->out_trade_no, it->out_trade_no_n);
        if (it->attach_n) json_key_string(data, ",\"attach\":", it->attach, it->attach_n);
    } else {
        json_key_string(data, "{\"offerId\":", it->app->offer_id, it->app->offer_id_n);
        json_key_int(data, ",\"buyQuantity\":", it->buy_quantity);
        PUT_LIT(data, ",\"env\":");
        buf_put(data, env, 1);
        json_key_string(data, ",\"currencyType\":", it->currency, it->currency_n);
        if (it->mode == MODE_GOODS) {
            json_key_string(data, ",\"productId\":", it->product_id, it->product_id_n);
            json_key_int(data, ",\"goodsPrice\":", it->goods_price);
            if (it->has_activity_selling_price)
                json_key_int(data, ",\"activitySellingPrice\":", it->activity_selling_price);
        }
        json_key_string(data, ",\"outTradeNo\":", it->out_trade_no, it->out_trade_no_n);
        json_key_string(data, ",\"attach\":", it->attach, it->attach_n);
    }
    buf_byte(data, '}');
}

/* Signs a valid item: the SignOrderResponse into out, its audit line into
 * audit. session: a context for the session key HMACs, keyed here per item;
 * digest: a context for the signature's fingerprint. 1, or 0 with a Python
 * error set. */
static int sign_item(const Item *it, EVP_MAC_CTX *session, EVP_MD_CTX *digest, const char *head, Py_ssize_t head_n,
                     Buf *out, Buf *audit, Buf *data, Buf *args) {
    int kind = it->app->kind;
    sign_data(it, data);
    if (data->failed) return 1;

    char pay_sig[64], signature[64];
    if (!hmac_hex(it->app->key[it->env], NULL, 0, PAY_SIG_PREFIX[kind], strlen(PAY_SIG_PREFIX[kind]), data->p,
                  data->n, pay_sig) ||
        !hmac_hex(session, (const uint8_t *)it->session_key, (size_t)it->session_key_n, "", 0, data->p, data->n,
                  signature))
        return 0;

    args->n = 0;
    PUT_LIT(args, "{\"signData\":");
    buf_json_string(args, data->p, data->n);
    PUT_LIT(args, ",\"paySig\":\"");
    buf_put(args, pay_sig, 64);
    PUT_LIT(args, "\",\"signature\":\"");
    buf_put(args, signature, 64);
    buf_byte(args, '"');
    if (kind == KIND_MINIPROGRAM) {
        PUT_LIT(args, ",\"mode\":\"");
        buf_put(args, MODE_NAME[it->mode], strlen(MODE_NAME[it->mode]));
        buf_byte(args, '"');
    }
    buf_byte(args, '}');
    if (args->failed) return 1;

    pb_bytes(out, 1, data->p, data->n);
    pb_bytes(out, 2, pay_sig, 64);
    pb_bytes(out, 3, signature, 64);
    pb_bytes(out, 4, METHOD[kind], strlen(METHOD[kind]));
    pb_varint(out, 5, it->app->version[it->env]);
    pb_varint(out, 6, (uint64_t)it->env);
    pb_bytes(out, 7, args->p, args->n);

    /* the audit line: audit.entry's keys and order after the caller's head */
    static const char *env_name[3] = {"", "ENV_PRODUCTION", "ENV_SANDBOX"};
    uint8_t d[EVP_MAX_MD_SIZE];
    char fp[16];
    if (!EVP_DigestInit_ex2(digest, SHA256_MD, NULL) || !EVP_DigestUpdate(digest, pay_sig, 64) ||
        !EVP_DigestFinal_ex(digest, d, NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL: SHA-256 failed");
        return 0;
    }
    to_hex(d, 8, fp);
    buf_put(audit, head, (size_t)head_n);
    PUT_LIT(audit, ",\"app_id\":");
    buf_json_string(audit, it->app_id, (size_t)it->app_id_n);
    PUT_LIT(audit, ",\"env\":\"");
    buf_put(audit, env_name[it->env], strlen(env_name[it->env]));
    PUT_LIT(audit, "\",\"api\":\"");
    buf_put(audit, API_NAME[kind], strlen(API_NAME[kind]));
    PUT_LIT(audit, "\",\"out_trade_no\":");
    buf_json_string(audit, it->out_trade_no, (size_t)it->out_trade_no_n);
    PUT_LIT(audit, ",\"product_id\":");
    buf_json_string(audit, it->product_id, (size_t)it->product_id_n);
    PUT_LIT(audit, ",\"goods_price\":");
    buf_int(audit, it->goods_price);
    PUT_LIT(audit, ",\"buy_quantity\":");
    buf_int(audit, it->buy_quantity);
    PUT_LIT(audit, ",\"code\":\"OK\",\"key_version\":");
    buf_int(audit, it->app->version[it->env]);
    PUT_LIT(audit, ",\"key_env\":\"");
    buf_put(audit, env_name[it->env], strlen(env_name[it->env]));
    PUT_LIT(audit, "\",\"signature_fp\":\"");
    buf_put(audit, fp, 16);
    PUT_LIT(audit, "\"}\n");
    return 1;
}

static PyObject *count_signed(PyObject *counts, const Item *it) {
    PyObject *key = Py_BuildValue("(s#OO)", it->app_id, it->app_id_n, S_env_names[it->env],
                                  S_api_names[it->app->kind]);
    if (!key) return NULL;
    PyObject *old = PyDict_GetItemWithError(counts, key);
    long n = old ? PyLong_AsLong(old) + 1 : 1;
    PyObject *value = (old || !PyErr_Occurred()) ? PyLong_FromLong(n) : NULL;
    int rc = value ? PyDict_SetItem(counts, key, value) : -1;
    Py_XDECREF(value);
    Py_DECREF(key);
    return rc < 0 ? NULL : counts;
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
    /* created for the first signed item, freed (the session key cleansed) at the end */
    EVP_MAC_CTX *session = NULL;
    EVP_MD_CTX *digest = NULL;
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
        if (!session && (!(session = EVP_MAC_CTX_dup(SESSION_TEMPLATE)) || !(digest = EVP_MD_CTX_new()))) {
            PyErr_SetString(PyExc_RuntimeError, "OpenSSL: cannot set up HMAC-SHA256");
            refs_clear(&r);
            goto fail;
        }
        if (!sign_item(&it, session, digest, head, head_n, &one, &audit, &data, &cargs)) {
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
                buf_byte(&out, 0x0a);
                buf_varint(&out, 1 + len.n + inner);
                buf_byte(&out, 0x0a);
                buf_put(&out, tmp, len.n);
                buf_put(&out, one.p, one.n);
                if (!out.failed) encoded = PyBytes_FromStringAndSize(out.p, (Py_ssize_t)out.n);
            } else {
                encoded = PyBytes_FromStringAndSize(one.p, (Py_ssize_t)one.n);
            }
        } else {
            PyErr_NoMemory();
        }
        if (!encoded || !count_signed(counts, &it)) { Py_XDECREF(encoded); refs_clear(&r); goto fail; }
        refs_clear(&r);
        PyList_SET_ITEM(results, i, encoded);
    }
    PyObject *lines = PyBytes_FromStringAndSize(audit.p ? audit.p : "", (Py_ssize_t)audit.n);
    PyMem_Free(out.p); PyMem_Free(audit.p); PyMem_Free(data.p); PyMem_Free(cargs.p); PyMem_Free(one.p);
    EVP_MAC_CTX_free(session);
    EVP_MD_CTX_free(digest);
    Py_DECREF(seq);
    if (!lines) { Py_DECREF(results); Py_DECREF(counts); return NULL; }
    return Py_BuildValue("(NNN)", results, lines, counts);
fail:
    PyMem_Free(out.p); PyMem_Free(audit.p); PyMem_Free(data.p); PyMem_Free(cargs.p); PyMem_Free(one.p);
    EVP_MAC_CTX_free(session);
    EVP_MD_CTX_free(digest);
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
    PyDoc_STR("The compiled SignOrder path for valid minigame and miniprogram orders; see fastpath.py."), -1,
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
    struct { PyObject **slot; const char *s; } names[] = {
        {&S_app_id, "app_id"}, {&S_env, "env"}, {&S_api, "api"}, {&S_mode, "mode"}, {&S_order, "order"},
        {&S_session_key, "session_key"}, {&S_product_id, "product_id"}, {&S_goods_price, "goods_price"},
        {&S_buy_quantity, "buy_quantity"}, {&S_out_trade_no, "out_trade_no"}, {&S_attach, "attach"},
        {&S_currency_type, "currency_type"}, {&S_platform, "platform"}, {&S_zone_id, "zone_id"},
        {&S_HasField, "HasField"}, {&S_activity_selling_price, "activity_selling_price"},
        {&S_api_names[KIND_MINIGAME], "PAYMENT_API_GAME_ITEM"},
        {&S_api_names[KIND_MINIPROGRAM], "PAYMENT_API_VIRTUAL_PAYMENT"},
        {&S_env_names[ENV_PRODUCTION], "production"}, {&S_env_names[ENV_SANDBOX], "sandbox"}, /* metrics.ENV_LABELS */
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(*names[i].slot = PyUnicode_InternFromString(names[i].s))) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "AppKeys", (PyObject *)&AppKeysType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
