#pragma once
#include "../table.h"

CCINFER_DECLARE_FOR_ALL_ISAS(void sparse_input_cols(const float* wt, int64_t ldwt,
                                                    const int32_t* nz_index,
                                                    const float* nz_value, int64_t nnz,
                                                    int64_t c0, int64_t c1, const float* bias,
                                                    float* out))
CCINFER_DECLARE_FOR_ALL_ISAS(void sparse_input_rows(const float* wt, int64_t ldwt, int64_t m,
                                                    const int32_t* nz_index,
                                                    const float* nz_value, int64_t nnz,
                                                    const int32_t* rows, int64_t nrows,
                                                    const float* bias, float* out))
