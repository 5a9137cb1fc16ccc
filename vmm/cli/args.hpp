// Args: a small parser for `--name value`, `--name=value` and `--flag` options, with the
// set of options a sub-command accepts declared up front, so an unknown or incomplete
// option is a one-line error naming it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::vmm {

class Args {
 public:
  // `with_value`: options that take a value; `flags`: options that do not.
  Args(std::string command, std::set<std::string> with_value, std::set<std::string> flags)
      : command_(std::move(command)), with_value_(std::move(with_value)), flags_(std::move(flags)) {}

  [[nodiscard]] Status parse(const std::vector<std::string>& argv);

  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) > 0; }
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  [[nodiscard]] const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::set<std::string> with_value_;
  std::set<std::string> flags_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace tide::vmm
