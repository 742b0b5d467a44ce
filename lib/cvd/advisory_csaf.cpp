// The CSAF 2.0 document of an advisory, profile csaf_security_advisory
// (advisory.hpp). Product ids are CSAFPID-NNNN, each defined once in the
// product tree and used only in the vulnerabilities.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/util.hpp"
#include "cvd/advisory.hpp"
#include "cvd/advisory_parts.hpp"

namespace cased::advisory {
namespace {

using nlohmann::json;

std::string vendor_name(const Input& in) {
  return in.publisher.vendor.empty() ? in.publisher.name : in.publisher.vendor;
}

struct Tree {
  json branches = json::array();
  std::vector<std::string> affected, fixed;     // our product's ids
  std::map<std::string, std::string> vendor_id;  // other vendors' product ids
  int next = 1;
  std::string new_id() { return fmt::format("CSAFPID-{:04}", next++); }
};

json product(Tree& t, const std::string& name, std::vector<std::string>& into) {
  std::string id = t.new_id();
  into.push_back(id);
  return json{{"name", name}, {"product_id", id}};
}

json version_branch(Tree& t, const std::string& full, const VersionRange& r, std::vector<std::string>& into) {
  if (r.is_range())
    return json{{"category", "product_version_range"}, {"name", r.vers()},
                {"product", product(t, full + " " + r.label(), into)}};
  return json{{"category", "product_version"}, {"name", r.exact}, {"product", product(t, full + " " + r.exact, into)}};
}

// Our vendor -> the product -> its affected and fixed versions (check()
// derived the affected ones from a single fixed version); with neither,
// the product as a whole.
json our_product(const Input& in, const Checked& c, Tree& t) {
  std::string vendor = vendor_name(in), full = vendor + " " + *in.product;
  json name{{"category", "product_name"}, {"name", *in.product}};
  if (c.affected.empty()) {
    name["product"] = product(t, full, t.affected);
  } else {
    json versions = json::array();
    for (const auto& r : c.affected) versions.push_back(version_branch(t, full, r, t.affected));
    for (const auto& r : c.fixed) versions.push_back(version_branch(t, full, r, t.fixed));
    name["branches"] = versions;
  }
  return json{{"category", "vendor"}, {"name", vendor}, {"branches", json::array({name})}};
}

json product_tree(const Input& in, const Checked& c, Tree& t) {
  t.branches.push_back(our_product(in, c, t));
  for (const auto& vendor : listed_vendors(in)) {
    if (vendor == vendor_name(in)) continue;
    std::vector<std::string> ids;
    json p = product(t, vendor + " " + *in.product, ids);
    t.vendor_id[vendor] = ids.front();
    json name{{"category", "product_name"}, {"name", *in.product}, {"product", p}};
    t.branches.push_back(json{{"category", "vendor"}, {"name", vendor}, {"branches", json::array({name})}});
  }
  return json{{"branches", t.branches}};
}

json cvss_v3(const cvss::Cvss31& v) {
  json out{{"version", "3.1"}, {"vectorString", v.vector}, {"baseScore", v.base_score}, {"baseSeverity", v.severity}};
  for (const auto& [k, val] : cvss::base_properties(v)) out[k] = val;
  return out;
}

// The product status of one vulnerability: ours from the case's fields,
// each other vendor's from its status (for this CVE id, else the case's).
json product_status(const Input& in, const Tree& t, const std::string& cve) {
  std::map<std::string, std::vector<std::string>> status;
  if (!t.affected.empty()) status["known_affected"] = t.affected;
  if (!t.fixed.empty()) status["fixed"] = t.fixed;
  for (const auto& [vendor, id] : t.vendor_id) {
    auto word = csaf_status_word(vendor_state(in, vendor, cve));
    if (!word.empty()) status[word].push_back(id);
  }
  json out = json::object();
  for (auto& [k, v] : status) out[k] = v;
  return out;
}

json remediations(const Input& in, const Checked& c, const Tree& t) {
  json out = json::array();
  if (t.affected.empty()) return out;
  if (!c.fixed.empty()) {
    std::string details = in.remediation;
    if (details.empty()) details = fmt::format("Update to {} {}.", *in.product, fixed_list(c));
    out.push_back({{"category", "vendor_fix"}, {"details", details}, {"product_ids", t.affected}});
  } else if (!in.remediation.empty()) {
    out.push_back({{"category", "mitigation"}, {"details", in.remediation}, {"product_ids", t.affected}});
  } else {
    out.push_back({{"category", "none_available"}, {"details", "No fix is available yet."},
                   {"product_ids", t.affected}});
  }
  return out;
}

json vulnerability(const Input& in, const Checked& c, const Tree& t, const std::string& cve) {
  json v = json::object();
  if (!cve.empty()) v["cve"] = cve;
  v["title"] = in.title;
  json notes = json::array();
  notes.push_back({{"category", "description"}, {"title", "Vulnerability description"}, {"text", description(in)}});
  for (const auto& [vendor, id] : t.vendor_id) {
    const VendorState* s = vendor_state(in, vendor, cve);
    if (s && s->statement && !s->statement->empty())
      notes.push_back({{"category", "other"}, {"title", "Statement of " + vendor}, {"text", *s->statement}});
  }
  v["notes"] = notes;
  v["product_status"] = product_status(in, t, cve);
  if (c.cvss && !t.affected.empty()) v["scores"] = json::array({{{"products", t.affected}, {"cvss_v3", cvss_v3(*c.cvss)}}});
  if (auto r = remediations(in, c, t); !r.empty()) v["remediations"] = r;
  return v;
}

json revision_history(const Input& in) {
  json out = json::array();
  if (in.revisions.empty()) {
    out.push_back({{"number", "0"}, {"date", format_rfc3339(in.current_release)}, {"summary", "Draft."}});
    return out;
  }
  for (const auto& r : in.revisions)
    out.push_back({{"number", std::to_string(r.number)}, {"date", format_rfc3339(r.date)}, {"summary", r.summary}});
  return out;
}

json tracking(const Input& in) {
  return json{{"id", in.tracking_id},
              {"status", csaf_status(in)},
              {"version", std::to_string(in.version)},
              {"initial_release_date", format_rfc3339(in.initial_release)},
              {"current_release_date", format_rfc3339(in.current_release)},
              {"revision_history", revision_history(in)},
              {"generator", {{"engine", {{"name", "cased"}, {"version", in.generator}}}, {"date", format_rfc3339(in.now)}}}};
}

// A draft is shared with vendors before the embargo ends, never with the
// public: TLP:AMBER. A published version is public: TLP:WHITE.
const char* tlp_label(const Input& in) { return csaf_status(in) == "draft" ? "AMBER" : "WHITE"; }

json document(const Input& in) {
  json publisher{{"category", in.publisher.category}, {"name", in.publisher.name},
                 {"namespace", in.publisher.namespace_}};
  if (!in.publisher.contact.empty()) publisher["contact_details"] = in.publisher.contact;
  json notes = json::array();
  if (!in.summary.empty()) notes.push_back({{"category", "summary"}, {"title", "Summary"}, {"text", in.summary}});
  if (!in.details.empty()) notes.push_back({{"category", "details"}, {"title", "Details"}, {"text", in.details}});
  json refs = json::array();
  refs.push_back({{"category", "self"}, {"summary", "Canonical URL"}, {"url", canonical_url(in)}});
  for (const auto& url : in.references) refs.push_back({{"category", "external"}, {"summary", "Reference"}, {"url", url}});
  json doc{{"category", "csaf_security_advisory"},
           {"csaf_version", "2.0"},
           {"lang", "en"},
           {"distribution", {{"tlp", {{"label", tlp_label(in)}, {"url", "https://www.first.org/tlp/"}}}}},
           {"publisher", publisher},
           {"title", in.title},
           {"references", refs},
           {"tracking", tracking(in)}};
  if (!notes.empty()) doc["notes"] = notes;
  if (in.credit && !in.credit->empty())
    doc["acknowledgments"] = json::array({{{"names", json::array({*in.credit})}}});
  return doc;
}

}  // namespace

std::string csaf_status(const Input& in) { return in.version == 0 ? "draft" : "final"; }

json csaf(const Input& in, const Checked& c) {
  Tree t;
  json tree = product_tree(in, c, t);
  json vulns = json::array();
  if (in.cves.empty()) vulns.push_back(vulnerability(in, c, t, ""));
  for (const auto& cve : in.cves) vulns.push_back(vulnerability(in, c, t, cve));
  return json{{"document", document(in)}, {"product_tree", tree}, {"vulnerabilities", vulns}};
}

}  // namespace cased::advisory
