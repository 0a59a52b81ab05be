// API tokens: created by the CLI, printed once, stored hashed; required on /v1
// once one exists; never needed by the operational endpoints; and a node refuses
// to listen beyond loopback without one.
#define BOOST_TEST_MODULE auth
#include <boost/test/unit_test.hpp>

#include "persistence/token_repo.hpp"
#include "support/harness.hpp"

using namespace orch::test;

namespace {

/// Runs `orchestrator token create`; returns its exit code, stdout alone in `out`.
int create_token(const std::string& db, const std::string& name, std::string* out) {
  return run_command(
      {"/bin/sh", "-c", "exec \"$0\" token create --name \"$1\" 2>/dev/null", binary(), name},
      {{"DATABASE_URL", db}}, out);
}

/// Creates a token and returns it (fails the test otherwise).
std::string new_token(const std::string& db, const std::string& name = "tests") {
  std::string out;
  int rc = create_token(db, name, &out);
  BOOST_REQUIRE_MESSAGE(rc == 0, "token create exited " << rc << ": " << out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

response with_auth(const client& c, const std::string& method, const std::string& path,
                   const std::string& authorization,
                   const std::optional<std::string>& body = std::nullopt) {
  return c.request(method, path, body, "application/json", {"Authorization: " + authorization});
}

/// Asserts a 401 with the JSON error shape and a WWW-Authenticate challenge.
void expect_unauthorized(const response& r) {
  BOOST_TEST(r.status == 401);
  BOOST_TEST_CONTEXT("body: " << r.body) {
    json j;
    BOOST_REQUIRE_NO_THROW(j = r.js());
    BOOST_TEST(j["error"]["code"] == "unauthorized");
    BOOST_TEST(j["error"]["message"].is_string());
    BOOST_TEST(r.headers.count("www-authenticate") == 1u);
    if (r.headers.count("www-authenticate") == 1u) {
      BOOST_TEST(r.headers.at("www-authenticate").rfind("Bearer", 0) == 0u);
    }
  }
}

const json one_step_task = {
    {"steps", json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/echo", "hi"}}}}}})}};

}  // namespace

BOOST_AUTO_TEST_CASE(token_create_prints_the_token_once_and_stores_only_its_hash) {
  auto db = fresh_database();
  std::string out;
  int rc = create_token(db, "laptop", &out);
  BOOST_REQUIRE_EQUAL(rc, 0);
  BOOST_REQUIRE(!out.empty());
  BOOST_TEST(out.back() == '\n');
  std::string token = out.substr(0, out.size() - 1);
  BOOST_CHECK_MESSAGE(token.find('\n') == std::string::npos,
                      "stdout holds more than one line: " << out);
  BOOST_TEST(token.rfind("orch_", 0) == 0u);
  BOOST_TEST(token.size() >= 32u);

  // The full output (stdout and stderr) tells the user it is shown once.
  std::string all;
  int rc2 =
      run_command({binary(), "token", "create", "--name", "other"}, {{"DATABASE_URL", db}}, &all);
  BOOST_TEST(rc2 == 0);
  BOOST_CHECK_MESSAGE(all.find("not shown again") != std::string::npos, all);

  pqxx::connection c{db};
  pqxx::work tx{c};
  auto rows = tx.exec("SELECT * FROM api_tokens ORDER BY id");
  BOOST_REQUIRE_EQUAL(rows.size(), 2u);
  for (const auto& row : rows) {
    for (const auto& field : row) {
      if (field.is_null()) continue;
      std::string v = field.c_str();
      BOOST_CHECK_MESSAGE(v.find(token) == std::string::npos,
                          "column " << field.name() << " holds the token");
      BOOST_CHECK_MESSAGE(v.find(token.substr(5)) == std::string::npos,
                          "column " << field.name() << " holds the token's secret part");
    }
  }
  BOOST_TEST(rows[0]["name"].as<std::string>() == "laptop");
  BOOST_TEST(rows[0]["hash"].as<std::string>() == orch::persistence::token_hash(token));
  BOOST_TEST(rows[1]["hash"].as<std::string>() != rows[0]["hash"].as<std::string>());
}

BOOST_AUTO_TEST_CASE(token_create_without_a_name_is_a_usage_error) {
  std::string out;
  int rc = run_command({binary(), "token", "create"}, {{"DATABASE_URL", fresh_database()}}, &out);
  BOOST_TEST(rc == 2);
  BOOST_CHECK_MESSAGE(out.find("--name") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(v1_routes_need_a_valid_token_once_one_exists_and_ops_routes_never_do) {
  auto db = fresh_database();
  server srv({{"DATABASE_URL", db}});
  srv.start_ready();
  auto c = srv.http();

  // No token yet: /v1 is open.
  BOOST_TEST(c.get("/v1/tasks").status == 200);
  BOOST_TEST(c.put("/v1/tasks/open", one_step_task).status == 201);

  auto token = new_token(db);
  // The server refreshes its token cache about once a second.
  bool closed = eventually([&] { return c.get("/v1/tasks").status == 401; }, 10s);
  BOOST_REQUIRE_MESSAGE(closed, "the token never took effect; log:\n" << srv.log());

  // Without a token: 401 with the JSON shape and a challenge, on every /v1 route.
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/tasks"},
      {"GET", "/v1/tasks/open"},
      {"PUT", "/v1/tasks/open"},
      {"POST", "/v1/tasks"},
      {"DELETE", "/v1/tasks/open"},
      {"POST", "/v1/tasks/open/runs"},
      {"GET", "/v1/runs"},
      {"GET", "/v1/runs/1"},
      {"GET", "/v1/runs/1/logs"},
      {"POST", "/v1/runs/1/cancel"},
      {"POST", "/v1/runs/1/retry"},
      {"POST", "/v1/runs/batch"},
      {"GET", "/v1/schedules"},
      {"POST", "/v1/schedules"},
      {"GET", "/v1/schedules/s"},
      {"PUT", "/v1/schedules/s"},
      {"DELETE", "/v1/schedules/s"},
      {"POST", "/v1/schedules/s/pause"},
      {"GET", "/v1/schedules/s/preview"},
      {"GET", "/v1/nodes"},
      {"GET", "/v1/queue"}};
  for (const auto& [method, path] : routes) {
    BOOST_TEST_CONTEXT(method << " " << path) {
      bool has_body = method == "POST" || method == "PUT";
      expect_unauthorized(
          c.request(method, path, has_body ? std::optional<std::string>("{}") : std::nullopt));
    }
  }
  // Authentication comes before input checks: a bad body without a token is still 401.
  expect_unauthorized(c.request("PUT", "/v1/tasks/open", std::string("{not json")));
  // Nothing was changed by the refused requests.
  client authed(srv.url());
  authed.set_token(token);
  auto head = authed.get("/v1/tasks/open");
  BOOST_REQUIRE_EQUAL(head.status, 200);
  BOOST_TEST(head.js()["version"] == 1);

  // A wrong token, a malformed header, another scheme: 401.
  expect_unauthorized(with_auth(c, "GET", "/v1/tasks", "Bearer orch_" + std::string(48, '0')));
  expect_unauthorized(with_auth(c, "GET", "/v1/tasks", "Bearer " + token + "x"));
  expect_unauthorized(
      with_auth(c, "GET", "/v1/tasks", "Bearer " + token.substr(0, token.size() - 1)));
  expect_unauthorized(with_auth(c, "GET", "/v1/tasks", "Bearer"));
  expect_unauthorized(with_auth(c, "GET", "/v1/tasks", "Bearer "));
  expect_unauthorized(with_auth(c, "GET", "/v1/tasks", "Basic " + token));
  expect_unauthorized(with_auth(c, "GET", "/v1/tasks", token));

  // The right token: 200, and writes work.
  BOOST_TEST(authed.get("/v1/tasks").status == 200);
  BOOST_TEST(authed.get("/v1/runs").status == 200);
  auto sub = authed.post("/v1/tasks/open/runs", json::object());
  BOOST_REQUIRE_EQUAL(sub.status, 201);
  auto run = wait_terminal(authed, sub.js()["id"].get<std::string>());
  BOOST_TEST(run["status"] == "succeeded");
  // The scheme name is case-insensitive (RFC 7235).
  BOOST_TEST(with_auth(c, "GET", "/v1/tasks", "bearer " + token).status == 200);

  // Operational endpoints need no token.
  BOOST_TEST(c.get("/health").status == 200);
  BOOST_TEST(c.get("/ready").status == 200);
  auto metrics = c.get("/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.body.find("orchestrator_") != std::string::npos);
  BOOST_TEST(c.get("/openapi.json").status == 200);

  // A second token works alongside the first.
  auto second = new_token(db, "second");
  BOOST_TEST(second != token);
  bool accepted = eventually(
      [&] { return with_auth(c, "GET", "/v1/tasks", "Bearer " + second).status == 200; }, 10s);
  BOOST_TEST(accepted);
  BOOST_TEST(authed.get("/v1/tasks").status == 200);
}

BOOST_AUTO_TEST_CASE(serve_on_a_public_address_without_a_token_exits_2_naming_token_create) {
  server srv({{"DATABASE_URL", fresh_database()}, {"HTTP_HOST", "0.0.0.0"}});
  srv.start();
  int rc = srv.wait_exit(60s);
  BOOST_CHECK_MESSAGE(rc == 2, "exit code " << rc << "; log:\n" << srv.log());
  BOOST_CHECK_MESSAGE(srv.log().find("token create") != std::string::npos, srv.log());
  // It never listened.
  BOOST_TEST(srv.http().get("/health").status < 0);
}

BOOST_AUTO_TEST_CASE(serve_on_a_public_address_starts_with_insecure_no_auth) {
  server srv({{"DATABASE_URL", fresh_database()}, {"HTTP_HOST", "0.0.0.0"}},
             {"--insecure-no-auth"});
  srv.start_ready();
  auto c = srv.http();  // 127.0.0.1 reaches a server bound to 0.0.0.0
  BOOST_TEST(c.get("/health").status == 200);
  BOOST_TEST(c.get("/v1/tasks").status == 200);
}

BOOST_AUTO_TEST_CASE(serve_on_a_public_address_starts_when_a_token_exists) {
  auto db = fresh_database();
  auto token = new_token(db);
  server srv({{"DATABASE_URL", db}, {"HTTP_HOST", "0.0.0.0"}});
  srv.start_ready();
  auto c = srv.http();
  BOOST_TEST(c.get("/ready").status == 200);
  expect_unauthorized(c.get("/v1/tasks"));
  c.set_token(token);
  BOOST_TEST(c.get("/v1/tasks").status == 200);
}
