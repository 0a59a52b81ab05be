#define BOOST_TEST_MODULE durability
#include <boost/test/unit_test.hpp>
#include <set>

#include "support/harness.hpp"
#include "support/load_generator.hpp"

// Guarantees 1 and 2: an acknowledged run survives kill -9 of the server at any
// moment; after restarts every run ends terminal, within its attempts, with its
// completion recorded once.

using namespace orch::test;

namespace {

long long scalar(pqxx::connection& conn, const std::string& sql) {
  pqxx::work tx{conn};
  return tx.exec(sql)[0][0].as<long long>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_acknowledged_run_survives_kill_9_at_random_moments_and_completes_once) {
  auto url = fresh_database();
  server srv({{"DATABASE_URL", url},
              {"WORKER_CONCURRENCY", "8"},
              {"LEASE_TIMEOUT", "3s"},
              {"POLL_INTERVAL", "100ms"},
              {"KILL_GRACE", "1s"},
              {"NODE_NAME", "durable"},
              // Up to nine kills: a run may be held by each incarnation.
              {"MAX_LOST_LEASES", "100"}});
  srv.start_ready();
  auto c = srv.http();
  // One attempt: a kill of the node is not the task's failure, so every run
  // must still succeed.
  const int max_attempts = 1;
  auto task = exec_task({"/bin/sh", "-c", "sleep 0.05; echo done"}, max_attempts);
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/work", task).status, 201);

  std::mt19937 rng{std::random_device{}()};
  // About 50 single submissions a second: enough to hit every phase, little
  // enough to drain quickly.
  load_generator load({{"durable", c}}, {.task = "work", .period = 20ms});
  for (int round = 0; round < 6; ++round) {
    // Random moments: mostly while serving, every other round also during startup.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1200));
    srv.kill(SIGKILL);
    BOOST_TEST_MESSAGE("round " << round << ": killed with " << load.acknowledged().size()
                                << " acknowledged");
    if (round % 2 == 1) {
      srv.start();
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
      srv.kill(SIGKILL);
    }
    srv.start_ready();
  }
  std::this_thread::sleep_for(500ms);
  load.stop();
  auto acked = load.acknowledged();
  BOOST_TEST_MESSAGE(acked.size() << " runs acknowledged");
  BOOST_REQUIRE_GT(acked.size(), 50u);
  // A server going down refuses connections or 503s; anything else is a bug.
  for (const auto& u : load.unexpected()) BOOST_ERROR("unexpected answer: " << u);

  pqxx::connection conn{url};
  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] {
            return scalar(conn,
                          "SELECT count(*) FROM runs WHERE status IN "
                          "('pending', 'running')") == 0;
          },
          60s),
      "runs still unfinished: " << scalar(conn,
                                          "SELECT count(*) FROM runs WHERE status IN "
                                          "('pending', 'running')"));

  // Every acknowledged run is there and terminal.
  std::set<long long> ids;
  for (const auto& id : acked) ids.insert(std::stoll(id));
  BOOST_TEST(ids.size() == acked.size(), "an id was acknowledged twice");
  std::map<long long, std::tuple<std::string, int, int>> runs;  // status, attempt, max
  {
    pqxx::work tx{conn};
    // The task's own attempts: executions that ended with a killed node do not count.
    for (const auto& r :
         tx.exec("SELECT id, status, attempt - lost_leases, max_attempts FROM runs")) {
      runs[r[0].as<long long>()] = {r[1].as<std::string>(), r[2].as<int>(), r[3].as<int>()};
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
  }
  for (const auto& [status, n] : by_status) BOOST_TEST_MESSAGE(status << ": " << n);
  BOOST_TEST(by_status["succeeded"] == static_cast<int>(ids.size()));

  // The task's own attempts stay within max_attempts.
  for (const auto& [id, r] : runs) {
    const auto& [status, attempt, max] = r;
    BOOST_TEST(attempt >= 1, "run " << id);
    BOOST_TEST(attempt <= max, "run " << id << " used " << attempt << " of " << max);
  }
  auto retried = scalar(conn, "SELECT count(*) FROM runs WHERE lost_leases > 0");
  BOOST_TEST_MESSAGE(retried << " run(s) lost a lease to a kill and ran again");

  // Step rows: per (run, attempt) exactly one set (the task has one step); only
  // attempts that were recorded have rows, and a completion is recorded once: a
  // succeeded run has exactly one step set, for its final attempt; no run has
  // rows for an attempt it never reached.
  pqxx::work tx{conn};
  auto sets = tx.exec(
      "SELECT s.run_id, s.attempt, count(*), min(s.idx), max(s.idx), r.attempt, r.status, "
      "bool_and(s.status = 'succeeded') FROM run_steps s JOIN runs r ON r.id = s.run_id "
      "GROUP BY s.run_id, s.attempt, r.attempt, r.status");
  std::map<long long, int> step_sets;
  for (const auto& row : sets) {
    auto id = row[0].as<long long>();
    auto attempt = row[1].as<int>();
    BOOST_TEST(row[2].as<long long>() == 1, "run " << id << " attempt " << attempt);
    BOOST_TEST(row[3].as<int>() == 0);
    BOOST_TEST(row[4].as<int>() == 0);
    BOOST_TEST(attempt <= row[5].as<int>(), "run " << id << " has rows of a future attempt");
    if (row[6].as<std::string>() == "succeeded") {
      BOOST_TEST(attempt == row[5].as<int>(), "run " << id << " recorded attempt " << attempt);
      BOOST_TEST(row[7].as<bool>());
    }
    ++step_sets[id];
  }
  for (const auto& [id, r] : runs) {
    if (std::get<0>(r) == "succeeded") {
      BOOST_TEST(step_sets[id] == 1, "run " << id << " has " << step_sets[id] << " step sets");
    }
  }
  auto orphans = tx.exec(
                       "SELECT count(*) FROM run_steps s WHERE NOT EXISTS "
                       "(SELECT 1 FROM runs r WHERE r.id = s.run_id)")[0][0]
                     .as<long long>();
  BOOST_TEST(orphans == 0);
}
