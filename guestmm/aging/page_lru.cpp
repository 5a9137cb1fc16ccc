#include "guestmm/aging/page_lru.hpp"

#include <algorithm>
#include <utility>

#include "guestmm/base/log.hpp"

namespace tide::gmm::aging {
namespace {

Error broken(const std::string& what) { return make_error(std::errc::state_not_recoverable, "page LRU: " + what); }

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

const char* lru_list_name(LruList l) {
  switch (l) {
    case LruList::none: return "none";
    case LruList::inactive: return "inactive";
    case LruList::active: return "active";
    case LruList::isolated: return "isolated";
  }
  return "?";
}

const char* touch_name(Touch t) {
  switch (t) {
    case Touch::not_resident: return "not_resident";
    case Touch::referenced: return "referenced";
    case Touch::activated: return "activated";
    case Touch::already_referenced: return "already_referenced";
    case Touch::same_period: return "same_period";
  }
  return "?";
}

Result<PageLru> PageLru::create(uint64_t nr_pages) {
  if (nr_pages == 0 || nr_pages > kMaxPages) {
    return make_error(std::errc::invalid_argument, "page LRU: a guest must have between 1 and 2^32-3 pages");
  }
  PageLru lru;
  TIDE_TRY_ASSIGN(links, host::Mapping::anonymous((nr_pages + 2) * sizeof(Links)));
  TIDE_TRY_ASSIGN(flags, host::Mapping::anonymous(nr_pages));
  lru.links_ = host::as_array<Links>(links);
  lru.flags_ = host::as_array<uint8_t>(flags);
  lru.links_memory_ = std::move(links);
  lru.flags_memory_ = std::move(flags);
  lru.nr_pages_ = nr_pages;
  for (uint8_t l : {uint8_t{kInactive}, uint8_t{kActive}}) {
    const uint32_t s = lru.sentinel(l);
    lru.links_[s] = Links{s, s};
  }
  return lru;
}

PageLru::PageLru(PageLru&& o) noexcept
    : links_memory_(std::move(o.links_memory_)),
      flags_memory_(std::move(o.flags_memory_)),
      links_(std::exchange(o.links_, nullptr)),
      flags_(std::exchange(o.flags_, nullptr)),
      nr_pages_(std::exchange(o.nr_pages_, 0)),
      nr_inactive_(std::exchange(o.nr_inactive_, 0)),
      nr_active_(std::exchange(o.nr_active_, 0)),
      nr_isolated_(std::exchange(o.nr_isolated_, 0)),
      nr_sampled_(std::exchange(o.nr_sampled_, 0)) {}

PageLru& PageLru::operator=(PageLru&& o) noexcept {
  if (this != &o) {
    links_memory_ = std::move(o.links_memory_);
    flags_memory_ = std::move(o.flags_memory_);
    links_ = std::exchange(o.links_, nullptr);
    flags_ = std::exchange(o.flags_, nullptr);
    nr_pages_ = std::exchange(o.nr_pages_, 0);
    nr_inactive_ = std::exchange(o.nr_inactive_, 0);
    nr_active_ = std::exchange(o.nr_active_, 0);
    nr_isolated_ = std::exchange(o.nr_isolated_, 0);
    nr_sampled_ = std::exchange(o.nr_sampled_, 0);
  }
  return *this;
}

void PageLru::link_head(uint8_t list_flag, uint32_t page) {
  const uint32_t s = sentinel(list_flag);
  const uint32_t first = links_[s].next;
  links_[page] = Links{s, first};
  links_[first].prev = page;
  links_[s].next = page;
  set(page, list_flag);
  ++count(list_flag);
}

void PageLru::unlink(uint32_t page) {
  const uint8_t list_flag = static_cast<uint8_t>(flags_[page] & (kInactive | kActive));
  const Links l = links_[page];
  links_[l.prev].next = l.next;
  links_[l.next].prev = l.prev;
  clear(page, list_flag);
  --count(list_flag);
}

LruList PageLru::list_of(uint64_t index) const {
  if (index >= nr_pages_) return LruList::none;
  const uint8_t f = flags_[index];
  if ((f & kInactive) != 0) return LruList::inactive;
  if ((f & kActive) != 0) return LruList::active;
  if ((f & kIsolated) != 0) return LruList::isolated;
  return LruList::none;
}

bool PageLru::add(uint64_t index, LruList list) {
  if (index >= nr_pages_ || (flags_[index] & kListMask) != 0) return false;
  if (list != LruList::inactive && list != LruList::active) return false;
  flags_[index] = 0;
  link_head(list == LruList::inactive ? kInactive : kActive, static_cast<uint32_t>(index));
  return true;
}

bool PageLru::remove(uint64_t index) {
  if (index >= nr_pages_) return false;
  const uint8_t f = flags_[index];
  if ((f & (kInactive | kActive)) != 0) {
    unlink(static_cast<uint32_t>(index));
  } else if ((f & kIsolated) != 0) {
    --nr_isolated_;
  } else {
    return false;
  }
  if ((f & kSampled) != 0) --nr_sampled_;
  flags_[index] = 0;
  return true;
}

Touch PageLru::mark_referenced(uint64_t index) {
  if (index >= nr_pages_) return Touch::not_resident;
  const uint8_t f = flags_[index];
  if ((f & kListMask) == 0) return Touch::not_resident;
  if ((f & kReferenced) == 0) {
    set(index, kReferenced);
    return Touch::referenced;
  }
  if ((f & kInactive) == 0) return Touch::already_referenced;
  // Second reference while inactive: the page has earned the active list, and must earn
  // its next second chance there afresh (mm/swap.c folio_mark_accessed).
  unlink(static_cast<uint32_t>(index));
  clear(index, kReferenced);
  link_head(kActive, static_cast<uint32_t>(index));
  return Touch::activated;
}

ScanStats PageLru::isolate_cold(uint64_t max_victims, std::vector<uint64_t>& victims, uint64_t max_scan) {
  ScanStats st;
  const uint64_t limit = std::min(max_scan, nr_inactive_);
  const uint32_t s = sentinel(kInactive);
  while (st.scanned < limit && st.moved < max_victims) {
    const uint32_t page = links_[s].prev;
    ++st.scanned;
    unlink(page);
    if ((flags_[page] & kReferenced) != 0) {
      clear(page, kReferenced);
      link_head(kInactive, page);
      ++st.rotated;
      continue;
    }
    set(page, kIsolated);
    ++nr_isolated_;
    victims.push_back(page);
    ++st.moved;
  }
  return st;
}

bool PageLru::putback(uint64_t index) {
  if (index >= nr_pages_ || (flags_[index] & kIsolated) == 0) return false;
  clear(index, kIsolated);
  --nr_isolated_;
  link_head(kInactive, static_cast<uint32_t>(index));
  return true;
}

ScanStats PageLru::age(uint64_t max_deactivate, uint64_t max_scan) {
  ScanStats st;
  const uint64_t limit = std::min(max_scan, nr_active_);
  const uint32_t s = sentinel(kActive);
  while (st.scanned < limit && st.moved < max_deactivate) {
    const uint32_t page = links_[s].prev;
    ++st.scanned;
    unlink(page);
    if ((flags_[page] & kReferenced) != 0) {
      clear(page, kReferenced);
      link_head(kActive, page);
      ++st.rotated;
      continue;
    }
    link_head(kInactive, page);
    ++st.moved;
  }
  return st;
}

bool PageLru::set_sampled(uint64_t index) {
  if (index >= nr_pages_) return false;
  const uint8_t f = flags_[index];
  if ((f & (kInactive | kActive)) == 0 || (f & kSampled) != 0) return false;
  set(index, kSampled);
  ++nr_sampled_;
  return true;
}

bool PageLru::clear_sampled(uint64_t index) {
  if (!has(index, kSampled)) return false;
  clear(index, kSampled);
  --nr_sampled_;
  return true;
}

bool PageLru::set_seen(uint64_t index) {
  if (index >= nr_pages_) return false;
  const uint8_t f = flags_[index];
  if ((f & kListMask) == 0 || (f & kSeen) != 0) return false;
  set(index, kSeen);
  return true;
}

void PageLru::clear_seen(uint64_t index) {
  if (index < nr_pages_) clear(index, kSeen);
}

std::vector<uint64_t> PageLru::pages_on(LruList list) const {
  std::vector<uint64_t> out;
  if (list != LruList::inactive && list != LruList::active) return out;
  const uint32_t s = sentinel(list == LruList::inactive ? kInactive : kActive);
  for (uint32_t p = links_[s].next; p != s && out.size() <= nr_pages_; p = links_[p].next) out.push_back(p);
  return out;
}

Status PageLru::check_list(uint8_t list_flag, uint64_t expected) const {
  const char* name = list_flag == kInactive ? "inactive" : "active";
  const uint32_t s = sentinel(list_flag);
  uint64_t n = 0;
  uint32_t prev = s;
  for (uint32_t p = links_[s].next; p != s; p = links_[p].next) {
    if (p >= nr_pages_) return broken(log::strf("%s list links to %u, outside the guest", name, p));
    if (++n > expected) return broken(log::strf("%s list is longer than its count %llu (a loop?)", name, ull(expected)));
    if (links_[p].prev != prev) return broken(log::strf("page %u on the %s list: bad prev link", p, name));
    if ((flags_[p] & kListMask) != list_flag) {
      return broken(log::strf("page %u is on the %s list with list flags 0x%x", p, name, flags_[p] & kListMask));
    }
    prev = p;
  }
  if (links_[s].prev != prev) return broken(log::strf("%s list: the head's prev is not the tail", name));
  if (n != expected) return broken(log::strf("%s list has %llu pages, count says %llu", name, ull(n), ull(expected)));
  return ok();
}

Status PageLru::check_invariants() const {
  if (nr_pages_ == 0) return ok();
  TIDE_TRY(check_list(kInactive, nr_inactive_));
  TIDE_TRY(check_list(kActive, nr_active_));
  uint64_t inactive = 0, active = 0, isolated = 0, sampled = 0;
  for (uint64_t i = 0; i < nr_pages_; ++i) {
    const uint8_t f = flags_[i];
    const uint8_t l = static_cast<uint8_t>(f & kListMask);
    if (l == 0) {
      if (f != 0) return broken(log::strf("page %llu is not resident but has flags 0x%x", ull(i), f));
      continue;
    }
    if ((l & (l - 1)) != 0) return broken(log::strf("page %llu is on two lists (flags 0x%x)", ull(i), f));
    if ((f & kSampled) != 0) ++sampled;
    if (l == kInactive) ++inactive;
    if (l == kActive) ++active;
    if (l == kIsolated) ++isolated;
  }
  // The walks saw exactly `count` pages flagged for each list; equal flag counts mean no
  // flagged page is missing from its list.
  if (inactive != nr_inactive_ || active != nr_active_) {
    return broken(log::strf("flags say %llu inactive and %llu active pages, the lists hold %llu and %llu", ull(inactive),
                            ull(active), ull(nr_inactive_), ull(nr_active_)));
  }
  if (isolated != nr_isolated_) return broken(log::strf("%llu pages are isolated, count says %llu", ull(isolated), ull(nr_isolated_)));
  if (sampled != nr_sampled_) return broken(log::strf("%llu pages are sampled, count says %llu", ull(sampled), ull(nr_sampled_)));
  return ok();
}

}  // namespace tide::gmm::aging
