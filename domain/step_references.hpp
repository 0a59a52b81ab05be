#pragma once
/// \file step_references.hpp The `{{ ... }}` references in a step's strings, checked
/// against the steps before it (when a task is defined) and against the params a
/// run will see (when a run is submitted).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "domain/step_spec.hpp"

namespace orch {

namespace fields {
class error_list;
}

/// Checks every template of step `index` (found at `path`) of a task whose steps are
/// named `step_names`: well-formed, and referring only to params, run.id/task/attempt
/// or the output of an earlier step. Params are checked at submit time instead.
void check_step_references(const step_spec& step, const std::string& path,
                           const std::vector<std::string>& step_names, std::size_t index,
                           fields::error_list& errors);

/// Reports each `{{ params.x }}` reference of a step (found at `path`) that the
/// merged params of a run do not hold.
void check_step_param_references(const step_spec& step, const std::string& path,
                                 const nlohmann::json& merged, fields::error_list& errors);

}  // namespace orch
