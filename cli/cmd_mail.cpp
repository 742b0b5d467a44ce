// The commands that send mail or deal in keys: reply, outbox, digest,
// securitytxt, keys.
#include <fmt/format.h>

#include <cctype>
#include <iostream>

#include "commands.hpp"
#include "core/util.hpp"
#include "cvd/securitytxt.hpp"
#include "report/digest.hpp"
#include "reply.hpp"

namespace cased::cli {
namespace {

// Sends `id` once now; prints what happened. Returns the exit status.
// With --json the lines go to stderr: stdout holds the JSON alone.
int try_send(Context& ctx, Outbox& outbox, std::int64_t id, const std::string& what) {
  std::ostream& out = ctx.json ? std::cerr : std::cout;
  if (!ctx.config.smtp) {
    out << fmt::format("{} queued (outbox {}); not sent: the configuration has no [smtp] section\n", what, id);
    return 0;
  }
  auto attempts = outbox.send_due(ctx.config.smtp, id);
  if (attempts.empty()) {
    out << fmt::format("{} queued (outbox {}); the daemon will send it\n", what, id);
    return 0;
  }
  const auto& a = attempts.front();
  if (a.status == SendStatus::sent) {
    out << fmt::format("{} sent (outbox {})\n", what, id);
    return 0;
  }
  if (a.status == SendStatus::failed) {
    out << fmt::format("{} FAILED (outbox {}): {}\n", what, id, clip(a.error, 500));
    return static_cast<int>(ExitCode::failure);
  }
  out << fmt::format("{} queued (outbox {}), not sent yet: {}; it will be retried\n", what, id, clip(a.error, 500));
  return 0;
}

int keys_pin(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) fail(ExitCode::usage, "usage: casectl keys pin ADDR FINGERPRINT");
  std::string addr = analyst_address(args[0]);
  std::string fpr;
  for (char c : args[1])
    if (c != ' ') fpr += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto crypto = ctx.required_crypto();
  auto key = crypto->find_key(fpr);
  if (!key || key->fingerprint != fpr) fail(ExitCode::failure, fmt::format("no key {} in gpg.home", fpr));
  Store s = ctx.store();
  check(s.pin_key(addr, fpr, ctx.actor));
  std::cout << fmt::format("{} is now pinned to {}\n", fpr, addr);
  return 0;
}

int keys_export(Context& ctx, const Args& a) {
  if (!a.keys_args.empty()) fail(ExitCode::usage, "usage: casectl keys export [--binary]");
  auto crypto = ctx.required_crypto();
  auto key = check(crypto->signing_key(ctx.config.gpg.signing_key, ctx.config.case_.alias));
  std::cout << check(crypto->export_key(key.fingerprint, !a.binary));
  std::cout.flush();
  // Where to publish it, on stderr so that stdout is the key alone.
  WkdLocation wkd = wkd_location(ctx.config.case_.alias);
  std::cerr << fmt::format(
      "key {} for {}\nWKD hash: {}\nPublish the binary key (casectl keys export --binary) at\n  {}\nor, with an "
      "openpgpkey subdomain,\n  {}\n",
      key.fingerprint, ctx.config.case_.alias, wkd.hash, wkd.direct.substr(0, wkd.direct.find('?')),
      wkd.advanced.substr(0, wkd.advanced.find('?')));
  return 0;
}

int keys_list(Context& ctx) {
  Store s = ctx.store();
  auto crypto = ctx.required_crypto();
  std::vector<KeyView> keys;
  for (auto& r : check(s.list_keys())) {
    // Certificates (S/MIME) are gpgsm's, shown as keys are.
    std::optional<KeyInfo> info;
    if (r.protocol == "smime") {
      if (auto c = crypto->find_certificate(r.fingerprint))
        info = KeyInfo{c->fingerprint, c->addresses, c->subject, c->expires, c->can_encrypt, c->secret};
    } else {
      info = crypto->find_key(r.fingerprint);
    }
    keys.push_back(KeyView{std::move(r), std::move(info)});
  }
  if (ctx.json) print_json(json_array(keys));
  else std::cout << render_keys(keys);
  return 0;
}

}  // namespace

int cmd_reply(Context& ctx, const Args& a) {
  ReplyRequest req;
  ReplyExtras extras;
  for (const auto& t : a.reply_to) req.to.push_back(analyst_address(t));
  for (const auto& c : a.reply_cc) extras.cc.push_back(analyst_address(c));
  extras.attachments = read_attachments(ctx, a.reply_attach);
  req.case_id = parse_case_id(a.case_id, ctx.tag());
  req.sign_only = a.sign_only;
  req.actor = ctx.actor;
  Store s = ctx.store();
  auto crypto = ctx.required_crypto();
  Outbox outbox(s, *crypto, outbox_options(ctx.config));
  // Refused before the analyst writes a text in the editor, not after.
  if (a.text.empty() && a.file.empty()) check(outbox.check_reply(req, extras));
  req.text = reply_text(ctx, a, s, req.case_id);
  Queued q = check(outbox.queue_reply(req, extras));
  std::string what = fmt::format("reply to {}{} ({})", addresses(q.to), q.cc.empty() ? "" : ", cc " + addresses(q.cc),
                                 q.encrypted ? "signed, encrypted" : "signed only");
  int status = try_send(ctx, outbox, q.outbox_id, what);
  if (ctx.json) print_reply_json(s, q);
  return status;
}

int cmd_outbox(Context& ctx, const Args& a) {
  if (a.action == "cancel") return outbox_cancel(ctx, a);
  if (!a.action.empty() && a.action != "retry")
    fail(ExitCode::usage, fmt::format("unknown outbox action '{}' (retry ID, cancel ID)", a.action));
  Store s = ctx.store();
  if (a.action == "retry") {
    auto crypto = ctx.required_crypto();
    Outbox outbox(s, *crypto, outbox_options(ctx.config));
    std::int64_t n = parse_case_id(a.outbox_id, "");
    check(outbox.retry(n));
    return try_send(ctx, outbox, n, fmt::format("outbox {}", n));
  }
  // Listing needs no key.
  auto rows = check(list_outbox(s));
  if (ctx.json) print_json(json_array(rows));
  else std::cout << render_outbox(rows, ctx.style);
  return 0;
}

int cmd_digest(Context& ctx, const Args& a) {
  Store s = ctx.store();
  int stale_days = ctx.config.digest ? ctx.config.digest->stale_days : 7;
  Digest d = check(build_digest(s, stale_days));
  if (auto w = securitytxt_expiry_warning(ctx.config, d.now)) d.warnings.push_back(*w);
  const std::string& tag = ctx.tag();
  if (!a.digest_send) {
    if (ctx.json) print_json(digest_json(d));
    else std::cout << render_digest(d, tag);
    return 0;
  }
  // What --send prints goes to cron's mail: tags, states and ages only.
  std::cout << render_digest_bare(d, tag);
  if (!ctx.config.digest || ctx.config.digest->to.empty()) fail(ExitCode::failure, "digest --send needs digest.to");
  if (d.empty()) return 0;
  auto crypto = ctx.required_crypto();
  Outbox outbox(s, *crypto, outbox_options(ctx.config));
  Queued q = check(outbox.queue_digest(ctx.config.digest->to, render_digest(d, tag), render_digest_bare(d, tag)));
  return try_send(ctx, outbox, q.outbox_id,
                  fmt::format("digest to {} ({})", ctx.config.digest->to, q.encrypted ? "encrypted" : "signed, bare"));
}

int cmd_securitytxt(Context& ctx, const Args& a) {
  std::int64_t now = now_unix();
  if (securitytxt_expires(ctx.config, now) <= now)
    fail(ExitCode::failure, "securitytxt.expires is in the past: set a later date (or remove it to use expires_days)");
  if (auto w = securitytxt_expiry_warning(ctx.config, now)) std::cerr << "casectl: warning: " << *w << "\n";
  std::string text = render_securitytxt(ctx.config, now);
  if (!a.sign) {
    std::cout << text;
    return 0;
  }
  auto crypto = ctx.required_crypto();
  auto key = check(crypto->signing_key(ctx.config.gpg.signing_key, ctx.config.case_.alias));
  std::cout << check(crypto->clearsign(text, key.fingerprint));
  return 0;
}

int cmd_keys(Context& ctx, const Args& a) {
  if (a.action == "pin") return keys_pin(ctx, a.keys_args);
  if (a.action == "export") return keys_export(ctx, a);
  if (!a.action.empty() && a.action != "list")
    fail(ExitCode::usage, fmt::format("unknown keys action '{}' (list, pin, export)", a.action));
  return keys_list(ctx);
}

}  // namespace cased::cli
