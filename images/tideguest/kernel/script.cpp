// Command-line script extraction and the command loop (see script.hpp).
#include "kernel/script.hpp"

#include "dev/debug_exit.hpp"
#include "kernel/balloon_commands.hpp"
#include "kernel/commands.hpp"
#include "lib/format.hpp"

namespace tg {

lib::Text find_parameter(const char* cmdline, lib::Text name) {
  lib::Text line(cmdline);
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    lib::Text rest = line.substr(i);
    if (rest.starts_with(name) && rest.size() > name.size() && rest[name.size()] == '=') {
      lib::Text value = rest.substr(name.size() + 1);
      if (!value.empty() && value[0] == '"') {
        value = value.substr(1);
        return value.substr(0, value.find('"'));
      }
      return value.substr(0, value.find(' '));
    }
    // Skip this word, including any quoted part.
    bool quoted = false;
    while (i < line.size() && (quoted || line[i] != ' ')) {
      if (line[i] == '"') quoted = !quoted;
      ++i;
    }
  }
  return lib::Text();
}

lib::Text find_script(const char* cmdline) {
  lib::Text script = find_parameter(cmdline, "tide.run");
  return script.empty() ? lib::Text(kDefaultScript) : script;
}

void run_script(lib::Text script) {
  while (!script.empty()) {
    size_t end = script.find(';');
    lib::Text command = script.substr(0, end).trimmed();
    script = script.substr(end < script.size() ? end + 1 : end);
    if (command.empty()) continue;
    balloon_between_commands();
    kprintf("> %.*s\n", static_cast<int>(command.size()), command.data());
    switch (run_command(command)) {
      case CommandResult::kOk:
        break;
      case CommandResult::kFailed:
        dev::debug_exit(kExitCommandFailed);
      case CommandResult::kUnknown:
        kprintf("tideguest: unknown command '%.*s'\n", static_cast<int>(command.size()),
                command.data());
        dev::debug_exit(kExitUnknownCommand);
    }
  }
  dev::debug_exit(0);
}

}  // namespace tg
