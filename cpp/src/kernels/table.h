#pragma once
/// The dispatch table: one function pointer per kernel, filled for the active ISA.
///
/// Kernels here are single-threaded primitives over a slice of the work; the operations in
/// cpp/src/ops/ validate arguments once, split the work across threads and call them. Kernels
/// do not allocate, do not throw and check only with debug assertions (STYLE.md).
///
/// Adding a kernel: a folder kernels/<op>/ with <op>.h (declarations for every ISA through
/// CCINFER_DECLARE_FOR_ALL_ISAS) and scalar.cpp / avx2.cpp / avx512.cpp, a pointer here and
/// three lines in table.cpp.

#include <cstdint>

#include "ccinfer/cpu.h"

namespace ccinfer::kernels {

/// out[rows[i]] = dot(W[rows[i], 0:k], x) (+ bias[rows[i]] when bias != nullptr),
/// for i in [0, nrows). W row stride ldw. Rows may repeat only if out entries may be
/// overwritten with the same value.
using GemvRowsFn = void (*)(const float* w, int64_t ldw, int64_t k, const float* x,
                            const int32_t* rows, int64_t nrows, const float* bias, float* out);

struct KernelTable {
    Isa isa;
    GemvRowsFn gemv_rows;
};

/// The table of the active ISA (see cpu.h). Valid until set_active_isa().
const KernelTable& active();

/// The table of a given compiled ISA (tests compare levels against each other).
const KernelTable& table_for(Isa isa);

}  // namespace ccinfer::kernels

/// Declares `decl` inside ccinfer::kernels::scalar, ::avx2 and ::avx512.
#define CCINFER_DECLARE_FOR_ALL_ISAS(decl)   \
    namespace ccinfer::kernels::scalar {     \
    decl;                                    \
    }                                        \
    namespace ccinfer::kernels::avx2 {       \
    decl;                                    \
    }                                        \
    namespace ccinfer::kernels::avx512 {     \
    decl;                                    \
    }
