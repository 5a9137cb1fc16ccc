// The memory cgroups in tide's API (docs/api.md "Memory cgroups"):
//   GET    /api/v1/memcg               {"nodes": [node, ...]}: every node, parents first
//   POST   /api/v1/memcg  {"path"}     a new group (and the missing ones above it) -> 201 node
//   GET    /api/v1/memcg/NAME          a node; for a guest with memory, its reclaim state
//   PUT    /api/v1/memcg/NAME  {...}   settings (memcg_json.hpp) -> 200 node as GET
//   DELETE /api/v1/memcg/NAME          an empty group -> 204
// NAME is a guest's name, a group's name, or a URL-encoded path ("%2Ftenant%2Fteam").
// Errors: 400 bad input (nothing changed), 404 no such node, 409 a max usage could not be
// brought under (the old max stays), a group that exists, is not empty, or is a guest's.
// Writes may reclaim and take a while: memcg_request_may_block() says which requests to run
// off the loop that answers the others.
#pragma once

#include <string>
#include <vector>

#include "vmm/api/http.hpp"
#include "vmm/host/memcg_control.hpp"

namespace tide::vmm::api {

// `parts`: the path's parts after "/api/v1/" ({"memcg"} or {"memcg", NAME}), as sent.
[[nodiscard]] HttpResponse serve_memcg(MemcgControl& control, const HttpRequest& request,
                                       const std::vector<std::string>& parts);
[[nodiscard]] bool memcg_request_may_block(const HttpRequest& request);
// "%2Ftenant" -> "/tenant"; nullopt for a malformed escape or an encoded NUL.
[[nodiscard]] std::optional<std::string> url_decode(const std::string& text);

}  // namespace tide::vmm::api
