// Conversions between tide's plain HTTP values (http.hpp) and Boost.Beast messages, shared
// by the server and the client. Pure functions: no I/O, no state. Response fields coming
// from handlers are sanitised here so nothing a handler returns can break the framing.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "vmm/api/http.hpp"

namespace tide::vmm::api {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

// The request as a handler sees it: header names lower-cased, repeated fields joined
// with ", " (RFC 9110 §5.3), the body already de-chunked by the parser.
[[nodiscard]] HttpRequest to_http_request(BeastRequest&& request);

// The wire form of a handler's response: Content-Length always, no body (and no
// Content-Type) for 204 and 304, `Connection: close` unless `keep_alive`. A status
// outside 200-599 becomes 500; a Content-Type with control characters is dropped.
[[nodiscard]] BeastResponse to_beast_response(HttpResponse response, unsigned http_version, bool keep_alive);

// The client's side: what http_request() sends and what it returns.
[[nodiscard]] BeastRequest make_beast_request(const std::string& method, const std::string& target,
                                              const std::string& body, const std::string& content_type);
[[nodiscard]] HttpResponse to_http_response(BeastResponse&& response);

}  // namespace tide::vmm::api
