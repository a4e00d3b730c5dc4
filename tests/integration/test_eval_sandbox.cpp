// The code sandbox against hostile completions: each is contained, scored as failed, and the
// harness goes on.
#include <llmbench/eval/sandbox.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>

using namespace llmbench::eval;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
SandboxLimits quick() {
    SandboxLimits l;
    l.wall_s = 3;
    l.cpu_s = 2;
    return l;
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
    CHECK_FALSE(sd::bubblewrap_probe("/bin/false", python));
    if (!sd::bubblewrap_works(python)) {
        MESSAGE("bwrap cannot set up its namespaces here (a container?): the sandbox runs without private mounts");
        CHECK(run_python_sandboxed("pass\n", quick()).sandbox != "bubblewrap");
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

    SandboxLimits plain = quick();
    plain.bubblewrap = false;
    const auto without = run_python_sandboxed("pass\n", plain);
    CHECK(without.status == ExecStatus::passed);
    CHECK(without.sandbox == (::geteuid() == 0 ? "rlimits+uid" : "rlimits"));
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
