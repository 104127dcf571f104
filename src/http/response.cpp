#include <concur/http/response.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

namespace concur {
inline namespace v0 {
namespace http {

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

Headers::Headers(std::initializer_list<Field> fields) {
  reserve(fields.size());
  for (const auto& [name, value] : fields) add(name, value);
}

Headers Headers::parse(std::string_view block) {
  Headers headers;
  headers.reserve(16, block.size());
  while (!block.empty()) {
    const std::size_t end = block.find('\n');
    headers.add_line(block.substr(0, end));
    block.remove_prefix(end == std::string_view::npos ? block.size() : end + 1);
  }
  return headers;
}

void Headers::add_line(std::string_view line) {
  std::size_t end = line.size();
  if (end > 0 && line[end - 1] == '\n') --end;
  if (end > 0 && line[end - 1] == '\r') --end;
  const char* const text = line.data();
  const auto* colon = static_cast<const char*>(std::memchr(text, ':', end));
  if (colon == nullptr) return;
  const auto is_blank = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t name_at = 0, name_end = static_cast<std::size_t>(colon - text), value_at = name_end + 1;
  while (name_end > 0 && is_blank(text[name_end - 1])) --name_end;
  while (name_at < name_end && is_blank(text[name_at])) ++name_at;
  while (value_at < end && is_blank(text[value_at])) ++value_at;
  while (end > value_at && is_blank(text[end - 1])) --end;

  const std::size_t at = text_.size();
  if (end > std::numeric_limits<std::uint32_t>::max() - at) {
    throw std::length_error("concur::http::Headers: more than 4 GiB of header fields");
  }
  text_.append(text, end);
  try {
    entries_.push_back({static_cast<std::uint32_t>(at + name_at), static_cast<std::uint32_t>(name_end - name_at),
                        static_cast<std::uint32_t>(at + value_at), static_cast<std::uint32_t>(end - value_at)});
  } catch (...) {
    text_.resize(at);
    throw;
  }
}

std::optional<std::string_view> Headers::get(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto [field_name, value] = field(i);
    if (equals_ignoring_case(field_name, name)) return value;
  }
  return std::nullopt;
}

void Headers::add(std::string_view name, std::string_view value) {
  const auto inside = [this](std::string_view v) {
    const std::less<const char*> before;
    return !v.empty() && !before(v.data(), text_.data()) && before(v.data(), text_.data() + text_.size());
  };
  if (inside(name) || inside(value)) {  // appending may move the bytes they view
    add(std::string(name), std::string(value));
    return;
  }
  const std::size_t at = text_.size();
  if (name.size() + value.size() > std::numeric_limits<std::uint32_t>::max() - at) {
    throw std::length_error("concur::http::Headers: more than 4 GiB of header fields");
  }
  text_.append(name).append(value);
  try {
    entries_.push_back({static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(name.size()),
                        static_cast<std::uint32_t>(at + name.size()), static_cast<std::uint32_t>(value.size())});
  } catch (...) {
    text_.resize(at);
    throw;
  }
}

void Headers::set(std::string_view name, std::string_view value) {
  std::erase_if(entries_, [&](const Entry& e) {  // text_ stays: views into it stay valid
    return equals_ignoring_case(std::string_view(text_).substr(e.name_at, e.name_size), name);
  });
  add(name, value);
}

bool Headers::operator==(const Headers& other) const noexcept {
  if (size() != other.size()) return false;
  for (std::size_t i = 0; i < size(); ++i) {
    if (field(i) != other.field(i)) return false;
  }
  return true;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 418: return "I'm a teapot";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

void Response::raise_for_status() const {
  if (status < 400) return;
  std::string message = "HTTP " + std::to_string(status);
  if (const std::string_view reason = reason_phrase(status); !reason.empty()) message.append(" ").append(reason);
  if (!url.empty()) message.append(" for ").append(url);
  throw StatusError(message, status);
}

}  // namespace http
}  // namespace v0
}  // namespace concur
