// parse_domain_xml and load_domain_xml: well-formedness, then the schema, then
// DomainParser; each stage reports everything it found before the next one runs.
#include "vmm/config/domain_xml.hpp"

#include <cerrno>
#include <cstdio>

#include "vmm/config/domain_xml_parser.hpp"
#include "vmm/config/relaxng_validator.hpp"
#include "vmm/config/xml_document.hpp"

namespace tide::vmm {

Result<GuestConfig> parse_domain_xml(std::string_view xml, const DomainXmlOptions& options) {
  auto doc = XmlDocument::parse(xml);
  if (!doc) return prefixed(doc.error(), "domain XML");
  if (options.validate) {
    if (Status valid = validate_relaxng(*doc, options.schema_path); !valid) {
      Error e = valid.error();
      if (e.code == std::errc::invalid_argument && e.context.rfind("line ", 0) == 0) {
        e.context = "domain XML does not match libvirt's schema (" + options.schema_path + "):\n" + e.context;
        return e;
      }
      return prefixed(e, "cannot validate domain XML");
    }
  }
  GuestConfig config;
  DomainParser parser(config);
  parser.parse(doc->root());
  if (!parser.errors().empty()) {
    std::string text = "domain XML has settings tide cannot use:";
    for (const std::string& line : parser.errors()) text += "\n" + line;
    return make_error(std::errc::invalid_argument, std::move(text));
  }
  return config;
}

Result<GuestConfig> load_domain_xml(const std::string& path, const DomainXmlOptions& options) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return errno_error(path);
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > XmlDocument::kMaxBytes) break;
  }
  const bool read_error = std::ferror(f) != 0;
  const int saved_errno = errno;
  std::fclose(f);
  if (read_error) {
    errno = saved_errno;
    return errno_error(path);
  }
  auto config = parse_domain_xml(text, options);
  if (!config) return prefixed(config.error(), path);
  return config;
}

}  // namespace tide::vmm
