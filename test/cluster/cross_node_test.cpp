#define BOOST_TEST_MODULE cross_node
#include <sys/prctl.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>

#include "cluster/cluster_harness.hpp"

// Roles on separate nodes: an api-only node takes requests, a dispatcher and
// scheduler node hands out work, a worker-only node executes it. Everything a
// client does through the api node (submit, read logs, cancel) reaches the
// node where the run executes.

using namespace orch::test;

namespace {

/// The test adopts orphans, so a killed grandchild is reaped here and
/// kill(pid, 0) tells the truth even when PID 1 does not reap zombies.
struct subreaper {
  subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
};
BOOST_TEST_GLOBAL_FIXTURE(subreaper);

/// front: api only; core: scheduler and dispatcher; back (on demand): worker only.
struct three_tier {
  cluster c;
  client front;

  three_tier() : front("") {
    c.start("front", "api");
    c.start("core", "scheduler,dispatcher");
    front = c.api("front");
  }
  void start_worker() {
    c.start("back", "worker");
    BOOST_REQUIRE_MESSAGE(c.wait_peers("front", 2), "front does not see both other nodes");
    BOOST_REQUIRE(c.wait_listed_up("front", {"front", "core", "back"}));
  }
  std::string submit(const std::string& task) {
    auto r = front.post("/v1/tasks/" + task + "/runs", json::object());
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.js()["id"].get<std::string>();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(health_on_the_api_node_is_unhealthy_until_a_worker_node_is_up, three_tier) {
  // Before any worker: the database and a scheduler leader are there, workers not.
  json health;
  long status = 0;
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              auto r = front.get("/health");
                              status = r.status;
                              if (status != 200 && status != 503) return false;
                              health = r.js();
                              return health.contains("checks") && health["checks"].is_object() &&
                                     health["checks"].value("scheduler", false);
                            },
                            15s),
                        "no scheduler leader seen from front: " << health.dump());
  BOOST_TEST(status == 503);
  BOOST_TEST(health["status"] == "unhealthy");
  BOOST_TEST(health["checks"]["database"] == true);
  BOOST_TEST(health["checks"]["workers"] == false);
  BOOST_TEST(health["node"] == "front");
  BOOST_TEST(health["leader"] == false, "an api-only node cannot lead the schedulers");

  start_worker();
  BOOST_TEST(eventually([&] { return front.get("/health").status == 200; }, 15s),
             front.get("/health").body);
  health = front.get("/health").js();
  BOOST_TEST(health["status"] == "healthy");
  BOOST_TEST(health["checks"]["workers"] == true);
  BOOST_TEST(health["checks"]["scheduler"] == true);
}

BOOST_FIXTURE_TEST_CASE(a_run_submitted_on_the_api_node_executes_on_the_worker_node, three_tier) {
  start_worker();
  BOOST_REQUIRE_EQUAL(front
                          .put("/v1/tasks/where",
                               exec_task({"/bin/sh", "-c", "printf 'run %s' \"$ORCH_RUN_ID\""}, 1))
                          .status,
                      201);
  auto id = submit("where");
  auto run = wait_terminal(front, id, 30s);
  BOOST_TEST(run["status"] == "succeeded", run.dump());
  BOOST_TEST(run["node"] == "back");
  BOOST_TEST(run["output"] == "run " + id);
  BOOST_TEST(run["steps"][0]["status"] == "succeeded");
}

BOOST_FIXTURE_TEST_CASE(logs_of_a_running_run_are_readable_through_the_api_node_before_it_ends,
                        three_tier) {
  start_worker();
  BOOST_REQUIRE_EQUAL(
      front
          .put("/v1/tasks/chatty",
               exec_task({"/bin/sh", "-c", "echo \"hello from $ORCH_RUN_ID\" >&2; exec sleep 60"},
                         1))
          .status,
      201);
  auto id = submit("chatty");
  const std::string line = "hello from " + id;
  bool seen_while_running = false;
  BOOST_TEST(eventually(
                 [&] {
                   auto logs = front.get("/v1/runs/" + id + "/logs");
                   if (logs.status != 200 || logs.body.find(line) == std::string::npos)
                     return false;
                   // The line is there and the run has not ended: read while it runs.
                   auto run = front.get("/v1/runs/" + id).js();
                   seen_while_running = run["status"] == "running";
                   return true;
                 },
                 20s),
             "the step's line never showed up: " << front.get("/v1/runs/" + id + "/logs").body);
  BOOST_TEST(seen_while_running);
  auto logs = front.get("/v1/runs/" + id + "/logs").js();
  bool found = false;
  for (const auto& item : logs["items"]) {
    if (item["line"] == line) {
      found = true;
      BOOST_TEST(item["stream"] == "stderr");
      BOOST_TEST(item["step"] == "main");
    }
  }
  BOOST_TEST(found, logs.dump());
  BOOST_TEST(front.post("/v1/runs/" + id + "/cancel", json::object()).status == 202);
  BOOST_TEST(wait_terminal(front, id, 20s)["status"] == "cancelled");
}

BOOST_FIXTURE_TEST_CASE(cancel_through_the_api_node_kills_the_process_group_on_the_worker_node,
                        three_tier) {
  start_worker();
  auto file = "/tmp/orch-cluster-cancel-" + std::to_string(::getpid()) + ".pid";
  std::remove(file.c_str());
  // The step's shell starts a grandchild that ignores SIGTERM, writes its pid
  // and sleeps; only a SIGKILL to the whole group ends it.
  std::string grandchild = "trap \"\" TERM; echo $$ > " + file + "; exec sleep 300";
  json task = {
      {"steps",
       json::array(
           {{{"name", "main"},
             {"exec",
              {{"command", {"/bin/sh", "-c", "/bin/sh -c '" + grandchild + "' & wait"}}}}}})},
      {"retry", {{"max_attempts", 3}}}};
  BOOST_REQUIRE_EQUAL(front.put("/v1/tasks/stubborn", task).status, 201);
  auto id = submit("stubborn");

  std::optional<pid_t> pid;
  BOOST_REQUIRE(eventually([&] { return (pid = read_pid(file)).has_value(); }, 20s));
  BOOST_TEST(!gone(*pid));
  auto run = front.get("/v1/runs/" + id).js();
  BOOST_TEST(run["status"] == "running");
  BOOST_TEST(run["node"] == "back");

  auto cancel = front.post("/v1/runs/" + id + "/cancel", json::object());
  BOOST_REQUIRE_MESSAGE(cancel.status == 202, cancel.body);
  run = wait_terminal(front, id, 20s);
  BOOST_TEST(run["status"] == "cancelled", run.dump());
  BOOST_TEST(run["attempt"] == 1, "a cancel is not retried");
  BOOST_TEST(eventually([&] { return gone(*pid); }, 5s),
             "grandchild " << *pid << " survived the cancel");
  std::remove(file.c_str());
}
