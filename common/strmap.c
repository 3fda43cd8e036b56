/*
 * strmap.c: see strmap.h. FNV-1a hashing, linear probing, grows at 70% load.
 */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "xio.h"

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

void strmap_init(StrMap *m) { memset(m, 0, sizeof *m); }

static void grow(StrMap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    char **k = xcalloc(cap, sizeof *k);
    int64_t *v = xcalloc(cap, sizeof *v);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash(m->keys[i], strlen(m->keys[i])) & (cap - 1);
        while (k[j]) j = (j + 1) & (cap - 1);
        k[j] = m->keys[i], v[j] = m->vals[i];
    }
    free(m->keys), free(m->vals);
    m->keys = k, m->vals = v, m->cap = cap;
}

void strmap_put(StrMap *m, const char *key, size_t len, int64_t val) {
    if ((m->n + 1) * 10 > m->cap * 7) grow(m);
    size_t j = hash(key, len) & (m->cap - 1);
    while (m->keys[j]) {
        if (strlen(m->keys[j]) == len && memcmp(m->keys[j], key, len) == 0) {
            m->vals[j] = val;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = xmalloc(len + 1);
    memcpy(m->keys[j], key, len);
    m->keys[j][len] = 0;
    m->vals[j] = val;
    m->n++;
}

int strmap_get(const StrMap *m, const char *key, size_t len, int64_t *val) {
    if (!m->cap) return 0;
    size_t j = hash(key, len) & (m->cap - 1);
    while (m->keys[j]) {
        if (strlen(m->keys[j]) == len && memcmp(m->keys[j], key, len) == 0) {
            *val = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

void strmap_free(StrMap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys), free(m->vals);
    memset(m, 0, sizeof *m);
}
