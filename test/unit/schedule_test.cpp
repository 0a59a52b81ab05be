#define BOOST_TEST_MODULE schedule
#include "domain/schedule.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using orch::cron_expr;
using orch::find_zone;
using orch::misfire_policy;
using orch::overlap_policy;
using orch::plan_fires;
using orch::sys_seconds;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_seconds{date::sys_days{date::year{y} / mo / d}} + hours{h} + minutes{mi} + seconds{s};
}

std::string show(sys_seconds t) {
  return date::format("%FT%TZ", t);
}

std::vector<std::string> show(const std::vector<sys_seconds>& ts) {
  std::vector<std::string> out;
  for (auto t : ts) out.push_back(show(t));
  return out;
}

std::string show(std::optional<sys_seconds> t) {
  return t ? show(*t) : std::string("none");
}

cron_expr cron(const std::string& text) {
  auto r = cron_expr::parse(text);
  BOOST_REQUIRE(r.ok());
  return *r;
}

orch::error_info parse_error(const json& body, const std::string& path_id = "") {
  auto r = orch::parse_schedule(body, path_id);
  BOOST_REQUIRE_MESSAGE(!r.ok(), body.dump() << " should be rejected");
  BOOST_CHECK(r.error().code == orch::errc::validation_failed);
  return r.error();
}

orch::schedule_spec parse_ok(const json& body, const std::string& path_id = "") {
  auto r = orch::parse_schedule(body, path_id);
  BOOST_REQUIRE_MESSAGE(r.ok(), body.dump() << ": " << (r.ok() ? "" : r.error().message));
  return *r;
}

const json minimal = {{"task", "backup"}, {"cron", "0 3 * * *"}};

json with(json body, const std::string& key, json value) {
  body[key] = std::move(value);
  return body;
}

using strings = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(definitions)

BOOST_AUTO_TEST_CASE(policies_have_their_wire_names) {
  BOOST_TEST(orch::to_string(misfire_policy::skip) == "skip");
  BOOST_TEST(orch::to_string(misfire_policy::run_once) == "run_once");
  BOOST_TEST(orch::to_string(misfire_policy::run_all) == "run_all");
  BOOST_TEST(orch::to_string(overlap_policy::allow) == "allow");
  BOOST_TEST(orch::to_string(overlap_policy::skip) == "skip");
}

BOOST_AUTO_TEST_CASE(schedule_ids_follow_the_documented_pattern) {
  BOOST_TEST(orch::valid_schedule_id("a"));
  BOOST_TEST(orch::valid_schedule_id("Nightly.backup-2_x"));
  BOOST_TEST(orch::valid_schedule_id("9"));
  BOOST_TEST(orch::valid_schedule_id(std::string(64, 'x')));
  BOOST_TEST(!orch::valid_schedule_id(""));
  BOOST_TEST(!orch::valid_schedule_id(std::string(65, 'x')));
  BOOST_TEST(!orch::valid_schedule_id("-a"));
  BOOST_TEST(!orch::valid_schedule_id(".a"));
  BOOST_TEST(!orch::valid_schedule_id("_a"));
  BOOST_TEST(!orch::valid_schedule_id("a b"));
  BOOST_TEST(!orch::valid_schedule_id("a/b"));
  BOOST_TEST(!orch::valid_schedule_id("caf\xc3\xa9"));
}

BOOST_AUTO_TEST_CASE(a_minimal_schedule_gets_the_defaults) {
  auto s = parse_ok(minimal);
  BOOST_TEST(s.id.empty());
  BOOST_TEST(s.task == "backup");
  BOOST_TEST(s.cron == "0 3 * * *");
  BOOST_TEST(s.timezone == "UTC");
  BOOST_TEST(s.params == json::object());
  BOOST_TEST(s.enabled);
  BOOST_CHECK(s.misfire == misfire_policy::run_once);
  BOOST_CHECK(s.overlap == overlap_policy::allow);
}

BOOST_AUTO_TEST_CASE(every_field_is_read) {
  json body = {{"id", "nightly"},
               {"task", "backup"},
               {"cron", "0 0 3 * * MON"},
               {"timezone", "Europe/Berlin"},
               {"params", {{"full", true}}},
               {"enabled", false},
               {"misfire", "run_all"},
               {"overlap", "skip"}};
  auto s = parse_ok(body);
  BOOST_TEST(s.id == "nightly");
  BOOST_TEST(s.cron == "0 0 3 * * MON");
  BOOST_TEST(s.timezone == "Europe/Berlin");
  BOOST_TEST(s.params == json({{"full", true}}));
  BOOST_TEST(!s.enabled);
  BOOST_CHECK(s.misfire == misfire_policy::run_all);
  BOOST_CHECK(s.overlap == overlap_policy::skip);
  BOOST_CHECK(parse_ok(with(minimal, "misfire", "skip")).misfire == misfire_policy::skip);
  BOOST_CHECK(parse_ok(with(minimal, "misfire", "run_once")).misfire == misfire_policy::run_once);
  BOOST_CHECK(parse_ok(with(minimal, "overlap", "allow")).overlap == overlap_policy::allow);
}

BOOST_AUTO_TEST_CASE(to_json_writes_every_definition_field_and_parses_back) {
  json body = {{"id", "nightly"},          {"task", "backup"},     {"cron", "@daily"},
               {"timezone", "Asia/Tokyo"}, {"params", {{"n", 1}}}, {"enabled", false},
               {"misfire", "skip"},        {"overlap", "skip"}};
  auto j = orch::to_json(parse_ok(body));
  BOOST_TEST(j == body);
  auto again = parse_ok(j);
  BOOST_TEST(orch::to_json(again) == body);
}

BOOST_AUTO_TEST_CASE(to_json_leaves_out_an_unassigned_id) {
  auto j = orch::to_json(parse_ok(minimal));
  BOOST_TEST(!j.contains("id"));
  BOOST_TEST(j["misfire"] == "run_once");
  BOOST_TEST(j["overlap"] == "allow");
  BOOST_TEST(j["timezone"] == "UTC");
  BOOST_TEST(j["enabled"] == true);
}

BOOST_AUTO_TEST_CASE(the_path_id_wins_over_the_body_id) {
  BOOST_TEST(parse_ok(with(minimal, "id", "from-body"), "from-path").id == "from-path");
  BOOST_TEST(parse_ok(minimal, "from-path").id == "from-path");
}

BOOST_AUTO_TEST_CASE(invalid_ids_are_rejected) {
  auto e = parse_error(with(minimal, "id", "-bad"));
  BOOST_TEST(e.field == "id");
  BOOST_TEST(e.message.find("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$") != std::string::npos);
  BOOST_TEST(parse_error(minimal, "bad id").field == "id");
  BOOST_TEST(parse_error(with(minimal, "id", 7)).message == "id must be a string");
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_rejected_by_name) {
  auto e = parse_error(with(minimal, "comand", "x"));
  BOOST_TEST(e.field == "comand");
  BOOST_TEST(e.message == "unknown field 'comand'");
}

BOOST_AUTO_TEST_CASE(task_and_cron_are_required) {
  auto e = parse_error(json{{"cron", "* * * * *"}});
  BOOST_TEST(e.field == "task");
  BOOST_TEST(e.message == "task is required");
  e = parse_error(json{{"task", "backup"}});
  BOOST_TEST(e.field == "cron");
  BOOST_TEST(e.message == "cron is required");
}

BOOST_AUTO_TEST_CASE(the_task_must_be_a_valid_task_name) {
  auto e = parse_error(with(minimal, "task", "Bad Name"));
  BOOST_TEST(e.field == "task");
  BOOST_TEST(e.message.find("^[a-z0-9][a-z0-9_-]{0,62}$") != std::string::npos);
  BOOST_TEST(parse_error(with(minimal, "task", "")).field == "task");
}

BOOST_AUTO_TEST_CASE(a_bad_cron_expression_is_reported_on_the_cron_field) {
  auto e = parse_error(with(minimal, "cron", "61 * * * *"));
  BOOST_TEST(e.field == "cron");
  BOOST_TEST(e.message == "cron: minute field: value 61 out of range 0-59");
  BOOST_TEST(parse_error(with(minimal, "cron", "")).field == "cron");
  BOOST_TEST(parse_error(with(minimal, "cron", "@often")).field == "cron");
}

BOOST_AUTO_TEST_CASE(an_unknown_time_zone_is_rejected) {
  auto e = parse_error(with(minimal, "timezone", "Mars/Olympus_Mons"));
  BOOST_TEST(e.field == "timezone");
  BOOST_TEST(e.message.find("unknown time zone 'Mars/Olympus_Mons'") == 0);
  BOOST_TEST(parse_error(with(minimal, "timezone", "")).field == "timezone");
}

BOOST_AUTO_TEST_CASE(wrong_types_are_reported_per_field) {
  BOOST_TEST(parse_error(with(minimal, "task", 5)).message == "task must be a string");
  BOOST_TEST(parse_error(with(minimal, "cron", json::array())).message == "cron must be a string");
  BOOST_TEST(parse_error(with(minimal, "timezone", 1)).message == "timezone must be a string");
  BOOST_TEST(parse_error(with(minimal, "params", json::array({1}))).message ==
             "params must be a JSON object");
  BOOST_TEST(parse_error(with(minimal, "params", "x")).field == "params");
  BOOST_TEST(parse_error(with(minimal, "enabled", "yes")).message ==
             "enabled must be true or false");
  BOOST_TEST(parse_error(with(minimal, "misfire", "sometimes")).message ==
             "misfire must be one of skip, run_once, run_all");
  BOOST_TEST(parse_error(with(minimal, "misfire", 1)).field == "misfire");
  BOOST_TEST(parse_error(with(minimal, "overlap", 3)).message == "overlap must be a string");
  BOOST_TEST(parse_error(with(minimal, "overlap", "queue")).message ==
             "overlap must be one of allow, skip");
  BOOST_TEST(parse_error(with(minimal, "enabled", nullptr)).field == "enabled");
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_an_object_is_rejected) {
  BOOST_TEST(parse_error(json::array()).message == "schedule must be a JSON object");
  BOOST_TEST(parse_error(json("x")).message == "schedule must be a JSON object");
  BOOST_TEST(parse_error(json()).message == "schedule must be a JSON object");
}

BOOST_AUTO_TEST_CASE(every_problem_is_counted_in_the_message) {
  json body = {{"task", 1}, {"cron", "bad"}, {"colour", "red"}};
  auto e = parse_error(body);
  BOOST_TEST(e.field == "colour");
  BOOST_TEST(e.message == "unknown field 'colour' (and 2 more)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fire_plans)

const auto* utc_zone() {
  return find_zone("UTC");
}

BOOST_AUTO_TEST_CASE(nothing_fires_before_the_stored_fire_time) {
  auto plan = plan_fires(cron("*/5 * * * *"), utc_zone(), utc(2024, 5, 1, 10, 5),
                         utc(2024, 5, 1, 10, 4, 59), seconds{60}, misfire_policy::run_all);
  BOOST_TEST(plan.fire_times.empty());
  BOOST_TEST(plan.missed == 0);
  BOOST_TEST(show(plan.next) == "2024-05-01T10:05:00Z");
}

BOOST_AUTO_TEST_CASE(a_fire_time_reached_exactly_fires_and_next_is_strictly_later) {
  auto plan = plan_fires(cron("*/5 * * * *"), utc_zone(), utc(2024, 5, 1, 10, 5),
                         utc(2024, 5, 1, 10, 5), seconds{60}, misfire_policy::skip);
  BOOST_TEST(show(plan.fire_times) == strings{"2024-05-01T10:05:00Z"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 0);
  BOOST_TEST(show(plan.next) == "2024-05-01T10:10:00Z");
}

BOOST_AUTO_TEST_CASE(fires_within_the_grace_are_on_time_whatever_the_policy) {
  for (auto policy : {misfire_policy::skip, misfire_policy::run_once, misfire_policy::run_all}) {
    auto plan = plan_fires(cron("* * * * *"), utc_zone(), utc(2024, 5, 1, 10, 0),
                           utc(2024, 5, 1, 10, 2, 30), seconds{180}, policy);
    BOOST_TEST(show(plan.fire_times) == strings({"2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z",
                                                 "2024-05-01T10:02:00Z"}),
               boost::test_tools::per_element());
    BOOST_TEST(plan.missed == 0);
    BOOST_TEST(show(plan.next) == "2024-05-01T10:03:00Z");
  }
}

BOOST_AUTO_TEST_CASE(a_fire_exactly_at_now_minus_grace_is_missed) {
  auto plan = plan_fires(cron("* * * * *"), utc_zone(), utc(2024, 5, 1, 10, 0),
                         utc(2024, 5, 1, 10, 1), seconds{60}, misfire_policy::skip);
  BOOST_TEST(show(plan.fire_times) == strings{"2024-05-01T10:01:00Z"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 1);
}

// Hourly; stored next fire 06:00; now 10:30 with 10 minutes of grace:
// 06:00 07:00 08:00 09:00 10:00 are missed, 11:00 is next.
BOOST_AUTO_TEST_CASE(skip_drops_every_missed_fire_and_counts_them) {
  auto plan = plan_fires(cron("0 * * * *"), utc_zone(), utc(2024, 5, 1, 6), utc(2024, 5, 1, 10, 30),
                         minutes{10}, misfire_policy::skip);
  BOOST_TEST(plan.fire_times.empty());
  BOOST_TEST(plan.missed == 5);
  BOOST_TEST(show(plan.next) == "2024-05-01T11:00:00Z");
}

BOOST_AUTO_TEST_CASE(run_once_fires_the_latest_missed_fire_and_counts_the_others) {
  auto plan = plan_fires(cron("0 * * * *"), utc_zone(), utc(2024, 5, 1, 6), utc(2024, 5, 1, 10, 30),
                         minutes{10}, misfire_policy::run_once);
  BOOST_TEST(show(plan.fire_times) == strings{"2024-05-01T10:00:00Z"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 4);
  BOOST_TEST(show(plan.next) == "2024-05-01T11:00:00Z");
}

BOOST_AUTO_TEST_CASE(run_all_fires_every_missed_fire_oldest_first) {
  auto plan = plan_fires(cron("0 * * * *"), utc_zone(), utc(2024, 5, 1, 6), utc(2024, 5, 1, 10, 30),
                         minutes{10}, misfire_policy::run_all);
  BOOST_TEST(show(plan.fire_times) ==
                 strings({"2024-05-01T06:00:00Z", "2024-05-01T07:00:00Z", "2024-05-01T08:00:00Z",
                          "2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 0);
  BOOST_TEST(show(plan.next) == "2024-05-01T11:00:00Z");
}

BOOST_AUTO_TEST_CASE(run_all_keeps_the_most_recent_fires_up_to_the_cap) {
  auto plan = plan_fires(cron("0 * * * *"), utc_zone(), utc(2024, 5, 1, 6), utc(2024, 5, 1, 10, 30),
                         minutes{10}, misfire_policy::run_all, 2);
  BOOST_TEST(show(plan.fire_times) == strings({"2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 3);
}

BOOST_AUTO_TEST_CASE(the_cap_applies_to_missed_fires_only) {
  // 10:00 and 10:15 are within the grace and always fire; 09:15..09:45 are missed.
  auto plan = plan_fires(cron("*/15 * * * *"), utc_zone(), utc(2024, 5, 1, 9, 15),
                         utc(2024, 5, 1, 10, 20), minutes{30}, misfire_policy::run_all, 1);
  BOOST_TEST(show(plan.fire_times) ==
                 strings({"2024-05-01T09:45:00Z", "2024-05-01T10:00:00Z", "2024-05-01T10:15:00Z"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 2);
  BOOST_TEST(show(plan.next) == "2024-05-01T10:30:00Z");
}

BOOST_AUTO_TEST_CASE(a_cap_of_zero_runs_no_missed_fire) {
  auto plan = plan_fires(cron("0 * * * *"), utc_zone(), utc(2024, 5, 1, 6), utc(2024, 5, 1, 10, 30),
                         minutes{10}, misfire_policy::run_all, 0);
  BOOST_TEST(plan.fire_times.empty());
  BOOST_TEST(plan.missed == 5);
}

BOOST_AUTO_TEST_CASE(the_default_cap_is_100) {
  auto plan = plan_fires(cron("* * * * *"), utc_zone(), utc(2024, 5, 1), utc(2024, 5, 2),
                         seconds{0}, misfire_policy::run_all);
  // With no grace all 1441 fires up to now are missed; the latest 100 run.
  BOOST_TEST(plan.fire_times.size() == 100U);
  BOOST_TEST(show(plan.fire_times.front()) == "2024-05-01T22:21:00Z");
  BOOST_TEST(show(plan.fire_times.back()) == "2024-05-02T00:00:00Z");
  BOOST_TEST(plan.missed == 1441 - 100);
}

BOOST_AUTO_TEST_CASE(a_long_outage_is_counted_exactly_without_walking_every_fire) {
  // Every second for 366 days, less the hour Berlin repeats in October (its local
  // times fire once): 31,618,801 fires, far too many to walk one by one.
  auto from = utc(2024, 1, 1);
  auto now = utc(2025, 1, 1);
  auto plan = plan_fires(cron("* * * * * *"), find_zone("Europe/Berlin"), from, now, seconds{0},
                         misfire_policy::run_all, 3);
  BOOST_TEST(plan.missed == 366LL * 86400 + 1 - 3600 - 3);
  BOOST_TEST(show(plan.fire_times) ==
                 strings({"2024-12-31T23:59:58Z", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"}),
             boost::test_tools::per_element());
  BOOST_TEST(show(plan.next) == "2025-01-01T00:00:01Z");
}

BOOST_AUTO_TEST_CASE(missed_fires_are_counted_once_per_local_time_across_dst) {
  // The same count as walking next_after one fire at a time, through spring-forward
  // gaps and fall-back repeats in zones with 1-hour and 30-minute shifts.
  const char* zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
                         "UTC"};
  const char* exprs[] = {"0 * * * *",      "*/7 * * * *",     "30 2 * * *", "15,45 1-2 * * *",
                         "0 */20 * * * *", "0 0 1 * *",       "@daily",     "0 30 1 * * SUN",
                         "*/13 2 * * 0,6", "0 0,30 0-3 * * *"};
  for (const char* zone_name : zones) {
    const auto* zone = find_zone(zone_name);
    for (const char* text : exprs) {
      auto expr = cron(text);
      for (auto [from, now] : {std::pair{utc(2024, 3, 1), utc(2024, 4, 20)},
                               std::pair{utc(2024, 9, 25), utc(2024, 11, 10)}}) {
        auto first = expr.next_after(from - seconds{1}, zone);
        BOOST_REQUIRE(first.has_value());
        long long walked = 0;
        for (auto t = first; t && *t <= now; t = expr.next_after(*t, zone)) ++walked;
        auto plan = plan_fires(expr, zone, *first, now, seconds{0}, misfire_policy::skip);
        BOOST_TEST(plan.missed == walked, text << " in " << zone_name << " from " << show(from));
        BOOST_TEST(plan.fire_times.empty());
        BOOST_TEST(show(plan.next) == show(expr.next_after(now, zone)));

        auto all =
            plan_fires(expr, zone, *first, now, seconds{0}, misfire_policy::run_all, 1000000);
        BOOST_TEST(static_cast<long long>(all.fire_times.size()) == walked);
        BOOST_TEST(all.missed == 0);
        BOOST_TEST(std::is_sorted(all.fire_times.begin(), all.fire_times.end()));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(run_once_picks_the_latest_missed_fire_across_fall_back) {
  // New York 2024-11-03, hourly: local 01:00 fires once (05:00Z), then 02:00 EST (07:00Z).
  auto plan = plan_fires(cron("0 * * * *"), find_zone("America/New_York"), utc(2024, 11, 3, 4),
                         utc(2024, 11, 3, 7, 30), minutes{5}, misfire_policy::run_once);
  BOOST_TEST(show(plan.fire_times) == strings{"2024-11-03T07:00:00Z"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.missed == 2);  // 04:00Z and 05:00Z
  BOOST_TEST(show(plan.next) == "2024-11-03T08:00:00Z");
}

BOOST_AUTO_TEST_CASE(a_negative_grace_counts_as_zero) {
  auto plan = plan_fires(cron("0 * * * *"), utc_zone(), utc(2024, 5, 1, 6), utc(2024, 5, 1, 6, 30),
                         seconds{-100}, misfire_policy::skip);
  BOOST_TEST(plan.fire_times.empty());
  BOOST_TEST(plan.missed == 1);
}

BOOST_AUTO_TEST_CASE(an_expression_that_never_fires_again_has_no_next) {
  auto plan = plan_fires(cron("0 0 30 2 *"), utc_zone(), utc(2024, 5, 1), utc(2024, 5, 1),
                         seconds{60}, misfire_policy::run_once);
  BOOST_TEST(plan.fire_times.size() == 1U);
  BOOST_TEST(!plan.next.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
