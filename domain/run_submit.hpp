#pragma once
/// \file run_submit.hpp The body of a run submission and how a run's params are merged.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch {

/// A run submission body: POST /v1/tasks/{name}/runs.
struct run_submit {
  nlohmann::json params = nlohmann::json::object();
  std::optional<std::string> idempotency_key;
  std::optional<int> priority;
  std::optional<sys_ms> run_at;
};

/// Parses a submission body (unknown fields rejected; key at most 200 characters).
/// A null body counts as an empty one. `path` prefixes field names ("runs[3]" gives
/// "runs[3].params").
result<run_submit> parse_run_submit(const nlohmann::json& body, const std::string& path = "");
/// parse_run_submit that also lets the fields in `extra_fields` through unchecked
/// (e.g. "task" of a batch item), for the caller to handle.
result<run_submit> parse_run_submit(const nlohmann::json& body, const std::string& path,
                                    const std::vector<std::string>& extra_fields);

/// Task defaults overlaid with run params (shallow: run keys replace task keys).
nlohmann::json merge_params(const nlohmann::json& defaults, const nlohmann::json& overrides);

}  // namespace orch
