#pragma once
/// \file run.hpp The run state machine.

#include <optional>
#include <string_view>

namespace orch {

/// Status of a run (and of a step result).
enum class run_status { pending, running, succeeded, failed, cancelled };

std::string_view to_string(run_status s);
std::optional<run_status> parse_run_status(std::string_view s);

/// Whether a status is final.
bool is_terminal(run_status s);

/// The transitions the engine may make: pending→running|cancelled|failed,
/// running→succeeded|failed|cancelled|pending (retry, release, lease lost).
bool can_transition(run_status from, run_status to);

}  // namespace orch
