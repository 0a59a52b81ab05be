#pragma once
/// \file schedule_repo.hpp Schedules and the leader's fire transaction.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/schedule.hpp"
#include "domain/time.hpp"

namespace orch::persistence {

class session;

/// A stored schedule.
struct schedule_row {
  schedule_spec spec;
  std::optional<sys_ms> next_fire_at;
  std::optional<sys_ms> last_fired_at;
  sys_ms created_at{};
  sys_ms updated_at{};
};

/// The API shape: definition plus id and times.
nlohmann::json to_json(const schedule_row& row);

/// Outcome of firing one schedule.
struct fire_result {
  std::string schedule_id;
  std::vector<long long> run_ids;
  std::vector<sys_seconds> fire_times;  ///< fired now, matching run_ids where created
  long long missed = 0;                 ///< by misfire policy or cap
  long long skipped_overlap = 0;        ///< fires skipped because a run was active
  long long duplicates = 0;             ///< fire times that already had a run
};

namespace schedule_repo {

/// Creates a schedule (id generated when empty); errc::conflict for a taken id,
/// errc::not_found (field "task") for an unknown task.
result<schedule_row> create(session& db, schedule_spec spec, sys_ms now);
/// Creates or replaces by id; `created` tells which.
result<std::pair<schedule_row, bool>> put(session& db, schedule_spec spec, sys_ms now);
result<schedule_row> get(session& db, const std::string& id);
result<std::vector<schedule_row>> list(session& db, int limit, const std::string& cursor);
status remove(session& db, const std::string& id);
/// Pause (enabled false) or resume (enabled true, next fire recomputed from now).
result<schedule_row> set_enabled(session& db, const std::string& id, bool enabled, sys_ms now);

/// The earliest next fire time among enabled schedules.
result<std::optional<sys_ms>> next_due(session& db);

/// Fires every enabled schedule due at `now`: plans with the misfire policy,
/// applies the overlap policy, inserts the runs (one per schedule and fire
/// time, enforced by a unique index) and advances next_fire_at, all in one
/// transaction. With `leader_key`, the transaction first checks that this
/// connection still holds that session advisory lock and fires nothing (errc::
/// conflict) when it does not, so a deposed leader can never fire.
result<std::vector<fire_result>> fire_due(session& db, sys_ms now, std::chrono::seconds grace,
                                          int limit, std::optional<long long> leader_key);

/// Takes the scheduler leadership lock on this session's connection; true when held.
result<bool> try_lead(session& db, long long leader_key);

/// A manual trigger: one run now with trigger "schedule".
result<long long> trigger(session& db, const std::string& id);

}  // namespace schedule_repo
}  // namespace orch::persistence
