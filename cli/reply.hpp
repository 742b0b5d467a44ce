// What `casectl reply` and `casectl outbox cancel` add to cmd_mail.cpp: the
// reply's text (-m, -F or the editor), the files of --attach, and the JSON
// both print (cmd_reply.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "outbound/compose.hpp"
#include "outbound/outbox.hpp"

namespace cased::cli {

// The files of --attach, read with the invoking user's rights, before
// anything is queued: a missing or unreadable file, or more than
// kMaxAttachBytes in all, fails the command.
inline constexpr std::size_t kMaxAttachBytes = 10 << 20;
std::vector<compose::Part> read_attachments(const Context& ctx, const std::vector<std::string>& paths);

// The reply's text: -m or -F, or without them on a terminal the editor on
// a draft quoting the reporter's last message (draft.hpp; never a vendor's).
std::string reply_text(const Context& ctx, const Args& a, Store& s, std::int64_t case_id);

// --json after a reply: the case as `show --json` prints it, with "outbox"
// (the queued row: id, status, recipients).
void print_reply_json(Store& s, const Queued& q);

// `outbox cancel OUTBOX-ID`.
int outbox_cancel(Context& ctx, const Args& a);

}  // namespace cased::cli
