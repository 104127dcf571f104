// Blocking HTTP requests for threads (Python: requests.get in a ThreadPoolExecutor).
//
//   concur::ThreadPool pool(20);
//   auto f = pool.submit([&] { return concur::http::get(url).body; });
//
// Each thread keeps one libcurl handle, so consecutive requests from a thread reuse its
// connection (keep-alive), as a requests.Session per thread would. The options, the
// Response and the errors are the loop client's (client.hpp, errors.hpp); the call
// blocks the calling thread until the response or the error. Do not call these on an
// event loop's thread: they would stall every task of the loop (use http::Client).
// Thread safety: any thread; no state is shared between threads.
#pragma once

#include <concur/export.hpp>
#include <concur/http/client.hpp>
#include <concur/http/response.hpp>

#include <string>

namespace concur {
inline namespace v0 {
namespace http {

CONCUR_EXPORT Response get(const std::string& url, const RequestOptions& options = {});
CONCUR_EXPORT Response post(const std::string& url, std::string body, const std::string& content_type,
                            const RequestOptions& options = {});
// Any method; `body` is sent when not empty.
CONCUR_EXPORT Response request(const std::string& method, const std::string& url, std::string body,
                               const RequestOptions& options = {});

}  // namespace http
}  // namespace v0
}  // namespace concur
