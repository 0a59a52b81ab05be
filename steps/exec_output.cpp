#include "steps/exec_output.hpp"

#include <algorithm>

namespace orch::steps {

std::string excerpt(std::string_view text) {
  if (text.size() <= max_message_excerpt) return std::string(text);
  return std::string(text.substr(0, max_message_excerpt)) + "...";
}

std::size_t utf8_cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text.size();
  std::size_t cut = max;
  for (int i = 0; i < 3 && cut > 1; ++i) {
    if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80) break;
    --cut;
  }
  if ((static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) cut = max;
  return cut;
}

output_capture::output_capture(const log_sink& log, std::size_t max_output,
                               std::size_t max_log_line)
    : log_(log), max_output_(max_output), max_log_line_(std::max<std::size_t>(max_log_line, 1)) {}

void output_capture::on_stdout(const char* data, std::size_t size) {
  std::size_t room = max_output_ - std::min(output_.size(), max_output_);
  if (size <= room) {
    output_.append(data, size);
    return;
  }
  output_.append(data, room);
  if (!truncated_) {
    truncated_ = true;
    log("system", "output truncated at " + std::to_string(max_output_) +
                      " bytes; the rest of stdout is discarded");
  }
}

void output_capture::on_stderr(const char* data, std::size_t size) {
  err_buf_.append(data, size);
  std::string_view rest(err_buf_);
  for (;;) {
    std::size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) break;
    std::string_view line = rest.substr(0, newline);
    emit_overlong(line);
    emit_stderr(line);
    rest.remove_prefix(newline + 1);
  }
  emit_overlong(rest);
  err_buf_.erase(0, err_buf_.size() - rest.size());
}

void output_capture::emit_overlong(std::string_view& text) {
  while (text.size() > max_log_line_) {
    std::size_t cut = utf8_cut(text, max_log_line_);
    emit_stderr(text.substr(0, cut));
    text.remove_prefix(cut);
  }
}

void output_capture::flush_stderr() {
  if (err_buf_.empty()) return;
  std::string rest = std::move(err_buf_);
  err_buf_.clear();
  emit_stderr(rest);
}

void output_capture::emit_stderr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) last_err_line_.assign(line);
  log("stderr", line);
}

}  // namespace orch::steps
