#define BOOST_TEST_MODULE process_group
#include <sys/prctl.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>

#include "support/harness.hpp"

// Exec steps run in their own process group: a timeout or a cancel kills the
// whole group (SIGTERM, then SIGKILL after KILL_GRACE), and failed attempts are
// retried with exponential backoff until max_attempts is used up.

using namespace orch::test;

namespace {

/// The test adopts orphans, so a killed grandchild is reaped here and
/// kill(pid, 0) tells the truth even when PID 1 does not reap zombies.
struct subreaper {
  subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
};
BOOST_TEST_GLOBAL_FIXTURE(subreaper);

std::string pid_file(const std::string& tag) {
  static int n = 0;
  auto path =
      "/tmp/orch-pg-" + std::to_string(::getpid()) + "-" + tag + "-" + std::to_string(n++) + ".pid";
  std::remove(path.c_str());
  return path;
}

/// A step whose shell starts a grandchild that ignores SIGTERM, writes its pid
/// to `file` and sleeps; the shell waits for it.
json stubborn_step(const std::string& file) {
  // Single quotes: $$ is the grandchild's pid, not the outer shell's.
  std::string grandchild = "trap \"\" TERM; echo $$ > " + file + "; exec sleep 300";
  return {{"name", "main"},
          {"exec", {{"command", {"/bin/sh", "-c", "/bin/sh -c '" + grandchild + "' & wait"}}}}};
}

std::map<std::string, std::string> env(const std::string& url) {
  return {{"DATABASE_URL", url},
          {"KILL_GRACE", "1s"},
          {"POLL_INTERVAL", "100ms"},
          {"NODE_NAME", "pgroup"}};
}

std::string submit(const client& c, const std::string& task) {
  auto r = c.post("/v1/tasks/" + task + "/runs", json::object());
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.js()["id"].get<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_step_timeout_kills_the_whole_group_including_a_grandchild_ignoring_sigterm) {
  server srv(env(fresh_database()));
  srv.start_ready();
  auto c = srv.http();
  auto file = pid_file("timeout");
  auto step = stubborn_step(file);
  step["timeout"] = "2s";
  json task = {{"steps", json::array({step})}, {"retry", {{"max_attempts", 1}}}};
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/stubborn", task).status, 201);
  auto id = submit(c, "stubborn");

  std::optional<pid_t> grandchild;
  BOOST_REQUIRE(eventually([&] { return (grandchild = read_pid(file)).has_value(); }, 10s));
  BOOST_TEST(!gone(*grandchild));

  auto run = wait_terminal(c, id, 20s);
  BOOST_TEST(run["status"] == "failed");
  BOOST_TEST(run["error"]["code"] == "timeout");
  BOOST_TEST(run["steps"][0]["error"]["code"] == "timeout");
  BOOST_TEST(eventually([&] { return gone(*grandchild); }, 5s),
             "grandchild " << *grandchild << " survived the timeout");
  // It ignored SIGTERM, so it took the SIGKILL after the grace to end it.
  auto logs = c.get("/v1/runs/" + id + "/logs").body;
  BOOST_TEST(logs.find("SIGKILL") != std::string::npos, logs);
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(cancelling_a_running_run_kills_its_whole_process_group) {
  server srv(env(fresh_database()));
  srv.start_ready();
  auto c = srv.http();
  auto file = pid_file("cancel");
  json task = {{"steps", json::array({stubborn_step(file)})}, {"retry", {{"max_attempts", 3}}}};
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/stubborn", task).status, 201);
  auto id = submit(c, "stubborn");

  std::optional<pid_t> grandchild;
  BOOST_REQUIRE(eventually([&] { return (grandchild = read_pid(file)).has_value(); }, 10s));
  auto cancel = c.post("/v1/runs/" + id + "/cancel", json::object());
  BOOST_REQUIRE_MESSAGE(cancel.status == 202, cancel.body);

  auto run = wait_terminal(c, id, 20s);
  BOOST_TEST(run["status"] == "cancelled");
  BOOST_TEST(run["attempt"] == 1, "a cancel is not retried");
  BOOST_TEST(eventually([&] { return gone(*grandchild); }, 5s),
             "grandchild " << *grandchild << " survived the cancel");
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(a_failing_run_is_retried_with_backoff_and_ends_failed_with_the_last_error) {
  auto url = fresh_database();
  server srv(env(url));
  srv.start_ready();
  auto c = srv.http();
  json task = {
      {"steps",
       json::array(
           {{{"name", "main"},
             {"exec",
              {{"command", {"/bin/sh", "-c", "echo \"boom $ORCH_ATTEMPT\" >&2; exit 1"}}}}}})},
      {"retry",
       {{"max_attempts", 3},
        {"initial_delay", "1s"},
        {"multiplier", 2},
        {"max_delay", "10s"},
        {"jitter", false}}}};
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/flaky", task).status, 201);
  auto id = submit(c, "flaky");

  auto run = wait_terminal(c, id, 30s);
  BOOST_TEST(run["status"] == "failed");
  BOOST_TEST(run["attempt"] == 3);
  BOOST_TEST(run["max_attempts"] == 3);
  BOOST_TEST(run["error"]["code"] == "exit_status");
  auto message = run["error"]["message"].get<std::string>();
  BOOST_TEST(message.find("boom 3") != std::string::npos, message);

  // One step row per attempt, each attempt waiting the backoff after the last:
  // 1 s after attempt 1, 2 s after attempt 2 (poll interval 100 ms on top).
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  auto rows = tx.exec_params(
      "SELECT attempt, extract(epoch FROM started_at)::float8, "
      "extract(epoch FROM finished_at)::float8, status FROM run_steps "
      "WHERE run_id = $1 ORDER BY attempt",
      std::stoll(id));
  BOOST_REQUIRE_EQUAL(rows.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(rows[i][0].as<int>() == i + 1);
    BOOST_TEST(rows[i][3].as<std::string>() == "failed");
  }
  double gap1 = rows[1][1].as<double>() - rows[0][2].as<double>();
  double gap2 = rows[2][1].as<double>() - rows[1][2].as<double>();
  BOOST_TEST(gap1 >= 0.99);
  BOOST_TEST(gap1 < 2.0);
  BOOST_TEST(gap2 >= 1.99);
  BOOST_TEST(gap2 < 3.0);
}
