#include "checks.h"

namespace ccinfer::bindings {

std::string describe(const py::handle& obj) {
    return std::string(py::str(py::type::of(obj).attr("__name__")));
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

std::string expected_str(const char* dtype, std::initializer_list<int64_t> shape) {
    std::string want = std::string(dtype) + " of shape (";
    int i = 0;
    for (int64_t d : shape)
        want += (i++ ? ", " : "") + (d == kAnyDim ? std::string("*") : std::to_string(d));
    return want + (shape.size() == 1 ? ",)" : ")");
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
        if (in && overlaps(out, *in))
            fail(func, "out must not share memory with an input");
}

}  // namespace ccinfer::bindings
