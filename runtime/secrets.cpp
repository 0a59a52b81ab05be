#include "runtime/secrets.hpp"

#include <cstdio>

#include "runtime/text_file.hpp"

namespace orch::runtime {
namespace {

error_info refused(std::string why) {
  return {errc::validation_failed, std::move(why), ""};
}

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string percent_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (is_unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

bool is_uri(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

}  // namespace

result<std::string> read_secret_file(const std::string& path) {
  if (path.empty()) return refused("the file name is empty");
  auto text = read_bounded_file(path, max_secret_file_bytes);
  if (!text) return refused(text.error().message);
  auto& s = *text;
  // Editors and `echo` end files with a line break; it is not part of the secret.
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return refused("is empty");
  if (s.find('\0') != std::string::npos) return refused("holds a NUL byte");
  if (s.find_first_of("\r\n") != std::string::npos) return refused("holds more than one line");
  return std::move(s);
}

result<std::string> with_password(const std::string& url, const std::string& password) {
  if (url.empty()) return refused("needs DATABASE_URL (the embedded database has no password)");
  if (is_uri(url)) {
    auto scheme_end = url.find("://") + 3;
    auto authority_end = url.find_first_of("/?", scheme_end);
    auto authority =
        url.substr(scheme_end, authority_end == std::string::npos ? std::string::npos
                                                                  : authority_end - scheme_end);
    auto at = authority.rfind('@');
    if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos)
      return refused("DATABASE_URL already holds a password");
    if (url.find("password=") != std::string::npos)
      return refused("DATABASE_URL already holds a password");
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    return url + sep + "password=" + percent_encode(password);
  }
  if (url.find("password") != std::string::npos)
    return refused("DATABASE_URL already holds a password");
  std::string quoted;
  for (char c : password) {
    if (c == '\\' || c == '\'') quoted += '\\';
    quoted += c;
  }
  return url + " password='" + quoted + "'";
}

}  // namespace orch::runtime
