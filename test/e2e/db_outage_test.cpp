#define BOOST_TEST_MODULE db_outage
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <mutex>

#include "support/harness.hpp"

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

/// Posts runs continuously, keeping acknowledged ids and what the refusals looked like.
class submitter {
 public:
  explicit submitter(client c, std::string task)
      : c_(std::move(c)), task_(std::move(task)), thread_([this] { loop(); }) {}
  ~submitter() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t acked_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }
  std::vector<std::string> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int refused() const { return refused_; }
  int refused_without_retry_after() const { return no_retry_after_; }
  std::vector<std::string> unexpected() {
    std::lock_guard<std::mutex> lock(mu_);
    return unexpected_;
  }

 private:
  void loop() {
    while (!stop_) {
      auto r = c_.post("/v1/tasks/" + task_ + "/runs", json::object());
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (r.status == 201) {
          acked_.push_back(r.js()["id"].get<std::string>());
        } else if (r.status == 503) {
          ++refused_;
          if (!r.headers.count("retry-after")) ++no_retry_after_;
        } else {
          unexpected_.push_back(std::to_string(r.status) + " " + r.body);
        }
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  client c_;
  std::string task_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0};
  std::atomic<int> no_retry_after_{0};
  std::mutex mu_;
  std::vector<std::string> acked_;
  std::vector<std::string> unexpected_;
  std::thread thread_;
};

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

}  // namespace

BOOST_AUTO_TEST_CASE(the_server_rides_out_a_database_outage_under_load_and_loses_nothing) {
  auto url = fresh_database(pg().admin_url());
  server srv(env(url));
  srv.start_ready();
  auto c = srv.http();
  BOOST_REQUIRE_EQUAL(c.put("/v1/tasks/work", exec_task({"/bin/sh", "-c", "sleep 0.1"}, 3)).status,
                      201);
  submitter load(c, "work");
  BOOST_REQUIRE(eventually([&] { return load.acked_count() >= 20; }));

  pg().stop();
  BOOST_TEST_MESSAGE("database stopped with " << load.acked_count() << " acknowledged");
  BOOST_TEST(eventually(
      [&] {
        auto h = c.get("/health");
        return h.status == 503 && h.js()["checks"]["database"] == false &&
               h.headers.count("retry-after") == 1;
      },
      10s));
  BOOST_TEST(c.get("/ready").status == 503);
  BOOST_TEST(eventually([&] { return load.refused() >= 5; }, 10s));
  // The outage lasts a while under load; the server must not fall over.
  std::this_thread::sleep_for(2s);
  BOOST_REQUIRE_MESSAGE(srv.running(), "server died during the outage; log:\n" << srv.log());

  pg().start();
  auto acked_at_return = load.acked_count();
  BOOST_TEST(eventually(
      [&] {
        auto h = c.get("/health");
        return h.status == 200 && h.js()["checks"]["database"] == true;
      },
      20s));
  BOOST_TEST(eventually([&] { return load.acked_count() >= acked_at_return + 20; }, 20s));
  load.stop();

  auto acked = load.acked();
  BOOST_TEST_MESSAGE(acked.size() << " acknowledged, " << load.refused() << " refused");
  BOOST_TEST(load.refused_without_retry_after() == 0);
  for (const auto& u : load.unexpected()) BOOST_ERROR("unexpected answer: " << u);
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

  pg().stop();
  { std::ofstream(flag) << "x"; }
  BOOST_REQUIRE(eventually([&] { return c.get("/health").status == 503; }));
  // The steps end while the database is away; their results wait in the recorder.
  std::this_thread::sleep_for(2s);
  pg().start();
  std::remove(flag.c_str());

  for (const auto& id : ids) {
    auto run = wait_terminal(c, id, 30s);
    BOOST_TEST(run["status"] == "succeeded", run.dump());
    BOOST_TEST(run["attempt"] == 1, "run " << id << " was executed again");
    BOOST_TEST(run["output"] == "finished\n");
  }
}
