/*
 * rng.h: a counter-based RNG, Philox4x32-10 (Salmon et al., SC'11, "Parallel random
 * numbers: as easy as 1, 2, 3").
 *
 * A stream is named by (seed, purpose, epoch, index): the key is a hash of (seed,
 * purpose), the 128-bit counter is (block, epoch, index lo, index hi). Any sample's
 * random numbers can be drawn by any thread or rank, in any order, and are the same:
 * augmentation does not depend on who decoded what, and a saved cursor resumes
 * exactly. Nothing is ever seeded from the clock.
 */
#ifndef FR_RNG_H
#define FR_RNG_H

#include <stdint.h>

// Purposes: one per independent use, so streams never overlap. Append only.
enum {
    RNG_SHUFFLE = 1,   // the per-epoch permutation
    RNG_AUGMENT = 2,   // per-sample augmentation draws
    RNG_INIT = 3,      // parameter initialisation (index = tensor number)
    RNG_DROPOUT = 4,   // dropout masks (index = step)
    RNG_SYNTH_ID = 5,  // fr-synth identity parameters (index = identity)
    RNG_SYNTH_IMG = 6, // fr-synth per-image nuisance (index = image)
    RNG_ATTACK = 7,    // random starts of attacks (index = sample)
    RNG_SAMPLE = 8,    // pair and partner sampling (SDD-FIQA, evaluation)
    RNG_TEST = 99,     // tests
};

typedef struct Rng {
    uint32_t key[2];
    uint32_t ctr[4];  // ctr[0] is the block number within the stream
    uint32_t buf[4];
    int pos;          // next unused word of buf (4 = empty)
    int has_spare;    // Box-Muller spare
    float spare;
} Rng;

// One Philox4x32-10 block: out = philox(ctr, key).
void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

Rng rng_stream(uint64_t seed, uint32_t purpose, uint32_t epoch, uint64_t index);
uint32_t rng_u32(Rng *r);
uint64_t rng_u64(Rng *r);
// uniform in [0, 1) with 24 random bits (exactly representable in float)
float rng_uniform(Rng *r);
// uniform in [0, 1) with 53 random bits
double rng_uniform_f64(Rng *r);
// standard normal (Box-Muller on two uniforms)
float rng_normal(Rng *r);
// uniform integer in [0, n), unbiased (Lemire's rejection)
uint64_t rng_below(Rng *r, uint64_t n);
// Fisher-Yates permutation of 0..n-1 into perm
void rng_permutation(Rng *r, uint64_t *perm, uint64_t n);

#endif
