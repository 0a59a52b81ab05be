#define BOOST_TEST_MODULE pg_run_repo
#include "persistence/run_repo.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "persistence/log_repo.hpp"
#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;
using namespace std::chrono_literals;

namespace {

p::new_run a_run(const std::string& task = "fetch", int max_attempts = 1) {
  p::new_run r;
  r.task = task;
  r.task_version = 1;
  r.max_attempts = max_attempts;
  return r;
}

p::claim_request claim_by(const std::string& owner, int limit = 100) {
  p::claim_request c;
  c.owner = owner;
  c.node = owner.substr(0, owner.find('/'));
  c.limit = limit;
  return c;
}

p::completion done(const p::claimed_run& c, const std::string& owner,
                   const std::string& status = "succeeded") {
  p::completion x;
  x.id = c.id;
  x.attempt = c.attempt;
  x.owner = owner;
  x.status = status;
  return x;
}

step_record a_step(int index, const std::string& name, const std::string& status = "succeeded") {
  step_record s;
  s.index = index;
  s.name = name;
  s.status = status;
  s.started_at = now_ms() - 2s;
  s.finished_at = now_ms() - 1s;
  s.exit_code = 0;
  s.output = "out of " + name;
  return s;
}

std::string id_list(const std::vector<long long>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

struct runs_db : pg_db {
  long long submit(const p::new_run& r) { return must(p::run_repo::submit(db, r)).run.id; }
  p::claimed_run claim_one(const std::string& owner) {
    auto got = must(p::run_repo::claim(db, claim_by(owner, 1)));
    if (got.size() != 1) BOOST_FAIL("expected to claim one run, got " << got.size());
    return got[0];
  }
  std::string status_of(long long id) {
    return scalar<std::string>("SELECT status FROM runs WHERE id = " + std::to_string(id));
  }
  long long steps_of(long long id) {
    return scalar("SELECT count(*) FROM run_steps WHERE run_id = " + std::to_string(id));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(submission, runs_db)

BOOST_AUTO_TEST_CASE(submit_and_get_round_trip_every_field) {
  auto scheduled = from_epoch_ms(1893456000123);  // 2030-01-01T00:00:00.123Z
  auto available = from_epoch_ms(1893459600456);
  p::new_run r;
  r.task = "fetch";
  r.task_version = 3;
  r.queue = "urgent";
  r.params = {{"city", "Zürich"}, {"n", 2}, {"list", {1, 2, 3}}, {"nested", {{"a", nullptr}}}};
  r.trigger = "cli";
  r.schedule_id = "sch_1";
  r.scheduled_for = scheduled;
  r.max_attempts = 4;
  r.priority = 9;
  r.concurrency_limit = 2;
  r.idempotency_key = "key-1";
  r.available_at = available;
  r.retry_of = 42;
  auto before = now_ms();
  auto out = must(p::run_repo::submit(db, r));
  BOOST_CHECK(out.created);

  auto got = must(p::run_repo::get(db, out.run.id, true));
  BOOST_CHECK_EQUAL(got.id, out.run.id);
  BOOST_CHECK_EQUAL(got.task, "fetch");
  BOOST_CHECK_EQUAL(got.task_version, 3);
  BOOST_CHECK_EQUAL(got.queue, "urgent");
  BOOST_CHECK_EQUAL(got.status, "pending");
  BOOST_CHECK(got.params == r.params);
  BOOST_CHECK_EQUAL(got.trigger, "cli");
  BOOST_CHECK(got.schedule_id == std::optional<std::string>("sch_1"));
  BOOST_REQUIRE(got.scheduled_for);
  BOOST_CHECK_EQUAL(to_epoch_ms(*got.scheduled_for), to_epoch_ms(scheduled));
  BOOST_CHECK_EQUAL(got.attempt, 0);
  BOOST_CHECK_EQUAL(got.max_attempts, 4);
  BOOST_CHECK_EQUAL(got.priority, 9);
  BOOST_CHECK(got.idempotency_key == std::optional<std::string>("key-1"));
  BOOST_CHECK(got.created_at >= before - 1s && got.created_at <= now_ms() + 1s);
  BOOST_CHECK_EQUAL(to_epoch_ms(got.available_at), to_epoch_ms(available));
  BOOST_CHECK(!got.started_at);
  BOOST_CHECK(!got.finished_at);
  BOOST_CHECK(!got.node);
  BOOST_CHECK(!got.output);
  BOOST_CHECK(!got.error_code);
  BOOST_CHECK(!got.error_message);
  BOOST_CHECK(!got.cancel_requested);
  BOOST_CHECK(got.steps.empty());
  // Columns the record does not carry.
  auto id = std::to_string(got.id);
  BOOST_CHECK_EQUAL(scalar("SELECT concurrency_limit FROM runs WHERE id = " + id), 2);
  BOOST_CHECK_EQUAL(scalar("SELECT retry_of FROM runs WHERE id = " + id), 42);
  // What submit returned is what get reads.
  BOOST_CHECK(to_json(out.run, false) == to_json(got, false));
}

BOOST_AUTO_TEST_CASE(a_submission_without_available_at_is_due_now) {
  auto before = now_ms();
  auto id = submit(a_run());
  auto got = must(p::run_repo::get(db, id, false));
  BOOST_CHECK(got.available_at >= before - 1s && got.available_at <= now_ms() + 1s);
  BOOST_CHECK(!got.schedule_id);
  BOOST_CHECK(!got.scheduled_for);
  BOOST_CHECK(!got.idempotency_key);
  BOOST_CHECK_EQUAL(got.trigger, "api");
  BOOST_CHECK_EQUAL(got.queue, "default");
}

BOOST_AUTO_TEST_CASE(get_of_an_unknown_run_is_not_found) {
  expect_error(p::run_repo::get(db, 987654, false), errc::not_found);
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_returns_the_existing_run_not_a_new_one) {
  auto r = a_run();
  r.idempotency_key = "once";
  r.params = {{"v", 1}};
  auto first = must(p::run_repo::submit(db, r));
  BOOST_CHECK(first.created);
  r.params = {{"v", 2}};
  auto second = must(p::run_repo::submit(db, r));
  BOOST_CHECK(!second.created);
  BOOST_CHECK_EQUAL(second.run.id, first.run.id);
  BOOST_CHECK(second.run.params == nlohmann::json({{"v", 1}}));
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 1);

  // Keys are per task.
  auto other = a_run("other");
  other.idempotency_key = "once";
  BOOST_CHECK(must(p::run_repo::submit(db, other)).created);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 2);
}

BOOST_AUTO_TEST_CASE(submit_batch_inserts_every_run_in_order) {
  std::vector<p::new_run> batch;
  for (int i = 0; i < 50; ++i) {
    auto r = a_run(i % 2 == 0 ? "even" : "odd", 1 + i % 3);
    r.params = {{"i", i}};
    r.priority = i % 5;
    r.queue = i % 2 == 0 ? "default" : "q2";
    batch.push_back(r);
  }
  auto rows = must(p::run_repo::submit_batch(db, batch));
  BOOST_REQUIRE_EQUAL(rows.size(), batch.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST_CONTEXT("item " << i) {
      BOOST_CHECK_EQUAL(rows[i].params["i"], static_cast<int>(i));
      BOOST_CHECK_EQUAL(rows[i].task, batch[i].task);
      BOOST_CHECK_EQUAL(rows[i].queue, batch[i].queue);
      BOOST_CHECK_EQUAL(rows[i].priority, batch[i].priority);
      BOOST_CHECK_EQUAL(rows[i].max_attempts, batch[i].max_attempts);
      BOOST_CHECK_EQUAL(rows[i].status, "pending");
      if (i > 0) BOOST_CHECK_GT(rows[i].id, rows[i - 1].id);
    }
  }
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 50);
}

BOOST_AUTO_TEST_CASE(submit_batch_is_all_or_none) {
  std::vector<p::new_run> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(a_run());
  batch[7].trigger = "carrier-pigeon";  // violates the CHECK constraint
  auto r = p::run_repo::submit_batch(db, batch);
  BOOST_CHECK(!r.ok());
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 0);
  // The session is still usable afterwards.
  batch[7].trigger = "api";
  BOOST_CHECK_EQUAL(must(p::run_repo::submit_batch(db, batch)).size(), 10u);
}

BOOST_AUTO_TEST_CASE(list_filters_by_task_and_status_and_pages_newest_first) {
  std::vector<long long> fetch_ids;
  for (int i = 0; i < 5; ++i) {
    fetch_ids.push_back(submit(a_run("fetch")));
    submit(a_run("other"));
  }
  p::run_filter f;
  f.task = "fetch";
  f.limit = 2;
  std::vector<long long> seen;
  for (int page = 0; page < 5; ++page) {
    auto rows = must(p::run_repo::list(db, f));
    if (rows.empty()) break;
    for (const auto& r : rows) {
      BOOST_CHECK_EQUAL(r.task, "fetch");
      seen.push_back(r.id);
    }
    f.before_id = rows.back().id;
  }
  std::vector<long long> expected(fetch_ids.rbegin(), fetch_ids.rend());
  BOOST_CHECK_EQUAL_COLLECTIONS(seen.begin(), seen.end(), expected.begin(), expected.end());

  must(p::run_repo::cancel(db, fetch_ids[2]));
  p::run_filter cancelled;
  cancelled.status = "cancelled";
  auto rows = must(p::run_repo::list(db, cancelled));
  BOOST_REQUIRE_EQUAL(rows.size(), 1u);
  BOOST_CHECK_EQUAL(rows[0].id, fetch_ids[2]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(claiming, runs_db)

BOOST_AUTO_TEST_CASE(claim_leases_the_run_to_the_owner_and_increments_the_attempt) {
  auto r = a_run("fetch", 3);
  r.params = {{"x", 1}};
  r.trigger = "cli";
  auto id = submit(r);
  auto req = claim_by("node-a/inc-1");
  req.lease = 20s;
  auto claimed = must(p::run_repo::claim(db, req));
  BOOST_REQUIRE_EQUAL(claimed.size(), 1u);
  const auto& c = claimed[0];
  BOOST_CHECK_EQUAL(c.id, id);
  BOOST_CHECK_EQUAL(c.task, "fetch");
  BOOST_CHECK_EQUAL(c.task_version, 1);
  BOOST_CHECK(nlohmann::json::parse(c.params) == r.params);
  BOOST_CHECK_EQUAL(c.attempt, 1);
  BOOST_CHECK_EQUAL(c.max_attempts, 3);
  BOOST_CHECK_EQUAL(c.trigger, "cli");

  auto got = must(p::run_repo::get(db, id, false));
  BOOST_CHECK_EQUAL(got.status, "running");
  BOOST_CHECK_EQUAL(got.attempt, 1);
  BOOST_CHECK(got.node == std::optional<std::string>("node-a"));
  BOOST_CHECK(got.started_at);
  auto sid = std::to_string(id);
  BOOST_CHECK_EQUAL(scalar<std::string>("SELECT lease_owner FROM runs WHERE id = " + sid),
                    "node-a/inc-1");
  auto lease_left = scalar<double>(
      "SELECT extract(epoch from lease_expires_at - now()) FROM runs WHERE id = " + sid);
  BOOST_CHECK_GT(lease_left, 15.0);
  BOOST_CHECK_LE(lease_left, 20.0);

  // A running run is not claimed again.
  BOOST_CHECK(must(p::run_repo::claim(db, claim_by("node-b/1"))).empty());
}

BOOST_AUTO_TEST_CASE(claim_takes_higher_priority_first_then_earlier_available_at) {
  auto now = now_ms();
  auto at = [&](int prio, millis ago) {
    auto r = a_run();
    r.priority = prio;
    r.available_at = now - ago;
    return submit(r);
  };
  auto low_oldest = at(0, 3s);
  auto high_newer = at(5, 1s);
  auto high_older = at(5, 2s);
  auto mid_oldest = at(1, 10s);
  auto future = [&] {
    auto r = a_run();
    r.priority = 100;
    r.available_at = now + 1h;
    return submit(r);
  }();

  std::vector<long long> order;
  for (int i = 0; i < 4; ++i) order.push_back(claim_one("n/1").id);
  std::vector<long long> expected = {high_older, high_newer, mid_oldest, low_oldest};
  BOOST_CHECK_EQUAL_COLLECTIONS(order.begin(), order.end(), expected.begin(), expected.end());
  // The run due in an hour is skipped despite its priority.
  BOOST_CHECK(must(p::run_repo::claim(db, claim_by("n/1"))).empty());
  BOOST_CHECK_EQUAL(status_of(future), "pending");
}

BOOST_AUTO_TEST_CASE(a_batch_claim_returns_at_most_limit_runs) {
  for (int i = 0; i < 7; ++i) submit(a_run());
  BOOST_CHECK_EQUAL(must(p::run_repo::claim(db, claim_by("n/1", 3))).size(), 3u);
  BOOST_CHECK_EQUAL(must(p::run_repo::claim(db, claim_by("n/1", 3))).size(), 3u);
  BOOST_CHECK_EQUAL(must(p::run_repo::claim(db, claim_by("n/1", 3))).size(), 1u);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE status = 'running'"), 7);
}

BOOST_AUTO_TEST_CASE(claim_with_queues_takes_only_runs_of_those_queues) {
  auto q1 = a_run();
  q1.queue = "q1";
  auto q2 = a_run();
  q2.queue = "q2";
  auto id1 = submit(q1);
  auto id2 = submit(q2);
  auto req = claim_by("n/1");
  req.queues = {"q2", "q3"};
  auto got = must(p::run_repo::claim(db, req));
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_CHECK_EQUAL(got[0].id, id2);
  BOOST_CHECK_EQUAL(status_of(id1), "pending");
}

BOOST_AUTO_TEST_CASE(two_sessions_claiming_concurrently_never_claim_the_same_run_twice) {
  constexpr int total = 2000;
  std::vector<p::new_run> batch(total, a_run());
  for (int i = 0; i < total; ++i) batch[i].priority = i % 7;
  BOOST_REQUIRE_EQUAL(must(p::run_repo::submit_batch(db, batch)).size(), std::size_t{total});

  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  std::vector<std::vector<long long>> claimed(2);
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
      auto owner = "node-" + std::to_string(t) + "/1";
      for (int round = 0; round < 10 * total; ++round) {
        auto got = p::run_repo::claim(s, claim_by(owner, 7));
        if (!got) {
          errors[t] = got.error().message;
          return;
        }
        for (const auto& c : *got) claimed[t].push_back(c.id);
        if (got->empty()) {
          // Empty can mean "the other session holds the rest": stop only
          // when nothing is pending any more.
          auto pending = s.transact([](pqxx::work& tx) {
            return tx.exec("SELECT count(*) FROM runs WHERE status = 'pending'")[0][0]
                .as<long long>();
          });
          if (pending && *pending == 0) return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_REQUIRE_MESSAGE(errors[0].empty() && errors[1].empty(), errors[0] << errors[1]);
  BOOST_TEST_MESSAGE("claimed " << claimed[0].size() << " + " << claimed[1].size());
  BOOST_CHECK_GT(claimed[0].size(), 0u);
  BOOST_CHECK_GT(claimed[1].size(), 0u);
  std::set<long long> all(claimed[0].begin(), claimed[0].end());
  all.insert(claimed[1].begin(), claimed[1].end());
  BOOST_CHECK_EQUAL(claimed[0].size() + claimed[1].size(), std::size_t{total});
  BOOST_CHECK_EQUAL(all.size(), std::size_t{total});
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE status = 'running' AND attempt = 1"),
                    total);
  // Each run is leased to the session that got it.
  for (int t = 0; t < 2; ++t) {
    if (claimed[t].empty()) continue;
    BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE lease_owner = 'node-" +
                             std::to_string(t) + "/1' AND id IN (" + id_list(claimed[t]) + ")"),
                      static_cast<long long>(claimed[t].size()));
  }
}

BOOST_AUTO_TEST_CASE(the_per_task_concurrency_limit_holds_for_a_single_claimer) {
  for (int i = 0; i < 5; ++i) {
    auto r = a_run("limited");
    r.concurrency_limit = 2;
    submit(r);
  }
  for (int i = 0; i < 3; ++i) submit(a_run("free"));
  auto got = must(p::run_repo::claim(db, claim_by("n/1", 100)));
  long long limited =
      std::count_if(got.begin(), got.end(), [](const auto& c) { return c.task == "limited"; });
  BOOST_CHECK_EQUAL(limited, 2);
  BOOST_CHECK_EQUAL(got.size(), 5u);
  BOOST_CHECK(must(p::run_repo::claim(db, claim_by("n/1", 100))).empty());
  // Finishing one makes room for exactly one more.
  auto first =
      *std::find_if(got.begin(), got.end(), [](const auto& c) { return c.task == "limited"; });
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {done(first, "n/1")})).size(), 1u);
  auto next = must(p::run_repo::claim(db, claim_by("n/1", 100)));
  BOOST_REQUIRE_EQUAL(next.size(), 1u);
  BOOST_CHECK_EQUAL(next[0].task, "limited");
}

BOOST_AUTO_TEST_CASE(the_per_task_concurrency_limit_holds_across_concurrent_claimers) {
  constexpr int runs = 200;
  constexpr int limit = 2;
  for (int i = 0; i < runs; ++i) {
    auto r = a_run("limited");
    r.concurrency_limit = limit;
    submit(r);
  }
  std::atomic<int> held{0};
  std::atomic<int> max_held{0};
  std::atomic<long long> max_running{0};
  std::atomic<int> finished{0};
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      p::session s{url};
      auto owner = "node-" + std::to_string(t) + "/1";
      auto deadline = std::chrono::steady_clock::now() + 40s;
      while (finished.load() < runs && std::chrono::steady_clock::now() < deadline) {
        auto got = p::run_repo::claim(s, claim_by(owner, 5));
        if (!got) {
          errors[t] = got.error().message;
          return;
        }
        if (got->empty()) {
          std::this_thread::yield();
          continue;
        }
        // `held` never exceeds what the database has running: it goes up after
        // the claim commits and down before the completion does.
        int now_held = held += static_cast<int>(got->size());
        int prev = max_held.load();
        while (now_held > prev && !max_held.compare_exchange_weak(prev, now_held)) {
        }
        auto running = s.transact([](pqxx::work& tx) {
          return tx
              .exec(
                  "SELECT count(*) FROM runs WHERE task = 'limited' AND status = "
                  "'running'")[0][0]
              .as<long long>();
        });
        if (running) {
          long long pr = max_running.load();
          while (*running > pr && !max_running.compare_exchange_weak(pr, *running)) {
          }
        }
        std::vector<p::completion> finish;
        for (const auto& c : *got) finish.push_back(done(c, owner));
        held -= static_cast<int>(got->size());
        auto applied = p::run_repo::complete(s, finish);
        if (!applied) {
          errors[t] = applied.error().message;
          return;
        }
        finished += static_cast<int>(applied->size());
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_REQUIRE_MESSAGE(errors[0].empty() && errors[1].empty(), errors[0] << errors[1]);
  BOOST_CHECK_EQUAL(finished.load(), runs);
  BOOST_CHECK_LE(max_held.load(), limit);
  BOOST_CHECK_LE(max_running.load(), limit);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE status = 'succeeded'"), runs);
}

BOOST_AUTO_TEST_CASE(several_limited_tasks_claimed_concurrently_each_keep_their_limit) {
  const std::vector<std::string> tasks = {"lim-a", "lim-b", "lim-c", "lim-d"};
  constexpr int per_task = 40;
  std::vector<p::new_run> batch;
  for (int i = 0; i < per_task; ++i) {
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      auto r = a_run(tasks[t]);
      r.concurrency_limit = 1 + static_cast<int>(t % 2);
      batch.push_back(r);
    }
  }
  must(p::run_repo::submit_batch(db, batch));
  const long long total = per_task * static_cast<long long>(tasks.size());
  std::atomic<long long> finished{0};
  std::atomic<bool> over_limit{false};
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      p::session s{url};
      auto owner = "node-" + std::to_string(t) + "/1";
      auto deadline = std::chrono::steady_clock::now() + 40s;
      while (finished.load() < total && std::chrono::steady_clock::now() < deadline) {
        auto got = p::run_repo::claim(s, claim_by(owner, 10));
        if (!got) {
          errors[t] = got.error().message;
          return;
        }
        auto over = s.transact([](pqxx::work& tx) {
          return tx
              .exec(
                  "SELECT count(*) FROM (SELECT task FROM runs WHERE status = 'running' "
                  "GROUP BY task HAVING count(*) > min(concurrency_limit)) o")[0][0]
              .as<long long>();
        });
        if (over && *over > 0) over_limit = true;
        std::vector<p::completion> finish;
        for (const auto& c : *got) finish.push_back(done(c, owner));
        auto applied = p::run_repo::complete(s, finish);
        if (!applied) {
          errors[t] = applied.error().message;
          return;
        }
        finished += static_cast<long long>(applied->size());
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_REQUIRE_MESSAGE(errors[0].empty() && errors[1].empty(), errors[0] << errors[1]);
  BOOST_CHECK(!over_limit.load());
  BOOST_CHECK_EQUAL(finished.load(), total);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(completions, runs_db)

BOOST_AUTO_TEST_CASE(a_completion_with_the_wrong_owner_or_attempt_changes_nothing) {
  auto id = submit(a_run("fetch", 3));
  auto c = claim_one("node-a/1");

  auto wrong_owner = done(c, "node-b/1");
  wrong_owner.steps = {a_step(0, "main")};
  wrong_owner.output = "stale";
  BOOST_CHECK(must(p::run_repo::complete(db, {wrong_owner})).empty());

  auto wrong_attempt = done(c, "node-a/1");
  wrong_attempt.attempt = c.attempt + 1;
  wrong_attempt.steps = {a_step(0, "main")};
  BOOST_CHECK(must(p::run_repo::complete(db, {wrong_attempt})).empty());

  auto older_attempt = done(c, "node-a/1");
  older_attempt.attempt = c.attempt - 1;
  older_attempt.steps = {a_step(0, "main")};
  BOOST_CHECK(must(p::run_repo::complete(db, {older_attempt})).empty());

  auto got = must(p::run_repo::get(db, id, true));
  BOOST_CHECK_EQUAL(got.status, "running");
  BOOST_CHECK_EQUAL(got.attempt, 1);
  BOOST_CHECK(!got.output);
  BOOST_CHECK(!got.finished_at);
  BOOST_CHECK(got.steps.empty());
  BOOST_CHECK_EQUAL(steps_of(id), 0);
  BOOST_CHECK_EQUAL(
      scalar<std::string>("SELECT lease_owner FROM runs WHERE id = " + std::to_string(id)),
      "node-a/1");
}

BOOST_AUTO_TEST_CASE(a_completion_is_recorded_exactly_once_with_one_set_of_step_rows) {
  auto id = submit(a_run());
  auto c = claim_one("node-a/1");
  auto ok = done(c, "node-a/1");
  ok.output = "final";
  ok.steps = {a_step(0, "fetch"), a_step(1, "summarize")};
  auto applied = must(p::run_repo::complete(db, {ok}));
  BOOST_REQUIRE_EQUAL(applied.size(), 1u);
  BOOST_CHECK_EQUAL(applied[0], id);

  // The identical completion again (a redelivery), then a different late one.
  BOOST_CHECK(must(p::run_repo::complete(db, {ok})).empty());
  auto again = ok;
  again.output = "second recording";
  again.steps = {a_step(0, "fetch", "failed"), a_step(1, "summarize"), a_step(2, "extra")};
  BOOST_CHECK(must(p::run_repo::complete(db, {again})).empty());

  auto got = must(p::run_repo::get(db, id, true));
  BOOST_CHECK_EQUAL(got.status, "succeeded");
  BOOST_CHECK(got.output == std::optional<std::string>("final"));
  BOOST_CHECK(got.finished_at);
  BOOST_REQUIRE_EQUAL(got.steps.size(), 2u);
  BOOST_CHECK_EQUAL(got.steps[0].name, "fetch");
  BOOST_CHECK_EQUAL(got.steps[0].status, "succeeded");
  BOOST_CHECK_EQUAL(got.steps[0].attempt, 1);
  BOOST_CHECK(got.steps[0].output == std::optional<std::string>("out of fetch"));
  BOOST_CHECK(got.steps[0].exit_code == std::optional<int>(0));
  BOOST_CHECK(got.steps[0].started_at);
  BOOST_CHECK_EQUAL(to_epoch_ms(*got.steps[0].started_at), to_epoch_ms(*ok.steps[0].started_at));
  BOOST_CHECK_EQUAL(got.steps[1].index, 1);
  BOOST_CHECK_EQUAL(got.steps[1].name, "summarize");
  BOOST_CHECK_EQUAL(steps_of(id), 2);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL OR "
                           "lease_expires_at IS NOT NULL"),
                    0);
}

BOOST_AUTO_TEST_CASE(the_same_completion_twice_in_one_batch_is_recorded_once) {
  auto id = submit(a_run());
  auto other = submit(a_run());
  auto got = must(p::run_repo::claim(db, claim_by("node-a/1", 2)));
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  auto first = got[0].id == id ? got[0] : got[1];
  auto second = got[0].id == id ? got[1] : got[0];
  auto x = done(first, "node-a/1");
  x.steps = {a_step(0, "fetch"), a_step(1, "summarize")};
  auto y = done(second, "node-a/1");
  y.steps = {a_step(0, "main")};
  // A redelivered result lands in the same batch as the original.
  auto applied = must(p::run_repo::complete(db, {x, y, x}));
  std::set<long long> ids(applied.begin(), applied.end());
  BOOST_CHECK_EQUAL(ids.size(), 2u);
  BOOST_CHECK_EQUAL(status_of(id), "succeeded");
  BOOST_CHECK_EQUAL(status_of(other), "succeeded");
  BOOST_CHECK_EQUAL(steps_of(id), 2);
  BOOST_CHECK_EQUAL(steps_of(other), 1);
}

BOOST_AUTO_TEST_CASE(a_batch_of_completions_applies_only_those_whose_fence_holds) {
  std::vector<long long> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(a_run()));
  auto got = must(p::run_repo::claim(db, claim_by("node-a/1", 3)));
  BOOST_REQUIRE_EQUAL(got.size(), 3u);
  std::vector<p::completion> batch;
  for (const auto& c : got) {
    auto x = done(c, "node-a/1", "failed");
    x.error_code = "exit_code";
    x.steps = {a_step(0, "main", "failed")};
    batch.push_back(x);
  }
  batch[1].owner = "node-z/9";  // a stale writer
  auto applied = must(p::run_repo::complete(db, batch));
  std::set<long long> applied_set(applied.begin(), applied.end());
  BOOST_CHECK_EQUAL(applied_set.size(), 2u);
  BOOST_CHECK(!applied_set.count(got[1].id));
  BOOST_CHECK_EQUAL(status_of(got[1].id), "running");
  BOOST_CHECK_EQUAL(steps_of(got[1].id), 0);
  BOOST_CHECK_EQUAL(status_of(got[0].id), "failed");
  BOOST_CHECK_EQUAL(steps_of(got[0].id), 1);
}

BOOST_AUTO_TEST_CASE(a_stale_worker_cannot_record_after_its_run_was_requeued_and_reclaimed) {
  auto id = submit(a_run("fetch", 3));
  auto first = claim_one("node-a/1");
  sql("UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = " +
      std::to_string(id));
  BOOST_CHECK_EQUAL(must(p::run_repo::requeue_expired(db, 100, 3)), 1);
  auto second = claim_one("node-b/1");
  BOOST_CHECK_EQUAL(second.id, id);
  BOOST_CHECK_EQUAL(second.attempt, 2);

  auto late = done(first, "node-a/1");
  late.steps = {a_step(0, "main")};
  BOOST_CHECK(must(p::run_repo::complete(db, {late})).empty());
  BOOST_CHECK_EQUAL(status_of(id), "running");
  BOOST_CHECK_EQUAL(steps_of(id), 0);

  auto current = done(second, "node-b/1");
  current.steps = {a_step(0, "main")};
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {current})).size(), 1u);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM run_steps WHERE run_id = " + std::to_string(id) +
                           " AND attempt = 2"),
                    1);
}

BOOST_AUTO_TEST_CASE(a_pending_completion_with_backoff_sets_available_at_and_keeps_the_attempt) {
  auto id = submit(a_run("fetch", 3));
  auto c = claim_one("node-a/1");
  auto retry_at = now_ms() + 1h;
  auto x = done(c, "node-a/1", "pending");
  x.available_at = retry_at;
  x.error_code = "exit_code";
  x.error_message = "exited with 2";
  x.steps = {a_step(0, "main", "failed")};
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {x})).size(), 1u);

  auto got = must(p::run_repo::get(db, id, true));
  BOOST_CHECK_EQUAL(got.status, "pending");
  BOOST_CHECK_EQUAL(got.attempt, 1);
  BOOST_CHECK_EQUAL(to_epoch_ms(got.available_at), to_epoch_ms(retry_at));
  BOOST_CHECK(!got.finished_at);
  BOOST_CHECK(got.error_code == std::optional<std::string>("exit_code"));
  BOOST_CHECK_EQUAL(got.steps.size(), 1u);
  // Not due yet.
  BOOST_CHECK(must(p::run_repo::claim(db, claim_by("node-a/1"))).empty());
  sql("UPDATE runs SET available_at = now() WHERE id = " + std::to_string(id));
  auto next = claim_one("node-a/1");
  BOOST_CHECK_EQUAL(next.attempt, 2);
}

BOOST_AUTO_TEST_CASE(a_release_gives_the_attempt_back_without_step_rows) {
  auto id = submit(a_run("fetch", 1));
  auto c = claim_one("node-a/1");
  auto x = done(c, "node-a/1", "pending");
  x.release = true;
  x.available_at = now_ms();
  x.steps = {a_step(0, "main", "cancelled")};
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {x})).size(), 1u);

  auto got = must(p::run_repo::get(db, id, true));
  BOOST_CHECK_EQUAL(got.status, "pending");
  BOOST_CHECK_EQUAL(got.attempt, 0);
  BOOST_CHECK(!got.finished_at);
  BOOST_CHECK(got.steps.empty());
  BOOST_CHECK_EQUAL(steps_of(id), 0);
  // With max_attempts 1 the run still gets its one real attempt.
  auto again = claim_one("node-b/1");
  BOOST_CHECK_EQUAL(again.id, id);
  BOOST_CHECK_EQUAL(again.attempt, 1);
}

BOOST_AUTO_TEST_CASE(a_retry_completion_of_a_run_whose_cancel_was_requested_ends_cancelled) {
  auto id = submit(a_run("fetch", 3));
  auto c = claim_one("node-a/1");
  BOOST_CHECK(must(p::run_repo::cancel(db, id)).was_running);
  // The worker failed before it saw the cancel and asks for a retry.
  auto x = done(c, "node-a/1", "pending");
  x.available_at = now_ms();
  x.error_code = "exit_code";
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {x})).size(), 1u);
  auto got = must(p::run_repo::get(db, id, false));
  BOOST_CHECK_EQUAL(got.status, "cancelled");
  BOOST_CHECK(got.finished_at);
  BOOST_CHECK(must(p::run_repo::claim(db, claim_by("node-a/1"))).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(leases, runs_db)

BOOST_AUTO_TEST_CASE(renew_extends_the_owners_leases_and_returns_runs_flagged_for_cancel) {
  for (int i = 0; i < 3; ++i) submit(a_run());
  auto a1 = claim_one("node-a/1");
  auto a2 = claim_one("node-a/1");
  auto b1 = claim_one("node-b/1");
  sql("UPDATE runs SET lease_expires_at = now() + interval '1 second'");
  BOOST_CHECK(must(p::run_repo::cancel(db, a2.id)).was_running);

  auto out = must(p::run_repo::renew(db, "node-a/1", {a1.id, a2.id, b1.id}, 60s));
  BOOST_REQUIRE_EQUAL(out.flagged.size(), 1u);
  BOOST_CHECK_EQUAL(out.flagged[0], a2.id);
  // b1 is leased to another owner: node-a lost it (or never had it).
  BOOST_REQUIRE_EQUAL(out.lost.size(), 1u);
  BOOST_CHECK_EQUAL(out.lost[0], b1.id);
  auto left = [&](long long id) {
    return scalar<double>(
        "SELECT extract(epoch from lease_expires_at - now()) FROM runs "
        "WHERE id = " +
        std::to_string(id));
  };
  BOOST_CHECK_GT(left(a1.id), 50.0);
  BOOST_CHECK_GT(left(a2.id), 50.0);
  BOOST_CHECK_LE(left(b1.id), 1.0);
  BOOST_CHECK(must(p::run_repo::renew(db, "node-c/1", {a1.id}, 60s)).flagged.empty());
}

BOOST_AUTO_TEST_CASE(renew_leaves_out_claimed_runs_the_owner_does_not_hold) {
  for (int i = 0; i < 2; ++i) submit(a_run());
  auto held = claim_one("node-a/1");
  auto lost = claim_one("node-a/1");  // claimed, but its batch never arrived
  sql("UPDATE runs SET lease_expires_at = now() + interval '1 second'");
  must(p::run_repo::renew(db, "node-a/1", {held.id}, 60s));
  BOOST_CHECK_GT(scalar<double>("SELECT extract(epoch from lease_expires_at - now()) FROM runs "
                                "WHERE id = " +
                                std::to_string(held.id)),
                 50.0);
  BOOST_CHECK_LE(scalar<double>("SELECT extract(epoch from lease_expires_at - now()) FROM runs "
                                "WHERE id = " +
                                std::to_string(lost.id)),
                 1.0);
}

BOOST_AUTO_TEST_CASE(release_owner_prefix_requeues_one_dead_incarnation_keeping_queue_position) {
  for (int i = 0; i < 3; ++i) submit(a_run("fetch", 3));
  auto dead = claim_one("node-a/p1.x");
  auto same_name_new_process = claim_one("node-a/p2.y");
  auto other = claim_one("node-b/p1.x");
  auto before = scalar<long long>(
      "SELECT (extract(epoch from available_at)*1000)::bigint FROM "
      "runs WHERE id = " +
      std::to_string(dead.id));
  BOOST_CHECK_EQUAL(must(p::run_repo::release_owner_prefix(db, "node-a/p1.", 3)), 1);
  auto status = [&](long long id) {
    return scalar<std::string>(
        "SELECT status || ':' || coalesce(error_code, '') FROM runs "
        "WHERE id = " +
        std::to_string(id));
  };
  BOOST_CHECK_EQUAL(status(dead.id), "pending:lease_lost");
  BOOST_CHECK_EQUAL(status(same_name_new_process.id), "running:");
  BOOST_CHECK_EQUAL(status(other.id), "running:");
  BOOST_CHECK_EQUAL(scalar<long long>("SELECT (extract(epoch from available_at)*1000)::bigint "
                                      "FROM runs WHERE id = " +
                                      std::to_string(dead.id)),
                    before);
  // The dead incarnation, if it was only stalled, learns at its next renewal.
  auto late = must(p::run_repo::renew(db, "node-a/p1.x", {dead.id}, 60s));
  BOOST_REQUIRE_EQUAL(late.lost.size(), 1u);
  BOOST_CHECK_EQUAL(late.lost[0], dead.id);
  BOOST_CHECK(!p::run_repo::release_owner_prefix(db, "", 3));
}

BOOST_AUTO_TEST_CASE(an_expired_lease_returns_the_run_to_pending_without_using_its_attempts) {
  auto retryable = submit(a_run("fetch", 3));
  auto single = submit(a_run("fetch", 1));  // the default budget: one attempt
  auto at_cap = submit(a_run("fetch", 3));
  auto cancelled = submit(a_run("fetch", 3));
  auto healthy = submit(a_run("fetch", 3));
  auto got = must(p::run_repo::claim(db, claim_by("node-a/1", 10)));
  BOOST_REQUIRE_EQUAL(got.size(), 5u);
  must(p::run_repo::cancel(db, cancelled));
  sql("UPDATE runs SET lost_leases = 2 WHERE id = " + std::to_string(at_cap));
  sql("UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id IN (" +
      id_list({retryable, single, at_cap, cancelled}) + ")");

  BOOST_CHECK_EQUAL(must(p::run_repo::requeue_expired(db, 100, 3)), 4);

  for (auto id : {retryable, single}) {
    auto r = must(p::run_repo::get(db, id, false));
    BOOST_CHECK_EQUAL(r.status, "pending");
    BOOST_CHECK(r.error_code == std::optional<std::string>("lease_lost"));
    BOOST_CHECK(!r.finished_at);
    BOOST_CHECK_EQUAL(r.attempt, 1);
    BOOST_CHECK_EQUAL(r.lost_leases, 1);
  }
  auto e = must(p::run_repo::get(db, at_cap, false));
  BOOST_CHECK_EQUAL(e.status, "failed");
  BOOST_CHECK(e.error_code == std::optional<std::string>("lease_lost"));
  BOOST_CHECK_EQUAL(e.lost_leases, 3);
  BOOST_CHECK(e.finished_at);
  auto c = must(p::run_repo::get(db, cancelled, false));
  BOOST_CHECK_EQUAL(c.status, "cancelled");
  BOOST_CHECK(c.finished_at);
  BOOST_CHECK_EQUAL(status_of(healthy), "running");
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL"), 1);

  BOOST_CHECK_EQUAL(must(p::run_repo::requeue_expired(db, 100, 3)), 0);
  // The requeued runs are claimable again: a new execution (a new attempt
  // number, so the fence tells it from the lost one) that still has the
  // task's whole retry budget.
  auto again = must(p::run_repo::claim(db, claim_by("node-b/1", 10)));
  BOOST_REQUIRE_EQUAL(again.size(), 2u);
  for (const auto& r : again) {
    BOOST_CHECK_EQUAL(r.attempt, 2);
    BOOST_CHECK_EQUAL(r.lost_leases, 1);
  }
}

BOOST_AUTO_TEST_CASE(requeue_expired_honours_its_limit) {
  for (int i = 0; i < 5; ++i) submit(a_run("fetch", 3));
  BOOST_CHECK_EQUAL(must(p::run_repo::claim(db, claim_by("node-a/1", 10))).size(), 5u);
  sql("UPDATE runs SET lease_expires_at = now() - interval '1 second'");
  BOOST_CHECK_EQUAL(must(p::run_repo::requeue_expired(db, 2, 3)), 2);
  BOOST_CHECK_EQUAL(must(p::run_repo::requeue_expired(db, 10, 3)), 3);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE status = 'pending'"), 5);
}

BOOST_AUTO_TEST_CASE(release_dead_incarnations_releases_only_earlier_incarnations_of_that_node) {
  std::vector<std::string> owners = {"node-a/old", "node-a/current", "other-node/x", "node-ab/old"};
  std::map<std::string, long long> by_owner;
  for (const auto& o : owners) {
    submit(a_run("fetch", 3));
    by_owner[o] = claim_one(o).id;
  }
  BOOST_CHECK_EQUAL(must(p::run_repo::release_dead_incarnations(db, "node-a", "node-a/current", 3)),
                    1);
  auto released = must(p::run_repo::get(db, by_owner["node-a/old"], false));
  BOOST_CHECK_EQUAL(released.status, "pending");
  BOOST_CHECK(released.error_code == std::optional<std::string>("lease_lost"));
  BOOST_CHECK_EQUAL(status_of(by_owner["node-a/current"]), "running");
  BOOST_CHECK_EQUAL(status_of(by_owner["other-node/x"]), "running");
  BOOST_CHECK_EQUAL(status_of(by_owner["node-ab/old"]), "running");
  BOOST_CHECK_EQUAL(scalar<std::string>("SELECT lease_owner FROM runs WHERE id = " +
                                        std::to_string(by_owner["other-node/x"])),
                    "other-node/x");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(cancel_and_retry, runs_db)

BOOST_AUTO_TEST_CASE(cancel_of_a_pending_run_cancels_it_at_once) {
  auto id = submit(a_run());
  auto out = must(p::run_repo::cancel(db, id));
  BOOST_CHECK(!out.was_running);
  BOOST_CHECK_EQUAL(out.run.status, "cancelled");
  BOOST_CHECK(out.run.finished_at);
  BOOST_CHECK(out.run.error_code == std::optional<std::string>("cancelled"));
  BOOST_CHECK(must(p::run_repo::claim(db, claim_by("n/1"))).empty());
}

BOOST_AUTO_TEST_CASE(cancel_of_a_running_run_flags_it_for_its_worker) {
  auto id = submit(a_run());
  auto c = claim_one("node-a/1");
  auto out = must(p::run_repo::cancel(db, id));
  BOOST_CHECK(out.was_running);
  BOOST_CHECK_EQUAL(out.run.status, "running");
  BOOST_CHECK(out.run.cancel_requested);
  BOOST_CHECK(!out.run.finished_at);
  // The worker then records the cancellation.
  auto x = done(c, "node-a/1", "cancelled");
  x.error_code = "cancelled";
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {x})).size(), 1u);
  BOOST_CHECK_EQUAL(status_of(id), "cancelled");
}

BOOST_AUTO_TEST_CASE(cancel_of_a_finished_run_is_a_conflict_and_of_an_unknown_run_not_found) {
  auto id = submit(a_run());
  auto c = claim_one("node-a/1");
  BOOST_CHECK_EQUAL(must(p::run_repo::complete(db, {done(c, "node-a/1")})).size(), 1u);
  auto r = p::run_repo::cancel(db, id);
  expect_error(r, errc::conflict);
  BOOST_CHECK(r.error().message.find("succeeded") != std::string::npos);
  BOOST_CHECK_EQUAL(status_of(id), "succeeded");
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs WHERE cancel_requested"), 0);
  expect_error(p::run_repo::cancel(db, 99999), errc::not_found);
}

BOOST_AUTO_TEST_CASE(retry_of_a_finished_run_creates_a_new_run_with_trigger_retry) {
  auto r = a_run("fetch", 2);
  r.params = {{"x", 1}};
  r.queue = "q2";
  r.priority = 4;
  r.task_version = 7;
  r.concurrency_limit = 3;
  auto id = submit(r);
  sql("UPDATE runs SET status = 'failed', finished_at = now() WHERE id = " + std::to_string(id));
  auto again = must(p::run_repo::retry(db, id));
  BOOST_CHECK_NE(again.id, id);
  BOOST_CHECK_EQUAL(again.trigger, "retry");
  BOOST_CHECK_EQUAL(again.status, "pending");
  BOOST_CHECK_EQUAL(again.attempt, 0);
  BOOST_CHECK_EQUAL(again.task, "fetch");
  BOOST_CHECK_EQUAL(again.task_version, 7);
  BOOST_CHECK_EQUAL(again.queue, "q2");
  BOOST_CHECK_EQUAL(again.priority, 4);
  BOOST_CHECK_EQUAL(again.max_attempts, 2);
  BOOST_CHECK(again.params == r.params);
  auto sid = std::to_string(again.id);
  BOOST_CHECK_EQUAL(scalar("SELECT retry_of FROM runs WHERE id = " + sid), id);
  BOOST_CHECK_EQUAL(scalar("SELECT concurrency_limit FROM runs WHERE id = " + sid), 3);
}

BOOST_AUTO_TEST_CASE(retry_of_an_active_run_is_a_conflict) {
  auto pending = submit(a_run());
  expect_error(p::run_repo::retry(db, pending), errc::conflict);
  claim_one("node-a/1");
  expect_error(p::run_repo::retry(db, pending), errc::conflict);
  expect_error(p::run_repo::retry(db, 99999), errc::not_found);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(housekeeping, runs_db)

BOOST_AUTO_TEST_CASE(counts_report_pending_and_running_by_queue) {
  auto in = [&](const std::string& q) {
    auto r = a_run();
    r.queue = q;
    return submit(r);
  };
  for (int i = 0; i < 3; ++i) in("default");
  auto q2 = in("q2");
  in("q2");
  in("q2");
  auto finished = in("q3");
  sql("UPDATE runs SET status = 'running' WHERE id = " + std::to_string(q2));
  sql("UPDATE runs SET status = 'succeeded' WHERE id = " + std::to_string(finished));
  auto c = must(p::run_repo::counts(db));
  BOOST_CHECK_EQUAL(c.pending, 5);
  BOOST_CHECK_EQUAL(c.running, 1);
  BOOST_CHECK_EQUAL(c.by_queue.size(), 2u);
  BOOST_CHECK_EQUAL(c.by_queue["default"].first, 3);
  BOOST_CHECK_EQUAL(c.by_queue["default"].second, 0);
  BOOST_CHECK_EQUAL(c.by_queue["q2"].first, 2);
  BOOST_CHECK_EQUAL(c.by_queue["q2"].second, 1);
  BOOST_CHECK(!c.by_queue.count("q3"));
}

BOOST_AUTO_TEST_CASE(prune_deletes_old_finished_runs_with_their_steps_and_logs_only) {
  auto old_done = submit(a_run());
  auto recent_done = submit(a_run());
  auto old_pending = submit(a_run());
  for (int i = 0; i < 2; ++i) {
    auto c = claim_one("node-a/1");
    auto x = done(c, "node-a/1");
    x.steps = {a_step(0, "main")};
    BOOST_REQUIRE_EQUAL(must(p::run_repo::complete(db, {x})).size(), 1u);
  }
  for (auto id : {old_done, recent_done, old_pending}) {
    BOOST_REQUIRE(p::log_repo::append(db, {{id, 1, now_ms(), "stdout", "main", "line"}}).ok());
  }
  sql("UPDATE runs SET finished_at = now() - interval '10 days' WHERE id = " +
      std::to_string(old_done));
  sql("UPDATE runs SET created_at = now() - interval '10 days' WHERE id = " +
      std::to_string(old_pending));

  BOOST_CHECK_EQUAL(must(p::run_repo::prune(db, millis(std::chrono::hours(24 * 7)), 100)), 1);
  expect_error(p::run_repo::get(db, old_done, true), errc::not_found);
  BOOST_CHECK_EQUAL(steps_of(old_done), 0);
  BOOST_CHECK_EQUAL(
      scalar("SELECT count(*) FROM run_logs WHERE run_id = " + std::to_string(old_done)), 0);
  BOOST_CHECK_EQUAL(must(p::run_repo::get(db, recent_done, true)).steps.size(), 1u);
  BOOST_CHECK_EQUAL(status_of(old_pending), "pending");
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM run_logs"), 2);
  BOOST_CHECK_EQUAL(must(p::run_repo::prune(db, millis(std::chrono::hours(24 * 7)), 100)), 0);
}

BOOST_AUTO_TEST_CASE(prune_honours_its_limit) {
  std::vector<long long> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(a_run()));
  for (int i = 0; i < 5; ++i) {
    sql("UPDATE runs SET status = 'succeeded', finished_at = now() - interval '" +
        std::to_string(10 + i) + " days' WHERE id = " + std::to_string(ids[i]));
  }
  auto keep = submit(a_run());
  sql("UPDATE runs SET status = 'failed', finished_at = now() WHERE id = " + std::to_string(keep));
  auto week = millis(std::chrono::hours(24 * 7));
  BOOST_CHECK_EQUAL(must(p::run_repo::prune(db, week, 2)), 2);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 4);
  BOOST_CHECK_EQUAL(must(p::run_repo::prune(db, week, 100)), 3);
  BOOST_CHECK_EQUAL(scalar("SELECT count(*) FROM runs"), 1);
  BOOST_CHECK_EQUAL(status_of(keep), "failed");
}

BOOST_AUTO_TEST_SUITE_END()
