// A call that runs in a worker process: its entry point, its encoding, and the task
// state the parent keeps for it.
//
// A task frame names an *entry*: a function template instantiated for the call's
// signature (remote_entry<F, R, Args...>), located as (module, offset) like any function
// (function_locator.hpp). The worker resolves the entry inside its own copy of the
// module and calls it; the entry decodes the callable and the arguments, runs the call
// and encodes the result. So nothing is registered: whatever the parent's binary can
// submit, the worker's identical binary can run.
//
// What can be the callable: a function pointer (it travels as its own location), a
// stateless function object such as a captureless lambda (default-constructed in the
// worker), or a function object with a cereal serialize() (it travels by value).
#pragma once

#include <concur/core/detail/shared_state.hpp>
#include <concur/core/map.hpp>
#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/process/detail/function_locator.hpp>
#include <concur/process/detail/wire.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

// ---- callables ------------------------------------------------------------------------
template <class F>
inline constexpr bool is_function_pointer =
    std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>;

template <class F>
inline constexpr bool stateless_function_object =
    std::is_class_v<F> && std::is_empty_v<F> && std::is_default_constructible_v<F> &&
    std::is_trivially_copyable_v<F>;

template <class F>
inline constexpr bool serializable_function_object =
    std::is_class_v<F> && !std::is_empty_v<F> && cereal_serializable<F>;

template <class F>
inline constexpr bool remote_callable =
    is_function_pointer<F> || stateless_function_object<F> || serializable_function_object<F>;

template <class F>
struct RequireRemoteCallable {
  static_assert(remote_callable<F>,
                "concur::ProcessPool runs free functions, captureless lambdas and function "
                "objects with a cereal serialize(). A lambda with captures cannot travel to "
                "another process: pass the captured values as arguments instead. The callable "
                "is F in this instantiation.");
  static constexpr bool value = true;
};

template <class F>
void put_callable(cereal::BinaryOutputArchive& archive, const F& fn) {
  if constexpr (is_function_pointer<F>) {
    const FunctionLocation where = locate_code(reinterpret_cast<const void*>(fn));
    archive(where.module, where.offset);
  } else if constexpr (serializable_function_object<F>) {
    archive(fn);
  }
}

template <class F>
F take_callable(cereal::BinaryInputArchive& archive) {
  if constexpr (is_function_pointer<F>) {
    FunctionLocation where;
    archive(where.module, where.offset);
    return resolve_function<F>(where);
  } else if constexpr (serializable_function_object<F>) {
    F fn{};
    archive(fn);
    return fn;
  } else {
    return F{};
  }
}

// ---- entries (run in the worker) ------------------------------------------------------
// How far an entry got: an exception while decoding or encoding is a SerializationError
// of the transport, one while running is the task's own.
enum class CallStage : std::uint8_t { decoding, running, encoding };

struct RemoteCall {
  cereal::BinaryInputArchive& in;
  cereal::BinaryOutputArchive& out;
  CallStage stage = CallStage::decoding;
};

using RemoteEntry = void (*)(RemoteCall&);

// The dynamic type's name and the message of an exception, demangled.
CONCUR_EXPORT std::string exception_type_name(const std::exception_ptr& error);

template <class F, class R, class... Args>
void remote_entry(RemoteCall& call) {
  F fn = take_callable<F>(call.in);
  std::tuple<Args...> args{take<Args>(call.in)...};  // braces: decoded left to right
  call.stage = CallStage::running;
  auto run = [&](Args&... a) -> R { return std::invoke(std::move(fn), std::move(a)...); };
  if constexpr (std::is_void_v<R>) {
    std::apply(run, args);
  } else {
    R result = std::apply(run, args);
    call.stage = CallStage::encoding;
    put(call.out, result);
  }
}

// A map chunk: runs f over the inputs in order, stops at the first exception. Encodes
// each value behind a 1 byte, then a 0 byte, then whether an exception stopped it (its
// type name and message).
template <class F, class In>
void remote_chunk_entry(RemoteCall& call) {
  using R = std::invoke_result_t<F&, In&&>;
  F fn = take_callable<F>(call.in);
  std::uint64_t count = 0;
  call.in(count);
  std::vector<In> inputs;
  for (std::uint64_t i = 0; i < count; ++i) inputs.push_back(take<In>(call.in));
  call.stage = CallStage::running;
  std::exception_ptr error;
  for (In& input : inputs) {
    try {
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn, std::move(input));
        call.out(std::uint8_t{1});
      } else {
        R result = std::invoke(fn, std::move(input));
        call.stage = CallStage::encoding;
        call.out(std::uint8_t{1});
        put(call.out, result);
        call.stage = CallStage::running;
      }
    } catch (...) {
      if (call.stage == CallStage::encoding) throw;
      error = std::current_exception();
      break;
    }
  }
  call.stage = CallStage::encoding;
  call.out(std::uint8_t{0}, error != nullptr);
  if (error != nullptr) call.out(exception_type_name(error), describe(error));
}

template <RemoteEntry Entry>
const FunctionLocation& entry_location() {
  static const FunctionLocation where = locate_code(reinterpret_cast<const void*>(Entry));
  return where;
}

// ---- the parent's side ----------------------------------------------------------------
// What the pool needs of a task, whatever its result type. The pool's bookkeeping
// fields are guarded by the pool; state().id numbers its tasks from 1.
class CONCUR_EXPORT ProcessTaskBase {
 public:
  virtual StateBase& state() noexcept = 0;
  // Decodes a result payload into the state (not yet published). Throws
  // SerializationError when the bytes do not decode. `where` names the worker.
  virtual void store_value(std::string_view payload, const std::string& where) = 0;

  std::string request;               // the task frame, kept for a retry
  std::chrono::nanoseconds timeout{0};  // zero: none
  unsigned attempts = 0;             // times sent to a worker that died running it
  bool started = false;              // try_start() succeeded
  bool abandoned = false;            // finished by the pool (timeout, stop); result ignored

 protected:
  ~ProcessTaskBase() = default;
};

// The pool's side of a task's stop request (a cancel() while it runs).
class CONCUR_EXPORT StopSink {
 public:
  virtual void request_stop(ProcessTaskBase& task) noexcept = 0;

 protected:
  ~StopSink() = default;
};

template <class R>
class ProcessTask final : public State<R>, public ProcessTaskBase {
 public:
  using Decode = void (*)(State<R>&, cereal::BinaryInputArchive&, const std::string&);

  ProcessTask(std::shared_ptr<StopSink> pool, Decode decode)
      : State<R>(2), pool_(std::move(pool)), decode_(decode) {}

  StateBase& state() noexcept override { return *this; }

  void store_value(std::string_view payload, const std::string& where) override {
    Decoder decoder(payload);
    try {
      decode_(*this, decoder.archive(), where);
    } catch (const cereal::Exception& e) {
      throw SerializationError(std::string("concur::ProcessPool: cannot decode the result from ") +
                               where + ": " + e.what());
    }
    if (decoder.consumed() != payload.size()) {
      throw SerializationError("concur::ProcessPool: the result from " + where + " has " +
                               std::to_string(payload.size() - decoder.consumed()) +
                               " bytes more than its type reads");
    }
  }

  void on_stop_requested() noexcept override { pool_->request_stop(*this); }

 private:
  std::shared_ptr<StopSink> pool_;
  Decode decode_;
};

template <class R>
void decode_value(State<R>& state, cereal::BinaryInputArchive& archive, const std::string&) {
  if constexpr (!std::is_void_v<R>) state.value.emplace(take<R>(archive));
}

template <class Out>
void decode_chunk(State<MapChunk<Out>>& state, cereal::BinaryInputArchive& archive,
                  const std::string& where) {
  MapChunk<Out> chunk;
  for (std::uint8_t more = 0; archive(more), more != 0;) {
    if constexpr (std::is_same_v<Out, std::monostate>) {
      chunk.values.emplace_back();
    } else {
      chunk.values.push_back(take<Out>(archive));
    }
  }
  bool failed = false;
  archive(failed);
  if (failed) {
    std::string type, message;
    archive(type, message);
    chunk.error = std::make_exception_ptr(RemoteError(std::move(type), std::move(message), where));
  }
  state.value.emplace(std::move(chunk));
}

// Appends a task frame calling Entry (whose payload writer is `write_payload`).
template <RemoteEntry Entry, class WritePayload>
void encode_task(std::string& out, std::uint64_t id, WritePayload&& write_payload) {
  const std::size_t start = begin_frame(out, FrameKind::task);
  try {
    Encoder encoder(out);
    const FunctionLocation& entry = entry_location<Entry>();
    encoder.archive()(id, entry.module, entry.offset);
    write_payload(encoder.archive());
  } catch (const cereal::Exception& e) {
    throw SerializationError(std::string("concur::ProcessPool: cannot encode the task: ") +
                             e.what());
  }
  finish_frame(out, start);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
