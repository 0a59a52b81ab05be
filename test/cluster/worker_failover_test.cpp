#define BOOST_TEST_MODULE worker_failover
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"
#include "support/load_generator.hpp"

// Guarantee 4 in a cluster: when a worker node dies (SIGKILL) its peers notice
// within milliseconds and put its running runs back to pending, which then run
// on the surviving nodes; every acknowledged run still completes, recorded once.

using namespace orch::test;

namespace {

constexpr int total_runs = 2000;

}  // namespace

BOOST_AUTO_TEST_CASE(
    runs_of_a_killed_node_start_again_on_its_peers_within_two_seconds_and_every_run_succeeds_once) {
  // The lease (30 s) and the heartbeat-based down detection (NODE_TIMEOUT, 10 s)
  // are both far longer than the 2 s bound: only the cluster noticing the dead
  // node's connection can meet it.
  cluster c({{"WORKER_CONCURRENCY", "20"},
             {"WORKER_PREFETCH", "4"},
             {"LEASE_TIMEOUT", "30s"},
             {"NODE_TIMEOUT", "10s"}});
  for (std::string n : {"n1", "n2", "n3"}) c.start(n);
  BOOST_REQUIRE(c.wait_mesh());
  // One attempt: the victim's runs must run elsewhere without using it.
  const int max_attempts = 1;
  BOOST_REQUIRE_EQUAL(
      c.api("n1").put("/v1/tasks/nap", exec_task({"/bin/sleep", "0.2"}, max_attempts)).status, 201);

  const std::string victim = "n3";
  auto started = std::chrono::steady_clock::now();
  // `total_runs` runs round robin over the api nodes, about 200 a second so the
  // submissions go on while the node dies: chunks of 20 through
  // POST /v1/runs/batch, every fourth chunk as single submissions.
  load_generator load({{"n1", c.api("n1")}, {"n2", c.api("n2")}, {"n3", c.api("n3")}},
                      {.task = "nap",
                       .period = 100ms,
                       .runs_per_round = 20,
                       .batch = true,
                       .singles_every = 4,
                       .total = total_runs});
  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] { return c.scalar("SELECT count(*) FROM runs WHERE status = 'succeeded'") >= 500; },
          120s),
      "500 runs did not complete");

  // No request to the victim is in flight when it dies, so every run in the
  // database was acknowledged.
  load.exclude(victim);
  std::vector<std::pair<long long, int>> on_victim;  // run id, attempt at the kill
  // The load is below the cluster's capacity, so at a given moment a node may
  // hold nothing: kill it when it holds a handful of runs.
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              on_victim.clear();
                              pqxx::work tx{c.db()};
                              for (const auto& r : tx.exec_params(
                                       "SELECT id, attempt FROM runs WHERE status = 'running' "
                                       "AND node = $1",
                                       victim)) {
                                on_victim.emplace_back(r[0].as<long long>(), r[1].as<int>());
                              }
                              return on_victim.size() >= 5;
                            },
                            60s),
                        victim << " never held 5 running runs");
  const double killed_at = epoch_seconds();
  c.kill(victim);
  BOOST_TEST_MESSAGE("killed " << victim << " with " << on_victim.size() << " runs running on it, "
                               << load.acknowledged().size() << " acknowledged so far");
  BOOST_REQUIRE_GE(on_victim.size(), 5u);
  if (load.done()) BOOST_TEST_MESSAGE("note: every run was submitted before the kill");

  BOOST_REQUIRE(eventually([&] { return load.done(); }, 120s));
  load.stop();
  // No node is sent a request while it dies: every submission is acknowledged.
  for (const auto& r : load.refusals()) BOOST_ERROR("unexpected answer: " << load.describe(r));
  auto acked = load.acknowledged();
  BOOST_REQUIRE_EQUAL(acked.size(), static_cast<std::size_t>(total_runs));

  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] {
            return c.scalar("SELECT count(*) FROM runs WHERE status IN ('pending', 'running')") ==
                   0;
          },
          180s),
      "unfinished runs: " << c.scalar(
          "SELECT count(*) FROM runs WHERE status IN ('pending', 'running')"));
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  BOOST_TEST_MESSAGE(total_runs << " runs done in " << took << " s");

  // Every acknowledged run succeeded, and the database holds exactly those.
  std::set<long long> ids;
  for (const auto& id : acked) ids.insert(std::stoll(id));
  BOOST_TEST(ids.size() == acked.size(), "an id was acknowledged twice");
  BOOST_TEST(c.scalar("SELECT count(*) FROM runs") == static_cast<long long>(total_runs));
  std::map<long long, std::tuple<std::string, int, std::string>> runs;  // status, attempt, node
  {
    pqxx::work tx{c.db()};
    for (const auto& r : tx.exec("SELECT id, status, attempt, coalesce(node, '') FROM runs")) {
      runs[r[0].as<long long>()] = {r[1].as<std::string>(), r[2].as<int>(), r[3].as<std::string>()};
    }
  }
  std::map<std::string, int> by_status;
  for (auto id : ids) {
    auto it = runs.find(id);
    if (it == runs.end()) {
      BOOST_ERROR("acknowledged run " << id << " is lost");
      continue;
    }
    ++by_status[std::get<0>(it->second)];
    BOOST_TEST(std::get<1>(it->second) <= max_attempts + 1, "run " << id);
  }
  for (const auto& [status, n] : by_status) BOOST_TEST_MESSAGE(status << ": " << n);
  BOOST_TEST(by_status["succeeded"] == total_runs);
  // Only the task's own failures use attempts: none here.
  BOOST_TEST(c.scalar("SELECT count(*) FROM runs WHERE attempt - lost_leases > " +
                      std::to_string(max_attempts)) == 0);

  // One completion per attempt: one step row per (run, attempt), none for an
  // attempt the run never reached, and a succeeded run has exactly one set of
  // step rows, for its last attempt.
  pqxx::work tx{c.db()};
  auto sets = tx.exec(
      "SELECT s.run_id, s.attempt, count(*), r.attempt, bool_and(s.status = 'succeeded') "
      "FROM run_steps s JOIN runs r ON r.id = s.run_id GROUP BY s.run_id, s.attempt, r.attempt");
  std::map<long long, int> step_sets;
  for (const auto& row : sets) {
    auto id = row[0].as<long long>();
    auto attempt = row[1].as<int>();
    BOOST_TEST(row[2].as<long long>() == 1, "run " << id << " attempt " << attempt);
    BOOST_TEST(attempt == row[3].as<int>(), "run " << id << " has rows of attempt " << attempt);
    BOOST_TEST(row[4].as<bool>(), "run " << id << " attempt " << attempt);
    ++step_sets[id];
  }
  for (auto id : ids) {
    BOOST_TEST(step_sets[id] == 1, "run " << id << " has " << step_sets[id] << " step sets");
  }

  // The runs running on the victim started their next attempt elsewhere, soon.
  double worst = 0;
  double sum = 0;
  int measured = 0;
  int finished_before_kill = 0;
  for (const auto& [id, attempt] : on_victim) {
    const auto& [status, last_attempt, node] = runs.at(id);
    if (last_attempt == attempt && node == victim) {
      ++finished_before_kill;  // it completed between the query and the kill
      continue;
    }
    BOOST_TEST(status == "succeeded", "run " << id);
    BOOST_TEST(node != victim, "run " << id << " finished on the killed node");
    BOOST_TEST(last_attempt > attempt, "run " << id);
    auto r = tx.exec_params(
        "SELECT extract(epoch FROM min(started_at))::float8 FROM run_steps "
        "WHERE run_id = $1 AND attempt > $2",
        id, attempt);
    if (r[0][0].is_null()) {
      BOOST_ERROR("run " << id << " has no step of a later attempt");
      continue;
    }
    double delay = r[0][0].as<double>() - killed_at;
    worst = std::max(worst, delay);
    sum += delay;
    ++measured;
  }
  BOOST_TEST_MESSAGE(
      measured << " runs of the killed node restarted elsewhere; next attempt's step "
               << "started after max " << worst << " s, mean " << (measured ? sum / measured : 0)
               << " s (" << finished_before_kill << " finished before the kill)");
  BOOST_TEST(measured >= 1);
  BOOST_TEST(worst <= 2.0, "slowest restart " << worst << " s after the kill");
}
