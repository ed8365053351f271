/*
 * test_lanes.c — rnn_lanes.h: rows to 16 lanes and back, against the scalar loops.
 *
 * The header has three implementations (AVX-512 shuffles, AVX2 shuffles, scalar) that
 * must give bit-identical results. The test build (-O2, no -march) compiles the scalar
 * one in process; the shuffle ones are checked by a program built like generated code
 * with clang and gcc, for x86-64 (scalar), x86-64-v3 (AVX2) and x86-64-v4 (AVX-512,
 * when this CPU has it), which prints the implementation it compiled and whether every
 * case matched the scalar loops bit for bit.
 */
#include "run.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <string.h>

#include "rnnrt.h"
#include "rnn_lanes.h"

#include "lanes_cases.h"

Test(lanes, scalar_build_matches_loops) {
    cr_assert_eq(RNN_LANES_SHUFFLE, 0, "the test build is expected to compile the scalar implementation");
    cr_assert_eq(lanes_run_cases(), 0, "rnn_lanes.h differs from the scalar loops");
    cr_assert_eq(lanes_run_philox_cases(), 0, "rnn_lanes_philox16 differs from Philox4x32-10");
}

/* The runtime's generator and the lanes one agree (the generated trainers draw masks
 * with the second, the reference with the first). */
Test(lanes, philox16_is_rnn_philox4x32) {
    uint32_t x[4][4][16], want[4][4][16];
    const uint32_t key[2] = {0x12345678u, 0x9abcdef0u};
    for (int b = 0; b < 4; b++)
        for (int l = 0; l < 16; l++) {
            const uint32_t ctr[4] = {(uint32_t)b, 77u, 1000u + (uint32_t)l, 0u};
            uint32_t out[4];
            rnn_philox4x32(ctr, key, out);
            for (int w = 0; w < 4; w++) {
                x[b][w][l] = ctr[w];
                want[b][w][l] = out[w];
            }
        }
    rnn_lanes_philox16(x, key[0], key[1]);
    cr_assert_eq(memcmp(x, want, sizeof x), 0);
}

/* The gather leaves rows k >= n of dst alone, and the scatter writes only columns
 * col .. col+n-1 of the rows it names. */
Test(lanes, touches_only_the_named_columns) {
    float table[16 * 20], dst[16 * 16];
    const float *src[16];
    float *rows[16];
    for (int i = 0; i < 16 * 20; i++) table[i] = (float)i;
    for (int l = 0; l < 16; l++) src[l] = rows[l] = table + l * 20;
    for (int i = 0; i < 16 * 16; i++) dst[i] = -7.0f;
    rnn_lanes_gather16(dst, src, 5, 3);
    for (int k = 0; k < 16; k++)
        for (int l = 0; l < 16; l++)
            cr_assert_eq(dst[k * 16 + l], k < 3 ? (float)(l * 20 + 5 + k) : -7.0f, "dst[%d][%d]", k, l);
    float ones[16 * 16];
    for (int i = 0; i < 16 * 16; i++) ones[i] = 1.0f;
    rnn_lanes_scatter_add16(rows, 5, ones, 3);
    for (int l = 0; l < 16; l++)
        for (int j = 0; j < 20; j++)
            cr_assert_eq(table[l * 20 + j], (float)(l * 20 + j) + (j >= 5 && j < 8 ? 1.0f : 0.0f), "row %d col %d", l, j);
}

static const char program_src[] =
    "#include \"rnn_lanes.h\"\n#include \"lanes_cases.h\"\n#include <stdio.h>\n"
    "int main(void) {\n"
    "    int bad = lanes_run_cases(), pbad = lanes_run_philox_cases();\n"
    "    printf(\"%d %d %d\\n\", RNN_LANES_SHUFFLE, bad, pbad);\n"
    "    return 0;\n"
    "}\n";

/* Build the program with cc for arch (-Wpedantic -Werror, as generated code is held
 * to), run it, and check that it compiled the implementation `mode` and that every
 * case matched. */
static void check_build(const char *cc_name, const char *arch, int mode) {
    const char *found = find_program(cc_name);
    cr_assert_not_null(found, "%s is not installed (make deps installs it)", cc_name);
    char cc[PATH_MAX], runtime[PATH_MAX], tests[PATH_MAX], march[64];
    snprintf(cc, sizeof cc, "%s", found);
    snprintf(march, sizeof march, "-march=%s", arch);
    cr_assert_not_null(realpath("runtime", runtime), "run the tests from the repository root");
    cr_assert_not_null(realpath("tests", tests), "run the tests from the repository root");
    char *dir = make_temp_dir();
    write_file(dir, "lanes.c", program_src, strlen(program_src));
    char *const build[] = {cc, "-std=c17", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O3", march,
                           "-I", runtime, "-I", tests, "-o", "lanes", "lanes.c", NULL};
    run_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    run_in(dir, build, r);
    cr_assert_eq(r->status, 0, "%s %s failed:\n%s", cc_name, march, r->err);
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/lanes", dir);
    char *const run[] = {exe, NULL};
    run_in(dir, run, r);
    cr_assert_eq(r->status, 0, "%s %s: the program failed:\n%s", cc_name, march, r->err);
    int got_mode = -1, bad = -1, pbad = -1;
    cr_assert_eq(sscanf(r->out, "%d %d %d", &got_mode, &bad, &pbad), 3, "output: %s", r->out);
    cr_expect_eq(pbad, 0, "%s %s: %d Philox words differ from Philox4x32-10", cc_name, march, pbad);
    cr_expect_eq(got_mode, mode, "%s %s compiled implementation %d, expected %d", cc_name, march, got_mode, mode);
    cr_expect_eq(bad, 0, "%s %s: %d of 96 cases differ from the scalar loops", cc_name, march, bad);
    free(r);
    rm_tree(dir);
    free(dir);
}

Test(lanes, scalar_x86_64) {
    check_build("clang", "x86-64", 0);
    check_build("gcc", "x86-64", 0);
}

Test(lanes, avx2_shuffles) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) cr_skip_test("this CPU has no AVX2: the program could not run");
    check_build("clang", "x86-64-v3", 8);
    check_build("gcc", "x86-64-v3", 8);
}

Test(lanes, avx512_shuffles) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
        cr_skip_test("this CPU has no AVX-512: the program could not run");
    check_build("clang", "x86-64-v4", 16);
    check_build("gcc", "x86-64-v4", 16);
}
