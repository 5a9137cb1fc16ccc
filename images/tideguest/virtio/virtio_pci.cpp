// virtio-pci modern transport (see virtio_pci.hpp).
#include "virtio/virtio_pci.hpp"

#include "arch/interrupts.hpp"
#include "arch/lapic.hpp"
#include "arch/paging.hpp"
#include "dev/wait.hpp"
#include "virtio/virtio_spec.hpp"

namespace tg::virtio {
namespace {

constexpr uint32_t kResetPollUs = 10;
constexpr int kResetPolls = 100000;
// MSI-X capability (PCI Local Bus 3.0, 6.8.2) and x86 MSI format (Intel SDM vol. 3, 11.11).
constexpr uint16_t PCI_MSIX_FLAGS = 2;
constexpr uint16_t PCI_MSIX_TABLE = 4;
constexpr uint16_t PCI_MSIX_FLAGS_QSIZE = 0x07ff;
constexpr uint16_t PCI_MSIX_FLAGS_MASKALL = 0x4000;
constexpr uint16_t PCI_MSIX_FLAGS_ENABLE = 0x8000;
constexpr uint32_t PCI_MSIX_TABLE_BIR = 0x7;
constexpr uint32_t PCI_MSIX_ENTRY_SIZE = 16;
constexpr uint32_t PCI_MSIX_ENTRY_LOWER_ADDR = 0;
constexpr uint32_t PCI_MSIX_ENTRY_UPPER_ADDR = 4;
constexpr uint32_t PCI_MSIX_ENTRY_DATA = 8;
constexpr uint32_t PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
constexpr uint32_t kMsiAddressBase = 0xfee00000;

template <typename T>
volatile T* mmio(uint64_t address) {
  return reinterpret_cast<volatile T*>(address);
}

}  // namespace

bool is_virtio_device(const dev::PciFunction& f, uint16_t virtio_id) {
  if (f.vendor_id != VIRTIO_PCI_VENDOR_ID) return false;
  if (f.device_id == VIRTIO_PCI_MODERN_DEVICE_BASE + virtio_id) return true;
  return f.device_id >= VIRTIO_PCI_TRANSITIONAL_FIRST &&
         f.device_id <= VIRTIO_PCI_TRANSITIONAL_LAST && f.subsystem_id == virtio_id;
}

uint8_t VirtioPciDevice::read8(uint16_t o) const { return *mmio<uint8_t>(common_ + o); }
uint16_t VirtioPciDevice::read16(uint16_t o) const { return *mmio<uint16_t>(common_ + o); }
uint32_t VirtioPciDevice::read32(uint16_t o) const { return *mmio<uint32_t>(common_ + o); }
void VirtioPciDevice::write8(uint16_t o, uint8_t v) const { *mmio<uint8_t>(common_ + o) = v; }
void VirtioPciDevice::write16(uint16_t o, uint16_t v) const { *mmio<uint16_t>(common_ + o) = v; }
void VirtioPciDevice::write32(uint16_t o, uint32_t v) const { *mmio<uint32_t>(common_ + o) = v; }
void VirtioPciDevice::write64(uint16_t o, uint64_t v) const {
  // 4.1.3.1: 64-bit fields may be written as two 32-bit halves, low first.
  write32(o, static_cast<uint32_t>(v));
  write32(static_cast<uint16_t>(o + 4), static_cast<uint32_t>(v >> 32));
}

bool VirtioPciDevice::attach(const dev::PciFunction& f, const char** error) {
  function_ = &f;
  dev::PciBar bars[6];
  bool bar_ready[6] = {};
  for (uint8_t cap = dev::pci_find_capability(f, dev::PCI_CAP_ID_VNDR); cap != 0;
       cap = dev::pci_find_capability(f, dev::PCI_CAP_ID_VNDR, cap)) {
    uint8_t type = f.read8(cap + VIRTIO_PCI_CAP_CFG_TYPE);
    uint8_t bar = f.read8(cap + VIRTIO_PCI_CAP_BAR);
    uint32_t offset = f.read32(cap + VIRTIO_PCI_CAP_OFFSET);
    uint32_t length = f.read32(cap + VIRTIO_PCI_CAP_LENGTH);
    if (bar > 5 || type == VIRTIO_PCI_CAP_PCI_CFG || type > VIRTIO_PCI_CAP_PCI_CFG) continue;
    uint64_t* target = nullptr;
    switch (type) {
      case VIRTIO_PCI_CAP_COMMON_CFG: target = &common_; break;
      case VIRTIO_PCI_CAP_NOTIFY_CFG: target = &notify_; break;
      case VIRTIO_PCI_CAP_ISR_CFG: target = &isr_; break;
      case VIRTIO_PCI_CAP_DEVICE_CFG: target = &device_; break;
      default: break;
    }
    if (target == nullptr || *target != 0) continue;  // the first of each type wins
    if (!bar_ready[bar]) {
      bars[bar] = dev::pci_setup_bar(f, bar);
      bar_ready[bar] = true;
    }
    if (!bars[bar].present) continue;
    if (bars[bar].size != 0 && uint64_t{offset} + length > bars[bar].size) continue;
    *target = bars[bar].base + offset;
    arch::map_identity(*target, length == 0 ? 1 : length, arch::Caching::kUncached);
    if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) notify_multiplier_ = f.read32(cap + VIRTIO_PCI_NOTIFY_CAP_MULT);
  }
  if (common_ == 0 || notify_ == 0) {
    *error = "no virtio-pci modern common/notify structures";
    return false;
  }
  dev::pci_enable(f);
  reset();
  return true;
}

void VirtioPciDevice::reset() {
  write8(VIRTIO_PCI_COMMON_STATUS, 0);
  // 4.1.4.3.2: the reset is complete once device_status reads back 0.
  for (int i = 0; i < kResetPolls && read8(VIRTIO_PCI_COMMON_STATUS) != 0; ++i)
    dev::wait_us(kResetPollUs);
}

void VirtioPciDevice::fail() {
  write8(VIRTIO_PCI_COMMON_STATUS, static_cast<uint8_t>(status() | VIRTIO_CONFIG_S_FAILED));
}

uint8_t VirtioPciDevice::status() const { return read8(VIRTIO_PCI_COMMON_STATUS); }

bool VirtioPciDevice::negotiate(uint64_t wanted, uint64_t* accepted, const char** error) {
  write8(VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  write8(VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  write32(VIRTIO_PCI_COMMON_DFSELECT, 0);
  uint64_t offered = read32(VIRTIO_PCI_COMMON_DF);
  write32(VIRTIO_PCI_COMMON_DFSELECT, 1);
  offered |= uint64_t{read32(VIRTIO_PCI_COMMON_DF)} << 32;
  offered_ = offered;
  if (!(offered & (1ull << VIRTIO_F_VERSION_1))) {
    fail();
    *error = "device does not offer VIRTIO_F_VERSION_1";
    return false;
  }
  const uint64_t features = (wanted | (1ull << VIRTIO_F_VERSION_1)) & offered;
  write32(VIRTIO_PCI_COMMON_GFSELECT, 0);
  write32(VIRTIO_PCI_COMMON_GF, static_cast<uint32_t>(features));
  write32(VIRTIO_PCI_COMMON_GFSELECT, 1);
  write32(VIRTIO_PCI_COMMON_GF, static_cast<uint32_t>(features >> 32));
  write8(VIRTIO_PCI_COMMON_STATUS,
         VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  if (!(status() & VIRTIO_CONFIG_S_FEATURES_OK)) {
    fail();
    *error = "device rejected the features (FEATURES_OK cleared)";
    return false;
  }
  *accepted = features;
  return true;
}

void VirtioPciDevice::on_interrupt(void* context) {
  auto* self = static_cast<VirtioPciDevice*>(context);
  self->interrupts_ = self->interrupts_ + 1;
}

unsigned VirtioPciDevice::setup_msix(unsigned entries) {
  if (msix_entries_ > 0) {  // already programmed: the device reset only forgot entry 0
    write16(VIRTIO_PCI_COMMON_MSIX, 0);
    if (read16(VIRTIO_PCI_COMMON_MSIX) != 0) write16(VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
    return msix_entries_;
  }
  const dev::PciFunction& f = *function_;
  uint8_t cap = dev::pci_find_capability(f, dev::PCI_CAP_ID_MSIX);
  if (cap == 0 || arch::lapic_mode() == arch::ApicMode::kNone) return 0;
  uint16_t control = f.read16(cap + PCI_MSIX_FLAGS);
  unsigned table_size = (control & PCI_MSIX_FLAGS_QSIZE) + 1u;
  if (entries > table_size) entries = table_size;
  if (entries > kMaxMsixEntries) entries = kMaxMsixEntries;
  uint32_t table = f.read32(cap + PCI_MSIX_TABLE);
  dev::PciBar bar = dev::pci_setup_bar(f, table & PCI_MSIX_TABLE_BIR);
  if (!bar.present) return 0;
  const uint64_t base = bar.base + (table & ~PCI_MSIX_TABLE_BIR);
  arch::map_identity(base, entries * PCI_MSIX_ENTRY_SIZE, arch::Caching::kUncached);

  // Enabled but masked while the table is written.
  f.write16(cap + PCI_MSIX_FLAGS, control | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  const uint32_t address = kMsiAddressBase | (arch::lapic_id() << 12);
  unsigned programmed = 0;
  for (; programmed < entries; ++programmed) {
    uint8_t vector = arch::allocate_vector(&VirtioPciDevice::on_interrupt, this);
    if (vector == 0) break;
    vectors_[programmed] = vector;
    uint64_t entry = base + programmed * PCI_MSIX_ENTRY_SIZE;
    *mmio<uint32_t>(entry + PCI_MSIX_ENTRY_LOWER_ADDR) = address;
    *mmio<uint32_t>(entry + PCI_MSIX_ENTRY_UPPER_ADDR) = 0;
    *mmio<uint32_t>(entry + PCI_MSIX_ENTRY_DATA) = vector;
    *mmio<uint32_t>(entry + PCI_MSIX_ENTRY_VECTOR_CTRL) = 0;  // unmasked
  }
  f.write16(cap + PCI_MSIX_FLAGS, (control | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
  msix_entries_ = programmed;
  if (programmed > 0) {
    write16(VIRTIO_PCI_COMMON_MSIX, 0);
    if (read16(VIRTIO_PCI_COMMON_MSIX) != 0) write16(VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
  }
  return programmed;
}

uint16_t VirtioPciDevice::queue_max_size(uint16_t index) const {
  if (index >= kMaxQueues || index >= read16(VIRTIO_PCI_COMMON_NUMQ)) return 0;
  write16(VIRTIO_PCI_COMMON_Q_SELECT, index);
  return read16(VIRTIO_PCI_COMMON_Q_SIZE);
}

bool VirtioPciDevice::setup_queue(uint16_t index, Virtqueue& queue, uint16_t max_size,
                                  const char** error, int msix_entry) {
  if (index >= kMaxQueues || index >= read16(VIRTIO_PCI_COMMON_NUMQ)) {
    *error = "queue index out of range";
    return false;
  }
  write16(VIRTIO_PCI_COMMON_Q_SELECT, index);
  uint16_t size = read16(VIRTIO_PCI_COMMON_Q_SIZE);
  if (size == 0) {
    *error = "queue not available";
    return false;
  }
  if (size > max_size) size = max_size;
  if (size > Virtqueue::kMaxSize) size = Virtqueue::kMaxSize;
  while (size & (size - 1)) size = static_cast<uint16_t>(size & (size - 1));  // power of two
  queue.release();
  if (!queue.init(size)) {
    *error = "out of memory for the virtqueue";
    return false;
  }
  write16(VIRTIO_PCI_COMMON_Q_SIZE, size);
  const unsigned entry = msix_entry == kDefaultMsixEntry ? 1u + index : static_cast<unsigned>(msix_entry);
  if (entry < msix_entries_) {
    write16(VIRTIO_PCI_COMMON_Q_MSIX, static_cast<uint16_t>(entry));
    // The device answers NO_VECTOR when it could not take the entry: then we just poll.
    if (read16(VIRTIO_PCI_COMMON_Q_MSIX) != entry) write16(VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
  } else {
    write16(VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
  }
  write64(VIRTIO_PCI_COMMON_Q_DESCLO, queue.desc_address());
  write64(VIRTIO_PCI_COMMON_Q_AVAILLO, queue.avail_address());
  write64(VIRTIO_PCI_COMMON_Q_USEDLO, queue.used_address());
  queue_notify_off_[index] = read16(VIRTIO_PCI_COMMON_Q_NOFF);
  write16(VIRTIO_PCI_COMMON_Q_ENABLE, 1);
  return true;
}

void VirtioPciDevice::driver_ok() {
  write8(VIRTIO_PCI_COMMON_STATUS, static_cast<uint8_t>(status() | VIRTIO_CONFIG_S_DRIVER_OK));
}

void VirtioPciDevice::notify(uint16_t index) {
  *mmio<uint16_t>(notify_ + uint64_t{queue_notify_off_[index]} * notify_multiplier_) = index;
}

}  // namespace tg::virtio
