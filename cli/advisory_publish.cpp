// casectl advisory ID publish --dir DIR [--announce ADDR] [--force --reason
// TEXT]: the next version of a case's advisory into a CSAF provider
// directory. Every check runs and every file is made (signed, hashed) and
// the announcement composed in memory first, holding the directory's lock;
// then the store records the version in the transaction that puts the
// files in place (provider_dir.hpp), so a refusal or a failed write leaves
// DIR and the case as they were. The version DIR held before is kept under
// archive/YEAR/ with its signature and checksums.
#include <sys/stat.h>

#include <fmt/format.h>

#include <charconv>
#include <iostream>

#include "cmd_advisory.hpp"
#include "commands.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/advisory_provider.hpp"
#include "outbound/compose.hpp"
#include "outbound/outbox.hpp"
#include "provider_dir.hpp"

namespace cased::cli {
namespace {

// Refuses before the embargo unless forced with a reason. An embargo date
// that does not parse (only a hand-edited database holds one) holds too.
std::optional<std::string> embargo_check(const Context& ctx, const CaseDetail& d, const AdvisoryArgs& aa,
                                         std::int64_t now) {
  if (aa.force && trim(aa.reason).empty()) fail(ExitCode::usage, "publish --force needs --reason TEXT");
  if (!aa.force && !aa.reason.empty()) fail(ExitCode::usage, "publish --reason goes with --force");
  if (!aa.reason.empty()) {
    if (!is_valid_utf8(aa.reason) || aa.reason.size() > 1000) fail(ExitCode::usage, "--reason: UTF-8, 1000 bytes");
  }
  if (!d.disclosure.embargo) return std::nullopt;
  auto until = parse_date(*d.disclosure.embargo);
  if (until && now >= *until) return std::nullopt;
  if (!aa.force)
    fail(ExitCode::failure,
         fmt::format("[{}#{}] is under embargo until {} 00:00 UTC: nothing published (publish after it, or give "
                     "--force --reason TEXT)", ctx.tag(), d.summary.id, display_safe(*d.disclosure.embargo)));
  return aa.reason;
}

std::string stem(const advisory::Input& in) {
  std::string name = advisory::file_name(in.tracking_id);
  return name.substr(0, name.size() - 5);
}

std::string year_folder(const advisory::Input& in) {
  std::string path = advisory::document_path(in);
  return path.substr(0, path.find('/'));
}

// The document DIR holds at this advisory's path, if any.
struct Previous {
  int version = 0;  // 0: none
  std::string json, asc;
};

// Refuses a file of another tracking id there (prefixes that differ only
// in case name the same file) and one newer than the case recorded (the
// files were put in place but the version was not recorded: a crash at
// the last moment, or another database publishing into DIR).
Previous previous_document(const std::string& dir, const advisory::Input& in, int recorded) {
  Previous p;
  std::string path = dir + "/" + advisory::document_path(in);
  p.json = read_optional(path);
  if (p.json.empty()) return p;
  auto doc = nlohmann::json::parse(p.json, nullptr, false);
  auto tracking = doc.is_object() ? doc.value("/document/tracking"_json_pointer, nlohmann::json()) : nlohmann::json();
  std::string id = tracking.is_object() ? tracking.value("id", "") : "";
  std::string version = tracking.is_object() ? tracking.value("version", "") : "";
  if (id != in.tracking_id)
    fail(ExitCode::failure, fmt::format("{} is not a document of {} ({}): nothing published", path, in.tracking_id,
                                        id.empty() ? "no tracking id" : "it is " + display_safe(clip(id, 60))));
  int number = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (ec != std::errc() || end != version.data() + version.size() || number < 1)
    fail(ExitCode::failure, fmt::format("{}: version '{}' is not a number: nothing published", path,
                                        display_safe(clip(version, 20))));
  p.version = number;
  if (p.version > recorded)
    fail(ExitCode::failure,
         fmt::format("{} is version {}, but the case recorded version {}: nothing published (move that file and its "
                     ".asc, .sha256 and .sha512 aside to publish version {} over it)",
                     path, p.version, recorded, recorded + 1));
  p.asc = read_optional(path + ".asc");
  return p;
}

// The document being replaced, kept as archive/YEAR/NAME-vN.json with its
// signature (still valid: the bytes are the same) and checksums naming it.
void archive_previous(const std::string& dir, const advisory::Input& in, const Previous& p,
                      std::vector<OutFile>& files) {
  if (p.version == 0) return;
  std::string name = fmt::format("{}-v{}.json", stem(in), p.version);
  std::string path = fmt::format("archive/{}/{}", year_folder(in), name);
  struct stat st {};
  if (::stat((dir + "/" + path).c_str(), &st) == 0) return;  // kept already
  // First in the order of renames: the old version is kept before the new
  // one takes its place.
  std::vector<OutFile> kept{{path, p.json},
                            {path + ".sha256", advisory::checksum_line(sha256_hex(p.json), name)},
                            {path + ".sha512", advisory::checksum_line(sha512_hex(p.json), name)}};
  if (!p.asc.empty()) kept.push_back({path + ".asc", p.asc});
  files.insert(files.begin(), kept.begin(), kept.end());
}

struct Signed {
  std::vector<OutFile> files;
  std::string clearsigned_text;
  std::string fingerprint;
};

Signed sign_files(Context& ctx, Crypto& crypto, const advisory::Input& in, const advisory::Checked& c) {
  auto key = check(crypto.signing_key(ctx.config.gpg.signing_key, ctx.config.case_.alias));
  Signed out;
  out.fingerprint = key.fingerprint;
  std::string path = advisory::document_path(in);
  std::string base = path.substr(path.rfind('/') + 1);
  std::string json = serialize(advisory::csaf(in, c));
  out.files.push_back({path, json});
  out.files.push_back({path + ".sha256", advisory::checksum_line(sha256_hex(json), base)});
  out.files.push_back({path + ".sha512", advisory::checksum_line(sha512_hex(json), base)});
  out.files.push_back({path + ".asc", check(crypto.detach_sign(json, key.fingerprint)).first});
  out.clearsigned_text = check(crypto.clearsign(advisory::text(in, c), key.fingerprint));
  out.files.push_back({fmt::format("{}/{}-v{}.txt", year_folder(in), stem(in), in.version), out.clearsigned_text});
  out.files.push_back({advisory::key_path(key.fingerprint), check(crypto.export_key(key.fingerprint))});
  return out;
}

// index.txt, changes.csv and provider-metadata.json with this document.
// Keys listed before stay listed (after the signing key), so that the
// signatures of documents published before a key change still verify.
void provider_files(const std::string& dir, const advisory::Input& in, Signed& s) {
  auto entries = advisory::parse_changes(read_optional(dir + "/changes.csv"));
  if (!entries) fail(ExitCode::failure, fmt::format("{}/{}: nothing published", dir, entries.error().message));
  auto updated = advisory::with_change(*entries, {advisory::document_path(in), format_rfc3339(in.now)});
  std::vector<std::string> keys{s.fingerprint};
  std::string old_metadata = read_optional(dir + "/provider-metadata.json");
  if (!old_metadata.empty()) {
    auto listed = advisory::listed_keys(old_metadata);
    if (!listed) fail(ExitCode::failure, fmt::format("{}/{}: nothing published", dir, listed.error().message));
    for (const auto& k : *listed)
      if (k != s.fingerprint) keys.push_back(k);
  }
  s.files.push_back({"changes.csv", advisory::changes_csv(updated)});
  s.files.push_back({"index.txt", advisory::index_txt(updated)});
  s.files.push_back({"provider-metadata.json", serialize(advisory::provider_metadata(in.publisher, keys, in.now))});
}

// The announcement, signed (not encrypted: a list is public) and ready
// for the outbox; its Message-ID names no case.
AnnounceMail compose_announcement(Context& ctx, Crypto& crypto, const advisory::Input& in, const std::string& to,
                                  const std::string& text) {
  std::string subject = fmt::format("[{}] {}", in.tracking_id, in.title);
  const std::string& alias = ctx.config.case_.alias;
  compose::Draft draft{alias, {to}, compose::make_public_message_id(alias), {subject, subject},
                       text, "", {}, false, in.now, {}, {}, ""};
  compose::Sealing sealing{ctx.config.gpg.signing_key, false, {}, {}};
  auto composed = check(compose::compose(draft, sealing, crypto));
  return AnnounceMail{to, subject, draft.message_id, text, composed.raw, composed.signer};
}

void announce(Context& ctx, Store& store, Crypto& crypto, std::int64_t case_id, const AnnounceMail& mail) {
  auto row = check(store.queue_announce(case_id, mail, ctx.actor));
  std::cout << fmt::format("announcement queued to {} (outbox {}; signed, not encrypted)\n", mail.to, row);
  if (!ctx.config.smtp) return;  // the daemon, or `outbox retry`, sends it once [smtp] is set
  Outbox outbox(store, crypto, outbox_options(ctx.config));
  for (const auto& attempt : outbox.send_due(ctx.config.smtp, row))
    std::cout << fmt::format("announcement {}{}{}\n", to_string(attempt.status), attempt.error.empty() ? "" : ": ",
                             display_safe(attempt.error));
}

// A clock behind the last revision would make the history go backwards
// (CSAF 6.1.14): this version takes the last revision's time instead.
void keep_history_monotonic(advisory::Input& in) {
  if (in.revisions.empty() || in.now >= in.revisions.back().date) return;
  std::cerr << fmt::format("casectl: warning: the clock is behind revision {} ({}); this version is dated as it\n",
                           in.revisions.back().number, format_rfc3339(in.revisions.back().date));
  in.now = in.current_release = in.revisions.back().date;
}

}  // namespace

int advisory_publish(Context& ctx, const Args& a, std::int64_t case_id) {
  const AdvisoryArgs& aa = a.advisory;
  if (aa.dir.empty()) fail(ExitCode::usage, "publish needs --dir DIR (the CSAF provider directory)");
  std::string to = aa.announce.empty() ? "" : analyst_address(aa.announce);
  struct stat st {};
  if (::stat(aa.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail(ExitCode::usage, fmt::format("--dir {}: not a directory", aa.dir));
  ProviderDirLock lock(aa.dir, 30);
  Store s = ctx.store();
  AdvisorySource src = advisory_source(ctx, s, case_id, true);
  advisory::Input& in = src.input;
  auto forced = embargo_check(ctx, src.detail, aa, in.now);
  keep_history_monotonic(in);
  in.revisions.push_back({in.version, in.now, in.version == 1 ? "Initial release." : "Updated advisory."});
  advisory::Checked c = checked(in);
  if (c.cvss_v4) std::cerr << "casectl: warning: CSAF 2.0 and CVE carry no CVSS 4.0 score (the text does)\n";
  Previous previous = previous_document(aa.dir, in, src.record.version);
  auto crypto = ctx.required_crypto();
  Signed signed_files = sign_files(ctx, *crypto, in, c);
  archive_previous(aa.dir, in, previous, signed_files.files);
  provider_files(aa.dir, in, signed_files);
  std::optional<AnnounceMail> mail;
  if (!to.empty()) mail = compose_announcement(ctx, *crypto, in, to, signed_files.clearsigned_text);
  AdvisoryPublication publication{in.version, in.now, in.revisions.back().summary, forced, aa.dir};
  check(s.record_publication(case_id, publication, ctx.actor,
                             [&] { return place_files(aa.dir, signed_files.files); }));
  std::cout << fmt::format("[{}#{}] advisory {} version {} published: {}/{}\n", ctx.tag(), src.record.case_id,
                           in.tracking_id, in.version, aa.dir, advisory::document_path(in));
  if (previous.version > 0)
    std::cout << fmt::format("version {} kept in {}/archive/{}/\n", previous.version, aa.dir, year_folder(in));
  if (forced) std::cout << "published before the embargo (--force); the reason is recorded in the case\n";
  if (mail) announce(ctx, s, *crypto, src.record.case_id, *mail);
  return 0;
}

}  // namespace cased::cli
