// The C++ model-file reader (ccinfer/format.h) for Python: read_model_bytes returns what
// ccinfer.io.read_model_file returns, checked by the same code the C API uses: the one
// reader behind ccinfer.load (python/ccinfer/io.py). c_api_version keeps the C API
// (ccinfer/ccinfer.h) linked into _core: tests drive it through ctypes on this very library.
// sample_token is the seeded sampler (ccinfer/sample.h) GRUStack.generate and ccinfer_sample
// share, so that C generates what Python generates.
#include <pybind11/stl.h>

#include "ccinfer/ccinfer.h"
#include "ccinfer/check.h"
#include "ccinfer/format.h"
#include "ccinfer/sample.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_format(py::module_& m) {
    m.def(
        "read_model_bytes",
        [](const py::bytes& data, const std::string& where) {
            const std::string_view bytes = data;
            format::ModelFile file;
            {
                py::gil_scoped_release release;
                file = format::read_model_file(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               bytes.size(), where);
                format::check_model(file);  // the kind's config and tensors
            }
            py::dict tensors, stored;
            for (const format::Tensor& t : file.tensors) {
                py::array_t<float> a(std::vector<py::ssize_t>(t.shape.begin(), t.shape.end()));
                format::read_floats(t, a.mutable_data());
                tensors[py::str(t.name)] = a;
                stored[py::str(t.name)] = t.dtype == format::Dtype::kF16 ? "F16" : "F32";
            }
            py::dict card;
            for (const auto& [k, v] : file.card) card[py::str(k)] = v;
            return py::make_tuple(file.kind, file.config_json, tensors, card, stored);
        },
        py::arg("data"), py::arg("where"),
        "Reads and checks a model file's bytes: (kind, config JSON, tensors, card, stored).");
    m.def(
        "sample_token",
        [](const py::array_t<float, py::array::c_style | py::array::forcecast>& logits,
           double temperature, uint64_t state) {
            CCINFER_CHECK(logits.ndim() == 1, "sample_token: logits must be 1-D, got ",
                          logits.ndim(), " dimensions");
            const int64_t token = sample_token(logits.data(), logits.shape(0), temperature, &state);
            return py::make_tuple(token, state);
        },
        py::arg("logits"), py::arg("temperature"), py::arg("state"),
        "A token drawn from softmax(logits / temperature) with the SplitMix64 generator in state "
        "(ccinfer/sample.h): (token, the advanced state).");
    m.def("c_api_version", [] { return std::string(ccinfer_version()); });
}

}  // namespace ccinfer::bindings
