#pragma once
// Argument checks at the Python boundary (docs/design.md section 5): arrays must
// already have the right dtype, layout and shape; nothing is converted or copied. A bad
// argument raises ValueError naming the function, the argument, the rule and what was given.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace ccinfer::bindings {

namespace py = pybind11;

/// Any size along this axis is accepted.
constexpr int64_t kAnyDim = -1;

std::string describe(const py::handle& obj);
std::string shape_str(const std::vector<int64_t>& shape);

/// Raises ValueError("<func>: <what>").
[[noreturn]] void fail(const char* func, const std::string& what);

/// Checks that obj is a C-contiguous ndarray of dtype T with the given shape (kAnyDim = any)
/// and returns it. `writable` additionally requires a writeable array (outputs).
template <typename T>
py::array checked_array(const char* func, const char* name, const py::handle& obj,
                        std::initializer_list<int64_t> shape, bool writable = false);

/// A Python int or numpy integer (not a bool) as int64: ValueError naming func and name if
/// obj is not an integer or does not fit in int64 (pybind's own conversion would raise
/// TypeError for both).
int64_t checked_int(const char* func, const char* name, const py::handle& obj);

/// Whether `a` holds elements of type T: the same kind and size in native byte order,
/// whatever dtype object it carries (an unpickled array has its own, equal, dtype object).
inline bool has_dtype(const py::array& a, const py::dtype& want) {
    return a.dtype().is(want) || a.dtype().equal(want);  // is(): the common case, no call
}
template <typename T>
bool has_dtype(const py::array& a) {
    return has_dtype(a, py::dtype::of<T>());
}

/// "float32" for a dtype, with its byte order when that is not native (">f4 (non-native
/// byte order, ...)"): the one place messages describe a given dtype.
std::string dtype_str(const py::dtype& dt);

/// Strides-free bounds of an array's data, for aliasing checks.
bool overlaps(const py::array& a, const py::array& b);

/// Raises ValueError if `out` shares memory with any of `inputs` (None entries are skipped).
void check_no_alias(const char* func, const py::array& out,
                    std::initializer_list<const py::array*> inputs);

template <typename T>
inline const char* dtype_name();
template <>
inline const char* dtype_name<float>() {
    return "float32";
}
template <>
inline const char* dtype_name<int32_t>() {
    return "int32";
}
template <>
inline const char* dtype_name<uint8_t>() {
    return "uint8";
}
template <>
inline const char* dtype_name<uint16_t>() {
    return "uint16";
}
template <>
inline const char* dtype_name<bool>() {
    return "bool";
}

std::string expected_str(const char* dtype, std::initializer_list<int64_t> shape);

template <typename T>
py::array checked_array(const char* func, const char* name, const py::handle& obj,
                        std::initializer_list<int64_t> shape, bool writable) {
    // The fast path builds no strings: messages are made only once a check has failed.
    if (!py::isinstance<py::array>(obj))
        fail(func, std::string(name) + " must be a numpy.ndarray, " +
                       expected_str(dtype_name<T>(), shape) + ", got " + describe(obj));
    py::array a = py::reinterpret_borrow<py::array>(obj);
    bool ok = has_dtype<T>(a) && a.ndim() == static_cast<py::ssize_t>(shape.size());
    if (ok) {
        int i = 0;
        for (int64_t d : shape) ok = ok && (d == kAnyDim || a.shape(i) == d), ++i;
    }
    if (!ok)
        fail(func, std::string(name) + " must be " + expected_str(dtype_name<T>(), shape) +
                       ", got " + dtype_str(a.dtype()) + " " +
                       shape_str(std::vector<int64_t>(a.shape(), a.shape() + a.ndim())));
    if (!(a.flags() & py::array::c_style))
        fail(func, std::string(name) + " must be C-contiguous (use numpy.ascontiguousarray), " +
                       "got strides " +
                       shape_str(std::vector<int64_t>(a.strides(), a.strides() + a.ndim())));
    if (writable && !a.writeable()) fail(func, std::string(name) + " must be writeable");
    return a;
}

}  // namespace ccinfer::bindings
