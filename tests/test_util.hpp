// Helpers shared by the tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace test_util {

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// A captured response from ../shared/fixtures/real-servers.
struct Capture {
    int status = 0;
    std::string headers;
    std::string body;
};

inline Capture read_capture(const std::string& name) {
    Capture c;
    const std::string raw = read_text(std::string(LLMBENCH_FIXTURES_DIR) + "/" + name);
    if (raw.rfind("HTTP/1.1 ", 0) != 0) {  // body-only capture
        c.status = 200;
        c.body = raw;
        return c;
    }
    c.status = std::stoi(raw.substr(9, 3));
    const auto end = raw.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    c.headers = raw.substr(0, end);
    c.body = raw.substr(end + 4);
    return c;
}

}  // namespace test_util
