#include "runtime/bootstrap.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system_config.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "http/server.hpp"
#include "persistence/db.hpp"
#include "runtime/cluster_port.hpp"
#include "runtime/node.hpp"
#include "steps/http_step.hpp"

namespace orch::runtime {
namespace {

int open_and_migrate(const config& cfg, const serve_flags& flags, database& out) {
  auto db = open_database(cfg.database_url, cfg.orch_home);
  if (!db) {
    log_error("serve", db.error().message);
    return 1;
  }
  out = std::move(*db);
  if (flags.no_migrate) return 0;
  auto applied = apply_migrations(out.url, std::chrono::seconds(60));
  if (!applied) {
    log_error("serve", "migrations: " + applied.error().message);
    return applied.error().code == errc::conflict ? 2 : 1;
  }
  if (*applied > 0) log_info("serve", "applied " + std::to_string(*applied) + " migration(s)");
  return 0;
}

int load_tokens(const config& cfg, const serve_flags& flags, const std::string& url,
                http::auth_state& auth) {
  persistence::session s(url);
  auto hashes = persistence::token_repo::hashes(s);
  if (!hashes) {
    log_error("serve", "cannot read API tokens: " + hashes.error().message);
    return 1;
  }
  auth.set_hashes(*hashes);
  if (cfg.has_role("api") && !is_loopback(cfg.http_host) && !auth.required() &&
      !flags.insecure_no_auth) {
    log_error("serve", "refusing to listen on " + cfg.http_host +
                           " while no API token exists: create one with "
                           "'orchestrator token create --name NAME', or pass --insecure-no-auth");
    return 2;
  }
  return 0;
}

// Whether the cluster port can be bound: a clear error at start beats a
// supervisor giving up on an agent that cannot publish.
bool port_free(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return false;
  bool ok = false;
  for (auto* a = res; a != nullptr && !ok; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ok = ::bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    ::close(fd);
  }
  freeaddrinfo(res);
  return ok;
}

std::shared_ptr<actors::node_state> new_node_state(const config& cfg) {
  auto node = std::make_shared<actors::node_state>();
  node->started_ms = to_epoch_ms(now_ms());
  node->incarnation = random_incarnation();
  node->workers_ok = !cfg.has_role("worker");  // set when the pool starts; else not our job
  node->local_workers = cfg.has_role("worker");
  return node;
}

persistence::node_row describe_node(const config& cfg, const actors::engine_settings& engine,
                                    const actors::node_state& node) {
  persistence::node_row me;
  me.name = engine.node_name;
  me.incarnation = node.incarnation;
  if (cfg.cluster.enabled()) me.advertise = cfg.cluster.advertise;
  me.roles = cfg.roles;
  me.started_at = now_ms();
  me.capacity = cfg.has_role("worker") ? engine.worker_concurrency : 0;
  me.status = "up";
  std::string roles;
  for (const auto& r : cfg.roles) roles += (roles.empty() ? "" : ",") + r;
  actors::global_metrics().node_info.Add({{"node", me.name}, {"roles", roles}}).Set(1);
  actors::global_metrics().build_info.Add({{"version", version()}}).Set(1);
  return me;
}

}  // namespace

int bootstrap(const config& cfg, const serve_flags& flags, node_setup& out) {
  steps::http_global_init();
  if (int code = open_and_migrate(cfg, flags, out.db); code != 0) return code;
  out.auth = std::make_shared<http::auth_state>();
  if (int code = load_tokens(cfg, flags, out.db.url, *out.auth); code != 0) return code;
  out.node = new_node_state(cfg);
  out.cancels = std::make_shared<actors::cancel_registry>();
  out.engine = cfg.engine;
  out.engine.database_url = out.db.url;
  if (cfg.cluster.enabled() && !port_free(cfg.cluster.bind, cfg.cluster.port)) {
    log_error("serve", "cannot listen for the cluster on " + cfg.cluster.bind + ":" +
                           std::to_string(cfg.cluster.port) + ": address in use or not local");
    return 1;
  }
  out.me = describe_node(cfg, out.engine, *out.node);
  return 0;
}

void configure_actor_system(caf::actor_system_config& caf_cfg, const config& cfg) {
  actors::register_message_types(caf_cfg);
  if (cfg.cluster.enabled()) configure_middleman(caf_cfg, cfg.cluster);
  caf_cfg.set("scheduler.max-threads", static_cast<size_t>(2));
  caf_cfg.set("logger.verbosity", caf::atom("quiet"));
}

}  // namespace orch::runtime
