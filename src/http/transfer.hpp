// Transfer: one HTTP request on a libcurl easy handle, shared by the loop's Client and
// the blocking functions (private to src/http).
//
// configure() sets every option of the request on the handle; finish() turns libcurl's
// result into the Response or the concur error that describes it (http/errors.hpp).
// Ownership: the Transfer owns its easy handle and everything the handle points at
// (body, header list, error buffer) for as long as libcurl may use them.
// Thread safety: one thread at a time.
#pragma once

#include <concur/http/client.hpp>
#include <concur/http/response.hpp>

#include <curl/curl.h>

#include <cstddef>
#include <string>

namespace concur {
inline namespace v0 {
namespace http {
namespace detail {

// curl_global_init, once per process (thread-safe).
void ensure_curl_initialised();

class Transfer {
 public:
  Transfer();
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  // std::invalid_argument for an empty URL, an empty or malformed method, negative
  // redirects or a zero body limit. True when it reset the handle: options the caller
  // sets on it itself (socket callbacks) must then be set again.
  bool configure(std::string method, std::string url, std::string body, const RequestOptions& options);
  // Forgets the last request's response and user. The handle keeps its options, its connection
  // and its DNS and TLS session caches: a next request with the same method and options
  // and no body only changes the URL, if that (configure() resets the handle otherwise).
  void reset();
  CURL* easy() const noexcept { return easy_; }
  // The handle's CURLOPT_PRIVATE is this Transfer; `user` is what its user ties to it
  // (the loop client: the waiting request). Not owned.
  void* user = nullptr;

  // The response for `result`, or throws the error that describes it.
  Response finish(CURLcode result);
  // Connections this transfer opened (0 when it reused one).
  long connections_opened() const noexcept;
  // "GET http://host/x" for messages.
  std::string what() const;

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) noexcept;
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) noexcept;
  [[noreturn]] void throw_error(CURLcode result);

  CURL* easy_ = nullptr;
  curl_slist* request_headers_ = nullptr;
  std::string method_, url_, request_body_;
  Response response_;
  bool body_reserved_ = false;
  std::size_t max_body_ = 0;
  bool body_too_large_ = false;
  bool configured_ = false;        // the handle holds last_options_ for last_method_
  RequestOptions last_options_;
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace detail
}  // namespace http
}  // namespace v0
}  // namespace concur
