#define BOOST_TEST_MODULE demand_book
#include "actors/demand_book.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace orch::actors;

namespace {

using book = demand_book<int>;

/// A queue of `due` runs that claims hand out in order, recording each claim.
struct fake_queue {
  int due = 0;
  std::vector<std::pair<std::string, int>> claims;  // owner, how many

  int operator()(const std::string& owner, const book::pool&, int limit) {
    int n = std::min(due, limit);
    due -= n;
    claims.emplace_back(owner, n);
    return n;
  }
};

bool never() {
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(demand_adds_up_until_a_reset_starts_it_over) {
  book b;
  b.add("a/1", "a", 5, false);
  b.add("a/1", "a", 3, false);
  BOOST_TEST(b.pools().at("a/1").demand == 8);
  b.add("a/1", "a", 4, true);
  BOOST_TEST(b.pools().at("a/1").demand == 4);
  BOOST_TEST(b.knows("a/1"));
  BOOST_TEST(!b.knows("b/1"));
}

BOOST_AUTO_TEST_CASE(pools_are_served_in_turn_a_batch_at_a_time) {
  book b;
  b.add("a/1", "a", 250, false);
  b.add("b/1", "b", 250, false);
  fake_queue q{1000, {}};
  b.claim_in_turn(100, std::ref(q), never);
  // Three rounds of one batch each: 100, 100, then 50 each.
  BOOST_REQUIRE_EQUAL(q.claims.size(), 6u);
  for (std::size_t round = 0; round < 3; ++round) {
    BOOST_TEST(q.claims[2 * round].first != q.claims[2 * round + 1].first, "round " << round);
  }
  BOOST_TEST(q.claims[4].second == 50);
  BOOST_TEST(q.claims[5].second == 50);
  BOOST_TEST(b.pools().at("a/1").demand == 0);
  BOOST_TEST(b.pools().at("b/1").demand == 0);
  BOOST_TEST(q.due == 500);
}

BOOST_AUTO_TEST_CASE(a_hungry_pool_does_not_starve_a_small_one) {
  book b;
  b.add("big/1", "big", 10000, false);
  b.add("small/1", "small", 10, false);
  fake_queue q{150, {}};
  b.claim_in_turn(100, std::ref(q), never);
  // The small pool gets its 10 in the first round, whatever the big one wants.
  BOOST_TEST(b.pools().at("small/1").demand == 0);
  BOOST_TEST(b.pools().at("big/1").demand == 10000 - 140);
}

BOOST_AUTO_TEST_CASE(each_round_starts_one_pool_further) {
  book b;
  b.add("a/1", "a", 1, false);
  b.add("b/1", "b", 1, false);
  fake_queue first{1, {}};
  b.claim_in_turn(100, std::ref(first), never);
  BOOST_REQUIRE(!first.claims.empty());
  b.add("a/1", "a", 1, true);
  b.add("b/1", "b", 1, true);
  fake_queue second{1, {}};
  b.claim_in_turn(100, std::ref(second), never);
  BOOST_REQUIRE(!second.claims.empty());
  BOOST_TEST(first.claims.front().first != second.claims.front().first);
}

BOOST_AUTO_TEST_CASE(a_short_claim_ends_the_round_since_the_queue_ran_dry) {
  book b;
  b.add("a/1", "a", 100, false);
  b.add("b/1", "b", 100, false);
  b.add("c/1", "c", 100, false);
  fake_queue q{30, {}};
  b.claim_in_turn(100, std::ref(q), never);
  BOOST_REQUIRE_EQUAL(q.claims.size(), 1u);  // nobody else asks the empty queue
  BOOST_TEST(q.claims[0].second == 30);
}

BOOST_AUTO_TEST_CASE(a_failed_claim_leaves_the_demand_and_ends_the_round) {
  book b;
  b.add("a/1", "a", 10, false);
  b.add("b/1", "b", 10, false);
  int calls = 0;
  b.claim_in_turn(
      100, [&](const std::string&, const book::pool&, int) { return ++calls, 0; }, never);
  BOOST_TEST(calls == 1);
  BOOST_TEST(b.pools().at("a/1").demand == 10);
  BOOST_TEST(b.pools().at("b/1").demand == 10);
}

BOOST_AUTO_TEST_CASE(pools_without_demand_are_not_asked_for_and_stop_ends_everything) {
  book b;
  b.add("a/1", "a", 0, false);
  b.add("b/1", "b", 5, false);
  fake_queue q{100, {}};
  b.claim_in_turn(100, std::ref(q), never);
  BOOST_REQUIRE_EQUAL(q.claims.size(), 1u);
  BOOST_TEST(q.claims[0].first == "b/1");
  b.add("b/1", "b", 5, false);
  fake_queue none{100, {}};
  b.claim_in_turn(100, std::ref(none), [] { return true; });
  BOOST_TEST(none.claims.empty());
}

BOOST_AUTO_TEST_CASE(forgotten_pools_get_nothing_more) {
  book b;
  b.add("a/1", "a", 5, false).local = true;
  b.add("peer/1", "peer", 5, false);
  b.forget_if([](const std::string&, const book::pool& p) { return !p.local && p.node == "peer"; });
  BOOST_TEST(!b.knows("peer/1"));
  BOOST_TEST(b.knows("a/1"));
  fake_queue q{100, {}};
  b.claim_in_turn(100, std::ref(q), never);
  BOOST_REQUIRE_EQUAL(q.claims.size(), 1u);
  BOOST_TEST(q.claims[0].first == "a/1");
}
