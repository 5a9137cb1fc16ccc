#include "vmm/machine/dirty_log_reader.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "guestmm/base/log.hpp"
#include "guestmm/guest_mm.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/kvm/thread.hpp"
#include "vmm/machine/vm.hpp"

namespace tide::vmm {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_since(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

class VmDirtyLogSource final : public DirtyLogSource {
 public:
  explicit VmDirtyLogSource(Vm& vm) : vm_(vm) {}
  std::vector<gmm::RamRange> ram_ranges() const override { return vm_.ram_ranges(); }
  Status set_logging(bool on) override { return vm_.set_dirty_logging(on); }
  Status read_and_clear(uint32_t slot, std::span<uint64_t> bitmap) override {
    return vm_.read_and_clear_dirty_log(slot, bitmap);
  }
  std::string mode() const override {
    const DirtyLogSupport s = vm_.dirty_log_support();
    if (!s.manual_clear) return "get";
    return s.initially_set ? "manual-clear,initially-set" : "manual-clear";
  }

 private:
  Vm& vm_;
};

}  // namespace

std::vector<DirtyLogSlot> dirty_log_slots(std::span<const gmm::RamRange> ram) {
  std::vector<DirtyLogSlot> out;
  uint64_t index = 0;
  for (uint32_t i = 0; i < ram.size(); ++i) {
    const uint64_t pages = ram[i].size_bytes >> gmm::kPageShift;
    out.push_back(DirtyLogSlot{i, ram[i].base, pages, index});
    index += pages;
  }
  return out;
}

bool guest_has_memory_limit(const gmm::MemoryManager& memory, gmm::memcg::MemcgId leaf) {
  const gmm::memcg::MemcgTree& tree = memory.memcg();
  for (gmm::memcg::MemcgId id = leaf; id != gmm::memcg::kRootId;) {
    auto snap = tree.snapshot(id);
    if (!snap) return false;
    if (snap->settings.max != gmm::memcg::kUnlimited || snap->settings.high != gmm::memcg::kUnlimited) return true;
    id = snap->parent;
  }
  return false;
}

std::chrono::milliseconds next_dirty_log_wait(const DirtyLogReaderOptions& options, uint64_t dirty_pages) {
  const double share = options.max_guest_share > 0 ? options.max_guest_share : 1.0;
  const double cost_ms =
      static_cast<double>(dirty_pages) * static_cast<double>(options.write_fault_cost.count()) / 1e6 / share;
  const std::chrono::milliseconds longest = std::max(options.period, options.max_period);
  if (cost_ms >= static_cast<double>(longest.count())) return longest;
  return std::max(options.period, std::chrono::milliseconds(static_cast<int64_t>(std::ceil(cost_ms))));
}

std::unique_ptr<DirtyLogSource> vm_dirty_log_source(Vm& vm) { return std::make_unique<VmDirtyLogSource>(vm); }

DirtyLogReader::DirtyLogReader(std::unique_ptr<DirtyLogSource> source, DirtyBitmapSink sink,
                               DirtyLogReaderOptions options)
    : source_(std::move(source)),
      sink_(std::move(sink)),
      options_(std::move(options)),
      wait_ms_(static_cast<int64_t>(options_.period.count())) {
  const std::vector<gmm::RamRange> ram = source_->ram_ranges();
  slots_ = dirty_log_slots(ram);
  uint64_t most = 0;
  for (const DirtyLogSlot& s : slots_) most = std::max(most, s.nr_pages);
  bitmap_.resize((most + 63) / 64);
  stats_.mode = source_->mode();
  stats_.period_ms = static_cast<uint64_t>(options_.period.count());
  stats_.wait_ms = stats_.period_ms;
}

DirtyLogReader::~DirtyLogReader() {
  {
    std::lock_guard l(thread_mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard s(step_mutex_);
  if (logging_) {
    if (auto st = source_->set_logging(false); !st) {
      log::warn("%s: %s", options_.name.c_str(), st.error().message().c_str());
    }
  }
}

bool DirtyLogReader::start(bool thread) {
  bool available = false;
  {
    std::lock_guard s(step_mutex_);
    // The probe: KVM must accept the flag on every slot and hand a log back.
    if (auto st = source_->set_logging(true); !st) {
      set_unavailable(st.error().message());
    } else {
      logging_ = true;
      {
        std::lock_guard l(stats_mutex_);
        stats_.logging = true;
        ++stats_.enables;
      }
      uint64_t bits = 0;
      available = read_all(&bits);
    }
    if (available) {
      log::debug("%s: dirty logging works here (%s, %zu memslots, read every %lld ms or more while wanted)",
                 options_.name.c_str(), source_->mode().c_str(), slots_.size(),
                 static_cast<long long>(options_.period.count()));
      (void)follow_wanted();  // off again unless wanted
    }
  }
  if (!available) return false;
  if (thread) thread_ = std::thread([this] { run(); });
  return true;
}

void DirtyLogReader::run() {
  set_current_thread_name("tide-dirtylog");
  std::unique_lock l(thread_mutex_);
  while (!stop_) {
    const std::chrono::milliseconds wait(wait_ms_.load(std::memory_order_relaxed));
    if (cv_.wait_for(l, wait, [this] { return stop_; })) break;
    l.unlock();
    (void)step();
    l.lock();
  }
}

uint64_t DirtyLogReader::step() {
  std::lock_guard s(step_mutex_);
  if (!follow_wanted()) return 0;
  uint64_t bits = 0;
  (void)read_all(&bits);
  return bits;
}

bool DirtyLogReader::follow_wanted() {
  {
    std::lock_guard l(stats_mutex_);
    if (!stats_.available) return false;
  }
  const bool want = !options_.wanted || options_.wanted();
  if (want == logging_) return logging_;
  if (auto st = source_->set_logging(want); !st) {
    if (want) {
      set_unavailable(st.error().message());
    } else {
      log::warn("%s: turning dirty logging off: %s", options_.name.c_str(), st.error().message().c_str());
      std::lock_guard l(stats_mutex_);
      ++stats_.errors;
    }
    return false;
  }
  logging_ = want;
  wait_ms_.store(static_cast<int64_t>(options_.period.count()), std::memory_order_relaxed);
  log::debug("%s: dirty logging %s", options_.name.c_str(), want ? "on" : "off");
  std::lock_guard l(stats_mutex_);
  stats_.logging = want;
  stats_.wait_ms = static_cast<uint64_t>(options_.period.count());
  ++(want ? stats_.enables : stats_.disables);
  return false;  // just on: the log is empty; just off: nothing to read
}

bool DirtyLogReader::read_all(uint64_t* bits) {
  uint64_t total_bits = 0, references = 0, read_ns = 0, sink_ns = 0, slot_reads = 0;
  bool failed = false;
  for (const DirtyLogSlot& slot : slots_) {
    const std::span<uint64_t> bitmap = std::span(bitmap_).first((slot.nr_pages + 63) / 64);
    const auto t0 = Clock::now();
    if (auto st = source_->read_and_clear(slot.slot, bitmap); !st) {
      set_unavailable(st.error().message());
      failed = true;
      break;
    }
    read_ns += ns_since(t0);
    ++slot_reads;
    uint64_t n = 0;
    for (uint64_t w : bitmap) n += static_cast<uint64_t>(std::popcount(w));
    if (n == 0) continue;
    total_bits += n;
    const auto t1 = Clock::now();
    references += sink_(slot.first_index, bitmap, slot.nr_pages);
    sink_ns += ns_since(t1);
  }
  if (failed && logging_) {
    // Best effort: a log that cannot be read must not keep costing the guest exits.
    if (source_->set_logging(false)) logging_ = false;
  }
  const std::chrono::milliseconds wait = failed ? options_.period : next_dirty_log_wait(options_, total_bits);
  wait_ms_.store(static_cast<int64_t>(wait.count()), std::memory_order_relaxed);
  std::lock_guard l(stats_mutex_);
  if (!failed) {
    ++stats_.reads;
    stats_.last_dirty_bits = total_bits;
    if (wait > options_.period) ++stats_.stretched;
  }
  stats_.wait_ms = static_cast<uint64_t>(wait.count());
  stats_.slot_reads += slot_reads;
  stats_.dirty_bits += total_bits;
  stats_.references += references;
  stats_.read_ns += read_ns;
  stats_.sink_ns += sink_ns;
  stats_.logging = logging_;
  *bits = total_bits;
  return !failed;
}

void DirtyLogReader::set_unavailable(const std::string& why) {
  log::info("%s: dirty logging unavailable on this host: %s; write evidence comes from sampling only",
            options_.name.c_str(), why.c_str());
  std::lock_guard l(stats_mutex_);
  stats_.available = false;
  stats_.unavailable_reason = why;
  ++stats_.errors;
}

DirtyLogStats DirtyLogReader::stats() const {
  std::lock_guard l(stats_mutex_);
  return stats_;
}

std::unique_ptr<DirtyLogReader> start_guest_dirty_log_reader(Vm& vm, gmm::MemoryManager& memory, gmm::GuestMm& guest,
                                                             const DirtyLogAgingOptions& options) {
  if (options.enabled == false) return nullptr;
  DirtyLogReaderOptions o;
  o.name = vm.config().name;
  o.period = options.period;
  if (!options.enabled) {
    const gmm::memcg::MemcgId leaf = guest.memcg_id();
    o.wanted = [&memory, leaf] { return guest_has_memory_limit(memory, leaf); };
  }
  gmm::GuestMm* g = &guest;
  auto reader = std::make_unique<DirtyLogReader>(
      vm_dirty_log_source(vm),
      [g](uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits) {
        return g->mark_dirty(first_index, bitmap, nr_bits);
      },
      std::move(o));
  (void)reader->start();
  return reader;
}

}  // namespace tide::vmm
