#include "transfer.hpp"

#include <unistd.h>

#include <concur/net/errors.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace concur {
inline namespace v0 {
namespace http {
namespace detail {
namespace {

// Options are set on handles this code made, with values it checked: a failure here is
// a bug or an old libcurl, reported as HttpError rather than ignored.
template <class V>
void set(CURL* easy, CURLoption option, V value) {
  if (const CURLcode code = curl_easy_setopt(easy, option, value); code != CURLE_OK) {
    throw HttpError(std::string("concur::http: libcurl refused an option: ") + curl_easy_strerror(code),
                    static_cast<int>(code));
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// One pass (find_first_of would call memchr once per character).
bool has_line_break(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; });
}

std::error_code os_error(CURL* easy, std::errc fallback) {
  long os = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os);
  return os != 0 ? std::error_code(static_cast<int>(os), std::generic_category()) : std::make_error_code(fallback);
}

}  // namespace

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
      throw HttpError(std::string("concur::http: libcurl cannot start: ") + curl_easy_strerror(code),
                      static_cast<int>(code));
    }
  });
}

Transfer::Transfer() {
  ensure_curl_initialised();
  easy_ = curl_easy_init();
  if (easy_ == nullptr) throw HttpError("concur::http: libcurl cannot make a transfer handle", 0);
}

Transfer::~Transfer() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(request_headers_);
}

void Transfer::reset() {
  response_ = Response();
  user = nullptr;
  body_reserved_ = false;
  body_too_large_ = false;
  error_[0] = '\0';
}

namespace {
bool same_options(const RequestOptions& a, const RequestOptions& b) {
  return a.connect_timeout == b.connect_timeout && a.total_timeout == b.total_timeout &&
         a.read_timeout == b.read_timeout && a.max_body_size == b.max_body_size &&
         a.max_redirects == b.max_redirects && a.verify_tls == b.verify_tls && a.ca_file == b.ca_file &&
         a.headers == b.headers;
}
}  // namespace

bool Transfer::configure(std::string method, std::string url, std::string body, const RequestOptions& options) {
  if (url.empty()) throw std::invalid_argument("concur::http: an empty URL");
  if (has_line_break(url)) throw std::invalid_argument("concur::http: a URL with a line break: '" + url + "'");
  if (!is_token(method)) throw std::invalid_argument("concur::http: not an HTTP method: '" + method + "'");
  if (options.max_redirects < 0) {
    throw std::invalid_argument("concur::http: max_redirects must be >= 0, not " +
                                std::to_string(options.max_redirects));
  }
  if (options.max_body_size == 0) throw std::invalid_argument("concur::http: max_body_size must be > 0");
  if (options.connect_timeout.count() < 0 || options.total_timeout.count() < 0 || options.read_timeout.count() < 0) {
    throw std::invalid_argument("concur::http: a negative timeout");
  }
  if (!options.ca_file.empty() && access(options.ca_file.c_str(), R_OK) != 0) {
    throw std::invalid_argument("concur::http: ca_file '" + options.ca_file + "' cannot be read: " +
                                std::strerror(errno));
  }
  for (const auto& [name, value] : options.headers) {
    if (!is_token(name) || has_line_break(value)) {
      throw std::invalid_argument("concur::http: a malformed request header: '" + std::string(name) + "'");
    }
  }
  // The same kind of request again (the usual loop of GETs): only the URL changes.
  // curl_easy_reset and two dozen options cost more than the rest of a request's own
  // work in libcurl.
  if (configured_ && method == method_ && body.empty() && request_body_.empty() && same_options(options, last_options_)) {
    if (url != url_) {  // libcurl keeps the URL it copied
      url_ = std::move(url);
      set(easy_, CURLOPT_URL, url_.c_str());
    }
    return false;
  }
  curl_easy_reset(easy_);
  configured_ = false;
  curl_slist_free_all(request_headers_);
  request_headers_ = nullptr;
  method_ = std::move(method);
  url_ = std::move(url);
  request_body_ = std::move(body);
  max_body_ = options.max_body_size;

  set(easy_, CURLOPT_URL, url_.c_str());
  set(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
  set(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(easy_, CURLOPT_NOSIGNAL, 1L);
  set(easy_, CURLOPT_ERRORBUFFER, error_);
  set(easy_, CURLOPT_USERAGENT, "concur/0.1");
  set(easy_, CURLOPT_ACCEPT_ENCODING, "");  // every decoding this libcurl has
  set(easy_, CURLOPT_FOLLOWLOCATION, options.max_redirects > 0 ? 1L : 0L);
  set(easy_, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
  set(easy_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  set(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  if (options.read_timeout.count() > 0) {
    set(easy_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    set(easy_, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.read_timeout.count()));
  }
  set(easy_, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_body_));
  set(easy_, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  set(easy_, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  if (!options.ca_file.empty()) set(easy_, CURLOPT_CAINFO, options.ca_file.c_str());  // libcurl copies it
  set(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  set(easy_, CURLOPT_WRITEDATA, this);
  set(easy_, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  set(easy_, CURLOPT_HEADERDATA, this);
  set(easy_, CURLOPT_PRIVATE, this);

  curl_slist_free_all(request_headers_);
  request_headers_ = nullptr;
  const auto append = [&](const std::string& line) {
    curl_slist* grown = curl_slist_append(request_headers_, line.c_str());
    if (grown == nullptr) throw std::bad_alloc();
    request_headers_ = grown;
  };
  for (const auto& [name, value] : options.headers) append(std::string(name).append(": ").append(value));
  if (!request_body_.empty()) append("Expect:");  // no 100-continue round trip before a body
  if (request_headers_ != nullptr) set(easy_, CURLOPT_HTTPHEADER, request_headers_);

  if (method_ == "GET") {
    set(easy_, CURLOPT_HTTPGET, 1L);
  } else if (method_ == "HEAD") {
    set(easy_, CURLOPT_NOBODY, 1L);
  } else if (method_ == "POST") {
    set(easy_, CURLOPT_POST, 1L);
  } else {
    set(easy_, CURLOPT_CUSTOMREQUEST, method_.c_str());
  }
  if (!request_body_.empty() || method_ == "POST") {
    set(easy_, CURLOPT_POSTFIELDS, request_body_.data());
    set(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_body_.size()));
  }
  last_options_ = options;
  configured_ = true;
  return true;
}

std::size_t Transfer::on_body(char* data, std::size_t size, std::size_t count, void* self) noexcept {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t n = size * count;
  if (!t->body_reserved_) {
    // The body's room at once rather than doubling as it comes; at most 16 MiB, as a
    // server's word is not a reason to take much memory before the body arrives.
    t->body_reserved_ = true;
    curl_off_t length = -1;
    if (curl_easy_getinfo(t->easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK && length > 0) {
      try {
        t->response_.body.reserve(std::min({static_cast<std::size_t>(length), t->max_body_, std::size_t{16} << 20}));
      } catch (...) {
        return 0;  // out of memory: CURLE_WRITE_ERROR
      }
    }
  }
  if (t->response_.body.size() + n > t->max_body_) {
    t->body_too_large_ = true;
    return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  }
  try {
    t->response_.body.append(data, n);
  } catch (...) {
    return 0;  // out of memory: CURLE_WRITE_ERROR
  }
  return n;
}

// Adds each header line to the response as it comes (libcurl calls this for every line
// of every response of the transfer; a status line starts a new response).
std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t count, void* self) noexcept {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t n = size * count;
  const std::string_view line(data, n);
  Headers& headers = t->response_.headers;
  try {
    if (line.starts_with("HTTP/")) {  // a new response: after a redirect, or 100 Continue
      headers.clear();
      headers.reserve(16, 512);
    } else {
      headers.add_line(line);
    }
  } catch (...) {
    return 0;
  }
  return n;
}

long Transfer::connections_opened() const noexcept {
  long n = 0;
  curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &n);
  return n;
}

std::string Transfer::what() const { return method_ + " " + url_; }

Response Transfer::finish(CURLcode result) {
  if (result != CURLE_OK) throw_error(result);
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  const char* effective = nullptr;
  curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &effective);
  response_.status = static_cast<int>(status);
  response_.url = effective != nullptr ? effective : url_;
  return std::move(response_);
}

void Transfer::throw_error(CURLcode result) {
  std::string message = "concur::http: " + what() + ": " + curl_easy_strerror(result);
  if (error_[0] != '\0') message += std::string(" (") + error_ + ")";
  const int code = static_cast<int>(result);
  switch (result) {
    case CURLE_OPERATION_TIMEDOUT: throw TimeoutError(message);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      throw ResolveError(message, std::make_error_code(std::errc::address_not_available));
    case CURLE_COULDNT_CONNECT: throw ConnectionError(message, os_error(easy_, std::errc::connection_refused));
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: throw ConnectionError(message, os_error(easy_, std::errc::connection_reset));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: throw TlsError(message, code);
    case CURLE_TOO_MANY_REDIRECTS: throw TooManyRedirects(message, code);
    case CURLE_FILESIZE_EXCEEDED:
      throw BodyTooLarge("concur::http: " + what() + ": the body is larger than max_body_size (" +
                             std::to_string(max_body_) + " bytes)",
                         code, max_body_);
    case CURLE_WRITE_ERROR:
      if (body_too_large_) {
        throw BodyTooLarge("concur::http: " + what() + ": the body is larger than max_body_size (" +
                               std::to_string(max_body_) + " bytes)",
                           code, max_body_);
      }
      throw HttpError(message, code);
    default: throw HttpError(message, code);
  }
}

}  // namespace detail
}  // namespace http
}  // namespace v0
}  // namespace concur
