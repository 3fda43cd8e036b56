/*
 * strmap.h: a string -> value map (open addressing), for key lookups (groups CSV,
 * landmarks, pairs.txt names to records).
 */
#ifndef FR_STRMAP_H
#define FR_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct StrMap {
    char **keys;
    int64_t *vals;
    size_t cap, n;
} StrMap;

void strmap_init(StrMap *m);
// insert or replace; the key is copied
void strmap_put(StrMap *m, const char *key, size_t len, int64_t val);
// 1 and *val if present, else 0
int strmap_get(const StrMap *m, const char *key, size_t len, int64_t *val);
void strmap_free(StrMap *m);

#endif
