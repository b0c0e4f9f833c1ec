// GruWorkspacePool: one workspace per call in flight, reused, their stats merged into one
// total when each call ends (so a caller never sees half a step's counts).
#include <algorithm>

#include "ccinfer/gru.h"
#include "ccinfer/threads.h"

namespace ccinfer {

GruWorkspacePool::GruWorkspacePool(const GRUStack& model)
    : model_(model), total_(model.num_layers()) {}

GruWorkspacePool::Lease::Lease(GruWorkspacePool& pool, int64_t batch) : pool_(pool) {
    {
        std::lock_guard<std::mutex> lock(pool_.mutex_);
        auto& free = pool_.pool_;
        for (size_t i = 0; i < free.size(); ++i)
            if (free[i]->capacity >= batch && free[i]->threads >= get_num_threads()) {
                ws_ = std::move(free[i]);
                free.erase(free.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            }
    }
    if (!ws_) ws_ = std::make_unique<GruWorkspace>(pool_.model_.make_workspace(batch));
}

GruWorkspacePool::Lease::~Lease() {
    std::lock_guard<std::mutex> lock(pool_.mutex_);
    for (size_t l = 0; l < pool_.total_.size(); ++l) {
        GruLayerStats& t = pool_.total_[l];
        GruLayerStats& s = ws_->stats[l];
        t.samples += s.samples;
        t.z_active += s.z_active;
        t.rows_skipped += s.rows_skipped;
        t.macs += s.macs;
        s = GruLayerStats{};
    }
    pool_.pool_.push_back(std::move(ws_));
}

std::vector<GruLayerStats> GruWorkspacePool::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return total_;
}

void GruWorkspacePool::reset_stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    total_.assign(model_.num_layers(), GruLayerStats{});
}

}  // namespace ccinfer
