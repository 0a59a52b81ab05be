#pragma once
/// \file secrets.hpp Secret settings read from files (`NAME_FILE`, the
/// convention of Docker and Kubernetes secrets) and a database password joined
/// to a connection string.

#include <string>

#include "domain/result.hpp"

namespace orch::runtime {

/// Largest secret file accepted.
inline constexpr std::size_t max_secret_file_bytes = 64 * 1024;

/// The contents of a secret file, without its final line break. Refused: a
/// missing or unreadable file, one that is not a regular file, one larger than
/// max_secret_file_bytes, an empty one, and one holding a NUL byte or more
/// than one line.
result<std::string> read_secret_file(const std::string& path);

/// `url` (a `postgresql://` URI or `key=value` connection string) with
/// `password` added, escaped for its form. Refused when `url` already names a
/// password or is empty.
result<std::string> with_password(const std::string& url, const std::string& password);

}  // namespace orch::runtime
