// A reply written in the user's editor: `casectl reply ID` without -m or -F
// on a terminal. The draft lives in a new 0700 directory on a memory file
// system ($XDG_RUNTIME_DIR, else /dev/shm; anything else is refused), as a
// 0600 file, and is removed whatever happens: the editor failing, an
// exception, or SIGTERM, SIGHUP or SIGINT while the editor runs.
#pragma once

#include <string>

#include "store/store.hpp"

namespace cased::cli {

// The draft's first text: an attribution line and the body of the last
// inbound message of the reporter's party (message_party(): never a
// vendor's or an unverified sender's), made inert for the terminal, each
// line quoted with "> ". Empty when the case has no such message.
std::string reply_template(const CaseDetail& d);

// Whether stdin and stdout are both a terminal (an editor can run).
bool on_terminal();

// Runs $VISUAL, else $EDITOR, else vi (through /bin/sh, so that
// EDITOR="vim -u NONE" works) on a draft holding `initial`, and returns
// the text the user saved. Fails (ExitCode::failure) when the editor fails
// or the draft is left unchanged or empty, and (ExitCode::refused) when no
// memory file system can hold the draft.
std::string edit_draft(const std::string& initial);

}  // namespace cased::cli
