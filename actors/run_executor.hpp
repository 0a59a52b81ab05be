#pragma once
/// \file run_executor.hpp Executes one assigned attempt: the plain logic behind
/// the worker actors (and the pool, for pure pipelines).

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "actors/messages.hpp"
#include "domain/run.hpp"
#include "domain/task.hpp"
#include "steps/step.hpp"

namespace orch::actors {

/// The run state machine's view of an assignment (no cancel requested: the
/// recorder's fenced write applies one that is).
run_counters counters_of(const run_assignment& a);

/// The status after an attempt that failed on its own (worker crashed or
/// stuck): pending for a retry while the retry budget lasts, else failed.
std::string failed_attempt_status(const run_assignment& a);

/// Receives a batch of log lines to ship.
using log_batch_sink = std::function<void(log_batch&&)>;

/// Parses task definitions once per version and runs attempts.
class run_executor {
 public:
  /// `max_log_lines` bounds the lines shipped per attempt; `kill_grace` is the
  /// SIGTERM to SIGKILL delay of exec steps.
  run_executor(std::size_t max_log_lines, millis kill_grace);

  /// Whether every step of the assignment's task is a `template` step (no I/O),
  /// so it may run on a cooperative thread.
  bool is_pure(const run_assignment& a);

  /// Runs the attempt to its end and returns what to record.
  run_result execute(const run_assignment& a, const steps::cancel_token& stop,
                     const log_batch_sink& logs);

 private:
  std::shared_ptr<const task_spec> task_for(const run_assignment& a, std::string& error);

  std::size_t max_log_lines_;
  millis kill_grace_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const task_spec>> tasks_;
  std::map<std::pair<std::string, int>, bool> pure_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace orch::actors
