/// \file http_step.cpp An HTTP request step with libcurl.
///
/// One easy handle per call, driven by a private multi handle so the stop token is
/// checked every few milliseconds even while no byte moves (the easy interface only
/// calls the progress callback about once a second when idle). The XFERINFO
/// callback checks the token too, during transfers.

#include "steps/http_step.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace orch::steps {
namespace {

using steady = std::chrono::steady_clock;

/// Upper bound of one wait in the transfer loop, so a stop request is noticed quickly.
constexpr int poll_ms = 20;
constexpr const char* allowed_protocols = "http,https";
constexpr const char* user_agent = "personal-agent-orchestrator";

struct easy_deleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct multi_deleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

/// Keeps an easy handle attached to a multi handle for the scope.
class multi_attachment {
 public:
  multi_attachment(CURLM* multi, CURL* easy) : multi_(multi), easy_(easy) {
    ok_ = curl_multi_add_handle(multi_, easy_) == CURLM_OK;
  }
  multi_attachment(const multi_attachment&) = delete;
  multi_attachment& operator=(const multi_attachment&) = delete;
  ~multi_attachment() {
    if (ok_) curl_multi_remove_handle(multi_, easy_);
  }
  bool ok() const { return ok_; }

 private:
  CURLM* multi_;
  CURL* easy_;
  bool ok_ = false;
};

/// What the callbacks share with run_http.
struct transfer {
  std::string body;
  std::size_t max = 0;
  bool too_large = false;
  const cancel_token* stop = nullptr;
  bool cancelled = false;
};

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  std::size_t n = size * count;
  if (t->body.size() + n > t->max) {
    t->body.append(data, t->max - std::min(t->body.size(), t->max));
    t->too_large = true;
    return 0;  // anything but n aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<transfer*>(user);
  if (t->stop->stopped()) {
    t->cancelled = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool allowed_scheme(std::string_view url) {
  std::string head = lower(url.substr(0, 8));
  return head.starts_with("http://") || head.starts_with("https://");
}

/// The URL without user info, query and fragment: logs must not carry secrets.
std::string loggable_url(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::size_t authority = scheme_end + 3;
  std::size_t path = std::min(url.find('/', authority), url.size());
  std::size_t at = url.substr(0, path).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(url);
  return std::string(url.substr(0, authority)) + std::string(url.substr(at + 1));
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return c > 32 && c < 127 && c != ':' && c != ';'; });
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool has_header(const std::map<std::string, std::string>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return lower(h.first) == name; });
}

bool expected(const std::vector<int>& expect, long status) {
  if (expect.empty()) return status >= 200 && status <= 299;
  return std::find(expect.begin(), expect.end(), status) != expect.end();
}

}  // namespace

void http_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

step_outcome run_http(const http_spec& spec, millis timeout, const cancel_token& stop,
                      const log_sink& log, const http_limits& limits) {
  http_global_init();
  const auto started = steady::now();
  const std::string method = spec.method.empty() ? std::string("GET") : spec.method;
  const std::string shown = method + " " + loggable_url(spec.url);
  auto elapsed = [&] {
    return std::to_string(std::chrono::duration_cast<millis>(steady::now() - started).count()) +
           " ms";
  };
  auto fail = [&](run_status status, std::string code, std::string message) {
    step_outcome out;
    out.status = status;
    out.error_code = std::move(code);
    out.error_message = std::move(message);
    if (log) log("system", shown + " -> " + out.error_code + ": " + out.error_message);
    return out;
  };

  if (!allowed_scheme(spec.url)) {
    return fail(run_status::failed, "http_error", "only http and https URLs are allowed");
  }
  for (const auto& [name, value] : spec.headers) {
    if (!valid_header_name(name) || !valid_header_value(value)) {
      return fail(run_status::failed, "http_error", "invalid header '" + name + "'");
    }
  }
  if (method.find_first_of(" \r\n") != std::string::npos) {
    return fail(run_status::failed, "http_error", "invalid method '" + method + "'");
  }

  std::unique_ptr<CURL, easy_deleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, multi_deleter> multi(curl_multi_init());
  if (!easy || !multi) return fail(run_status::failed, "http_error", "cannot initialise libcurl");
  CURL* h = easy.get();

  // The body: null none, a string as is, other JSON compact (invalid UTF-8 replaced).
  const bool has_body = !spec.body.is_null();
  std::string body;
  if (spec.body.is_string()) {
    body = spec.body.get_ref<const std::string&>();
  } else if (has_body) {
    body = spec.body.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  std::unique_ptr<curl_slist, slist_deleter> headers;
  auto add_header = [&](const std::string& line) {
    // curl_slist_append returns the head of the list, or null when out of memory.
    curl_slist* head = curl_slist_append(headers.get(), line.c_str());
    if (head == nullptr) return false;
    if (!headers) headers.reset(head);
    return true;
  };
  bool headers_ok = true;
  for (const auto& [name, value] : spec.headers) {
    // "Name;" is curl's way to send a header with an empty value.
    headers_ok = headers_ok && add_header(value.empty() ? name + ";" : name + ": " + value);
  }
  if (has_body && !spec.body.is_string() && !has_header(spec.headers, "content-type")) {
    headers_ok = headers_ok && add_header("Content-Type: application/json");
  }
  // No "Expect: 100-continue" round trip unless the step asks for it.
  if (!has_header(spec.headers, "expect")) headers_ok = headers_ok && add_header("Expect:");
  if (!headers_ok) return fail(run_status::failed, "http_error", "out of memory");

  transfer t;
  t.max = limits.max_response;
  t.stop = &stop;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const long total_ms = static_cast<long>(std::clamp<long long>(timeout.count(), 1, LONG_MAX));
  const long connect_ms =
      static_cast<long>(std::clamp<long long>(limits.connect_timeout.count(), 1, LONG_MAX));

  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_URL, spec.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, allowed_protocols);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, allowed_protocols);
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(std::max(limits.max_redirects, 0)));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
  curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);

  // GET and POST use curl's own modes, so a 301/302/303 after a POST becomes a GET as
  // browsers do; other methods are sent as given.
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "GET" && !has_body) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (method != "POST") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (has_body || method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  }

  CURLcode result = CURLE_OK;
  std::string multi_error;
  bool stopped = false;
  {
    multi_attachment attached(multi.get(), h);
    if (!attached.ok()) return fail(run_status::failed, "http_error", "cannot start the request");
    for (bool done = false; !done;) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(multi.get(), &running);
      if (mc != CURLM_OK) {
        multi_error = curl_multi_strerror(mc);
        break;
      }
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done) break;
      if (stop.stopped()) {
        stopped = true;
        break;
      }
      mc = curl_multi_poll(multi.get(), nullptr, 0, poll_ms, nullptr);
      if (mc != CURLM_OK) {
        multi_error = curl_multi_strerror(mc);
        break;
      }
    }
  }

  step_outcome out;
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status > 0) out.http_status = static_cast<int>(status);
  out.output = std::move(t.body);
  const std::string detail =
      error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(curl_easy_strerror(result));
  out.status = run_status::failed;
  if (stopped || t.cancelled || result == CURLE_ABORTED_BY_CALLBACK) {
    out.status = run_status::cancelled;
    out.error_code = "cancelled";
    out.error_message = stop.get() == stop_reason::release ? "stopped for release" : "cancelled";
  } else if (t.too_large) {
    out.output_truncated = true;
    out.error_code = "response_too_large";
    out.error_message =
        "response body larger than " + std::to_string(limits.max_response) + " bytes";
  } else if (!multi_error.empty()) {
    out.error_code = "http_error";
    out.error_message = multi_error;
  } else if (result == CURLE_OPERATION_TIMEDOUT) {
    out.error_code = "timeout";
    out.error_message = detail;
  } else if (result != CURLE_OK) {
    out.error_code = "http_error";
    out.error_message = detail;
  } else if (!expected(spec.expect_status, status)) {
    out.error_code = "http_status";
    out.error_message = "HTTP " + std::to_string(status);
  } else {
    out.status = run_status::succeeded;
  }

  if (log) {
    std::string line = shown + " -> ";
    if (out.http_status && (out.error_code.empty() || out.error_code == "http_status")) {
      line += std::to_string(*out.http_status);
    } else {
      line += out.error_code + ": " + out.error_message;
    }
    log("system", line + " (" + elapsed() + ")");
  }
  return out;
}

}  // namespace orch::steps
