#include "vmm/host/guest_manager.hpp"

#include <unistd.h>

#include <cctype>

#include "guestmm/base/log.hpp"
#include "vmm/host/balloon_setup.hpp"
#include "vmm/host/memcg_setup.hpp"
#include "vmm/kvm/vm_fd.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {

Result<std::unique_ptr<GuestManager>> GuestManager::create(const HostOptions& options, EventLoop& events) {
  std::unique_ptr<GuestManager> m(new GuestManager());
  m->options_ = options;
  m->events_ = &events;
  TIDE_TRY_ASSIGN(kvm, KvmSystem::open());
  TIDE_TRY(kvm.check_required());
  m->kvm_ = std::make_unique<KvmSystem>(std::move(kvm));
  {
    TIDE_TRY_ASSIGN(probe, VmFd::create(*m->kvm_));
    TIDE_TRY_ASSIGN(vcpu, probe.create_vcpu(0, m->kvm_->vcpu_mmap_size()));
    m->host_kind_ = detect_host_kind(vcpu);
  }
  gmm::MemoryManagerOptions mo;
  mo.pool_bytes = options.pool_bytes;
  if (mo.pool_bytes == 0) {
    mo.pool_bytes = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  }
  m->options_.pool_bytes = mo.pool_bytes;
  mo.hot_frames = options.hot_frames;
  mo.async_scrub = true;
  GuestManager* self = m.get();
  mo.on_fault_error = [self](gmm::GuestMm& mm, const Error& e) { self->on_fault_error(mm, e); };
  TIDE_TRY_ASSIGN(memory, gmm::MemoryManager::create(m->host_, std::move(mo)));
  m->memory_ = std::move(memory);
  return m;
}

GuestManager::~GuestManager() {
  std::map<std::string, std::shared_ptr<Guest>> guests;
  {
    std::lock_guard l(mutex_);
    guests.swap(guests_);
  }
  guests.clear();  // each stops and returns its memory
}

bool GuestManager::valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

Result<GuestInfo> GuestManager::define(GuestConfig config) {
  if (!valid_name(config.name)) {
    return make_error(std::errc::invalid_argument,
                      "bad guest name '" + config.name + "' (letters, digits, '-', '_', '.'; at most 64)");
  }
  if (config.memory_bytes < layout::kMinMemory || config.memory_bytes > layout::kMaxMemory) {
    return make_error(std::errc::invalid_argument,
                      log::strf("%s: memory must be between %llu MiB and %llu GiB", config.name.c_str(),
                                static_cast<unsigned long long>(layout::kMinMemory >> 20),
                                static_cast<unsigned long long>(layout::kMaxMemory >> 30)));
  }
  if (config.vcpus < 1 || config.vcpus > 254) {
    return make_error(std::errc::invalid_argument, log::strf("%s: %u vCPUs (1 to 254)", config.name.c_str(), config.vcpus));
  }
  if (config.current_memory_bytes && *config.current_memory_bytes > config.memory_bytes) {
    return make_error(std::errc::invalid_argument, config.name + ": currentMemory is larger than memory");
  }
  if (auto balloon = machine_balloon(config); !balloon) return balloon.error();
  // Limits and groups are made at boot; what cannot be applied is refused now.
  if (auto memcg = machine_memcg(config); !memcg) return memcg.error();
  Guest::Env env{kvm_.get(), memory_.get(), events_, options_.default_kernel};
  auto guest = std::make_shared<Guest>(std::move(config), std::move(env));
  std::lock_guard l(mutex_);
  if (guests_.count(guest->name())) {
    return make_error(std::errc::file_exists, "a guest named '" + guest->name() + "' already exists");
  }
  if (guests_.size() >= options_.max_guests) {
    return make_error(std::errc::too_many_files_open, log::strf("this host already has %zu guests", guests_.size()));
  }
  guests_.emplace(guest->name(), guest);
  return guest->info();
}

Result<std::shared_ptr<Guest>> GuestManager::find(const std::string& name) const {
  std::lock_guard l(mutex_);
  auto it = guests_.find(name);
  if (it == guests_.end()) return make_error(std::errc::no_such_file_or_directory, "no guest named '" + name + "'");
  return it->second;
}

#define TIDE_GUEST_OP(method)                                 \
  Status GuestManager::method(const std::string& name) {      \
    TIDE_TRY_ASSIGN(g, find(name));                           \
    return g->method();                                       \
  }
TIDE_GUEST_OP(boot)
TIDE_GUEST_OP(pause)
TIDE_GUEST_OP(resume)
TIDE_GUEST_OP(stop)
TIDE_GUEST_OP(reboot)
#undef TIDE_GUEST_OP

Status GuestManager::remove(const std::string& name) {
  std::shared_ptr<Guest> g;
  {
    std::lock_guard l(mutex_);
    auto it = guests_.find(name);
    if (it == guests_.end()) return make_error(std::errc::no_such_file_or_directory, "no guest named '" + name + "'");
    g = std::move(it->second);
    guests_.erase(it);
  }
  g.reset();  // stops it (outside the lock: this can take a moment)
  return ok();
}

Result<uint64_t> GuestManager::set_balloon(const std::string& name, uint64_t bytes) {
  TIDE_TRY_ASSIGN(g, find(name));
  return g->set_balloon(bytes);
}

Status GuestManager::set_balloon_auto(const std::string& name, std::optional<BalloonAutoOptions> options) {
  TIDE_TRY_ASSIGN(g, find(name));
  return g->set_balloon_auto(std::move(options));
}

Result<GuestInfo> GuestManager::info(const std::string& name) const {
  TIDE_TRY_ASSIGN(g, find(name));
  return g->info();
}

std::vector<GuestInfo> GuestManager::list() const {
  std::vector<std::shared_ptr<Guest>> guests;
  {
    std::lock_guard l(mutex_);
    for (const auto& [n, g] : guests_) guests.push_back(g);
  }
  std::vector<GuestInfo> out;
  for (const auto& g : guests) out.push_back(g->info());
  return out;
}

bool GuestManager::with_guest_memory(const std::string& name, const std::function<void(gmm::GuestMm&)>& fn) const {
  auto g = find(name);
  return g && (*g)->with_memory(fn);
}

Result<std::string> GuestManager::console(const std::string& name, uint64_t from, uint64_t* next) const {
  TIDE_TRY_ASSIGN(g, find(name));
  return g->console(from, next);
}

void GuestManager::on_fault_error(gmm::GuestMm& mm, const Error& error) {
  // On the fault server: find the guest and end it, without blocking.
  std::lock_guard l(mutex_);
  for (const auto& [name, g] : guests_) {
    if (g->owns(&mm)) {
      log::error("%s", error.message().c_str());
      g->fail(error.message());
      return;
    }
  }
  log::error("%s", error.message().c_str());
}

}  // namespace tide::vmm
