#pragma once
/// \file env_file.hpp Environment files (`NAME=VALUE` a line), as Docker
/// Compose's `env_file` reads them: `#` comments, blank lines, an optional
/// `export ` prefix, values in single quotes (literal) or double quotes
/// (`\"`, `\\`, `\n` escapes), and ` #` comments after unquoted values.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.hpp"

namespace orch::runtime {

/// Largest environment file read.
inline constexpr std::size_t max_env_file_bytes = 1 << 20;

/// An environment file's variables and every problem found, each naming its line.
struct env_file {
  std::map<std::string, std::string> vars;
  std::vector<std::string> problems;
};

/// Parses the text of an environment file; a malformed line is a problem, not
/// a stop, so every one is reported. A name set twice is a problem too.
env_file parse_env_file(std::string_view text);

/// Reads and parses the file at `path`; refused when it cannot be read or is
/// larger than max_env_file_bytes.
result<env_file> read_env_file(const std::string& path);

}  // namespace orch::runtime
