#include "guestmm/memcg/memcg_limits.hpp"

#include <cctype>

#include "guestmm/base/log.hpp"

namespace tide::gmm::memcg {

namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

const char* limit_name(Limit limit) {
  switch (limit) {
    case Limit::max: return "max";
    case Limit::high: return "high";
    case Limit::low: return "low";
    case Limit::min: return "min";
    case Limit::swap_max: return "swap.max";
  }
  return "?";
}

uint64_t MemcgSettings::get(Limit limit) const {
  switch (limit) {
    case Limit::max: return max;
    case Limit::high: return high;
    case Limit::low: return low;
    case Limit::min: return min;
    case Limit::swap_max: return swap_max;
  }
  return 0;
}

void MemcgSettings::set(Limit limit, uint64_t pages) {
  switch (limit) {
    case Limit::max: max = pages; return;
    case Limit::high: high = pages; return;
    case Limit::low: low = pages; return;
    case Limit::min: min = pages; return;
    case Limit::swap_max: swap_max = pages; return;
  }
}

Status validate_limit(NodeKind kind, Limit limit, uint64_t pages) {
  if (pages > kMaxPages) {
    return make_error(std::errc::invalid_argument,
                      log::strf("memory.%s: %llu pages is above the largest amount (%llu pages); use 'max' for no limit",
                                limit_name(limit), ull(pages), ull(kMaxPages)));
  }
  if (kind == NodeKind::root && (limit == Limit::low || limit == Limit::min) && pages != 0) {
    return make_error(std::errc::invalid_argument,
                      log::strf("memory.%s: the root cannot be protected (protection is shared out among "
                                "its children); set it on a group or guest",
                                limit_name(limit)));
  }
  return ok();
}

Result<uint64_t> limit_pages_from_bytes(uint64_t bytes) {
  if (bytes == UINT64_MAX) return kUnlimited;
  if (!page_aligned(bytes)) {
    return make_error(std::errc::invalid_argument,
                      log::strf("%llu bytes is not a whole number of 4 KiB pages (%llu or %llu would be)", ull(bytes),
                                ull(align_down(bytes, kPageSize)), ull(align_down(bytes, kPageSize) + kPageSize)));
  }
  return bytes >> kPageShift;
}

uint64_t limit_bytes_from_pages(uint64_t pages) {
  if (pages >= kUnlimited) return UINT64_MAX;
  return pages << kPageShift;
}

Result<uint64_t> parse_limit(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  const std::string shown(text);
  if (text == "max") return kUnlimited;
  auto bad = [&] {
    return make_error(std::errc::invalid_argument,
                      "'" + shown + "' is not a memory amount (bytes with an optional K/M/G/T suffix, or 'max')");
  };
  if (text.empty()) return bad();
  unsigned shift = 0;
  switch (std::toupper(static_cast<unsigned char>(text.back()))) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: break;
  }
  if (shift != 0) text.remove_suffix(1);
  if (text.empty()) return bad();
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return bad();
    value = value * 10 + digit;
  }
  if (shift != 0 && value > (UINT64_MAX >> shift)) {
    return make_error(std::errc::invalid_argument, "'" + shown + "' is too large; use 'max' for no limit");
  }
  const uint64_t bytes = value << shift;
  if (bytes == UINT64_MAX) return bad();  // only the word "max" means no limit
  auto pages = limit_pages_from_bytes(bytes);
  if (!pages) return prefixed(pages.error(), "'" + shown + "'");
  return *pages;  // at most kMaxPages: any whole-page 64-bit byte count is
}

std::string format_limit(uint64_t pages) {
  if (pages >= kUnlimited) return "max";
  return std::to_string(pages << kPageShift);
}

}  // namespace tide::gmm::memcg
