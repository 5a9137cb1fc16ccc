// Which virtqueue index plays which role (virtio-v1.2 §5.5.2). The device declares
// inflateq 0, deflateq 1, then one queue per offered optional feature in the order statsq,
// free_page_vq, reporting_vq. A driver numbers only the queues of the features it
// NEGOTIATED, consecutively: a queue whose feature it did not accept is skipped and the
// following ones shift down (Linux's virtio_balloon init_vqs passes a NULL name for it and
// virtio_find_vqs assigns indices only to named queues; QEMU and Cloud Hypervisor match
// this). So the roles are a function of the negotiated features, fixed at DRIVER_OK.
// Pure functions, no state.
#pragma once

#include <cstdint>
#include <optional>

namespace tide::balloon {

enum class QueueRole : uint8_t { kNone, kInflate, kDeflate, kStats, kFreePageHint, kReporting };
[[nodiscard]] const char* queue_role_name(QueueRole role);

// How many queues a device offering `offered_features` declares (2 to 5).
[[nodiscard]] uint16_t declared_queue_count(uint64_t offered_features);
// The role of queue `index` once the driver negotiated `negotiated_features`; kNone for an
// index past the driver's last queue.
[[nodiscard]] QueueRole queue_role(uint16_t index, uint64_t negotiated_features);
// The index of `role` under `negotiated_features`, or nullopt if the driver has no such queue.
[[nodiscard]] std::optional<uint16_t> queue_index(QueueRole role, uint64_t negotiated_features);

}  // namespace tide::balloon
