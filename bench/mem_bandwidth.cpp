// mem-bandwidth: the CPU memory-bandwidth probe behind the roofline, run on its own.
//
//   mem-bandwidth [MiB] [passes]
//
// Prints the read bandwidth measure_cpu_bandwidth() finds with 1 thread and with every
// hardware thread, and how long each measurement took (roofline.hpp runs the second, once
// per host, and caches it).
#include <llmbench/host/roofline.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    const std::size_t mib = argc > 1 ? std::stoul(argv[1]) : 512;
    const int passes = argc > 2 ? std::stoi(argv[2]) : 3;
    const unsigned all = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned threads : {1u, all}) {
        const auto t0 = std::chrono::steady_clock::now();
        const llmbench::Bandwidth b = llmbench::measure_cpu_bandwidth(mib << 20, threads, passes);
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%u thread(s): %.2f GB/s  (%s; %.2f s including filling the buffer)\n", threads, b.bytes_per_s / 1e9, b.source.c_str(), took);
        if (threads == all) break;
    }
}
