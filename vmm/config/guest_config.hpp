// GuestConfig: everything a guest is defined by, whatever it was defined with — libvirt
// domain XML (domain_xml.hpp), tide's JSON (guest_json.hpp) or Cloud Hypervisor's vm.create
// (the CH-compatible API). Sizes are bytes; "unset" is nullopt; libvirt's -1 ("unlimited")
// is kUnlimited. Elements whose features arrive later (memoryBacking) are carried here so
// nothing a user wrote is lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "guestmm/reclaim/guest_limits.hpp"

namespace tide::vmm {

inline constexpr uint64_t kUnlimited = UINT64_MAX;

// <memtune> (libvirt formatdomain "Memory Tuning").
struct MemtuneConfig {
  std::optional<uint64_t> hard_limit;       // -> memcg max
  std::optional<uint64_t> soft_limit;       // -> memcg high
  std::optional<uint64_t> swap_hard_limit;  // memory + swap, as libvirt defines it
  std::optional<uint64_t> min_guarantee;    // -> memcg min
  bool operator==(const MemtuneConfig&) const = default;
};

// tide's memory control beyond <memtune> (<metadata><tide:memory>, docs/memcg.md). Unset
// fields take the memory manager's defaults.
struct MemoryControlConfig {
  std::optional<uint64_t> low;  // memcg low in bytes (<memtune> has no element for it); kUnlimited: "max"
  std::optional<gmm::reclaim::OomPolicy> oom_policy;  // unset: stall
  std::optional<unsigned> swappiness;                  // 0..200; unset: 60
  std::optional<uint64_t> swap_size_bytes;  // the swap file's ceiling; unset or 0: the guest's RAM size
  std::string swap_directory;               // absolute; empty: $TIDE_SWAP_DIR, else /var/tmp/tide-swap
  bool operator==(const MemoryControlConfig&) const = default;
};

// <memoryBacking>.
struct HugepageConfig {
  uint64_t size_bytes = 0;     // page size
  std::string nodeset;         // as written; tide has one NUMA node
  bool operator==(const HugepageConfig&) const = default;
};
struct MemoryBackingConfig {
  bool hugepages = false;
  std::vector<HugepageConfig> hugepage_sizes;
  bool nosharepages = false;
  bool locked = false;
  std::string source_type;      // "", "file", "anonymous", "memfd"
  std::string access_mode;      // "", "shared", "private"
  std::string allocation_mode;  // "", "immediate", "ondemand"
  std::optional<uint32_t> allocation_threads;
  bool discard = false;
  bool operator==(const MemoryBackingConfig&) const = default;
};

// <devices><memballoon>.
struct BalloonConfig {
  bool enabled = true;            // model='virtio' (default); model='none' disables
  bool autodeflate = false;       // VIRTIO_BALLOON_F_DEFLATE_ON_OOM
  bool free_page_reporting = false;  // VIRTIO_BALLOON_F_REPORTING
  uint32_t stats_period_s = 0;    // <stats period='N'/>; 0: no stats queue polling
  bool operator==(const BalloonConfig&) const = default;
};

// <devices><console>/<serial>: where the guest's COM1 goes.
struct ConsoleConfig {
  enum class Kind { stdio, pty, file, null };
  Kind kind = Kind::null;
  std::string path;  // file: the log file; pty: filled in when the PTY is made
  bool operator==(const ConsoleConfig&) const = default;
};

struct GuestConfig {
  std::string name;
  std::string uuid;                      // canonical 8-4-4-4-12 lower case, or empty
  uint64_t memory_bytes = 512ull << 20;  // <memory>: the boot maximum
  std::optional<uint64_t> current_memory_bytes;  // <currentMemory>: the balloon target
  uint32_t vcpus = 1;
  // <vcpu current='N'>: vCPUs online at boot (1..vcpus); unset: all of them.
  std::optional<uint32_t> current_vcpus;
  std::string kernel;   // <os><kernel>; empty: tideguest
  std::string initrd;   // <os><initrd>
  std::string cmdline;  // <os><cmdline>
  MemtuneConfig memtune;
  // <resource><partition>: the memory cgroup group the guest's leaf goes under
  // ("/tenant"; missing groups are created at boot). Empty: directly under the root.
  std::string partition;
  MemoryControlConfig memory_control;
  MemoryBackingConfig backing;
  BalloonConfig balloon;
  bool rng = true;      // <devices><rng model='virtio'>
  ConsoleConfig console;
  // Elements that were present but that tide does not support (named, for the user);
  // parsing fills it and the caller prints them.
  std::vector<std::string> warnings;
  bool operator==(const GuestConfig&) const = default;
};

}  // namespace tide::vmm
