#define BOOST_TEST_MODULE run_state
#include <boost/test/unit_test.hpp>
#include <ostream>

#include "domain/run.hpp"

using namespace orch;

namespace orch {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, run_status s) {
  return os << to_string(s);
}
}  // namespace orch

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
      {false, true, false, false, true},    // pending
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

namespace {

run_transition must_apply(run_status s, run_event e, run_counters c, int cap = 3) {
  c.max_lost_leases = cap;
  auto t = next_state(s, e, c);
  BOOST_REQUIRE_MESSAGE(t.has_value(), to_string(s) << " + " << to_string(e) << " must apply");
  return *t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_claim_starts_a_pending_run_and_counts_an_execution) {
  auto t = must_apply(run_status::pending, run_event::claim, {0, 1, 0, false});
  BOOST_TEST(t.next == run_status::running);
  BOOST_TEST(t.attempt_delta == 1);
  BOOST_TEST(!t.finished);
  BOOST_TEST(!next_state(run_status::running, run_event::claim, {1, 1, 0, false}));
}

BOOST_AUTO_TEST_CASE(a_failed_attempt_is_retried_while_the_budget_lasts) {
  BOOST_TEST(must_apply(run_status::running, run_event::fail, {1, 2, 0, false}).next ==
             run_status::pending);
  auto last = must_apply(run_status::running, run_event::fail, {2, 2, 0, false});
  BOOST_TEST(last.next == run_status::failed);
  BOOST_TEST(last.finished);
  BOOST_TEST(last.error_code.empty());  // the attempt's own error stays
}

BOOST_AUTO_TEST_CASE(a_lost_lease_goes_back_to_pending_without_using_the_retry_budget) {
  // max_attempts 1, the first execution died with its node.
  auto t = must_apply(run_status::running, run_event::lease_lost, {1, 1, 0, false});
  BOOST_TEST(t.next == run_status::pending);
  BOOST_TEST(t.lost_lease_delta == 1);
  BOOST_TEST(t.attempt_delta == 0);  // attempts stay unique: every execution is fenced apart
  BOOST_TEST(t.error_code == "lease_lost");
  BOOST_TEST(!t.finished);
  // The next execution is still the task's first attempt: a failure of its
  // own ends the run, a success ends it well.
  run_counters after{2, 1, 1, false};
  BOOST_TEST(attempts_used(after) == 1);
  BOOST_TEST(must_apply(run_status::running, run_event::fail, after).next == run_status::failed);
  BOOST_TEST(must_apply(run_status::running, run_event::succeed, after).next ==
             run_status::succeeded);
}

BOOST_AUTO_TEST_CASE(a_retry_after_lost_leases_counts_only_the_tasks_own_failures) {
  // Three executions: two lost with their nodes, one failed on its own.
  BOOST_TEST(must_apply(run_status::running, run_event::fail, {3, 2, 2, false}).next ==
             run_status::pending);
  BOOST_TEST(must_apply(run_status::running, run_event::fail, {4, 2, 2, false}).next ==
             run_status::failed);
}

BOOST_AUTO_TEST_CASE(a_run_that_loses_its_lease_every_time_fails_at_the_cap) {
  auto second = must_apply(run_status::running, run_event::lease_lost, {2, 5, 1, false}, 3);
  BOOST_TEST(second.next == run_status::pending);
  auto third = must_apply(run_status::running, run_event::lease_lost, {3, 5, 2, false}, 3);
  BOOST_TEST(third.next == run_status::failed);
  BOOST_TEST(third.finished);
  BOOST_TEST(third.lost_lease_delta == 1);
  BOOST_TEST(third.error_code == "lease_lost");
  // A cap of 1 fails at the first loss.
  BOOST_TEST(must_apply(run_status::running, run_event::lease_lost, {1, 5, 0, false}, 1).next ==
             run_status::failed);
}

BOOST_AUTO_TEST_CASE(a_requested_cancel_wins_over_every_way_back_to_pending) {
  for (auto e : {run_event::fail, run_event::release, run_event::lease_lost}) {
    auto t = must_apply(run_status::running, e, {1, 3, 0, true});
    BOOST_TEST(t.next == run_status::cancelled, to_string(e));
    BOOST_TEST(t.finished, to_string(e));
    BOOST_TEST(t.error_code == "cancelled", to_string(e));
  }
  // A success that raced the cancel stands.
  BOOST_TEST(must_apply(run_status::running, run_event::succeed, {1, 3, 0, true}).next ==
             run_status::succeeded);
}

BOOST_AUTO_TEST_CASE(a_release_gives_the_attempt_back) {
  auto t = must_apply(run_status::running, run_event::release, {1, 1, 0, false});
  BOOST_TEST(t.next == run_status::pending);
  BOOST_TEST(t.attempt_delta == -1);
  BOOST_TEST(t.lost_lease_delta == 0);
}

BOOST_AUTO_TEST_CASE(a_cancel_ends_a_pending_run_and_flags_a_running_one) {
  auto p = must_apply(run_status::pending, run_event::cancel, {0, 1, 0, false});
  BOOST_TEST(p.next == run_status::cancelled);
  BOOST_TEST(p.finished);
  BOOST_TEST(p.cancel_requested);
  auto r = must_apply(run_status::running, run_event::cancel, {1, 1, 0, false});
  BOOST_TEST(r.next == run_status::running);
  BOOST_TEST(!r.finished);
  BOOST_TEST(r.cancel_requested);
  BOOST_TEST(must_apply(run_status::running, run_event::stop, {1, 1, 0, true}).next ==
             run_status::cancelled);
}

BOOST_AUTO_TEST_CASE(only_a_running_run_has_an_attempt_to_end) {
  for (auto e : {run_event::succeed, run_event::fail, run_event::stop, run_event::release,
                 run_event::lease_lost}) {
    BOOST_TEST(!next_state(run_status::pending, e, {0, 1, 0, false}), to_string(e));
  }
}

BOOST_AUTO_TEST_CASE(no_event_moves_a_finished_run) {
  for (auto s : all_run_statuses) {
    if (!is_terminal(s)) continue;
    for (auto e : all_run_events) {
      BOOST_TEST(!next_state(s, e, {1, 1, 0, true}), to_string(s) << " + " << to_string(e));
    }
  }
}
