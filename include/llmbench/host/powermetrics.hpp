// llmbench/host/powermetrics.hpp - Apple Silicon's energy, from powermetrics(1).
//
// macOS keeps no energy counter a user may read; `powermetrics --samplers cpu_power,gpu_power
// -i N -f plist` prints, every N ms, one plist document (separated by a NUL byte) with the
// average power of the SoC's CPU clusters, GPU and Neural Engine over that interval, in
// milliwatts (processor.cpu_power, gpu_power, ane_power). Summing watts x interval turns the
// samples into counters like RAPL's, read by energy_between() the same way. They cover the
// SoC only: not DRAM, the display, the SSD or the fans, so not the whole machine. Between two
// samples the counter runs on at the last sample's watts, so a run's energy is good to about
// one interval's worth at each end. powermetrics needs root; without it the reading says so.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "llmbench/core/error.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/host/energy_counter.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

namespace llmbench {

/// One powermetrics sample: the average power of each part over `elapsed_s`.
struct PowermetricsSample {
    double elapsed_s = 0;
    std::optional<double> cpu_w, gpu_w, ane_w;  ///< processor.cpu_power / gpu_power / ane_power
    std::string thermal_pressure;              ///< "Nominal", "Moderate", "Heavy", ... ("" when absent)
};

namespace detail {

/// An XML property list flattened to its leaves: "processor.cpu_power" -> "2978.45", array
/// items as "processor.clusters[0].name". Throws error(protocol) naming the byte where the
/// text stops being a plist. Only what powermetrics prints is needed: dict, array, key,
/// string, date, data, real, integer, true/false; no entities in the values read.
class PlistFlattener {
public:
    static std::map<std::string, std::string> flatten(std::string_view xml) {
        PlistFlattener p(xml);
        p.skip_prolog();
        p.expect_open("plist");
        p.value("", 0);
        p.expect_close("plist");
        return std::move(p.leaves_);
    }

private:
    explicit PlistFlattener(std::string_view xml) : xml_(xml) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw error(errc::protocol, "powermetrics plist: " + what + " at byte " + std::to_string(at_));
    }

    void skip_space() {
        while (at_ < xml_.size() && (xml_[at_] == ' ' || xml_[at_] == '\t' || xml_[at_] == '\r' || xml_[at_] == '\n' || xml_[at_] == '\0')) ++at_;
    }

    void skip_prolog() {  // <?xml ...?>, <!DOCTYPE ...>, comments
        for (;;) {
            skip_space();
            if (xml_.compare(at_, 2, "<?") != 0 && xml_.compare(at_, 2, "<!") != 0) return;
            const auto end = xml_.find('>', at_);
            if (end == std::string_view::npos) fail("unterminated declaration");
            at_ = end + 1;
        }
    }

    /// The next tag's name and whether it is a closing tag or ends in "/>"; `at_` after it.
    struct Tag {
        std::string_view name;
        bool closing = false, empty = false;
    };
    Tag tag() {
        for (;;) {
            skip_space();
            if (xml_.compare(at_, 4, "<!--") != 0) break;
            const auto end = xml_.find("-->", at_);
            if (end == std::string_view::npos) fail("unterminated comment");
            at_ = end + 3;
        }
        if (at_ >= xml_.size() || xml_[at_] != '<') fail("expected a tag");
        const auto end = xml_.find('>', at_);
        if (end == std::string_view::npos) fail("unterminated tag");
        std::string_view inside = xml_.substr(at_ + 1, end - at_ - 1);
        Tag t;
        if (!inside.empty() && inside.front() == '/') {
            t.closing = true;
            inside.remove_prefix(1);
        }
        if (!inside.empty() && inside.back() == '/') {
            t.empty = true;
            inside.remove_suffix(1);
        }
        t.name = inside.substr(0, inside.find_first_of(" \t\r\n"));
        if (t.name.empty()) fail("a tag with no name");
        at_ = end + 1;
        return t;
    }

    void expect_open(std::string_view name) {
        const Tag t = tag();
        if (t.closing || t.empty || t.name != name) fail("expected <" + std::string(name) + ">");
    }
    void expect_close(std::string_view name) {
        const Tag t = tag();
        if (!t.closing || t.name != name) fail("expected </" + std::string(name) + ">");
    }

    /// The text up to </name>.
    std::string_view text_until_close(std::string_view name) {
        const auto end = xml_.find('<', at_);
        if (end == std::string_view::npos) fail("unterminated <" + std::string(name) + ">");
        const auto text = xml_.substr(at_, end - at_);
        at_ = end;
        expect_close(name);
        return text;
    }

    void value(const std::string& path, int depth) { value_from(tag(), path, depth); }

    void value_from(const Tag& t, const std::string& path, int depth) {
        if (t.closing) fail("unexpected </" + std::string(t.name) + ">");
        if (depth > 32) fail("nesting deeper than 32");
        if (t.name == "dict") {
            if (t.empty) return;
            for (;;) {
                const Tag k = tag();
                if (k.closing && k.name == "dict") return;
                if (k.closing || k.empty || k.name != "key") fail("expected <key> in a dict");
                const std::string key(text_until_close("key"));
                value(path.empty() ? key : path + "." + key, depth + 1);
            }
        }
        if (t.name == "array") {
            if (t.empty) return;
            for (std::size_t i = 0;; ++i) {
                const Tag item = tag();
                if (item.closing && item.name == "array") return;
                value_from(item, path + "[" + std::to_string(i) + "]", depth + 1);
            }
        }
        if (t.name == "true" || t.name == "false") {
            if (!t.empty) expect_close(t.name);
            leaves_[path] = std::string(t.name);
            return;
        }
        if (t.name == "string" || t.name == "date" || t.name == "data" || t.name == "real" || t.name == "integer") {
            leaves_[path] = t.empty ? std::string() : std::string(text_until_close(t.name));
            return;
        }
        fail("unknown element <" + std::string(t.name) + ">");
    }

    std::string_view xml_;
    std::size_t at_ = 0;
    std::map<std::string, std::string> leaves_;
};

inline std::optional<double> plist_number(const std::map<std::string, std::string>& leaves, const std::string& path) {
    const auto it = leaves.find(path);
    if (it == leaves.end() || it->second.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0') throw error(errc::protocol, "powermetrics plist: " + path + " is not a number: '" + it->second + "'");
    return v;
}

}  // namespace detail

/// One sample (one plist document) of `powermetrics --samplers cpu_power,gpu_power -f plist`.
/// Throws error(protocol) for text that is not such a sample, naming what is wrong.
inline PowermetricsSample parse_powermetrics_sample(std::string_view plist) {
    const auto leaves = detail::PlistFlattener::flatten(plist);
    PowermetricsSample s;
    const auto elapsed_ns = detail::plist_number(leaves, "elapsed_ns");
    if (!elapsed_ns || !(*elapsed_ns > 0) || *elapsed_ns > 1e15) throw error(errc::protocol, "powermetrics plist: no positive elapsed_ns");
    s.elapsed_s = *elapsed_ns / 1e9;
    const auto watts = [&](const std::string& path) -> std::optional<double> {
        const auto mw = detail::plist_number(leaves, path);
        if (!mw) return std::nullopt;
        if (!(*mw >= 0) || *mw > 1e9) throw error(errc::protocol, "powermetrics plist: " + path + " is out of range: " + std::to_string(*mw));
        return *mw / 1e3;
    };
    s.cpu_w = watts("processor.cpu_power");
    s.gpu_w = watts("processor.gpu_power");
    if (!s.gpu_w) s.gpu_w = watts("gpu.gpu_power");  // older releases print it with the gpu sampler only
    s.ane_w = watts("processor.ane_power");
    if (!s.cpu_w && !s.gpu_w && !s.ane_w)
        throw error(errc::protocol, "powermetrics plist: no processor.cpu_power, gpu_power or ane_power (run it with --samplers cpu_power,gpu_power)");
    if (const auto it = leaves.find("thermal_pressure"); it != leaves.end()) s.thermal_pressure = it->second;
    return s;
}

/// powermetrics' samples turned into cumulative counters "powermetrics:cpu", ":gpu", ":ane".
/// The first sample starts them at zero; each later one adds its watts x elapsed. A reading
/// between samples runs on at the last sample's watts, for one interval at most (by then the
/// next sample is due), and never goes below an earlier reading: a counter may run ahead of the
/// samples by up to one interval's energy, and is held there until they catch up.
class PowermetricsIntegrator {
public:
    using clock = std::chrono::steady_clock;

    void add(const PowermetricsSample& s, clock::time_point arrived) {
        const std::array<std::optional<double>, 3> w{s.cpu_w, s.gpu_w, s.ane_w};
        for (std::size_t i = 0; i < parts; ++i) {
            if (samples_ > 0 && w[i]) joules_[i] += *w[i] * s.elapsed_s;
            if (w[i]) seen_[i] = true;
            watts_[i] = w[i].value_or(0);
        }
        last_at_ = arrived;
        last_elapsed_s_ = s.elapsed_s;
        thermal_pressure_ = s.thermal_pressure;
        ++samples_;
    }

    /// The counters at `now`: none before the first sample.
    EnergyReading read(clock::time_point now) {
        EnergyReading r;
        if (samples_ == 0) return r;
        const double since = std::clamp(std::chrono::duration<double>(now - last_at_).count(), 0.0, last_elapsed_s_);
        static constexpr std::array<const char*, parts> names{"cpu", "gpu", "ane"};
        static constexpr std::array<const char*, parts> covers{"cpu_cores", "gpu", "ane"};
        for (std::size_t i = 0; i < parts; ++i) {
            if (!seen_[i]) continue;
            reported_[i] = std::max(reported_[i], joules_[i] + watts_[i] * since);
            EnergyCounter c;
            c.id = std::string("powermetrics:") + names[i];
            c.source = "powermetrics";
            c.name = names[i];
            c.covers = covers[i];
            c.joules = reported_[i];
            c.in_total = true;  // the three are disjoint parts of the SoC
            r.counters.push_back(std::move(c));
        }
        return r;
    }

    std::size_t samples() const { return samples_; }
    const std::string& thermal_pressure() const { return thermal_pressure_; }

private:
    static constexpr std::size_t parts = 3;  // cpu, gpu, ane
    std::array<double, parts> joules_{}, watts_{}, reported_{};
    std::array<bool, parts> seen_{};
    clock::time_point last_at_{};
    double last_elapsed_s_ = 0;
    std::size_t samples_ = 0;
    std::string thermal_pressure_;
};

#if defined(__unix__) || defined(__APPLE__)

/// powermetrics running as a child process, its samples read by a thread as they come.
/// The first read() waits (up to `first_sample_wait` past one interval) for the first sample;
/// when powermetrics cannot start or stops, readings have no counters and a note saying why.
class PowermetricsProcess {
public:
    PowermetricsProcess(std::string program, std::chrono::milliseconds interval,
                        std::chrono::milliseconds first_sample_wait = std::chrono::milliseconds(3000))
        : program_(std::move(program)), interval_(interval), first_sample_wait_(first_sample_wait) {
        start();
    }
    PowermetricsProcess(const PowermetricsProcess&) = delete;
    PowermetricsProcess& operator=(const PowermetricsProcess&) = delete;

    ~PowermetricsProcess() {
        bool running = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
            running = pid_ > 0 && !reaped_;
        }
        if (running) ::kill(pid_, SIGTERM);
        if (pump_.joinable()) pump_.join();
        if (pid_ > 0 && !reaped_) reap(std::chrono::seconds(2));
        for (const int fd : {out_fd_, err_fd_})
            if (fd >= 0) ::close(fd);
    }

    EnergyReading read() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!waited_) cv_.wait_for(lock, interval_ + first_sample_wait_, [&] { return integrator_.samples() > 0 || ended_; });
        waited_ = true;  // once: a powermetrics that never answers costs the first reading only
        EnergyReading r;
        if (ended_) {
            r.notes.push_back(ended_note_locked());
            return r;
        }
        r = integrator_.read(PowermetricsIntegrator::clock::now());
        if (r.counters.empty()) r.notes.push_back(program_ + " sent no sample within " + std::to_string((interval_ + first_sample_wait_).count()) + " ms");
        if (!parse_note_.empty()) r.notes.push_back(parse_note_);
        return r;
    }

    /// How many samples have come so far.
    std::size_t samples() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return integrator_.samples();
    }

private:
    void start() {
        int out[2] = {-1, -1}, err[2] = {-1, -1};
        if (::pipe(out) != 0 || ::pipe(err) != 0) {
            for (const int fd : {out[0], out[1], err[0], err[1]})
                if (fd >= 0) ::close(fd);
            ended_ = true;
            stderr_ = "could not make a pipe";
            return;
        }
        for (const int fd : {out[0], err[0]}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        const std::string interval = std::to_string(interval_.count());
        std::vector<std::string> args{program_, "--samplers", "cpu_power,gpu_power", "-i", interval, "-f", "plist", "-b", "1"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        ::posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
        ::posix_spawn_file_actions_addclose(&actions, out[0]);
        ::posix_spawn_file_actions_addclose(&actions, err[0]);
        const int rc = ::posix_spawnp(&pid_, program_.c_str(), &actions, nullptr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        out_fd_ = out[0];
        err_fd_ = err[0];
        if (rc != 0) {
            pid_ = -1;
            ended_ = true;
            stderr_ = "could not start it: " + std::string(std::strerror(rc));
            return;
        }
        pump_ = std::thread([this] { pump(); });
    }

    /// Reads stdout (the samples) and stderr (kept for the note) until powermetrics ends.
    void pump() {
        std::string buffer;
        char chunk[4096];
        bool out_open = true, err_open = true;
        while (out_open) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (stopping_) return;
            }
            pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_open ? err_fd_ : -1, POLLIN, 0}};
            if (::poll(fds, 2, 100) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if (fds[1].revents != 0) {
                const auto n = ::read(err_fd_, chunk, sizeof chunk);
                if (n <= 0) err_open = false;
                else {
                    std::lock_guard<std::mutex> lock(mutex_);
                    if (stderr_.size() < 4096) stderr_.append(chunk, static_cast<std::size_t>(n));
                }
            }
            if (fds[0].revents == 0) continue;
            const auto n = ::read(out_fd_, chunk, sizeof chunk);
            if (n <= 0) {
                out_open = false;
                break;
            }
            buffer.append(chunk, static_cast<std::size_t>(n));
            for (auto end = buffer.find("</plist>"); end != std::string::npos; end = buffer.find("</plist>")) {
                const auto doc_end = end + 8;
                take(std::string_view(buffer).substr(0, doc_end));
                buffer.erase(0, doc_end);
            }
            if (buffer.size() > (1u << 20)) buffer.clear();  // no end tag in a megabyte: not powermetrics' output
        }
        // stdout closed: powermetrics exited (or refused to start). Keep what it said.
        int status = 0;
        const bool reaped = reap(std::chrono::milliseconds(500), &status);
        std::string said_last;
        while (err_open && said_last.size() < 4096) {
            const auto n = ::read(err_fd_, chunk, sizeof chunk);
            if (n <= 0) break;
            said_last.append(chunk, static_cast<std::size_t>(n));
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (stderr_.size() < 4096) stderr_ += said_last;
        if (reaped) exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        reaped_ = true;  // by this thread, or it was gone: the destructor must not signal a reused pid
        ended_ = true;
        cv_.notify_all();
    }

    void take(std::string_view doc) {
        const auto arrived = PowermetricsIntegrator::clock::now();
        std::lock_guard<std::mutex> lock(mutex_);
        try {
            integrator_.add(parse_powermetrics_sample(doc), arrived);
        } catch (const error& e) {
            if (parse_note_.empty()) parse_note_ = std::string(e.what()) + " (that sample left out)";
        }
        cv_.notify_all();
    }

    /// Waits for the child for up to `patience`, then kills it. True when it was reaped here.
    bool reap(std::chrono::milliseconds patience, int* status_out = nullptr) {
        int status = 0;
        const auto until = std::chrono::steady_clock::now() + patience;
        for (;;) {
            const pid_t got = ::waitpid(pid_, &status, WNOHANG);
            if (got == pid_) break;
            if (got < 0 && errno != EINTR) return false;  // already reaped
            if (std::chrono::steady_clock::now() >= until) {
                ::kill(pid_, SIGKILL);
                if (::waitpid(pid_, &status, 0) != pid_) return false;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (status_out != nullptr) *status_out = status;
        return true;
    }

    std::string ended_note_locked() const {
        std::string said(detail::trim(stderr_, " \r\n\t"));
        if (const auto nl = said.find('\n'); nl != std::string::npos) said.resize(nl);
        std::string note = program_ + (integrator_.samples() > 0 ? " stopped" : " gave no sample");
        if (exit_status_) note += " (exit status " + std::to_string(*exit_status_) + ")";
        if (!said.empty()) note += ": " + said;
        if (integrator_.samples() == 0 && exit_status_) note += "; it needs root: run the benchmark with sudo to read the SoC's power on Apple Silicon";
        return note;
    }

    std::string program_;
    std::chrono::milliseconds interval_, first_sample_wait_;
    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    std::thread pump_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    PowermetricsIntegrator integrator_;
    bool stopping_ = false, ended_ = false, waited_ = false, reaped_ = false;
    std::string stderr_, parse_note_;
    std::optional<int> exit_status_;
};

/// The energy query of powermetrics: started at its first reading (a copy of the query shares
/// the one process, which stops with the last copy).
inline EnergyQuery powermetrics_energy_query(std::string program, std::chrono::milliseconds interval = std::chrono::milliseconds(100)) {
    struct Shared {
        std::once_flag once;
        std::unique_ptr<PowermetricsProcess> process;
    };
    auto shared = std::make_shared<Shared>();
    return [shared, program = std::move(program), interval]() {
        std::call_once(shared->once, [&] { shared->process = std::make_unique<PowermetricsProcess>(program, interval); });
        return shared->process->read();
    };
}

#endif

/// Which powermetrics to run: LLMBENCH_POWERMETRICS when set (a path; "off" runs none; tests
/// point it at a stand-in), else /usr/bin/powermetrics on macOS, else none ("").
inline std::string powermetrics_program() {
    if (const char* p = std::getenv("LLMBENCH_POWERMETRICS"); p != nullptr && *p != '\0') return std::string(p) == "off" ? std::string() : p;
#if defined(__APPLE__)
    return "/usr/bin/powermetrics";
#else
    return {};
#endif
}

/// powermetrics as the machine's energy query where there is one to run: the system's only as
/// root (it refuses anyone else), any program LLMBENCH_POWERMETRICS names always.
inline EnergyQuery default_powermetrics_query() {
#if defined(__unix__) || defined(__APPLE__)
    const std::string program = powermetrics_program();
    if (program.empty()) return nullptr;
    if (std::getenv("LLMBENCH_POWERMETRICS") == nullptr && ::geteuid() != 0)
        return [] {
            EnergyReading r;
            r.notes.push_back("powermetrics needs root: run the benchmark with sudo to read the SoC's power (CPU, GPU, ANE) on Apple Silicon");
            return r;
        };
    return powermetrics_energy_query(program);
#else
    return nullptr;
#endif
}

}  // namespace llmbench
