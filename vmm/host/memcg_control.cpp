#include "vmm/host/memcg_control.hpp"

#include "guestmm/base/log.hpp"

namespace tide::vmm {
namespace {

namespace memcg = gmm::memcg;

Error invalid(const std::string& what) { return make_error(std::errc::invalid_argument, what); }

}  // namespace

Result<memcg::MemcgId> MemcgControl::resolve(std::string_view name) const {
  if (name.empty()) return invalid("give a memcg: a guest's name, a group's name, or a path such as /tenant");
  if (name.front() == '/') return memory_.memcg().find_path(name);
  return memory_.memcg().find_name(name);
}

Result<MemcgNodeView> MemcgControl::view(memcg::MemcgId id) const {
  MemcgNodeView v;
  TIDE_TRY_ASSIGN(snap, memory_.memcg().snapshot(id));
  v.node = std::move(snap);
  if (v.node.kind == memcg::NodeKind::guest) {
    MemcgGuestView g;
    const memcg::MemcgId leaf = id;
    const bool found = with_guest_(v.node.name, [&](gmm::GuestMm& mm) {
      if (mm.memcg_id() != leaf) return;  // another boot's leaf
      g.reclaim = mm.reclaim_info();
      g.stats = mm.stats();
      v.guest = g;
    });
    (void)found;
  }
  return v;
}

Status MemcgControl::update(memcg::MemcgId id, const MemcgUpdate& u) {
  if (u.empty()) return invalid("nothing to change (max, high, low, min, swap_max, oom_policy, swappiness, reset_peak)");
  TIDE_TRY_ASSIGN(snap, memory_.memcg().snapshot(id));
  for (const MemcgLimitSetting& l : u.limits) TIDE_TRY(memcg::validate_limit(snap.kind, l.limit, l.pages));
  const bool guest_settings = u.oom_policy || u.swappiness;
  if (guest_settings && snap.kind != memcg::NodeKind::guest) {
    return invalid("oom_policy and swappiness are a guest's settings; " + snap.path + " is " +
                   (snap.kind == memcg::NodeKind::root ? "the root" : "a group"));
  }
  if (u.swappiness && *u.swappiness > gmm::aging::kMaxSwappiness) {
    return invalid(log::strf("swappiness %u is out of range (0 to %u)", *u.swappiness, gmm::aging::kMaxSwappiness));
  }
  gmm::GuestMm* running = nullptr;  // checked only: the pointer is used under with_guest_
  if (guest_settings) {
    const bool found = with_guest_(snap.name, [&](gmm::GuestMm& mm) {
      if (mm.memcg_id() == id) running = &mm;
    });
    if (!found || running == nullptr) {
      return make_error(std::errc::no_such_file_or_directory, "guest " + snap.name + " has no memory now");
    }
  }
  // max first: it is the one write that may fail for want of memory, and then nothing
  // else has changed.
  for (const MemcgLimitSetting& l : u.limits) {
    if (l.limit != memcg::Limit::max) continue;
    if (Status st = memory_.set_memcg_limit(id, l.limit, l.pages); !st) return st.error();
  }
  for (const MemcgLimitSetting& l : u.limits) {
    if (l.limit == memcg::Limit::max) continue;
    if (Status st = memory_.set_memcg_limit(id, l.limit, l.pages); !st) return st.error();
  }
  if (guest_settings) {
    (void)with_guest_(snap.name, [&](gmm::GuestMm& mm) {
      if (mm.memcg_id() != id) return;
      if (u.oom_policy) mm.set_oom_policy(*u.oom_policy);
      if (u.swappiness) mm.set_swappiness(*u.swappiness);
    });
    // A policy changed from stall to stop may have a stalled guest to act on now.
    memory_.reclaim_engine().notify();
  }
  if (u.reset_peak) {
    TIDE_TRY(memory_.memcg().reset_peak(id));
    TIDE_TRY(memory_.memcg().reset_swap_peak(id));
  }
  return ok();
}

Result<memcg::MemcgId> MemcgControl::create_group(std::string_view path) {
  if (path == "/" || path.empty()) return make_error(std::errc::file_exists, "the root memcg always exists");
  TIDE_TRY(check_memcg_group_path(path));
  bool created = false;
  TIDE_TRY_ASSIGN(id, ensure_memcg_group(memory_.memcg(), path, &created));
  if (!created) return make_error(std::errc::file_exists, "memcg group " + std::string(path) + " already exists");
  return id;
}

Status MemcgControl::remove_group(memcg::MemcgId id) {
  TIDE_TRY_ASSIGN(snap, memory_.memcg().snapshot(id));
  if (snap.kind == memcg::NodeKind::guest) {
    return make_error(std::errc::operation_not_permitted,
                      snap.path + " is guest " + snap.name + "'s memcg: it goes when the guest stops");
  }
  return memory_.memcg().remove(id);
}

}  // namespace tide::vmm
