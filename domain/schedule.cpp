#include "domain/schedule.hpp"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <deque>

#include "domain/task.hpp"

namespace orch {

namespace {

using std::chrono::seconds;

constexpr std::array<std::string_view, 8> known_fields = {
    "id", "task", "cron", "timezone", "params", "enabled", "misfire", "overlap"};

std::optional<misfire_policy> parse_misfire(std::string_view s) {
  if (s == "skip") return misfire_policy::skip;
  if (s == "run_once") return misfire_policy::run_once;
  if (s == "run_all") return misfire_policy::run_all;
  return std::nullopt;
}

std::optional<overlap_policy> parse_overlap(std::string_view s) {
  if (s == "allow") return overlap_policy::allow;
  if (s == "skip") return overlap_policy::skip;
  return std::nullopt;
}

/// User text for an error message, shortened so a huge input makes a short message.
std::string shown(const std::string& s) {
  constexpr std::size_t max = 64;
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

/// The string value of `field`, or nullopt (with an error) when it has another type.
std::optional<std::string> string_field(const nlohmann::json& body, const char* field,
                                        std::vector<field_error>& errors) {
  const auto& v = body.at(field);
  if (!v.is_string()) {
    errors.push_back({field, std::string(field) + " must be a string"});
    return std::nullopt;
  }
  return v.get<std::string>();
}

}  // namespace

std::string_view to_string(misfire_policy p) {
  switch (p) {
    case misfire_policy::skip:
      return "skip";
    case misfire_policy::run_once:
      return "run_once";
    case misfire_policy::run_all:
      return "run_all";
  }
  return "run_once";
}

std::string_view to_string(overlap_policy p) {
  switch (p) {
    case overlap_policy::allow:
      return "allow";
    case overlap_policy::skip:
      return "skip";
  }
  return "allow";
}

bool valid_schedule_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front())) return false;
  return std::all_of(id.begin() + 1, id.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

result<schedule_spec> parse_schedule(const nlohmann::json& body, const std::string& path_id) {
  std::vector<field_error> errors;
  if (!body.is_object()) {
    errors.push_back({"", "schedule must be a JSON object"});
    return validation_error(errors);
  }
  for (const auto& [key, value] : body.items()) {
    if (std::find(known_fields.begin(), known_fields.end(), key) == known_fields.end()) {
      errors.push_back({key, "unknown field '" + shown(key) + "'"});
    }
  }

  schedule_spec spec;
  const std::string id_rule = "must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
  if (body.contains("id")) {
    if (auto id = string_field(body, "id", errors)) {
      if (!valid_schedule_id(*id)) {
        errors.push_back({"id", "id '" + shown(*id) + "' " + id_rule});
      } else {
        spec.id = *id;
      }
    }
  }
  if (!path_id.empty()) {
    if (!valid_schedule_id(path_id)) {
      errors.push_back({"id", "id '" + shown(path_id) + "' " + id_rule});
    } else {
      spec.id = path_id;
    }
  }

  if (!body.contains("task")) {
    errors.push_back({"task", "task is required"});
  } else if (auto task = string_field(body, "task", errors)) {
    if (!valid_task_name(*task)) {
      errors.push_back(
          {"task", "task '" + shown(*task) + "' must match ^[a-z0-9][a-z0-9_-]{0,62}$"});
    } else {
      spec.task = *task;
    }
  }

  if (!body.contains("cron")) {
    errors.push_back({"cron", "cron is required"});
  } else if (auto cron = string_field(body, "cron", errors)) {
    auto parsed = cron_expr::parse(*cron);
    if (!parsed) {
      errors.push_back({"cron", "cron: " + parsed.error().message});
    } else {
      spec.cron = *cron;
    }
  }

  if (body.contains("timezone")) {
    if (auto tz = string_field(body, "timezone", errors)) {
      if (find_zone(*tz) == nullptr) {
        errors.push_back({"timezone", "unknown time zone '" + shown(*tz) +
                                          "' (expected an IANA name such as Europe/Berlin)"});
      } else {
        spec.timezone = *tz;
      }
    }
  }

  if (body.contains("params")) {
    if (!body.at("params").is_object()) {
      errors.push_back({"params", "params must be a JSON object"});
    } else {
      spec.params = body.at("params");
    }
  }

  if (body.contains("enabled")) {
    if (!body.at("enabled").is_boolean()) {
      errors.push_back({"enabled", "enabled must be true or false"});
    } else {
      spec.enabled = body.at("enabled").get<bool>();
    }
  }

  if (body.contains("misfire")) {
    if (auto text = string_field(body, "misfire", errors)) {
      if (auto p = parse_misfire(*text)) {
        spec.misfire = *p;
      } else {
        errors.push_back({"misfire", "misfire must be one of skip, run_once, run_all"});
      }
    }
  }

  if (body.contains("overlap")) {
    if (auto text = string_field(body, "overlap", errors)) {
      if (auto p = parse_overlap(*text)) {
        spec.overlap = *p;
      } else {
        errors.push_back({"overlap", "overlap must be one of allow, skip"});
      }
    }
  }

  if (!errors.empty()) return validation_error(errors);
  return spec;
}

nlohmann::json to_json(const schedule_spec& s) {
  nlohmann::json j = {
      {"task", s.task},
      {"cron", s.cron},
      {"timezone", s.timezone},
      {"params", s.params},
      {"enabled", s.enabled},
      {"misfire", std::string(to_string(s.misfire))},
      {"overlap", std::string(to_string(s.overlap))},
  };
  if (!s.id.empty()) j["id"] = s.id;
  return j;
}

fire_plan plan_fires(const cron_expr& cron, const date::time_zone* zone, sys_seconds next_fire,
                     sys_seconds now, std::chrono::seconds grace, misfire_policy policy, int cap) {
  fire_plan plan;
  if (next_fire > now) {
    plan.next = next_fire;
    return plan;
  }
  grace = std::max(grace, seconds{0});
  cap = std::max(cap, 0);
  auto cutoff = now - grace;

  if (next_fire <= cutoff) {
    // Fire times from the stored one to the cutoff are missed.
    long long missed = 1 + cron.count_between(next_fire, cutoff, zone);
    std::size_t keep = 0;
    if (policy == misfire_policy::run_once) keep = 1;
    if (policy == misfire_policy::run_all) keep = static_cast<std::size_t>(cap);
    if (keep > 0) {
      // Walk only a window ending at the cutoff that holds at least `keep` fires.
      std::optional<sys_seconds> t = next_fire;
      for (auto window = seconds{60}; cutoff - next_fire > window; window *= 2) {
        if (cron.count_between(cutoff - window, cutoff, zone) >= static_cast<long long>(keep)) {
          t = cron.next_after(cutoff - window, zone);
          break;
        }
      }
      std::deque<sys_seconds> kept;
      for (; t && *t <= cutoff; t = cron.next_after(*t, zone)) {
        kept.push_back(*t);
        if (kept.size() > keep) kept.pop_front();
      }
      plan.fire_times.assign(kept.begin(), kept.end());
    }
    plan.missed = std::max(missed - static_cast<long long>(plan.fire_times.size()), 0LL);
  }

  // On time: everything due after the cutoff, oldest first.
  std::optional<sys_seconds> t =
      next_fire > cutoff ? std::optional<sys_seconds>(next_fire) : cron.next_after(cutoff, zone);
  while (t && *t <= now) {
    plan.fire_times.push_back(*t);
    t = cron.next_after(*t, zone);
  }
  plan.next = t;
  return plan;
}

}  // namespace orch
