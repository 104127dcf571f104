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

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
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
  // A field as the iteration yields it: views into the Headers, valid until it changes.
  using Field = std::pair<std::string_view, std::string_view>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields);
  // The fields of a header block: "Name: value" lines ended by "\r\n" or "\n", the
  // name and value trimmed of spaces and tabs; a line without a colon is skipped.
  static Headers parse(std::string_view block);
  // Adds the field of one such line (its line end optional), as parse() does; a line
  // without a colon adds nothing. For lines that arrive one at a time (libcurl's).
  void add_line(std::string_view line);

  // The first value of `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  // Adds a field (a repeat is kept as a second field).
  void add(std::string_view name, std::string_view value);
  // Replaces every field of `name` with one.
  void set(std::string_view name, std::string_view value);
  void clear() noexcept {
    text_.clear();
    entries_.clear();
  }
  // Room for `fields` fields of `text_bytes` bytes of names and values in all.
  void reserve(std::size_t fields, std::size_t text_bytes = 0) {
    entries_.reserve(fields);
    text_.reserve(text_bytes);
  }

  // The same fields in the same order (names compared exactly).
  bool operator==(const Headers& other) const noexcept;

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

  class const_iterator {
   public:
    using value_type = Field;
    using reference = Field;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    const_iterator() = default;
    Field operator*() const noexcept { return headers_->field(index_); }
    const_iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) noexcept { return {headers_, index_++}; }
    bool operator==(const const_iterator& other) const noexcept { return index_ == other.index_; }

   private:
    friend class Headers;
    const_iterator(const Headers* headers, std::size_t index) : headers_(headers), index_(index) {}
    const Headers* headers_ = nullptr;
    std::size_t index_ = 0;
  };
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, entries_.size()}; }

 private:
  // Every name and value lives in one string (a response's headers cost two
  // allocations, not two per field); a removed field's bytes stay until clear().
  struct Entry {
    std::uint32_t name_at, name_size, value_at, value_size;
  };
  Field field(std::size_t i) const noexcept {
    const Entry& e = entries_[i];
    const std::string_view text(text_);
    return {text.substr(e.name_at, e.name_size), text.substr(e.value_at, e.value_size)};
  }

  std::string text_;
  std::vector<Entry> entries_;
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
