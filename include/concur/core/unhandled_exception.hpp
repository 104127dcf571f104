// Where exceptions go that no caller can receive: a throwing done-callback or
// observer. Python logs them; concur hands them to a handler (by default one line on
// stderr). Nothing is swallowed silently.
//
// Thread safety: the handler may be replaced at any time from any thread; it is called
// from whichever thread ran the failing code, possibly concurrently.
#pragma once

#include <concur/export.hpp>

#include <exception>
#include <functional>
#include <string_view>

namespace concur {
inline namespace v0 {

// `where` names the failing piece, e.g. "a Future done-callback".
using UnhandledExceptionHandler =
    std::function<void(std::exception_ptr error, std::string_view where)>;

// Installs `handler` (null restores the default) and returns the previous one.
CONCUR_EXPORT UnhandledExceptionHandler
set_unhandled_exception_handler(UnhandledExceptionHandler handler);

namespace detail {
// Hands `error` to the installed handler; never throws.
CONCUR_EXPORT void report_unhandled_exception(std::exception_ptr error,
                                              std::string_view where) noexcept;
}  // namespace detail

}  // namespace v0
}  // namespace concur
