#include "runtime/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>

#include "domain/cluster_auth.hpp"
#include "domain/task.hpp"
#include "runtime/secrets.hpp"

namespace orch::runtime {
namespace {

struct reader {
  const std::function<const char*(const char*)>& getenv;
  std::vector<std::string> errors;

  std::optional<std::string> str(const char* name) {
    const char* v = getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }

  // A secret setting: NAME, or the contents of the file named by NAME_FILE
  // (Docker and Kubernetes secrets). Setting both is a mistake, not a choice.
  std::optional<std::string> secret(const char* name) {
    auto direct = str(name);
    auto file_var = std::string(name) + "_FILE";
    auto path = str(file_var.c_str());
    if (!path) return direct;
    if (direct) {
      errors.push_back(std::string(name) + " and " + file_var + " are both set: set one of them");
      return std::nullopt;
    }
    auto content = read_secret_file(*path);
    if (!content) {
      errors.push_back(file_var + "='" + *path + "': " + content.error().message);
      return std::nullopt;
    }
    return *content;
  }

  void integer(const char* name, int& out, long lo, long hi) {
    auto v = str(name);
    if (!v) return;
    long n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || p != v->data() + v->size() || v->empty()) {
      errors.push_back(std::string(name) + "='" + *v + "' is not an integer");
      return;
    }
    if (n < lo || n > hi) {
      errors.push_back(std::string(name) + "=" + *v + " is out of range " + std::to_string(lo) +
                       " to " + std::to_string(hi));
      return;
    }
    out = static_cast<int>(n);
  }

  void duration(const char* name, millis& out, millis lo, millis hi) {
    auto v = str(name);
    if (!v) return;
    auto d = parse_duration(*v);
    // A bare number means seconds (SCHEDULER_INTERVAL=5 in the ops spec).
    if (!d && !v->empty() && std::all_of(v->begin(), v->end(), ::isdigit) && v->size() < 9) {
      d = millis(std::stoll(*v) * 1000);
    }
    if (!d) {
      errors.push_back(std::string(name) + "='" + *v +
                       "' is not a duration (examples: 500ms, 15s, 5m, 30d)");
      return;
    }
    if (*d < lo || *d > hi) {
      errors.push_back(std::string(name) + "=" + *v + " is out of range " + format_duration(lo) +
                       " to " + format_duration(hi));
      return;
    }
    out = *d;
  }

  void boolean(const char* name, bool& out) {
    auto v = str(name);
    if (!v) return;
    std::string s = *v;
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    if (s == "1" || s == "true" || s == "yes" || s == "on")
      out = true;
    else if (s == "0" || s == "false" || s == "no" || s == "off")
      out = false;
    else
      errors.push_back(std::string(name) + "='" + *v + "' must be true or false");
  }
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string host_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == 0) return "node";
  std::string h = host;
  std::string out;
  for (char c : h) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') out += c;
  }
  return out.empty() ? "node" : out;
}

// The host name plus a suffix that tells apart several nodes on one host and
// stays the same when one of them restarts (so it finds its own old leases):
// FNV-1a of what makes an instance distinct.
std::string default_node_name(const std::string& instance) {
  std::uint32_t h = 2166136261u;
  for (char c : instance) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  char suffix[8];
  std::snprintf(suffix, sizeof(suffix), "%04x", h & 0xffffu);
  return host_name().substr(0, 58) + "-" + suffix;
}

bool valid_node_name(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

bool config::has_role(const std::string& r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

const std::vector<config_var>& config_vars() {
  static const std::vector<config_var> vars = {
      {"DATABASE_URL", "(embedded)",
       "PostgreSQL URL; unset: an embedded PostgreSQL under ORCH_HOME is started and stopped; "
       "or DATABASE_URL_FILE, a file holding it"},
      {"DATABASE_PASSWORD", "(none)",
       "password added to DATABASE_URL; or DATABASE_PASSWORD_FILE, a file holding it"},
      {"ORCH_HOME", "./.orchestrator", "state directory (embedded database)"},
      {"HTTP_HOST", "127.0.0.1", "address to listen on; non-loopback requires a token"},
      {"HTTP_PORT", "8080", "HTTP port (0: any free port, printed at start)"},
      {"API_WORKERS", "4", "database connections serving the API, 1 to 64"},
      {"MAX_BODY_BYTES", "1048576", "largest accepted request body, 1 KiB to 64 MiB"},
      {"LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"},
      {"LOG_FORMAT", "text", "text, or json for one JSON object per line"},
      {"ENABLE_METRICS", "true", "serve /metrics"},
      {"WORKER_CONCURRENCY", "10", "runs executing at once on this node, 1 to 50"},
      {"WORKER_PREFETCH", "4 x concurrency, at least 64", "extra claimed runs a node may hold"},
      {"WORKER_QUEUES", "(all)", "comma-separated queues this node works on"},
      {"SCHEDULER_INTERVAL", "5s", "longest scheduler sleep between checks, 100ms to 1h"},
      {"POLL_INTERVAL", "1s", "fallback claim poll when no wake-up arrives, 10ms to 1m"},
      {"MISFIRE_GRACE", "5s", "a fire time later than this is missed (misfire policy applies)"},
      {"LEASE_TIMEOUT", "15s", "lease of a running run, renewed every third of it, 3s to 1h"},
      {"MAX_LOST_LEASES", "3",
       "a run whose node dies, hangs or drops its lease this often fails (lease_lost), 1 to 100"},
      {"SHUTDOWN_GRACE", "25s", "time in-flight runs get to finish on SIGTERM, 0s to 1h"},
      {"KILL_GRACE", "5s", "SIGTERM to SIGKILL delay for a step's process group"},
      {"RUN_RETENTION", "30d", "finished runs older than this are deleted, 1h to 10y"},
      {"NODE_NAME", "(host name)", "this node's name: letters, digits, - _ ."},
      {"NODE_ROLES", "api,scheduler,dispatcher,worker", "roles of this node"},
      {"REDIS_URL", "(none)",
       "accepted for compatibility; not used yet; or REDIS_URL_FILE, a file holding it"},
      {"NODE_TIMEOUT", "10s", "a node whose heartbeat is older is declared down, 2s to 1h"},
      {"CLUSTER_PORT", "(off)", "port of the cluster endpoint (CAF middleman); 0 or unset: off"},
      {"CLUSTER_BIND", "0.0.0.0", "address the cluster endpoint listens on (a private network)"},
      {"CLUSTER_ADVERTISE", "(host name):CLUSTER_PORT", "host:port other nodes reach this one at"},
      {"CLUSTER_SECRET", "(required with CLUSTER_PORT)",
       "shared secret every node proves in the join handshake, 16 to 1024 characters; or "
       "CLUSTER_SECRET_FILE, a file holding it"},
      {"CLUSTER_SEEDS", "(none)", "comma-separated host:port of nodes to join besides the table"},
      {"CLUSTER_HEARTBEAT", "500ms", "middleman heartbeat between nodes, 50ms to 1m"},
      {"CLUSTER_TIMEOUT", "2s",
       "a peer silent this long is cut off and declared down, 200ms to 10m"},
  };
  return vars;
}

config_check check_config(const std::function<const char*(const char*)>& getenv) {
  config c;
  reader r{getenv, {}};
  if (auto v = r.secret("DATABASE_URL")) c.database_url = *v;
  if (auto v = r.secret("DATABASE_PASSWORD")) {
    auto url = with_password(c.database_url, *v);
    if (url)
      c.database_url = *url;
    else
      r.errors.push_back("DATABASE_PASSWORD: " + url.error().message);
  }
  if (auto v = r.str("ORCH_HOME")) {
    if (v->empty())
      r.errors.push_back("ORCH_HOME must not be empty");
    else
      c.orch_home = *v;
  }
  if (auto v = r.str("HTTP_HOST")) {
    if (v->empty())
      r.errors.push_back("HTTP_HOST must not be empty");
    else
      c.http_host = *v;
  }
  r.integer("HTTP_PORT", c.http_port, 0, 65535);
  r.integer("API_WORKERS", c.api_workers, 1, 64);
  int body = static_cast<int>(c.max_body_bytes);
  r.integer("MAX_BODY_BYTES", body, 1024, 64 << 20);
  c.max_body_bytes = static_cast<std::size_t>(body);
  if (auto v = r.str("LOG_LEVEL")) {
    std::string s = *v;
    std::transform(s.begin(), s.end(), s.begin(), ::toupper);
    if (s == "DEBUG")
      c.level = log_level::debug;
    else if (s == "INFO")
      c.level = log_level::info;
    else if (s == "WARNING")
      c.level = log_level::warning;
    else if (s == "ERROR")
      c.level = log_level::error;
    else
      r.errors.push_back("LOG_LEVEL='" + *v + "' must be one of DEBUG INFO WARNING ERROR");
  }
  if (auto v = r.str("LOG_FORMAT")) {
    if (*v == "json")
      c.log_json = true;
    else if (*v == "text" || *v == "structured")
      c.log_json = false;
    else
      r.errors.push_back("LOG_FORMAT='" + *v + "' must be text or json");
  }
  r.boolean("ENABLE_METRICS", c.enable_metrics);
  auto& e = c.engine;
  r.integer("WORKER_CONCURRENCY", e.worker_concurrency, 1, 50);
  r.integer("WORKER_PREFETCH", e.prefetch, 0, 10000);
  if (auto v = r.str("WORKER_QUEUES")) {
    // A queue no task can have would leave the node idle without a word.
    e.queues = split(*v);
    for (const auto& q : e.queues) {
      if (!valid_task_name(q)) {
        r.errors.push_back("WORKER_QUEUES: queue '" + q +
                           "' must match ^[a-z0-9][a-z0-9_-]{0,62}$");
      }
    }
    if (e.queues.empty()) r.errors.push_back("WORKER_QUEUES must name at least one queue");
  }
  r.duration("SCHEDULER_INTERVAL", e.scheduler_interval, millis(100), std::chrono::hours(1));
  r.duration("POLL_INTERVAL", e.poll_interval, millis(10), std::chrono::minutes(1));
  millis grace = e.misfire_grace;
  r.duration("MISFIRE_GRACE", grace, millis(1000), std::chrono::hours(24));
  e.misfire_grace = std::chrono::duration_cast<std::chrono::seconds>(grace);
  r.duration("LEASE_TIMEOUT", e.lease_timeout, millis(3000), std::chrono::hours(1));
  r.integer("MAX_LOST_LEASES", e.max_lost_leases, 1, 100);
  r.duration("SHUTDOWN_GRACE", c.shutdown_grace, millis(0), std::chrono::hours(1));
  r.duration("KILL_GRACE", e.kill_grace, millis(0), std::chrono::minutes(10));
  r.duration("RUN_RETENTION", e.run_retention, std::chrono::hours(1),
             std::chrono::hours(24 * 3650));
  r.duration("NODE_TIMEOUT", e.node_timeout, millis(2000), std::chrono::hours(1));
  auto& cl = c.cluster;
  r.integer("CLUSTER_PORT", cl.port, 0, 65535);
  if (auto v = r.str("CLUSTER_BIND")) {
    if (v->empty())
      r.errors.push_back("CLUSTER_BIND must not be empty");
    else
      cl.bind = *v;
  }
  if (auto v = r.secret("CLUSTER_SECRET")) cl.secret = *v;
  if (auto v = r.str("CLUSTER_ADVERTISE")) {
    auto ep = cluster_auth::parse_endpoint(*v);
    if (!ep)
      r.errors.push_back("CLUSTER_ADVERTISE: " + ep.error().message);
    else
      cl.advertise = ep->text();
  }
  if (auto v = r.str("CLUSTER_SEEDS")) {
    for (const auto& s : split(*v)) {
      auto ep = cluster_auth::parse_endpoint(s);
      if (!ep)
        r.errors.push_back("CLUSTER_SEEDS: " + ep.error().message);
      else
        cl.seeds.push_back(ep->text());
    }
  }
  r.duration("CLUSTER_HEARTBEAT", cl.heartbeat, millis(50), std::chrono::minutes(1));
  r.duration("CLUSTER_TIMEOUT", cl.timeout, millis(200), std::chrono::minutes(10));
  if (cl.enabled()) {
    if (cl.secret.size() < 16 || cl.secret.size() > 1024) {
      r.errors.push_back(
          "CLUSTER_SECRET must be 16 to 1024 characters when CLUSTER_PORT is set (every node of "
          "the cluster uses the same one)");
    }
    if (cl.timeout <= cl.heartbeat) {
      r.errors.push_back("CLUSTER_TIMEOUT must be longer than CLUSTER_HEARTBEAT");
    }
    if (cl.advertise.empty()) cl.advertise = host_name() + ":" + std::to_string(cl.port);
  } else if (!cl.seeds.empty()) {
    r.errors.push_back("CLUSTER_SEEDS needs CLUSTER_PORT");
  }
  e.node_name = default_node_name(std::to_string(c.http_port) + "|" + std::to_string(cl.port) +
                                  "|" + c.orch_home + "|" + (c.database_url.empty() ? "" : "db"));
  if (auto v = r.str("NODE_NAME")) {
    if (!valid_node_name(*v)) {
      r.errors.push_back("NODE_NAME='" + *v + "' must be 1 to 63 letters, digits, '-', '_' or '.'");
    } else {
      e.node_name = *v;
    }
  }
  if (auto v = r.str("NODE_ROLES")) {
    auto roles = split(*v);
    for (const auto& role : roles) {
      if (role != "api" && role != "scheduler" && role != "dispatcher" && role != "worker") {
        r.errors.push_back("NODE_ROLES: unknown role '" + role +
                           "' (allowed: api, scheduler, dispatcher, worker)");
      }
    }
    if (roles.empty()) r.errors.push_back("NODE_ROLES must name at least one role");
    c.roles = roles;
  }
  if (auto v = r.secret("REDIS_URL")) c.redis_url = *v;
  r.boolean("ORCH_FAULT_INJECTION", c.fault_injection);
  if (!r.errors.empty()) return {std::nullopt, std::move(r.errors)};
  return {std::move(c), {}};
}

result<config> load_config(const std::function<const char*(const char*)>& getenv) {
  auto checked = check_config(getenv);
  if (checked.cfg) return std::move(*checked.cfg);
  std::string msg;
  for (const auto& err : checked.problems) msg += (msg.empty() ? "" : "; ") + err;
  return error_info{errc::validation_failed, msg, ""};
}

bool is_config_var(const std::string& name) {
  for (const char* secret : {"DATABASE_URL", "DATABASE_PASSWORD", "CLUSTER_SECRET", "REDIS_URL"}) {
    if (name == std::string(secret) + "_FILE") return true;
  }
  for (const auto& v : config_vars()) {
    if (name == v.name) return true;
  }
  return name == "ORCH_FAULT_INJECTION";
}

}  // namespace orch::runtime
