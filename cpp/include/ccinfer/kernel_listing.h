#pragma once
/// The kernels this build compiles, read from the one list of kernels
/// (cpp/src/kernels/kernel_list.h): what ccinfer.kernels.kernel_list() shows, and what the
/// tests check the Python listing and the NumPy references against.

#include <string>
#include <utility>
#include <vector>

namespace ccinfer {

struct KernelListing {
    std::string name;       ///< the kernel's name in the dispatch table
    std::string entry;      ///< where Python reaches it, relative to the ccinfer package
    std::string reference;  ///< the NumPy function every ISA's version is tested against
    /// Per compiled ISA (in compiled_isas() order): the kernel set whose code that ISA runs,
    /// its own name unless the ISA has no port of its own and points at another set's.
    std::vector<std::pair<std::string, std::string>> code;
};

/// Every kernel of the list, in table order.
std::vector<KernelListing> kernel_listing();

}  // namespace ccinfer
