#define BOOST_TEST_MODULE lost_lease
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"

// A node's death is not the task's failure (design guarantee 4, the run state
// machine's lease_lost event): the runs a dead node held go back to pending
// without using their retry budget, so a task with the default max_attempts 1
// loses none of them; only a run that loses its lease MAX_LOST_LEASES times
// fails, with lease_lost.

using namespace orch::test;

namespace {

constexpr int total_runs = 200;

long long count(cluster& c, const std::string& where) {
  return c.scalar("SELECT count(*) FROM runs WHERE " + where);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_killed_node_holding_200_runs_of_a_one_attempt_task_loses_none_of_them) {
  // The lease (30 s) and heartbeat detection (10 s) are long: the survivor
  // learns of the death through the cluster connection.
  cluster c({{"LEASE_TIMEOUT", "30s"}, {"NODE_TIMEOUT", "10s"}});
  // The victim executes two at a time and holds every other run prefetched.
  c.start("victim", all_roles, {{"WORKER_CONCURRENCY", "2"}, {"WORKER_PREFETCH", "250"}});
  auto api = c.api("victim");
  BOOST_REQUIRE_EQUAL(api.put("/v1/tasks/nap", exec_task({"/bin/sleep", "0.3"}, 1)).status, 201);
  json runs = json::array();
  for (int i = 0; i < total_runs; ++i) runs.push_back({{"task", "nap"}});
  BOOST_REQUIRE_EQUAL(api.post("/v1/runs/batch", {{"runs", runs}}).status, 201);
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return count(c, "status = 'running' AND node = 'victim'") >= 190; }, 30s),
      "the victim did not claim the runs");

  // The survivor joins once everything is claimed, so it finds nothing pending.
  c.start("survivor");
  BOOST_REQUIRE(c.wait_mesh());
  auto held = count(c, "status = 'running' AND node = 'victim'");
  c.kill("victim");
  BOOST_TEST_MESSAGE("killed the victim holding " << held << " runs, 2 of them executing");
  BOOST_REQUIRE_GE(held, 150);

  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return count(c, "status IN ('pending', 'running')") == 0; }, 120s),
      "unfinished: " << count(c, "status IN ('pending', 'running')"));
  BOOST_TEST(count(c, "status = 'succeeded'") == total_runs);
  BOOST_TEST(count(c, "status = 'failed'") == 0);
  // Every run the victim held lost one lease and ran again as a new execution
  // (attempt 2) on the survivor, still within its budget of one attempt.
  BOOST_TEST(count(c, "lost_leases = 1 AND attempt = 2 AND node = 'survivor'") == held);
  BOOST_TEST(count(c, "lost_leases > 1") == 0);

  // The API shows it.
  auto id = c.scalar("SELECT min(id) FROM runs WHERE lost_leases = 1");
  auto run = c.api("survivor").get("/v1/runs/" + std::to_string(id)).js();
  BOOST_TEST(run["status"] == "succeeded");
  BOOST_TEST(run["lost_leases"] == 1);
  BOOST_TEST(run["attempt"] == 2);
  BOOST_TEST(run["max_attempts"] == 1);
}

BOOST_AUTO_TEST_CASE(a_run_that_kills_its_node_every_time_fails_with_lease_lost_at_the_cap) {
  cluster c({{"MAX_LOST_LEASES", "2"}, {"LEASE_TIMEOUT", "30s"}});
  c.start("n1");
  auto api = c.api("n1");
  // The step's parent is the node itself.
  BOOST_REQUIRE_EQUAL(api.put("/v1/tasks/crasher",
                              exec_task({"/bin/sh", "-c", "sleep 2; kill -9 $PPID; sleep 5"}, 5))
                          .status,
                      201);
  auto posted = api.post("/v1/tasks/crasher/runs", json::object());
  BOOST_REQUIRE_EQUAL(posted.status, 201);
  auto id = posted.js()["id"].get<std::string>();

  for (int loss = 1; loss <= 2; ++loss) {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return !c.node("n1").running(); }, 30s),
                          "the run did not take its node down (" << loss << ")");
    c.restart("n1");
    // The new incarnation releases the dead one's lease.
    BOOST_REQUIRE_MESSAGE(
        eventually(
            [&] { return c.scalar("SELECT lost_leases FROM runs WHERE id = " + id) >= loss; }, 30s),
        "lease " << loss << " was not released");
  }
  auto run = wait_terminal(c.api("n1"), id);
  BOOST_TEST(run["status"] == "failed");
  BOOST_TEST(run["error"]["code"] == "lease_lost");
  BOOST_TEST(run["lost_leases"] == 2);
  // The task's retry budget (5) was never touched: no attempt failed on its own.
  BOOST_TEST(count(c, "id = " + id + " AND attempt = 2") == 1);
  BOOST_TEST(c.node("n1").running());
}
