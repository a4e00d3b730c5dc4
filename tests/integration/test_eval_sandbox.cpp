// The code sandbox against hostile completions: each is contained, scored as failed, and the
// harness goes on; none can read a file through the harness or forge a pass.
#include <llmbench/eval/sandbox.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

using namespace llmbench::eval;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
/// Strict (bubblewrap) where it can run here, else the weak sandbox, said once.
SandboxLimits quick() {
    SandboxLimits l;
    l.wall_s = 3;
    l.cpu_s = 2;
    if (const std::string why = sandbox_unavailable(l); !why.empty()) {
        MESSAGE("strict sandbox unavailable (" << why << "): testing the weak one");
        l.mode = SandboxMode::weak;
    }
    return l;
}
SandboxLimits weak() {
    SandboxLimits l = quick();
    l.mode = SandboxMode::weak;
    return l;
}
/// Every process whose command line holds `tag`.
std::vector<pid_t> processes_with(const std::string& tag) {
    std::vector<pid_t> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "cmdline", std::ios::binary);
        const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (cmdline.find(tag) != std::string::npos) found.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return found;
}
bool process_gone(pid_t pid) {
    for (int i = 0; i < 100; ++i) {  // a killed orphan is reaped by init a moment later
        std::ifstream status("/proc/" + std::to_string(pid) + "/status");
        std::string line, state;
        while (std::getline(status, line))
            if (line.rfind("State:", 0) == 0) state = line;
        if (!status.is_open() || state.find("Z") != std::string::npos) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}
}  // namespace

TEST_CASE("a correct program passes - a failing assert fails - output is kept") {
    const auto ok = run_python_sandboxed("print('hello from the sandbox')\nassert 1 + 1 == 2\n", quick());
    CHECK(ok.status == ExecStatus::passed);
    CHECK(ok.output.find("hello from the sandbox") != std::string::npos);
    const auto bad = run_python_sandboxed("assert 1 + 1 == 3, 'arithmetic'\n", quick());
    CHECK(bad.status == ExecStatus::failed);
    CHECK(bad.output.find("AssertionError: arithmetic") != std::string::npos);
}

TEST_CASE("hostile: an infinite loop is stopped by the CPU or wall limit") {
    const auto r = run_python_sandboxed("while True:\n    pass\n", quick());
    CHECK(r.status == ExecStatus::timeout);
    CHECK(r.wall_s < 4.0);
}

TEST_CASE("hostile: sys.exit(0) and os._exit(0) do not count as passing") {
    CHECK(run_python_sandboxed("import sys\nsys.exit(0)\n", quick()).status == ExecStatus::failed);
    const auto r = run_python_sandboxed("import os\nos._exit(0)\n", quick());
    CHECK(r.exit_code == 0);  // a clean exit status...
    CHECK(r.status == ExecStatus::failed);  // ...but the program never reached its end
}

TEST_CASE("hostile: a huge allocation fails inside the sandbox") {
    const auto r = run_python_sandboxed("x = bytearray(10**11)\n", quick());
    CHECK(r.status == ExecStatus::failed);
    CHECK(r.output.find("MemoryError") != std::string::npos);
}

TEST_CASE("hostile: a fork bomb is bounded and leaves no process behind") {
    const auto r = run_python_sandboxed(
        "import os, time\nprint(os.getpid(), flush=True)\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n",
        quick());
    CHECK(r.status != ExecStatus::passed);
    if (r.sandbox == "bubblewrap") {  // its pids are the namespace's; the namespace is gone with its first process
        REQUIRE(r.namespace_pid);
        CHECK(process_gone(*r.namespace_pid));
        return;
    }
    const pid_t first = static_cast<pid_t>(std::atol(r.output.c_str()));
    REQUIRE(first > 0);
    CHECK(process_gone(first));
}

TEST_CASE("hostile: a child that leaves the process group is killed too (when run as root)") {
    const auto r = run_python_sandboxed(
        "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    time.sleep(60)\n    os._exit(0)\nprint(pid, flush=True)\n", quick());
    if (r.sandbox == "bubblewrap") {  // whatever left the group is still in the PID namespace, which is gone
        REQUIRE(r.namespace_pid);
        CHECK(process_gone(*r.namespace_pid));
        return;
    }
    const pid_t escaped = static_cast<pid_t>(std::atol(r.output.c_str()));
    REQUIRE(escaped > 0);
    if (::geteuid() == 0) CHECK(process_gone(escaped));
    else ::kill(escaped, SIGKILL);  // without root there is no user of its own to sweep: documented limit
}

TEST_CASE("hostile: writing outside the temporary directory, and filling the disk") {
    const fs::path outside = fs::temp_directory_path() / ("llmbench_outside_" + std::to_string(::getpid()));
    fs::create_directories(outside);
    fs::permissions(outside, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                                 fs::perms::others_exec);
    const auto r = run_python_sandboxed("open('" + (outside / "pwned.txt").string() + "', 'w').write('x')\n", quick());
    if (r.sandbox == "bubblewrap") {  // the write lands in the sandbox's own /tmp, gone with it
        CHECK_FALSE(fs::exists(outside / "pwned.txt"));
    } else if (::geteuid() == 0) {  // the sandbox runs as a user of its own
        CHECK(r.status == ExecStatus::failed);
        CHECK(r.user_isolated);
        CHECK_FALSE(fs::exists(outside / "pwned.txt"));
    }
    fs::remove_all(outside);
    const auto big = run_python_sandboxed("f = open('big.bin', 'wb')\nwhile True:\n    f.write(b'x' * 1048576)\n", quick());
    CHECK(big.status != ExecStatus::passed);  // RLIMIT_FSIZE: 16 MiB, then SIGXFSZ
}

TEST_CASE("hostile: files in /tmp, /var/tmp, /run/lock and /dev/shm do not outlive the run (bubblewrap)") {
    namespace sd = llmbench::eval::detail;
    if (sd::bubblewrap_path().empty()) {
        MESSAGE("bwrap not installed (Debian: bubblewrap): the sandbox runs without private mounts");
        return;
    }
    // Tried once, before the first run: a bwrap that cannot set up (here, a stand-in that
    // fails) means the sandbox runs without it, never a run that fails for the sandbox's sake.
    const std::string python = sd::find_python("");
    CHECK_FALSE(sd::bubblewrap_probe("/bin/false", python).empty());
    if (const std::string why = sandbox_unavailable(); !why.empty()) {
        MESSAGE("bwrap cannot set up its namespaces here (a container?): " << why);
        return;
    }
    const std::string tag = "llmbench_leak_" + std::to_string(::getpid());
    const std::vector<std::string> places = {"/tmp/", "/var/tmp/", "/run/lock/", "/dev/shm/"};
    std::string program = "import os\nwritten = 0\n";
    for (const auto& dir : places)
        program += "try:\n    os.makedirs('" + dir + "', exist_ok=True)\n    open('" + dir + tag + "', 'w').write('x' * 1024)\n    written += 1\n"
                   "except OSError:\n    pass\n";
    // and 50 MiB in RAM-backed /dev/shm, as the hostile completion did: the tmpfs cap stops it
    program += "try:\n    f = open('/dev/shm/" + tag + "_big', 'wb')\n    for _ in range(50):\n        f.write(b'x' * 1048576)\n    f.close()\n"
               "except OSError as e:\n    print('capped:', e)\n";
    program += "assert written == " + std::to_string(places.size()) + ", written\n";
    SandboxLimits limits = quick();
    limits.file_bytes = 64ULL << 20;  // so that the tmpfs size, not RLIMIT_FSIZE, is what stops the big file
    const auto r = run_python_sandboxed(program, limits);
    REQUIRE(r.sandbox == "bubblewrap");
    CHECK_MESSAGE(r.status == ExecStatus::passed, r.output);  // it could write each place, inside
    CHECK(r.output.find("capped:") != std::string::npos);     // 16 MiB tmpfs, not 50 MiB of RAM
    CHECK(r.network_isolated);
    for (const auto& dir : places) {
        INFO(dir);
        CHECK_FALSE(fs::exists(dir + tag));  // and none of it is on the machine afterwards
    }
    CHECK_FALSE(fs::exists("/dev/shm/" + tag + "_big"));

    const auto without = run_python_sandboxed("pass\n", weak());
    CHECK(without.status == ExecStatus::passed);
    CHECK(without.sandbox.rfind("weak", 0) == 0);
}

TEST_CASE("hostile: the harness's environment, secrets included, is not passed on") {
    ::setenv("LLMBENCH_TEST_SECRET", "hunter2", 1);
    const auto r = run_python_sandboxed("import os\nassert os.environ.get('LLMBENCH_TEST_SECRET') == 'hunter2'\n", quick());
    ::unsetenv("LLMBENCH_TEST_SECRET");
    CHECK(r.status == ExecStatus::failed);
}

TEST_CASE("no network inside the sandbox, where the kernel allows a namespace") {
    const auto r = run_python_sandboxed("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\n", quick());
    CHECK(r.status != ExecStatus::passed);
    if (r.network_isolated) CHECK(r.output.find("unreachable") != std::string::npos);
    else MESSAGE("no network namespace here: the connection failed for another reason");
}

TEST_CASE("strict refuses to run anything without a working bubblewrap, and says what to do") {
    SandboxLimits missing = quick();
    missing.mode = SandboxMode::strict;
    missing.bubblewrap = "/nonexistent/bwrap";
    CHECK(sandbox_unavailable(missing).find("is not installed") != std::string::npos);
    CHECK_THROWS_WITH_AS(run_python_sandboxed("open('/tmp/llmbench_must_not_run', 'w')\n", missing), doctest::Contains("--sandbox=weak"),
                         llmbench::error);
    SandboxLimits refused = missing;
    refused.bubblewrap = "/bin/false";  // installed, but cannot set up (as under Docker's seccomp)
    CHECK(sandbox_unavailable(refused).find("cannot set up its namespaces") != std::string::npos);
    CHECK_THROWS_AS(run_python_sandboxed("pass\n", refused), llmbench::error);
    CHECK_FALSE(fs::exists("/tmp/llmbench_must_not_run"));
    CHECK(sandbox_unavailable(weak()).empty());  // weak is only ever chosen explicitly
}

TEST_CASE("hostile: a symlink in the run's directory never leaks the file it points to") {
    // A file only its owner may read, as /etc/shadow is root's: the program links to it where
    // its output used to be read back from, and elsewhere in its directory.
    const fs::path secret_dir = fs::temp_directory_path() / ("llmbench_secret_" + std::to_string(::getpid()));
    fs::create_directories(secret_dir);
    ::chmod(secret_dir.c_str(), 0700);
    const fs::path secret = secret_dir / "shadow";
    std::ofstream(secret) << "llmbench-secret-4f1c9\n";
    ::chmod(secret.c_str(), 0600);
    const std::string program = "import os\nfor name in ('output.txt', 'out', 'result'):\n    os.symlink('" + secret.string() +
                                "', name)\nos.symlink('" + secret_dir.string() + "', 'dir')\nprint('linked', flush=True)\n";
    for (const SandboxLimits& limits : {quick(), weak()}) {
        const auto r = run_python_sandboxed(program, limits);
        INFO(r.sandbox << ": " << r.output);
        CHECK(r.output.find("llmbench-secret") == std::string::npos);
        CHECK(r.output.find("linked") != std::string::npos);
        CHECK(fs::exists(secret));  // the directory's removal removed the links, not what they point to
    }
    fs::remove_all(secret_dir);
}

namespace {
/// A HumanEval-shaped test of `program` (the task: f(x) = 2x), whose test uses builtins too.
CodeTest doubling(const std::string& program) {
    CodeTest t;
    t.program = program;
    t.setup = "def f(x):\n    \"\"\"Twice x.\"\"\"\n";
    t.test = "def check(candidate):\n    assert candidate(2) == 4\n    assert sorted([candidate(3), candidate(1)]) == [2, 6]\n"
             "    assert abs(candidate(0.5) - 1.0) < 1e-9\n";
    t.check_entry = "f";
    t.task_names = {"f"};
    return t;
}
}  // namespace

TEST_CASE("hostile: a completion cannot make itself pass without the tests passing") {
    const std::vector<std::pair<std::string, std::string>> forgeries = {
        {"reads the driver's frames and every object, writes 'passed' and any secret it finds to every descriptor",
         "import gc, os, sys\nfound = [repr(o) for o in gc.get_objects() if isinstance(o, (str, bytes)) and len(o) < 64]\n"
         "frame = sys._getframe()\nwhile frame:\n    found += [repr(v) for v in frame.f_locals.values()]\n    frame = frame.f_back\n"
         "for fd in range(0, 1024):\n    for text in ['passed\\n'] + found[:200]:\n        try:\n            os.write(fd, (text + '\\n').encode())\n"
         "        except OSError:\n            break\ndef f(x):\n    return 0\n"},
        {"ends its process cleanly before any test runs", "import os\nos._exit(0)\n"},
        {"raises SystemExit(0) when called", "def f(x):\n    raise SystemExit(0)\n"},
        {"redefines check, assert's exception and the builtins the test uses",
         "import builtins\nclass Never(Exception):\n    pass\nbuiltins.AssertionError = Never\nAssertionError = Never\n"
         "def check(candidate):\n    pass\nsorted = lambda *a, **k: [2, 6]\nabs = lambda x: 0\nbuiltins.sorted = sorted\nbuiltins.abs = abs\n"
         "def f(x):\n    return 0\n"},
        {"returns an object equal to everything", "class Anything:\n    def __eq__(self, other):\n        return True\n    def __lt__(self, other):\n"
                                                  "        return True\n    def __sub__(self, other):\n        return 0\ndef f(x):\n    return Anything()\n"},
        {"a subclass of int whose == always holds", "class Yes(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
                                                    "def f(x):\n    return Yes(7)\n"},
        {"kills every process it may signal", "import os, signal\ndef f(x):\n    os.kill(-1, signal.SIGKILL)\n    return 2 * x\n"},
    };
    for (const SandboxLimits& limits : {quick(), weak()}) {
        const auto honest = run_code_test(doubling("def f(x):\n    return 2 * x\n"), limits);
        CHECK_MESSAGE(honest.status == ExecStatus::passed, honest.output);
        for (const auto& forgery : forgeries) {
            const auto r = run_code_test(doubling(forgery.second), limits);
            INFO(to_string(limits.mode) << ": " << forgery.first << "\n" << r.output);
            CHECK(r.status != ExecStatus::passed);
        }
    }
}

TEST_CASE("a candidate's values cross as literals: containers, floats, subclasses of builtins and its own objects") {
    CodeTest t;
    t.program = "import collections, math\nclass Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
                "def longest(pairs):\n    return max(p.b - p.a for p in pairs)\ndef stats(xs):\n"
                "    return collections.Counter(xs), (math.inf, -0.0), {frozenset({1}): [1.5, None, b'x']}, 3 + 4j\n";
    t.test = "assert longest([Pair(1, 5), Pair(2, 3)]) == 4\nc, floats, d, z = stats('aab')\nassert c == {'a': 2, 'b': 1}\n"
             "assert floats[0] == math.inf and str(floats[1]) == '-0.0'\nassert d == {frozenset({1}): [1.5, None, b'x']} and z == 3 + 4j\n"
             "p = Pair(3, 9)\np.b = 10\nassert p.b == 10 and p == p and p != Pair(3, 10)\n";
    t.task_names = {"Pair", "longest", "stats"};
    const auto r = run_code_test(t, quick());
    CHECK_MESSAGE(r.status == ExecStatus::passed, r.output);
    t.program += "sum = lambda xs: 42\n";  // shadows a builtin the task did not ask for: the test keeps the real one
    t.test = "assert sum([1, 2]) == 3\n";
    CHECK_MESSAGE(run_code_test(t, quick()).status == ExecStatus::passed, r.output);
    t.task_names = {"sum"};  // one it did ask for (MBPP's task 126 defines `sum`): the candidate's
    CHECK(run_code_test(t, quick()).status == ExecStatus::failed);
}

TEST_CASE("weak sandbox: nothing left in /tmp, /var/tmp or /dev/shm, disk capped, no process outlives a killed harness") {
    const std::string tag = "llmbench_weak_" + std::to_string(::getpid());
    std::string program = "import os\n";
    for (const char* dir : {"/tmp/", "/var/tmp/", "/dev/shm/"})
        program += "try:\n    open('" + std::string(dir) + tag + "', 'w').write('x')\nexcept OSError as e:\n    print('refused:', e)\n";
    program += "import tempfile\ntempfile.NamedTemporaryFile(delete=False).write(b'x')\n";
    program += "written = 0\ntry:\n    for i in range(8):\n        with open('big%d' % i, 'wb') as f:\n            for _ in range(8):\n"
               "                f.write(b'x' * 1048576)\n                written += 1\nexcept OSError as e:\n    print('capped at', written, 'MiB:', e)\n";
    SandboxLimits limits = weak();
    limits.file_bytes = 64ULL << 20;  // so that the tmpfs, not the size of one file, stops it
    const auto r = run_python_sandboxed(program, limits);
    INFO(r.sandbox << ": " << r.output);
    for (const char* dir : {"/tmp/", "/var/tmp/", "/dev/shm/"}) {
        if (r.sandbox == "weak") {  // neither root nor a namespace: documented, nothing to sweep by
            MESSAGE("weak sandbox without root or namespaces: its files in " << dir << " remain");
            fs::remove(std::string(dir) + tag);
            continue;
        }
        CHECK_FALSE(fs::exists(std::string(dir) + tag));
    }
    if (r.sandbox == "weak+namespaces") CHECK(r.output.find("capped at") != std::string::npos);  // 16 MiB, not 64
    else MESSAGE("no mount namespace here (" << r.sandbox << "): the disk it writes is not capped in total");

    // The harness killed mid-run: the program's own child goes with it.
    for (const SandboxLimits& mode : {quick(), weak()}) {
        SandboxLimits slow = mode;
        slow.wall_s = 30;
        slow.cpu_s = 30;
        const std::string sleeper = tag + "_sleeper_" + to_string(mode.mode);
        const pid_t harness = ::fork();
        REQUIRE(harness >= 0);
        if (harness == 0) {
            (void)run_python_sandboxed("import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '" + sleeper +
                                           "'])\ntime.sleep(60)\n",
                                       slow);
            ::_exit(0);
        }
        bool started = false;
        for (int i = 0; i < 500 && !started; ++i, std::this_thread::sleep_for(20ms)) started = !processes_with(sleeper).empty();
        CHECK(started);
        ::kill(harness, SIGKILL);
        ::waitpid(harness, nullptr, 0);
        if (mode.mode == SandboxMode::weak && ::geteuid() != 0) {
            MESSAGE("weak sandbox without root: a grandchild may outlive a killed harness (documented)");
            for (pid_t left : processes_with(sleeper)) ::kill(left, SIGKILL);
            continue;
        }
        bool gone = false;
        for (int i = 0; i < 250 && !gone; ++i, std::this_thread::sleep_for(20ms)) gone = processes_with(sleeper).empty();
        CHECK_MESSAGE(gone, to_string(mode.mode));
        for (pid_t left : processes_with(sleeper)) ::kill(left, SIGKILL);
    }
}
