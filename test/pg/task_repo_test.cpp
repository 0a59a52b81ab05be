#define BOOST_TEST_MODULE pg_task_repo
#include "persistence/task_repo.hpp"

#include <boost/test/unit_test.hpp>
#include <set>
#include <thread>

#include "persistence/schedule_repo.hpp"
#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;

namespace {

schedule_spec schedule_for(const std::string& id, const std::string& task) {
  schedule_spec s;
  s.id = id;
  s.task = task;
  s.cron = "0 * * * *";
  return s;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(task_repo, pg_db)

BOOST_AUTO_TEST_CASE(a_first_put_creates_version_one) {
  auto out = must(p::task_repo::put(db, make_task("fetch")));
  BOOST_CHECK(out.created);
  BOOST_CHECK(out.changed);
  BOOST_CHECK_EQUAL(out.row.name, "fetch");
  BOOST_CHECK_EQUAL(out.row.version, 1);
  BOOST_CHECK(out.row.spec == to_json(make_task("fetch")));
  BOOST_CHECK(out.row.created_at.time_since_epoch().count() > 0);
  auto got = must(p::task_repo::get(db, "fetch"));
  BOOST_CHECK_EQUAL(got.version, 1);
  BOOST_CHECK(got.spec == out.row.spec);
}

BOOST_AUTO_TEST_CASE(an_identical_put_keeps_the_version_and_reports_no_change) {
  must(p::task_repo::put(db, make_task("fetch")));
  auto again = must(p::task_repo::put(db, make_task("fetch")));
  BOOST_CHECK(!again.created);
  BOOST_CHECK(!again.changed);
  BOOST_CHECK_EQUAL(again.row.version, 1);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM tasks WHERE name = 'fetch'"), 1);
}

BOOST_AUTO_TEST_CASE(a_different_put_makes_version_two_and_keeps_version_one) {
  auto v1 = must(p::task_repo::put(db, make_task("fetch")));
  auto changed = make_task("fetch");
  changed.priority = 7;
  changed.description = "now with priority";
  auto v2 = must(p::task_repo::put(db, changed));
  BOOST_CHECK(!v2.created);
  BOOST_CHECK(v2.changed);
  BOOST_CHECK_EQUAL(v2.row.version, 2);
  BOOST_CHECK_EQUAL(v2.row.spec["priority"], 7);
  // The head keeps its creation time; a replacement moves updated_at only.
  BOOST_CHECK(v2.row.created_at == v1.row.created_at);
  BOOST_CHECK(v2.row.updated_at >= v1.row.updated_at);

  BOOST_CHECK_EQUAL(must(p::task_repo::get(db, "fetch")).version, 2);
  auto old = must(p::task_repo::get_version(db, "fetch", 1));
  BOOST_CHECK_EQUAL(old.version, 1);
  BOOST_CHECK_EQUAL(old.spec["priority"], 0);
  expect_error(p::task_repo::get_version(db, "fetch", 3), errc::not_found);
}

BOOST_AUTO_TEST_CASE(create_conflicts_on_an_existing_name) {
  must(p::task_repo::create(db, make_task("fetch")));
  auto again = p::task_repo::create(db, make_task("fetch", 3));
  expect_error(again, errc::conflict);
  BOOST_CHECK_EQUAL(again.error().field, "name");
  BOOST_CHECK_EQUAL(must(p::task_repo::get(db, "fetch")).version, 1);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM tasks"), 1);
}

BOOST_AUTO_TEST_CASE(get_of_an_unknown_task_is_not_found) {
  expect_error(p::task_repo::get(db, "nope"), errc::not_found);
  expect_error(p::task_repo::get_version(db, "nope", 1), errc::not_found);
}

BOOST_AUTO_TEST_CASE(remove_deletes_the_head_and_its_schedules_but_old_versions_stay_readable) {
  must(p::task_repo::put(db, make_task("fetch")));
  must(p::task_repo::put(db, make_task("fetch", 2)));
  must(p::task_repo::put(db, make_task("other")));
  auto now = now_ms();
  must(p::schedule_repo::create(db, schedule_for("s-fetch-1", "fetch"), now));
  must(p::schedule_repo::create(db, schedule_for("s-fetch-2", "fetch"), now));
  must(p::schedule_repo::create(db, schedule_for("s-other", "other"), now));

  auto removed = p::task_repo::remove(db, "fetch");
  BOOST_REQUIRE(removed.ok());
  expect_error(p::task_repo::get(db, "fetch"), errc::not_found);
  expect_error(p::schedule_repo::get(db, "s-fetch-1"), errc::not_found);
  expect_error(p::schedule_repo::get(db, "s-fetch-2"), errc::not_found);
  BOOST_CHECK(p::schedule_repo::get(db, "s-other").ok());
  BOOST_CHECK(p::task_repo::get(db, "other").ok());

  BOOST_CHECK_EQUAL(must(p::task_repo::get_version(db, "fetch", 1)).spec["concurrency"], 0);
  BOOST_CHECK_EQUAL(must(p::task_repo::get_version(db, "fetch", 2)).spec["concurrency"], 2);

  expect_error(p::task_repo::remove(db, "fetch"), errc::not_found);
}

BOOST_AUTO_TEST_CASE(a_task_put_again_after_remove_continues_its_version_numbers) {
  must(p::task_repo::put(db, make_task("fetch")));
  must(p::task_repo::put(db, make_task("fetch", 2)));
  BOOST_REQUIRE(p::task_repo::remove(db, "fetch").ok());
  auto back = must(p::task_repo::put(db, make_task("fetch")));
  BOOST_CHECK(back.created);
  BOOST_CHECK(back.changed);
  // Version 1 still exists and is what old runs point at; the new head is 3.
  BOOST_CHECK_EQUAL(back.row.version, 3);
}

BOOST_AUTO_TEST_CASE(list_pages_by_name_with_a_cursor_and_hides_removed_tasks) {
  for (const char* n : {"delta", "alpha", "echo", "charlie", "bravo", "foxtrot"}) {
    must(p::task_repo::put(db, make_task(n)));
  }
  BOOST_REQUIRE(p::task_repo::remove(db, "foxtrot").ok());
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto page = must(p::task_repo::list(db, 2, cursor));
    if (page.empty()) break;
    BOOST_CHECK_LE(page.size(), 2u);
    for (const auto& t : page) seen.push_back(t.name);
    cursor = page.back().name;
    ++pages;
    BOOST_REQUIRE_LE(pages, 10);
  }
  std::vector<std::string> expected = {"alpha", "bravo", "charlie", "delta", "echo"};
  BOOST_CHECK_EQUAL_COLLECTIONS(seen.begin(), seen.end(), expected.begin(), expected.end());
  BOOST_CHECK_EQUAL(pages, 3);
  BOOST_CHECK(must(p::task_repo::list(db, 10, "echo")).empty());
}

BOOST_AUTO_TEST_CASE(concurrent_puts_of_one_name_get_distinct_versions_without_gaps) {
  constexpr int per_thread = 20;
  std::vector<std::thread> threads;
  std::vector<std::vector<int>> versions(2);
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      p::session s{url};
      for (int i = 0; i < per_thread; ++i) {
        auto spec = make_task("shared");
        spec.description = "writer " + std::to_string(t) + " put " + std::to_string(i);
        auto r = p::task_repo::put(s, spec);
        versions[t].push_back(r ? r->row.version : -1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int> all;
  for (const auto& v : versions) all.insert(v.begin(), v.end());
  BOOST_CHECK_EQUAL(all.size(), 2u * per_thread);
  BOOST_CHECK_EQUAL(*all.begin(), 1);
  BOOST_CHECK_EQUAL(*all.rbegin(), 2 * per_thread);
  BOOST_CHECK_EQUAL(must(p::task_repo::get(db, "shared")).version, 2 * per_thread);
}

BOOST_AUTO_TEST_SUITE_END()
