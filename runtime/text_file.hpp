#pragma once
/// \file text_file.hpp Reading a small file an operator names (a secret, an
/// environment file) whole, with a bound, and refusals that say why.

#include <string>

#include "domain/result.hpp"

namespace orch::runtime {

/// The contents of the regular file at `path`. Refused: errc::not_found when
/// it does not exist; errc::validation_failed when it is not a regular file,
/// is larger than `max_bytes` (checked before and while reading: a file may
/// grow) or cannot be read. Messages do not repeat the path.
result<std::string> read_bounded_file(const std::string& path, std::size_t max_bytes);

}  // namespace orch::runtime
