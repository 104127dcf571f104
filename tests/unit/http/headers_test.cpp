// Headers: order, repeats, case-insensitive lookup, set, equality, and fields added from
// views into the same Headers (their storage moves as it grows).
#include <concur/http/response.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using concur::http::Headers;

std::vector<std::string> flatten(const Headers& headers) {
  std::vector<std::string> out;
  for (const auto& [name, value] : headers) out.push_back(std::string(name) + "=" + std::string(value));
  return out;
}

TEST(Headers, KeepOrderAndRepeatsAndFindTheFirstValueOfAnyCase) {
  Headers h{{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}};
  h.add("Set-Cookie", "b=2");
  h.add("X-Empty", "");
  EXPECT_EQ(h.size(), 4u);
  EXPECT_EQ(flatten(h), (std::vector<std::string>{"Content-Type=text/plain", "Set-Cookie=a=1", "Set-Cookie=b=2",
                                                  "X-Empty="}));
  EXPECT_EQ(h.get("content-type"), "text/plain");
  EXPECT_EQ(h.get("SET-COOKIE"), "a=1");
  EXPECT_EQ(h.get("x-empty"), "");
  EXPECT_FALSE(h.get("Content-Length").has_value());
  EXPECT_FALSE(h.contains("Content"));  // whole names only
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.begin(), h.end());
}

TEST(Headers, SetReplacesEveryFieldOfTheNameAndKeepsTheOthers) {
  Headers h{{"A", "1"}, {"b", "2"}, {"a", "3"}, {"C", "4"}};
  h.set("a", "5");
  EXPECT_EQ(flatten(h), (std::vector<std::string>{"b=2", "C=4", "a=5"}));
  h.set("Z", "new");
  EXPECT_EQ(h.get("z"), "new");
}

TEST(Headers, AFieldMadeFromTheHeadersOwnBytesSurvivesItsGrowth) {
  Headers h;
  h.add("Origin", std::string(100, 'x'));
  for (int i = 0; i < 50; ++i) {  // every add may move the bytes that the views point at
    const auto [name, value] = *h.begin();
    h.add(value.substr(0, 10), name);
  }
  EXPECT_EQ(h.size(), 51u);
  EXPECT_EQ(h.get("xxxxxxxxxx"), "Origin");
  h.set("origin", *h.get("xxxxxxxxxx"));
  EXPECT_EQ(h.get("Origin"), "Origin");
}

TEST(Headers, EqualMeansTheSameFieldsInTheSameOrder) {
  Headers a{{"A", "1"}, {"B", "2"}}, b;
  b.add("A", "1");
  b.add("B", "2");
  EXPECT_EQ(a, b);
  Headers c = b;
  c.set("B", "2");  // removed and added again: same fields, different storage
  EXPECT_EQ(b, c);
  EXPECT_NE(a, (Headers{{"B", "2"}, {"A", "1"}}));
  EXPECT_NE(a, (Headers{{"a", "1"}, {"B", "2"}}));  // names compared exactly here
  EXPECT_NE(a, (Headers{{"A", "1"}}));
}

TEST(Headers, ParseReadsABlockOfLines) {
  const Headers h = Headers::parse(
      "Content-Type: text/html; charset=utf-8\r\n"
      "X-Spaces: \t  padded value \t\r\n"
      "X-Empty:\r\n"
      "not a field\r\n"
      "Location: http://127.0.0.1:8080/a:b\n"  // a bare LF, and colons in the value
      "Set-Cookie: a=1\r\n"
      "set-cookie: b=2");                        // no line end at all
  EXPECT_EQ(flatten(h), (std::vector<std::string>{"Content-Type=text/html; charset=utf-8", "X-Spaces=padded value",
                                                  "X-Empty=", "Location=http://127.0.0.1:8080/a:b", "Set-Cookie=a=1",
                                                  "set-cookie=b=2"}));
  EXPECT_EQ(h.get("x-spaces"), "padded value");
  EXPECT_EQ(h, (Headers{{"Content-Type", "text/html; charset=utf-8"}, {"X-Spaces", "padded value"}, {"X-Empty", ""},
                        {"Location", "http://127.0.0.1:8080/a:b"}, {"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}}));
  EXPECT_TRUE(Headers::parse("").empty());
  EXPECT_TRUE(Headers::parse("\r\n\n no colon \r\n").empty());
  Headers more = Headers::parse("A: 1\r\n");
  more.add("B", "2");  // adding to a parsed block goes on as usual
  more.set("a", "3");
  EXPECT_EQ(flatten(more), (std::vector<std::string>{"B=2", "a=3"}));
}

TEST(Headers, AddLineTakesTheLinesOfABlockOneAtATimeAsParseDoes) {
  const std::vector<std::string> lines{"Content-Type: text/html\r\n", "X-Spaces: \t  padded value \t\r\n",
                                       "X-Empty:\r\n",                 "not a field\r\n",
                                       "Location: http://h/a:b\n",      "\r\n",
                                       "Set-Cookie: a=1",                " Padded-Name : v\r\n"};
  std::string block;
  Headers one_by_one;
  for (const std::string& line : lines) {
    block += line;
    if (!line.ends_with('\n')) block += "\n";  // parse() needs the line end between lines
    one_by_one.add_line(line);
  }
  EXPECT_EQ(one_by_one, Headers::parse(block));
  EXPECT_EQ(flatten(one_by_one), (std::vector<std::string>{"Content-Type=text/html", "X-Spaces=padded value", "X-Empty=",
                                                           "Location=http://h/a:b", "Set-Cookie=a=1", "Padded-Name=v"}));
  one_by_one.add("A", "1");  // adding by name and value after lines goes on as usual
  one_by_one.add_line("B: 2\r\n");
  EXPECT_EQ(one_by_one.get("a"), "1");
  EXPECT_EQ(one_by_one.get("b"), "2");
  EXPECT_EQ(one_by_one.size(), 8u);
}

}  // namespace
