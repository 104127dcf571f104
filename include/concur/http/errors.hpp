// The errors of concur's HTTP client and server (Python: aiohttp.ClientError and
// requests.RequestException, mapped onto concur's own where one fits).
//
// What a failed request raises:
//   TimeoutError        a connect, read or total timeout passed (the message says which)
//   ConnectionError     the connection was refused, reset or could not be made
//                       (code(): the operating system's error when libcurl knows it)
//   ResolveError        the host name did not resolve
//   http::BodyTooLarge  the response body passed max_body_size
//   http::TooManyRedirects  more than max_redirects redirects were followed
//   http::TlsError      the TLS handshake failed or the peer's certificate was not
//                       trusted (requests: SSLError)
//   http::HttpError     anything else libcurl reports (a malformed response, an
//                       unsupported scheme, a bad URL); curl_code() names it
//   CancelledError      the requesting task was cancelled (the transfer is aborted)
// A response with a 4xx or 5xx status is not an error: Response::raise_for_status()
// turns it into http::StatusError when wanted (as requests and aiohttp do).
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/net/errors.hpp>

#include <cstddef>
#include <string>

namespace concur {
inline namespace v0 {
namespace http {

// A failure of an HTTP transfer that no more specific concur error describes.
// curl_code() is libcurl's CURLcode (0 when the failure did not come from libcurl).
class CONCUR_EXPORT HttpError : public Error {
 public:
  HttpError(const std::string& message, int curl_code) : Error(message), curl_code_(curl_code) {}
  int curl_code() const noexcept { return curl_code_; }

 private:
  int curl_code_;
};

// The response body was larger than the request's max_body_size.
class CONCUR_EXPORT BodyTooLarge : public HttpError {
 public:
  BodyTooLarge(const std::string& message, int curl_code, std::size_t limit)
      : HttpError(message, curl_code), limit_(limit) {}
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
};

// More redirects than the request's max_redirects (a redirect loop, usually).
class CONCUR_EXPORT TooManyRedirects : public HttpError {
 public:
  using HttpError::HttpError;
};

// The TLS handshake failed, or verify_tls is on and the peer's certificate is not
// trusted (unknown issuer, expired, or issued for another host name).
class CONCUR_EXPORT TlsError : public HttpError {
 public:
  using HttpError::HttpError;
};

// Response::raise_for_status() on a 4xx or 5xx response.
class CONCUR_EXPORT StatusError : public HttpError {
 public:
  StatusError(const std::string& message, int status) : HttpError(message, 0), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

}  // namespace http
}  // namespace v0
}  // namespace concur
