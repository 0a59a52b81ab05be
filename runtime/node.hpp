#pragma once
/// \file node.hpp `orchestrator serve`: one node, wired and supervised.

#include <string>

#include "runtime/config.hpp"

namespace orch::runtime {

/// Flags of `serve` that are not configuration.
struct serve_flags {
  bool no_migrate = false;
  bool insecure_no_auth = false;
};

/// Runs a node until SIGTERM/SIGINT (graceful drain, exit 0), a second signal
/// (immediate exit), or an escalated supervision failure (exit 3). Returns the
/// process exit code.
int serve(const config& cfg, const serve_flags& flags);

/// Whether an address is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

/// The build's version string.
const char* version();

}  // namespace orch::runtime
