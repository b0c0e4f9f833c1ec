#include "table.h"

#include <stdexcept>

#include "gemv_rows/gemv_rows.h"

namespace ccinfer::kernels {
namespace {

const KernelTable kScalarTable{Isa::kScalar, scalar::gemv_rows};
#ifdef CCINFER_X86
const KernelTable kAvx2Table{Isa::kAvx2, avx2::gemv_rows};
const KernelTable kAvx512Table{Isa::kAvx512, avx512::gemv_rows};
#endif

}  // namespace

const KernelTable& table_for(Isa isa) {
    switch (isa) {
#ifdef CCINFER_X86
        case Isa::kAvx512:
            return kAvx512Table;
        case Isa::kAvx2:
            return kAvx2Table;
#endif
        case Isa::kScalar:
            return kScalarTable;
        default:
            throw std::invalid_argument(std::string("ccinfer: ISA ") + isa_name(isa) +
                                        " is not compiled into this build");
    }
}

}  // namespace ccinfer::kernels
