/*
 * test_core.c: RNG, CRC, number parsing, JSON escaping, atomic outputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "frfile.h"
#include "harness.h"
#include "json.h"
#include "xio.h"
#include "msg.h"
#include "out.h"
#include "progress.h"
#include "rng.h"

// Known-answer vectors of Philox4x32-10 from Random123's kat_vectors.
static void t_philox_kat(void) {
    struct { uint32_t ctr[4], key[2], out[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
        uint32_t out[4];
        philox4x32_10(kat[i].ctr, kat[i].key, out);
        for (int j = 0; j < 4; j++) CHECK_MSG(out[j] == kat[i].out[j], "kat %zu word %d: %08x != %08x", i, j, out[j], kat[i].out[j]);
    }
}

// The same (seed, purpose, epoch, index) gives the same numbers in any order;
// any change of one of them gives different numbers.
static void t_rng_streams(void) {
    Rng a = rng_stream(1337, RNG_AUGMENT, 3, 123456789012ull);
    uint32_t first[10];
    for (int i = 0; i < 10; i++) first[i] = rng_u32(&a);
    Rng b = rng_stream(1337, RNG_AUGMENT, 3, 123456789012ull);
    for (int i = 0; i < 10; i++) CHECK(rng_u32(&b) == first[i]);
    Rng v[4] = {rng_stream(1338, RNG_AUGMENT, 3, 123456789012ull), rng_stream(1337, RNG_SHUFFLE, 3, 123456789012ull),
                rng_stream(1337, RNG_AUGMENT, 4, 123456789012ull), rng_stream(1337, RNG_AUGMENT, 3, 123456789013ull)};
    for (int k = 0; k < 4; k++) {
        int same = 0;
        for (int i = 0; i < 10; i++) same += rng_u32(&v[k]) == first[i];
        CHECK_MSG(same < 2, "variant %d repeats the stream", k);
    }
}

static void t_rng_distributions(void) {
    Rng r = rng_stream(7, RNG_TEST, 0, 0);
    const int n = 200000;
    double s = 0, s2 = 0, ns = 0, ns2 = 0;
    int below[10] = {0};
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(&r);
        CHECK(u >= 0 && u < 1);
        s += u;
        s2 += (double)u * u;
        float z = rng_normal(&r);
        ns += z;
        ns2 += (double)z * z;
        below[rng_below(&r, 10)]++;
    }
    // 5-sigma bounds on the sample moments
    CHECK_CLOSE(s / n, 0.5, 5 * sqrt(1.0 / 12 / n));
    CHECK_CLOSE(s2 / n - (s / n) * (s / n), 1.0 / 12, 0.002);
    CHECK_CLOSE(ns / n, 0.0, 5 / sqrt((double)n));
    CHECK_CLOSE(ns2 / n, 1.0, 0.02);
    for (int k = 0; k < 10; k++) CHECK_CLOSE(below[k], n / 10.0, 5 * sqrt(n * 0.1 * 0.9));
    uint64_t perm[1000], seen[1000] = {0};
    rng_permutation(&r, perm, 1000);
    int moved = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(perm[i] < 1000);
        if (perm[i] < 1000) seen[perm[i]]++;
        moved += perm[i] != (uint64_t)i;
    }
    for (int i = 0; i < 1000; i++) CHECK(seen[i] == 1);
    CHECK(moved > 900);
}

static void t_crc32(void) {
    CHECK(fr_crc32(0, "123456789", 9) == 0xCBF43926u);
    // crc over pieces equals crc over the whole
    uint32_t c = fr_crc32(0, "1234", 4);
    CHECK(fr_crc32(c, "56789", 5) == 0xCBF43926u);
}

static void t_parse_numbers(void) {
    long long v;
    CHECK(parse_ll("42", 0, 100, &v) == 0 && v == 42);
    CHECK(parse_ll("-1", -1, 100, &v) == 0 && v == -1);
    CHECK(parse_ll("101", 0, 100, &v) < 0);
    CHECK(parse_ll("4x", 0, 100, &v) < 0);
    CHECK(parse_ll("", 0, 100, &v) < 0);
    CHECK(parse_ll("99999999999999999999", 0, INT64_MAX, &v) < 0);
    double d;
    CHECK(parse_double("8/255", 0, 1, &d) == 0 && fabs(d - 8.0 / 255) < 1e-15);
    CHECK(parse_double("0.5", 0, 1, &d) == 0 && d == 0.5);
    CHECK(parse_double("1e-3", 0, 1, &d) == 0 && d == 1e-3);
    CHECK(parse_double("1/0", 0, 1, &d) < 0);
    CHECK(parse_double("nan", 0, 1, &d) < 0);
    CHECK(parse_double("inf", 0, INFINITY, &d) < 0);
    CHECK(parse_double("2", 0, 1, &d) < 0);
    CHECK(parse_double("0.5x", 0, 1, &d) < 0);
    CHECK(parse_double("/2", 0, 1, &d) < 0);
}

static void t_json(void) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    json_str(f, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
    fputc(' ', f);
    json_num(f, NAN);
    fputc(' ', f);
    json_num(f, 3);
    fputc(' ', f);
    json_num(f, 0.25);
    fclose(f);
    CHECK_MSG(strcmp(buf, "\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\" null 3 0.25") == 0, "got %s", buf);
    free(buf);
}

// A failed run leaves no output file and no .tmp; a committed one is whole.
static void t_atomic_output(void) {
    const char *p = test_path("out.bin");
    pid_t pid = fork();
    if (pid == 0) {
        Out o;
        out_open(&o, p, 1, 0);
        fputs("partial", o.fp);
        fflush(o.fp);
        fr_die("simulated failure");
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    struct stat sb;
    CHECK(stat(p, &sb) != 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK(stat(tmp, &sb) != 0);
    Out o;
    out_open(&o, p, 1, 0);
    fputs("whole", o.fp);
    CHECK(stat(p, &sb) != 0);  // not visible before commit
    out_commit(&o);
    CHECK(stat(p, &sb) == 0 && sb.st_size == 5);
    CHECK(stat(tmp, &sb) != 0);
}

// SIGTERM while writing removes the partial output.
static void t_signal_cleanup(void) {
    const char *p = test_path("sig.bin");
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        out_install_signals();
        Out o;
        out_open(&o, p, 1, 0);
        fputs("partial", o.fp);
        fflush(o.fp);
        if (write(fds[1], "x", 1) != 1) _exit(3);
        for (;;) pause();
    }
    char c;
    CHECK(read(fds[0], &c, 1) == 1);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    struct stat sb;
    CHECK(stat(tmp, &sb) != 0);
    CHECK(stat(p, &sb) != 0);
    close(fds[0]);
    close(fds[1]);
}

// TSV logs append, write the header once, and flush each row.
static void t_tsv_log(void) {
    const char *p = test_path("log.tsv");
    TsvLog t;
    tsv_open(&t, p, "step\tloss\tlr");
    double row[3] = {1, 0.5, 0.1};
    tsv_row(&t, row, 3);
    size_t n;
    char *txt = (char *)read_file(p, &n);  // visible before close: flushed
    CHECK(txt && strcmp(txt, "step\tloss\tlr\n1\t0.5\t0.1\n") == 0);
    free(txt);
    tsv_close(&t);
    tsv_open(&t, p, "step\tloss\tlr");  // reopening appends, no second header
    row[0] = 2;
    tsv_row(&t, row, 3);
    tsv_close(&t);
    txt = (char *)read_file(p, &n);
    CHECK(txt && strcmp(txt, "step\tloss\tlr\n1\t0.5\t0.1\n2\t0.5\t0.1\n") == 0);
    free(txt);
}

// Off a terminal, progress is plain lines (no \r), the last one with the totals.
static void t_progress_plain(void) {
    const char *p = test_path("err.txt");
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(p, "w");
    dup2(fileno(f), 2);
    Progress pg;
    progress_start(&pg, "images", 10);
    pg.every_s = 0;  // a line per update
    for (uint64_t i = 1; i <= 10; i++) progress_update(&pg, i);
    progress_end(&pg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    size_t n;
    char *txt = (char *)read_file(p, &n);
    CHECK(txt != NULL);
    if (!txt) return;
    CHECK(strchr(txt, '\r') == NULL);
    CHECK_MSG(strstr(txt, "10/10 images") != NULL, "%s", txt);
    int lines = 0;
    for (char *c = txt; *c; c++) lines += *c == '\n';
    CHECK(lines >= 2);
    char d[32];
    fmt_duration(d, sizeof d, 3725);
    CHECK(strcmp(d, "1h02m") == 0);
    fmt_duration(d, sizeof d, 65);
    CHECK(strcmp(d, "1m05s") == 0);
    free(txt);
}

const TestCase TESTS[] = {
    {"tsv_log", t_tsv_log},
    {"progress_plain", t_progress_plain},
    {"philox_kat", t_philox_kat},
    {"rng_streams", t_rng_streams},
    {"rng_distributions", t_rng_distributions},
    {"crc32", t_crc32},
    {"parse_numbers", t_parse_numbers},
    {"json", t_json},
    {"atomic_output", t_atomic_output},
    {"signal_cleanup", t_signal_cleanup},
    {0, 0},
};
