#pragma once
/// \file run_from_task.hpp Private to http/: the run a submission makes of a
/// stored task version, with each version's definition parsed once per thread.

#include <string>

#include "domain/new_run.hpp"
#include "domain/result.hpp"
#include "domain/task.hpp"
#include "persistence/task_repo.hpp"

namespace orch::http {

/// build_run (domain/build_run.hpp) for the task version in `row`, triggered by
/// the API; errc::internal when the stored definition no longer parses.
result<new_run> run_from_task(const persistence::task_row& row, const run_submit& submission,
                              const std::string& field);

}  // namespace orch::http
