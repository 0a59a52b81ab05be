#pragma once
// Cluster test support: several `orchestrator serve` processes sharing one fresh
// database, each with its own name, roles, HTTP port and cluster (middleman) port,
// all bound to loopback and sharing one cluster secret. Nodes discover each
// other through the `nodes` table, so no seeds are configured.
//
// Every process a `cluster` started is killed when it goes out of scope (a
// stopped one gets SIGCONT first), so a failed assertion never leaks a node.

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>
#include <iostream>
#include <memory>
#include <set>

#include "support/harness.hpp"

namespace orch::test {

/// Every role a node can have, the default of NODE_ROLES.
inline const std::string all_roles = "api,scheduler,dispatcher,worker";

/// Seconds since the epoch, as PostgreSQL's extract(epoch FROM ...) gives them.
inline double epoch_seconds(
    std::chrono::system_clock::time_point t = std::chrono::system_clock::now()) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

/// The sum of every series of a metric family (`name` or `name{...}`), or
/// nullopt when the node does not export it (or does not answer).
inline std::optional<double> metric_family(const client& c, const std::string& family) {
  auto r = c.get("/metrics");
  if (r.status != 200) return std::nullopt;
  std::istringstream in(r.body);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.rfind(family, 0) != 0 || line.size() <= family.size()) continue;
    char next = line[family.size()];
    std::size_t value_at = std::string::npos;
    if (next == ' ') {
      value_at = family.size() + 1;
    } else if (next == '{') {
      auto close = line.find("} ", family.size());
      if (close != std::string::npos) value_at = close + 2;
    }
    if (value_at == std::string::npos) continue;
    try {
      sum = sum.value_or(0) + std::stod(line.substr(value_at));
    } catch (const std::exception&) {
    }
  }
  return sum;
}

/// One node of a test cluster: an `orchestrator serve` process and what it was
/// started with.
class cluster_node {
 public:
  cluster_node(std::string name, std::string roles, std::map<std::string, std::string> env)
      : name_(std::move(name)), roles_(std::move(roles)) {
    cluster_port_ = std::stoi(env.at("CLUSTER_PORT"));
    proc_ = std::make_unique<server>(std::move(env));
  }
  ~cluster_node() { destroy(); }
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  const std::string& name() const { return name_; }
  const std::string& roles() const { return roles_; }
  bool has_role(const std::string& role) const {
    std::string padded = "," + roles_ + ",";
    return padded.find("," + role + ",") != std::string::npos;
  }
  int cluster_port() const { return cluster_port_; }
  /// The node's HTTP client; only meaningful when it has the `api` role.
  client http() const { return proc_->http(); }
  std::string url() const { return proc_->url(); }
  server& process() { return *proc_; }
  bool running() { return proc_->running(); }
  bool stopped() const { return stopped_; }
  std::string log() const { return proc_->log(); }

  void start() {
    stopped_ = false;
    proc_->start();
  }
  /// SIGKILL; returns once the process is gone.
  void kill() {
    if (stopped_) ::kill(proc_->pid(), SIGCONT);
    stopped_ = false;
    proc_->kill(SIGKILL);
  }
  /// SIGSTOP: the process freezes with its sockets open (a hung node).
  void hang() {
    BOOST_REQUIRE_MESSAGE(proc_->pid() > 0, name_ << " is not running");
    ::kill(proc_->pid(), SIGSTOP);
    stopped_ = true;
  }
  /// SIGCONT after hang().
  void resume() {
    if (proc_->pid() > 0) ::kill(proc_->pid(), SIGCONT);
    stopped_ = false;
  }
  /// SIGTERM (a drain); returns the exit code, or -1 when it did not exit in time.
  int drain(std::chrono::milliseconds timeout = 60s) {
    proc_->kill(SIGTERM);
    return proc_->wait_exit(timeout);
  }
  /// Kills the process whatever state it is in (a stopped one gets SIGCONT first).
  void destroy() {
    if (!proc_) return;
    if (proc_->pid() > 0) {
      ::kill(proc_->pid(), SIGCONT);
      proc_->kill(SIGKILL);
    }
    stopped_ = false;
  }

 private:
  std::string name_;
  std::string roles_;
  int cluster_port_ = 0;
  bool stopped_ = false;
  std::unique_ptr<server> proc_;
};

/// A row of the `nodes` table.
struct node_row {
  std::string incarnation;
  std::string status;
  double age_seconds = 0;  ///< now() - last_seen, by PostgreSQL's clock
};

/// A test cluster: one fresh database, a common secret and environment, and
/// named nodes started on demand.
class cluster {
 public:
  /// `common` is added to every node's environment (a node's own env wins).
  explicit cluster(std::map<std::string, std::string> common = {})
      : url_(fresh_database()), common_(std::move(common)) {}
  ~cluster() {
    report_on_failure();
    for (auto& [name, n] : nodes_) n->destroy();
  }
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  const std::string& database_url() const { return url_; }
  const std::string& secret() const { return secret_; }

  /// Creates a node (not started). `env` overrides the common environment.
  cluster_node& add(const std::string& name, const std::string& roles = all_roles,
                    std::map<std::string, std::string> env = {}) {
    BOOST_REQUIRE_MESSAGE(!nodes_.count(name), "node " << name << " exists already");
    int cport = unused_port();
    int hport = unused_port();
    std::map<std::string, std::string> e = {
        {"DATABASE_URL", url_},
        {"NODE_NAME", name},
        {"NODE_ROLES", roles},
        {"HTTP_HOST", "127.0.0.1"},
        {"HTTP_PORT", std::to_string(hport)},
        {"CLUSTER_PORT", std::to_string(cport)},
        {"CLUSTER_BIND", "127.0.0.1"},
        {"CLUSTER_ADVERTISE", "127.0.0.1:" + std::to_string(cport)},
        {"CLUSTER_SECRET", secret_},
        {"CLUSTER_HEARTBEAT", "250ms"},
        {"POLL_INTERVAL", "100ms"},
        {"KILL_GRACE", "1s"},
    };
    for (const auto& [k, v] : common_) e[k] = v;
    for (const auto& [k, v] : env) e[k] = v;
    auto n = std::make_unique<cluster_node>(name, roles, std::move(e));
    auto& ref = *n;
    nodes_[name] = std::move(n);
    order_.push_back(name);
    return ref;
  }

  /// Adds and starts a node, waiting until it is up (see wait_started).
  cluster_node& start(const std::string& name, const std::string& roles = all_roles,
                      std::map<std::string, std::string> env = {},
                      std::chrono::milliseconds timeout = 60s) {
    auto& n = add(name, roles, std::move(env));
    launch(name);
    BOOST_REQUIRE_MESSAGE(wait_started(name, timeout), "node " << name << " did not come up; log:\n"
                                                               << n.log());
    return n;
  }

  /// Starts (or restarts) a node's process with the environment it was added with.
  void launch(const std::string& name) {
    auto& n = node(name);
    auto row = db_node(name);
    previous_incarnation_[name] = row ? row->incarnation : "";
    n.start();
  }

  /// Restarts a node that exited (after kill or drain) with the same environment
  /// and waits until its new incarnation is up.
  void restart(const std::string& name, std::chrono::milliseconds timeout = 60s) {
    BOOST_REQUIRE_MESSAGE(!node(name).running(), "node " << name << " is still running");
    launch(name);
    BOOST_REQUIRE_MESSAGE(wait_started(name, timeout), "node " << name
                                                               << " did not come back; log:\n"
                                                               << node(name).log());
  }

  /// Until the process launched last for `name` is up: its new incarnation is
  /// `up` in the nodes table and, for an api node, /ready answers 200.
  bool wait_started(const std::string& name, std::chrono::milliseconds timeout = 60s) {
    auto& n = node(name);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (n.has_role("api") && !n.process().wait_ready(timeout)) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return eventually([&] { return n.running() && incarnation_up(name); },
                      std::max(left, std::chrono::milliseconds(1000)));
  }

  /// True when the node's row holds an incarnation other than the one before
  /// its last launch, with status `up` and a recent heartbeat.
  bool incarnation_up(const std::string& name) {
    auto row = db_node(name);
    return row && row->incarnation != previous_incarnation_[name] && row->status == "up" &&
           row->age_seconds < 10.0;
  }

  cluster_node& node(const std::string& name) {
    auto it = nodes_.find(name);
    BOOST_REQUIRE_MESSAGE(it != nodes_.end(), "no node " << name);
    return *it->second;
  }
  cluster_node& operator[](const std::string& name) { return node(name); }
  /// Node names in the order they were added.
  const std::vector<std::string>& names() const { return order_; }

  /// HTTP client of an api node.
  client api(const std::string& name) {
    auto& n = node(name);
    BOOST_REQUIRE_MESSAGE(n.has_role("api"), name << " has no api role");
    return n.http();
  }

  void kill(const std::string& name) { node(name).kill(); }
  void hang(const std::string& name) { node(name).hang(); }
  void resume(const std::string& name) { node(name).resume(); }
  int drain(const std::string& name, std::chrono::milliseconds timeout = 60s) {
    return node(name).drain(timeout);
  }

  /// The node's row in the `nodes` table.
  std::optional<node_row> db_node(const std::string& name) {
    try {
      pqxx::work tx{db()};
      auto r = tx.exec_params(
          "SELECT incarnation, status, extract(epoch FROM now() - last_seen)::float8 "
          "FROM nodes WHERE name = $1",
          name);
      if (r.empty()) return std::nullopt;
      return node_row{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<double>()};
    } catch (const pqxx::undefined_table&) {
      return std::nullopt;  // the first node has not migrated the database yet
    }
  }

  /// name -> status as GET /v1/nodes on an api node shows them (empty on error).
  std::map<std::string, std::string> statuses_via(const std::string& api_node) {
    std::map<std::string, std::string> out;
    auto r = api(api_node).get("/v1/nodes");
    if (r.status != 200) return out;
    try {
      auto body = r.js();  // the loop must not range over a temporary's member
      for (const auto& item : body["items"]) {
        out[item["name"].get<std::string>()] = item["status"].get<std::string>();
      }
    } catch (const std::exception&) {
      out.clear();
    }
    return out;
  }

  /// Until GET /v1/nodes on `api_node` lists every one of `names` as up.
  bool wait_listed_up(const std::string& api_node, const std::vector<std::string>& names,
                      std::chrono::milliseconds timeout = 20s) {
    bool ok = eventually(
        [&] {
          auto s = statuses_via(api_node);
          for (const auto& n : names) {
            auto it = s.find(n);
            if (it == s.end() || it->second != "up") return false;
          }
          return true;
        },
        timeout);
    if (!ok) {
      BOOST_TEST_MESSAGE("GET /v1/nodes on " << api_node << ": "
                                             << api(api_node).get("/v1/nodes").body);
    }
    return ok;
  }

  /// The node's `orchestrator_cluster_peers` gauge (nullopt when absent).
  std::optional<double> peers(const std::string& name) {
    return metric_family(api(name), "orchestrator_cluster_peers");
  }

  /// Until `name` (an api node) counts `value` authenticated peers.
  bool wait_peers(const std::string& name, double value, std::chrono::milliseconds timeout = 20s) {
    return eventually([&] { return peers(name) == value; }, timeout);
  }

  /// Until every running api node counts all other running nodes as peers.
  bool wait_mesh(std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> live;
    for (const auto& n : order_) {
      if (node(n).running() && !node(n).stopped()) live.push_back(n);
    }
    for (const auto& n : live) {
      if (!node(n).has_role("api")) continue;
      if (!wait_peers(n, static_cast<double>(live.size() - 1), timeout)) {
        BOOST_TEST_MESSAGE("node " << n << " counts " << peers(n).value_or(-1)
                                   << " peers, expected " << live.size() - 1);
        return false;
      }
    }
    return true;
  }

  /// The test's own connection to the cluster's database.
  pqxx::connection& db() {
    if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(url_);
    return *conn_;
  }

  /// The first column of the first row of `sql`.
  long long scalar(const std::string& sql) {
    pqxx::work tx{db()};
    return tx.exec(sql)[0][0].as<long long>();
  }

 private:
  int unused_port() {
    for (;;) {
      int p = free_port();
      if (used_ports_.insert(p).second) return p;
    }
  }

  /// Prints where the node logs are and their last lines when the test failed.
  void report_on_failure() {
    namespace ut = boost::unit_test;
    bool failed = false;
    try {
      failed = !ut::results_collector.results(ut::framework::current_test_case().p_id).passed();
    } catch (...) {
      return;
    }
    if (!failed) return;
    for (const auto& name : order_) {
      auto text = node(name).log();
      std::vector<std::string> lines;
      std::istringstream in(text);
      std::string line;
      while (std::getline(in, line)) lines.push_back(line);
      std::size_t from = lines.size() > 40 ? lines.size() - 40 : 0;
      std::cerr << "---- last lines of node " << name << " ----\n";
      for (std::size_t i = from; i < lines.size(); ++i) std::cerr << lines[i] << "\n";
    }
  }

  std::string url_;
  std::string secret_ = "cluster-test-secret-0123456789";
  std::map<std::string, std::string> common_;
  std::map<std::string, std::unique_ptr<cluster_node>> nodes_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> previous_incarnation_;
  std::set<int> used_ports_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace orch::test
