#pragma once
/// \file exec_step.hpp Runs a program in its own process group.

#include <map>
#include <string>

#include "domain/task.hpp"
#include "steps/step.hpp"

namespace orch::steps {

/// Limits of an exec step.
struct exec_limits {
  std::size_t max_output = default_max_output;  ///< stdout kept as output
  std::size_t max_log_line = 64 * 1024;         ///< longer stderr lines are split
  millis kill_grace{5000};                      ///< SIGTERM to SIGKILL
  /// After the program exits, how long to keep reading pipes that leftover processes
  /// of its group still hold open; those processes are then stopped like on a timeout.
  millis drain_timeout{500};
};

/// Runs `spec` (already rendered) with a clean environment: only spec.env plus
/// `extra_env` (the ORCH_* variables). The child leads its own process group;
/// timeout or a stop request sends SIGTERM to the whole group, then SIGKILL after
/// the grace, and waits until the group is gone. Processes left in the group after
/// the program exits are stopped the same way. stdout is the output (bounded, the
/// rest drained and dropped), stderr goes to `log` line by line.
/// The environment also gets PATH=/usr/local/bin:/usr/bin:/bin, HOME=/tmp and
/// LANG=C.UTF-8 unless the step sets them; `extra_env` wins over spec.env. A bare
/// program name is looked up in the child's PATH, never the server's.
/// A non-zero exit is failed with error_code "exit_status"; a timeout "timeout";
/// a stop "cancelled" with status cancelled; a program that cannot start
/// "spawn_failed".
step_outcome run_exec(const exec_spec& spec, const std::map<std::string, std::string>& extra_env,
                      millis timeout, const cancel_token& stop, const log_sink& log,
                      const exec_limits& limits = {});

}  // namespace orch::steps
