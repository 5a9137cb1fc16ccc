#include "vmm/config/relaxng_validator.hpp"

#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>
#include <sys/stat.h>

#include <map>
#include <mutex>
#include <vector>

namespace tide::vmm {
namespace {

// Messages collected by libxml2's structured error handlers, with their lines and nodes
// (line 0, no node: libxml2 gave none, e.g. "Extra element memory in interleave").
struct Violations {
  struct Entry {
    long line;
    const xmlNode* node;
    std::string message;
  };
  std::vector<Entry> entries;
  size_t dropped = 0;
};

void collect(void* data, xmlError* error) {
  auto* v = static_cast<Violations*>(data);
  if (v == nullptr || error == nullptr || error->level < XML_ERR_ERROR) return;
  const auto* node = static_cast<const xmlNode*>(error->node);
  long line = error->line;
  if (line == 0 && node != nullptr) line = xml_line(node);
  std::string message = error->message != nullptr ? error->message : "unknown error";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (v->entries.size() >= kMaxReportedViolations) {
    ++v->dropped;
    return;
  }
  v->entries.push_back(Violations::Entry{line, line != 0 ? node : nullptr, std::move(message)});
}

// The element a message names: "Extra element vcpu in interleave" -> "vcpu".
std::string named_element(const std::string& message) {
  static const std::string kKey = "element ";
  size_t begin = message.find(kKey);
  if (begin == std::string::npos) return "";
  begin += kKey.size();
  return message.substr(begin, message.find_first_of(" ,:", begin) - begin);
}

// libxml2 reports some violations without a node; they name an element at or just below
// the node of the report next to them (the one before, else the one after). Such an entry
// gets the line of that element, or else of that report. Call while the document lives.
void place_nodeless(Violations& v) {
  std::vector<long> lines;
  for (size_t i = 0; i < v.entries.size(); ++i) {
    long line = v.entries[i].line;
    const Violations::Entry* near = nullptr;
    for (size_t j = i; line == 0 && near == nullptr && j > 0; --j) {
      if (v.entries[j - 1].line != 0) near = &v.entries[j - 1];
    }
    for (size_t j = i + 1; line == 0 && near == nullptr && j < v.entries.size(); ++j) {
      if (v.entries[j].line != 0) near = &v.entries[j];
    }
    if (line == 0 && near != nullptr) {
      line = near->line;
      const std::string name = named_element(v.entries[i].message);
      if (near->node != nullptr && !name.empty() && xml_name(near->node) != name) {
        for (const xmlNode* c = near->node->children; c != nullptr; c = c->next) {
          if (c->type == XML_ELEMENT_NODE && xml_name(c) == name) {
            line = xml_line(c);
            break;
          }
        }
      }
    }
    lines.push_back(line);
  }
  for (size_t i = 0; i < v.entries.size(); ++i) {
    v.entries[i].line = lines[i];
    v.entries[i].node = nullptr;  // not needed past this point
  }
}

// One violation per line, "line N: message".
std::string joined(const Violations& v) {
  std::vector<std::string> lines;
  for (const Violations::Entry& e : v.entries) {
    std::string entry = "line " + std::to_string(e.line) + ": " + e.message;
    bool repeated = false;  // libxml2 sometimes reports one problem twice
    for (const std::string& l : lines) repeated = repeated || l == entry;
    if (!repeated) lines.push_back(std::move(entry));
  }
  std::string out;
  for (const std::string& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  if (v.dropped > 0) out += "\n... and " + std::to_string(v.dropped) + " more";
  return out;
}

class SchemaCache {
 public:
  SchemaCache() = default;
  SchemaCache(const SchemaCache&) = delete;
  SchemaCache& operator=(const SchemaCache&) = delete;
  ~SchemaCache() {
    for (auto& [path, schema] : schemas_) xmlRelaxNGFree(schema);
  }

  Status validate(const XmlDocument& doc, const std::string& schema_path) {
    std::lock_guard lock(mutex_);
    TIDE_TRY_ASSIGN(schema, compiled(schema_path));
    xmlRelaxNGValidCtxt* valid = xmlRelaxNGNewValidCtxt(schema);
    if (valid == nullptr) return make_error(std::errc::not_enough_memory, "cannot create a RelaxNG validator");
    Violations violations;
    xmlRelaxNGSetValidStructuredErrors(valid, collect, &violations);
    const int rc = xmlRelaxNGValidateDoc(valid, doc.get());
    xmlRelaxNGFreeValidCtxt(valid);
    place_nodeless(violations);
    if (rc == 0) return ok();
    if (violations.entries.empty()) {
      violations.entries.push_back({xml_line(doc.root()), nullptr, "the document does not match the schema"});
    }
    return make_error(std::errc::invalid_argument, joined(violations));
  }

 private:
  // The compiled schema for `path`, compiling it on first use. Caller holds mutex_.
  Result<xmlRelaxNG*> compiled(const std::string& path) {
    if (auto it = schemas_.find(path); it != schemas_.end()) return it->second;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return make_error(std::errc::no_such_file_or_directory,
                        "the schema " + path + " does not exist (libvirt's schemas come with the libvirt0 package)");
    }
    xmlRelaxNGParserCtxt* parser = xmlRelaxNGNewParserCtxt(path.c_str());
    if (parser == nullptr) return make_error(std::errc::not_enough_memory, "cannot create a RelaxNG parser");
    Violations problems;
    xmlRelaxNGSetParserStructuredErrors(parser, collect, &problems);
    xmlRelaxNG* schema = xmlRelaxNGParse(parser);
    for (auto& e : problems.entries) e.node = nullptr;  // the schema's nodes may be gone
    xmlRelaxNGFreeParserCtxt(parser);
    if (schema == nullptr) {
      return make_error(std::errc::invalid_argument,
                        "the schema " + path + " does not compile" +
                            (problems.entries.empty() ? "" : ":\n" + joined(problems)));
    }
    schemas_.emplace(path, schema);
    return schema;
  }

  std::mutex mutex_;
  std::map<std::string, xmlRelaxNG*> schemas_;
};

SchemaCache& schema_cache() {
  static SchemaCache cache;
  return cache;
}

}  // namespace

Status validate_relaxng(const XmlDocument& doc, const std::string& schema_path) {
  ensure_libxml_initialised();
  return schema_cache().validate(doc, schema_path);
}

}  // namespace tide::vmm
