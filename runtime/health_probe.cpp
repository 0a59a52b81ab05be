#include "runtime/health_probe.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "http/server.hpp"
#include "persistence/db.hpp"

namespace orch::runtime {
namespace {

struct probe_state {
  std::unique_ptr<persistence::session> db;
  sys_ms last_heartbeat{};
};

void note_database(actors::node_state& node, bool ok) {
  if (ok != node.database_ok) {
    if (ok)
      log_info("health", "database reachable");
    else
      log_error("health", "database unreachable");
  }
  node.database_ok = ok;
}

// The node's row says it is alive (and how busy), at most once a second.
void beat(probe_state& s, const actors::node_state& node, persistence::node_row row) {
  auto now = now_ms();
  if (now - s.last_heartbeat < std::chrono::seconds(1)) return;
  row.active = node.active_runs;
  row.status = node.draining ? "draining" : "up";
  if (persistence::node_repo::heartbeat(*s.db, row)) s.last_heartbeat = now;
}

void read_cluster(persistence::session& db, actors::node_state& node, millis node_timeout) {
  auto h = persistence::node_repo::health(db, actors::scheduler_leader_key, node_timeout);
  if (!h) return;
  node.cluster_leader_ok = h->leader_alive;
  node.cluster_workers = h->workers_up;
  node.cluster_checked = true;
}

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
        note_database(*node, ok);
        if (ok) {
          if (auto h = persistence::token_repo::hashes(*s.db)) auth->set_hashes(*h);
          beat(s, *node, me);
          read_cluster(*s.db, *node, node_timeout);
        }
        self->delayed_send(self, std::chrono::milliseconds(ok ? 500 : 250),
                           actors::probe_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_health_probe(caf::actor_system& sys, const std::string& database_url,
                              std::shared_ptr<actors::node_state> node,
                              std::shared_ptr<http::auth_state> auth, persistence::node_row me,
                              millis node_timeout) {
  return sys.spawn<caf::detached>(probe_actor, database_url, std::move(node), std::move(auth),
                                  std::move(me), node_timeout);
}

}  // namespace orch::runtime
