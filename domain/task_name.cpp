#include "domain/task_name.hpp"

#include <algorithm>

#include "domain/json_fields.hpp"

namespace orch {

bool valid_task_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name.front())) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

bool check_task_name(const std::string& name, const std::string& path, fields::error_list& errors) {
  if (valid_task_name(name)) return true;
  errors.add(path, path + " must match " + std::string(task_name_pattern) + " (got " +
                       fields::in_quotes(name, 80) + ")");
  return false;
}

}  // namespace orch
