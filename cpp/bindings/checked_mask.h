#pragma once
// Row masks at the Python boundary: numpy bool or uint8 (non-zero = active), checked like any
// other array (checks.h), never converted.

#include "checks.h"

namespace ccinfer::bindings {

/// Checks that obj is a C-contiguous bool or uint8 ndarray of the given shape and returns it.
inline py::array checked_mask(const char* func, const char* name, const py::handle& obj,
                              std::initializer_list<int64_t> shape) {
    if (py::isinstance<py::array>(obj) && has_dtype<bool>(py::reinterpret_borrow<py::array>(obj)))
        return checked_array<bool>(func, name, obj, shape);
    if (py::isinstance<py::array>(obj) &&
        !has_dtype<uint8_t>(py::reinterpret_borrow<py::array>(obj))) {
        py::array a = py::reinterpret_borrow<py::array>(obj);
        fail(func, std::string(name) + " must be " + expected_str("bool or uint8", shape) +
                       ", got " + dtype_str(a.dtype()) + " " +
                       shape_str(std::vector<int64_t>(a.shape(), a.shape() + a.ndim())));
    }
    return checked_array<uint8_t>(func, name, obj, shape);
}

}  // namespace ccinfer::bindings
