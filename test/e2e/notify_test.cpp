#define BOOST_TEST_MODULE notify
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"

using namespace orch::test;

// With the poll fallback set to a minute, only LISTEN/NOTIFY can explain a
// run inserted by another process being worked within seconds.
BOOST_AUTO_TEST_CASE(a_run_inserted_by_another_process_is_claimed_on_its_notification) {
  auto db = fresh_database();
  server srv({{"DATABASE_URL", db}, {"POLL_INTERVAL", "1m"}});
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/t", exec_task({"/bin/echo", "hi"})).status, 201);
  // Let the dispatcher's first poll pass, so the next one is a minute away.
  std::this_thread::sleep_for(500ms);
  long long id = 0;
  {
    pqxx::connection pc{db};
    pqxx::work tx{pc};
    id = tx.exec1(
               "INSERT INTO runs (task, task_version, queue, params, trigger, max_attempts) "
               "VALUES ('t', 1, 'default', '{}', 'cli', 1) RETURNING id")[0]
             .as<long long>();
    tx.exec("SELECT pg_notify('orch_runs', '')");
    tx.commit();
  }
  auto run = wait_terminal(c, std::to_string(id), 20s);
  BOOST_TEST(run["status"] == "succeeded");
  BOOST_TEST(run["output"] == "hi\n");
}
