// Attachments out: `attachments` lists a case's attachments with their
// handles, `save` writes them (decoded, and decrypted again with the alias
// key, from the stored raw message; never kept decrypted anywhere but in
// the file written), `raw` prints a stored message byte for byte.
// Every attachment name is the sender's: files are named after it only
// through safe_file_name(), and created with O_EXCL inside DIR.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "commands.hpp"
#include "core/safe_name.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "mail/mime.hpp"
#include "stored_message.hpp"
#include "core/unique_fd.hpp"

namespace cased::cli {
namespace {

constexpr int kMaxNumbered = 1000;  // name-1 ... name-1000, then give up

std::string fallback_name(const StoredAttachment& a) { return fmt::format("attachment-{}", a.handle()); }

std::string safe_name(const StoredAttachment& a) { return safe_file_name(a.info.filename, fallback_name(a)); }

std::string flags(const Attachment& a) {
  std::string out = a.encrypted ? "encrypted" : "not encrypted";
  if (a.is_signed) out += ", signed";
  return out;
}

nlohmann::json to_json(const StoredAttachment& a) {
  return {{"handle", a.handle()},           {"message", a.message},       {"part", a.part},
          {"filename", a.info.filename},    {"safe_name", safe_name(a)},  {"content_type", a.info.content_type},
          {"size", a.info.size},            {"sha256", a.info.sha256},    {"encrypted", a.info.encrypted},
          {"signed", a.info.is_signed}};
}

// Every byte of `bytes` to `fd`; false (errno set) when a write fails.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Hostile bytes never go to a terminal as they are.
void refuse_terminal(const std::string& what) {
  if (isatty(STDOUT_FILENO))
    fail(ExitCode::refused, fmt::format("{} writes the sender's bytes as they are and stdout is a terminal: redirect "
                                        "it to a file (> FILE) or pipe it (| less, | xxd)", what));
}

void to_stdout(std::string_view bytes) {
  if (!write_all(STDOUT_FILENO, bytes)) fail(ExitCode::failure, fmt::format("cannot write stdout: {}", std::strerror(errno)));
}

// "MSG.PART", both whole numbers from 1.
std::optional<std::pair<std::int64_t, int>> parse_handle(const std::string& h) {
  auto dot = h.find('.');
  // At most 18 digits of message and 6 of part: no overflow.
  if (dot == std::string::npos || dot == 0 || dot > 18 || dot + 1 == h.size() || h.size() - dot - 1 > 6)
    return std::nullopt;
  for (std::size_t i = 0; i < h.size(); ++i)
    if (i != dot && (h[i] < '0' || h[i] > '9')) return std::nullopt;
  std::int64_t msg = std::stoll(h.substr(0, dot));
  long part = std::stol(h.substr(dot + 1));
  if (msg < 1 || part < 1 || part > 1000000) return std::nullopt;
  return std::pair{msg, static_cast<int>(part)};
}

// The attachments `handles` name (all of the case's when none), each once,
// in the order given; a handle of another case is an error.
std::vector<StoredAttachment> choose(const Context& ctx, std::vector<StoredAttachment> all,
                                     const std::vector<std::string>& handles, std::int64_t case_id) {
  if (handles.empty()) return all;
  std::vector<StoredAttachment> out;
  for (const auto& h : handles) {
    auto parsed = parse_handle(h);
    if (!parsed) fail(ExitCode::usage, fmt::format("not an attachment handle: '{}' (MSG.PART, as `attachments` lists them)", h));
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const StoredAttachment& a) { return a.message == parsed->first && a.part == parsed->second; });
    if (it == all.end())
      fail(ExitCode::not_found, fmt::format("[{}#{}] has no attachment {} (casectl attachments {} lists them)", ctx.tag(),
                                            case_id, h, case_id));
    bool seen = std::any_of(out.begin(), out.end(), [&](const StoredAttachment& a) { return a.handle() == it->handle(); });
    if (!seen) out.push_back(*it);
  }
  return out;
}

// The bytes of `chosen` (all of message `message`), decoded again from the
// raw message and, for encrypted ones, decrypted again; each checked
// against its recorded size and SHA-256.
void decode_message(Context& ctx, Store& s, std::int64_t message, const std::vector<const StoredAttachment*>& chosen,
                    std::unique_ptr<Crypto>& crypto, std::map<std::string, std::string>& out) {
  bool encrypted = std::any_of(chosen.begin(), chosen.end(), [](auto* a) { return a->info.encrypted; });
  ParsedMessage pm = read_stored_message(ctx, s, chosen.front()->case_id, message, encrypted, crypto);
  auto parts = attachment_parts(pm.root);
  for (const StoredAttachment* a : chosen) {
    auto index = static_cast<std::size_t>(a->part - 1);
    if (index >= parts.size() || parts[index].second.size() != a->info.size ||
        sha256_hex(parts[index].second) != a->info.sha256)
      fail(ExitCode::failure, fmt::format("attachment {}: the bytes decoded again from the stored message do not match "
                                          "its recorded SHA-256 {}; nothing written", a->handle(), a->info.sha256));
    out[a->handle()] = std::string(parts[index].second);
  }
}

// handle -> bytes of every chosen attachment, all checked before any is written.
std::map<std::string, std::string> decode_all(Context& ctx, Store& s, const std::vector<StoredAttachment>& chosen) {
  std::map<std::int64_t, std::vector<const StoredAttachment*>> by_message;
  for (const auto& a : chosen) by_message[a.message].push_back(&a);
  std::unique_ptr<Crypto> crypto;
  std::map<std::string, std::string> out;
  for (const auto& [message, list] : by_message) decode_message(ctx, s, message, list, crypto, out);
  return out;
}

// Through sudo to another user (no root to switch with) no file is written
// by name: refused before anything is decrypted.
void refuse_unswitchable(const Context& ctx, const std::string& dir) {
  if (!ctx.invoker.unrestricted() && geteuid() != 0)
    fail(ExitCode::refused,
         fmt::format("casectl runs with another user's rights through sudo and cannot write into {} as {}: use "
                     "save ID HANDLE --stdout > FILE (your shell writes the file), or run it through sudo as root",
                     display_safe(dir), ctx.invoker.user));
}

// Writing as the person at the keyboard: their rights, when they are not
// the process's own (sudo from root); refused when they cannot be taken.
std::unique_ptr<InvokerRights> writer_rights(const Context& ctx, const std::string& dir) {
  if (ctx.invoker.unrestricted()) return nullptr;
  refuse_unswitchable(ctx, dir);
  return check(InvokerRights::take(ctx.invoker, fmt::format("write attachments into {}", dir)));
}

// DIR, created 0700 when absent, opened without following a symbolic link:
// the files are created relative to this descriptor, so DIR cannot be
// swapped for a link elsewhere between the check and the writes.
UniqueFd open_dir(const std::string& dir) {
  bool created = ::mkdir(dir.c_str(), 0700) == 0;
  if (!created && errno != EEXIST)
    fail(ExitCode::failure, fmt::format("cannot create directory {}: {}", display_safe(dir), std::strerror(errno)));
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d && (errno == ELOOP || errno == ENOTDIR))
    fail(ExitCode::refused, fmt::format("{} is a symbolic link or not a directory: give a directory with --dir",
                                        display_safe(dir)));
  if (!d)
    fail(ExitCode::failure, fmt::format("cannot open directory {}: {}", display_safe(dir), std::strerror(errno)));
  struct stat st {};
  if (!created && ::fstat(d.get(), &st) == 0 && (st.st_mode & 077) != 0)
    std::cerr << fmt::format("casectl: warning: {} is open to other users (mode {:04o}); the files are 0600\n",
                             display_safe(dir), st.st_mode & 07777);
  return d;
}

// Creates `name` in `dir`, or name-N from `next` on when it exists: never
// replacing anything, never through a symbolic link. `next` is where the
// next try starts (so that many attachments of one name cost one try each).
// Returns the name used, or nothing when kMaxNumbered numbers are taken.
std::optional<std::string> write_new(int dir, const std::string& shown_dir, const std::string& name,
                                     std::string_view bytes, int& next) {
  for (; next <= kMaxNumbered; ++next) {
    std::string candidate = numbered_name(name, next);
    int fd = ::openat(dir, candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) continue;
    std::string path = display_safe(shown_dir + "/" + candidate);
    if (fd < 0) fail(ExitCode::failure, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
    bool written = write_all(fd, bytes);
    int error = errno;
    written = ::close(fd) == 0 && written;
    if (!written) {
      ::unlinkat(dir, candidate.c_str(), 0);
      fail(ExitCode::failure, fmt::format("cannot write {}: {}", path, std::strerror(error ? error : errno)));
    }
    ++next;
    return candidate;
  }
  return std::nullopt;
}

struct Saved {
  std::string handle, path;
  const StoredAttachment* attachment;
};

std::vector<Saved> write_files(const Context& ctx, const std::string& dir, const std::vector<StoredAttachment>& chosen,
                               const std::map<std::string, std::string>& bytes) {
  auto rights = writer_rights(ctx, dir);
  UniqueFd d = open_dir(dir);
  std::vector<Saved> out;
  std::map<std::string, int> next;  // per name, the number to try next
  for (const auto& a : chosen) {
    // A sender may give a thousand attachments one name: past kMaxNumbered
    // the handle names the file, so that no name stops the others.
    auto name = write_new(d.get(), dir, safe_name(a), bytes.at(a.handle()), next[safe_name(a)]);
    if (!name) name = write_new(d.get(), dir, fallback_name(a), bytes.at(a.handle()), next[fallback_name(a)]);
    if (!name)
      fail(ExitCode::failure, fmt::format("{}/{}: it and {} numbered names exist already", display_safe(dir),
                                          display_safe(fallback_name(a)), kMaxNumbered));
    out.push_back({a.handle(), dir + "/" + *name, &a});
  }
  return out;
}

}  // namespace

int cmd_save(Context& ctx, const Args& a) {
  if (a.save_stdout && a.handles.size() != 1)
    fail(ExitCode::usage, "save --stdout writes one attachment: give exactly one HANDLE");
  if (a.save_stdout) refuse_terminal("save --stdout");
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  auto chosen = choose(ctx, check(s.case_attachments(case_id)), a.handles, case_id);
  if (chosen.empty()) fail(ExitCode::not_found, fmt::format("[{}#{}] has no attachments", ctx.tag(), case_id));
  std::string dir = a.save_dir.empty() ? fmt::format("{}-{}", ctx.tag(), chosen.front().case_id) : a.save_dir;
  if (!a.save_stdout) refuse_unswitchable(ctx, dir);
  auto bytes = decode_all(ctx, s, chosen);
  std::vector<std::string> handles;
  for (const auto& att : chosen) handles.push_back(att.handle());
  if (a.save_stdout) {
    to_stdout(bytes.at(handles.front()));
    check(s.attachments_saved(case_id, handles, ctx.actor));
    return 0;
  }
  auto saved = write_files(ctx, dir, chosen, bytes);
  check(s.attachments_saved(case_id, handles, ctx.actor));
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& f : saved)
      arr.push_back({{"handle", f.handle}, {"path", f.path}, {"size", f.attachment->info.size},
                     {"sha256", f.attachment->info.sha256}});
    print_json(arr);
    return 0;
  }
  for (const auto& f : saved) std::cout << display_safe(f.path) << "\n";
  return 0;
}

int cmd_attachments(Context& ctx, const Args& a) {
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  auto all = check(s.case_attachments(case_id));
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& att : all) arr.push_back(to_json(att));
    print_json(arr);
    return 0;
  }
  if (all.empty()) std::cout << fmt::format("[{}#{}] has no attachments\n", ctx.tag(), case_id);
  for (const auto& att : all)
    std::cout << fmt::format("{:<8} {}  ({}, {} bytes, {})  sha256:{}\n", att.handle(), display_safe(safe_name(att)),
                             clip(att.info.content_type, 80), att.info.size, flags(att.info), att.info.sha256.substr(0, 12));
  return 0;
}

int cmd_raw(Context& ctx, const Args& a) {
  const std::string& m = a.arg2;
  bool number = !m.empty() && m.size() < 19 && m.find_first_not_of("0123456789") == std::string::npos;
  std::int64_t message = number ? std::stoll(m) : 0;
  if (message < 1) fail(ExitCode::usage, fmt::format("not a message id: '{}' (show numbers the messages)", m));
  refuse_terminal("raw");
  Store s = ctx.store();
  to_stdout(check(s.raw_message(parse_case_id(a.case_id, ctx.tag()), message)));
  return 0;
}

}  // namespace cased::cli
