// Helpers shared by the tests.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <llmbench/core/request.hpp>
#include <llmbench/core/response.hpp>
#include <llmbench/core/stream_timer.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>
extern char** environ;
#endif

namespace test_util {

#if defined(__unix__) || defined(__APPLE__)
/// Starts `args` (args[0] a path) with stdout written to `out_path` and stderr to `err_path`
/// (the same path for both is allowed; "/dev/null" drops one); `append` keeps what the files
/// hold. Returns the child's pid, or -1 when it could not be started.
inline pid_t spawn_to_files(std::vector<std::string> args, const std::string& out_path, const std::string& err_path, bool append = false) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), flags, 0644);
    if (err_path == out_path) posix_spawn_file_actions_adddup2(&actions, 1, 2);
    else posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), flags, 0644);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return spawned == 0 ? pid : -1;
}
#endif

/// The lines of `text`, without their newlines (a last line without one counts too).
inline std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

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
    const bool raw_framing = name.size() > 5 && name.compare(name.size() - 5, 5, ".http") == 0;  // curl --raw
    if (raw_framing && c.headers.find("Transfer-Encoding: chunked") != std::string::npos) {  // framing kept: decode it
        std::string body;
        std::size_t at = 0;
        for (;;) {
            const auto line_end = c.body.find("\r\n", at);
            REQUIRE_MESSAGE(line_end != std::string::npos, name << ": chunk size line missing at byte " << at);
            const std::size_t size = std::stoul(c.body.substr(at, line_end - at), nullptr, 16);
            if (size == 0) break;
            body += c.body.substr(line_end + 2, size);
            at = line_end + 2 + size + 2;
        }
        c.body = body;
    }
    return c;
}

/// A scripted fault's outcome, for both clients' fault tables: the typed error naming
/// `message_part` with the tokens before it kept (`expected`), or a whole 8-token reply (nullopt).
inline void check_fault_outcome(const llmbench::StreamResult& r, const llmbench::StreamTimer& timer, std::optional<llmbench::errc> expected,
                                const char* message_part, bool tokens_before_failure = true) {
    if (expected) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.failure->code() == *expected);
        CHECK_MESSAGE(std::string(r.failure->what()).find(message_part) != std::string::npos, r.failure->what());
        if (tokens_before_failure) {
            CHECK(timer.content_chunks() >= 1);  // partial timings kept
            CHECK(timer.ttft_s().has_value());
        }
    } else {
        REQUIRE_MESSAGE(r.ok(), (r.failure ? r.failure->what() : ""));
        CHECK(r.server.eval_count == 8);
        CHECK(timer.content_chunks() == 8);
    }
}

/// What a stream's event callback saw: the text and reasoning it was handed, its events, and
/// whether the one done event came last.
struct SeenEvents {
    std::string text, thinking;
    std::size_t events = 0, done = 0;
    bool done_last = true;  ///< nothing came after the done event
    llmbench::EventCallback callback() {
        return [this](const llmbench::StreamEvent& e) {
            ++events;
            if (done > 0) done_last = false;
            text += e.text;
            thinking += e.thinking;
            if (e.done) ++done;
        };
    }
};

}  // namespace test_util
