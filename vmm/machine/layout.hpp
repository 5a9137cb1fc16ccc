// The tide machine's guest-physical layout and port map (docs/machine.md is the contract
// with guests; keep the two in step).
#pragma once

#include <cstdint>
#include <vector>

#include "guestmm/guest_ram.hpp"

namespace tide::vmm::layout {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// Boot data in low RAM.
inline constexpr uint64_t kBootGdt = 0x500;
inline constexpr uint64_t kStartInfo = 0x6000;
inline constexpr uint64_t kMemmap = 0x7000;
inline constexpr uint64_t kModlist = 0x8000;
inline constexpr uint64_t kCmdline = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;
inline constexpr uint64_t kEbdaStart = 0x9FC00;  // RAM below, reserved above up to 1 MiB
inline constexpr uint64_t kAcpiBase = 0xE0000;
inline constexpr uint64_t kAcpiMax = 0x20000;
inline constexpr uint64_t kHighMemoryStart = 0x100000;  // 1 MiB

// The MMIO hole below 4 GiB.
inline constexpr uint64_t kMmioHoleStart = 3 * kGiB;
inline constexpr uint64_t kPciMmio32Base = 0xC000'0000;
inline constexpr uint64_t kPciMmio32Size = 0x2000'0000;
inline constexpr uint64_t kEcamBase = 0xE000'0000;
inline constexpr uint64_t kEcamSize = 0x1000'0000;
inline constexpr uint64_t kIoapicBase = 0xFEC0'0000;
inline constexpr uint64_t kLapicBase = 0xFEE0'0000;
inline constexpr uint64_t kRamHighStart = 4 * kGiB;

// Ports.
inline constexpr uint16_t kCom1 = 0x3F8;
inline constexpr uint32_t kCom1Irq = 4;
inline constexpr uint16_t kDebugExit = 0x501;
inline constexpr uint16_t kWaitPort = 0x504;
inline constexpr uint16_t kPciConfigAddress = 0xCF8;
inline constexpr uint16_t kPciConfigData = 0xCFC;
inline constexpr uint16_t kResetPort = 0xCF9;

inline constexpr uint64_t kMinMemory = 8 * kMiB;
inline constexpr uint64_t kMaxMemory = 1024 * kGiB;
inline constexpr uint64_t kDefaultMemory = 512 * kMiB;

// Guest RAM ranges for `memory_bytes` of RAM: below the 3 GiB hole, the rest from 4 GiB.
[[nodiscard]] std::vector<gmm::RamRange> ram_ranges(uint64_t memory_bytes);

}  // namespace tide::vmm::layout
