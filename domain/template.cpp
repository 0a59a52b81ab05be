#include "domain/template.hpp"

#include <optional>
#include <utility>

namespace orch {
namespace {

using json = nlohmann::json;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

error_info template_error(std::string message) {
  return {errc::unprocessable, std::move(message), ""};
}

std::string in_quotes(std::string_view s) {
  return "'" + printable(s) + "'";
}

std::string join_path(const std::vector<std::string>& path, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < path.size(); ++i) {
    if (i > from) out += '.';
    out += path[i];
  }
  return out;
}

// Walks the `{{ }}` of `text` in one pass, calling on_text for literal pieces and
// on_expr for each trimmed expression; either callback may fail the scan.
template <class OnText, class OnExpr>
std::optional<error_info> scan(std::string_view text, OnText&& on_text, OnExpr&& on_expr) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      if (auto err = on_text(text.substr(pos))) return err;
      return std::nullopt;
    }
    if (auto err = on_text(text.substr(pos, open - pos))) return err;
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return template_error("unterminated '{{' in template");
    const std::string_view expr = trim(text.substr(open + 2, close - open - 2));
    if (expr.empty()) return template_error("empty '{{ }}' in template");
    if (auto err = on_expr(expr)) return err;
    pos = close + 2;
  }
}

// Whether the JSON text nests no deeper than `limit`, judged without parsing so
// that a hostile output cannot drive the recursive parts of nlohmann::json.
bool nesting_within(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// A rough byte count of a value, for the rendered size budget.
std::size_t approx_size(const json& v, int depth = 0) {
  if (v.is_string()) return v.get_ref<const std::string&>().size();
  if (depth > max_render_depth) return 0;
  if (v.is_array() || v.is_object()) {
    std::size_t n = 2;
    for (auto it = v.begin(); it != v.end(); ++it) {
      n += approx_size(*it, depth + 1) + 1;
      if (v.is_object()) n += it.key().size() + 3;
    }
    return n;
  }
  return 8;
}

/// One render call: the context, the parsed-output cache and the size budget.
class renderer {
 public:
  explicit renderer(const template_context& ctx) : ctx_(ctx) {}

  /// Appends the rendering of `text` to `out`.
  std::optional<error_info> render_into(std::string_view text, std::string& out) {
    return scan(
        text,
        [&](std::string_view literal) -> std::optional<error_info> { return append(out, literal); },
        [&](std::string_view expr) -> std::optional<error_info> {
          auto found = find(expr);
          if (!found) return found.error();
          if (found->text) return append(out, *found->text);
          const json& v = *found->value;
          if (v.is_string()) return append(out, v.get_ref<const std::string&>());
          return append(out, v.dump(-1, ' ', false, json::error_handler_t::replace));
        });
  }

  /// Renders a JSON value; see render_json.
  result<json> render_value(const json& value, int depth) {
    if (depth > max_render_depth) {
      return template_error("template value nests deeper than " + std::to_string(max_render_depth) +
                            " levels");
    }
    if (value.is_object()) {
      json out = json::object();
      for (auto it = value.begin(); it != value.end(); ++it) {
        auto r = render_value(*it, depth + 1);
        if (!r) return r.error();
        out[it.key()] = std::move(*r);
      }
      return out;
    }
    if (value.is_array()) {
      json out = json::array();
      for (const auto& item : value) {
        auto r = render_value(item, depth + 1);
        if (!r) return r.error();
        out.push_back(std::move(*r));
      }
      return out;
    }
    if (!value.is_string()) return value;
    const auto& s = value.get_ref<const std::string&>();
    const std::string_view t = trim(s);
    if (t.size() >= 4 && t.substr(0, 2) == "{{" && t.find("}}", 2) == t.size() - 2) {
      const std::string_view expr = trim(t.substr(2, t.size() - 4));
      if (expr.empty()) return template_error("empty '{{ }}' in template");
      return whole(expr);
    }
    std::string out;
    if (auto err = render_into(s, out)) return *err;
    return json(std::move(out));
  }

 private:
  /// What a reference names: raw text (step output, run id, secret) or a value.
  struct found_ref {
    std::optional<std::string_view> text;
    const json* value = nullptr;
    std::string step;  ///< set for a whole `steps.X.output`
  };

  std::optional<error_info> append(std::string& out, std::string_view piece) {
    size_ += piece.size();
    if (size_ > max_rendered_size) return too_large();
    out.append(piece);
    return std::nullopt;
  }

  error_info too_large() const {
    return template_error("rendered template exceeds " + std::to_string(max_rendered_size >> 20) +
                          " MiB");
  }

  /// The referenced value as JSON, for a string that is exactly one reference.
  result<json> whole(std::string_view expr) {
    auto found = find(expr);
    if (!found) return found.error();
    if (!found->step.empty()) {
      const json* parsed = parsed_output(found->step);
      size_ += found->text->size();
      if (size_ > max_rendered_size) return too_large();
      if (parsed) return *parsed;
      return json(std::string(*found->text));
    }
    if (found->text) {
      size_ += found->text->size();
      if (size_ > max_rendered_size) return too_large();
      return json(std::string(*found->text));
    }
    size_ += approx_size(*found->value);
    if (size_ > max_rendered_size) return too_large();
    return *found->value;
  }

  /// Follows `path[from..]` through objects (by key) and arrays (by index).
  static const json* walk(const json& root, const std::vector<std::string>& path,
                          std::size_t from) {
    const json* cur = &root;
    for (std::size_t i = from; i < path.size(); ++i) {
      const std::string& seg = path[i];
      if (cur->is_object()) {
        auto it = cur->find(seg);
        if (it == cur->end()) return nullptr;
        cur = &*it;
      } else if (cur->is_array()) {
        if (seg.empty() || seg.size() > 9) return nullptr;
        std::size_t index = 0;
        for (char c : seg) {
          if (c < '0' || c > '9') return nullptr;
          index = index * 10 + static_cast<std::size_t>(c - '0');
        }
        if (index >= cur->size()) return nullptr;
        cur = &(*cur)[index];
      } else {
        return nullptr;
      }
    }
    return cur;
  }

  /// A step's output parsed as JSON, or null when it is not JSON; parsed once.
  const json* parsed_output(const std::string& step) {
    auto it = parsed_.find(step);
    if (it == parsed_.end()) {
      const std::string& raw = ctx_.outputs->at(step);
      std::optional<json> parsed;
      if (nesting_within(raw, max_render_depth)) {
        json j = json::parse(raw, nullptr, false);
        if (!j.is_discarded()) parsed = std::move(j);
      }
      it = parsed_.emplace(step, std::move(parsed)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  result<found_ref> find(std::string_view expr) {
    auto parsed = parse_template_ref(expr);
    if (!parsed) return parsed.error();
    const template_ref& ref = *parsed;
    found_ref f;
    if (ref.root == "params") {
      static const json empty = json::object();
      const json* v = walk(ctx_.params ? *ctx_.params : empty, ref.path, 0);
      if (!v)
        return template_error("template references unknown param " +
                              in_quotes(join_path(ref.path, 0)));
      f.value = v;
      return f;
    }
    if (ref.root == "steps") {
      if (ref.path.size() < 2 || ref.path[1] != "output") {
        return template_error("template reference " + in_quotes(expr) +
                              " must have the form steps.<name>.output[.<path>]");
      }
      const std::string& step = ref.path[0];
      if (!ctx_.outputs || !ctx_.outputs->contains(step)) {
        return template_error("template references step " + in_quotes(step) +
                              ", which has no output (yet)");
      }
      const std::string& raw = ctx_.outputs->at(step);
      if (ref.path.size() == 2) {
        f.text = raw;
        f.step = step;
        return f;
      }
      const json* parsed = parsed_output(step);
      if (!parsed) {
        return template_error("template reference " + in_quotes(expr) +
                              " reads into the output of step " + in_quotes(step) +
                              ", which is not JSON");
      }
      const json* v = walk(*parsed, ref.path, 2);
      if (!v) {
        return template_error("template reference " + in_quotes(expr) +
                              " does not exist in the output of step " + in_quotes(step));
      }
      f.value = v;
      return f;
    }
    if (ref.root == "run") {
      if (ref.path.size() == 1 && ref.path[0] == "id") {
        f.text = ctx_.run_id;
        return f;
      }
      if (ref.path.size() == 1 && ref.path[0] == "task") {
        f.text = ctx_.task;
        return f;
      }
      if (ref.path.size() == 1 && ref.path[0] == "attempt") {
        attempt_ = ctx_.attempt;
        f.value = &attempt_;
        return f;
      }
      return template_error("template references unknown run field " + in_quotes(expr) +
                            " (expected run.id, run.task or run.attempt)");
    }
    if (ref.root == "secrets") {
      if (!ctx_.secrets) {
        return template_error("template references " + in_quotes(expr) +
                              " but no secrets are configured");
      }
      if (ref.path.size() != 1) {
        return template_error("template reference " + in_quotes(expr) +
                              " must have the form secrets.<name>");
      }
      auto it = ctx_.secrets->find(ref.path[0]);
      if (it == ctx_.secrets->end()) {
        return template_error("template references unknown secret " + in_quotes(ref.path[0]));
      }
      f.text = it->second;
      return f;
    }
    return template_error("template references unknown root " + in_quotes(ref.root) +
                          " (expected params, steps, run or secrets)");
  }

  const template_context& ctx_;
  std::map<std::string, std::optional<json>> parsed_;
  json attempt_;
  std::size_t size_ = 0;
};

}  // namespace

bool valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
    } else {
      return false;
    }
    if (i + len > n) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    // Find the longest valid sequence starting here (1..4 bytes).
    std::size_t len = 0;
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t want = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (i + want <= text.size() && valid_utf8(text.substr(i, want))) len = want;
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

result<std::vector<std::string>> template_references(std::string_view text) {
  std::vector<std::string> refs;
  auto err = scan(
      text, [](std::string_view) -> std::optional<error_info> { return std::nullopt; },
      [&](std::string_view expr) -> std::optional<error_info> {
        refs.emplace_back(expr);
        return std::nullopt;
      });
  if (err) return *err;
  return refs;
}

result<template_ref> parse_template_ref(std::string_view expr) {
  expr = trim(expr);
  if (expr.empty()) return template_error("empty '{{ }}' in template");
  for (char c : expr) {
    if (is_space(c) || c == '{' || c == '}') {
      return template_error("malformed template expression " + in_quotes(expr));
    }
  }
  template_ref ref;
  std::size_t pos = 0;
  bool first = true;
  while (true) {
    const std::size_t dot = expr.find('.', pos);
    const std::string_view seg =
        expr.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (seg.empty()) return template_error("malformed template expression " + in_quotes(expr));
    if (first) {
      ref.root = std::string(seg);
      first = false;
    } else {
      ref.path.emplace_back(seg);
    }
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return ref;
}

result<std::string> render_string(std::string_view text, const template_context& ctx) {
  renderer r(ctx);
  std::string out;
  if (auto err = r.render_into(text, out)) return *err;
  return out;
}

result<nlohmann::json> render_json(const nlohmann::json& value, const template_context& ctx) {
  renderer r(ctx);
  return r.render_value(value, 0);
}

}  // namespace orch
