#include "runtime/node.hpp"

#include <arpa/inet.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <cstdio>

#include "http/server.hpp"
#include "runtime/bootstrap.hpp"
#include "runtime/drain.hpp"
#include "runtime/notify_listener.hpp"
#include "runtime/signals.hpp"
#include "runtime/supervision_tree.hpp"
#include "runtime/wait_until.hpp"

namespace orch::runtime {
namespace {

// /health answers for the cluster too: let the probe read it once (and a
// scheduler find or become the leader) before the first request can come;
// and the actors behind the API must be registered by then.
void wait_for_first_view(caf::actor_system& sys, const config& cfg,
                         const actors::node_state& node) {
  wait_until(
      [&] {
        return node.cluster_checked &&
               (!cfg.has_role("scheduler") || node.is_leader || node.cluster_leader_ok) &&
               api_actors_registered(sys, cfg);
      },
      std::chrono::seconds(3));
}

http::server_options http_options(const config& cfg, const node_setup& setup) {
  http::server_options o;
  o.host = cfg.http_host;
  o.port = cfg.http_port;
  o.max_body_bytes = cfg.max_body_bytes;
  o.enable_metrics = cfg.enable_metrics;
  o.serve_api = cfg.has_role("api");
  o.fault_injection = cfg.fault_injection;
  o.version = version();
  o.node_name = setup.engine.node_name;
  o.roles = cfg.roles;
  o.capacity = setup.me.capacity;
  o.heartbeat_down_after = setup.engine.node_timeout;
  return o;
}

// Starts the HTTP front end (the API with the `api` role; health, readiness,
// liveness and metrics on every node); null, after logging why, when it
// cannot listen.
std::unique_ptr<http::server> start_http(caf::actor_system& sys, const config& cfg,
                                         const node_setup& setup) {
  http::server_deps d;
  d.system = &sys;
  d.api_executors = cfg.has_role("api") ? cfg.api_workers : 0;
  d.node = setup.node;
  d.auth = setup.auth;
  auto api = std::make_unique<http::server>(http_options(cfg, setup), d);
  try {
    api->start();
  } catch (const std::exception& e) {
    log_error("serve", "cannot listen on " + cfg.http_host + ":" + std::to_string(cfg.http_port) +
                           ": " + e.what());
    return nullptr;
  }
  std::string host =
      cfg.http_host.find(':') != std::string::npos ? "[" + cfg.http_host + "]" : cfg.http_host;
  log_info("serve", "listening on http://" + host + ":" + std::to_string(api->port()));
  std::printf("orchestrator listening on http://%s:%d\n", host.c_str(), api->port());
  std::fflush(stdout);
  return api;
}

}  // namespace

const char* version() {
  return "0.1.0";
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

int serve(const config& cfg, const serve_flags& flags) {
  auto sigs = block_shutdown_signals();
  node_setup setup;
  if (int code = bootstrap(cfg, flags, setup); code != 0) return code;

  caf::actor_system_config caf_cfg;
  configure_actor_system(caf_cfg, cfg);
  caf::actor_system sys{caf_cfg};
  shutdown_signal stop;
  std::atomic<bool> second_signal{false};
  watch_signals(sigs, stop, second_signal);

  auto root = start_supervision_tree(sys, cfg, setup, [&stop](const std::string& why) {
    log_error("serve", "supervision gave up, the node exits: " + why);
    stop.request(3);
  });
  // Wake-ups from other processes (other nodes, the CLI): only where this node claims.
  std::unique_ptr<notify_listener> listener;
  if (cfg.has_role("dispatcher") || cfg.has_role("worker")) {
    listener = std::make_unique<notify_listener>(sys, setup.engine.database_url);
  }
  wait_for_first_view(sys, cfg, *setup.node);
  auto http = start_http(sys, cfg, setup);
  if (!http) {
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    return 1;
  }
  setup.node->ready = true;

  const int code = stop.wait();
  drain(sys, *setup.node, cfg, code, second_signal);
  http->stop();
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  log_info("serve", "stopped");
  std::fflush(stderr);
  // Detached actors blocked in a database call must not hold the exit: the
  // process ends here, the embedded database is stopped first.
  setup.db.embedded.reset();
  std::_Exit(code);
}

}  // namespace orch::runtime
