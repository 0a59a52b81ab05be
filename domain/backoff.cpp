#include "domain/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace orch {

millis backoff_delay(const retry_policy& policy, int attempt, std::uint64_t random) {
  const std::int64_t cap = std::max<std::int64_t>(policy.max_delay.count(), 0);
  const std::int64_t initial = std::clamp<std::int64_t>(policy.initial_delay.count(), 0, cap);
  const int exponent = std::max(attempt, 1) - 1;
  const double mult =
      std::isfinite(policy.multiplier) && policy.multiplier > 1.0 ? policy.multiplier : 1.0;
  // Computed in double and compared before converting, so a huge attempt or
  // multiplier saturates at the cap instead of overflowing.
  const double raw = static_cast<double>(initial) * std::pow(mult, exponent);
  const std::int64_t d =
      !std::isfinite(raw) || raw >= static_cast<double>(cap) ? cap : static_cast<std::int64_t>(raw);
  if (!policy.jitter || d <= 1) return millis{d};
  const std::int64_t low = d / 2;
  const auto span = static_cast<std::uint64_t>(d - low) + 1;
  return millis{low + static_cast<std::int64_t>(random % span)};
}

}  // namespace orch
