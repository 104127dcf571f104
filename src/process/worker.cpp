#include "worker.hpp"

#include "posix.hpp"
#include "frame_ring.hpp"

#include <concur/core/detail/spin_governor.hpp>
#include <concur/process/detail/remote_call.hpp>

#include <cxxabi.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <memory>
#include <optional>
#include <utility>
#include <typeinfo>

namespace concur {
inline namespace v0 {
namespace detail {

std::string exception_type_name(const std::exception_ptr& error) {
  const std::type_info* type = nullptr;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    type = &typeid(e);  // the dynamic type
  } catch (...) {
    type = abi::__cxa_current_exception_type();
  }
  if (type == nullptr) return "unknown exception";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type->name());
}

namespace {

using Clock = std::chrono::steady_clock;

// A result frame's body after its kind: id (8 bytes), status, retiring.
constexpr std::size_t kResultFields = sizeof(std::uint64_t) + 2;

// Reads whole frames from a blocking channel.
class FrameReader {
 public:
  FrameReader(int fd, std::uint64_t max_frame) : fd_(fd), max_frame_(max_frame) {}
  void set_max_frame(std::uint64_t max_frame) { max_frame_ = max_frame; }

  // The next frame's body, valid until the next call; nullopt at end-of-file between
  // frames. Throws SerializationError for an oversized or truncated frame.
  std::optional<std::string_view> next() {
    if (!fill(kFrameHeader)) {
      if (size_ == pos_) return std::nullopt;
      throw SerializationError("concur worker: the channel closed inside a frame header");
    }
    const std::uint64_t length = read_frame_length(buffer_.data() + pos_);
    if (length == 0 || length > max_frame_) {
      throw SerializationError("concur worker: a frame of " + std::to_string(length) +
                               " bytes (the limit is " + std::to_string(max_frame_) + ")");
    }
    if (!fill(kFrameHeader + length)) {
      throw SerializationError("concur worker: the channel closed inside a frame");
    }
    const std::string_view body(buffer_.data() + pos_ + kFrameHeader, length);
    pos_ += kFrameHeader + length;
    return body;
  }

 private:
  // Until `size` bytes from pos_ are buffered; false at end-of-file.
  bool fill(std::size_t size) {
    while (size_ - pos_ < size) {
      if (pos_ > 0) {  // keep the partial frame at the front
        std::memmove(buffer_.data(), buffer_.data() + pos_, size_ - pos_);
        size_ -= pos_;
        pos_ = 0;
      }
      if (buffer_.size() < std::max<std::size_t>(size, 65536)) {
        buffer_.resize(std::max<std::size_t>(size, 65536));
      }
      const ssize_t n = ::recv(fd_, buffer_.data() + size_, buffer_.size() - size_, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        // A pool that closed its end with frames of ours unread (wake frames it no
        // longer needed) resets the channel: as final as end-of-file.
        if (errno == ECONNRESET) return false;
        throw_errno("worker: read from the channel");
      }
      if (n == 0) return false;
      size_ += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_;
  std::uint64_t max_frame_;
  ReadBuffer buffer_;
  std::size_t size_ = 0;  // bytes buffered
  std::size_t pos_ = 0;   // start of the next frame
};

[[noreturn]] void leave(int status) noexcept {
  std::fflush(nullptr);
  ::_exit(status);
}

void send_or_exit(int fd, const std::string& frame) noexcept {
  if (!write_all(fd, frame)) leave(0);  // the parent is gone
}

// Where the worker finds its tasks: in the task ring, polled for a while when it runs
// dry; then it says it sleeps and blocks on the channel until a wake frame (or a frame
// too large for the ring, behind its placeholder; frame_ring.hpp).
class TaskSource {
 public:
  TaskSource(FrameReader& channel, FrameRing& ring, std::chrono::nanoseconds spin)
      : channel_(channel), ring_(ring), spin_(spin) {}

  // The next task frame's body, valid until the next call; nullopt at end-of-file.
  // Throws SerializationError for a frame that is not a task where one is due.
  std::optional<std::string_view> next() {
    const auto spin_until = Clock::now() + spin_;
    bool sleeping = false;
    for (;;) {
      if (const auto body = ring_.peek(scratch_)) {
        if (sleeping) ring_.set_reader_sleeps(false);
        if (static_cast<FrameKind>((*body)[0]) == FrameKind::on_channel) {
          ring_.pop();
          return from_channel();
        }
        task_.assign(*body);  // its room is free before it runs
        ring_.pop();
        return std::string_view(task_);
      }
      if (read_ahead_) {
        throw SerializationError("concur worker: a task on the channel without its place in the task ring");
      }
      if (!sleeping) {
        if (Clock::now() < spin_until && governor_.yield()) continue;
        ring_.set_reader_sleeps(true);
        sleeping = true;
        continue;  // the ring once more: a task published before the pool saw the flag
      }
      const auto frame = channel_.next();
      if (!frame) return std::nullopt;
      ring_.set_reader_sleeps(false);
      sleeping = false;
      if (static_cast<FrameKind>((*frame)[0]) == FrameKind::wake) continue;
      // A task too large for the ring wakes the worker itself; the tasks in the ring
      // before its placeholder (whose wake may come behind it) run first.
      expect(*frame, FrameKind::task);
      read_ahead_ = *frame;
    }
  }

 private:
  std::string_view from_channel() {
    if (read_ahead_) return *std::exchange(read_ahead_, std::nullopt);
    for (;;) {  // a wake frame may come first: sent while the worker slept
      const auto frame = channel_.next();
      if (!frame) throw SerializationError("concur worker: the channel closed before a task it announced");
      if (static_cast<FrameKind>((*frame)[0]) == FrameKind::wake) continue;
      expect(*frame, FrameKind::task);
      return *frame;
    }
  }
  static void expect(std::string_view frame, FrameKind kind) {
    if (static_cast<FrameKind>(frame[0]) != kind) {
      throw SerializationError("concur worker: expected a frame of kind " + std::to_string(static_cast<int>(kind)) +
                               ", got kind " + std::to_string(static_cast<int>(frame[0])));
    }
  }

  FrameReader& channel_;
  FrameRing& ring_;
  std::chrono::nanoseconds spin_;
  detail::SpinGovernor& governor_ = detail::this_thread_spin_governor();
  std::string scratch_, task_;
  // A task frame read from the channel before its placeholder came up in the ring;
  // valid until the next channel_.next().
  std::optional<std::string_view> read_ahead_;
};

// Where the manager reads a result: the ring, or, for a frame too large for it, the
// channel behind a placeholder in the ring (frame_ring.hpp).
class ResultSender {
 public:
  ResultSender(int channel, FrameRing& ring)
      : channel_(channel),
        ring_(ring),
        wake_(make_frame(FrameKind::wake)),
        on_channel_(make_frame(FrameKind::on_channel)) {}

  void send(const std::string& frame) noexcept {
    if (frame.size() <= FrameRing::kMaxEntry) {
      write_to_ring(frame);
      if (ring_.wake_due(woken_)) send_or_exit(channel_, wake_);  // once per sleep of the manager
    } else {
      write_to_ring(on_channel_);
      send_or_exit(channel_, frame);
    }
  }

 private:
  void write_to_ring(std::string_view frame) noexcept {
    while (!ring_.try_write(frame)) ::sched_yield();  // a full ring: see frame_ring.hpp
  }

  int channel_;
  FrameRing& ring_;
  const std::string wake_, on_channel_;
  std::uint32_t woken_ = 0;  // the manager's last sleep a wake frame was sent for
};

void apply_config(const WorkerConfig& config) {
  ::prctl(PR_SET_NAME, config.name.substr(0, 15).c_str());
  for (const auto& [name, value] : config.environment) ::setenv(name.c_str(), value.c_str(), 1);
}

// Runs one task frame; appends its result frame to `out`. True when this worker should
// retire after sending it.
bool run_task(std::string_view body, std::string& out, const WorkerConfig& config,
              std::uint64_t& tasks_done) {
  Decoder decoder(body.substr(1));
  std::uint64_t id = 0;
  const std::size_t start = begin_frame(out, FrameKind::result);
  const std::size_t header = out.size();
  ResultStatus status = ResultStatus::value;
  CallStage stage = CallStage::decoding;
  std::string type, message;
  try {
    FunctionLocation entry;
    decoder.archive()(id, entry.module, entry.offset);
    auto* run = resolve_function<RemoteEntry>(entry);
    out.append(kResultFields, '\0');  // written below
    Encoder encoder(out);
    RemoteCall call{decoder.archive(), encoder.archive()};
    try {
      run(call);
    } catch (...) {
      stage = call.stage;
      throw;
    }
    stage = call.stage;
    if (decoder.consumed() + 1 != body.size()) {
      stage = CallStage::decoding;
      throw SerializationError("concur worker: the task frame has " +
                               std::to_string(body.size() - 1 - decoder.consumed()) +
                               " bytes its entry did not read");
    }
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    status = stage == CallStage::running ? ResultStatus::raised : ResultStatus::serialization;
    type = exception_type_name(error);
    message = describe(error);
  }
  if (status == ResultStatus::value && out.size() - start - kFrameHeader > config.max_frame) {
    status = ResultStatus::serialization;
    message = "the result takes " + std::to_string(out.size() - header) +
              " bytes, more than max_frame_bytes (" + std::to_string(config.max_frame) + ")";
  }
  ++tasks_done;
  const bool retiring =
      (config.max_tasks != 0 && tasks_done >= config.max_tasks) ||
      (config.max_memory != 0 && resident_bytes() > config.max_memory);
  if (status != ResultStatus::value) {
    out.resize(header);
    out.append(kResultFields, '\0');
    Encoder encoder(out);
    if (status == ResultStatus::raised) encoder.archive()(type, message);
    if (status == ResultStatus::serialization) encoder.archive()(message);
  }
  // The fields as cereal's binary archive writes them: raw host-order bytes.
  char* fields = out.data() + header;
  std::memcpy(fields, &id, sizeof id);
  fields[sizeof id] = static_cast<char>(status);
  fields[sizeof id + 1] = static_cast<char>(retiring);
  finish_frame(out, start);
  return retiring;
}

}  // namespace

void run_worker(int channel) noexcept {
  try {
    FrameRing tasks = FrameRing::create("concur-tasks");
    FrameRing results = FrameRing::create("concur-results");
    const int ring_fds[] = {tasks.fd().get(), results.fd().get()};
    if (!send_with_fds(channel, make_frame(FrameKind::hello, static_cast<std::int32_t>(::getpid())),
                       ring_fds)) {
      leave(0);  // the parent is gone
    }
    tasks.fd().reset();  // the mappings stay
    results.fd().reset();
    FrameReader reader(channel, 1 << 20);
    WorkerConfig config;
    {
      const auto body = reader.next();
      if (!body) leave(0);
      if (static_cast<FrameKind>((*body)[0]) != FrameKind::config) {
        throw SerializationError("concur worker: the first frame is not a config");
      }
      Decoder decoder(body->substr(1));
      decoder.archive()(config);
    }
    reader.set_max_frame(config.max_frame);
    apply_config(config);
    if (config.has_initializer) {
      try {
        resolve_function<void (*)()>({config.initializer_module, config.initializer_offset})();
      } catch (...) {
        const std::exception_ptr error = std::current_exception();
        send_or_exit(channel, make_frame(FrameKind::init_failed, exception_type_name(error),
                                         describe(error)));
        leave(0);
      }
    }
    send_or_exit(channel, make_frame(FrameKind::ready));
    std::uint64_t tasks_done = 0;
    std::string out;
    TaskSource source(reader, tasks, std::chrono::nanoseconds(config.spin_ns));
    ResultSender sender(channel, results);
    while (const auto body = source.next()) {
      if (static_cast<FrameKind>((*body)[0]) != FrameKind::task) {
        throw SerializationError("concur worker: expected a task frame, got kind " +
                                 std::to_string(static_cast<int>((*body)[0])));
      }
      out.clear();
      const bool retiring = run_task(*body, out, config, tasks_done);
      std::fflush(stdout);
      sender.send(out);
      if (retiring) leave(0);
    }
    leave(0);
  } catch (...) {
    const std::string message = describe(std::current_exception());
    (void)write_all(channel, make_frame(FrameKind::protocol_error, message));
    leave(kProtocolExit);
  }
}

void discard_inherited_output() noexcept {
  // What the parent had buffered is the parent's to print, not a copy for every child.
  __fpurge(stdout);
  __fpurge(stderr);
}

void become_worker(int channel, int stderr_write, pid_t parent) noexcept {
  discard_inherited_output();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);  // the parent died before the line above
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGINT, SIG_IGN);
  const int high_channel = ::fcntl(channel, F_DUPFD, 10);
  const int high_stderr = ::fcntl(stderr_write, F_DUPFD, 10);
  if (high_channel < 0 || high_stderr < 0 || ::dup2(high_stderr, 2) < 0 ||
      ::dup2(high_channel, kWorkerChannelFd) < 0) {
    ::_exit(kProtocolExit);
  }
  ::close_range(kWorkerChannelFd + 1, ~0U, 0);
  run_worker(kWorkerChannelFd);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
