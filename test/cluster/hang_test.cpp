#define BOOST_TEST_MODULE hang
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"

// A hung node (SIGSTOP: its process is frozen but its sockets stay open) is
// found out by the cluster heartbeat, the node heartbeat or its leases, within
// the lease timeout: its runs start again elsewhere. When it wakes up, the
// results it computed for those runs are fenced out and counted as stale, and
// it rejoins the cluster and gets work again.

using namespace orch::test;

namespace {

/// Runs of `task` submitted through `c`, as ids.
std::vector<long long> submit(const client& c, const std::string& task, int n) {
  json runs = json::array();
  for (int i = 0; i < n; ++i) runs.push_back({{"task", task}, {"params", json::object()}});
  auto r = c.post("/v1/runs/batch", {{"runs", runs}});
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  std::vector<long long> ids;
  auto body = r.js();
  for (const auto& run : body["items"]) ids.push_back(std::stoll(run["id"].get<std::string>()));
  return ids;
}

std::string id_list(const std::vector<long long>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return "{" + s + "}";
}

}  // namespace

BOOST_AUTO_TEST_CASE(
    runs_of_a_hung_node_restart_elsewhere_within_the_lease_and_its_late_results_are_discarded) {
  cluster c({{"LEASE_TIMEOUT", "3s"},
             {"CLUSTER_TIMEOUT", "1s"},
             {"CLUSTER_HEARTBEAT", "250ms"},
             {"NODE_TIMEOUT", "3s"},
             {"WORKER_CONCURRENCY", "4"},
             {"WORKER_PREFETCH", "1"}});
  // X starts alone, so the runs land on it; the first attempt lasts long enough
  // to outlive the start of the other nodes and the hang, later ones are short.
  c.start("x");
  auto x = c.api("x");
  const int first_attempt_seconds = 6;
  BOOST_REQUIRE_EQUAL(
      x.put("/v1/tasks/slow",
            exec_task({"/bin/sh", "-c",
                       "if [ \"$ORCH_ATTEMPT\" = 1 ]; then exec sleep " +
                           std::to_string(first_attempt_seconds) + "; else exec sleep 1; fi"},
                      1))
          .status,
      201);
  BOOST_REQUIRE_EQUAL(x.put("/v1/tasks/quick", exec_task({"/bin/sleep", "1"}, 1)).status, 201);
  auto victims = submit(x, "slow", 4);
  const auto ids = id_list(victims);
  auto running_on_x = [&] {
    pqxx::work tx{c.db()};
    return tx
        .exec_params(
            "SELECT count(*) FROM runs WHERE id = ANY($1::bigint[]) AND "
            "status = 'running' AND node = 'x' AND attempt = 1",
            ids)[0][0]
        .as<long long>();
  };
  BOOST_REQUIRE(eventually([&] { return running_on_x() == 4; }, 15s));
  // The first attempts' processes end before this (they started earlier).
  const double first_attempts_end = epoch_seconds() + first_attempt_seconds;

  c.start("y");
  c.start("z");
  BOOST_REQUIRE(c.wait_mesh());
  BOOST_REQUIRE_MESSAGE(running_on_x() == 4, "the first attempts ended before the hang");

  const double stopped_at = epoch_seconds();
  c.hang("x");

  // Until every run is on a later attempt on another node.
  bool seen_down = false;
  auto watch_x = [&] {
    auto s = c.statuses_via("y");
    if (s.count("x") && s["x"] == "down") seen_down = true;
  };
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              watch_x();
                              pqxx::work tx{c.db()};
                              return tx.exec_params(
                                           "SELECT count(*) FROM runs WHERE id = ANY($1::bigint[]) "
                                           "AND attempt > 1 AND node <> 'x' AND "
                                           "status IN ('running', 'succeeded')",
                                           ids)[0][0]
                                         .as<long long>() == 4;
                            },
                            20s),
                        "the hung node's runs did not move");
  BOOST_TEST_MESSAGE("runs moved after " << epoch_seconds() - stopped_at << " s (observed)");

  // X stays frozen past its lease and until its first attempts' processes have
  // exited, so that everything it reports on waking up is late. This waits for
  // time to pass, not for a condition; meanwhile Y's view of X is watched.
  const double resume_after = std::max(stopped_at + 3.0 + 1.0, first_attempts_end + 0.5);
  while (epoch_seconds() < resume_after) {
    watch_x();
    std::this_thread::sleep_for(50ms);
  }
  BOOST_TEST(seen_down, "y never listed the hung node as down");
  c.resume("x");
  const double resumed_at = epoch_seconds();
  BOOST_TEST_MESSAGE("x was stopped for " << resumed_at - stopped_at << " s");

  // Its late completions were rejected by the fence and counted.
  BOOST_TEST(eventually(
                 [&] {
                   return metric_family(x, "orchestrator_stale_completions_total").value_or(0) >= 1;
                 },
                 20s),
             "stale completions on x: "
                 << metric_family(x, "orchestrator_stale_completions_total").value_or(-1));

  for (auto id : victims) {
    auto run = wait_terminal(x, std::to_string(id), 30s);
    BOOST_TEST(run["status"] == "succeeded", "run " << id << ": " << run.dump());
    BOOST_TEST(run["node"] != "x", "run " << id);
  }
  double worst = 0;
  {
    pqxx::work tx{c.db()};
    for (auto id : victims) {
      auto rows = tx.exec_params(
          "SELECT attempt, status, extract(epoch FROM started_at)::float8 FROM run_steps "
          "WHERE run_id = $1 ORDER BY attempt",
          id);
      int succeeded = 0;
      for (const auto& r : rows) {
        BOOST_TEST(r[0].as<int>() > 1, "run " << id << ": x's late result was recorded");
        if (r[1].as<std::string>() == "succeeded") ++succeeded;
      }
      BOOST_TEST(succeeded == 1, "run " << id << " has " << succeeded << " succeeded attempts");
      if (!rows.empty()) worst = std::max(worst, rows[0][2].as<double>() - stopped_at);
    }
  }
  BOOST_TEST_MESSAGE("the next attempts started at most " << worst << " s after the hang");
  BOOST_TEST(worst <= 3.5, "lease 3 s + 0.5 s slack, took " << worst << " s");

  // X rejoins: up again in every view, peered, and executing new runs.
  BOOST_TEST(c.wait_listed_up("y", {"x", "y", "z"}));
  BOOST_TEST(c.wait_listed_up("x", {"x", "y", "z"}));
  BOOST_TEST(c.wait_mesh());
  bool x_works = false;
  for (int round = 0; round < 3 && !x_works; ++round) {
    // 12 runs of 1 s; a node holds at most 4 running + 1 prefetched, so y and
    // z together take at most 10 (WORKER_PREFETCH=0 would mean the default, 64).
    auto fresh = submit(c.api("y"), "quick", 12);
    for (auto id : fresh) {
      auto run = wait_terminal(c.api("y"), std::to_string(id), 30s);
      BOOST_TEST(run["status"] == "succeeded", run.dump());
      if (run["node"] == "x") x_works = true;
    }
  }
  BOOST_TEST(x_works, "x executed none of the new runs");
}
