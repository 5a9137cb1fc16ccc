// E2E: bad input on the command line gets one clear line on stderr and a non-zero status.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "e2e_util.hpp"

namespace tide::test {
namespace {

namespace fs = std::filesystem;

// Runs tide and checks: status, nothing on stdout, exactly one stderr line containing `want`.
void expect_one_line_error(std::vector<std::string> argv, int status, const std::string& want) {
  argv.insert(argv.begin(), kTide);
  auto r = run_command(argv);
  EXPECT_EQ(r.status, status) << r.output;
  EXPECT_EQ(r.out, "") << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(want), std::string::npos) << "wanted '" << want << "' in: " << r.output;
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    path_ = fs::temp_directory_path() / ("tide-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(++n_));
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
  static inline int n_ = 0;
};

TEST(CliErrors, BadFlagsAreOneLineErrors) {
  expect_one_line_error({"run", "--memory", "12X"}, 1, "--memory: bad size '12X'");
  expect_one_line_error({"run", "--vcpus", "0"}, 1, "--vcpus: '0' is not a number from 1 to 254");
  expect_one_line_error({"run", "--vcpus", "many"}, 1, "--vcpus");
  expect_one_line_error({"run", "--bogus"}, 1, "unknown option --bogus");
  expect_one_line_error({"run", "--memory"}, 1, "option --memory needs a value");
  expect_one_line_error({"run", "stray"}, 1, "unexpected argument 'stray'");
  expect_one_line_error({"run", "--log-level", "loud"}, 1, "bad log level 'loud'");
  expect_one_line_error({"frobnicate"}, 2, "unknown command 'frobnicate'");
}

TEST(CliErrors, MissingFiles) {
  expect_one_line_error({"run", "--kernel", "/nonexistent/vmlinux"}, 1, "kernel /nonexistent/vmlinux: no such file");
  expect_one_line_error({"run", "--kernel", kTideguest, "--initrd", "/nonexistent/initrd"}, 1,
                        "initrd /nonexistent/initrd: no such file");
}

TEST(CliErrors, BadKernelFiles) {
  TIDE_REQUIRE_KVM();
  TempFile text("this is not a kernel\n");
  expect_one_line_error({"run", "--kernel", text.path()}, 1, "not an ELF file");
  // tideguest with its PVH note renamed: a valid ELF that cannot be booted through PVH.
  std::ifstream in(kTideguest, std::ios::binary);
  std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  int renamed = 0;
  while ((at = elf.find(std::string("Xen\0", 4), at)) != std::string::npos) {
    elf[at + 1] = 'y';
    ++renamed;
  }
  ASSERT_GE(renamed, 1);
  TempFile no_note(elf);
  expect_one_line_error({"run", "--kernel", no_note.path()}, 1, "not an ELF with a PVH note");
  TempFile truncated(elf.substr(0, 200));
  expect_one_line_error({"run", "--kernel", truncated.path()}, 1, "bad ELF kernel");
}

TEST(CliErrors, ImpossibleMachines) {
  TIDE_REQUIRE_KVM();
  expect_one_line_error({"run", "--memory", "4M"}, 1, "guest memory must be");
  expect_one_line_error({"run", "--cmdline", std::string(70000, 'x')}, 1, "kernel command line is 70000 bytes");
}

TEST(Cli, HelpAndVersion) {
  auto h = run_command({kTide, "run", "--help"});
  EXPECT_EQ(h.status, 0);
  for (const char* flag : {"--kernel", "--cmdline", "--initrd", "--memory", "--vcpus", "--no-rng", "--vcpu-stats",
                           "--log-level", "--help"}) {
    EXPECT_NE(h.out.find(flag), std::string::npos) << flag;
  }
  auto top = run_command({kTide, "--help"});
  EXPECT_EQ(top.status, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos);
  auto v = run_command({kTide, "--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.out.find("tide "), std::string::npos);
  if (have_kvm()) {
    EXPECT_TRUE(v.out.find("KVM host: PVM") != std::string::npos ||
                v.out.find("KVM host: hardware virtualization") != std::string::npos)
        << v.out;
  }
}

}  // namespace
}  // namespace tide::test
