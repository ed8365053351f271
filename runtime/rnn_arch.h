/*
 * rnn_arch.h — the model description (the IR) shared by rnnc and librnnrt.
 *
 * The compiler lowers a Lua spec into an `rnn_model`; the reference runtime executes
 * it; generated code embeds it as a static initializer. It is plain old data on
 * purpose: fixed-size arrays, no pointers, so it can be copied with memcpy, sent
 * through a pipe, hashed byte for byte and written out as a C initializer.
 *
 * Shapes follow Keras's: a batch dimension B is implicit everywhere; a layer's
 * output is either a sequence [T, units] (`seq_out`) or a vector [units].
 * Parameter tensors use Keras names and layouts and live in one flat buffer at
 * `offset` (in elements), each aligned to RNN_TENSOR_ALIGN elements.
 *
 * Nothing here depends on Lua; the compiler depends on this header, never the
 * other way round.
 */
#ifndef RNN_ARCH_H
#define RNN_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- documented limits (the compiler rejects specs beyond them) ---------------- */
#define RNN_MAX_LAYERS      32          /* layers in one model, embedding included   */
#define RNN_MAX_TENSORS     (6 * RNN_MAX_LAYERS) /* a bidirectional layer has six           */
#define RNN_MAX_CALLBACKS   8
#define RNN_MAX_CLASS_WEIGHTS 256       /* classes in fit's class_weight                  */
#define RNN_NAME_MAX        64          /* layer / model name, incl. the NUL         */
#define RNN_TENSOR_NAME_MAX 160         /* "layer/backward_inner/recurrent_kernel", incl. the NUL */
#define RNN_PATH_MAX        512         /* callback file paths, incl. the NUL        */
#define RNN_MAX_UNITS       4096        /* units / output_dim of any layer           */
#define RNN_MAX_VOCAB       16777216    /* embedding input_dim (2^24)                */
#define RNN_MAX_TIMESTEPS   10000       /* embedding input_length                    */
#define RNN_MAX_PARAMS      134217728   /* total parameters (2^27, 512 MiB of float)  */
#define RNN_MAX_BATCH       65536
#define RNN_TENSOR_ALIGN    16          /* elements; 64 bytes of float               */

/* ---- the registry of layer kinds ------------------------------------------------------
 * One line per kind: X(ID, dsl_name, "KerasClass"). Everything that names or dispatches
 * on a kind derives from this list: the enum, the names, the runtime's table of kinds
 * (runtime/model/kinds.c: layout and reference implementation, one file per kind under
 * runtime/layers/) and the compiler's (compiler/kinds.c: the DSL keywords and the code
 * generator, one file per kind under compiler/layers/). */
#define RNN_LAYER_KINDS(X)                  \
    X(EMBEDDING, embedding, "Embedding")    \
    X(SIMPLE_RNN, simple_rnn, "SimpleRNN")  \
    X(LSTM, lstm, "LSTM")                   \
    X(GRU, gru, "GRU")                      \
    X(DENSE, dense, "Dense")                \
    X(DROPOUT, dropout, "Dropout")          \
    X(BIDIRECTIONAL, bidirectional, "Bidirectional") \
    X(CONV1D, conv1d, "Conv1D")                        \
    X(MAX_POOLING1D, max_pooling1d, "MaxPooling1D")    \
    X(AVERAGE_POOLING1D, average_pooling1d, "AveragePooling1D") \
    X(GLOBAL_MAX_POOLING1D, global_max_pooling1d, "GlobalMaxPooling1D") \
    X(GLOBAL_AVERAGE_POOLING1D, global_average_pooling1d, "GlobalAveragePooling1D") \
    X(FLATTEN, flatten, "Flatten")                     \
    X(ACTIVATION, activation, "Activation")            \
    X(SPATIAL_DROPOUT1D, spatial_dropout1d, "SpatialDropout1D")

typedef enum {
#define RNN_KIND_ENUM_(id, dsl, cls) RNN_LAYER_##id,
    RNN_LAYER_KINDS(RNN_KIND_ENUM_)
#undef RNN_KIND_ENUM_
    RNN_LAYER_KIND_COUNT
} rnn_layer_kind;

typedef enum {
    RNN_ACT_LINEAR = 0,
    RNN_ACT_SIGMOID,
    RNN_ACT_TANH,
    RNN_ACT_RELU,
    RNN_ACT_SOFTMAX,
    RNN_ACT_COUNT
} rnn_activation;

/* How an LSTM/GRU `dropout` mask varies over time (docs/keras-semantics.md, RNN dropout).
 * SimpleRNN dropout and every recurrent_dropout are always per sequence. */
typedef enum {
    RNN_DROPOUT_PER_STEP = 0,   /* tf.keras 2.x fused path: per (sample, t, feature)  */
    RNN_DROPOUT_PER_SEQUENCE    /* Keras 3: per (sample, feature), reused at every t   */
} rnn_dropout_mask;

/* How a bidirectional layer combines its two halves' outputs (Keras's merge_mode). NONE
 * (Keras's None: the two outputs as a list) is named only to be refused: a sequential
 * model passes one tensor from layer to layer. */
typedef enum {
    RNN_MERGE_CONCAT = 0, RNN_MERGE_SUM, RNN_MERGE_MUL, RNN_MERGE_AVE, RNN_MERGE_NONE, RNN_MERGE_COUNT
} rnn_merge_mode;

/* How a convolution or a pooling window treats the sequence's ends (Keras's padding;
 * docs/keras-semantics.md, Conv1D). */
typedef enum {
    RNN_PADDING_VALID = 0,      /* windows inside the sequence only                      */
    RNN_PADDING_SAME,           /* ceil(T / strides) windows, zeros (or nothing) around   */
    RNN_PADDING_CAUSAL,         /* conv1d: (kernel_size - 1) * dilation_rate zeros before */
    RNN_PADDING_COUNT
} rnn_padding;

typedef enum { RNN_OPT_RMSPROP = 0, RNN_OPT_ADAM, RNN_OPT_SGD } rnn_optimizer_kind;

/* A learning-rate schedule as the optimizer's learning_rate (Keras's
 * keras.optimizers.schedules; docs/keras-semantics.md, Learning-rate schedules). */
typedef enum {
    RNN_SCHEDULE_NONE = 0,              /* the constant learning_rate                       */
    RNN_SCHEDULE_EXPONENTIAL_DECAY,     /* lr0 * rate^(step / steps), floor with staircase  */
    RNN_SCHEDULE_INVERSE_TIME_DECAY,    /* lr0 / (1 + rate * step / steps)                  */
    RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY, /* values[i] for boundaries[i-1] < step <= boundaries[i] */
    RNN_SCHEDULE_COSINE_DECAY,          /* lr0 * ((1 - alpha) * (1 + cos(pi * min(step, steps) / steps)) / 2 + alpha) */
    RNN_SCHEDULE_COUNT
} rnn_schedule_kind;

#define RNN_MAX_BOUNDARIES 16           /* piecewise_constant_decay                          */

typedef struct {
    rnn_schedule_kind kind;
    int    line;                        /* spec line of the schedule's constructor          */
    double initial_learning_rate;       /* exponential, inverse time, cosine                */
    double decay_steps;                 /* > 0                                              */
    double decay_rate;                  /* exponential, inverse time                        */
    int    staircase;                   /* exponential, inverse time                        */
    double alpha;                       /* cosine: the final rate as a fraction of lr0      */
    int    n_boundaries;                /* piecewise: boundaries [n], values [n + 1]        */
    double boundaries[RNN_MAX_BOUNDARIES];
    double values[RNN_MAX_BOUNDARIES + 1];
} rnn_lr_schedule;

/* How clipping sees the embedding's gradient (docs/keras-semantics.md, Gradient clipping). */
typedef enum {
    RNN_EMBEDDING_CLIP_PER_LOOKUP = 0,  /* tf.keras: one row per lookup, clipped before the
                                           rows of repeated tokens are summed               */
    RNN_EMBEDDING_CLIP_SUMMED           /* PyTorch's clip_grad_norm_: the summed table      */
} rnn_embedding_clip;

typedef enum {
    RNN_LOSS_BINARY_CROSSENTROPY = 0,       /* sigmoid outputs, labels [N] or [N, K] in [0, 1] */
    RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, /* softmax, labels [N] class indices            */
    RNN_LOSS_CATEGORICAL_CROSSENTROPY       /* softmax, labels [N, K] one-hot (or probabilities) */
} rnn_loss_kind;

/* The accuracy metrics = { "accuracy" } names, resolved by rnn_model_layout as Keras does
 * (docs/keras-semantics.md, Accuracy). */
typedef enum {
    RNN_ACCURACY_AUTO = 0,              /* "accuracy", "acc": by the loss and the output    */
    RNN_ACCURACY_BINARY,                /* each output thresholded at 0.5 against its label  */
    RNN_ACCURACY_SPARSE_CATEGORICAL,    /* argmax == the class index                        */
    RNN_ACCURACY_CATEGORICAL            /* argmax == argmax of the one-hot label            */
} rnn_accuracy_kind;

/* The metrics besides accuracy (rnn_model.metrics, a set of bits). */
enum { RNN_METRIC_AUC = 1, RNN_METRIC_PRECISION = 2, RNN_METRIC_RECALL = 4 };

typedef enum {
    RNN_CB_MODEL_CHECKPOINT = 0, RNN_CB_EARLY_STOPPING, RNN_CB_CSV_LOGGER, RNN_CB_REDUCE_LR_ON_PLATEAU
} rnn_callback_kind;

typedef enum { RNN_MODE_AUTO = 0, RNN_MODE_MIN, RNN_MODE_MAX } rnn_monitor_mode;

typedef enum {   /* the quantity a callback watches */
    RNN_MONITOR_VAL_LOSS = 0,
    RNN_MONITOR_VAL_ACCURACY,
    RNN_MONITOR_LOSS,
    RNN_MONITOR_ACCURACY,
    RNN_MONITOR_VAL_AUC,
    RNN_MONITOR_AUC,
    RNN_MONITOR_VAL_PRECISION,
    RNN_MONITOR_PRECISION,
    RNN_MONITOR_VAL_RECALL,
    RNN_MONITOR_RECALL,
    RNN_MONITOR_COUNT
} rnn_monitor;

/* How a tensor starts (rnn_init_params; the Keras defaults, docs/keras-semantics.md). */
typedef enum {
    RNN_INIT_ZEROS = 0,
    RNN_INIT_EMBEDDING,         /* U(-0.05, 0.05)                                          */
    RNN_INIT_GLOROT_UNIFORM,    /* U(-l, l), l = sqrt(6 / (rows + cols))                   */
    RNN_INIT_ORTHOGONAL,        /* orthogonal, gain 1                                      */
    RNN_INIT_FORGET_BIAS        /* zeros but ones in [units, 2 units) (LSTM unit_forget_bias) */
} rnn_init_kind;

/* One parameter tensor in the flat buffer. Rank 1 to 3; the dimensions past the rank are
 * 1. Row-major, so a rank-3 tensor [a, b, c] is also the matrix [a * b, c]. */
typedef struct {
    char   name[RNN_TENSOR_NAME_MAX];   /* Keras name, e.g. "lstm_1/recurrent_kernel" */
    int    layer;                        /* index into rnn_model.layers                */
    int    rank;
    int    shape[3];
    size_t offset;                       /* in elements, multiple of RNN_TENSOR_ALIGN  */
    size_t size;                         /* shape[0] * shape[1] * shape[2]             */
    rnn_init_kind init;
} rnn_tensor;

/* Which tensor of a layer a slot index names (rnn_layer.first_tensor + slot). */
enum {
    RNN_T_EMBEDDINGS = 0,               /* embedding: [input_dim, output_dim]            */
    RNN_T_KERNEL = 0,                   /* rnn: [in, G*units]; dense: [in, units]        */
    RNN_T_RECURRENT_KERNEL = 1,         /* rnn: [units, G*units]                         */
    RNN_T_RNN_BIAS = 2,                 /* rnn: [G*units], GRU reset_after: [2, 3*units] */
    RNN_T_DENSE_BIAS = 1,               /* dense, conv1d: [units]                        */
    RNN_T_RECURRENT_COUNT = 3           /* tensors of a recurrent layer, or of each half of a
                                           bidirectional one (the backward half's follow) */
};

/* The options of a layer, as a spec writes them (each kind fills in its Keras defaults):
 * X(C type, name, value kind, hashed). The value kind says how the option is read,
 * printed and checked (rnn_option_value); hashed says whether it is part of
 * rnn_model_hash: 1 always, 2 only when not zero (options added after the first
 * checkpoints, so that models without them keep their hash). */
typedef enum {
    RNN_VALUE_INT, RNN_VALUE_BOOL, RNN_VALUE_REAL, RNN_VALUE_ACTIVATION, RNN_VALUE_DROPOUT_MASK, RNN_VALUE_KIND,
    RNN_VALUE_MERGE_MODE, RNN_VALUE_PADDING
} rnn_value_kind;

#define RNN_LAYER_OPTIONS(X)                                                                        \
    X(int, units, RNN_VALUE_INT, 1)            /* embedding: output_dim; dropout: unused (0) */   \
    X(int, input_dim, RNN_VALUE_INT, 1)        /* embedding: the vocabulary size            */    \
    X(int, input_length, RNN_VALUE_INT, 1)     /* embedding: timesteps                      */    \
    X(rnn_activation, activation, RNN_VALUE_ACTIVATION, 1) /* simple_rnn, dense             */    \
    X(int, return_sequences, RNN_VALUE_BOOL, 1)                                                    \
    X(int, reset_after, RNN_VALUE_BOOL, 1)     /* gru                                       */    \
    X(int, unit_forget_bias, RNN_VALUE_BOOL, 1) /* lstm                                     */    \
    X(int, mask_zero, RNN_VALUE_BOOL, 2)       /* embedding: token 0 is padding, masked     */    \
    X(int, post_padding, RNN_VALUE_BOOL, 2)    /* embedding: text padded 'post' (else 'pre') */   \
    X(int, post_truncating, RNN_VALUE_BOOL, 2) /* embedding: text truncated 'post' (else 'pre') */ \
    X(double, dropout, RNN_VALUE_REAL, 0)      /* rnn input dropout, or the Dropout's rate  */    \
    X(double, recurrent_dropout, RNN_VALUE_REAL, 0)                                                \
    X(rnn_dropout_mask, dropout_mask, RNN_VALUE_DROPOUT_MASK, 0) /* lstm, gru                */ \
    X(int, go_backwards, RNN_VALUE_BOOL, 2)    /* simple_rnn, lstm, gru: read from the last step */ \
    X(rnn_layer_kind, wrapped, RNN_VALUE_KIND, 2) /* bidirectional: the recurrent kind it wraps    */ \
    X(rnn_merge_mode, merge_mode, RNN_VALUE_MERGE_MODE, 2) /* bidirectional                        */ \
    X(int, kernel_size, RNN_VALUE_INT, 2)      /* conv1d (its filters are units)            */    \
    X(int, strides, RNN_VALUE_INT, 2)          /* conv1d; pooling (0 in a spec: pool_size)  */    \
    X(rnn_padding, padding, RNN_VALUE_PADDING, 2) /* conv1d, max/average_pooling1d          */    \
    X(int, dilation_rate, RNN_VALUE_INT, 2)    /* conv1d                                    */    \
    X(int, use_bias, RNN_VALUE_BOOL, 2)        /* conv1d                                    */    \
    X(int, pool_size, RNN_VALUE_INT, 2)        /* max/average_pooling1d                     */    \
    X(int, frozen, RNN_VALUE_BOOL, 0)          /* trainable = false: no step changes its weights */

typedef struct {
    rnn_layer_kind kind;
    char   name[RNN_NAME_MAX];          /* Keras-style: "lstm", "lstm_1", or name=        */
    int    line;                        /* spec line of the constructor call (0 unknown)  */
    /* bidirectional: the wrapped layer's name ("lstm", or its name=; its halves are
     * forward_NAME and backward_NAME) and the line of its constructor */
    char   wrapped_name[RNN_NAME_MAX];
    int    wrapped_line;

#define RNN_OPTION_FIELD_(type, name, value, hashed) type name;
    RNN_LAYER_OPTIONS(RNN_OPTION_FIELD_)
#undef RNN_OPTION_FIELD_

    /* inferred by rnn_model_layout() */
    int    timesteps;                   /* T of the input sequence: the model's input_length
                                           until a conv1d or pooling layer changes it       */
    int    out_timesteps;               /* T of the output sequence (timesteps but there)  */
    int    in_features;                 /* F: features per timestep, or per sample        */
    int    in_seq;                      /* input is [T, F] (else [F])                     */
    int    out_features;                /* features per timestep, or per sample           */
    int    out_seq;                     /* output is [T, out_features]                    */
    int    mask_in, mask_out;           /* its input, its output carries the embedding's mask
                                           (mask_zero: one bit per sample and step)          */
    int    gates;                       /* 4 lstm, 3 gru, 1 simple_rnn (bidirectional: its
                                           wrapped kind's), 0 otherwise                     */
    int    first_tensor, n_tensors;     /* into rnn_model.tensors                         */
    size_t n_params;                    /* Keras's count for this layer                   */
} rnn_layer;

/* The options of rnn_layer as a table, in RNN_LAYER_OPTIONS order (for code that treats
 * every option alike: the model hash, generated code's model description, ...). */
typedef struct {
    const char *name;
    rnn_value_kind value;
    int hashed;
    size_t offset;                      /* of the field in rnn_layer                       */
} rnn_option_info;

extern const rnn_option_info rnn_layer_options[];
extern const int rnn_layer_option_count;

/* The value of option o of l as a double (ints, booleans and enums exactly). */
double rnn_option_value(const rnn_layer *l, const rnn_option_info *o);

typedef struct {
    rnn_optimizer_kind kind;
    int    line;                        /* spec line of the optimizer (0 unknown)          */
    double learning_rate;
    double rho;                         /* rmsprop                                        */
    double epsilon;                     /* rmsprop, adam                                  */
    int    epsilon_outside;             /* rmsprop: TF <= 2.10 form lr*g/(sqrt(v)+eps)    */
    double beta_1, beta_2;              /* adam                                           */
    double momentum;                    /* sgd                                            */
    int    nesterov;                    /* sgd                                            */
    double clipnorm;                    /* 0 = off; per tensor, as Keras's clipnorm        */
    double global_clipnorm;             /* 0 = off; over all gradients together            */
    double clipvalue;                   /* 0 = off; element-wise to [-v, v]                */
    rnn_embedding_clip embedding_clip;  /* how clipping sees a trainable embedding's rows  */
    rnn_lr_schedule schedule;           /* kind NONE: the constant learning_rate           */
} rnn_optimizer;

typedef struct {
    rnn_callback_kind kind;
    int    line;
    char   path[RNN_PATH_MAX];          /* checkpoint file, csv file                       */
    rnn_monitor monitor;
    rnn_monitor_mode mode;              /* resolved: never AUTO after layout               */
    int    save_best_only;              /* model_checkpoint                                */
    int    patience;                    /* early_stopping                                  */
    double min_delta;                   /* early_stopping (absolute value)                 */
    int    restore_best_weights;        /* early_stopping                                  */
    int    restore_at_end;              /* early_stopping: Keras 3 restore on train end    */
    int    start_from_epoch;            /* early_stopping                                  */
    int    has_baseline;                /* early_stopping                                  */
    double baseline;
    double factor;                      /* reduce_lr_on_plateau: new rate = rate * factor  */
    int    cooldown;                    /* reduce_lr_on_plateau: epochs to wait after one  */
    double min_lr;                      /* reduce_lr_on_plateau: the rate's floor          */
} rnn_callback;

typedef struct {
    int    epochs;
    int    batch_size;
    double validation_split;            /* 0 = none (unless validation data is given)      */
    int    shuffle;
    uint64_t seed;
    int    n_callbacks;
    rnn_callback callbacks[RNN_MAX_CALLBACKS];
    int    n_class_weights;             /* class_weight: 0 = none, else classes 0..n-1      */
    double class_weight[RNN_MAX_CLASS_WEIGHTS];
} rnn_fit_config;

typedef struct {
    char   name[RNN_NAME_MAX];          /* the model's name, a C identifier                */
    char   source[RNN_PATH_MAX];        /* spec file it came from (for messages)           */
    int    line;                        /* spec line of sequential (compile/fit messages)  */

    int    n_layers;
    rnn_layer layers[RNN_MAX_LAYERS];

    /* training configuration (compile = {...}, fit = {...}) */
    rnn_optimizer optimizer;
    rnn_loss_kind loss;
    int    metric_accuracy;             /* metrics = { "accuracy" }                        */
    rnn_accuracy_kind accuracy_kind;    /* which accuracy (AUTO: resolved by the layout)   */
    int    metrics;                     /* RNN_METRIC_AUC | RNN_METRIC_PRECISION | ...     */
    rnn_fit_config fit;

    /* inferred by rnn_model_layout() */
    int    timesteps;                   /* input_length of the embedding                   */
    int    vocab;                       /* input_dim of the embedding                      */
    int    n_outputs;                   /* units of the output layer                       */
    int    label_width;                 /* labels per sample: n_outputs for categorical and
                                           multi-label outputs, else 1                     */
    int    n_tensors;
    rnn_tensor tensors[RNN_MAX_TENSORS];
    size_t n_params;                    /* Keras's total parameter count                   */
    size_t param_buffer_len;            /* elements in the flat buffer, with alignment     */
} rnn_model;

/* Initialise `m` to an empty model with Keras's compile/fit defaults
 * (rmsprop 1e-3, binary cross-entropy, epochs 1, batch 32, shuffle, seed 0). */
void rnn_model_init(rnn_model *m, const char *name, const char *source);

/* Defaults of a freshly declared layer of `kind` (Keras's constructor defaults). */
void rnn_layer_defaults(rnn_layer *l, rnn_layer_kind kind);

/* Give every unnamed layer Keras's default name: "lstm", "lstm_1", ... counted per
 * kind over the unnamed layers. Layers that have a name keep it. The layer a
 * bidirectional wraps is counted too, just before its wrapper (Keras constructs it
 * first): [bidirectional { lstm }, lstm] names "lstm" inside "bidirectional", then
 * "lstm_1". */
void rnn_model_name_layers(rnn_model *m);

/* Infer every shape, assign the parameter tensors and their offsets, resolve callback
 * modes, and check the structure (layer order, sequence/vector fit, output layer and
 * loss, limits). On failure writes "SOURCE:LINE: NAME: message" to err and returns -1;
 * on success returns 0. Idempotent. */
int rnn_model_layout(rnn_model *m, char *err, size_t errlen);

/* Keras class name ("LSTM", "SimpleRNN", ...) and DSL constructor name ("lstm", ...). */
const char *rnn_layer_class_name(rnn_layer_kind kind);
const char *rnn_layer_dsl_name(rnn_layer_kind kind);
const char *rnn_activation_name(rnn_activation act);
const char *rnn_padding_name(rnn_padding padding);          /* "valid", "same", "causal" */
const char *rnn_merge_mode_name(rnn_merge_mode mode);        /* "concat", "sum", "mul", "ave", "none" */
const char *rnn_monitor_name(rnn_monitor mon);
const char *rnn_optimizer_name(rnn_optimizer_kind kind);   /* "rmsprop", "adam", "sgd" */
const char *rnn_loss_name(rnn_loss_kind kind);             /* "binary_crossentropy", ... */
const char *rnn_callback_name(rnn_callback_kind kind);     /* "model_checkpoint", ... */
const char *rnn_schedule_name(rnn_schedule_kind kind);     /* "exponential_decay", ...; "constant" */

/* Index of the tensor called `name` in m->tensors, or -1. */
int rnn_model_find_tensor(const rnn_model *m, const char *name);

/* A 64-bit FNV-1a hash of everything that determines the parameter layout and the
 * computation (layers and tensors, not the training configuration). Checkpoints
 * carry it so that weights are never loaded into a different architecture. */
uint64_t rnn_model_hash(const rnn_model *m);

/* Print the Keras-style summary table (name, type, output shape, params, totals). */
void rnn_model_summary(const rnn_model *m, FILE *out);

/* The window of a conv1d or pooling layer over its input's steps, as TensorFlow places
 * it (docs/keras-semantics.md, Conv1D): output step t reads input steps
 * t * stride + j * dilation - pad_left, j < size, those outside [0, in) being zeros
 * (conv1d) or left out (pooling). */
typedef struct {
    int size;                  /* kernel_size or pool_size                                */
    int stride, dilation;      /* dilation 1 for pooling                                  */
    int pad_left;              /* padded steps before the first input step                */
    int in, out;               /* input steps and output steps (out < 1: empty)           */
    int padded;                /* pad_left + in + the padded steps after                  */
} rnn_window;

/* The window of l (conv1d: kernel_size, strides, dilation_rate, padding; pooling:
 * pool_size, strides, padding) over l->timesteps steps. The sizes must be in
 * [1, RNN_MAX_TIMESTEPS] (the layout checks them first). */
rnn_window rnn_layer_window(const rnn_layer *l);

#endif
