// tideguest's boot sequence, from the 64-bit jump in entry.S to the script. The part
// before pvm_enter_native() runs emulated on PVM and is kept to a few hundred
// instructions; everything after runs natively. Order matters: the memory map is read
// before anything allocates, ACPI is cached before the page allocator may hand out the
// pages holding its tables, and interrupts are enabled only once the IDT and LAPIC are up.
#include <cstdint>

#include "arch/cpu_tables.hpp"
#include "arch/interrupts.hpp"
#include "arch/lapic.hpp"
#include "arch/paging.hpp"
#include "arch/pvm.hpp"
#include "arch/x86.hpp"
#include "dev/acpi.hpp"
#include "dev/clock.hpp"
#include "dev/debug_exit.hpp"
#include "dev/serial.hpp"
#include "dev/wait.hpp"
#include "kernel/balloon_commands.hpp"
#include "kernel/boot_info.hpp"
#include "kernel/commands.hpp"
#include "kernel/script.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/buddy.hpp"
#include "mm/phys_map.hpp"

extern "C" {
extern uint64_t boot_entry_tsc;
extern char __kernel_start[], __kernel_end[];
using InitFunction = void (*)();
extern InitFunction __init_array_start[], __init_array_end[];
}

namespace tg {
namespace {

constexpr uint8_t kExitBadBoot = 0x7e;
constexpr uint64_t kLowMemoryEnd = 1ull << 20;  // legacy area: never allocated
constexpr uint64_t kMmioHoleBase = 3ull << 30;
constexpr uint64_t kMmioHoleSize = 1ull << 30;

uint64_t kernel_end() { return reinterpret_cast<uint64_t>(__kernel_end); }

uint64_t early_table_page() {
  uint64_t page = mm::phys_map().early_alloc(kernel_end(), 1);
  if (page != 0) memset(reinterpret_cast<void*>(page), 0, mm::kPageSize);
  return page;
}

uint64_t buddy_table_page() {
  uint64_t page = mm::alloc_pages(0);
  if (page != 0) memset(reinterpret_cast<void*>(page), 0, mm::kPageSize);
  return page;
}

[[noreturn]] void boot_failure(const char* what) {
  kprintf("tideguest: boot failed: %s\n", what);
  dev::debug_exit(kExitBadBoot);
}

void setup_memory(const BootInfo& bi) {
  mm::PhysMap& map = mm::phys_map();
  for (size_t i = 0; i < bi.memmap_count(); ++i) {
    const hvm_memmap_table_entry& e = bi.memmap(i);
    if (e.type == XEN_HVM_MEMMAP_TYPE_RAM) map.add_ram(e.addr, e.size);
  }
  map.reserve(0, kLowMemoryEnd);
  map.reserve(reinterpret_cast<uint64_t>(__kernel_start), kernel_end() - reinterpret_cast<uint64_t>(__kernel_start));
  for (size_t i = 0; i < bi.loader_extent_count(); ++i)
    map.reserve(bi.loader_extent(i).base, bi.loader_extent(i).size);

  // entry.S mapped the first 1 GiB; now all RAM (write-back) and the MMIO hole below
  // 4 GiB (uncached: LAPIC, IOAPIC, ECAM, BARs).
  arch::set_table_page_source(early_table_page);
  for (size_t i = 0; i < map.ram_count(); ++i) {
    if (!arch::map_identity(map.ram(i).base, map.ram(i).size(), arch::Caching::kWriteBack))
      boot_failure("no memory for page tables");
  }
  if (!arch::map_identity(kMmioHoleBase, kMmioHoleSize, arch::Caching::kUncached))
    boot_failure("no memory for page tables");

  dev::acpi_init(bi.rsdp_paddr());

  if (!mm::page_allocator().init(map, kernel_end())) boot_failure("no memory for page metadata");
  arch::set_table_page_source(buddy_table_page);
}

}  // namespace

extern "C" [[noreturn]] void tg_kernel_main(uint32_t start_info_paddr) {
  arch::init_cpu_tables_early();
  arch::pvm_enter_native();
  const uint64_t native_tsc = arch::rdtsc();
  // Native from here on (on PVM); the rest of the IDT first, so faults get a dump.
  arch::init_idt();
  for (InitFunction* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  dev::serial_init();

  BootInfo& bi = boot_info();
  const char* error = nullptr;
  if (!bi.parse(start_info_paddr, &error)) boot_failure(error);
  dev::clock_init();
  setup_memory(bi);
  dev::wait_init();
  arch::lapic_init(find_parameter(bi.cmdline(), "tide.apic") == lib::Text("xapic"));
  arch::irq_enable();

  const uint64_t init_done_tsc = arch::rdtsc();
  // One short line: on PVM every console byte is a VM exit (~50 us under QEMU), and the
  // boot log is on the way to TIDEGUEST READY. `info` has the details.
  kprintf("tideguest: %s %s %luMiB\n", arch::on_pvm() ? "pvm" : "nopvm", dev::clock_source_name(),
          mm::phys_map().ram_bytes() >> 20);
  kprintf("TIDEGUEST READY\n");
  BootFacts& facts = boot_facts();
  facts.boot_us = dev::tsc_delta_to_ns(arch::rdtsc() - boot_entry_tsc) / 1000;
  facts.native_entry_us = dev::tsc_delta_to_ns(native_tsc - boot_entry_tsc) / 1000;
  facts.init_us = dev::tsc_delta_to_ns(init_done_tsc - boot_entry_tsc) / 1000;
  // After the boot line: probing PCI costs configuration-space exits.
  balloon_boot(bi.cmdline());

  run_script(find_script(bi.cmdline()));
}

}  // namespace tg
