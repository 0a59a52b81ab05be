#define BOOST_TEST_MODULE run_state
#include <boost/test/unit_test.hpp>

#include "domain/run.hpp"

using namespace orch;

namespace {

constexpr run_status all[] = {run_status::pending, run_status::running, run_status::succeeded,
                              run_status::failed, run_status::cancelled};

}  // namespace

BOOST_AUTO_TEST_CASE(every_status_has_a_wire_name_that_parses_back) {
  for (auto s : all) {
    const auto back = parse_run_status(to_string(s));
    BOOST_REQUIRE(back);
    BOOST_TEST(static_cast<int>(*back) == static_cast<int>(s));
  }
  BOOST_TEST(to_string(run_status::pending) == "pending");
  BOOST_TEST(to_string(run_status::running) == "running");
  BOOST_TEST(to_string(run_status::succeeded) == "succeeded");
  BOOST_TEST(to_string(run_status::failed) == "failed");
  BOOST_TEST(to_string(run_status::cancelled) == "cancelled");
}

BOOST_AUTO_TEST_CASE(unknown_status_names_do_not_parse) {
  for (auto s : {"", "Pending", "canceled", "done", "running "}) {
    BOOST_TEST(!parse_run_status(s).has_value(), s);
  }
}

BOOST_AUTO_TEST_CASE(only_succeeded_failed_and_cancelled_are_terminal) {
  BOOST_TEST(!is_terminal(run_status::pending));
  BOOST_TEST(!is_terminal(run_status::running));
  BOOST_TEST(is_terminal(run_status::succeeded));
  BOOST_TEST(is_terminal(run_status::failed));
  BOOST_TEST(is_terminal(run_status::cancelled));
}

BOOST_AUTO_TEST_CASE(the_transition_table_is_exactly_the_documented_one) {
  // rows: from, columns: to (pending, running, succeeded, failed, cancelled)
  const bool allowed[5][5] = {
      {false, true, false, true, true},     // pending
      {true, false, true, true, true},      // running
      {false, false, false, false, false},  // succeeded
      {false, false, false, false, false},  // failed
      {false, false, false, false, false},  // cancelled
  };
  for (int f = 0; f < 5; ++f) {
    for (int t = 0; t < 5; ++t) {
      BOOST_TEST(can_transition(all[f], all[t]) == allowed[f][t],
                 to_string(all[f]) << " -> " << to_string(all[t]));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_terminal_run_never_moves_again) {
  for (auto from : all) {
    if (!is_terminal(from)) continue;
    for (auto to : all) BOOST_TEST(!can_transition(from, to));
  }
}
