// The commands of the script language (see README.md for the reference):
//   echo TEXT | info | pci | rng N | memtouch SIZE [seq|rand] [PASSES] [keep] |
//   memws TOTAL WS PASSES [keep] | memcache [SIZE | info | verify | drop] |
//   memfill SIZE [SEED] | hookrelease STRIDE [COUNT] | memzap STRIDE [nomark] |
//   memverify [nowrite] | memfree | sleep MS | mmcheck | read | fault | exit N |
//   balloon [wait [MS] | report | compact | hostile [SEL]] | serve [MS] |
//   memhold SIZE | memdrop | memfrag SIZE
// A command that fails prints "tideguest: <command>: <reason>" and the VM ends with
// status 1; an unknown command ends it with status 2.
#pragma once

#include <cstdint>

#include "lib/text.hpp"

namespace tg {

inline constexpr uint8_t kExitCommandFailed = 1;
inline constexpr uint8_t kExitUnknownCommand = 2;

enum class CommandResult { kOk, kFailed, kUnknown };

CommandResult run_command(lib::Text command);

// Boot facts `info` reports, recorded by kernel_main.
struct BootFacts {
  uint64_t boot_us = 0;          // PVH entry to TIDEGUEST READY printed
  uint64_t init_us = 0;          // PVH entry to the first console output
  uint64_t native_entry_us = 0;  // PVH entry to the VIF registration (emulated part)
};
BootFacts& boot_facts();

}  // namespace tg
