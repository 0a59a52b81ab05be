#include "steps/exec_spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include "steps/exec_output.hpp"

namespace orch::steps {
namespace {

/// The PATH a step gets when it sets none.
constexpr const char* default_path = "/usr/local/bin:/usr/bin:/bin";
/// HOME when the step sets none: writable, and not the server's own home.
constexpr const char* default_home = "/tmp";
constexpr const char* default_lang = "C.UTF-8";

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

/// The environment: the step's, then ours (ORCH_* cannot be spoofed by the step),
/// then defaults for what neither sets. Nothing comes from the server's environ.
std::map<std::string, std::string> child_env(const exec_spec& spec,
                                             const std::map<std::string, std::string>& extra_env) {
  std::map<std::string, std::string> env = spec.env;
  for (const auto& [name, value] : extra_env) env[name] = value;
  env.try_emplace("PATH", default_path);
  env.try_emplace("HOME", default_home);
  env.try_emplace("LANG", default_lang);
  return env;
}

/// The paths to try for `program`: itself when it holds a slash, else each
/// directory of the child's `path` (execvp rules), not the server's.
std::vector<std::string> program_candidates(const std::string& program, std::string_view path) {
  std::vector<std::string> candidates;
  if (program.find('/') != std::string::npos) {
    candidates.push_back(program);
    return candidates;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = std::min(path.find(':', start), path.size());
    std::string dir(path.substr(start, end - start));
    candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    start = end + 1;
  }
  return candidates;
}

/// posix_spawn reports a failed chdir and a failed exec alike; checking the
/// directory first lets the message say which one it was. 0 or an errno value.
int check_directory(const std::string& cwd) {
  struct stat st {};
  if (::stat(cwd.c_str(), &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ENOTDIR;
  return 0;
}

}  // namespace

bool spawn_in_group(const exec_spec& spec, const std::map<std::string, std::string>& extra_env,
                    spawned_child& child, std::string& error) {
  if (spec.command.empty() || spec.command.front().empty()) {
    error = "empty command";
    return false;
  }
  for (const auto& arg : spec.command) {
    if (arg.find('\0') != std::string::npos) {
      error = "a command argument contains a NUL byte";
      return false;
    }
  }

  const std::map<std::string, std::string> env = child_env(spec, extra_env);
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [name, value] : env) {
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos ||
        value.find('\0') != std::string::npos) {
      error = "invalid environment variable name or value: '" + excerpt(name) + "'";
      return false;
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

  const std::string& program = spec.command.front();
  const std::vector<std::string> candidates = program_candidates(program, env.at("PATH"));

  if (!spec.cwd.empty()) {
    if (int rc = check_directory(spec.cwd); rc != 0) {
      error = "cannot change directory to '" + spec.cwd + "': " + errno_text(rc);
      return false;
    }
  }

  unique_fd out_write;
  unique_fd err_write;
  unique_fd in_read;
  if (!make_pipe(child.out, out_write) || !make_pipe(child.err, err_write)) {
    error = "cannot create pipes: " + errno_text(errno);
    return false;
  }
  if (spec.stdin_data) {
    if (!make_pipe(in_read, child.in)) {
      error = "cannot create pipes: " + errno_text(errno);
      return false;
    }
  } else {
    in_read.reset(above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
    if (!in_read) {
      error = "cannot open /dev/null: " + errno_text(errno);
      return false;
    }
  }

  spawn_config config;
  if (int rc = config.prepare(in_read.get(), out_write.get(), err_write.get(), spec.cwd); rc != 0) {
    error = "cannot prepare spawn: " + errno_text(rc);
    return false;
  }
  int spawn_error = ENOENT;
  bool saw_eacces = false;
  for (const auto& candidate : candidates) {
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, candidate.c_str(), config.actions(), config.attr(), argv.data(),
                           envp.data());
    if (rc == 0) {
      child.pid = pid;
      break;
    }
    spawn_error = rc;
    if (rc == EACCES) {
      saw_eacces = true;
    } else if (rc != ENOENT && rc != ENOTDIR) {
      break;
    }
  }
  if (child.pid <= 0) {
    if (saw_eacces && (spawn_error == ENOENT || spawn_error == ENOTDIR)) spawn_error = EACCES;
    error = "cannot execute '" + excerpt(program) + "': " + errno_text(spawn_error);
    return false;
  }
  // Only the child holds its ends now, so EOF arrives when it (and its group) close them.
  out_write.reset();
  err_write.reset();
  in_read.reset();
  set_nonblocking(child.out.get());
  set_nonblocking(child.err.get());
  if (child.in) set_nonblocking(child.in.get());
  return true;
}

}  // namespace orch::steps
