#define BOOST_TEST_MODULE time
#include "domain/time.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>

using namespace orch;
using namespace std::chrono_literals;

namespace {

sys_ms at(long long ms) {
  return from_epoch_ms(ms);
}

bool rejects_time(std::string_view s) {
  return !parse_rfc3339(s).has_value();
}
bool rejects_duration(std::string_view s) {
  return !parse_duration(s).has_value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_epoch_is_formatted_with_milliseconds_and_z) {
  BOOST_TEST(format_rfc3339(at(0)) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(format_rfc3339(at(1'796'108'400'123)) == "2026-12-01T07:00:00.123Z");
}

BOOST_AUTO_TEST_CASE(instants_before_the_epoch_are_formatted_correctly) {
  BOOST_TEST(format_rfc3339(at(-1)) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(a_utc_time_parses_to_the_same_instant_it_was_formatted_from) {
  for (long long ms : {0LL, 1LL, 951'782'400'000LL, 1'709'164'800'999LL, 253'402'300'799'999LL}) {
    const auto parsed = parse_rfc3339(format_rfc3339(at(ms)));
    BOOST_REQUIRE(parsed);
    BOOST_TEST(to_epoch_ms(*parsed) == ms);
  }
}

BOOST_AUTO_TEST_CASE(offsets_are_applied_to_reach_utc) {
  const auto plus = parse_rfc3339("2026-12-01T09:00:00+02:00");
  const auto minus = parse_rfc3339("2026-12-01T01:30:00-05:30");
  BOOST_REQUIRE(plus);
  BOOST_REQUIRE(minus);
  BOOST_TEST(format_rfc3339(*plus) == "2026-12-01T07:00:00.000Z");
  BOOST_TEST(format_rfc3339(*minus) == "2026-12-01T07:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(lowercase_t_and_z_are_accepted) {
  const auto t = parse_rfc3339("2026-12-01t07:00:00z");
  BOOST_REQUIRE(t);
  BOOST_TEST(format_rfc3339(*t) == "2026-12-01T07:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(fractions_of_any_length_are_truncated_to_milliseconds) {
  BOOST_TEST(format_rfc3339(*parse_rfc3339("2026-12-01T07:00:00.5Z")) ==
             "2026-12-01T07:00:00.500Z");
  BOOST_TEST(format_rfc3339(*parse_rfc3339("2026-12-01T07:00:00.123999999Z")) ==
             "2026-12-01T07:00:00.123Z");
  BOOST_TEST(format_rfc3339(*parse_rfc3339("2026-12-01T07:00:00.000000000000000001Z")) ==
             "2026-12-01T07:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(a_leap_day_is_valid_only_in_leap_years) {
  BOOST_TEST(parse_rfc3339("2024-02-29T00:00:00Z").has_value());
  BOOST_TEST(parse_rfc3339("2000-02-29T00:00:00Z").has_value());
  BOOST_TEST(rejects_time("2026-02-29T00:00:00Z"));
  BOOST_TEST(rejects_time("1900-02-29T00:00:00Z"));
}

BOOST_AUTO_TEST_CASE(out_of_range_fields_are_rejected) {
  BOOST_TEST(rejects_time("2026-13-01T00:00:00Z"));
  BOOST_TEST(rejects_time("2026-00-01T00:00:00Z"));
  BOOST_TEST(rejects_time("2026-04-31T00:00:00Z"));
  BOOST_TEST(rejects_time("2026-01-00T00:00:00Z"));
  BOOST_TEST(rejects_time("2026-01-01T24:00:00Z"));
  BOOST_TEST(rejects_time("2026-01-01T00:60:00Z"));
  BOOST_TEST(rejects_time("2026-01-01T00:00:60Z"));
  BOOST_TEST(rejects_time("2026-01-01T00:00:00+24:00"));
  BOOST_TEST(rejects_time("2026-01-01T00:00:00+01:60"));
}

BOOST_AUTO_TEST_CASE(garbage_and_trailing_junk_are_rejected) {
  for (auto s : {"", "now", "2026", "2026-01-01", "2026-01-01T00:00:00", "2026-1-01T00:00:00Z",
                 "2026-01-01 00:00:00Z", "2026-01-01T00:00:00ZZ", "2026-01-01T00:00:00Z ",
                 " 2026-01-01T00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100",
                 "2026-01-01T00:00:00+01", "2026-01-01T00:00:00+01:00x", "+2026-01-01T00:00:00Z",
                 "2026-01-01T0a:00:00Z", "2026-01-01T00:00:00.12a3Z"}) {
    BOOST_TEST(rejects_time(s), "accepted: " << s);
  }
}

BOOST_AUTO_TEST_CASE(now_is_close_to_the_system_clock) {
  const auto before = std::chrono::system_clock::now();
  const auto t = now_ms();
  BOOST_TEST(std::chrono::abs(t - before).count() < 5000 * 1000 * 1000LL);
}

BOOST_AUTO_TEST_CASE(single_unit_durations_parse) {
  BOOST_TEST(parse_duration("250ms")->count() == 250);
  BOOST_TEST(parse_duration("30s")->count() == 30'000);
  BOOST_TEST(parse_duration("5m")->count() == 300'000);
  BOOST_TEST(parse_duration("2h")->count() == 7'200'000);
  BOOST_TEST(parse_duration("1d")->count() == 86'400'000);
  BOOST_TEST(parse_duration("0s")->count() == 0);
}

BOOST_AUTO_TEST_CASE(sequences_of_units_add_up) {
  BOOST_TEST(parse_duration("1h30m")->count() == 5'400'000);
  BOOST_TEST(parse_duration("1m30s500ms")->count() == 90'500);
  BOOST_TEST(parse_duration("1d2h3m4s5ms")->count() == 93'784'005);
}

BOOST_AUTO_TEST_CASE(malformed_durations_are_rejected) {
  for (auto s : {"", "5", "-5s", "+5s", "5x", "5S", "1.5h", "s", "ms", "5 s", " 5s", "5s ", "1h1h",
                 "30s1h", "1m1d", "5mss", "1h-30m", "0x10s", "1e3ms"}) {
    BOOST_TEST(rejects_duration(s), "accepted: " << s);
  }
}

BOOST_AUTO_TEST_CASE(durations_beyond_one_hundred_years_are_rejected_without_overflow) {
  BOOST_TEST(parse_duration("36525d").has_value());
  BOOST_TEST(rejects_duration("36526d"));
  BOOST_TEST(rejects_duration("876601h"));
  BOOST_TEST(rejects_duration("99999999999999999999999999ms"));
  BOOST_TEST(rejects_duration("9223372036854775807s"));
  BOOST_TEST(rejects_duration("36525d1ms"));
}

BOOST_AUTO_TEST_CASE(durations_are_formatted_in_their_shortest_exact_form) {
  BOOST_TEST(format_duration(0ms) == "0s");
  BOOST_TEST(format_duration(250ms) == "250ms");
  BOOST_TEST(format_duration(30s) == "30s");
  BOOST_TEST(format_duration(90min) == "1h30m");
  BOOST_TEST(format_duration(24h) == "1d");
  BOOST_TEST(format_duration(1500ms) == "1s500ms");
  BOOST_TEST(format_duration(millis{93'784'005}) == "1d2h3m4s5ms");
}

BOOST_AUTO_TEST_CASE(formatted_durations_parse_back_to_the_same_value) {
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const millis d{static_cast<long long>(x % (36525ULL * 86'400'000ULL))};
    const auto back = parse_duration(format_duration(d));
    BOOST_REQUIRE(back);
    BOOST_TEST(back->count() == d.count());
  }
}

BOOST_AUTO_TEST_CASE(negative_durations_format_with_a_sign_and_do_not_overflow) {
  BOOST_TEST(format_duration(-1500ms) == "-1s500ms");
  BOOST_TEST(!format_duration(millis::min()).empty());
}
