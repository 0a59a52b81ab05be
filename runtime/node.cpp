#include "runtime/node.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <thread>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "http/server.hpp"
#include "persistence/db.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/token_repo.hpp"
#include "runtime/cluster.hpp"
#include "runtime/database.hpp"
#include "runtime/notify_listener.hpp"
#include "runtime/supervisor.hpp"
#include "steps/http_step.hpp"

namespace orch::runtime {
namespace {

/// Wakes the main thread for a shutdown and remembers the exit code.
struct shutdown_signal {
  std::mutex mu;
  std::condition_variable cv;
  bool requested = false;
  int exit_code = 0;
  void request(int code) {
    std::lock_guard<std::mutex> lock(mu);
    if (!requested) exit_code = code;
    requested = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return requested; });
  }
};

struct probe_state {
  std::unique_ptr<persistence::session> db;
  sys_ms last_heartbeat{};
};

// Probes the database, refreshes the token cache, writes the node heartbeat
// and reads the cluster's health (a scheduler leader, worker nodes up).
caf::behavior probe_actor(caf::stateful_actor<probe_state>* self, std::string url,
                          std::shared_ptr<actors::node_state> node,
                          std::shared_ptr<http::auth_state> auth, persistence::node_row me,
                          millis node_timeout) {
  self->state.db = std::make_unique<persistence::session>(url);
  self->send(self, actors::probe_atom::value);
  return {
      [=](actors::probe_atom) {
        auto& s = self->state;
        bool ok = s.db->ping();
        if (ok != node->database_ok) {
          if (ok)
            log_info("health", "database reachable");
          else
            log_error("health", "database unreachable");
        }
        node->database_ok = ok;
        if (ok) {
          if (auto h = persistence::token_repo::hashes(*s.db)) auth->set_hashes(*h);
          auto now = now_ms();
          if (now - s.last_heartbeat >= std::chrono::seconds(1)) {
            auto row = me;
            row.active = node->active_runs;
            row.status = node->draining ? "draining" : "up";
            if (persistence::node_repo::heartbeat(*s.db, row)) s.last_heartbeat = now;
          }
          if (auto h = persistence::node_repo::health(*s.db, actors::scheduler_leader_key,
                                                      node_timeout)) {
            node->cluster_leader_ok = h->leader_alive;
            node->cluster_workers = h->workers_up;
            node->cluster_checked = true;
          }
        }
        self->delayed_send(self, std::chrono::milliseconds(ok ? 500 : 250),
                           actors::probe_atom::value);
      },
  };
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

template <class Pred>
bool wait_until(Pred pred, millis timeout, const std::atomic<bool>* abort = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (abort != nullptr && *abort) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
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
  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  steps::http_global_init();

  auto db = open_database(cfg.database_url, cfg.orch_home);
  if (!db) {
    log_error("serve", db.error().message);
    return 1;
  }
  if (!flags.no_migrate) {
    auto applied = apply_migrations(db->url, std::chrono::seconds(60));
    if (!applied) {
      log_error("serve", "migrations: " + applied.error().message);
      return applied.error().code == errc::conflict ? 2 : 1;
    }
    if (*applied > 0) log_info("serve", "applied " + std::to_string(*applied) + " migration(s)");
  }

  auto auth = std::make_shared<http::auth_state>();
  {
    persistence::session s(db->url);
    auto hashes = persistence::token_repo::hashes(s);
    if (!hashes) {
      log_error("serve", "cannot read API tokens: " + hashes.error().message);
      return 1;
    }
    auth->set_hashes(*hashes);
  }
  if (cfg.has_role("api") && !is_loopback(cfg.http_host) && !auth->required() &&
      !flags.insecure_no_auth) {
    log_error("serve", "refusing to listen on " + cfg.http_host +
                           " while no API token exists: create one with "
                           "'orchestrator token create --name NAME', or pass --insecure-no-auth");
    return 2;
  }

  auto node = std::make_shared<actors::node_state>();
  node->started_ms = to_epoch_ms(now_ms());
  auto cancels = std::make_shared<actors::cancel_registry>();
  auto engine = cfg.engine;
  engine.database_url = db->url;
  node->incarnation = random_incarnation();
  node->workers_ok = !cfg.has_role("worker");  // set when the pool starts; else not our job
  node->local_workers = cfg.has_role("worker");

  if (cfg.cluster.enabled() && !port_free(cfg.cluster.bind, cfg.cluster.port)) {
    log_error("serve", "cannot listen for the cluster on " + cfg.cluster.bind + ":" +
                           std::to_string(cfg.cluster.port) + ": address in use or not local");
    return 1;
  }

  caf::actor_system_config caf_cfg;
  actors::register_message_types(caf_cfg);
  if (cfg.cluster.enabled()) configure_middleman(caf_cfg, cfg.cluster);
  caf_cfg.set("scheduler.max-threads", static_cast<size_t>(2));
  caf_cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{caf_cfg};

  shutdown_signal stop;
  std::atomic<bool> second_signal{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("serve",
             std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", draining");
    stop.request(0);
    sigwait(&sigs, &sig);
    second_signal = true;
    log_warning("serve", "second signal: exiting now");
    std::fflush(stderr);
    _exit(130);
  });
  signal_thread.detach();

  persistence::node_row me;
  me.name = engine.node_name;
  me.incarnation = node->incarnation;
  if (cfg.cluster.enabled()) me.advertise = cfg.cluster.advertise;
  me.roles = cfg.roles;
  me.started_at = now_ms();
  me.capacity = cfg.has_role("worker") ? engine.worker_concurrency : 0;
  me.status = "up";
  {
    std::string roles;
    for (const auto& r : cfg.roles) roles += (roles.empty() ? "" : ",") + r;
    actors::global_metrics().node_info.Add({{"node", me.name}, {"roles", roles}}).Set(1);
  }

  std::vector<child_spec> children;
  children.push_back({"health_probe", [=](caf::actor_system& s) {
                        return s.spawn<caf::detached>(probe_actor, engine.database_url, node, auth,
                                                      me, engine.node_timeout);
                      }});
  if (cfg.cluster.enabled()) {
    agent_identity id{me.name, me.incarnation, me.roles, me.advertise};
    children.push_back({"cluster", [=, cl = cfg.cluster](caf::actor_system& s) {
                          return spawn_cluster_agent(s, cl, engine, id, node);
                        }});
  }
  std::vector<child_spec> exec_children;
  if (cfg.has_role("worker")) {
    exec_children.push_back({"recorder", [=](caf::actor_system& s) {
                               return actors::spawn_recorder(s, engine, node);
                             }});
    exec_children.push_back({"worker_pool", [=](caf::actor_system& s) {
                               node->workers_ok = true;
                               return actors::spawn_worker_pool(s, engine, node, cancels);
                             }});
  }
  if (cfg.has_role("dispatcher")) {
    exec_children.push_back({"dispatcher", [=](caf::actor_system& s) {
                               return actors::spawn_dispatcher(s, engine, node);
                             }});
  }
  if (!exec_children.empty()) {
    children.push_back({"engine", [=](caf::actor_system& s) {
                          supervisor_options o;
                          o.name = "engine";
                          o.strategy = restart_strategy::rest_for_one;
                          return spawn_supervisor(s, o, exec_children);
                        }});
  }
  if (cfg.has_role("scheduler")) {
    children.push_back({"scheduler", [=](caf::actor_system& s) {
                          return actors::spawn_scheduler(s, engine, node);
                        }});
  } else {
    node->scheduler_ok = true;  // not this node's job
  }
  supervisor_options root_opts;
  root_opts.name = "health_supervisor";
  root_opts.max_restarts = 3;
  root_opts.window = std::chrono::seconds(60);
  auto root = spawn_supervisor(sys, root_opts, children, [&stop](const std::string& why) {
    log_error("serve", "supervision gave up, the node exits: " + why);
    stop.request(3);
  });

  // Wake-ups from other processes (other nodes, the CLI): only where this node claims.
  std::unique_ptr<notify_listener> listener;
  if (cfg.has_role("dispatcher") || cfg.has_role("worker")) {
    listener = std::make_unique<notify_listener>(sys, engine.database_url);
  }

  // /health answers for the cluster too: let the probe read it once (and a
  // scheduler find or become the leader) before the first request can come.
  wait_until(
      [&] {
        return node->cluster_checked &&
               (!cfg.has_role("scheduler") || node->is_leader || node->cluster_leader_ok);
      },
      std::chrono::seconds(3));

  std::unique_ptr<http::server> api;
  if (cfg.has_role("api")) {
    http::server_options o;
    o.host = cfg.http_host;
    o.port = cfg.http_port;
    o.max_body_bytes = cfg.max_body_bytes;
    o.enable_metrics = cfg.enable_metrics;
    o.fault_injection = cfg.fault_injection;
    o.version = version();
    o.node_name = engine.node_name;
    o.roles = cfg.roles;
    o.capacity = me.capacity;
    o.heartbeat_down_after = engine.node_timeout;
    http::server_deps d;
    d.system = &sys;
    for (int i = 0; i < cfg.api_workers; ++i) {
      d.executors.push_back(actors::spawn_api_executor(sys, engine.database_url));
    }
    d.submitter = actors::spawn_submitter(sys, engine);
    d.node = node;
    d.auth = auth;
    api = std::make_unique<http::server>(o, d);
    try {
      api->start();
    } catch (const std::exception& e) {
      log_error("serve", "cannot listen on " + cfg.http_host + ":" + std::to_string(cfg.http_port) +
                             ": " + e.what());
      anon_send_exit(root, caf::exit_reason::user_shutdown);
      for (auto& ex : d.executors) anon_send_exit(ex, caf::exit_reason::user_shutdown);
      return 1;
    }
    std::string host =
        cfg.http_host.find(':') != std::string::npos ? "[" + cfg.http_host + "]" : cfg.http_host;
    log_info("serve", "listening on http://" + host + ":" + std::to_string(api->port()));
    std::printf("orchestrator listening on http://%s:%d\n", host.c_str(), api->port());
    std::fflush(stdout);
  }
  node->ready = true;

  stop.wait();
  const int code = stop.exit_code;

  // Guarantee 5: readiness goes 503 and intake stops, in-flight runs get the
  // grace period, the rest are released to pending without using an attempt.
  node->draining = true;
  node->ready = false;
  if (auto pool = actors::lookup(sys, actors::pool_key)) {
    caf::anon_send(pool, actors::drain_atom::value, false);
  }
  if (code == 0) {
    wait_until([&] { return node->active_runs == 0; }, cfg.shutdown_grace, &second_signal);
  }
  if (node->active_runs > 0) {
    log_info("serve", std::to_string(node->active_runs.load()) +
                          " run(s) still active after the grace period: releasing them");
  }
  if (auto pool = actors::lookup(sys, actors::pool_key)) {
    caf::anon_send(pool, actors::drain_atom::value, true);
  }
  auto settled = [&] { return node->active_runs == 0 && node->unrecorded == 0; };
  if (wait_until(settled, engine.kill_grace + std::chrono::seconds(10))) {
    // A result may still be on its way: the pool stops counting a run when its
    // worker goes idle, the recorder counts a result only when it takes it from
    // its mailbox. A round trip to the recorder, sent after the pool went idle,
    // queues behind every such result.
    if (auto recorder = actors::lookup(sys, actors::recorder_key)) {
      caf::scoped_actor self{sys};
      self->request(recorder, std::chrono::seconds(5), actors::probe_atom::value)
          .receive([](bool) {}, [](caf::error&) {});
      wait_until(settled, std::chrono::seconds(10));
    }
  }
  if (api) api->stop();
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  log_info("serve", "stopped");
  std::fflush(stderr);
  // Detached actors blocked in a database call must not hold the exit: the
  // process ends here, the embedded database is stopped first.
  db->embedded.reset();
  std::_Exit(code);
}

}  // namespace orch::runtime
