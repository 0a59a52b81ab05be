#define BOOST_TEST_MODULE backoff
#include "domain/backoff.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>

using namespace orch;

namespace {

retry_policy policy(long long initial, long long max, double mult, bool jitter) {
  retry_policy p;
  p.max_attempts = 10;
  p.initial_delay = millis{initial};
  p.max_delay = millis{max};
  p.multiplier = mult;
  p.jitter = jitter;
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(without_jitter_delays_grow_by_the_multiplier) {
  const auto p = policy(1000, 300'000, 2.0, false);
  BOOST_TEST(backoff_delay(p, 1, 0).count() == 1000);
  BOOST_TEST(backoff_delay(p, 2, 0).count() == 2000);
  BOOST_TEST(backoff_delay(p, 3, 0).count() == 4000);
  BOOST_TEST(backoff_delay(p, 5, 0).count() == 16000);
}

BOOST_AUTO_TEST_CASE(delays_are_capped_at_max_delay) {
  const auto p = policy(1000, 10'000, 2.0, false);
  BOOST_TEST(backoff_delay(p, 4, 0).count() == 8000);
  BOOST_TEST(backoff_delay(p, 5, 0).count() == 10'000);
  BOOST_TEST(backoff_delay(p, 50, 0).count() == 10'000);
}

BOOST_AUTO_TEST_CASE(huge_attempts_and_multipliers_saturate_instead_of_overflowing) {
  const auto p = policy(1000, 300'000, 10.0, false);
  BOOST_TEST(backoff_delay(p, 1000, 0).count() == 300'000);
  BOOST_TEST(backoff_delay(p, std::numeric_limits<int>::max(), 0).count() == 300'000);
  const auto huge = policy(1000, std::numeric_limits<long long>::max(), 10.0, false);
  BOOST_TEST(backoff_delay(huge, 1000, 0).count() == std::numeric_limits<long long>::max());
  const auto jittered = policy(1000, 300'000, 10.0, true);
  const auto d = backoff_delay(jittered, 1000, std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(d.count() >= 150'000);
  BOOST_TEST(d.count() <= 300'000);
}

BOOST_AUTO_TEST_CASE(attempts_below_one_count_as_the_first) {
  const auto p = policy(1000, 300'000, 2.0, false);
  BOOST_TEST(backoff_delay(p, 0, 0).count() == 1000);
  BOOST_TEST(backoff_delay(p, -5, 0).count() == 1000);
}

BOOST_AUTO_TEST_CASE(a_multiplier_of_one_gives_a_constant_delay) {
  const auto p = policy(1500, 300'000, 1.0, false);
  for (int a = 1; a < 20; ++a) BOOST_TEST(backoff_delay(p, a, 0).count() == 1500);
}

BOOST_AUTO_TEST_CASE(an_initial_delay_above_the_cap_is_capped) {
  const auto p = policy(60'000, 1000, 2.0, false);
  BOOST_TEST(backoff_delay(p, 1, 0).count() == 1000);
}

BOOST_AUTO_TEST_CASE(zero_delays_stay_zero_with_and_without_jitter) {
  BOOST_TEST(backoff_delay(policy(0, 0, 2.0, false), 3, 7).count() == 0);
  BOOST_TEST(backoff_delay(policy(0, 1000, 2.0, true), 3, 7).count() == 0);
}

BOOST_AUTO_TEST_CASE(jitter_draws_from_the_upper_half_of_the_delay) {
  const auto p = policy(1000, 300'000, 2.0, true);
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const long long full = backoff_delay(policy(1000, 300'000, 2.0, false), attempt, 0).count();
    for (int i = 0; i < 500; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const long long d = backoff_delay(p, attempt, x).count();
      BOOST_TEST_REQUIRE(d >= full / 2);
      BOOST_TEST_REQUIRE(d <= full);
    }
  }
}

BOOST_AUTO_TEST_CASE(jitter_reaches_both_ends_of_its_range) {
  const auto p = policy(1000, 300'000, 2.0, true);
  BOOST_TEST(backoff_delay(p, 1, 0).count() == 500);
  BOOST_TEST(backoff_delay(p, 1, 500).count() == 1000);
  BOOST_TEST(backoff_delay(p, 1, std::numeric_limits<std::uint64_t>::max()).count() >= 500);
}

BOOST_AUTO_TEST_CASE(a_non_finite_multiplier_does_not_break_the_delay) {
  auto p = policy(1000, 60'000, std::numeric_limits<double>::quiet_NaN(), false);
  BOOST_TEST(backoff_delay(p, 5, 0).count() == 1000);
  p.multiplier = std::numeric_limits<double>::infinity();
  BOOST_TEST(backoff_delay(p, 5, 0).count() == 1000);
}
