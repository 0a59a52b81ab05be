#pragma once
/// \file settings.hpp What the engine's actors are configured with (filled by runtime/).

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/run.hpp"
#include "domain/time.hpp"
#include "steps/step.hpp"

namespace orch::actors {

/// Engine settings, validated by runtime/config before any actor starts.
struct engine_settings {
  std::string database_url;
  std::string node_name = "node";
  int worker_concurrency = 10;
  int prefetch = 0;  ///< extra runs a node may hold queued; 0: 4 × concurrency, at least 64
  int claim_batch = 2000;
  int completion_batch = 500;
  millis completion_flush{10};  ///< how long results may wait to share a statement
  millis lease_timeout{15000};
  int max_lost_leases = default_max_lost_leases;  ///< a run failing its node this often fails
  millis node_timeout{10000};  ///< a node whose heartbeat is older is declared down
  millis poll_interval{1000};
  millis scheduler_interval{5000};
  std::chrono::seconds misfire_grace{5};
  millis run_retention{std::chrono::hours(24 * 30)};
  millis kill_grace{5000};
  std::size_t max_log_lines = 10000;  ///< per run attempt
  std::vector<std::string> queues;    ///< empty: every queue

  int effective_prefetch() const {
    return prefetch > 0 ? prefetch : std::max(64, 4 * worker_concurrency);
  }
};

/// State shared between the actors of a node and its HTTP front end.
struct node_state {
  std::atomic<bool> ready{false};     ///< accepting work (readiness)
  std::atomic<bool> draining{false};  ///< SIGTERM received
  std::atomic<bool> database_ok{false};
  std::atomic<bool> scheduler_ok{false};  ///< a scheduler is alive (leader or standby)
  std::atomic<bool> workers_ok{false};
  std::atomic<bool> is_leader{false};
  std::atomic<int> active_runs{0};  ///< executing or queued on this node
  std::atomic<int> unrecorded{0};   ///< results not yet written
  std::atomic<long long> started_ms{0};
  std::atomic<bool> cluster_leader_ok{false};  ///< some node leads the schedulers
  std::atomic<int> cluster_workers{0};         ///< worker nodes up in the cluster
  std::atomic<int> peers{0};                   ///< authenticated peers connected
  std::atomic<bool> cluster_checked{false};    ///< the cluster's health was read once
  std::atomic<bool> local_workers{false};      ///< this node has the worker role

  /// This process's incarnation: lease owners start with "<node>/<incarnation>.".
  std::string incarnation;

  /// The current lease owner "<node>/<incarnation>"; rotated when the execution
  /// subtree restarts, so the runs of the dead incarnation can be released.
  std::string owner() const {
    std::lock_guard<std::mutex> lock(mu_);
    return owner_;
  }
  void set_owner(std::string o) {
    std::lock_guard<std::mutex> lock(mu_);
    owner_ = std::move(o);
  }

 private:
  mutable std::mutex mu_;
  std::string owner_;
};

/// Stop flags of the runs executing on this node, by run id.
class cancel_registry {
 public:
  /// Creates the flag of a run about to start.
  std::shared_ptr<steps::cancel_token> add(long long run_id) {
    auto t = std::make_shared<steps::cancel_token>();
    std::lock_guard<std::mutex> lock(mu_);
    tokens_[run_id] = t;
    return t;
  }
  /// Removes a finished run's flag.
  void remove(long long run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_.erase(run_id);
  }
  /// Sets the flag of one run; false when it does not run here.
  bool request(long long run_id, steps::stop_reason r) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(run_id);
    if (it == tokens_.end()) return false;
    it->second->request(r);
    return true;
  }
  /// Sets every flag (shutdown).
  void request_all(steps::stop_reason r) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, t] : tokens_) t->request(r);
  }
  /// The flag of a run, or null.
  std::shared_ptr<steps::cancel_token> find(long long run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(run_id);
    return it == tokens_.end() ? nullptr : it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<long long, std::shared_ptr<steps::cancel_token>> tokens_;
};

}  // namespace orch::actors
