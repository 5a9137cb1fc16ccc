// DomainParser's <devices>: the balloon (memory-related: what tide does not know below it
// is an error), the entropy device, and serial/console, which become tide's one serial port
// (COM1). Every other device is named through unsupported().
#include "vmm/config/domain_xml_parser.hpp"

namespace tide::vmm {
namespace {

constexpr const char* kTransitional =
    "'virtio-transitional': tide's virtio devices are modern-only (virtio 1.x), so the guest gets a "
    "non-transitional device";

}  // namespace

void DomainParser::parse_devices(const xmlNode* node) {
  check_attributes(node, "devices", {}, Severity::warning);
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string path = child_path("devices", child);
    if (name == "memballoon") {
      parse_memballoon(child);
    } else if (name == "rng") {
      parse_rng(child);
    } else if (name == "serial" || name == "console") {
      parse_char_device(child, path);
    } else {
      unsupported(child, path);
    }
  }
}

void DomainParser::parse_memballoon(const xmlNode* node) {
  const std::string path = "devices/memballoon";
  if (memballoon_seen_) {
    fail(node, path, "appears more than once (a guest has at most one balloon)");
    return;
  }
  memballoon_seen_ = true;
  check_attributes(node, path, {"model", "autodeflate", "freePageReporting"}, Severity::error);
  BalloonConfig& b = config_.balloon;
  const auto model = xml_attribute(node, "model");
  if (!model) {
    fail(node, path + "@model", "the model is missing (virtio, or none for no balloon)");
  } else if (*model == "virtio" || *model == "virtio-non-transitional") {
    b.enabled = true;
  } else if (*model == "virtio-transitional") {
    b.enabled = true;
    warn(node, path + "@model", kTransitional);
  } else if (*model == "none") {
    b.enabled = false;
  } else {
    fail(node, path + "@model",
         "'" + *model + "': tide's balloon is virtio (or none); remove it or use model='virtio'");
  }
  if (auto v = xml_attribute(node, "autodeflate")) {
    if (auto on = on_off(node, path + "@autodeflate", *v)) b.autodeflate = *on;
  }
  if (auto v = xml_attribute(node, "freePageReporting")) {
    if (auto on = on_off(node, path + "@freePageReporting", *v)) b.free_page_reporting = *on;
  }
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string child_p = child_path(path, child);
    if (name == "stats") {
      check_attributes(child, child_p, {"period"}, Severity::error);
      // The schema wants a positive period; libvirt reads 0 as "stop polling", and so does tide.
      if (auto n = count(child, child_p + "@period", xml_attribute(child, "period").value_or(""), 0, UINT32_MAX)) {
        b.stats_period_s = static_cast<uint32_t>(*n);
      }
    } else if (name == "alias") {
      // A name libvirt gives the device: nothing to implement.
    } else if (name == "address" || name == "acpi") {
      warn(child, child_p, "tide places its devices itself; ignored");
    } else if (name == "driver") {
      warn(child, child_p, "tide does not implement virtio driver options (iommu, ats, packed); ignored");
    } else {
      fail(child, child_p, "tide does not know this memballoon setting; remove it");
    }
  }
}

void DomainParser::parse_rng(const xmlNode* node) {
  const std::string path = "devices/rng";
  if (rng_seen_) {
    warn(node, path, "tide has one entropy device; this one is ignored");
    return;
  }
  rng_seen_ = true;
  check_attributes(node, path, {"model"}, Severity::warning);
  const std::string model = xml_attribute(node, "model").value_or("");
  if (model == "virtio" || model == "virtio-non-transitional") {
    config_.rng = true;
  } else if (model == "virtio-transitional") {
    config_.rng = true;
    warn(node, path + "@model", kTransitional);
  } else {
    warn(node, path + "@model", "'" + model + "': tide's entropy device is virtio; ignored");
    return;
  }
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string child_p = child_path(path, child);
    if (name == "backend") {
      const std::string backend = xml_attribute(child, "model").value_or("random");
      const std::string source = xml_text(child);
      if (backend == "random" && (source.empty() || source == "/dev/urandom" || source == "/dev/random")) {
        // tide's device reads getrandom(2): the same pool.
      } else if (backend == "builtin") {
        // QEMU's getrandom()-based backend: what tide does.
      } else {
        warn(child, child_p, "model '" + backend + (source.empty() ? "" : "' source '" + source) +
                                 "': tide's entropy device reads the host's getrandom(2); ignored");
      }
    } else if (name == "rate") {
      warn(child, child_p, "tide bounds the device's rate itself; ignored");
    } else if (name == "alias") {
      // A name libvirt gives the device: nothing to implement.
    } else if (name == "address" || name == "acpi") {
      warn(child, child_p, "tide places its devices itself; ignored");
    } else if (name == "driver") {
      warn(child, child_p, "tide does not implement virtio driver options (iommu, ats, packed); ignored");
    } else {
      unsupported(child, child_p);
    }
  }
}

void DomainParser::parse_char_device(const xmlNode* node, const std::string& path) {
  const bool is_console = path == "devices/console";
  // tty= is the PTY a running domain got: state, not configuration.
  check_attributes(node, path, {"type", "tty"}, Severity::warning);
  CharDevice dev;
  dev.node = node;
  dev.path = path;
  const std::string type = xml_attribute(node, "type").value_or("pty");  // libvirt's default
  bool known_type = true;
  if (type == "pty") {
    dev.console.kind = ConsoleConfig::Kind::pty;
  } else if (type == "file") {
    dev.console.kind = ConsoleConfig::Kind::file;
  } else if (type == "stdio") {
    dev.console.kind = ConsoleConfig::Kind::stdio;
  } else if (type == "null") {
    dev.console.kind = ConsoleConfig::Kind::null;
  } else {
    known_type = false;
  }
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string child_p = child_path(path, child);
    if (name == "source") {
      if (type == "file") {
        check_attributes(child, child_p, {"path", "append"}, Severity::warning);
        dev.console.path = xml_attribute(child, "path").value_or("");
      } else if (type == "pty") {
        // path= is the PTY a running domain got: state, not configuration.
        check_attributes(child, child_p, {"path"}, Severity::warning);
      } else if (known_type) {
        check_attributes(child, child_p, {}, Severity::warning);
      }
    } else if (name == "target") {
      check_attributes(child, child_p, {"type", "port"}, Severity::warning);
      dev.target_type = xml_attribute(child, "type").value_or("");
      if (auto port = xml_attribute(child, "port")) {
        if (auto n = count(child, child_p + "@port", *port, 0, UINT32_MAX)) dev.port = *n;
      }
      for (const xmlNode* model : XmlChildren(child)) {
        const std::string model_name = xml_attribute(model, "name").value_or("");
        if (xml_name(model) != "model" || (model_name != "isa-serial" && model_name != "16550a")) {
          warn(model, child_path(child_p, model),
               "'" + model_name + "': tide's serial port is an ISA 16550A; ignored");
        }
      }
    } else if (name == "alias") {
      // A name libvirt gives the device: nothing to implement.
    } else if (name == "address" || name == "acpi") {
      warn(child, child_p, "tide places its devices itself; ignored");
    } else {
      unsupported(child, child_p);
    }
  }

  if (!known_type) {
    warn(node, path + "@type",
         "'" + type + "': tide's serial port goes to a pty, a file, stdio or nowhere (null); this one is ignored");
    return;
  }
  if (type == "file" && dev.console.path.empty()) {
    fail(node, path, "type 'file' needs <source path='/path/to/log'/>");
    return;
  }
  if (xml_attribute(node, "tty") && type != "pty") warn(node, path + "@tty", "only a pty has a tty; ignored");
  if (is_console) {
    if (!dev.target_type.empty() && dev.target_type != "serial") {
      warn(node, path, "target type '" + dev.target_type + "': tide's only console is its serial port; ignored");
      return;
    }
  } else {
    if (!dev.target_type.empty() && dev.target_type != "isa-serial") {
      warn(node, path + "/target@type",
           "'" + dev.target_type + "': tide's serial port is an ISA 16550A; it is used as that");
    }
  }
  if (dev.port != 0) {
    warn(node, path, "port " + std::to_string(dev.port) + ": tide has one serial port (COM1, port 0); ignored");
    return;
  }
  dev.usable = true;
  (is_console ? consoles_ : serials_).push_back(std::move(dev));
}

void DomainParser::resolve_console() {
  // As libvirt on x86: the first serial port is COM1, and a console whose target is a serial
  // port is that same port seen again. Without a serial port, the console makes one.
  const CharDevice* com1 = nullptr;
  for (const CharDevice& s : serials_) {
    if (com1 == nullptr) {
      com1 = &s;
    } else {
      warn(s.node, s.path, "a second serial port 0; tide has one serial port (COM1); ignored");
    }
  }
  for (const CharDevice& c : consoles_) {
    if (com1 == nullptr) {
      com1 = &c;
    } else if (!(c.console == com1->console)) {
      warn(c.node, c.path,
           "differs from the " + com1->path + " on line " + std::to_string(xml_line(com1->node)) +
               ", which is tide's serial port (COM1); ignored");
    }
  }
  if (com1 != nullptr) config_.console = com1->console;
}

}  // namespace tide::vmm
