// Identity-map extension (see paging.hpp).
#include "arch/paging.hpp"

extern "C" uint64_t boot_pml4[];

namespace tg::arch {
namespace {

// Page-table entry bits (Intel SDM vol. 3, 4.5).
constexpr uint64_t PTE_P = 1ull << 0;
constexpr uint64_t PTE_RW = 1ull << 1;
constexpr uint64_t PTE_US = 1ull << 2;
constexpr uint64_t PTE_PWT = 1ull << 3;
constexpr uint64_t PTE_PCD = 1ull << 4;
constexpr uint64_t PTE_PS = 1ull << 7;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;
constexpr uint64_t kLargePage = 2ull << 20;
constexpr uint64_t kTableFlags = PTE_P | PTE_RW | PTE_US;

TablePageSource g_source = nullptr;
uint64_t g_pages_added = 0;

uint64_t* table_at(uint64_t entry) { return reinterpret_cast<uint64_t*>(entry & kAddressMask); }

uint64_t* new_table() {
  if (g_source == nullptr) return nullptr;
  uint64_t page = g_source();
  if (page == 0) return nullptr;
  ++g_pages_added;
  return reinterpret_cast<uint64_t*>(page);
}

}  // namespace

void set_table_page_source(TablePageSource source) { g_source = source; }

bool map_identity(uint64_t base, uint64_t size, Caching caching) {
  uint64_t leaf_flags = PTE_P | PTE_RW | PTE_US | PTE_PS;
  if (caching == Caching::kUncached) leaf_flags |= PTE_PCD | PTE_PWT;
  uint64_t address = base & ~(kLargePage - 1);
  const uint64_t end = base + size;
  while (address < end) {
    uint64_t& pml4e = boot_pml4[(address >> 39) & 511];
    if (!(pml4e & PTE_P)) {
      // An empty PDPT maps nothing, so linking it first is harmless.
      uint64_t* fresh = new_table();
      if (fresh == nullptr) return false;
      pml4e = reinterpret_cast<uint64_t>(fresh) | kTableFlags;
    }
    uint64_t& pdpte = table_at(pml4e)[(address >> 30) & 511];
    const bool linked = (pdpte & PTE_P) != 0;
    uint64_t* pd = linked ? table_at(pdpte) : new_table();
    if (pd == nullptr) return false;
    for (unsigned i = (address >> 21) & 511; i < 512 && address < end; ++i, address += kLargePage) {
      if (!(pd[i] & PTE_P)) pd[i] = address | leaf_flags;
    }
    // Link a new directory only once it is complete: on PVM the tables in use are
    // shadowed and every write to them traps, while a fresh one fills at native speed.
    if (!linked) pdpte = reinterpret_cast<uint64_t>(pd) | kTableFlags;
  }
  return true;
}

bool is_mapped(uint64_t address) {
  uint64_t e = boot_pml4[(address >> 39) & 511];
  if (!(e & PTE_P)) return false;
  e = table_at(e)[(address >> 30) & 511];
  if (!(e & PTE_P)) return false;
  if (e & PTE_PS) return true;
  e = table_at(e)[(address >> 21) & 511];
  return (e & PTE_P) != 0;
}

uint64_t page_table_pages_added() { return g_pages_added; }

}  // namespace tg::arch
