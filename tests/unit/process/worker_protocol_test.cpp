// The worker side of the channel, driven by hand: malformed, oversized and forged
// frames get an error answer (or a protocol_error and a clean exit), never a crash.
#include "process/posix.hpp"
#include "process/frame_ring.hpp"
#include "process/worker.hpp"

#include <concur/process/detail/remote_call.hpp>
#include <concur/process/detail/wire.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using detail::FrameKind;

int add_one(int x) { return x + 1; }
std::string letters(int n) { return std::string(static_cast<std::size_t>(n), 'x'); }
std::size_t length_of(std::string s) { return s.size(); }

class WorkerChannel : public testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      detail::run_worker(fds[1]);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    std::vector<detail::Fd> ring_fds;
    const std::string hello = detail::receive_with_fds(fd_, ring_fds, 2);
    ASSERT_GT(hello.size(), detail::kFrameHeader);
    ASSERT_EQ(hello[detail::kFrameHeader], static_cast<char>(FrameKind::hello));
    ASSERT_EQ(ring_fds.size(), 2u) << "the hello frame carries the task and result rings";
    tasks_.emplace(detail::FrameRing::open(std::move(ring_fds[0])));
    ring_.emplace(detail::FrameRing::open(std::move(ring_fds[1])));
    detail::WorkerConfig config;
    config.name = "protocol-test";
    config.max_frame = 1 << 16;
    send(frame(FrameKind::config, [&](auto& archive) { archive(config); }));
    ASSERT_EQ(read_frame()[0], static_cast<char>(FrameKind::ready));
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
    EXPECT_TRUE(WIFEXITED(status)) << "the worker crashed";
    exit_code_ = WEXITSTATUS(status);
    if (expected_exit_ >= 0) {
      EXPECT_EQ(exit_code_, expected_exit_);
    }
  }

  template <class Write>
  static std::string frame(FrameKind kind, Write write) {
    std::string out;
    const std::size_t start = detail::begin_frame(out, kind);
    {
      detail::Encoder encoder(out);
      write(encoder.archive());
    }
    detail::finish_frame(out, start);
    return out;
  }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  // Sends task frames as the pool does: each in the task ring, or, when too large for
  // it, on the channel behind a placeholder; then a wake frame if the worker sleeps
  // (and `wake`).
  void send_tasks(const std::string& frames, bool wake = true) {
    for (std::size_t at = 0; at < frames.size();) {
      const std::size_t size = detail::kFrameHeader + detail::read_frame_length(frames.data() + at);
      const std::string one = frames.substr(at, size);
      at += size;
      if (one.size() <= detail::FrameRing::kMaxEntry) {
        ASSERT_TRUE(tasks_->try_write(one));
      } else {
        ASSERT_TRUE(tasks_->try_write(detail::make_frame(FrameKind::on_channel)));
        send(one);
      }
    }
    if (wake && tasks_->reader_sleeps() != 0) send(detail::make_frame(FrameKind::wake));
  }
  std::string read_frame() {
    char header[detail::kFrameHeader];
    if (::recv(fd_, header, sizeof header, MSG_WAITALL) != static_cast<ssize_t>(sizeof header)) return {};
    std::string body(detail::read_frame_length(header), '\0');
    if (::recv(fd_, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size())) return {};
    return body;
  }
  // The next result frame's body, read as the manager does: from the ring; when it is
  // empty, saying so and waiting for the worker's wake frame; from the channel where
  // the ring says so (then `on_channel` is set).
  std::string read_result_body(bool* on_channel = nullptr) {
    std::string scratch;
    for (bool sleeping = false;;) {
      if (const auto body = ring_->peek(scratch)) {
        if (sleeping) ring_->set_reader_sleeps(false);
        std::string result(*body);
        ring_->pop();
        if (result[0] != static_cast<char>(FrameKind::on_channel)) return result;
        if (on_channel != nullptr) *on_channel = true;
        return read_frame_after_wakes();
      }
      if (!sleeping) {
        ring_->set_reader_sleeps(true);
        sleeping = true;
        continue;  // the ring once more (the handshake in frame_ring.hpp)
      }
      const std::string frame = read_frame();
      ring_->set_reader_sleeps(false);
      sleeping = false;
      if (frame.empty()) {
        ADD_FAILURE() << "the channel closed while a result was due";
        return {};
      }
      if (frame[0] == static_cast<char>(FrameKind::protocol_error)) {
        std::string message;
        detail::Decoder decoder(std::string_view(frame).substr(1));
        decoder.archive()(message);
        ADD_FAILURE() << "the worker answered with a protocol error: " << message;
        return {};
      }
      if (frame[0] == static_cast<char>(FrameKind::result)) {  // it wakes the reader itself
        const auto placeholder = ring_->peek(scratch);
        EXPECT_TRUE(placeholder && (*placeholder)[0] == static_cast<char>(FrameKind::on_channel))
            << "a result on the channel without its place in the ring";
        ring_->pop();
        if (on_channel != nullptr) *on_channel = true;
        return frame;
      }
      EXPECT_EQ(frame[0], static_cast<char>(FrameKind::wake));
    }
  }
  std::string read_frame_after_wakes() {
    for (;;) {
      std::string frame = read_frame();
      if (frame.empty() || frame[0] != static_cast<char>(FrameKind::wake)) return frame;
    }
  }
  // A result's status and its message (for error statuses).
  std::pair<detail::ResultStatus, std::string> read_result() {
    const std::string body = read_result_body();
    EXPECT_EQ(body[0], static_cast<char>(FrameKind::result));
    const auto status = static_cast<detail::ResultStatus>(body[1 + 8]);
    std::string message;
    if (status == detail::ResultStatus::serialization) {
      detail::Decoder decoder(std::string_view(body).substr(1 + 10));
      decoder.archive()(message);
    }
    return {status, message};
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::optional<detail::FrameRing> tasks_, ring_;
  int exit_code_ = -1;
  int expected_exit_ = 0;
};

TEST_F(WorkerChannel, RunsAWellFormedTask) {
  std::string task;
  detail::encode_task<&detail::remote_entry<int (*)(int), int, int>>(
      task, 1, [](auto& archive) {
        detail::put_callable<int (*)(int)>(archive, &add_one);
        detail::put(archive, 41);
      });
  send_tasks(task);
  const std::string body = read_result_body();
  ASSERT_EQ(body[0], static_cast<char>(FrameKind::result));
  EXPECT_EQ(static_cast<detail::ResultStatus>(body[9]), detail::ResultStatus::value);
  detail::Decoder decoder(std::string_view(body).substr(11));
  EXPECT_EQ(detail::take<int>(decoder.archive()), 42);
}

TEST_F(WorkerChannel, AResultTooLargeForTheRingComesOnTheChannelBehindItsPlaceInTheRing) {
  std::string task;
  for (std::uint64_t id : {1, 2}) {
    detail::encode_task<&detail::remote_entry<std::string (*)(int), std::string, int>>(
        task, id, [&](auto& archive) {
          detail::put_callable<std::string (*)(int)>(archive, &letters);
          detail::put(archive, id == 1 ? static_cast<int>(detail::FrameRing::kMaxEntry) : 3);
        });
  }
  send_tasks(task);  // both at once
  // The large one: a placeholder in the ring, then the frame on the channel.
  bool on_channel = false;
  const std::string large = read_result_body(&on_channel);
  EXPECT_TRUE(on_channel);
  ASSERT_EQ(large[0], static_cast<char>(FrameKind::result));
  EXPECT_GT(large.size(), detail::FrameRing::kMaxEntry - detail::kFrameHeader);
  // The small one after it, in the ring.
  on_channel = false;
  const std::string small = read_result_body(&on_channel);
  EXPECT_FALSE(on_channel);
  ASSERT_EQ(small[0], static_cast<char>(FrameKind::result));
  std::uint64_t id = 0;
  std::memcpy(&id, small.data() + 1, sizeof id);
  EXPECT_EQ(id, 2u);
  detail::Decoder decoder(std::string_view(small).substr(11));
  EXPECT_EQ(detail::take<std::string>(decoder.archive()), "xxx");
}

TEST_F(WorkerChannel, ATaskTooLargeForTheRingComesOnTheChannelBehindItsPlaceInTheRing) {
  std::string task;
  const std::string large(detail::FrameRing::kMaxEntry, 'y');
  for (std::uint64_t id : {1, 2, 3}) {  // large, small, large: order kept across both paths
    detail::encode_task<&detail::remote_entry<std::size_t (*)(std::string), std::size_t, std::string>>(
        task, id, [&](auto& archive) {
          detail::put_callable<std::size_t (*)(std::string)>(archive, &length_of);
          detail::put(archive, id == 2 ? std::string("ab") : large);
        });
  }
  send_tasks(task);
  for (std::uint64_t id : {1, 2, 3}) {
    const std::string body = read_result_body();
    ASSERT_EQ(body[0], static_cast<char>(FrameKind::result));
    std::uint64_t got = 0;
    std::memcpy(&got, body.data() + 1, sizeof got);
    EXPECT_EQ(got, id);
    detail::Decoder decoder(std::string_view(body).substr(11));
    EXPECT_EQ(detail::take<std::size_t>(decoder.archive()), id == 2 ? 2u : large.size());
  }
}

// A sleeping worker woken by a large task on its channel runs the tasks that wait in
// its ring before that task's placeholder first (their wake frame, had one been sent,
// could have come behind the large frame).
TEST_F(WorkerChannel, ALargeTaskThatWakesTheWorkerRunsAfterTheTasksBeforeItInTheRing) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (tasks_->reader_sleeps() == 0) {  // the worker (no polling configured) blocks at once
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the worker never said it sleeps";
    std::this_thread::yield();
  }
  std::string task;
  const std::string large(detail::FrameRing::kMaxEntry, 'y');
  for (std::uint64_t id : {1, 2}) {  // small, then large: only the large one wakes it
    detail::encode_task<&detail::remote_entry<std::size_t (*)(std::string), std::size_t, std::string>>(
        task, id, [&](auto& archive) {
          detail::put_callable<std::size_t (*)(std::string)>(archive, &length_of);
          detail::put(archive, id == 1 ? std::string("ab") : large);
        });
  }
  send_tasks(task, /*wake=*/false);
  for (std::uint64_t id : {1, 2}) {
    const std::string body = read_result_body();
    ASSERT_EQ(body[0], static_cast<char>(FrameKind::result));
    std::uint64_t got = 0;
    std::memcpy(&got, body.data() + 1, sizeof got);
    EXPECT_EQ(got, id);
  }
}

TEST_F(WorkerChannel, ATaskOnTheChannelWithoutItsPlaceInTheRingGetsAProtocolError) {
  std::string task;
  detail::encode_task<&detail::remote_entry<int (*)(int), int, int>>(task, 1, [](auto& archive) {
    detail::put_callable<int (*)(int)>(archive, &add_one);
    detail::put(archive, 1);
  });
  send(task);  // the worker sleeps on the channel by now, or reads it when it does
  const std::string body = read_frame();
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body[0], static_cast<char>(FrameKind::protocol_error));
  expected_exit_ = detail::kProtocolExit;
}

TEST_F(WorkerChannel, APoolThatClosesWithFramesUnreadEndsTheWorkerCleanly) {
  ring_->set_reader_sleeps(true);  // the worker's result comes with a wake frame
  std::string task;
  detail::encode_task<&detail::remote_entry<int (*)(int), int, int>>(task, 1, [](auto& archive) {
    detail::put_callable<int (*)(int)>(archive, &add_one);
    detail::put(archive, 1);
  });
  send_tasks(task);
  char byte;
  ASSERT_EQ(::recv(fd_, &byte, 1, MSG_PEEK), 1);  // the wake frame is here, and stays unread
  // TearDown closes the channel: the worker reads a reset, not end-of-file, and exits
  // with status 0 as at end-of-file.
}

TEST_F(WorkerChannel, RefusesAnEntryOutsideTheModulesCode) {
  const auto entry = detail::entry_location<&detail::remote_entry<int (*)(int), int, int>>();
  send_tasks(frame(FrameKind::task, [&](auto& archive) {
    archive(std::uint64_t{1}, entry.module, std::uint64_t{1} << 40, 0);
  }));
  const auto [status, message] = read_result();
  EXPECT_EQ(status, detail::ResultStatus::serialization);
  EXPECT_NE(message.find("not inside the code"), std::string::npos) << message;
}

TEST_F(WorkerChannel, RefusesAFunctionPointerIntoAnUnknownModule) {
  send_tasks(frame(FrameKind::task, [&](auto& archive) {
    const auto entry = detail::entry_location<&detail::remote_entry<int (*)(int), int, int>>();
    archive(std::uint64_t{1}, entry.module, entry.offset);
    archive(std::string("/no/such/module.so"), std::uint64_t{16}, 5);
  }));
  EXPECT_EQ(read_result().first, detail::ResultStatus::serialization);
}

TEST_F(WorkerChannel, AnswersATruncatedPayloadWithASerializationError) {
  send_tasks(frame(FrameKind::task, [&](auto& archive) {
    const auto entry = detail::entry_location<&detail::remote_entry<int (*)(int), int, int>>();
    archive(std::uint64_t{1}, entry.module, entry.offset);  // no callable, no argument
  }));
  EXPECT_EQ(read_result().first, detail::ResultStatus::serialization);
  // And the worker is still fine.
  std::string task;
  detail::encode_task<&detail::remote_entry<int (*)(int), int, int>>(task, 2, [](auto& archive) {
    detail::put_callable<int (*)(int)>(archive, &add_one);
    detail::put(archive, 1);
  });
  send_tasks(task);
  EXPECT_EQ(read_result().first, detail::ResultStatus::value);
}

TEST_F(WorkerChannel, AnOversizedFrameGetsAProtocolErrorAndACleanExit) {
  std::string header(detail::kFrameHeader, '\xff');  // 2^64 - 1 bytes announced
  send(header);
  const std::string body = read_frame();
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body[0], static_cast<char>(FrameKind::protocol_error));
  expected_exit_ = detail::kProtocolExit;
}

TEST_F(WorkerChannel, AnUnknownFrameKindGetsAProtocolError) {
  send(frame(static_cast<FrameKind>(99), [](auto& archive) { archive(1); }));
  EXPECT_EQ(read_frame()[0], static_cast<char>(FrameKind::protocol_error));
  expected_exit_ = detail::kProtocolExit;
}

TEST(FrameCodec, LengthRoundTripsAndTruncatedInputThrows) {
  std::string out;
  const std::size_t start = detail::begin_frame(out, FrameKind::task);
  out.append(300, 'x');
  detail::finish_frame(out, start);
  EXPECT_EQ(detail::read_frame_length(out.data()), 301u);
  detail::Decoder decoder(std::string_view("\x01\x02", 2));
  EXPECT_THROW((void)detail::take<std::uint64_t>(decoder.archive()), cereal::Exception);
}

TEST(FrameCodec, NestedEncodersAndDecodersOnOneThreadKeepTheirOwnStreams) {
  // Each thread lends out one stream of each kind; one made while it is lent (a user
  // type's save() that encodes something itself) must not write into the outer one.
  std::string outer, inner;
  {
    detail::Encoder a(outer);
    detail::put(a.archive(), 1);
    {
      detail::Encoder b(inner);
      detail::put(b.archive(), 2);
    }
    detail::put(a.archive(), 3);
  }
  detail::Decoder x(outer);
  {
    detail::Decoder y(inner);
    EXPECT_EQ(detail::take<int>(y.archive()), 2);
    EXPECT_EQ(y.consumed(), sizeof(int));
  }
  EXPECT_EQ(detail::take<int>(x.archive()), 1);
  EXPECT_EQ(detail::take<int>(x.archive()), 3);
  EXPECT_EQ(x.consumed(), 2 * sizeof(int));
}

TEST(FrameCodec, AFailedReadLeavesTheThreadsStreamUsable) {
  {
    detail::Decoder short_input(std::string_view("\x01", 1));
    EXPECT_THROW((void)detail::take<std::uint64_t>(short_input.archive()), cereal::Exception);
  }
  std::string bytes;
  {
    detail::Encoder encoder(bytes);
    detail::put(encoder.archive(), std::uint64_t{42});
  }
  detail::Decoder decoder(bytes);
  EXPECT_EQ(detail::take<std::uint64_t>(decoder.archive()), 42u) << "the thread's stream serves the next Decoder";
}

}  // namespace
}  // namespace concur
