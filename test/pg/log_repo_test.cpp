#define BOOST_TEST_MODULE pg_log_repo
#include "persistence/log_repo.hpp"

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
