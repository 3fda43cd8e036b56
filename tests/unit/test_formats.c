/*
 * test_formats.c: the four frkit formats and .npy: round trips through files,
 * streams and real pipes; every single-byte corruption and every truncation is
 * caught with an error (never a crash, never silent).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle.h"
#include "frds.h"
#include "frem.h"
#include "harness.h"
#include "msg.h"
#include "npy.h"
#include "xio.h"

static uint8_t *slurp(const char *path, size_t *n) {
    uint8_t *b = read_file(path, n);
    if (!b) {
        test_fail(__FILE__, __LINE__, "%s", fr_errmsg());
        exit(1);
    }
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
        exit(1);
    }
}

// Run fn in a child whose stdout is a pipe; return the read end.
static FILE *pipe_from(void (*fn)(void), pid_t *pid) {
    int fds[2];
    if (pipe(fds)) exit(1);
    *pid = fork();
    if (*pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        fn();
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    return fdopen(fds[0], "rb");
}

static int child_ok(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// ---------------------------------------------------------------- FRDS

#define NREC 7
static void make_record(int i, FrdsRecord *r, uint8_t *img, char *key, float *cols) {
    memset(r, 0, sizeof *r);
    r->label = i % 3;
    r->group = i == 4 ? -1 : i % 2;
    r->h = 4 + (uint32_t)i;
    r->w = 5;
    r->c = i % 2 ? 1 : 3;
    r->encoding = i == 5 ? FRDS_JPEG : FRDS_RAW;
    r->image_bytes = r->encoding == FRDS_RAW ? (uint64_t)r->h * r->w * r->c : 37;
    for (uint64_t k = 0; k < r->image_bytes; k++) img[k] = (uint8_t)(k * 7 + (uint64_t)i);
    sprintf(key, "id%d/img_%04d.jpg", i % 3, i);
    r->key = key;
    r->key_len = (uint32_t)strlen(key);
    cols[0] = 0.125f * (float)i;
    cols[1] = i == 2 ? NAN : -(float)i;
    r->cols = cols;
    r->image = img;
}

static void write_pack(const char *path) {
    static const char *const colnames[] = {"quality", "blur"};
    static const char *const classes[] = {"alice", "bob", "carol"};
    static const char *const groups[] = {"g0", "g1"};
    FrdsWriter w;
    frds_create(&w, path, 2, colnames, "fr-test --make pack", 1);
    for (int i = 0; i < NREC; i++) {
        FrdsRecord r;
        uint8_t img[512];
        char key[64];
        float cols[2];
        make_record(i, &r, img, key, cols);
        frds_add(&w, &r);
    }
    frds_set_class_names(&w, classes, 3);
    frds_set_group_names(&w, groups, 2);
    frds_close(&w);
}

static void check_record(int i, const FrdsRecord *g) {
    FrdsRecord r;
    uint8_t img[512];
    char key[64];
    float cols[2];
    make_record(i, &r, img, key, cols);
    CHECK_EQ_INT(g->label, r.label);
    CHECK_EQ_INT(g->group, r.group);
    CHECK_EQ_INT(g->h, r.h);
    CHECK_EQ_INT(g->w, r.w);
    CHECK_EQ_INT(g->c, r.c);
    CHECK_EQ_INT(g->encoding, r.encoding);
    CHECK_EQ_INT(g->image_bytes, r.image_bytes);
    CHECK(g->key_len == r.key_len && memcmp(g->key, r.key, r.key_len) == 0);
    CHECK(memcmp(g->image, r.image, r.image_bytes) == 0);
    float c0, c1;
    memcpy(&c0, g->cols, 4);
    memcpy(&c1, (const uint8_t *)g->cols + 4, 4);
    CHECK(c0 == cols[0]);
    CHECK(i == 2 ? isnan(c1) : c1 == cols[1]);
}

static void check_pack_tables(const FrdsPack *p) {
    CHECK_EQ_INT(p->n, NREC);
    CHECK_EQ_INT(p->ncols, 2);
    CHECK(strcmp(p->colnames[0], "quality") == 0 && strcmp(p->colnames[1], "blur") == 0);
    CHECK_EQ_INT(p->num_classes, 3);
    CHECK_EQ_INT(p->num_groups, 2);
    CHECK(p->n_class_names == 3 && strcmp(p->class_names[2], "carol") == 0);
    CHECK(p->n_group_names == 2 && strcmp(p->group_names[1], "g1") == 0);
    CHECK(p->prov && strcmp(p->prov, "fr-test --make pack") == 0);
    for (int i = 0; i < NREC; i++) {
        uint32_t kl;
        const char *k = frds_key(p, (uint64_t)i, &kl);
        char want[64];
        sprintf(want, "id%d/img_%04d.jpg", i % 3, i);
        CHECK(kl == strlen(want) && memcmp(k, want, kl) == 0);
        CHECK_EQ_INT(frds_label(p, (uint64_t)i), i % 3);
        CHECK(frds_col(p, (uint64_t)i, 0) == 0.125f * (float)i);
    }
}

static void t_frds_roundtrip(void) {
    const char *path = test_path("a.frd");
    write_pack(path);
    FrdsPack p;
    REQUIRE(frds_open(&p, path) == 0, "%s", fr_errmsg());
    check_pack_tables(&p);
    CHECK(p.h == 0 && p.enc_mask == 3);  // mixed sizes, raw and jpeg
    for (int i = NREC - 1; i >= 0; i--) {  // random access, backwards
        FrdsRecord r;
        CHECK_MSG(frds_read(&p, (uint64_t)i, &r) == 0, "%s", fr_errmsg());
        check_record(i, &r);
    }
    CHECK_MSG(frds_verify(&p) == 0, "%s", fr_errmsg());
    CHECK(frds_col_index(&p, "blur") == 1 && frds_col_index(&p, "nope") == -1);
    frds_close_pack(&p);
}

static void read_stream_pack(FILE *fp, int expect_unknown) {
    FrdsPack p;
    REQUIRE(frds_open_fp(&p, fp, "<stream>", 0) == 0, "%s", fr_errmsg());
    CHECK(p.stream);
    if (expect_unknown) CHECK(p.r.hdr.count == FR_UNKNOWN);
    FrdsRecord r;
    int i = 0, rc;
    while ((rc = frds_next(&p, &r)) == 1) check_record(i++, &r);
    CHECK_MSG(rc == 0, "%s", fr_errmsg());
    CHECK_EQ_INT(i, NREC);
    check_pack_tables(&p);
    frds_close_pack(&p);
}

static void t_frds_stream(void) {
    const char *path = test_path("s.frd");
    write_pack(path);
    FILE *fp = fopen(path, "rb");
    read_stream_pack(fp, 0);
    fclose(fp);
}

static void pack_to_stdout(void) { write_pack("-"); }

static void t_frds_pipe(void) {
    pid_t pid;
    FILE *fp = pipe_from(pack_to_stdout, &pid);
    read_stream_pack(fp, 1);
    fclose(fp);
    CHECK(child_ok(pid));
}

// Open and fully check a pack in both modes; 0 only if everything is sound.
static int check_frds_file(const char *path) {
    FrdsPack p;
    int rc = frds_open(&p, path);
    if (rc == 0) rc = frds_verify(&p);
    frds_close_pack(&p);
    FILE *fp = fopen(path, "rb");
    FrdsPack s;
    int rs = frds_open_fp(&s, fp, path, 0);
    if (rs == 0) rs = frds_verify(&s);
    frds_close_pack(&s);
    fclose(fp);
    return rc == 0 && rs == 0 ? 0 : -1;
}

// Every byte flip and every truncation of a file must be caught by `check`.
static void corrupt_all(const char *path, int (*check)(const char *)) {
    size_t n;
    uint8_t *orig = slurp(path, &n);
    CHECK_MSG(check(path) == 0, "the intact file fails: %s", fr_errmsg());
    const char *bad = test_path("bad.bin");
    int missed = 0;
    for (size_t i = 0; i < n; i++) {
        orig[i] ^= 0x5a;
        spit(bad, orig, n);
        orig[i] ^= 0x5a;
        if (check(bad) == 0 && missed++ < 5) test_fail(__FILE__, __LINE__, "flip at byte %zu of %zu not detected", i, n);
    }
    for (size_t len = 0; len < n; len += (len < 600 || n - len < 600) ? 1 : 13) {
        spit(bad, orig, len);
        if (check(bad) == 0 && missed++ < 10) test_fail(__FILE__, __LINE__, "truncation to %zu of %zu not detected", len, n);
    }
    // extra bytes after the trailer
    uint8_t *ext = xmalloc(n + 3);
    memcpy(ext, orig, n);
    memcpy(ext + n, "abc", 3);
    spit(bad, ext, n + 3);
    CHECK_MSG(check(bad) != 0, "trailing garbage not detected");
    free(ext);
    free(orig);
}

static void t_frds_corruption(void) {
    const char *path = test_path("c.frd");
    write_pack(path);
    corrupt_all(path, check_frds_file);
}

static void t_frds_errors(void) {
    FrdsPack p;
    CHECK(frds_open(&p, test_path("missing.frd")) < 0);
    CHECK(strstr(fr_errmsg(), "No such file") != NULL);
    frds_close_pack(&p);
    const char *path = test_path("notpack.frd");
    spit(path, (const uint8_t *)"hello world, this is not a pack", 31);
    CHECK(frds_open(&p, path) < 0);
    CHECK_MSG(strstr(fr_errmsg(), "truncated") || strstr(fr_errmsg(), "magic"), "%s", fr_errmsg());
    frds_close_pack(&p);
    // a FREM file handed to the FRDS reader says what it is
    FremWriter w;
    const char *fre = test_path("x.fre");
    frem_create(&w, fre, 2, NULL, 1);
    frem_close(&w);
    CHECK(frds_open(&p, fre) < 0);
    CHECK_MSG(strstr(fr_errmsg(), "per-sample vector file") && strstr(fr_errmsg(), "fr-pack"), "%s", fr_errmsg());
    frds_close_pack(&p);
    // an empty pack is valid
    const char *empty = test_path("empty.frd");
    FrdsWriter dw;
    frds_create(&dw, empty, 0, NULL, NULL, 1);
    frds_close(&dw);
    CHECK_MSG(frds_open(&p, empty) == 0 && frds_verify(&p) == 0, "%s", fr_errmsg());
    CHECK_EQ_INT(p.n, 0);
    frds_close_pack(&p);
}

// ---------------------------------------------------------------- FREM

#define DIM 512
#define NROWS 1500  // three ROWS blocks
static float val(uint64_t i, uint32_t j) { return (float)((double)i * 0.001 - (double)j * 0.5); }

static void write_frem(const char *path, uint64_t rows) {
    FremWriter w;
    frem_create(&w, path, DIM, "fr-test --make frem", 1);
    float v[DIM];
    for (uint64_t i = 0; i < rows; i++) {
        for (uint32_t j = 0; j < DIM; j++) v[j] = val(i, j);
        FremRow r = {1000 + i, (int32_t)(i % 11) - 1, (int32_t)(i % 3)};
        frem_write(&w, &r, v);
    }
    frem_close(&w);
}

static void check_frem_reader(FremReader *f, uint64_t rows) {
    CHECK_EQ_INT(f->dim, DIM);
    float v[DIM];
    FremRow r;
    uint64_t i = 0;
    int rc, bad = 0;
    while ((rc = frem_next(f, &r, v)) == 1) {
        if (r.src != 1000 + i || r.label != (int32_t)(i % 11) - 1 || r.group != (int32_t)(i % 3)) bad++;
        for (uint32_t j = 0; j < DIM; j++) bad += v[j] != val(i, j);
        i++;
    }
    CHECK_MSG(rc == 0, "%s", fr_errmsg());
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(i, rows);
    CHECK(f->prov && strcmp(f->prov, "fr-test --make frem") == 0);
}

static void t_frem_roundtrip(void) {
    const char *path = test_path("e.fre");
    write_frem(path, NROWS);
    FremReader f;
    REQUIRE(frem_open(&f, path) == 0, "%s", fr_errmsg());
    check_frem_reader(&f, NROWS);
    frem_close_reader(&f);
    FremData d;
    REQUIRE(frem_load(path, &d) == 0, "%s", fr_errmsg());
    CHECK_EQ_INT(d.n, NROWS);
    CHECK(d.x[(NROWS - 1) * DIM + 3] == val(NROWS - 1, 3));
    frem_free(&d);
}

static void frem_to_stdout(void) { write_frem("-", NROWS); }

static void t_frem_pipe(void) {
    pid_t pid;
    FILE *fp = pipe_from(frem_to_stdout, &pid);
    FremReader f;
    REQUIRE(frem_open_fp(&f, fp, "<pipe>", 0) == 0, "%s", fr_errmsg());
    CHECK(f.r.hdr.count == FR_UNKNOWN);
    check_frem_reader(&f, NROWS);
    frem_close_reader(&f);
    fclose(fp);
    CHECK(child_ok(pid));
}

static int check_frem_file(const char *path) {
    FremReader f;
    int rc = frem_open(&f, path);
    float v[DIM];
    FremRow r;
    while (rc == 0 && (rc = frem_next(&f, &r, v)) == 1) rc = 0;
    frem_close_reader(&f);
    if (rc) return -1;
    FILE *fp = fopen(path, "rb");
    rc = frem_open_fp(&f, fp, path, 0);
    while (rc == 0 && (rc = frem_next(&f, &r, v)) == 1) rc = 0;
    frem_close_reader(&f);
    fclose(fp);
    return rc;
}

static void t_frem_corruption(void) {
    const char *path = test_path("c.fre");
    FremWriter w;
    frem_create(&w, path, 3, "p", 1);
    for (uint64_t i = 0; i < 5; i++) {
        float v[3] = {(float)i, 1, 2};
        FremRow r = {i, 0, 0};
        frem_write(&w, &r, v);
    }
    frem_close(&w);
    corrupt_all(path, check_frem_file);
}

// ---------------------------------------------------------------- FRCK / FRST

static float w1[6] = {1, 2, 3, 4, 5, 6};
static int64_t w2[3] = {-1, 0, 1LL << 40};
static uint8_t w3[1] = {7};

static void write_model(const char *path, const FrKind *kind) {
    FrBundle b;
    bundle_init(&b, kind);
    const char *arch = "arch = ir18\nembedding = 512\n";
    bundle_set_section(&b, "ARCH", arch, strlen(arch));
    FrPrep prep = {112, 112, 3, PREP_RGB, 0, 0, 0, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0};
    uint8_t pb[FR_PREP_BYTES];
    prep_encode(&prep, pb);
    bundle_set_section(&b, "PREP", pb, sizeof pb);
    FrTrainState st = {1200, 3, 4096, 1337, 4, 0.01};
    uint8_t sb[FR_STAT_BYTES];
    stat_encode(&st, sb);
    bundle_set_section(&b, "STAT", sb, sizeof sb);
    bundle_set_section(&b, "PROV", "fr-train ...", 12);
    uint32_t d1[2] = {2, 3}, d2[1] = {3};
    bundle_add(&b, "stem.conv.weight", FR_F32, 2, d1, w1);
    bundle_add(&b, "head.curricular.t", FR_I64, 1, d2, w2);
    bundle_add(&b, "scalar", FR_U8, 0, NULL, w3);
    bundle_write(&b, path, 1);
    bundle_free(&b);
}

static void check_model(FrBundle *b) {
    CHECK_EQ_INT(b->nt, 3);
    FrTensor *t = bundle_find(b, "stem.conv.weight");
    CHECK(t && t->dtype == FR_F32 && t->ndim == 2 && t->dims[1] == 3 && memcmp(t->data, w1, sizeof w1) == 0);
    t = bundle_find(b, "head.curricular.t");
    CHECK(t && t->dtype == FR_I64 && memcmp(t->data, w2, sizeof w2) == 0);
    t = bundle_find(b, "scalar");
    CHECK(t && t->ndim == 0 && t->bytes == 1 && ((uint8_t *)t->data)[0] == 7);
    const FrSection *s = bundle_section(b, "ARCH");
    CHECK(s && strcmp((const char *)s->data, "arch = ir18\nembedding = 512\n") == 0);
    FrPrep prep;
    s = bundle_section(b, "PREP");
    CHECK(s && prep_decode(s->data, s->bytes, &prep, "x") == 0 && prep.h == 112 && prep.mean[2] == 0.5f);
    FrTrainState st;
    s = bundle_section(b, "STAT");
    CHECK(s && stat_decode(s->data, s->bytes, &st, "x") == 0 && st.step == 1200 && st.cursor == 4096 && st.lr == 0.01);
}

static void t_bundle_roundtrip(void) {
    const FrKind *kinds[2] = {&FR_KIND_FRCK, &FR_KIND_FRST};
    for (int k = 0; k < 2; k++) {
        const char *path = test_path(k ? "m.frst" : "m.frm");
        write_model(path, kinds[k]);
        FrBundle b;
        REQUIRE(bundle_read(&b, path, kinds[k]) == 0, "%s", fr_errmsg());
        check_model(&b);
        bundle_free(&b);
        // the other kind is refused by name
        CHECK(bundle_read(&b, path, kinds[1 - k]) < 0);
        CHECK_MSG(strstr(fr_errmsg(), kinds[k]->what) != NULL, "%s", fr_errmsg());
    }
}

static void model_to_stdout(void) { write_model("-", &FR_KIND_FRCK); }

static void t_bundle_pipe(void) {
    pid_t pid;
    FILE *fp = pipe_from(model_to_stdout, &pid);
    FrBundle b;
    REQUIRE(bundle_read_fp(&b, fp, "<pipe>", 0, &FR_KIND_FRCK) == 0, "%s", fr_errmsg());
    check_model(&b);
    bundle_free(&b);
    fclose(fp);
    CHECK(child_ok(pid));
}

static int check_bundle_file(const char *path) {
    FrBundle b;
    int rc = bundle_read(&b, path, &FR_KIND_FRCK);
    bundle_free(&b);
    if (rc) return -1;
    FILE *fp = fopen(path, "rb");
    rc = bundle_read_fp(&b, fp, path, 0, &FR_KIND_FRCK);
    bundle_free(&b);
    fclose(fp);
    return rc;
}

static void t_bundle_corruption(void) {
    const char *path = test_path("c.frm");
    write_model(path, &FR_KIND_FRCK);
    corrupt_all(path, check_bundle_file);
}

// ---------------------------------------------------------------- .npy

static void t_npy_roundtrip(void) {
    const char *path = test_path("a.npy");
    FILE *f = fopen(path, "wb");
    uint64_t shape[2] = {3, 4};
    npy_write_header(f, path, "<f4", 2, shape);
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i * 0.5f - 1;
    fwrite(x, 4, 12, f);
    fclose(f);
    size_t n;
    uint8_t *b = slurp(path, &n);
    CHECK(n == 128 + 48);  // header padded to a multiple of 64 bytes, as numpy does
    CHECK(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0 && b[127] == '\n');
    free(b);
    NpyInfo in;
    float *y = npy_load_f32(path, &in);
    CHECK_MSG(y != NULL, "%s", fr_errmsg());
    CHECK(in.ndim == 2 && in.shape[0] == 3 && in.shape[1] == 4 && !in.fortran && strcmp(in.descr, "<f4") == 0);
    CHECK(y && memcmp(x, y, sizeof x) == 0);
    free(y);
}

// Hand-built headers: dtypes, byte order, Fortran order, versions, bad input.
static const char *npy_file(const char *name, int version, const char *dict, const void *data, size_t n) {
    const char *path = test_path(name);
    size_t dl = strlen(dict);
    uint8_t h[512];
    size_t pre = version == 1 ? 10 : 12;
    memcpy(h, "\x93NUMPY", 6);
    h[6] = (uint8_t)version;
    h[7] = 0;
    if (version == 1) {
        h[8] = (uint8_t)dl;
        h[9] = (uint8_t)(dl >> 8);
    } else {
        for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(dl >> (8 * i));
    }
    memcpy(h + pre, dict, dl);
    FILE *f = fopen(path, "wb");
    fwrite(h, 1, pre + dl, f);
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

static void t_npy_dtypes(void) {
    NpyInfo in;
    double d[4] = {1.5, -2, 3, 4};
    float *y = npy_load_f32(npy_file("f8.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n", d, sizeof d), &in);
    CHECK(y && y[0] == 1.5f && y[1] == -2 && in.ndim == 1 && in.shape[0] == 4);
    free(y);
    // big-endian int32, version 2 header
    uint8_t be[8] = {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xfe};
    int64_t *iv = npy_load_i64(npy_file("be.npy", 2, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }\n", be, 8), &in);
    CHECK(iv && iv[0] == 5 && iv[1] == -2);
    free(iv);
    // Fortran order 2x3: memory holds columns
    float fo[6] = {1, 4, 2, 5, 3, 6};
    y = npy_load_f32(npy_file("fo.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", fo, sizeof fo), &in);
    CHECK(y && y[0] == 1 && y[1] == 2 && y[2] == 3 && y[3] == 4 && y[5] == 6);
    free(y);
    // float16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800
    uint16_t hf[3] = {0x3c00, 0xc000, 0x3800};
    y = npy_load_f32(npy_file("f2.npy", 3, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }\n", hf, sizeof hf), &in);
    CHECK(y && y[0] == 1 && y[1] == -2 && y[2] == 0.5f);
    free(y);
    uint8_t bo[2] = {1, 0};
    iv = npy_load_i64(npy_file("b1.npy", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }\n", bo, 2), &in);
    CHECK(iv && iv[0] == 1 && iv[1] == 0);
    free(iv);
    // refusals, each with a message
    CHECK(!npy_load_f32(npy_file("c8.npy", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", d, 8), &in));
    CHECK(strstr(fr_errmsg(), "<c8") != NULL);
    CHECK(!npy_load_f32(npy_file("rec.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", d, 4), &in));
    CHECK(strstr(fr_errmsg(), "structured") != NULL);
    CHECK(!npy_load_f32(npy_file("short.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }\n", d, 8), &in));
    CHECK(strstr(fr_errmsg(), "truncated") != NULL);
    CHECK(!npy_load_f32(npy_file("huge.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }\n", d, 8), &in));
    CHECK(!npy_load_i64(npy_file("frac.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n", d, sizeof d), &in));
    CHECK(strstr(fr_errmsg(), "not an integer") != NULL);
    CHECK(!npy_load_f32(npy_file("v9.npy", 9, "{}", d, 0), &in));
}

const TestCase TESTS[] = {
    {"frds_roundtrip", t_frds_roundtrip},
    {"frds_stream", t_frds_stream},
    {"frds_pipe", t_frds_pipe},
    {"frds_corruption", t_frds_corruption},
    {"frds_errors", t_frds_errors},
    {"frem_roundtrip", t_frem_roundtrip},
    {"frem_pipe", t_frem_pipe},
    {"frem_corruption", t_frem_corruption},
    {"bundle_roundtrip", t_bundle_roundtrip},
    {"bundle_pipe", t_bundle_pipe},
    {"bundle_corruption", t_bundle_corruption},
    {"npy_roundtrip", t_npy_roundtrip},
    {"npy_dtypes", t_npy_dtypes},
    {0, 0},
};
