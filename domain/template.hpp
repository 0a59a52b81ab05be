#pragma once
/// \file template.hpp `{{ expr }}` rendering over params, step outputs and run fields.

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.hpp"

namespace orch {

/// What a template can see while a run executes.
struct template_context {
  const nlohmann::json* params = nullptr;                       ///< merged run params
  const std::map<std::string, std::string>* outputs = nullptr;  ///< raw step outputs by name
  std::string run_id;
  std::string task;
  int attempt = 0;
  const std::map<std::string, std::string>* secrets = nullptr;  ///< null: none configured
};

/// The expressions inside `{{ }}` of a string, trimmed, in order ("params.x").
/// Returns an error for an unterminated `{{` or an empty `{{ }}`.
result<std::vector<std::string>> template_references(std::string_view text);

/// A parsed expression: `steps.fetch.output.items.0` is root "steps" and path
/// {"fetch", "output", "items", "0"}.
struct template_ref {
  std::string root;
  std::vector<std::string> path;
};

/// Splits an expression at dots; an error when it is empty, has an empty segment
/// or holds whitespace or braces. Roots are not checked here.
result<template_ref> parse_template_ref(std::string_view expr);

/// The most a single render call may produce; beyond it rendering fails rather
/// than letting a few references to a large output multiply memory.
inline constexpr std::size_t max_rendered_size = 16u << 20;

/// How deep render_json descends, and how deep a step output may nest to be
/// treated as JSON (deeper outputs are used as plain strings).
inline constexpr int max_render_depth = 256;

/// Renders a string. A value that is a JSON string is inserted as is; other JSON
/// values are inserted in compact JSON form (invalid UTF-8 replaced, never a throw).
/// `{{ steps.X.output }}` inserts the raw output text; a path below it
/// (`steps.X.output.items.0`) reads the output parsed as JSON. A reference to
/// something that does not exist is an error (errc::unprocessable), never an
/// empty string.
result<std::string> render_string(std::string_view text, const template_context& ctx);

/// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or values
/// beyond U+10FFFF).
bool valid_utf8(std::string_view text);

/// `text` made safe to quote in a message: invalid UTF-8 replaced by U+FFFD and
/// cut after about `max_bytes` with "...", so serializing the message never throws.
std::string printable(std::string_view text, std::size_t max_bytes = 200);

/// Renders every string inside a JSON value (keys stay). A string that is exactly
/// one `{{ expr }}` (after trimming) is replaced by the referenced JSON value itself;
/// for `steps.X.output` that is the output parsed as JSON when it is valid JSON,
/// else the output string.
result<nlohmann::json> render_json(const nlohmann::json& value, const template_context& ctx);

}  // namespace orch
