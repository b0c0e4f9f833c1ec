/* Generate text with a shipped character model through the C API after a prefix, as
 * Python's GRUStack.generate(prefix, n, temperature=T, seed=S): greedy (argmax) decoding by
 * default, seeded sampling (ccinfer_sample) with a temperature T > 0.
 *
 *   generate_text MODEL PREFIX N [TEMPERATURE SEED]
 *
 * The vocabulary is the text models' (ccinfer.datasets.VOCAB): space, then a..z. Prints the
 * generated text, then the logits of the last prefix step in C's %a form (exact). The model
 * is loaded from the file, from memory and from memory in place, and all must generate the
 * same (exit 1 if not).
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

/* Writes n generated characters to text (n + 1 bytes) and the prefix's last logits. */
static int generate(ccinfer_model* model, const char* prefix, long n, double temperature,
                    uint64_t seed, char* text, float* last_logits) {
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
    uint64_t rng = seed; /* the generator's state starts as the seed */
    for (long t = 0; t < n; ++t) {
        int32_t token = 0;
        if (check(ccinfer_sample(logits, info.output_size, temperature, &rng, &token),
                  "ccinfer_sample"))
            return 1;
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
    if ((argc != 4 && argc != 6) || argv[2][0] == '\0' || atol(argv[3]) < 0) {
        fprintf(stderr,
                "usage: %s MODEL PREFIX N [TEMPERATURE SEED]  (PREFIX: non-empty, space and "
                "a..z; TEMPERATURE >= 0, 0 by default: greedy)\n",
                argv[0]);
        return 2;
    }
    const long n = atol(argv[3]);
    const double temperature = argc == 6 ? strtod(argv[4], NULL) : 0.0;
    const uint64_t seed = argc == 6 ? strtoull(argv[5], NULL, 10) : 0;
    ccinfer_model *model = NULL, *from_memory = NULL, *in_place = NULL;
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
    if (check(ccinfer_load_memory_borrowed(bytes, (size_t)size, &in_place),
              "ccinfer_load_memory_borrowed"))
        return 1;

    char* text = malloc((size_t)n + 1);
    char* text2 = malloc((size_t)n + 1);
    float logits[64], logits2[64];
    if (generate(model, argv[2], n, temperature, seed, text, logits)) return 1;
    printf("%s\n", text);
    for (size_t i = 0; i < strlen(kVocab); ++i) printf("%s%a", i ? " " : "", (double)logits[i]);
    printf("\n");
    int mismatch = 0;
    ccinfer_model* others[2] = {from_memory, in_place};
    for (int m = 0; m < 2; ++m) {
        if (generate(others[m], argv[2], n, temperature, seed, text2, logits2)) return 1;
        mismatch |= strcmp(text, text2) != 0 ||
                    memcmp(logits, logits2, sizeof(float) * strlen(kVocab)) != 0;
    }
    if (mismatch) fprintf(stderr, "the file, memory and in-place models disagree\n");
    free(text);
    free(text2);
    ccinfer_free(model);
    ccinfer_free(from_memory);
    ccinfer_free(in_place);
    free(bytes); /* after the in-place model */
    return mismatch;
}
