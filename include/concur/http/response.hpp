// Headers and Response: what an HTTP exchange carries (the client's result, the
// server's answer).
//
//   concur::http::Response r = co_await client.get(url);
//   r.status;                              // 200
//   r.headers.get("content-type");         // "application/json" (names match any case)
//   r.body;                                // the bytes, decoded from gzip when it was
//   r.raise_for_status();                  // http::StatusError for 4xx and 5xx
//
// Headers keep their order and repeats (Set-Cookie may come twice); get() returns the
// first value of a name. After redirects, a client Response holds the last response's
// status and headers, and url() where it came from.
// Thread safety: plain values.
#pragma once

#include <concur/export.hpp>
#include <concur/http/errors.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {
namespace http {

class CONCUR_EXPORT Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  // The first value of `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  // Adds a field (a repeat is kept as a second field).
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every field of `name` with one.
  void set(std::string name, std::string value);
  void clear() noexcept { fields_.clear(); }
  void reserve(std::size_t n) { fields_.reserve(n); }

  // The same fields in the same order (names compared exactly).
  bool operator==(const Headers&) const = default;

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  auto begin() const noexcept { return fields_.begin(); }
  auto end() const noexcept { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive equality, as header names compare.
CONCUR_EXPORT bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept;

// The reason phrase of a status code ("Not Found"); "" when the code has none.
CONCUR_EXPORT std::string_view reason_phrase(int status) noexcept;

struct CONCUR_EXPORT Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::string url;  // client: the URL the final response came from; server: unused

  bool ok() const noexcept { return status >= 200 && status < 400; }
  // StatusError naming the status, its reason and the URL when status is 4xx or 5xx.
  void raise_for_status() const;
};

}  // namespace http
}  // namespace v0
}  // namespace concur
