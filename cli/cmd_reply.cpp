#include "reply.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/text.hpp"
#include "core/util.hpp"
#include "draft.hpp"
#include "core/unique_fd.hpp"

namespace cased::cli {
namespace {

// One file of --attach: its bytes, at most `room` of them.
std::string read_attachment(const Context& ctx, const std::string& path, std::size_t room) {
  auto fd = open_as_invoker(ctx.invoker, path);
  if (!fd) fail(ExitCode::failure, fmt::format("--attach {}: {}", display_safe(path), fd.error().message));
  UniqueFd closer(*fd);
  struct stat st {};
  if (::fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))
    fail(ExitCode::failure, fmt::format("--attach {}: not a regular file", display_safe(path)));
  auto too_big = [&] {
    fail(ExitCode::failure, fmt::format("--attach {}: the files of one reply may total at most {} bytes (10 MiB); "
                                        "nothing was queued",
                                        display_safe(path), kMaxAttachBytes));
  };
  if (static_cast<std::size_t>(st.st_size) > room) too_big();
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ExitCode::failure, fmt::format("--attach {}: {}", display_safe(path), std::strerror(errno)));
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > room) too_big();
  }
  return out;
}

}  // namespace

std::vector<compose::Part> read_attachments(const Context& ctx, const std::vector<std::string>& paths) {
  std::vector<compose::Part> parts;
  std::size_t used = 0;
  for (const auto& path : paths) {
    std::string name = std::filesystem::path(path).filename().string();
    if (name.empty() || name == "." || name == "..")
      fail(ExitCode::usage, fmt::format("--attach {}: name a file", display_safe(path)));
    compose::Part p{name, compose::guess_content_type(name), read_attachment(ctx, path, kMaxAttachBytes - used)};
    used += p.bytes.size();
    parts.push_back(std::move(p));
  }
  return parts;
}

std::string reply_text(const Context& ctx, const Args& a, Store& s, std::int64_t case_id) {
  // Without a terminal the editor cannot run: -m or -F, as before.
  if (!a.text.empty() || !a.file.empty() || !on_terminal()) return message_text(ctx, a.text, a.file);
  return edit_draft(reply_template(check(s.get_case(case_id))));
}

void print_reply_json(Store& s, const Queued& q) {
  CaseDetail d = check(s.get_case(q.case_id));
  std::vector<std::string> recipients = q.to;
  recipients.insert(recipients.end(), q.cc.begin(), q.cc.end());
  std::string status = "queued";
  for (const auto& m : d.messages)
    if (m.outbox && m.outbox->id == q.outbox_id) status = to_string(m.outbox->status);
  nlohmann::json j = to_json(d);
  j["outbox"] = {{"id", q.outbox_id}, {"status", status}, {"recipients", recipients}};
  print_json(j);
}

int outbox_cancel(Context& ctx, const Args& a) {
  if (a.outbox_id.empty()) fail(ExitCode::usage, "usage: casectl outbox cancel OUTBOX-ID");
  std::int64_t id = parse_case_id(a.outbox_id, "");
  Store s = ctx.store();
  auto case_id = check(OutboxQueue(s).cancel(id, ctx.actor));
  if (ctx.json && case_id) print_json(to_json(check(s.get_case(*case_id))));
  else if (ctx.json) print_json(nlohmann::json{{"outbox", {{"id", id}, {"status", "cancelled"}}}});
  else std::cout << fmt::format("outbox {} cancelled{}\n", id, case_id ? fmt::format(" ([{}#{}])", ctx.tag(), *case_id) : "");
  return 0;
}

}  // namespace cased::cli
