#define BOOST_TEST_MODULE supervision
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"

// Guarantee 6: an actor that throws is restarted by its supervisor without
// losing the work it held; a restart storm escalates, and at the root the node
// exits non-zero. Crashes are injected through POST /v1/debug/crash/{actor}.

using namespace orch::test;

namespace {

std::map<std::string, std::string> fault_env() {
  return {{"DATABASE_URL", fresh_database()},
          {"ORCH_FAULT_INJECTION", "1"},
          {"WORKER_CONCURRENCY", "2"},
          {"POLL_INTERVAL", "100ms"},
          {"LEASE_TIMEOUT", "3s"},
          {"KILL_GRACE", "1s"},
          {"NODE_NAME", "supervision"}};
}

std::string restarts_of(const std::string& actor) {
  return "orchestrator_actor_restarts_total{actor=\"" + actor + "\"}";
}

/// Makes `actor` throw, retrying while it is between incarnations, until the
/// supervisor counts a failure in `series`.
void crash(const client& c, const std::string& actor, const std::string& series) {
  double before = metric(c, series);
  bool counted = eventually(
      [&] {
        if (c.request("POST", "/v1/debug/crash/" + actor).status != 202) return false;
        return eventually([&] { return metric(c, series) > before; }, 3s);
      },
      30s);
  BOOST_REQUIRE_MESSAGE(counted, "crash of '" + actor + "' was not counted in " + series);
}

void put_task(const client& c, const std::string& name, const std::string& script,
              int max_attempts) {
  auto r = c.put("/v1/tasks/" + name, exec_task({"/bin/sh", "-c", script}, max_attempts));
  BOOST_REQUIRE_MESSAGE(r.status == 200 || r.status == 201, r.body);
}

std::string submit(const client& c, const std::string& task) {
  auto r = c.post("/v1/tasks/" + task + "/runs", json::object());
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.js()["id"].get<std::string>();
}

long long running_runs(const client& c) {
  auto r = c.get("/v1/queue");
  return r.status == 200 ? r.js()["running"].get<long long>() : -1;
}

void require_all_succeed(const client& c, const std::vector<std::string>& ids,
                         std::chrono::milliseconds timeout = 40s) {
  for (const auto& id : ids) {
    auto run = wait_terminal(c, id, timeout);
    BOOST_TEST(run["status"] == "succeeded", "run " << id << ": " << run.dump());
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_crashed_worker_pool_is_restarted_and_the_runs_it_held_still_succeed) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  // One attempt only: a run the pool held must not be charged for the crash.
  put_task(c, "nap", "sleep 1", 1);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit(c, "nap"));
  BOOST_REQUIRE(eventually([&] { return running_runs(c) == 6; }, 10s));  // 2 busy, 4 queued

  crash(c, "pool", restarts_of("worker_pool"));

  require_all_succeed(c, ids);
  // The restarted pool is reachable: new work still gets done.
  require_all_succeed(c, {submit(c, "nap")});
  BOOST_TEST(srv.running());
}

BOOST_AUTO_TEST_CASE(
    a_worker_stuck_past_its_runs_timeout_and_grace_is_replaced_and_the_run_retried) {
  auto env = fault_env();
  env["KILL_GRACE"] = "0s";
  env["WORKER_CONCURRENCY"] = "1";
  server srv(env);
  srv.start_ready();
  auto c = srv.http();
  auto task = exec_task({"/bin/sh", "-c", "echo ok"}, 2);
  task["timeout"] = "1s";
  BOOST_REQUIRE(c.put("/v1/tasks/hang", task).status / 100 == 2);
  double before = metric(c, restarts_of("worker"));
  BOOST_REQUIRE_EQUAL(c.request("POST", "/v1/debug/stall/worker").status, 202);
  auto id = submit(c, "hang");

  // The only worker blocks for a minute; its deadline is the task's timeout
  // (1 s) plus KILL_GRACE (0) plus 10 s. A replacement runs attempt 2.
  auto run = wait_terminal(c, id, 40s);
  BOOST_TEST(run["status"] == "succeeded", run.dump());
  BOOST_TEST(run["attempt"] == 2);
  BOOST_TEST(metric(c, restarts_of("worker")) == before + 1);
  BOOST_TEST(srv.log().find("stuck on run " + id) != std::string::npos);
  BOOST_TEST(srv.running());
}

BOOST_AUTO_TEST_CASE(a_crashed_dispatcher_is_restarted_without_disturbing_running_runs) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "nap", "sleep 1", 1);
  std::vector<std::string> ids = {submit(c, "nap"), submit(c, "nap")};
  BOOST_REQUIRE(eventually([&] { return running_runs(c) == 2; }, 10s));

  crash(c, "dispatcher", restarts_of("dispatcher"));

  for (int i = 0; i < 3; ++i) ids.push_back(submit(c, "nap"));
  require_all_succeed(c, ids);
  // The pool was not restarted, so its leases stayed valid: no attempt was lost.
  for (const auto& id : ids) BOOST_TEST(c.get("/v1/runs/" + id).js()["attempt"] == 1);
}

BOOST_AUTO_TEST_CASE(a_crashed_recorder_is_restarted_and_every_run_still_finishes) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "nap", "sleep 1", 3);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit(c, "nap"));
  BOOST_REQUIRE(eventually([&] { return running_runs(c) == 4; }, 10s));

  crash(c, "recorder", restarts_of("recorder"));

  ids.push_back(submit(c, "nap"));
  require_all_succeed(c, ids);
  for (const auto& id : ids) {
    auto steps = c.get("/v1/runs/" + id).js()["steps"];
    // Only the successful attempt left step rows: one set, recorded once.
    BOOST_TEST(steps.size() == 1u, "run " << id << ": " << steps.dump());
  }
}

BOOST_AUTO_TEST_CASE(a_crashed_scheduler_is_restarted_and_schedules_keep_firing) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "tick", "true", 1);
  auto s = c.put("/v1/schedules/every-second", {{"task", "tick"}, {"cron", "* * * * * *"}});
  BOOST_REQUIRE_MESSAGE(s.status == 201, s.body);
  auto fired = [&] {
    auto r = c.get("/v1/runs?task=tick&limit=500");
    return r.status == 200 ? r.js()["items"].size() : 0u;
  };
  BOOST_REQUIRE(eventually([&] { return fired() >= 2; }, 10s));

  crash(c, "scheduler", restarts_of("scheduler"));
  auto after_crash = fired();

  BOOST_TEST(eventually([&] { return fired() >= after_crash + 2; }, 10s));
  BOOST_TEST(eventually([&] {
    auto h = c.get("/health");
    return h.status == 200 && h.js()["checks"]["scheduler"] == true && h.js()["leader"] == true;
  }));
  BOOST_TEST(metric(c, restarts_of("scheduler")) == 1);
}

BOOST_AUTO_TEST_CASE(a_restart_storm_in_the_engine_escalates_to_the_root_which_restarts_it) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "nap", "sleep 0.2", 1);
  // The engine allows 5 restarts in 30 s; the 6th failure escalates.
  for (int i = 0; i < 5; ++i) crash(c, "pool", restarts_of("worker_pool"));
  BOOST_TEST(metric(c, restarts_of("engine")) == 0);
  crash(c, "pool", restarts_of("engine"));
  BOOST_TEST(metric(c, restarts_of("worker_pool")) == 5);

  // The root restarted the whole engine: the node keeps working.
  BOOST_TEST(srv.running());
  require_all_succeed(c, {submit(c, "nap"), submit(c, "nap")});
}

BOOST_AUTO_TEST_CASE(a_restart_storm_at_the_root_makes_the_process_exit_non_zero) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  // The root allows 3 restarts in 60 s; the 4th failure gives up.
  for (int i = 0; i < 3; ++i) crash(c, "scheduler", restarts_of("scheduler"));
  BOOST_REQUIRE(srv.running());
  int code = -1;
  BOOST_REQUIRE(eventually(
      [&] {
        c.request("POST", "/v1/debug/crash/scheduler");
        return (code = srv.wait_exit(3s)) != -1;
      },
      30s));
  BOOST_TEST(code == 3, "log:\n" << srv.log());
  BOOST_TEST(srv.log().find("supervision gave up") != std::string::npos);
}

namespace {

/// Submits a run of `task` until the submitter takes it (it may be between
/// incarnations right after a crash); the run's id.
std::string submit_once_restarted(const client& c, const std::string& task) {
  std::string id;
  bool created = eventually(
      [&] {
        auto r = c.post("/v1/tasks/" + task + "/runs", json::object());
        if (r.status != 201) return false;
        id = r.js()["id"].get<std::string>();
        return true;
      },
      10s);
  BOOST_REQUIRE_MESSAGE(created, "no submission was answered 201 after the restart");
  return id;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_crashed_submitter_is_restarted_and_submissions_are_answered_again) {
  server srv(fault_env());
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "quick", "true", 1);

  crash(c, "submitter", restarts_of("submitter"));

  auto id = submit_once_restarted(c, "quick");
  require_all_succeed(c, {id, submit(c, "quick")});
  BOOST_TEST(c.get("/v1/runs/" + id).status == 200);
  BOOST_TEST(metric(c, restarts_of("submitter")) == 1);
  BOOST_TEST(srv.running());
}

BOOST_AUTO_TEST_CASE(a_crashed_api_executor_is_restarted_and_requests_are_answered_again) {
  auto env = fault_env();
  env["API_WORKERS"] = "1";  // the only one: nothing else could answer for it
  server srv(env);
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "quick", "true", 1);

  crash(c, "api_executor", restarts_of("api_executor"));

  BOOST_TEST(eventually([&] { return c.get("/v1/tasks/quick").status == 200; }, 10s));
  auto id = submit_once_restarted(c, "quick");
  require_all_succeed(c, {id});
  BOOST_TEST(c.get("/v1/runs?task=quick").status == 200);
  BOOST_TEST(metric(c, restarts_of("api_executor")) == 1);
  BOOST_TEST(srv.running());
}
