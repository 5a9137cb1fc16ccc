#include "vmm/cli/args.hpp"

namespace tide::vmm {

Status Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      if (!a.empty() && a[0] == '-' && a != "-") {
        return make_error(std::errc::invalid_argument, "unknown option " + a + " (see tide " + command_ + " --help)");
      }
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (flags_.count(name)) {
      if (inline_value) return make_error(std::errc::invalid_argument, "option --" + name + " takes no value");
      values_[name] = "";
    } else if (with_value_.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) return make_error(std::errc::invalid_argument, "option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      return make_error(std::errc::invalid_argument, "unknown option --" + name + " (see tide " + command_ + " --help)");
    }
  }
  return ok();
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tide::vmm
