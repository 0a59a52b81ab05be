#define BOOST_TEST_MODULE health_verdict
#include "domain/health_verdict.hpp"

#include <boost/test/unit_test.hpp>

using namespace orch;

namespace {

/// A single node with every role, all well.
health_facts all_well() {
  health_facts f;
  f.database_reachable = true;
  f.scheduler_alive = true;
  f.is_leader = true;
  f.cluster_leader_alive = true;
  f.workers_alive = true;
  f.local_workers = true;
  f.cluster_workers_up = 1;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_node_whose_checks_all_pass_is_healthy) {
  auto v = judge_health(all_well());
  BOOST_TEST(v.database);
  BOOST_TEST(v.scheduler);
  BOOST_TEST(v.workers);
  BOOST_TEST(v.healthy());
}

BOOST_AUTO_TEST_CASE(an_unreachable_database_makes_the_node_unhealthy) {
  auto f = all_well();
  f.database_reachable = false;
  auto v = judge_health(f);
  BOOST_TEST(!v.database);
  BOOST_TEST(v.scheduler);
  BOOST_TEST(!v.healthy());
}

BOOST_AUTO_TEST_CASE(a_dead_scheduler_fails_the_scheduler_check_even_when_it_led) {
  auto f = all_well();
  f.scheduler_alive = false;
  BOOST_TEST(!judge_health(f).scheduler);
  BOOST_TEST(!judge_health(f).healthy());
}

BOOST_AUTO_TEST_CASE(a_standby_scheduler_is_healthy_while_another_node_leads) {
  auto f = all_well();
  f.is_leader = false;
  BOOST_TEST(judge_health(f).scheduler);
  f.cluster_leader_alive = false;
  BOOST_TEST(!judge_health(f).scheduler);
  BOOST_TEST(!judge_health(f).healthy());
}

BOOST_AUTO_TEST_CASE(a_leader_not_yet_seen_in_the_database_is_still_a_leader) {
  auto f = all_well();
  f.cluster_leader_alive = false;
  BOOST_TEST(judge_health(f).scheduler);
}

BOOST_AUTO_TEST_CASE(a_node_without_workers_is_healthy_while_worker_nodes_are_up) {
  auto f = all_well();
  f.local_workers = false;
  f.cluster_workers_up = 2;
  BOOST_TEST(judge_health(f).workers);
  f.cluster_workers_up = 0;
  BOOST_TEST(!judge_health(f).workers);
  BOOST_TEST(!judge_health(f).healthy());
}

BOOST_AUTO_TEST_CASE(a_dead_local_pool_fails_the_workers_check_even_with_workers_elsewhere) {
  auto f = all_well();
  f.workers_alive = false;
  f.cluster_workers_up = 3;
  BOOST_TEST(!judge_health(f).workers);
}

BOOST_AUTO_TEST_CASE(a_node_with_local_workers_needs_no_worker_node_in_the_database) {
  auto f = all_well();
  f.cluster_workers_up = 0;
  BOOST_TEST(judge_health(f).workers);
}

BOOST_AUTO_TEST_CASE(a_started_node_with_its_database_is_ready) {
  auto v = judge_readiness(true, false, true);
  BOOST_TEST(v.ready);
  BOOST_TEST(v.reason.empty());
}

BOOST_AUTO_TEST_CASE(draining_wins_over_every_other_reason_not_to_be_ready) {
  auto v = judge_readiness(false, true, false);
  BOOST_TEST(!v.ready);
  BOOST_TEST(v.reason == "draining");
}

BOOST_AUTO_TEST_CASE(a_node_still_starting_is_not_ready) {
  auto v = judge_readiness(false, false, false);
  BOOST_TEST(!v.ready);
  BOOST_TEST(v.reason == "starting");
}

BOOST_AUTO_TEST_CASE(a_started_node_without_its_database_is_not_ready) {
  auto v = judge_readiness(true, false, false);
  BOOST_TEST(!v.ready);
  BOOST_TEST(v.reason == "database unreachable");
}
