#pragma once
/// \file json_fields.hpp Reading typed fields of a JSON object, each problem
/// reported with the path of its field ("steps[2].http.url").

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"
#include "domain/validation_limits.hpp"

namespace orch::fields {

using json = nlohmann::json;

/// Collects field errors up to max_reported_errors, so hostile input cannot make
/// the error list itself huge.
class error_list {
 public:
  /// Appends to `out`, which must outlive the list.
  explicit error_list(std::vector<field_error>& out) : out_(out) {}

  /// Records one problem of `field`; past the cap it is only counted.
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

/// `s` in single quotes, made printable and cut after about `max` bytes.
std::string in_quotes(std::string_view s, std::size_t max = 100);

/// The path of field `key` of the object at `path` ("retry" + "jitter" gives
/// "retry.jitter"; at the top level just the key).
std::string child_path(const std::string& path, std::string_view key);

/// The path of item `i` of the array at `path` ("steps[2]").
std::string item_path(const std::string& path, std::size_t i);

/// The message prefix naming a field ("path: "), "" at the top level.
std::string message_prefix(const std::string& path);

/// The name of a field in a message: the body itself has none, so "body".
std::string subject_name(const std::string& path);

/// " (got a string)": the JSON type of `v`, to end a message with.
std::string got_type(const json& v);

/// The number of characters (code points) of UTF-8 text.
std::size_t code_points(std::string_view s);

/// The field `key` of an object, or null when it is absent or explicitly null.
const json* find_present(const json& obj, const char* key);

/// Reports every key of `obj` not in `allowed` (nor in `extra`) as "unknown field
/// 'comand'", with a suggestion when a known field is close, so a typo is never
/// silently ignored.
void reject_unknown(const json& obj, const std::string& path,
                    std::initializer_list<std::string_view> allowed, error_list& errors,
                    const std::vector<std::string>* extra = nullptr);

/// A string field that is valid UTF-8; reports and returns nullopt otherwise.
std::optional<std::string> get_string(const json& v, const std::string& path, error_list& errors);

/// An integer in [lo, hi]. Floats are accepted only when whole; nothing here can
/// overflow or throw whatever number arrives (1e300, 2^64-1, -0.5).
std::optional<long long> get_int(const json& v, const std::string& path, long long lo, long long hi,
                                 error_list& errors);

/// A duration string ("30s") above `lo` (or at least `lo` when `lo_inclusive`)
/// and at most `hi`.
std::optional<millis> get_duration(const json& v, const std::string& path, millis lo, millis hi,
                                   bool lo_inclusive, error_list& errors);

/// Checks an arbitrary JSON value (params, a body, a template value): strings and
/// keys valid UTF-8, nesting within max_json_depth, numbers finite. True when it
/// may be kept. `depth` is the nesting level of `v` (0 for a field's value).
bool check_any(const json& v, const std::string& path, int depth, error_list& errors);

/// Why a key or value of a string map is refused, or nullopt when it is fine.
using string_problem = std::function<std::optional<std::string>(std::string_view)>;

/// An object of strings (env, headers) whose keys and values pass the checks;
/// every problem is reported and nullopt returned when there is any.
std::optional<std::map<std::string, std::string>> get_string_map(
    const json& v, const std::string& path, error_list& errors, const string_problem& key_problem,
    const string_problem& value_problem);

/// "must not contain NUL characters" when `s` holds one; a string_problem.
std::optional<std::string> no_nul(std::string_view s);

/// "must not contain line breaks or NUL characters" when `s` holds one of them
/// (an HTTP header value or URL); a string_problem.
std::optional<std::string> no_line_break(std::string_view s);

}  // namespace orch::fields
