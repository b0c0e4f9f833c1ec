// libFuzzer harness for the model-file loader, through the C API (.ci/fuzz.sh builds and
// runs it). Every input must either load or be refused with CCINFER_BAD_MODEL and a message;
// any other status from a load means a check is missing (the engine's constructors refused
// what the reader let through) and traps. A model that loads and is small is also run once,
// so a config the reader accepts is one the engine can compute.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ccinfer/ccinfer.h"

namespace {

// Larger models load fine but would make each execution slow; they are only run below this.
constexpr int64_t kMaxRunWidth = 1 << 12;

// A run of finite inputs may still be refused: huge (finite) weights can overflow one stage of
// a Sequential, and the next stage refuses the non-finite values it is given (the engine's
// policy, as the dense computation would give inf or NaN). Anything else traps.
bool ran(ccinfer_status s) {
    return s == CCINFER_OK ||
           (s == CCINFER_INVALID_ARGUMENT && std::strstr(ccinfer_last_error(), "must be finite"));
}

void run_once(ccinfer_model* model) {
    ccinfer_info_t info;
    if (ccinfer_info(model, &info) != CCINFER_OK) __builtin_trap();
    if (info.input_size > kMaxRunWidth || info.output_size > kMaxRunWidth) return;
    std::vector<float> x(static_cast<size_t>(2 * info.input_size), 0.5f);
    std::vector<float> y(static_cast<size_t>(2 * info.output_size));
    if (info.kind != CCINFER_KIND_GRU_STACK) {
        if (!ran(ccinfer_forward(model, x.data(), 2, y.data()))) __builtin_trap();
        return;
    }
    ccinfer_state* state = nullptr;
    if (ccinfer_state_new(model, 2, &state) != CCINFER_OK) __builtin_trap();
    const int32_t tokens[2] = {0, static_cast<int32_t>(info.input_size - 1)};
    const ccinfer_status s = info.token_input ? ccinfer_step_token(state, tokens, y.data())
                                              : ccinfer_step_vector(state, x.data(), y.data());
    if (!ran(s)) __builtin_trap();
    ccinfer_state_free(state);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Odd sizes load in place (the input outlives the model here), even sizes copy: the same
    // reader, and both ways of building.
    ccinfer_model* model = nullptr;
    const ccinfer_status status = size % 2 ? ccinfer_load_memory_borrowed(data, size, &model)
                                           : ccinfer_load_memory(data, size, &model);
    if (status == CCINFER_BAD_MODEL) {
        if (ccinfer_last_error()[0] == '\0') __builtin_trap();  // refused without a message
        return 0;
    }
    if (status != CCINFER_OK) __builtin_trap();
    run_once(model);
    ccinfer_free(model);
    return 0;
}
