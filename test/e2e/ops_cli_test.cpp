#define BOOST_TEST_MODULE ops_cli
// The operator's side of a node: health, readiness, liveness and metrics on
// every node whatever its roles, `orchestrator health` for container health
// checks, `orchestrator config check` for environment files, and secrets
// read from files.
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>

#include "support/harness.hpp"

using namespace orch::test;
using json = nlohmann::json;

namespace {

std::string write_file(const std::string& name, const std::string& content) {
  auto path = "/tmp/orch-ops-cli-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

int cli(const std::vector<std::string>& args, std::string* out,
        const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, env, out);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_node_without_the_api_role_serves_health_ready_live_and_metrics_only) {
  server srv({{"DATABASE_URL", fresh_database()}, {"NODE_ROLES", "dispatcher,worker"}});
  srv.start_ready();
  client c(srv.url());
  auto live = c.get("/live");
  BOOST_TEST(live.status == 200);
  BOOST_TEST(live.js()["status"] == "alive");
  auto metrics = c.get("/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(has(metrics.body, "orchestrator_worker_capacity"));
  auto health = c.get("/health");
  BOOST_TEST((health.status == 200 || health.status == 503));
  BOOST_TEST(health.js()["checks"].contains("database"));
  for (const char* path : {"/v1/tasks", "/v1/runs/1", "/v1/nodes"}) {
    auto r = c.get(path);
    BOOST_TEST(r.status == 404, path);
    BOOST_TEST(has(r.body, "does not serve the API (roles: dispatcher,worker)"), r.body);
  }
  BOOST_TEST(c.post("/v1/tasks/x/runs", json::object()).status == 404);
  // The health verb says what /health says.
  std::string out;
  int rc = cli({"health", "--url", srv.url()}, &out);
  BOOST_TEST(rc == (health.status == 200 ? 0 : 1), out);
  BOOST_TEST(cli({"health", "--url", srv.url(), "--path", "/live"}, &out) == 0, out);
  BOOST_TEST(has(out, "/live 200 alive"), out);
}

BOOST_AUTO_TEST_CASE(the_health_verb_exits_0_when_healthy_and_1_when_not_or_unreachable) {
  server srv({{"DATABASE_URL", fresh_database()}});
  srv.start_ready();
  std::string out;
  BOOST_TEST(cli({"health", "--path", "/ready"}, &out, {{"ORCH_URL", srv.url()}}) == 0, out);
  BOOST_TEST(has(out, "/ready 200 ready"), out);
  // The default URL is this host's HTTP_PORT, as inside a container.
  auto port = srv.url().substr(srv.url().rfind(':') + 1);
  BOOST_TEST(cli({"health", "--path", "/live"}, &out, {{"ORCH_URL", ""}, {"HTTP_PORT", port}}) == 0,
             out);
  int closed = free_port();
  BOOST_TEST(cli({"health", "--url", "http://127.0.0.1:" + std::to_string(closed)}, &out) == 1);
  BOOST_TEST(has(out, "unreachable"), out);
  // A node that does not answer in time: 1.
  srv.kill(SIGSTOP);
  BOOST_TEST(cli({"health", "--url", srv.url(), "--timeout", "300ms"}, &out) == 1, out);
  srv.kill(SIGCONT);
  // Bad use is a usage error.
  BOOST_TEST(cli({"health", "--path", "/v1/tasks"}, &out) == 2, out);
  BOOST_TEST(cli({"health", "--timeout", "forever"}, &out) == 2, out);
  BOOST_TEST(cli({"health", "--timeout", "1h"}, &out) == 2, out);
}

BOOST_AUTO_TEST_CASE(config_check_accepts_a_good_env_file_and_notes_foreign_names) {
  auto f = write_file("good.env",
                      "# production api\nDATABASE_URL=postgresql://orch@db:5432/orch\n"
                      "NODE_ROLES=api\nHTTP_HOST=0.0.0.0\nPOSTGRES_DB=orch\n"
                      "WORKER_CONCURENCY=5\n");
  std::string out;
  BOOST_TEST(cli({"config", "check", "--env-file", f}, &out) == 0, out);
  BOOST_TEST(has(out, "configuration ok"), out);
  BOOST_TEST(has(out, "roles api"), out);
  BOOST_TEST(has(out, "WORKER_CONCURENCY is not read by the orchestrator"), out);
}

BOOST_AUTO_TEST_CASE(config_check_prints_every_problem_at_once) {
  auto f = write_file("bad.env",
                      "HTTP_PORT=70000\nLOG_LEVEL=LOUD\nthis is not a setting\n"
                      "NODE_ROLES='api\nCLUSTER_SECRET_FILE=/run/secrets/missing\n"
                      "HTTP_PORT=1\n");
  std::string out;
  BOOST_TEST(cli({"config", "check", "--env-file", f}, &out) == 2, out);
  for (const char* part :
       {"HTTP_PORT=70000 is out of range", "LOG_LEVEL='LOUD'", "line 3: expected NAME=VALUE",
        "line 4: NODE_ROLES: the single quote is not closed",
        "CLUSTER_SECRET_FILE='/run/secrets/missing'", "line 6: HTTP_PORT is set again",
        "6 problem(s)"}) {
    BOOST_TEST(has(out, part), part << " missing from:\n" << out);
  }
  // Later files win over earlier ones, as with several env_file entries.
  auto fix = write_file("fix.env", "HTTP_PORT=8081\nLOG_LEVEL=DEBUG\nNODE_ROLES=api\n");
  auto base = write_file("base.env", "HTTP_PORT=70000\nLOG_LEVEL=LOUD\n");
  BOOST_TEST(cli({"config", "check", "--env-file", base, "--env-file", fix}, &out) == 0, out);
}

BOOST_AUTO_TEST_CASE(config_check_refuses_hostile_and_missing_files) {
  std::string out;
  BOOST_TEST(cli({"config", "check", "--env-file", "/nonexistent.env"}, &out) == 2);
  BOOST_TEST(has(out, "no such file"), out);
  auto big = write_file("big.env", std::string(2 << 20, 'A'));
  BOOST_TEST(cli({"config", "check", "--env-file", big}, &out) == 2);
  BOOST_TEST(has(out, "larger than"), out);
  auto binary_file = write_file("bin.env", std::string("A=1\0\xff\xfe", 6));
  BOOST_TEST(cli({"config", "check", "--env-file", binary_file}, &out) == 2);
  BOOST_TEST(has(out, "NUL"), out);
  BOOST_TEST(cli({"config", "check", "--env-file", "/tmp"}, &out) == 2);
  BOOST_TEST(cli({"config"}, &out) == 2);
}

BOOST_AUTO_TEST_CASE(serve_reads_its_database_url_and_cluster_secret_from_files) {
  auto url = write_file("db-url", fresh_database() + "\n");
  auto secret = write_file("cluster-secret", "a-cluster-secret-from-a-file\n");
  server srv({{"DATABASE_URL_FILE", url},
              {"CLUSTER_SECRET_FILE", secret},
              {"CLUSTER_PORT", std::to_string(free_port())},
              {"CLUSTER_BIND", "127.0.0.1"}});
  srv.start_ready();
  client c(srv.url());
  BOOST_TEST(c.get("/v1/nodes").status == 200);
  // An unreadable secret file stops the node with a configuration error.
  server bad(std::map<std::string, std::string>{{"DATABASE_URL_FILE", "/nonexistent/db-url"}});
  bad.start();
  BOOST_TEST(bad.wait_exit() == 2);
  BOOST_TEST(has(bad.log(), "DATABASE_URL_FILE='/nonexistent/db-url'"), bad.log());
}
