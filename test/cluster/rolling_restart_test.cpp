#define BOOST_TEST_MODULE rolling_restart
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"
#include "support/load_generator.hpp"

// Guarantee 5 in a cluster: restarting every node in turn with SIGTERM under a
// steady load loses and fails nothing. A draining node finishes what it runs,
// hands back what it holds without using an attempt, and exits 0; the others
// carry on, and the restarted node rejoins and takes work again.

using namespace orch::test;

BOOST_AUTO_TEST_CASE(restarting_every_node_in_turn_under_load_fails_and_loses_no_run) {
  cluster c({{"WORKER_CONCURRENCY", "10"}, {"WORKER_PREFETCH", "4"}, {"SHUTDOWN_GRACE", "15s"}});
  const std::vector<std::string> names = {"n1", "n2", "n3"};
  for (const auto& n : names) c.start(n);
  BOOST_REQUIRE(c.wait_mesh());
  // One attempt only: a graceful restart must not need a retry, so any run that
  // lost its attempt to a restart shows up as failed.
  const int max_attempts = 1;
  BOOST_REQUIRE_EQUAL(
      c.api("n1").put("/v1/tasks/work", exec_task({"/bin/sleep", "0.3"}, max_attempts)).status,
      201);

  // About 30 runs a second, each to the next node that takes it: a 503 or a
  // refused connection is not an acknowledgement, the next node is tried.
  std::vector<std::pair<std::string, client>> targets;
  for (const auto& n : names) targets.emplace_back(n, c.api(n));
  load_generator load(targets, {.task = "work", .period = 33ms, .fail_over = true});
  BOOST_REQUIRE(eventually([&] { return load.acknowledged().size() >= 60; }, 30s));

  long long in_flight_at_drains = 0;
  for (const auto& n : names) {
    auto before = load.acknowledged().size();
    long long in_flight = 0;
    {
      pqxx::work tx{c.db()};
      in_flight = tx.exec_params("SELECT count(*) FROM runs WHERE status = 'running' AND node = $1",
                                 n)[0][0]
                      .as<long long>();
    }
    in_flight_at_drains += in_flight;
    auto t0 = std::chrono::steady_clock::now();
    int code = c.drain(n, 40s);
    auto drained = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST(code == 0, n << " exited with " << code);
    BOOST_TEST_MESSAGE(n << " drained in " << drained << " s with " << in_flight
                         << " run(s) on it at the SIGTERM");

    const double restarted_at = epoch_seconds();
    c.restart(n);
    BOOST_REQUIRE_MESSAGE(c.wait_mesh(), n << " did not rejoin the cluster");
    // It takes work again before the next node goes.
    BOOST_REQUIRE_MESSAGE(
        eventually(
            [&] {
              pqxx::work tx{c.db()};
              return tx.exec_params(
                           "SELECT count(*) FROM runs WHERE node = $1 AND "
                           "status = 'succeeded' AND finished_at > to_timestamp($2)",
                           n, restarted_at)[0][0]
                         .as<long long>() > 0;
            },
            20s),
        n << " executed nothing after its restart");
    BOOST_TEST_MESSAGE(n << " is back after " << load.acknowledged().size() - before
                         << " more acknowledged runs");
  }
  BOOST_REQUIRE(eventually(
      [&, after = load.acknowledged().size()] { return load.acknowledged().size() >= after + 60; },
      30s));
  load.stop();
  BOOST_TEST(in_flight_at_drains > 0, "no drain had a run in flight to finish or hand back");
  auto acked = load.acknowledged();
  BOOST_TEST_MESSAGE(acked.size() << " runs acknowledged, "
                                  << load.unavailable() + load.connection_failures()
                                  << " submissions refused on the way");
  for (const auto& u : load.unexpected()) BOOST_ERROR("unexpected answer: " << u);

  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] {
            return c.scalar("SELECT count(*) FROM runs WHERE status IN ('pending', 'running')") ==
                   0;
          },
          60s),
      "unfinished runs: " << c.scalar(
          "SELECT count(*) FROM runs WHERE status IN ('pending', 'running')"));

  std::map<long long, std::pair<std::string, std::string>> runs;  // status, error code
  std::map<std::string, int> by_node;
  {
    pqxx::work tx{c.db()};
    for (const auto& r :
         tx.exec("SELECT id, status, coalesce(error_code, ''), coalesce(node, '') FROM runs")) {
      runs[r[0].as<long long>()] = {r[1].as<std::string>(), r[2].as<std::string>()};
      ++by_node[r[3].as<std::string>()];
    }
  }
  std::map<std::string, int> by_status;
  for (const auto& id : acked) {
    auto it = runs.find(std::stoll(id));
    if (it == runs.end()) {
      BOOST_ERROR("acknowledged run " << id << " is lost");
      continue;
    }
    ++by_status[it->second.first];
    BOOST_TEST(it->second.first == "succeeded",
               "run " << id << " ended " << it->second.first << " " << it->second.second);
  }
  for (const auto& [status, k] : by_status) BOOST_TEST_MESSAGE(status << ": " << k);
  for (const auto& [node, k] : by_node) BOOST_TEST_MESSAGE("executed on " << node << ": " << k);
  BOOST_TEST(by_status["succeeded"] == static_cast<int>(acked.size()));
  BOOST_TEST(by_status["failed"] == 0);
}
