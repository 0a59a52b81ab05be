#pragma once
/// \file exec_pipes.hpp File descriptors and pipes of an exec step (private to steps/).

#include <signal.h>

#include <string>
#include <utility>

namespace orch::steps {

/// The text of an errno value (thread-safe).
std::string errno_text(int error);

/// Owns a file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  /// Takes ownership of `fd` (may be -1).
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }

  /// The descriptor, -1 when none.
  int get() const { return fd_; }
  /// Whether a descriptor is held.
  explicit operator bool() const { return fd_ >= 0; }
  /// Closes the held descriptor and takes `fd` instead.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// Moves `fd` to a number >= 3 so dup2 onto 0, 1 or 2 in the child cannot clobber
/// another of the child's sources (possible when the server closed its stdio).
int above_stdio(int fd);

/// A close-on-exec pipe whose ends are both above the stdio numbers.
bool make_pipe(unique_fd& read_end, unique_fd& write_end);

/// Sets O_NONBLOCK on `fd`; false on failure.
bool set_nonblocking(int fd);

/// Blocks SIGPIPE in this thread while we write the child's stdin, and swallows a
/// SIGPIPE our own write raised, so a child that closes stdin cannot kill the server.
class sigpipe_block {
 public:
  sigpipe_block();
  sigpipe_block(const sigpipe_block&) = delete;
  sigpipe_block& operator=(const sigpipe_block&) = delete;
  ~sigpipe_block();

 private:
  sigset_t set_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace orch::steps
