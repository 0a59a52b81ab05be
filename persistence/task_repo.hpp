#pragma once
/// \file task_repo.hpp Versioned task definitions.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/task.hpp"
#include "domain/time.hpp"

namespace orch::persistence {

/// A stored task version plus the times of its head.
struct task_row {
  std::string name;
  int version = 0;
  nlohmann::json spec;  ///< canonical JSON (to_json of task_spec)
  sys_ms created_at{};
  sys_ms updated_at{};
};

/// The API shape: the spec with name, version and times.
nlohmann::json to_json(const task_row& row);

/// Outcome of a PUT: created (201), replaced as a new version, or unchanged.
struct put_outcome {
  task_row row;
  bool created = false;
  bool changed = false;
};

class session;

/// Task definitions: every replacement is a new version; runs keep theirs.
namespace task_repo {

/// Creates or replaces; an identical definition keeps the current version.
result<put_outcome> put(session& db, const task_spec& spec);
/// Creates; errc::conflict when the name exists.
result<task_row> create(session& db, const task_spec& spec);
/// The current version, or errc::not_found.
result<task_row> get(session& db, const std::string& name);
/// A specific version (live or deleted), or errc::not_found.
result<task_row> get_version(session& db, const std::string& name, int version);
/// Live tasks by name after `cursor`, at most `limit`.
result<std::vector<task_row>> list(session& db, int limit, const std::string& cursor);
/// Deletes the task's head and its schedules; errc::not_found when absent.
status remove(session& db, const std::string& name);

}  // namespace task_repo
}  // namespace orch::persistence
