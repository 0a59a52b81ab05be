#pragma once
/// \file task.hpp Task and step definitions with strict JSON codecs.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch {

using json = nlohmann::json;

/// Retry with exponential backoff: attempt n waits initial_delay * multiplier^(n-1),
/// capped at max_delay, with jitter when enabled.
struct retry_policy {
  int max_attempts = 1;
  millis initial_delay{1000};
  millis max_delay{300000};
  double multiplier = 2.0;
  bool jitter = true;
  bool operator==(const retry_policy&) const = default;
};

/// Runs a program: argv, never a shell string.
struct exec_spec {
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string cwd;
  std::optional<std::string> stdin_data;
};

/// An HTTP request made with libcurl; the response body is the step output.
struct http_spec {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  json body;                       ///< null: no body; a string is sent as is; else JSON
  std::vector<int> expect_status;  ///< empty means any 2xx
};

/// Renders a string or JSON value from params and earlier outputs; no I/O.
struct template_spec {
  json value;
};

/// One step of a pipeline: a unique name and exactly one kind.
struct step_spec {
  std::string name;
  std::variant<exec_spec, http_spec, template_spec> kind;
  std::optional<millis> timeout;
  std::optional<retry_policy> retry;
};

/// The kind name of a step: "exec", "http" or "template".
std::string_view kind_name(const step_spec& step);

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

/// Limits that validation enforces.
inline constexpr std::size_t max_steps = 100;
inline constexpr int max_attempts_limit = 100;
inline constexpr int max_concurrency = 10000;
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

/// Whether a task name matches ^[a-z0-9][a-z0-9_-]{0,62}$.
bool valid_task_name(std::string_view name);

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

/// Parses a retry policy object; errors are prefixed with `path`.
std::optional<retry_policy> parse_retry(const json& j, const std::string& path,
                                        std::vector<field_error>& errors);
/// parse_retry whose absent fields come from `base`; a step's retry object
/// overrides only what it names of the task's retry policy.
std::optional<retry_policy> parse_retry(const json& j, const std::string& path,
                                        std::vector<field_error>& errors, const retry_policy& base);
/// JSON form of a retry policy.
json to_json(const retry_policy& r);

/// A run submission body: POST /v1/tasks/{name}/runs.
struct run_submit {
  json params = json::object();
  std::optional<std::string> idempotency_key;
  std::optional<int> priority;
  std::optional<sys_ms> run_at;
};

/// Parses a submission body (unknown fields rejected; key at most 200 characters).
/// A null body counts as an empty one. `path` prefixes field names ("runs[3]" gives
/// "runs[3].params").
result<run_submit> parse_run_submit(const json& body, const std::string& path = "");
/// parse_run_submit that also lets the fields in `extra_fields` through unchecked
/// (e.g. "task" of a batch item), for the caller to handle.
result<run_submit> parse_run_submit(const json& body, const std::string& path,
                                    const std::vector<std::string>& extra_fields);

/// Checks the `{{ params.x }}` references of every step against the merged
/// params a run will see (task defaults overlaid with the run's params).
std::vector<field_error> check_param_references(const task_spec& task, const json& merged);

/// Task defaults overlaid with run params (shallow: run keys replace task keys).
json merge_params(const json& defaults, const json& overrides);

}  // namespace orch
