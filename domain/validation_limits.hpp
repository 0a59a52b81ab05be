#pragma once
/// \file validation_limits.hpp The limits that task and run validation enforce.

#include <cstddef>

#include "domain/time.hpp"

namespace orch {

/// The most steps a task may have.
inline constexpr std::size_t max_steps = 100;
/// The highest max_attempts of a retry policy.
inline constexpr int max_attempts_limit = 100;
/// The highest concurrency limit of a task.
inline constexpr int max_concurrency = 10000;
/// Priorities range from -max_priority to max_priority.
inline constexpr int max_priority = 1000;
/// The longest task or step timeout.
inline constexpr millis max_timeout{7LL * 24 * 60 * 60 * 1000};
/// How deeply params, http bodies and template values may nest.
inline constexpr int max_json_depth = 64;
/// The most characters (code points) of a description.
inline constexpr std::size_t max_description_length = 1000;
/// The most characters (code points) of an idempotency key.
inline constexpr std::size_t max_idempotency_key_length = 200;
/// The most problems one validation reports.
inline constexpr std::size_t max_reported_errors = 100;

}  // namespace orch
