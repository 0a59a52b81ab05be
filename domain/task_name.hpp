#pragma once
/// \file task_name.hpp The rule for the names of tasks, steps and queues.

#include <string>
#include <string_view>

namespace orch {

namespace fields {
class error_list;
}

/// The pattern a task, step or queue name must match, as quoted in messages.
inline constexpr std::string_view task_name_pattern = "^[a-z0-9][a-z0-9_-]{0,62}$";

/// Whether a task name matches ^[a-z0-9][a-z0-9_-]{0,62}$.
bool valid_task_name(std::string_view name);

/// Whether the name read from field `path` is valid; when not, reports
/// "<path> must match <pattern> (got '<name>')".
bool check_task_name(const std::string& name, const std::string& path, fields::error_list& errors);

}  // namespace orch
