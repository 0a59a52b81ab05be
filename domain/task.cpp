#include "domain/task.hpp"

#include <set>

#include "domain/json_fields.hpp"
#include "domain/step_references.hpp"
#include "domain/template.hpp"

namespace orch {
namespace {

using namespace fields;

/// The task's name: from the body (POST) or from the path, which the body may
/// repeat (PUT).
void read_name(const json& body, const std::string& path_name, bool name_in_body, task_spec& t,
               error_list& errors) {
  const json* body_name = find_present(body, "name");
  if (name_in_body) {
    if (!body_name) {
      errors.add("name", "name is required");
    } else if (auto s = get_string(*body_name, "name", errors)) {
      check_task_name(*s, "name", errors);
      t.name = std::move(*s);
    }
    return;
  }
  if (!valid_task_name(path_name)) {
    errors.add("name", "task name " + in_quotes(path_name, 80) + " must match " +
                           std::string(task_name_pattern));
  }
  t.name = path_name;
  if (body_name) {
    if (auto s = get_string(*body_name, "name", errors); s && *s != path_name) {
      errors.add("name", "name " + in_quotes(*s, 80) + " does not match the task name " +
                             in_quotes(path_name, 80) + " in the path");
    }
  }
}

/// The steps array: each step parsed, names unique, template references checked.
void read_steps(const json* steps, task_spec& t, error_list& errors) {
  if (!steps) {
    errors.add("steps", "steps is required (a non-empty array of steps)");
    return;
  }
  if (!steps->is_array() || steps->empty()) {
    errors.add("steps", "steps must be a non-empty array of steps" +
                            (steps->is_array() ? std::string() : got_type(*steps)));
    return;
  }
  if (steps->size() > max_steps) {
    errors.add("steps", "steps must have at most " + std::to_string(max_steps) + " steps (got " +
                            std::to_string(steps->size()) + ")");
    return;
  }
  // Names first, so that a reference to a later step can be told from a typo.
  std::vector<std::string> names;
  for (const auto& s : *steps) {
    const json* n = s.is_object() ? find_present(s, "name") : nullptr;
    names.push_back(n && n->is_string() ? n->get<std::string>() : std::string());
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const std::string sp = item_path("steps", i);
    const json& sj = (*steps)[i];
    if (!sj.is_object()) {
      errors.add(sp, sp + " must be an object" + got_type(sj));
      continue;
    }
    step_spec step = parse_step(sj, sp, t.retry, errors);
    if (!step.name.empty() && !seen.insert(step.name).second) {
      errors.add(sp + ".name", sp + ".name: duplicate step name " + in_quotes(step.name));
    }
    check_step_references(step, sp, names, i, errors);
    t.steps.push_back(std::move(step));
  }
}

/// The whole of task validation; `errors` receives every problem.
task_spec build_task(const json& body, const std::string& path_name, bool name_in_body,
                     error_list& errors) {
  task_spec t;
  if (!body.is_object()) {
    errors.add("", "task body must be a JSON object" + got_type(body));
    return t;
  }
  reject_unknown(body, "",
                 {"name", "description", "params", "steps", "retry", "timeout", "concurrency",
                  "queue", "priority"},
                 errors);
  read_name(body, path_name, name_in_body, t, errors);

  if (const json* d = find_present(body, "description")) {
    if (auto s = get_string(*d, "description", errors)) {
      if (code_points(*s) > max_description_length) {
        errors.add("description", "description must be at most " +
                                      std::to_string(max_description_length) + " characters");
      } else {
        t.description = std::move(*s);
      }
    }
  }

  if (const json* p = find_present(body, "params")) {
    if (!p->is_object()) {
      errors.add("params", "params must be an object" + got_type(*p));
    } else if (check_any(*p, "params", 0, errors)) {
      t.params = *p;
    }
  }

  // The task's retry comes first: a step's retry object overrides it field by field.
  if (const json* r = find_present(body, "retry")) {
    if (auto rp = parse_retry(*r, "retry", errors, retry_policy{})) t.retry = *rp;
  }
  if (const json* v = find_present(body, "timeout")) {
    if (auto d = get_duration(*v, "timeout", millis{0}, max_timeout, false, errors)) t.timeout = *d;
  }
  if (const json* v = find_present(body, "concurrency")) {
    if (auto n = get_int(*v, "concurrency", 0, max_concurrency, errors)) {
      t.concurrency = static_cast<int>(*n);
    }
  }
  if (const json* v = find_present(body, "queue")) {
    if (auto s = get_string(*v, "queue", errors)) {
      if (check_task_name(*s, "queue", errors)) t.queue = std::move(*s);
    }
  }
  if (const json* v = find_present(body, "priority")) {
    if (auto n = get_int(*v, "priority", -max_priority, max_priority, errors)) {
      t.priority = static_cast<int>(*n);
    }
  }

  read_steps(find_present(body, "steps"), t, errors);
  return t;
}

}  // namespace

std::vector<field_error> validate_task(const json& body, const std::string& name,
                                       bool name_in_body) {
  std::vector<field_error> out;
  error_list errors(out);
  try {
    build_task(body, name, name_in_body, errors);
  } catch (const json::exception& e) {
    // Every access is type-checked first; this only keeps a missed case from
    // escaping as an exception.
    errors.add("", std::string("invalid task body: ") + printable(e.what()));
  }
  return out;
}

result<task_spec> parse_task(const json& body, const std::string& name, bool name_in_body) {
  std::vector<field_error> out;
  error_list errors(out);
  try {
    task_spec t = build_task(body, name, name_in_body, errors);
    if (out.empty()) return t;
  } catch (const json::exception& e) {
    errors.add("", std::string("invalid task body: ") + printable(e.what()));
  }
  return validation_error(out);
}

json to_json(const task_spec& task) {
  json steps = json::array();
  for (const auto& s : task.steps) steps.push_back(to_json(s));
  return json{{"name", task.name},
              {"description", task.description},
              {"params", task.params},
              {"steps", std::move(steps)},
              {"retry", to_json(task.retry)},
              {"timeout", format_duration(task.timeout)},
              {"concurrency", task.concurrency},
              {"queue", task.queue},
              {"priority", task.priority}};
}

std::vector<field_error> check_param_references(const task_spec& task, const json& merged) {
  std::vector<field_error> out;
  error_list errors(out);
  for (std::size_t i = 0; i < task.steps.size(); ++i) {
    check_step_param_references(task.steps[i], item_path("steps", i), merged, errors);
  }
  return out;
}

}  // namespace orch
