#pragma once
/// \file pipeline.hpp Runs a task's steps in order for one attempt of a run.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "domain/records.hpp"
#include "domain/run.hpp"
#include "domain/task.hpp"
#include "steps/exec_step.hpp"
#include "steps/http_step.hpp"
#include "steps/step.hpp"

namespace orch::steps {

/// What one attempt needs to know about its run.
struct pipeline_input {
  long long run_id = 0;
  int attempt = 1;
  int max_attempts = 1;
  std::string task;
  nlohmann::json params = nlohmann::json::object();  ///< merged params
};

/// How an attempt ended.
struct pipeline_outcome {
  run_status status = run_status::failed;  ///< succeeded, failed or cancelled
  bool released = false;                   ///< stopped for shutdown: give the attempt back
  std::string output;                      ///< the last step's output
  std::string error_code;
  std::string error_message;
  std::vector<step_record> steps;
};

/// Limits for the executors.
struct pipeline_limits {
  exec_limits exec;
  http_limits http;
};

/// Executes every step in order: renders templates against params and earlier
/// outputs, applies each step's timeout (bounded by what is left of the task's
/// timeout) and step-level retries with backoff, and stops at the first failure
/// or a stop request. Logs go to `log` as (step, stream, line).
pipeline_outcome run_pipeline(
    const task_spec& task, const pipeline_input& in, const cancel_token& stop,
    const std::function<void(const std::string& step, std::string_view stream,
                             std::string_view line)>& log,
    const pipeline_limits& limits = {});

}  // namespace orch::steps

namespace orch::steps {

/// What to record for an attempt: the run's next status and, for a retry, when.
struct attempt_decision {
  std::string status;  ///< succeeded | failed | cancelled | pending
  sys_ms available_at{};
  bool release = false;
};

/// Maps an outcome to the run's next state by the run state machine
/// (domain/run.hpp): released attempts go back to pending without using up the
/// attempt; failures retry with the task's backoff while the retry budget
/// lasts (lost leases do not count), else fail. A cancel requested meanwhile
/// is the recorder's fenced write's to apply.
attempt_decision decide(const pipeline_outcome& outcome, const run_counters& counters,
                        const retry_policy& policy, sys_ms now, std::uint64_t random);

}  // namespace orch::steps
