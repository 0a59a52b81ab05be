/// \file exec_step.cpp Runs a program in its own process group: starts it
/// (exec_spawn), moves its bytes (exec_streams) until it exits, times out or is
/// stopped, stops what is left of its group (process_group), and says how it went.

#include "steps/exec_step.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "steps/exec_output.hpp"
#include "steps/exec_pipes.hpp"
#include "steps/exec_spawn.hpp"
#include "steps/exec_streams.hpp"
#include "steps/process_group.hpp"

namespace orch::steps {
namespace {

using steady = std::chrono::steady_clock;

/// After the group is gone, how long to wait for EOF on the pipes.
constexpr millis final_drain{200};
/// Longer timeouts are clamped so the deadline arithmetic cannot overflow.
constexpr millis max_timeout{std::chrono::hours(24 * 366 * 10)};

/// Why the parent ended the program before it exited on its own.
enum class end_cause { none, timeout, stop };

/// What a step says when its program could not start.
step_outcome spawn_failed(std::string message, const log_sink& log) {
  step_outcome out;
  out.status = run_status::failed;
  out.error_code = "spawn_failed";
  out.error_message = std::move(message);
  if (log) log("system", out.error_message);
  return out;
}

/// The outcome of a program that ran: how it ended, from `cause` and its wait status.
step_outcome ended(end_cause cause, const std::optional<int>& wait_status, stop_reason stop,
                   millis timeout, output_capture& capture) {
  step_outcome out;
  out.output = capture.take_output();
  out.output_truncated = capture.truncated();
  if (wait_status && WIFEXITED(*wait_status)) out.exit_code = WEXITSTATUS(*wait_status);
  if (cause == end_cause::stop) {
    out.status = run_status::cancelled;
    out.error_code = "cancelled";
    out.error_message = stop == stop_reason::release ? "stopped for release" : "cancelled";
  } else if (cause == end_cause::timeout) {
    out.status = run_status::failed;
    out.error_code = "timeout";
    out.error_message = "timed out after " + std::to_string(timeout.count()) + " ms";
  } else if (!wait_status) {
    out.status = run_status::failed;
    out.error_code = "exit_status";
    out.error_message = "exit status unknown (the process was reaped elsewhere)";
  } else if (WIFEXITED(*wait_status)) {
    int code = WEXITSTATUS(*wait_status);
    if (code == 0) {
      out.status = run_status::succeeded;
    } else {
      out.status = run_status::failed;
      out.error_code = "exit_status";
      out.error_message = "exit status " + std::to_string(code);
      if (!capture.last_stderr_line().empty()) {
        out.error_message += ": " + excerpt(capture.last_stderr_line());
      }
    }
  } else {
    out.status = run_status::failed;
    out.error_code = "exit_status";
    out.error_message = "killed by signal " + std::to_string(WTERMSIG(*wait_status));
  }
  return out;
}

}  // namespace

step_outcome run_exec(const exec_spec& spec, const std::map<std::string, std::string>& extra_env,
                      millis timeout, const cancel_token& stop, const log_sink& log,
                      const exec_limits& limits) {
  auto log_system = [&log](std::string_view line) {
    if (log) log("system", line);
  };
  output_capture capture(log, limits.max_output, limits.max_log_line);
  spawned_child child;
  std::string error;
  if (!spawn_in_group(spec, extra_env, child, error)) return spawn_failed(std::move(error), log);

  // First, so that the group is killed should anything below throw.
  process_group group(child.pid);
  std::optional<sigpipe_block> sigpipe_guard;
  if (child.in) sigpipe_guard.emplace();
  child_streams streams(child, spec.stdin_data ? std::string_view(*spec.stdin_data) : "", capture);
  auto pump = [&](int timeout_ms) { streams.pump(timeout_ms, !group.reaped()); };

  const auto started = steady::now();
  const auto deadline = started + std::clamp(timeout, millis{0}, max_timeout);
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<millis>(steady::now() - started).count();
  };

  // 1. Run until the program exits, the deadline passes or a stop is requested.
  end_cause cause = end_cause::none;
  for (;;) {
    group.reap();
    if (group.reaped()) break;
    if (stop.stopped()) {
      cause = end_cause::stop;
      break;
    }
    auto now = steady::now();
    if (now >= deadline) {
      cause = end_cause::timeout;
      break;
    }
    auto left = std::chrono::ceil<millis>(deadline - now).count();
    pump(static_cast<int>(std::min<long long>(poll_ms, left)));
  }

  // 2. The program exited: read what it wrote until EOF. A background process of
  // its group may hold the pipes open forever, so only for a short while; whatever
  // is left of the group is then stopped below.
  if (cause == end_cause::none) {
    const auto until = steady::now() + limits.drain_timeout;
    while (streams.readable() && steady::now() < until && !stop.stopped()) pump(poll_ms);
  }

  // 3. Stop the group: SIGTERM, SIGKILL after the grace, wait until it is gone.
  if (cause == end_cause::timeout) {
    log_system("timed out after " + std::to_string(elapsed_ms()) + " ms; stopping " + group.name());
  } else if (cause == end_cause::stop) {
    log_system(std::string(stop.get() == stop_reason::release ? "release" : "cancel") +
               " requested; stopping " + group.name());
  }
  group.stop(cause != end_cause::none, limits.kill_grace, pump, log_system);

  // 4. Every writer is gone now: collect the rest of the pipes.
  const auto drain_until = steady::now() + final_drain;
  while (streams.readable() && steady::now() < drain_until) pump(poll_ms);
  streams.close();
  capture.flush_stderr();
  group.finish();

  step_outcome out = ended(cause, group.wait_status(), stop.get(), timeout, capture);
  const auto took = std::to_string(elapsed_ms()) + " ms";
  if (out.status == run_status::succeeded) {
    log_system("exit status 0 (" + took + ")");
  } else {
    log_system(out.error_message + " (" + took + ")");
  }
  return out;
}

}  // namespace orch::steps
