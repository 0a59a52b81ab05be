#pragma once
/// \file signals.hpp How a node learns it must stop: SIGTERM/SIGINT taken by
/// one thread, and supervision giving up.

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace orch::runtime {

/// Wakes the main thread for a shutdown and remembers the exit code of the
/// first request.
class shutdown_signal {
 public:
  /// Asks for a shutdown with `code`; later requests keep the first code.
  void request(int code);
  /// Blocks until a shutdown is requested; returns its exit code.
  int wait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  int exit_code_ = 0;
};

/// Blocks SIGTERM and SIGINT in this thread (and the threads it starts later),
/// ignores SIGPIPE, and returns the blocked set for watch_signals.
sigset_t block_shutdown_signals();

/// Starts the one thread that takes `sigs`: the first signal requests a drain
/// (exit code 0) through `stop`, the second sets `second` and exits at once
/// with 130.
void watch_signals(sigset_t sigs, shutdown_signal& stop, std::atomic<bool>& second);

}  // namespace orch::runtime
