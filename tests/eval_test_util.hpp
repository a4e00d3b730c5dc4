// Helpers the eval tests share: where the eval fixtures are, and one task's run gathered.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <llmbench/eval/runner.hpp>

namespace test_util {

/// tests/data/eval: small fixtures in each dataset's own format.
inline std::string eval_fixtures() { return std::string(LLMBENCH_TEST_DATA_DIR) + "/eval"; }

/// What an EvalRunner wrote: each item's record and the summary.
struct EvalOutcome {
    std::vector<std::string> records;
    std::string summary;
};

/// Runs `spec` through backends from `factory`, resuming from the records file `resume` when set.
inline EvalOutcome run_eval_task(const llmbench::eval::TaskSpec& spec, llmbench::BackendFactory factory, const llmbench::eval::EvalOptions& options,
                                 const std::string& resume = "") {
    EvalOutcome o;
    llmbench::eval::EvalRunner runner(std::move(factory), spec, options);
    if (!resume.empty()) runner.resume_from(resume);
    runner.on_record([&](const llmbench::eval::ScoredItem& item) { o.records.push_back(item.to_json()); });
    o.summary = runner.run();
    return o;
}

}  // namespace test_util
