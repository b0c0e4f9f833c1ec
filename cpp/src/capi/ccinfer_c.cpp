// The C API (ccinfer/ccinfer.h): handles around format::Model, every C++ exception turned
// into a status and a thread-local message at this boundary.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "ccinfer/ccinfer.h"
#include "ccinfer/check.h"
#include "ccinfer/cond_mlp.h"
#include "ccinfer/format.h"
#include "ccinfer/gru.h"
#include "ccinfer/sample.h"
#include "ccinfer/threads.h"
#include "ccinfer/tree_gated.h"

namespace {

using ccinfer::format::Model;

thread_local std::string g_last_error;

/// A failure with its status (the C API's own checks).
struct Failure {
    ccinfer_status status;
    std::string message;
};

[[noreturn]] void refuse(ccinfer_status status, const std::string& message) {
    throw Failure{status, message};
}

/// Runs body; maps whatever it throws to a status and the thread's message.
template <typename F>
ccinfer_status guarded(F&& body) noexcept {
    try {
        body();
        g_last_error.clear();
        return CCINFER_OK;
    } catch (const Failure& f) {
        g_last_error = f.message;
        return f.status;
    } catch (const ccinfer::format::FormatError& e) {
        g_last_error = e.what();
        return CCINFER_BAD_MODEL;
    } catch (const std::bad_alloc&) {
        g_last_error = "out of memory";
        return CCINFER_OUT_OF_MEMORY;
    } catch (const std::invalid_argument& e) {
        g_last_error = e.what();
        return CCINFER_INVALID_ARGUMENT;
    } catch (const std::exception& e) {
        g_last_error = std::string("internal error: ") + e.what();
        return CCINFER_INTERNAL;
    } catch (...) {
        g_last_error = "internal error: unknown exception";
        return CCINFER_INTERNAL;
    }
}

/// A caller error (CCINFER_INVALID_ARGUMENT): the function's name, then the parts.
template <typename... Parts>
void need(bool ok, const char* fn, Parts&&... parts) {
    if (!ok)
        refuse(CCINFER_INVALID_ARGUMENT, ccinfer::str(fn, ": ", std::forward<Parts>(parts)...));
}

/// Scratch of one forward call: one workspace per stage and two activation buffers.
struct ForwardScratch {
    std::vector<ccinfer::MlpWorkspace> mlp;
    std::vector<ccinfer::TreeWorkspace> tree;
    std::vector<int> tree_threads;
    std::vector<float> act[2];
};

struct Impl {
    Model model;
    std::mutex mutex;  ///< guards pool
    std::vector<std::unique_ptr<ForwardScratch>> pool;
};

/// A scratch for one call, taken from the model's pool and given back.
class Lease {
  public:
    explicit Lease(Impl& impl) : impl_(impl) {
        {
            std::lock_guard<std::mutex> lock(impl_.mutex);
            if (!impl_.pool.empty()) {
                s_ = std::move(impl_.pool.back());
                impl_.pool.pop_back();
            }
        }
        if (!s_) {
            s_ = std::make_unique<ForwardScratch>();
            const size_t n = impl_.model.stages.size();
            s_->mlp.resize(n);
            s_->tree.resize(n);
            s_->tree_threads.assign(n, 0);
        }
    }
    ~Lease() {
        std::lock_guard<std::mutex> lock(impl_.mutex);
        impl_.pool.push_back(std::move(s_));
    }
    ForwardScratch& operator*() { return *s_; }

  private:
    Impl& impl_;
    std::unique_ptr<ForwardScratch> s_;
};

int kind_of(const std::string& kind) {
    if (kind == "CondMLP") return CCINFER_KIND_COND_MLP;
    if (kind == "TreeGated") return CCINFER_KIND_TREE_GATED;
    if (kind == "Sequential") return CCINFER_KIND_SEQUENTIAL;
    return CCINFER_KIND_GRU_STACK;
}

/// The file mapped read-only (or read, where mapping fails), unmapped on destruction.
class FileBytes {
  public:
    explicit FileBytes(const char* path) {
        fd_ = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) io_fail(path);
        struct stat st;
        if (::fstat(fd_, &st) != 0) io_fail(path);
        if (!S_ISREG(st.st_mode))
            refuse(CCINFER_IO_ERROR,
                   ccinfer::str("ccinfer_load_file: ", path, ": not a regular file"));
        size_ = static_cast<size_t>(st.st_size);
        if (size_ == 0) return;
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
        if (p != MAP_FAILED) {
            map_ = p;
            return;
        }
        copy_.resize(size_);
        size_t got = 0;
        while (got < size_) {
            const ssize_t r = ::read(fd_, copy_.data() + got, size_ - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) io_fail(path);
            got += static_cast<size_t>(r);
        }
    }
    ~FileBytes() {
        if (map_) ::munmap(map_, size_);
        if (fd_ >= 0) ::close(fd_);
    }
    FileBytes(const FileBytes&) = delete;
    FileBytes& operator=(const FileBytes&) = delete;
    const uint8_t* data() const { return map_ ? static_cast<const uint8_t*>(map_) : copy_.data(); }
    size_t size() const { return size_; }

  private:
    [[noreturn]] static void io_fail(const char* path) {
        refuse(CCINFER_IO_ERROR,
               ccinfer::str("ccinfer_load_file: cannot read ", path, ": ", std::strerror(errno)));
    }
    int fd_ = -1;
    void* map_ = nullptr;
    size_t size_ = 0;
    std::vector<uint8_t> copy_;
};

}  // namespace

struct ccinfer_model {
    std::shared_ptr<Impl> impl;
};

struct ccinfer_state {
    std::shared_ptr<Impl> impl;  ///< keeps the weights alive
    std::unique_ptr<ccinfer::GRUState> state;
    ccinfer::GruWorkspace ws;
    std::atomic<bool> busy{false};
};

namespace {

ccinfer_status load(const uint8_t* data, size_t size, const std::string& where, ccinfer_model** out,
                    bool in_place = false) {
    return guarded([&] {
        auto impl = std::make_shared<Impl>();
        impl->model = ccinfer::format::load_model(data, size, where, in_place);
        *out = new ccinfer_model{std::move(impl)};
    });
}

/// Marks a state busy for one call; refuses a state another call holds.
class StateClaim {
  public:
    StateClaim(ccinfer_state* s, const char* fn) : s_(s) {
        if (s_->busy.exchange(true, std::memory_order_acquire))
            refuse(CCINFER_BUSY, ccinfer::str(fn,
                                              ": the state is in use by another call "
                                              "(one state may be stepped by one call at a time)"));
    }
    ~StateClaim() { s_->busy.store(false, std::memory_order_release); }

  private:
    ccinfer_state* s_;
};

void forward_stages(Impl& impl, const float* x, int64_t n, float* y) {
    const Model& m = impl.model;
    Lease lease(impl);
    ForwardScratch& s = *lease;
    const float* in = x;
    for (size_t i = 0; i < m.stages.size(); ++i) {
        const ccinfer::format::Stage& st = m.stages[i];
        const bool last = i + 1 == m.stages.size();
        float* out = y;
        if (!last) {
            std::vector<float>& buf = s.act[i % 2];
            buf.resize(static_cast<size_t>(n * st.out));
            out = buf.data();
        }
        if (st.mlp) {
            ccinfer::MlpWorkspace& ws = s.mlp[i];
            if (ws.capacity < n) ws = st.mlp->make_workspace(n);
            if (n == 1)
                st.mlp->forward(in, out, ws);
            else
                st.mlp->forward_batch(in, n, out, ws);
        } else {
            const int threads = ccinfer::get_num_threads();
            if (s.tree_threads[i] != threads) {
                s.tree[i] = st.tree->make_workspace(threads);
                s.tree_threads[i] = threads;
            }
            if (n == 1)
                st.tree->forward(in, out, s.tree[i]);
            else
                st.tree->forward_batch(in, n, out, s.tree[i]);
        }
        if (st.relu)
            for (int64_t j = 0; j < n * st.out; ++j) out[j] = std::max(out[j], 0.0f);
        in = out;
    }
}

void step(ccinfer_state* s, const int32_t* tokens, const float* x, float* logits, const char* fn) {
    need(s != nullptr, fn, "state is NULL");
    need(logits != nullptr, fn, "logits is NULL");
    const ccinfer::GRUStack& g = *s->impl->model.gru;
    if (tokens) {
        need(g.token_input(), fn, "this model takes vectors: use ccinfer_step_vector");
    } else {
        need(x != nullptr, fn, "x is NULL");
        need(!g.token_input(), fn, "this model takes token ids: use ccinfer_step_token");
    }
    StateClaim claim(s, fn);
    const int64_t n = s->state->batch();
    if (tokens)
        for (int64_t i = 0; i < n; ++i)
            need(tokens[i] >= 0 && tokens[i] < g.input_size(), fn, "token id ", tokens[i],
                 " (stream ", i, ") is out of range [0, ", g.input_size(), ")");
    if (s->ws.capacity < n || s->ws.threads < ccinfer::get_num_threads())
        s->ws = g.make_workspace(n);
    if (n == 1) {
        if (tokens)
            g.step(tokens[0], *s->state, logits, s->ws);
        else
            g.step(x, *s->state, logits, s->ws);
    } else if (tokens) {
        g.step_batch(tokens, *s->state, logits, s->ws);
    } else {
        g.step_batch(x, *s->state, logits, s->ws);
    }
}

}  // namespace

extern "C" {

const char* ccinfer_last_error(void) { return g_last_error.c_str(); }

const char* ccinfer_status_name(ccinfer_status status) {
    switch (status) {
        case CCINFER_OK:
            return "CCINFER_OK";
        case CCINFER_INVALID_ARGUMENT:
            return "CCINFER_INVALID_ARGUMENT";
        case CCINFER_BAD_MODEL:
            return "CCINFER_BAD_MODEL";
        case CCINFER_IO_ERROR:
            return "CCINFER_IO_ERROR";
        case CCINFER_OUT_OF_MEMORY:
            return "CCINFER_OUT_OF_MEMORY";
        case CCINFER_BUSY:
            return "CCINFER_BUSY";
        case CCINFER_WRONG_KIND:
            return "CCINFER_WRONG_KIND";
        case CCINFER_INTERNAL:
            return "CCINFER_INTERNAL";
    }
    return "CCINFER_UNKNOWN_STATUS";
}

const char* ccinfer_version(void) { return CCINFER_VERSION; }

ccinfer_status ccinfer_load_file(const char* path, ccinfer_model** out) {
    if (out) *out = nullptr;
    ccinfer_status st = guarded([&] {
        need(path != nullptr, "ccinfer_load_file", "path is NULL");
        need(out != nullptr, "ccinfer_load_file", "out is NULL");
    });
    if (st != CCINFER_OK) return st;
    std::unique_ptr<FileBytes> bytes;
    st = guarded([&] { bytes = std::make_unique<FileBytes>(path); });
    if (st != CCINFER_OK) return st;
    return load(bytes->data(), bytes->size(), path, out);
}

ccinfer_status ccinfer_load_memory(const void* data, size_t size, ccinfer_model** out) {
    if (out) *out = nullptr;
    ccinfer_status st = guarded([&] {
        need(data != nullptr || size == 0, "ccinfer_load_memory", "data is NULL");
        need(out != nullptr, "ccinfer_load_memory", "out is NULL");
    });
    if (st != CCINFER_OK) return st;
    return load(static_cast<const uint8_t*>(data), size, "<memory>", out);
}

ccinfer_status ccinfer_load_memory_borrowed(const void* data, size_t size, ccinfer_model** out) {
    if (out) *out = nullptr;
    ccinfer_status st = guarded([&] {
        need(data != nullptr || size == 0, "ccinfer_load_memory_borrowed", "data is NULL");
        need(out != nullptr, "ccinfer_load_memory_borrowed", "out is NULL");
    });
    if (st != CCINFER_OK) return st;
    return load(static_cast<const uint8_t*>(data), size, "<memory>", out, true);
}

void ccinfer_free(ccinfer_model* model) { delete model; }

ccinfer_status ccinfer_info(const ccinfer_model* model, ccinfer_info_t* out) {
    return guarded([&] {
        need(model != nullptr, "ccinfer_info", "model is NULL");
        need(out != nullptr, "ccinfer_info", "out is NULL");
        const Model& m = model->impl->model;
        ccinfer_info_t info{};
        info.kind = kind_of(m.kind);
        info.token_input = m.gru && m.gru->token_input() ? 1 : 0;
        info.input_size = m.input_size;
        info.output_size = m.output_size;
        info.num_layers = m.gru ? static_cast<int64_t>(m.gru->num_layers())
                                : static_cast<int64_t>(m.stages.size());
        *out = info;
    });
}

ccinfer_status ccinfer_forward(const ccinfer_model* model, const float* x, int64_t n, float* y) {
    return guarded([&] {
        const char* fn = "ccinfer_forward";
        need(model != nullptr, fn, "model is NULL");
        need(x != nullptr && y != nullptr, fn, "x and y must not be NULL");
        need(n >= 1, fn, "n must be >= 1");
        Impl& impl = *model->impl;
        if (impl.model.gru)
            refuse(CCINFER_WRONG_KIND,
                   "ccinfer_forward: a GRUStack is stepped (ccinfer_state_new, ccinfer_step_*)");
        forward_stages(impl, x, n, y);
    });
}

ccinfer_status ccinfer_state_new(const ccinfer_model* model, int64_t batch, ccinfer_state** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        const char* fn = "ccinfer_state_new";
        need(model != nullptr, fn, "model is NULL");
        need(out != nullptr, fn, "out is NULL");
        need(batch >= 1 && batch <= (int64_t{1} << 24), fn, "batch must be in [1, 2^24]");
        if (!model->impl->model.gru)
            refuse(CCINFER_WRONG_KIND, "ccinfer_state_new: only a GRUStack has a state");
        auto s = std::make_unique<ccinfer_state>();
        s->impl = model->impl;
        s->state = model->impl->model.gru->new_state(batch);
        s->ws = model->impl->model.gru->make_workspace(batch);
        *out = s.release();
    });
}

void ccinfer_state_free(ccinfer_state* state) { delete state; }

ccinfer_status ccinfer_state_reset(ccinfer_state* state) {
    return guarded([&] {
        need(state != nullptr, "ccinfer_state_reset", "state is NULL");
        StateClaim claim(state, "ccinfer_state_reset");
        state->state->reset();
    });
}

ccinfer_status ccinfer_step_token(ccinfer_state* state, const int32_t* tokens, float* logits) {
    return guarded([&] {
        need(tokens != nullptr, "ccinfer_step_token", "tokens is NULL");
        step(state, tokens, nullptr, logits, "ccinfer_step_token");
    });
}

ccinfer_status ccinfer_step_vector(ccinfer_state* state, const float* x, float* logits) {
    return guarded([&] { step(state, nullptr, x, logits, "ccinfer_step_vector"); });
}

ccinfer_status ccinfer_sample(const float* logits, int64_t n, double temperature,
                              uint64_t* rng_state, int32_t* token) {
    return guarded([&] {
        const char* fn = "ccinfer_sample";
        need(logits != nullptr && rng_state != nullptr && token != nullptr, fn,
             "logits, rng_state and token must not be NULL");
        need(n >= 1 && n <= INT32_MAX, fn, "n must be in [1, 2^31), got ", n);
        uint64_t state = *rng_state;  // written back only on success
        const int64_t drawn = ccinfer::sample_token(logits, n, temperature, &state);
        *rng_state = state;
        *token = static_cast<int32_t>(drawn);
    });
}

ccinfer_status ccinfer_set_num_threads(int n) {
    return guarded([&] {
        need(n >= 1, "ccinfer_set_num_threads", "n must be >= 1");
        ccinfer::set_num_threads(n);
    });
}

}  // extern "C"
