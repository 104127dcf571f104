// A frame ring on its own: a writer and a reader over one memfd in this process.
#include "process/frame_ring.hpp"

#include <concur/errors.hpp>
#include <concur/process/detail/wire.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace concur {
namespace {

using detail::FrameKind;
using detail::FrameRing;

// A frame of `size` bytes in all, its body a pattern that depends on `seed`.
std::string frame_of(std::size_t size, unsigned seed) {
  std::string frame;
  const std::size_t start = detail::begin_frame(frame, FrameKind::result);
  while (frame.size() < size) frame.push_back(static_cast<char>('a' + (seed + frame.size()) % 26));
  detail::finish_frame(frame, start);
  return frame;
}

struct Pair {
  FrameRing writer = FrameRing::create("concur-test");
  FrameRing reader = FrameRing::open(detail::Fd(::dup(writer.fd().get())));
};

TEST(FrameRing, EntriesComeOutWholeAndInOrderAcrossManyWraps) {
  test::NoLeaks no_leaks;
  Pair ring;
  std::string scratch;
  std::size_t bytes = 0;
  for (unsigned i = 0; i < 2000; ++i) {
    const std::size_t size = detail::kFrameHeader + 1 + (i * 977) % (FrameRing::kMaxEntry - detail::kFrameHeader);
    const std::string frame = frame_of(size, i);
    ASSERT_TRUE(ring.writer.try_write(frame)) << "entry " << i;
    const auto body = ring.reader.peek(scratch);
    ASSERT_TRUE(body.has_value());
    ASSERT_EQ(*body, std::string_view(frame).substr(detail::kFrameHeader)) << "entry " << i;
    ring.reader.pop();
    EXPECT_FALSE(ring.reader.peek(scratch).has_value());
    bytes += size;
  }
  EXPECT_GT(bytes, 10 * FrameRing::kCapacity) << "the test wraps the ring many times";
}

TEST(FrameRing, AFullRingRefusesAnEntryUntilTheReaderTakesOne) {
  Pair ring;
  const std::string frame = frame_of(FrameRing::kMaxEntry, 1);
  std::size_t written = 0;
  while (ring.writer.try_write(frame)) ++written;
  EXPECT_EQ(written, FrameRing::kCapacity / FrameRing::kMaxEntry);
  std::string scratch;
  ASSERT_TRUE(ring.reader.peek(scratch).has_value());
  ring.reader.pop();
  EXPECT_TRUE(ring.writer.try_write(frame));
  EXPECT_FALSE(ring.writer.try_write(frame));
  EXPECT_FALSE(ring.writer.try_write(frame_of(FrameRing::kMaxEntry + 1, 2))) << "over kMaxEntry";
}

TEST(FrameRing, AnEntryThatCannotBeAFrameIsASerializationError) {
  for (const std::uint64_t length : {std::uint64_t{0}, std::uint64_t{FrameRing::kMaxEntry}, std::uint64_t{1} << 40}) {
    Pair ring;
    std::string forged(detail::kFrameHeader + 16, 'x');
    std::uint64_t l = length;
    for (std::size_t i = 0; i < detail::kFrameHeader; ++i, l >>= 8) forged[i] = static_cast<char>(l & 0xff);
    ASSERT_TRUE(ring.writer.try_write(forged));
    std::string scratch;
    EXPECT_THROW((void)ring.reader.peek(scratch), SerializationError) << "length " << length;
  }
}

TEST(FrameRing, OpenRefusesAnFdThatIsNotARing) {
  test::NoLeaks no_leaks;
  detail::Fd small(::memfd_create("not-a-ring", MFD_CLOEXEC));
  ASSERT_TRUE(small);
  ASSERT_EQ(::ftruncate(small.get(), 100), 0);
  EXPECT_THROW((void)FrameRing::open(std::move(small)), SerializationError);
}

TEST(FrameRing, TheWriterSeesWhetherTheReaderSleepsAndWhichSleepItIs) {
  Pair ring;
  EXPECT_EQ(ring.writer.reader_sleeps(), 0u);
  ring.reader.set_reader_sleeps(true);
  const std::uint32_t first = ring.writer.reader_sleeps();
  EXPECT_NE(first, 0u);
  ring.reader.set_reader_sleeps(false);
  EXPECT_EQ(ring.writer.reader_sleeps(), 0u);
  ring.reader.set_reader_sleeps(true);
  EXPECT_NE(ring.writer.reader_sleeps(), 0u);
  EXPECT_NE(ring.writer.reader_sleeps(), first) << "a new sleep gets a new number: one wake each";
}

}  // namespace
}  // namespace concur
