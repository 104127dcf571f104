// The entry point of a spawned worker process (StartMethod::spawn), like MPI_Init.
//
//   int main(int argc, char** argv) {
//     concur::serve_if_worker(argc, argv);   // first thing: returns at once in the parent
//     ...
//   }
//
// A ProcessPool with StartMethod::spawn executes this same program again; in that
// process serve_if_worker() serves tasks and never returns (the process exits when the
// pool closes it). In any other process it returns immediately. Programs that only use
// forkserver or fork need not call it.
#pragma once

#include <concur/export.hpp>

namespace concur {
inline namespace v0 {

CONCUR_EXPORT void serve_if_worker(int argc, char** argv) noexcept;

}  // namespace v0
}  // namespace concur
