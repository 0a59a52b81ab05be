#pragma once
/// \file node_repo.hpp Cluster membership: each node's heartbeat row, and who is down.

#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch::persistence {

class session;

/// A node as the membership table holds it.
struct node_row {
  std::string name;
  std::string incarnation;
  std::vector<std::string> roles;
  sys_ms started_at{};
  sys_ms last_seen{};
  int capacity = 0;
  int active = 0;
  std::string status;
  std::string advertise;  ///< host:port of its cluster endpoint; empty without one
};

/// A node that another declared down (its leases are to be released).
struct dead_node {
  std::string name;
  std::string incarnation;
};

/// What the database knows of whether a node lives: a node cut off from its
/// peers but not from PostgreSQL keeps both; a dead one loses the first at
/// once (PostgreSQL ends the session of a closed connection) and a frozen or
/// hung one the second within seconds.
struct presence {
  bool session_open = false;  ///< its heartbeat session holds the node's presence lock
  bool beating = false;       ///< its heartbeat row was written lately
};

/// What the whole cluster looks like to the health check.
struct cluster_health {
  bool leader_alive = false;  ///< some session holds the scheduler leadership lock
  int workers_up = 0;         ///< nodes with the worker role that are up
};

namespace node_repo {
/// Registers or refreshes this node's row (heartbeat), and holds the node's
/// presence lock on `db`'s connection (taken again after a reconnect).
status heartbeat(session& db, const node_row& node);
/// Whether the incarnation `incarnation` of `name` lives, as far as the
/// database knows: its presence lock held, its row written within `silent_after`.
result<presence> presence_of(session& db, const std::string& name, const std::string& incarnation,
                             millis silent_after);
/// Every node; rows not seen for `down_after` are reported down.
result<std::vector<node_row>> list(session& db, millis down_after);
/// Declares one incarnation of a node down; false when it was already (or is
/// another incarnation by now).
result<bool> mark_down(session& db, const std::string& name, const std::string& incarnation);
/// Declares down every other node not seen for `down_after`, and returns them.
result<std::vector<dead_node>> expire(session& db, const std::string& self, millis down_after);
/// Health of the cluster as a whole: a scheduler leader alive (its advisory
/// lock `leader_key` is held) and the worker nodes up.
result<cluster_health> health(session& db, long long leader_key, millis down_after);
/// Forgets nodes that have been down for longer than `age`.
result<long long> forget(session& db, millis age);
}  // namespace node_repo

}  // namespace orch::persistence
