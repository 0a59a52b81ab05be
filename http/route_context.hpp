#pragma once
/// \file route_context.hpp Private to http/: what every route handler shares
/// (options, the actors it talks to) and the steps common to handlers: the
/// bearer check, refusing work while draining, and handing work to an API
/// executor.

#include <atomic>
#include <caf/atom.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "http/request_handle.hpp"
#include "http/server.hpp"

namespace orch::persistence {
class session;
}

namespace orch::http {

/// The state the routes of one server share.
struct route_context {
  server_options opt;
  server_deps deps;
  std::atomic<std::size_t> next_executor{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  /// Wakes this node's actor registered as `key`, when it runs.
  void notify(caf::atom_value key) const;

  /// Hands `fn` to an API executor (its own database connection); `fn` answers
  /// the request from there. An exception escaping `fn` answers 500 at once.
  status_t on_db(const req_t& req, std::function<void(persistence::session&, const req_t&)> fn);

  /// Answers 401 and returns the handler's status unless the request is authorized.
  std::optional<status_t> deny(const req_t& req) const;

  /// Answers 503 and returns the handler's status while the node drains.
  std::optional<status_t> refuse_when_draining(const req_t& req) const;
};

}  // namespace orch::http
