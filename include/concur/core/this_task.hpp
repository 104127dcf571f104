// What a running task can ask about itself.
#pragma once

#include <concur/export.hpp>

namespace concur {
inline namespace v0 {
namespace this_task {

// True when the future of the task running on this thread was cancelled after it
// started (cancel() cannot stop running code; the code polls this and returns early).
// False outside tasks.
CONCUR_EXPORT bool stop_requested() noexcept;

}  // namespace this_task
}  // namespace v0
}  // namespace concur
