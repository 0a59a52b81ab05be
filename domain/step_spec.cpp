#include "domain/step_spec.hpp"

#include <algorithm>
#include <iterator>

#include "domain/json_fields.hpp"
#include "domain/task_name.hpp"

namespace orch {
namespace {

using namespace fields;

std::optional<std::string> env_name_problem(std::string_view k) {
  if (k.empty() || k.find('=') != std::string_view::npos ||
      k.find('\0') != std::string_view::npos) {
    return "is not a valid environment variable name";
  }
  return std::nullopt;
}

exec_spec parse_exec(const json& j, const std::string& path, error_list& errors) {
  exec_spec e;
  reject_unknown(j, path, {"command", "env", "cwd", "stdin"}, errors);
  const std::string cmd_path = path + ".command";
  const std::string cmd_msg = cmd_path + " must be a non-empty array of strings";
  if (const json* c = find_present(j, "command")) {
    if (c->is_string()) {
      errors.add(cmd_path, cmd_msg +
                               " (a shell string is not accepted; write [\"/bin/sh\", "
                               "\"-c\", \"...\"] to use a shell)");
    } else if (!c->is_array() || c->empty()) {
      errors.add(cmd_path, cmd_msg + (c->is_array() ? "" : got_type(*c)));
    } else {
      for (std::size_t i = 0; i < c->size(); ++i) {
        const std::string arg_path = item_path(cmd_path, i);
        const json& item = (*c)[i];
        if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
          errors.add(arg_path, arg_path + " must be a non-empty string" +
                                   (item.is_string() ? "" : got_type(item)));
          continue;
        }
        auto s = get_string(item, arg_path, errors);
        if (!s) continue;
        if (auto problem = no_nul(*s)) {
          errors.add(arg_path, arg_path + " " + *problem);
          continue;
        }
        e.command.push_back(std::move(*s));
      }
    }
  } else {
    errors.add(cmd_path, cmd_path + " is required (a non-empty array of strings)");
  }
  if (const json* env = find_present(j, "env")) {
    if (auto m = get_string_map(*env, path + ".env", errors, env_name_problem, no_nul)) {
      e.env = std::move(*m);
    }
  }
  if (const json* cwd = find_present(j, "cwd")) {
    if (auto s = get_string(*cwd, path + ".cwd", errors)) {
      if (auto problem = no_nul(*s)) {
        errors.add(path + ".cwd", path + ".cwd " + *problem);
      } else {
        e.cwd = std::move(*s);
      }
    }
  }
  if (const json* in = find_present(j, "stdin")) {
    if (auto s = get_string(*in, path + ".stdin", errors)) e.stdin_data = std::move(*s);
  }
  return e;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::optional<std::string> header_name_problem(std::string_view k) {
  if (k.empty() || !std::all_of(k.begin(), k.end(), is_token_char)) {
    return "is not a valid HTTP header name";
  }
  return std::nullopt;
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
  if (const json* m = find_present(j, "method")) {
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
  if (const json* u = find_present(j, "url")) {
    if (auto s = get_string(*u, up, errors)) {
      const std::size_t scheme = starts_with_ci(*s, "http://")    ? 7
                                 : starts_with_ci(*s, "https://") ? 8
                                                                  : 0;
      // A URL that starts with a template is checked when it is rendered: the
      // http step refuses anything but http:// and https://.
      const bool templated = s->rfind("{{", 0) == 0;
      if (!templated && (scheme == 0 || s->size() == scheme)) {
        errors.add(up, up + " must be an http:// or https:// URL (got " + in_quotes(*s, 60) + ")");
      } else if (auto problem = no_line_break(*s)) {
        errors.add(up, up + " " + *problem);
      } else {
        h.url = std::move(*s);
      }
    }
  } else {
    errors.add(up, up + " is required");
  }
  if (const json* hd = find_present(j, "headers")) {
    if (auto m =
            get_string_map(*hd, path + ".headers", errors, header_name_problem, no_line_break)) {
      h.headers = std::move(*m);
    }
  }
  if (const json* b = find_present(j, "body")) {
    if (check_any(*b, path + ".body", 0, errors)) h.body = *b;
  }
  if (const json* es = find_present(j, "expect_status")) {
    const std::string ep = path + ".expect_status";
    if (es->is_array()) {
      if (es->size() > 500) {
        errors.add(ep, ep + " must list at most 500 status codes");
      } else {
        for (std::size_t i = 0; i < es->size(); ++i) {
          if (auto v = get_int((*es)[i], item_path(ep, i), 100, 599, errors)) {
            h.expect_status.push_back(static_cast<int>(*v));
          }
        }
      }
    } else if (es->is_number()) {
      if (auto v = get_int(*es, ep, 100, 599, errors)) {
        h.expect_status.push_back(static_cast<int>(*v));
      }
    } else {
      errors.add(ep, ep + " must be a status code or an array of status codes" + got_type(*es));
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

}  // namespace

std::string_view kind_name(const step_spec& step) {
  if (std::holds_alternative<exec_spec>(step.kind)) return "exec";
  if (std::holds_alternative<http_spec>(step.kind)) return "http";
  return "template";
}

step_spec parse_step(const json& j, const std::string& path, const retry_policy& task_retry,
                     error_list& errors) {
  step_spec step;
  reject_unknown(j, path, {"name", "exec", "http", "template", "timeout", "retry"}, errors);
  const std::string np = path + ".name";
  if (const json* n = find_present(j, "name")) {
    if (auto s = get_string(*n, np, errors)) {
      check_task_name(*s, np, errors);
      step.name = std::move(*s);
    }
  } else {
    errors.add(np, np + " is required");
  }
  const json* exec = find_present(j, "exec");
  const json* http = find_present(j, "http");
  const json* tmpl = find_present(j, "template");
  if ((exec ? 1 : 0) + (http ? 1 : 0) + (tmpl ? 1 : 0) != 1) {
    errors.add(path, path + " must have exactly one of exec, http, template");
  } else {
    const char* kind = exec ? "exec" : http ? "http" : "template";
    const json& k = exec ? *exec : http ? *http : *tmpl;
    const std::string kp = path + "." + kind;
    if (!k.is_object()) {
      errors.add(kp, kp + " must be an object" + got_type(k));
    } else if (exec) {
      step.kind = parse_exec(k, kp, errors);
    } else if (http) {
      step.kind = parse_http(k, kp, errors);
    } else {
      step.kind = parse_template_step(k, kp, errors);
    }
  }
  if (const json* t = find_present(j, "timeout")) {
    step.timeout = get_duration(*t, path + ".timeout", millis{0}, max_timeout, false, errors);
  }
  if (const json* r = find_present(j, "retry")) {
    step.retry = parse_retry(*r, path + ".retry", errors, task_retry);
  }
  return step;
}

json to_json(const step_spec& s) {
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
  return step;
}

}  // namespace orch
