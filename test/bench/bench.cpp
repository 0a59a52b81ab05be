// Benchmark program: starts real orchestrator processes against the test
// PostgreSQL and prints one JSON line per figure. `--quick` shrinks every
// workload (used by the bench_smoke test); `--only NAME` runs one benchmark.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "bench/bench_support.hpp"
#include "support/harness.hpp"

using namespace orch::test;
using namespace orch::bench;

namespace {

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::map<std::string, std::string> base_env(const std::string& db) {
  return {{"DATABASE_URL", db},
          {"LOG_LEVEL", "WARNING"},
          {"WORKER_CONCURRENCY", "4"},
          {"API_WORKERS", "4"}};
}

json template_task() {
  return {
      {"steps",
       json::array({{{"name", "render"}, {"template", {{"value", {{"n", "{{ params.n }}"}}}}}}})},
      {"params", {{"n", 0}}}};
}

// Inserts `n` pending runs of task version 1 with one statement.
void insert_runs(const std::string& db, const std::string& task, int n, const std::string& queue) {
  pqxx::connection c{db};
  pqxx::work tx{c};
  tx.exec_params(
      "INSERT INTO runs (task, task_version, queue, params, trigger, max_attempts) "
      "SELECT $1, 1, $3, jsonb_build_object('n', g), 'api', 1 FROM generate_series(1, $2) g",
      task, n, queue);
  tx.commit();
}

// Creates (or updates) task `t`; a refusal ends the benchmark.
void put_task(const client& c, const json& task) {
  auto r = c.put("/v1/tasks/t", task);
  if (r.status != 201 && r.status != 200) throw std::runtime_error("task: " + r.body);
}

long long count_status(pqxx::connection& c, const std::string& status) {
  pqxx::work tx{c};
  return tx.exec_params1("SELECT count(*) FROM runs WHERE status = $1", status)[0].as<long long>();
}

// Burn-down: pre-inserted runs worked to succeeded with their step results.
void burn_down(const std::string& name, const json& task, int n, int concurrency) {
  auto db = fresh_database();
  auto env = base_env(db);
  env["WORKER_CONCURRENCY"] = std::to_string(concurrency);
  env["WORKER_PREFETCH"] = "2000";
  {
    server s(env);
    s.start_ready();
    put_task(s.http(), task);
    s.kill(SIGTERM);
    s.wait_exit();
  }
  insert_runs(db, "t", n, "default");
  server s(env);
  auto t0 = std::chrono::steady_clock::now();
  // Backends are new for this server, so their whole CPU time belongs to the run.
  s.start_ready();
  pqxx::connection c{db};
  // Poll what is left through the partial indexes, four times a second: the
  // figure comes from the runs' own timestamps, so polling only has to be cheap.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  bool drained = false;
  while (!drained && std::chrono::steady_clock::now() < deadline) {
    pqxx::work q{c};
    auto left = q.exec(
                     "SELECT (SELECT count(*) FROM runs WHERE status = 'pending') + "
                     "(SELECT count(*) FROM runs WHERE status = 'running')")[0][0]
                    .as<long long>();
    q.commit();
    drained = left == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  double wall = seconds_since(t0);
  double cpu_server = cpu_seconds(s.pid());
  double cpu_pg = backend_cpu_seconds(database_name(db));
  pqxx::work tx{c};
  auto r = tx.exec1(
      "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
      "extract(epoch from max(finished_at) - min(started_at)), "
      "(SELECT count(*) FROM run_steps) FROM runs");
  double span = r[1].as<double>();
  long long ok = r[0].as<long long>();
  auto st = tx.exec1(
      "SELECT xact_commit, tup_updated, tup_inserted, tup_fetched, tup_returned "
      "FROM pg_stat_database WHERE datname = current_database()");
  check(drained, name + ": runs still pending or running after 10 minutes");
  check(ok == n, name + ": " + std::to_string(ok) + " of " + std::to_string(n) + " runs succeeded");
  // Every task here has one step: one row per run.
  check(r[2].as<long long>() == n,
        name + ": " + r[2].as<std::string>() + " step rows for " + std::to_string(n) + " runs");
  emit({{"benchmark", name},
        {"runs", n},
        {"succeeded", ok},
        {"step_rows", r[2].as<long long>()},
        {"seconds", span},
        {"runs_per_second", static_cast<double>(ok) / span},
        {"wall_seconds_including_start", wall},
        {"cpu_seconds_orchestrator", cpu_server},
        {"cpu_seconds_postgres", cpu_pg},
        {"worker_concurrency", concurrency},
        {"db_commits", st[0].as<long long>()},
        {"db_rows_updated", st[1].as<long long>()},
        {"db_rows_inserted", st[2].as<long long>()},
        {"db_rows_fetched", st[3].as<long long>()},
        {"db_rows_returned", st[4].as<long long>()}},
       {"succeeded", "seconds", "runs_per_second"});
}

json batch_body(int n) {
  json runs = json::array();
  for (int i = 0; i < n; ++i) runs.push_back({{"task", "t"}, {"params", {{"n", i}}}});
  return {{"runs", runs}};
}

void batch_submit(int batches) {
  auto db = fresh_database();
  auto env = base_env(db);
  env["NODE_ROLES"] = "api";
  server s(env);
  s.start_ready();
  auto c = s.http();
  put_task(c, template_task());
  auto body = batch_body(10000).dump();
  auto warm = c.request("POST", "/v1/runs/batch", body);
  if (warm.status != 201)
    throw std::runtime_error("warm-up batch failed: " + warm.body.substr(0, 300));
  std::vector<double> per_batch;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < batches; ++i) {
    auto t = std::chrono::steady_clock::now();
    auto r = c.request("POST", "/v1/runs/batch", body);
    if (r.status != 201) throw std::runtime_error("batch failed: " + r.body.substr(0, 300));
    per_batch.push_back(seconds_since(t));
  }
  double total = seconds_since(t0);
  {
    pqxx::connection pc{db};
    pqxx::work tx{pc};
    auto stored = tx.exec1("SELECT count(*) FROM runs")[0].as<long long>();
    check(stored == 10000LL * (batches + 1), "batch_submit: " + std::to_string(stored) +
                                                 " runs stored of " +
                                                 std::to_string(10000LL * (batches + 1)));
  }
  emit({{"benchmark", "batch_submit"},
        {"runs_per_call", 10000},
        {"calls", batches},
        {"runs_per_second", 10000.0 * batches / total},
        {"call_seconds_p50", percentile(per_batch, 0.5)},
        {"node_roles", "api"}},
       {"runs_per_second", "call_seconds_p50"});
}

void single_submit(int connections, double seconds) {
  auto db = fresh_database();
  auto env = base_env(db);
  env["NODE_ROLES"] = "api";
  env["API_WORKERS"] = "8";
  server s(env);
  s.start_ready();
  put_task(s.http(), template_task());
  std::atomic<long long> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      // One easy handle per thread keeps its connection alive across requests.
      CURL* h = curl_easy_init();
      std::string url = s.url() + "/v1/tasks/t/runs";
      std::string body = R"({"params":{"n":1}})";
      curl_slist* hdr = curl_slist_append(nullptr, "Content-Type: application/json");
      std::string sink;
      curl_easy_setopt(h, CURLOPT_URL, url.c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(
          h, CURLOPT_WRITEFUNCTION, +[](char*, size_t sz, size_t n, void*) { return sz * n; });
      while (!stop) {
        long code = 0;
        if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        (code == 201 ? ok : failed)++;
      }
      curl_slist_free_all(hdr);
      curl_easy_cleanup(h);
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double total = seconds_since(t0);
  check(failed == 0, "single_submit: " + std::to_string(failed.load()) + " submissions failed");
  emit({{"benchmark", "single_submit"},
        {"connections", connections},
        {"runs_per_second", static_cast<double>(ok) / total},
        {"failed", failed.load()},
        {"node_roles", "api"}},
       {"runs_per_second"});
}

void latency(int rate, double seconds) {
  auto db = fresh_database();
  server s(base_env(db));
  s.start_ready();
  auto c = s.http();
  put_task(c, template_task());
  int n = static_cast<int>(rate * seconds);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    auto due = t0 + std::chrono::microseconds(static_cast<long long>(1e6 * i / rate));
    std::this_thread::sleep_until(due);
    auto r = c.post("/v1/tasks/t/runs", {{"params", {{"n", i}}}});
    if (r.status == 201) ids.push_back(r.js()["id"].get<std::string>());
  }
  check(static_cast<int>(ids.size()) == n, "latency: " + std::to_string(n - ids.size()) + " of " +
                                               std::to_string(n) + " submissions failed");
  pqxx::connection pc{db};
  check(eventually(
            [&] { return count_status(pc, "succeeded") >= static_cast<long long>(ids.size()); },
            std::chrono::minutes(2)),
        "latency: runs did not all succeed within 2 minutes");
  pqxx::work tx{pc};
  std::vector<double> lat;
  for (const auto& row :
       tx.exec("SELECT extract(epoch from s.started_at - r.created_at) FROM runs r "
               "JOIN run_steps s ON s.run_id = r.id AND s.idx = 0")) {
    lat.push_back(row[0].as<double>() * 1000.0);
  }
  check(lat.size() == ids.size(), "latency: " + std::to_string(lat.size()) + " runs started of " +
                                      std::to_string(ids.size()));
  emit({{"benchmark", "submit_to_start_latency"},
        {"offered_runs_per_second", rate},
        {"runs", lat.size()},
        {"p50_ms", percentile(lat, 0.5)},
        {"p99_ms", percentile(lat, 0.99)},
        {"max_ms", percentile(lat, 1.0)}},
       {"runs", "p50_ms"});
}

void schedules(int count, int seconds) {
  auto db = fresh_database();
  auto env = base_env(db);
  server s(env);
  s.start_ready();
  auto c = s.http();
  put_task(c, template_task());
  for (int i = 0; i < count; ++i) {
    auto r = c.put("/v1/schedules/s" + std::to_string(i),
                   {{"task", "t"}, {"cron", "* * * * * *"}, {"misfire", "skip"}});
    if (r.status != 201) throw std::runtime_error("schedule create failed: " + r.body);
  }
  auto start = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  // Stop every schedule at once, then count what fired inside the window.
  {
    pqxx::connection pc{db};
    pqxx::work tx{pc};
    tx.exec("UPDATE schedules SET enabled = false");
    tx.commit();
  }
  pqxx::connection pc{db};
  pqxx::work tx{pc};
  auto start_s =
      std::chrono::duration_cast<std::chrono::seconds>(start.time_since_epoch()).count() + 2;
  auto end_s = start_s + seconds - 4;
  auto dup = tx.exec1(
                   "SELECT count(*) FROM (SELECT schedule_id, scheduled_for FROM runs "
                   "GROUP BY 1, 2 HAVING count(*) > 1) d")[0]
                 .as<long long>();
  // Every (schedule, second) inside the window must have exactly one run.
  auto fires = tx.exec_params1(
                     "SELECT count(*) FROM runs WHERE scheduled_for >= to_timestamp($1) "
                     "AND scheduled_for < to_timestamp($2)",
                     start_s, end_s)[0]
                   .as<long long>();
  long long expected = static_cast<long long>(count) * (end_s - start_s);
  std::vector<double> drift;
  for (const auto& row : tx.exec("SELECT extract(epoch from created_at - scheduled_for) FROM runs "
                                 "WHERE scheduled_for IS NOT NULL")) {
    drift.push_back(row[0].as<double>() * 1000.0);
  }
  check(dup == 0, "schedules: " + std::to_string(dup) + " (schedule, second) pairs ran twice");
  emit({{"benchmark", "schedules_every_second"},
        {"schedules", count},
        {"seconds", seconds},
        {"fires_in_window", fires},
        {"expected_in_window", expected},
        {"duplicates", dup},
        {"drift_p50_ms", percentile(drift, 0.5)},
        {"drift_p99_ms", percentile(drift, 0.99)},
        {"drift_max_ms", percentile(drift, 1.0)}},
       {"fires_in_window"});
}

void memory(int low, int high) {
  auto db = fresh_database();
  auto env = base_env(db);
  // The runs wait on a queue no worker of this node serves, so they stay pending.
  env["WORKER_QUEUES"] = "default";
  server s(env);
  s.start_ready();
  auto c = s.http();
  json task = template_task();
  task["queue"] = "parked";
  put_task(c, task);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long idle = rss_kib(s.pid());
  insert_runs(db, "t", low, "parked");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  long at_low = rss_kib(s.pid());
  insert_runs(db, "t", high - low, "parked");
  // Let the maintenance cycle count them and the API list them.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  for (int i = 0; i < 5; ++i) c.get("/v1/runs?limit=500");
  c.get("/v1/queue");
  long at_high = rss_kib(s.pid());
  {
    pqxx::connection pc{db};
    check(count_status(pc, "pending") == high, "memory: not every inserted run is pending");
  }
  emit({{"benchmark", "memory"},
        {"idle_rss_mib", idle / 1024.0},
        {"rss_mib_at_pending",
         {{std::to_string(low), at_low / 1024.0}, {std::to_string(high), at_high / 1024.0}}},
        {"growth_mib", (at_high - at_low) / 1024.0}},
       {"idle_rss_mib"});
}

}  // namespace

int main(int argc, char** argv) {
  bench_main bench(argc, argv,
                   "burn_down|batch_submit|single_submit|latency|exec|schedules|memory");
  curl_global_init(CURL_GLOBAL_ALL);
  bench.run("burn_down", "burn_down_template",
            [] { burn_down("burn_down_template", template_task(), quick ? 2000 : 50000, 4); });
  bench.run("batch_submit", "batch_submit", [] { batch_submit(quick ? 1 : 10); });
  bench.run("single_submit", "single_submit", [] { single_submit(8, quick ? 1.0 : 10.0); });
  bench.run("latency", "submit_to_start_latency", [] { latency(500, quick ? 1.0 : 10.0); });
  bench.run("exec", "exec_true",
            [] { burn_down("exec_true", exec_task({"/bin/true"}), quick ? 200 : 5000, 16); });
  bench.run("schedules", "schedules_every_second",
            [] { schedules(quick ? 10 : 100, quick ? 8 : 60); });
  bench.run("memory", "memory", [] { memory(1000, quick ? 5000 : 100000); });
  return bench.verdict();
}
