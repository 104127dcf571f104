#include "request_parser.hpp"

namespace concur {
inline namespace v0 {
namespace http {
namespace detail {
namespace {
RequestParser& self(http_parser* p) { return *static_cast<RequestParser*>(p->data); }
}  // namespace

RequestParser::RequestParser(const ServerOptions& limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::on_message_begin;
  settings_.on_url = &RequestParser::on_url;
  settings_.on_header_field = &RequestParser::on_header_field;
  settings_.on_header_value = &RequestParser::on_header_value;
  settings_.on_headers_complete = &RequestParser::on_headers_complete;
  settings_.on_body = &RequestParser::on_body;
  settings_.on_message_complete = &RequestParser::on_message_complete;
}

std::size_t RequestParser::feed(std::string_view data) {
  if (state_ != State::incomplete || data.empty()) return 0;
  started_ = true;
  const std::size_t used = http_parser_execute(&parser_, &settings_, data.data(), data.size());
  const http_errno error = HTTP_PARSER_ERRNO(&parser_);
  if (state_ == State::complete) return used;  // paused at the request's end
  if (state_ == State::failed) return used;    // a bound was passed (the callback said why)
  if (error != HPE_OK) {
    if (error == HPE_HEADER_OVERFLOW) {
      fail(431, "the request head is larger than http_parser's limit");
    } else {
      fail(400, std::string("malformed request: ") + http_errno_description(error));
    }
  }
  return used;
}

int RequestParser::fail(int status, std::string reason) {
  state_ = State::failed;
  error_status_ = status;
  error_reason_ = std::move(reason);
  return -1;  // stops http_parser (from on_headers_complete too, where 1 means "no body")
}

bool RequestParser::count_header_bytes(std::size_t n) {
  header_bytes_ += n;
  if (header_bytes_ <= limits_.max_header_bytes) return true;
  fail(431, "the headers are larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
  return false;
}

bool RequestParser::store_field() {
  if (request_.headers.size() + 1 > limits_.max_headers) {
    fail(431, "more than " + std::to_string(limits_.max_headers) + " header fields");
    return false;
  }
  request_.headers.add(field_, value_);
  field_.clear();
  value_.clear();
  in_value_ = false;
  return true;
}

int RequestParser::on_message_begin(http_parser* p) {
  RequestParser& r = self(p);
  r.request_ = Request();
  r.field_.clear();
  r.value_.clear();
  r.in_value_ = false;
  r.header_bytes_ = 0;
  return 0;
}

int RequestParser::on_url(http_parser* p, const char* at, std::size_t n) {
  RequestParser& r = self(p);
  const std::size_t method = std::string_view(http_method_str(static_cast<http_method>(p->method))).size();
  if (method + 1 + r.request_.target.size() + n > r.limits_.max_request_line) {
    return r.fail(414, "the request line is longer than " + std::to_string(r.limits_.max_request_line) + " bytes");
  }
  r.request_.target.append(at, n);
  return 0;
}

int RequestParser::on_header_field(http_parser* p, const char* at, std::size_t n) {
  RequestParser& r = self(p);
  if (!r.count_header_bytes(n)) return -1;
  if (r.in_value_ && !r.store_field()) return -1;  // a new field: the previous one is whole
  r.field_.append(at, n);
  return 0;
}

int RequestParser::on_header_value(http_parser* p, const char* at, std::size_t n) {
  RequestParser& r = self(p);
  if (!r.count_header_bytes(n)) return -1;
  r.in_value_ = true;
  r.value_.append(at, n);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* p) {
  RequestParser& r = self(p);
  if ((r.in_value_ || !r.field_.empty()) && !r.store_field()) return -1;
  if (p->http_major != 1) return r.fail(505, "only HTTP/1.x is served");
  Request& q = r.request_;
  q.method = http_method_str(static_cast<http_method>(p->method));
  q.version_minor = p->http_minor;
  q.keep_alive = http_should_keep_alive(p) != 0;
  const std::size_t mark = q.target.find('?');
  q.path = q.target.substr(0, mark);
  q.query = mark == std::string::npos ? std::string() : q.target.substr(mark + 1);
  if (q.path.empty() || (q.path.front() != '/' && q.path != "*" && q.method != "CONNECT")) {
    return r.fail(400, "the request target is not a path: '" + q.target + "'");
  }
  if ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > r.limits_.max_body_size) {
    return r.fail(413, "the body is larger than " + std::to_string(r.limits_.max_body_size) + " bytes");
  }
  return 0;
}

int RequestParser::on_body(http_parser* p, const char* at, std::size_t n) {
  RequestParser& r = self(p);
  if (r.request_.body.size() + n > r.limits_.max_body_size) {
    return r.fail(413, "the body is larger than " + std::to_string(r.limits_.max_body_size) + " bytes");
  }
  r.request_.body.append(at, n);
  return 0;
}

int RequestParser::on_message_complete(http_parser* p) {
  RequestParser& r = self(p);
  r.state_ = State::complete;
  http_parser_pause(p, 1);  // one request at a time: the rest stays unread
  return 0;
}

Request RequestParser::take() {
  Request out = std::move(request_);
  request_ = Request();
  state_ = State::incomplete;
  started_ = false;
  http_parser_pause(&parser_, 0);
  return out;
}

}  // namespace detail
}  // namespace http
}  // namespace v0
}  // namespace concur
