#define BOOST_TEST_MODULE restart_policy
#include "domain/restart_policy.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>

using namespace orch;
using namespace std::chrono_literals;

namespace {

const sys_ms t0 = from_epoch_ms(1'700'000'000'000);

}  // namespace

BOOST_AUTO_TEST_CASE(the_first_restart_waits_the_initial_backoff) {
  restart_policy p(5, 60s, 100ms, 10s);
  const auto d = p.on_failure(t0);
  BOOST_REQUIRE(d);
  BOOST_TEST(d->count() == 100);
  BOOST_TEST(p.recent() == 1);
}

BOOST_AUTO_TEST_CASE(backoff_doubles_with_each_restart_up_to_the_maximum) {
  restart_policy p(10, 60s, 100ms, 1s);
  const long long expected[] = {100, 200, 400, 800, 1000, 1000};
  for (int i = 0; i < 6; ++i) {
    const auto d = p.on_failure(t0 + millis{i * 10});
    BOOST_REQUIRE(d);
    BOOST_TEST(d->count() == expected[i]);
  }
}

BOOST_AUTO_TEST_CASE(more_than_max_restarts_within_the_window_escalates) {
  restart_policy p(3, 60s, 100ms, 10s);
  BOOST_TEST(p.on_failure(t0).has_value());
  BOOST_TEST(p.on_failure(t0 + 1s).has_value());
  BOOST_TEST(p.on_failure(t0 + 2s).has_value());
  BOOST_TEST(!p.on_failure(t0 + 3s).has_value());
}

BOOST_AUTO_TEST_CASE(failures_older_than_the_window_are_forgotten) {
  restart_policy p(3, 60s, 100ms, 10s);
  BOOST_TEST(p.on_failure(t0).has_value());
  BOOST_TEST(p.on_failure(t0 + 30s).has_value());
  BOOST_TEST(p.on_failure(t0 + 50s).has_value());
  // The first failure has left the window, so this is the third within it.
  BOOST_TEST(p.on_failure(t0 + 61s).has_value());
  BOOST_TEST(p.recent() == 3);
  BOOST_TEST(!p.on_failure(t0 + 62s).has_value());
}

BOOST_AUTO_TEST_CASE(backoff_resets_after_a_quiet_window) {
  restart_policy p(10, 60s, 100ms, 10s);
  p.on_failure(t0);
  p.on_failure(t0 + 1s);
  BOOST_TEST(p.on_failure(t0 + 2s)->count() == 400);
  const auto later = p.on_failure(t0 + 2s + 60s);
  BOOST_REQUIRE(later);
  BOOST_TEST(later->count() == 100);
  BOOST_TEST(p.recent() == 1);
}

BOOST_AUTO_TEST_CASE(zero_allowed_restarts_escalates_at_once) {
  restart_policy p(0, 60s, 100ms, 10s);
  BOOST_TEST(!p.on_failure(t0).has_value());
}

BOOST_AUTO_TEST_CASE(a_child_that_keeps_failing_does_not_grow_memory) {
  restart_policy p(3, 3600s, 100ms, 10s);
  for (int i = 0; i < 10000; ++i) p.on_failure(t0 + millis{i});
  BOOST_TEST(p.recent() <= 4);
  BOOST_TEST(!p.on_failure(t0 + 20s).has_value());
}

BOOST_AUTO_TEST_CASE(a_maximum_below_the_initial_backoff_does_not_shrink_the_delay) {
  restart_policy p(5, 60s, 2s, 1s);
  BOOST_TEST(p.on_failure(t0)->count() == 2000);
  BOOST_TEST(p.on_failure(t0 + 1ms)->count() == 2000);
}
