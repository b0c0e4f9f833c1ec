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

enum class Arch { kAny, kX86, kArm };

// CPU features the kernels need, one bit each; a family's detection sets only its own bits.
enum Feature : unsigned {
    kFeatAvx2 = 1u << 0,    // x86: AVX2, FMA, F16C and the OS saving the YMM state
    kFeatAvx512 = 1u << 1,  // x86: AVX-512 F/BW/DQ/VL and the OS saving the ZMM state
};

struct IsaSpec {
    Isa isa;
    const char* name;
    Arch arch;       // kAny: runs on every family
    unsigned needs;  // every bit must be detected
};

// Every ISA known, in preference order (least preferred first). Adding one (neon, an int8
// dot-product set) is a line here, its enumerator in cpu.h and its detection below.
constexpr IsaSpec kIsas[] = {
    {Isa::kScalar, "scalar", Arch::kAny, 0},
    {Isa::kAvx2, "avx2", Arch::kX86, kFeatAvx2},
    {Isa::kAvx512, "avx512", Arch::kX86, kFeatAvx2 | kFeatAvx512},
};

const IsaSpec& spec(Isa isa) {
    for (const IsaSpec& s : kIsas)
        if (s.isa == isa) return s;
    return kIsas[0];
}

#ifdef CCINFER_X86
constexpr Arch kThisArch = Arch::kX86;

// XCR0 bits the OS must save for a register file to be usable: SSE|AVX, and for AVX-512 also
// the opmask and the upper ZMM halves.
constexpr unsigned kXcr0Avx = 0x6;
constexpr unsigned kXcr0Avx512 = 0xE6;

unsigned long long read_xcr0() {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
}

unsigned detect_features() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const bool osxsave = c & bit_OSXSAVE;
    const bool fma = c & bit_FMA;
    const bool f16c = c & bit_F16C;
    const bool avx = c & bit_AVX;
    if (!osxsave || !avx || !fma || !f16c) return 0;
    const unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & kXcr0Avx) != kXcr0Avx) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(b & bit_AVX2)) return 0;
    const bool avx512 = (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512DQ) &&
                        (b & bit_AVX512VL) && (xcr0 & kXcr0Avx512) == kXcr0Avx512;
    return kFeatAvx2 | (avx512 ? kFeatAvx512 : 0u);
}
#elif defined(__aarch64__)
constexpr Arch kThisArch = Arch::kArm;
unsigned detect_features() { return 0; }  // no ARM kernels yet: scalar only
#else
constexpr Arch kThisArch = Arch::kAny;
unsigned detect_features() { return 0; }
#endif

unsigned cpu_features() {
    static const unsigned features = detect_features();
    return features;
}

// The CPU (family and features) can run the kernels of `isa`.
bool supported(Isa isa) {
    const IsaSpec& s = spec(isa);
    return (s.arch == Arch::kAny || s.arch == kThisArch) && (cpu_features() & s.needs) == s.needs;
}

Isa best_available() { return available_isas().back(); }

std::atomic<const kernels::KernelTable*>& active_table() {
    static std::atomic<const kernels::KernelTable*> table{&kernels::table_for(best_available())};
    return table;
}

}  // namespace

const char* isa_name(Isa isa) {
    for (const IsaSpec& s : kIsas)
        if (s.isa == isa) return s.name;
    return "unknown";
}

Isa parse_isa(const std::string& name) {
    std::string known;
    for (const IsaSpec& s : kIsas) {
        if (name == s.name) return s.isa;
        known += std::string(known.empty() ? "" : ", ") + s.name;
    }
    throw std::invalid_argument("ccinfer: unknown ISA '" + name + "', expected one of " + known);
}

Isa detected_isa() {
    Isa best = Isa::kScalar;
    for (const IsaSpec& s : kIsas)
        if (supported(s.isa)) best = s.isa;
    return best;
}

std::vector<Isa> compiled_isas() {
    std::vector<Isa> out;
#define CCINFER_COMPILED(ns, isa_enum) out.push_back(Isa::isa_enum);
    CCINFER_KERNEL_ISAS(CCINFER_COMPILED)
#undef CCINFER_COMPILED
    return out;
}

std::vector<Isa> available_isas() {
    std::vector<Isa> out;
    for (Isa isa : compiled_isas())
        if (supported(isa)) out.push_back(isa);
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
    for (Isa available : available_isas())
        have += std::string(have.empty() ? "" : ", ") + isa_name(available);
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
