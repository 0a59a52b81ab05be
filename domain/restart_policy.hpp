#pragma once
/// \file restart_policy.hpp Restart intensity and backoff for supervisors.

#include <deque>
#include <optional>

#include "domain/time.hpp"

namespace orch {

/// Tracks restarts of one supervisor: more than `max_restarts` within `window`
/// means escalate; each restart waits an exponentially growing delay that resets
/// after a quiet window.
class restart_policy {
 public:
  restart_policy(int max_restarts, millis window, millis initial_backoff, millis max_backoff);

  /// Records a failure at `now`. Returns the delay before restarting, or nullopt
  /// when the intensity is exceeded and the supervisor must escalate.
  std::optional<millis> on_failure(sys_ms now);

  /// Restarts recorded inside the current window.
  int recent() const { return static_cast<int>(times_.size()); }

 private:
  int max_restarts_;
  millis window_;
  millis initial_;
  millis max_;
  std::deque<sys_ms> times_;
};

}  // namespace orch
