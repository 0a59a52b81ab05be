#pragma once
/// \file exec_output.hpp What an exec step keeps of its program's output (private to
/// steps/): stdout bounded as the step output, stderr logged line by line.

#include <cstddef>
#include <string>
#include <string_view>

#include "steps/step.hpp"

namespace orch::steps {

/// The longest stderr excerpt quoted in an error message.
inline constexpr std::size_t max_message_excerpt = 512;

/// Keeps the head of `text` short enough to quote in an error message.
std::string excerpt(std::string_view text);

/// The cut position for splitting `text` at most `max` bytes in, backing off
/// (by up to 3 bytes) so a UTF-8 sequence is not split.
std::size_t utf8_cut(std::string_view text, std::size_t max);

/// Collects a program's stdout up to `max_output` bytes (the rest is dropped, and
/// that is logged once) and sends its stderr to `log` line by line, splitting lines
/// longer than `max_log_line`.
class output_capture {
 public:
  /// `log` must outlive the capture; a `max_log_line` of 0 counts as 1.
  output_capture(const log_sink& log, std::size_t max_output, std::size_t max_log_line);

  /// Bytes read from stdout.
  void on_stdout(const char* data, std::size_t size);
  /// Bytes read from stderr; complete lines are logged at once.
  void on_stderr(const char* data, std::size_t size);
  /// Logs what is left of stderr after its last newline.
  void flush_stderr();

  /// The stdout kept so far, moved out.
  std::string take_output() { return std::move(output_); }
  /// Whether stdout went past max_output.
  bool truncated() const { return truncated_; }
  /// The last non-empty stderr line, quoted when the program fails.
  const std::string& last_stderr_line() const { return last_err_line_; }

 private:
  void emit_stderr(std::string_view line);
  /// Logs pieces of max_log_line_ bytes off the front of `text` while it is longer.
  void emit_overlong(std::string_view& text);
  void log(std::string_view stream, std::string_view line) const {
    if (log_) log_(stream, line);
  }

  const log_sink& log_;
  std::size_t max_output_;
  std::size_t max_log_line_;
  std::string output_;
  bool truncated_ = false;
  std::string err_buf_;
  std::string last_err_line_;
};

}  // namespace orch::steps
