#include "ccinfer/kernel_listing.h"
#include "table.h"

namespace ccinfer {
namespace {

/// One kernel's listing. Whose code an ISA runs is found by address: a set without a port of
/// its own holds the same pointer as the set it borrows from, the first in compiled order.
template <class Fn>
KernelListing listing(const char* name, Fn kernels::KernelTable::* field, const char* entry,
                      const char* reference, const std::vector<Isa>& isas) {
    KernelListing k{name, entry, reference, {}};
    for (Isa isa : isas) {
        const Fn fn = kernels::table_for(isa).*field;
        Isa code = isa;
        for (Isa other : isas) {
            if (kernels::table_for(other).*field == fn) {
                code = other;
                break;
            }
        }
        k.code.emplace_back(isa_name(isa), isa_name(code));
    }
    return k;
}

}  // namespace

std::vector<KernelListing> kernel_listing() {
    const std::vector<Isa> isas = compiled_isas();
    std::vector<KernelListing> out;
#define CCINFER_LIST_KERNEL(name, Fn, entry, reference) \
    out.push_back(listing(#name, &kernels::KernelTable::name, entry, reference, isas));
    CCINFER_KERNEL_LIST(CCINFER_LIST_KERNEL)
#undef CCINFER_LIST_KERNEL
    return out;
}

}  // namespace ccinfer
