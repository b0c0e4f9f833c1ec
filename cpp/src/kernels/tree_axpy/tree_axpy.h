#pragma once
#include "../table.h"

CCINFER_DECLARE_FOR_ALL_ISAS(void tree_axpy(const float* table, int64_t ldt,
                                            const int32_t* node_rows, int64_t path_len,
                                            const float* nz_value, int64_t nnz, int64_t c0,
                                            int64_t c1, const float* bias, bool relu,
                                            float* out))
