// Conversions between tide's HTTP values and Beast messages (see http_message.hpp), and
// json_error, tide's one error shape.
#include "vmm/api/http_message.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <utility>

namespace tide::vmm::api {
namespace http = boost::beast::http;

namespace {

// A Content-Type from a handler is written into the header verbatim: anything that could
// end the line or the header (CR, LF, other controls) would let a body forge headers.
bool is_safe_field_value(const std::string& value) {
  constexpr size_t kMaxValueBytes = 1024;
  if (value.size() > kMaxValueBytes) return false;
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

}  // namespace

HttpRequest to_http_request(BeastRequest&& request) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  for (const auto& field : request) {
    std::string name = lower(field.name_string());
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += field.value();
    }
  }
  out.body = std::move(request.body());
  return out;
}

BeastResponse to_beast_response(HttpResponse response, unsigned http_version, bool keep_alive) {
  unsigned status = response.status;
  if (status < 200 || status > 599) {
    response = json_error(500, "the handler returned an invalid status " + std::to_string(status));
    status = 500;
  }
  BeastResponse out;
  out.version(http_version == 10 ? 10 : 11);
  out.result(status);
  // RFC 9110 §15.3.5 and §15.4.5: 204 and 304 carry no content and (204) no length.
  bool no_content = status == 204 || status == 304;
  if (!no_content) {
    if (!response.body.empty() && !response.content_type.empty()) {
      out.set(http::field::content_type,
              is_safe_field_value(response.content_type) ? response.content_type : "application/octet-stream");
    }
    out.content_length(response.body.size());
    out.body() = std::move(response.body);
  }
  out.keep_alive(keep_alive);
  return out;
}

BeastRequest make_beast_request(const std::string& method, const std::string& target, const std::string& body,
                                const std::string& content_type) {
  BeastRequest out;
  out.version(11);
  out.method_string(method);
  out.target(target);
  out.set(http::field::host, "localhost");
  out.set(http::field::accept, "application/json");
  if (!body.empty() && is_safe_field_value(content_type) && !content_type.empty()) {
    out.set(http::field::content_type, content_type);
  }
  // Every request states its length, so the server never has to guess where it ends.
  out.content_length(body.size());
  out.body() = body;
  out.keep_alive(false);
  return out;
}

HttpResponse to_http_response(BeastResponse&& response) {
  HttpResponse out;
  out.status = response.result_int();
  auto type = response.find(http::field::content_type);
  out.content_type = type == response.end() ? std::string() : std::string(type->value());
  out.body = std::move(response.body());
  return out;
}

HttpResponse json_error(unsigned status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  boost::json::object o;
  o["error"] = message;
  r.body = boost::json::serialize(o);
  return r;
}

}  // namespace tide::vmm::api
