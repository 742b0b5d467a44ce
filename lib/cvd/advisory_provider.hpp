// The CSAF provider directory's own files (CSAF 2.0 sections 7.1.7, 7.1.13,
// 7.1.14), as text: changes.csv, index.txt, provider-metadata.json and the
// checksum files. Reading and writing the directory is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "cvd/advisory.hpp"

namespace cased::advisory {

// A row of changes.csv: a document's path under the directory and the
// time of its last change.
struct ChangeEntry {
  std::string path;   // 2026/example-sa-2026-0001.json
  std::string time;   // 2026-11-30T17:04:05Z
};

// Parses changes.csv ("path","time" per line); Errc::invalid naming the
// line when a row is not two quoted fields with a safe relative path.
Result<std::vector<ChangeEntry>> parse_changes(std::string_view csv);
// `entries` with `e` in place of any row with its path, newest first.
std::vector<ChangeEntry> with_change(std::vector<ChangeEntry> entries, ChangeEntry e);
std::string changes_csv(const std::vector<ChangeEntry>& entries);
// One path a line, in the order of changes.csv.
std::string index_txt(const std::vector<ChangeEntry>& entries);

// provider-metadata.json for a directory-based provider (role
// csaf_provider): canonical URL, the directory distribution, the public
// OpenPGP keys (the signing key first, then keys that signed earlier
// documents) and the publisher.
nlohmann::json provider_metadata(const Publisher& p, const std::vector<std::string>& fingerprints,
                                 std::int64_t now);
// The fingerprints a provider-metadata.json lists; Errc::invalid when it is
// not JSON of that form, or a fingerprint is not 40 or 64 hex digits.
Result<std::vector<std::string>> listed_keys(std::string_view provider_metadata_json);
// Where the public key is served: base_url/openpgp/FPR.asc.
std::string key_path(const std::string& fingerprint);

// "HEX  NAME\n": the line sha256sum -c and sha512sum -c read.
std::string checksum_line(std::string_view hex, std::string_view file_name);

}  // namespace cased::advisory
