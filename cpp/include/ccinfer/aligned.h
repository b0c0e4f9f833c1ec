#pragma once
/// A float buffer aligned to a cache line, owned by the object that holds it: weights are
/// copied once at load into these so every row starts where the SIMD loads want it.

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace ccinfer {

template <typename T>
class AlignedBuffer {
  public:
    static constexpr size_t kAlignment = 64;

    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t n) : size_(n) {
        if (n == 0) return;
        const size_t bytes = (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
        data_.reset(static_cast<T*>(std::aligned_alloc(kAlignment, bytes)));
        if (!data_) throw std::bad_alloc();
    }
    /// A copy of src[0:n].
    AlignedBuffer(const T* src, size_t n) : AlignedBuffer(n) {
        if (n) std::memcpy(data_.get(), src, n * sizeof(T));
    }

    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T& operator[](size_t i) { return data_.get()[i]; }
    const T& operator[](size_t i) const { return data_.get()[i]; }

  private:
    struct Free {
        void operator()(T* p) const { std::free(p); }
    };
    std::unique_ptr<T, Free> data_;
    size_t size_ = 0;
};

}  // namespace ccinfer
