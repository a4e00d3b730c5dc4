// Dataset loaders: the native formats, read from tiny fixtures written for this project
// (tests/data/eval), their errors, compressed files, and the real files when ../shared has them.
#include <llmbench/eval/datasets.hpp>

#include <bzlib.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <unistd.h>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace llmbench::eval;
namespace fs = std::filesystem;

namespace {
const std::string fixtures = std::string(LLMBENCH_TEST_DATA_DIR) + "/eval";

std::string temp_file(const std::string& name, const std::string& content) {
    const std::string path = (fs::temp_directory_path() / ("llmbench_" + std::to_string(::getpid()) + "_" + name)).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
}
}  // namespace

TEST_CASE("MMLU: subjects from file names, in name order - quoted commas and line breaks - letters to indices") {
    const auto items = load_mmlu(fixtures + "/mmlu", "test");
    REQUIRE(items.size() == 5);
    CHECK(items[0].subject == "astronomy");
    CHECK(items[0].id == "astronomy/0");
    CHECK(items[0].gold == 2);
    CHECK(items[1].question == "A star's colour depends on its:");
    CHECK(items[1].choices[1] == "Surface temperature, mostly");
    CHECK(items[2].question == "Multi-line question:\nwhich line is this?");
    CHECK(items[3].subject == "college_physics");
    CHECK(load_mmlu(fixtures + "/mmlu/dev", "dev").size() == 3);  // the split folder itself works too

    const auto dir = fs::temp_directory_path() / ("llmbench_mmlu_" + std::to_string(::getpid()));
    fs::create_directories(dir / "test");
    std::ofstream(dir / "test" / "x_test.csv") << "q,a,b,c,d,A\nonly five,a,b,c,d\n";
    CHECK_THROWS_WITH_AS(load_mmlu(dir.string()), doctest::Contains("x_test.csv:2: expected 6 fields"), error);
    std::ofstream(dir / "test" / "x_test.csv") << "q,a,b,c,d,E\n";
    CHECK_THROWS_WITH_AS(load_mmlu(dir.string()), doctest::Contains("x_test.csv:1: field \"answer\" must be a letter A-D (got \"E\")"), error);
    fs::remove_all(dir);
    CHECK_THROWS_WITH_AS(load_mmlu("/nonexistent"), doctest::Contains("MMLU: no folder '/nonexistent'"), error);
}

TEST_CASE("ARC: letter and number labels, five choices, errors with file and line") {
    const auto items = load_arc(fixtures + "/arc.jsonl");
    REQUIRE(items.size() == 3);
    CHECK(items[0].gold == 0);
    CHECK(items[1].gold == 2);  // label "3" of 1-4
    CHECK(items[2].choices.size() == 5);
    CHECK(items[2].gold == 4);
    const auto bad = temp_file("arc.jsonl", R"({"id":"x","question":{"stem":"q","choices":[{"text":"a","label":"A"}]},"answerKey":"B"})"
                                            "\n");
    CHECK_THROWS_WITH_AS(load_arc(bad), doctest::Contains("arc.jsonl:1: field \"answerKey\" (\"B\") names no choice"), error);
    std::remove(bad.c_str());
}

TEST_CASE("HellaSwag: the 6-line text form and the original JSONL") {
    const auto text = load_hellaswag(fixtures + "/hellaswag.txt");
    REQUIRE(text.size() == 2);
    CHECK(text[0].question == "Making tea: A person fills a kettle. they");
    CHECK(text[0].gold == 1);
    CHECK(text[1].choices[3] == "ties the laces.");
    const auto json = load_hellaswag(fixtures + "/hellaswag.jsonl");
    REQUIRE(json.size() == 1);
    CHECK(json[0].id == "7");
    CHECK(json[0].gold == 1);
    const auto bad = temp_file("hs.txt", "ctx\n9\na\nb\nc\nd\n");
    CHECK_THROWS_WITH_AS(load_hellaswag(bad), doctest::Contains("hs.txt:2: gold ending index must be 0-3 (got \"9\")"), error);
    std::remove(bad.c_str());
}

TEST_CASE("GSM8K: the number after ####, commas removed - a solution without one is an error") {
    const auto items = load_gsm8k(fixtures + "/gsm8k.jsonl");
    REQUIRE(items.size() == 3);
    CHECK(items[0].answer == "7");
    CHECK(items[1].answer == "1250");
    CHECK(items[2].answer == "-3");
    const auto bad = temp_file("gsm.jsonl", "{\"question\":\"q\",\"answer\":\"7\"}\n");
    CHECK_THROWS_WITH_AS(load_gsm8k(bad), doctest::Contains("gsm.jsonl:1: field \"answer\" has no \"#### N\""), error);
    std::remove(bad.c_str());
}

TEST_CASE("HumanEval from JSONL and .jsonl.gz - MBPP's asserts - a missing field is named") {
    const auto items = load_humaneval(fixtures + "/humaneval.jsonl");
    REQUIRE(items.size() == 2);
    CHECK(items[0].entry_point == "add");
    const std::string gz = (fs::temp_directory_path() / ("llmbench_he_" + std::to_string(::getpid()) + ".jsonl.gz")).string();
    {
        std::ifstream in(fixtures + "/humaneval.jsonl", std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        gzFile f = ::gzopen(gz.c_str(), "wb");
        REQUIRE(f != nullptr);
        CHECK(::gzwrite(f, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
        ::gzclose(f);
    }
    const auto from_gz = load_humaneval(gz);
    REQUIRE(from_gz.size() == 2);
    CHECK(from_gz[1].prompt == items[1].prompt);
    std::remove(gz.c_str());

    const auto mbpp = load_mbpp(fixtures + "/mbpp.jsonl");
    REQUIRE(mbpp.size() == 1);
    CHECK(mbpp[0].id == "mbpp/901");
    CHECK(mbpp[0].test == "assert double(2) == 4\nassert double(0) == 0\n");
    const auto bad = temp_file("he.jsonl", "{\"task_id\":\"x\",\"prompt\":\"p\",\"test\":\"t\"}\n");
    CHECK_THROWS_WITH_AS(load_humaneval(bad), doctest::Contains("he.jsonl:1: field \"entry_point\" is missing or not a string"), error);
    std::remove(bad.c_str());
}

TEST_CASE("bzip2 files read like plain ones - a damaged one is an error") {
    std::ifstream in(fixtures + "/hellaswag.txt", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string path = (fs::temp_directory_path() / ("llmbench_hs_" + std::to_string(::getpid()) + ".txt.bz2")).string();
    {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        int status = BZ_OK;
        BZFILE* bz = ::BZ2_bzWriteOpen(&status, f, 9, 0, 0);
        ::BZ2_bzWrite(&status, bz, text.data(), static_cast<int>(text.size()));
        ::BZ2_bzWriteClose(&status, bz, 0, nullptr, nullptr);
        std::fclose(f);
    }
    CHECK(load_hellaswag(path).size() == 2);
    std::ofstream(path, std::ios::binary) << "not bzip2 at all";
    CHECK_THROWS_WITH_AS(read_text_file(path), doctest::Contains("not a valid bzip2 file"), error);
    std::remove(path.c_str());
}

TEST_CASE("TruthfulQA MC1 from the JSON and the CSV: choices shuffled with a fixed seed, the gold followed") {
    const auto json = load_truthfulqa(fixtures + "/truthfulqa_mc.json");
    REQUIRE(json.size() == 2);
    CHECK(json[0].choices.size() == 4);
    CHECK(json[0].choices[json[0].gold] == "Blue");
    CHECK(json[1].choices[json[1].gold] == "No");
    CHECK(load_truthfulqa(fixtures + "/truthfulqa_mc.json")[0].choices == json[0].choices);  // deterministic
    const auto csv = load_truthfulqa(fixtures + "/truthfulqa.csv");
    REQUIRE(csv.size() == 2);
    CHECK(csv[0].choices.size() == 3);
    CHECK(csv[0].choices[csv[0].gold] == "It passes through you");
    CHECK(csv[1].question == "Is the made-up moon, Zorbo, made of cheese?");
    // across many items the gold is not stuck at one position
    std::set<std::size_t> positions;
    for (std::uint64_t seed = 1; seed < 40; ++seed) positions.insert(eval::detail::shuffled(ChoiceItem{"", "", "q", {"t", "f1", "f2", "f3"}, 0}, seed).gold);
    CHECK(positions.size() == 4);
}

TEST_CASE("TruthfulQA - the CSV's columns found by name in both revisions, and MC0, the 2025 binary form") {
    // the classic layout has no Best Incorrect Answer column: Incorrect Answers is the 6th field, Source the 7th
    const std::string path = (fs::temp_directory_path() / ("llmbench_tqa_" + std::to_string(::getpid()) + ".csv")).string();
    std::ofstream(path, std::ios::binary) << "\xEF\xBB\xBFType,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
                                             "Adversarial,Made-up,Is it?,No,No; Never,Yes; Maybe,https://example.org\n";
    const auto classic = load_truthfulqa(path);
    REQUIRE(classic.size() == 1);
    CHECK(classic[0].choices.size() == 3);
    CHECK(std::find(classic[0].choices.begin(), classic[0].choices.end(), "https://example.org") == classic[0].choices.end());
    CHECK(classic[0].choices[classic[0].gold] == "No");
    CHECK_THROWS_WITH_AS(load_truthfulqa(path, TruthfulQAForm::mc0), doctest::Contains("\"Best Incorrect Answer\" (MC0 is in the January 2025 revision only)"),
                         error);
    // fuzz_datasets found this: a repeated column name made the header look narrower than it
    // is, so a short row passed the width check and was read past its end (ASan: use after free)
    std::ofstream(path, std::ios::binary) << "Type,Type,Category,Question,Best Answer,Incorrect Answers\nA,B,C,D,E\n";
    CHECK_THROWS_WITH_AS(load_truthfulqa(path), doctest::Contains(":2: expected 6 fields, got 5"), error);
    std::remove(path.c_str());

    const auto binary = load_truthfulqa(fixtures + "/truthfulqa.csv", TruthfulQAForm::mc0);
    REQUIRE(binary.size() == 2);
    CHECK(binary[0].choices.size() == 2);
    CHECK(binary[0].choices[binary[0].gold] == "It passes through you");
    CHECK(binary[0].choices[1 - binary[0].gold] == "It stays for seven years");
    const auto json = load_truthfulqa(fixtures + "/truthfulqa_mc.json", TruthfulQAForm::mc0);
    REQUIRE(json.size() == 2);
    CHECK(json[1].choices.size() == 2);
    CHECK(json[1].choices[json[1].gold] == "No");
}

TEST_CASE("the real datasets in ../shared load in full, when present") {
    const std::string d = std::string(LLMBENCH_FIXTURES_DIR) + "/../../datasets";
    if (!fs::exists(d + "/mmlu")) {
        MESSAGE("skipped: no ../shared/datasets");
        return;
    }
    CHECK(load_mmlu(d + "/mmlu", "test").size() == 14042);
    CHECK(load_mmlu(d + "/mmlu", "dev").size() == 285);
    CHECK(load_arc(d + "/arc_challenge/ARC-Challenge-Test.jsonl").size() == 1172);
    CHECK(load_hellaswag(d + "/hellaswag/hellaswag_val_full.txt.bz2").size() == 10042);
    CHECK(load_gsm8k(d + "/gsm8k/test.jsonl").size() == 1319);
    CHECK(load_humaneval(d + "/humaneval/HumanEval.jsonl.gz").size() == 164);
    CHECK(load_truthfulqa(d + "/truthfulqa/v1/mc_task.json").size() == 817);  // the classic set published MC1 numbers use
    const auto classic_csv = load_truthfulqa(d + "/truthfulqa/v1/TruthfulQA.csv");
    REQUIRE(classic_csv.size() == 817);
    for (const auto& item : classic_csv)  // no Source URL taken for an answer
        for (const auto& choice : item.choices) REQUIRE_MESSAGE(choice.rfind("http", 0) != 0, item.question);
    CHECK(load_truthfulqa(d + "/truthfulqa/mc_task.json").size() == 790);  // the January 2025 revision
    CHECK(load_truthfulqa(d + "/truthfulqa/TruthfulQA.csv").size() == 790);
    const auto mc0 = load_truthfulqa(d + "/truthfulqa/mc_task.json", TruthfulQAForm::mc0);
    REQUIRE(mc0.size() == 790);
    CHECK(std::all_of(mc0.begin(), mc0.end(), [](const ChoiceItem& i) { return i.choices.size() == 2; }));
    CHECK(load_truthfulqa(d + "/truthfulqa/TruthfulQA.csv", TruthfulQAForm::mc0).size() == 790);
    CHECK_THROWS_WITH_AS(load_truthfulqa(d + "/truthfulqa/v1/mc_task.json", TruthfulQAForm::mc0), doctest::Contains("mc0_targets"), error);
}
