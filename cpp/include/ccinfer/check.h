#pragma once
/// Two kinds of check, kept apart as faiss keeps FAISS_THROW_IF_NOT_FMT apart from FAISS_ASSERT:
///
/// CCINFER_CHECK(cond, parts...) guards what a caller controls (shapes, sizes, indices, file
///   contents). It is always on and throws std::invalid_argument (ValueError in Python, an
///   error status in the C API) whose message is the parts streamed together, so call sites
///   write `CCINFER_CHECK(n >= 0, "cond_gemv: n must be >= 0, got ", n)` instead of building
///   strings by hand.
///
/// CCINFER_DCHECK(cond) states an internal invariant: a kernel's precondition that the code
///   calling it has already established. It costs nothing in a release build and aborts with
///   the file, line and condition when the build defines CCINFER_ENABLE_DCHECK (the CMake
///   option CCINFER_DCHECK, on in CI's sanitizer build). A failing DCHECK is a bug in ccinfer,
///   never a user error, so it is not an exception a caller could catch and carry on from.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ccinfer {

/// The parts streamed into one string: ccinfer::str("got ", n, " rows") == "got 3 rows".
template <typename... Parts>
std::string str(Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    return out.str();
}

namespace detail {
template <typename... Parts>
[[noreturn]] void throw_invalid(Parts&&... parts) {
    throw std::invalid_argument(str(std::forward<Parts>(parts)...));
}
[[noreturn]] void dcheck_failed(const char* condition, const char* file, int line) noexcept;
}  // namespace detail

}  // namespace ccinfer

#define CCINFER_CHECK(cond, ...)                                    \
    do {                                                            \
        if (!(cond)) ::ccinfer::detail::throw_invalid(__VA_ARGS__); \
    } while (0)

#ifdef CCINFER_ENABLE_DCHECK
#define CCINFER_DCHECK(cond)                                                      \
    do {                                                                          \
        if (!(cond)) ::ccinfer::detail::dcheck_failed(#cond, __FILE__, __LINE__); \
    } while (0)
#else
// Not evaluated, but still compiled, so the condition cannot rot.
#define CCINFER_DCHECK(cond)     \
    do {                         \
        if (false) (void)(cond); \
    } while (0)
#endif
