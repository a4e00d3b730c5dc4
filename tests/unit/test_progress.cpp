// Progress on stderr: a redrawn bar on a terminal, periodic plain lines elsewhere, nothing when quiet.
#include <llmbench/report/progress.hpp>

#include <chrono>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace std::chrono_literals;

namespace {
struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    ProgressOptions options(bool terminal) {
        ProgressOptions o;
        o.terminal = terminal;
        o.plain_interval = 10s;
        o.clock = [this] { return now; };
        return o;
    }
};
std::size_t count(const std::string& s, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
    return n;
}
}  // namespace

TEST_CASE("on a terminal: one line redrawn in place, with bar, counts, ETA and the last rate - cleared at the end") {
    FakeClock clock;
    std::ostringstream out;
    {
        Progress p(out, 4, 2, clock.options(true));
        clock.now += 3s;
        p.run_done(42.5);
        CHECK(p.line() == "[#####---------------] cells 0/2  runs 1/4  ETA 9s  last 42.5 tok/s");  // 3 s per run, 3 runs left
        clock.now += 50ms;
        p.run_done(std::nullopt);  // within 100 ms of the last draw: not redrawn
        clock.now += 1s;
        p.run_done(40.0);
        p.cell_done();
    }
    const std::string s = out.str();
    CHECK(count(s, "\r") == 3);  // two draws (the rest came within 100 ms) and the clearing
    CHECK(s.find('\n') == std::string::npos);
    CHECK(s.substr(s.size() - 4) == "\r\x1b[K");
}

TEST_CASE("in a log: a plain line per interval and one at the end") {
    FakeClock clock;
    std::ostringstream out;
    Progress p(out, 10, 0, clock.options(false));
    for (int i = 0; i < 10; ++i) {
        clock.now += 3s;
        p.run_done(50.0 + i);
    }
    p.finish();
    p.finish();  // once only
    const std::string s = out.str();
    CHECK(count(s, "\n") == 3);  // at 12 s and 24 s, then the end
    CHECK(s.find("runs 4/10  ETA 18s  last 53.0 tok/s\n") != std::string::npos);
    const std::string last = "\nruns 10/10  last 59.0 tok/s\n";
    CHECK(s.substr(s.size() - last.size()) == last);
    CHECK(s.find('\r') == std::string::npos);
}

TEST_CASE("disabled progress prints nothing - durations read as people write them") {
    FakeClock clock;
    std::ostringstream out;
    auto options = clock.options(true);
    options.enabled = false;
    {
        Progress p(out, 3, 0, options);
        p.run_done(1.0);
    }
    CHECK(out.str().empty());
    CHECK(Progress::duration_text(44.6) == "45s");
    CHECK(Progress::duration_text(185) == "3m05s");
    CHECK(Progress::duration_text(7620) == "2h07m");
}
