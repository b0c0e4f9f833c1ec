/* The heap a loaded model takes (glibc only: mallinfo2), for the README's table.
 *
 *   model_heap MODEL...
 *
 * Prints, per model, the file size and the bytes allocated by loading that stay allocated
 * until ccinfer_free: with ccinfer_load_memory (every weight copied into its compute layout)
 * and with ccinfer_load_memory_borrowed (weights whose layout is the file's referenced in the
 * buffer, which is the caller's and not counted), then the same after one forward or step
 * (workspaces kept for later calls). The two loads must give the same outputs bit for bit
 * (exit 1 if not).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccinfer/ccinfer.h"

static size_t in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd; /* arena bytes in use + mmapped blocks */
}

static unsigned char* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* bytes = malloc(*size ? *size : 1);
    if (bytes && fread(bytes, 1, *size, f) != *size) {
        free(bytes);
        bytes = NULL;
    }
    fclose(f);
    return bytes;
}

/* One forward (or one step) on zeros; y receives the outputs. */
static int run_once(ccinfer_model* model, const ccinfer_info_t* info, float* x, float* y,
                    ccinfer_state** state) {
    if (info->kind != CCINFER_KIND_GRU_STACK) return ccinfer_forward(model, x, 1, y);
    int32_t token = 0;
    if (ccinfer_state_new(model, 1, state) != CCINFER_OK) return 1;
    return info->token_input ? ccinfer_step_token(*state, &token, y)
                             : ccinfer_step_vector(*state, x, y);
}

/* Heap after loading and after one call; the outputs in y. */
static int measure(const unsigned char* bytes, size_t size, int borrowed, size_t* loaded,
                   size_t* after, float** y, ccinfer_info_t* info) {
    const size_t before = in_use();
    ccinfer_model* model = NULL;
    const ccinfer_status st = borrowed ? ccinfer_load_memory_borrowed(bytes, size, &model)
                                       : ccinfer_load_memory(bytes, size, &model);
    if (st != CCINFER_OK) {
        fprintf(stderr, "%s\n", ccinfer_last_error());
        return 1;
    }
    *loaded = in_use() - before;
    ccinfer_info(model, info);
    float* x = calloc((size_t)info->input_size, sizeof(float));
    *y = calloc((size_t)info->output_size, sizeof(float));
    ccinfer_state* state = NULL;
    const int failed = run_once(model, info, x, *y, &state) != CCINFER_OK;
    *after = in_use() - before - (size_t)(info->input_size + info->output_size) * sizeof(float);
    ccinfer_state_free(state);
    ccinfer_free(model);
    free(x);
    return failed;
}

int main(int argc, char** argv) {
    ccinfer_set_num_threads(1);
    printf("%-44s %10s %10s %10s %10s %10s\n", "model", "file", "copied", "in place", "run copied",
           "run in place");
    int mismatch = 0;
    for (int i = 1; i < argc; ++i) {
        size_t size = 0;
        unsigned char* bytes = read_file(argv[i], &size);
        if (!bytes) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        size_t loaded[2], after[2];
        float* y[2];
        ccinfer_info_t info;
        for (int borrowed = 0; borrowed < 2; ++borrowed)
            if (measure(bytes, size, borrowed, &loaded[borrowed], &after[borrowed], &y[borrowed],
                        &info))
                return 1;
        if (memcmp(y[0], y[1], sizeof(float) * (size_t)info.output_size) != 0) {
            fprintf(stderr, "%s: the in-place load gives other outputs\n", argv[i]);
            mismatch = 1;
        }
        printf("%-44s %10zu %10zu %10zu %10zu %10zu\n", argv[i], size, loaded[0], loaded[1],
               after[0], after[1]);
        free(y[0]);
        free(y[1]);
        free(bytes);
    }
    return mismatch;
}
