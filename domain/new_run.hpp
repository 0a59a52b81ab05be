#pragma once
/// \file new_run.hpp A run about to be inserted, as a submission, a schedule or a
/// retry describes it.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "domain/time.hpp"

namespace orch {

/// A run to insert.
struct new_run {
  std::string task;
  int task_version = 0;
  std::string queue = "default";
  nlohmann::json params = nlohmann::json::object();
  std::string trigger = "api";
  std::optional<std::string> schedule_id;
  std::optional<sys_ms> scheduled_for;
  int max_attempts = 1;
  int priority = 0;
  int concurrency_limit = 0;
  std::optional<std::string> idempotency_key;
  std::optional<sys_ms> available_at;  ///< default now
  std::optional<long long> retry_of;
};

}  // namespace orch
