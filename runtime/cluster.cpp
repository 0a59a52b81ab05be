#include "runtime/cluster.hpp"

#include <algorithm>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "domain/cluster_auth.hpp"
#include "persistence/db.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/run_repo.hpp"
#include "runtime/cluster_port.hpp"
#include "runtime/cluster_router.hpp"
#include "runtime/stall_watch.hpp"

namespace orch::runtime {
namespace {

using namespace orch::actors;

// Asks the database again whether the suspect named in it lives.
using judge_atom = caf::atom_constant<caf::atom("judge")>;

// The protocol plus the timers the agent sends itself: discovery, and the
// judgement of lost peers.
using agent_impl =
    cluster_agent_actor::extend<caf::reacts_to<tick_atom>,
                                caf::reacts_to<judge_atom, std::string, std::uint64_t>>;

// A lost peer is asked after again this often while it looks alive.
constexpr auto judge_every = std::chrono::milliseconds(100);
// A node writes its heartbeat row every 1 to 1.5 s (its probe runs every half
// second): 2.5 s without one means its process or its link to PostgreSQL stopped.
constexpr millis heartbeat_silence{2500};
// A lost peer is judged for NODE_TIMEOUT, and at least long enough for a
// frozen one's row to go silent.
constexpr millis least_judgement = heartbeat_silence + millis(1000);

struct agent_state {
  std::unique_ptr<persistence::session> db;
  std::optional<cluster_router> router;           // made once the agent knows its node id
  std::map<peer_id, cluster_agent_actor> agents;  // of every peer, by its node
  int max_lost_leases = default_max_lost_leases;
  millis node_timeout{10000};  // how long a lost peer that looks alive is judged
};

using agent_ptr = agent_impl::stateful_pointer<agent_state>;

peer_id id_of(const caf::node_id& n) {
  return caf::to_string(n);
}

std::optional<peer_id> sender_id(const caf::strong_actor_ptr& sender) {
  if (!sender) return std::nullopt;
  return id_of(sender->node());
}

void wake_dispatcher(agent_ptr self) {
  if (auto d = lookup<dispatcher_entry>(self->system())) self->send(d, wake_atom::value);
}

// A pool waiting for a dispatcher peer asks again.
void greet_pool(agent_ptr self) {
  if (auto p = lookup<pool_entry>(self->system())) self->send(p, hello_atom::value);
}

// Anonymous messages count as local only when they come from this process:
// CAF gives no sender for anonymous messages from other nodes either, so
// they are refused too (this node's code always sends with a sender here).
void refuse_message(const caf::strong_actor_ptr& sender) {
  global_metrics().cluster_rejected.Increment();
  log_limited(log_level::warning, "cluster.unauthenticated", "cluster",
              "refused a message from " +
                  (sender ? caf::to_string(sender->node()) : std::string("an anonymous sender")) +
                  ": the node has not proved the cluster secret");
}

void publish_peers(agent_ptr self, actors::node_state& node) {
  auto n = static_cast<int>(self->state.router->peer_count());
  node.peers = n;
  global_metrics().cluster_peers.Set(n);
}

// Runs that cannot reach their pool go back to pending without using an attempt.
void release_runs(agent_ptr self, const std::vector<run_assignment>& runs, const std::string& why) {
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
}

void add_peer(agent_ptr self, actors::node_state& node, const caf::node_id& nid,
              cluster_agent_actor agent, peer_info info) {
  auto& st = self->state;
  auto id = id_of(nid);
  auto known = st.agents.find(id);
  if (known != st.agents.end() && known->second == agent && st.router->find(id)) return;
  self->monitor(agent);
  log_info("cluster", "joined " + info.name + " (" + info.advertise + ")");
  st.agents[id] = std::move(agent);
  bool pool_waits = st.router->add_peer(id, std::move(info));
  publish_peers(self, node);
  if (pool_waits) greet_pool(self);
}

// The node of a lost peer is declared down and its leases released at once,
// so its runs go back to pending within milliseconds of the loss.
void declare_down(agent_ptr self, const peer_info& info, const std::string& reason) {
  auto& db = *self->state.db;
  auto marked = persistence::node_repo::mark_down(db, info.name, info.incarnation);
  auto released = persistence::run_repo::release_owner_prefix(
      db, info.name + "/" + info.incarnation + ".", self->state.max_lost_leases);
  long long n = db_ok(released, "cluster.release", "cluster") ? *released : 0;
  global_metrics().peers_down.Increment();
  global_metrics().leases_requeued.Increment(static_cast<double>(n));
  bool declared = marked && *marked;
  // Every surviving peer handles the loss; the first one does the work, the
  // others find nothing left and say so quietly.
  log_write(declared || n > 0 ? log_level::warning : log_level::info, "cluster",
            "lost " + info.name + " (" + reason + "): " + (declared ? "declared down, " : "") +
                std::to_string(n) + " run(s) released");
  wake_dispatcher(self);
  // A dead leader's lock is free now: a standby should not wait for its poll.
  if (auto s = lookup<scheduler_entry>(self->system())) self->send(s, wake_atom::value);
}

// Declares the suspect `name` down once the database says it is dead (its
// session ended or its heartbeat went silent); while it looks alive, asks
// again, for NODE_TIMEOUT (at least `least_judgement`), after which it was
// cut off from this node only. Rejoining, or a later loss of the same peer
// (a new `generation`), ends this judgement.
void judge(agent_ptr self, const std::string& name, std::uint64_t generation) {
  auto& st = self->state;
  const auto* s = st.router->find_suspect(name, generation);
  if (!s) return;
  auto seen = persistence::node_repo::presence_of(*st.db, s->info.name, s->info.incarnation,
                                                  heartbeat_silence);
  std::optional<persistence::presence> known;
  if (db_ok(seen, "cluster.presence", "cluster")) known = *seen;
  auto v = st.router->judge_suspect(name, generation, known, now_ms());
  switch (v.kind) {
    case suspect_verdict::none:
      return;
    case suspect_verdict::down:
      declare_down(self, v.who.info, v.who.reason);
      return;
    case suspect_verdict::wait:
      self->delayed_send(self, judge_every, judge_atom::value, name, generation);
      return;
    case suspect_verdict::alive:
      global_metrics().peers_cut_off.Increment();
      log_warning("cluster", "lost " + name + " (" + v.who.reason +
                                 ") but it lives: it holds its database session and writes its "
                                 "heartbeat. Cut off from this node only; its runs stay with it");
      return;
    case suspect_verdict::unknown:
      log_warning("cluster", "lost " + name + " (" + v.who.reason +
                                 "), and the database did not answer whether it lives: its "
                                 "heartbeat row and its leases will tell");
      return;
  }
}

void lose_peer(agent_ptr self, actors::node_state& node, stall_watch& watch, const peer_id& id,
               const caf::error& reason) {
  auto& st = self->state;
  bool connection_lost = reason == caf::exit_reason::remote_link_unreachable;
  auto loss = st.router->lose_peer(id, connection_lost, connection_lost && watch.stalled());
  if (!loss) return;
  st.agents.erase(id);
  publish_peers(self, node);
  if (auto d = lookup<dispatcher_entry>(self->system()))
    self->send(d, forget_atom::value, loss->info.name);
  if (loss->rerouted) greet_pool(self);
  switch (loss->verdict) {
    case peer_loss::agent_stopped:
      log_info("cluster", "the agent of " + loss->info.name + " stopped (" +
                              caf::to_string(reason) + "); rejoining");
      return;
    case peer_loss::this_node_stalled:
      log_warning("cluster", "lost " + loss->info.name + " while this node was stalled; rejoining");
      return;
    case peer_loss::node_down: {
      auto name = loss->info.name;
      auto generation =
          st.router->suspect_peer(std::move(loss->info), caf::to_string(reason),
                                  now_ms() + std::max(st.node_timeout, least_judgement));
      judge(self, name, generation);
      return;
    }
  }
}

// Connects to one endpoint and runs the handshake as the client.
void join(agent_ptr self, actors::node_state& node, const peer_info& me,
          const std::string& endpoint) {
  auto ep = cluster_auth::parse_endpoint(endpoint);
  if (!ep || !self->state.router->start_join(endpoint, now_ms())) return;
  auto mm = self->system().middleman().actor_handle();
  auto done = [=] { self->state.router->end_join(endpoint); };
  auto refuse = [=](const std::string& why) {
    self->state.router->refuse_endpoint(endpoint, now_ms());
    global_metrics().cluster_rejected.Increment();
    log_limited(log_level::warning, "cluster.refused." + endpoint, "cluster",
                "refused " + endpoint + ": " + why);
  };
  auto node_ptr = &node;
  auto prove = [=](const caf::node_id& nid, const cluster_agent_actor& remote) {
    auto client_nonce = cluster_auth::make_nonce();
    self->request(remote, std::chrono::seconds(5), join_atom::value, me, client_nonce)
        .then(
            [=](const std::string& server_nonce, const std::string& server_proof) {
              auto& router = *self->state.router;
              bool genuine = router.server_is_genuine(client_nonce, server_nonce, server_proof);
              // Our proof goes out either way, so the other side learns (and
              // logs) that the secrets differ.
              self->request(remote, std::chrono::seconds(5), auth_atom::value,
                            router.client_proof(client_nonce, server_nonce))
                  .then(
                      [=](peer_info& info) {
                        done();
                        if (genuine) add_peer(self, *node_ptr, nid, remote, std::move(info));
                      },
                      [=](const caf::error&) { done(); });
              if (!genuine) refuse("the node there does not hold the cluster secret");
            },
            [=](const caf::error& e) {
              done();
              log_limited(log_level::debug, "cluster.join." + endpoint, "cluster",
                          "join " + endpoint + " failed: " + caf::to_string(e));
            });
  };
  self->request(mm, std::chrono::seconds(5), caf::connect_atom::value, ep->host, ep->port)
      .then(
          [=](const caf::node_id& nid, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            if (!ptr || nid == self->node() || self->state.router->find(id_of(nid))) {
              done();
              return;
            }
            prove(nid, caf::actor_cast<cluster_agent_actor>(ptr));
          },
          [=](const caf::error& e) {
            done();
            log_limited(log_level::debug, "cluster.connect." + endpoint, "cluster",
                        "cannot reach " + endpoint + ": " + caf::to_string(e));
          });
}

void discover(agent_ptr self, actors::node_state& node, const cluster_config& cfg,
              const engine_settings& engine, const peer_info& me) {
  auto& st = self->state;
  std::vector<persistence::node_row> rows;
  if (auto r = persistence::node_repo::list(*st.db, engine.node_timeout)) rows = std::move(*r);
  for (const auto& endpoint : st.router->endpoints_to_join(rows, cfg.seeds, me)) {
    join(self, node, me, endpoint);
  }
}

// The agent is reachable from other nodes: an exit message from one of them
// would stop it (and a stream of them would exhaust its supervisor), so only
// this node's own actors may stop it.
void on_exit(agent_ptr self, caf::exit_msg& em) {
  if (em.source && em.source.node() != self->node()) {
    global_metrics().cluster_rejected.Increment();
    log_limited(log_level::warning, "cluster.exit", "cluster",
                "refused an exit message from " + caf::to_string(em.source.node()));
    return;
  }
  self->quit(em.reason);
}

void on_down(agent_ptr self, actors::node_state& node, stall_watch& watch, caf::down_msg& dm) {
  for (const auto& [id, agent] : self->state.agents) {
    if (agent.address() == dm.source) {
      auto lost = id;
      lose_peer(self, node, watch, lost, dm.reason);
      return;
    }
  }
}

agent_impl::behavior_type agent(agent_ptr self, cluster_config cfg, engine_settings engine,
                                agent_identity id, std::shared_ptr<node_state> node) {
  self->state.db = std::make_unique<persistence::session>(engine.database_url);
  self->state.max_lost_leases = engine.max_lost_leases;
  self->state.node_timeout = engine.node_timeout;
  self->state.router.emplace(id_of(self->node()), cfg.secret);
  auto* watch = &the_stall_watch(cfg.timeout);
  publish_on_cluster_port(self, cfg);
  register_as(self, cluster_key);
  const peer_info me{id.name, id.incarnation, id.roles, id.advertise};
  auto from = [=] { return sender_id(self->current_sender()); };
  auto local = [=] { return self->state.router->classify(from()) == sender_kind::local; };

  self->set_exit_handler([=](caf::exit_msg& em) { on_exit(self, em); });
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, *node, *watch, dm); });
  self->send(self, tick_atom::value);

  return {
      // Handshake, server side: a node asks to join with its nonce; we answer
      // with ours and our proof, then wait for its proof.
      [=](join_atom, peer_info& info,
          std::string& client_nonce) -> caf::result<std::string, std::string> {
        auto server_nonce = cluster_auth::make_nonce();
        auto proof =
            self->state.router->accept_join(from(), std::move(info), client_nonce, server_nonce);
        if (!proof) {
          refuse_message(self->current_sender());
          return caf::make_error(caf::sec::invalid_argument);
        }
        return {server_nonce, *proof};
      },
      [=](auth_atom, const std::string& client_proof) -> caf::result<peer_info> {
        auto sender = self->current_sender();
        auto outcome = self->state.router->check_auth(from(), client_proof);
        switch (outcome.kind) {
          case auth_outcome::anonymous:
            return caf::make_error(caf::sec::invalid_argument);
          case auth_outcome::unknown:
            refuse_message(sender);
            return caf::make_error(caf::sec::invalid_argument);
          case auth_outcome::wrong_secret:
            global_metrics().cluster_rejected.Increment();
            log_limited(log_level::warning, "cluster.refused." + outcome.info.name, "cluster",
                        "refused node " + outcome.info.name + " (" + outcome.info.advertise +
                            "): wrong cluster secret");
            return caf::make_error(caf::sec::invalid_argument);
          case auth_outcome::accepted:
            break;
        }
        add_peer(self, *node, sender->node(), caf::actor_cast<cluster_agent_actor>(sender),
                 std::move(outcome.info));
        return me;
      },
      // A pool asks for runs: from this node's pool it goes to a dispatcher
      // peer; from a peer's agent it goes to this node's dispatcher.
      [=](demand_atom, demand_msg& d) {
        auto& st = self->state;
        auto route = st.router->route_demand(from(), d.owner, node->draining);
        switch (route.kind) {
          case demand_route::refused:
            return refuse_message(self->current_sender());
          case demand_route::no_dispatcher:
            return;  // the pool is told when a dispatcher peer joins
          case demand_route::to_peer:
            return self->send(st.agents[route.peer], demand_atom::value, std::move(d));
          case demand_route::draining:
            return self->send(st.agents[route.peer], drain_atom::value);
          case demand_route::to_dispatcher:
            // Restarting: the pool asks again within a second.
            if (auto dispatcher = lookup<dispatcher_entry>(self->system()))
              self->send(dispatcher, demand_atom::value, std::move(d));
            return;
        }
      },
      [=](assignment_batch& b) {
        auto& st = self->state;
        if (b.runs.empty()) return;
        auto route = st.router->route_batch(from(), b.runs.front().owner);
        switch (route.kind) {
          case batch_route::refused:
            return refuse_message(self->current_sender());
          case batch_route::release:
            return release_runs(self, b.runs, "their pool's node is gone");
          case batch_route::to_peer:
            return self->send(st.agents[route.peer], std::move(b));
          case batch_route::to_pool:
            if (auto pool = lookup<pool_entry>(self->system()))
              return self->send(pool, std::move(b));
            return release_runs(self, b.runs, "this node's pool is restarting");
        }
      },
      // A peer drains: demand goes elsewhere from now on.
      [=](drain_atom) {
        auto drain = self->state.router->on_drain(from());
        if (drain.refused) return refuse_message(self->current_sender());
        log_info("cluster", drain.name + " is draining");
        if (drain.rerouted) greet_pool(self);
      },
      [=](judge_atom, const std::string& name, std::uint64_t generation) {
        if (!local()) return refuse_message(self->current_sender());
        judge(self, name, generation);
      },
      [=](tick_atom) {
        if (!local()) return refuse_message(self->current_sender());
        discover(self, *node, cfg, engine, me);
        global_metrics().mailbox("cluster").Set(static_cast<double>(self->mailbox().size()));
        self->delayed_send(self, cfg.heartbeat, tick_atom::value);
      },
      [=](crash_atom) -> caf::result<void> {
        if (!local()) {
          refuse_message(self->current_sender());
          return caf::unit;
        }
        throw std::runtime_error("injected cluster crash");
      },
  };
}

}  // namespace

actors::cluster_agent_actor spawn_cluster_agent(caf::actor_system& sys, const cluster_config& cfg,
                                                const engine_settings& engine, agent_identity me,
                                                std::shared_ptr<node_state> node) {
  return caf::actor_cast<cluster_agent_actor>(
      sys.spawn<caf::detached>(agent, cfg, engine, std::move(me), std::move(node)));
}

}  // namespace orch::runtime
