/*
 * test_compiler.c — rnnc's front end as a user meets it: the seed specs' summaries,
 * broken specs with their exact messages and lines, and hostile specs that must not
 * get out of the sandbox. Every case runs build/rnnc in a fresh directory with
 * `-o model.c`, so "no output file" is checked by listing the directory afterwards.
 */
#define _XOPEN_SOURCE 700   /* realpath */
#include <criterion/criterion.h>
#include <time.h>

#include "run.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run rnnc on `src` saved as x.lua with extra arguments; returns the temp dir. */
static char *run_spec(const char *src, size_t len, run_result *r, const char *extra1, const char *extra2) {
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", src, len);
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", "-o", "model.c", (char *)extra1, (char *)extra2, NULL};
    run_in(dir, argv, r);
    return dir;
}

/* The spec fails with exactly `expected` on stderr, exit 1, nothing written. */
static void expect_error_n(const char *src, size_t len, const char *expected, const char *extra1, const char *extra2) {
    static run_result r;
    char *dir = run_spec(src, len, &r, extra1, extra2);
    char listing[1024];
    list_dir(dir, listing, sizeof listing);
    cr_expect_eq(r.status, 1, "exit status %d, stderr: %s", r.status, r.err);
    cr_expect_str_eq(r.err, expected);
    cr_expect_str_eq(r.out, "");
    cr_expect_str_eq(listing, "x.lua", "files left behind: %s", listing);
    rm_tree(dir);
    free(dir);
}
static void expect_error(const char *src, const char *expected) {
    expect_error_n(src, strlen(src), expected, NULL, NULL);
}

#define HEAD "return sequential \"m\" {\n  embedding { 500, 16, input_length = 10 },\n"
#define OUT1 "  dense { 1, activation = \"sigmoid\" },\n"

/* ---- the seed specs ------------------------------------------------------------------ */

static void expect_total(const char *spec, const char *total_line) {
    run_result *r = malloc(sizeof *r);
    char root[PATH_MAX];
    cr_assert(realpath(".", root));
    char *argv[] = {(char *)build_path("rnnc"), (char *)spec, "--summary", NULL};
    run_in(root, argv, r);
    cr_expect_eq(r->status, 0, "%s: %s", spec, r->err);
    cr_expect(strstr(r->out, total_line) != NULL, "%s: no '%s' in:\n%s", spec, total_line, r->out);
    free(r);
}

Test(summary, seed_totals) {
    expect_total("specs/simplernn.lua", "Total params: 8209 (32.07 KB)\n");
    expect_total("specs/lstm.lua", "Total params: 8809 (34.41 KB)\n");
    expect_total("specs/lstm_dropout.lua", "Total params: 8809 (34.41 KB)\n");
    expect_total("specs/lstm2.lua", "Total params: 9353 (36.54 KB)\n");
    expect_total("specs/gru.lua", "Total params: 8633 (33.72 KB)\n");
}

/* Keras's totals for its IMDB examples (docs/keras-semantics.md, Bidirectional), and the
 * summary's rows as Keras 2 prints them: a name and class longer than the column go on
 * in the same column of the next line. */
Test(summary, imdb_totals_and_rows) {
    expect_total("specs/imdb_lstm.lua", "Total params: 2691713 (10.27 MB)\n");
    expect_total("specs/imdb_bidirectional.lua", "Total params: 2658945 (10.14 MB)\n");
    expect_total("specs/imdb_bidirectional2.lua", "Total params: 2757761 (10.52 MB)\n");
    expect_total("specs/imdb_masked_gru.lua", "Total params: 326369 (1.24 MB)\n");   /* the mask adds none */
    run_result *r = malloc(sizeof *r);
    char root[PATH_MAX];
    cr_assert(realpath(".", root));
    char *argv[] = {(char *)build_path("rnnc"), "specs/imdb_bidirectional2.lua", "--summary", NULL};
    run_in(root, argv, r);
    cr_assert_eq(r->status, 0);
    cr_expect(strstr(r->out, " embedding (Embedding)       (None, 200, 128)          2560000   \n"), "%s", r->out);
    cr_expect(strstr(r->out, " bidirectional (Bidirectiona  (None, 200, 128)         98816     \n"
                             " l)                                                              \n"), "%s", r->out);
    cr_expect(strstr(r->out, " bidirectional_1 (Bidirectio  (None, 128)              98816     \n"
                             " nal)                                                            \n"), "%s", r->out);
    cr_expect(strstr(r->out, " dense (Dense)               (None, 1)                 129       \n"), "%s", r->out);
    free(r);
}

/* Keras's totals for its convolution and pooling IMDB examples, and the rows whose shapes
 * the windows change (docs/keras-semantics.md, Conv1D, Pooling). */
Test(summary, imdb_zoo_totals_and_shapes) {
    expect_total("specs/imdb_cnn.lua", "Total params: 350751 (1.34 MB)\n");
    expect_total("specs/imdb_cnn_lstm.lua", "Total params: 2638895 (10.07 MB)\n");
    expect_total("specs/imdb_fasttext.lua", "Total params: 1000051 (3.81 MB)\n");
    expect_total("specs/imdb_flatten.lua", "Total params: 80161 (313.13 KB)\n");
    static const struct {
        const char *spec, *row;
    } rows[] = {
        {"specs/imdb_cnn.lua", " conv1d (Conv1D)             (None, 398, 250)          37750     \n"},
        {"specs/imdb_cnn.lua", " global_max_pooling1d (Globa  (None, 250)              0         \n"},
        {"specs/imdb_cnn.lua", " activation_1 (Activation)   (None, 1)                 0         \n"},
        {"specs/imdb_cnn_lstm.lua", " conv1d (Conv1D)             (None, 96, 64)            41024     \n"},
        {"specs/imdb_cnn_lstm.lua", " max_pooling1d (MaxPooling1D  (None, 24, 64)           0         \n"},
        {"specs/imdb_cnn_lstm.lua", " lstm (LSTM)                 (None, 70)                37800     \n"},
        {"specs/imdb_fasttext.lua", " global_average_pooling1d (G  (None, 50)               0         \n"},
        {"specs/imdb_flatten.lua", " flatten (Flatten)           (None, 160)               0         \n"},
    };
    run_result *r = malloc(sizeof *r);
    char root[PATH_MAX];
    cr_assert(realpath(".", root));
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        char *argv[] = {(char *)build_path("rnnc"), (char *)rows[k].spec, "--summary", NULL};
        run_in(root, argv, r);
        cr_assert_eq(r->status, 0, "%s: %s", rows[k].spec, r->err);
        cr_expect(strstr(r->out, rows[k].row) != NULL, "%s: no row '%s' in:\n%s", rows[k].spec, rows[k].row, r->out);
    }
    free(r);
}

Test(summary, lstm2_table) {
    run_result *r = malloc(sizeof *r);
    char root[PATH_MAX];
    cr_assert(realpath(".", root));
    char *argv[] = {(char *)build_path("rnnc"), "specs/lstm2.lua", "--summary", NULL};
    run_in(root, argv, r);
    cr_assert_eq(r->status, 0);
    cr_expect(strstr(r->out, "Model: \"lstm2\"\n"));
    cr_expect(strstr(r->out, " embedding (Embedding)       (None, 100, 16)           8000"));
    cr_expect(strstr(r->out, " lstm (LSTM)                 (None, 100, 8)            800"));
    cr_expect(strstr(r->out, " lstm_1 (LSTM)               (None, 8)                 544"));
    cr_expect(strstr(r->out, " dense (Dense)               (None, 1)                 9"));
    free(r);
}

Test(summary, loops_build_layers_and_gru_reset_after_false) {
    const char *src = HEAD
        "  (function() local t = {} for i = 1, 3 do t[i] = gru { 4, return_sequences = i < 3, reset_after = false } end return t end)(),\n"
        OUT1 "}\n";
    static run_result r;
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", src, strlen(src));
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", "--summary", NULL};
    run_in(dir, argv, &r);
    cr_expect_eq(r.status, 0, "%s", r.err);
    /* gru on 16 inputs, reset_after=false: 3*(16*4 + 4*4 + 4) = 252; on 4 inputs: 3*(16+16+4) = 108 */
    cr_expect(strstr(r.out, " gru (GRU)                   (None, 10, 4)             252"), "%s", r.out);
    cr_expect(strstr(r.out, " gru_2 (GRU)                 (None, 4)                 108"), "%s", r.out);
    cr_expect(strstr(r.out, "Total params: 8473 "), "%s", r.out);
    rm_tree(dir);
    free(dir);
}

Test(cli, exit_codes_and_help) {
    run_result *r = malloc(sizeof *r);
    char *a1[] = {(char *)build_path("rnnc"), "--help", NULL};
    run_in("/tmp", a1, r);
    cr_expect_eq(r->status, 0);
    cr_expect(strstr(r->out, "usage: rnnc SPEC.lua"));
    char *a2[] = {(char *)build_path("rnnc"), "--version", NULL};
    run_in("/tmp", a2, r);
    cr_expect_eq(r->status, 0);
    cr_expect(strncmp(r->out, "rnnc ", 5) == 0);
    char *a3[] = {(char *)build_path("rnnc"), NULL};
    run_in("/tmp", a3, r);
    cr_expect_eq(r->status, 2);
    cr_expect_str_eq(r->err, "rnnc: no spec given\nTry 'rnnc --help'.\n");
    char *a4[] = {(char *)build_path("rnnc"), "x.lua", "--frobnicate", NULL};
    run_in("/tmp", a4, r);
    cr_expect_eq(r->status, 2);
    cr_expect_str_eq(r->err, "rnnc: unknown option '--frobnicate'\nTry 'rnnc --help'.\n");
    char *a5[] = {(char *)build_path("rnnc"), "x.lua", "--time-limit", "soon", NULL};
    run_in("/tmp", a5, r);
    cr_expect_eq(r->status, 2);
    free(r);
}

/* ---- broken specs: exact messages with lines ------------------------------------------- */

#define ERR_TEST(name, src, msg) \
    Test(spec_errors, name) { expect_error(src, msg); }

ERR_TEST(lua_syntax_error, "return sequential \"m\" {\n  embedding { 500, 16 input_length = 10 },\n}\n",
         "x.lua:2: '}' expected near 'input_length'\n")
ERR_TEST(lua_runtime_error, "local t = nil\nlocal n = 3\nreturn t.x\n",
         "x.lua:3: attempt to index a nil value (local 't')\n")
ERR_TEST(error_called, "\n\nerror(\"no model for you\")\n", "x.lua:3: no model for you\n")
ERR_TEST(returns_nothing, "local x = 1\n-- nothing\n", "x.lua:2: the spec returned nothing; it must end with return sequential \"name\" { ... }\n")
ERR_TEST(returns_number, "return 42\n", "x.lua:1: the spec must return a model made with sequential \"name\" { ... } (it returned a number)\n")
ERR_TEST(returns_layer, "\nreturn lstm { 8 }\n", "x.lua:2: the spec must return a model made with sequential \"name\" { ... }, not a lstm\n")
ERR_TEST(unknown_constructor, HEAD "  lstmm { 8 },\n" OUT1 "}\n", "x.lua:3: undefined name 'lstmm' (did you mean 'lstm'?)\n")
ERR_TEST(keras_class_name, HEAD "  LSTM { 8 },\n" OUT1 "}\n", "x.lua:3: undefined name 'LSTM' (did you mean 'lstm'?)\n")
ERR_TEST(unknown_keyword, HEAD "  lstm { 8, dropuot = 0.3 },\n" OUT1 "}\n",
         "x.lua:3: lstm: unknown keyword 'dropuot' (did you mean 'dropout'?)\n")
ERR_TEST(unknown_keyword_no_suggestion, HEAD "  lstm { 8, frobnicate = 1 },\n" OUT1 "}\n",
         "x.lua:3: lstm: unknown keyword 'frobnicate'\n")
ERR_TEST(negative_units_second_lstm, HEAD "  lstm { 8, return_sequences = true },\n\n\n\n  lstm { -3 },\n" OUT1 "}\n",
         "x.lua:7: lstm_1: units must be a positive integer (got -3)\n")
ERR_TEST(fractional_units, HEAD "  gru { 8.5 },\n" OUT1 "}\n", "x.lua:3: gru: units must be a positive integer (got 8.5)\n")
ERR_TEST(string_units, HEAD "  simple_rnn { \"8\" },\n" OUT1 "}\n",
         "x.lua:3: simple_rnn: units must be a positive integer (got string \"8\")\n")
ERR_TEST(missing_units, HEAD "  lstm { dropout = 0.2 },\n" OUT1 "}\n", "x.lua:3: lstm: units is required, as in lstm { 8 }\n")
ERR_TEST(units_twice, HEAD "  lstm { 8, units = 4 },\n" OUT1 "}\n",
         "x.lua:3: lstm: units is given twice (positionally and as units =)\n")
ERR_TEST(too_many_positional, HEAD "  lstm { 8, 0.3 },\n" OUT1 "}\n",
         "x.lua:3: lstm: too many positional arguments (at most 1: units)\n")
ERR_TEST(nan_dropout, HEAD "  lstm { 8, dropout = 0/0 },\n" OUT1 "}\n", "x.lua:3: lstm: dropout must be a finite number (got nan)\n")
ERR_TEST(infinite_rate, HEAD "  lstm { 8 },\n  dropout { math.huge },\n" OUT1 "}\n",
         "x.lua:4: dropout: rate must be a finite number (got inf)\n")
ERR_TEST(dropout_is_one, HEAD "  lstm { 8, dropout = 1 },\n" OUT1 "}\n", "x.lua:3: lstm: dropout must be in [0, 1) (got 1)\n")
ERR_TEST(negative_recurrent_dropout, HEAD "  gru { 8, recurrent_dropout = -0.1 },\n" OUT1 "}\n",
         "x.lua:3: gru: recurrent_dropout must be in [0, 1) (got -0.1)\n")
ERR_TEST(units_beyond_limit, HEAD "  lstm { 5000 },\n" OUT1 "}\n", "x.lua:3: lstm: units must be at most 4096 (got 5000)\n")
ERR_TEST(too_many_parameters,
         "return sequential \"m\" {\n  embedding { 16000000, 4096, input_length = 10 },\n  lstm { 8 },\n" OUT1 "}\n",
         "x.lua:2: embedding: the model reaches 65536000000 parameters here, more than the limit of 134217728\n")
ERR_TEST(bool_as_number, HEAD "  lstm { 8, return_sequences = 1 },\n" OUT1 "}\n",
         "x.lua:3: lstm: return_sequences must be true or false (got 1)\n")
ERR_TEST(rnn_fed_by_vector, HEAD "  lstm { 8 },\n  lstm { 8 },\n" OUT1 "}\n",
         "x.lua:4: lstm_1: input must be a sequence, but lstm returns only its last output (None, 8); set return_sequences = true on lstm\n")
ERR_TEST(output_is_a_sequence, HEAD "  lstm { 8, return_sequences = true },\n" OUT1 "}\n",
         "x.lua:4: dense: the output is a sequence (None, 10, 1), but the loss takes one vector per sample; end the sequence "
         "before the output layer (return_sequences = false, a global pooling layer or flatten)\n")
ERR_TEST(output_not_dense, HEAD "  lstm { 8 },\n}\n", "x.lua:3: lstm: the output layer must be dense or activation (got lstm)\n")
/* the non-recurrent layers (docs/keras-semantics.md, Conv1D, Pooling, Losses) */
ERR_TEST(conv1d_output_empty, HEAD "  conv1d { 4, 6, dilation_rate = 2 },\n  global_max_pooling1d { },\n" OUT1 "}\n",
         "x.lua:3: conv1d: the output would be empty: the input has 10 steps, fewer than the kernel spans (kernel_size 6, "
         "dilation_rate 2: 11 steps) with padding = \"valid\"\n")
ERR_TEST(conv1d_strides_with_dilation, HEAD "  conv1d { 4, 3, 2, \"same\", dilation_rate = 2 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: conv1d: strides > 1 cannot be combined with dilation_rate > 1 (got strides = 2, dilation_rate = 2)\n")
ERR_TEST(conv1d_on_a_vector, HEAD "  lstm { 8 },\n  conv1d { 4, 3 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:4: conv1d: input must be a sequence, but lstm returns only its last output (None, 8); set return_sequences = "
         "true on lstm\n")
ERR_TEST(conv1d_needs_kernel_size, HEAD "  conv1d { 4 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: conv1d: kernel_size is required, as in conv1d { 64, 3 }\n")
ERR_TEST(conv1d_misspelt_keyword, HEAD "  conv1d { 4, 3, dilaton_rate = 2 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: conv1d: unknown keyword 'dilaton_rate' (did you mean 'dilation_rate'?)\n")
ERR_TEST(conv1d_zero_filters, HEAD "  conv1d { 0, 3 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: conv1d: filters must be a positive integer (got 0)\n")
ERR_TEST(pool_longer_than_sequence, HEAD "  max_pooling1d { 12 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: max_pooling1d: the output would be empty: pool_size 12 is longer than the input sequence (10 steps) with "
         "padding = \"valid\"\n")
ERR_TEST(pool_causal_padding, HEAD "  average_pooling1d { 2, padding = \"causal\" },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: average_pooling1d: padding must be one of \"valid\", \"same\" (got \"causal\")\n")
ERR_TEST(pool_zero_strides, HEAD "  max_pooling1d { 2, 0 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: max_pooling1d: strides must be a positive integer (got 0)\n")
ERR_TEST(global_pool_on_a_vector, HEAD "  global_average_pooling1d { },\n  global_max_pooling1d { },\n" OUT1 "}\n",
         "x.lua:4: global_max_pooling1d: input must be a sequence (None, steps, features), but global_average_pooling1d "
         "returns one vector per sample (None, 16)\n")
ERR_TEST(spatial_dropout_rate, HEAD "  spatial_dropout1d { 1.5 },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:3: spatial_dropout1d: rate must be in [0, 1) (got 1.5)\n")
ERR_TEST(output_activation_not_sigmoid, HEAD "  flatten { },\n  dense { 1 },\n  activation { \"relu\" },\n}\n",
         "x.lua:5: activation: binary_crossentropy needs an output layer with activation = \"sigmoid\" (got 1 "
         "units, \"relu\")\n")
ERR_TEST(output_activation_on_a_sequence, HEAD "  dense { 1 },\n  activation { \"sigmoid\" },\n}\n",
         "x.lua:4: activation: the output is a sequence (None, 10, 1), but the loss takes one vector per sample; end the "
         "sequence before the output layer (return_sequences = false, a global pooling layer or flatten)\n")
ERR_TEST(activation_needs_a_name, HEAD "  flatten { },\n  dense { 1 },\n  activation { },\n}\n",
         "x.lua:5: activation: activation is required, as in activation { \"relu\" }\n")
ERR_TEST(bce_needs_sigmoid_units, HEAD "  lstm { 8 },\n  dense { 2, activation = \"softmax\" },\n}\n",
         "x.lua:4: dense: binary_crossentropy needs an output layer with activation = \"sigmoid\" (got 2 units, \"softmax\")\n")
ERR_TEST(softmax_sparse_needs_two_units,
         HEAD "  lstm { 8 },\n  dense { 1, activation = \"softmax\" },\n  compile = { loss = \"sparse_categorical_crossentropy\" },\n}\n",
         "x.lua:4: dense: sparse_categorical_crossentropy needs an output layer with at least 2 units and activation = \"softmax\" (got 1 units, \"softmax\")\n")
ERR_TEST(misspelt_activation, HEAD "  lstm { 8 },\n  dense { 1, activation = \"sigmod\" },\n}\n",
         "x.lua:4: dense: activation must be one of \"linear\", \"sigmoid\", \"tanh\", \"relu\", \"softmax\" (got \"sigmod\"; did you mean \"sigmoid\"?)\n")
ERR_TEST(unknown_loss, HEAD "  lstm { 8 },\n" OUT1 "  compile = { loss = \"binary_crossentropi\" },\n}\n",
         "x.lua:1: compile: loss must be one of \"binary_crossentropy\", \"sparse_categorical_crossentropy\", \"categorical_crossentropy\" (got \"binary_crossentropi\"; did you mean \"binary_crossentropy\"?)\n")
/* the training controls: schedules, metrics, class weights, callbacks, trainable */
#define LSTM8 "  lstm { 8 },\n"
ERR_TEST(schedule_missing_argument, HEAD LSTM8 OUT1 "  compile = {\n    optimizer = adam { learning_rate = exponential_decay { 1e-3, 100 } },\n  },\n}\n",
         "x.lua:6: exponential_decay: decay_rate is required, as in exponential_decay { 1e-3, 1000, 0.96 }\n")
ERR_TEST(schedule_values_count, HEAD LSTM8 OUT1
         "  compile = {\n    optimizer = sgd { piecewise_constant_decay { { 10, 20 }, { 0.1, 0.01 } } },\n  },\n}\n",
         "x.lua:6: piecewise_constant_decay: values must hold one more number than boundaries (got 2 values for 2 boundaries)\n")
ERR_TEST(schedule_bad_decay_steps, HEAD LSTM8 OUT1 "  compile = { optimizer = rmsprop { cosine_decay { 1e-3, 0 } } },\n}\n",
         "x.lua:5: cosine_decay: decay_steps must be a positive number (got 0)\n")
ERR_TEST(learning_rate_not_a_schedule, HEAD LSTM8 OUT1 "  compile = { optimizer = adam { learning_rate = lstm { 8 } } },\n}\n",
         "x.lua:5: adam: learning_rate must be a number or a schedule such as exponential_decay { 1e-3, 1000, 0.96 } (got lstm (line 5))\n")
ERR_TEST(plateau_with_a_schedule, HEAD LSTM8 OUT1
         "  compile = { optimizer = adam { learning_rate = inverse_time_decay { 1e-3, 10, 0.5 } } },\n"
         "  fit = { callbacks = {\n    reduce_lr_on_plateau { patience = 2 },\n  } },\n}\n",
         "x.lua:7: reduce_lr_on_plateau: the optimizer's learning_rate is the schedule inverse_time_decay, which decides every step's rate: reduce_lr_on_plateau cannot change it (as in Keras)\n")
ERR_TEST(plateau_factor, HEAD LSTM8 OUT1 "  fit = { callbacks = { reduce_lr_on_plateau { factor = 1 } } },\n}\n",
         "x.lua:5: reduce_lr_on_plateau: factor must be in (0, 1) (got 1)\n")
ERR_TEST(class_weight_gap, HEAD LSTM8 OUT1 "  fit = { class_weight = { [0] = 1, [2] = 3 } },\n}\n",
         "x.lua:1: fit: class_weight has no weight for class 1 (give every class from 0 to 2)\n")
ERR_TEST(class_weight_beyond_the_classes, HEAD LSTM8 OUT1 "  fit = { class_weight = { [0] = 1, [1] = 3, [2] = 1 } },\n}\n",
         "x.lua:1: fit: class_weight has 3 classes, but the model has 2\n")
ERR_TEST(auc_with_sparse_labels, HEAD LSTM8 "  dense { 3, activation = \"softmax\" },\n"
         "  compile = { loss = \"sparse_categorical_crossentropy\", metrics = { \"auc\" } },\n}\n",
         "x.lua:1: compile: auc, precision and recall need labels shaped like the output: use \"categorical_crossentropy\" with one-hot labels, or \"binary_crossentropy\"\n")
ERR_TEST(monitor_needs_its_metric, HEAD LSTM8 OUT1 "  fit = { callbacks = { early_stopping { monitor = \"val_auc\" } } },\n}\n",
         "x.lua:5: early_stopping: monitor 'val_auc' needs metrics = { \"auc\" } in compile\n")
ERR_TEST(categorical_accuracy_needs_categories, HEAD LSTM8 OUT1 "  compile = { metrics = { \"categorical_accuracy\" } },\n}\n",
         "x.lua:1: compile: metric \"categorical_accuracy\" does not fit loss \"binary_crossentropy\" with 1 output; use \"accuracy\"\n")
ERR_TEST(embedding_clip_value, HEAD LSTM8 OUT1 "  compile = { optimizer = sgd { clipnorm = 1, embedding_clip = \"table\" } },\n}\n",
         "x.lua:5: sgd: embedding_clip must be one of \"per_lookup\", \"summed\" (got \"table\")\n")
ERR_TEST(trainable_not_a_boolean, "return sequential \"m\" {\n  embedding { 500, 16, input_length = 10, trainable = 0 },\n" LSTM8 OUT1 "}\n",
         "x.lua:2: embedding: trainable must be true or false (got 0)\n")

ERR_TEST(duplicate_names, HEAD "  lstm { 8, name = \"enc\", return_sequences = true },\n  gru { 8, name = \"enc\" },\n" OUT1 "}\n",
         "x.lua:4: duplicate layer name 'enc' (line 3 already uses it)\n")
ERR_TEST(auto_name_collides, HEAD "  lstm { 8, name = \"lstm_1\", return_sequences = true },\n  lstm { 8 },\n  lstm { 8 },\n" OUT1 "}\n",
         "x.lua:5: duplicate layer name 'lstm_1' (line 3 already uses it)\n")
ERR_TEST(name_not_identifier, HEAD "  lstm { 8, name = \"my-lstm\" },\n" OUT1 "}\n",
         "x.lua:3: layer name 'my-lstm' is not a C identifier (letters, digits and _, not starting with a digit)\n")
ERR_TEST(model_name_not_identifier, "return sequential \"2fast\" {\n  embedding { 500, 16, input_length = 10 },\n  lstm { 8 },\n" OUT1 "}\n",
         "x.lua:1: model name '2fast' is not a C identifier (letters, digits and _, not starting with a digit)\n")
ERR_TEST(missing_input_length, "return sequential \"m\" {\n  embedding { 500, 16 },\n  lstm { 8 },\n" OUT1 "}\n",
         "x.lua:2: embedding: input_length is required (rnnc compiles for a fixed sequence length)\n")
ERR_TEST(first_layer_not_embedding, "return sequential \"m\" {\n  lstm { 8 },\n" OUT1 "}\n",
         "x.lua:2: lstm: the first layer must be an embedding (rnnc models read token ids)\n")
ERR_TEST(entry_not_a_layer, HEAD "  lstm { 8 },\n  42,\n" OUT1 "}\n", "x.lua:1: sequential: entry 3 is 42, not a layer\n")
ERR_TEST(optimizer_in_layers, HEAD "  rmsprop { },\n" OUT1 "}\n", "x.lua:3: sequential: entry 2 is rmsprop (line 3), not a layer\n")
ERR_TEST(bad_learning_rate, HEAD "  lstm { 8 },\n" OUT1 "  compile = {\n    optimizer = rmsprop { learning_rate = -1e-4 },\n  },\n}\n",
         "x.lua:6: rmsprop: learning_rate must be a positive number (got -0.0001)\n")
ERR_TEST(both_clipnorms, HEAD "  lstm { 8 },\n" OUT1 "  compile = { optimizer = adam { clipnorm = 1, global_clipnorm = 1 } },\n}\n",
         "x.lua:5: adam: set at most one of clipnorm, global_clipnorm and clipvalue (as Keras 3 requires)\n")
ERR_TEST(accuracy_monitor_without_metric, HEAD "  lstm { 8 },\n" OUT1 "  fit = { callbacks = {\n    early_stopping { monitor = \"val_accuracy\" },\n  } },\n}\n",
         "x.lua:6: early_stopping: monitor 'val_accuracy' needs metrics = { \"accuracy\" } in compile\n")
ERR_TEST(checkpoint_without_path, HEAD "  lstm { 8 },\n" OUT1 "  fit = { callbacks = {\n    model_checkpoint { save_best_only = true },\n  } },\n}\n",
         "x.lua:6: model_checkpoint: filepath is required, as in model_checkpoint { \"best.safetensors\" }\n")
ERR_TEST(bad_batch_size, HEAD "  lstm { 8 },\n" OUT1 "  fit = { batch_size = 0 },\n}\n",
         "x.lua:1: fit: batch_size must be an integer in [1, 65536] (got 0)\n")
ERR_TEST(validation_split_one, HEAD "  lstm { 8 },\n" OUT1 "  fit = { validation_split = 1 },\n}\n",
         "x.lua:1: fit: validation_split must be in [0, 1) (got 1)\n")
ERR_TEST(fit_unknown_keyword, HEAD "  lstm { 8 },\n" OUT1 "  fit = { epoch = 3 },\n}\n",
         "x.lua:1: fit: unknown keyword 'epoch' (did you mean 'epochs'?)\n")
ERR_TEST(constructor_without_table, HEAD "  lstm(8),\n" OUT1 "}\n",
         "x.lua:3: lstm: expected a table of arguments, as in lstm { ... } (got number)\n")
ERR_TEST(bidirectional_of_dense, HEAD "  bidirectional { dense { 4 } },\n" OUT1 "}\n",
         "x.lua:3: bidirectional: layer must be a recurrent layer: simple_rnn { ... }, lstm { ... } or gru { ... } (got dense (line 3))\n")
ERR_TEST(bidirectional_of_bidirectional, HEAD "  bidirectional {\n    bidirectional { lstm { 8 } } },\n" OUT1 "}\n",
         "x.lua:3: bidirectional_1: layer must be a recurrent layer: simple_rnn { ... }, lstm { ... } or gru { ... } (got bidirectional (line 4))\n")
ERR_TEST(bidirectional_without_layer, HEAD "  bidirectional { merge_mode = \"sum\" },\n" OUT1 "}\n",
         "x.lua:3: bidirectional: layer is required, as in bidirectional { lstm { 64 } }\n")
ERR_TEST(bidirectional_merge_none, HEAD "  bidirectional { lstm { 8 }, merge_mode = \"none\" },\n" OUT1 "}\n",
         "x.lua:3: bidirectional: merge_mode \"none\" (Keras's None) returns the two halves' outputs as a list, which a sequential "
         "model cannot pass on; use \"concat\", \"sum\", \"mul\" or \"ave\"\n")
ERR_TEST(bidirectional_merge_misspelt, HEAD "  bidirectional { lstm { 8 }, merge_mode = \"avg\" },\n" OUT1 "}\n",
         "x.lua:3: bidirectional: merge_mode must be one of \"concat\", \"sum\", \"mul\", \"ave\", \"none\" (got \"avg\"; did you mean \"ave\"?)\n")
ERR_TEST(bidirectional_wrapped_units, HEAD "  bidirectional {\n\n    gru { -3 } },\n" OUT1 "}\n",
         "x.lua:5: gru: units must be a positive integer (got -3)\n")
ERR_TEST(bidirectional_wrapped_keyword, HEAD "  bidirectional { lstm { 8, dropuot = 0.2 } },\n" OUT1 "}\n",
         "x.lua:3: lstm: unknown keyword 'dropuot' (did you mean 'dropout'?)\n")
ERR_TEST(bidirectional_backward_layer, HEAD "  bidirectional { lstm { 8 }, backward_layer = lstm { 8, go_backwards = true } },\n" OUT1 "}\n",
         "x.lua:3: bidirectional: unknown keyword 'backward_layer'\n")
ERR_TEST(bidirectional_fed_by_vector, HEAD "  lstm { 8 },\n  bidirectional { gru { 8 } },\n" OUT1 "}\n",
         "x.lua:4: gru: input must be a sequence, but lstm returns only its last output (None, 8); set return_sequences = true on lstm\n")
ERR_TEST(bidirectional_wrapped_name, HEAD "  bidirectional { lstm { 8, name = \"my-lstm\" } },\n" OUT1 "}\n",
         "x.lua:3: layer name 'my-lstm' is not a C identifier (letters, digits and _, not starting with a digit)\n")
ERR_TEST(go_backwards_not_bool, HEAD "  gru { 8, go_backwards = \"yes\" },\n" OUT1 "}\n",
         "x.lua:3: gru: go_backwards must be true or false (got string \"yes\")\n")
ERR_TEST(mask_zero_refused_by_conv1d,
         "return sequential \"m\" {\n  embedding { 500, 16, input_length = 10, mask_zero = true },\n  dense { 4 },\n"
         "  conv1d { 8, 3 },\n  global_max_pooling1d { },\n" OUT1 "}\n",
         "x.lua:4: conv1d: does not support masking (Keras raises \"does not support masking, but was passed an input_mask\"), "
         "but its input carries the mask of embedding (mask_zero = true); set mask_zero = false, or end the mask before it "
         "(a recurrent layer without return_sequences, or global_average_pooling1d)\n")
ERR_TEST(mask_zero_refused_after_sequences, "return sequential \"m\" {\n  embedding { 500, 16, input_length = 10, mask_zero = true },\n"
         "  bidirectional { gru { 4, return_sequences = true } },\n  flatten { },\n" OUT1 "}\n",
         "x.lua:4: flatten: does not support masking (Keras raises \"does not support masking, but was passed an input_mask\"), "
         "but its input carries the mask of embedding (mask_zero = true); set mask_zero = false, or end the mask before it "
         "(a recurrent layer without return_sequences, or global_average_pooling1d)\n")

Test(spec_errors, empty_file) { expect_error_n("", 0, "x.lua:1: the spec is empty; it must return a model (return sequential \"name\" { ... })\n", NULL, NULL); }
Test(spec_errors, whitespace_only) { expect_error("\n   \n\t\n", "x.lua:1: the spec is empty; it must return a model (return sequential \"name\" { ... })\n"); }
Test(spec_errors, nul_byte) {
    static const char src[] = "return 1\n--\0\n";
    expect_error_n(src, sizeof src - 1, "x.lua:2: not a text file (binary spec files are rejected)\n", NULL, NULL);
}

Test(spec_errors, missing_file) {
    run_result *r = malloc(sizeof *r);
    char *dir = make_temp_dir();
    char *argv[] = {(char *)build_path("rnnc"), "nope.lua", "-o", "model.c", NULL};
    run_in(dir, argv, r);
    char listing[256];
    list_dir(dir, listing, sizeof listing);
    cr_expect_eq(r->status, 1);
    cr_expect_str_eq(r->err, "nope.lua: cannot open the spec: No such file or directory\n");
    cr_expect_str_eq(listing, "");
    rm_tree(dir);
    free(dir);
    free(r);
}

Test(spec_errors, directory_and_unreadable) {
    run_result *r = malloc(sizeof *r);
    char *dir = make_temp_dir();
    char *argv[] = {(char *)build_path("rnnc"), ".", NULL};
    run_in(dir, argv, r);
    cr_expect_eq(r->status, 1);
    cr_expect_str_eq(r->err, ".: cannot read the spec: not a regular file\n");
    if (geteuid() != 0) {   /* root reads anything; the mode check only means something for others */
        write_file(dir, "x.lua", "return 1\n", 9);
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/x.lua", dir);
        chmod(p, 0);
        char *argv2[] = {(char *)build_path("rnnc"), "x.lua", NULL};
        run_in(dir, argv2, r);
        cr_expect_eq(r->status, 1);
        cr_expect_str_eq(r->err, "x.lua: cannot open the spec: Permission denied\n");
    }
    rm_tree(dir);
    free(dir);
    free(r);
}

/* ---- the README's limits: each one exactly is accepted, one past it is an error --------- */

/* `rnnc x.lua --check` in a fresh directory accepts src: exit 0, stdout exactly
 * `expected`, nothing on stderr, no file written. */
static void expect_check_ok_n(const char *src, size_t len, const char *expected) {
    static run_result r;
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", src, len);
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", "--check", NULL};
    run_in(dir, argv, &r);
    char listing[1024];
    list_dir(dir, listing, sizeof listing);
    cr_expect_eq(r.status, 0, "exit status %d, stderr: %s", r.status, r.err);
    cr_expect_str_eq(r.out, expected);
    cr_expect_str_eq(r.err, "");
    cr_expect_str_eq(listing, "x.lua", "files left behind: %s", listing);
    rm_tree(dir);
    free(dir);
}
static void expect_check_ok(const char *src, const char *expected) { expect_check_ok_n(src, strlen(src), expected); }

/* A model of `n` layers in all: embedding 50x6 (length 5), n - 2 LSTM(4) made by a loop
 * on line 2, a sigmoid head on line 6; 300 + 176 + (n - 3) * 144 + 5 parameters. */
static char *loop_stack(int n) {
    static char src[512];
    snprintf(src, sizeof src,
             "local s = {}\nfor i = 1, %d do s[i] = lstm { 4, return_sequences = i < %d } end\n"
             "return sequential \"m\" {\n  embedding { 50, 6, input_length = 5 },\n  s,\n"
             "  dense { 1, activation = \"sigmoid\" },\n}\n", n - 2, n - 2);
    return src;
}

Test(limits, layers) {
    expect_check_ok(loop_stack(32), "x.lua: ok: model \"m\", 32 layers, 4657 parameters\n");
    /* the 33rd layer is the head, on line 6 */
    expect_error(loop_stack(33), "x.lua:6: sequential: the model has more than 32 layers (the limit)\n");
    /* the 33rd is the loop's last lstm (line 2) when the head makes 34 */
    expect_error(loop_stack(34), "x.lua:2: sequential: the model has more than 32 layers (the limit)\n");
    /* dropout layers count: 32 with a dropout on line 6; one more on line 7 makes the
     * head on line 8 the 33rd */
    const char *drops =
        "local s = {}\nfor i = 1, 29 do s[i] = lstm { 4, return_sequences = i < 29 } end\n"
        "return sequential \"m\" {\n  embedding { 50, 6, input_length = 5 },\n  s,\n"
        "  dropout { 0.2 },\n%s  dense { 1, activation = \"sigmoid\" },\n}\n";
    char src[1024];
    snprintf(src, sizeof src, drops, "");
    expect_check_ok(src, "x.lua: ok: model \"m\", 32 layers, 4513 parameters\n");
    snprintf(src, sizeof src, drops, "  dropout { 0.1 },\n");
    expect_error(src, "x.lua:8: sequential: the model has more than 32 layers (the limit)\n");
}

#define TINY_RNN "  simple_rnn { 4 },\n"   /* on 4 inputs: 36 parameters, 5 with the head */

Test(limits, units_and_embedding_dimensions) {
    /* 50*4096 + 4096*(4096 + 4096 + 1) + (4096*4096 + 4096) + (4096*2 + 2) */
    expect_check_ok("return sequential \"m\" {\n  embedding { 50, 4096, input_length = 2 },\n  simple_rnn { 4096 },\n"
                    "  dense { 4096, activation = \"relu\" },\n  dense { 2, activation = \"softmax\" },\n"
                    "  compile = { loss = \"sparse_categorical_crossentropy\" },\n}\n",
                    "x.lua: ok: model \"m\", 4 layers, 50552834 parameters\n");
    /* 50 + 4*4096*(1 + 4096 + 1) + 4097 */
    expect_check_ok("return sequential \"m\" {\n  embedding { 50, 1, input_length = 2 },\n  lstm { 4096 },\n" OUT1 "}\n",
                    "x.lua: ok: model \"m\", 3 layers, 67145779 parameters\n");
    /* 50 + 3*4096*(1 + 4096 + 2) + 4097 (reset_after: two biases) */
    expect_check_ok("return sequential \"m\" {\n  embedding { 50, 1, input_length = 2 },\n  gru { 4096 },\n" OUT1 "}\n",
                    "x.lua: ok: model \"m\", 3 layers, 50372659 parameters\n");
    expect_error("return sequential \"m\" {\n  embedding { 50, 4097, input_length = 2 },\n" TINY_RNN OUT1 "}\n",
                 "x.lua:2: embedding: output_dim must be at most 4096 (got 4097)\n");
    expect_error("return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n  simple_rnn { 4097 },\n" OUT1 "}\n",
                 "x.lua:3: simple_rnn: units must be at most 4096 (got 4097)\n");
    expect_error("return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n  lstm { 4097 },\n" OUT1 "}\n",
                 "x.lua:3: lstm: units must be at most 4096 (got 4097)\n");
    expect_error("return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n  gru { 4097 },\n" OUT1 "}\n",
                 "x.lua:3: gru: units must be at most 4096 (got 4097)\n");
    expect_error("return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n" TINY_RNN
                 "  dense { 4097, activation = \"softmax\" },\n  compile = { loss = \"sparse_categorical_crossentropy\" },\n}\n",
                 "x.lua:4: dense: units must be at most 4096 (got 4097)\n");
}

Test(limits, vocabulary) {
    expect_check_ok("return sequential \"m\" {\n  embedding { 16777216, 1, input_length = 2 },\n  simple_rnn { 4 },\n" OUT1 "}\n",
                    "x.lua: ok: model \"m\", 3 layers, 16777245 parameters\n");
    expect_error("return sequential \"m\" {\n  embedding { 16777217, 1, input_length = 2 },\n  simple_rnn { 4 },\n" OUT1 "}\n",
                 "x.lua:2: embedding: input_dim must be at most 16777216 (got 16777217)\n");
}

Test(limits, timesteps) {
    expect_check_ok("return sequential \"m\" {\n  embedding { 50, 4, input_length = 10000 },\n" TINY_RNN OUT1 "}\n",
                    "x.lua: ok: model \"m\", 3 layers, 241 parameters\n");
    expect_error("return sequential \"m\" {\n  embedding { 50, 4, input_length = 10001 },\n" TINY_RNN OUT1 "}\n",
                 "x.lua:2: embedding: input_length must be at most 10000 (got 10001)\n");
}

Test(limits, parameters) {
    /* 8 V + U (8 + U + 1) + U + 1 = 2^27 with V = 16777211, U = 3; and 2^27 + 1 with
     * V = 16777213, U = 2: the head is the layer that crosses the limit */
    expect_check_ok("return sequential \"m\" {\n  embedding { 16777211, 8, input_length = 2 },\n  simple_rnn { 3 },\n" OUT1 "}\n",
                    "x.lua: ok: model \"m\", 3 layers, 134217728 parameters\n");
    expect_error("return sequential \"m\" {\n  embedding { 16777213, 8, input_length = 2 },\n  simple_rnn { 2 },\n" OUT1 "}\n",
                 "x.lua:4: dense: the model reaches 134217729 parameters here, more than the limit of 134217728\n");
}

#define SMALL "return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n" TINY_RNN OUT1

Test(limits, batch_size) {
    expect_check_ok(SMALL "  fit = { batch_size = 65536 },\n}\n", "x.lua: ok: model \"m\", 3 layers, 241 parameters\n");
    expect_error(SMALL "  fit = { batch_size = 65537 },\n}\n", "x.lua:1: fit: batch_size must be an integer in [1, 65536] (got 65537)\n");
}

Test(limits, callbacks) {
    const char *fmt = SMALL "  fit = { callbacks = {\n"
        "    early_stopping { }, early_stopping { patience = 2 },\n"           /* line 6 */
        "    csv_logger { \"a.csv\" }, csv_logger { \"b.csv\" },\n"
        "    model_checkpoint { \"c.safetensors\" }, model_checkpoint { \"d.safetensors\" },\n"
        "    early_stopping { monitor = \"loss\" }, csv_logger { \"e.csv\" },\n" /* line 9: the 8th */
        "%s  } },\n}\n";
    char src[2048];
    snprintf(src, sizeof src, fmt, "");
    expect_check_ok(src, "x.lua: ok: model \"m\", 3 layers, 241 parameters\n");
    snprintf(src, sizeof src, fmt, "    early_stopping { },\n");
    expect_error(src, "x.lua:10: fit: at most 8 callbacks\n");
}

/* A relative path of exactly n bytes: directories "d/" then a file name of 'x's */
static void path_of(char *buf, int n) {
    int i = 0;
    while (i + 2 < n - 8) buf[i++] = 'd', buf[i++] = '/';
    while (i < n) buf[i++] = 'x';
    buf[n] = 0;
}

Test(limits, callback_paths) {
    char p511[512], p512[513], src[2048];
    path_of(p511, 511);
    path_of(p512, 512);
    cr_assert_eq(strlen(p511), 511);
    cr_assert_eq(strlen(p512), 512);
    snprintf(src, sizeof src, SMALL "  fit = { callbacks = {\n    model_checkpoint { \"%s\" },\n    csv_logger { \"%s\" },\n  } },\n}\n",
             p511, p511);
    expect_check_ok(src, "x.lua: ok: model \"m\", 3 layers, 241 parameters\n");
    snprintf(src, sizeof src, SMALL "  fit = { callbacks = {\n    model_checkpoint { \"%s\" },\n  } },\n}\n", p512);
    expect_error(src, "x.lua:6: model_checkpoint: filepath is too long (512 bytes; at most 511)\n");
    snprintf(src, sizeof src, SMALL "  fit = { callbacks = {\n    csv_logger { \"%s\" },\n  } },\n}\n", p512);
    expect_error(src, "x.lua:6: csv_logger: filename is too long (512 bytes; at most 511)\n");
}

/* The spec's own path: 511 bytes are read (and messages carry the whole path), 512 are
 * refused before the file is opened, with no line (an error about the file itself). */
Test(limits, spec_path) {
    static run_result r;
    char *dir = make_temp_dir();
    char p[520], sub[PATH_MAX];
    for (int n = 511; n <= 512; n++) {
        path_of(p, n);
        const char *slash = strrchr(p, '/');
        snprintf(sub, sizeof sub, "%s", dir);
        for (const char *c = p; c < slash; c += 2) {   /* mkdir d, d/d, ... */
            strcat(sub, "/d");
            cr_assert(mkdir(sub, 0700) == 0 || errno == EEXIST, "mkdir %s", sub);
        }
        write_file(dir, p, SMALL "}\n", strlen(SMALL "}\n"));
        char *argv[] = {(char *)build_path("rnnc"), p, "--check", NULL};
        run_in(dir, argv, &r);
        char want[1024];
        if (n == 511) {
            snprintf(want, sizeof want, "%s: ok: model \"m\", 3 layers, 241 parameters\n", p);
            cr_expect_eq(r.status, 0, "%d bytes: exit %d, %s", n, r.status, r.err);
            cr_expect_str_eq(r.out, want);
            cr_expect_str_eq(r.err, "");
        } else {
            snprintf(want, sizeof want, "%.200s...: the spec path is too long\n", p);
            cr_expect_eq(r.status, 1, "%d bytes: exit %d, %s", n, r.status, r.err);
            cr_expect_str_eq(r.out, "");
            cr_expect_str_eq(r.err, want);
        }
    }
    /* a 511-byte path still gets `PATH:LINE: WHO: message` whole */
    path_of(p, 511);
    write_file(dir, p, "return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n  lstm { -3 },\n" OUT1 "}\n",
               strlen("return sequential \"m\" {\n  embedding { 50, 4, input_length = 2 },\n  lstm { -3 },\n" OUT1 "}\n"));
    char *argv[] = {(char *)build_path("rnnc"), p, "--check", NULL};
    run_in(dir, argv, &r);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: lstm: units must be a positive integer (got -3)\n", p);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, want);
    rm_tree(dir);
    free(dir);
}

/* 1 MiB: a valid spec padded with a comment to exactly 2^20 bytes, then one byte more
 * (refused before evaluation, with no line: an error about the file itself). */
Test(limits, spec_size) {
    const size_t mib = (size_t)1 << 20;
    const char *model = SMALL "}\n";
    char *src = malloc(mib + 2);
    cr_assert(src);
    for (size_t extra = 0; extra <= 1; extra++) {
        const size_t len = mib + extra, head = strlen(model);
        memcpy(src, model, head);
        memset(src + head, '-', len - head - 1);
        src[len - 1] = '\n';
        if (extra == 0) expect_check_ok_n(src, len, "x.lua: ok: model \"m\", 3 layers, 241 parameters\n");
        else expect_error_n(src, len, "x.lua: the spec is larger than 1024 KiB\n", NULL, NULL);
    }
    free(src);
}

Test(codegen, valid_spec_with_o_writes_the_c_file) {
    const char *src = HEAD "  lstm { 8 },\n" OUT1 "}\n";
    static run_result r;
    char *dir = run_spec(src, strlen(src), &r, NULL, NULL);
    char listing[256];
    list_dir(dir, listing, sizeof listing);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(listing, "model.c x.lua");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/model.c", dir);
    static char text[1 << 20];
    slurp(path, text, sizeof text);
    cr_expect(strncmp(text, "/*\n * m.c \xe2\x80\x94 generated by rnnc ", 30) == 0, "%.80s", text);
    cr_expect(strstr(text, "static rnn_model MODEL = {") != NULL);
    cr_expect(strstr(text, "static int run(int argc, char **argv) {") != NULL);
    cr_expect(strstr(text, "\nRNN_GEN_MAIN(run)\n") != NULL);
    rm_tree(dir);
    free(dir);
}

Test(codegen, same_spec_same_bytes) {
    const char *src = HEAD "  gru { 5, dropout = 0.25, return_sequences = true },\n  lstm { 3 },\n" OUT1 "}\n";
    static run_result r;
    static char a[1 << 20], b[1 << 20];
    char path[PATH_MAX];
    char *dir = run_spec(src, strlen(src), &r, NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    snprintf(path, sizeof path, "%s/model.c", dir);
    slurp(path, a, sizeof a);
    rm_tree(dir);
    free(dir);
    dir = run_spec(src, strlen(src), &r, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.c", dir);
    slurp(path, b, sizeof b);
    cr_expect(strlen(a) > 1000);
    cr_expect_str_eq(a, b);
    rm_tree(dir);
    free(dir);
}

/* ---- hostile specs: the sandbox ----------------------------------------------------- */

/* The spec fails with `expected`, exit 1, no file in its directory, and `victim`
 * (an absolute path it tried to create) does not exist. */
static void expect_contained(const char *src_fmt, const char *expected, const char *extra1, const char *extra2) {
    char victim[128];
    snprintf(victim, sizeof victim, "/tmp/rnnc-victim-%d", (int)getpid());
    unlink(victim);
    char src[2048];
    snprintf(src, sizeof src, src_fmt, victim, victim);
    expect_error_n(src, strlen(src), expected, extra1, extra2);
    cr_expect(access(victim, F_OK) != 0, "the spec created %s", victim);
    unlink(victim);
}

Test(sandbox, no_io) { expect_contained("local f = io.open(\"%s\", \"w\")\nf:write(\"x\")\n", "x.lua:1: undefined name 'io'\n", NULL, NULL); }
Test(sandbox, no_os) { expect_contained("\nos.execute(\"touch %s\")\n", "x.lua:2: undefined name 'os'\n", NULL, NULL); }
Test(sandbox, no_require) { expect_contained("local os = require(\"os\")\nos.execute(\"touch %s\")\n", "x.lua:1: undefined name 'require'\n", NULL, NULL); }
Test(sandbox, no_package) { expect_contained("package.loadlib(\"libc.so.6\", \"system\")(\"touch %s\")\n", "x.lua:1: undefined name 'package'\n", NULL, NULL); }
Test(sandbox, no_debug) { expect_contained("debug.sethook()\n-- %s %s\n", "x.lua:1: undefined name 'debug'\n", NULL, NULL); }
Test(sandbox, no_dofile) { expect_contained("dofile(\"%s\")\n", "x.lua:1: undefined name 'dofile'\n", NULL, NULL); }
Test(sandbox, no_loadfile) { expect_contained("loadfile(\"%s\")\n", "x.lua:1: undefined name 'loadfile'\n", NULL, NULL); }
Test(sandbox, no_load) { expect_contained("local f = load(\"return 1\")\n-- %s\n", "x.lua:1: undefined name 'load'\n", NULL, NULL); }
Test(sandbox, no_collectgarbage) { expect_contained("collectgarbage(\"stop\")\n-- %s\n", "x.lua:1: undefined name 'collectgarbage'\n", NULL, NULL); }
Test(sandbox, no_string_dump) {
    expect_contained("local s = string.dump(function() end)\n-- %s\n", "x.lua:1: attempt to call a nil value (field 'dump')\n", NULL, NULL);
}
Test(sandbox, no_dump_through_string_metatable) {
    expect_contained("local d = getmetatable(\"\").__index.dump\nreturn d(print)\n-- %s\n",
                     "x.lua:2: attempt to call a nil value (local 'd')\n", NULL, NULL);
}
Test(sandbox, binary_chunk_rejected) {
    static const char src[] = "\x1bLuaT\x00\x19\x93\r\n\x1a\n";
    expect_error_n(src, sizeof src - 1, "x.lua:1: not a text file (binary spec files are rejected)\n", NULL, NULL);
}
Test(sandbox, endless_loop_hits_time_limit) {
    double t0 = now_s();
    const char *src = "local n = 0\nwhile true do n = n + 1 end\n";
    expect_error_n(src, strlen(src),
                   "x.lua:2: the spec exceeded the time limit of 0.5 s (see --time-limit)\n", "--time-limit", "0.5");
    double dt = now_s() - t0;
    cr_expect(dt < 3.0, "took %.2f s", dt);
}
Test(sandbox, long_c_call_hits_time_limit) {
    /* One string.find call: no Lua instruction runs while it backtracks. */
    const char *src = "local s = string.rep(\"a\", 5000)\nreturn s:find(\".-.-.-.-.-b\")\n";
    double t0 = now_s();
    expect_error_n(src, strlen(src), "x.lua:2: the spec exceeded the time limit of 0.5 s (see --time-limit)\n",
                   "--time-limit", "0.5");
    double dt = now_s() - t0;
    cr_expect(dt < 3.0, "took %.2f s", dt);
}
Test(sandbox, endless_coroutine_hits_time_limit) {
    const char *src = "local co = coroutine.wrap(function()\n  while true do end\nend)\nco()\n";
    expect_error_n(src, strlen(src), "x.lua:2: the spec exceeded the time limit of 0.5 s (see --time-limit)\n",
                   "--time-limit", "0.5");
}
Test(sandbox, table_memory_bomb) {
    const char *src = "local t = {}\nfor i = 1, 1e9 do\n  t[i] = { i }\nend\n";
    expect_error_n(src, strlen(src), "x.lua:3: the spec exceeded the memory limit of 64 MiB\n", "--memory-limit", "64");
}
Test(sandbox, string_memory_bomb) {
    const char *src = "local s = string.rep(\"x\", 1e6)\nreturn s:rep(300)\n";
    expect_error_n(src, strlen(src), "x.lua:2: the spec exceeded the memory limit of 256 MiB\n", NULL, NULL);
}
Test(sandbox, no_random) {
    expect_contained("local n = math.random(10)\n-- %s\n", "x.lua:1: attempt to call a nil value (field 'random')\n", NULL, NULL);
}
Test(sandbox, finalizer_cannot_run_after_success) {
    /* A __gc that would spin forever: the state is never closed, so rnnc succeeds fast. */
    const char *src = "setmetatable({}, { __gc = function() while true do end end })\n" HEAD "  lstm { 8 },\n" OUT1 "}\n";
    static run_result r;
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", src, strlen(src));
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", "--check", "--time-limit", "2", NULL};
    double t0 = now_s();
    run_in(dir, argv, &r);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "x.lua: ok: model \"m\", 3 layers, 8809 parameters\n");
    cr_expect(now_s() - t0 < 1.5);
    rm_tree(dir);
    free(dir);
}
Test(sandbox, print_goes_to_stderr) {
    const char *src = "print(\"hello\", 42)\n" HEAD "  lstm { 8 },\n" OUT1 "}\n";
    static run_result r;
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", src, strlen(src));
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", NULL};
    run_in(dir, argv, &r);
    cr_expect_eq(r.status, 0);
    cr_expect_str_eq(r.err, "hello\t42\n");
    cr_expect_str_eq(r.out, "x.lua: ok: model \"m\", 3 layers, 8809 parameters\n");
    rm_tree(dir);
    free(dir);
}
