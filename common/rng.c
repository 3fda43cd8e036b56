/*
 * rng.c: Philox4x32-10 and the stream helpers. See rng.h.
 */
#include <math.h>

#include "rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

Rng rng_stream(uint64_t seed, uint32_t purpose, uint32_t epoch, uint64_t index) {
    Rng r;
    uint64_t k = splitmix64(seed ^ splitmix64(purpose));
    r.key[0] = (uint32_t)k;
    r.key[1] = (uint32_t)(k >> 32);
    r.ctr[0] = 0;
    r.ctr[1] = epoch;
    r.ctr[2] = (uint32_t)index;
    r.ctr[3] = (uint32_t)(index >> 32);
    r.pos = 4;
    r.has_spare = 0;
    r.spare = 0;
    r.buf[0] = r.buf[1] = r.buf[2] = r.buf[3] = 0;
    return r;
}

uint32_t rng_u32(Rng *r) {
    if (r->pos == 4) {
        philox4x32_10(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

uint64_t rng_u64(Rng *r) {
    uint64_t lo = rng_u32(r);
    return lo | (uint64_t)rng_u32(r) << 32;
}

float rng_uniform(Rng *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

double rng_uniform_f64(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

float rng_normal(Rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - rng_uniform_f64(r);  // (0, 1]: log is finite
    double u2 = rng_uniform_f64(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = (float)(rad * sin(2.0 * M_PI * u2));
    r->has_spare = 1;
    return (float)(rad * cos(2.0 * M_PI * u2));
}

uint64_t rng_below(Rng *r, uint64_t n) {
    if (n <= 1) return 0;
    if (n <= UINT32_MAX) {
        // Lemire: multiply-shift with rejection of the biased low range
        uint64_t m = (uint64_t)rng_u32(r) * n;
        uint32_t lo = (uint32_t)m;
        if (lo < (uint32_t)n) {
            uint32_t t = (uint32_t)(-(uint32_t)n) % (uint32_t)n;
            while (lo < t) {
                m = (uint64_t)rng_u32(r) * n;
                lo = (uint32_t)m;
            }
        }
        return m >> 32;
    }
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = rng_u64(r);
    while (x >= lim);
    return x % n;
}

void rng_permutation(Rng *r, uint64_t *perm, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) perm[i] = i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rng_below(r, i);
        uint64_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
