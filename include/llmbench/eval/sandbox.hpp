// llmbench/eval/sandbox.hpp - running model-written code without trusting it.
//
// A code test runs as two python3 processes (`python3 -I`, isolated mode) that share nothing but
// two pipes: the candidate runs the model's program; the judge runs the dataset's tests and
// calls the candidate's functions through the pipes. Values come back as tagged literals the
// judge parses with ast.literal_eval and rebuilds as plain builtins; anything else (an object,
// a class) stays in the candidate and is only ever called, passed back or compared by identity.
// The verdict is the judge's alone, on a pipe only it holds: what the completion does to its
// own process (os._exit, SystemExit, frame or gc inspection, a redefined `check` or builtin,
// an object whose __eq__ is always true, writes to every descriptor) cannot make it pass.
//
// Each process gets an empty environment, stdin from /dev/null, limits on CPU time, address
// space, file size and processes, its own process group (killed whole on timeout), and its
// output through a pipe the parent opened before the fork: nothing in a run's directory is
// ever opened by the parent afterwards, so a symlink there cannot leak a file into the record.
//
// SandboxMode::strict (the default): both run under bubblewrap (`bwrap`, Debian package
// bubblewrap), each in its own namespaces: the root read-only, fresh size-capped tmpfs mounts on
// /tmp, /var/tmp, /dev/shm and /run, no network, its own PID namespace, killed with its parent;
// the candidate's directory the only writable place. Where bwrap is missing or cannot set up
// its namespaces, strict refuses to run anything (sandbox_unavailable() says why).
//
// SandboxMode::weak, only when asked for: no bubblewrap. Run as root, each process gets a user id
// of its own, and, where the kernel allows, new mount, network, IPC and PID namespaces with
// private size-capped tmpfs mounts on /tmp, /var/tmp, /dev/shm, /run and its directory (so the
// disk it can fill is capped and nothing it writes outlives it); where it does not, the files
// its id left in those places are removed afterwards. Without root, only a network namespace
// (through a user namespace, where allowed). Every process is killed with the harness
// (PR_SET_PDEATHSIG, and the PID namespace where there is one). ExecResult::sandbox says which
// ran: "bubblewrap", "weak+namespaces", "weak+uid" or "weak".
//
// Following HumanEval's authors, run untrusted evaluations in a container or VM as well.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "llmbench/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#endif

namespace llmbench::eval {

/// strict: bubblewrap or nothing; weak: the rlimits/uid/namespace sandbox, explicitly accepted.
enum class SandboxMode { strict, weak };

inline const char* to_string(SandboxMode m) { return m == SandboxMode::strict ? "strict" : "weak"; }

struct SandboxLimits {
    double wall_s = 10;                          ///< then every process of the run is killed
    int cpu_s = 10;                              ///< RLIMIT_CPU, per process
    std::uint64_t memory_bytes = 1ULL << 30;     ///< RLIMIT_AS
    std::uint64_t file_bytes = 16ULL << 20;      ///< RLIMIT_FSIZE: largest file it may write
    int processes = 32;                          ///< RLIMIT_NPROC (per user: exact only when run as root)
    std::uint64_t tmpfs_bytes = 16ULL << 20;     ///< each private tmpfs, the candidate's directory's included where it is one
    std::string python;                          ///< empty: /usr/bin/python3, else python3 on PATH
    std::string bubblewrap;                      ///< strict: the bwrap to use; empty: the installed one
    SandboxMode mode = SandboxMode::strict;
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
    int exit_code = -1;        ///< the candidate's; -1 when killed by a signal
    int signal = 0;
    std::string output;        ///< the last 2 KiB of both processes' stdout and stderr
    double wall_s = 0;
    bool network_isolated = false;
    bool user_isolated = false;
    std::string sandbox;       ///< "bubblewrap", "weak+namespaces", "weak+uid" or "weak"
    /// bubblewrap: the host pid of the first process of the candidate's PID namespace. The
    /// kernel kills every process in a namespace when that one ends, so its being gone means
    /// nothing of the run is left.
    std::optional<int> namespace_pid;
};

/// One code test. The candidate runs `program`; the judge runs `setup` (trusted dataset code the
/// tests call, such as HumanEval's prompt), then `test`, then `check(<check_entry>)` when one is
/// named. A name the test does not define is the candidate's, but a builtin stays the real one
/// unless it is in `task_names` (the functions the task asks for: MBPP's `sum`).
struct CodeTest {
    std::string program;
    std::string setup;
    std::string test;
    std::string check_entry;
    std::vector<std::string> task_names;
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

/// The judge: fd 3 its inputs (setup, test, check entry, task names; NUL-separated), 4 requests
/// to the candidate, 5 its replies, 6 the verdict.
inline const char* judge_script() {
    return R"py(import ast, builtins, os, sys
def _llmbench_judge():
    try:  # no other process of this user may read our memory or descriptors
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    except Exception:
        pass
    chunks = []
    while True:
        b = os.read(3, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(3)
    setup, test, entry, own = b"".join(chunks).decode("utf-8").split("\0")
    own = set(own.split(","))
    to_cand = os.fdopen(4, "wb", buffering=0)
    from_cand = os.fdopen(5, "rb")
    verdict = 6

    class CandidateError(Exception):
        pass

    class Ref:
        __slots__ = ("_id",)
        def __init__(self, i):
            object.__setattr__(self, "_id", i)
        def __call__(self, *args, **kwargs):
            return ask(("call", self._id, enc(list(args)), enc(kwargs)))
        def __getattr__(self, name):
            return ask(("getattr", self._id, name))
        def __setattr__(self, name, value):
            ask(("setattr", self._id, name, enc(value)))
        def __eq__(self, other):
            return self is other
        def __ne__(self, other):
            return self is not other
        def __hash__(self):
            return id(self)
        def __repr__(self):
            return "<candidate object %d>" % self._id

    def enc(v):
        t = type(v)
        if v is None or t in (bool, int, str, bytes):
            return ("v", v)
        if t is float:
            return ("f", v.hex())
        if t is complex:
            return ("c", v.real.hex(), v.imag.hex())
        if t is list:
            return ("L", [enc(x) for x in v])
        if t is tuple:
            return ("T", [enc(x) for x in v])
        if t is set:
            return ("S", [enc(x) for x in v])
        if t is frozenset:
            return ("F", [enc(x) for x in v])
        if t is dict:
            return ("D", [(enc(k), enc(x)) for k, x in v.items()])
        if t is Ref:
            return ("R", v._id)
        raise CandidateError("cannot pass a %s to the candidate" % t.__name__)

    refs = {}
    def dec(e):
        tag = e[0]
        if tag == "v" and len(e) == 2 and (e[1] is None or type(e[1]) in (bool, int, str, bytes)):
            return e[1]
        if tag == "f" and len(e) == 2 and type(e[1]) is str:
            return float.fromhex(e[1])
        if tag == "c" and len(e) == 3:
            return complex(float.fromhex(e[1]), float.fromhex(e[2]))
        if tag == "L" and len(e) == 2 and type(e[1]) is list:
            return [dec(x) for x in e[1]]
        if tag == "T" and len(e) == 2 and type(e[1]) is list:
            return tuple(dec(x) for x in e[1])
        if tag == "S" and len(e) == 2 and type(e[1]) is list:
            return set(dec(x) for x in e[1])
        if tag == "F" and len(e) == 2 and type(e[1]) is list:
            return frozenset(dec(x) for x in e[1])
        if tag == "D" and len(e) == 2 and type(e[1]) is list:
            return {dec(k): dec(x) for k, x in e[1]}
        if tag == "R" and len(e) == 2 and type(e[1]) is int:
            return refs.setdefault(e[1], Ref(e[1]))
        raise CandidateError("malformed reply from the candidate")

    def ask(request):
        to_cand.write(repr(request).encode() + b"\n")
        line = from_cand.readline(1 << 26)
        if not line.endswith(b"\n"):
            raise CandidateError("the candidate's process ended or sent no reply")
        reply = ast.literal_eval(line.decode("utf-8"))
        if type(reply) is not tuple or not reply:
            raise CandidateError("malformed reply from the candidate")
        if reply[0] == "ok" and len(reply) == 2:
            return dec(reply[1])
        if reply[0] == "raise" and len(reply) == 3:
            kind = getattr(builtins, str(reply[1]), None)
            if isinstance(kind, type) and issubclass(kind, Exception):
                raise kind(str(reply[2]))
            raise CandidateError("%s: %s" % (reply[1], reply[2]))
        if reply[0] == "missing":
            raise NameError("name %r is not defined" % request[1])
        if reply[0] == "module" and len(reply) == 2 and reply[1] in sys.stdlib_module_names:
            import importlib
            return importlib.import_module(reply[1])
        raise CandidateError("malformed reply from the candidate")

    class Names(dict):
        # A name the test does not define: the real builtin, unless it is one the task asks the
        # candidate to write (MBPP's `sum`); else the candidate's.
        def __missing__(self, name):
            if name in builtins.__dict__ and name not in own:
                return builtins.__dict__[name]
            try:
                value = ask(("get", name))
            except NameError:
                if name not in builtins.__dict__:
                    raise
                value = builtins.__dict__[name]
            self[name] = value
            return value

    names = Names((k, v) for k, v in builtins.__dict__.items() if k.startswith("__"))  # import reads these directly
    ask(("ready",))
    scope = {"__builtins__": names}
    if setup:
        exec(compile(setup, "setup.py", "exec"), scope)
    if entry:
        scope.pop(entry, None)  # the prompt's stub: the candidate's function is called instead
    exec(compile(test, "test.py", "exec"), scope)
    if entry:
        scope["check"](names[entry])
    os.write(verdict, b"passed\n")
try:
    _llmbench_judge()
except BaseException as e:
    import traceback
    traceback.print_exc(limit=-3)
    sys.stderr.write("llmbench judge: test failed: %s: %s\n" % (type(e).__name__, e))
    sys.stderr.flush()
    os._exit(1)
os._exit(0)
)py";
}

/// The candidate: fd 3 its program, 4 the judge's requests, 5 its replies.
inline const char* candidate_script() {
    return R"py(import ast, os, sys, types
def _llmbench_candidate():
    chunks = []
    while True:
        b = os.read(3, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(3)
    requests = os.fdopen(4, "rb")
    replies = os.fdopen(5, "wb", buffering=0)
    def reply(r):
        replies.write(repr(r).encode() + b"\n")
    refs = {}
    def enc(v, depth=0):
        # Builtin values and their subclasses (Counter, namedtuple) go as plain literals; anything
        # else stays here and goes as a reference the judge can only call or pass back.
        if depth > 100:
            raise ValueError("a value nested more than 100 deep")
        if v is None or type(v) is bool:
            return ("v", v)
        if isinstance(v, bool):
            return ("v", bool(v))
        if isinstance(v, int):
            return ("v", int.__index__(v))
        if isinstance(v, str):
            return ("v", str.__str__(v))
        if isinstance(v, bytes):
            return ("v", bytes(v))
        if isinstance(v, float):
            return ("f", float.hex(v))
        if isinstance(v, complex):
            return ("c", float.hex(v.real), float.hex(v.imag))
        for kind, tag in ((list, "L"), (tuple, "T"), (set, "S"), (frozenset, "F")):
            if isinstance(v, kind):
                return (tag, [enc(x, depth + 1) for x in v])
        if isinstance(v, dict):
            return ("D", [(enc(k, depth + 1), enc(x, depth + 1)) for k, x in dict.items(v)])
        refs[len(refs) + 1] = v
        return ("R", len(refs))
    def dec(e):
        tag, rest = e[0], e[1:]
        if tag == "v": return rest[0]
        if tag == "f": return float.fromhex(rest[0])
        if tag == "c": return complex(float.fromhex(rest[0]), float.fromhex(rest[1]))
        if tag == "L": return [dec(x) for x in rest[0]]
        if tag == "T": return tuple(dec(x) for x in rest[0])
        if tag == "S": return set(dec(x) for x in rest[0])
        if tag == "F": return frozenset(dec(x) for x in rest[0])
        if tag == "D": return {dec(k): dec(x) for k, x in rest[0]}
        if tag == "R": return refs[rest[0]]
        raise ValueError(tag)
    scope = {}
    loaded = None
    try:
        exec(compile(b"".join(chunks).decode("utf-8"), "program.py", "exec"), scope)
    except BaseException as e:
        sys.stderr.write("llmbench sandbox: %s: %s\n" % (type(e).__name__, e))
        loaded = e
    sys.stdout.flush()
    sys.stderr.flush()
    for line in requests:
        request = ast.literal_eval(line.decode("utf-8"))
        if loaded is not None:
            reply(("raise", type(loaded).__name__, "the program did not load: %s" % (loaded,)))
            continue
        try:
            if request[0] == "ready":
                reply(("ok", ("v", None)))
            elif request[0] == "get":
                if request[1] not in scope:
                    reply(("missing",))
                elif isinstance(scope[request[1]], types.ModuleType):
                    reply(("module", scope[request[1]].__name__))
                else:
                    reply(("ok", enc(scope[request[1]])))
            elif request[0] == "call":
                result = refs[request[1]](*dec(request[2]), **dec(request[3]))
                reply(("ok", enc(result)))
            elif request[0] == "setattr":
                setattr(refs[request[1]], request[2], dec(request[3]))
                reply(("ok", ("v", None)))
            elif request[0] == "getattr":
                reply(("ok", enc(getattr(refs[request[1]], request[2]))))
        except BaseException as e:
            reply(("raise", type(e).__name__, str(e)[:2000]))
        sys.stdout.flush()
        sys.stderr.flush()
_llmbench_candidate()
os._exit(0)
)py";
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

/// Why `bwrap` cannot set up a run's namespaces here (a container or a kernel setting may
/// forbid them), or "" when it can: `python -c pass` run with a run's mounts; the reason is
/// the first line bwrap wrote.
inline std::string bubblewrap_probe(const std::string& bwrap, const std::string& python) {
    std::vector<std::string> args = bubblewrap_args(bwrap, std::size_t{1} << 20);
    args.insert(args.end(), {"--", python, "-I", "-c", "pass"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int err[2];
    if (::pipe(err) != 0) return "cannot create a pipe to try " + bwrap;
    ::fcntl(err[0], F_SETFD, FD_CLOEXEC);
    const pid_t pid = ::fork();
    if (pid < 0) return "cannot fork to try " + bwrap;
    if (pid == 0) {  // only system calls after fork: the eval runs workers
        const int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) ::dup2(null, 1);
        ::dup2(err[1], 2);
        char* envp[] = {nullptr};
        ::execve(argv[0], argv.data(), envp);
        ::_exit(127);
    }
    ::close(err[1]);
    std::string said;
    char buf[512];
    for (ssize_t n; said.size() < 4096 && ((n = ::read(err[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR));)
        if (n > 0) said.append(buf, static_cast<std::size_t>(n));
    ::close(err[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
    said = said.substr(0, said.find('\n'));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && said.empty()) said = "cannot execute it";
    return bwrap + " cannot set up its namespaces here: " + (said.empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : said);
}

/// Why `bwrap` cannot run here, "" when it can (the installed one tried once, with the first
/// run's python; another every time).
inline std::string bubblewrap_failure(const std::string& bwrap, const std::string& python) {
    if (bwrap.empty() || ::access(bwrap.c_str(), X_OK) != 0)
        return (bwrap.empty() ? std::string("bubblewrap (bwrap)") : bwrap) + " is not installed (Debian/Ubuntu: apt install bubblewrap)";
    if (bwrap != bubblewrap_path()) return bubblewrap_probe(bwrap, python);
    static const std::string installed = bubblewrap_probe(bwrap, python);
    return installed;
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

/// Removes what `uids` left at the top of the world-writable places (root, no mount namespace).
inline void remove_files_of(const std::vector<uid_t>& uids) {
    namespace fs = std::filesystem;
    for (const char* place : {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"}) {
        std::error_code ec;
        for (fs::directory_iterator it(place, ec), end; !ec && it != end; it.increment(ec)) {
            struct stat st {};
            if (::lstat(it->path().c_str(), &st) != 0) continue;
            for (uid_t uid : uids)
                if (st.st_uid == uid) fs::remove_all(it->path(), ec);  // a symlink is removed, never followed
        }
    }
}

/// Moves `fd` to 10 or above, close-on-exec: out of the way of the numbers a child sets up, and
/// never inherited by another thread's child.
inline int high_fd(int fd) {
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    ::close(fd);
    if (high < 0) throw error(errc::io, "sandbox: out of file descriptors");
    return high;
}

/// An unlinked file holding `content`, read from the start by the process it is given to (no
/// pipe: a child that dies before reading cannot block or SIGPIPE the harness).
inline int anonymous_file(const std::string& dir, const std::string& content) {
    std::string path = dir + "/input-XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) throw error(errc::io, "sandbox: cannot create a file in " + dir);
    ::unlink(path.c_str());
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (std::size_t done = 0; done < content.size();) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            throw error(errc::io, "sandbox: cannot write a program's input in " + dir);
        }
        done += static_cast<std::size_t>(n);
    }
    ::lseek(fd, 0, SEEK_SET);
    return high_fd(fd);
}

/// A process of a run, everything it needs prepared before fork (after it, only system calls).
struct SandboxChild {
    std::vector<std::string> args;          ///< bwrap ... python -I -c SCRIPT, or python -I -c SCRIPT
    std::vector<std::pair<int, int>> fds;   ///< (the parent's descriptor, its number in the child)
    std::string dir;                        ///< working directory
    std::string private_dir;                ///< weak, as root, in a mount namespace: its directory, made in the private /tmp
    bool bwrap = false;
    bool root = false;
    uid_t uid = 0;                          ///< root: the user id it runs as
    std::string tmpfs_options;              ///< weak, as root: each private tmpfs
};

/// Status flags a child reports before exec.
constexpr char network_isolated_flag = 1, user_isolated_flag = 2, namespaces_flag = 4;

/// In a child: waits for `pid`, then ends as it ended (a signal as 128 + signal, as bwrap
/// reports it). Holds no descriptor, so the run's pipes close when the program's do.
[[noreturn]] inline void relay_exit(pid_t pid) {
    for (int fd = 0; fd < 1024; ++fd) ::close(fd);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

/// Forks and starts `c`. `out` becomes its stdout and stderr; `status` (if not -1) gets its flags.
inline pid_t start_sandboxed(const SandboxChild& c, const SandboxLimits& limits, int out, int status) {
    std::vector<std::string> args = c.args;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    const rlim_t cpu = static_cast<rlim_t>(limits.cpu_s), memory = static_cast<rlim_t>(limits.memory_bytes),
                 fsize = static_cast<rlim_t>(limits.file_bytes), nproc = static_cast<rlim_t>(limits.processes);
    const pid_t parent = ::getpid();
    const char* work = c.dir.c_str();
    const pid_t pid = ::fork();
    if (pid < 0) throw error(errc::io, "sandbox: fork failed");
    if (pid > 0) return pid;

    ::setsid();  // its own session and process group: killed as one
    char flags = c.bwrap ? network_isolated_flag : 0;  // bwrap unshares the network or does not start
#if defined(__linux__)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the harness, even if it is killed
    if (::getppid() != parent) ::_exit(125);
    if (!c.bwrap && c.root && ::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID) == 0) {
        flags |= network_isolated_flag | namespaces_flag;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(125);
        for (const char* place : {"/tmp", "/var/tmp", "/dev/shm", "/run"})
            if (::access(place, F_OK) == 0 && ::mount("tmpfs", place, "tmpfs", MS_NOSUID | MS_NODEV, c.tmpfs_options.c_str()) != 0)
                ::_exit(125);
        // Its directory, in the new /tmp (capped with it); the judge's is "/", read-only to it.
        if (!c.private_dir.empty()) {
            if (::mkdir(c.private_dir.c_str(), 0700) != 0 || ::chown(c.private_dir.c_str(), c.uid, c.uid) != 0) ::_exit(125);
            work = c.private_dir.c_str();
        }
        // The first process of a PID namespace is the one after unshare: it waits, so that
        // when it is killed (with the harness) the kernel kills everything in the namespace.
        if (const pid_t init = ::fork(); init != 0) {
            if (init < 0) ::_exit(125);
            relay_exit(init);
        }
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (const pid_t program = ::fork(); program != 0) {
            if (program < 0) ::_exit(125);
            relay_exit(program);
        }
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    } else if (!c.bwrap && c.root && ::unshare(CLONE_NEWNET) == 0) {
        flags |= network_isolated_flag;
    } else if (!c.bwrap && !c.root && ::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
        flags |= network_isolated_flag;
    }
#else
    (void)parent;
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
    if (c.root) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(c.uid) != 0 || ::setuid(c.uid) != 0) ::_exit(125);
        flags |= user_isolated_flag;
    }
    if (::chdir(work) != 0) ::_exit(125);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0) ::_exit(125);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    int last = 2;
    for (const auto& [from, to] : c.fds) {
        ::dup2(from, to);
        last = to > last ? to : last;
    }
    (void)::write(status, &flags, 1);
    for (int fd = last + 1; fd < 1024; ++fd)  // nothing of ours beyond these reaches the program
        if (fd != status) ::close(fd);        // (close-on-exec)
    ::execve(argv[0], argv.data(), envp);
    ::_exit(126);
}

/// Reads what is there now, without waiting; false at end of file.
inline bool read_available(int fd, std::string& into) {
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            into.append(buf, static_cast<std::size_t>(n));
            if (into.size() > (64u << 10)) into.erase(0, into.size() - 2048);  // only the tail is kept
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0;  // EAGAIN: more may come; 0: every writer is gone
    }
}

inline bool ended_by_cpu_limit(int status) {
    return (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGXCPU);
}

}  // namespace detail

/// Why SandboxMode::strict cannot run code here ("" when it can, and always for weak): bwrap
/// missing or its namespaces refused. Programs ask before any code runs.
inline std::string sandbox_unavailable(const SandboxLimits& limits = {}) {
#if defined(__linux__)
    if (limits.mode == SandboxMode::weak) return "";
    return detail::bubblewrap_failure(limits.bubblewrap.empty() ? detail::bubblewrap_path() : limits.bubblewrap, detail::find_python(limits.python));
#elif defined(__unix__) || defined(__APPLE__)
    return limits.mode == SandboxMode::weak ? "" : "bubblewrap exists on Linux only";
#else
    (void)limits;
    return "running generated code is supported on Linux and macOS only";
#endif
}

/// Runs one code test (see CodeTest). Never throws for anything the program does; throws
/// llmbench::error when the sandbox cannot be set up, strict mode without bubblewrap included.
inline ExecResult run_code_test(const CodeTest& code, const SandboxLimits& limits = {}) {
#if defined(__unix__) || defined(__APPLE__)
    namespace fs = std::filesystem;
    if (const std::string why = sandbox_unavailable(limits); !why.empty())
        throw error(errc::usage, "sandbox: " + why + "; nothing was run (accept a weaker sandbox explicitly with --sandbox=weak)");
    const std::string python = detail::find_python(limits.python);
    const bool bwrap = limits.mode == SandboxMode::strict;
    const bool root = ::geteuid() == 0;
    ExecResult result;

    std::string dir_template = (fs::temp_directory_path() / "llmbench-sandbox-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) throw error(errc::io, "sandbox: cannot create a temporary directory");
    const std::string dir = dir_template;
    // Two user ids nobody has (judge, candidate), new for every run (the high range, by our pid
    // and a counter), so a run's process limit is not used up by the remains of the one before.
    static std::atomic<unsigned> runs{0};
    const auto judge_uid = static_cast<uid_t>(2000000000u + static_cast<unsigned>(::getpid()) % 100000u * 1000u + runs++ % 500u * 2u);
    const uid_t candidate_uid = judge_uid + 1;
    struct Cleanup {
        std::string dir;
        std::vector<int> fds;
        ~Cleanup() {
            for (int fd : fds)
                if (fd >= 0) ::close(fd);
            std::error_code ignored;
            fs::remove_all(dir, ignored);  // symlinks in it are removed, never followed
        }
    } cleanup{dir, {}};
    if (root && (::chown(dir.c_str(), candidate_uid, candidate_uid) != 0 || ::chmod(dir.c_str(), 0700) != 0))
        throw error(errc::io, "sandbox: cannot hand the temporary directory to the sandbox user");

    std::string judge_input = code.setup + '\0' + code.test + '\0' + code.check_entry + '\0';
    for (std::size_t i = 0; i < code.task_names.size(); ++i) judge_input += (i ? "," : "") + code.task_names[i];
    int judge_in = detail::anonymous_file(dir, judge_input);
    cleanup.fds.push_back(judge_in);
    int program_in = detail::anonymous_file(dir, code.program);
    cleanup.fds.push_back(program_in);
    int p[6][2];  // requests, replies, verdict, output, candidate status, bwrap info
    for (auto& pair : p) {
        if (::pipe(pair) != 0) throw error(errc::io, "sandbox: cannot create pipes");
        for (int& fd : pair) {
            fd = detail::high_fd(fd);
            cleanup.fds.push_back(fd);
        }
    }
    auto& [requests, replies, verdict, output, candidate_status, info] = p;
    const auto close_now = [&](int& fd) {
        ::close(fd);
        for (int& kept : cleanup.fds)
            if (kept == fd) kept = -1;
        fd = -1;
    };

    const std::string tmpfs_options = "size=" + std::to_string(limits.tmpfs_bytes) + ",mode=1777";
    detail::SandboxChild judge, candidate;
    judge.dir = "/";
    candidate.dir = dir;
    candidate.private_dir = "/tmp/" + fs::path(dir).filename().string();
    for (auto* c : {&judge, &candidate}) {
        c->bwrap = bwrap;
        c->root = root;
        c->tmpfs_options = tmpfs_options;
        if (bwrap) c->args = detail::bubblewrap_args(limits.bubblewrap.empty() ? detail::bubblewrap_path() : limits.bubblewrap, limits.tmpfs_bytes);
    }
    judge.uid = judge_uid;
    candidate.uid = candidate_uid;
    if (bwrap) {
        judge.args.insert(judge.args.end(), {"--chdir", "/", "--"});
        candidate.args.insert(candidate.args.end(), {"--bind", dir, dir, "--chdir", dir, "--info-fd", "6", "--"});
    }
    judge.args.insert(judge.args.end(), {python, "-I", "-c", detail::judge_script()});
    candidate.args.insert(candidate.args.end(), {python, "-I", "-c", detail::candidate_script()});
    judge.fds = {{judge_in, 3}, {requests[1], 4}, {replies[0], 5}, {verdict[1], 6}};
    candidate.fds = {{program_in, 3}, {requests[0], 4}, {replies[1], 5}};
    if (bwrap) candidate.fds.push_back({info[1], 6});  // bwrap --info-fd: the namespace's pid

    const auto started = std::chrono::steady_clock::now();
    const pid_t judge_pid = detail::start_sandboxed(judge, limits, output[1], -1);
    pid_t candidate_pid = -1;
    try {
        candidate_pid = detail::start_sandboxed(candidate, limits, output[1], candidate_status[1]);
    } catch (...) {
        ::kill(-judge_pid, SIGKILL);
        ::waitpid(judge_pid, nullptr, 0);
        throw;
    }
    for (int* fd : {&judge_in, &program_in, &requests[0], &requests[1], &replies[0], &replies[1], &verdict[1], &output[1],
                    &candidate_status[1], &info[1]})
        close_now(*fd);
    char flags = 0;
    if (::read(candidate_status[0], &flags, 1) == 1) {
        result.network_isolated = (flags & detail::network_isolated_flag) != 0;
        result.user_isolated = (flags & detail::user_isolated_flag) != 0;
    }

    // The judge decides; the candidate may end first (its replies then end) or go on.
    ::fcntl(output[0], F_SETFL, O_NONBLOCK);
    std::string out;
    int judge_end = 0, candidate_end = 0;
    bool judge_done = false, candidate_done = false, timed_out = false, output_open = true;
    const auto deadline = started + std::chrono::duration<double>(limits.wall_s);
    const auto reap = [](pid_t pid, int& status, bool& done) {
        if (!done && ::waitpid(pid, &status, WNOHANG) == pid) done = true;
    };
    for (;;) {
        reap(judge_pid, judge_end, judge_done);
        reap(candidate_pid, candidate_end, candidate_done);
        if (judge_done) break;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        pollfd wait_for{output[0], POLLIN, 0};
        const int ms = static_cast<int>(std::min<double>(5, std::chrono::duration<double, std::milli>(deadline - now).count()) + 1);
        if (output_open && ::poll(&wait_for, 1, ms) > 0) output_open = detail::read_available(output[0], out);
        else if (!output_open) ::poll(nullptr, 0, ms);
    }
    // A candidate whose judge is done ends by itself when its requests close; a moment, then killed.
    for (int i = 0; i < 50 && !timed_out && !candidate_done; ++i) {
        ::poll(nullptr, 0, 2);
        reap(candidate_pid, candidate_end, candidate_done);
    }
    for (pid_t pid : {judge_pid, candidate_pid}) ::kill(-pid, SIGKILL);  // and whatever each left in its group
    if (!judge_done) ::waitpid(judge_pid, &judge_end, 0);
    if (!candidate_done) ::waitpid(candidate_pid, &candidate_end, 0);
    if (root) {
        for (uid_t uid : {judge_uid, candidate_uid}) detail::kill_all_of_user(uid);  // anything that left its group
        if ((flags & detail::namespaces_flag) == 0 && !bwrap) detail::remove_files_of({judge_uid, candidate_uid});
    }
    result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Every writer is gone now but one that escaped without root; read what is left, briefly.
    for (int i = 0; i < 100 && output_open; ++i) {
        pollfd wait_for{output[0], POLLIN, 0};
        if (::poll(&wait_for, 1, 2) > 0) output_open = detail::read_available(output[0], out);
    }

    ::fcntl(verdict[0], F_SETFL, O_NONBLOCK);
    char said[16] = {};
    const ssize_t got = ::read(verdict[0], said, sizeof said);
    const bool passed = got == 7 && std::memcmp(said, "passed\n", 7) == 0;
    ::fcntl(info[0], F_SETFL, O_NONBLOCK);
    std::string bwrap_info;
    (void)detail::read_available(info[0], bwrap_info);
    if (const auto at = bwrap_info.find("\"child-pid\":"); bwrap && at != std::string::npos) {
        const int ns_pid = std::atoi(bwrap_info.c_str() + at + 12);
        if (ns_pid > 0) result.namespace_pid = ns_pid;
    }

    if (WIFEXITED(candidate_end)) result.exit_code = WEXITSTATUS(candidate_end);
    if (WIFSIGNALED(candidate_end)) result.signal = WTERMSIG(candidate_end);
    result.output = out.size() > 2048 ? out.substr(out.size() - 2048) : out;
    result.sandbox = bwrap ? "bubblewrap" : (flags & detail::namespaces_flag) ? "weak+namespaces" : result.user_isolated ? "weak+uid" : "weak";
    for (int end : {judge_end, candidate_end})
        if (WIFEXITED(end) && (WEXITSTATUS(end) == 125 || WEXITSTATUS(end) == 126))
            result.output += "\nllmbench sandbox: could not start " + judge.args.front();
    if (timed_out || detail::ended_by_cpu_limit(candidate_end) || detail::ended_by_cpu_limit(judge_end)) result.status = ExecStatus::timeout;
    else if (passed && WIFEXITED(judge_end) && WEXITSTATUS(judge_end) == 0) result.status = ExecStatus::passed;
    else result.status = ExecStatus::failed;
    return result;
#else
    (void)code;
    (void)limits;
    throw error(errc::usage, "running generated code is supported on Linux and macOS only");
#endif
}

/// Runs `program` alone: passed when it runs to its end without raising (a containment check;
/// code tasks use run_code_test, whose verdict the program cannot forge).
inline ExecResult run_python_sandboxed(const std::string& program, const SandboxLimits& limits = {}) {
    CodeTest code;
    code.program = program;
    return run_code_test(code, limits);
}

}  // namespace llmbench::eval
