#define BOOST_TEST_MODULE notify
#include <boost/test/unit_test.hpp>
#include <random>

#include "support/harness.hpp"

using namespace orch::test;

// A run inserted by another process (plain SQL here: no message reaches this
// node's dispatcher) can be claimed three ways: on its NOTIFY, by the poll
// fallback (POLL_INTERVAL, set to a minute), or when the worker pool repeats
// its demand, which it does every second and which makes the dispatcher claim.
// So one run claimed within a second proves nothing. Several runs inserted at
// random moments, each claimed within `fast` of its insert, do: without the
// listener each waits for the next demand repeat (half a second on average),
// and the chance that all of them land within `fast` of one is
// (fast / 1 s) ^ runs, about 1.5e-5 here. Runs inserted without a
// notification are timed too, to show what the demand repeat alone gives.

namespace {

constexpr double fast = 0.25;  // seconds
constexpr int notified_runs = 8;
constexpr int silent_runs = 3;

/// Inserts a pending run of task `t` as another process would, with or without
/// the wake-up notification, and returns its id.
long long insert_run(pqxx::connection& pc, bool notify) {
  pqxx::work tx{pc};
  auto id = tx.exec1(
                  "INSERT INTO runs (task, task_version, queue, params, trigger, max_attempts) "
                  "VALUES ('t', 1, 'default', '{}', 'cli', 1) RETURNING id")[0]
                .as<long long>();
  if (notify) tx.exec("SELECT pg_notify('orch_runs', '')");
  tx.commit();
  return id;
}

/// Seconds from a run's insert to its claim, by the database's clock.
double claim_delay(pqxx::connection& pc, long long id) {
  pqxx::work tx{pc};
  return tx
      .exec_params1(
          "SELECT extract(epoch FROM started_at - created_at)::float8 FROM runs "
          "WHERE id = $1",
          id)[0]
      .as<double>();
}

/// Inserts one run at a random moment against the pool's one-second demand
/// repeat, waits for it to succeed and returns its claim delay.
double timed_run(const client& c, pqxx::connection& pc, std::mt19937& rng, bool notify) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1000));
  auto id = insert_run(pc, notify);
  auto run = wait_terminal(c, std::to_string(id), 20s);
  BOOST_REQUIRE_MESSAGE(run["status"] == "succeeded", run.dump());
  BOOST_TEST(run["output"] == "hi\n");
  return claim_delay(pc, id);
}

std::string list(const std::vector<double>& v) {
  std::string out;
  for (double d : v) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(runs_inserted_by_another_process_are_claimed_at_once_on_their_notification) {
  auto db = fresh_database();
  server srv({{"DATABASE_URL", db}, {"POLL_INTERVAL", "1m"}});
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/t", exec_task({"/bin/echo", "hi"})).status, 201);
  pqxx::connection pc{db};
  std::mt19937 rng{std::random_device{}()};

  std::vector<double> notified, silent;
  for (int i = 0; i < notified_runs; ++i) notified.push_back(timed_run(c, pc, rng, true));
  for (int i = 0; i < silent_runs; ++i) silent.push_back(timed_run(c, pc, rng, false));
  BOOST_TEST_MESSAGE("claimed after (s): notified " << list(notified) << "; without notification "
                                                    << list(silent));
  for (double d : notified) {
    BOOST_TEST(d < fast, "a notified run waited "
                             << d << " s for its claim; without notification: " << list(silent));
  }
}
