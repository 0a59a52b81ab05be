#pragma once
/// \file result.hpp Errors as values: an error code plus message and field path.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace orch {

/// Error codes shared by every module; http/ maps each to exactly one status.
enum class errc : std::uint8_t {
  none = 0,
  bad_request,
  validation_failed,
  unauthorized,
  forbidden,
  not_found,
  method_not_allowed,
  conflict,
  payload_too_large,
  unsupported_media_type,
  unprocessable,
  rate_limited,
  unavailable,
  internal,
};

/// The wire name of an error code, e.g. "validation_failed".
std::string_view to_string(errc code);

/// One validation problem, with the JSON path of the offending field.
struct field_error {
  std::string field;
  std::string message;
};

/// An error as a value: a code, a human message and (optionally) the field path.
struct error_info {
  errc code = errc::internal;
  std::string message;
  std::string field;
};

/// Builds an error_info from the first of a list of field errors.
error_info validation_error(const std::vector<field_error>& errors);

/// Either a value or an error_info; a minimal stand-in for std::expected.
/// Dropping one unread is a compile error: handle it, or log and count it.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  result(error_info err) : v_(std::move(err)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error_info& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, error_info> v_;
};

/// A result that carries no value.
using status = result<std::monostate>;
/// The success value of a status.
inline status ok_status() {
  return status{std::monostate{}};
}

}  // namespace orch
