#define BOOST_TEST_MODULE leader_failover
#include <boost/test/unit_test.hpp>

#include "cluster/cluster_harness.hpp"

// Guarantee 3 in a cluster: exactly one node leads the schedulers; when it dies
// another takes over within 5 s, no (schedule, fire time) yields two runs, and
// run_all schedules lose no fire time across the takeover.

using namespace orch::test;

namespace {

const std::vector<std::string> names = {"n1", "n2", "n3"};

/// The leading node among `among` per GET /health, if exactly one says so.
/// Counts every snapshot in which more than one node claimed to lead.
std::optional<std::string> leader(cluster& c, const std::vector<std::string>& among,
                                  int& double_leaders) {
  std::vector<std::string> leading;
  for (const auto& n : among) {
    auto r = c.api(n).get("/health");
    if (r.status != 200 && r.status != 503) continue;
    try {
      if (r.js().value("leader", false)) leading.push_back(n);
    } catch (const std::exception&) {
    }
  }
  if (leading.size() > 1) ++double_leaders;
  if (leading.size() == 1) return leading.front();
  return std::nullopt;
}

/// Fire times (epoch seconds) of each schedule, oldest first.
std::map<std::string, std::vector<long long>> fires(cluster& c) {
  std::map<std::string, std::vector<long long>> out;
  pqxx::work tx{c.db()};
  for (const auto& r : tx.exec("SELECT schedule_id, extract(epoch FROM scheduled_for)::bigint "
                               "FROM runs WHERE schedule_id IS NOT NULL ORDER BY scheduled_for")) {
    out[r[0].as<std::string>()].push_back(r[1].as<long long>());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(
    when_the_scheduler_leader_dies_another_node_leads_within_five_seconds_without_duplicate_fires) {
  // A short grace makes the takeover gap a real misfire for skip and run_once;
  // run_all must fill it in.
  cluster c({{"MISFIRE_GRACE", "1s"}, {"WORKER_CONCURRENCY", "10"}});
  for (const auto& n : names) c.start(n);
  BOOST_REQUIRE(c.wait_mesh());
  BOOST_REQUIRE_EQUAL(c.api("n1").put("/v1/tasks/tick", exec_task({"/bin/true"}, 1)).status, 201);

  const std::vector<std::string> policies = {"run_all", "run_once", "skip"};
  std::vector<std::string> schedules;
  std::vector<std::string> run_all;
  for (int i = 0; i < 20; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "s%02d", i);
    const auto& policy = policies[static_cast<std::size_t>(i) % policies.size()];
    auto r = c.api(names[static_cast<std::size_t>(i) % names.size()])
                 .put(std::string("/v1/schedules/") + id,
                      {{"task", "tick"}, {"cron", "* * * * * *"}, {"misfire", policy}});
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
    schedules.push_back(id);
    if (policy == "run_all") run_all.push_back(id);
  }
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              auto f = fires(c);
                              for (const auto& s : schedules) {
                                if (f[s].size() < 3) return false;
                              }
                              return true;
                            },
                            20s),
                        "not every schedule fired three times");

  int double_leaders = 0;
  std::optional<std::string> old_leader;
  BOOST_REQUIRE(
      eventually([&] { return (old_leader = leader(c, names, double_leaders)).has_value(); }, 10s));
  BOOST_TEST_MESSAGE("leader: " << *old_leader);
  std::vector<std::string> survivors;
  for (const auto& n : names) {
    if (n != *old_leader) survivors.push_back(n);
  }

  const double killed_at = epoch_seconds();
  auto t0 = std::chrono::steady_clock::now();
  c.kill(*old_leader);
  std::optional<std::string> new_leader;
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return (new_leader = leader(c, survivors, double_leaders)).has_value(); },
                 20s),
      "no node took the lead");
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("new leader " << *new_leader << " after " << took << " s");
  BOOST_TEST(took <= 5.0, "takeover took " << took << " s");
  const double took_over_at = epoch_seconds();

  // Every schedule keeps firing under the new leader.
  BOOST_TEST(eventually(
                 [&] {
                   auto f = fires(c);
                   for (const auto& s : schedules) {
                     int after = 0;
                     for (auto t : f[s]) {
                       if (static_cast<double>(t) > took_over_at) ++after;
                     }
                     if (after < 3) return false;
                   }
                   return true;
                 },
                 20s),
             "a schedule stopped firing after the takeover");
  BOOST_TEST((leader(c, survivors, double_leaders) == new_leader), "the lead moved again");
  BOOST_TEST(double_leaders == 0,
             "two nodes claimed to lead at once " << double_leaders << " times");
  for (const auto& s : schedules) {
    auto r = c.api(survivors.front()).request("POST", "/v1/schedules/" + s + "/pause");
    BOOST_TEST(r.status == 200, r.body);
  }

  // One run per (schedule, fire time).
  {
    pqxx::work tx{c.db()};
    auto dups = tx.exec(
        "SELECT schedule_id, scheduled_for, count(*) FROM runs WHERE schedule_id IS NOT NULL "
        "GROUP BY schedule_id, scheduled_for HAVING count(*) > 1");
    BOOST_TEST(dups.size() == 0u);
    for (const auto& d : dups) {
      BOOST_ERROR("duplicate: " << d[0].c_str() << " at " << d[1].c_str() << " x " << d[2].c_str());
    }
  }

  // run_all: no second missing from the first fire to the last, across the kill.
  auto f = fires(c);
  for (const auto& s : run_all) {
    const auto& t = f[s];
    BOOST_REQUIRE_GE(t.size(), 2u);
    BOOST_TEST_MESSAGE(s << ": " << t.size() << " fires from " << t.front() << " to " << t.back());
    BOOST_TEST(static_cast<double>(t.front()) < killed_at, s);
    BOOST_TEST(static_cast<double>(t.back()) > killed_at + took, s);
    for (std::size_t i = 1; i < t.size(); ++i) {
      BOOST_TEST(t[i] - t[i - 1] == 1, s << " fire " << i << ": " << t[i - 1] << " then " << t[i]);
    }
  }
}
