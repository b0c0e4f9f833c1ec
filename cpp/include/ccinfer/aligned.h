#pragma once
/// A float buffer aligned to a cache line, owned by the object that holds it: weights are
/// copied once at load into these so every row starts where the SIMD loads want it.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "ccinfer/check.h"
#include "ccinfer/sizes.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ccinfer {

template <typename T>
class AlignedBuffer {
  public:
    static constexpr size_t kAlignment = 64;
    /// Buffers of at least this many bytes start on a 2 MiB boundary and ask for transparent
    /// huge pages: a weight row is 4 KiB at hidden 1024, so on small pages every row a gated
    /// block reads costs a TLB entry. Measured on the trained block model at batch 64 in
    /// float32 (Xeon Skylake-SP, two copies alternating in one process): conditional and
    /// dense steps 2-4% faster; float16 unchanged.
    static constexpr size_t kHugePage = size_t{2} << 20;

    AlignedBuffer() = default;
    /// n elements; std::invalid_argument (naming the bytes) if n * sizeof(T) overflows or
    /// exceeds the machine's physical memory (sizes.h), so a wrapped size never allocates.
    explicit AlignedBuffer(size_t n) : size_(n) {
        if (n == 0) return;
        CCINFER_CHECK(n <= static_cast<size_t>(INT64_MAX), "AlignedBuffer: ", n,
                      " elements is beyond any size");
        check_alloc("AlignedBuffer", static_cast<int64_t>(n), sizeof(T));
        const size_t align = n * sizeof(T) >= kHugePage ? kHugePage : kAlignment;
        const size_t bytes = (n * sizeof(T) + align - 1) / align * align;
        data_.reset(static_cast<T*>(std::aligned_alloc(align, bytes)));
        if (!data_) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        // A hint: without THP (or with it set to "never") the pages stay small.
        if (align == kHugePage) madvise(data_.get(), bytes, MADV_HUGEPAGE);
#endif
    }
    /// A copy of src[0:n].
    AlignedBuffer(const T* src, size_t n) : AlignedBuffer(n) {
        if (n) std::memcpy(data_.get(), src, n * sizeof(T));
    }

    /// A view of n elements at p, referenced in place (weights in a caller's buffer): never
    /// freed, and never written through by ccinfer. The caller keeps them alive and
    /// unchanged for the buffer's lifetime.
    static AlignedBuffer borrowed(const T* p, size_t n) {
        AlignedBuffer b;
        b.data_ = std::unique_ptr<T, Free>(const_cast<T*>(p), Free{false});
        b.size_ = n;
        return b;
    }
    /// False for a borrowed view.
    bool owned() const { return data_.get_deleter().owned; }

    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T& operator[](size_t i) { return data_.get()[i]; }
    const T& operator[](size_t i) const { return data_.get()[i]; }

  private:
    struct Free {
        bool owned = true;
        void operator()(T* p) const {
            if (owned) std::free(p);
        }
    };
    std::unique_ptr<T, Free> data_;
    size_t size_ = 0;
};

}  // namespace ccinfer
