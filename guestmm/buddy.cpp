#include "guestmm/buddy.hpp"

#include "guestmm/base/log.hpp"

namespace tide::gmm {
namespace {

Error broken(const std::string& what) { return make_error(std::errc::state_not_recoverable, "buddy allocator: " + what); }

}  // namespace

BuddyAllocator::BuddyAllocator(FrameTable& frames) : frames_(frames) {
  heads_.fill(kNilFrame);
  const uint64_t n = frames_.size();
  uint64_t mfn = 0;
  while (mfn < n) {
    unsigned order = kMaxOrder;
    while (order > 0 && ((mfn & ((uint64_t{1} << order) - 1)) != 0 || mfn + (uint64_t{1} << order) > n)) --order;
    push(mfn, order);
    mfn += uint64_t{1} << order;
  }
}

bool BuddyAllocator::is_free_head(uint64_t mfn, unsigned order) const {
  const Frame& f = frames_.at(mfn);
  return f.has(kFrameHead) && !f.has(kFrameAllocated) && f.order == order;
}

void BuddyAllocator::push(uint64_t head, unsigned order) {
  Frame& f = frames_.at(head);
  f.flags = kFrameHead;
  f.order = static_cast<uint8_t>(order);
  f.owner = 0;
  f.gfn = 0;
  f.map_count = 0;
  f.prev = kNilFrame;
  f.next = heads_[order];
  if (f.next != kNilFrame) frames_.at(f.next).prev = static_cast<uint32_t>(head);
  heads_[order] = static_cast<uint32_t>(head);
  ++counts_[order];
  nonempty_ |= 1u << order;
  free_frames_ += uint64_t{1} << order;
}

void BuddyAllocator::remove(uint64_t head, unsigned order) {
  Frame& f = frames_.at(head);
  if (f.prev != kNilFrame) frames_.at(f.prev).next = f.next;
  else heads_[order] = f.next;
  if (f.next != kNilFrame) frames_.at(f.next).prev = f.prev;
  f.flags = 0;
  f.prev = f.next = kNilFrame;
  if (--counts_[order] == 0) nonempty_ &= ~(1u << order);
  free_frames_ -= uint64_t{1} << order;
}

void BuddyAllocator::mark_allocated(uint64_t head, unsigned order) {
  const uint64_t n = uint64_t{1} << order;
  for (uint64_t i = 0; i < n; ++i) {
    Frame& f = frames_.at(head + i);
    f.flags = kFrameAllocated;
    f.owner = 0;
    f.gfn = 0;
    f.map_count = 0;
    f.prev = f.next = kNilFrame;
  }
  frames_.at(head).order = static_cast<uint8_t>(order);
}

std::optional<Mfn> BuddyAllocator::alloc(unsigned order) {
  if (order > kMaxOrder) return std::nullopt;
  uint32_t candidates = nonempty_ & ~((1u << order) - 1);
  if (candidates == 0) return std::nullopt;
  unsigned k = static_cast<unsigned>(__builtin_ctz(candidates));
  uint64_t head = heads_[k];
  remove(head, k);
  while (k > order) {
    --k;
    push(head + (uint64_t{1} << k), k);  // keep the lower half, free the upper
  }
  mark_allocated(head, order);
  return Mfn(head);
}

bool BuddyAllocator::alloc_exact(Mfn mfn, unsigned order) {
  const uint64_t want = mfn.value();
  if (order > kMaxOrder || (want & ((uint64_t{1} << order) - 1)) != 0 || want >= frames_.size()) return false;
  if (frames_.at(want).has(kFrameAllocated)) return false;
  // Find the free block containing `want` (free blocks are disjoint, so at most one).
  for (unsigned k = order; k <= kMaxOrder; ++k) {
    uint64_t head = want & ~((uint64_t{1} << k) - 1);
    if (!is_free_head(head, k)) continue;
    remove(head, k);
    while (k > order) {
      --k;
      uint64_t half = uint64_t{1} << k;
      if (want >= head + half) {
        push(head, k);
        head += half;
      } else {
        push(head + half, k);
      }
    }
    mark_allocated(head, order);
    return true;
  }
  return false;
}

void BuddyAllocator::free(Mfn mfn, unsigned order) {
  uint64_t head = mfn.value();
  const uint64_t n = uint64_t{1} << order;
  for (uint64_t i = 0; i < n; ++i) {
    Frame& f = frames_.at(head + i);
    f = Frame{0, 0, 0, kNilFrame, kNilFrame, 0, 0, 0};
  }
  while (order < kMaxOrder) {
    uint64_t buddy = head ^ (uint64_t{1} << order);
    if (buddy + (uint64_t{1} << order) > frames_.size() || !is_free_head(buddy, order)) break;
    remove(buddy, order);
    head = std::min(head, buddy);
    ++order;
  }
  push(head, order);
}

bool BuddyAllocator::is_free(Mfn mfn) const {
  if (mfn.value() >= frames_.size() || frames_[mfn].has(kFrameAllocated)) return false;
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    uint64_t head = mfn.value() & ~((uint64_t{1} << k) - 1);
    if (is_free_head(head, k)) return true;
  }
  return false;
}

Status BuddyAllocator::check_invariants() const {
  uint64_t total = 0;
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    uint64_t count = 0;
    uint32_t prev = kNilFrame;
    for (uint32_t h = heads_[k]; h != kNilFrame; h = frames_.at(h).next) {
      if (h >= frames_.size()) return broken(log::strf("order %u list points outside the pool", k));
      if (++count > counts_[k]) return broken(log::strf("order %u list is longer than its count (a loop?)", k));
      const Frame& f = frames_.at(h);
      if (f.prev != prev) return broken(log::strf("frame %u: bad prev link", h));
      if (!is_free_head(h, k)) return broken(log::strf("frame %u on the order %u list is not a free head of that order", h, k));
      const uint64_t size = uint64_t{1} << k;
      if ((h & (size - 1)) != 0 || h + size > frames_.size()) return broken(log::strf("frame %u: misaligned order %u block", h, k));
      // Interiors of blocks up to 2 MiB are walked; larger free blocks are mostly untouched
      // table memory, and walking them would make an audit page in the whole table.
      const uint64_t walk = k <= kExtentOrder ? size : 1;
      for (uint64_t i = 0; i < walk; ++i) {
        const Frame& g = frames_.at(h + i);
        if (g.has(kFrameAllocated) || g.owner != 0 || g.map_count != 0) {
          return broken(log::strf("free frame %llu is allocated, owned or mapped", static_cast<unsigned long long>(h + i)));
        }
        if (i > 0 && g.has(kFrameHead)) return broken(log::strf("free blocks overlap at frame %llu", static_cast<unsigned long long>(h + i)));
      }
      if (k < kMaxOrder) {
        uint64_t buddy = h ^ size;
        if (buddy + size <= frames_.size() && is_free_head(buddy, k)) {
          return broken(log::strf("free buddies %u and %llu of order %u were not merged", h, static_cast<unsigned long long>(buddy), k));
        }
      }
      total += size;
      prev = h;
    }
    if (count != counts_[k]) return broken(log::strf("order %u: %llu blocks listed, %llu counted", k,
                                                     static_cast<unsigned long long>(count), static_cast<unsigned long long>(counts_[k])));
    if ((count != 0) != ((nonempty_ >> k) & 1)) return broken(log::strf("order %u: non-empty mask is wrong", k));
  }
  if (total != free_frames_) return broken("free frame count does not match the lists");
  return ok();
}

}  // namespace tide::gmm
