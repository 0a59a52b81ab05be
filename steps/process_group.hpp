#pragma once
/// \file process_group.hpp The process group an exec step's program leads (private to
/// steps/): reaping, telling whether any member is left, and stopping the group.
///
/// The direct child is reaped with waitpid(-pgid), which also reaps members that
/// were reparented to us (when the server is a subreaper or PID 1). Stopping sends
/// SIGTERM to the group, then SIGKILL after the grace, and polls until no member is
/// left alive. A member that is a zombie of another parent (an init that does not
/// reap) counts as gone, so /proc is consulted when kill(-pgid, 0) still succeeds.

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "domain/time.hpp"

namespace orch::steps {

/// Upper bound of one poll while a step waits, so a stop request or the deadline
/// is noticed quickly.
inline constexpr int poll_ms = 10;

/// Whether a process of group `pgid` is alive (not a zombie), read from /proc.
/// Assumes alive when /proc cannot be read, which only makes the caller wait.
bool has_live_member(pid_t pgid);

/// The group led by a child we spawned. Used by one thread.
class process_group {
 public:
  /// Called while waiting for the group to go (keeps its pipes drained); the
  /// argument is the longest it may block, in milliseconds.
  using wait_step = std::function<void(int timeout_ms)>;
  /// Receives "system" log lines.
  using log_fn = std::function<void(std::string_view line)>;

  /// Takes charge of the group led by `pid`.
  explicit process_group(pid_t pid) : pid_(pid) {}
  process_group(const process_group&) = delete;
  process_group& operator=(const process_group&) = delete;
  /// Only finds the group unfinished when an exception (bad_alloc, a throwing log
  /// sink) escaped the step: never leave it running then.
  ~process_group();

  /// The leader's pid, which is also the group id.
  pid_t pid() const { return pid_; }
  /// "process group <pid>", for log lines.
  std::string name() const { return "process group " + std::to_string(pid_); }

  /// Collects every exited child of ours in the group without blocking.
  void reap();
  /// Whether the leader has been reaped (by us, or by someone else).
  bool reaped() const { return reaped_; }
  /// The leader's wait status; empty when it is not reaped, or was reaped elsewhere.
  const std::optional<int>& wait_status() const { return wait_status_; }

  /// Whether any member of the group is still alive.
  bool alive();
  /// Stops what is left of the group: SIGTERM, SIGKILL after `grace`, then waits
  /// until it is gone, calling `wait` meanwhile. `requested` is false when the
  /// program exited on its own (that case is logged here).
  void stop(bool requested, millis grace, const wait_step& wait, const log_fn& log);
  /// Marks the step as done with the group, so the destructor leaves it alone.
  void finish() { finished_ = true; }

 private:
  pid_t pid_;
  bool reaped_ = false;
  bool finished_ = false;
  std::optional<int> wait_status_;
};

}  // namespace orch::steps
