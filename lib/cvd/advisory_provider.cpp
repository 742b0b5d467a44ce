#include "cvd/advisory_provider.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/util.hpp"

namespace cased::advisory {
namespace {

bool safe_path(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find("..") != std::string_view::npos) return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

// One "..." field from `line` at `pos`; false when it is not one.
bool quoted(std::string_view line, std::size_t& pos, std::string& out) {
  if (pos >= line.size() || line[pos] != '"') return false;
  std::size_t end = line.find('"', pos + 1);
  if (end == std::string_view::npos) return false;
  out = std::string(line.substr(pos + 1, end - pos - 1));
  pos = end + 1;
  return true;
}

}  // namespace

Result<std::vector<ChangeEntry>> parse_changes(std::string_view csv) {
  std::vector<ChangeEntry> out;
  std::size_t start = 0;
  int number = 0;
  while (start < csv.size()) {
    std::size_t end = csv.find('\n', start);
    std::string_view line = csv.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? csv.size() : end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    ChangeEntry e;
    std::size_t pos = 0;
    bool ok = quoted(line, pos, e.path) && pos < line.size() && line[pos++] == ',' && quoted(line, pos, e.time) &&
              pos == line.size() && safe_path(e.path);
    if (!ok) return Error{Errc::invalid, fmt::format("changes.csv line {} is not \"path\",\"time\"", number)};
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ChangeEntry> with_change(std::vector<ChangeEntry> entries, ChangeEntry e) {
  std::erase_if(entries, [&](const ChangeEntry& x) { return x.path == e.path; });
  entries.push_back(std::move(e));
  std::stable_sort(entries.begin(), entries.end(), [](const ChangeEntry& a, const ChangeEntry& b) {
    return a.time != b.time ? a.time > b.time : a.path < b.path;
  });
  return entries;
}

std::string changes_csv(const std::vector<ChangeEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += fmt::format("\"{}\",\"{}\"\n", e.path, e.time);
  return out;
}

std::string index_txt(const std::vector<ChangeEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += e.path + "\n";
  return out;
}

std::string key_path(const std::string& fingerprint) { return "openpgp/" + fingerprint + ".asc"; }

nlohmann::json provider_metadata(const Publisher& p, const std::vector<std::string>& fingerprints,
                                 std::int64_t now) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& f : fingerprints) keys.push_back({{"fingerprint", f}, {"url", p.base_url + "/" + key_path(f)}});
  nlohmann::json publisher{{"category", p.category}, {"name", p.name}, {"namespace", p.namespace_}};
  if (!p.contact.empty()) publisher["contact_details"] = p.contact;
  return {{"canonical_url", p.base_url + "/provider-metadata.json"},
          {"distributions", nlohmann::json::array({{{"directory_url", p.base_url + "/"}}})},
          {"last_updated", format_rfc3339(now)},
          {"list_on_CSAF_aggregators", true},
          {"metadata_version", "2.0"},
          {"mirror_on_CSAF_aggregators", true},
          {"public_openpgp_keys", keys},
          {"publisher", publisher},
          {"role", "csaf_provider"}};
}

Result<std::vector<std::string>> listed_keys(std::string_view provider_metadata_json) {
  auto bad = [] { return Error{Errc::invalid, "provider-metadata.json is not a CSAF provider's metadata"}; };
  auto doc = nlohmann::json::parse(provider_metadata_json, nullptr, false);
  if (!doc.is_object()) return bad();
  auto keys = doc.find("public_openpgp_keys");
  if (keys == doc.end()) return std::vector<std::string>{};
  if (!keys->is_array()) return bad();
  std::vector<std::string> out;
  for (const auto& k : *keys) {
    if (!k.is_object() || !k.contains("fingerprint") || !k["fingerprint"].is_string()) return bad();
    std::string f = k["fingerprint"].get<std::string>();
    bool hex = std::all_of(f.begin(), f.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
    if (!hex || (f.size() != 40 && f.size() != 64)) return bad();
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  return out;
}

std::string checksum_line(std::string_view hex, std::string_view file_name) {
  return fmt::format("{}  {}\n", hex, file_name);
}

}  // namespace cased::advisory
