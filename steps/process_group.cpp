#include "steps/process_group.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace orch::steps {
namespace {

using steady = std::chrono::steady_clock;

/// How long to wait for the group to vanish after SIGKILL before giving up.
constexpr millis kill_wait{2000};

}  // namespace

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

process_group::~process_group() {
  if (pid_ > 0 && !finished_) {
    ::kill(-pid_, SIGKILL);
    if (!reaped_) ::waitpid(pid_, nullptr, 0);
  }
}

void process_group::reap() {
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

bool process_group::alive() {
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

void process_group::stop(bool requested, millis grace, const wait_step& wait, const log_fn& log) {
  if (!alive()) return;
  if (!requested) log("the program exited; stopping what is left of " + name());
  ::kill(-pid_, SIGTERM);
  auto until = steady::now() + std::max(grace, millis{0});
  while (steady::now() < until) {
    wait(poll_ms);  // keep draining, so a member blocked on a full pipe can exit
    if (!alive()) return;
  }
  log("sending SIGKILL to " + name());
  ::kill(-pid_, SIGKILL);
  until = steady::now() + kill_wait;
  while (steady::now() < until) {
    if (!alive()) return;
    wait(poll_ms);
  }
  log(name() + " is still present after SIGKILL");
}

}  // namespace orch::steps
