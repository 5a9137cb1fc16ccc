#include "vmm/machine/kvm_doorbells.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "guestmm/base/log.hpp"
#include "vmm/kvm/eventfd.hpp"

namespace tide::vmm {

struct KvmDoorbells::Entry {
  Entry(boost::asio::io_context& io, EventFd e) : fd(std::move(e)), stream(io, fd.fd()) {}
  ~Entry() { stream.release(); }  // the EventFd owns the descriptor

  EventFd fd;
  boost::asio::posix::stream_descriptor stream;  // touched only on the loop thread
  uint64_t gpa = 0;
  uint32_t len = 0;
  std::optional<uint64_t> datamatch;
  std::function<void()> on_ring;
  std::recursive_mutex call_mutex;  // held across on_ring; remove() takes it to fence calls
  bool active = true;
};

namespace {

void arm(const std::shared_ptr<KvmDoorbells::Entry>& e) {
  e->stream.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [e](const boost::system::error_code& ec) {
                         if (ec) return;  // cancelled: the doorbell was removed
                         e->fd.consume();
                         {
                           std::lock_guard lock(e->call_mutex);
                           if (!e->active) return;
                           e->on_ring();
                           if (!e->active) return;
                         }
                         arm(e);
                       });
}

}  // namespace

KvmDoorbells::~KvmDoorbells() {
  std::map<uint64_t, std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
  }
  for (auto& [id, e] : entries) {
    std::lock_guard call(e->call_mutex);
    e->active = false;
    (void)vm_.ioeventfd(e->fd.fd(), e->gpa, e->len, e->datamatch, false);
  }
}

Result<uint64_t> KvmDoorbells::add(uint64_t gpa, uint32_t len, std::optional<uint64_t> datamatch,
                                   std::function<void()> on_ring) {
  TIDE_TRY_ASSIGN(fd, EventFd::create());
  TIDE_TRY(vm_.ioeventfd(fd.fd(), gpa, len, datamatch, true));
  auto e = std::make_shared<Entry>(loop_.context(), std::move(fd));
  e->gpa = gpa;
  e->len = len;
  e->datamatch = datamatch;
  e->on_ring = std::move(on_ring);
  uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    entries_.emplace(id, e);
  }
  boost::asio::post(loop_.context(), [e] { arm(e); });
  return id;
}

void KvmDoorbells::remove(uint64_t id) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    e = it->second;
    entries_.erase(it);
  }
  {
    std::lock_guard call(e->call_mutex);
    e->active = false;
  }
  if (auto st = vm_.ioeventfd(e->fd.fd(), e->gpa, e->len, e->datamatch, false); !st) {
    log::warn("%s", st.error().message().c_str());
  }
  // The stream may only be touched on the loop thread; the handler holds `e` alive.
  boost::asio::post(loop_.context(), [e] { e->stream.cancel(); });
}

}  // namespace tide::vmm
