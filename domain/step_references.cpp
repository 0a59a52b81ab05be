#include "domain/step_references.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

#include "domain/json_fields.hpp"
#include "domain/template.hpp"

namespace orch {
namespace {

using namespace fields;

/// Receives the path and text of one string that is rendered as a template.
using string_visitor = std::function<void(const std::string&, std::string_view)>;

/// Calls `f(path, text)` for every string of a JSON value (not keys).
void visit_json_strings(const json& v, const std::string& path, int depth,
                        const string_visitor& f) {
  if (depth > max_render_depth) return;
  if (v.is_string()) {
    f(path, v.get_ref<const std::string&>());
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      visit_json_strings(*it, child_path(path, it.key()), depth + 1, f);
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      visit_json_strings(v[i], item_path(path, i), depth + 1, f);
    }
  }
}

/// Calls `f(path, text)` for every string of a step that is rendered as a template.
void visit_step_strings(const step_spec& step, const std::string& path, const string_visitor& f) {
  if (const auto* e = std::get_if<exec_spec>(&step.kind)) {
    const std::string base = path + ".exec";
    for (std::size_t i = 0; i < e->command.size(); ++i) {
      f(item_path(base + ".command", i), e->command[i]);
    }
    for (const auto& [k, v] : e->env) f(child_path(base + ".env", k), v);
    if (!e->cwd.empty()) f(base + ".cwd", e->cwd);
    if (e->stdin_data) f(base + ".stdin", *e->stdin_data);
  } else if (const auto* h = std::get_if<http_spec>(&step.kind)) {
    const std::string base = path + ".http";
    f(base + ".url", h->url);
    for (const auto& [k, v] : h->headers) f(child_path(base + ".headers", k), v);
    visit_json_strings(h->body, base + ".body", 0, f);
  } else if (const auto* t = std::get_if<template_spec>(&step.kind)) {
    visit_json_strings(t->value, path + ".template.value", 0, f);
  }
}

/// Checks the `{{ }}` references of one string of step `index`.
void check_references(std::string_view text, const std::string& path,
                      const std::vector<std::string>& names, std::size_t index,
                      error_list& errors) {
  auto refs = template_references(text);
  if (!refs) {
    errors.add(path, path + ": " + refs.error().message);
    return;
  }
  for (const auto& expr : *refs) {
    auto ref = parse_template_ref(expr);
    if (!ref) {
      errors.add(path, path + ": " + ref.error().message);
      continue;
    }
    const auto& p = ref->path;
    if (ref->root == "params") continue;  // checked against the run's params at submit
    if (ref->root == "steps") {
      if (p.size() < 2 || p[1] != "output") {
        errors.add(path, path + ": template reference " + in_quotes(expr) +
                             " must have the form steps.<name>.output[.<path>]");
        continue;
      }
      const auto earlier_end = names.begin() + static_cast<std::ptrdiff_t>(index);
      if (std::find(names.begin(), earlier_end, p[0]) != earlier_end) continue;
      if (std::find(earlier_end, names.end(), p[0]) != names.end()) {
        errors.add(path, path + ": template references step " + in_quotes(p[0]) +
                             ", which does not run before this step");
      } else {
        errors.add(path, path + ": template references unknown step " + in_quotes(p[0]));
      }
      continue;
    }
    if (ref->root == "run") {
      if (p.size() == 1 && (p[0] == "id" || p[0] == "task" || p[0] == "attempt")) continue;
      errors.add(path, path + ": template references unknown run field " + in_quotes(expr) +
                           " (expected run.id, run.task or run.attempt)");
      continue;
    }
    if (ref->root == "secrets") {
      errors.add(path, path + ": template references " + in_quotes(expr) +
                           " but no secrets are configured");
      continue;
    }
    errors.add(path, path + ": template references unknown root " + in_quotes(ref->root) +
                         " (expected params, steps, run or secrets)");
  }
}

/// Whether `path` (params.<path>) exists in `merged`: each segment must be a key of
/// an object or an index of an array.
bool param_exists(const json& merged, const std::vector<std::string>& path) {
  const json* cur = &merged;
  for (const auto& seg : path) {
    if (cur->is_object()) {
      auto it = cur->find(seg);
      if (it == cur->end()) return false;
      cur = &*it;
    } else if (cur->is_array()) {
      if (seg.empty() || seg.size() > 9 ||
          !std::all_of(seg.begin(), seg.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
      }
      const auto index = static_cast<std::size_t>(std::stoul(seg));
      if (index >= cur->size()) return false;
      cur = &(*cur)[index];
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

void check_step_references(const step_spec& step, const std::string& path,
                           const std::vector<std::string>& step_names, std::size_t index,
                           error_list& errors) {
  visit_step_strings(step, path, [&](const std::string& field, std::string_view text) {
    check_references(text, field, step_names, index, errors);
  });
}

void check_step_param_references(const step_spec& step, const std::string& path, const json& merged,
                                 error_list& errors) {
  visit_step_strings(step, path, [&](const std::string& field, std::string_view text) {
    auto refs = template_references(text);
    if (!refs) return;  // parse_task reports malformed templates
    for (const auto& expr : *refs) {
      auto ref = parse_template_ref(expr);
      if (!ref || ref->root != "params") continue;
      if (param_exists(merged, ref->path)) continue;
      std::string name;
      for (const auto& seg : ref->path) {
        name += name.empty() ? seg : "." + seg;
      }
      errors.add(field, field + ": template references unknown param " + in_quotes(name));
    }
  });
}

}  // namespace orch
