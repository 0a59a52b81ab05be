#define BOOST_TEST_MODULE shutdown
#include <sys/prctl.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>

#include "support/harness.hpp"

// Guarantee 5: SIGTERM makes readiness 503 and stops intake, in-flight runs get
// SHUTDOWN_GRACE to finish, the rest are released to pending without using up
// an attempt, and the process exits 0.

using namespace orch::test;

namespace {

/// Orphaned step processes are adopted and reaped here, so kill(pid, 0) is exact.
struct subreaper {
  subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
};
BOOST_TEST_GLOBAL_FIXTURE(subreaper);

/// A fresh directory for the steps' pid files, removed at the end of the test.
struct pid_dir {
  std::string path;
  pid_dir() {
    static int n = 0;
    path = "/tmp/orch-shutdown-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    run_command({"/bin/rm", "-rf", path}, {}, nullptr);
    run_command({"/bin/mkdir", "-p", path}, {}, nullptr);
  }
  ~pid_dir() { run_command({"/bin/rm", "-rf", path}, {}, nullptr); }
  pid_dir(const pid_dir&) = delete;
  pid_dir& operator=(const pid_dir&) = delete;
};

/// A task whose step writes its pid to `dir`/<run id>.pid, then sleeps `seconds`.
json sleeper(const std::string& dir, const std::string& seconds) {
  return exec_task(
      {"/bin/sh", "-c", "echo $$ > " + dir + "/$ORCH_RUN_ID.pid; exec sleep " + seconds}, 1);
}

std::string submit(const client& c, const std::string& task) {
  auto r = c.post("/v1/tasks/" + task + "/runs", json::object());
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.js()["id"].get<std::string>();
}

/// While draining: not ready, and a submission is refused with 503 and Retry-After.
void require_intake_stopped(const client& c, const std::string& task) {
  BOOST_TEST(eventually([&] { return c.get("/ready").status == 503; }, 5s));
  auto r = c.post("/v1/tasks/" + task + "/runs", json::object());
  BOOST_TEST(r.status == 503, r.body);
  BOOST_TEST(r.headers.count("retry-after") == 1u);
}

struct run_row {
  std::string status;
  int attempt = 0;
  bool leased = false;
};

run_row read_run(const std::string& url, const std::string& id) {
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  auto r = tx.exec_params("SELECT status, attempt, lease_owner IS NOT NULL FROM runs WHERE id = $1",
                          std::stoll(id));
  BOOST_REQUIRE_EQUAL(r.size(), 1u);
  return {r[0][0].as<std::string>(), r[0][1].as<int>(), r[0][2].as<bool>()};
}

long long count_runs(const std::string& url) {
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  return tx.exec("SELECT count(*) FROM runs")[0][0].as<long long>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigterm_lets_an_in_flight_run_finish_within_the_grace_and_exits_zero) {
  auto url = fresh_database();
  pid_dir pids_in;
  const auto& dir = pids_in.path;
  server srv({{"DATABASE_URL", url}, {"SHUTDOWN_GRACE", "20s"}, {"POLL_INTERVAL", "100ms"}});
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/short", sleeper(dir, "2")).status, 201);
  auto id = submit(c, "short");
  BOOST_REQUIRE(eventually([&] { return read_pid(dir + "/" + id + ".pid").has_value(); }));

  auto sent = std::chrono::steady_clock::now();
  srv.kill(SIGTERM);
  require_intake_stopped(c, "short");
  BOOST_TEST(srv.wait_exit(30s) == 0, srv.log());
  auto took = std::chrono::steady_clock::now() - sent;

  // It exited once the run was done, not at the end of the 20 s grace.
  BOOST_TEST(took < 15s);
  auto run = read_run(url, id);
  BOOST_TEST(run.status == "succeeded");
  BOOST_TEST(run.attempt == 1);
  BOOST_TEST(count_runs(url) == 1, "the refused submission created nothing");
}

BOOST_AUTO_TEST_CASE(sigterm_releases_runs_still_active_after_the_grace_without_using_an_attempt) {
  auto url = fresh_database();
  pid_dir pids_in;
  const auto& dir = pids_in.path;
  std::map<std::string, std::string> env = {{"DATABASE_URL", url},      {"SHUTDOWN_GRACE", "2s"},
                                            {"KILL_GRACE", "1s"},       {"WORKER_CONCURRENCY", "2"},
                                            {"POLL_INTERVAL", "100ms"}, {"NODE_NAME", "draining"}};
  server srv(env);
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/long", sleeper(dir, "300")).status, 201);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(c, "long"));
  // Two execute; the third waits in the pool's queue.
  std::vector<pid_t> pids;
  BOOST_REQUIRE(eventually([&] {
    pids.clear();
    for (const auto& id : ids) {
      if (auto p = read_pid(dir + "/" + id + ".pid")) pids.push_back(*p);
    }
    return pids.size() == 2;
  }));
  BOOST_REQUIRE(eventually([&] { return c.get("/v1/queue").js()["running"] == 3; }));

  auto sent = std::chrono::steady_clock::now();
  srv.kill(SIGTERM);
  require_intake_stopped(c, "long");
  BOOST_TEST(srv.wait_exit(30s) == 0, srv.log());
  auto took = std::chrono::steady_clock::now() - sent;
  BOOST_TEST(took >= 1900ms, "the in-flight runs got their grace");

  for (auto pid : pids) BOOST_TEST(eventually([&] { return gone(pid); }, 5s), "pid " << pid);
  for (const auto& id : ids) {
    auto run = read_run(url, id);
    BOOST_TEST(run.status == "pending", "run " << id);
    BOOST_TEST(run.attempt == 0, "run " << id << " was charged an attempt");
    BOOST_TEST(!run.leased, "run " << id);
  }
  BOOST_TEST(count_runs(url) == 3);

  // Nothing was lost: the next start picks every run up again, as attempt 1.
  srv.start_ready();
  BOOST_TEST(eventually(
      [&] {
        int running = 0;
        for (const auto& id : ids) {
          auto r = c.get("/v1/runs/" + id).js();
          if (r["status"] == "running" && r["attempt"] == 1) ++running;
        }
        return running == 3;  // two execute, one waits in the pool
      },
      15s));
  for (const auto& id : ids) c.post("/v1/runs/" + id + "/cancel", json::object());
  for (const auto& id : ids) BOOST_TEST(wait_terminal(c, id, 15s)["status"] == "cancelled");
}
