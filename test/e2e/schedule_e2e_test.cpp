#define BOOST_TEST_MODULE schedule_e2e
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"

// Guarantee 3 end to end: each (schedule, fire time) yields one run, across a
// restart too; misfire policies after downtime; overlap skip.

using namespace orch::test;

namespace {

std::map<std::string, std::string> env(const std::string& url, const std::string& grace) {
  return {{"DATABASE_URL", url},
          {"MISFIRE_GRACE", grace},
          {"POLL_INTERVAL", "100ms"},
          {"NODE_NAME", "scheduling"}};
}

void put_task(const client& c, const std::string& name, const std::string& script) {
  auto r = c.put("/v1/tasks/" + name, exec_task({"/bin/sh", "-c", script}, 1));
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
}

void put_schedule(const client& c, const std::string& id, json body) {
  auto r = c.put("/v1/schedules/" + id, body);
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
}

/// Fire times (epoch seconds) of a schedule's runs, oldest first.
std::vector<long long> fire_times(const std::string& url, const std::string& schedule) {
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  std::vector<long long> out;
  for (const auto& r : tx.exec_params("SELECT extract(epoch FROM scheduled_for)::bigint FROM runs "
                                      "WHERE schedule_id = $1 ORDER BY scheduled_for",
                                      schedule)) {
    out.push_back(r[0].as<long long>());
  }
  return out;
}

long long epoch_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(
    an_every_second_cron_fires_once_per_second_without_duplicates_across_a_restart) {
  auto url = fresh_database();
  // A generous grace: the restart's downtime is on time, so no second may be missing.
  server srv(env(url, "30s"));
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "tick", "true");
  put_schedule(c, "every-second",
               {{"task", "tick"}, {"cron", "* * * * * *"}, {"misfire", "run_all"}});
  BOOST_REQUIRE(eventually([&] { return fire_times(url, "every-second").size() >= 4; }, 10s));

  srv.kill(SIGKILL);
  srv.start_ready();
  auto before = fire_times(url, "every-second").size();
  BOOST_REQUIRE(
      eventually([&] { return fire_times(url, "every-second").size() >= before + 4; }, 15s));
  BOOST_REQUIRE_EQUAL(c.request("POST", "/v1/schedules/every-second/pause").status, 200);

  auto times = fire_times(url, "every-second");
  BOOST_TEST_MESSAGE(times.size() << " fires from " << times.front() << " to " << times.back());
  for (std::size_t i = 1; i < times.size(); ++i) {
    BOOST_TEST(times[i] - times[i - 1] == 1,
               "fire " << i << ": " << times[i - 1] << " then " << times[i]);
  }
  // Every run used one attempt of its own; a run the kill interrupted lost its
  // lease and ran again (lost_leases), which is not the task's failure.
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  auto bad =
      tx.exec("SELECT count(*) FROM runs WHERE attempt - lost_leases > 1")[0][0].as<long long>();
  BOOST_TEST(bad == 0);
  BOOST_TEST(tx.exec("SELECT count(*) FROM runs WHERE status = 'failed'")[0][0].as<long long>() ==
             0);
}

BOOST_AUTO_TEST_CASE(
    after_downtime_skip_drops_missed_fires_run_once_fires_one_and_run_all_fires_each) {
  auto url = fresh_database();
  server srv(env(url, "1s"));
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "tick", "true");

  // Three fire times a few seconds ahead (seconds of every minute), which pass
  // while the server is down.
  const long long first = epoch_now() + 3;
  std::string cron = std::to_string(first % 60) + "," + std::to_string((first + 1) % 60) + "," +
                     std::to_string((first + 2) % 60) + " * * * * *";
  for (std::string policy : {"skip", "run_once", "run_all"}) {
    put_schedule(c, "m-" + policy, {{"task", "tick"}, {"cron", cron}, {"misfire", policy}});
  }
  srv.kill(SIGKILL);
  BOOST_REQUIRE_MESSAGE(epoch_now() < first, "the server was still up at the first fire time");
  // Downtime: past the last fire time plus the 1 s grace.
  while (epoch_now() < first + 5) std::this_thread::sleep_for(100ms);
  srv.start_ready();

  // One transaction plans every due schedule: once run_all's fires exist, all
  // three have been planned.
  BOOST_REQUIRE(eventually(
      [&] {
        return fire_times(url, "m-run_all").size() >= 3 &&
               metric(c, "orchestrator_missed_schedules_total") >= 5;
      },
      15s));

  BOOST_TEST(fire_times(url, "m-skip").empty());
  BOOST_TEST(fire_times(url, "m-run_once") == std::vector<long long>{first + 2});
  BOOST_TEST(fire_times(url, "m-run_all") == (std::vector<long long>{first, first + 1, first + 2}));
  // skip dropped 3, run_once dropped 2.
  BOOST_TEST(metric(c, "orchestrator_missed_schedules_total") == 5);
}

BOOST_AUTO_TEST_CASE(overlap_skip_creates_no_run_while_a_run_of_the_schedule_is_active) {
  auto url = fresh_database();
  server srv(env(url, "5s"));
  srv.start_ready();
  auto c = srv.http();
  put_task(c, "slow", "sleep 2.5");
  put_schedule(c, "no-overlap", {{"task", "slow"}, {"cron", "* * * * * *"}, {"overlap", "skip"}});
  BOOST_REQUIRE(eventually([&] { return fire_times(url, "no-overlap").size() >= 3; }, 20s));
  BOOST_REQUIRE_EQUAL(c.request("POST", "/v1/schedules/no-overlap/pause").status, 200);

  pqxx::connection conn{url};
  auto finished = [&] {
    pqxx::work tx{conn};
    return tx.exec("SELECT count(*) FROM runs WHERE status IN ('pending', 'running')")[0][0]
               .as<long long>() == 0;
  };
  BOOST_REQUIRE(eventually(finished, 10s));
  pqxx::work tx{conn};
  auto rows = tx.exec(
      "SELECT extract(epoch FROM started_at)::float8, extract(epoch FROM finished_at)::float8, "
      "status FROM runs WHERE schedule_id = 'no-overlap' ORDER BY id");
  BOOST_REQUIRE_GE(rows.size(), 3u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST(rows[i][2].as<std::string>() == "succeeded");
    // A run starts only after the previous one of the schedule has finished.
    if (i > 0) BOOST_TEST(rows[i][0].as<double>() >= rows[i - 1][1].as<double>(), "run " << i);
  }
  BOOST_TEST(metric(c, "orchestrator_schedule_overlap_skips_total") >= 2);
}
