#pragma once
/// CPU feature detection and the choice of kernel ISA.
///
/// An ISA is a kernel set of one architecture family (x86: scalar, avx2, avx512; ARM: scalar)
/// that needs a set of CPU features. Detection runs once per family (x86: cpuid and the OS's
/// xgetbv); of the compiled ISAs whose features the CPU and OS have, the last in preference
/// order is selected. CCINFER_ISA=<name> or set_active_isa() may choose another available one;
/// asking for one the CPU lacks is an error.

#include <string>
#include <vector>

namespace ccinfer {

/// Kernel sets (no order between them; cpu.cpp lists each one's family and features):
///  - kScalar: portable C++, every family
///  - kAvx2:   x86, AVX2 + FMA + F16C
///  - kAvx512: x86, AVX-512 F/BW/DQ/VL (Skylake-X and later, Zen 4) with the AVX2 features
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

/// "scalar", "avx2" or "avx512".
const char* isa_name(Isa isa);

/// Parses an ISA name; throws std::invalid_argument for an unknown one.
Isa parse_isa(const std::string& name);

/// The preferred ISA this CPU and OS support (whether or not this build compiled it).
Isa detected_isa();

/// ISAs this build compiled kernels for, in preference order (least preferred first).
std::vector<Isa> compiled_isas();

/// ISAs that are both compiled and supported by this CPU, in the same order.
std::vector<Isa> available_isas();

/// The ISA whose kernels run now.
Isa active_isa();

/// Selects the kernels of `isa`. Throws std::invalid_argument (and changes nothing) if the
/// ISA is not available on this CPU. Not thread-safe against running kernels: call it
/// between computations.
void set_active_isa(Isa isa);

/// Applies CCINFER_ISA from the environment if it is set (throws like set_active_isa, or for
/// an unknown name). Returns the active ISA.
Isa init_isa_from_env();

}  // namespace ccinfer
