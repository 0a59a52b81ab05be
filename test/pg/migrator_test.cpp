#define BOOST_TEST_MODULE pg_migrator
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "persistence/token_repo.hpp"
#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;

namespace {

/// How many advisory locks any backend of the database holds (0 after migrate).
long long advisory_locks(const std::string& url) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return tx
      .exec(
          "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
          "WHERE l.locktype = 'advisory' AND d.datname = current_database()")[0][0]
      .as<long long>();
}

long long count(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return tx.exec(sql)[0][0].as<long long>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(migrations)

BOOST_FIXTURE_TEST_CASE(every_embedded_migration_is_applied_once_and_a_second_run_applies_none,
                        empty_db) {
  auto all = embedded();
  BOOST_REQUIRE(!all.empty());
  p::session db{url};

  BOOST_CHECK_EQUAL(must(p::migrate(db, all)), static_cast<int>(all.size()));
  BOOST_CHECK_EQUAL(count(url, "SELECT count(*) FROM schema_migrations"),
                    static_cast<long long>(all.size()));
  BOOST_CHECK_EQUAL(count(url,
                          "SELECT count(*) FROM information_schema.tables "
                          "WHERE table_name IN ('runs','tasks','schedules','run_steps')"),
                    4);

  BOOST_CHECK_EQUAL(must(p::migrate(db, all)), 0);
  p::session other{url};
  BOOST_CHECK_EQUAL(must(p::migrate(other, all)), 0);
  BOOST_CHECK_EQUAL(count(url, "SELECT count(*) FROM schema_migrations"),
                    static_cast<long long>(all.size()));
  BOOST_CHECK_EQUAL(advisory_locks(url), 0);
}

BOOST_FIXTURE_TEST_CASE(the_recorded_checksum_and_name_are_those_of_the_file, empty_db) {
  auto all = embedded();
  p::session db{url};
  must(p::migrate(db, all));
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  auto row = tx.exec("SELECT version, name, checksum FROM schema_migrations ORDER BY version")[0];
  BOOST_CHECK_EQUAL(row[0].as<int>(), all.front().version);
  BOOST_CHECK_EQUAL(row[1].as<std::string>(), all.front().name);
  BOOST_CHECK_EQUAL(row[2].as<std::string>(), p::token_hash(all.front().sql));
}

BOOST_FIXTURE_TEST_CASE(a_changed_checksum_is_refused_with_a_conflict_naming_the_migration,
                        empty_db) {
  auto all = embedded();
  p::session db{url};
  must(p::migrate(db, all));
  {
    pqxx::connection c{url};
    pqxx::nontransaction tx{c};
    tx.exec("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
  }
  auto again = p::migrate(db, all);
  expect_error(again, errc::conflict);
  const auto& first = all.front();
  BOOST_CHECK_MESSAGE(again.error().message.find(first.name) != std::string::npos,
                      again.error().message);
  BOOST_CHECK_MESSAGE(again.error().message.find("checksum") != std::string::npos,
                      again.error().message);
  // The refusal releases the migration lock.
  BOOST_CHECK_EQUAL(advisory_locks(url), 0);
}

BOOST_FIXTURE_TEST_CASE(a_migration_edited_in_the_binary_is_refused_too, empty_db) {
  p::session db{url};
  auto v1 = must(p::parse_migrations({{"0001_a.sql", "CREATE TABLE a (x int);"}}));
  must(p::migrate(db, v1));
  auto edited = must(p::parse_migrations({{"0001_a.sql", "CREATE TABLE a (x bigint);"}}));
  auto r = p::migrate(db, edited);
  expect_error(r, errc::conflict);
  BOOST_CHECK_MESSAGE(r.error().message.find("1_a") != std::string::npos, r.error().message);
}

BOOST_FIXTURE_TEST_CASE(a_failing_migration_is_rolled_back_and_not_recorded, empty_db) {
  p::session db{url};
  auto ms = must(p::parse_migrations({{"0001_a.sql", "CREATE TABLE a (x int);"},
                                      {"0002_b.sql", "CREATE TABLE b (x int); SELECT nope;"}}));
  auto r = p::migrate(db, ms);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(count(url, "SELECT count(*) FROM schema_migrations"), 1);
  BOOST_CHECK_EQUAL(count(url,
                          "SELECT count(*) FROM information_schema.tables "
                          "WHERE table_name = 'b'"),
                    0);
  BOOST_CHECK_EQUAL(advisory_locks(url), 0);
  // Fixed, the same session carries on from where it stopped.
  auto fixed = must(p::parse_migrations(
      {{"0001_a.sql", "CREATE TABLE a (x int);"}, {"0002_b.sql", "CREATE TABLE b (x int);"}}));
  BOOST_CHECK_EQUAL(must(p::migrate(db, fixed)), 1);
}

BOOST_AUTO_TEST_CASE(migrations_are_sorted_by_version_whatever_the_input_order) {
  auto ms = must(p::parse_migrations({{"0010_late.sql", "SELECT 10;"},
                                      {"0002_second.sql", "SELECT 2;"},
                                      {"0001_first.sql", "SELECT 1;"}}));
  BOOST_REQUIRE_EQUAL(ms.size(), 3u);
  BOOST_CHECK_EQUAL(ms[0].version, 1);
  BOOST_CHECK_EQUAL(ms[0].name, "first");
  BOOST_CHECK_EQUAL(ms[1].version, 2);
  BOOST_CHECK_EQUAL(ms[2].version, 10);
  BOOST_CHECK_EQUAL(ms[2].name, "late");
  BOOST_CHECK_EQUAL(ms[0].checksum, p::token_hash("SELECT 1;"));
}

BOOST_AUTO_TEST_CASE(a_badly_named_migration_file_is_rejected) {
  for (const char* bad : {"init.sql", "0001-init.sql", "0001_init.txt", "_init.sql", "x001_a.sql",
                          "0001_init", "1234567_too_long.sql"}) {
    auto r = p::parse_migrations({{bad, "SELECT 1;"}});
    BOOST_TEST_CONTEXT("file " << bad) {
      expect_error(r, errc::validation_failed);
      if (!r) BOOST_CHECK(r.error().message.find(bad) != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(two_migration_files_with_the_same_version_are_rejected) {
  auto r = p::parse_migrations({{"0001_a.sql", "SELECT 1;"}, {"001_b.sql", "SELECT 2;"}});
  expect_error(r, errc::validation_failed);
  BOOST_CHECK(r.error().message.find("0001_a.sql") != std::string::npos);
  BOOST_CHECK(r.error().message.find("001_b.sql") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(two_sessions_migrating_at_once_both_succeed_and_apply_each_migration_once,
                        empty_db) {
  // A slow first migration widens the window in which the second session
  // would run it again without the advisory lock.
  auto ms = must(p::parse_migrations(
      {{"0001_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE slow (x int);"},
       {"0002_more.sql", "CREATE TABLE more (x int); INSERT INTO more VALUES (1);"}}));
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      if (round > 0) {
        pqxx::connection c{url};
        pqxx::nontransaction tx{c};
        tx.exec("DROP TABLE IF EXISTS schema_migrations, slow, more");
      }
      std::mutex m;
      std::condition_variable cv;
      int ready = 0;
      std::vector<std::optional<result<int>>> out(2);
      std::vector<std::thread> threads;
      for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&, i] {
          p::session db{url};
          db.conn();  // connect before the start line
          {
            std::unique_lock lk(m);
            ++ready;
            cv.notify_all();
            cv.wait(lk, [&] { return ready == 2; });
          }
          out[i] = p::migrate(db, ms);
        });
      }
      for (auto& t : threads) t.join();
      BOOST_REQUIRE(out[0] && out[1]);
      BOOST_REQUIRE_MESSAGE(out[0]->ok(), "first: " << (*out[0] ? "" : out[0]->error().message));
      BOOST_REQUIRE_MESSAGE(out[1]->ok(), "second: " << (*out[1] ? "" : out[1]->error().message));
      BOOST_CHECK_EQUAL(**out[0] + **out[1], 2);
      BOOST_CHECK_EQUAL(count(url, "SELECT count(*) FROM schema_migrations"), 2);
      BOOST_CHECK_EQUAL(count(url, "SELECT count(*) FROM more"), 1);
      BOOST_CHECK_EQUAL(advisory_locks(url), 0);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
