#pragma once
/// \file pool_ledger.hpp The worker pool's book-keeping as a plain class: which
/// runs wait, which run each worker executes and until when, and how much
/// credit (demand) to ask dispatchers for. The pool actor does the messaging.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/messages.hpp"

namespace orch::actors {

/// Runs held by one worker pool and the credit it has asked for.
class pool_ledger {
 public:
  /// Identifies a worker (the actor's id).
  using worker_id = std::uint64_t;
  using clock = std::chrono::steady_clock;

  /// `capacity` runs execute at once; `prefetch` more may wait claimed.
  pool_ledger(int capacity, int prefetch);

  /// Runs the pool may hold: executing plus waiting.
  int window() const { return window_; }
  /// Runs waiting for a worker.
  const std::deque<run_assignment>& queued() const { return queue_; }
  /// Runs executing.
  std::size_t busy() const { return busy_.size(); }
  /// Runs held: waiting plus executing.
  int held() const { return static_cast<int>(queue_.size() + busy_.size()); }
  /// Credit asked for and not yet answered.
  int outstanding() const { return outstanding_; }
  /// Whether the pool drains (takes no more work).
  bool draining() const { return draining_; }

  /// Credit to ask a dispatcher for now; 0: ask nothing. `force` starts the
  /// count over (credit asked for earlier may have been lost on its way); a
  /// small top-up waits until a quarter of the window is free, unless nothing
  /// is queued. The returned credit counts as outstanding.
  int demand(bool force);
  /// A batch of `n` runs arrived: it answers that much outstanding credit.
  void received(std::size_t n);

  /// A new, idle worker.
  void add_worker(worker_id w);
  /// A worker is gone: returns the run it was executing, if any.
  std::optional<run_assignment> remove_worker(worker_id w);
  /// A worker finished its run and is idle again; false when it was not busy
  /// here (a replaced worker that came back).
  bool finished(worker_id w);

  /// Queues a run for the next idle worker.
  void enqueue(run_assignment a);
  /// Pairs idle workers with queued runs, oldest first; each worker must be
  /// done by `deadline_of(run)`.
  std::vector<std::pair<worker_id, run_assignment>> dispatch(
      const std::function<clock::time_point(const run_assignment&)>& deadline_of);
  /// Workers past their deadline (stuck where no signal reaches) with their
  /// runs; they are forgotten here, the pool replaces them.
  std::vector<std::pair<worker_id, run_assignment>> take_stuck(clock::time_point now);

  /// Removes a queued run (a cancel before it started); nullopt when it is not queued.
  std::optional<run_assignment> take_queued(long long run_id);
  /// What losing the leases of `ids` means here.
  struct lost {
    std::size_t dropped = 0;         ///< queued runs forgotten
    std::vector<long long> to_stop;  ///< executing runs to stop
  };
  /// Forgets queued runs among `ids` and names the executing ones to stop.
  lost lose(const std::vector<long long>& ids);
  /// Starts draining: returns the queued runs (they go back unstarted).
  std::vector<run_assignment> drain();

  /// Ids of every run held (their leases are renewed).
  std::vector<long long> held_ids() const;

 private:
  int window_;
  int outstanding_ = 0;
  bool draining_ = false;
  std::deque<worker_id> idle_;
  std::set<worker_id> workers_;
  std::deque<run_assignment> queue_;
  struct job {
    run_assignment run;
    clock::time_point deadline;
  };
  std::unordered_map<worker_id, job> busy_;
};

}  // namespace orch::actors
