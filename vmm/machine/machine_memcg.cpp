#include "vmm/machine/machine_memcg.hpp"

#include "guestmm/base/log.hpp"

namespace tide::vmm {
namespace {

Error bad_path(std::string_view path, const std::string& why) {
  return make_error(std::errc::invalid_argument, "memcg group '" + std::string(path) + "': " + why);
}

}  // namespace

Status check_memcg_group_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return bad_path(path, "a group path starts with '/' (e.g. /tenant)");
  if (path == "/") return ok();
  std::string_view rest = path.substr(1);
  size_t depth = 0;
  while (true) {
    const size_t slash = rest.find('/');
    const std::string_view name = rest.substr(0, slash);
    if (!gmm::memcg::valid_node_name(name)) {
      return bad_path(path, name.empty() ? "empty name (a doubled or trailing '/')"
                                         : "bad name '" + std::string(name) +
                                               "' (letters, digits, '-', '_', '.'; at most 64; starting with a "
                                               "letter or digit)");
    }
    if (++depth > kMaxGroupDepth) {
      return bad_path(path, log::strf("more than %zu levels of groups (a guest's leaf must still fit under them)",
                                      kMaxGroupDepth));
    }
    if (slash == std::string_view::npos) return ok();
    rest = rest.substr(slash + 1);
  }
}

Result<gmm::memcg::MemcgId> ensure_memcg_group(gmm::memcg::MemcgTree& tree, std::string_view path, bool* created) {
  if (created != nullptr) *created = false;
  if (path.empty() || path == "/") return gmm::memcg::kRootId;
  TIDE_TRY(check_memcg_group_path(path));
  gmm::memcg::MemcgId at = gmm::memcg::kRootId;
  size_t end = 0;
  while (end != std::string_view::npos) {
    end = path.find('/', end + 1);
    const std::string_view prefix = path.substr(0, end);
    const std::string_view name = prefix.substr(prefix.rfind('/') + 1);
    auto found = tree.find_path(prefix);
    bool made = false;
    if (!found && found.error().code == std::errc::no_such_file_or_directory) {
      found = tree.create_group(at, name);
      made = found.has_value();
      // Someone else made it meanwhile: theirs is as good as ours.
      if (!found && found.error().code == std::errc::file_exists) found = tree.find_path(prefix);
    }
    if (!found) return found.error();
    TIDE_TRY_ASSIGN(snap, tree.snapshot(*found));
    if (snap.kind == gmm::memcg::NodeKind::guest) {
      return bad_path(path, "memcg " + std::string(prefix) + " is a guest, not a group");
    }
    if (created != nullptr) *created = made;
    at = *found;
  }
  return at;
}

std::string memcg_file_name(gmm::memcg::Limit limit) { return std::string("memory.") + gmm::memcg::limit_name(limit); }

}  // namespace tide::vmm
