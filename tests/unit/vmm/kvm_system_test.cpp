// Unit: opening KVM where there is none gives one actionable message.
#include <gtest/gtest.h>

#include "vmm/kvm/system.hpp"

namespace tide::vmm {
namespace {

TEST(KvmSystem, MissingDeviceSaysWhatToDo) {
  auto k = KvmSystem::open("/nonexistent/kvm");
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message().find("open /nonexistent/kvm (no KVM on this host"), std::string::npos)
      << k.error().message();
}

}  // namespace
}  // namespace tide::vmm
