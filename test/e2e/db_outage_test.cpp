#define BOOST_TEST_MODULE db_outage
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"
#include "support/load_generator.hpp"

// A PostgreSQL outage under load: the server stays up, /health and submissions
// answer 503 with Retry-After, and when the database returns everything resumes
// by itself with nothing lost. Uses its own throwaway PostgreSQL, which it stops
// and starts; the shared test database is never touched.

using namespace orch::test;

namespace {

/// A throwaway PostgreSQL (ops/scripts/pg-throwaway.sh) that can be stopped and started.
class throwaway_pg {
 public:
  throwaway_pg() {
    std::string out;
    int rc = run_command({"/bin/bash", script(), "start"}, {}, &out);
    if (rc != 0) throw std::runtime_error("pg-throwaway.sh start failed:\n" + out);
    std::istringstream in(out);
    std::string word;
    while (in >> word) {
      auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      vars_[word.substr(0, eq)] = word.substr(eq + 1);
    }
    for (const char* k : {"PG_TMP", "PG_PORT", "PG_BIN", "TEST_DATABASE_URL"}) {
      if (vars_[k].empty()) throw std::runtime_error(std::string("no ") + k + " in:\n" + out);
    }
  }
  ~throwaway_pg() {
    std::string out;
    run_command({"/bin/bash", script(), "stop", vars_["PG_TMP"]}, {}, &out);
  }
  throwaway_pg(const throwaway_pg&) = delete;
  throwaway_pg& operator=(const throwaway_pg&) = delete;

  std::string admin_url() { return vars_["TEST_DATABASE_URL"]; }

  void stop() { pg_ctl("-m fast -w -t 60 stop"); }
  /// Whether a new connection to the server succeeds.
  bool accepts_connections() {
    try {
      pqxx::connection c{admin_url()};
      return c.is_open();
    } catch (const pqxx::broken_connection&) {
      return false;
    }
  }
  void start() {
    auto tmp = vars_["PG_TMP"];
    pg_ctl("-l " + tmp + "/postgres.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p " +
           vars_["PG_PORT"] + " -c unix_socket_directories=" + tmp +
           " -c max_connections=300\" start");
  }

 private:
  static std::string script() {
    return std::string(ORCH_SOURCE_DIR) + "/ops/scripts/pg-throwaway.sh";
  }

  void pg_ctl(const std::string& args) {
    std::string cmd = vars_["PG_BIN"] + "/pg_ctl -D " + vars_["PG_TMP"] + "/data " + args;
    if (::geteuid() == 0) cmd = "runuser -u postgres -- " + cmd;
    std::string out;
    int rc = run_command({"/bin/sh", "-c", cmd}, {}, &out);
    if (rc != 0) throw std::runtime_error("'" + cmd + "' failed:\n" + out);
  }

  std::map<std::string, std::string> vars_;
};

throwaway_pg& pg() {
  static throwaway_pg instance;
  return instance;
}

std::map<std::string, std::string> env(const std::string& url) {
  return {{"DATABASE_URL", url},
          {"WORKER_CONCURRENCY", "4"},
          {"POLL_INTERVAL", "100ms"},
          {"NODE_NAME", "outage"}};
}

/// Terminal statuses of runs by id, read with SQL.
std::map<std::string, std::pair<std::string, int>> statuses(const std::string& url) {
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  std::map<std::string, std::pair<std::string, int>> out;
  for (const auto& r : tx.exec("SELECT id::text, status, attempt FROM runs")) {
    out[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<int>()};
  }
  return out;
}

bool all_succeeded(const std::string& url, const std::vector<std::string>& ids) {
  auto s = statuses(url);
  for (const auto& id : ids) {
    auto it = s.find(id);
    if (it == s.end() || it->second.first != "succeeded") return false;
  }
  return true;
}

/// Seconds since the epoch, as PostgreSQL's extract(epoch FROM ...) gives them.
double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_server_rides_out_a_database_outage_under_load_and_loses_nothing) {
  auto url = fresh_database(pg().admin_url());
  server srv(env(url));
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/work", exec_task({"/bin/sh", "-c", "sleep 0.1"}, 3)).status,
                      201);
  // About 50 single submissions a second, one at a time.
  load_generator load({{"outage", c}}, {.task = "work", .period = 20ms});
  BOOST_REQUIRE(eventually([&] { return load.acknowledged_count() >= 20; }));

  pg().stop();
  BOOST_REQUIRE_MESSAGE(!pg().accepts_connections(), "PostgreSQL still accepts connections");
  const auto refused_before = load.refusals().size();
  const auto unavailable_before = load.unavailable();
  BOOST_TEST_MESSAGE("database stopped with " << load.acknowledged_count() << " acknowledged");
  BOOST_TEST(eventually(
      [&] {
        auto h = c.get("/health");
        return h.status == 503 && h.js()["checks"]["database"] == false &&
               h.headers.count("retry-after") == 1;
      },
      10s));
  BOOST_TEST(c.get("/ready").status == 503);
  // Submissions are refused. The load sends one request at a time, so once one
  // is refused none sent before the outage is still waiting for its answer:
  // from here on nothing may be acknowledged until the database is back.
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return load.unavailable() >= unavailable_before + 5; }, 10s),
      "submissions were not refused with 503: " << load.unavailable() - unavailable_before
                                                << " refused, " << load.acknowledged_count()
                                                << " acknowledged");
  const auto acked_during_outage = load.acknowledged_count();
  // The outage lasts a while under load (50 more refusals, about a second);
  // the server must not fall over.
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return load.refusals().size() >= refused_before + 50; }, 30s),
      "the load stalled during the outage");
  BOOST_REQUIRE_MESSAGE(srv.running(), "server died during the outage; log:\n" << srv.log());
  BOOST_REQUIRE_MESSAGE(!pg().accepts_connections(), "PostgreSQL came back by itself");
  BOOST_TEST(load.acknowledged_count() == acked_during_outage,
             "a submission was acknowledged while the database was down");
  auto refusals = load.refusals();
  for (auto i = refused_before; i < refusals.size(); ++i) {
    BOOST_TEST(refusals[i].status == 503, load.describe(refusals[i]));
    BOOST_TEST(refusals[i].retry_after, "503 without Retry-After: " << load.describe(refusals[i]));
  }

  pg().start();
  BOOST_REQUIRE(pg().accepts_connections());
  auto acked_at_return = load.acknowledged_count();
  BOOST_TEST(eventually(
      [&] {
        auto h = c.get("/health");
        return h.status == 200 && h.js()["checks"]["database"] == true;
      },
      20s));
  BOOST_TEST(eventually([&] { return load.acknowledged_count() >= acked_at_return + 20; }, 20s));
  load.stop();

  auto acked = load.acknowledged();
  BOOST_TEST_MESSAGE(acked.size() << " acknowledged, " << load.unavailable() << " refused");
  BOOST_TEST(load.unavailable_without_retry_after() == 0);
  BOOST_TEST(load.connection_failures() == 0, "the server stopped answering");
  for (const auto& u : load.unexpected()) BOOST_ERROR("unexpected answer: " << u);
  // Every acknowledged run ends, and succeeds.
  BOOST_TEST(eventually([&] { return all_succeeded(url, acked); }, 40s));
  auto s = statuses(url);
  for (const auto& id : acked) {
    BOOST_TEST(s.count(id) == 1u, "acknowledged run " << id << " is lost");
    if (s.count(id)) BOOST_TEST(s[id].first == "succeeded", "run " << id);
  }
  BOOST_TEST(srv.running());
}

BOOST_AUTO_TEST_CASE(results_of_runs_that_finish_during_an_outage_are_recorded_when_it_ends) {
  auto url = fresh_database(pg().admin_url());
  server srv(env(url));
  srv.start_ready();
  auto c = srv.http();
  auto flag = "/tmp/orch-outage-" + std::to_string(::getpid()) + ".done";
  std::remove(flag.c_str());
  // The steps finish only once the database is down (the flag file appears).
  auto script = "while [ ! -e " + flag + " ]; do sleep 0.05; done; sleep 0.5; echo finished";
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/inflight", exec_task({"/bin/sh", "-c", script}, 1)).status,
                      201);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = c.post("/v1/tasks/inflight/runs", json::object());
    BOOST_REQUIRE_EQUAL(r.status, 201);
    ids.push_back(r.js()["id"].get<std::string>());
  }
  BOOST_REQUIRE(eventually([&] { return c.get("/v1/queue").js()["running"] == 3; }));
  // The three steps are running on this node's workers.
  auto active_jobs = [&]() -> std::optional<double> {
    if (c.get("/metrics").status != 200) return std::nullopt;
    return metric(c, "orchestrator_worker_active_jobs");
  };
  BOOST_REQUIRE(eventually([&] { return active_jobs() == 3.0; }));

  pg().stop();
  BOOST_REQUIRE_MESSAGE(!pg().accepts_connections(), "PostgreSQL still accepts connections");
  { std::ofstream(flag) << "x"; }
  BOOST_REQUIRE(eventually([&] { return c.get("/health").status == 503; }));
  // The steps end while the database is away: the workers are free again and
  // the results wait in the recorder.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return active_jobs() == 0.0; }, 20s),
                        "the steps did not finish during the outage");
  BOOST_REQUIRE_MESSAGE(!pg().accepts_connections(), "PostgreSQL came back by itself");
  const double restarted_at = epoch_now();
  pg().start();
  std::remove(flag.c_str());

  for (const auto& id : ids) {
    auto run = wait_terminal(c, id, 30s);
    BOOST_TEST(run["status"] == "succeeded", run.dump());
    BOOST_TEST(run["attempt"] == 1, "run " << id << " was executed again");
    BOOST_TEST(run["output"] == "finished\n");
  }
  // Each step finished before the database returned; the run was recorded after.
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  for (const auto& id : ids) {
    auto r = tx.exec_params1(
        "SELECT extract(epoch FROM s.finished_at)::float8, extract(epoch FROM "
        "r.finished_at)::float8 "
        "FROM runs r JOIN run_steps s ON s.run_id = r.id AND s.attempt = r.attempt "
        "WHERE r.id = $1::bigint",
        id);
    BOOST_TEST(r[0].as<double>() < restarted_at,
               "run " << id << "'s step finished after the outage");
    BOOST_TEST(r[1].as<double>() >= restarted_at,
               "run " << id << " was recorded during the outage?");
  }
}
