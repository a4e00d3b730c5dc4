// libFuzzer target: the quality-eval dataset loaders and the NIAH haystack reader, through the
// file paths users hand them. The first input byte picks the loader (and the file's name, which
// picks JSON/CSV/text and gzip/bzip2); the rest is the file. Bad files must be an
// llmbench::error naming the file, never a crash.
#include <llmbench/core/error.hpp>
#include <llmbench/eval/datasets.hpp>
#include <llmbench/niah/haystack.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_targets.hpp"

namespace {

const std::string& scratch_dir() {
    static const std::string dir = [] {
        std::string pattern = (std::filesystem::temp_directory_path() / "llmbench-fuzz-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        std::filesystem::create_directories(pattern + "/mmlu/test");
        return pattern;
    }();
    return dir;
}

std::string write(const std::string& name, const std::uint8_t* data, std::size_t size) {
    const std::string path = scratch_dir() + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path;
}

}  // namespace

int fuzz::datasets(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    namespace eval = llmbench::eval;
    const std::uint8_t* body = data + 1;
    const std::size_t n = size - 1;
    try {
        switch (data[0] % 12) {
        case 0: write("mmlu/test/subject_test.csv", body, n), (void)eval::load_mmlu(scratch_dir() + "/mmlu"); break;
        case 1: (void)eval::load_arc(write("arc.jsonl", body, n)); break;
        case 2: (void)eval::load_hellaswag(write("hellaswag.txt", body, n)); break;
        case 3: (void)eval::load_gsm8k(write("gsm8k.jsonl", body, n)); break;
        case 4: (void)eval::load_humaneval(write("humaneval.jsonl", body, n)); break;
        case 5: (void)eval::load_humaneval(write("humaneval.jsonl.gz", body, n)); break;
        case 6: (void)eval::load_mbpp(write("mbpp.jsonl", body, n)); break;
        case 7: (void)eval::load_truthfulqa(write("mc_task.json", body, n)); break;
        case 8: (void)eval::load_truthfulqa(write("TruthfulQA.csv", body, n), n % 2 ? eval::TruthfulQAForm::mc0 : eval::TruthfulQAForm::mc1); break;
        case 9: (void)eval::load_arc(write("arc.jsonl.bz2", body, n)); break;
        case 10: (void)llmbench::niah::haystack_from_file(write("book.txt", body, n)); break;
        default: (void)llmbench::niah::haystack_from_file(write("book.txt.gz", body, n)); break;
        }
    } catch (const llmbench::error&) {
    }
    return 0;
}
