// Unit: the real Linux swap file in a temporary directory — a store's round trip of a few
// hundred pages (checksums), the file sparse before writes and punched after release, no
// name left in the directory (O_TMPFILE, or the O_EXCL name unlinked at once), page-aligned
// I/O enforced, punches coalesced into one fallocate per range, directory and size errors,
// $TIDE_SWAP_DIR, and the throughput probe on a small size.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "guestmm/host/swap_file.hpp"
#include "guestmm/swap/swap_store.hpp"
#include "swap_test_support.hpp"

namespace tide::gmm::swap {
namespace {

using test::PageBuffer;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

class LinuxSwapFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "tide-swap-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << "mkdtemp " << tmpl;
    dir = tmpl;
  }
  void TearDown() override {
    // rmdir fails on a non-empty directory: no test may leave a swap file behind.
    EXPECT_EQ(entries(), std::vector<std::string>{});
    EXPECT_EQ(::rmdir(dir.c_str()), 0) << dir;
  }
  [[nodiscard]] std::vector<std::string> entries() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return {"<cannot open " + dir + ">"};
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    return names;
  }
  std::unique_ptr<SwapStore> make_store(uint64_t size_bytes, bool allow_tmpfile, uint64_t punch_batch = 512) {
    SwapStoreOptions o;
    o.guest_name = "vm/1 test";  // not a safe file name as it stands
    o.size_bytes = size_bytes;
    o.directory = dir;
    o.allow_tmpfile = allow_tmpfile;
    o.punch_batch_slots = punch_batch;
    auto r = SwapStore::create(files, o);
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : nullptr;
  }
  [[nodiscard]] static uint64_t on_disk(const SwapStore& s) {
    auto b = s.file().allocated_bytes();
    EXPECT_TRUE(b) << b.error().message();
    return b ? *b : 0;
  }

  // Swaps 300 pages out and in with checksums, then releases them; the file must start
  // sparse, hold the pages' blocks while they are live, and give them back once punched.
  void round_trip(bool allow_tmpfile) {
    constexpr uint64_t kPages = 300;
    auto store = make_store(16 * kMiB, allow_tmpfile);
    ASSERT_TRUE(store);
    EXPECT_EQ(entries(), std::vector<std::string>{}) << "the swap file has a name";
    EXPECT_LT(on_disk(*store), 64 * kKiB) << "a fresh swap file should be sparse";

    PageBuffer pages(kPages);
    pages.fill(42);
    auto slots = store->swap_out(pages.outs(0, kPages, 0));
    ASSERT_TRUE(slots) << slots.error().message();
    EXPECT_EQ(store->stats().write_calls, 1u);
    EXPECT_GE(on_disk(*store), kPages * kSlotSize);
    EXPECT_LT(on_disk(*store), 2 * kMiB);

    PageBuffer back(kPages);
    std::vector<PageIn> ins;
    for (uint64_t i = 0; i < kPages; ++i) ins.push_back(PageIn{(*slots)[i], back.page(i)});
    SWAP_ASSERT_OK(store->swap_in(ins));
    for (uint64_t i = 0; i < kPages; ++i) ASSERT_EQ(back.sum(i), pages.sum(i)) << "page " << i;
    EXPECT_EQ(store->stats().read_calls, 1u);

    // Half released and punched; the other half still reads back right.
    std::vector<Slot> first_half(slots->begin(), slots->begin() + kPages / 2);
    SWAP_ASSERT_OK(store->release(first_half));
    SWAP_ASSERT_OK(store->flush_releases());
    EXPECT_EQ(store->stats().punch_calls, 1u);
    EXPECT_LT(on_disk(*store), (kPages / 2) * kSlotSize + 64 * kKiB);
    SWAP_ASSERT_OK(store->swap_in((*slots)[kPages - 1], back.page(0)));
    EXPECT_EQ(back.sum(0), pages.sum(kPages - 1));

    SWAP_ASSERT_OK(store->release(std::vector<Slot>(slots->begin() + kPages / 2, slots->end())));
    SWAP_ASSERT_OK(store->flush_releases());
    EXPECT_LT(on_disk(*store), 64 * kKiB) << "released slots were not punched";
    SWAP_ASSERT_OK(store->check_invariants());
  }

  host::LinuxSwapFiles files;
  std::string dir;
};

TEST_F(LinuxSwapFileTest, StoreRoundTripOnAnUnnamedFile) { round_trip(true); }

TEST_F(LinuxSwapFileTest, StoreRoundTripOnANamedFileUnlinkedAtOnce) { round_trip(false); }

TEST_F(LinuxSwapFileTest, FileReadsZeroesWhereNothingWasWritten) {
  host::SwapFileSpec spec{"vm1", 64 * kKiB, dir, true};
  auto f = files.create(spec);
  ASSERT_TRUE(f) << f.error().message();
  PageBuffer page(1);
  page.fill(1);
  std::byte* const p = page.page(0);
  SWAP_ASSERT_OK((*f)->read_pages(5 * kSlotSize, std::span<std::byte* const>(&p, 1)));
  for (uint64_t i = 0; i < kSlotSize; ++i) ASSERT_EQ(p[i], std::byte{0});
}

TEST_F(LinuxSwapFileTest, MisalignedOrOutOfRangeIoIsRefused) {
  host::SwapFileSpec spec{"vm1", 64 * kKiB, dir, true};
  auto f = files.create(spec);
  ASSERT_TRUE(f) << f.error().message();
  PageBuffer pages(2);
  const std::byte* misaligned = pages.page(0) + 512;
  EXPECT_EQ((*f)->write_pages(0, std::span<const std::byte* const>(&misaligned, 1)).error().code,
            std::errc::invalid_argument);
  const std::byte* good = pages.page(1);
  EXPECT_EQ((*f)->write_pages(100, std::span<const std::byte* const>(&good, 1)).error().code, std::errc::invalid_argument);
  EXPECT_EQ((*f)->write_pages(64 * kKiB, std::span<const std::byte* const>(&good, 1)).error().code,
            std::errc::invalid_argument);
  SWAP_ASSERT_OK((*f)->write_pages(60 * kKiB, std::span<const std::byte* const>(&good, 1)));  // the last page
  EXPECT_EQ((*f)->punch(std::vector<host::ByteRange>{{60 * kKiB, 8 * kKiB}}).error().code, std::errc::invalid_argument);
  EXPECT_EQ((*f)->calls().writes, 1u);
}

TEST_F(LinuxSwapFileTest, PunchMakesOneCallPerCoalescedRange) {
  host::SwapFileSpec spec{"vm1", 64 * kKiB, dir, true};
  auto f = files.create(spec);
  ASSERT_TRUE(f) << f.error().message();
  PageBuffer pages(16);
  pages.fill(3);
  std::vector<const std::byte*> ptrs;
  for (uint64_t i = 0; i < 16; ++i) ptrs.push_back(pages.page(i));
  SWAP_ASSERT_OK((*f)->write_pages(0, ptrs));
  SWAP_ASSERT_OK((*f)->punch(std::vector<host::ByteRange>{
      {4 * kSlotSize, kSlotSize}, {0, kSlotSize}, {kSlotSize, kSlotSize}, {5 * kSlotSize, kSlotSize}}));
  EXPECT_EQ((*f)->calls().punches, 2u);  // [0, 8 KiB) and [16 KiB, 24 KiB)
  // The punched pages read as zeroes, their neighbours as written.
  PageBuffer back(6);
  std::vector<std::byte*> outs;
  for (uint64_t i = 0; i < 6; ++i) outs.push_back(back.page(i));
  SWAP_ASSERT_OK((*f)->read_pages(0, outs));
  PageBuffer zero(1);
  for (uint64_t i : {0u, 1u, 4u, 5u}) EXPECT_EQ(back.sum(i), zero.sum(0)) << "page " << i;
  EXPECT_EQ(back.sum(2), pages.sum(2));
  EXPECT_EQ(back.sum(3), pages.sum(3));
}

TEST_F(LinuxSwapFileTest, BadSizesAndDirectoriesAreClearErrors) {
  host::SwapFileSpec spec{"vm1", 0, dir, true};
  EXPECT_EQ(files.create(spec).error().code, std::errc::invalid_argument);
  spec.size_bytes = 4095;
  EXPECT_EQ(files.create(spec).error().code, std::errc::invalid_argument);
  spec.size_bytes = 64 * kKiB;
  spec.directory = dir + "/no/such/place";
  auto missing = files.create(spec);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("swap directory"), std::string::npos) << missing.error().message();
  // A file where the directory should be.
  const std::string plain = dir + "/plain";
  const int fd = ::open(plain.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  spec.directory = plain;
  EXPECT_EQ(files.create(spec).error().code, std::errc::not_a_directory);
  ASSERT_EQ(::unlink(plain.c_str()), 0);
  // A missing last component is created, private.
  spec.directory = dir + "/made";
  {
    auto f = files.create(spec);
    ASSERT_TRUE(f) << f.error().message();
    struct stat st {};
    ASSERT_EQ(::stat(spec.directory.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  ASSERT_EQ(::rmdir(spec.directory.c_str()), 0) << "the swap file left a name behind";
}

TEST_F(LinuxSwapFileTest, DefaultDirectoryFollowsTideSwapDir) {
  const char* old = std::getenv("TIDE_SWAP_DIR");
  const std::string saved = old ? old : "";
  ASSERT_EQ(::setenv("TIDE_SWAP_DIR", dir.c_str(), 1), 0);
  EXPECT_EQ(host::default_swap_directory(), dir);
  {
    host::SwapFileSpec spec{"vm1", 64 * kKiB, "", false};
    auto f = files.create(spec);
    EXPECT_TRUE(f) << f.error().message();
  }
  ASSERT_EQ(::setenv("TIDE_SWAP_DIR", "", 1), 0);
  EXPECT_EQ(host::default_swap_directory(), "/var/tmp/tide-swap");
  ASSERT_EQ(::unsetenv("TIDE_SWAP_DIR"), 0);
  EXPECT_EQ(host::default_swap_directory(), "/var/tmp/tide-swap");
  if (old) ::setenv("TIDE_SWAP_DIR", saved.c_str(), 1);
}

TEST_F(LinuxSwapFileTest, ThroughputProbeWritesAndReadsBackItsSize) {
  auto r = host::measure_swap_throughput(dir, 8 * kMiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->bytes, 8 * kMiB);
  EXPECT_GT(r->write_seconds, 0.0);
  EXPECT_GT(r->read_seconds, 0.0);
  EXPECT_GT(r->write_mib_per_s(), 0.0);
  EXPECT_GT(r->read_mib_per_s(), 0.0);
  EXPECT_NEAR(r->write_mib_per_s() * r->write_seconds, 8.0, 1e-6);
  EXPECT_EQ(host::measure_swap_throughput(dir, 6 * kMiB).error().code, std::errc::invalid_argument);
  EXPECT_EQ(host::measure_swap_throughput(dir, 0).error().code, std::errc::invalid_argument);
  EXPECT_FALSE(host::measure_swap_throughput(dir + "/no/such/place", 4 * kMiB));
}

}  // namespace
}  // namespace tide::gmm::swap
