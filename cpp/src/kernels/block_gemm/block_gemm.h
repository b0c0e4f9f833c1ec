#pragma once
#include "../table.h"

CCINFER_DECLARE_FOR_ALL_ISAS(void block_gemm(const float* w, int64_t ldw, int64_t nrows, int64_t k,
                                             const float* x, int64_t ldx, const int32_t* samples,
                                             int64_t nsamples, float* y, int64_t ldy))
CCINFER_DECLARE_FOR_ALL_ISAS(void block_gemm_f16(const uint16_t* w, int64_t ldw, int64_t nrows,
                                                 int64_t k, const float* x, int64_t ldx,
                                                 const int32_t* samples, int64_t nsamples,
                                                 float* y, int64_t ldy))
