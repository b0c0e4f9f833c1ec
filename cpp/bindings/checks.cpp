#include "checks.h"

#include <sstream>

namespace ccinfer::bindings {

std::string describe(const py::handle& obj) {
    return std::string(py::str(py::type::of(obj).attr("__name__")));
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::ostringstream s;
    s << "(";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << (shape.size() == 1 ? ",)" : ")");
    return s.str();
}

std::string expected_str(const char* dtype, std::initializer_list<int64_t> shape) {
    std::ostringstream want;
    want << dtype << " of shape (";
    int i = 0;
    for (int64_t d : shape) {
        want << (i++ ? ", " : "");
        if (d == kAnyDim)
            want << "*";
        else
            want << d;
    }
    want << (shape.size() == 1 ? ",)" : ")");
    return want.str();
}

std::string dtype_str(const py::dtype& dt) {
    if (dt.attr("isnative").cast<bool>()) return py::str(dt);
    return std::string(py::str(dt.attr("newbyteorder")("="))) + " in non-native byte order ('" +
           std::string(py::str(dt.attr("str"))) +
           "'; convert with a.astype(a.dtype.newbyteorder('=')))";
}

int64_t checked_int(const char* func, const char* name, const py::handle& obj) {
    if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
        fail(func, std::string(name) + " must be an int, got " + describe(obj));
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
    if (!index) throw py::error_already_set();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow)
        fail(func, std::string(name) + " = " + std::string(py::str(index)) +
                       " does not fit in a 64-bit integer");
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    return v;
}

void fail(const char* func, const std::string& what) {
    throw py::value_error(std::string(func) + ": " + what);
}

bool overlaps(const py::array& a, const py::array& b) {
    if (a.nbytes() == 0 || b.nbytes() == 0) return false;
    const auto* a0 = static_cast<const char*>(a.data());
    const auto* b0 = static_cast<const char*>(b.data());
    return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

void check_no_alias(const char* func, const py::array& out,
                    std::initializer_list<const py::array*> inputs) {
    for (const py::array* in : inputs)
        if (in && overlaps(out, *in)) fail(func, "out must not share memory with an input");
}

}  // namespace ccinfer::bindings
