/* ccinfer's C API: load a model file (models/FORMAT.md) and run it, from C, without Python.
 *
 * Conventions
 *  - Every call that can fail returns a ccinfer_status; CCINFER_OK is 0. On failure nothing
 *    is written to the outputs and ccinfer_last_error() returns a readable message (valid
 *    until the calling thread's next ccinfer call). No C++ exception crosses this interface.
 *  - Handles are opaque. A model owns its weights: the file or buffer it was loaded from may
 *    be closed or freed as soon as ccinfer_load_file / ccinfer_load_memory returns (each
 *    kind copies its weights once into the layout its kernels read; ccinfer/format.h says
 *    which copy and why). ccinfer_load_memory_borrowed references what it can in place.
 *  - Arrays are float32 (int32 for token ids), C order, caller-allocated.
 *
 * Concurrency
 *  - A loaded model is immutable: ccinfer_info, ccinfer_forward and ccinfer_state_new may be
 *    called on one model from any number of threads at once (forward draws a private
 *    workspace per call from a pool).
 *  - A state belongs to one stream (or one batch of streams): different states of one model
 *    may be stepped from different threads at once; one state is stepped by one call at a
 *    time; a second concurrent call on the same state returns CCINFER_BUSY without touching
 *    it. ccinfer_state_reset is such a call too.
 *  - ccinfer_free / ccinfer_state_free must not run concurrently with a call on the same
 *    handle. A state keeps its model's weights alive: freeing the model first is allowed.
 *  - ccinfer_set_num_threads sets the OpenMP thread count of the calling thread's later calls
 *    (OpenMP's per-thread rule); results do not depend on the thread count.
 */
#ifndef CCINFER_CCINFER_H
#define CCINFER_CCINFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ccinfer_status {
    CCINFER_OK = 0,
    CCINFER_INVALID_ARGUMENT = 1, /* a null pointer, a size or token out of range, ... */
    CCINFER_BAD_MODEL = 2,        /* the file or buffer is not a valid ccinfer model */
    CCINFER_IO_ERROR = 3,         /* the file could not be opened or read */
    CCINFER_OUT_OF_MEMORY = 4,
    CCINFER_BUSY = 5,       /* the state is in use by another call */
    CCINFER_WRONG_KIND = 6, /* e.g. ccinfer_forward on a GRU stack */
    CCINFER_INTERNAL = 7
} ccinfer_status;

typedef enum ccinfer_kind {
    CCINFER_KIND_COND_MLP = 1,
    CCINFER_KIND_TREE_GATED = 2,
    CCINFER_KIND_SEQUENTIAL = 3,
    CCINFER_KIND_GRU_STACK = 4
} ccinfer_kind;

typedef struct ccinfer_model ccinfer_model;
typedef struct ccinfer_state ccinfer_state;

typedef struct ccinfer_info_t {
    int32_t kind;        /* a ccinfer_kind */
    int32_t token_input; /* GRU stack: 1 if the input is a token id in [0, input_size) */
    int64_t input_size;  /* floats per sample (or the vocabulary of a token model) */
    int64_t output_size; /* floats per sample out (logits) */
    int64_t num_layers;  /* GRU layers, or stages of a Sequential (1 for the other kinds) */
} ccinfer_info_t;

/* The message of this thread's last failed call ("" if none). */
const char* ccinfer_last_error(void);
/* "CCINFER_OK", "CCINFER_BAD_MODEL", ... */
const char* ccinfer_status_name(ccinfer_status status);
/* The library's version, "0.1.0". */
const char* ccinfer_version(void);

/* Loads a model file; *out receives a handle to free with ccinfer_free. */
ccinfer_status ccinfer_load_file(const char* path, ccinfer_model** out);
/* Loads a model from size bytes at data (e.g. weights linked into a firmware image);
 * the bytes are read in place, never modified, and not referenced after the call. */
ccinfer_status ccinfer_load_memory(const void* data, size_t size, ccinfer_model** out);
/* As ccinfer_load_memory, but weights whose compute layout is the file's layout are
 * referenced in the caller's buffer instead of copied (weights linked into a firmware image or
 * mapped from flash): the caller keeps the size bytes at data alive and unchanged until
 * ccinfer_free of the model and ccinfer_state_free of every state made from it. Outputs are
 * bit for bit those of the copying load.
 *
 * Referenced in place: each CondMLP layer's weight (m, k) and bias (m,), stored F32 at an
 * address aligned for float (the whole CondMLP, or each CondMLP stage of a Sequential). The
 * rest is still copied, because the kernels read another layout than the file's:
 *  - CondMLP's transposed weight (input skipping) and the estimator's packed panels;
 *  - a TreeGated table, re-laid node-major;
 *  - a GRU stack's gate rows interleaved per unit, its token table transposed with the input
 *    bias folded in, its gate matrices packed in panels;
 *  - any F16 tensor (widened to float32, or interleaved as float16 in a GRU);
 *  - an F32 tensor at an address not aligned for float (read with memcpy). The safetensors
 *    library pads the header to 8 bytes and writes the widest dtypes first, so in its files
 *    every F32 tensor is aligned when the buffer is aligned to 8 bytes. */
ccinfer_status ccinfer_load_memory_borrowed(const void* data, size_t size, ccinfer_model** out);
/* Frees a model (NULL is a no-op). */
void ccinfer_free(ccinfer_model* model);
ccinfer_status ccinfer_info(const ccinfer_model* model, ccinfer_info_t* out);

/* CondMLP, TreeGated or Sequential: y (n, output_size) from x (n, input_size), n >= 1.
 * n == 1 runs the single-sample path, n > 1 the batch path (the same results as Python's
 * model(x) for x of shape (input_size,) and (n, input_size) respectively). */
ccinfer_status ccinfer_forward(const ccinfer_model* model, const float* x, int64_t n, float* y);

/* A zero state of `batch` >= 1 streams of a GRU stack. */
ccinfer_status ccinfer_state_new(const ccinfer_model* model, int64_t batch, ccinfer_state** out);
void ccinfer_state_free(ccinfer_state* state);
/* Zeroes every stream's state. */
ccinfer_status ccinfer_state_reset(ccinfer_state* state);
/* One time step of every stream of the state. Token models: tokens (batch) ids in
 * [0, input_size); vector models: x (batch, input_size). logits (batch, output_size).
 * A one-stream state runs Python's model.step(token, state) path, a batch state
 * model.step(ids, state). */
ccinfer_status ccinfer_step_token(ccinfer_state* state, const int32_t* tokens, float* logits);
ccinfer_status ccinfer_step_vector(ccinfer_state* state, const float* x, float* logits);

/* Seeded sampling: *token receives an id in [0, n) drawn from softmax(logits / temperature),
 * what Python's GRUStack.generate(prefix, n, temperature=T, seed=S) draws when *rng_state
 * starts as S and is passed to every draw (each draw advances it). The generator is
 * SplitMix64 and the draw is in double precision (ccinfer/sample.h gives the algorithm);
 * temperature 0 takes the first maximum and leaves *rng_state unchanged. temperature must be
 * finite and >= 0 and every logit finite. Reentrant: it touches nothing but its arguments. */
ccinfer_status ccinfer_sample(const float* logits, int64_t n, double temperature,
                              uint64_t* rng_state, int32_t* token);

/* Threads for the calling thread's later calls (n >= 1). */
ccinfer_status ccinfer_set_num_threads(int n);

#ifdef __cplusplus
}
#endif

#endif /* CCINFER_CCINFER_H */
