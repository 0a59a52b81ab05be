#define BOOST_TEST_MODULE pg_db_errors
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "persistence/db.hpp"
#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;

// The HTTP layer maps unavailable to 503, which proxies retry on another
// replica: only failures that certainly wrote nothing may map there.
BOOST_AUTO_TEST_CASE(a_commit_of_unknown_outcome_is_not_a_retryable_unavailable) {
  auto err = p::translate(pqxx::in_doubt_error("connection lost during COMMIT"));
  BOOST_CHECK(err.code == errc::internal);
  BOOST_CHECK_NE(err.message.find("outcome is unknown"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_broken_connection_and_shutdown_states_are_unavailable) {
  BOOST_CHECK(p::translate(pqxx::broken_connection("gone")).code == errc::unavailable);
  BOOST_CHECK(p::translate(pqxx::sql_error("x", "SELECT 1", "08006")).code == errc::unavailable);
  BOOST_CHECK(p::translate(pqxx::sql_error("x", "SELECT 1", "57P01")).code == errc::unavailable);
  BOOST_CHECK(p::translate(pqxx::sql_error("x", "SELECT 1", "53300")).code == errc::unavailable);
}

BOOST_AUTO_TEST_CASE(data_errors_and_duplicates_keep_their_codes) {
  BOOST_CHECK(p::translate(pqxx::sql_error("dup", "INSERT", "23505")).code == errc::conflict);
  BOOST_CHECK(p::translate(pqxx::sql_error("bad", "SELECT", "22P02")).code ==
              errc::validation_failed);
  BOOST_CHECK(p::translate(pqxx::sql_error("syntax", "SELEC", "42601")).code == errc::internal);
}

BOOST_FIXTURE_TEST_CASE(a_backend_killed_under_a_session_is_unavailable_then_reconnects, pg_db) {
  p::session victim(url);
  BOOST_REQUIRE(victim.ping());
  int pid = 0;
  {
    pqxx::nontransaction tx{victim.conn()};
    pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  }
  BOOST_REQUIRE_EQUAL(
      scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)), 1);
  scalar("SELECT count(*) FROM (SELECT pg_terminate_backend(" + std::to_string(pid) + ")) t");
  auto r = victim.autocommit([](pqxx::nontransaction& tx) { return tx.exec("SELECT 1").size(); });
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error().code == errc::unavailable);
  // The session drops the dead connection and the next call gets a new one.
  BOOST_CHECK(victim.ping());
}
