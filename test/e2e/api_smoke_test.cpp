#define BOOST_TEST_MODULE api_smoke
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"

using namespace orch::test;

BOOST_AUTO_TEST_CASE(a_submitted_pipeline_runs_to_success_with_its_step_results) {
  server srv({{"DATABASE_URL", fresh_database()}});
  srv.start_ready();
  auto c = srv.http();
  json task = {
      {"params", {{"who", "world"}}},
      {"steps",
       json::array(
           {{{"name", "say"}, {"exec", {{"command", {"/bin/echo", "hello {{ params.who }}"}}}}},
            {{"name", "wrap"}, {"template", {{"value", {{"text", "{{ steps.say.output }}"}}}}}}})}};
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/greet", task).status, 201);
  auto sub = c.post("/v1/tasks/greet/runs", {{"params", {{"who", "tests"}}}});
  BOOST_REQUIRE_EQUAL(sub.status, 201);
  auto run = wait_terminal(c, sub.js()["id"].get<std::string>());
  BOOST_TEST(run["status"] == "succeeded");
  BOOST_REQUIRE_EQUAL(run["steps"].size(), 2u);
  BOOST_TEST(run["steps"][0]["output"] == "hello tests\n");
  BOOST_TEST(run["steps"][0]["exit_code"] == 0);
  BOOST_TEST(json::parse(run["output"].get<std::string>())["text"] == "hello tests\n");
}
