// The kernel's identity map: virtual == physical, 2 MiB pages, U/S=1 at every level
// (PVM livelocks on a supervisor-only mapping). entry.S maps the first 1 GiB statically;
// map_identity() extends the same tables at run time (natively), idempotently: a 2 MiB
// page already mapped keeps its attributes. New tables are filled before they are linked,
// so on PVM only the link itself is a trapped write to a shadowed table.
#pragma once

#include <cstdint>

namespace tg::arch {

enum class Caching { kWriteBack, kUncached };

// Source of zero-initialised 4 KiB pages for new tables (physical address, 0 = none).
using TablePageSource = uint64_t (*)();
void set_table_page_source(TablePageSource source);

// Maps [base, base + size) rounded out to 2 MiB. False when a table page was unavailable.
bool map_identity(uint64_t base, uint64_t size, Caching caching);
// Whether `address` is mapped.
bool is_mapped(uint64_t address);
// Number of table pages added at run time.
uint64_t page_table_pages_added();

}  // namespace tg::arch
