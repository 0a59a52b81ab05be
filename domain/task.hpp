#pragma once
/// \file task.hpp A task definition (a named pipeline of steps) and its strict JSON codec.
///
/// Also brings in what a task is made of and what comes with it: steps, retry
/// policy, the name rule, validation limits and run submission bodies.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/retry_policy.hpp"
#include "domain/run_submit.hpp"
#include "domain/step_spec.hpp"
#include "domain/task_name.hpp"
#include "domain/time.hpp"
#include "domain/validation_limits.hpp"

namespace orch {

using json = nlohmann::json;

/// A named, versioned definition of work.
struct task_spec {
  std::string name;
  std::string description;
  json params = json::object();
  std::vector<step_spec> steps;
  retry_policy retry;
  millis timeout{std::chrono::hours(1)};
  int concurrency = 0;  ///< max runs at once; 0 = unlimited
  std::string queue = "default";
  int priority = 0;  ///< higher runs first
};

/// Parses and validates a task body. `name` is taken from the body when
/// `name_in_body` is set (POST /v1/tasks), otherwise it must be absent or equal
/// to `name` (PUT /v1/tasks/{name}). Reports every problem with its field path,
/// including unknown fields and template references to unknown or later steps.
/// An optional field given as null counts as absent. Strings must be valid UTF-8,
/// so the result always serializes.
result<task_spec> parse_task(const json& body, const std::string& name, bool name_in_body);

/// Every problem parse_task finds, in a stable order (at most max_reported_errors);
/// empty when the body is valid. Each message starts with or names its field path,
/// e.g. "steps[2].http.body: template references unknown step 'fech'".
std::vector<field_error> validate_task(const json& body, const std::string& name,
                                       bool name_in_body);

/// The canonical JSON of a task with every default filled in (no version or times).
json to_json(const task_spec& task);

/// Checks the `{{ params.x }}` references of every step against the merged
/// params a run will see (task defaults overlaid with the run's params).
std::vector<field_error> check_param_references(const task_spec& task, const json& merged);

}  // namespace orch
