#include "vmm/config/xml_document.hpp"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <climits>
#include <mutex>

namespace tide::vmm {
namespace {

// The first error of the parse running on this thread. libxml2 hands the structured error
// handler its parser context rather than our data, so the sink is found through a
// thread-local set around the (synchronous) parse call.
struct ParseErrors {
  bool failed = false;
  std::string first;
};
thread_local ParseErrors* t_parse_errors = nullptr;

std::string trimmed_message(const char* message) {
  std::string m = message != nullptr ? message : "unknown error";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

void on_parse_error(void* /*ctxt*/, xmlError* error) {
  ParseErrors* sink = t_parse_errors;
  if (sink == nullptr || error == nullptr || error->level < XML_ERR_ERROR) return;
  if (!sink->failed) {
    sink->failed = true;
    sink->first = "line " + std::to_string(error->line) + ": " + trimmed_message(error->message);
  }
}

}  // namespace

void ensure_libxml_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

Result<XmlDocument> XmlDocument::parse(std::string_view xml) {
  if (xml.size() > kMaxBytes) {
    return make_error(std::errc::file_too_large, "the document is larger than 16 MiB");
  }
  ensure_libxml_initialised();
  xmlParserCtxt* ctxt = xmlNewParserCtxt();
  if (ctxt == nullptr) return make_error(std::errc::not_enough_memory, "cannot create an XML parser");
  ctxt->sax->serror = on_parse_error;  // report through the sink, never to stderr

  ParseErrors errors;
  t_parse_errors = &errors;
  // NONET: never fetch anything. No NOENT/DTDLOAD: entities stay unexpanded, no external DTD.
  xmlDoc* doc = xmlCtxtReadMemory(ctxt, xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                                  XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOWARNING);
  t_parse_errors = nullptr;
  const bool well_formed = ctxt->wellFormed != 0;
  xmlFreeParserCtxt(ctxt);

  if (doc == nullptr || !well_formed || errors.failed) {
    if (doc != nullptr) xmlFreeDoc(doc);
    return make_error(std::errc::invalid_argument,
                      "not well-formed XML: " + (errors.failed ? errors.first : std::string("line 1: no document")));
  }
  if (xmlDocGetRootElement(doc) == nullptr) {
    xmlFreeDoc(doc);
    return make_error(std::errc::invalid_argument, "not well-formed XML: line 1: no root element");
  }
  return XmlDocument(doc);
}

long xml_line(const xmlNode* node) {
  if (node == nullptr) return 0;
  // xmlGetLineNo takes a non-const node but does not modify it.
  return xmlGetLineNo(const_cast<xmlNode*>(node));
}

std::string xml_name(const xmlNode* node) {
  std::string name = node->name != nullptr ? reinterpret_cast<const char*>(node->name) : "";
  if (node->ns != nullptr && node->ns->prefix != nullptr) {
    name = reinterpret_cast<const char*>(node->ns->prefix) + (":" + name);
  }
  return name;
}

std::optional<std::string> xml_attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return std::nullopt;
  std::string out = reinterpret_cast<const char*>(value);
  xmlFree(value);
  return out;
}

std::string xml_text(const xmlNode* node) {
  xmlChar* content = xmlNodeGetContent(node);
  if (content == nullptr) return {};
  std::string out = reinterpret_cast<const char*>(content);
  xmlFree(content);
  return out;
}

}  // namespace tide::vmm
