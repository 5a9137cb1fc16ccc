// HostFixture: a `tide host` daemon on a private socket for one test, and `tide ctl`
// against it. Pool size and daemon flags per test.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <fstream>
#include <memory>

#include "e2e_util.hpp"

namespace tide::test {

// The unsigned number at `path` in a JSON answer (nested keys), or UINT64_MAX if absent.
inline uint64_t u64(const boost::json::value& v, std::initializer_list<const char*> path) {
  const boost::json::value* at = &v;
  for (const char* k : path) {
    if (!at->is_object() || !at->as_object().contains(k)) return UINT64_MAX;
    at = &at->as_object().at(k);
  }
  if (at->is_uint64()) return at->as_uint64();
  if (at->is_int64()) return static_cast<uint64_t>(at->as_int64());
  return UINT64_MAX;
}

class HostFixture : public ::testing::Test {
 protected:
  // The daemon's pool; override before SetUp runs (in the derived constructor).
  std::string pool_ = "1G";

  void SetUp() override {
    TIDE_REQUIRE_KVM();
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("tide-host-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    socket_ = (dir_ / "api.sock").string();
    daemon_ = std::make_unique<Process>(std::vector<std::string>{kTide, "host", "--api-socket", socket_, "--pool", pool_},
                                        std::vector<std::string>{"TIDE_TIDEGUEST=" + kTideguest});
    ASSERT_TRUE(daemon_->wait_for_output("tide host: ready", std::chrono::seconds(60))) << daemon_->output();
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->kill(SIGTERM);
      daemon_->wait(std::chrono::seconds(60));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RunResult ctl(std::vector<std::string> args, bool json = false) {
    std::vector<std::string> argv = {kTide, "ctl", "--api-socket", socket_};
    if (json) argv.push_back("--json");
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  // `tide ctl --json ARGS` parsed; a null value if it failed or printed no JSON object.
  boost::json::value ctl_json(std::vector<std::string> args) {
    RunResult r = ctl(std::move(args), true);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.out, ec);
    if (r.status != 0 || ec) return nullptr;
    return v;
  }
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  // Waits (at most `limit`) until the guest's console shows `text`.
  bool console_shows(const std::string& guest, const std::string& text,
                     std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      auto r = ctl({"console", guest});
      if (r.out.find(text) != std::string::npos) return true;
      usleep(50 * 1000);
    }
    return false;
  }
  std::string console(const std::string& guest) { return ctl({"console", guest}).out; }

  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<Process> daemon_;
};

}  // namespace tide::test
