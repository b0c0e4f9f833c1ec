#pragma once
/// CPU feature detection and the choice of kernel ISA.
///
/// Detection runs once (cpuid and the OS's xgetbv); the best level the CPU, the OS and this
/// build all support is selected. CCINFER_ISA=scalar|avx2|avx512 or set_active_isa() may force
/// a lower level; asking for a level the CPU lacks is an error.

#include <string>
#include <vector>

namespace ccinfer {

/// Kernel instruction-set levels, ordered: a higher level implies the lower ones.
///  - kAvx2:   AVX2 + FMA + F16C
///  - kAvx512: AVX-512 F/BW/DQ/VL (Skylake-X and later, Zen 4)
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

/// "scalar", "avx2" or "avx512".
const char* isa_name(Isa isa);

/// Parses an ISA name; throws std::invalid_argument for an unknown one.
Isa parse_isa(const std::string& name);

/// The best level this CPU and OS support (whether or not this build compiled it).
Isa detected_isa();

/// Levels this build compiled kernels for, ascending.
std::vector<Isa> compiled_isas();

/// Levels that are both compiled and supported by this CPU, ascending.
std::vector<Isa> available_isas();

/// The level whose kernels run now.
Isa active_isa();

/// Selects the kernels of `isa`. Throws std::invalid_argument (and changes nothing) if the
/// level is not available on this CPU. Not thread-safe against running kernels: call it
/// between computations.
void set_active_isa(Isa isa);

/// Applies CCINFER_ISA from the environment if it is set (throws like set_active_isa, or for
/// an unknown name). Returns the active level.
Isa init_isa_from_env();

}  // namespace ccinfer
