#include "devices/virtio/virtio_pci.hpp"

#include <algorithm>
#include <array>

#include "devices/le_bytes.hpp"
#include "guestmm/base/log.hpp"

namespace tide::dev {
namespace {

constexpr uint32_t kBar0 = 0;

// The common config fields (§4.1.4.3) as (offset, width) pairs, in layout order.
struct Field {
  uint32_t offset;
  uint32_t width;
};
constexpr std::array<Field, 16> kCommonFields = {{
    {kCommonDeviceFeatureSelect, 4},
    {kCommonDeviceFeature, 4},
    {kCommonDriverFeatureSelect, 4},
    {kCommonDriverFeature, 4},
    {kCommonMsixConfig, 2},
    {kCommonNumQueues, 2},
    {kCommonDeviceStatus, 1},
    {kCommonConfigGeneration, 1},
    {kCommonQueueSelect, 2},
    {kCommonQueueSize, 2},
    {kCommonQueueMsixVector, 2},
    {kCommonQueueEnable, 2},
    {kCommonQueueNotifyOff, 2},
    {kCommonQueueDesc, 8},
    {kCommonQueueDriver, 8},
    {kCommonQueueDevice, 8},
}};

// struct virtio_pci_cap (§4.1.4): vndr, next, len, cfg_type, bar, id, padding[2], offset, length.
std::array<uint8_t, kVirtioPciNotifyCapLength> virtio_cap(uint8_t cfg_type, uint8_t cap_len, uint32_t offset,
                                                          uint32_t length) {
  std::array<uint8_t, kVirtioPciNotifyCapLength> cap{};
  cap[0] = kPciCapIdVendor;
  cap[2] = cap_len;
  cap[3] = cfg_type;
  cap[4] = static_cast<uint8_t>(kBar0);
  store_le(std::span(cap).subspan(8, 4), offset);
  store_le(std::span(cap).subspan(12, 4), length);
  return cap;
}

}  // namespace

uint32_t VirtioPciDevice::class_code_for(uint32_t device_type) {
  switch (device_type) {
    case VIRTIO_ID_NET: return 0x020000;      // network controller, Ethernet
    case VIRTIO_ID_BLOCK: return 0x018000;    // mass storage, other
    case VIRTIO_ID_CONSOLE: return 0x078000;  // communication controller, other
    default: return 0xff0000;                 // unassigned class (rng, balloon; as QEMU)
  }
}

Result<std::shared_ptr<VirtioPciDevice>> VirtioPciDevice::create(std::shared_ptr<VirtioDevice> device,
                                                                 const gmm::GuestMemory& memory,
                                                                 InterruptController& interrupts,
                                                                 DoorbellRegistry& doorbells) {
  if (!device) return make_error(std::errc::invalid_argument, "no virtio device given");
  if (device->num_queues() == 0 || device->num_queues() > kMaxQueues) {
    return make_error(std::errc::invalid_argument, log::strf("virtio device type %u has %u queues (1..%u supported)",
                                                             device->device_type(), device->num_queues(), kMaxQueues));
  }
  if (device->config_size() > kRegionSize) {
    return make_error(std::errc::invalid_argument,
                      log::strf("virtio device type %u config space of %u bytes exceeds 4 KiB", device->device_type(),
                                device->config_size()));
  }
  std::vector<std::unique_ptr<MsiVector>> vectors;
  for (uint32_t i = 0; i < uint32_t{device->num_queues()} + 1; ++i) {
    TIDE_TRY_ASSIGN(vector, interrupts.allocate_msi());
    vectors.push_back(std::move(vector));
  }
  return std::make_shared<VirtioPciDevice>(Private{}, std::move(device), memory, interrupts, doorbells,
                                           std::move(vectors));
}

VirtioPciDevice::VirtioPciDevice(Private, std::shared_ptr<VirtioDevice> device, const gmm::GuestMemory& memory,
                                 InterruptController& interrupts, DoorbellRegistry& doorbells,
                                 std::vector<std::unique_ptr<MsiVector>> vectors)
    : device_(std::move(device)),
      memory_(memory),
      interrupts_(interrupts),
      doorbells_(doorbells),
      num_queues_(device_->num_queues()),
      device_config_size_(device_->config_size()),
      offered_features_(device_->device_features() | virtio_feature(VIRTIO_F_VERSION_1) |
                        virtio_feature(VIRTIO_F_INDIRECT_DESC) | virtio_feature(VIRTIO_F_EVENT_IDX)),
      config_(PciIdentity{.vendor_id = kVirtioPciVendorId,
                          .device_id = static_cast<uint16_t>(kVirtioPciModernDeviceIdBase + device_->device_type()),
                          .revision = 1,
                          .class_code = class_code_for(device_->device_type()),
                          .subsystem_vendor_id = kSubsystemVendorId,
                          .subsystem_id = kSubsystemId}),
      doorbell_ids_(num_queues_),
      msix_(std::move(vectors)),
      queue_vectors_(num_queues_, VIRTIO_MSI_NO_VECTOR) {
  for (uint16_t i = 0; i < num_queues_; ++i) {
    queues_.push_back(std::make_unique<Queue>(device_->queue_max_size(i),
                                              log::strf("virtio-%u queue %u", device_->device_type(), i)));
  }
  config_.define_bar(kBar0,
                     PciBarDefinition{.size_bytes = kBar0Size, .kind = PciBarKind::kMemory64, .prefetchable = true});

  auto common = virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, kVirtioPciCapLength, kCommonCfgOffset, kCommonCfgSize);
  config_.add_capability(std::span(common).first(kVirtioPciCapLength));
  auto notify = virtio_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, kVirtioPciNotifyCapLength, kNotifyOffset,
                           kNotifyOffMultiplier * uint32_t{num_queues_});
  store_le(std::span(notify).subspan(16, 4), kNotifyOffMultiplier);
  config_.add_capability(notify);
  auto isr = virtio_cap(VIRTIO_PCI_CAP_ISR_CFG, kVirtioPciCapLength, kIsrOffset, 1);
  config_.add_capability(std::span(isr).first(kVirtioPciCapLength));
  if (device_config_size_ > 0) {
    auto dev = virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, kVirtioPciCapLength, kDeviceCfgOffset, device_config_size_);
    config_.add_capability(std::span(dev).first(kVirtioPciCapLength));
  }
  // §4.1.4.7: bar, offset, length and pci_cfg_data are the driver's to write.
  auto pci_cfg = virtio_cap(VIRTIO_PCI_CAP_PCI_CFG, kVirtioPciCfgCapLength, 0, 0);
  std::array<uint8_t, kVirtioPciCfgCapLength> pci_cfg_writable{};
  pci_cfg_writable[4] = 0xff;
  std::fill(pci_cfg_writable.begin() + 8, pci_cfg_writable.end(), uint8_t{0xff});
  pci_cfg_cap_ = config_.add_capability(pci_cfg, pci_cfg_writable);
  auto msix = msix_.capability(static_cast<uint8_t>(kBar0), kMsixTableOffset, kMsixPbaOffset);
  msix_cap_ = config_.add_capability(msix, MsixTable::capability_writable_mask());
}

VirtioPciDevice::~VirtioPciDevice() {
  std::lock_guard lock(mutex_);
  unregister_doorbells_locked();
  activated_.store(false, std::memory_order_release);
  device_->reset();
}

// --- PCI config space -----------------------------------------------------------------

void VirtioPciDevice::config_read(uint32_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  uint32_t data_off = pci_cfg_cap_ + 16;
  if (offset < data_off + 4 && offset + data.size() > data_off) pci_cfg_access_locked(false);
  config_.read(offset, data);
}

void VirtioPciDevice::config_write(uint32_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  config_.write(offset, data);
  uint32_t control = msix_cap_ + kMsixCapabilityControl;
  if (offset < control + 2 && offset + data.size() > control) {
    auto message_control = static_cast<uint16_t>(config_.load(control, 2));
    std::lock_guard irq(irq_mutex_);
    msix_.set_control(message_control);
  }
  uint32_t data_off = pci_cfg_cap_ + 16;
  if (offset < data_off + 4 && offset + data.size() > data_off) pci_cfg_access_locked(true);
}

void VirtioPciDevice::pci_cfg_access_locked(bool is_write) {
  uint32_t bar = config_.load(pci_cfg_cap_ + 4, 1);
  uint32_t offset = config_.load(pci_cfg_cap_ + 8, 4);
  uint32_t length = config_.load(pci_cfg_cap_ + 12, 4);
  if (length == 0) return;  // never set up: a config space dump, not an access
  if (bar != kBar0 || (length != 1 && length != 2 && length != 4) || offset % length != 0 ||
      uint64_t{offset} + length > kBar0Size) {
    driver_error("VIRTIO_PCI_CAP_PCI_CFG access with a bad bar/offset/length");
    return;
  }
  std::array<uint8_t, 4> bytes{};
  auto window = std::span(bytes).first(length);
  if (is_write) {
    config_.read(pci_cfg_cap_ + 16, window);
    bar_write_locked(offset, window);
  } else {
    bar_read_locked(offset, window);
    config_.store(pci_cfg_cap_ + 16, 4, static_cast<uint32_t>(load_le(bytes)));
  }
}

PciBarDefinition VirtioPciDevice::bar_definition(uint32_t index) const {
  std::lock_guard lock(mutex_);
  return config_.bar_definition(index);
}

void VirtioPciDevice::assign_bar(uint32_t index, uint64_t address) {
  std::lock_guard lock(mutex_);
  config_.assign_bar(index, address);
}

std::optional<uint64_t> VirtioPciDevice::bar_decode_address(uint32_t index) const {
  std::lock_guard lock(mutex_);
  return config_.bar_decode_address(index);
}

void VirtioPciDevice::bar_mapped(uint32_t index, std::optional<uint64_t> address) {
  if (index != kBar0) return;
  std::lock_guard lock(mutex_);
  if (bar0_address_ == address) return;
  unregister_doorbells_locked();
  bar0_address_ = address;
  register_doorbells_locked();
}

// --- BAR 0 ------------------------------------------------------------------------------

void VirtioPciDevice::bar_read(uint32_t index, uint64_t offset, std::span<uint8_t> data) {
  if (index != kBar0) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return;
  }
  std::lock_guard lock(mutex_);
  bar_read_locked(offset, data);
}

void VirtioPciDevice::bar_write(uint32_t index, uint64_t offset, std::span<const uint8_t> data) {
  if (index != kBar0) return;
  std::lock_guard lock(mutex_);
  bar_write_locked(offset, data);
}

void VirtioPciDevice::bar_read_locked(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0});
  uint64_t region = offset & ~(kRegionSize - 1);
  uint64_t off = offset - region;
  if (off + data.size() > kRegionSize) return;  // straddles two structures
  switch (region) {
    case kCommonCfgOffset: common_read_locked(off, data); break;
    case kIsrOffset:
      if (off == 0) {
        std::lock_guard irq(irq_mutex_);
        data[0] = isr_;
        isr_ = 0;  // §4.1.4.5: reading clears it
      }
      break;
    case kDeviceCfgOffset:
      if (off < device_config_size_) {
        auto n = std::min<uint64_t>(data.size(), device_config_size_ - off);
        device_->read_config(static_cast<uint32_t>(off), data.first(n));
      }
      break;
    case kMsixTableOffset: {
      std::lock_guard irq(irq_mutex_);
      if (off < msix_.table_size_bytes()) msix_.read_table(off, data);
      break;
    }
    case kMsixPbaOffset: {
      std::lock_guard irq(irq_mutex_);
      if (off < msix_.pba_size_bytes()) msix_.read_pba(off, data);
      break;
    }
    default:  // notify reads as 0, the rest of the BAR is unused
      break;
  }
}

void VirtioPciDevice::bar_write_locked(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t region = offset & ~(kRegionSize - 1);
  uint64_t off = offset - region;
  if (off + data.size() > kRegionSize) return;
  switch (region) {
    case kCommonCfgOffset: common_write_locked(off, data); break;
    case kDeviceCfgOffset:
      if (off < device_config_size_) {
        auto n = std::min<uint64_t>(data.size(), device_config_size_ - off);
        device_->write_config(static_cast<uint32_t>(off), data.first(n));
      }
      break;
    case kNotifyOffset:
      // Any write in a queue's slot notifies it: the doorbell normally catches these, this
      // is the path for other widths and for when no doorbell could be registered.
      if (off / kNotifyOffMultiplier < num_queues_) {
        counters_.mmio_notifies.fetch_add(1, std::memory_order_relaxed);
        queue_notified_from_mmio(static_cast<uint16_t>(off / kNotifyOffMultiplier));
      }
      break;
    case kMsixTableOffset: {
      std::lock_guard irq(irq_mutex_);
      if (off < msix_.table_size_bytes()) msix_.write_table(off, data);
      break;
    }
    default:  // ISR, PBA and the unused rest are read-only
      break;
  }
}

void VirtioPciDevice::queue_notified_from_mmio(uint16_t index) {
  if (activated_.load(std::memory_order_acquire)) device_->queue_notified(index);
}

// --- Common configuration (§4.1.4.3) --------------------------------------------------

Queue* VirtioPciDevice::selected_queue_locked() {
  return queue_select_ < num_queues_ ? queues_[queue_select_].get() : nullptr;
}

void VirtioPciDevice::common_read_locked(uint64_t offset, std::span<uint8_t> data) {
  for (const Field& f : kCommonFields) {
    if (f.offset + f.width <= offset || f.offset >= offset + data.size()) continue;
    uint64_t value = read_field_locked(f.offset);
    for (uint32_t i = 0; i < f.width; ++i) {
      uint64_t at = f.offset + i;
      if (at >= offset && at < offset + data.size()) data[at - offset] = static_cast<uint8_t>(value >> (8 * i));
    }
  }
}

void VirtioPciDevice::common_write_locked(uint64_t offset, std::span<const uint8_t> data) {
  // A write may cover part of a field (queue_desc as two dwords) or several fields:
  // merge the written bytes into each field's current value and apply field by field.
  for (const Field& f : kCommonFields) {
    if (f.offset + f.width <= offset || f.offset >= offset + data.size()) continue;
    uint64_t value = read_field_locked(f.offset);
    for (uint32_t i = 0; i < f.width; ++i) {
      uint64_t at = f.offset + i;
      if (at < offset || at >= offset + data.size()) continue;
      value &= ~(uint64_t{0xff} << (8 * i));
      value |= uint64_t{data[at - offset]} << (8 * i);
    }
    write_field_locked(f.offset, value);
  }
}

uint64_t VirtioPciDevice::read_field_locked(uint32_t field) {
  Queue* q = selected_queue_locked();
  switch (field) {
    case kCommonDeviceFeatureSelect: return device_feature_select_;
    case kCommonDeviceFeature:
      return device_feature_select_ < 2 ? (offered_features_ >> (32 * device_feature_select_)) & 0xffffffffu : 0;
    case kCommonDriverFeatureSelect: return driver_feature_select_;
    case kCommonDriverFeature:
      return driver_feature_select_ < 2 ? (driver_features_ >> (32 * driver_feature_select_)) & 0xffffffffu : 0;
    case kCommonMsixConfig: {
      std::lock_guard irq(irq_mutex_);
      return config_vector_;
    }
    case kCommonNumQueues: return num_queues_;
    case kCommonDeviceStatus: return visible_status_locked();
    case kCommonConfigGeneration: return config_generation_.load(std::memory_order_acquire);
    case kCommonQueueSelect: return queue_select_;
    case kCommonQueueSize: return q ? q->size() : 0;
    case kCommonQueueMsixVector: {
      std::lock_guard irq(irq_mutex_);
      return q ? queue_vectors_[queue_select_] : VIRTIO_MSI_NO_VECTOR;
    }
    case kCommonQueueEnable: return q && q->ready() ? 1 : 0;
    case kCommonQueueNotifyOff: return q ? queue_select_ : 0;
    case kCommonQueueDesc: return q ? q->desc_table().value() : 0;
    case kCommonQueueDriver: return q ? q->avail_ring().value() : 0;
    case kCommonQueueDevice: return q ? q->used_ring().value() : 0;
    default: return 0;
  }
}

void VirtioPciDevice::write_field_locked(uint32_t field, uint64_t value) {
  Queue* q = selected_queue_locked();
  const bool driver_ok = (status_ & VIRTIO_CONFIG_S_DRIVER_OK) != 0;
  // §4.1.4.3.2: queue configuration is frozen once the queue is enabled (and the whole
  // device once DRIVER_OK is set); later writes are driver errors and ignored.
  const bool queue_writable = q && !q->ready() && !driver_ok;
  switch (field) {
    case kCommonDeviceFeatureSelect: device_feature_select_ = static_cast<uint32_t>(value); break;
    case kCommonDriverFeatureSelect: driver_feature_select_ = static_cast<uint32_t>(value); break;
    case kCommonDriverFeature:
      if (status_ & VIRTIO_CONFIG_S_FEATURES_OK) {
        driver_error("driver_feature written after FEATURES_OK");
      } else if (driver_feature_select_ < 2) {
        uint32_t shift = 32 * driver_feature_select_;
        driver_features_ = (driver_features_ & ~(uint64_t{0xffffffffu} << shift)) | ((value & 0xffffffffu) << shift);
      }
      break;
    case kCommonMsixConfig: {
      std::lock_guard irq(irq_mutex_);
      config_vector_ = checked_vector(static_cast<uint16_t>(value));
      break;
    }
    case kCommonDeviceStatus: set_status_locked(static_cast<uint8_t>(value)); break;
    case kCommonQueueSelect: queue_select_ = static_cast<uint16_t>(value); break;
    case kCommonQueueSize:
      if (!queue_writable) {
        if (q) driver_error("queue_size written while the queue is live");
      } else if (!q->set_size(static_cast<uint16_t>(value))) {
        driver_error("queue_size not a power of two within the maximum");
      }
      break;
    case kCommonQueueMsixVector:
      if (q) {
        std::lock_guard irq(irq_mutex_);
        queue_vectors_[queue_select_] = checked_vector(static_cast<uint16_t>(value));
      }
      break;
    case kCommonQueueEnable:
      if (!q) break;
      if (value != 1 || !queue_writable) {
        if (value != 1 || !q->ready()) driver_error("queue_enable misuse");
        break;
      }
      q->set_ready(true);
      register_doorbell_locked(queue_select_);
      break;
    case kCommonQueueDesc:
    case kCommonQueueDriver:
    case kCommonQueueDevice:
      if (!queue_writable) {
        if (q) driver_error("queue address written while the queue is live");
        break;
      }
      if (field == kCommonQueueDesc) q->set_desc_table(gmm::Gpa(value));
      if (field == kCommonQueueDriver) q->set_avail_ring(gmm::Gpa(value));
      if (field == kCommonQueueDevice) q->set_used_ring(gmm::Gpa(value));
      break;
    default:  // read-only: device_feature, num_queues, config_generation, queue_notify_off
      break;
  }
}

uint16_t VirtioPciDevice::checked_vector(uint16_t vector) const {
  // §4.1.5.1.2.1: a vector the device cannot map reads back as VIRTIO_MSI_NO_VECTOR.
  return vector < msix_.size() ? vector : VIRTIO_MSI_NO_VECTOR;
}

void VirtioPciDevice::driver_error(const char* what) {
  counters_.driver_errors.fetch_add(1, std::memory_order_relaxed);
  if (!logged_driver_error_) {
    logged_driver_error_ = true;
    log::warn("virtio-%u: driver error: %s; ignored, further ones counted only", device_->device_type(), what);
  }
}

// --- Device status (§2.1, §3.1.1) --------------------------------------------------------

void VirtioPciDevice::set_status_locked(uint8_t value) {
  if (value == 0) {
    reset_locked();
    return;
  }
  // The driver only ever adds bits (§2.1.2); DEVICE_NEEDS_RESET is the device's to set.
  value &= static_cast<uint8_t>(~VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET);
  uint8_t next = status_ | value;
  uint8_t added = static_cast<uint8_t>(next & ~status_);
  if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
    bool subset = (driver_features_ & ~offered_features_) == 0;
    bool modern = (driver_features_ & virtio_feature(VIRTIO_F_VERSION_1)) != 0;
    if (!subset || !modern) {
      // §3.1.1: the driver re-reads status and finds FEATURES_OK clear.
      next &= static_cast<uint8_t>(~VIRTIO_CONFIG_S_FEATURES_OK);
      counters_.feature_rejections.fetch_add(1, std::memory_order_relaxed);
      log::info("virtio-%u: refused driver features 0x%llx (offered 0x%llx)%s", device_->device_type(),
                static_cast<unsigned long long>(driver_features_), static_cast<unsigned long long>(offered_features_),
                modern ? "" : ": VIRTIO_F_VERSION_1 missing");
    } else {
      for (auto& q : queues_) {
        q->set_ring_features((driver_features_ & virtio_feature(VIRTIO_F_EVENT_IDX)) != 0,
                             (driver_features_ & virtio_feature(VIRTIO_F_INDIRECT_DESC)) != 0);
      }
    }
  }
  if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(next & VIRTIO_CONFIG_S_FEATURES_OK)) {
    next &= static_cast<uint8_t>(~VIRTIO_CONFIG_S_DRIVER_OK);
    driver_error("DRIVER_OK without FEATURES_OK");
  }
  status_ = next;
  if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && (next & VIRTIO_CONFIG_S_DRIVER_OK)) activate_locked();
}

void VirtioPciDevice::activate_locked() {
  VirtioActivation activation;
  activation.memory = &memory_;
  activation.driver_features = driver_features_;
  activation.interrupt = this;
  for (auto& q : queues_) activation.queues.push_back(q.get());
  Status st = device_->activate(activation);
  if (!st) {
    log::warn("virtio-%u: activation failed: %s; device needs reset", device_->device_type(),
              st.error().message().c_str());
    status_ |= VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET;
    notify_config();
    return;
  }
  // Doorbells already exist: registered when each queue was enabled (or when BAR 0 got
  // mapped, if it was not yet).
  activated_.store(true, std::memory_order_release);
  // Buffers made available before DRIVER_OK got no kick the device could act on.
  for (uint16_t i = 0; i < num_queues_; ++i) {
    if (queues_[i]->ready()) device_->queue_notified(i);
  }
}

void VirtioPciDevice::reset_locked() {
  unregister_doorbells_locked();
  activated_.store(false, std::memory_order_release);
  device_->reset();  // returns once the device has stopped touching the queues
  for (auto& q : queues_) q->reset();
  status_ = 0;
  needs_reset_.store(false, std::memory_order_release);
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  driver_features_ = 0;
  queue_select_ = 0;
  std::lock_guard irq(irq_mutex_);
  config_vector_ = VIRTIO_MSI_NO_VECTOR;
  std::fill(queue_vectors_.begin(), queue_vectors_.end(), VIRTIO_MSI_NO_VECTOR);
  isr_ = 0;
}

// --- Doorbells ----------------------------------------------------------------------------

void VirtioPciDevice::register_doorbells_locked() {
  for (uint16_t i = 0; i < num_queues_; ++i) register_doorbell_locked(i);
}

void VirtioPciDevice::register_doorbell_locked(uint16_t index) {
  if (!bar0_address_ || !queues_[index]->ready() || doorbell_ids_[index]) return;
  uint64_t gpa = *bar0_address_ + kNotifyOffset + uint64_t{kNotifyOffMultiplier} * index;
  // `this` outlives the doorbell: the destructor removes it, and remove() guarantees the
  // callback is not called afterwards.
  auto id = doorbells_.add(gpa, kNotifyLength, std::nullopt, [this, index] {
    counters_.doorbell_notifies.fetch_add(1, std::memory_order_relaxed);
    if (activated_.load(std::memory_order_acquire)) device_->queue_notified(index);
  });
  if (id) {
    doorbell_ids_[index] = *id;
    return;
  }
  counters_.doorbell_failures.fetch_add(1, std::memory_order_relaxed);
  if (logged_doorbell_failure_) return;
  logged_doorbell_failure_ = true;
  log::warn("virtio-%u queue %u: no doorbell at 0x%llx (%s); notifications take the MMIO path", device_->device_type(),
            index, static_cast<unsigned long long>(gpa), id.error().message().c_str());
}

void VirtioPciDevice::unregister_doorbells_locked() {
  for (auto& id : doorbell_ids_) {
    if (id) doorbells_.remove(*id);
    id.reset();
  }
}

// --- Interrupts (§4.1.5.4) ----------------------------------------------------------------

void VirtioPciDevice::notify_queue(uint16_t index) {
  if (index >= num_queues_) return;
  std::lock_guard irq(irq_mutex_);
  uint16_t vector = queue_vectors_[index];
  if (msix_.enabled() && vector != VIRTIO_MSI_NO_VECTOR && msix_.signal(vector)) {
    counters_.msix_interrupts.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // No vector: the driver polls (or would use INTx, which tide does not wire). Leave the
  // reason in ISR and wake a vCPU sleeping in the wait port.
  isr_ |= VIRTIO_PCI_ISR_QUEUE;
  counters_.isr_interrupts.fetch_add(1, std::memory_order_relaxed);
  interrupts_.wake_vcpus();
}

void VirtioPciDevice::notify_config() {
  config_generation_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard irq(irq_mutex_);
  if (msix_.enabled() && config_vector_ != VIRTIO_MSI_NO_VECTOR && msix_.signal(config_vector_)) {
    counters_.msix_interrupts.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  isr_ |= VIRTIO_PCI_ISR_CONFIG;
  counters_.isr_interrupts.fetch_add(1, std::memory_order_relaxed);
  interrupts_.wake_vcpus();
}

// --- Introspection ------------------------------------------------------------------------

uint8_t VirtioPciDevice::device_status() const {
  std::lock_guard lock(mutex_);
  return visible_status_locked();
}

uint8_t VirtioPciDevice::visible_status_locked() const {
  if (status_ != 0 && needs_reset_.load(std::memory_order_acquire)) {
    return static_cast<uint8_t>(status_ | VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET);
  }
  return status_;
}

void VirtioPciDevice::needs_reset() {
  if (needs_reset_.exchange(true, std::memory_order_acq_rel)) return;
  log::warn("virtio-%u: the device needs a reset (a queue is broken)", device_->device_type());
  notify_config();
}

uint64_t VirtioPciDevice::driver_features() const {
  std::lock_guard lock(mutex_);
  return driver_features_;
}

VirtioPciDevice::Counters VirtioPciDevice::counters() const {
  return Counters{.doorbell_notifies = counters_.doorbell_notifies.load(),
                  .mmio_notifies = counters_.mmio_notifies.load(),
                  .msix_interrupts = counters_.msix_interrupts.load(),
                  .isr_interrupts = counters_.isr_interrupts.load(),
                  .feature_rejections = counters_.feature_rejections.load(),
                  .driver_errors = counters_.driver_errors.load(),
                  .doorbell_failures = counters_.doorbell_failures.load()};
}

}  // namespace tide::dev
