#include "vmm/api/memcg_api.hpp"

#include <boost/json/serialize.hpp>

#include "vmm/api/guest_json.hpp"
#include "vmm/api/memcg_json.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpResponse node_answer(MemcgControl& control, gmm::memcg::MemcgId id, unsigned status = 200) {
  auto view = control.view(id);
  if (!view) return error_response(view.error());
  return json_ok(memcg_view_json(*view), status);
}

}  // namespace

std::optional<std::string> url_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_digit(text[i + 1]), lo = hex_digit(text[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool memcg_request_may_block(const HttpRequest& r) { return r.method != "GET"; }

HttpResponse serve_memcg(MemcgControl& control, const HttpRequest& r, const std::vector<std::string>& parts) {
  const std::string& m = r.method;
  auto not_allowed = [&] { return json_error(405, "method " + m + " is not allowed on " + r.target); };
  if (parts.size() == 1) {
    if (m == "GET") {
      json::array nodes;
      for (const auto& snap : control.all()) nodes.push_back(memcg_node_json(snap));
      return json_ok(json::object{{"nodes", std::move(nodes)}});
    }
    if (m != "POST") return not_allowed();
    auto path = memcg_group_from_json(r.body);
    if (!path) return json_error(400, path.error().message());
    auto id = control.create_group(*path);
    if (!id) return error_response(id.error());
    return node_answer(control, *id, 201);
  }
  if (parts.size() != 2) return json_error(404, "no such route: " + r.target);
  const auto name = url_decode(parts[1]);
  if (!name) return json_error(400, "'" + parts[1] + "' is not a valid URL-encoded memcg name or path");
  auto id = control.resolve(*name);
  if (!id) return error_response(id.error());
  if (m == "GET") return node_answer(control, *id);
  if (m == "PUT" || m == "POST") {
    auto update = memcg_update_from_json(r.body);
    if (!update) return json_error(400, update.error().message());
    if (Status st = control.update(*id, *update); !st) return error_response(st.error());
    return node_answer(control, *id);
  }
  if (m == "DELETE") {
    if (Status st = control.remove_group(*id); !st) return error_response(st.error());
    return HttpResponse{204, "application/json", ""};
  }
  return not_allowed();
}

}  // namespace tide::vmm::api
