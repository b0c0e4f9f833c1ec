/* Generate text with a shipped character model through the C API: greedy (argmax) decoding
 * after a prefix, as Python's GRUStack.generate(prefix, n, temperature=0).
 *
 *   generate_text MODEL PREFIX N
 *
 * The vocabulary is the text models' (ccinfer.datasets.VOCAB): space, then a..z. Prints the
 * generated text, then the logits of the last prefix step in C's %a form (exact). The model
 * is loaded from the file and from memory, and both must generate the same (exit 1 if not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccinfer/ccinfer.h"

static const char kVocab[] = " abcdefghijklmnopqrstuvwxyz";

static int check(ccinfer_status status, const char* what) {
    if (status == CCINFER_OK) return 0;
    fprintf(stderr, "%s: %s: %s\n", what, ccinfer_status_name(status), ccinfer_last_error());
    return 1;
}

static int32_t argmax(const float* v, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i; /* the first maximum, as numpy's argmax */
    return (int32_t)best;
}

/* Writes n generated characters to text (n + 1 bytes) and the prefix's last logits. */
static int generate(ccinfer_model* model, const char* prefix, long n, char* text,
                    float* last_logits) {
    ccinfer_info_t info;
    if (check(ccinfer_info(model, &info), "ccinfer_info")) return 1;
    if (info.kind != CCINFER_KIND_GRU_STACK || !info.token_input ||
        info.input_size != (int64_t)strlen(kVocab) || info.output_size != info.input_size) {
        fprintf(stderr, "not a character model over the 27-symbol vocabulary\n");
        return 1;
    }
    ccinfer_state* state = NULL;
    if (check(ccinfer_state_new(model, 1, &state), "ccinfer_state_new")) return 1;
    float* logits = malloc(sizeof(float) * (size_t)info.output_size);
    for (const char* c = prefix; *c; ++c) {
        const char* at = strchr(kVocab, *c);
        if (!at) {
            fprintf(stderr, "prefix character '%c' is not in the vocabulary\n", *c);
            return 1;
        }
        int32_t token = (int32_t)(at - kVocab);
        if (check(ccinfer_step_token(state, &token, logits), "ccinfer_step_token")) return 1;
    }
    memcpy(last_logits, logits, sizeof(float) * (size_t)info.output_size);
    for (long t = 0; t < n; ++t) {
        int32_t token = argmax(logits, info.output_size);
        text[t] = kVocab[token];
        if (t + 1 < n && check(ccinfer_step_token(state, &token, logits), "ccinfer_step_token"))
            return 1;
    }
    text[n] = '\0';
    free(logits);
    ccinfer_state_free(state);
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 4 || argv[2][0] == '\0' || atol(argv[3]) < 0) {
        fprintf(stderr, "usage: %s MODEL PREFIX N  (PREFIX: non-empty, space and a..z)\n", argv[0]);
        return 2;
    }
    const long n = atol(argv[3]);
    ccinfer_model *model = NULL, *from_memory = NULL;
    if (check(ccinfer_load_file(argv[1], &model), "ccinfer_load_file")) return 1;

    FILE* f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* bytes = malloc((size_t)size);
    if (!bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    if (check(ccinfer_load_memory(bytes, (size_t)size, &from_memory), "ccinfer_load_memory"))
        return 1;
    free(bytes);

    char* text = malloc((size_t)n + 1);
    char* text2 = malloc((size_t)n + 1);
    float logits[64], logits2[64];
    if (generate(model, argv[2], n, text, logits)) return 1;
    if (generate(from_memory, argv[2], n, text2, logits2)) return 1;
    printf("%s\n", text);
    for (size_t i = 0; i < strlen(kVocab); ++i) printf("%s%a", i ? " " : "", (double)logits[i]);
    printf("\n");
    const int mismatch =
        strcmp(text, text2) != 0 || memcmp(logits, logits2, sizeof(float) * strlen(kVocab)) != 0;
    if (mismatch) fprintf(stderr, "file and memory models disagree\n");
    free(text);
    free(text2);
    ccinfer_free(model);
    ccinfer_free(from_memory);
    return mismatch;
}
