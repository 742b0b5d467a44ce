// casectl advisory ID publish --dir DIR [--announce ADDR] [--force --reason
// TEXT]: the next version of a case's advisory into a CSAF provider
// directory. Every check runs and every file is made (signed, hashed) in
// memory first; then each file goes to a temporary name beside its place
// and all are renamed into place, so a refusal or a failed write leaves
// DIR as it was.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include "cmd_advisory.hpp"
#include "commands.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/advisory_provider.hpp"
#include "outbound/compose.hpp"
#include "outbound/outbox.hpp"

namespace cased::cli {
namespace {

struct OutFile {
  std::string path;   // relative to DIR
  std::string bytes;
};

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

std::string read_optional(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    if (errno == ENOENT) return {};
    fail(ExitCode::failure, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::string out;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  return out;
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    fail(ExitCode::failure, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
}

// Writes every file under a temporary name, then renames them all; on a
// failure before the renames it removes what it wrote.
void write_all(const std::string& dir, const std::vector<OutFile>& files) {
  std::vector<std::pair<std::string, std::string>> staged;  // temp, final
  auto cleanup = [&] {
    for (const auto& [tmp, final_path] : staged) ::unlink(tmp.c_str());
  };
  for (const auto& f : files) {
    std::string final_path = dir + "/" + f.path;
    std::string parent = final_path.substr(0, final_path.rfind('/'));
    make_dir(parent);
    std::string tmp = parent + "/.tmp-" + compose::random_hex(6) + "-" + final_path.substr(final_path.rfind('/') + 1);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      cleanup();
      fail(ExitCode::failure, fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
    staged.emplace_back(tmp, final_path);
    File out(::fdopen(fd, "wb"), &std::fclose);
    bool ok = out && std::fwrite(f.bytes.data(), 1, f.bytes.size(), out.get()) == f.bytes.size() &&
              std::fflush(out.get()) == 0 && ::fsync(fd) == 0;
    if (!out) ::close(fd);
    if (!ok) {
      int err = errno;
      out.reset();
      cleanup();
      fail(ExitCode::failure, fmt::format("cannot write {}: {}", tmp, std::strerror(err)));
    }
  }
  for (const auto& [tmp, final_path] : staged)
    if (::rename(tmp.c_str(), final_path.c_str()) != 0)
      fail(ExitCode::failure, fmt::format("cannot rename {} to {}: {}", tmp, final_path, std::strerror(errno)));
}

// Refuses before the embargo unless forced with a reason.
std::optional<std::string> embargo_check(const Context& ctx, const CaseDetail& d, const AdvisoryArgs& aa,
                                         std::int64_t now) {
  if (aa.force && trim(aa.reason).empty()) fail(ExitCode::usage, "publish --force needs --reason TEXT");
  if (!aa.force && !aa.reason.empty()) fail(ExitCode::usage, "publish --reason goes with --force");
  if (!aa.reason.empty()) {
    if (!is_valid_utf8(aa.reason) || aa.reason.size() > 1000) fail(ExitCode::usage, "--reason: UTF-8, 1000 bytes");
  }
  if (!d.disclosure.embargo) return std::nullopt;
  auto until = parse_date(*d.disclosure.embargo);
  if (!until || now >= *until) return std::nullopt;
  if (!aa.force)
    fail(ExitCode::failure,
         fmt::format("[{}#{}] is under embargo until {} 00:00 UTC: nothing published (publish after it, or give "
                     "--force --reason TEXT)", ctx.tag(), d.summary.id, *d.disclosure.embargo));
  return aa.reason;
}

std::string stem(const advisory::Input& in) {
  std::string name = advisory::file_name(in.tracking_id);
  return name.substr(0, name.size() - 5);
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
  std::string year = path.substr(0, path.find('/'));
  out.files.push_back({fmt::format("{}/{}-v{}.txt", year, stem(in), in.version), out.clearsigned_text});
  out.files.push_back({advisory::key_path(key.fingerprint), check(crypto.export_key(key.fingerprint))});
  return out;
}

// index.txt, changes.csv and provider-metadata.json with this document.
void provider_files(const std::string& dir, const advisory::Input& in, Signed& s) {
  auto entries = advisory::parse_changes(read_optional(dir + "/changes.csv"));
  if (!entries) fail(ExitCode::failure, fmt::format("{}/{}: nothing published", dir, entries.error().message));
  auto updated = advisory::with_change(*entries, {advisory::document_path(in), format_rfc3339(in.now)});
  s.files.push_back({"changes.csv", advisory::changes_csv(updated)});
  s.files.push_back({"index.txt", advisory::index_txt(updated)});
  s.files.push_back({"provider-metadata.json",
                     serialize(advisory::provider_metadata(in.publisher, s.fingerprint, in.now))});
}

void announce(Context& ctx, Store& store, Crypto& crypto, const AdvisorySource& src, const std::string& to,
              const std::string& text) {
  const auto& in = src.input;
  std::string subject = fmt::format("[{}] {}", in.tracking_id, in.title);
  const std::string& alias = ctx.config.case_.alias;
  compose::Draft draft{alias, {to}, compose::make_message_id(src.record.case_id, in.now, alias), {subject, subject},
                       text, "", {}, false, in.now, {}, {}, ""};
  compose::Sealing sealing{ctx.config.gpg.signing_key, false, {}, {}};
  auto composed = check(compose::compose(draft, sealing, crypto));
  AnnounceMail mail{to, subject, draft.message_id, text, composed.raw, composed.signer};
  auto row = check(store.queue_announce(src.record.case_id, mail, ctx.actor));
  std::cout << fmt::format("announcement queued to {} (outbox {}; signed, not encrypted)\n", to, row);
  if (!ctx.config.smtp) return;  // the daemon, or `outbox retry`, sends it once [smtp] is set
  Outbox outbox(store, crypto, outbox_options(ctx.config));
  for (const auto& attempt : outbox.send_due(ctx.config.smtp, row))
    std::cout << fmt::format("announcement {}{}{}\n", to_string(attempt.status), attempt.error.empty() ? "" : ": ",
                             display_safe(attempt.error));
}

}  // namespace

int advisory_publish(Context& ctx, const Args& a, std::int64_t case_id) {
  const AdvisoryArgs& aa = a.advisory;
  if (aa.dir.empty()) fail(ExitCode::usage, "publish needs --dir DIR (the CSAF provider directory)");
  std::string to = aa.announce.empty() ? "" : analyst_address(aa.announce);
  Store s = ctx.store();
  AdvisorySource src = advisory_source(ctx, s, case_id, true);
  advisory::Input& in = src.input;
  auto forced = embargo_check(ctx, src.detail, aa, in.now);
  in.revisions.push_back({in.version, in.now, in.version == 1 ? "Initial release." : "Updated advisory."});
  advisory::Checked c = checked(in);
  if (c.cvss_v4) std::cerr << "casectl: warning: CSAF 2.0 and CVE carry no CVSS 4.0 score (the text does)\n";
  struct stat st {};
  if (::stat(aa.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail(ExitCode::usage, fmt::format("--dir {}: not a directory", aa.dir));
  auto crypto = ctx.required_crypto();
  Signed signed_files = sign_files(ctx, *crypto, in, c);
  provider_files(aa.dir, in, signed_files);
  write_all(aa.dir, signed_files.files);
  check(s.record_publication(case_id, {in.version, in.now, in.revisions.back().summary, forced, aa.dir}, ctx.actor));
  std::cout << fmt::format("[{}#{}] advisory {} version {} published: {}/{}\n", ctx.tag(), src.record.case_id,
                           in.tracking_id, in.version, aa.dir, advisory::document_path(in));
  if (forced) std::cout << "published before the embargo (--force); the reason is recorded in the case\n";
  if (!to.empty()) announce(ctx, s, *crypto, src, to, signed_files.clearsigned_text);
  return 0;
}

}  // namespace cased::cli
