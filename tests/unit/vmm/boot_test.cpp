// Unit: the pure parts of booting — ELF/PVH-note parsing against well-formed and hostile
// files, the PVH memory map, start info, and ACPI tables (checksums and pointers).
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "vmm/boot/acpi.hpp"
#include "vmm/boot/elf_image.hpp"
#include "vmm/boot/pvh.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {
namespace {

// Builds a minimal ELF64 executable: one PT_LOAD of `code` at `paddr`, optionally a
// PT_NOTE holding the Xen PVH entry note.
std::vector<std::byte> make_elf(uint64_t paddr, size_t code_size, uint64_t memsz, bool with_note, uint32_t entry) {
  std::vector<std::byte> f(0x1000 + code_size);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = with_note ? 2 : 1;
  eh.e_ehsize = sizeof eh;
  std::memcpy(f.data(), &eh, sizeof eh);
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0x1000;
  load.p_paddr = paddr;
  load.p_filesz = code_size;
  load.p_memsz = memsz;
  std::memcpy(f.data() + sizeof eh, &load, sizeof load);
  if (with_note) {
    const uint64_t note_at = 0x200;
    Elf64_Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = note_at;
    note.p_filesz = 12 + 4 + 4;
    std::memcpy(f.data() + sizeof eh + sizeof load, &note, sizeof note);
    uint32_t nh[3] = {4, 4, XEN_ELFNOTE_PHYS32_ENTRY};
    std::memcpy(f.data() + note_at, nh, sizeof nh);
    std::memcpy(f.data() + note_at + 12, "Xen", 4);
    std::memcpy(f.data() + note_at + 16, &entry, 4);
  }
  for (size_t i = 0; i < code_size; ++i) f[0x1000 + i] = std::byte{0x90};
  return f;
}

TEST(ElfImage, ParsesSegmentsAndPvhEntry) {
  auto f = make_elf(0x100000, 64, 0x2000, true, 0x100010);
  auto img = parse_elf(f);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_TRUE(img->is_64bit);
  ASSERT_EQ(img->segments.size(), 1u);
  EXPECT_EQ(img->segments[0].paddr, 0x100000u);
  EXPECT_EQ(img->segments[0].mem_size, 0x2000u);
  ASSERT_TRUE(img->pvh_entry);
  EXPECT_EQ(*img->pvh_entry, 0x100010u);
  EXPECT_EQ(img->highest_paddr, 0x102000u);
}

TEST(ElfImage, MissingNoteIsReported) {
  auto img = parse_elf(make_elf(0x100000, 64, 64, false, 0));
  ASSERT_TRUE(img);
  EXPECT_FALSE(img->pvh_entry);
}

TEST(ElfImage, RejectsHostileFiles) {
  std::vector<std::byte> not_elf(100, std::byte{'x'});
  EXPECT_FALSE(parse_elf(not_elf));
  EXPECT_FALSE(parse_elf({}));
  auto trunc = make_elf(0x100000, 64, 64, true, 1);
  trunc.resize(0x40);  // program headers cut off
  EXPECT_FALSE(parse_elf(trunc));
  auto big = make_elf(0x100000, 64, 64, true, 1);
  auto* ph = reinterpret_cast<Elf64_Phdr*>(big.data() + sizeof(Elf64_Ehdr));
  ph->p_filesz = 1ull << 40;  // segment beyond the end of the file
  EXPECT_FALSE(parse_elf(big));
  auto wrap = make_elf(0x100000, 64, 64, true, 1);
  ph = reinterpret_cast<Elf64_Phdr*>(wrap.data() + sizeof(Elf64_Ehdr));
  ph->p_paddr = ~0ull - 8;  // address + size overflows
  EXPECT_FALSE(parse_elf(wrap));
  auto fs = make_elf(0x100000, 64, 32, true, 1);  // file size larger than memory size
  EXPECT_FALSE(parse_elf(fs));
  auto note = make_elf(0x100000, 64, 64, true, 1);
  uint32_t huge = 0x7fffffff;
  std::memcpy(note.data() + 0x200 + 4, &huge, 4);  // descsz runs past the note segment
  EXPECT_FALSE(parse_elf(note));
  auto machine = make_elf(0x100000, 64, 64, true, 1);
  reinterpret_cast<Elf64_Ehdr*>(machine.data())->e_machine = EM_AARCH64;
  EXPECT_FALSE(parse_elf(machine));
}

TEST(ElfImage, LoadZeroFillsBssAndChecksBounds) {
  std::vector<std::byte> ram(4 << 20, std::byte{0xee});
  gmm::GuestMemory mem({gmm::MemoryRegion{gmm::Gpa(0), ram.size(), ram.data()}});
  auto f = make_elf(0x100000, 16, 0x1000, true, 1);
  auto img = parse_elf(f);
  ASSERT_TRUE(img);
  ASSERT_TRUE(load_elf(*img, f, mem));
  EXPECT_EQ(ram[0x100000], std::byte{0x90});
  EXPECT_EQ(ram[0x100010], std::byte{0});
  EXPECT_EQ(ram[0x100fff], std::byte{0});
  EXPECT_EQ(ram[0x101000], std::byte{0xee});
  auto outside = make_elf(0x3ff000, 16, 0x2000, true, 1);
  auto img2 = parse_elf(outside);
  ASSERT_TRUE(img2);
  EXPECT_FALSE(load_elf(*img2, outside, mem));
}

TEST(PvhMemmap, LowRamOnly) {
  auto map = build_memmap(layout::ram_ranges(512 * layout::kMiB));
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[0].addr, 0u);
  EXPECT_EQ(map[0].size, layout::kEbdaStart);
  EXPECT_EQ(map[0].type, XEN_HVM_MEMMAP_TYPE_RAM);
  EXPECT_EQ(map[1].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
  EXPECT_EQ(map[2].addr, layout::kHighMemoryStart);
  EXPECT_EQ(map[2].size, 512 * layout::kMiB - layout::kHighMemoryStart);
  EXPECT_EQ(map[3].addr, layout::kEcamBase);
  EXPECT_EQ(map[3].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
}

TEST(PvhMemmap, RamAboveFourGiB) {
  auto ranges = layout::ram_ranges(4 * layout::kGiB);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[1].base.value(), 4 * layout::kGiB);
  EXPECT_EQ(ranges[1].size_bytes, 1 * layout::kGiB);
  auto map = build_memmap(ranges);
  uint64_t ram = 0;
  for (auto& e : map) {
    if (e.type == XEN_HVM_MEMMAP_TYPE_RAM) ram += e.size;
  }
  EXPECT_EQ(ram, 4 * layout::kGiB - (layout::kHighMemoryStart - layout::kEbdaStart));
  EXPECT_EQ(map.back().addr, 4 * layout::kGiB);
}

TEST(PvhStartInfo, WritesStartInfoCmdlineAndModules) {
  std::vector<std::byte> ram(1 << 20);
  gmm::GuestMemory mem({gmm::MemoryRegion{gmm::Gpa(0), ram.size(), ram.data()}});
  PvhBootInfo info;
  info.cmdline = "console=ttyS0 tide.run=\"exit 0\"";
  info.ram = layout::ram_ranges(64 * layout::kMiB);
  info.modules.push_back(PvhModule{0x3000000, 12345});
  info.rsdp_paddr = layout::kAcpiBase;
  ASSERT_TRUE(write_pvh_start_info(mem, info));
  auto si = mem.read_obj<HvmStartInfo>(gmm::Gpa(layout::kStartInfo));
  ASSERT_TRUE(si);
  EXPECT_EQ(si->magic, XEN_HVM_START_MAGIC_VALUE);
  EXPECT_EQ(si->version, 1u);
  EXPECT_EQ(si->nr_modules, 1u);
  EXPECT_EQ(si->rsdp_paddr, layout::kAcpiBase);
  EXPECT_EQ(si->memmap_entries, 4u);
  auto mod = mem.read_obj<HvmModlistEntry>(gmm::Gpa(si->modlist_paddr));
  ASSERT_TRUE(mod);
  EXPECT_EQ(mod->paddr, 0x3000000u);
  EXPECT_EQ(mod->size, 12345u);
  EXPECT_EQ(std::memcmp(ram.data() + si->cmdline_paddr, info.cmdline.c_str(), info.cmdline.size() + 1), 0);
  info.cmdline.assign(layout::kCmdlineMax, 'x');
  EXPECT_FALSE(write_pvh_start_info(mem, info));
}

uint8_t sum(const std::vector<std::byte>& b, size_t at, size_t len) {
  uint8_t s = 0;
  for (size_t i = 0; i < len; ++i) s = static_cast<uint8_t>(s + static_cast<uint8_t>(b[at + i]));
  return s;
}

TEST(Acpi, TablesAreLinkedAndChecksummed) {
  const uint64_t base = 0xE0000;
  AcpiConfig c{3, 0xE0000000, 255, 0xFEC00000, 0xFEE00000};
  auto t = build_acpi_tables(base, c);
  ASSERT_EQ(std::memcmp(t.data(), "RSD PTR ", 8), 0);
  EXPECT_EQ(sum(t, 0, 20), 0);
  EXPECT_EQ(sum(t, 0, 36), 0);
  uint64_t xsdt = 0;
  std::memcpy(&xsdt, t.data() + 24, 8);
  size_t x = xsdt - base;
  ASSERT_EQ(std::memcmp(t.data() + x, "XSDT", 4), 0);
  uint32_t xlen = 0;
  std::memcpy(&xlen, t.data() + x + 4, 4);
  EXPECT_EQ(sum(t, x, xlen), 0);
  std::vector<std::string> sigs;
  for (size_t p = x + 36; p < x + xlen; p += 8) {
    uint64_t a = 0;
    std::memcpy(&a, t.data() + p, 8);
    size_t off = a - base;
    uint32_t len = 0;
    std::memcpy(&len, t.data() + off + 4, 4);
    EXPECT_EQ(sum(t, off, len), 0);
    sigs.emplace_back(reinterpret_cast<const char*>(t.data() + off), 4);
    if (sigs.back() == "MCFG") {
      uint64_t ecam = 0;
      std::memcpy(&ecam, t.data() + off + 44, 8);
      EXPECT_EQ(ecam, 0xE0000000u);
      EXPECT_EQ(static_cast<uint8_t>(t[off + 55]), 255);
    }
    if (sigs.back() == "APIC") {
      EXPECT_EQ(len, 44u + 3 * 8 + 12);  // three LAPICs and one IOAPIC
    }
    if (sigs.back() == "FACP") {
      EXPECT_EQ(len, 276u);
    }
  }
  EXPECT_EQ(sigs, (std::vector<std::string>{"FACP", "APIC", "MCFG"}));
}

}  // namespace
}  // namespace tide::vmm
