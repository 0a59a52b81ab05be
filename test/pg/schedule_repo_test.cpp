#define BOOST_TEST_MODULE pg_schedule_repo
#include "persistence/schedule_repo.hpp"

#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "persistence/run_repo.hpp"
#include "persistence/task_repo.hpp"
#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;
using namespace std::chrono_literals;

namespace {

/// A UTC instant.
sys_ms utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  auto day =
      std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{mo} / std::chrono::day{d}};
  return std::chrono::time_point_cast<millis>(day + std::chrono::hours(h) +
                                              std::chrono::minutes(mi) + std::chrono::seconds(s));
}

std::string iso(sys_ms t) {
  return format_rfc3339(t);
}

schedule_spec every(const std::string& cron, const std::string& id = "",
                    const std::string& task = "fetch") {
  schedule_spec s;
  s.id = id;
  s.task = task;
  s.cron = cron;
  return s;
}

constexpr auto grace = std::chrono::seconds(60);
// Leader keys for these tests; the real scheduler uses its own.
constexpr long long leader_key = 0x7465737401LL;

struct schedules_db : pg_db {
  schedules_db() {
    auto t = make_task("fetch", 2, 4);
    t.params = {{"a", 1}, {"b", 1}};
    t.retry.max_attempts = 3;
    t.queue = "q2";
    must(p::task_repo::put(db, t));
  }
  std::vector<p::fire_result> fire(sys_ms now, std::optional<long long> key = std::nullopt) {
    return must(p::schedule_repo::fire_due(db, now, grace, 100, key));
  }
  long long runs_of(const std::string& schedule) {
    return scalar("SELECT count(*) FROM runs WHERE schedule_id = '" + schedule + "'");
  }
  std::optional<sys_ms> next_fire(const std::string& id) {
    return must(p::schedule_repo::get(db, id)).next_fire_at;
  }
  void set_next_fire(const std::string& id, sys_ms t) {
    sql("UPDATE schedules SET next_fire_at = '" + iso(t) + "' WHERE id = '" + id + "'");
  }
};

const p::fire_result* result_for(const std::vector<p::fire_result>& results,
                                 const std::string& id) {
  for (const auto& r : results) {
    if (r.schedule_id == id) return &r;
  }
  return nullptr;
}

/// The result for `id`; fails the test when there is none.
const p::fire_result& fired(const std::vector<p::fire_result>& results, const std::string& id) {
  const auto* r = result_for(results, id);
  if (r == nullptr) BOOST_FAIL("no fire result for schedule " << id);
  return *r;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(definitions, schedules_db)

BOOST_AUTO_TEST_CASE(create_assigns_an_id_and_the_next_fire_time) {
  auto now = utc(2030, 1, 10, 10, 15);
  auto row = must(p::schedule_repo::create(db, every("0 * * * *"), now));
  BOOST_CHECK(row.spec.id.rfind("sch_", 0) == 0);
  BOOST_CHECK(row.spec.enabled);
  BOOST_REQUIRE(row.next_fire_at);
  BOOST_CHECK_EQUAL(iso(*row.next_fire_at), iso(utc(2030, 1, 10, 11, 0)));
  BOOST_CHECK(!row.last_fired_at);
  auto got = must(p::schedule_repo::get(db, row.spec.id));
  BOOST_CHECK(to_json(got) == to_json(row));

  auto other = must(p::schedule_repo::create(db, every("0 * * * *"), now));
  BOOST_CHECK_NE(other.spec.id, row.spec.id);
}

BOOST_AUTO_TEST_CASE(the_next_fire_time_follows_the_schedules_time_zone) {
  auto spec = every("0 9 * * *", "berlin-morning");
  spec.timezone = "Europe/Berlin";
  auto row = must(p::schedule_repo::create(db, spec, utc(2030, 1, 10, 10, 15)));
  BOOST_REQUIRE(row.next_fire_at);
  // 09:00 in Berlin in winter is 08:00 UTC; today's has passed.
  BOOST_CHECK_EQUAL(iso(*row.next_fire_at), iso(utc(2030, 1, 11, 8, 0)));
}

BOOST_AUTO_TEST_CASE(create_refuses_a_taken_id_and_an_unknown_task) {
  auto now = utc(2030, 1, 10);
  must(p::schedule_repo::create(db, every("0 * * * *", "hourly"), now));
  auto dup = p::schedule_repo::create(db, every("5 * * * *", "hourly"), now);
  expect_error(dup, errc::conflict);
  BOOST_CHECK_EQUAL(must(p::schedule_repo::get(db, "hourly")).spec.cron, "0 * * * *");
  auto unknown = p::schedule_repo::create(db, every("0 * * * *", "x", "no-such-task"), now);
  expect_error(unknown, errc::not_found);
  BOOST_CHECK_EQUAL(unknown.error().field, "task");
  expect_error(p::schedule_repo::get(db, "x"), errc::not_found);
}

BOOST_AUTO_TEST_CASE(put_upserts_and_keeps_next_fire_when_the_timing_is_unchanged) {
  auto first =
      must(p::schedule_repo::put(db, every("0 * * * *", "hourly"), utc(2030, 1, 10, 10, 15)));
  BOOST_CHECK(first.second);
  BOOST_CHECK_EQUAL(iso(*first.first.next_fire_at), iso(utc(2030, 1, 10, 11)));

  // Re-applied later with other params: same timing, so the pending 11:00 fire stays.
  auto spec = every("0 * * * *", "hourly");
  spec.params = {{"b", 5}};
  auto second = must(p::schedule_repo::put(db, spec, utc(2030, 1, 10, 11, 30)));
  BOOST_CHECK(!second.second);
  BOOST_CHECK(second.first.spec.params == spec.params);
  BOOST_CHECK_EQUAL(iso(*second.first.next_fire_at), iso(utc(2030, 1, 10, 11)));

  // A new cron is a new timing: next fire recomputed from now.
  auto third =
      must(p::schedule_repo::put(db, every("30 * * * *", "hourly"), utc(2030, 1, 10, 11, 40)));
  BOOST_CHECK(!third.second);
  BOOST_CHECK_EQUAL(iso(*third.first.next_fire_at), iso(utc(2030, 1, 10, 12, 30)));
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM schedules"), 1);
}

BOOST_AUTO_TEST_CASE(pause_clears_the_next_fire_and_resume_recomputes_it) {
  must(p::schedule_repo::create(db, every("0 * * * *", "hourly"), utc(2030, 1, 10, 10, 15)));
  auto paused = must(p::schedule_repo::set_enabled(db, "hourly", false, utc(2030, 1, 10, 10, 20)));
  BOOST_CHECK(!paused.spec.enabled);
  BOOST_CHECK(!paused.next_fire_at);
  BOOST_CHECK(!must(p::schedule_repo::next_due(db)));
  BOOST_CHECK(fire(utc(2030, 1, 12)).empty());
  BOOST_CHECK_EQUAL(runs_of("hourly"), 0);

  auto resumed = must(p::schedule_repo::set_enabled(db, "hourly", true, utc(2030, 1, 12, 7, 5)));
  BOOST_CHECK(resumed.spec.enabled);
  BOOST_REQUIRE(resumed.next_fire_at);
  BOOST_CHECK_EQUAL(iso(*resumed.next_fire_at), iso(utc(2030, 1, 12, 8)));
  expect_error(p::schedule_repo::set_enabled(db, "nope", true, utc(2030, 1, 12)), errc::not_found);
}

BOOST_AUTO_TEST_CASE(next_due_is_the_earliest_next_fire_of_enabled_schedules) {
  auto now = utc(2030, 1, 10, 10, 15);
  must(p::schedule_repo::create(db, every("0 * * * *", "hourly"), now));
  must(p::schedule_repo::create(db, every("20 10 * * *", "daily"), now));
  auto due = must(p::schedule_repo::next_due(db));
  BOOST_REQUIRE(due);
  BOOST_CHECK_EQUAL(iso(*due), iso(utc(2030, 1, 10, 10, 20)));
  must(p::schedule_repo::set_enabled(db, "daily", false, now));
  BOOST_CHECK_EQUAL(iso(*must(p::schedule_repo::next_due(db))), iso(utc(2030, 1, 10, 11)));
}

BOOST_AUTO_TEST_CASE(list_pages_by_id_and_remove_deletes) {
  auto now = utc(2030, 1, 10);
  for (const char* id : {"c", "a", "b"})
    must(p::schedule_repo::create(db, every("0 * * * *", id), now));
  auto page1 = must(p::schedule_repo::list(db, 2, ""));
  BOOST_REQUIRE_EQUAL(page1.size(), 2u);
  BOOST_CHECK_EQUAL(page1[0].spec.id, "a");
  BOOST_CHECK_EQUAL(page1[1].spec.id, "b");
  auto page2 = must(p::schedule_repo::list(db, 2, "b"));
  BOOST_REQUIRE_EQUAL(page2.size(), 1u);
  BOOST_CHECK_EQUAL(page2[0].spec.id, "c");
  BOOST_CHECK(p::schedule_repo::remove(db, "b").ok());
  expect_error(p::schedule_repo::remove(db, "b"), errc::not_found);
  BOOST_CHECK_EQUAL(must(p::schedule_repo::list(db, 10, "")).size(), 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(firing, schedules_db)

BOOST_AUTO_TEST_CASE(fire_due_creates_one_run_per_due_fire_time_and_advances_next_fire) {
  auto spec = every("* * * * *", "minutely");
  spec.params = {{"b", 2}};
  must(p::schedule_repo::create(db, spec, utc(2030, 1, 10, 10, 0, 30)));
  BOOST_CHECK(fire(utc(2030, 1, 10, 10, 0, 59)).empty());

  auto results = fire(utc(2030, 1, 10, 10, 1, 0) + 500ms);
  BOOST_REQUIRE_EQUAL(results.size(), 1u);
  const auto& r = results[0];
  BOOST_CHECK_EQUAL(r.schedule_id, "minutely");
  BOOST_REQUIRE_EQUAL(r.run_ids.size(), 1u);
  BOOST_REQUIRE_EQUAL(r.fire_times.size(), 1u);
  BOOST_CHECK_EQUAL(r.missed, 0);
  BOOST_CHECK_EQUAL(r.duplicates, 0);
  BOOST_CHECK_EQUAL(r.skipped_overlap, 0);

  auto run = must(p::run_repo::get(db, r.run_ids[0], false));
  BOOST_CHECK_EQUAL(run.trigger, "schedule");
  BOOST_CHECK(run.schedule_id == std::optional<std::string>("minutely"));
  BOOST_REQUIRE(run.scheduled_for);
  BOOST_CHECK_EQUAL(iso(*run.scheduled_for), iso(utc(2030, 1, 10, 10, 1)));
  BOOST_CHECK_EQUAL(run.task, "fetch");
  BOOST_CHECK_EQUAL(run.task_version, 1);
  BOOST_CHECK(run.params == nlohmann::json({{"a", 1}, {"b", 2}}));
  BOOST_CHECK_EQUAL(run.queue, "q2");
  BOOST_CHECK_EQUAL(run.priority, 4);
  BOOST_CHECK_EQUAL(run.max_attempts, 3);
  BOOST_CHECK_EQUAL(run.status, "pending");
  BOOST_CHECK_EQUAL(
      scalar("SELECT concurrency_limit FROM runs WHERE id = " + std::to_string(run.id)), 2);

  auto row = must(p::schedule_repo::get(db, "minutely"));
  BOOST_CHECK_EQUAL(iso(*row.next_fire_at), iso(utc(2030, 1, 10, 10, 2)));
  BOOST_REQUIRE(row.last_fired_at);
  BOOST_CHECK_EQUAL(iso(*row.last_fired_at), iso(utc(2030, 1, 10, 10, 1)));

  // The same instant again: nothing is due any more.
  BOOST_CHECK(fire(utc(2030, 1, 10, 10, 1, 0) + 500ms).empty());
  BOOST_CHECK_EQUAL(runs_of("minutely"), 1);

  // A replaced task: later fires use the new version.
  auto v2 = make_task("fetch", 2, 4);
  v2.params = {{"a", 10}, {"b", 1}};
  v2.retry.max_attempts = 3;
  v2.queue = "q2";
  BOOST_CHECK_EQUAL(must(p::task_repo::put(db, v2)).row.version, 2);
  auto later = fire(utc(2030, 1, 10, 10, 2));
  BOOST_REQUIRE_EQUAL(later.size(), 1u);
  BOOST_REQUIRE_EQUAL(later[0].run_ids.size(), 1u);
  auto run2 = must(p::run_repo::get(db, later[0].run_ids[0], false));
  BOOST_CHECK_EQUAL(run2.task_version, 2);
  BOOST_CHECK(run2.params == nlohmann::json({{"a", 10}, {"b", 2}}));
}

BOOST_AUTO_TEST_CASE(fire_times_within_the_grace_all_fire_in_order) {
  must(p::schedule_repo::create(db, every("*/10 * * * * *", "tensec"), utc(2030, 1, 10, 10)));
  auto results = fire(utc(2030, 1, 10, 10, 0, 35));
  BOOST_REQUIRE_EQUAL(results.size(), 1u);
  BOOST_REQUIRE_EQUAL(results[0].fire_times.size(), 3u);
  BOOST_CHECK_EQUAL(results[0].run_ids.size(), 3u);
  BOOST_CHECK_EQUAL(results[0].missed, 0);
  BOOST_CHECK_EQUAL(iso(*next_fire("tensec")), iso(utc(2030, 1, 10, 10, 0, 40)));
}

BOOST_AUTO_TEST_CASE(firing_the_same_instant_twice_creates_no_duplicate_run) {
  must(p::schedule_repo::create(db, every("* * * * *", "minutely"), utc(2030, 1, 10, 10, 0, 30)));
  auto now = utc(2030, 1, 10, 10, 1, 5);
  BOOST_CHECK_EQUAL(fire(now).at(0).run_ids.size(), 1u);
  // Pretend the advance of next_fire_at was lost (e.g. a second leader with a
  // stale view): the unique index still allows one run per fire time.
  set_next_fire("minutely", utc(2030, 1, 10, 10, 1));
  auto again = fire(now);
  BOOST_REQUIRE_EQUAL(again.size(), 1u);
  BOOST_CHECK(again[0].run_ids.empty());
  BOOST_CHECK_EQUAL(again[0].duplicates, 1);
  BOOST_CHECK_EQUAL(runs_of("minutely"), 1);
  BOOST_CHECK_EQUAL(iso(*next_fire("minutely")), iso(utc(2030, 1, 10, 10, 2)));
}

BOOST_AUTO_TEST_CASE(two_sessions_firing_at_once_create_each_run_once) {
  for (int i = 0; i < 20; ++i) {
    must(p::schedule_repo::create(db, every("*/10 * * * * *", "s" + std::to_string(i)),
                                  utc(2030, 1, 10, 10)));
  }
  auto now = utc(2030, 1, 10, 10, 0, 45);
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      p::session s{url};
      s.conn();
      {
        std::unique_lock lk(m);
        ++ready;
        cv.notify_all();
        cv.wait(lk, [&] { return ready == 2; });
      }
      for (int round = 0; round < 5; ++round) {
        auto r = p::schedule_repo::fire_due(s, now, grace, 3, std::nullopt);
        if (!r) errors[t] = r.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_CHECK_MESSAGE(errors[0].empty() && errors[1].empty(), errors[0] << errors[1]);
  // Fire times 10:00:10 .. 10:00:40, four per schedule.
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 20 * 4);
  BOOST_CHECK_EQUAL(scalar("SELECT count(DISTINCT (schedule_id, scheduled_for)) FROM runs"),
                    20 * 4);
}

BOOST_AUTO_TEST_CASE(misfire_policies_skip_run_once_and_run_all_after_a_long_outage) {
  for (auto [id, policy] :
       {std::pair{"skip", misfire_policy::skip}, std::pair{"once", misfire_policy::run_once},
        std::pair{"all", misfire_policy::run_all}}) {
    auto spec = every("0 * * * *", id);
    spec.misfire = policy;
    must(p::schedule_repo::create(db, spec, utc(2030, 1, 10, 12, 0)));
    // Ten days of downtime: 241 hourly fire times from here to 12:00 today.
    set_next_fire(id, utc(2029, 12, 31, 12));
  }
  auto results = fire(utc(2030, 1, 10, 12, 30));
  BOOST_REQUIRE_EQUAL(results.size(), 3u);

  const auto* skip = result_for(results, "skip");
  BOOST_REQUIRE(skip);
  BOOST_CHECK(skip->run_ids.empty());
  BOOST_CHECK_EQUAL(skip->missed, 241);
  BOOST_CHECK_EQUAL(runs_of("skip"), 0);

  const auto* once = result_for(results, "once");
  BOOST_REQUIRE(once);
  BOOST_REQUIRE_EQUAL(once->run_ids.size(), 1u);
  BOOST_CHECK_EQUAL(once->missed, 240);
  BOOST_CHECK_EQUAL(runs_of("once"), 1);
  BOOST_CHECK_EQUAL(iso(*must(p::run_repo::get(db, once->run_ids[0], false)).scheduled_for),
                    iso(utc(2030, 1, 10, 12)));

  const auto* all = result_for(results, "all");
  BOOST_REQUIRE(all);
  BOOST_CHECK_EQUAL(all->run_ids.size(), 100u);  // the cap
  BOOST_CHECK_EQUAL(all->missed, 141);
  BOOST_CHECK_EQUAL(runs_of("all"), 100);
  // The most recent 100 fire times were kept.
  BOOST_CHECK_EQUAL(
      scalar<std::string>("SELECT to_char(min(scheduled_for) AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD HH24:MI') FROM runs WHERE schedule_id = 'all'"),
      "2030-01-06 09:00");
  BOOST_CHECK_EQUAL(
      scalar<std::string>("SELECT to_char(max(scheduled_for) AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD HH24:MI') FROM runs WHERE schedule_id = 'all'"),
      "2030-01-10 12:00");

  for (const char* id : {"skip", "once", "all"}) {
    BOOST_TEST_CONTEXT(id) {
      BOOST_CHECK_EQUAL(iso(*next_fire(id)), iso(utc(2030, 1, 10, 13)));
    }
  }
}

BOOST_AUTO_TEST_CASE(overlap_skip_does_not_fire_while_a_run_of_the_schedule_is_active) {
  auto skip = every("* * * * *", "skipper");
  skip.overlap = overlap_policy::skip;
  must(p::schedule_repo::create(db, skip, utc(2030, 1, 10, 10, 0, 30)));
  must(p::schedule_repo::create(db, every("* * * * *", "allower"), utc(2030, 1, 10, 10, 0, 30)));

  auto first = fire(utc(2030, 1, 10, 10, 1));
  BOOST_CHECK_EQUAL(fired(first, "skipper").run_ids.size(), 1u);
  auto run_id = fired(first, "skipper").run_ids[0];

  auto second = fire(utc(2030, 1, 10, 10, 2));
  const auto* s = result_for(second, "skipper");
  BOOST_REQUIRE(s);
  BOOST_CHECK(s->run_ids.empty());
  BOOST_CHECK_EQUAL(s->skipped_overlap, 1);
  BOOST_CHECK_EQUAL(runs_of("skipper"), 1);
  BOOST_CHECK_EQUAL(iso(*next_fire("skipper")), iso(utc(2030, 1, 10, 10, 3)));
  BOOST_CHECK_EQUAL(runs_of("allower"), 2);

  // Once the run has finished the schedule fires again.
  sql("UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = " +
      std::to_string(run_id));
  auto third = fire(utc(2030, 1, 10, 10, 3));
  BOOST_CHECK_EQUAL(fired(third, "skipper").run_ids.size(), 1u);
  BOOST_CHECK_EQUAL(runs_of("skipper"), 2);
}

BOOST_AUTO_TEST_CASE(a_schedule_whose_task_was_deleted_is_disabled_when_due) {
  must(p::schedule_repo::create(db, every("* * * * *", "orphan"), utc(2030, 1, 10, 10, 0, 30)));
  // The task vanished without taking its schedules along (task_repo::remove
  // deletes them; this covers a row left behind by anything else).
  sql("DELETE FROM task_heads WHERE name = 'fetch'");
  auto results = fire(utc(2030, 1, 10, 10, 5));
  BOOST_CHECK(result_for(results, "orphan") == nullptr);
  BOOST_CHECK_EQUAL(runs_of("orphan"), 0);
  auto row = must(p::schedule_repo::get(db, "orphan"));
  BOOST_CHECK(!row.spec.enabled);
  BOOST_CHECK(!row.next_fire_at);
}

BOOST_AUTO_TEST_CASE(trigger_creates_a_run_with_trigger_schedule_now) {
  auto spec = every("0 0 1 1 *", "yearly");
  spec.params = {{"b", 9}};
  must(p::schedule_repo::create(db, spec, utc(2030, 1, 10)));
  auto id = must(p::schedule_repo::trigger(db, "yearly"));
  auto run = must(p::run_repo::get(db, id, false));
  BOOST_CHECK_EQUAL(run.trigger, "schedule");
  BOOST_CHECK(run.schedule_id == std::optional<std::string>("yearly"));
  BOOST_CHECK(!run.scheduled_for);
  BOOST_CHECK(run.params == nlohmann::json({{"a", 1}, {"b", 9}}));
  BOOST_CHECK(run.available_at <= now_ms() + 1s);
  // Manual triggers are not fire times: a second one is another run.
  BOOST_CHECK_NE(must(p::schedule_repo::trigger(db, "yearly")), id);
  BOOST_CHECK_EQUAL(runs_of("yearly"), 2);
  // The schedule's own timing is untouched.
  BOOST_CHECK_EQUAL(iso(*next_fire("yearly")), iso(utc(2031, 1, 1)));
  expect_error(p::schedule_repo::trigger(db, "nope"), errc::not_found);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(leadership, schedules_db)

BOOST_AUTO_TEST_CASE(fire_due_with_a_leader_key_refuses_a_session_that_never_took_the_lock) {
  must(p::schedule_repo::create(db, every("* * * * *", "minutely"), utc(2030, 1, 10, 10, 0, 30)));
  auto r = p::schedule_repo::fire_due(db, utc(2030, 1, 10, 10, 5), grace, 100, leader_key);
  expect_error(r, errc::conflict);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 0);
  BOOST_CHECK_EQUAL(iso(*next_fire("minutely")), iso(utc(2030, 1, 10, 10, 1)));
}

BOOST_AUTO_TEST_CASE(fire_due_refuses_while_another_session_holds_the_leader_lock) {
  must(p::schedule_repo::create(db, every("* * * * *", "minutely"), utc(2030, 1, 10, 10, 0, 30)));
  p::session leader{url};
  BOOST_CHECK(must(p::schedule_repo::try_lead(leader, leader_key)));
  BOOST_CHECK(!must(p::schedule_repo::try_lead(db, leader_key)));
  expect_error(p::schedule_repo::fire_due(db, utc(2030, 1, 10, 10, 5), grace, 100, leader_key),
               errc::conflict);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 0);
  // Holding a different key is no leadership either.
  BOOST_CHECK(must(p::schedule_repo::try_lead(db, leader_key + 1)));
  expect_error(p::schedule_repo::fire_due(db, utc(2030, 1, 10, 10, 5), grace, 100, leader_key),
               errc::conflict);

  auto fired =
      must(p::schedule_repo::fire_due(leader, utc(2030, 1, 10, 10, 5), grace, 100, leader_key));
  BOOST_REQUIRE_EQUAL(fired.size(), 1u);
  BOOST_CHECK(!fired[0].run_ids.empty());

  // The leader's connection goes away: the lock is free and another session takes over.
  leader.reset();
  BOOST_CHECK(eventually([&] {
    auto got = p::schedule_repo::try_lead(db, leader_key);
    return got.ok() && *got;
  }));
  auto after =
      must(p::schedule_repo::fire_due(db, utc(2030, 1, 10, 10, 6), grace, 100, leader_key));
  BOOST_REQUIRE_EQUAL(after.size(), 1u);
  BOOST_CHECK_EQUAL(after[0].run_ids.size(), 1u);
}

BOOST_AUTO_TEST_CASE(try_lead_from_two_sessions_at_once_gives_the_lock_to_exactly_one) {
  for (int round = 0; round < 5; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      std::mutex m;
      std::condition_variable cv;
      int ready = 0;
      std::vector<int> got(2, -1);
      std::vector<std::unique_ptr<p::session>> sessions;
      for (int i = 0; i < 2; ++i) sessions.push_back(open());
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
          sessions[t]->conn();
          {
            std::unique_lock lk(m);
            ++ready;
            cv.notify_all();
            cv.wait(lk, [&] { return ready == 2; });
          }
          auto r = p::schedule_repo::try_lead(*sessions[t], leader_key + 100 + round);
          got[t] = r.ok() ? static_cast<int>(*r) : -1;
        });
      }
      for (auto& th : threads) th.join();
      BOOST_CHECK_EQUAL(got[0] + got[1], 1);
      BOOST_CHECK(got[0] >= 0 && got[1] >= 0);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
