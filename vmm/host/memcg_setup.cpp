#include "vmm/host/memcg_setup.hpp"

#include "guestmm/base/log.hpp"
#include "vmm/config/units.hpp"

namespace tide::vmm {
namespace {

namespace memcg = gmm::memcg;

// Bytes of a definition (kUnlimited: no limit) as memcg pages, rounded up.
uint64_t limit_pages(uint64_t bytes) {
  if (bytes == kUnlimited || bytes > UINT64_MAX - (gmm::kPageSize - 1)) return memcg::kUnlimited;
  return gmm::align_up(bytes, gmm::kPageSize) >> gmm::kPageShift;
}

}  // namespace

Result<MachineMemcg> machine_memcg(const GuestConfig& config) {
  auto bad = [&](const std::string& what) { return make_error(std::errc::invalid_argument, config.name + ": " + what); };
  MachineMemcg m;
  if (!config.partition.empty()) {
    if (Status st = check_memcg_group_path(config.partition); !st) return bad("resource partition: " + st.error().message());
    m.group = config.partition == "/" ? "" : config.partition;
  }
  const MemtuneConfig& t = config.memtune;
  auto add = [&](memcg::Limit limit, uint64_t bytes) { m.limits.push_back(MemcgLimitSetting{limit, limit_pages(bytes)}); };
  if (t.hard_limit) add(memcg::Limit::max, *t.hard_limit);
  if (t.soft_limit) add(memcg::Limit::high, *t.soft_limit);
  if (config.memory_control.low) add(memcg::Limit::low, *config.memory_control.low);
  if (t.min_guarantee) add(memcg::Limit::min, *t.min_guarantee);
  if (t.swap_hard_limit) {
    const uint64_t swap = *t.swap_hard_limit;
    const bool hard_finite = t.hard_limit && *t.hard_limit != kUnlimited;
    if (swap == kUnlimited) {
      add(memcg::Limit::swap_max, kUnlimited);
    } else if (!hard_finite) {
      add(memcg::Limit::swap_max, swap);  // libvirt's cgroup v2 code: the value as it is
    } else if (limit_pages(swap) < limit_pages(*t.hard_limit)) {
      return bad("memtune swap_hard_limit (" + describe_size(swap) + ") is less than hard_limit (" +
                 describe_size(*t.hard_limit) + "); it counts memory plus swap, so it must be at least hard_limit");
    } else {
      m.limits.push_back(
          MemcgLimitSetting{memcg::Limit::swap_max, limit_pages(swap) - limit_pages(*t.hard_limit)});
    }
  }
  const MemoryControlConfig& c = config.memory_control;
  if (c.oom_policy) m.oom_policy = *c.oom_policy;
  if (c.swappiness) {
    if (*c.swappiness > gmm::aging::kMaxSwappiness) {
      return bad(log::strf("swappiness %u is out of range (0 to %u)", *c.swappiness, gmm::aging::kMaxSwappiness));
    }
    m.swappiness = *c.swappiness;
  }
  if (c.swap_size_bytes) m.swap_bytes = gmm::align_up(*c.swap_size_bytes, gmm::kPageSize);
  if (!c.swap_directory.empty() && c.swap_directory.front() != '/') {
    return bad("swap directory '" + c.swap_directory + "' is not absolute");
  }
  m.swap_directory = c.swap_directory;
  return m;
}

}  // namespace tide::vmm
