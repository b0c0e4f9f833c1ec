#pragma once
#include "../table.h"

CCINFER_DECLARE_FOR_ALL_ISAS(void gemv_rows(const float* w, int64_t ldw, int64_t k,
                                            const float* x, const int32_t* rows, int64_t nrows,
                                            const float* bias, float* out))
CCINFER_DECLARE_FOR_ALL_ISAS(void gemv_rows_f16(const uint16_t* w, int64_t ldw, int64_t k,
                                                const float* x, const int32_t* rows,
                                                int64_t nrows, const float* bias, float* out))
