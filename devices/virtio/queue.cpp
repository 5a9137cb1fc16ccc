#include "devices/virtio/queue.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

#include "guestmm/base/log.hpp"

namespace tide::dev {
namespace {

using gmm::Gpa;

constexpr uint64_t kAvailRingOffset = 4;          // flags, idx, then ring[] (§2.7.6)
constexpr uint64_t kUsedRingOffset = 4;           // flags, idx, then ring[] (§2.7.8)
constexpr uint64_t kMaxChainBytes = 0xffffffffu;  // §2.7.5.2: at most 2^32 bytes per chain

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

const char* queue_fault_name(QueueFault fault) {
  switch (fault) {
    case QueueFault::kRingMisaligned: return "ring_misaligned";
    case QueueFault::kRingOutOfRam: return "ring_out_of_ram";
    case QueueFault::kAvailIndexJump: return "avail_index_jump";
    case QueueFault::kDescIndexOutOfRange: return "desc_index_out_of_range";
    case QueueFault::kBufferOutOfRam: return "buffer_out_of_ram";
    case QueueFault::kBufferOverflow: return "buffer_overflow";
    case QueueFault::kChainLoop: return "chain_loop";
    case QueueFault::kChainTooLong: return "chain_too_long";
    case QueueFault::kWriteBeforeRead: return "write_before_read";
    case QueueFault::kIndirectNotNegotiated: return "indirect_not_negotiated";
    case QueueFault::kIndirectNested: return "indirect_nested";
    case QueueFault::kIndirectWithNext: return "indirect_with_next";
    case QueueFault::kIndirectBadSize: return "indirect_bad_size";
    case QueueFault::kIndirectOutOfRam: return "indirect_out_of_ram";
    case QueueFault::kCount: break;
  }
  return "unknown";
}

uint64_t DescriptorChain::readable_bytes() const {
  uint64_t n = 0;
  for (const GuestBuffer& b : readable) n += b.len;
  return n;
}

uint64_t DescriptorChain::writable_bytes() const {
  uint64_t n = 0;
  for (const GuestBuffer& b : writable) n += b.len;
  return n;
}

Queue::Queue(uint16_t max_size, std::string name)
    : max_size_(max_size), name_(std::move(name)), size_(max_size), stamp_(max_size, 0) {
  assert(max_size != 0 && std::has_single_bit(max_size) && max_size <= kVirtqMaxSize);
}

bool Queue::set_size(uint16_t size) {
  if (size == 0 || size > max_size_ || !std::has_single_bit(size)) return false;
  size_ = size;
  layout_ = Layout::kUnchecked;
  return true;
}

void Queue::set_desc_table(Gpa gpa) {
  desc_ = gpa;
  layout_ = Layout::kUnchecked;
}

void Queue::set_avail_ring(Gpa gpa) {
  avail_ = gpa;
  layout_ = Layout::kUnchecked;
}

void Queue::set_used_ring(Gpa gpa) {
  used_ = gpa;
  layout_ = Layout::kUnchecked;
}

void Queue::set_ring_features(bool event_idx, bool indirect_desc) {
  event_idx_ = event_idx;
  indirect_desc_ = indirect_desc;
}

void Queue::reset() {
  size_ = max_size_;
  desc_ = Gpa(0);
  avail_ = Gpa(0);
  used_ = Gpa(0);
  ready_ = false;
  event_idx_ = false;
  indirect_desc_ = false;
  layout_ = Layout::kUnchecked;
  next_avail_ = 0;
  next_used_ = 0;
  signalled_used_ = 0;
  signalled_used_valid_ = false;
  used_since_check_ = false;
  broken_.store(false, std::memory_order_relaxed);
}

uint64_t Queue::total_faults() const {
  uint64_t n = 0;
  for (const auto& f : faults_) n += f.load(std::memory_order_relaxed);
  return n;
}

void Queue::fault(QueueFault kind, const std::string& detail) {
  auto index = static_cast<size_t>(kind);
  faults_[index].fetch_add(1, std::memory_order_relaxed);
  uint32_t bit = uint32_t{1} << index;
  if ((logged_.fetch_or(bit, std::memory_order_relaxed) & bit) == 0) {
    log::warn("%s: guest driver error %s (%s); counted, further ones not logged", name_.c_str(), queue_fault_name(kind),
              detail.c_str());
  }
}

Status Queue::check_invariants() const {
  if (size_ == 0 || size_ > max_size_ || !std::has_single_bit(size_)) {
    return make_error(std::errc::state_not_recoverable, log::strf("%s: size %u", name_.c_str(), size_));
  }
  if (stamp_.size() != max_size_ ||
      std::any_of(stamp_.begin(), stamp_.end(), [this](uint32_t s) { return s > epoch_; })) {
    return make_error(std::errc::state_not_recoverable, log::strf("%s: loop stamps ahead of epoch", name_.c_str()));
  }
  return ok();
}

bool Queue::check_layout(const gmm::GuestMemory& memory) {
  if (layout_ != Layout::kUnchecked) return layout_ == Layout::kValid;
  layout_ = Layout::kInvalid;
  if (desc_.value() % kVirtqDescAlign != 0 || avail_.value() % kVirtqAvailAlign != 0 ||
      used_.value() % kVirtqUsedAlign != 0) {
    fault(QueueFault::kRingMisaligned, log::strf("desc 0x%llx avail 0x%llx used 0x%llx", ull(desc_.value()),
                                                 ull(avail_.value()), ull(used_.value())));
    broken_.store(true, std::memory_order_relaxed);
    return false;
  }
  uint64_t n = size_;
  if (!memory.contains(desc_, 16 * n) || !memory.contains(avail_, 6 + 2 * n) || !memory.contains(used_, 6 + 8 * n)) {
    fault(QueueFault::kRingOutOfRam, log::strf("desc 0x%llx avail 0x%llx used 0x%llx size %u", ull(desc_.value()),
                                               ull(avail_.value()), ull(used_.value()), size_));
    broken_.store(true, std::memory_order_relaxed);
    return false;
  }
  layout_ = Layout::kValid;
  return true;
}

std::optional<DescriptorChain> Queue::pop(const gmm::GuestMemory& memory) {
  if (!ready_ || broken() || !check_layout(memory)) return std::nullopt;
  const Gpa avail_idx_gpa = avail_ + 2;
  for (;;) {
    auto avail_idx = memory.load_acquire_u16(avail_idx_gpa);
    if (!avail_idx) return std::nullopt;  // cannot happen: the layout check covered it
    auto pending = static_cast<uint16_t>(*avail_idx - next_avail_);
    if (pending > size_) {
      fault(QueueFault::kAvailIndexJump, log::strf("avail idx %u, device at %u, size %u; queue stopped until reset",
                                                   *avail_idx, next_avail_, size_));
      broken_.store(true, std::memory_order_relaxed);
      return std::nullopt;
    }
    if (pending == 0) {
      if (!event_idx_) return std::nullopt;
      // Ask for a kick when the next entry arrives (avail_event, §2.7.10), then look
      // again: the driver may have added one before it could see our request.
      Gpa avail_event = used_ + kUsedRingOffset + 8 * uint64_t{size_};
      (void)memory.store_release_u16(avail_event, next_avail_);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      auto again = memory.load_acquire_u16(avail_idx_gpa);
      if (!again || *again == next_avail_) return std::nullopt;
      continue;
    }
    Gpa slot = avail_ + kAvailRingOffset + 2 * uint64_t{static_cast<uint16_t>(next_avail_ % size_)};
    auto head = memory.read_obj<uint16_t>(slot);
    if (!head) return std::nullopt;  // cannot happen: the layout check covered it
    ++next_avail_;

    DescriptorChain chain;
    chain.head = *head;
    std::string detail;
    std::optional<QueueFault> bad = parse_chain(memory, *head, chain, detail);
    if (!bad) return chain;
    fault(*bad, detail);
    // Give the chain back unused so the driver can reclaim its buffers and carry on.
    if (*head < size_) add_used(memory, *head, 0);
  }
}

std::optional<QueueFault> Queue::add_buffer(const gmm::GuestMemory& memory, const VirtqDesc& desc, uint32_t& buffers,
                                            uint64_t& total_bytes, DescriptorChain& out, std::string& detail) {
  if (++buffers > size_) {
    detail = log::strf("head %u has more than %u buffers", out.head, size_);
    return QueueFault::kChainTooLong;
  }
  bool writable = (desc.flags & VIRTQ_DESC_F_WRITE) != 0;
  if (!writable && !out.writable.empty()) {
    detail = log::strf("head %u: readable buffer 0x%llx after a writable one", out.head, ull(desc.addr));
    return QueueFault::kWriteBeforeRead;
  }
  if (desc.len != 0 && desc.addr + (desc.len - 1) < desc.addr) {
    detail = log::strf("head %u: buffer 0x%llx+0x%x wraps", out.head, ull(desc.addr), desc.len);
    return QueueFault::kBufferOverflow;
  }
  total_bytes += desc.len;
  if (total_bytes > kMaxChainBytes) {
    detail = log::strf("head %u: chain longer than 4 GiB", out.head);
    return QueueFault::kBufferOverflow;
  }
  if (!memory.contains(Gpa(desc.addr), desc.len)) {
    detail = log::strf("head %u: buffer 0x%llx+0x%x outside RAM", out.head, ull(desc.addr), desc.len);
    return QueueFault::kBufferOutOfRam;
  }
  (writable ? out.writable : out.readable).push_back(GuestBuffer{Gpa(desc.addr), desc.len});
  return std::nullopt;
}

std::optional<QueueFault> Queue::parse_chain(const gmm::GuestMemory& memory, uint16_t head, DescriptorChain& out,
                                             std::string& detail) {
  if (head >= size_) {
    detail = log::strf("head index %u, queue size %u", head, size_);
    return QueueFault::kDescIndexOutOfRange;
  }
  if (++epoch_ == 0) {  // wrapped: old stamps could collide with the new epoch
    std::fill(stamp_.begin(), stamp_.end(), 0);
    epoch_ = 1;
  }
  uint32_t buffers = 0;
  uint64_t total_bytes = 0;
  uint16_t index = head;
  for (;;) {
    if (stamp_[index] == epoch_) {
      detail = log::strf("head %u revisits descriptor %u", head, index);
      return QueueFault::kChainLoop;
    }
    stamp_[index] = epoch_;
    auto desc = memory.read_obj<VirtqDesc>(desc_ + 16 * uint64_t{index});
    if (!desc) {  // cannot happen: the layout check covered the table
      detail = log::strf("descriptor %u unreadable", index);
      return QueueFault::kRingOutOfRam;
    }
    if (desc->flags & VIRTQ_DESC_F_INDIRECT) {
      if (!indirect_desc_) {
        detail = log::strf("head %u, descriptor %u", head, index);
        return QueueFault::kIndirectNotNegotiated;
      }
      if (desc->flags & VIRTQ_DESC_F_NEXT) {
        detail = log::strf("head %u, descriptor %u", head, index);
        return QueueFault::kIndirectWithNext;
      }
      // §2.7.5.3.2: an indirect descriptor may end a chain of normal ones.
      return parse_indirect(memory, *desc, buffers, total_bytes, out, detail);
    }
    if (auto bad = add_buffer(memory, *desc, buffers, total_bytes, out, detail)) return bad;
    if ((desc->flags & VIRTQ_DESC_F_NEXT) == 0) return std::nullopt;
    index = desc->next;
    if (index >= size_) {
      detail = log::strf("head %u: next index %u, queue size %u", head, index, size_);
      return QueueFault::kDescIndexOutOfRange;
    }
  }
}

std::optional<QueueFault> Queue::parse_indirect(const gmm::GuestMemory& memory, const VirtqDesc& table,
                                                uint32_t& buffers, uint64_t& total_bytes, DescriptorChain& out,
                                                std::string& detail) {
  if (table.len == 0 || table.len % sizeof(VirtqDesc) != 0 || table.len / sizeof(VirtqDesc) > size_) {
    detail = log::strf("head %u: indirect table length %u (queue size %u)", out.head, table.len, size_);
    return QueueFault::kIndirectBadSize;
  }
  if (!memory.contains(Gpa(table.addr), table.len)) {
    detail = log::strf("head %u: indirect table 0x%llx+0x%x", out.head, ull(table.addr), table.len);
    return QueueFault::kIndirectOutOfRam;
  }
  // Snapshot the table once: the guest may scribble on it while we parse.
  std::vector<VirtqDesc> descs(table.len / sizeof(VirtqDesc));
  if (!memory.read(Gpa(table.addr), std::as_writable_bytes(std::span(descs)))) {
    detail = log::strf("head %u: indirect table unreadable", out.head);
    return QueueFault::kIndirectOutOfRam;
  }
  std::vector<bool> visited(descs.size(), false);
  size_t index = 0;
  for (;;) {
    if (visited[index]) {
      detail = log::strf("head %u: indirect table revisits entry %zu", out.head, index);
      return QueueFault::kChainLoop;
    }
    visited[index] = true;
    const VirtqDesc& desc = descs[index];
    if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
      detail = log::strf("head %u: indirect entry %zu", out.head, index);
      return QueueFault::kIndirectNested;
    }
    if (auto bad = add_buffer(memory, desc, buffers, total_bytes, out, detail)) return bad;
    if ((desc.flags & VIRTQ_DESC_F_NEXT) == 0) return std::nullopt;
    index = desc.next;
    if (index >= descs.size()) {
      detail = log::strf("head %u: indirect next %zu, table holds %zu", out.head, index, descs.size());
      return QueueFault::kDescIndexOutOfRange;
    }
  }
}

void Queue::add_used(const gmm::GuestMemory& memory, uint16_t head, uint32_t bytes_written) {
  if (!ready_ || !check_layout(memory)) return;
  Gpa elem = used_ + kUsedRingOffset + 8 * uint64_t{static_cast<uint16_t>(next_used_ % size_)};
  if (!memory.write_obj(elem, VirtqUsedElem{head, bytes_written})) return;  // layout checked: cannot fail
  ++next_used_;
  used_since_check_ = true;
  // Release: the element (and the buffer contents) are visible before the index.
  (void)memory.store_release_u16(used_ + 2, next_used_);
}

bool Queue::needs_notification(const gmm::GuestMemory& memory) {
  if (!ready_ || !check_layout(memory) || !used_since_check_) return false;
  used_since_check_ = false;
  // Order our used idx store before reading the driver's suppression fields; the driver
  // does the mirror image, so one of us sees the other's update.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    auto flags = memory.load_acquire_u16(avail_);
    return !flags || (*flags & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
  }
  uint16_t old_used = signalled_used_;
  bool valid = signalled_used_valid_;
  signalled_used_ = next_used_;
  signalled_used_valid_ = true;
  if (!valid) return true;
  auto used_event = memory.load_acquire_u16(avail_ + kAvailRingOffset + 2 * uint64_t{size_});
  if (!used_event) return true;
  // vring_need_event() (§2.7.7): notify if used_event lies in [old_used, next_used_).
  return static_cast<uint16_t>(next_used_ - *used_event - 1) < static_cast<uint16_t>(next_used_ - old_used);
}

}  // namespace tide::dev
