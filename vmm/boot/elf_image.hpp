// ElfImage: a parsed, validated ELF kernel ready to load — its PT_LOAD segments and the
// PVH entry point from its XEN_ELFNOTE_PHYS32_ENTRY note. Parsing is pure (bytes in,
// description out) so hostile files are unit-tested; load() copies into guest RAM.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/guest_memory.hpp"

namespace tide::vmm {

// Xen's public/elfnote.h: the 32-bit physical entry point of a PVH kernel.
inline constexpr uint32_t XEN_ELFNOTE_PHYS32_ENTRY = 18;

struct ElfSegment {
  uint64_t paddr = 0;
  uint64_t file_offset = 0;
  uint64_t file_size = 0;
  uint64_t mem_size = 0;
};

struct ElfImage {
  bool is_64bit = true;
  std::vector<ElfSegment> segments;
  std::optional<uint32_t> pvh_entry;
  uint64_t lowest_paddr = 0;
  uint64_t highest_paddr = 0;  // one past the last byte of the last segment
};

// Validates an ELF32/ELF64 x86 executable. Errors name the problem (not an ELF, wrong
// machine, segment outside the file, overflowing sizes...).
[[nodiscard]] Result<ElfImage> parse_elf(std::span<const std::byte> file);
// Copies the segments into guest RAM and zero-fills the rest of each (BSS). Every segment
// must lie in RAM.
[[nodiscard]] Status load_elf(const ElfImage& image, std::span<const std::byte> file,
                              const gmm::GuestMemory& memory);
// Reads a whole file (kernels, initrds), at most `max_bytes`.
[[nodiscard]] Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_bytes);

}  // namespace tide::vmm
