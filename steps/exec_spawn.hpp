#pragma once
/// \file exec_spawn.hpp Starting an exec step's program (private to steps/): a clean
/// environment, the program looked up in the child's PATH, its own process group.
///
/// Spawning uses glibc's posix_spawn (clone with CLONE_VFORK), so nothing of ours
/// runs between fork and exec and a large server process is not copied. The spawn
/// attributes make the child a process group leader (setpgid(0, 0)), reset its
/// signal mask and every disposition to the default, dup the pipes onto 0, 1 and 2,
/// change directory and close every descriptor from 3 up before exec; exec errors
/// come back as posix_spawn's return value.

#include <sys/types.h>

#include <map>
#include <string>

#include "domain/step_spec.hpp"
#include "steps/exec_pipes.hpp"

namespace orch::steps {

/// A program that started: its pid (also its process group id) and our ends of
/// its pipes.
struct spawned_child {
  pid_t pid = -1;
  unique_fd out;  ///< read end of its stdout
  unique_fd err;  ///< read end of its stderr
  unique_fd in;   ///< write end of its stdin; none when the step has no stdin
};

/// Starts `spec` with only spec.env, then `extra_env`, then PATH, HOME and LANG
/// defaults in its environment, as the leader of a new process group. On failure
/// returns false with the reason in `error` (the message of "spawn_failed").
bool spawn_in_group(const exec_spec& spec, const std::map<std::string, std::string>& extra_env,
                    spawned_child& child, std::string& error);

}  // namespace orch::steps
