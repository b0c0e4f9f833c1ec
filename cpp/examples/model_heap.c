/* The heap a loaded model takes (glibc only: mallinfo2), for the README's table.
 *
 *   model_heap MODEL...
 *
 * Prints, per model, the file size and the bytes allocated by ccinfer_load_file that stay
 * allocated until ccinfer_free (the file itself is mapped while loading, then unmapped), and
 * the same after one forward or step (workspaces kept for later calls).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ccinfer/ccinfer.h"

static size_t in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd; /* arena bytes in use + mmapped blocks */
}

int main(int argc, char** argv) {
    ccinfer_set_num_threads(1);
    printf("%-40s %12s %12s %12s\n", "model", "file", "loaded", "after run");
    for (int i = 1; i < argc; ++i) {
        struct stat st;
        if (stat(argv[i], &st) != 0) return 1;
        const size_t before = in_use();
        ccinfer_model* model = NULL;
        if (ccinfer_load_file(argv[i], &model) != CCINFER_OK) {
            fprintf(stderr, "%s\n", ccinfer_last_error());
            return 1;
        }
        const size_t loaded = in_use() - before;
        ccinfer_info_t info;
        ccinfer_info(model, &info);
        float* x = calloc((size_t)info.input_size, sizeof(float));
        float* y = calloc((size_t)info.output_size, sizeof(float));
        ccinfer_state* state = NULL;
        if (info.kind == CCINFER_KIND_GRU_STACK) {
            int32_t token = 0;
            ccinfer_state_new(model, 1, &state);
            if (info.token_input)
                ccinfer_step_token(state, &token, y);
            else
                ccinfer_step_vector(state, x, y);
        } else {
            ccinfer_forward(model, x, 1, y);
        }
        const size_t after = in_use() - before;
        printf("%-40s %12lld %12zu %12zu\n", argv[i], (long long)st.st_size, loaded, after);
        ccinfer_state_free(state);
        ccinfer_free(model);
        free(x);
        free(y);
    }
    return 0;
}
