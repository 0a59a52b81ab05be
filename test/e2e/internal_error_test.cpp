// A bug in an API call (an exception) answers 500 internal at once, with a
// request id and without the exception's text, which goes to the log; the
// executor that ran the call keeps serving. Every response names its request
// id in X-Request-Id, the client's own when it sent a sane one.
#define BOOST_TEST_MODULE internal_error
#include <boost/test/unit_test.hpp>
#include <set>

#include "support/harness.hpp"

using namespace orch::test;

namespace {

/// A node with fault injection and a single API executor, so the request after
/// the failing one runs on the same executor.
std::map<std::string, std::string> one_executor_env() {
  return {{"DATABASE_URL", fresh_database()},
          {"ORCH_FAULT_INJECTION", "1"},
          {"API_WORKERS", "1"},
          {"NODE_NAME", "internal-error"}};
}

const std::string injected_text = "injected failure in an API call";

/// The X-Request-Id of a response; empty when it has none.
std::string request_id(const response& r) {
  auto it = r.headers.find("x-request-id");
  return it == r.headers.end() ? std::string() : it->second;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_exception_in_an_api_call_answers_500_at_once_with_a_request_id) {
  server srv(one_executor_env());
  srv.start_ready();
  auto c = srv.http();

  auto started = std::chrono::steady_clock::now();
  auto r = c.request("POST", "/v1/debug/throw");
  auto took = std::chrono::steady_clock::now() - started;

  BOOST_TEST(r.status == 500, "status " << r.status << ", body " << r.body);
  BOOST_TEST(took < 2s, "answered after "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                            << " ms");
  auto id = request_id(r);
  BOOST_REQUIRE_MESSAGE(!id.empty(), "no X-Request-Id header");
  json body;
  BOOST_REQUIRE_NO_THROW(body = r.js());
  BOOST_TEST(body["error"]["code"] == "internal");
  BOOST_TEST(body["error"]["request_id"] == id);
  BOOST_TEST(r.body.find(injected_text) == std::string::npos, r.body);
  BOOST_TEST(r.body.find("debug route") == std::string::npos, r.body);
  // The log has what the client does not: the exception, under the request id.
  BOOST_TEST(eventually([&] {
               auto log = srv.log();
               auto at = log.find(injected_text);
               return at != std::string::npos && log.rfind(id, at) != std::string::npos;
             }),
             "log:\n"
                 << srv.log());
}

BOOST_AUTO_TEST_CASE(the_executor_that_ran_a_failing_call_keeps_serving) {
  server srv(one_executor_env());
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.request("POST", "/v1/debug/throw").status, 500);
  BOOST_REQUIRE_EQUAL(c.request("POST", "/v1/debug/throw").status, 500);
  auto put = c.put("/v1/tasks/hello", exec_task({"/bin/echo", "hi"}));
  BOOST_TEST(put.status == 201, put.body);
  auto list = c.get("/v1/tasks");
  BOOST_TEST(list.status == 200, list.body);
  BOOST_TEST(list.js()["items"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(every_response_carries_a_request_id_and_a_sane_one_from_the_client_is_kept) {
  server srv(one_executor_env());
  srv.start_ready();
  auto c = srv.http();

  auto mine = c.request("GET", "/health", std::nullopt, "", {"X-Request-Id: trace.42_a-B"});
  BOOST_TEST(request_id(mine) == "trace.42_a-B");

  // Ids from the client that are not 1 to 64 of [A-Za-z0-9._-] are replaced.
  for (const std::string& bad :
       {std::string("has space"), std::string("semi;colon"), std::string(65, 'a')}) {
    auto r = c.request("GET", "/v1/tasks", std::nullopt, "", {"X-Request-Id: " + bad});
    BOOST_TEST(r.status == 200);
    BOOST_TEST(!request_id(r).empty());
    BOOST_TEST(request_id(r) != bad);
  }
  auto longest = std::string(64, 'z');
  BOOST_TEST(request_id(c.request("GET", "/ready", std::nullopt, "",
                                  {"X-Request-Id: " + longest})) == longest);

  // Generated ids differ per request, errors included.
  std::set<std::string> seen;
  for (const auto& r : {c.get("/health"), c.get("/v1/tasks"), c.get("/no/such/route"),
                        c.del("/v1/tasks/missing"), c.request("PATCH", "/v1/tasks")}) {
    BOOST_TEST(!request_id(r).empty(), "status " << r.status);
    seen.insert(request_id(r));
  }
  BOOST_TEST(seen.size() == 5u);
}
