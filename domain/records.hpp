#pragma once
/// \file records.hpp Stored runs, step results and log lines, and their API JSON.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/time.hpp"

namespace orch {

/// A step result as stored: one per (run, attempt, step).
struct step_record {
  int index = 0;
  std::string name;
  std::string status;
  int attempt = 0;
  std::optional<sys_ms> started_at;
  std::optional<sys_ms> finished_at;
  std::optional<int> exit_code;
  std::optional<int> http_status;
  std::optional<std::string> output;
  std::optional<std::string> error_code;
  std::optional<std::string> error_message;
};

/// A run as stored.
struct run_record {
  long long id = 0;
  std::string task;
  int task_version = 0;
  std::string queue;
  std::string status;
  nlohmann::json params = nlohmann::json::object();
  std::string trigger;
  std::optional<std::string> schedule_id;
  std::optional<sys_ms> scheduled_for;
  int attempt = 0;
  int max_attempts = 1;
  int priority = 0;
  std::optional<std::string> idempotency_key;
  sys_ms created_at{};
  sys_ms available_at{};
  std::optional<sys_ms> started_at;
  std::optional<sys_ms> finished_at;
  std::optional<std::string> node;
  std::optional<std::string> output;
  std::optional<std::string> error_code;
  std::optional<std::string> error_message;
  bool cancel_requested = false;
  int lost_leases = 0;  ///< executions that ended with their node (not the task's failures)
  std::vector<step_record> steps;  ///< filled only when asked for
};

/// A run log line.
struct log_record {
  long long seq = 0;
  sys_ms ts{};
  std::string stream;
  std::optional<std::string> step;
  std::string line;
  int attempt = 0;
};

/// The API shape of a run (API.md); `with_steps` adds the step list.
nlohmann::json to_json(const run_record& r, bool with_steps);
/// The API shape of a step result.
nlohmann::json to_json(const step_record& s);
/// The API shape of a log line.
nlohmann::json to_json(const log_record& l);

/// Replaces invalid UTF-8 sequences with U+FFFD and drops NUL bytes, so any
/// process output can be stored as PostgreSQL text and served as JSON.
std::string sanitize_utf8(std::string_view in);

}  // namespace orch
