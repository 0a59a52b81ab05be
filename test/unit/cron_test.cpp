#define BOOST_TEST_MODULE cron
#include "domain/cron.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace {

using orch::cron_expr;
using orch::find_zone;
using orch::sys_seconds;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

/// A UTC instant.
sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_seconds{date::sys_days{date::year{y} / mo / d}} + hours{h} + minutes{mi} + seconds{s};
}

/// A local wall-clock time in `zone` that exists exactly once.
sys_seconds local(const char* zone, int y, unsigned mo, unsigned d, int h, int mi = 0, int s = 0) {
  auto lt = date::local_days{date::year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
  return find_zone(zone)->to_sys(date::local_seconds{lt});
}

std::string show(std::optional<sys_seconds> t) {
  return t ? date::format("%FT%TZ", *t) : std::string("none");
}

cron_expr parse(const std::string& text) {
  auto r = cron_expr::parse(text);
  // The message is built even when the check passes, so read error() only on failure.
  BOOST_REQUIRE_MESSAGE(r.ok(), text << ": " << (r.ok() ? "" : r.error().message));
  return *r;
}

std::string parse_error(const std::string& text) {
  auto r = cron_expr::parse(text);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "'" << text << "' should not parse");
  BOOST_CHECK(r.error().code == orch::errc::validation_failed);
  return r.error().message;
}

/// The next `n` fire times after `from`.
std::vector<std::string> fires(const std::string& text, sys_seconds from, int n,
                               const char* zone = "UTC") {
  auto expr = parse(text);
  const auto* z = find_zone(zone);
  BOOST_REQUIRE(z != nullptr);
  std::vector<std::string> out;
  std::optional<sys_seconds> t = from;
  for (int i = 0; i < n && t; ++i) {
    t = expr.next_after(*t, z);
    out.push_back(show(t));
  }
  return out;
}

using strings = std::vector<std::string>;

void check_fires(const std::string& text, sys_seconds from, const strings& expected,
                 const char* zone = "UTC") {
  auto got = fires(text, from, static_cast<int>(expected.size()), zone);
  BOOST_TEST(got == expected, boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parsing)

BOOST_AUTO_TEST_CASE(an_out_of_range_value_names_the_field_and_the_range) {
  BOOST_TEST(parse_error("61 * * * *") == "minute field: value 61 out of range 0-59");
  BOOST_TEST(parse_error("0 24 * * *") == "hour field: value 24 out of range 0-23");
  BOOST_TEST(parse_error("0 0 0 * *") == "day-of-month field: value 0 out of range 1-31");
  BOOST_TEST(parse_error("0 0 32 * *") == "day-of-month field: value 32 out of range 1-31");
  BOOST_TEST(parse_error("0 0 * 13 *") == "month field: value 13 out of range 1-12");
  BOOST_TEST(parse_error("0 0 * * 8") == "day-of-week field: value 8 out of range 0-7");
  BOOST_TEST(parse_error("60 0 0 * * *") == "second field: value 60 out of range 0-59");
}

BOOST_AUTO_TEST_CASE(empty_and_blank_expressions_are_rejected) {
  BOOST_TEST(parse_error("") == "cron expression is empty");
  BOOST_TEST(parse_error("   \t ") == "cron expression is empty");
}

BOOST_AUTO_TEST_CASE(too_few_or_too_many_fields_are_rejected) {
  BOOST_TEST(parse_error("* * * *").find("got 4") != std::string::npos);
  BOOST_TEST(parse_error("* * * * * * *").find("got 7") != std::string::npos);
  BOOST_TEST(parse_error("*").find("5 fields") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(garbage_is_rejected_with_the_field_named) {
  BOOST_TEST(parse_error("a * * * *") == "minute field: invalid value 'a'");
  BOOST_TEST(parse_error("* ? * * *") == "hour field: invalid value '?'");
  BOOST_TEST(parse_error("* * L * *") == "day-of-month field: invalid value 'L'");
  BOOST_TEST(parse_error("MON * * * *") == "minute field: invalid value 'MON'");
  BOOST_TEST(parse_error("* * * JANUARY *") == "month field: invalid value 'JANUARY'");
  BOOST_TEST(parse_error("* * * * FUN") == "day-of-week field: invalid value 'FUN'");
  BOOST_TEST(parse_error("1,,2 * * * *").find("minute field: empty list item") == 0);
  BOOST_TEST(parse_error("1, * * * *").find("minute field: empty list item") == 0);
  BOOST_TEST(parse_error("1-2-3 * * * *").find("minute field: invalid range") == 0);
  BOOST_TEST(parse_error("-5 * * * *").find("minute field: invalid range") == 0);
  BOOST_TEST(parse_error("*-5 * * * *").find("minute field:") == 0);
  BOOST_TEST(parse_error("1.5 * * * *") == "minute field: invalid value '1.5'");
}

BOOST_AUTO_TEST_CASE(bad_steps_are_rejected) {
  BOOST_TEST(parse_error("*/0 * * * *") == "minute field: step 0 out of range 1-60");
  BOOST_TEST(parse_error("*/61 * * * *") == "minute field: step 61 out of range 1-60");
  BOOST_TEST(parse_error("* */25 * * *") == "hour field: step 25 out of range 1-24");
  BOOST_TEST(parse_error("*/ * * * *").find("minute field: missing step") == 0);
  BOOST_TEST(parse_error("*/x * * * *") == "minute field: invalid step 'x'");
  BOOST_TEST(parse_error("*/-1 * * * *") == "minute field: invalid step '-1'");
  BOOST_TEST(parse_error("* * * * */8") == "day-of-week field: step 8 out of range 1-7");
}

BOOST_AUTO_TEST_CASE(a_backwards_range_is_rejected) {
  BOOST_TEST(parse_error("30-10 * * * *") == "minute field: range '30-10' runs backwards");
  BOOST_TEST(parse_error("* * * DEC-JAN *") == "month field: range 'DEC-JAN' runs backwards");
}

BOOST_AUTO_TEST_CASE(huge_numbers_are_rejected_without_overflow) {
  BOOST_TEST(parse_error("99999999999999999999999 * * * *") ==
             "minute field: value 999999999999... out of range 0-59");
  BOOST_TEST(parse_error("4294967296 * * * *").find("out of range 0-59") != std::string::npos);
  BOOST_TEST(parse_error("*/18446744073709551617 * * * *").find("step") != std::string::npos);
  BOOST_TEST(parse_error("0-99999999999999999999 * * * *").find("out of range") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(overlong_input_is_rejected) {
  std::string text = "0 0 * * " + std::string(300, '1');
  BOOST_TEST(parse_error(text) == "cron expression is longer than 256 characters");
  std::string list = "0";
  while (list.size() < 240) list += ",0";
  BOOST_TEST(cron_expr::parse(list + " * * * *").ok());
}

BOOST_AUTO_TEST_CASE(unknown_macros_and_macros_with_fields_are_rejected) {
  BOOST_TEST(parse_error("@every").find("unknown cron macro '@every'") == 0);
  BOOST_TEST(parse_error("@reboot").find("unknown cron macro") == 0);
  BOOST_TEST(parse_error("@daily 5").find("takes no fields") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_text_and_the_seconds_flag_are_kept) {
  auto five = parse("*/5 * * * *");
  BOOST_TEST(five.text() == "*/5 * * * *");
  BOOST_TEST(!five.has_seconds());
  auto six = parse("0 */5 * * * *");
  BOOST_TEST(six.has_seconds());
  BOOST_TEST(!parse("@hourly").has_seconds());
}

BOOST_AUTO_TEST_CASE(tabs_and_repeated_spaces_separate_fields) {
  check_fires("0\t12  *   * *", utc(2024, 1, 1), {"2024-01-01T12:00:00Z"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(matching)

BOOST_AUTO_TEST_CASE(every_minute_fires_at_the_start_of_each_minute) {
  check_fires("* * * * *", utc(2024, 5, 1, 10, 0, 30),
              {"2024-05-01T10:01:00Z", "2024-05-01T10:02:00Z", "2024-05-01T10:03:00Z"});
}

BOOST_AUTO_TEST_CASE(the_next_fire_is_strictly_after_the_given_time) {
  check_fires("0 12 * * *", utc(2024, 5, 1, 12), {"2024-05-02T12:00:00Z"});
  check_fires("0 12 * * *", utc(2024, 5, 1, 11, 59, 59), {"2024-05-01T12:00:00Z"});
}

BOOST_AUTO_TEST_CASE(every_second_expression_fires_each_second) {
  check_fires("* * * * * *", utc(2024, 12, 31, 23, 59, 58),
              {"2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z"});
}

BOOST_AUTO_TEST_CASE(the_seconds_field_comes_first) {
  check_fires("30 15 10 * * *", utc(2024, 5, 1), {"2024-05-01T10:15:30Z", "2024-05-02T10:15:30Z"});
  check_fires("*/20 * * * * *", utc(2024, 5, 1, 0, 0, 5),
              {"2024-05-01T00:00:20Z", "2024-05-01T00:00:40Z", "2024-05-01T00:01:00Z"});
}

BOOST_AUTO_TEST_CASE(macros_expand_to_their_schedules) {
  auto from = utc(2024, 5, 15, 10, 30);  // a Wednesday
  check_fires("@yearly", from, {"2025-01-01T00:00:00Z"});
  check_fires("@annually", from, {"2025-01-01T00:00:00Z"});
  check_fires("@monthly", from, {"2024-06-01T00:00:00Z"});
  check_fires("@weekly", from, {"2024-05-19T00:00:00Z"});
  check_fires("@daily", from, {"2024-05-16T00:00:00Z"});
  check_fires("@midnight", from, {"2024-05-16T00:00:00Z"});
  check_fires("@hourly", from, {"2024-05-15T11:00:00Z"});
  check_fires("@HOURLY", from, {"2024-05-15T11:00:00Z"});
}

BOOST_AUTO_TEST_CASE(star_steps_start_at_the_field_minimum) {
  check_fires("*/15 * * * *", utc(2024, 5, 1, 10, 7),
              {"2024-05-01T10:15:00Z", "2024-05-01T10:30:00Z", "2024-05-01T10:45:00Z",
               "2024-05-01T11:00:00Z"});
  check_fires("0 0 */10 * *", utc(2024, 5, 1, 1),
              {"2024-05-11T00:00:00Z", "2024-05-21T00:00:00Z", "2024-05-31T00:00:00Z",
               "2024-06-01T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(a_value_with_a_step_runs_from_that_value_to_the_field_maximum) {
  check_fires("5/15 * * * *", utc(2024, 5, 1, 10, 0),
              {"2024-05-01T10:05:00Z", "2024-05-01T10:20:00Z", "2024-05-01T10:35:00Z",
               "2024-05-01T10:50:00Z", "2024-05-01T11:05:00Z"});
  check_fires("0 20/3 * * *", utc(2024, 5, 1),
              {"2024-05-01T20:00:00Z", "2024-05-01T23:00:00Z", "2024-05-02T20:00:00Z"});
}

BOOST_AUTO_TEST_CASE(a_range_with_a_step_takes_every_nth_value_of_the_range) {
  check_fires("1-10/4 * * * *", utc(2024, 5, 1, 10, 0),
              {"2024-05-01T10:01:00Z", "2024-05-01T10:05:00Z", "2024-05-01T10:09:00Z",
               "2024-05-01T11:01:00Z"});
}

BOOST_AUTO_TEST_CASE(lists_combine_values_ranges_and_steps) {
  check_fires("0 1,5-6,*/12 * * *", utc(2024, 5, 1),
              {"2024-05-01T01:00:00Z", "2024-05-01T05:00:00Z", "2024-05-01T06:00:00Z",
               "2024-05-01T12:00:00Z", "2024-05-02T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(month_and_weekday_names_are_case_insensitive) {
  check_fires("0 0 1 jan-Mar,DEC *", utc(2024, 2, 15),
              {"2024-03-01T00:00:00Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"});
  // 2024-05-01 is a Wednesday.
  check_fires("0 9 * * mon-FRI", utc(2024, 5, 3, 10),
              {"2024-05-06T09:00:00Z", "2024-05-07T09:00:00Z"});
  check_fires("0 9 * * sat,Sun", utc(2024, 5, 1),
              {"2024-05-04T09:00:00Z", "2024-05-05T09:00:00Z", "2024-05-11T09:00:00Z"});
}

BOOST_AUTO_TEST_CASE(weekday_7_is_sunday) {
  check_fires("0 0 * * 7", utc(2024, 5, 1), {"2024-05-05T00:00:00Z", "2024-05-12T00:00:00Z"});
  check_fires("0 0 * * 5-7", utc(2024, 5, 1),
              {"2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z", "2024-05-05T00:00:00Z",
               "2024-05-10T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(a_weekday_range_may_end_on_sunday) {
  check_fires("0 0 * * FRI-SUN", utc(2024, 5, 1),
              {"2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z", "2024-05-05T00:00:00Z",
               "2024-05-10T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(day_of_month_or_day_of_week_matches_when_both_are_restricted) {
  // The 13th, and every Friday (2024-09-13 is a Friday itself).
  check_fires("0 0 13 * FRI", utc(2024, 9, 1),
              {"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z",
               "2024-09-27T00:00:00Z", "2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z",
               "2024-10-13T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(a_day_field_starting_with_star_is_anded_with_the_other) {
  // crontab(5): a field starting with `*` is not "restricted", so both must match.
  check_fires("0 0 */2 * MON", utc(2024, 5, 1),
              {"2024-05-13T00:00:00Z", "2024-05-27T00:00:00Z", "2024-06-03T00:00:00Z"});
  check_fires("0 0 1 * *", utc(2024, 5, 1), {"2024-06-01T00:00:00Z"});
  check_fires("0 0 * * MON", utc(2024, 5, 1), {"2024-05-06T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(february_29_fires_only_in_leap_years) {
  check_fires("0 0 29 2 *", utc(2023, 3, 1),
              {"2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"});
  // 2100 is not a leap year.
  check_fires("0 0 29 2 *", utc(2096, 3, 1), {"2104-02-29T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(a_day_that_never_exists_never_fires) {
  BOOST_TEST(!parse("0 0 30 2 *").next_after(utc(2024, 1, 1), find_zone("UTC")));
  BOOST_TEST(!parse("0 0 31 4,6,9,11 *").next_after(utc(2024, 1, 1), find_zone("UTC")));
  BOOST_TEST(!parse("0 0 30 2 *").next_after(utc(2024, 1, 1), find_zone("Europe/Berlin")));
}

BOOST_AUTO_TEST_CASE(the_31st_fires_only_in_long_months) {
  check_fires("0 0 31 * *", utc(2024, 1, 31, 1),
              {"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z",
               "2024-08-31T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(nothing_is_returned_beyond_ten_years) {
  // February 29 on a Sunday: 2004, 2032, 2060 (the day-of-week field starts with `*`).
  auto expr = parse("0 0 29 2 */7");
  const auto* z = find_zone("UTC");
  BOOST_TEST(show(expr.next_after(utc(2025, 1, 1), z)) == "2032-02-29T00:00:00Z");
  BOOST_TEST(show(expr.next_after(utc(2005, 1, 1), z)) == "none");
}

BOOST_AUTO_TEST_CASE(a_sparse_expression_is_found_far_ahead) {
  check_fires("59 59 23 31 12 *", utc(2024, 1, 1), {"2024-12-31T23:59:59Z"});
  // February only: the 29th or any Monday of it.
  check_fires("0 0 29 2 MON", utc(2024, 3, 1), {"2025-02-03T00:00:00Z"});
}

BOOST_AUTO_TEST_CASE(extreme_instants_return_nothing_instead_of_overflowing) {
  auto expr = parse("* * * * *");
  const auto* z = find_zone("Europe/Berlin");
  BOOST_TEST(!expr.next_after(sys_seconds{seconds{253402300799LL * 10}}, z));
  BOOST_TEST(!expr.next_after(sys_seconds{seconds{-253402300799LL * 10}}, z));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(zones)

BOOST_AUTO_TEST_CASE(find_zone_knows_iana_names_and_utc) {
  BOOST_TEST(find_zone("UTC") != nullptr);
  BOOST_TEST(find_zone("Europe/Berlin") != nullptr);
  BOOST_TEST(find_zone("America/New_York") != nullptr);
  BOOST_TEST(find_zone("Australia/Lord_Howe") != nullptr);
}

BOOST_AUTO_TEST_CASE(find_zone_returns_null_for_unknown_names) {
  BOOST_TEST(find_zone("Nowhere/City") == nullptr);
  BOOST_TEST(find_zone("") == nullptr);
  BOOST_TEST(find_zone("../../etc/passwd") == nullptr);
  BOOST_TEST(find_zone(std::string(1000, 'x')) == nullptr);
}

BOOST_AUTO_TEST_CASE(local_times_follow_the_zone_offset_through_the_year) {
  check_fires("0 9 * * *", utc(2024, 1, 10), {"2024-01-10T08:00:00Z"}, "Europe/Berlin");
  check_fires("0 9 * * *", utc(2024, 7, 10), {"2024-07-10T07:00:00Z"}, "Europe/Berlin");
  check_fires("0 9 * * *", utc(2024, 1, 10), {"2024-01-10T14:00:00Z"}, "America/New_York");
  check_fires("0 9 * * *", utc(2024, 7, 10), {"2024-07-10T13:00:00Z"}, "America/New_York");
}

BOOST_AUTO_TEST_CASE(the_day_is_the_local_day) {
  // 23:30 UTC on a Friday is already Saturday in Berlin.
  check_fires("30 0 * * SAT", utc(2024, 5, 3, 12), {"2024-05-03T22:30:00Z"}, "Europe/Berlin");
}

BOOST_AUTO_TEST_CASE(a_time_in_the_spring_forward_gap_is_skipped_that_day) {
  // New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT.
  check_fires("30 2 * * *", utc(2024, 3, 9, 12), {"2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"},
              "America/New_York");
  // Berlin, 2024-03-31: 02:00 CET jumps to 03:00 CEST.
  check_fires("30 2 * * *", utc(2024, 3, 30, 12), {"2024-04-01T00:30:00Z"}, "Europe/Berlin");
}

BOOST_AUTO_TEST_CASE(hourly_fires_skip_the_missing_hour) {
  check_fires("0 * * * *", utc(2024, 3, 10, 5),
              {"2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z", "2024-03-10T08:00:00Z"},
              "America/New_York");
  // 01:59:59 EST is followed by 03:00:00 EDT, one second later.
  check_fires("* * * * * *", local("America/New_York", 2024, 3, 10, 1, 59, 58),
              {"2024-03-10T06:59:59Z", "2024-03-10T07:00:00Z"}, "America/New_York");
}

BOOST_AUTO_TEST_CASE(fall_back_repeated_time_fires_once) {
  // New York, 2024-11-03: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice.
  check_fires("30 1 * * *", utc(2024, 11, 2, 12), {"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"},
              "America/New_York");
}

BOOST_AUTO_TEST_CASE(hourly_fires_once_per_local_hour_during_fall_back) {
  // Local 01:00 occurs at 05:00Z (EDT) and 06:00Z (EST): only the first fires.
  check_fires("0 * * * *", utc(2024, 11, 3, 3, 30),
              {"2024-11-03T04:00:00Z", "2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z",
               "2024-11-03T08:00:00Z"},
              "America/New_York");
  // Berlin, 2024-10-27: local 02:00 occurs at 00:00Z (CEST) and 01:00Z (CET).
  check_fires("0 * * * *", utc(2024, 10, 26, 23, 30),
              {"2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z", "2024-10-27T03:00:00Z"},
              "Europe/Berlin");
}

BOOST_AUTO_TEST_CASE(every_second_fires_once_per_local_second_during_fall_back) {
  check_fires("* * * * * *", utc(2024, 11, 3, 5, 59, 58),
              {"2024-11-03T05:59:59Z", "2024-11-03T07:00:00Z", "2024-11-03T07:00:01Z"},
              "America/New_York");
  // The 25-hour day has exactly one fire per local second.
  auto expr = parse("* * * * * *");
  const auto* z = find_zone("America/New_York");
  auto t = local("America/New_York", 2024, 11, 3, 0) - seconds{1};
  auto end = local("America/New_York", 2024, 11, 4, 0);
  long long n = 0;
  while (true) {
    auto next = expr.next_after(t, z);
    BOOST_REQUIRE(next.has_value());
    BOOST_REQUIRE(*next > t);
    if (*next >= end) break;
    t = *next;
    ++n;
  }
  BOOST_TEST(n == 86400);
}

BOOST_AUTO_TEST_CASE(a_start_inside_the_second_pass_of_the_repeated_hour_waits_for_new_times) {
  // 06:15Z is 01:15 EST, the second pass; 01:20 and 01:40 already fired at 05:20Z, 05:40Z.
  check_fires("*/20 * * * *", utc(2024, 11, 3, 6, 15),
              {"2024-11-03T07:00:00Z", "2024-11-03T07:20:00Z"}, "America/New_York");
  // Inside the first pass the repeated times still come.
  check_fires("*/20 * * * *", utc(2024, 11, 3, 5, 15),
              {"2024-11-03T05:20:00Z", "2024-11-03T05:40:00Z", "2024-11-03T07:00:00Z"},
              "America/New_York");
}

BOOST_AUTO_TEST_CASE(lord_howe_half_hour_gap_is_skipped) {
  // 2024-10-06: 02:00 +10:30 jumps to 02:30 +11; 02:15 does not exist that day.
  check_fires("15 2 * * *", utc(2024, 10, 5, 0), {"2024-10-06T15:15:00Z", "2024-10-07T15:15:00Z"},
              "Australia/Lord_Howe");
  // 02:45 exists (+11).
  check_fires("45 2 * * *", utc(2024, 10, 5, 0), {"2024-10-05T15:45:00Z"}, "Australia/Lord_Howe");
  check_fires("*/15 * * * *", utc(2024, 10, 5, 15, 15),
              {"2024-10-05T15:30:00Z", "2024-10-05T15:45:00Z"}, "Australia/Lord_Howe");
}

BOOST_AUTO_TEST_CASE(lord_howe_half_hour_repeat_fires_once) {
  // 2024-04-07: 02:00 +11 goes back to 01:30 +10:30; 01:45 happens twice.
  check_fires("45 1 * * *", utc(2024, 4, 6, 0), {"2024-04-06T14:45:00Z", "2024-04-07T15:15:00Z"},
              "Australia/Lord_Howe");
  // Every 15 minutes: 01:30 and 01:45 fire in the first pass only, then 02:00 +10:30.
  check_fires("*/15 * * * *", utc(2024, 4, 6, 14, 20),
              {"2024-04-06T14:30:00Z", "2024-04-06T14:45:00Z", "2024-04-06T15:30:00Z",
               "2024-04-06T15:45:00Z"},
              "Australia/Lord_Howe");
}

BOOST_AUTO_TEST_SUITE_END()
