#include "domain/run.hpp"

namespace orch {

std::string_view to_string(run_status s) {
  switch (s) {
    case run_status::pending:
      return "pending";
    case run_status::running:
      return "running";
    case run_status::succeeded:
      return "succeeded";
    case run_status::failed:
      return "failed";
    case run_status::cancelled:
      return "cancelled";
  }
  return "failed";
}

std::optional<run_status> parse_run_status(std::string_view s) {
  if (s == "pending") return run_status::pending;
  if (s == "running") return run_status::running;
  if (s == "succeeded") return run_status::succeeded;
  if (s == "failed") return run_status::failed;
  if (s == "cancelled") return run_status::cancelled;
  return std::nullopt;
}

bool is_terminal(run_status s) {
  return s == run_status::succeeded || s == run_status::failed || s == run_status::cancelled;
}

bool can_transition(run_status from, run_status to) {
  switch (from) {
    case run_status::pending:
      return to == run_status::running || to == run_status::cancelled || to == run_status::failed;
    case run_status::running:
      return to == run_status::succeeded || to == run_status::failed ||
             to == run_status::cancelled || to == run_status::pending;
    case run_status::succeeded:
    case run_status::failed:
    case run_status::cancelled:
      return false;
  }
  return false;
}

}  // namespace orch
