#pragma once
/// \file backoff.hpp Retry delays with exponential backoff and jitter.

#include <cstdint>

#include "domain/task.hpp"

namespace orch {

/// The delay before the attempt after failed attempt `attempt` (1-based):
/// initial_delay * multiplier^(attempt-1), capped at max_delay. With jitter the
/// delay is drawn uniformly from [d/2, d] using `random` (any 64-bit value).
millis backoff_delay(const retry_policy& policy, int attempt, std::uint64_t random);

}  // namespace orch
