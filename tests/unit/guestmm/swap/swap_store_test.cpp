// Unit: SwapStore over the fake swap file — data round trips (checksums), contiguous runs
// written and read with few calls, write failures that leave every slot free and nothing
// recorded, read failures reported with the slot still good, released slots punched in
// coalesced batches, the size limit as a clear error, misuse refused, and a seeded random
// run with injected failures against a model. After every test: the store's audit, the
// fake's own check, and "a slot holds blocks only while it holds a page or awaits a punch".
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "fake_swap_file.hpp"
#include "guestmm/swap/swap_store.hpp"
#include "swap_test_support.hpp"

namespace tide::gmm::swap {
namespace {

using fake::FakeSwapFile;
using fake::FakeSwapFiles;
using fake::SwapOp;
using test::PageBuffer;

class SwapStoreTest : public ::testing::Test {
 protected:
  void make(uint64_t nr_slots, uint64_t punch_batch = 512) {
    SwapStoreOptions o;
    o.guest_name = "vm1";
    o.size_bytes = nr_slots * kSlotSize;
    o.punch_batch_slots = punch_batch;
    auto r = SwapStore::create(files, o);
    ASSERT_TRUE(r) << r.error().message();
    store = std::move(*r);
  }
  FakeSwapFile& file() { return *files.file(); }

  [[nodiscard]] Status check() {
    TIDE_TRY(store->check_invariants());
    TIDE_TRY(files.check());
    const SwapStats s = store->stats();
    uint64_t with_blocks = 0;
    for (uint64_t slot = 0; slot < store->nr_slots(); ++slot) {
      const bool blocks = file().holds_blocks(slot);
      with_blocks += blocks ? 1 : 0;
      if (store->owner(Slot(slot)) && !blocks) {
        return make_error(std::errc::state_not_recoverable, "live slot " + std::to_string(slot) + " is a hole");
      }
    }
    if (with_blocks > s.slots_live + s.slots_releasing) {
      return make_error(std::errc::state_not_recoverable,
                        std::to_string(with_blocks) + " slots hold blocks; only " + std::to_string(s.slots_live) +
                            " live and " + std::to_string(s.slots_releasing) + " releasing");
    }
    return ok();
  }

  // Swaps pages [first, first+n) of `buf` out (owners 1000 + i), expecting success.
  std::vector<Slot> out(const PageBuffer& buf, uint64_t first, uint64_t n) {
    auto r = store->swap_out(buf.outs(first, n, 1000));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::vector<Slot>{};
  }

  void TearDown() override {
    if (store) {
      auto st = check();
      EXPECT_TRUE(st) << st.error().message();
    }
  }

  FakeSwapFiles files;  // outlives the store and its file
  std::unique_ptr<SwapStore> store;
};

TEST_F(SwapStoreTest, RoundTripKeepsEveryByte) {
  make(256);
  PageBuffer pages(64);
  pages.fill(1);
  const std::vector<Slot> slots = out(pages, 0, 64);
  ASSERT_EQ(slots.size(), 64u);
  for (uint64_t i = 0; i < 64; ++i) {
    EXPECT_EQ(slots[i], Slot(i));  // a fresh area: one sequential run
    EXPECT_EQ(store->owner(slots[i]), 1000 + i);
  }
  SwapStats s = store->stats();
  EXPECT_EQ(s.write_calls, 1u);
  EXPECT_EQ(s.pages_out, 64u);
  EXPECT_EQ(s.bytes_out, 64 * kSlotSize);
  EXPECT_EQ(s.slots_live, 64u);
  EXPECT_EQ(file().pages_with_blocks(), 64u);
  SWAP_ASSERT_OK(check());

  // Read back in reverse order into other memory: the store sorts, one preadv.
  PageBuffer back(64);
  std::vector<PageIn> ins;
  for (uint64_t i = 64; i-- > 0;) ins.push_back(PageIn{slots[i], back.page(i)});
  SWAP_ASSERT_OK(store->swap_in(ins));
  for (uint64_t i = 0; i < 64; ++i) EXPECT_EQ(back.sum(i), pages.sum(i)) << "page " << i;
  s = store->stats();
  EXPECT_EQ(s.read_calls, 1u);
  EXPECT_EQ(s.pages_in, 64u);
  EXPECT_EQ(s.bytes_in, 64 * kSlotSize);
  EXPECT_EQ(s.slots_live, 64u);  // swap_in does not release

  // One page alone.
  PageBuffer one(1);
  SWAP_ASSERT_OK(store->swap_in(slots[17], one.page(0)));
  EXPECT_EQ(one.sum(0), pages.sum(17));
}

TEST_F(SwapStoreTest, TheChecksumsCatchAPageThatChangedOnDisk) {
  // The round trip above can fail: a page altered in the file reads back different.
  make(16);
  PageBuffer pages(4);
  pages.fill(2);
  const auto slots = out(pages, 0, 4);
  file().corrupt(slots[2].value());
  PageBuffer back(4);
  for (uint64_t i = 0; i < 4; ++i) SWAP_ASSERT_OK(store->swap_in(slots[i], back.page(i)));
  EXPECT_EQ(back.sum(1), pages.sum(1));
  EXPECT_NE(back.sum(2), pages.sum(2));
}

TEST_F(SwapStoreTest, BatchesFollowEachOtherInTheFile) {
  make(256);
  PageBuffer pages(30);
  pages.fill(3);
  const auto a = out(pages, 0, 10);
  const auto b = out(pages, 10, 20);
  EXPECT_EQ(b.front(), a.back() + 1);
  EXPECT_EQ(store->stats().write_calls, 2u);
  // Both batches come back with one read.
  PageBuffer back(30);
  std::vector<PageIn> ins;
  for (uint64_t i = 0; i < 10; ++i) ins.push_back(PageIn{a[i], back.page(i)});
  for (uint64_t i = 0; i < 20; ++i) ins.push_back(PageIn{b[i], back.page(10 + i)});
  SWAP_ASSERT_OK(store->swap_in(ins));
  EXPECT_EQ(store->stats().read_calls, 1u);
  for (uint64_t i = 0; i < 30; ++i) EXPECT_EQ(back.sum(i), pages.sum(i));
}

TEST_F(SwapStoreTest, AFragmentedAreaCostsOneWritePerRun) {
  make(256, 1);  // punch every release at once
  PageBuffer pages(256);
  pages.fill(4);
  const auto all = out(pages, 0, 256);
  SWAP_ASSERT_OK(store->release(std::vector<Slot>{all[20], all[21], all[22], all[100], all[101]}));
  const uint64_t writes = store->stats().write_calls;
  PageBuffer more(5);
  more.fill(5);
  auto r = store->swap_out(more.outs(0, 5, 7000));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector<Slot>{Slot(20), Slot(21), Slot(22), Slot(100), Slot(101)}));
  EXPECT_EQ(store->stats().write_calls - writes, 2u);
  PageBuffer back(5);
  for (uint64_t i = 0; i < 5; ++i) {
    SWAP_ASSERT_OK(store->swap_in((*r)[i], back.page(i)));
    EXPECT_EQ(back.sum(i), more.sum(i));
    EXPECT_EQ(store->owner((*r)[i]), 7000 + i);
  }
}

TEST_F(SwapStoreTest, LargeRunsAreWrittenAndReadInCallsOf1024Pages) {
  make(4096);
  PageBuffer pages(1500);
  pages.fill(6);
  const auto slots = out(pages, 0, 1500);
  EXPECT_EQ(store->stats().write_calls, 2u);
  PageBuffer back(1500);
  std::vector<PageIn> ins;
  for (uint64_t i = 0; i < 1500; ++i) ins.push_back(PageIn{slots[i], back.page(i)});
  SWAP_ASSERT_OK(store->swap_in(ins));
  EXPECT_EQ(store->stats().read_calls, 2u);
  for (uint64_t i = 0; i < 1500; i += 37) EXPECT_EQ(back.sum(i), pages.sum(i));
}

TEST_F(SwapStoreTest, FailedWriteLeavesEverySlotFreeAndNothingRecorded) {
  make(64);
  PageBuffer pages(8);
  pages.fill(7);
  files.fail_next(SwapOp::write, 1, std::errc::io_error);
  auto r = store->swap_out(pages.outs(0, 8, 1000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::io_error);
  EXPECT_NE(r.error().message().find("swap out 8 pages of vm1"), std::string::npos) << r.error().message();
  const SwapStats s = store->stats();
  EXPECT_EQ(s.slots_live + s.slots_writing + s.slots_releasing, 0u);
  EXPECT_EQ(s.pages_out, 0u);
  EXPECT_EQ(s.write_errors, 1u);
  for (uint64_t slot = 0; slot < 8; ++slot) EXPECT_EQ(store->owner(Slot(slot)), std::nullopt);
  EXPECT_EQ(file().pages_with_blocks(), 0u);
  SWAP_ASSERT_OK(check());
  // The same pages go out fine afterwards.
  const auto slots = out(pages, 0, 8);
  ASSERT_EQ(slots.size(), 8u);
  PageBuffer back(1);
  SWAP_ASSERT_OK(store->swap_in(slots[5], back.page(0)));
  EXPECT_EQ(back.sum(0), pages.sum(5));
}

TEST_F(SwapStoreTest, ShortWriteThenFailurePunchesWhatLanded) {
  make(64);
  PageBuffer pages(10);
  pages.fill(8);
  files.fail_next_partway(SwapOp::write, 3, std::errc::no_space_on_device);
  auto r = store->swap_out(pages.outs(0, 10, 1000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_space_on_device);
  EXPECT_EQ(file().pages_with_blocks(), 0u);  // the 3 pages that landed were punched
  EXPECT_EQ(store->stats().slots_punched, 10u);
  EXPECT_EQ(store->stats().slots_live, 0u);
  SWAP_ASSERT_OK(check());
}

TEST_F(SwapStoreTest, FailureOnTheSecondRunUndoesTheFirst) {
  make(256, 1);
  PageBuffer pages(256);
  pages.fill(9);
  const auto all = out(pages, 0, 256);
  SWAP_ASSERT_OK(store->release(std::vector<Slot>{all[10], all[11], all[50], all[51]}));
  // Two runs (10-11, 50-51): the first write succeeds, the second fails.
  files.fail_next(SwapOp::write, 1, std::errc::io_error, /*skip=*/1);
  PageBuffer more(4);
  more.fill(10);
  auto r = store->swap_out(more.outs(0, 4, 5000));
  ASSERT_FALSE(r);
  const SwapStats s = store->stats();
  EXPECT_EQ(s.slots_live, 252u);
  EXPECT_EQ(s.slots_writing + s.slots_releasing, 0u);
  for (uint64_t slot : {10u, 11u, 50u, 51u}) {
    EXPECT_EQ(store->owner(Slot(slot)), std::nullopt);
    EXPECT_FALSE(file().holds_blocks(slot)) << "slot " << slot;
  }
  SWAP_ASSERT_OK(check());
  // The other pages were not touched.
  PageBuffer back(1);
  SWAP_ASSERT_OK(store->swap_in(all[12], back.page(0)));
  EXPECT_EQ(back.sum(0), pages.sum(12));
}

TEST_F(SwapStoreTest, FailedReadIsReportedAndTheSlotStaysGood) {
  make(16);
  PageBuffer pages(2);
  pages.fill(11);
  const auto slots = out(pages, 0, 2);
  files.fail_next(SwapOp::read, 1, std::errc::io_error);
  PageBuffer back(1);
  auto st = store->swap_in(slots[1], back.page(0));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, std::errc::io_error);
  EXPECT_NE(st.error().message().find("swap in 1 pages of vm1 at slot 1"), std::string::npos) << st.error().message();
  EXPECT_EQ(store->stats().read_errors, 1u);
  EXPECT_EQ(store->stats().pages_in, 0u);
  EXPECT_EQ(store->owner(slots[1]), 1001u);
  SWAP_ASSERT_OK(store->swap_in(slots[1], back.page(0)));
  EXPECT_EQ(back.sum(0), pages.sum(1));
}

TEST_F(SwapStoreTest, OnlyLiveSlotsCanBeReadOrReleased) {
  make(16, 64);
  PageBuffer pages(3);
  pages.fill(12);
  const auto slots = out(pages, 0, 3);
  PageBuffer back(1);
  const uint64_t reads = files.calls(SwapOp::read);
  EXPECT_EQ(store->swap_in(Slot(9), back.page(0)).error().code, std::errc::invalid_argument);  // never used
  EXPECT_EQ(store->swap_in(Slot(99), back.page(0)).error().code, std::errc::invalid_argument);  // outside
  EXPECT_FALSE(store->swap_in(slots[0], nullptr));
  SWAP_ASSERT_OK(store->release(slots[0]));
  EXPECT_EQ(store->swap_in(slots[0], back.page(0)).error().code, std::errc::invalid_argument);  // released
  EXPECT_EQ(files.calls(SwapOp::read), reads);  // refused before any I/O

  auto twice = store->release(slots[0]);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, std::errc::invalid_argument);
  // A list naming a slot twice releases nothing.
  EXPECT_FALSE(store->release(std::vector<Slot>{slots[1], slots[2], slots[1]}));
  EXPECT_EQ(store->owner(slots[1]), 1001u);
  EXPECT_EQ(store->owner(slots[2]), 1002u);
  EXPECT_EQ(store->stats().slots_live, 2u);
  EXPECT_EQ(store->stats().slots_released, 1u);
  SWAP_ASSERT_OK(store->swap_in(slots[2], back.page(0)));
  EXPECT_EQ(back.sum(0), pages.sum(2));
  EXPECT_FALSE(store->swap_out(std::vector<PageOut>{PageOut{1, nullptr}}));
  EXPECT_EQ(store->stats().slots_live, 2u);
}

TEST_F(SwapStoreTest, ReleasedSlotsArePunchedInCoalescedBatches) {
  make(64, 8);
  PageBuffer pages(16);
  pages.fill(13);
  const auto slots = out(pages, 0, 16);
  // Seven releases wait; the eighth fills the batch: one punch of one 8-page range.
  for (uint64_t i = 0; i < 7; ++i) SWAP_ASSERT_OK(store->release(slots[6 - i]));
  EXPECT_EQ(store->stats().punch_calls, 0u);
  EXPECT_EQ(store->stats().slots_releasing, 7u);
  EXPECT_EQ(file().pages_with_blocks(), 16u);
  EXPECT_FALSE(store->owner(slots[3]));  // gone for readers already
  SWAP_ASSERT_OK(check());
  SWAP_ASSERT_OK(store->release(slots[7]));
  SwapStats s = store->stats();
  EXPECT_EQ(s.punch_calls, 1u);
  EXPECT_EQ(s.slots_punched, 8u);
  EXPECT_EQ(s.slots_releasing, 0u);
  ASSERT_EQ(file().punches().size(), 1u);
  EXPECT_EQ(file().punches()[0], (std::vector<host::ByteRange>{{0, 8 * kSlotSize}}));
  EXPECT_EQ(file().pages_with_blocks(), 8u);

  // Two separate stretches, released out of order: two ranges, one call each.
  SWAP_ASSERT_OK(store->release(std::vector<Slot>{slots[13], slots[9], slots[12], slots[8]}));
  SWAP_ASSERT_OK(store->flush_releases());
  s = store->stats();
  EXPECT_EQ(s.punch_calls, 3u);
  EXPECT_EQ(file().punches().back(),
            (std::vector<host::ByteRange>{{8 * kSlotSize, 2 * kSlotSize}, {12 * kSlotSize, 2 * kSlotSize}}));
  EXPECT_EQ(file().pages_with_blocks(), 4u);
  SWAP_ASSERT_OK(store->flush_releases());  // nothing waits: no call
  EXPECT_EQ(store->stats().punch_calls, 3u);
  // Punched slots are free for the next swap-out.
  EXPECT_EQ(store->stats().slots_live, 4u);
  SWAP_ASSERT_OK(check());
}

TEST_F(SwapStoreTest, FailedPunchKeepsTheSlotsWaitingAndIsRetried) {
  make(16, 2);
  PageBuffer pages(4);
  pages.fill(14);
  const auto slots = out(pages, 0, 4);
  files.fail_next(SwapOp::punch);
  // The release itself succeeds; the punch failure is the store's to retry.
  SWAP_ASSERT_OK(store->release(std::vector<Slot>{slots[0], slots[1]}));
  SwapStats s = store->stats();
  EXPECT_EQ(s.punch_errors, 1u);
  EXPECT_EQ(s.slots_releasing, 2u);
  EXPECT_TRUE(file().holds_blocks(0));
  SWAP_ASSERT_OK(check());
  files.fail_next(SwapOp::punch);
  EXPECT_FALSE(store->flush_releases());
  SWAP_ASSERT_OK(store->flush_releases());
  s = store->stats();
  EXPECT_EQ(s.slots_releasing, 0u);
  EXPECT_EQ(s.slots_punched, 2u);
  EXPECT_FALSE(file().holds_blocks(0));
}

TEST_F(SwapStoreTest, FullFileIsAClearErrorThatChangesNothing) {
  make(16);
  PageBuffer pages(17);
  pages.fill(15);
  out(pages, 0, 12);
  auto r = store->swap_out(pages.outs(12, 5, 1000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_space_on_device);
  EXPECT_NE(r.error().message().find("swap for vm1 is full: 5 pages to write, 4 of 16 slots (64 KiB) free"), std::string::npos)
      << r.error().message();
  SwapStats s = store->stats();
  EXPECT_EQ(s.full, 1u);
  EXPECT_EQ(s.slots_live, 12u);
  EXPECT_EQ(s.write_calls, 1u);
  EXPECT_EQ(out(pages, 12, 4).size(), 4u);  // what fits still fits
  EXPECT_EQ(store->stats().slots_live, 16u);
}

TEST_F(SwapStoreTest, FullFilePunchesWaitingReleasesBeforeGivingUp) {
  make(16, 64);
  PageBuffer pages(20);
  pages.fill(16);
  const auto slots = out(pages, 0, 16);
  SWAP_ASSERT_OK(store->release(std::vector<Slot>{slots[3], slots[4], slots[5], slots[6]}));
  EXPECT_EQ(store->stats().punch_calls, 0u);
  const auto more = out(pages, 16, 4);
  EXPECT_EQ(more, (std::vector<Slot>{Slot(3), Slot(4), Slot(5), Slot(6)}));
  EXPECT_EQ(store->stats().punch_calls, 1u);
  EXPECT_EQ(store->stats().full, 0u);
  PageBuffer back(1);
  SWAP_ASSERT_OK(store->swap_in(more[2], back.page(0)));
  EXPECT_EQ(back.sum(0), pages.sum(18));
}

TEST_F(SwapStoreTest, MisalignedPageIsRefusedByTheFileAndUndone) {
  make(16);
  PageBuffer pages(2);
  const std::vector<PageOut> bad{PageOut{1, pages.page(0)}, PageOut{2, pages.page(1) + 8}};
  auto r = store->swap_out(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
  EXPECT_EQ(store->stats().slots_live, 0u);
  EXPECT_EQ(store->stats().write_errors, 1u);
  // The fake remembers the bad call; the audit would flag it. Take it as seen.
  EXPECT_FALSE(files.check());
  store.reset();
}

TEST_F(SwapStoreTest, CreationErrorsAreReported) {
  SwapStoreOptions o;
  o.guest_name = "vm1";
  o.size_bytes = 0;
  EXPECT_EQ(SwapStore::create(files, o).error().code, std::errc::invalid_argument);
  o.size_bytes = 4097;
  EXPECT_EQ(SwapStore::create(files, o).error().code, std::errc::invalid_argument);
  o.size_bytes = 4096;
  o.punch_batch_slots = 0;
  EXPECT_FALSE(SwapStore::create(files, o));
  o.punch_batch_slots = 1;
  files.fail_next(SwapOp::create, 1, std::errc::permission_denied);
  auto r = SwapStore::create(files, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::permission_denied);
  EXPECT_NE(r.error().message().find("swap for vm1"), std::string::npos) << r.error().message();
  o.directory = "/somewhere";
  o.allow_tmpfile = false;
  auto good = SwapStore::create(files, o);
  ASSERT_TRUE(good) << good.error().message();
  EXPECT_EQ(files.last_spec().directory, "/somewhere");
  EXPECT_EQ(files.last_spec().guest_name, "vm1");
  EXPECT_EQ(files.last_spec().size_bytes, 4096u);
  EXPECT_FALSE(files.last_spec().allow_tmpfile);
  EXPECT_EQ((*good)->nr_slots(), 1u);
}

TEST_F(SwapStoreTest, SeededRandomRunWithFailuresAgainstAModel) {
  constexpr uint64_t kSlots = 700;
  make(kSlots, 16);
  PageBuffer pages(64);
  PageBuffer back(64);
  std::mt19937_64 rng(77);
  std::map<uint64_t, uint64_t> model;  // live slot -> checksum of its page
  uint64_t seed = 100;
  for (int step = 0; step < 600; ++step) {
    const uint64_t op = rng() % 10;
    if (op < 4) {
      const uint64_t n = 1 + rng() % 64;
      pages.fill(++seed);
      const bool inject = rng() % 8 == 0;
      if (inject) files.fail_next(SwapOp::write, 1, std::errc::io_error, static_cast<unsigned>(rng() % 2));
      auto r = store->swap_out(pages.outs(0, n, 0));
      files.clear_failures();
      if (!r) {
        ASSERT_TRUE(inject || model.size() + n > kSlots) << r.error().message();
        continue;
      }
      ASSERT_EQ(r->size(), n);
      for (uint64_t i = 0; i < n; ++i) {
        ASSERT_FALSE(model.count((*r)[i].value()));
        model[(*r)[i].value()] = pages.sum(i);
      }
    } else if (op < 7 && !model.empty()) {
      // Read back up to 64 live slots from a random point, checking every page.
      std::vector<PageIn> ins;
      std::vector<uint64_t> sums;
      for (auto it = model.lower_bound(rng() % kSlots); it != model.end() && ins.size() < 64; ++it) {
        ins.push_back(PageIn{Slot(it->first), back.page(ins.size())});
        sums.push_back(it->second);
      }
      SWAP_ASSERT_OK(store->swap_in(ins));
      for (size_t i = 0; i < ins.size(); ++i) ASSERT_EQ(back.sum(i), sums[i]) << "slot " << ins[i].slot.value();
    } else if (!model.empty()) {
      std::vector<Slot> rel;
      const uint64_t want = 1 + rng() % 40;
      for (auto it = model.lower_bound(rng() % kSlots); it != model.end() && rel.size() < want;) {
        rel.push_back(Slot(it->first));
        it = model.erase(it);
      }
      if (rng() % 10 == 0) files.fail_next(SwapOp::punch);
      SWAP_ASSERT_OK(store->release(rel));
      files.clear_failures();
    }
    ASSERT_EQ(store->stats().slots_live, model.size());
    if (step % 25 == 0) SWAP_ASSERT_OK(check());
  }
  SWAP_ASSERT_OK(store->flush_releases());
  EXPECT_EQ(file().pages_with_blocks(), model.size());
}

TEST_F(SwapStoreTest, ThreadsSwappingAtOnceKeepTheirPages) {
  make(2048, 32);
  constexpr int kThreads = 3;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &errors] {
      PageBuffer pages(32), back(32);
      for (int round = 0; round < 40; ++round) {
        pages.fill(static_cast<uint64_t>(t * 1000 + round));
        auto slots = store->swap_out(pages.outs(0, 32, static_cast<uint64_t>(t) << 32));
        if (!slots) {
          errors[t] = slots.error().message();
          return;
        }
        std::vector<PageIn> ins;
        for (uint64_t i = 0; i < 32; ++i) ins.push_back(PageIn{(*slots)[i], back.page(i)});
        if (auto st = store->swap_in(ins); !st) {
          errors[t] = st.error().message();
          return;
        }
        for (uint64_t i = 0; i < 32; ++i) {
          if (back.sum(i) != pages.sum(i) || store->owner((*slots)[i]) != ((static_cast<uint64_t>(t) << 32) + i)) {
            errors[t] = "page " + std::to_string(i) + " came back wrong in round " + std::to_string(round);
            return;
          }
        }
        if (auto st = store->release(*slots); !st) {
          errors[t] = st.error().message();
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  EXPECT_EQ(store->stats().pages_out, uint64_t{kThreads} * 40 * 32);
  EXPECT_EQ(store->stats().slots_live, 0u);
}

}  // namespace
}  // namespace tide::gmm::swap
