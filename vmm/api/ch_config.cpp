#include "vmm/api/ch_config.hpp"

#include <boost/json/parse.hpp>

#include "guestmm/base/log.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
namespace {

Error bad(const std::string& what) { return make_error(std::errc::invalid_argument, "vm.create: " + what); }

const json::value* member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

Result<std::string> string_at(const json::object& o, std::string_view key, std::string_view where) {
  const json::value* v = member(o, key);
  if (!v) return std::string();
  if (!v->is_string()) return bad(std::string(where) + "." + std::string(key) + " must be a string");
  return std::string(v->as_string());
}

Result<uint64_t> uint_at(const json::object& o, std::string_view key, std::string_view where) {
  const json::value* v = member(o, key);
  if (!v) return uint64_t{0};
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return bad(std::string(where) + "." + std::string(key) + " must be a non-negative integer");
}

bool truthy(const json::object& o, std::string_view key) {
  const json::value* v = member(o, key);
  if (!v) return false;
  if (v->is_bool()) return v->as_bool();
  if (v->is_int64()) return v->as_int64() != 0;
  if (v->is_uint64()) return v->as_uint64() != 0;
  if (v->is_array()) return !v->as_array().empty();
  if (v->is_object()) return !v->as_object().empty();
  if (v->is_string()) return !v->as_string().empty();
  return false;
}

Result<ConsoleConfig::Kind> console_mode(const json::object& o, std::string_view key) {
  const json::value* v = member(o, key);
  if (!v) return ConsoleConfig::Kind::null;
  if (!v->is_object()) return bad(std::string(key) + " must be an object");
  TIDE_TRY_ASSIGN(mode, string_at(v->as_object(), "mode", key));
  if (mode == "Pty" || mode == "Tty") return ConsoleConfig::Kind::pty;
  if (mode == "File") return ConsoleConfig::Kind::file;
  if (mode.empty() || mode == "Off" || mode == "Null") return ConsoleConfig::Kind::null;
  return bad(std::string(key) + ".mode '" + mode + "' is not supported (Pty, Tty, File, Off, Null)");
}

}  // namespace

Result<GuestConfig> guest_config_from_ch(std::string_view body, json::value* parsed) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) return bad("the body is not JSON: " + ec.message());
  if (!doc.is_object()) return bad("the body must be a JSON object");
  const json::object& o = doc.as_object();
  GuestConfig c;
  c.name = "vm";
  c.rng = false;

  if (const json::value* cpus = member(o, "cpus")) {
    if (!cpus->is_object()) return bad("cpus must be an object");
    TIDE_TRY_ASSIGN(boot, uint_at(cpus->as_object(), "boot_vcpus", "cpus"));
    TIDE_TRY_ASSIGN(max, uint_at(cpus->as_object(), "max_vcpus", "cpus"));
    if (boot == 0) boot = 1;
    if (boot > 254) return bad("cpus.boot_vcpus must be 1 to 254");
    c.vcpus = static_cast<uint32_t>(boot);
    if (max > boot) c.warnings.push_back(log::strf("cpus.max_vcpus %llu: tide has no vCPU hotplug; %llu vCPUs",
                                                   static_cast<unsigned long long>(max), static_cast<unsigned long long>(boot)));
  }
  const json::value* mem = member(o, "memory");
  if (!mem || !mem->is_object()) return bad("memory.size is required");
  const json::object& m = mem->as_object();
  TIDE_TRY_ASSIGN(size, uint_at(m, "size", "memory"));
  if (size == 0) return bad("memory.size is required");
  c.memory_bytes = size;
  // Memory settings tide cannot honour are refused rather than ignored.
  for (const char* k : {"hotplug_size", "hotplugged_size", "zones"}) {
    if (truthy(m, k)) return bad(std::string("memory.") + k + ": tide has no memory hotplug or zones");
  }
  if (truthy(m, "hugepages")) c.backing.hugepages = true;
  if (truthy(m, "shared")) c.backing.access_mode = "shared";
  if (truthy(m, "mergeable")) c.warnings.push_back("memory.mergeable: tide does not merge pages yet; ignored");
  if (truthy(m, "prefault")) c.backing.allocation_mode = "immediate";
  if (truthy(o, "numa")) return bad("numa: tide has one NUMA node");

  // Payload: the newer form, or the older top-level kernel/cmdline/initramfs.
  if (const json::value* pl = member(o, "payload")) {
    if (!pl->is_object()) return bad("payload must be an object");
    const json::object& p = pl->as_object();
    TIDE_TRY_ASSIGN(kernel, string_at(p, "kernel", "payload"));
    TIDE_TRY_ASSIGN(cmdline, string_at(p, "cmdline", "payload"));
    TIDE_TRY_ASSIGN(initramfs, string_at(p, "initramfs", "payload"));
    if (truthy(p, "firmware")) return bad("payload.firmware: tide boots kernels (PVH), not firmware");
    c.kernel = kernel;
    c.cmdline = cmdline;
    c.initrd = initramfs;
  } else {
    for (auto [key, sub, field] : {std::tuple{"kernel", "path", &c.kernel}, std::tuple{"cmdline", "args", &c.cmdline},
                                   std::tuple{"initramfs", "path", &c.initrd}}) {
      if (const json::value* v = member(o, key)) {
        if (!v->is_object()) return bad(std::string(key) + " must be an object");
        TIDE_TRY_ASSIGN(s, string_at(v->as_object(), sub, key));
        *field = s;
      }
    }
  }
  if (c.kernel.empty()) return bad("a kernel is required (kernel.path or payload.kernel)");

  TIDE_TRY_ASSIGN(console, console_mode(o, "console"));
  TIDE_TRY_ASSIGN(serial, console_mode(o, "serial"));
  // tide has one UART: it goes where either of them asked.
  ConsoleConfig::Kind kind = serial != ConsoleConfig::Kind::null ? serial : console;
  c.console.kind = kind;
  if (kind == ConsoleConfig::Kind::file) {
    const char* which = serial == ConsoleConfig::Kind::file ? "serial" : "console";
    TIDE_TRY_ASSIGN(file, string_at(member(o, which)->as_object(), "file", which));
    if (file.empty()) return bad(std::string(which) + ".file is required with mode File");
    c.console.path = file;
  }
  if (const json::value* rng = member(o, "rng"); rng && rng->is_object()) c.rng = true;
  if (const json::value* b = member(o, "balloon"); b && b->is_object()) {
    c.balloon.enabled = true;
    c.balloon.autodeflate = truthy(b->as_object(), "deflate_on_oom");
    c.balloon.free_page_reporting = truthy(b->as_object(), "free_page_reporting");
    TIDE_TRY_ASSIGN(bsize, uint_at(b->as_object(), "size", "balloon"));
    if (bsize > c.memory_bytes) return bad("balloon.size is larger than memory.size");
    c.current_memory_bytes = c.memory_bytes - bsize;
  } else {
    c.balloon.enabled = false;
  }
  for (const char* k : {"disks", "net", "fs", "pmem", "devices", "vdpa", "vsock", "user_devices", "sgx_epc", "tpm"}) {
    if (truthy(o, k)) c.warnings.push_back(std::string(k) + ": tide has no such devices; ignored");
  }
  *parsed = std::move(doc);
  return c;
}

json::object ch_vm_info(const GuestInfo& info, const json::value& created) {
  json::object config = created.is_object() ? created.as_object() : json::object{};
  if (!info.config.console.path.empty()) {
    // libvirt reads the PTY path from whichever of the two it asked to be a PTY.
    for (const char* key : {"console", "serial"}) {
      auto it = config.find(key);
      if (it != config.end() && it->value().is_object()) {
        auto& o = it->value().as_object();
        if (auto mode = o.find("mode"); mode != o.end() && mode->value().is_string() &&
                                            (mode->value().as_string() == "Pty" || mode->value().as_string() == "Tty")) {
          o["file"] = info.config.console.path;
        }
      }
    }
  }
  const char* state = "Created";
  switch (info.state) {
    case GuestState::created: state = "Created"; break;
    case GuestState::running: state = "Running"; break;
    case GuestState::paused: state = "Paused"; break;
    case GuestState::shutdown: state = "Shutdown"; break;
  }
  return json::object{{"config", std::move(config)},
                      {"state", state},
                      {"memory_actual_size", info.config.current_memory_bytes.value_or(info.config.memory_bytes)}};
}

}  // namespace tide::vmm::api
