#pragma once
/// \file server.hpp The REST front end (RESTinio on its own asio threads).

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <memory>
#include <string>
#include <vector>

#include "actors/settings.hpp"
#include "http/auth.hpp"

namespace orch::http {

/// What the server needs to know.
struct server_options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_batch_body_bytes = 32 << 20;
  bool enable_metrics = true;
  bool serve_api = true;  ///< /v1 routes (the `api` role); /health, /ready, /live, /metrics always
  bool fault_injection = false;
  bool redis_configured = false;
  std::string version;
  std::string node_name;
  std::vector<std::string> roles;
  int capacity = 0;
  millis heartbeat_down_after{15000};
  int threads = 2;
};

/// Everything handlers send messages to.
struct server_deps {
  caf::actor_system* system = nullptr;
  /// API executors, found by actors::api_executor_key(0..n-1) and used round
  /// robin; like the submitter (submitter_key), looked up per request, since
  /// their supervisor replaces them.
  int api_executors = 0;
  std::shared_ptr<actors::node_state> node;
  std::shared_ptr<auth_state> auth;
};

/// A running HTTP server.
class server {
 public:
  server(server_options opts, server_deps deps);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts serving; the error names the address on failure.
  void start();
  /// Stops accepting and closes connections.
  void stop();
  /// The bound port (useful with port 0).
  int port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace orch::http
