// The operator's commands on the database as a whole: backup and verify
// (docs/operator.md "Backup and restore").
#pragma once

namespace cased::cli {

struct Context;
struct Args;

int cmd_backup(Context& ctx, const Args& a);
int cmd_verify(Context& ctx, const Args& a);

}  // namespace cased::cli
