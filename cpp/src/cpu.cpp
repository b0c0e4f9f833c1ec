#include "ccinfer/cpu.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "kernels/table.h"

#ifdef CCINFER_X86
#include <cpuid.h>
#endif

namespace ccinfer {
namespace {

#ifdef CCINFER_X86
// XCR0 bits the OS must save for a register file to be usable: SSE|AVX, and for AVX-512 also
// the opmask and the upper ZMM halves.
constexpr unsigned kXcr0Avx = 0x6;
constexpr unsigned kXcr0Avx512 = 0xE6;

unsigned long long read_xcr0() {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
}

Isa detect() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::kScalar;
    const bool osxsave = c & bit_OSXSAVE;
    const bool fma = c & bit_FMA;
    const bool f16c = c & bit_F16C;
    const bool avx = c & bit_AVX;
    if (!osxsave || !avx || !fma || !f16c) return Isa::kScalar;
    const unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & kXcr0Avx) != kXcr0Avx) return Isa::kScalar;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::kScalar;
    if (!(b & bit_AVX2)) return Isa::kScalar;
    const bool avx512 = (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512DQ) &&
                        (b & bit_AVX512VL) && (xcr0 & kXcr0Avx512) == kXcr0Avx512;
    return avx512 ? Isa::kAvx512 : Isa::kAvx2;
}
#else
Isa detect() { return Isa::kScalar; }
#endif

Isa best_available() {
    const Isa cpu = detected_isa();
    Isa best = Isa::kScalar;
    for (Isa isa : compiled_isas())
        if (static_cast<int>(isa) <= static_cast<int>(cpu)) best = isa;
    return best;
}

std::atomic<const kernels::KernelTable*>& active_table() {
    static std::atomic<const kernels::KernelTable*> table{&kernels::table_for(best_available())};
    return table;
}

}  // namespace

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::kScalar:
            return "scalar";
        case Isa::kAvx2:
            return "avx2";
        case Isa::kAvx512:
            return "avx512";
    }
    return "unknown";
}

Isa parse_isa(const std::string& name) {
    if (name == "scalar") return Isa::kScalar;
    if (name == "avx2") return Isa::kAvx2;
    if (name == "avx512") return Isa::kAvx512;
    throw std::invalid_argument("ccinfer: unknown ISA '" + name +
                                "', expected one of scalar, avx2, avx512");
}

Isa detected_isa() {
    static const Isa isa = detect();
    return isa;
}

std::vector<Isa> compiled_isas() {
#ifdef CCINFER_X86
    return {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};
#else
    return {Isa::kScalar};
#endif
}

std::vector<Isa> available_isas() {
    std::vector<Isa> out;
    for (Isa isa : compiled_isas())
        if (static_cast<int>(isa) <= static_cast<int>(detected_isa())) out.push_back(isa);
    return out;
}

Isa active_isa() { return active_table().load()->isa; }

void set_active_isa(Isa isa) {
    for (Isa available : available_isas()) {
        if (available == isa) {
            active_table().store(&kernels::table_for(isa));
            return;
        }
    }
    std::string have;
    for (Isa available : available_isas()) have += std::string(have.empty() ? "" : ", ") +
                                                   isa_name(available);
    throw std::invalid_argument(std::string("ccinfer: ISA '") + isa_name(isa) +
                                "' is not available on this CPU/build (available: " + have + ")");
}

Isa init_isa_from_env() {
    const char* env = std::getenv("CCINFER_ISA");
    if (env && *env) set_active_isa(parse_isa(env));
    return active_isa();
}

namespace kernels {
const KernelTable& active() { return *active_table().load(std::memory_order_relaxed); }
}  // namespace kernels

}  // namespace ccinfer
