#define BOOST_TEST_MODULE pool_ledger
#include "actors/pool_ledger.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>

using namespace orch::actors;
using clock_type = pool_ledger::clock;
using namespace std::chrono_literals;

namespace {

run_assignment run(long long id) {
  run_assignment a;
  a.run_id = id;
  a.attempt = 1;
  return a;
}

const auto t0 = clock_type::time_point{} + 1000h;
auto in(std::chrono::seconds s) {
  return [s](const run_assignment&) { return t0 + s; };
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_new_pool_asks_for_its_whole_window_once) {
  pool_ledger l(2, 8);
  BOOST_TEST(l.window() == 10);
  BOOST_TEST(l.demand(false) == 10);
  BOOST_TEST(l.outstanding() == 10);
  BOOST_TEST(l.demand(false) == 0);  // all of it is on its way
}

BOOST_AUTO_TEST_CASE(a_forced_demand_asks_again_for_credit_that_may_have_been_lost) {
  pool_ledger l(2, 8);
  BOOST_TEST(l.demand(false) == 10);
  BOOST_TEST(l.demand(true) == 10);
  BOOST_TEST(l.outstanding() == 10);
}

BOOST_AUTO_TEST_CASE(arrivals_answer_outstanding_credit_and_never_below_zero) {
  pool_ledger l(2, 8);
  l.demand(false);
  l.received(4);
  BOOST_TEST(l.outstanding() == 6);
  l.received(100);
  BOOST_TEST(l.outstanding() == 0);
}

BOOST_AUTO_TEST_CASE(small_top_ups_wait_for_a_quarter_of_the_window_while_runs_are_queued) {
  pool_ledger l(1, 7);  // window 8, a quarter is 2
  l.demand(false);
  l.received(8);
  for (int i = 0; i < 8; ++i) l.enqueue(run(i));
  l.add_worker(1);
  auto started = l.dispatch(in(60s));
  BOOST_REQUIRE_EQUAL(started.size(), 1u);
  BOOST_TEST(l.finished(1));
  // One slot free, seven queued: too small to ask for.
  BOOST_TEST(l.demand(false) == 0);
  l.dispatch(in(60s));
  BOOST_TEST(l.finished(1));
  BOOST_TEST(l.demand(false) == 2);
}

BOOST_AUTO_TEST_CASE(an_empty_queue_asks_for_any_free_slot) {
  pool_ledger l(1, 7);
  l.demand(false);
  l.received(8);  // one run came for the whole window: the queue ran dry
  l.add_worker(1);
  l.enqueue(run(1));
  l.dispatch(in(60s));
  // 7 free (1 busy), nothing queued: ask at once, even though 7 of 8 are free.
  BOOST_TEST(l.demand(false) == 7);
}

BOOST_AUTO_TEST_CASE(idle_workers_take_queued_runs_in_order_and_come_back) {
  pool_ledger l(2, 0);
  l.add_worker(1);
  l.add_worker(2);
  l.add_worker(2);  // known already: not idle twice
  for (int i = 1; i <= 3; ++i) l.enqueue(run(i));
  auto started = l.dispatch(in(60s));
  BOOST_REQUIRE_EQUAL(started.size(), 2u);
  BOOST_TEST(started[0].first == 1u);
  BOOST_TEST(started[0].second.run_id == 1);
  BOOST_TEST(started[1].first == 2u);
  BOOST_TEST(started[1].second.run_id == 2);
  BOOST_TEST(l.busy() == 2u);
  BOOST_TEST(l.held() == 3);
  BOOST_TEST(!l.finished(7));  // not a worker of this pool
  BOOST_TEST(l.finished(2));
  auto next = l.dispatch(in(60s));
  BOOST_REQUIRE_EQUAL(next.size(), 1u);
  BOOST_TEST(next[0].first == 2u);
  BOOST_TEST(next[0].second.run_id == 3);
}

BOOST_AUTO_TEST_CASE(a_worker_that_dies_gives_back_the_run_it_held) {
  pool_ledger l(2, 0);
  l.add_worker(1);
  l.add_worker(2);
  l.enqueue(run(5));
  l.dispatch(in(60s));
  auto lost = l.remove_worker(1);
  BOOST_REQUIRE(lost.has_value());
  BOOST_TEST(lost->run_id == 5);
  BOOST_TEST(l.busy() == 0u);
  BOOST_TEST(!l.remove_worker(2).has_value());  // it was idle
  BOOST_TEST(!l.remove_worker(2).has_value());  // and is gone now
  l.enqueue(run(6));
  BOOST_TEST(l.dispatch(in(60s)).empty());  // no worker left
}

BOOST_AUTO_TEST_CASE(a_worker_past_its_deadline_is_stuck_and_forgotten) {
  pool_ledger l(2, 0);
  l.add_worker(1);
  l.add_worker(2);
  l.enqueue(run(1));
  l.dispatch(in(10s));
  l.enqueue(run(2));
  l.dispatch(in(100s));
  BOOST_TEST(l.take_stuck(t0 + 10s).empty());  // at the deadline is not past it
  auto stuck = l.take_stuck(t0 + 11s);
  BOOST_REQUIRE_EQUAL(stuck.size(), 1u);
  BOOST_TEST(stuck[0].first == 1u);
  BOOST_TEST(stuck[0].second.run_id == 1);
  BOOST_TEST(l.busy() == 1u);
  // When the abandoned worker returns, it is not taken back.
  BOOST_TEST(!l.finished(1));
  BOOST_TEST(!l.remove_worker(1).has_value());
}

BOOST_AUTO_TEST_CASE(lost_leases_drop_queued_runs_and_name_running_ones_to_stop) {
  pool_ledger l(1, 4);
  l.add_worker(1);
  for (int i = 1; i <= 4; ++i) l.enqueue(run(i));
  l.dispatch(in(60s));  // run 1 executes
  auto lost = l.lose({1, 3, 4, 99});
  BOOST_TEST(lost.dropped == 2u);
  BOOST_TEST(lost.to_stop == std::vector<long long>{1});
  BOOST_REQUIRE_EQUAL(l.queued().size(), 1u);
  BOOST_TEST(l.queued().front().run_id == 2);
  auto ids = l.held_ids();
  std::sort(ids.begin(), ids.end());
  BOOST_TEST(ids == (std::vector<long long>{1, 2}));
}

BOOST_AUTO_TEST_CASE(a_cancel_takes_a_queued_run_out) {
  pool_ledger l(1, 4);
  l.enqueue(run(1));
  l.enqueue(run(2));
  auto taken = l.take_queued(2);
  BOOST_REQUIRE(taken.has_value());
  BOOST_TEST(taken->run_id == 2);
  BOOST_TEST(!l.take_queued(2).has_value());
  BOOST_TEST(l.held() == 1);
}

BOOST_AUTO_TEST_CASE(a_draining_pool_returns_its_queue_and_asks_for_nothing) {
  pool_ledger l(1, 4);
  l.add_worker(1);
  for (int i = 1; i <= 3; ++i) l.enqueue(run(i));
  l.dispatch(in(60s));
  auto back = l.drain();
  BOOST_TEST(back.size() == 2u);
  BOOST_TEST(l.draining());
  BOOST_TEST(l.queued().empty());
  BOOST_TEST(l.demand(true) == 0);
  BOOST_TEST(l.busy() == 1u);  // the running one finishes in its grace period
}
