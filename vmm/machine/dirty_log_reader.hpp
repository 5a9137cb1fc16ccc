// DirtyLogReader: write evidence for page aging (ARCHITECTURE.md §3 "Aging") from KVM's
// dirty log. Once per period it reads and re-arms the log of every RAM memslot of one VM and
// hands each non-empty bitmap, with the page index (window order) of the slot's first page,
// to a sink: GuestMm::mark_dirty in a machine, a recorder in tests.
// Re-arming is what costs: the guest's first write to each page after a read is one
// write-protect exit (about 4.6 us on PVM, where a guest rewriting 64 MiB in a loop runs
// 20 times slower right after each read). So logging is on only while wanted (a predicate
// asked each period; a machine's default is "the guest has a memory limit"), and after a
// read that found many dirty pages the next one waits longer, so that the re-arming costs
// the guest at most a set share of one vCPU's time (next_dirty_log_wait).
// start() probes the host once: if KVM refuses, the reader says so in one log line and
// stays off for good (sampling alone then tells reads and writes).
// Threads: its own ("tide-dirtylog"), started by start() and joined by the destructor,
// which must run before the VM goes. step() is serialized; stats() may be called from any
// thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/guest_ram.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm {
class GuestMm;
class MemoryManager;
}  // namespace tide::gmm

namespace tide::vmm {

class Vm;

// One RAM memslot as the reader sees it.
struct DirtyLogSlot {
  uint32_t slot = 0;
  gmm::Gpa base;
  uint64_t nr_pages = 0;
  uint64_t first_index = 0;  // page index (window order) of the slot's first page

  constexpr bool operator==(const DirtyLogSlot&) const = default;
};

// The memslots of `ram` (sorted by base, as P2m keeps them; memslot i = ram[i]) with the
// page index of each one's first page: the RAM ranges laid end to end (GuestMm's window
// order), so bit b of slot i's log is page index slots[i].first_index + b.
[[nodiscard]] std::vector<DirtyLogSlot> dirty_log_slots(std::span<const gmm::RamRange> ram);

// Where the logs come from: a Vm (vm_dirty_log_source) or a test's fake.
class DirtyLogSource {
 public:
  virtual ~DirtyLogSource() = default;
  // One memslot per range, in slot order.
  [[nodiscard]] virtual std::vector<gmm::RamRange> ram_ranges() const = 0;
  // Turns logging on (empty log, every page re-armed) or off on every slot.
  [[nodiscard]] virtual Status set_logging(bool on) = 0;
  // Copies slot `slot`'s log into `bitmap` (KVM's format, ceil(pages / 64) words) and
  // re-arms the pages it shows.
  [[nodiscard]] virtual Status read_and_clear(uint32_t slot, std::span<uint64_t> bitmap) = 0;
  // How the logs are read, for the log and reports ("get", "manual-clear", ...).
  [[nodiscard]] virtual std::string mode() const = 0;
};

// The RAM memslots of `vm` (which must outlive the source).
[[nodiscard]] std::unique_ptr<DirtyLogSource> vm_dirty_log_source(Vm& vm);

// Receives one slot's log: `nr_bits` pages from page index `first_index`, KVM's format.
// Returns the references it passed on to the aging lists (GuestMm::mark_dirty's answer).
using DirtyBitmapSink =
    std::function<uint64_t(uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits)>;

struct DirtyLogReaderOptions {
  std::string name = "guest";  // for log lines
  std::chrono::milliseconds period{500};  // the shortest wait between two reads
  // Guest time one re-armed page costs on its next write (measured 4.6 us on PVM; less on
  // hosts with hardware dirty logging), the share of one vCPU's time the re-arming may take,
  // and the longest wait it may impose.
  std::chrono::nanoseconds write_fault_cost{5000};
  double max_guest_share = 0.05;
  std::chrono::milliseconds max_period{10000};
  // Asked once per period (on the reader's thread): should the memslots log writes now?
  // Null: always.
  std::function<bool()> wanted;
};

// The wait before the next read after one that found `dirty_pages`: `period`, or longer so
// that re-arming them (one write-protect fault each on the guest's next write) costs at most
// max_guest_share of one vCPU's time, but not beyond max_period. Pure.
[[nodiscard]] std::chrono::milliseconds next_dirty_log_wait(const DirtyLogReaderOptions& options, uint64_t dirty_pages);

// The reader's figures, for reports. Counters are totals since start().
struct DirtyLogStats {
  bool available = true;           // false: the host refused dirty logging (off for good)
  std::string unavailable_reason;  // ... and why
  bool logging = false;            // the memslots log writes now
  std::string mode;                // DirtyLogSource::mode()
  uint64_t period_ms = 0;          // DirtyLogReaderOptions::period
  uint64_t wait_ms = 0;            // the wait before the next read (next_dirty_log_wait)
  uint64_t stretched = 0;          // reads after which the wait was longer than period_ms
  uint64_t reads = 0;              // periods whose logs were read (every slot)
  uint64_t slot_reads = 0;         // memslot logs read
  uint64_t dirty_bits = 0;         // set bits read: pages written since the read before
  uint64_t references = 0;         // ... that the sink passed on to the aging lists
  uint64_t last_dirty_bits = 0;    // set bits in the last read
  uint64_t read_ns = 0;            // time in KVM reading and re-arming logs
  uint64_t sink_ns = 0;            // time in the sink
  uint64_t enables = 0;            // logging turned on (the probe's included)
  uint64_t disables = 0;           // ... and off
  uint64_t errors = 0;             // failed reads or toggles (each logged)
};

class DirtyLogReader {
 public:
  DirtyLogReader(std::unique_ptr<DirtyLogSource> source, DirtyBitmapSink sink, DirtyLogReaderOptions options);
  DirtyLogReader(const DirtyLogReader&) = delete;
  DirtyLogReader& operator=(const DirtyLogReader&) = delete;
  // Stops the thread and turns logging off. Thread: the owner.
  ~DirtyLogReader();

  // Probes the host (logging on, one read, and off again unless wanted) and, with
  // `thread`, starts the periodic reads. Returns stats().available. Thread: the owner, once.
  bool start(bool thread = true);
  // One period's work: follows wanted(), then reads every slot's log and feeds the sink.
  // Returns the dirty bits read. The thread's step; tests call it directly. Thread: any.
  uint64_t step();
  [[nodiscard]] DirtyLogStats stats() const;

 private:
  void run();
  // Turns logging on or off as wanted(); true if it was on and stays on (a read is due).
  // step_mutex_ held.
  bool follow_wanted();
  // Reads every slot; false if a read failed (logging is then off for good). step_mutex_ held.
  bool read_all(uint64_t* bits);
  void set_unavailable(const std::string& why);

  std::unique_ptr<DirtyLogSource> source_;
  DirtyBitmapSink sink_;
  DirtyLogReaderOptions options_;
  std::vector<DirtyLogSlot> slots_;
  std::vector<uint64_t> bitmap_;  // sized for the largest slot

  std::mutex step_mutex_;  // one step at a time; before stats_mutex_
  bool logging_ = false;   // step_mutex_
  mutable std::mutex stats_mutex_;
  DirtyLogStats stats_;

  std::atomic<int64_t> wait_ms_;  // before the next read: set by read_all, used by run()
  std::mutex thread_mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// When a machine reads its guest's dirty log for page aging.
struct DirtyLogAgingOptions {
  // nullopt (default): while the guest's memory cgroup, or a group above it, has a max or a
  // high limit (only then does reclaim pick victims by age); true/false: always/never.
  std::optional<bool> enabled;
  std::chrono::milliseconds period{500};
};

// Whether the guest whose memcg leaf is `leaf` has a memory limit: a max or high on the
// leaf or on a group above it (the root, the pool's own budget, does not count).
[[nodiscard]] bool guest_has_memory_limit(const gmm::MemoryManager& memory, gmm::memcg::MemcgId leaf);

// A started reader of `vm`'s logs feeding `guest`'s aging lists, or null if `options`
// say never. `vm`, `memory` and `guest` must outlive it.
[[nodiscard]] std::unique_ptr<DirtyLogReader> start_guest_dirty_log_reader(Vm& vm, gmm::MemoryManager& memory,
                                                                           gmm::GuestMm& guest,
                                                                           const DirtyLogAgingOptions& options);

}  // namespace tide::vmm
