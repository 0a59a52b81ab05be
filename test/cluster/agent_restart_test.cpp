#define BOOST_TEST_MODULE agent_restart
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"

// A cluster agent that crashes is restarted by the node's health supervisor,
// publishes itself again and rejoins. Its peers see the agent stop, not the
// connection drop: the node lives on, so they must not declare it down or
// release its runs.

using namespace orch::test;

BOOST_AUTO_TEST_CASE(a_crashed_agent_is_restarted_and_its_peers_release_nothing) {
  cluster c({{"ORCH_FAULT_INJECTION", "1"}, {"WORKER_CONCURRENCY", "4"}});
  c.start("a");
  c.start("b");
  BOOST_REQUIRE(c.wait_mesh());
  auto a = c.api("a");
  // One attempt: a run released by a peer would fail instead of succeed.
  BOOST_REQUIRE_EQUAL(a.put("/v1/tasks/nap", exec_task({"/bin/sleep", "2"}, 1)).status, 201);
  std::vector<std::string> ids;
  BOOST_REQUIRE(eventually(
      [&] {
        auto r = a.post("/v1/tasks/nap/runs", json::object());
        if (r.status == 201) ids.push_back(r.js()["id"].get<std::string>());
        return c.scalar("SELECT count(*) FROM runs WHERE status = 'running' AND node = 'a'") >= 2;
      },
      20s));

  auto restarts = [&] { return metric_family(a, "orchestrator_actor_restarts_total").value_or(0); };
  double before = restarts();
  BOOST_REQUIRE_EQUAL(a.request("POST", "/v1/debug/crash/cluster").status, 202);
  BOOST_REQUIRE(eventually([&] { return restarts() > before; }, 10s));
  // Published again on the same port: b joins it again.
  BOOST_TEST(eventually([&] { return c.peers("a") == std::optional<double>(1); }, 20s));
  BOOST_TEST(eventually([&] { return c.peers("b") == std::optional<double>(1); }, 20s));

  for (const auto& id : ids) {
    auto run = wait_terminal(a, id, 30s);
    BOOST_TEST(run["status"] == "succeeded", run.dump());
    BOOST_TEST(run["attempt"] == 1, run.dump());
  }
  BOOST_TEST(c.scalar("SELECT count(*) FROM nodes WHERE name = 'a' AND status = 'down'") == 0);
  BOOST_TEST(c["b"].log().find("declared down") == std::string::npos, c["b"].log());
}
