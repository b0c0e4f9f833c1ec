/* Classify digits with the shipped MNIST model through the C API, from a file, from memory
 * and from memory in place, one sample at a time and as a batch.
 *
 *   classify_digits MODEL [PIXELS]
 *
 * PIXELS: raw little-endian float32, 784 per image (MNIST pixels / 255, row by row); without
 * it, four synthetic images. Prints per image the class and the ten logits in C's %a form
 * (exact), for the single-sample path ("single") and the batch path ("batch"); the models
 * loaded from the file, from memory and in place (ccinfer_load_memory_borrowed) must agree
 * bit for bit (exit 1 otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccinfer/ccinfer.h"

static int check(ccinfer_status status, const char* what) {
    if (status == CCINFER_OK) return 0;
    fprintf(stderr, "%s: %s: %s\n", what, ccinfer_status_name(status), ccinfer_last_error());
    return 1;
}

/* The whole file in a malloc'd buffer (what firmware would have linked in or mapped). */
static unsigned char* read_all(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char* buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            unsigned char* grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *size = n;
    return buf;
}

static void print_row(const char* path, int64_t i, const float* logits, int64_t classes) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
        if (logits[c] > logits[best]) best = c; /* the first maximum, as numpy's argmax */
    printf("%s %lld %lld", path, (long long)i, (long long)best);
    for (int64_t c = 0; c < classes; ++c) printf(" %a", (double)logits[c]);
    printf("\n");
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [PIXELS]\n", argv[0]);
        return 2;
    }
    ccinfer_model *model = NULL, *from_memory = NULL, *in_place = NULL;
    if (check(ccinfer_load_file(argv[1], &model), "ccinfer_load_file")) return 1;
    size_t size = 0;
    unsigned char* bytes = read_all(argv[1], &size);
    if (!bytes) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    if (check(ccinfer_load_memory(bytes, size, &from_memory), "ccinfer_load_memory")) return 1;
    /* This one references the weights it can in bytes: they stay until it is freed. */
    if (check(ccinfer_load_memory_borrowed(bytes, size, &in_place), "ccinfer_load_memory_borrowed"))
        return 1;

    ccinfer_info_t info;
    if (check(ccinfer_info(model, &info), "ccinfer_info")) return 1;
    const int64_t d = info.input_size, k = info.output_size;

    int64_t n = 4;
    float* x = NULL;
    if (argc == 3) {
        size_t nbytes = 0;
        x = (float*)read_all(argv[2], &nbytes);
        if (!x || nbytes == 0 || nbytes % (sizeof(float) * (size_t)d)) {
            fprintf(stderr, "%s: expected a multiple of %lld float32\n", argv[2], (long long)d);
            return 1;
        }
        n = (int64_t)(nbytes / (sizeof(float) * (size_t)d));
    } else {
        x = malloc(sizeof(float) * (size_t)(n * d));
        for (int64_t i = 0; i < n * d; ++i) x[i] = (float)((i * 37 + i / d * 11) % 256) / 255.0f;
    }
    float* y = malloc(sizeof(float) * (size_t)(n * k));
    float* y2 = malloc(sizeof(float) * (size_t)(n * k));
    ccinfer_model* others[2] = {from_memory, in_place};
    int mismatch = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (check(ccinfer_forward(model, x + i * d, 1, y + i * k), "ccinfer_forward")) return 1;
        print_row("single", i, y + i * k, k);
    }
    for (int m = 0; m < 2; ++m) {
        for (int64_t i = 0; i < n; ++i)
            if (check(ccinfer_forward(others[m], x + i * d, 1, y2 + i * k), "ccinfer_forward"))
                return 1;
        mismatch |= memcmp(y, y2, sizeof(float) * (size_t)(n * k)) != 0;
    }
    if (check(ccinfer_forward(model, x, n, y), "ccinfer_forward")) return 1;
    for (int64_t i = 0; i < n; ++i) print_row("batch", i, y + i * k, k);
    for (int m = 0; m < 2; ++m) {
        if (check(ccinfer_forward(others[m], x, n, y2), "ccinfer_forward")) return 1;
        mismatch |= memcmp(y, y2, sizeof(float) * (size_t)(n * k)) != 0;
    }
    if (mismatch) fprintf(stderr, "the file, memory and in-place models disagree\n");
    free(x);
    free(y);
    free(y2);
    ccinfer_free(model);
    ccinfer_free(from_memory);
    ccinfer_free(in_place);
    free(bytes); /* after the in-place model */
    return mismatch;
}
