#include "vmm/boot/elf_image.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>

#include "guestmm/base/log.hpp"

namespace tide::vmm {
namespace {

Error bad_elf(const std::string& why) { return make_error(std::errc::invalid_argument, "bad ELF kernel: " + why); }

template <class T>
bool read_at(std::span<const std::byte> file, uint64_t offset, T* out) {
  if (offset > file.size() || sizeof(T) > file.size() - offset) return false;
  std::memcpy(out, file.data() + offset, sizeof(T));
  return true;
}

// Walks one note area; sets `entry` if it holds XEN_ELFNOTE_PHYS32_ENTRY.
Status scan_notes(std::span<const std::byte> file, uint64_t offset, uint64_t size, std::optional<uint32_t>* entry) {
  if (offset > file.size() || size > file.size() - offset) return bad_elf("note segment outside the file");
  uint64_t pos = offset, end = offset + size;
  while (end - pos >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr nh{};  // identical layout to Elf32_Nhdr
    read_at(file, pos, &nh);
    uint64_t name_at = pos + sizeof nh;
    uint64_t desc_at = name_at + ((uint64_t{nh.n_namesz} + 3) & ~uint64_t{3});
    uint64_t next = desc_at + ((uint64_t{nh.n_descsz} + 3) & ~uint64_t{3});
    if (next > end) return bad_elf("truncated note");
    if (nh.n_namesz == 4 && std::memcmp(file.data() + name_at, "Xen", 4) == 0 &&
        nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY) {
      if (nh.n_descsz != 4 && nh.n_descsz != 8) return bad_elf("PVH entry note has a bad size");
      uint32_t e = 0;
      read_at(file, desc_at, &e);
      *entry = e;
    }
    pos = next;
  }
  return ok();
}

template <class Ehdr, class Phdr>
Result<ElfImage> parse_class(std::span<const std::byte> file, bool is64) {
  Ehdr eh{};
  if (!read_at(file, 0, &eh)) return bad_elf("file too small");
  uint16_t want_machine = is64 ? EM_X86_64 : EM_386;
  if (eh.e_machine != want_machine) return bad_elf("not an x86 kernel");
  if (eh.e_type != ET_EXEC) return bad_elf("not an executable");
  if (eh.e_phentsize != sizeof(Phdr)) return bad_elf("unexpected program header size");
  if (eh.e_phnum == 0 || eh.e_phnum > 128) return bad_elf("bad program header count");
  ElfImage img;
  img.is_64bit = is64;
  img.lowest_paddr = UINT64_MAX;
  for (uint32_t i = 0; i < eh.e_phnum; ++i) {
    Phdr ph{};
    if (!read_at(file, uint64_t{eh.e_phoff} + uint64_t{i} * sizeof(Phdr), &ph)) {
      return bad_elf("program headers outside the file");
    }
    if (ph.p_type == PT_NOTE) {
      TIDE_TRY(scan_notes(file, ph.p_offset, ph.p_filesz, &img.pvh_entry));
      continue;
    }
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz) return bad_elf("segment file size exceeds its memory size");
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) {
      return bad_elf("segment outside the file");
    }
    if (uint64_t{ph.p_paddr} + ph.p_memsz < ph.p_paddr) return bad_elf("segment address overflows");
    img.segments.push_back(ElfSegment{ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz});
    img.lowest_paddr = std::min<uint64_t>(img.lowest_paddr, ph.p_paddr);
    img.highest_paddr = std::max<uint64_t>(img.highest_paddr, uint64_t{ph.p_paddr} + ph.p_memsz);
  }
  if (img.segments.empty()) return bad_elf("no loadable segments");
  return img;
}

}  // namespace

Result<ElfImage> parse_elf(std::span<const std::byte> file) {
  unsigned char ident[EI_NIDENT] = {};
  if (!read_at(file, 0, &ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return bad_elf("not an ELF file (a bzImage or compressed kernel needs its vmlinux extracted)");
  }
  if (ident[EI_DATA] != ELFDATA2LSB) return bad_elf("not little-endian");
  if (ident[EI_CLASS] == ELFCLASS64) return parse_class<Elf64_Ehdr, Elf64_Phdr>(file, true);
  if (ident[EI_CLASS] == ELFCLASS32) return parse_class<Elf32_Ehdr, Elf32_Phdr>(file, false);
  return bad_elf("unknown ELF class");
}

Status load_elf(const ElfImage& image, std::span<const std::byte> file, const gmm::GuestMemory& memory) {
  for (const ElfSegment& s : image.segments) {
    if (!memory.contains(gmm::Gpa(s.paddr), s.mem_size)) {
      return make_error(std::errc::no_buffer_space,
                        log::strf("kernel segment at 0x%llx (%llu KiB) does not fit in guest RAM",
                                  static_cast<unsigned long long>(s.paddr),
                                  static_cast<unsigned long long>(s.mem_size >> 10)));
    }
    TIDE_TRY(memory.write(gmm::Gpa(s.paddr), file.subspan(s.file_offset, s.file_size)));
    uint64_t bss = s.mem_size - s.file_size;
    if (bss) {
      TIDE_TRY_ASSIGN(dst, memory.host_range(gmm::Gpa(s.paddr + s.file_size), bss));
      std::memset(dst.data(), 0, dst.size());
    }
  }
  return ok();
}

Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return errno_error("open " + path);
  auto size = static_cast<uint64_t>(in.tellg());
  if (size > max_bytes) {
    return make_error(std::errc::file_too_large, log::strf("%s is %llu MiB, more than the %llu MiB allowed",
                      path.c_str(), static_cast<unsigned long long>(size >> 20),
                      static_cast<unsigned long long>(max_bytes >> 20)));
  }
  std::vector<std::byte> data(size);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(size))) {
    return make_error(std::errc::io_error, "read " + path);
  }
  return data;
}

}  // namespace tide::vmm
