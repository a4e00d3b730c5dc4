// llmbench/eval/sandbox.hpp - running model-written code without trusting it.
//
// Each program runs in its own python3 process (`python3 -I`, isolated mode), in a fresh
// temporary directory, with an empty environment, stdin from /dev/null, limits on CPU time,
// address space, file size and processes, in its own process group (killed whole on timeout),
// and, on Linux where the kernel allows it, in a new network namespace (no network at all).
// Run as root, the child also drops to an unused user id of its own, so it cannot write
// outside its directory and its process limit counts only its own processes; afterwards every
// process of that id is killed, including any that escaped the process group.
//
// On Linux with bubblewrap (`bwrap`, Debian package bubblewrap) the program also runs in
// private namespaces: the root file system read-only, fresh size-capped tmpfs mounts on /tmp,
// /var/tmp, /dev/shm and /run (a fresh user id may write every world-writable directory, and
// what it wrote there would outlive the run), its directory the only writable place, no
// network, its own PID namespace, killed with its parent. Where bwrap is missing or the kernel
// refuses it, the sandbox above runs alone; ExecResult::sandbox says which ("bubblewrap",
// "rlimits+uid" as root, else "rlimits").
//
// A program passes only when it runs to the end: a driver exec()s it, catches everything
// (SystemExit included), and on success writes a random nonce to a pipe. sys.exit(0),
// os._exit(0), a crash, a timeout: no nonce, not passed. This bounds accidents and ordinary
// hostile code; it is not a security boundary against a determined attacker (run untrusted
// evaluations in a container or VM, as HumanEval's authors advise).
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "llmbench/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace llmbench::eval {

struct SandboxLimits {
    double wall_s = 10;                          ///< then the whole process group is killed
    int cpu_s = 10;                              ///< RLIMIT_CPU
    std::uint64_t memory_bytes = 1ULL << 30;     ///< RLIMIT_AS
    std::uint64_t file_bytes = 16ULL << 20;      ///< RLIMIT_FSIZE: largest file it may write
    int processes = 32;                          ///< RLIMIT_NPROC (per user: exact only when run as root)
    std::uint64_t tmpfs_bytes = 16ULL << 20;     ///< bubblewrap: the size of each private tmpfs
    std::string python;                          ///< empty: /usr/bin/python3, else python3 on PATH
    bool bubblewrap = true;                      ///< use bwrap where it exists and works
};

enum class ExecStatus { passed, failed, timeout };

inline const char* to_string(ExecStatus s) {
    switch (s) {
        case ExecStatus::passed: return "passed";
        case ExecStatus::failed: return "failed";
        case ExecStatus::timeout: return "timeout";
    }
    return "failed";
}

struct ExecResult {
    ExecStatus status = ExecStatus::failed;
    int exit_code = -1;        ///< -1 when killed by a signal
    int signal = 0;
    std::string output;        ///< the last 2 KiB of stdout and stderr
    double wall_s = 0;
    bool network_isolated = false;
    bool user_isolated = false;
    std::string sandbox;       ///< "bubblewrap", "rlimits+uid" (as root) or "rlimits"
    /// bubblewrap: the host pid of the first process of the program's PID namespace. The
    /// kernel kills every process in a namespace when that one ends, so its being gone means
    /// nothing of the run is left.
    std::optional<int> namespace_pid;
};

namespace detail {

inline std::string find_python(const std::string& configured) {
    if (!configured.empty()) return configured;
    for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"})
        if (::access(p, X_OK) == 0) return p;
    if (const char* path = std::getenv("PATH")) {
        std::string dirs = path;
        for (std::size_t start = 0; start <= dirs.size();) {
            auto colon = dirs.find(':', start);
            if (colon == std::string::npos) colon = dirs.size();
            const std::string candidate = dirs.substr(start, colon - start) + "/python3";
            if (::access(candidate.c_str(), X_OK) == 0) return candidate;
            start = colon + 1;
        }
    }
    throw error(errc::io, "no python3 found (set SandboxLimits::python): code cannot be run");
}

/// Runs the program, then reports the nonce only if nothing was raised (SystemExit included).
inline const char* sandbox_driver() {
    return R"(import os, sys
def _llmbench_run():
    nonce = os.read(3, 64)
    os.close(3)
    with open("program.py") as f:
        source = f.read()
    try:
        exec(compile(source, "program.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except BaseException as e:
        sys.stderr.write("llmbench sandbox: %s: %s\n" % (type(e).__name__, e))
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os.write(4, nonce)
    os._exit(0)
_llmbench_run()
)";
}

/// bwrap, when installed (checked once).
inline const std::string& bubblewrap_path() {
    static const std::string path = [] {
        for (const char* p : {"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"})
            if (::access(p, X_OK) == 0) return std::string(p);
        return std::string();
    }();
    return path;
}

/// `bwrap`'s options before a run's own: the root read-only, fresh tmpfs mounts of
/// `tmpfs_bytes` each on the world-writable places, every namespace unshared, killed with its
/// parent.
inline std::vector<std::string> bubblewrap_args(const std::string& bwrap, std::size_t tmpfs_bytes) {
    const std::string size = std::to_string(tmpfs_bytes);
    std::vector<std::string> args = {bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"};
    for (const char* mount : {"/tmp", "/var/tmp", "/dev/shm", "/run"}) args.insert(args.end(), {"--size", size, "--tmpfs", mount});
    args.insert(args.end(), {"--unshare-all", "--die-with-parent"});
    return args;
}

/// Whether `bwrap` can set up its namespaces here (a container or a kernel setting may forbid
/// them): `python -c pass` run with a run's mounts, its output discarded.
inline bool bubblewrap_probe(const std::string& bwrap, const std::string& python) {
    std::vector<std::string> args = bubblewrap_args(bwrap, std::size_t{1} << 20);
    args.insert(args.end(), {"--", python, "-I", "-c", "pass"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {  // only system calls after fork: the eval runs workers
        const int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) {
            ::dup2(null, 1);
            ::dup2(null, 2);
        }
        char* envp[] = {nullptr};
        ::execve(argv[0], argv.data(), envp);
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// The installed bwrap's probe, tried once (with the first run's python).
inline bool bubblewrap_works(const std::string& python) {
    static const bool works = !bubblewrap_path().empty() && bubblewrap_probe(bubblewrap_path(), python);
    return works;
}

/// Kills every process of `uid` (run as root only): a child that takes the id signals all it may.
inline void kill_all_of_user(uid_t uid) {
    const pid_t reaper = ::fork();
    if (reaper == 0) {
        if (::setgid(uid) == 0 && ::setuid(uid) == 0) ::kill(-1, SIGKILL);
        ::_exit(0);
    }
    if (reaper > 0) ::waitpid(reaper, nullptr, 0);
}

}  // namespace detail

/// Runs `program` (Python source) under the limits. Never throws for anything the program
/// does; throws llmbench::error only when the sandbox itself cannot be set up.
inline ExecResult run_python_sandboxed(const std::string& program, const SandboxLimits& limits = {}) {
#if defined(__unix__) || defined(__APPLE__)
    namespace fs = std::filesystem;
    ExecResult result;
    const std::string python = detail::find_python(limits.python);
    std::random_device seed;
    std::mt19937_64 rng((static_cast<std::uint64_t>(seed()) << 32) ^ seed() ^ static_cast<std::uint64_t>(::getpid()));
    const std::string nonce = std::to_string(rng()) + std::to_string(rng());

    std::string dir_template = (fs::temp_directory_path() / "llmbench-sandbox-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) throw error(errc::io, "sandbox: cannot create a temporary directory");
    const std::string dir = dir_template;
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code ignored;
            fs::remove_all(dir, ignored);
        }
    } cleanup{dir};
    std::ofstream(dir + "/program.py", std::ios::binary) << program;
    std::ofstream(dir + "/driver.py", std::ios::binary) << detail::sandbox_driver();

    const bool root = ::geteuid() == 0;
#if defined(__linux__)
    const bool use_bubblewrap = limits.bubblewrap && detail::bubblewrap_works(python);
#else
    const bool use_bubblewrap = false;
#endif
    // A user id nobody has, new for every run (the high range, by our pid and a counter), so
    // a run's process limit is not used up by the remains of the one before.
    static std::atomic<unsigned> runs{0};
    const auto sandbox_uid =
        static_cast<uid_t>(2000000000u + static_cast<unsigned>(::getpid()) % 100000u * 1000u + runs++ % 1000u);
    if (root) {
        if (::chown(dir.c_str(), sandbox_uid, sandbox_uid) != 0 || ::chmod(dir.c_str(), 0700) != 0)
            throw error(errc::io, "sandbox: cannot hand the temporary directory to the sandbox user");
        for (const char* f : {"/program.py", "/driver.py"}) (void)::chown((dir + f).c_str(), sandbox_uid, sandbox_uid);
    }

    int nonce_pipe[2], result_pipe[2], status_pipe[2], info_pipe[2];
    if (::pipe(nonce_pipe) != 0 || ::pipe(result_pipe) != 0 || ::pipe(status_pipe) != 0 || ::pipe(info_pipe) != 0)
        throw error(errc::io, "sandbox: cannot create pipes");
    // Out of the way of the descriptors the child sets up (0-5), before anything else opens.
    for (int* fd : {&nonce_pipe[0], &nonce_pipe[1], &result_pipe[0], &result_pipe[1], &status_pipe[0], &status_pipe[1], &info_pipe[0],
                    &info_pipe[1]}) {
        const int high = ::fcntl(*fd, F_DUPFD, 10);
        ::close(*fd);
        *fd = high;
    }
    ::fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);

    // Everything the child needs is made before fork: after it only system calls are safe.
    const std::string output_path = dir + "/output.txt";
    std::vector<std::string> args;
    const bool bwrap = use_bubblewrap;
    if (bwrap) {
        args = detail::bubblewrap_args(detail::bubblewrap_path(), limits.tmpfs_bytes);
        args.insert(args.end(), {"--bind", dir, dir, "--chdir", dir, "--info-fd", "5", "--"});
    }
    args.insert(args.end(), {python, "-I", "driver.py"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    const rlim_t cpu = static_cast<rlim_t>(limits.cpu_s), memory = static_cast<rlim_t>(limits.memory_bytes),
                 fsize = static_cast<rlim_t>(limits.file_bytes), nproc = static_cast<rlim_t>(limits.processes);

    const auto started = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) throw error(errc::io, "sandbox: fork failed");
    if (pid == 0) {
        ::setsid();  // its own session and process group: killed as one
        char flags = bwrap ? 1 : 0;  // bwrap unshares the network or does not start
#if defined(__linux__)
        if (!bwrap && root && ::unshare(CLONE_NEWNET) == 0) flags |= 1;
        if (!bwrap && !root && ::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) flags |= 1;
#endif
        const auto limit = [](int resource, rlim_t value) {
            const rlimit r{value, value};
            ::setrlimit(resource, &r);
        };
        const rlimit cpu_limit{cpu, cpu + 1};  // SIGXCPU at the soft limit: reported as a timeout
        ::setrlimit(RLIMIT_CPU, &cpu_limit);
        limit(RLIMIT_AS, memory);
        limit(RLIMIT_FSIZE, fsize);
        limit(RLIMIT_NPROC, nproc);
        limit(RLIMIT_CORE, 0);
        if (root) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(sandbox_uid) != 0 || ::setuid(sandbox_uid) != 0) ::_exit(125);
            flags |= 2;
        }
        if (::chdir(dir.c_str()) != 0) ::_exit(125);
        const int devnull = ::open("/dev/null", O_RDONLY);
        const int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (devnull < 0 || out < 0) ::_exit(125);
        ::dup2(devnull, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::dup2(nonce_pipe[0], 3);
        ::dup2(result_pipe[1], 4);
        if (bwrap) ::dup2(info_pipe[1], 5);  // bwrap --info-fd: the namespace's pid
        (void)::write(status_pipe[1], &flags, 1);
        const int keep = status_pipe[1];
        for (int fd = bwrap ? 6 : 5; fd < 1024; ++fd)  // nothing of ours beyond these reaches the program
            if (fd != keep) ::close(fd);
        ::execve(argv[0], argv.data(), envp);
        ::_exit(126);
    }
    ::close(nonce_pipe[0]);
    ::close(result_pipe[1]);
    ::close(status_pipe[1]);
    ::close(info_pipe[1]);
    (void)::write(nonce_pipe[1], nonce.data(), nonce.size());
    ::close(nonce_pipe[1]);
    char flags = 0;
    if (::read(status_pipe[0], &flags, 1) == 1) {
        result.network_isolated = (flags & 1) != 0;
        result.user_isolated = (flags & 2) != 0;
    }
    ::close(status_pipe[0]);

    int status = 0;
    bool timed_out = false;
    const auto deadline = started + std::chrono::duration<double>(limits.wall_s);
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            timed_out = true;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(-pid, SIGKILL);  // whatever it forked and left behind in its group
    if (root) detail::kill_all_of_user(sandbox_uid);  // and anything that left the group
    result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    ::fcntl(result_pipe[0], F_SETFL, O_NONBLOCK);
    std::string reported(128, '\0');
    const auto got = ::read(result_pipe[0], reported.data(), reported.size());
    ::close(result_pipe[0]);
    reported.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    ::fcntl(info_pipe[0], F_SETFL, O_NONBLOCK);
    std::string info(512, '\0');
    const auto info_got = ::read(info_pipe[0], info.data(), info.size());
    ::close(info_pipe[0]);
    info.resize(info_got > 0 ? static_cast<std::size_t>(info_got) : 0);
    if (const auto at = info.find("\"child-pid\":"); bwrap && at != std::string::npos) {
        const int ns_pid = std::atoi(info.c_str() + at + 12);
        if (ns_pid > 0) result.namespace_pid = ns_pid;
    }

    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    {
        std::ifstream in(output_path, std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        result.output = all.size() > 2048 ? all.substr(all.size() - 2048) : all;
    }
    result.sandbox = bwrap ? "bubblewrap" : result.user_isolated ? "rlimits+uid" : "rlimits";
    if (result.exit_code == 125 || result.exit_code == 126) result.output += "\nllmbench sandbox: could not start " + args.front();
    // bwrap passes its program's death by a signal on as exit code 128 + the signal
    if (timed_out || result.signal == SIGXCPU || (bwrap && result.exit_code == 128 + SIGXCPU)) result.status = ExecStatus::timeout;
    else if (reported == nonce && result.exit_code == 0) result.status = ExecStatus::passed;
    else result.status = ExecStatus::failed;
    return result;
#else
    (void)program;
    (void)limits;
    throw error(errc::usage, "running generated code is supported on Linux and macOS only");
#endif
}

}  // namespace llmbench::eval
