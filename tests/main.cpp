// The test runner: doctest's own main, and one rule more. CTest runs each test case by name
// (--test-case=NAME); a name the filter cannot match (doctest_discover_tests splits names at
// ';') would run nothing and pass, so a filter that selects no test case is a failure.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {
unsigned selected_test_cases = 0;

struct SelectionListener : doctest::IReporter {
    explicit SelectionListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override { selected_test_cases = stats.numTestCasesPassingFilters; }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("selection", 1, SelectionListener);
}  // namespace

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int failed = context.run();
    if (context.shouldExit()) return failed;  // --help, --list-test-cases, ...
    bool filtered = false;
    for (int i = 1; i < argc; ++i)
        filtered = filtered || std::strncmp(argv[i], "--test-case=", 12) == 0 || std::strncmp(argv[i], "-tc=", 4) == 0;
    if (failed == 0 && filtered && selected_test_cases == 0) {
        std::fprintf(stderr, "no test case matches the --test-case filter: nothing was tested\n");
        return 1;
    }
    return failed;
}
