#include "domain/task.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string_view>

#include "domain/template.hpp"

namespace orch {
namespace {

constexpr std::string_view name_pattern = "^[a-z0-9][a-z0-9_-]{0,62}$";
constexpr std::string_view duration_hint =
    "a duration such as \"250ms\", \"30s\", \"5m\" or \"2h\"";

/// Collects field errors up to max_reported_errors, so hostile input cannot make
/// the error list itself huge.
class error_list {
 public:
  explicit error_list(std::vector<field_error>& out) : out_(out) {}

  void add(const std::string& field, std::string message) {
    ++count_;
    if (out_.size() < max_reported_errors) out_.push_back({field, std::move(message)});
  }
  /// Errors added so far, including those past the cap.
  std::size_t count() const { return count_; }

 private:
  std::vector<field_error>& out_;
  std::size_t count_ = 0;
};

std::string in_quotes(std::string_view s, std::size_t max = 100) {
  return "'" + printable(s, max) + "'";
}

std::string join(const std::string& path, std::string_view key) {
  std::string k = printable(key, 100);
  return path.empty() ? k : path + "." + k;
}

std::string at_index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

/// The message prefix naming a field, "" at the top level.
std::string prefix(const std::string& path) {
  return path.empty() ? "" : path + ": ";
}

/// The name of a field in a message: the body itself has none.
std::string subject(const std::string& path) {
  return path.empty() ? "body" : path;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::null:
      return "null";
    default:
      return "an unsupported value";
  }
}

std::string got(const json& v) {
  return std::string(" (got ") + type_name(v) + ")";
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// The field of an object, or null when it is absent or explicitly null.
const json* opt(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

/// Reports every key of `obj` not in `allowed` ("unknown field 'comand'", with a
/// suggestion when a known field is close), so a typo is never silently ignored.
void reject_unknown(const json& obj, const std::string& path,
                    std::initializer_list<std::string_view> allowed, error_list& errors,
                    const std::vector<std::string>* extra = nullptr) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (extra && std::find(extra->begin(), extra->end(), key) != extra->end()) continue;
    std::string msg = prefix(path) + "unknown field " + in_quotes(key);
    if (key.size() < 64) {
      for (std::string_view known : allowed) {
        if (edit_distance(key, known) <= 2) {
          msg += " (did you mean '" + std::string(known) + "'?)";
          break;
        }
      }
    }
    errors.add(join(path, key), std::move(msg));
  }
}

/// A string field that is valid UTF-8; reports and returns nullopt otherwise.
std::optional<std::string> get_string(const json& v, const std::string& path, error_list& errors) {
  if (!v.is_string()) {
    errors.add(path, path + " must be a string" + got(v));
    return std::nullopt;
  }
  const auto& s = v.get_ref<const std::string&>();
  if (!valid_utf8(s)) {
    errors.add(path, path + " must be valid UTF-8");
    return std::nullopt;
  }
  return s;
}

/// An integer in [lo, hi]. Floats are accepted only when whole; nothing here can
/// overflow or throw whatever number arrives (1e300, 2^64-1, -0.5).
std::optional<long long> get_int(const json& v, const std::string& path, long long lo, long long hi,
                                 error_list& errors) {
  const std::string range =
      path + " must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  long long value = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) {
      errors.add(path, range);
      return std::nullopt;
    }
    value = static_cast<long long>(u);
  } else if (v.is_number_integer()) {
    value = v.get<std::int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::trunc(d)) {
      errors.add(path, range + " (got a fractional number)");
      return std::nullopt;
    }
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      errors.add(path, range);
      return std::nullopt;
    }
    value = static_cast<long long>(d);
  } else {
    errors.add(path, range + got(v));
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    errors.add(path, range);
    return std::nullopt;
  }
  return value;
}

/// A duration string in [lo, hi].
std::optional<millis> get_duration(const json& v, const std::string& path, millis lo, millis hi,
                                   bool lo_inclusive, error_list& errors) {
  if (!v.is_string()) {
    errors.add(path, path + " must be " + std::string(duration_hint) + got(v));
    return std::nullopt;
  }
  const auto& s = v.get_ref<const std::string&>();
  const auto d = parse_duration(s);
  if (!d) {
    errors.add(path,
               path + " must be " + std::string(duration_hint) + " (got " + in_quotes(s, 40) + ")");
    return std::nullopt;
  }
  if ((lo_inclusive ? *d < lo : *d <= lo) || *d > hi) {
    errors.add(path, path + " must be " + (lo_inclusive ? "at least " : "more than ") +
                         format_duration(lo) + " and at most " + format_duration(hi));
    return std::nullopt;
  }
  return d;
}

/// Checks an arbitrary JSON value (params, a body, a template value): strings and
/// keys valid UTF-8, nesting within max_json_depth. True when it may be kept.
bool check_any(const json& v, const std::string& path, int depth, error_list& errors) {
  if (depth > max_json_depth) {
    errors.add(path, path + " nests deeper than " + std::to_string(max_json_depth) + " levels");
    return false;
  }
  if (v.is_string()) {
    if (valid_utf8(v.get_ref<const std::string&>())) return true;
    errors.add(path, path + " must be valid UTF-8");
    return false;
  }
  bool ok = true;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = join(path, it.key());
      if (!valid_utf8(it.key())) {
        errors.add(child, path + " has a key that is not valid UTF-8");
        ok = false;
      }
      if (!check_any(*it, child, depth + 1, errors)) ok = false;
      if (errors.count() >= max_reported_errors) return false;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!check_any(v[i], at_index(path, i), depth + 1, errors)) ok = false;
      if (errors.count() >= max_reported_errors) return false;
    }
  } else if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    errors.add(path, path + " must be a finite number");
    return false;
  }
  return ok;
}

/// Calls `f(path, text)` for every string of a JSON value (not keys).
void visit_json_strings(const json& v, const std::string& path, int depth,
                        const std::function<void(const std::string&, std::string_view)>& f) {
  if (depth > max_render_depth) return;
  if (v.is_string()) {
    f(path, v.get_ref<const std::string&>());
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      visit_json_strings(*it, join(path, it.key()), depth + 1, f);
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      visit_json_strings(v[i], at_index(path, i), depth + 1, f);
    }
  }
}

/// Calls `f(path, text)` for every string of a step that is rendered as a template.
void visit_step_strings(const step_spec& step, const std::string& path,
                        const std::function<void(const std::string&, std::string_view)>& f) {
  if (const auto* e = std::get_if<exec_spec>(&step.kind)) {
    const std::string base = path + ".exec";
    for (std::size_t i = 0; i < e->command.size(); ++i) {
      f(at_index(base + ".command", i), e->command[i]);
    }
    for (const auto& [k, v] : e->env) f(join(base + ".env", k), v);
    if (!e->cwd.empty()) f(base + ".cwd", e->cwd);
    if (e->stdin_data) f(base + ".stdin", *e->stdin_data);
  } else if (const auto* h = std::get_if<http_spec>(&step.kind)) {
    const std::string base = path + ".http";
    f(base + ".url", h->url);
    for (const auto& [k, v] : h->headers) f(join(base + ".headers", k), v);
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

std::optional<std::map<std::string, std::string>> get_string_map(
    const json& v, const std::string& path, error_list& errors,
    const std::function<std::optional<std::string>(std::string_view key)>& key_problem,
    const std::function<std::optional<std::string>(std::string_view value)>& value_problem) {
  if (!v.is_object()) {
    errors.add(path, path + " must be an object of strings" + got(v));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string child = join(path, it.key());
    if (!valid_utf8(it.key())) {
      errors.add(child, path + " has a key that is not valid UTF-8");
      ok = false;
      continue;
    }
    if (auto problem = key_problem(it.key())) {
      errors.add(child, path + ": key " + in_quotes(it.key()) + " " + *problem);
      ok = false;
    }
    auto s = get_string(*it, child, errors);
    if (!s) {
      ok = false;
      continue;
    }
    if (auto problem = value_problem(*s)) {
      errors.add(child, child + " " + *problem);
      ok = false;
      continue;
    }
    out.emplace(it.key(), std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> no_nul(std::string_view s) {
  if (s.find('\0') != std::string_view::npos) return "must not contain NUL characters";
  return std::nullopt;
}

exec_spec parse_exec(const json& j, const std::string& path, error_list& errors) {
  exec_spec e;
  reject_unknown(j, path, {"command", "env", "cwd", "stdin"}, errors);
  const std::string cmd_path = path + ".command";
  const std::string cmd_msg = cmd_path + " must be a non-empty array of strings";
  if (const json* c = opt(j, "command")) {
    if (c->is_string()) {
      errors.add(cmd_path, cmd_msg +
                               " (a shell string is not accepted; write [\"/bin/sh\", "
                               "\"-c\", \"...\"] to use a shell)");
    } else if (!c->is_array() || c->empty()) {
      errors.add(cmd_path, cmd_msg + (c->is_array() ? "" : got(*c)));
    } else {
      for (std::size_t i = 0; i < c->size(); ++i) {
        const std::string item_path = at_index(cmd_path, i);
        const json& item = (*c)[i];
        if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
          errors.add(item_path, item_path + " must be a non-empty string" +
                                    (item.is_string() ? "" : got(item)));
          continue;
        }
        auto s = get_string(item, item_path, errors);
        if (!s) continue;
        if (auto problem = no_nul(*s)) {
          errors.add(item_path, item_path + " " + *problem);
          continue;
        }
        e.command.push_back(std::move(*s));
      }
    }
  } else {
    errors.add(cmd_path, cmd_path + " is required (a non-empty array of strings)");
  }
  if (const json* env = opt(j, "env")) {
    auto m = get_string_map(
        *env, path + ".env", errors,
        [](std::string_view k) -> std::optional<std::string> {
          if (k.empty() || k.find('=') != std::string_view::npos ||
              k.find('\0') != std::string_view::npos) {
            return "is not a valid environment variable name";
          }
          return std::nullopt;
        },
        no_nul);
    if (m) e.env = std::move(*m);
  }
  if (const json* cwd = opt(j, "cwd")) {
    if (auto s = get_string(*cwd, path + ".cwd", errors)) {
      if (auto problem = no_nul(*s)) {
        errors.add(path + ".cwd", path + ".cwd " + *problem);
      } else {
        e.cwd = std::move(*s);
      }
    }
  }
  if (const json* in = opt(j, "stdin")) {
    if (auto s = get_string(*in, path + ".stdin", errors)) e.stdin_data = std::move(*s);
  }
  return e;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool starts_with_ci(std::string_view s, std::string_view prefix_lower) {
  if (s.size() < prefix_lower.size()) return false;
  for (std::size_t i = 0; i < prefix_lower.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix_lower[i]) return false;
  }
  return true;
}

http_spec parse_http(const json& j, const std::string& path, error_list& errors) {
  http_spec h;
  reject_unknown(j, path, {"method", "url", "headers", "body", "expect_status"}, errors);
  if (const json* m = opt(j, "method")) {
    const std::string mp = path + ".method";
    if (auto s = get_string(*m, mp, errors)) {
      std::string upper = *s;
      for (char& c : upper) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      static constexpr std::string_view methods[] = {"GET",    "POST", "PUT",    "PATCH",
                                                     "DELETE", "HEAD", "OPTIONS"};
      if (std::find(std::begin(methods), std::end(methods), upper) == std::end(methods)) {
        errors.add(mp, mp + " must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS (got " +
                           in_quotes(*s, 20) + ")");
      } else {
        h.method = std::move(upper);
      }
    }
  }
  const std::string up = path + ".url";
  if (const json* u = opt(j, "url")) {
    if (auto s = get_string(*u, up, errors)) {
      const std::size_t scheme = starts_with_ci(*s, "http://")    ? 7
                                 : starts_with_ci(*s, "https://") ? 8
                                                                  : 0;
      // A URL that starts with a template is checked when it is rendered: the
      // http step refuses anything but http:// and https://.
      const bool templated = s->rfind("{{", 0) == 0;
      if (!templated && (scheme == 0 || s->size() == scheme)) {
        errors.add(up, up + " must be an http:// or https:// URL (got " + in_quotes(*s, 60) + ")");
      } else if (s->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        errors.add(up, up + " must not contain line breaks or NUL characters");
      } else {
        h.url = std::move(*s);
      }
    }
  } else {
    errors.add(up, up + " is required");
  }
  if (const json* hd = opt(j, "headers")) {
    auto m = get_string_map(
        *hd, path + ".headers", errors,
        [](std::string_view k) -> std::optional<std::string> {
          if (k.empty() || !std::all_of(k.begin(), k.end(), is_token_char)) {
            return "is not a valid HTTP header name";
          }
          return std::nullopt;
        },
        [](std::string_view v) -> std::optional<std::string> {
          if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
            return "must not contain line breaks or NUL characters";
          }
          return std::nullopt;
        });
    if (m) h.headers = std::move(*m);
  }
  if (const json* b = opt(j, "body")) {
    if (check_any(*b, path + ".body", 0, errors)) h.body = *b;
  }
  if (const json* es = opt(j, "expect_status")) {
    const std::string ep = path + ".expect_status";
    if (es->is_array()) {
      if (es->size() > 500) {
        errors.add(ep, ep + " must list at most 500 status codes");
      } else {
        for (std::size_t i = 0; i < es->size(); ++i) {
          if (auto v = get_int((*es)[i], at_index(ep, i), 100, 599, errors)) {
            h.expect_status.push_back(static_cast<int>(*v));
          }
        }
      }
    } else if (es->is_number()) {
      if (auto v = get_int(*es, ep, 100, 599, errors)) {
        h.expect_status.push_back(static_cast<int>(*v));
      }
    } else {
      errors.add(ep, ep + " must be a status code or an array of status codes" + got(*es));
    }
  }
  return h;
}

template_spec parse_template_step(const json& j, const std::string& path, error_list& errors) {
  template_spec t;
  reject_unknown(j, path, {"value"}, errors);
  auto it = j.find("value");
  if (it == j.end()) {
    errors.add(path + ".value", path + ".value is required");
  } else if (check_any(*it, path + ".value", 0, errors)) {
    t.value = *it;
  }
  return t;
}

std::optional<retry_policy> parse_retry_in(const json& j, const std::string& path,
                                           error_list& errors, const retry_policy& base) {
  if (!j.is_object()) {
    errors.add(path, path + " must be an object" + got(j));
    return std::nullopt;
  }
  const std::size_t before = errors.count();
  retry_policy r = base;
  reject_unknown(j, path, {"max_attempts", "initial_delay", "max_delay", "multiplier", "jitter"},
                 errors);
  if (const json* v = opt(j, "max_attempts")) {
    if (auto n = get_int(*v, path + ".max_attempts", 1, max_attempts_limit, errors)) {
      r.max_attempts = static_cast<int>(*n);
    }
  }
  if (const json* v = opt(j, "initial_delay")) {
    if (auto d =
            get_duration(*v, path + ".initial_delay", millis{0}, millis::max(), true, errors)) {
      r.initial_delay = *d;
    }
  }
  if (const json* v = opt(j, "max_delay")) {
    if (auto d = get_duration(*v, path + ".max_delay", millis{0}, millis::max(), true, errors)) {
      r.max_delay = *d;
    }
  }
  if (const json* v = opt(j, "multiplier")) {
    const std::string mp = path + ".multiplier";
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < 1.0 ||
        v->get<double>() > 10.0) {
      errors.add(mp, mp + " must be a number between 1.0 and 10.0" +
                         (v->is_number() ? std::string() : got(*v)));
    } else {
      r.multiplier = v->get<double>();
    }
  }
  if (const json* v = opt(j, "jitter")) {
    if (!v->is_boolean()) {
      errors.add(path + ".jitter", path + ".jitter must be true or false" + got(*v));
    } else {
      r.jitter = v->get<bool>();
    }
  }
  if (errors.count() != before) return std::nullopt;
  if (r.max_delay < r.initial_delay) {
    errors.add(path + ".max_delay", path + ".max_delay (" + format_duration(r.max_delay) +
                                        ") must be at least " + path + ".initial_delay (" +
                                        format_duration(r.initial_delay) + ")");
    return std::nullopt;
  }
  return r;
}

/// Parses one step; the (possibly partial) result is returned even with errors so
/// that its template references can still be checked.
step_spec parse_step(const json& j, const std::string& path, const retry_policy& task_retry,
                     error_list& errors) {
  step_spec step;
  reject_unknown(j, path, {"name", "exec", "http", "template", "timeout", "retry"}, errors);
  const std::string np = path + ".name";
  if (const json* n = opt(j, "name")) {
    if (auto s = get_string(*n, np, errors)) {
      if (!valid_task_name(*s)) {
        errors.add(np, np + " must match " + std::string(name_pattern) + " (got " +
                           in_quotes(*s, 80) + ")");
      }
      step.name = std::move(*s);
    }
  } else {
    errors.add(np, np + " is required");
  }
  const json* exec = opt(j, "exec");
  const json* http = opt(j, "http");
  const json* tmpl = opt(j, "template");
  if ((exec ? 1 : 0) + (http ? 1 : 0) + (tmpl ? 1 : 0) != 1) {
    errors.add(path, path + " must have exactly one of exec, http, template");
  } else {
    const char* kind = exec ? "exec" : http ? "http" : "template";
    const json& k = exec ? *exec : http ? *http : *tmpl;
    const std::string kp = path + "." + kind;
    if (!k.is_object()) {
      errors.add(kp, kp + " must be an object" + got(k));
    } else if (exec) {
      step.kind = parse_exec(k, kp, errors);
    } else if (http) {
      step.kind = parse_http(k, kp, errors);
    } else {
      step.kind = parse_template_step(k, kp, errors);
    }
  }
  if (const json* t = opt(j, "timeout")) {
    step.timeout = get_duration(*t, path + ".timeout", millis{0}, max_timeout, false, errors);
  }
  if (const json* r = opt(j, "retry")) {
    step.retry = parse_retry_in(*r, path + ".retry", errors, task_retry);
  }
  return step;
}

/// The whole of task validation; `errors` receives every problem.
task_spec build_task(const json& body, const std::string& path_name, bool name_in_body,
                     error_list& errors) {
  task_spec t;
  if (!body.is_object()) {
    errors.add("", "task body must be a JSON object" + got(body));
    return t;
  }
  reject_unknown(body, "",
                 {"name", "description", "params", "steps", "retry", "timeout", "concurrency",
                  "queue", "priority"},
                 errors);

  const json* body_name = opt(body, "name");
  if (name_in_body) {
    if (!body_name) {
      errors.add("name", "name is required");
    } else if (auto s = get_string(*body_name, "name", errors)) {
      if (!valid_task_name(*s)) {
        errors.add("name", "name must match " + std::string(name_pattern) + " (got " +
                               in_quotes(*s, 80) + ")");
      }
      t.name = std::move(*s);
    }
  } else {
    if (!valid_task_name(path_name)) {
      errors.add("name", "task name " + in_quotes(path_name, 80) + " must match " +
                             std::string(name_pattern));
    }
    t.name = path_name;
    if (body_name) {
      if (auto s = get_string(*body_name, "name", errors); s && *s != path_name) {
        errors.add("name", "name " + in_quotes(*s, 80) + " does not match the task name " +
                               in_quotes(path_name, 80) + " in the path");
      }
    }
  }

  if (const json* d = opt(body, "description")) {
    if (auto s = get_string(*d, "description", errors)) {
      if (code_points(*s) > max_description_length) {
        errors.add("description", "description must be at most " +
                                      std::to_string(max_description_length) + " characters");
      } else {
        t.description = std::move(*s);
      }
    }
  }

  if (const json* p = opt(body, "params")) {
    if (!p->is_object()) {
      errors.add("params", "params must be an object" + got(*p));
    } else if (check_any(*p, "params", 0, errors)) {
      t.params = *p;
    }
  }

  // The task's retry comes first: a step's retry object overrides it field by field.
  if (const json* r = opt(body, "retry")) {
    if (auto rp = parse_retry_in(*r, "retry", errors, retry_policy{})) t.retry = *rp;
  }
  if (const json* v = opt(body, "timeout")) {
    if (auto d = get_duration(*v, "timeout", millis{0}, max_timeout, false, errors)) t.timeout = *d;
  }
  if (const json* v = opt(body, "concurrency")) {
    if (auto n = get_int(*v, "concurrency", 0, max_concurrency, errors)) {
      t.concurrency = static_cast<int>(*n);
    }
  }
  if (const json* v = opt(body, "queue")) {
    if (auto s = get_string(*v, "queue", errors)) {
      if (!valid_task_name(*s)) {
        errors.add("queue", "queue must match " + std::string(name_pattern) + " (got " +
                                in_quotes(*s, 80) + ")");
      } else {
        t.queue = std::move(*s);
      }
    }
  }
  if (const json* v = opt(body, "priority")) {
    if (auto n = get_int(*v, "priority", -max_priority, max_priority, errors)) {
      t.priority = static_cast<int>(*n);
    }
  }

  const json* steps = opt(body, "steps");
  if (!steps) {
    errors.add("steps", "steps is required (a non-empty array of steps)");
  } else if (!steps->is_array() || steps->empty()) {
    errors.add("steps", "steps must be a non-empty array of steps" +
                            (steps->is_array() ? std::string() : got(*steps)));
  } else if (steps->size() > max_steps) {
    errors.add("steps", "steps must have at most " + std::to_string(max_steps) + " steps (got " +
                            std::to_string(steps->size()) + ")");
  } else {
    // Names first, so that a reference to a later step can be told from a typo.
    std::vector<std::string> names;
    for (const auto& s : *steps) {
      const json* n = s.is_object() ? opt(s, "name") : nullptr;
      names.push_back(n && n->is_string() ? n->get<std::string>() : std::string());
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < steps->size(); ++i) {
      const std::string sp = at_index("steps", i);
      const json& sj = (*steps)[i];
      if (!sj.is_object()) {
        errors.add(sp, sp + " must be an object" + got(sj));
        continue;
      }
      step_spec step = parse_step(sj, sp, t.retry, errors);
      if (!step.name.empty() && !seen.insert(step.name).second) {
        errors.add(sp + ".name", sp + ".name: duplicate step name " + in_quotes(step.name));
      }
      visit_step_strings(step, sp, [&](const std::string& field, std::string_view text) {
        check_references(text, field, names, i, errors);
      });
      t.steps.push_back(std::move(step));
    }
  }
  return t;
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

std::string_view kind_name(const step_spec& step) {
  if (std::holds_alternative<exec_spec>(step.kind)) return "exec";
  if (std::holds_alternative<http_spec>(step.kind)) return "http";
  return "template";
}

bool valid_task_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name.front())) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

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

std::optional<retry_policy> parse_retry(const json& j, const std::string& path,
                                        std::vector<field_error>& errors) {
  return parse_retry(j, path, errors, retry_policy{});
}

std::optional<retry_policy> parse_retry(const json& j, const std::string& path,
                                        std::vector<field_error>& errors,
                                        const retry_policy& base) {
  error_list list(errors);
  return parse_retry_in(j, path, list, base);
}

json to_json(const retry_policy& r) {
  return json{{"max_attempts", r.max_attempts},
              {"initial_delay", format_duration(r.initial_delay)},
              {"max_delay", format_duration(r.max_delay)},
              {"multiplier", r.multiplier},
              {"jitter", r.jitter}};
}

json to_json(const task_spec& task) {
  json steps = json::array();
  for (const auto& s : task.steps) {
    json step = json::object();
    step["name"] = s.name;
    if (const auto* e = std::get_if<exec_spec>(&s.kind)) {
      json k = {{"command", e->command}, {"env", json::object()}, {"cwd", e->cwd}};
      for (const auto& [name, value] : e->env) k["env"][name] = value;
      if (e->stdin_data) k["stdin"] = *e->stdin_data;
      step["exec"] = std::move(k);
    } else if (const auto* h = std::get_if<http_spec>(&s.kind)) {
      json k = {{"method", h->method},
                {"url", h->url},
                {"headers", json::object()},
                {"body", h->body},
                {"expect_status", h->expect_status}};
      for (const auto& [name, value] : h->headers) k["headers"][name] = value;
      step["http"] = std::move(k);
    } else if (const auto* t = std::get_if<template_spec>(&s.kind)) {
      step["template"] = json{{"value", t->value}};
    }
    if (s.timeout) step["timeout"] = format_duration(*s.timeout);
    if (s.retry) step["retry"] = to_json(*s.retry);
    steps.push_back(std::move(step));
  }
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

result<run_submit> parse_run_submit(const json& body, const std::string& path) {
  static const std::vector<std::string> none;
  return parse_run_submit(body, path, none);
}

result<run_submit> parse_run_submit(const json& body, const std::string& path,
                                    const std::vector<std::string>& extra_fields) {
  std::vector<field_error> out;
  error_list errors(out);
  run_submit r;
  if (body.is_null()) return r;
  if (!body.is_object()) {
    errors.add(path, subject(path) + " must be a JSON object" + got(body));
    return validation_error(out);
  }
  reject_unknown(body, path, {"params", "idempotency_key", "priority", "run_at"}, errors,
                 &extra_fields);
  if (const json* p = opt(body, "params")) {
    const std::string pp = join(path, "params");
    if (!p->is_object()) {
      errors.add(pp, pp + " must be an object" + got(*p));
    } else if (check_any(*p, pp, 0, errors)) {
      r.params = *p;
    }
  }
  if (const json* k = opt(body, "idempotency_key")) {
    const std::string kp = join(path, "idempotency_key");
    if (auto s = get_string(*k, kp, errors)) {
      const std::size_t n = code_points(*s);
      if (n == 0 || n > max_idempotency_key_length) {
        errors.add(
            kp, kp + " must be 1 to " + std::to_string(max_idempotency_key_length) + " characters");
      } else {
        r.idempotency_key = std::move(*s);
      }
    }
  }
  if (const json* v = opt(body, "priority")) {
    if (auto n = get_int(*v, join(path, "priority"), -max_priority, max_priority, errors)) {
      r.priority = static_cast<int>(*n);
    }
  }
  if (const json* v = opt(body, "run_at")) {
    const std::string rp = join(path, "run_at");
    const auto t = v->is_string() ? parse_rfc3339(v->get_ref<const std::string&>()) : std::nullopt;
    if (!t) {
      errors.add(rp, rp + " must be an RFC 3339 time such as 2026-12-01T07:00:00.000Z" +
                         (v->is_string() ? std::string() : got(*v)));
    } else {
      r.run_at = *t;
    }
  }
  if (!out.empty()) return validation_error(out);
  return r;
}

std::vector<field_error> check_param_references(const task_spec& task, const json& merged) {
  std::vector<field_error> out;
  error_list errors(out);
  for (std::size_t i = 0; i < task.steps.size(); ++i) {
    visit_step_strings(
        task.steps[i], at_index("steps", i), [&](const std::string& field, std::string_view text) {
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
  return out;
}

json merge_params(const json& defaults, const json& overrides) {
  json out = defaults.is_object() ? defaults : json::object();
  if (overrides.is_object()) {
    for (auto it = overrides.begin(); it != overrides.end(); ++it) out[it.key()] = *it;
  }
  return out;
}

}  // namespace orch
