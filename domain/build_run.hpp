#pragma once
/// \file build_run.hpp The run a submission makes of a task version.

#include <string>

#include "domain/new_run.hpp"
#include "domain/result.hpp"
#include "domain/task.hpp"

namespace orch {

/// The run to insert for `submission` of version `version` of task `task`
/// (defined by `spec`): the task's queue, retry budget and concurrency limit,
/// its default params overlaid with the submission's, and the submission's
/// priority (else the task's), idempotency key and start time. A validation
/// error when a step references a param the merged params lack; `field`
/// ("runs[3]" in a batch, empty otherwise) then prefixes its message and names
/// the field "<field>.params".
result<new_run> build_run(const std::string& task, int version, const task_spec& spec,
                          const run_submit& submission, const std::string& trigger,
                          const std::string& field);

}  // namespace orch
