/*
 * train.c: fr-train's loop. See train.h.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef FR_HAVE_OMP
#include <omp.h>
#endif

#include "backbones.h"
#include "bundle.h"
#include "device.h"
#include "msg.h"
#include "out.h"
#include "progress.h"
#include "train.h"
#include "xio.h"

void train_defaults(TrainOpts *o) {
    memset(o, 0, sizeof *o);
    o->arch = "ir18", o->input = 112, o->emb = 512, o->batch = 64, o->epochs = 1, o->seed = 1337, o->log_every = 10;
    o->device = -1;
    optim_default(&o->opt, OPT_SGD);
    o->sched = (Sched){.kind = SCHED_CONST, .base_lr = 0.1f, .gamma = 0.1f, .power = 1};
    o->view = (LoaderView){.p_flip = 0.5f};
    ddl_defaults(&o->ddl_cfg);
}

char *train_config(const TrainOpts *o) {
    static const char *const OPTS[] = {"sgd", "adam", "adamw"}, *const SCH[] = {"const", "step", "cosine", "poly"};
    char *c = xmalloc(2048);
    int n = snprintf(c, 2048,
                     "pack=%s\narch=%s input=%d emb=%d\nhead=%s s=%g m=%g alpha=%g easy_margin=%d\n"
                     "opt=%s%s momentum=%g wd=%g clip=%g\nlr=%g sched=%s gamma=%g warmup=%llu milestones=",
                     o->pack, o->arch, o->input, o->emb, head_name(o->head.kind), o->head.s, o->head.m, o->head.alpha,
                     o->head.easy_margin, OPTS[o->opt.kind], o->opt.nesterov ? " nesterov" : "", o->opt.momentum,
                     o->opt.weight_decay, o->clip, o->sched.base_lr, SCH[o->sched.kind], o->sched.gamma,
                     (unsigned long long)o->sched.warmup);
    for (int i = 0; i < o->sched.nmilestones && n < 1800; i++)
        n += snprintf(c + n, 2048 - n, "%s%llu", i ? "," : "", (unsigned long long)o->sched.milestones[i]);
    n += snprintf(c + n, 2048 - n, "\nbatch=%d steps=%llu epochs=%d seed=%llu flip=%g pad=%d\n", o->batch,
                  (unsigned long long)o->steps, o->epochs, (unsigned long long)o->seed, o->view.p_flip, o->view.pad);
    if (o->ddl) {
        char rule[160];
        if (o->ddl == DDL_GROUPS) snprintf(rule, sizeof rule, "groups easy=%s hard=%s", o->ddl_easy, o->ddl_hard);
        else snprintf(rule, sizeof rule, "rsa r_min=%d", o->ddl_low.r_min);
        snprintf(c + n, 2048 - n, "ddl=%s w_pos=%g w_neg=%g w_order=%g sigma=%g bins=%d branch=%d\n", rule, o->ddl_cfg.w_pos,
                 o->ddl_cfg.w_neg, o->ddl_cfg.w_order, o->ddl_cfg.sigma, o->ddl_cfg.bins, o->batch);
    }
    return c;
}

// the steps of dir's complete checkpoints (those with a .done), in directory order
static uint64_t *complete_steps(const char *dir, size_t *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    uint64_t *steps = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long st;
        char tail[16];
        if (sscanf(e->d_name, "step-%llu.%15s", &st, tail) == 2 && !strcmp(tail, "done")) {
            if (*n == cap) steps = xrealloc(steps, sizeof *steps * (cap = cap ? 2 * cap : 16));
            steps[(*n)++] = st;
        }
    }
    closedir(d);
    return steps;
}

uint64_t train_latest(const char *dir) {
    size_t n;
    uint64_t *steps = complete_steps(dir, &n), best = 0;
    for (size_t i = 0; i < n; i++) best = steps[i] > best ? steps[i] : best;
    free(steps);
    return best;
}

static char *path_of(const char *dir, uint64_t step, const char *ext) {
    char *p = xmalloc(strlen(dir) + 40);
    sprintf(p, "%s/step-%08llu.%s", dir, (unsigned long long)step, ext);
    return p;
}

// remove all but the newest keep complete checkpoints (the .done first, so a half-removed
// step is never taken for a complete one)
static void prune(const char *dir, int keep) {
    size_t n;
    uint64_t *steps = complete_steps(dir, &n);
    for (size_t i = 0; i < n; i++) {
        size_t newer = 0;
        for (size_t j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer < (size_t)keep) continue;
        static const char *const EXT[] = {"done", "frm", "frst"};
        for (int k = 0; k < 3; k++) {
            char *p = path_of(dir, steps[i], EXT[k]);
            if (unlink(p) != 0 && errno != ENOENT) fr_warn("%s: %s", p, strerror(errno));
            free(p);
        }
    }
    free(steps);
}

static void save(const TrainOpts *o, Net *net, Head *h, Optim *opt, Optim *hopt, uint64_t step, uint64_t epoch, uint64_t cursor, float lr) {
    FrBundle b;
    net_to_bundle(net, &b);
    uint32_t wd[2] = {(uint32_t)h->nc, (uint32_t)h->cfg.dim}, bd[1] = {(uint32_t)h->nc}, td[1] = {1};
    bundle_add(&b, "head.weight", FR_F32, 2, wd, h->W);
    if (h->cfg.kind == HEAD_SOFTMAX) bundle_add(&b, "head.bias", FR_F32, 1, bd, h->b);
    bundle_add(&b, "head.t", FR_F64, 1, td, &h->t);
    char hd[256];
    snprintf(hd, sizeof hd, "head=%s classes=%d s=%.9g m=%.9g alpha=%.9g easy_margin=%d\n", head_name(h->cfg.kind),
             h->cfg.classes, h->cfg.s, h->cfg.m, h->cfg.alpha, h->cfg.easy_margin);
    bundle_set_section(&b, "HEAD", hd, strlen(hd));
    char *conf = train_config(o), *prov = xmalloc(strlen(conf) + (o->prov ? strlen(o->prov) : 0) + 2);
    sprintf(prov, "%s%s%s", o->prov ? o->prov : "", o->prov ? "\n" : "", conf);
    bundle_set_section(&b, "PROV", prov, strlen(prov));
    free(conf), free(prov);
    char *pm = path_of(o->outdir, step, "frm"), *ps = path_of(o->outdir, step, "frst"), *pd = path_of(o->outdir, step, "done");
    bundle_write(&b, pm, 1);
    bundle_free(&b);
    FrBundle s;
    bundle_init(&s, &FR_KIND_FRST);
    FrTrainState st = {step, epoch, cursor, o->seed, 1, lr};
    uint8_t sb[FR_STAT_BYTES];
    stat_encode(&st, sb);
    bundle_set_section(&s, "STAT", sb, sizeof sb);
    uint64_t t = opt->t;
    uint32_t one[1] = {1};
    bundle_add(&s, "opt.t", FR_I64, 1, one, &t);
    optim_save(opt, &s);
    optim_save(hopt, &s);
    bundle_write(&s, ps, 1);
    bundle_free(&s);
    Out d;
    out_open(&d, pd, 0, 1);
    out_commit(&d);
    free(pm), free(ps), free(pd);
    if (o->keep > 0) prune(o->outdir, o->keep);
}

// keep the log's header and its rows up to step (a resumed run rewrites what came after)
static void trim_log(const char *path, uint64_t step) {
    size_t n;
    char *text = (char *)read_file(path, &n);
    if (!text) return;
    size_t keep = 0;
    for (size_t i = 0; i < n;) {
        char *nl = memchr(text + i, '\n', n - i);
        if (!nl) break;
        unsigned long long s;
        if (i > 0 && (sscanf(text + i, "%llu", &s) != 1 || s > step)) break;
        i = (size_t)(nl - text) + 1, keep = i;
    }
    if (keep < n && truncate(path, (off_t)keep) != 0) fr_warn("%s: %s", path, strerror(errno));
    free(text);
}

// accuracy on the --val pack: the head's plain logits (W x + b, or cosines) in eval mode
static int validate(const TrainOpts *o, Net *net, const Head *h, uint64_t step) {
    LoaderSpec spec = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = o->batch}}};
    LoaderOpts lo = {.threads = o->threads, .prefetch = 2, .world = 1, .sequential = 1, .prep = net->prep};
    Loader *ld = loader_open(o->val, &spec, &lo);
    if (!ld) return -1;
    const FrdsPack *pk = loader_pack(ld);
    int B = loader_batch(ld), D = h->cfg.dim, nc = h->nc;
    size_t chw = (size_t)net->prep.c * net->prep.h * net->prep.w;
    float *x = xmalloc(sizeof(float) * chw * B), *e = xmalloc(sizeof(float) * (size_t)B * D);
    SampleInfo *info = xmalloc(sizeof *info * B);
    uint64_t n = pk->n, done = 0, scored = 0, right = 0;
    double *winv = xmalloc(sizeof(double) * (size_t)nc);  // the cosine heads' 1 / |w_j|
    for (int j = 0; j < nc; j++) {
        double ww = 0;
        for (int k = 0; k < D; k++) ww += (double)h->W[(size_t)j * D + k] * h->W[(size_t)j * D + k];
        winv[j] = 1 / fmax(sqrt(ww), 1e-12);
    }
    net->training = 0;
    int rc = 0;
    for (uint64_t s = 0; s < loader_steps(ld) && !rc; s++) {
        if (loader_next(ld, x, info) < 0) {
            rc = -1;
            break;
        }
        net->be->download(e, net_forward(net, x, B), sizeof(float) * (size_t)B * D);
        for (int i = 0; i < B && done < n; i++, done++) {
            if (info[i].label < 0) continue;
            if (info[i].label >= h->cfg.classes) {
                rc = fr_err("%s: record %llu has label %d; the head has %d classes", o->val, (unsigned long long)info[i].record,
                            info[i].label, h->cfg.classes);
                break;
            }
            const float *v = e + (size_t)i * D;
            int best = 0;
            double bv = -INFINITY;
            for (int j = 0; j < nc; j++) {
                const float *w = h->W + (size_t)j * D;
                double dot = 0;
                for (int k = 0; k < D; k++) dot += (double)v[k] * w[k];
                double z = h->cfg.kind == HEAD_SOFTMAX ? dot + h->b[j] : dot * winv[j];
                if (z > bv) bv = z, best = j;
            }
            scored++, right += best == info[i].label;
        }
    }
    if (!rc && !scored) rc = fr_err("%s: no labelled record to validate on", o->val);
    if (!rc) {
        double acc = (double)right / scored;
        fr_note("step %llu: validation accuracy %.4f (%llu of %llu, %s)", (unsigned long long)step, acc,
                (unsigned long long)right, (unsigned long long)scored, o->val);
        char *vp = xmalloc(strlen(o->outdir) + 16);
        sprintf(vp, "%s/val.tsv", o->outdir);
        TsvLog vl;
        tsv_open(&vl, vp, "step\tval_acc");
        double row[2] = {(double)step, acc};
        tsv_row(&vl, row, 2);
        tsv_close(&vl);
        free(vp);
    }
    free(x), free(e), free(info), free(winv);
    loader_close(ld);
    return rc;
}

// a group given by name or number
static int group_id(const FrdsPack *p, const char *s, const char *pack) {
    for (uint64_t g = 0; g < p->n_group_names; g++)
        if (!strcmp(p->group_names[g], s)) return (int)g;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && (uint64_t)v < (p->num_groups ? p->num_groups : p->n_group_names)) return (int)v;
    return fr_err("%s: no group '%s' (the pack has %llu groups)", pack, s, (unsigned long long)p->num_groups);
}

// DDL's four branches (TFace's tasks/ddl): normal easy, normal hard (batch identities with
// one image each), easy pairs, hard pairs (batch pairs each). Groups: easy and hard are the
// pack's groups, each branch inside its group. RSA: every record is easy as it is and hard
// at a random low resolution; a hard pair is a high- and a low-resolution image of one identity.
static int ddl_spec(const TrainOpts *o, LoaderSpec *s) {
    int n = o->batch;
    LoaderView hi = o->view, lo = o->view;
    hi.rsa = RSA_NONE, hi.p_rsa = 0;
    LoaderFilter fe = {.kind = FILTER_ALL}, fh = fe;
    if (o->ddl == DDL_GROUPS) {
        FrdsPack p;
        if (frds_open(&p, o->pack)) return -1;
        int ge = group_id(&p, o->ddl_easy, o->pack), gh = ge < 0 ? -1 : group_id(&p, o->ddl_hard, o->pack);
        frds_close_pack(&p);
        if (ge < 0 || gh < 0) return -1;
        if (ge == gh) return fr_err("--ddl: the easy and the hard group are the same (%s)", o->ddl_easy);
        fe = (LoaderFilter){.kind = FILTER_GROUP, .group = ge}, fh = (LoaderFilter){.kind = FILTER_GROUP, .group = gh};
    } else {
        lo = o->ddl_low;
        lo.p_flip = o->view.p_flip, lo.pad = o->view.pad;
    }
    *s = (LoaderSpec){.nsb = 4};
    s->sb[0] = (SubBatch){.kind = SB_PK, .p = n, .k = 1, .filter = fe, .view = hi};
    s->sb[1] = (SubBatch){.kind = SB_PK, .p = n, .k = 1, .filter = fh, .view = o->ddl == DDL_RSA ? lo : hi};
    s->sb[2] = (SubBatch){.kind = SB_PAIRS, .n = n, .filter = fe, .view = hi, .view2 = hi};
    s->sb[3] = (SubBatch){.kind = SB_PAIRS, .n = n, .filter = fh, .view = hi, .view2 = o->ddl == DDL_RSA ? lo : hi};
    return 0;
}

int train_run(const TrainOpts *o) {
    if (mkdir(o->outdir, 0755) != 0 && errno != EEXIST) return fr_err("%s: %s", o->outdir, strerror(errno));
    uint64_t have = train_latest(o->outdir);
    if (have && !o->resume)
        return fr_err("%s: holds checkpoints up to step %llu; --resume continues them, or train into another folder", o->outdir,
                      (unsigned long long)have);
#ifdef FR_HAVE_OMP
    if (o->threads) omp_set_num_threads(o->threads);
#endif
    if (o->device >= 0 && (o->opt.kind != OPT_SGD || o->clip > 0))
        return fr_err("--device cuda: %s runs on the CPU only in this version", o->clip > 0 ? "--clip-grad" : "Adam");
    Net *net = backbone_new(o->arch, o->input, o->emb);
    if (!net || net_finalize(net, 0)) return -1;
    net_init(net, o->seed);
    net->seed = o->seed;
    net->input_grad = 0;  // nobody reads the images' gradient
    net_to(net, device_backend(o->device));
    // the loader checks the pack against the model's input before anything trains
    LoaderSpec spec = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = o->batch, .view = o->view}}};
    if (o->ddl && ddl_spec(o, &spec)) {
        net_free(net);
        return -1;
    }
    LoaderOpts lo = {.seed = o->seed, .threads = o->threads, .prefetch = 2, .world = 1, .prep = net->prep};
    Loader *ld = loader_open(o->pack, &spec, &lo);
    if (!ld) {
        net_free(net);
        return -1;
    }
    const FrdsPack *pk = loader_pack(ld);
    HeadConfig hc = o->head;
    hc.dim = o->emb, hc.classes = (int)pk->num_classes, hc.c0 = 0, hc.c1 = hc.classes;
    if (hc.classes < 2) {
        loader_close(ld), net_free(net);
        return fr_err("%s: %d classes; a head needs at least 2 labelled classes", o->pack, hc.classes);
    }
    for (uint64_t i = 0; i < pk->n; i++) {
        int32_t lab = frds_label(pk, i);
        if (lab < 0 || lab >= hc.classes) {
            uint32_t kl;
            const char *key = frds_key(pk, i, &kl);
            loader_close(ld), net_free(net);
            return fr_err("%s: record %llu (%.*s) has label %d; training needs every label in 0..%d", o->pack,
                          (unsigned long long)i, (int)kl, key, lab, hc.classes - 1);
        }
    }
    Head *h = head_new(&hc, NULL);
    head_init(h, o->seed);
    // the backbone's parameters where it runs, the head's on the host
    Optim *opt = optim_new(&o->opt), *hopt = optim_new(&o->opt), *both[2] = {opt, hopt};
    optim_set_backend(opt, net->be);
    optim_add_net(opt, net);
    optim_add(hopt, "head.weight", h->W, h->gW, (size_t)h->nc * hc.dim, o->opt.weight_decay, 1);
    if (hc.kind == HEAD_SOFTMAX) optim_add(hopt, "head.bias", h->b, h->gb, (size_t)h->nc, 0, 1);
    uint64_t per = loader_steps(ld), total = o->steps ? o->steps : per * (uint64_t)o->epochs, step = 0;
    Sched sc = o->sched;
    if (!sc.total) sc.total = total;
    if (o->init) {  // weights only, counters reset
        FrBundle b;
        if (bundle_read(&b, o->init, &FR_KIND_FRCK)) goto fail;
        int matched = 0, missing = 0, unexpected = 0;
        int bad = net_load_tensors(net, &b, 0, &matched, &missing, &unexpected);
        bundle_free(&b);
        if (bad) {
            char m[600];
            snprintf(m, sizeof m, "%s", fr_errmsg());
            fr_err("%s: %s", o->init, m);
            goto fail;
        }
        if (!matched) {
            fr_err("%s: no tensor matches %s by name and shape", o->init, o->arch);
            goto fail;
        }
        fr_note("--init %s: %d tensors loaded, %d of the network's not in the file (kept as initialised), %d in the file "
                "not used (-v lists them)", o->init, matched, missing, unexpected);
    }
    if (o->resume && (step = train_latest(o->outdir)) > 0) {
        char *pm = path_of(o->outdir, step, "frm"), *ps = path_of(o->outdir, step, "frst");
        FrBundle m, s;
        int bad = bundle_read(&m, pm, &FR_KIND_FRCK) || net_load_tensors(net, &m, 1, NULL, NULL, NULL);
        FrTensor *hw = bad ? NULL : bundle_find(&m, "head.weight"), *ht = bad ? NULL : bundle_find(&m, "head.t");
        if (!bad && (!hw || hw->bytes != sizeof(float) * (size_t)h->nc * hc.dim || !ht || ht->dtype != FR_F64))
            bad = fr_err("%s: the head does not match this run (classes %d, dim %d)", pm, hc.classes, hc.dim);
        if (!bad) {
            memcpy(h->W, hw->data, hw->bytes);
            memcpy(&h->t, ht->data, 8);
            FrTensor *hb = bundle_find(&m, "head.bias");
            if (hb && hb->bytes == sizeof(float) * (size_t)h->nc) memcpy(h->b, hb->data, hb->bytes);
        }
        FrTrainState st;
        const FrSection *sec;
        if (!bad) bad = bundle_read(&s, ps, &FR_KIND_FRST);
        if (!bad && (!(sec = bundle_section(&s, "STAT")) || stat_decode(sec->data, sec->bytes, &st, ps))) bad = -1;
        if (!bad) bad = optim_load(opt, &s) || optim_load(hopt, &s);
        if (!bad) {
            FrTensor *tt = bundle_find(&s, "opt.t");
            if (tt) opt->t = hopt->t = *(uint64_t *)tt->data;
            loader_seek(ld, st.epoch, st.cursor);
            fr_note("resuming %s at step %llu (epoch %llu, batch %llu)", o->outdir, (unsigned long long)step,
                    (unsigned long long)st.epoch, (unsigned long long)st.cursor);
        }
        if (bundle_section(&s, "STAT")) bundle_free(&s);
        bundle_free(&m);
        free(pm), free(ps);
        if (bad) goto fail;
    }
    if (!step) {  // the resolved configuration, once per run
        char *conf = train_config(o);
        for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) fr_note("%s", line);
        free(conf);
    }
    int B = loader_batch(ld);
    size_t chw = (size_t)net->prep.c * net->prep.h * net->prep.w;
    float *x = xmalloc(sizeof(float) * chw * (size_t)B), *dx = xmalloc(sizeof(float) * (size_t)B * o->emb);
    float *hemb = xmalloc(sizeof(float) * (size_t)B * o->emb);
    SampleInfo *info = xmalloc(sizeof(SampleInfo) * (size_t)B);
    int32_t *lab = xmalloc(sizeof(int32_t) * (size_t)B);
    char *logp = xmalloc(strlen(o->outdir) + 16);
    sprintf(logp, "%s/log.tsv", o->outdir);
    trim_log(logp, step);
    TsvLog log;
    tsv_open(&log, logp, o->ddl ? "step\tepoch\tloss\ttrain_acc\tlr\timages_per_s\tt\tddl" : "step\tepoch\tloss\ttrain_acc\tlr\timages_per_s\tt");
    net->training = 1;
    double t0 = now_seconds(), tl = t0;
    float lr = 0;
    uint64_t epoch, cursor;
    while (step < total) {
        int rc = loader_next(ld, x, info);
        if (rc < 0) goto fail2;
        if (rc == 0) continue;  // a new epoch
        for (int i = 0; i < B; i++) lab[i] = info[i].label;
        lr = sched_lr(&sc, step);
        net->step = step;
        net->be->download(hemb, net_forward(net, x, B), sizeof(float) * (size_t)B * o->emb);
        float *emb = hemb;
        net_zero_grad(net);
        memset(h->gW, 0, sizeof(float) * (size_t)h->nc * hc.dim);
        memset(h->gb, 0, sizeof(float) * (size_t)h->nc);
        double loss, dloss = 0;
        int correct;
        if (o->ddl) {  // CE on each normal branch, DDL over all four
            int n = o->batch;
            loss = head_step(h, emb, lab, n, dx);
            correct = h->last_correct;
            loss += head_step(h, emb + (size_t)n * o->emb, lab + n, n, dx + (size_t)n * o->emb);
            correct += h->last_correct;
            memset(dx + (size_t)2 * n * o->emb, 0, sizeof(float) * (size_t)4 * n * o->emb);
            DdlSets ds = {.nneg = 2, .neg_off = {0, n}, .neg_n = {n, n}, .npos = 2, .pos_a = {2 * n, 4 * n}, .pos_b = {3 * n, 5 * n}, .pos_n = {n, n}};
            DdlParts parts;
            dloss = ddl_loss(&o->ddl_cfg, emb, o->emb, &ds, dx, &parts);
            loss += dloss;
        } else {
            loss = head_step(h, emb, lab, B, dx);
            correct = h->last_correct;
        }
        if (!isfinite(loss)) {
            uint64_t last = train_latest(o->outdir);
            char where[64] = "no checkpoint was saved";
            if (last) snprintf(where, sizeof where, "the newest checkpoint is step %llu", (unsigned long long)last);
            fr_err("step %llu: the loss is %s; likely causes: a learning rate too high for this batch (try a lower --lr, "
                   "--warmup or --clip-grad), a scale s too large, or images unlike what the model expects; %s",
                   (unsigned long long)step + 1, isnan(loss) ? "NaN" : "infinite", where);
            goto fail2;
        }
        net_backward(net, dx, B);
        if (o->clip > 0) optim_clip_all(both, 2, o->clip);
        optim_step(opt, lr);
        optim_step(hopt, lr);
        step++;
        loader_position(ld, &epoch, &cursor);
        double now = now_seconds();
        double acc = (double)correct / (o->ddl ? 2 * o->batch : B);
        double row[8] = {(double)step, (double)epoch, loss, acc, lr, B / fmax(now - tl, 1e-9), h->t, dloss};
        tl = now;
        tsv_row(&log, row, o->ddl ? 8 : 7);
        if (o->log_every && step % (uint64_t)o->log_every == 0)
            fr_note("step %llu/%llu | epoch %llu | loss %.4f | acc %.3f | lr %.3g | %.1f img/s", (unsigned long long)step,
                    (unsigned long long)total, (unsigned long long)epoch, loss, acc, lr, (double)(step * (uint64_t)B) / (now - t0));
        int stop = out_interrupted();
        if ((o->save_every && step % o->save_every == 0) || step == total || stop) {
            save(o, net, h, opt, hopt, step, epoch, cursor, lr);
            if (o->val && validate(o, net, h, step)) goto fail2;
            net->training = 1;
        }
        if (stop) {
            fr_note("interrupted: saved step %llu", (unsigned long long)step);
            break;
        }
    }
    tsv_close(&log);
    free(x), free(dx), free(hemb), free(info), free(lab), free(logp);
    optim_free(opt), optim_free(hopt), head_free(h), loader_close(ld), net_free(net);
    return 0;
fail2:
    if (log.fp) fclose(log.fp);
    free(log.path);
    free(x), free(dx), free(hemb), free(info), free(lab), free(logp);
fail:
    optim_free(opt), optim_free(hopt), head_free(h), loader_close(ld), net_free(net);
    return -1;
}
