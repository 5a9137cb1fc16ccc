// Parsing of sizes given on the command line ("512M", "2G", "1536MiB", "4096K", "65536").
// A bare number is MiB, as with QEMU's -m. K/M/G/T (and KiB/MiB/GiB/TiB) are powers of 1024.
#pragma once

#include <cstdint>
#include <string>

#include "guestmm/base/error.hpp"

namespace tide::vmm {

[[nodiscard]] Result<uint64_t> parse_size(const std::string& text);
// "512 MiB", "1.5 GiB", "4 KiB" — for messages.
[[nodiscard]] std::string format_size(uint64_t bytes);

}  // namespace tide::vmm
