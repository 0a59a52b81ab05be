#define BOOST_TEST_MODULE metrics
// What a node's /metrics says from its first scrape: the build, whether it
// leads the schedules, the label values known in advance at 0 (so rate() and
// absence-based alerts see a fresh node), and API requests timed by route
// template and status class, never by path.
#include <boost/test/unit_test.hpp>
#include <regex>

#include "support/harness.hpp"

using namespace orch::test;
using json = nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The value of the sample `series` (name with its labels, as printed), or -1.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_fresh_node_exports_its_build_its_leadership_and_known_labels_at_zero) {
  server srv({{"DATABASE_URL", fresh_database()}});
  srv.start_ready();
  client c(srv.url());
  auto m = c.get("/metrics").body;
  BOOST_TEST(sample(m, "orchestrator_build_info{version=\"" +
                           c.get("/health").js()["version"].get<std::string>() + "\"}") == 1,
             m);
  // The only scheduler leads once it is ready.
  BOOST_TEST(sample(m, "orchestrator_scheduler_leader") == 1);
  for (const char* status : {"succeeded", "failed", "cancelled", "retrying"})
    BOOST_TEST(sample(m, std::string("orchestrator_tasks_total{status=\"") + status + "\"}") == 0,
               status);
  BOOST_TEST(sample(m, "orchestrator_worker_errors_total{code=\"exit_status\"}") == 0);
  BOOST_TEST(sample(m, "orchestrator_pipeline_steps_total{status=\"failed\"}") == 0);
  for (const char* actor : {"dispatcher", "recorder", "worker_pool", "scheduler", "worker"})
    BOOST_TEST(
        sample(m, std::string("orchestrator_actor_restarts_total{actor=\"") + actor + "\"}") == 0,
        actor);
  BOOST_TEST(sample(m, "orchestrator_actor_messages_total{actor=\"submitter\"}") >= 0);
}

BOOST_AUTO_TEST_CASE(a_node_that_does_not_lead_says_0) {
  auto db = fresh_database();
  server leader({{"DATABASE_URL", db}});
  leader.start_ready();
  server standby({{"DATABASE_URL", db}, {"NODE_ROLES", "scheduler"}});
  standby.start_ready();
  BOOST_TEST(sample(client(leader.url()).get("/metrics").body, "orchestrator_scheduler_leader") ==
             1);
  BOOST_TEST(sample(client(standby.url()).get("/metrics").body, "orchestrator_scheduler_leader") ==
             0);
}

BOOST_AUTO_TEST_CASE(requests_are_timed_by_route_template_and_status_class) {
  server srv({{"DATABASE_URL", fresh_database()}});
  srv.start_ready();
  client c(srv.url());
  for (int i = 0; i < 3; ++i) BOOST_TEST(c.get("/v1/nodes").status == 200);
  BOOST_TEST(c.get("/v1/runs/00000000-0000-0000-0000-000000000001").status == 404);
  BOOST_TEST(c.get("/v1/runs/00000000-0000-0000-0000-000000000002").status == 404);
  BOOST_TEST(c.get("/no/such/path").status == 404);
  auto m = c.get("/metrics").body;
  BOOST_TEST(sample(m,
                    "orchestrator_http_request_duration_seconds_count{route=\"/v1/nodes\","
                    "status_class=\"2xx\"}") == 3,
             m);
  // Two paths, one route: the run ids never become label values.
  std::smatch hit;
  BOOST_REQUIRE(std::regex_search(
      m, hit,
      std::regex("orchestrator_http_request_duration_seconds_count\\{route=\"(/v1/runs/[^\"]*)\","
                 "status_class=\"4xx\"\\} 2")));
  BOOST_TEST(!has(hit[1].str(), "0000"), hit[1].str());
  BOOST_TEST(!has(m, "00000000-0000"));
  // Answered before any route matched.
  BOOST_TEST(sample(m,
                    "orchestrator_http_request_duration_seconds_count{route=\"none\","
                    "status_class=\"4xx\"}") == 1);
  // A duration is a duration: the sum is positive and small.
  auto sum = sample(m,
                    "orchestrator_http_request_duration_seconds_sum{route=\"/v1/nodes\","
                    "status_class=\"2xx\"}");
  BOOST_TEST(sum > 0);
  BOOST_TEST(sum < 30);
}

BOOST_AUTO_TEST_CASE(each_actor_handler_counts_and_times_its_messages) {
  server srv({{"DATABASE_URL", fresh_database()}});
  srv.start_ready();
  auto c = srv.http();
  const std::string worker_count =
      "orchestrator_actor_processing_seconds_count{actor=\"worker\",message=\"run_assignment\"}";
  // Exported at 0 before the first run.
  BOOST_TEST(sample(c.get("/metrics").body, worker_count) == 0);
  json task = {
      {"steps", json::array({{{"name", "nap"}, {"exec", {{"command", {"/bin/sleep", "0.2"}}}}}})}};
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/nap", task).status, 201);
  auto sub = c.post("/v1/tasks/nap/runs", json::object());
  BOOST_REQUIRE_EQUAL(sub.status, 201);
  BOOST_TEST(wait_terminal(c, sub.js()["id"].get<std::string>())["status"] == "succeeded");
  auto m = c.get("/metrics").body;
  BOOST_TEST(sample(m, worker_count) == 1, m);
  // The worker's handler ran the step: at least its 0.2 s.
  BOOST_TEST(sample(m,
                    "orchestrator_actor_processing_seconds_sum{actor=\"worker\",message=\"run_"
                    "assignment\"}") >= 0.2);
  BOOST_TEST(sample(m,
                    "orchestrator_actor_processing_seconds_count{actor=\"submitter\",message="
                    "\"submit\"}") >= 1);
  BOOST_TEST(sample(m, "orchestrator_actor_messages_total{actor=\"worker\"}") == 1);
}
