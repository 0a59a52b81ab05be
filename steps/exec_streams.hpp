#pragma once
/// \file exec_streams.hpp Moving bytes between an exec step and its program (private
/// to steps/): stdin written from the step, stdout and stderr read into an
/// output_capture, all through one poll that also wakes when the program exits.

#include <cstddef>
#include <string_view>
#include <vector>

#include "steps/exec_output.hpp"
#include "steps/exec_pipes.hpp"
#include "steps/exec_spawn.hpp"

namespace orch::steps {

/// Bytes read per read() call, and written per write() call.
inline constexpr std::size_t read_chunk = 64 * 1024;
/// The most bytes read from one pipe per poll round, so one stream cannot starve
/// the other.
inline constexpr std::size_t max_read_per_round = 1 << 20;

/// The pipes of a running program, and its pidfd. Used by one thread.
class child_streams {
 public:
  /// Takes the pipes of `child`; writes `stdin_data` (which must outlive this) to
  /// its stdin, then closes it; reads go to `capture`.
  child_streams(spawned_child& child, std::string_view stdin_data, output_capture& capture);

  /// Waits up to `timeout_ms` for any pipe to be ready (or, with `watch_exit`, for
  /// the program to exit) and moves what is ready.
  void pump(int timeout_ms, bool watch_exit);
  /// Whether stdout or stderr may still deliver bytes.
  bool readable() const { return static_cast<bool>(out_) || static_cast<bool>(err_); }
  /// Closes every pipe.
  void close();

 private:
  void read_pipe(unique_fd& fd, bool is_stdout);
  void write_stdin();

  output_capture& capture_;
  unique_fd out_;
  unique_fd err_;
  unique_fd in_;
  // Readable when the child exits, so the wait wakes at once rather than at the
  // next poll timeout (Linux 5.3+; without it the poll timeout bounds the wait).
  unique_fd exit_fd_;
  std::string_view stdin_data_;
  std::size_t stdin_pos_ = 0;
  std::vector<char> buf_;
};

}  // namespace orch::steps
