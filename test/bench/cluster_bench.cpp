// Cluster benchmark: starts several real `orchestrator serve` processes that
// share one PostgreSQL (the test server) and prints one JSON line per figure,
// like orchestrator_bench (see docs/benchmarks.md):
//
//   failover            SIGKILL of a worker node until every run it held has a
//                       step started again (higher attempt) on another node
//   capacity_scaling    the same burst of `sleep 0.1` runs worked by one and by
//                       three worker nodes
//   cross_node_latency  submit-to-start latency on one node and across nodes
//
// `--quick` shrinks every workload (used by the cluster_bench_smoke test);
// `--only NAME` runs one benchmark. Node logs stay in /tmp/orch-test-<pid>-*.log.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "bench/bench_support.hpp"
#include "support/harness.hpp"

using namespace orch::test;
using namespace orch::bench;

namespace {

using clock_type = std::chrono::steady_clock;

/// Seconds since the epoch, comparable with extract(epoch FROM timestamptz):
/// the nodes, PostgreSQL and this program share one machine and its clock.
double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double round_to(double v, double unit) {
  return std::round(v / unit) * unit;
}

/// Busy and total jiffies of the whole machine (all CPUs), from /proc/stat.
std::pair<double, double> machine_jiffies() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double total = 0, idle = 0, v = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {
    total += v;
    if (i == 3 || i == 4) idle += v;  // idle, iowait
  }
  return {total - idle, total};
}

json template_task() {
  return {
      {"steps",
       json::array({{{"name", "render"}, {"template", {{"value", {{"n", "{{ params.n }}"}}}}}}})},
      {"params", {{"n", 0}}}};
}

json sleep_task(const std::string& seconds) {
  return {{"steps",
           json::array({{{"name", "main"}, {"exec", {{"command", {"/bin/sleep", seconds}}}}}})},
          {"retry", {{"max_attempts", 3}, {"initial_delay", "100ms"}}},
          {"timeout", "10m"}};
}

/// A benchmark cluster: one fresh database, one secret, named nodes that all
/// listen on loopback and find each other through the `nodes` table.
class bench_cluster {
 public:
  explicit bench_cluster(std::map<std::string, std::string> common)
      : db_(fresh_database()), common_(std::move(common)) {}
  ~bench_cluster() {
    for (auto& [name, s] : nodes_) s->kill(SIGKILL);
  }
  bench_cluster(const bench_cluster&) = delete;
  bench_cluster& operator=(const bench_cluster&) = delete;

  const std::string& database_url() const { return db_; }

  /// Creates a node (not started); `env` overrides the common environment.
  server& add(const std::string& name, const std::string& roles,
              std::map<std::string, std::string> env = {}) {
    int cport = unused_port();
    std::map<std::string, std::string> e = {
        {"DATABASE_URL", db_},
        {"LOG_LEVEL", "WARNING"},
        {"NODE_NAME", name},
        {"NODE_ROLES", roles},
        {"HTTP_HOST", "127.0.0.1"},
        {"HTTP_PORT", std::to_string(unused_port())},
        {"CLUSTER_PORT", std::to_string(cport)},
        {"CLUSTER_BIND", "127.0.0.1"},
        {"CLUSTER_ADVERTISE", "127.0.0.1:" + std::to_string(cport)},
        {"CLUSTER_SECRET", "cluster-bench-secret-0123456789"},
        {"CLUSTER_HEARTBEAT", "250ms"},
        {"CLUSTER_TIMEOUT", "1s"},
    };
    for (const auto& [k, v] : common_) e[k] = v;
    for (const auto& [k, v] : env) e[k] = v;
    roles_[name] = roles;
    nodes_[name] = std::make_unique<server>(std::move(e));
    return *nodes_[name];
  }

  server& node(const std::string& name) { return *nodes_.at(name); }
  bool has_api(const std::string& name) const {
    return ("," + roles_.at(name) + ",").find(",api,") != std::string::npos;
  }

  /// Starts (or restarts) a node and waits until its new incarnation is up in
  /// the nodes table (and, with the api role, /ready answers).
  void start(const std::string& name, std::chrono::milliseconds timeout = 60s) {
    auto before = incarnation(name, false);
    auto& s = node(name);
    s.start();
    bool ok = true;
    if (has_api(name)) ok = s.wait_ready(timeout);
    ok = ok && eventually(
                   [&] {
                     if (!s.running()) return false;
                     auto now = incarnation(name);
                     return now && *now != before.value_or("");
                   },
                   timeout);
    if (!ok) throw std::runtime_error("node " + name + " did not come up; log:\n" + s.log());
  }

  /// The incarnation in the node's row; with `up`, only while the row says so.
  std::optional<std::string> incarnation(const std::string& name, bool up = true) {
    try {
      pqxx::work tx{conn()};
      auto r = tx.exec_params(
          "SELECT incarnation FROM nodes WHERE name = $1 AND (NOT $2 OR (status = 'up' "
          "AND last_seen > now() - interval '10 seconds'))",
          name, up);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    } catch (const pqxx::sql_error&) {
      conn_.reset();
      return std::nullopt;  // no schema yet
    }
  }

  /// Until `api_node` counts `peers` authenticated peers.
  void wait_peers(const std::string& api_node, int peers, std::chrono::milliseconds timeout = 30s) {
    auto c = node(api_node).http();
    if (!eventually([&] { return metric(c, "orchestrator_cluster_peers") == peers; }, timeout)) {
      throw std::runtime_error(api_node + " does not count " + std::to_string(peers) +
                               " peers (counts " +
                               std::to_string(metric(c, "orchestrator_cluster_peers")) + ")");
    }
  }

  pqxx::connection& conn() {
    if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(db_);
    return *conn_;
  }

  long long scalar(const std::string& sql) {
    pqxx::work tx{conn()};
    auto v = tx.exec1(sql)[0].as<long long>();
    tx.commit();
    return v;
  }

  /// The last `lines` lines of a node's log.
  std::string tail(const std::string& name, std::size_t lines = 20) {
    std::istringstream in(node(name).log());
    std::vector<std::string> all;
    std::string line;
    while (std::getline(in, line)) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
      out += all[i] + "\n";
    }
    return out;
  }

 private:
  int unused_port() {
    for (;;) {
      int p = free_port();
      if (used_.insert(p).second) return p;
    }
  }

  std::string db_;
  std::map<std::string, std::string> common_;
  std::map<std::string, std::unique_ptr<server>> nodes_;
  std::map<std::string, std::string> roles_;
  std::set<int> used_;
  std::unique_ptr<pqxx::connection> conn_;
};

/// Until no run is pending or running; false on timeout.
bool wait_drained(bench_cluster& c, std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    // Through the partial indexes, so polling stays cheap.
    if (c.scalar("SELECT (SELECT count(*) FROM runs WHERE status = 'pending') + "
                 "(SELECT count(*) FROM runs WHERE status = 'running')") == 0) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// ---------------------------------------------------------------------------
// failover

/// Submits single runs of `task` at a steady rate from its own thread.
class stream_submitter {
 public:
  stream_submitter(client c, std::string task, double rate)
      : c_(std::move(c)), task_(std::move(task)), rate_(rate), thread_([this] { loop(); }) {}
  ~stream_submitter() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long long submitted() const { return ok_; }
  long long failed() const { return failed_; }

 private:
  void loop() {
    auto t0 = clock_type::now();
    for (long long i = 0; !stop_; ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(static_cast<long long>(
                                             1e6 * static_cast<double>(i) / rate_)));
      auto r = c_.post("/v1/tasks/" + task_ + "/runs", json::object());
      (r.status == 201 ? ok_ : failed_)++;
    }
  }

  client c_;
  std::string task_;
  double rate_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> ok_{0}, failed_{0};
  std::thread thread_;
};

void failover(int trials) {
  const int concurrency = 10;
  const int prefetch = 4;
  const double rate = 8;  // runs/s of `sleep 1`: each worker ~4 busy of 10 slots
  // Lease expiry (30 s) and the heartbeat backstop (NODE_TIMEOUT 10 s) are far
  // beyond the 2 s target: only the cluster noticing the lost peer meets it.
  bench_cluster c({{"WORKER_CONCURRENCY", std::to_string(concurrency)},
                   {"WORKER_PREFETCH", std::to_string(prefetch)},
                   {"LEASE_TIMEOUT", "30s"},
                   {"NODE_TIMEOUT", "10s"}});
  c.add("ctl", "api,scheduler,dispatcher");
  c.add("w1", "worker");
  c.add("w2", "worker");
  c.start("ctl");
  c.start("w1");
  c.start("w2");
  c.wait_peers("ctl", 2);
  auto api = c.node("ctl").http();
  auto put = api.put("/v1/tasks/nap", sleep_task("1"));
  if (put.status != 201 && put.status != 200) throw std::runtime_error("task: " + put.body);

  const std::string victim = "w2";
  stream_submitter load(api, "nap", rate);
  std::vector<double> per_trial, detect_ms, first_restart;
  std::vector<int> on_victim_counts;
  std::vector<std::string> problems_seen;
  for (int t = 0; t < trials; ++t) {
    if (!c.node(victim).running()) {
      c.start(victim);
      c.wait_peers("ctl", 2);
    }
    // Steady state: the restarted victim holds runs of the stream.
    auto joined = clock_type::now();
    auto running_on_victim = [&] {
      pqxx::work tx{c.conn()};
      return tx
          .exec_params1("SELECT count(*) FROM runs WHERE status = 'running' AND node = $1",
                        victim)[0]
          .as<long long>();
    };
    if (!eventually([&] { return seconds_since(joined) > 2.0 && running_on_victim() >= 3; }, 30s)) {
      throw std::runtime_error("the victim got no runs; ctl log:\n" + c.tail("ctl") +
                               "victim log:\n" + c.tail(victim));
    }
    std::vector<std::pair<long long, int>> held;  // run id, attempt at the kill
    {
      pqxx::work tx{c.conn()};
      for (const auto& r : tx.exec_params(
               "SELECT id, attempt FROM runs WHERE status = 'running' AND node = $1", victim)) {
        held.emplace_back(r[0].as<long long>(), r[1].as<int>());
      }
    }
    const double killed_at = epoch_now();
    c.node(victim).kill(SIGKILL);
    // Each held run's first step of a later attempt; its row is written when the
    // step finishes, so wait for those rows (a `sleep 1` after the restart).
    std::string ids = "{", attempts = "{";
    for (std::size_t i = 0; i < held.size(); ++i) {
      if (i > 0) {
        ids += ',';
        attempts += ',';
      }
      ids += std::to_string(held[i].first);
      attempts += std::to_string(held[i].second);
    }
    ids += "}";
    attempts += "}";
    const std::string restarted_sql =
        "SELECT h.id, (SELECT extract(epoch FROM min(s.started_at))::float8 FROM run_steps s "
        "  WHERE s.run_id = h.id AND s.idx = 0 AND s.attempt > h.attempt), "
        "(SELECT r.status FROM runs r WHERE r.id = h.id) "
        "FROM unnest($1::bigint[], $2::int[]) AS h(id, attempt)";
    std::vector<double> starts;
    bool all = eventually(
        [&] {
          starts.clear();
          pqxx::work tx{c.conn()};
          for (const auto& r : tx.exec_params(restarted_sql, ids, attempts)) {
            if (r[1].is_null()) {
              auto st = r[2].as<std::string>();
              if (st == "failed" || st == "cancelled") {
                problems_seen.push_back("run " + r[0].as<std::string>() + " ended " + st +
                                        " without a later attempt");
                starts.push_back(1e9);
                continue;
              }
              return false;
            }
            starts.push_back(r[1].as<double>() - killed_at);
          }
          return true;
        },
        60s);
    if (!all) {
      throw std::runtime_error("runs of the killed node did not run again within 60 s; ctl log:\n" +
                               c.tail("ctl") + "w1 log:\n" + c.tail("w1"));
    }
    {
      pqxx::work tx{c.conn()};
      auto r = tx.exec_params(
          "SELECT extract(epoch FROM down_at)::float8 FROM nodes WHERE name = $1 AND down_at IS "
          "NOT NULL",
          victim);
      if (!r.empty()) detect_ms.push_back((r[0][0].as<double>() - killed_at) * 1000.0);
    }
    double worst = *std::max_element(starts.begin(), starts.end());
    per_trial.push_back(worst);
    first_restart.push_back(*std::min_element(starts.begin(), starts.end()));
    on_victim_counts.push_back(static_cast<int>(held.size()));
    std::fprintf(stderr, "failover trial %d: %zu run(s) on %s, all started again after %.3f s\n",
                 t + 1, held.size(), victim.c_str(), worst);
  }
  load.stop();
  check(load.failed() == 0, "failover: " + std::to_string(load.failed()) + " submissions failed");
  for (const auto& p : problems_seen) problem("failover: " + p);
  double limit = 2.0;
  double worst = percentile(per_trial, 1.0);
  json rounded = json::array();
  for (double v : per_trial) rounded.push_back(round_to(v, 0.001));
  emit({{"benchmark", "failover"},
        {"topology", "api,scheduler,dispatcher node + 2 worker-only nodes (concurrency " +
                         std::to_string(concurrency) + ", prefetch " + std::to_string(prefetch) +
                         "); worker killed with SIGKILL, restarted between trials"},
        {"load", "single submissions of `sleep 1` at " + std::to_string(static_cast<int>(rate)) +
                     " runs/s"},
        {"trials", trials},
        {"runs_on_victim", on_victim_counts},
        {"all_restarted_seconds", rounded},
        {"p50_seconds", percentile(per_trial, 0.5)},
        {"max_seconds", worst},
        {"first_restart_p50_seconds", percentile(first_restart, 0.5)},
        {"declared_down_p50_ms", percentile(detect_ms, 0.5)},
        {"declared_down_max_ms", percentile(detect_ms, 1.0)},
        {"submit_failures", load.failed()},
        {"problems", problems_seen},
        {"target", "max <= 2 s"},
        {"target_met", worst <= limit && problems_seen.empty()}},
       {"max_seconds"});
}

// ---------------------------------------------------------------------------
// capacity_scaling

struct burst_result {
  double wall = 0;    // from the submit call to the last run succeeded (observed)
  double span = 0;    // min(created_at) to max(finished_at), database timestamps
  double submit = 0;  // the batch call(s)
  long long ok = 0;
  double step_avg = 0;      // mean duration of the `sleep 0.1` step
  double utilization = 0;   // step time / (wall x slots)
  double machine_busy = 0;  // CPUs busy on average (the whole machine)
  std::map<std::string, long long> per_node;
  std::map<std::string, double> cpu;
};

burst_result burst(int workers, int runs, int concurrency) {
  bench_cluster c({{"WORKER_CONCURRENCY", std::to_string(concurrency)}});
  c.add("ctl", "api,scheduler,dispatcher");
  for (int i = 1; i <= workers; ++i) c.add("w" + std::to_string(i), "worker");
  c.start("ctl");
  for (int i = 1; i <= workers; ++i) c.start("w" + std::to_string(i));
  c.wait_peers("ctl", workers);
  auto api = c.node("ctl").http();
  auto put = api.put("/v1/tasks/nap", sleep_task("0.1"));
  if (put.status != 201 && put.status != 200) throw std::runtime_error("task: " + put.body);
  // Every pool sends its demand when it sees a dispatcher and again every
  // second: let that settle so the burst finds every worker asking.
  std::this_thread::sleep_for(1500ms);
  std::vector<double> cpu0, child0;
  for (int i = 1; i <= workers; ++i) {
    cpu0.push_back(cpu_seconds(c.node("w" + std::to_string(i)).pid()));
    child0.push_back(cpu_seconds(c.node("w" + std::to_string(i)).pid(), true));
  }
  double cpu_ctl0 = cpu_seconds(c.node("ctl").pid());
  const auto dbname = database_name(c.database_url());
  double pg0 = backend_cpu_seconds(dbname);

  burst_result out;
  auto j0 = machine_jiffies();
  auto t0 = clock_type::now();
  for (int sent = 0; sent < runs;) {
    int n = std::min(10000, runs - sent);
    json items = json::array();
    for (int i = 0; i < n; ++i) items.push_back({{"task", "nap"}});
    auto r = api.post("/v1/runs/batch", {{"runs", items}});
    if (r.status != 201) throw std::runtime_error("batch failed: " + r.body.substr(0, 300));
    sent += n;
  }
  out.submit = seconds_since(t0);
  if (!wait_drained(c, std::chrono::minutes(5))) {
    throw std::runtime_error("burst did not finish; ctl log:\n" + c.tail("ctl"));
  }
  out.wall = seconds_since(t0);
  auto j1 = machine_jiffies();
  out.machine_busy = (j1.first - j0.first) / (j1.second - j0.second) *
                     static_cast<double>(std::thread::hardware_concurrency());
  for (int i = 1; i <= workers; ++i) {
    auto n = "w" + std::to_string(i);
    out.cpu[n] = cpu_seconds(c.node(n).pid()) - cpu0[static_cast<std::size_t>(i - 1)];
    out.cpu["steps"] +=
        cpu_seconds(c.node(n).pid(), true) - child0[static_cast<std::size_t>(i - 1)];
  }
  out.cpu["ctl"] = cpu_seconds(c.node("ctl").pid()) - cpu_ctl0;
  out.cpu["postgres"] = backend_cpu_seconds(dbname) - pg0;
  pqxx::work tx{c.conn()};
  auto r = tx.exec1(
      "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
      "extract(epoch FROM max(finished_at) - min(created_at))::float8 FROM runs");
  out.ok = r[0].as<long long>();
  out.span = r[1].as<double>();
  auto st = tx.exec1(
      "SELECT avg(extract(epoch FROM finished_at - started_at))::float8, "
      "sum(extract(epoch FROM finished_at - started_at))::float8 FROM run_steps");
  out.step_avg = st[0].as<double>();
  out.utilization = st[1].as<double>() / (out.wall * workers * concurrency);
  for (const auto& row :
       tx.exec("SELECT coalesce(node, '?'), count(*) FROM runs GROUP BY 1 ORDER BY 1")) {
    out.per_node[row[0].as<std::string>()] = row[1].as<long long>();
  }
  return out;
}

void capacity_scaling(int runs) {
  const int concurrency = 20;
  auto one = burst(1, runs, concurrency);
  std::fprintf(stderr, "capacity_scaling: 1 worker node %.3f s\n", one.wall);
  auto three = burst(3, runs, concurrency);
  std::fprintf(stderr, "capacity_scaling: 3 worker nodes %.3f s\n", three.wall);
  auto describe = [&](const burst_result& b) {
    json cpu;
    for (const auto& [n, s] : b.cpu) cpu[n] = round_to(s, 0.01);
    return json{{"seconds", b.wall},
                {"db_span_seconds", b.span},
                {"submit_seconds", b.submit},
                {"succeeded", b.ok},
                {"runs_per_second", static_cast<double>(b.ok) / b.wall},
                {"runs_per_node", b.per_node},
                {"step_seconds_avg", b.step_avg},
                {"slot_utilization", b.utilization},
                {"machine_cpus_busy", b.machine_busy},
                {"cpu_seconds", cpu}};
  };
  double speedup = one.wall / three.wall;
  check(one.ok == runs, "capacity_scaling: one worker node, " + std::to_string(one.ok) + " of " +
                            std::to_string(runs) + " runs succeeded");
  check(three.ok == runs, "capacity_scaling: three worker nodes, " + std::to_string(three.ok) +
                              " of " + std::to_string(runs) + " runs succeeded");
  emit({{"benchmark", "capacity_scaling"},
        {"topology", "api,scheduler,dispatcher node + N worker-only nodes, concurrency " +
                         std::to_string(concurrency) +
                         " each, default prefetch; fresh database each"},
        {"runs", runs},
        {"task", "exec /bin/sleep 0.1"},
        {"one_worker_node", describe(one)},
        {"three_worker_nodes", describe(three)},
        {"one_node_seconds", one.wall},
        {"three_node_seconds", three.wall},
        {"speedup", speedup},
        {"speedup_db_span", one.span / three.span},
        {"target", "speedup >= 2.7"},
        {"target_met", speedup >= 2.7 && one.ok == runs && three.ok == runs}},
       {"one_node_seconds", "three_node_seconds", "speedup"});
}

// ---------------------------------------------------------------------------
// cross_node_latency

struct latency_result {
  std::string topology;
  std::size_t runs = 0;
  double p50 = 0, p99 = 0, max = 0;
  double claim_p50 = 0;  // created_at -> runs.started_at (the claim)
  std::map<std::string, long long> per_node;
};

/// `nodes`: name -> roles; `api` submits; runs execute wherever the cluster puts them.
latency_result latency(const std::vector<std::pair<std::string, std::string>>& nodes,
                       const std::string& api_node, int peers, const std::string& topology,
                       int rate, double seconds) {
  bench_cluster c({});
  for (const auto& [n, roles] : nodes) c.add(n, roles);
  for (const auto& [n, roles] : nodes) c.start(n);
  if (peers > 0) c.wait_peers(api_node, peers);
  auto api = c.node(api_node).http();
  auto put = api.put("/v1/tasks/t", template_task());
  if (put.status != 201 && put.status != 200) throw std::runtime_error("task: " + put.body);
  std::this_thread::sleep_for(1500ms);
  // Warm-up: the first run pays for connections and caches on every hop.
  for (int i = 0; i < 5; ++i) {
    auto r = api.post("/v1/tasks/t/runs", {{"params", {{"n", -1}}}});
    if (r.status != 201) throw std::runtime_error("warm-up submit failed: " + r.body);
  }
  if (!wait_drained(c, 30s)) throw std::runtime_error("warm-up runs did not finish");
  long long warm = c.scalar("SELECT coalesce(max(id), 0) FROM runs");

  int n = static_cast<int>(rate * seconds);
  auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        t0 + std::chrono::microseconds(static_cast<long long>(1e6 * i / rate)));
    auto r = api.post("/v1/tasks/t/runs", {{"params", {{"n", i}}}});
    if (r.status != 201) throw std::runtime_error("submit failed: " + r.body);
  }
  if (!wait_drained(c, 60s))
    throw std::runtime_error("runs did not finish; log:\n" + c.tail(api_node));
  latency_result out;
  out.topology = topology;
  std::vector<double> lat, claim;
  pqxx::work tx{c.conn()};
  for (const auto& row :
       tx.exec_params("SELECT extract(epoch FROM s.started_at - r.created_at)::float8, "
                      "extract(epoch FROM r.started_at - r.created_at)::float8 FROM runs r "
                      "JOIN run_steps s ON s.run_id = r.id AND s.idx = 0 AND s.attempt = r.attempt "
                      "WHERE r.id > $1 AND r.status = 'succeeded'",
                      warm)) {
    lat.push_back(row[0].as<double>() * 1000.0);
    claim.push_back(row[1].as<double>() * 1000.0);
  }
  for (const auto& row : tx.exec_params(
           "SELECT coalesce(node, '?'), count(*) FROM runs WHERE id > $1 GROUP BY 1", warm)) {
    out.per_node[row[0].as<std::string>()] = row[1].as<long long>();
  }
  out.runs = lat.size();
  out.p50 = percentile(lat, 0.5);
  out.p99 = percentile(lat, 0.99);
  out.max = percentile(lat, 1.0);
  out.claim_p50 = percentile(claim, 0.5);
  check(static_cast<int>(out.runs) == n, "cross_node_latency " + topology + ": " +
                                             std::to_string(out.runs) + " of " + std::to_string(n) +
                                             " runs succeeded");
  std::fprintf(stderr, "cross_node_latency %s: p50 %.2f ms over %zu runs\n", topology.c_str(),
               out.p50, out.runs);
  return out;
}

void cross_node_latency(int rate, double seconds) {
  auto single = latency({{"solo", "api,scheduler,dispatcher,worker"}}, "solo", 0,
                        "one node with every role", rate, seconds);
  auto three =
      latency({{"api", "api"}, {"disp", "scheduler,dispatcher"}, {"work", "worker"}}, "api", 2,
              "api-only node -> scheduler,dispatcher node -> worker-only node", rate, seconds);
  auto two = latency({{"api", "api"}, {"dw", "scheduler,dispatcher,worker"}}, "api", 1,
                     "api-only node -> scheduler,dispatcher,worker node", rate, seconds);
  auto describe = [](const latency_result& r) {
    return json{{"topology", r.topology},
                {"runs", r.runs},
                {"p50_ms", r.p50},
                {"p99_ms", r.p99},
                {"max_ms", r.max},
                {"claim_p50_ms", r.claim_p50},
                {"runs_per_node", r.per_node}};
  };
  double diff = three.p50 - single.p50;
  emit({{"benchmark", "cross_node_latency"},
        {"offered_runs_per_second", rate},
        {"seconds", seconds},
        {"task", "one template step"},
        {"measure", "run_steps.started_at - runs.created_at (claim_p50_ms: runs.started_at)"},
        {"single_node", describe(single)},
        {"cross_node", describe(three)},
        {"cross_node_two_nodes", describe(two)},
        {"single_p50_ms", single.p50},
        {"cross_p50_ms", three.p50},
        {"p50_difference_ms", diff},
        {"p50_difference_two_nodes_ms", two.p50 - single.p50},
        {"target", "p50 difference <= 2 ms"},
        {"target_met", diff <= 2.0}},
       {"single_p50_ms", "cross_p50_ms"});
}

}  // namespace

int main(int argc, char** argv) {
  bench_main bench(argc, argv, "failover|capacity|latency");
  curl_global_init(CURL_GLOBAL_ALL);
  auto started = clock_type::now();
  bench.run("failover", "failover", [] { failover(quick ? 2 : 10); });
  bench.run("capacity", "capacity_scaling", [] { capacity_scaling(quick ? 300 : 3000); });
  bench.run("latency", "cross_node_latency", [] { cross_node_latency(20, quick ? 2.0 : 10.0); });
  std::fprintf(stderr, "cluster benchmark took %.1f s\n", seconds_since(started));
  return bench.verdict();
}
