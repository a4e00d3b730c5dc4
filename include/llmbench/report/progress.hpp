// llmbench/report/progress.hpp - how far a benchmark has got, on stderr.
//
// On a terminal: one line redrawn in place (a bar, cells and runs done, ETA, the last run's
// tok/s), at most ten times a second. Anywhere else (a CI log, a file): a plain line every
// `plain_interval` and one at the end, so logs stay readable. Disabled, it prints nothing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace llmbench {

/// True when standard error is a terminal.
inline bool stderr_is_terminal() {
#if defined(__unix__) || defined(__APPLE__)
    return ::isatty(2) == 1;
#else
    return false;
#endif
}

struct ProgressOptions {
    bool enabled = true;
    bool terminal = stderr_is_terminal();
    std::chrono::milliseconds plain_interval{10000};
    std::function<std::chrono::steady_clock::time_point()> clock = [] { return std::chrono::steady_clock::now(); };
};

class Progress {
public:
    /// `total_cells` 0: not a matrix (no cell count is shown).
    Progress(std::ostream& out, std::size_t total_runs, std::size_t total_cells = 0, ProgressOptions options = {})
        : out_(out), total_runs_(total_runs), total_cells_(total_cells), options_(std::move(options)), start_(options_.clock()),
          last_draw_(start_) {}
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    ~Progress() { finish(); }

    /// A timed run ended (successful or not); `toks_per_s` is its generation rate, if any.
    void run_done(std::optional<double> toks_per_s) {
        ++runs_done_;
        if (toks_per_s) last_rate_ = toks_per_s;
        draw();
    }
    void cell_done() {
        ++cells_done_;
        draw();
    }
    /// Ends the display: the terminal line is cleared; a plain log gets its last line.
    void finish() {
        if (finished_ || !options_.enabled) return;
        finished_ = true;
        if (options_.terminal) out_ << "\r\x1b[K" << std::flush;
        else if (runs_done_ > plain_runs_) out_ << line() << '\n' << std::flush;
    }

    /// "[#####-----] cells 2/8  runs 14/40  ETA 1m12s  last 45.2 tok/s"
    std::string line() const {
        std::string s;
        const double fraction = total_runs_ ? static_cast<double>(runs_done_) / static_cast<double>(total_runs_) : 0;
        if (options_.terminal) {
            const auto filled = static_cast<std::size_t>(fraction * 20 + 0.5);
            s += "[" + std::string(std::min<std::size_t>(filled, 20), '#') + std::string(20 - std::min<std::size_t>(filled, 20), '-') + "] ";
        }
        if (total_cells_) s += "cells " + std::to_string(cells_done_) + "/" + std::to_string(total_cells_) + "  ";
        s += "runs " + std::to_string(runs_done_) + "/" + std::to_string(total_runs_);
        if (runs_done_ > 0 && runs_done_ < total_runs_) {
            const double elapsed = std::chrono::duration<double>(options_.clock() - start_).count();
            s += "  ETA " + duration_text(elapsed / static_cast<double>(runs_done_) * static_cast<double>(total_runs_ - runs_done_));
        }
        if (last_rate_) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "  last %.1f tok/s", *last_rate_);
            s += buf;
        }
        return s;
    }

    /// "45s", "3m05s", "2h07m".
    static std::string duration_text(double seconds) {
        const auto s = static_cast<long long>(seconds + 0.5);
        char buf[32];
        if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
        else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
        else std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
        return buf;
    }

private:
    void draw() {
        if (!options_.enabled || finished_) return;
        const auto now = options_.clock();
        if (options_.terminal) {
            if (now - last_draw_ < std::chrono::milliseconds(100) && runs_done_ < total_runs_) return;
            out_ << '\r' << line() << "\x1b[K" << std::flush;
        } else {
            if (now - last_draw_ < options_.plain_interval) return;
            out_ << line() << '\n' << std::flush;
            plain_runs_ = runs_done_;
        }
        last_draw_ = now;
    }

    std::ostream& out_;
    std::size_t total_runs_, total_cells_;
    ProgressOptions options_;
    std::chrono::steady_clock::time_point start_, last_draw_;
    std::size_t runs_done_ = 0, cells_done_ = 0, plain_runs_ = 0;
    std::optional<double> last_rate_;
    bool finished_ = false;
};

}  // namespace llmbench
