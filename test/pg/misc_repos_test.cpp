#define BOOST_TEST_MODULE pg_misc_repos
#include "persistence/misc_repos.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;
using namespace std::chrono_literals;

BOOST_FIXTURE_TEST_SUITE(logs, pg_db)

BOOST_AUTO_TEST_CASE(appended_lines_are_listed_in_order_and_page_after_a_sequence_number) {
  auto t0 = from_epoch_ms(1893456000123);
  std::vector<p::new_log_line> lines;
  for (int i = 0; i < 5; ++i) {
    lines.push_back({1, 1 + i / 3, t0 + millis(i), i % 2 == 0 ? "stdout" : "stderr",
                     i == 4 ? "" : "main", "line " + std::to_string(i)});
  }
  lines.push_back({2, 1, t0, "stdout", "main", "other run"});
  BOOST_REQUIRE(p::log_repo::append(db, lines).ok());

  auto page1 = must(p::log_repo::list(db, 1, 0, 3));
  BOOST_REQUIRE_EQUAL(page1.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST_CONTEXT("line " << i) {
      BOOST_CHECK_EQUAL(page1[i].line, "line " + std::to_string(i));
      BOOST_CHECK_EQUAL(to_epoch_ms(page1[i].ts), to_epoch_ms(t0) + i);
      BOOST_CHECK_EQUAL(page1[i].stream, i % 2 == 0 ? "stdout" : "stderr");
      BOOST_CHECK(page1[i].step == std::optional<std::string>("main"));
      BOOST_CHECK_EQUAL(page1[i].attempt, 1);
      if (i > 0) BOOST_CHECK_GT(page1[i].seq, page1[i - 1].seq);
    }
  }
  auto page2 = must(p::log_repo::list(db, 1, page1.back().seq, 3));
  BOOST_REQUIRE_EQUAL(page2.size(), 2u);
  BOOST_CHECK_EQUAL(page2[0].line, "line 3");
  BOOST_CHECK_EQUAL(page2[0].attempt, 2);
  BOOST_CHECK_EQUAL(page2[1].line, "line 4");
  BOOST_CHECK(!page2[1].step);  // an empty step name is stored as none
  BOOST_CHECK(must(p::log_repo::list(db, 1, page2.back().seq, 3)).empty());

  auto other = must(p::log_repo::list(db, 2, 0, 100));
  BOOST_REQUIRE_EQUAL(other.size(), 1u);
  BOOST_CHECK_EQUAL(other[0].line, "other run");
}

BOOST_AUTO_TEST_CASE(appending_nothing_is_a_no_op) {
  BOOST_CHECK(p::log_repo::append(db, {}).ok());
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM run_logs"), 0);
}

BOOST_AUTO_TEST_CASE(a_line_with_invalid_utf8_is_stored_instead_of_failing_the_batch) {
  BOOST_REQUIRE(
      p::log_repo::append(db, {{1, 1, now_ms(), "stdout", "", std::string("bad \xff byte")},
                               {1, 1, now_ms(), "stdout", "", "fine"}})
          .ok());
  auto got = must(p::log_repo::list(db, 1, 0, 10));
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_CHECK(got[0].line.rfind("bad ", 0) == 0);
  BOOST_CHECK_EQUAL(got[1].line, "fine");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tokens, pg_db)

BOOST_AUTO_TEST_CASE(create_returns_a_secret_whose_sha256_is_what_is_stored) {
  auto secret = must(p::token_repo::create(db, "ci"));
  BOOST_CHECK(secret.rfind("orch_", 0) == 0);
  BOOST_CHECK_GE(secret.size(), 40u);
  auto stored = scalar<std::string>("SELECT hash FROM api_tokens WHERE name = 'ci'");
  BOOST_CHECK_EQUAL(stored, p::token_hash(secret));
  BOOST_CHECK_EQUAL(stored.size(), 64u);
  BOOST_CHECK_NE(stored, secret);
  // The secret itself appears nowhere in the table.
  BOOST_CHECK_EQUAL(
      scalar("SELECT count(*) FROM api_tokens t WHERE t::text LIKE '%" + secret + "%'"), 0);
  BOOST_CHECK_EQUAL(must(p::token_repo::count(db)), 1);
  auto hashes = must(p::token_repo::hashes(db));
  BOOST_REQUIRE_EQUAL(hashes.size(), 1u);
  BOOST_CHECK_EQUAL(hashes[0], p::token_hash(secret));
}

BOOST_AUTO_TEST_CASE(token_hash_is_the_hex_sha256_of_the_token) {
  BOOST_CHECK_EQUAL(p::token_hash("abc"),
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_CHECK_EQUAL(p::token_hash(""),
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(every_created_token_is_a_different_secret) {
  auto a = must(p::token_repo::create(db, "a"));
  auto b = must(p::token_repo::create(db, "a"));
  BOOST_CHECK_NE(a, b);
  BOOST_CHECK_EQUAL(must(p::token_repo::count(db)), 2);
  auto hashes = must(p::token_repo::hashes(db));
  BOOST_CHECK(std::find(hashes.begin(), hashes.end(), p::token_hash(a)) != hashes.end());
  BOOST_CHECK(std::find(hashes.begin(), hashes.end(), p::token_hash(b)) != hashes.end());
}

BOOST_AUTO_TEST_SUITE_END()

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

BOOST_AUTO_TEST_SUITE_END()
