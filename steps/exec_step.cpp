/// \file exec_step.cpp Runs a program in its own process group with posix_spawn.
///
/// Spawning uses glibc's posix_spawn (clone with CLONE_VFORK), so nothing of ours
/// runs between fork and exec and a large server process is not copied. The spawn
/// attributes make the child a process group leader (setpgid(0, 0)), reset its
/// signal mask and every disposition to the default, dup the pipes onto 0, 1 and 2,
/// change directory and close every descriptor from 3 up before exec; exec errors
/// come back as posix_spawn's return value.
///
/// Process group lifetime: the direct child is reaped with waitpid(-pgid), which
/// also reaps members that were reparented to us (when the server is a subreaper or
/// PID 1). After a stop, timeout, or a normal exit that leaves processes behind, the
/// group gets SIGTERM, then SIGKILL after the grace, and we poll until no member is
/// left alive. A member that is a zombie of another parent (an init that does not
/// reap) counts as gone, so /proc is consulted when kill(-pgid, 0) still succeeds.

#include "steps/exec_step.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orch::steps {
namespace {

using steady = std::chrono::steady_clock;

/// The PATH a step gets when it sets none.
constexpr const char* default_path = "/usr/local/bin:/usr/bin:/bin";
/// HOME when the step sets none: writable, and not the server's own home.
constexpr const char* default_home = "/tmp";
constexpr const char* default_lang = "C.UTF-8";
/// Upper bound of one poll, so a stop request or the deadline is noticed quickly.
constexpr int poll_ms = 10;
/// How long to wait for the group to vanish after SIGKILL before giving up.
constexpr millis kill_wait{2000};
/// After the group is gone, how long to wait for EOF on the pipes.
constexpr millis final_drain{200};
/// The longest stderr excerpt quoted in an error message.
constexpr std::size_t max_message_excerpt = 512;
/// Bytes read per read() call, and at most per pipe per poll round.
constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t max_read_per_round = 1 << 20;
/// Longer timeouts are clamped so the deadline arithmetic cannot overflow.
constexpr millis max_timeout{std::chrono::hours(24 * 366 * 10)};

std::string errno_text(int error) {
  char buf[256];
  // GNU strerror_r: thread-safe, returns a pointer to the text.
  return ::strerror_r(error, buf, sizeof buf);
}

/// Owns a file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// Moves `fd` to a number >= 3 so dup2 onto 0, 1 or 2 in the child cannot clobber
/// another of the child's sources (possible when the server closed its stdio).
int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return moved;
}

/// A close-on-exec pipe whose ends are both above the stdio numbers.
bool make_pipe(unique_fd& read_end, unique_fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.reset(above_stdio(fds[0]));
  write_end.reset(above_stdio(fds[1]));
  return read_end && write_end;
}

bool set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/// posix_spawn attributes and file actions, destroyed on scope exit.
class spawn_config {
 public:
  spawn_config() {
    actions_ok_ = ::posix_spawn_file_actions_init(&actions_) == 0;
    attr_ok_ = ::posix_spawnattr_init(&attr_) == 0;
  }
  spawn_config(const spawn_config&) = delete;
  spawn_config& operator=(const spawn_config&) = delete;
  ~spawn_config() {
    if (actions_ok_) ::posix_spawn_file_actions_destroy(&actions_);
    if (attr_ok_) ::posix_spawnattr_destroy(&attr_);
  }

  /// Sets up the child; returns 0 or an errno value.
  int prepare(int in_fd, int out_fd, int err_fd, const std::string& cwd) {
    if (!actions_ok_ || !attr_ok_) return ENOMEM;
    sigset_t empty;
    sigset_t all;
    ::sigemptyset(&empty);
    ::sigfillset(&all);
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int rc = 0;
    if ((rc = ::posix_spawnattr_setflags(&attr_, flags)) != 0) return rc;
    if ((rc = ::posix_spawnattr_setpgroup(&attr_, 0)) != 0) return rc;
    if ((rc = ::posix_spawnattr_setsigmask(&attr_, &empty)) != 0) return rc;
    if ((rc = ::posix_spawnattr_setsigdefault(&attr_, &all)) != 0) return rc;
    if (!cwd.empty() &&
        (rc = ::posix_spawn_file_actions_addchdir_np(&actions_, cwd.c_str())) != 0) {
      return rc;
    }
    if ((rc = ::posix_spawn_file_actions_adddup2(&actions_, in_fd, 0)) != 0) return rc;
    if ((rc = ::posix_spawn_file_actions_adddup2(&actions_, out_fd, 1)) != 0) return rc;
    if ((rc = ::posix_spawn_file_actions_adddup2(&actions_, err_fd, 2)) != 0) return rc;
    // Descriptors without O_CLOEXEC (other libraries' sockets) must not reach the child.
    return ::posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
  }

  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
  bool actions_ok_ = false;
  bool attr_ok_ = false;
};

/// Blocks SIGPIPE in this thread while we write the child's stdin, and swallows a
/// SIGPIPE our own write raised, so a child that closes stdin cannot kill the server.
class sigpipe_block {
 public:
  sigpipe_block() {
    ::sigemptyset(&set_);
    ::sigaddset(&set_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
    sigset_t pending;
    ::sigpending(&pending);
    was_pending_ = ::sigismember(&pending, SIGPIPE) == 1;
  }
  sigpipe_block(const sigpipe_block&) = delete;
  sigpipe_block& operator=(const sigpipe_block&) = delete;
  ~sigpipe_block() {
    if (!was_pending_) {
      sigset_t pending;
      ::sigpending(&pending);
      if (::sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{};
        while (::sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_;
  sigset_t old_;
  bool was_pending_ = false;
};

/// Whether a process of group `pgid` is alive (not a zombie), read from /proc.
/// Assumes alive when /proc cannot be read, which only makes the caller wait.
bool has_live_member(pid_t pgid) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return true;
  bool found = false;
  while (!found) {
    dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    const char* name = entry->d_name;
    if (*name < '1' || *name > '9') continue;
    char path[sizeof(entry->d_name) + 16];
    std::snprintf(path, sizeof path, "/proc/%s/stat", name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const char* close_paren = std::strrchr(buf, ')');
    if (close_paren == nullptr) continue;
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if (std::sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') found = true;
  }
  ::closedir(dir);
  return found;
}

/// Keeps the tail of `text` short enough to quote in an error message.
std::string excerpt(std::string_view text) {
  if (text.size() <= max_message_excerpt) return std::string(text);
  return std::string(text.substr(0, max_message_excerpt)) + "...";
}

/// The cut position for splitting `text` at most `max` bytes in, backing off
/// (by up to 3 bytes) so a UTF-8 sequence is not split.
std::size_t utf8_cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text.size();
  std::size_t cut = max;
  for (int i = 0; i < 3 && cut > 1; ++i) {
    if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80) break;
    --cut;
  }
  if ((static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) cut = max;
  return cut;
}

/// Why the parent ended the program before it exited on its own.
enum class end_cause { none, timeout, stop };

/// The state of one exec step, from spawn to the outcome. Used by one thread.
class exec_run {
 public:
  exec_run(const cancel_token& stop, const log_sink& log, const exec_limits& limits)
      : stop_(stop), log_(log), limits_(limits), buf_(read_chunk) {
    if (limits_.max_log_line == 0) limits_.max_log_line = 1;
  }
  exec_run(const exec_run&) = delete;
  exec_run& operator=(const exec_run&) = delete;

  ~exec_run() {
    // Only reached with a live child when an exception (bad_alloc, a throwing log
    // sink) escaped: never leave the group running.
    if (pid_ > 0 && !finished_) {
      ::kill(-pid_, SIGKILL);
      if (!reaped_) ::waitpid(pid_, nullptr, 0);
    }
  }

  step_outcome run(const exec_spec& spec, const std::map<std::string, std::string>& extra_env,
                   millis timeout);

 private:
  step_outcome spawn_failed(std::string message) {
    step_outcome out;
    out.status = run_status::failed;
    out.error_code = "spawn_failed";
    out.error_message = std::move(message);
    log("system", out.error_message);
    return out;
  }

  void log(std::string_view stream, std::string_view line) const {
    if (log_) log_(stream, line);
  }

  std::string group_name() const { return "process group " + std::to_string(pid_); }

  void pump(int timeout_ms);
  void read_pipe(unique_fd& fd, bool is_stdout);
  void write_stdin();
  void on_stdout(const char* data, std::size_t size);
  void on_stderr(const char* data, std::size_t size);
  void emit_stderr(std::string_view line);
  void reap();
  bool group_alive();
  void stop_group(bool requested);
  bool pipes_open() const { return static_cast<bool>(out_) || static_cast<bool>(err_); }

  const cancel_token& stop_;
  const log_sink& log_;
  exec_limits limits_;

  pid_t pid_ = -1;
  bool reaped_ = false;
  bool finished_ = false;
  std::optional<int> wait_status_;

  unique_fd out_;
  unique_fd err_;
  unique_fd in_;
  // Readable when the child exits, so the wait wakes at once rather than at the
  // next poll timeout (Linux 5.3+; without it the poll timeout bounds the wait).
  unique_fd exit_fd_;
  std::string_view stdin_data_;
  std::size_t stdin_pos_ = 0;

  std::string output_;
  bool truncated_ = false;
  std::string err_buf_;
  std::string last_err_line_;
  std::vector<char> buf_;
};

step_outcome exec_run::run(const exec_spec& spec,
                           const std::map<std::string, std::string>& extra_env, millis timeout) {
  if (spec.command.empty() || spec.command.front().empty()) {
    return spawn_failed("empty command");
  }
  for (const auto& arg : spec.command) {
    if (arg.find('\0') != std::string::npos) {
      return spawn_failed("a command argument contains a NUL byte");
    }
  }

  // The environment: the step's, then ours (ORCH_* cannot be spoofed by the step),
  // then defaults for what neither sets. Nothing comes from the server's environ.
  std::map<std::string, std::string> env = spec.env;
  for (const auto& [name, value] : extra_env) env[name] = value;
  env.try_emplace("PATH", default_path);
  env.try_emplace("HOME", default_home);
  env.try_emplace("LANG", default_lang);
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [name, value] : env) {
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return spawn_failed("invalid environment variable name or value: '" + excerpt(name) + "'");
    }
    env_strings.push_back(name + "=" + value);
  }

  // argv and envp are built before spawning; the child only calls exec.
  std::vector<std::string> args = spec.command;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  // A bare name is looked up in the child's PATH (execvp rules), not the server's.
  const std::string& program = spec.command.front();
  std::vector<std::string> candidates;
  if (program.find('/') != std::string::npos) {
    candidates.push_back(program);
  } else {
    std::string_view path = env.at("PATH");
    std::size_t start = 0;
    while (start <= path.size()) {
      std::size_t end = std::min(path.find(':', start), path.size());
      std::string dir(path.substr(start, end - start));
      candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
      start = end + 1;
    }
  }

  // posix_spawn reports a failed chdir and a failed exec alike; check the directory
  // first so the message says which one it was.
  if (!spec.cwd.empty()) {
    struct stat st {};
    int error = 0;
    if (::stat(spec.cwd.c_str(), &st) != 0) {
      error = errno;
    } else if (!S_ISDIR(st.st_mode)) {
      error = ENOTDIR;
    }
    if (error != 0) {
      return spawn_failed("cannot change directory to '" + spec.cwd + "': " + errno_text(error));
    }
  }

  unique_fd out_write;
  unique_fd err_write;
  unique_fd in_read;
  if (!make_pipe(out_, out_write) || !make_pipe(err_, err_write)) {
    return spawn_failed("cannot create pipes: " + errno_text(errno));
  }
  if (spec.stdin_data) {
    if (!make_pipe(in_read, in_)) return spawn_failed("cannot create pipes: " + errno_text(errno));
    stdin_data_ = *spec.stdin_data;
  } else {
    in_read.reset(above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
    if (!in_read) return spawn_failed("cannot open /dev/null: " + errno_text(errno));
  }

  spawn_config config;
  if (int rc = config.prepare(in_read.get(), out_write.get(), err_write.get(), spec.cwd); rc != 0) {
    return spawn_failed("cannot prepare spawn: " + errno_text(rc));
  }
  int spawn_error = ENOENT;
  bool saw_eacces = false;
  for (const auto& candidate : candidates) {
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, candidate.c_str(), config.actions(), config.attr(), argv.data(),
                           envp.data());
    if (rc == 0) {
      pid_ = pid;
      break;
    }
    spawn_error = rc;
    if (rc == EACCES) {
      saw_eacces = true;
    } else if (rc != ENOENT && rc != ENOTDIR) {
      break;
    }
  }
  if (pid_ <= 0) {
    if (saw_eacces && (spawn_error == ENOENT || spawn_error == ENOTDIR)) spawn_error = EACCES;
    return spawn_failed("cannot execute '" + excerpt(program) + "': " + errno_text(spawn_error));
  }
  out_write.reset();
  err_write.reset();
  in_read.reset();
  exit_fd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  set_nonblocking(out_.get());
  set_nonblocking(err_.get());
  std::optional<sigpipe_block> sigpipe_guard;
  if (in_) {
    set_nonblocking(in_.get());
    sigpipe_guard.emplace();
    if (stdin_data_.empty()) in_.reset();
  }

  const auto started = steady::now();
  const auto deadline = started + std::clamp(timeout, millis{0}, max_timeout);
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<millis>(steady::now() - started).count();
  };

  // 1. Run until the program exits, the deadline passes or a stop is requested.
  end_cause cause = end_cause::none;
  for (;;) {
    reap();
    if (reaped_) break;
    if (stop_.stopped()) {
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
    const auto until = steady::now() + limits_.drain_timeout;
    while (pipes_open() && steady::now() < until && !stop_.stopped()) pump(poll_ms);
  }

  // 3. Stop the group: SIGTERM, SIGKILL after the grace, wait until it is gone.
  if (cause == end_cause::timeout) {
    log("system",
        "timed out after " + std::to_string(elapsed_ms()) + " ms; stopping " + group_name());
  } else if (cause == end_cause::stop) {
    log("system", std::string(stop_.get() == stop_reason::release ? "release" : "cancel") +
                      " requested; stopping " + group_name());
  }
  stop_group(cause != end_cause::none);

  // 4. Every writer is gone now: collect the rest of the pipes.
  const auto drain_until = steady::now() + final_drain;
  while (pipes_open() && steady::now() < drain_until) pump(poll_ms);
  out_.reset();
  err_.reset();
  in_.reset();
  if (!err_buf_.empty()) {
    std::string rest = std::move(err_buf_);
    err_buf_.clear();
    emit_stderr(rest);
  }
  finished_ = true;

  step_outcome out;
  out.output = std::move(output_);
  out.output_truncated = truncated_;
  if (wait_status_ && WIFEXITED(*wait_status_)) out.exit_code = WEXITSTATUS(*wait_status_);
  const auto took = std::to_string(elapsed_ms()) + " ms";
  if (cause == end_cause::stop) {
    out.status = run_status::cancelled;
    out.error_code = "cancelled";
    out.error_message = stop_.get() == stop_reason::release ? "stopped for release" : "cancelled";
  } else if (cause == end_cause::timeout) {
    out.status = run_status::failed;
    out.error_code = "timeout";
    out.error_message = "timed out after " + std::to_string(timeout.count()) + " ms";
  } else if (!wait_status_) {
    out.status = run_status::failed;
    out.error_code = "exit_status";
    out.error_message = "exit status unknown (the process was reaped elsewhere)";
  } else if (WIFEXITED(*wait_status_)) {
    int code = WEXITSTATUS(*wait_status_);
    if (code == 0) {
      out.status = run_status::succeeded;
    } else {
      out.status = run_status::failed;
      out.error_code = "exit_status";
      out.error_message = "exit status " + std::to_string(code);
      if (!last_err_line_.empty()) out.error_message += ": " + excerpt(last_err_line_);
    }
  } else {
    out.status = run_status::failed;
    out.error_code = "exit_status";
    out.error_message = "killed by signal " + std::to_string(WTERMSIG(*wait_status_));
  }
  if (out.status == run_status::succeeded) {
    log("system", "exit status 0 (" + took + ")");
  } else {
    log("system", out.error_message + " (" + took + ")");
  }
  return out;
}

void exec_run::pump(int timeout_ms) {
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
  if (exit_fd_ && !reaped_) fds[count++] = pollfd{exit_fd_.get(), POLLIN, 0};
  int ready = ::poll(count > 0 ? fds : nullptr, static_cast<nfds_t>(count), timeout_ms);
  if (ready <= 0) return;
  if (out_index >= 0 && fds[out_index].revents != 0) read_pipe(out_, true);
  if (err_index >= 0 && fds[err_index].revents != 0) read_pipe(err_, false);
  if (in_index >= 0 && fds[in_index].revents != 0) write_stdin();
}

void exec_run::read_pipe(unique_fd& fd, bool is_stdout) {
  std::size_t total = 0;
  while (fd && total < max_read_per_round) {
    ssize_t n = ::read(fd.get(), buf_.data(), buf_.size());
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      if (is_stdout) {
        on_stdout(buf_.data(), static_cast<std::size_t>(n));
      } else {
        on_stderr(buf_.data(), static_cast<std::size_t>(n));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fd.reset();  // EOF or a read error: this stream is over
  }
}

void exec_run::write_stdin() {
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

void exec_run::on_stdout(const char* data, std::size_t size) {
  std::size_t room = limits_.max_output - std::min(output_.size(), limits_.max_output);
  if (size <= room) {
    output_.append(data, size);
    return;
  }
  output_.append(data, room);
  if (!truncated_) {
    truncated_ = true;
    log("system", "output truncated at " + std::to_string(limits_.max_output) +
                      " bytes; the rest of stdout is discarded");
  }
}

void exec_run::on_stderr(const char* data, std::size_t size) {
  err_buf_.append(data, size);
  std::string_view rest(err_buf_);
  for (;;) {
    std::size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) break;
    std::string_view line = rest.substr(0, newline);
    while (line.size() > limits_.max_log_line) {
      std::size_t cut = utf8_cut(line, limits_.max_log_line);
      emit_stderr(line.substr(0, cut));
      line.remove_prefix(cut);
    }
    emit_stderr(line);
    rest.remove_prefix(newline + 1);
  }
  while (rest.size() > limits_.max_log_line) {
    std::size_t cut = utf8_cut(rest, limits_.max_log_line);
    emit_stderr(rest.substr(0, cut));
    rest.remove_prefix(cut);
  }
  err_buf_.erase(0, err_buf_.size() - rest.size());
}

void exec_run::emit_stderr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) last_err_line_.assign(line);
  log("stderr", line);
}

void exec_run::reap() {
  for (;;) {
    int status = 0;
    // -pid_: any child of ours in the group; the direct child, and members
    // reparented to us when the server is a subreaper or PID 1.
    pid_t r = ::waitpid(-pid_, &status, WNOHANG);
    if (r > 0) {
      if (r == pid_) {
        wait_status_ = status;
        reaped_ = true;
      }
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ECHILD && !reaped_) {
      // Someone else reaped our child (SIGCHLD ignored, or a waitpid(-1) elsewhere).
      reaped_ = true;
    }
    return;
  }
}

bool exec_run::group_alive() {
  reap();
  if (!reaped_) return true;
  // The leader is reaped; its pid stays reserved while any member uses it as a
  // process group id, so kill(-pid_) cannot reach an unrelated group.
  if (::kill(-pid_, 0) != 0) return errno != ESRCH;
  if (has_live_member(pid_)) return true;
  // Members may have died since reap() ran; collect the zombies that are ours.
  reap();
  return false;
}

void exec_run::stop_group(bool requested) {
  if (!group_alive()) return;
  if (!requested) log("system", "the program exited; stopping what is left of " + group_name());
  ::kill(-pid_, SIGTERM);
  auto until = steady::now() + std::max(limits_.kill_grace, millis{0});
  while (steady::now() < until) {
    pump(poll_ms);  // keep draining, so a member blocked on a full pipe can exit
    if (!group_alive()) return;
  }
  log("system", "sending SIGKILL to " + group_name());
  ::kill(-pid_, SIGKILL);
  until = steady::now() + kill_wait;
  while (steady::now() < until) {
    if (!group_alive()) return;
    pump(poll_ms);
  }
  log("system", group_name() + " is still present after SIGKILL");
}

}  // namespace

step_outcome run_exec(const exec_spec& spec, const std::map<std::string, std::string>& extra_env,
                      millis timeout, const cancel_token& stop, const log_sink& log,
                      const exec_limits& limits) {
  exec_run run(stop, log, limits);
  return run.run(spec, extra_env, timeout);
}

}  // namespace orch::steps
