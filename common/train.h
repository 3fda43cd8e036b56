/*
 * train.h: fr-train's loop. A backbone and a head over one pack, SGD or Adam with a
 * schedule, checkpoints that resume bit for bit:
 *   OUT/step-NNNNNNNN.frm   the model (graph, preprocessing, backbone tensors, "head.weight",
 *                           "head.bias", "head.t") written to .tmp and renamed
 *   OUT/step-NNNNNNNN.frst  the training state (STAT counters, optimiser moments)
 *   OUT/step-NNNNNNNN.done  empty, written last: --resume takes the newest step with one
 *   OUT/log.tsv             step, epoch, loss, training accuracy, lr, images/s, CurricularFace's t
 *   OUT/val.tsv             step, accuracy on the --val pack (argmax of the head's plain logits)
 * SIGINT and SIGTERM finish the current step, save, and exit.
 */
#ifndef FR_TRAIN_H
#define FR_TRAIN_H

#include <stdint.h>

#include "ddl.h"
#include "heads.h"
#include "loader.h"
#include "optim.h"

typedef struct TrainOpts {
    const char *pack, *outdir, *arch, *init;
    int input, emb;
    HeadConfig head;
    OptConfig opt;
    Sched sched;
    int batch;
    uint64_t steps;           // total steps (0: epochs * steps per epoch)
    int epochs;
    uint64_t save_every;      // 0: only at the end
    int keep;                 // keep the newest K checkpoints (0: all)
    double clip;              // global gradient norm limit (0: none)
    const char *val;          // a labelled pack to score at each checkpoint
    int resume;
    uint64_t seed;
    int threads;
    int device;               // -1 cpu; N: the backbone on cuda:N (the head stays on the host)
    LoaderView view;
    // DDL (ALGORITHMS.md §3): four branches of `batch` each, easy and hard normal branches
    // (one image per identity, the head's CE on each) and easy and hard positive pairs
    int ddl;                  // DDL_NONE, DDL_GROUPS (the pack's groups) or DDL_RSA (resolution)
    char ddl_easy[64], ddl_hard[64];  // DDL_GROUPS: group names or numbers
    LoaderView ddl_low;       // DDL_RSA: the low-resolution view (random-scale)
    DdlConfig ddl_cfg;
    int log_every;
    const char *prov;
} TrainOpts;

enum { DDL_NONE, DDL_GROUPS, DDL_RSA };

void train_defaults(TrainOpts *o);
// the resolved configuration as "key=value" lines (printed and stored in every checkpoint)
char *train_config(const TrainOpts *o);
// 0 on success; -1 with fr_err
int train_run(const TrainOpts *o);
// the newest complete step in dir (0 if none)
uint64_t train_latest(const char *dir);

#endif
