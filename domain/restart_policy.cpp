#include "domain/restart_policy.hpp"

#include <algorithm>

namespace orch {

restart_policy::restart_policy(int max_restarts, millis window, millis initial_backoff,
                               millis max_backoff)
    : max_restarts_(std::max(max_restarts, 0)),
      window_(std::max(window, millis{0})),
      initial_(std::max(initial_backoff, millis{0})),
      max_(std::max(max_backoff, std::max(initial_backoff, millis{0}))) {}

std::optional<millis> restart_policy::on_failure(sys_ms now) {
  while (!times_.empty() && now - times_.front() >= window_) times_.pop_front();
  times_.push_back(now);
  // Keeping one more than the limit is enough to know it is exceeded; the deque
  // stays bounded however often a broken child fails.
  while (times_.size() > static_cast<std::size_t>(max_restarts_) + 1) times_.pop_front();
  if (times_.size() > static_cast<std::size_t>(max_restarts_)) return std::nullopt;
  // The n-th failure inside the window waits initial * 2^(n-1); an empty window
  // (a quiet period) therefore starts again at the initial delay.
  millis delay = initial_;
  for (std::size_t i = 1; i < times_.size() && delay < max_; ++i) {
    delay = delay > max_ / 2 ? max_ : delay * 2;
  }
  return std::min(delay, max_);
}

}  // namespace orch
