#include "domain/json_fields.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "domain/template.hpp"

namespace orch::fields {
namespace {

constexpr std::string_view duration_hint =
    "a duration such as \"250ms\", \"30s\", \"5m\" or \"2h\"";

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

}  // namespace

std::string in_quotes(std::string_view s, std::size_t max) {
  return "'" + printable(s, max) + "'";
}

std::string child_path(const std::string& path, std::string_view key) {
  std::string k = printable(key, 100);
  return path.empty() ? k : path + "." + k;
}

std::string item_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string message_prefix(const std::string& path) {
  return path.empty() ? "" : path + ": ";
}

std::string subject_name(const std::string& path) {
  return path.empty() ? "body" : path;
}

std::string got_type(const json& v) {
  return std::string(" (got ") + type_name(v) + ")";
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

const json* find_present(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

void reject_unknown(const json& obj, const std::string& path,
                    std::initializer_list<std::string_view> allowed, error_list& errors,
                    const std::vector<std::string>* extra) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (extra && std::find(extra->begin(), extra->end(), key) != extra->end()) continue;
    std::string msg = message_prefix(path) + "unknown field " + in_quotes(key);
    if (key.size() < 64) {
      for (std::string_view known : allowed) {
        if (edit_distance(key, known) <= 2) {
          msg += " (did you mean '" + std::string(known) + "'?)";
          break;
        }
      }
    }
    errors.add(child_path(path, key), std::move(msg));
  }
}

std::optional<std::string> get_string(const json& v, const std::string& path, error_list& errors) {
  if (!v.is_string()) {
    errors.add(path, path + " must be a string" + got_type(v));
    return std::nullopt;
  }
  const auto& s = v.get_ref<const std::string&>();
  if (!valid_utf8(s)) {
    errors.add(path, path + " must be valid UTF-8");
    return std::nullopt;
  }
  return s;
}

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
    errors.add(path, range + got_type(v));
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    errors.add(path, range);
    return std::nullopt;
  }
  return value;
}

std::optional<millis> get_duration(const json& v, const std::string& path, millis lo, millis hi,
                                   bool lo_inclusive, error_list& errors) {
  if (!v.is_string()) {
    errors.add(path, path + " must be " + std::string(duration_hint) + got_type(v));
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
      const std::string child = child_path(path, it.key());
      if (!valid_utf8(it.key())) {
        errors.add(child, path + " has a key that is not valid UTF-8");
        ok = false;
      }
      if (!check_any(*it, child, depth + 1, errors)) ok = false;
      if (errors.count() >= max_reported_errors) return false;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!check_any(v[i], item_path(path, i), depth + 1, errors)) ok = false;
      if (errors.count() >= max_reported_errors) return false;
    }
  } else if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    errors.add(path, path + " must be a finite number");
    return false;
  }
  return ok;
}

std::optional<std::map<std::string, std::string>> get_string_map(
    const json& v, const std::string& path, error_list& errors, const string_problem& key_problem,
    const string_problem& value_problem) {
  if (!v.is_object()) {
    errors.add(path, path + " must be an object of strings" + got_type(v));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string child = child_path(path, it.key());
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

std::optional<std::string> no_line_break(std::string_view s) {
  if (s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return "must not contain line breaks or NUL characters";
  }
  return std::nullopt;
}

}  // namespace orch::fields
