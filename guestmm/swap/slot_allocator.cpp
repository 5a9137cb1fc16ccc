#include "guestmm/swap/slot_allocator.hpp"

#include <algorithm>
#include <bit>

#include "guestmm/base/log.hpp"

namespace tide::gmm::swap {
namespace {

using ull = unsigned long long;

Error broken(const std::string& what) { return make_error(std::errc::state_not_recoverable, "swap slots: " + what); }

// The first set bit of `words` at or after bit `from` and before bit `end`; `end` if none.
uint64_t find_set(const std::vector<uint64_t>& words, uint64_t from, uint64_t end, bool invert) {
  while (from < end) {
    uint64_t w = words[from / 64];
    if (invert) w = ~w;
    w &= ~uint64_t{0} << (from % 64);
    if (w != 0) return std::min(end, (from & ~uint64_t{63}) + static_cast<uint64_t>(std::countr_zero(w)));
    from = (from & ~uint64_t{63}) + 64;
  }
  return end;
}

}  // namespace

Result<SlotAllocator> SlotAllocator::create(uint64_t nr_slots) {
  if (nr_slots == 0) return make_error(std::errc::invalid_argument, "a swap area needs at least one slot");
  SlotAllocator a;
  a.nr_slots_ = nr_slots;
  a.nr_clusters_ = (nr_slots + kClusterSlots - 1) / kClusterSlots;
  a.used_bits_.assign((nr_slots + 63) / 64, 0);
  a.cluster_used_.assign(a.nr_clusters_, 0);
  a.free_cluster_bits_.assign((a.nr_clusters_ + 63) / 64, 0);
  for (uint64_t c = 0; c < a.nr_clusters_; ++c) a.free_cluster_bits_[c / 64] |= uint64_t{1} << (c % 64);
  a.free_clusters_ = a.nr_clusters_;
  TIDE_TRY_ASSIGN(mem, host::Mapping::anonymous(nr_slots * sizeof(uint64_t)));
  a.owners_ = host::as_array<uint64_t>(mem);
  a.owner_memory_ = std::move(mem);
  return a;
}

uint64_t SlotAllocator::cluster_size(uint64_t c) const {
  return std::min(kClusterSlots, nr_slots_ - c * kClusterSlots);
}

void SlotAllocator::mark_used(uint64_t s, uint64_t owner) {
  used_bits_[s / 64] |= uint64_t{1} << (s % 64);
  owners_[s] = owner + 1;
  const uint64_t c = s / kClusterSlots;
  if (cluster_used_[c]++ == 0) {
    free_cluster_bits_[c / 64] &= ~(uint64_t{1} << (c % 64));
    --free_clusters_;
  }
  ++used_;
}

void SlotAllocator::mark_free(uint64_t s) {
  used_bits_[s / 64] &= ~(uint64_t{1} << (s % 64));
  owners_[s] = 0;
  const uint64_t c = s / kClusterSlots;
  if (--cluster_used_[c] == 0) {
    free_cluster_bits_[c / 64] |= uint64_t{1} << (c % 64);
    ++free_clusters_;
  }
  --used_;
}

uint64_t SlotAllocator::take_at(uint64_t s, uint64_t max, std::span<const uint64_t> owners, uint64_t* taken,
                                std::vector<SlotRun>* runs) {
  uint64_t n = 0;
  while (n < max && s + n < nr_slots_ && !test(s + n)) {
    mark_used(s + n, owners[*taken + n]);
    ++n;
  }
  if (n == 0) return 0;
  *taken += n;
  if (!runs->empty() && runs->back().end() == Slot(s)) runs->back().nr_slots += n;
  else runs->push_back(SlotRun{Slot(s), n});
  cursor_ = s + n == nr_slots_ ? 0 : s + n;
  return n;
}

uint64_t SlotAllocator::next_free_cluster(uint64_t from) const {
  uint64_t c = find_set(free_cluster_bits_, from, nr_clusters_, false);
  if (c == nr_clusters_) c = find_set(free_cluster_bits_, 0, from, false);
  return c;
}

uint64_t SlotAllocator::next_free_slot(uint64_t from) const {
  uint64_t s = find_set(used_bits_, from, nr_slots_, true);
  if (s == nr_slots_) s = find_set(used_bits_, 0, from, true);
  return s;
}

Result<std::vector<SlotRun>> SlotAllocator::allocate(std::span<const uint64_t> owners) {
  std::vector<SlotRun> runs;
  const uint64_t want = owners.size();
  if (want == 0) return runs;
  if (want > free_slots()) {
    return make_error(std::errc::no_space_on_device,
                      log::strf("swap area full: %llu slots wanted, %llu of %llu free", static_cast<ull>(want),
                                static_cast<ull>(free_slots()), static_cast<ull>(nr_slots_)));
  }
  for (uint64_t o : owners) {
    if (o > kMaxOwner) return make_error(std::errc::invalid_argument, "swap slot owner out of range");
  }
  uint64_t taken = 0;
  // 1. Carry on where the last allocation ended: batch after batch is one sequential stream.
  take_at(cursor_, want, owners, &taken, &runs);
  // 2. Wholly free clusters, so a batch is not scattered over holes while clean space exists.
  while (taken < want && free_clusters_ > 0) {
    const uint64_t c = next_free_cluster(cursor_ / kClusterSlots);
    take_at(c * kClusterSlots, want - taken, owners, &taken, &runs);
  }
  // 3. Holes. There are enough free slots (checked above), so this ends.
  while (taken < want) take_at(next_free_slot(cursor_), want - taken, owners, &taken, &runs);
  return runs;
}

Result<Slot> SlotAllocator::allocate_one(uint64_t owner) {
  const uint64_t owners[1] = {owner};
  TIDE_TRY_ASSIGN(runs, allocate(owners));
  return runs.front().first;
}

Status SlotAllocator::free(SlotRun run) {
  const uint64_t first = run.first.value();
  if (first >= nr_slots_ || run.nr_slots > nr_slots_ - first) {
    return make_error(std::errc::invalid_argument,
                      log::strf("free swap slots %llu+%llu: outside the area of %llu slots", static_cast<ull>(first),
                                static_cast<ull>(run.nr_slots), static_cast<ull>(nr_slots_)));
  }
  for (uint64_t s = first; s < first + run.nr_slots; ++s) {
    if (!test(s)) {
      return make_error(std::errc::invalid_argument, log::strf("free swap slot %llu: it is not in use", static_cast<ull>(s)));
    }
  }
  for (uint64_t s = first; s < first + run.nr_slots; ++s) mark_free(s);
  return ok();
}

std::optional<uint64_t> SlotAllocator::owner(Slot slot) const {
  if (!in_use(slot)) return std::nullopt;
  return owners_[slot.value()] - 1;
}

Status SlotAllocator::check_invariants() const {
  if (cursor_ >= nr_slots_) return broken(log::strf("cursor %llu outside the area", static_cast<ull>(cursor_)));
  uint64_t used = 0, free_clusters = 0;
  for (uint64_t c = 0; c < nr_clusters_; ++c) {
    uint64_t in_cluster = 0;
    for (uint64_t s = c * kClusterSlots; s < c * kClusterSlots + cluster_size(c); ++s) {
      const bool bit = test(s);
      if (bit != (owners_[s] != 0)) {
        return broken(log::strf("slot %llu is %s but %s an owner", static_cast<ull>(s), bit ? "used" : "free",
                                bit ? "has no" : "has"));
      }
      in_cluster += bit ? 1 : 0;
    }
    if (in_cluster != cluster_used_[c]) {
      return broken(log::strf("cluster %llu counts %u used slots, holds %llu", static_cast<ull>(c),
                              static_cast<unsigned>(cluster_used_[c]), static_cast<ull>(in_cluster)));
    }
    const bool free_bit = (free_cluster_bits_[c / 64] >> (c % 64)) & 1;
    if (free_bit != (in_cluster == 0)) {
      return broken(log::strf("cluster %llu: free bit %d with %llu used slots", static_cast<ull>(c), free_bit ? 1 : 0,
                              static_cast<ull>(in_cluster)));
    }
    used += in_cluster;
    free_clusters += free_bit ? 1 : 0;
  }
  // Bits past the last slot must stay clear, or find_set() would stop on them.
  if (nr_slots_ % 64 != 0 && (used_bits_.back() >> (nr_slots_ % 64)) != 0) return broken("bits set past the area's end");
  if (used != used_) return broken(log::strf("%llu slots used, %llu counted", static_cast<ull>(used), static_cast<ull>(used_)));
  if (free_clusters != free_clusters_) return broken("free cluster count differs from the bitmap");
  return ok();
}

}  // namespace tide::gmm::swap
