#pragma once
/// The low-rank sign estimator of a ReLU layer (Davis & Arel 2014; docs/design.md section 1):
/// from a truncated SVD W ~ A B with A = U_r S_r (m, r) and B = V_r^T (r, k), the rows predicted
/// active for an input x are { i : (A (B x))_i + bias_i > tau }.

#include <cstdint>

#include "ccinfer/aligned.h"

namespace ccinfer {

class SignEstimator {
  public:
    /// Copies A (m, r), B (r, k) (row-major, contiguous) and bias (m,) (nullptr: zero) once
    /// into 64-byte-aligned storage the object owns, A regrouped for the fused kernel.
    /// Throws std::invalid_argument unless m, r, k >= 1.
    SignEstimator(const float* a, const float* b, const float* bias, int64_t m, int64_t r,
                  int64_t k, float tau = 0.0f);

    int64_t m() const { return m_; }     ///< outputs of the layer
    int64_t rank() const { return r_; }  ///< r
    int64_t k() const { return k_; }     ///< inputs of the layer
    float tau() const { return tau_; }   ///< threshold: row i is active if t_i > tau
    /// Changes the threshold. Not safe while another thread predicts with this object.
    void set_tau(float tau) { tau_ = tau; }

    /// Floats of scratch one predict / predict_mask call needs (r).
    int64_t scratch_size() const { return r_; }
    /// Floats of scratch predict_batch needs for n samples (n * r).
    int64_t batch_scratch_size(int64_t n) const { return n * r_; }

    /// Writes the rows i with (A (B x))_i + bias_i > tau to rows_out, ascending, and returns
    /// how many there are. x has k floats, rows_out room for m int32, scratch scratch_size()
    /// floats (any alignment). Computes u = B x, then for each i the dot of A[i] with u, the
    /// bias and the compare in one pass over A. Single-threaded (no parallel region), const
    /// and without shared mutable state: any number of threads may call it at once, each
    /// with its own rows_out and scratch. Never allocates or throws.
    int64_t predict(const float* x, int32_t* rows_out, float* scratch) const;

    /// The two halves of predict, for a caller that splits one sample over its own threads:
    /// project writes u[j] = (B x)_j for j in [j_begin, j_end) (u has r floats); predict_panels
    /// writes the predicted rows of panels [p_begin, p_end) (kPanelRows rows each, the last one
    /// cut at m) to rows_out, ascending, as absolute row numbers, and returns their number.
    /// Each row's result is the same as predict's. Never allocates or throws.
    static constexpr int64_t kPanelRows = 64;
    int64_t num_panels() const { return (m_ + kPanelRows - 1) / kPanelRows; }
    void project(const float* x, int64_t j_begin, int64_t j_end, float* u) const;
    int64_t predict_panels(const float* u, int64_t p_begin, int64_t p_end, int32_t* rows_out) const;

    /// The same prediction as a mask: mask[i] = 1 if row i is predicted active, else 0
    /// (m bytes). Same threading contract as predict.
    void predict_mask(const float* x, uint8_t* mask, float* scratch) const;

    /// Masks for a batch: X (n, k) row-major, mask (n, m) bytes of 0/1, scratch
    /// batch_scratch_size(n) floats. Opens one parallel region over samples (static split;
    /// one thread for a small batch); row s equals predict_mask(X[s]) for every thread count.
    /// Safe to call concurrently with distinct mask and scratch.
    void predict_batch(const float* x, int64_t n, uint8_t* mask, float* scratch) const;

    /// Copies of the stored factors: A (m, r) and B (r, k) row-major, bias (m,).
    void copy_a(float* a) const;
    void copy_b(float* b) const;
    void copy_bias(float* bias) const;

  private:
    int64_t m_, r_, k_;
    float tau_;
    AlignedBuffer<float> a_panels_;  ///< A in panels of kernels::kSignPanel rows, zero-padded
    AlignedBuffer<float> b_;         ///< B (r, k) row-major
    AlignedBuffer<float> bias_;      ///< bias, zero-padded to whole panels
};

}  // namespace ccinfer
