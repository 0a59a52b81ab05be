#pragma once
/// \file schedule.hpp Schedules: validation and the misfire/overlap fire plan.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/cron.hpp"
#include "domain/result.hpp"

namespace orch {

/// What to do with fire times missed while nothing was running.
enum class misfire_policy { skip, run_once, run_all };
/// What to do when a fire comes while a run of the schedule is still active.
enum class overlap_policy { allow, skip };

std::string_view to_string(misfire_policy p);
std::string_view to_string(overlap_policy p);

/// A schedule definition as the API accepts it.
struct schedule_spec {
  std::string id;  ///< empty: assigned by the store
  std::string task;
  std::string cron;
  std::string timezone = "UTC";
  nlohmann::json params = nlohmann::json::object();
  bool enabled = true;
  misfire_policy misfire = misfire_policy::run_once;
  overlap_policy overlap = overlap_policy::allow;
};

/// Whether a schedule id matches ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$.
bool valid_schedule_id(std::string_view id);

/// Parses and validates a schedule body (cron and zone checked, unknown fields
/// rejected). An `id` in the body must be valid; `path_id`, when not empty, wins.
result<schedule_spec> parse_schedule(const nlohmann::json& body, const std::string& path_id);

/// JSON of the definition fields (no times).
nlohmann::json to_json(const schedule_spec& s);

/// The fires to make now for one schedule.
struct fire_plan {
  std::vector<sys_seconds> fire_times;  ///< runs to create, oldest first
  long long missed = 0;                 ///< fire times dropped by the policy or the cap
  std::optional<sys_seconds> next;      ///< the next fire time after now
};

/// Plans the fires due at `now` given the stored next fire time. A fire time
/// later than `now - grace` is on time and always fires; older ones are missed
/// and follow the policy: skip drops them, run_once fires the latest one,
/// run_all fires each up to `cap` (the most recent ones), counting the rest.
fire_plan plan_fires(const cron_expr& cron, const date::time_zone* zone, sys_seconds next_fire,
                     sys_seconds now, std::chrono::seconds grace, misfire_policy policy,
                     int cap = 100);

}  // namespace orch
