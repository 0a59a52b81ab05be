#include "runtime/env_file.hpp"

#include "runtime/text_file.hpp"

namespace orch::runtime {
namespace {

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  auto first = static_cast<unsigned char>(n[0]);
  if (std::isalpha(first) == 0 && n[0] != '_') return false;
  for (char c : n) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Shown in problems: printable, and short.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return s.size() > 40 ? out + "..." : out;
}

// The value after '=': quoted, or unquoted up to a " #" comment.
bool parse_value(std::string_view raw, std::string& out, std::string& why) {
  raw = trim(raw);
  if (raw.empty()) return true;
  char q = raw.front();
  if (q != '\'' && q != '"') {
    auto hash = raw.find(" #");
    out = std::string(trim(raw.substr(0, hash)));
    return true;
  }
  std::size_t i = 1;
  for (; i < raw.size() && raw[i] != q; ++i) {
    char c = raw[i];
    if (q == '"' && c == '\\' && i + 1 < raw.size()) {
      char n = raw[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
    } else {
      out += c;
    }
  }
  if (i >= raw.size()) {
    why = std::string("the ") + (q == '"' ? "double" : "single") + " quote is not closed";
    return false;
  }
  auto rest = trim(raw.substr(i + 1));
  if (!rest.empty() && rest.front() != '#') {
    why = "text after the closing quote: '" + shown(rest) + "'";
    return false;
  }
  return true;
}

}  // namespace

env_file parse_env_file(std::string_view text) {
  env_file f;
  std::map<std::string, int> first_line;
  if (text.find('\0') != std::string_view::npos) {
    f.problems.push_back("the file holds a NUL byte (not a text file?)");
    return f;
  }
  int number = 0;
  while (!text.empty()) {
    ++number;
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto where = "line " + std::to_string(number) + ": ";
    auto body = trim(line);
    if (body.empty() || body.front() == '#') continue;
    if (body.rfind("export ", 0) == 0) body = trim(body.substr(7));
    auto eq = body.find('=');
    if (eq == std::string_view::npos) {
      f.problems.push_back(where + "expected NAME=VALUE, got '" + shown(body) + "'");
      continue;
    }
    auto name = trim(body.substr(0, eq));
    if (!valid_name(name)) {
      f.problems.push_back(where + "'" + shown(name) +
                           "' is not a variable name (letters, digits and _, not first a digit)");
      continue;
    }
    std::string value, why;
    if (!parse_value(body.substr(eq + 1), value, why)) {
      f.problems.push_back(where + std::string(name) + ": " + why);
      continue;
    }
    std::string key(name);
    if (auto it = first_line.find(key); it != first_line.end()) {
      f.problems.push_back(where + key + " is set again (first on line " +
                           std::to_string(it->second) + ")");
      continue;
    }
    first_line.emplace(key, number);
    f.vars.emplace(std::move(key), std::move(value));
  }
  return f;
}

result<env_file> read_env_file(const std::string& path) {
  auto text = read_bounded_file(path, max_env_file_bytes);
  if (!text) return error_info{text.error().code, path + ": " + text.error().message, ""};
  return parse_env_file(*text);
}

}  // namespace orch::runtime
