#include "runtime/cluster.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "domain/cluster_auth.hpp"
#include "persistence/db.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/run_repo.hpp"

namespace orch::runtime {
namespace {

using namespace orch::actors;

/// A peer that proved it holds the secret.
struct peer {
  peer_info info;
  caf::actor agent;
  bool draining = false;  // takes no more demand
};

/// A join this node answered, waiting for the other side's proof.
struct pending_join {
  peer_info info;
  std::string client_nonce;
  std::string server_nonce;
};

struct agent_state {
  std::unique_ptr<persistence::session> db;
  std::map<caf::node_id, peer> peers;
  std::map<caf::node_id, pending_join> pending;
  std::set<std::string> connecting;                  // endpoints with a join in flight
  std::map<std::string, sys_ms> refused_until;       // endpoints that failed the handshake
  std::map<std::string, caf::node_id> route;         // local pool owner -> dispatcher peer
  std::map<std::string, caf::node_id> remote_pools;  // remote pool owner -> its node
  bool pool_waiting = false;                         // a local pool found no dispatcher
  std::size_t next_route = 0;
};

/// Tells whether this process was stopped (SIGSTOP, a paused VM) recently: a
/// thread that wakes every 50 ms notices the gap. Only the gap between its own
/// wake-ups counts, so slow database calls of the agent do not look like one.
class stall_watch {
 public:
  explicit stall_watch(millis timeout) : timeout_(timeout) {
    beat_ = now();
    std::thread([this] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        check();
      }
    }).detach();
  }
  /// Whether peers lost now may have been lost because this process stalled.
  bool stalled() {
    check();
    return now() < until_.load();
  }

 private:
  using ns = long long;
  static ns now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void check() {
    auto t = now();
    auto gap = t - beat_.exchange(t);
    auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout_).count() / 2;
    if (gap > limit) {
      until_ = t + 2 * std::chrono::duration_cast<std::chrono::nanoseconds>(timeout_).count();
      log_warning("cluster", "this node was stalled for " + std::to_string(gap / 1000000) + " ms");
    }
  }
  millis timeout_;
  std::atomic<ns> beat_{0};
  std::atomic<ns> until_{0};
};

stall_watch& the_stall_watch(millis timeout) {
  static stall_watch w(timeout);  // one per process, for its life
  return w;
}

bool has_role(const peer_info& p, const std::string& role) {
  return std::find(p.roles.begin(), p.roles.end(), role) != p.roles.end();
}

struct published {
  std::mutex mu;
  caf::actor_addr actor;
};

published& the_published() {
  static published p;
  return p;
}

// Publishes the agent on the cluster port, taking the port over from a
// predecessor (a restart). Runs on the agent's own thread: it blocks.
void publish(caf::local_actor* self, const cluster_config& cfg) {
  auto& sys = self->system();
  auto& pub = the_published();
  std::lock_guard<std::mutex> lock(pub.mu);
  // The predecessor's address is all that is left of it; unpublish wants a handle.
  struct dead_handle {
    caf::actor_addr addr;
    const caf::actor_addr& address() const { return addr; }
  };
  if (pub.actor) {
    sys.middleman().unpublish(dead_handle{pub.actor}, static_cast<std::uint16_t>(cfg.port));
  }
  auto port = sys.middleman().publish(caf::actor_cast<caf::actor>(self),
                                      static_cast<std::uint16_t>(cfg.port), cfg.bind.c_str(), true);
  if (!port) {
    // The supervisor restarts the agent with backoff and gives up on a storm.
    throw std::runtime_error("cannot listen for the cluster on " + cfg.bind + ":" +
                             std::to_string(cfg.port) + ": " + sys.render(port.error()));
  }
  pub.actor = self->address();
}

caf::behavior agent_actor(caf::stateful_actor<agent_state>* self, cluster_config cfg,
                          engine_settings engine, agent_identity me,
                          std::shared_ptr<node_state> node) {
  self->state.db = std::make_unique<persistence::session>(engine.database_url);
  auto* watch = &the_stall_watch(cfg.timeout);
  publish(self, cfg);
  register_as(self, cluster_key);
  const peer_info my_info{me.name, me.incarnation, me.roles, me.advertise};

  auto publish_peers = [=] {
    auto n = static_cast<int>(self->state.peers.size());
    node->peers = n;
    global_metrics().cluster_peers.Set(n);
  };

  auto trusted = [=](const caf::strong_actor_ptr& sender) -> peer* {
    if (!sender) return nullptr;
    auto it = self->state.peers.find(sender->node());
    return it == self->state.peers.end() ? nullptr : &it->second;
  };

  // Anonymous messages count as local only when they come from this process:
  // CAF gives no sender for anonymous messages from other nodes either, so
  // they are refused too (this node's code always sends with a sender here).
  auto local = [=](const caf::strong_actor_ptr& sender) {
    return sender && sender->node() == self->node();
  };

  auto refuse_message = [=](const caf::strong_actor_ptr& sender) {
    global_metrics().cluster_rejected.Increment();
    log_limited(log_level::warning, "cluster.unauthenticated", "cluster",
                "refused a message from " +
                    (sender ? caf::to_string(sender->node()) : std::string("an anonymous sender")) +
                    ": the node has not proved the cluster secret");
  };

  // Runs that cannot reach their pool go back to pending without using an attempt.
  auto release_runs = [=](const std::vector<run_assignment>& runs, const std::string& why) {
    if (runs.empty()) return;
    std::vector<persistence::completion> done;
    for (const auto& a : runs) {
      persistence::completion c;
      c.id = a.run_id;
      c.attempt = a.attempt;
      c.owner = a.owner;
      c.status = "pending";
      c.release = true;
      c.available_at = now_ms();
      done.push_back(std::move(c));
    }
    auto r = persistence::run_repo::complete(*self->state.db, done);
    log_warning("cluster", "handed back " + std::to_string(runs.size()) + " run(s): " + why +
                               (r ? "" : " (failed: " + r.error().message + ")"));
  };

  auto add_peer = [=](const caf::node_id& nid, caf::actor agent, peer_info info) {
    auto& st = self->state;
    auto it = st.peers.find(nid);
    if (it != st.peers.end() && it->second.agent == agent) return;
    self->monitor(agent);
    log_info("cluster", "joined " + info.name + " (" + info.advertise + ")");
    bool dispatcher = has_role(info, "dispatcher");
    st.peers[nid] = peer{std::move(info), std::move(agent)};
    publish_peers();
    if (dispatcher && st.pool_waiting) {
      st.pool_waiting = false;
      if (auto pool = lookup(self->system(), pool_key)) self->send(pool, hello_atom::value);
    }
  };

  // A peer is gone: its node is declared down and its leases released at
  // once, so its runs go back to pending within milliseconds of the loss.
  auto lose_peer = [=](const caf::node_id& nid, const caf::error& reason) {
    auto& st = self->state;
    auto it = st.peers.find(nid);
    if (it == st.peers.end()) return;
    auto info = it->second.info;
    st.peers.erase(it);
    publish_peers();
    for (auto r = st.remote_pools.begin(); r != st.remote_pools.end();) {
      if (r->second == nid)
        r = st.remote_pools.erase(r);
      else
        ++r;
    }
    bool rerouted = false;
    for (auto r = st.route.begin(); r != st.route.end();) {
      if (r->second == nid) {
        r = st.route.erase(r);
        rerouted = true;
      } else {
        ++r;
      }
    }
    if (auto d = lookup(self->system(), dispatcher_key))
      self->send(d, forget_atom::value, info.name);
    if (rerouted) {
      if (auto pool = lookup(self->system(), pool_key)) self->send(pool, hello_atom::value);
    }
    // After this process was stopped (SIGSTOP, a VM pause) every peer looks
    // lost; the peers were fine, this node was not. Judge nobody then: they
    // are joined again on the next discovery.
    // The peer's agent stopped (it crashed and is being restarted, or its node
    // shuts down cleanly) while its node lives on: nothing to release. Only a
    // lost connection (a dead or hung process) says the node is gone.
    if (reason != caf::exit_reason::remote_link_unreachable) {
      log_info("cluster", "the agent of " + info.name + " stopped (" + caf::to_string(reason) +
                              "); rejoining");
      return;
    }
    if (watch->stalled()) {
      log_warning("cluster", "lost " + info.name + " while this node was stalled; rejoining");
      return;
    }
    auto marked = persistence::node_repo::mark_down(*st.db, info.name, info.incarnation);
    auto released = persistence::run_repo::release_owner_prefix(
        *st.db, info.name + "/" + info.incarnation + ".", engine.max_lost_leases);
    long long n = released ? *released : 0;
    global_metrics().peers_down.Increment();
    global_metrics().leases_requeued.Increment(static_cast<double>(n));
    bool declared = marked && *marked;
    // Every surviving peer handles the loss; the first one does the work, the
    // others find nothing left and say so quietly.
    log_write(declared || n > 0 ? log_level::warning : log_level::info, "cluster",
              "lost " + info.name + " (" + caf::to_string(reason) + "): " +
                  (declared ? "declared down, " : "") + std::to_string(n) + " run(s) released");
    if (auto d = lookup(self->system(), dispatcher_key)) self->send(d, wake_atom::value);
    // A dead leader's lock is free now: a standby should not wait for its poll.
    if (auto s = lookup(self->system(), scheduler_key)) self->send(s, wake_atom::value);
  };

  // Connects to one endpoint and runs the handshake as the client.
  auto join = [=](const std::string& endpoint) {
    auto& st = self->state;
    if (st.connecting.count(endpoint) != 0) return;
    auto until = st.refused_until.find(endpoint);
    if (until != st.refused_until.end() && now_ms() < until->second) return;
    auto ep = cluster_auth::parse_endpoint(endpoint);
    if (!ep) return;
    st.connecting.insert(endpoint);
    auto mm = self->system().middleman().actor_handle();
    auto done = [=] { self->state.connecting.erase(endpoint); };
    auto refuse = [=](const std::string& why) {
      self->state.refused_until[endpoint] = now_ms() + std::chrono::seconds(5);
      global_metrics().cluster_rejected.Increment();
      log_limited(log_level::warning, "cluster.refused." + endpoint, "cluster",
                  "refused " + endpoint + ": " + why);
    };
    self->request(mm, std::chrono::seconds(5), caf::connect_atom::value, ep->host, ep->port)
        .then(
            [=](const caf::node_id& nid, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
              if (!ptr || nid == self->node() || self->state.peers.count(nid) != 0) {
                done();
                return;
              }
              auto remote = caf::actor_cast<caf::actor>(ptr);
              auto client_nonce = cluster_auth::make_nonce();
              self->request(remote, std::chrono::seconds(5), join_atom::value, my_info,
                            client_nonce)
                  .then(
                      [=](const std::string& server_nonce, const std::string& server_proof) {
                        bool genuine = cluster_auth::same(
                            server_proof,
                            cluster_auth::proof(cfg.secret, "server", client_nonce, server_nonce));
                        // Our proof goes out either way, so the other side learns
                        // (and logs) that the secrets differ.
                        self->request(remote, std::chrono::seconds(5), auth_atom::value,
                                      cluster_auth::proof(cfg.secret, "client", client_nonce,
                                                          server_nonce))
                            .then(
                                [=](peer_info& info) {
                                  done();
                                  if (genuine) add_peer(nid, remote, std::move(info));
                                },
                                [=](const caf::error&) { done(); });
                        if (!genuine) {
                          refuse("the node there does not hold the cluster secret");
                        }
                      },
                      [=](const caf::error& e) {
                        done();
                        log_limited(log_level::debug, "cluster.join." + endpoint, "cluster",
                                    "join " + endpoint + " failed: " + caf::to_string(e));
                      });
            },
            [=](const caf::error& e) {
              done();
              log_limited(log_level::debug, "cluster.connect." + endpoint, "cluster",
                          "cannot reach " + endpoint + ": " + caf::to_string(e));
            });
  };

  auto discover = [=] {
    auto& st = self->state;
    auto rows = persistence::node_repo::list(*st.db, engine.node_timeout);
    if (rows) {
      for (const auto& n : *rows) {
        if (n.name == me.name || n.advertise.empty() || n.status == "down") continue;
        bool known = false;
        for (const auto& [nid, p] : st.peers) {
          if (p.info.name == n.name && p.info.incarnation == n.incarnation) known = true;
        }
        if (!known) join(n.advertise);
      }
    }
    for (const auto& seed : cfg.seeds) {
      bool known = seed == me.advertise;
      for (const auto& [nid, p] : st.peers) known = known || p.info.advertise == seed;
      if (!known) join(seed);
    }
  };

  // The agent is reachable from other nodes: an exit message from one of them
  // would stop it (and a stream of them would exhaust its supervisor), so only
  // this node's own actors may stop it.
  self->set_exit_handler([=](caf::exit_msg& em) {
    if (em.source && em.source.node() != self->node()) {
      global_metrics().cluster_rejected.Increment();
      log_limited(log_level::warning, "cluster.exit", "cluster",
                  "refused an exit message from " + caf::to_string(em.source.node()));
      return;
    }
    self->quit(em.reason);
  });

  self->set_down_handler([=](caf::down_msg& dm) {
    for (const auto& [nid, p] : self->state.peers) {
      if (p.agent.address() == dm.source) {
        auto id = nid;
        lose_peer(id, dm.reason);
        return;
      }
    }
  });

  self->send(self, tick_atom::value);

  return {
      // Handshake, server side: a node asks to join with its nonce; we answer
      // with ours and our proof, then wait for its proof.
      [=](join_atom, peer_info& info, std::string& client_nonce) -> caf::result<caf::message> {
        auto sender = self->current_sender();
        if (!sender || sender->node() == self->node() || client_nonce.size() != 32 ||
            info.name.size() > 63) {
          refuse_message(sender);
          return caf::make_error(caf::sec::invalid_argument);
        }
        auto& pending = self->state.pending;
        if (pending.size() >= 256) pending.erase(pending.begin());
        auto server_nonce = cluster_auth::make_nonce();
        auto proof = cluster_auth::proof(cfg.secret, "server", client_nonce, server_nonce);
        pending[sender->node()] = pending_join{std::move(info), client_nonce, server_nonce};
        return caf::make_message(server_nonce, proof);
      },
      [=](auth_atom, const std::string& client_proof) -> caf::result<peer_info> {
        auto sender = self->current_sender();
        if (!sender) return caf::make_error(caf::sec::invalid_argument);
        auto& pending = self->state.pending;
        auto it = pending.find(sender->node());
        if (it == pending.end()) {
          refuse_message(sender);
          return caf::make_error(caf::sec::invalid_argument);
        }
        auto join = std::move(it->second);
        pending.erase(it);
        auto expected =
            cluster_auth::proof(cfg.secret, "client", join.client_nonce, join.server_nonce);
        if (!cluster_auth::same(client_proof, expected)) {
          global_metrics().cluster_rejected.Increment();
          log_limited(log_level::warning, "cluster.refused." + join.info.name, "cluster",
                      "refused node " + join.info.name + " (" + join.info.advertise +
                          "): wrong cluster secret");
          return caf::make_error(caf::sec::invalid_argument);
        }
        add_peer(sender->node(), caf::actor_cast<caf::actor>(sender), std::move(join.info));
        return my_info;
      },
      // A pool asks for runs: from this node's pool it goes to a dispatcher
      // peer; from a peer's agent it goes to this node's dispatcher.
      [=](demand_atom, demand_msg& d) {
        auto sender = self->current_sender();
        auto& st = self->state;
        if (sender && sender->node() == self->node()) {
          auto it = st.route.find(d.owner);
          if (it == st.route.end() || st.peers.count(it->second) == 0) {
            std::vector<caf::node_id> candidates;
            for (const auto& [nid, p] : st.peers) {
              if (has_role(p.info, "dispatcher") && !p.draining) candidates.push_back(nid);
            }
            if (candidates.empty()) {
              st.pool_waiting = true;
              return;
            }
            st.route[d.owner] = candidates[st.next_route++ % candidates.size()];
            it = st.route.find(d.owner);
          }
          self->send(st.peers[it->second].agent, demand_atom::value, std::move(d));
          return;
        }
        auto from = trusted(sender);
        if (!from) return refuse_message(sender);
        if (node->draining) {
          // This node claims nothing more: the pool should ask another one.
          self->send(from->agent, drain_atom::value);
          return;
        }
        auto dispatcher = lookup(self->system(), dispatcher_key);
        if (!dispatcher) return;  // restarting: the pool asks again within a second
        st.remote_pools[d.owner] = sender->node();
        self->send(dispatcher, demand_atom::value, std::move(d));
      },
      [=](assignment_batch& b) {
        auto sender = self->current_sender();
        auto& st = self->state;
        if (b.runs.empty()) return;
        if (sender && sender->node() == self->node()) {
          // From our dispatcher, for a pool on another node.
          auto it = st.remote_pools.find(b.runs.front().owner);
          if (it == st.remote_pools.end() || st.peers.count(it->second) == 0) {
            return release_runs(b.runs, "their pool's node is gone");
          }
          self->send(st.peers[it->second].agent, std::move(b));
          return;
        }
        if (!trusted(sender)) return refuse_message(sender);
        auto pool = lookup(self->system(), pool_key);
        if (!pool) return release_runs(b.runs, "this node's pool is restarting");
        self->send(pool, std::move(b));
      },
      // A peer drains: demand goes elsewhere from now on.
      [=](drain_atom) {
        auto sender = self->current_sender();
        auto from = trusted(sender);
        if (!from) return refuse_message(sender);
        from->draining = true;
        auto& st = self->state;
        bool rerouted = false;
        for (auto r = st.route.begin(); r != st.route.end();) {
          if (r->second == sender->node()) {
            r = st.route.erase(r);
            rerouted = true;
          } else {
            ++r;
          }
        }
        log_info("cluster", from->info.name + " is draining");
        if (rerouted) {
          if (auto pool = lookup(self->system(), pool_key)) self->send(pool, hello_atom::value);
        }
      },
      [=](tick_atom) {
        if (!local(self->current_sender())) return refuse_message(self->current_sender());
        discover();
        global_metrics().mailbox("cluster").Set(static_cast<double>(self->mailbox().size()));
        self->delayed_send(self, cfg.heartbeat, tick_atom::value);
      },
      [=](crash_atom) -> caf::result<void> {
        if (!local(self->current_sender())) {
          refuse_message(self->current_sender());
          return caf::unit;
        }
        throw std::runtime_error("injected cluster crash");
      },
  };
}

}  // namespace

void configure_middleman(caf::actor_system_config& cfg, const cluster_config& cluster) {
  cfg.load<caf::io::middleman>();
  // Only nodes of this application complete CAF's handshake; the secret is
  // checked on top of it by the agents.
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"orchestrator-cluster-1"});
  cfg.set("middleman.heartbeat-interval", caf::timespan{cluster.heartbeat});
  cfg.set("middleman.connection-timeout", caf::timespan{cluster.timeout});
}

caf::actor spawn_cluster_agent(caf::actor_system& sys, const cluster_config& cfg,
                               const engine_settings& engine, agent_identity me,
                               std::shared_ptr<node_state> node) {
  return sys.spawn<caf::detached>(agent_actor, cfg, engine, std::move(me), std::move(node));
}

}  // namespace orch::runtime
