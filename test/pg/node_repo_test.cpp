#define BOOST_TEST_MODULE pg_node_repo
#include "persistence/node_repo.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;
using namespace std::chrono_literals;

BOOST_FIXTURE_TEST_SUITE(nodes, pg_db)

BOOST_AUTO_TEST_CASE(heartbeat_upserts_the_nodes_row) {
  p::node_row n;
  n.name = "node-a";
  n.incarnation = "inc-1";
  n.roles = {"api", "worker"};
  n.started_at = from_epoch_ms(1893456000000);
  n.capacity = 8;
  n.active = 1;
  n.status = "up";
  BOOST_REQUIRE(p::node_repo::heartbeat(db, n).ok());
  n.incarnation = "inc-2";
  n.roles = {"scheduler", "with \"quote\""};
  n.active = 5;
  n.status = "draining";
  BOOST_REQUIRE(p::node_repo::heartbeat(db, n).ok());

  auto rows = must(p::node_repo::list(db, 30s));
  BOOST_REQUIRE_EQUAL(rows.size(), 1u);
  const auto& r = rows[0];
  BOOST_CHECK_EQUAL(r.name, "node-a");
  BOOST_CHECK_EQUAL(r.incarnation, "inc-2");
  std::vector<std::string> roles = {"scheduler", "with \"quote\""};
  BOOST_CHECK_EQUAL_COLLECTIONS(r.roles.begin(), r.roles.end(), roles.begin(), roles.end());
  BOOST_CHECK_EQUAL(to_epoch_ms(r.started_at), 1893456000000);
  BOOST_CHECK_EQUAL(r.capacity, 8);
  BOOST_CHECK_EQUAL(r.active, 5);
  BOOST_CHECK_EQUAL(r.status, "draining");
  BOOST_CHECK(r.last_seen > now_ms() - 10s);
}

BOOST_AUTO_TEST_CASE(list_reports_nodes_not_seen_for_a_while_as_down) {
  for (const char* name : {"alive", "stale"}) {
    p::node_row n;
    n.name = name;
    n.incarnation = "1";
    n.roles = {"worker"};
    n.started_at = now_ms();
    n.status = "up";
    BOOST_REQUIRE(p::node_repo::heartbeat(db, n).ok());
  }
  sql("UPDATE nodes SET last_seen = now() - interval '1 minute' WHERE name = 'stale'");
  auto rows = must(p::node_repo::list(db, 15s));
  BOOST_REQUIRE_EQUAL(rows.size(), 2u);
  BOOST_CHECK_EQUAL(rows[0].name, "alive");
  BOOST_CHECK_EQUAL(rows[0].status, "up");
  BOOST_CHECK_EQUAL(rows[1].name, "stale");
  BOOST_CHECK_EQUAL(rows[1].status, "down");
  // A longer threshold counts it as up again; list does not change the row.
  BOOST_CHECK_EQUAL(must(p::node_repo::list(db, 5min))[1].status, "up");
  // A heartbeat brings it back.
  p::node_row back;
  back.name = "stale";
  back.incarnation = "2";
  back.roles = {"worker"};
  back.started_at = now_ms();
  back.status = "up";
  BOOST_REQUIRE(p::node_repo::heartbeat(db, back).ok());
  BOOST_CHECK_EQUAL(must(p::node_repo::list(db, 15s))[1].status, "up");
}

// A node cut off from its peers keeps its session and its heartbeat; a dead
// one loses its session at once, a frozen one its heartbeat.
BOOST_AUTO_TEST_CASE(presence_is_the_heartbeat_session_holding_its_lock_and_a_fresh_row) {
  p::node_row n;
  n.name = "node-p";
  n.incarnation = "inc-1";
  n.roles = {"worker"};
  n.started_at = now_ms();
  n.status = "up";
  auto beating = open();
  BOOST_REQUIRE(p::node_repo::heartbeat(*beating, n).ok());
  BOOST_REQUIRE(p::node_repo::heartbeat(*beating, n).ok());
  BOOST_CHECK_EQUAL(
      scalar<long long>("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND objsubid = 2 AND granted AND database = (SELECT oid FROM "
                        "pg_database WHERE datname = current_database())"),
      1);
  auto seen = must(p::node_repo::presence_of(db, "node-p", "inc-1", 2500ms));
  BOOST_CHECK(seen.session_open);
  BOOST_CHECK(seen.beating);

  // Another incarnation, or another node, is not vouched for by this session.
  auto other = must(p::node_repo::presence_of(db, "node-p", "inc-0", 2500ms));
  BOOST_CHECK(!other.session_open);
  BOOST_CHECK(!other.beating);
  BOOST_CHECK(!must(p::node_repo::presence_of(db, "node-q", "inc-1", 2500ms)).session_open);

  // Heartbeats stopped (a frozen process): the session stays, the row ages.
  sql("UPDATE nodes SET last_seen = now() - interval '3 seconds' WHERE name = 'node-p'");
  seen = must(p::node_repo::presence_of(db, "node-p", "inc-1", 2500ms));
  BOOST_CHECK(seen.session_open);
  BOOST_CHECK(!seen.beating);
  BOOST_CHECK(must(p::node_repo::presence_of(db, "node-p", "inc-1", 5s)).beating);

  // The process died: its connection closed, the lock went with it.
  beating.reset();
  // The server ends the session just after the client hangs up: polled.
  bool released = false;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !released && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms)) {
    released = !must(p::node_repo::presence_of(db, "node-p", "inc-1", 5s)).session_open;
  }
  BOOST_CHECK(released);
}

BOOST_AUTO_TEST_SUITE_END()
