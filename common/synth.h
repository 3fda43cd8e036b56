/*
 * synth.h: procedural faces with known identity, quality and group structure
 * (fr-synth, the embedded default dataset).
 *
 * An identity is a point z in a latent space of SYNTH_Z dimensions, drawn around its
 * group's mean with the group's spread; z sets head shape, skin tone and texture,
 * hair, eyes, brows, nose and mouth. An image of it adds nuisance whose overall
 * strength is the image's severity s in [0, 1]: pose (roll and a simulated yaw),
 * expression, illumination, occlusion, low resolution, blur, noise and JPEG loss.
 * quality = 1 - s is stored with each factor's magnitude as float columns.
 *
 * Everything is drawn from the counter-based RNG keyed by (seed, purpose, index):
 * identity i from RNG_SYNTH_ID, image n from RNG_SYNTH_IMG, so any image can be
 * rendered alone, by any thread, and is the same.
 */
#ifndef FR_SYNTH_H
#define FR_SYNTH_H

#include <stdint.h>

#define SYNTH_Z 24
#define SYNTH_MAX_GROUPS 16
#define SYNTH_NCOLS 10
extern const char *const SYNTH_COLS[SYNTH_NCOLS];

typedef struct SynthConfig {
    uint64_t ids;
    uint32_t per_id;
    uint32_t size;       // images are size x size RGB
    uint32_t groups;
    uint64_t seed;
    float spread[SYNTH_MAX_GROUPS];  // identity spread of each group (1.0 .. 0.6 by default)
    float shift;         // how far apart the group means are (in latent units)
    float max_severity;  // severities are drawn in [0, max_severity]
} SynthConfig;

#define SYNTH_TEX 6
#define SYNTH_MOLES 4
typedef struct SynthId {
    float z[SYNTH_Z];
    int group;
    float tex[SYNTH_TEX * SYNTH_TEX];  // skin texture: a value-noise grid over the face
    float mole[SYNTH_MOLES][3];         // u, v, radius (radius 0: no mole)
} SynthId;

void synth_default(SynthConfig *c);
// The group of identity i (round robin) and its latent point.
void synth_identity(const SynthConfig *c, uint64_t id, SynthId *out);
// Render image `index` (global, = id * per_id + k) of identity id into img
// (size*size*3 bytes) and its columns (SYNTH_NCOLS floats). scratch: synth_scratch_bytes().
size_t synth_scratch_bytes(const SynthConfig *c);
void synth_image(const SynthConfig *c, const SynthId *id, uint64_t index, uint8_t *img, float *cols, void *scratch);

#endif
