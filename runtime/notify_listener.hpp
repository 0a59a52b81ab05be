#pragma once
/// \file notify_listener.hpp LISTEN/NOTIFY wake-ups from other processes.

#include <atomic>
#include <caf/fwd.hpp>
#include <memory>
#include <string>
#include <thread>

namespace orch::runtime {

/// A thread that LISTENs on `orch_runs` (new runs: wake the dispatcher) and
/// `orch_cancel` (a run to cancel: tell the worker pool), so runs submitted
/// through another node are claimed at once rather than at the next poll.
/// Reconnects with backoff when the database goes away.
class notify_listener {
 public:
  notify_listener(caf::actor_system& sys, std::string url);
  ~notify_listener();
  notify_listener(const notify_listener&) = delete;
  notify_listener& operator=(const notify_listener&) = delete;

 private:
  void run();
  caf::actor_system& sys_;
  std::string url_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace orch::runtime
