// Balloon commands and boot probe (see balloon_commands.hpp).
#include "kernel/balloon_commands.hpp"

#include "dev/clock.hpp"
#include "dev/wait.hpp"
#include "kernel/memhold.hpp"
#include "kernel/script.hpp"
#include "lib/format.hpp"
#include "virtio/virtio_balloon.hpp"

namespace tg {
namespace {

using lib::Text;

// Longest wait between service calls in `serve` (tide's wait port returns earlier when an
// interrupt arrives).
constexpr uint64_t kServeSliceUs = 100000;

CommandResult fail(const char* command, const char* reason) {
  kprintf("tideguest: %s: %s\n", command, reason);
  return CommandResult::kFailed;
}

virtio::VirtioBalloon* device() {
  virtio::VirtioBalloon& b = virtio::virtio_balloon();
  return b.ready() ? &b : nullptr;
}

void print_status(virtio::VirtioBalloon& b) {
  const virtio::BalloonCounters& c = b.counters();
  kprintf("balloon: target=%u actual=%u features=0x%lx inflated=%lu deflated=%lu reported=%lu "
          "migrated=%lu oom_deflated=%lu stats_sent=%lu resets=%lu\n",
          b.read_target(), b.actual(), b.features(), c.inflated, c.deflated, c.reported, c.migrated,
          c.oom_deflated, c.stats_sent, c.resets);
}

// An optional MS argument: *ms stays 0 when absent. False on junk.
bool parse_optional_ms(Text* args, uint64_t* ms) {
  Text word = args->take_word();
  if (word.empty()) return true;
  return word.parse_u64(ms) && args->take_word().empty();
}

CommandResult balloon_wait(virtio::VirtioBalloon& b, Text args) {
  uint64_t ms = 0;
  if (!parse_optional_ms(&args, &ms)) return fail("balloon", "usage: balloon wait [MS]");
  uint64_t waited_us = 0;
  const bool reached = b.wait_target(ms * 1000, &waited_us);
  kprintf("balloon: target=%u actual=%u waited_us=%lu\n", b.target(), b.actual(), waited_us);
  if (!reached) {
    kprintf("tideguest: balloon: wait: actual did not reach the target within %lu ms\n", ms);
    return CommandResult::kFailed;
  }
  return CommandResult::kOk;
}

}  // namespace

void balloon_boot(const char* cmdline) {
  virtio::BalloonOptions options;
  const char* error = nullptr;
  if (!virtio::parse_balloon_options(find_parameter(cmdline, "tide.balloon"),
                                     find_parameter(cmdline, "tide.balloon_report_ms"), &options, &error)) {
    kprintf("tideguest: balloon: %s\n", error);
    return;
  }
  if (!virtio::virtio_balloon().probe(options, &error) && error != nullptr)
    kprintf("tideguest: balloon: %s\n", error);
}

void balloon_info_line() {
  virtio::VirtioBalloon* b = device();
  kprintf("info: balloon=%s features=0x%lx\n", b ? "yes" : "no", b ? b->features() : 0ul);
}

void balloon_between_commands() { dev::run_idle_hook(); }

CommandResult cmd_balloon(Text args) {
  virtio::VirtioBalloon* b = device();
  if (b == nullptr) return fail("balloon", "no virtio-balloon device");
  Text sub = args.take_word();
  const char* error = nullptr;
  if (sub.empty()) {
    print_status(*b);
    return CommandResult::kOk;
  }
  if (sub == Text("wait")) return balloon_wait(*b, args);
  if (sub == Text("report")) {
    if (!args.take_word().empty()) return fail("balloon", "usage: balloon report");
    uint64_t ranges = 0, pages = 0;
    if (!b->report_now(&ranges, &pages, &error)) return fail("balloon", error);
    kprintf("balloon: report ranges=%lu pages=%lu\n", ranges, pages);
    return CommandResult::kOk;
  }
  if (sub == Text("compact")) {
    if (!args.take_word().empty()) return fail("balloon", "usage: balloon compact");
    virtio::CompactResult r;
    if (!b->compact(&r, &error)) return fail("balloon", error);
    kprintf("balloon: compact migrated=%lu free2m_before=%lu free2m_after=%lu balloon=%lu\n", r.migrated,
            r.free2m_before, r.free2m_after, b->balloon_pages());
    return CommandResult::kOk;
  }
  if (sub == Text("hostile")) {
    Text selection = args.take_word();
    if (!args.take_word().empty()) return fail("balloon", "usage: balloon hostile [all|safe|KIND[,KIND...]]");
    if (!b->hostile(selection, &error)) return fail("balloon", error);
    return CommandResult::kOk;
  }
  return fail("balloon", "usage: balloon [wait [MS] | report | compact | hostile [all|safe|KIND,...]]");
}

CommandResult cmd_serve(Text args) {
  uint64_t ms = 0;
  if (!parse_optional_ms(&args, &ms)) return fail("serve", "usage: serve [MS]");
  virtio::VirtioBalloon* b = device();
  if (b == nullptr) return fail("serve", "no virtio-balloon device");
  const uint64_t start = dev::now_ns();
  const uint64_t end = start + ms * 1'000'000;
  bool printed = false;
  uint32_t last_reached = 0;
  for (;;) {
    uint64_t due_us = b->service();
    if (b->ready() && b->actual() == b->target() && (!printed || b->target() != last_reached)) {
      last_reached = b->target();
      printed = true;
      kprintf("balloon: reached target=%u actual=%u\n", b->target(), b->actual());
    }
    const uint64_t now = dev::now_ns();
    if (ms != 0 && now >= end) break;
    if (due_us > kServeSliceUs) due_us = kServeSliceUs;
    if (ms != 0 && (end - now) / 1000 < due_us) due_us = (end - now) / 1000;
    dev::wait_us(static_cast<uint32_t>(due_us));
  }
  return CommandResult::kOk;
}

CommandResult cmd_memhold(Text args) {
  uint64_t size = 0;
  if (!args.take_word().parse_size(&size) || size == 0 || !args.take_word().empty())
    return fail("memhold", "usage: memhold SIZE[K|M|G]");
  virtio::VirtioBalloon& b = virtio::virtio_balloon();
  const uint64_t oom_before = b.counters().oom_deflated;
  HoldResult r;
  const char* error = nullptr;
  if (!memhold(size, &r, &error)) return fail("memhold", error);
  kprintf("memhold: size=");
  kprint_size(r.pages * 4096);
  kprintf(" pages=%lu held=%lu oom_deflated=%lu\n", r.pages, r.held, b.counters().oom_deflated - oom_before);
  return CommandResult::kOk;
}

CommandResult cmd_memdrop(Text args) {
  if (!args.take_word().empty()) return fail("memdrop", "usage: memdrop");
  kprintf("memdrop: pages=%lu\n", memdrop());
  return CommandResult::kOk;
}

CommandResult cmd_memfrag(Text args) {
  uint64_t size = 0;
  if (!args.take_word().parse_size(&size) || size == 0 || !args.take_word().empty())
    return fail("memfrag", "usage: memfrag SIZE[K|M|G]");
  HoldResult r;
  const char* error = nullptr;
  if (!memfrag(size, &r, &error)) return fail("memfrag", error);
  kprintf("memfrag: size=");
  kprint_size(r.pages * 4096);
  kprintf(" pages=%lu freed=%lu held=%lu\n", r.pages, r.freed, r.held);
  return CommandResult::kOk;
}

}  // namespace tg
