#include "steps/exec_streams.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace orch::steps {

child_streams::child_streams(spawned_child& child, std::string_view stdin_data,
                             output_capture& capture)
    : capture_(capture),
      out_(std::move(child.out)),
      err_(std::move(child.err)),
      in_(std::move(child.in)),
      exit_fd_(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0))),
      stdin_data_(stdin_data),
      buf_(read_chunk) {
  if (in_ && stdin_data_.empty()) in_.reset();
}

void child_streams::pump(int timeout_ms, bool watch_exit) {
  pollfd fds[4];
  int count = 0;
  int out_index = -1;
  int err_index = -1;
  int in_index = -1;
  if (out_) {
    fds[count] = pollfd{out_.get(), POLLIN, 0};
    out_index = count++;
  }
  if (err_) {
    fds[count] = pollfd{err_.get(), POLLIN, 0};
    err_index = count++;
  }
  if (in_) {
    fds[count] = pollfd{in_.get(), POLLOUT, 0};
    in_index = count++;
  }
  if (exit_fd_ && watch_exit) fds[count++] = pollfd{exit_fd_.get(), POLLIN, 0};
  int ready = ::poll(count > 0 ? fds : nullptr, static_cast<nfds_t>(count), timeout_ms);
  if (ready <= 0) return;
  if (out_index >= 0 && fds[out_index].revents != 0) read_pipe(out_, true);
  if (err_index >= 0 && fds[err_index].revents != 0) read_pipe(err_, false);
  if (in_index >= 0 && fds[in_index].revents != 0) write_stdin();
}

void child_streams::close() {
  out_.reset();
  err_.reset();
  in_.reset();
}

void child_streams::read_pipe(unique_fd& fd, bool is_stdout) {
  std::size_t total = 0;
  while (fd && total < max_read_per_round) {
    ssize_t n = ::read(fd.get(), buf_.data(), buf_.size());
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      if (is_stdout) {
        capture_.on_stdout(buf_.data(), static_cast<std::size_t>(n));
      } else {
        capture_.on_stderr(buf_.data(), static_cast<std::size_t>(n));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fd.reset();  // EOF or a read error: this stream is over
  }
}

void child_streams::write_stdin() {
  while (stdin_pos_ < stdin_data_.size()) {
    std::size_t size = std::min(stdin_data_.size() - stdin_pos_, read_chunk);
    ssize_t n = ::write(in_.get(), stdin_data_.data() + stdin_pos_, size);
    if (n > 0) {
      stdin_pos_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // EPIPE: the program does not read (all of) its stdin, which is its right
  }
  in_.reset();  // EOF for the program
}

}  // namespace orch::steps
