// All of concur's public headers. Include the one you need to keep builds fast.
#pragma once

#include <concur/core/as_completed.hpp>
#include <concur/core/executor.hpp>
#include <concur/core/future.hpp>
#include <concur/core/map.hpp>
#include <concur/core/observer.hpp>
#include <concur/core/promise.hpp>
#include <concur/core/this_task.hpp>
#include <concur/core/unhandled_exception.hpp>
#include <concur/core/wait.hpp>
#include <concur/errors.hpp>
#include <concur/process/process_pool.hpp>
#include <concur/process/worker_entry.hpp>
#include <concur/profile/parallelism_probe.hpp>
#include <concur/sci/array_view.hpp>
#include <concur/sci/blas.hpp>
#include <concur/sci/mapped_array.hpp>
#include <concur/sci/random.hpp>
#include <concur/sci/reduce.hpp>
#include <concur/sci/shared_array.hpp>
#include <concur/thread/blocking_queue.hpp>
#include <concur/thread/thread_pool.hpp>
