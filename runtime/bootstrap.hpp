#pragma once
/// \file bootstrap.hpp Everything a node sets up before its actors start:
/// the database and its migrations, the API tokens, the node's identity, and
/// the actor system's configuration.

#include <caf/fwd.hpp>
#include <memory>

#include "actors/settings.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/token_repo.hpp"
#include "runtime/config.hpp"
#include "runtime/database.hpp"
#include "runtime/node.hpp"

namespace orch::http {
class auth_state;
}

namespace orch::runtime {

/// A node ready for its actors to start.
struct node_setup {
  database db;
  actors::engine_settings engine;  ///< the configured engine, on `db`
  std::shared_ptr<actors::node_state> node;
  std::shared_ptr<actors::cancel_registry> cancels;
  std::shared_ptr<http::auth_state> auth;
  persistence::node_row me;  ///< this node as its heartbeat describes it
};

/// Opens the database, applies migrations (unless told not to), loads the API
/// tokens, refuses an unauthenticated API off loopback, checks the cluster port
/// and describes the node. Returns 0 with `out` filled, or the exit code of
/// `serve` after logging why: 1 for an error, 2 for a refusal (a newer schema,
/// an API without tokens).
int bootstrap(const config& cfg, const serve_flags& flags, node_setup& out);

/// Configures the actor system: message types, the middleman for a cluster,
/// two scheduler threads, CAF's own logging off.
void configure_actor_system(caf::actor_system_config& caf_cfg, const config& cfg);

}  // namespace orch::runtime
