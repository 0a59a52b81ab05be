#pragma once
/// \file stall_watch.hpp Noticing that this process was stopped (SIGSTOP, a
/// paused VM), so the peers it then seems to lose are not declared down.

#include <atomic>

#include "domain/time.hpp"

namespace orch::runtime {

/// Tells whether this process was stopped recently: a thread that wakes every
/// 50 ms notices the gap. Only the gap between its own wake-ups counts, so
/// slow database calls of the agent do not look like one.
class stall_watch {
 public:
  /// Starts the watching thread (for the life of the process); a gap over
  /// half of `timeout` is a stall, remembered for twice `timeout`.
  explicit stall_watch(millis timeout);
  /// Whether peers lost now may have been lost because this process stalled.
  bool stalled();

 private:
  using ns = long long;
  static ns now();
  void check();
  millis timeout_;
  std::atomic<ns> beat_{0};
  std::atomic<ns> until_{0};
};

/// The process's one stall watch, started on first use with `timeout`.
stall_watch& the_stall_watch(millis timeout);

}  // namespace orch::runtime
