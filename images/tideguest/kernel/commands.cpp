// Implementations of the script commands (see commands.hpp).
#include "kernel/commands.hpp"

#include "arch/lapic.hpp"
#include "arch/pvm.hpp"
#include "dev/acpi.hpp"
#include "dev/clock.hpp"
#include "dev/debug_exit.hpp"
#include "dev/pci.hpp"
#include "dev/serial.hpp"
#include "dev/wait.hpp"
#include "kernel/balloon_commands.hpp"
#include "kernel/boot_info.hpp"
#include "kernel/memcache.hpp"
#include "kernel/memfill.hpp"
#include "kernel/memtouch.hpp"
#include "kernel/memws.hpp"
#include "lib/format.hpp"
#include "mm/buddy.hpp"
#include "mm/page_cache.hpp"
#include "virtio/virtio_rng.hpp"

namespace tg {
namespace {

using lib::Text;

BootFacts g_boot_facts;

void print_text(Text t) { kprintf("%.*s", static_cast<int>(t.size()), t.data()); }

CommandResult fail(const char* command, const char* reason) {
  kprintf("tideguest: %s: %s\n", command, reason);
  return CommandResult::kFailed;
}

const char* memmap_type_name(uint32_t type) {
  switch (type) {
    case 1: return "ram";
    case 2: return "reserved";
    case 3: return "acpi";
    case 4: return "nvs";
    case 5: return "unusable";
    case 7: return "pmem";
    default: return "other";
  }
}

CommandResult cmd_info() {
  const BootInfo& bi = boot_info();
  const dev::AcpiSummary& acpi = dev::acpi();
  const mm::BuddyAllocator& pages = mm::page_allocator();
  kprintf("info: pvm=%s mode=%s pvm_features=0x%lx vmm=%s wait_port=%s\n",
          arch::on_pvm() ? "yes" : "no", arch::on_pvm() ? "native-vif" : "native",
          arch::pvm_features(), dev::wait_port_present() ? "tide" : "other",
          dev::wait_port_present() ? "yes" : "no");
  kprintf("info: clock=%s tsc_khz=%lu\n", dev::clock_source_name(), dev::tsc_khz());
  kprintf("info: cpus=%u apic=%s apic_id=%u\n", acpi.cpu_count == 0 ? 1u : acpi.cpu_count,
          arch::lapic_mode_name(), arch::lapic_id());
  for (size_t i = 0; i < bi.memmap_count(); ++i) {
    const hvm_memmap_table_entry& e = bi.memmap(i);
    if (e.size == 0) continue;
    kprintf("info: memmap 0x%012lx-0x%012lx %s\n", e.addr, e.addr + e.size - 1,
            memmap_type_name(e.type));
  }
  const uint64_t free_pages = pages.free_page_count();
  const uint64_t cache_pages = mm::page_cache().page_count();
  kprintf("info: ram=%luMiB managed_pages=%lu free_pages=%lu free=%luMiB kept=%luMiB "
          "cache_pages=%lu cache=%luMiB\n",
          mm::phys_map().ram_bytes() >> 20, pages.managed_page_count(), free_pages,
          free_pages >> 8, (memtouch_kept_bytes() + memws_kept_bytes()) >> 20, cache_pages,
          cache_pages >> 8);
  kprintf("info: acpi=%s rsdp=0x%lx mcfg=%s ecam=0x%lx tables=", acpi.found ? "yes" : "no",
          acpi.rsdp, acpi.has_mcfg ? "yes" : "no",
          acpi.has_mcfg ? acpi.ecam_base : dev::pci_ecam_base());
  for (size_t i = 0; i < acpi.table_count; ++i) kprintf("%s%s", i ? "," : "", acpi.tables[i]);
  kprintf("\n");
  kprintf("info: boot_us=%lu init_us=%lu emulated_us=%lu modules=%zu cmdline=\"%s\"\n",
          g_boot_facts.boot_us, g_boot_facts.init_us, g_boot_facts.native_entry_us,
          bi.module_count(), bi.cmdline());
  balloon_info_line();
  return CommandResult::kOk;
}

CommandResult cmd_pci() {
  dev::pci_init();
  for (size_t i = 0; i < dev::pci_function_count(); ++i) {
    const dev::PciFunction& f = dev::pci_function(i);
    kprintf("pci %02x:%02x.%x %04x:%04x class %02x\n", f.bus, f.device, f.function, f.vendor_id,
            f.device_id, f.class_code);
    if (!f.is_endpoint()) continue;  // bridges: no BAR listing
    for (unsigned b = 0; b < 6; ++b) {
      dev::PciBar bar = dev::pci_read_bar(f, b, true);
      if (bar.present) {
        kprintf("  bar%u %s%s 0x%lx size 0x%lx%s\n", b, bar.io ? "io" : (bar.is64 ? "mem64" : "mem32"),
                bar.prefetchable ? " pref" : "", bar.base, bar.size,
                bar.base == 0 ? " (unassigned)" : "");
      }
      if (bar.is64) ++b;
    }
  }
  return CommandResult::kOk;
}

CommandResult cmd_rng(Text args) {
  uint64_t count = 0;
  if (!args.take_word().parse_u64(&count)) return fail("rng", "usage: rng N (bytes)");
  virtio::VirtioRng& rng = virtio::virtio_rng();
  const char* error = nullptr;
  if (!rng.init(&error)) return fail("rng", error);
  static uint8_t chunk[4096];
  uint8_t first[16] = {};
  size_t first_count = 0;
  for (uint64_t done = 0; done < count;) {
    size_t want = count - done > sizeof(chunk) ? sizeof(chunk) : static_cast<size_t>(count - done);
    size_t got = 0;
    if (!rng.read(chunk, want, &got, &error)) return fail("rng", error);
    for (size_t i = 0; i < got && first_count < sizeof(first); ++i) first[first_count++] = chunk[i];
    done += got;
  }
  kprintf("rng: %lu bytes from virtio-rng (irqs=%lu) first=", count, rng.interrupt_count());
  for (size_t i = 0; i < first_count; ++i) kprintf("%02x", first[i]);
  kprintf("\n");
  return CommandResult::kOk;
}

CommandResult cmd_memtouch(Text args) {
  MemtouchOptions options;
  if (!args.take_word().parse_size(&options.size_bytes) || options.size_bytes == 0)
    return fail("memtouch", "usage: memtouch SIZE[K|M|G] [seq|rand] [PASSES] [keep]");
  for (Text word = args.take_word(); !word.empty(); word = args.take_word()) {
    uint64_t passes = 0;
    if (word == Text("seq")) options.random = false;
    else if (word == Text("rand")) options.random = true;
    else if (word == Text("keep")) options.keep = true;
    else if (word.parse_u64(&passes) && passes >= 1 && passes <= 1000000)
      options.passes = static_cast<unsigned>(passes);
    else return fail("memtouch", "usage: memtouch SIZE[K|M|G] [seq|rand] [PASSES] [keep]");
  }
  const char* error = nullptr;
  if (!memtouch(options, &error)) return fail("memtouch", error);
  return CommandResult::kOk;
}

CommandResult cmd_memws(Text args) {
  constexpr const char* kUsage = "usage: memws TOTAL[K|M|G] WS[K|M|G] PASSES [keep]";
  MemwsOptions options;
  uint64_t passes = 0;
  if (!args.take_word().parse_size(&options.total_bytes) || !args.take_word().parse_size(&options.ws_bytes) ||
      !args.take_word().parse_u64(&passes) || passes < 1 || passes > 100000)
    return fail("memws", kUsage);
  options.passes = static_cast<unsigned>(passes);
  Text word = args.take_word();
  if (word == Text("keep")) options.keep = true;
  else if (!word.empty()) return fail("memws", kUsage);
  if (!args.take_word().empty()) return fail("memws", kUsage);
  const char* error = nullptr;
  if (!memws(options, &error)) return fail("memws", error);
  return CommandResult::kOk;
}

CommandResult cmd_memcache(Text args) {
  constexpr const char* kUsage = "usage: memcache [SIZE[K|M|G] | info | verify | drop]";
  Text word = args.take_word();
  if (!args.take_word().empty()) return fail("memcache", kUsage);
  const char* error = nullptr;
  if (word.empty() || word == Text("info")) {
    memcache_info();
  } else if (word == Text("drop")) {
    memcache_drop();
  } else if (word == Text("verify")) {
    if (!memcache_verify(&error)) return fail("memcache", error);
  } else {
    uint64_t size = 0;
    if (!word.parse_size(&size) || size == 0) return fail("memcache", kUsage);
    if (!memcache_add(size, &error)) return fail("memcache", error);
  }
  return CommandResult::kOk;
}

CommandResult cmd_memfill(Text args) {
  constexpr const char* kUsage = "usage: memfill SIZE[K|M|G] [SEED]";
  uint64_t size_bytes = 0;
  uint64_t seed = 1;
  if (!args.take_word().parse_size(&size_bytes) || size_bytes == 0) return fail("memfill", kUsage);
  Text word = args.take_word();
  if ((!word.empty() && !word.parse_u64(&seed)) || !args.take_word().empty())
    return fail("memfill", kUsage);
  const char* error = nullptr;
  if (!memfill(size_bytes, seed, &error)) return fail("memfill", error);
  return CommandResult::kOk;
}

// STRIDE (>= 1), the first argument of hookrelease and memzap.
bool parse_stride(Text* args, uint64_t* stride) {
  return args->take_word().parse_u64(stride) && *stride >= 1;
}

CommandResult cmd_hookrelease(Text args) {
  constexpr const char* kUsage = "usage: hookrelease STRIDE [COUNT] (pages, >= 1)";
  uint64_t stride = 0;
  uint64_t max_request_pages = 0;
  if (!parse_stride(&args, &stride)) return fail("hookrelease", kUsage);
  Text word = args.take_word();
  if ((!word.empty() && (!word.parse_u64(&max_request_pages) || max_request_pages == 0)) ||
      !args.take_word().empty())
    return fail("hookrelease", kUsage);
  const char* error = nullptr;
  if (!hookrelease(stride, max_request_pages, &error)) return fail("hookrelease", error);
  return CommandResult::kOk;
}

// Self-test of memverify's accounting: zeroes what `hookrelease STRIDE` would release.
CommandResult cmd_memzap(Text args) {
  constexpr const char* kUsage = "usage: memzap STRIDE [nomark]";
  uint64_t stride = 0;
  if (!parse_stride(&args, &stride)) return fail("memzap", kUsage);
  Text word = args.take_word();
  if ((!word.empty() && !(word == Text("nomark"))) || !args.take_word().empty())
    return fail("memzap", kUsage);
  const char* error = nullptr;
  if (!memzap(stride, word.empty(), &error)) return fail("memzap", error);
  return CommandResult::kOk;
}

CommandResult cmd_memverify(Text args) {
  Text word = args.take_word();
  if ((!word.empty() && !(word == Text("nowrite"))) || !args.take_word().empty())
    return fail("memverify", "usage: memverify [nowrite]");
  const char* error = nullptr;
  if (!memverify(word.empty(), &error)) return fail("memverify", error);
  return CommandResult::kOk;
}

CommandResult cmd_memfree() {
  const char* error = nullptr;
  if (!memfree(&error)) return fail("memfree", error);
  return CommandResult::kOk;
}

CommandResult cmd_sleep(Text args) {
  uint64_t ms = 0;
  if (!args.take_word().parse_u64(&ms)) return fail("sleep", "usage: sleep MS");
  dev::sleep_us(ms * 1000);
  return CommandResult::kOk;
}

// Reads one line typed at the console (up to 255 bytes, ended by CR or LF) and echoes it
// as "read: LINE": proves console input end to end.
CommandResult cmd_read() {
  char line[256];
  size_t n = 0;
  for (;;) {
    char c = 0;
    if (!dev::serial_try_getc(&c)) {
      const uint64_t due_us = dev::run_idle_hook();  // a service point while idle
      dev::wait_us(due_us < 1000 ? static_cast<uint32_t>(due_us) : 1000);
      continue;
    }
    if (c == '\n' || c == '\r') break;
    if (n + 1 < sizeof line) line[n++] = c;
  }
  line[n] = '\0';
  kprintf("read: %s\n", line);
  return CommandResult::kOk;
}

CommandResult cmd_mmcheck() {
  const char* problem = nullptr;
  const mm::BuddyAllocator& pages = mm::page_allocator();
  if (!pages.check_invariants(&problem)) return fail("mmcheck", problem);
  kprintf("mmcheck: ok free_pages=%lu blocks=", pages.free_page_count());
  for (unsigned order = 0; order <= mm::kMaxOrder; ++order)
    kprintf("%s%lu", order ? "," : "", pages.free_block_count(order));
  kprintf("\n");
  return CommandResult::kOk;
}

}  // namespace

BootFacts& boot_facts() { return g_boot_facts; }

CommandResult run_command(Text command) {
  Text args = command;
  Text name = args.take_word();
  if (name == Text("echo")) {
    print_text(args);
    kprintf("\n");
    return CommandResult::kOk;
  }
  if (name == Text("info")) return cmd_info();
  if (name == Text("pci")) return cmd_pci();
  if (name == Text("rng")) return cmd_rng(args);
  if (name == Text("memtouch")) return cmd_memtouch(args);
  if (name == Text("memws")) return cmd_memws(args);
  if (name == Text("memcache")) return cmd_memcache(args);
  if (name == Text("memfill")) return cmd_memfill(args);
  if (name == Text("hookrelease")) return cmd_hookrelease(args);
  if (name == Text("memzap")) return cmd_memzap(args);
  if (name == Text("memverify")) return cmd_memverify(args);
  if (name == Text("memfree")) return cmd_memfree();
  if (name == Text("sleep")) return cmd_sleep(args);
  if (name == Text("mmcheck")) return cmd_mmcheck();
  if (name == Text("read")) return cmd_read();
  if (name == Text("balloon")) return cmd_balloon(args);
  if (name == Text("serve")) return cmd_serve(args);
  if (name == Text("memhold")) return cmd_memhold(args);
  if (name == Text("memdrop")) return cmd_memdrop(args);
  if (name == Text("memfrag")) return cmd_memfrag(args);
  if (name == Text("fault")) {
    // Test hook for the exception path: a read far above any mapping (#PF, exit 0x7f).
    return *reinterpret_cast<volatile uint64_t*>(0x7fff00000000ull) ? CommandResult::kOk
                                                                     : CommandResult::kOk;
  }
  if (name == Text("exit")) {
    uint64_t status = 0;
    Text value = args.take_word();
    if (!value.empty() && !value.parse_u64(&status)) return fail("exit", "usage: exit N (0-255)");
    dev::debug_exit(static_cast<uint8_t>(status));
  }
  return CommandResult::kUnknown;
}

}  // namespace tg
