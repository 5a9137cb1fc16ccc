#include "guestmm/frame_table.hpp"

namespace tide::gmm {

Result<FrameTable> FrameTable::create(uint64_t nr_frames) {
  if (nr_frames == 0 || nr_frames >= kNilFrame) {
    return make_error(std::errc::invalid_argument, "the pool must have between 1 and 2^32-2 frames");
  }
  FrameTable t;
  TIDE_TRY_ASSIGN(mem, host::Mapping::anonymous(nr_frames * sizeof(Frame)));
  t.frames_ = host::as_array<Frame>(mem);
  t.memory_ = std::move(mem);
  t.nr_frames_ = nr_frames;
  return t;
}

}  // namespace tide::gmm
