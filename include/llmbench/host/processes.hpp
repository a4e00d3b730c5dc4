// llmbench/host/processes.hpp - the processes of this machine: who is running, their memory, and
// the server's environment (Linux /proc, macOS libproc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <dirent.h>
#endif
#if defined(__APPLE__)
#include <libproc.h>
#include <sys/param.h>
#include <sys/resource.h>
#endif

#include "llmbench/detail/text.hpp"
#include "llmbench/host/run_metadata.hpp"

namespace llmbench {

/// One process as a ProcessSource lists it.
struct ProcessEntry {
    int pid = 0;
    int ppid = 0;
    std::string name;
};

/// Where the server's processes and their memory come from: the platform's process table.
/// One implementation per platform (ProcReader for Linux /proc, DarwinProcessSource for
/// macOS); the tree walk is shared, so a fake table tests it anywhere.
class ProcessSource {
public:
    virtual ~ProcessSource() = default;

    /// Every process the caller may see.
    virtual std::vector<ProcessEntry> list() const = 0;
    /// Memory the process holds now, in bytes (Linux VmRSS; macOS physical footprint, which
    /// on Apple Silicon includes the GPU's share of unified memory).
    virtual std::optional<std::int64_t> rss_bytes(int pid) const = 0;
    /// The kernel's own lifetime peak of the same quantity, where the platform keeps one.
    virtual std::optional<std::int64_t> peak_rss_bytes(int pid) const = 0;
    /// What the reading is called in notes ("/proc", "libproc").
    virtual std::string name() const = 0;
    /// The process's environment as the kernel keeps it ("K=V\0K=V\0..."); empty where it
    /// cannot be read (another user's process, macOS).
    virtual std::string environment_block(int) const { return {}; }

    /// Processes named `name` (Linux comm, macOS process name).
    std::vector<int> find_by_name(const std::string& process_name) const {
        std::vector<int> out;
        for (const auto& p : list())
            if (p.name == process_name) out.push_back(p.pid);
        std::sort(out.begin(), out.end());
        return out;
    }

    /// `roots` and every process descended from them, roots first.
    std::vector<int> with_descendants(const std::vector<int>& roots) const {
        std::multimap<int, int> children;
        for (const auto& p : list())
            if (p.pid != p.ppid) children.emplace(p.ppid, p.pid);
        std::vector<int> out = roots;
        for (std::size_t i = 0; i < out.size(); ++i) {  // breadth first; `out` grows as it goes
            const auto [first, last] = children.equal_range(out[i]);
            for (auto it = first; it != last; ++it)
                if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
        }
        return out;
    }
};

/// Reads process memory from a /proc tree (a folder of the same shape in tests).
class ProcReader : public ProcessSource {
public:
    explicit ProcReader(std::string root = "/proc") : root_(std::move(root)) {}

    std::vector<ProcessEntry> list() const override {
        std::vector<ProcessEntry> out;
        for (int pid : pids())
            if (auto pp = ppid(pid)) out.push_back({pid, *pp, comm(pid)});
        return out;
    }
    std::optional<std::int64_t> rss_bytes(int pid) const override { return status_kb(pid, "VmRSS"); }
    std::optional<std::int64_t> peak_rss_bytes(int pid) const override { return status_kb(pid, "VmHWM"); }
    std::string name() const override { return root_; }
    std::string environment_block(int pid) const override { return read(pid, "environ"); }

private:
    std::vector<int> pids() const {
        std::vector<int> out;
#if defined(__unix__) || defined(__APPLE__)
        if (DIR* dir = ::opendir(root_.c_str())) {
            while (const dirent* e = ::readdir(dir)) {
                char* end = nullptr;
                const long pid = std::strtol(e->d_name, &end, 10);
                if (end != e->d_name && *end == '\0' && pid > 0) out.push_back(static_cast<int>(pid));
            }
            ::closedir(dir);
        }
#endif
        std::sort(out.begin(), out.end());
        return out;
    }
    std::string read(int pid, const char* file) const {
        return detail::read_file(root_ + "/" + std::to_string(pid) + "/" + file);
    }
    std::string comm(int pid) const {
        std::string c = read(pid, "comm");
        while (!c.empty() && (c.back() == '\n' || c.back() == ' ')) c.pop_back();
        return c;
    }
    std::optional<int> ppid(int pid) const {
        const std::string stat = read(pid, "stat");  // "pid (comm) state ppid ..."; comm may hold spaces
        const auto close = stat.rfind(')');
        if (close == std::string::npos) return std::nullopt;
        std::istringstream rest(stat.substr(close + 1));
        std::string state;
        int pp = 0;
        if (!(rest >> state >> pp)) return std::nullopt;
        return pp;
    }
    std::optional<std::int64_t> status_kb(int pid, const char* key) const {
        const std::string v = detail::field_value(read(pid, "status"), key, ':');
        if (v.empty()) return std::nullopt;
        return std::strtoll(v.c_str(), nullptr, 10) * 1024;
    }

    std::string root_;
};

#if defined(__APPLE__)
/// macOS: libproc. Memory is the physical footprint (what Activity Monitor shows as
/// "Memory"), which counts Metal buffers in unified memory; processes of other users are
/// invisible without root, as with `top`.
class DarwinProcessSource : public ProcessSource {
public:
    std::vector<ProcessEntry> list() const override {
        std::vector<int> pids(static_cast<std::size_t>(std::max(::proc_listallpids(nullptr, 0), 0)) + 64);
        const int n = ::proc_listallpids(pids.data(), static_cast<int>(pids.size() * sizeof(int)));
        std::vector<ProcessEntry> out;
        for (int i = 0; i < n && static_cast<std::size_t>(i) < pids.size(); ++i) {
            proc_bsdshortinfo info{};
            if (pids[static_cast<std::size_t>(i)] <= 0 ||
                ::proc_pidinfo(pids[static_cast<std::size_t>(i)], PROC_PIDT_SHORTBSDINFO, 0, &info, sizeof info) != sizeof info)
                continue;
            char buf[2 * MAXCOMLEN + 1] = {};
            const bool named = ::proc_name(pids[static_cast<std::size_t>(i)], buf, sizeof buf) > 0;
            out.push_back({pids[static_cast<std::size_t>(i)], static_cast<int>(info.pbsi_ppid), named ? buf : info.pbsi_comm});
        }
        return out;
    }
    std::optional<std::int64_t> rss_bytes(int pid) const override {
        rusage_info_v4 ri{};
        if (!usage(pid, ri)) return std::nullopt;
        return static_cast<std::int64_t>(ri.ri_phys_footprint);
    }
    std::optional<std::int64_t> peak_rss_bytes(int pid) const override {
        rusage_info_v4 ri{};
        if (!usage(pid, ri)) return std::nullopt;
        return static_cast<std::int64_t>(ri.ri_lifetime_max_phys_footprint);
    }
    std::string name() const override { return "libproc"; }

private:
    static bool usage(int pid, rusage_info_v4& ri) {
        return ::proc_pid_rusage(pid, RUSAGE_INFO_V4, reinterpret_cast<rusage_info_t*>(&ri)) == 0;
    }
};
#endif

/// The platform's process table, or null where llmbench has no reader for it.
inline std::shared_ptr<const ProcessSource> default_process_source() {
#if defined(__linux__)
    return std::make_shared<ProcReader>("/proc");
#elif defined(__APPLE__)
    return std::make_shared<DarwinProcessSource>();
#else
    return nullptr;
#endif
}

namespace detail {
/// Whether an environment variable may hold a credential: it is never copied.
inline bool secret_name(std::string_view name) {
    for (const char* word : {"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "COOKIE"})
        if (name.find(word) != std::string_view::npos) return true;
    return false;
}
}  // namespace detail

/// The variables of an environment block that shape a server's speed: OLLAMA_*, llama.cpp's
/// LLAMA_ARG_*, and the GPU selection (CUDA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES, ...). Names
/// that look like credentials are left out, and so are their values.
inline std::map<std::string, std::string> server_environment(std::string_view block) {
    std::map<std::string, std::string> out;
    while (!block.empty()) {
        const std::size_t end = block.find('\0');
        const std::string_view entry = block.substr(0, end);
        block.remove_prefix(end == std::string_view::npos ? block.size() : end + 1);
        const std::size_t eq = entry.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        const std::string_view name = entry.substr(0, eq);
        const bool wanted = name.rfind("OLLAMA_", 0) == 0 || name.rfind("LLAMA_ARG_", 0) == 0 ||
                            (name.size() > 16 && name.compare(name.size() - 16, 16, "_VISIBLE_DEVICES") == 0);
        if (wanted && !detail::secret_name(name)) out[std::string(name)] = std::string(entry.substr(eq + 1));
    }
    return out;
}

/// Records the server's environment in `m.server`: process `pid`, else the oldest process
/// named `name`. OLLAMA_NUM_PARALLEL, when set, is the server's parallelism. What cannot be
/// read is said in the notes. Call it only for a server on this machine.
inline void record_server_environment(RunMetadata& m, const ProcessSource& processes, std::optional<int> pid, const std::string& name) {
    if (!pid) {
        const auto found = processes.find_by_name(name);
        if (found.empty()) {
            m.notes.push_back("server environment unknown: no process named '" + name + "' (give --server-pid)");
            return;
        }
        pid = found.front();
    }
    const std::string block = processes.environment_block(*pid);
    if (block.empty()) {
        m.notes.push_back("server environment unknown: cannot read the environment of pid " + std::to_string(*pid) + " through " +
                          processes.name() + " (another user's process?)");
        return;
    }
    m.server.environment = server_environment(block);
    const auto parallel = m.server.environment.find("OLLAMA_NUM_PARALLEL");
    if (parallel != m.server.environment.end()) {
        char* end = nullptr;
        const long long n = std::strtoll(parallel->second.c_str(), &end, 10);
        if (end != parallel->second.c_str() && *end == '\0' && n > 0) m.server.parallel = n;
    }
}

}  // namespace llmbench
