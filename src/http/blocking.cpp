#include <concur/http/blocking.hpp>

#include "transfer.hpp"

#include <memory>

namespace concur {
inline namespace v0 {
namespace http {

Response request(const std::string& method, const std::string& url, std::string body, const RequestOptions& options) {
  // One handle per thread: its connection cache gives keep-alive between calls.
  thread_local std::unique_ptr<detail::Transfer> transfer;
  if (!transfer) transfer = std::make_unique<detail::Transfer>();
  transfer->reset();
  transfer->configure(method, url, std::move(body), options);
  return transfer->finish(curl_easy_perform(transfer->easy()));
}

Response get(const std::string& url, const RequestOptions& options) {
  return request("GET", url, std::string(), options);
}

Response post(const std::string& url, std::string body, const std::string& content_type,
              const RequestOptions& options) {
  if (content_type.empty()) return request("POST", url, std::move(body), options);
  RequestOptions with_type = options;
  with_type.headers.set("Content-Type", content_type);
  return request("POST", url, std::move(body), with_type);
}

}  // namespace http
}  // namespace v0
}  // namespace concur
