#include "table.h"

#include <stdexcept>

#include "ccinfer/check.h"

namespace ccinfer::kernels {

// One table per compiled ISA, inside its namespace so that each name of the kernel list
// finds that ISA's definition.
#define CCINFER_TABLE_ENTRY(name, Fn, ...) name,
#define CCINFER_DEFINE_TABLE(ns, isa_enum)                                             \
    namespace ns {                                                                     \
    const KernelTable kTable{Isa::isa_enum, CCINFER_KERNEL_LIST(CCINFER_TABLE_ENTRY)}; \
    }
CCINFER_KERNEL_ISAS(CCINFER_DEFINE_TABLE)
#undef CCINFER_DEFINE_TABLE
#undef CCINFER_TABLE_ENTRY

const KernelTable& table_for(Isa isa) {
#define CCINFER_TABLE_CASE(ns, isa_enum) \
    if (isa == Isa::isa_enum) return ns::kTable;
    CCINFER_KERNEL_ISAS(CCINFER_TABLE_CASE)
#undef CCINFER_TABLE_CASE
    throw std::invalid_argument(
        str("ccinfer: ISA ", isa_name(isa), " is not compiled into this build"));
}

}  // namespace ccinfer::kernels
