#include "runtime/text_file.hpp"

#include <sys/stat.h>

#include <fstream>
#include <iterator>

namespace orch::runtime {

result<std::string> read_bounded_file(const std::string& path, std::size_t max_bytes) {
  auto too_large = [max_bytes] {
    return error_info{errc::validation_failed,
                      "larger than " + std::to_string(max_bytes) + " bytes", ""};
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return error_info{errc::not_found, "no such file (missing?)", ""};
  if (!S_ISREG(st.st_mode)) return error_info{errc::validation_failed, "not a regular file", ""};
  if (static_cast<std::size_t>(st.st_size) > max_bytes) return too_large();
  std::ifstream in(path, std::ios::binary);
  if (!in) return error_info{errc::validation_failed, "cannot be read (permissions?)", ""};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) return too_large();
  return text;
}

}  // namespace orch::runtime
