#pragma once
/// \file step.hpp What every step executor takes and returns.

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "domain/run.hpp"
#include "domain/time.hpp"

namespace orch::steps {

/// Why a step should stop early; set from another thread, polled by executors.
enum class stop_reason : int { none = 0, cancel = 1, release = 2 };

/// A flag another thread sets to stop a running step (cancel or shutdown).
struct cancel_token {
  std::atomic<int> reason{0};
  void request(stop_reason r) { reason.store(static_cast<int>(r)); }
  stop_reason get() const { return static_cast<stop_reason>(reason.load()); }
  bool stopped() const { return reason.load() != 0; }
};

/// Receives log lines: stream is "stdout", "stderr" or "system".
using log_sink = std::function<void(std::string_view stream, std::string_view line)>;

/// The result of one step execution.
struct step_outcome {
  run_status status = run_status::failed;  ///< succeeded, failed or cancelled
  std::string output;                      ///< bounded by the executor's limit
  std::optional<int> exit_code;
  std::optional<int> http_status;
  std::string error_code;  ///< "timeout", "exit_status", "http_status", "cancelled", ...
  std::string error_message;
  bool output_truncated = false;
};

/// Default bound of a step's output (1 MiB).
inline constexpr std::size_t default_max_output = 1 << 20;

}  // namespace orch::steps
