#define BOOST_TEST_MODULE secret
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"

// The middleman has no authentication of its own: a node must prove it knows
// CLUSTER_SECRET before it becomes a peer. A node with the wrong secret is
// refused, counted, never a peer, and can obtain no work; a node with the right
// secret joins and works.

using namespace orch::test;

BOOST_AUTO_TEST_CASE(a_worker_node_with_the_wrong_secret_is_refused_and_gets_no_work) {
  cluster c;
  // A dispatches but does not execute: runs can only run on worker nodes.
  c.start("a", "api,scheduler,dispatcher");
  auto a = c.api("a");
  BOOST_REQUIRE_MESSAGE(c.wait_peers("a", 0), "a exports no orchestrator_cluster_peers gauge");
  BOOST_REQUIRE_EQUAL(a.put("/v1/tasks/hello", exec_task({"/bin/echo", "hello"}, 1)).status, 201);

  // Whether a refused node still writes its heartbeat row is not the point:
  // launched without waiting for it to be "up"; its refusal is what is awaited.
  c.add("b", "worker", {{"CLUSTER_SECRET", "a-wrong-secret-of-enough-length"}});
  c.launch("b");
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return c["a"].log().find("refused") != std::string::npos; }, 20s),
      "a never logged a refusal; b's log:\n"
          << c["b"].log());
  BOOST_TEST(
      eventually(
          [&] { return metric_family(a, "orchestrator_cluster_rejected_total").value_or(0) >= 1; },
          10s),
      "orchestrator_cluster_rejected_total on a: "
          << metric_family(a, "orchestrator_cluster_rejected_total").value_or(-1));
  BOOST_TEST((c.peers("a") == std::optional<double>(0)));

  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = a.post("/v1/tasks/hello/runs", json::object());
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
    ids.push_back(r.js()["id"].get<std::string>());
  }
  // Waiting for something not to happen: b is up and has been refused; a
  // dispatcher offers work within a poll interval (100 ms) of a submission and
  // b heartbeats every 250 ms, so 3 s is many chances for b to get a run had it
  // been accepted anywhere. Every run must stay pending, never claimed.
  auto claimed = [&] {
    pqxx::work tx{c.db()};
    return tx
        .exec(
            "SELECT count(*) FROM runs WHERE status <> 'pending' OR attempt > 0 OR "
            "node IS NOT NULL")[0][0]
        .as<long long>();
  };
  BOOST_TEST(!eventually([&] { return claimed() > 0; }, 3s),
             "a run was claimed although no authenticated worker exists");
  if (!c["b"].running()) BOOST_TEST_MESSAGE("note: the refused node b has exited");
  BOOST_TEST((c.peers("a") == std::optional<double>(0)), "b became a peer");

  // A worker with the right secret joins and gets the runs.
  c.start("c", "worker");
  BOOST_TEST(c.wait_peers("a", 1), "c did not become a's peer");
  for (const auto& id : ids) {
    auto run = wait_terminal(a, id, 30s);
    BOOST_TEST(run["status"] == "succeeded", run.dump());
    BOOST_TEST(run["node"] == "c", run.dump());
  }
  BOOST_TEST((c.peers("a") == std::optional<double>(1)), "b became a peer after all");
}
