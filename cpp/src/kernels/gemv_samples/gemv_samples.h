#pragma once
#include "../table.h"

CCINFER_DECLARE_FOR_ALL_ISAS(void gemv_samples(const float* wrow, int64_t k, const float* x,
                                               int64_t ldx, const int32_t* samples,
                                               int64_t nsamples, const float* bias, float* out,
                                               int64_t ldo))
CCINFER_DECLARE_FOR_ALL_ISAS(void gemv_samples_f16(const uint16_t* wrow, int64_t k,
                                                   const float* x, int64_t ldx,
                                                   const int32_t* samples, int64_t nsamples,
                                                   const float* bias, float* out, int64_t ldo))
