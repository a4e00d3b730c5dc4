// Letter log-probability scoring end to end (--scoring logprob): mocks that answer each
// prompt's first token with scripted alternatives, on Ollama 0.33 and on OpenAI-style
// /v1/completions; calibration in the summary against hand-computed values; servers that
// send no log-probabilities refused; resume keeps what calibration needs.
#include <llmbench/eval/runner.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include "../eval_test_util.hpp"

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace llmbench::eval;

namespace {
TaskSpec arc_logprob() {
    TaskSpec spec;
    spec.kind = TaskKind::arc_challenge;
    spec.path = test_util::eval_fixtures() + "/arc.jsonl";
    spec.style = PromptStyle::completion;  // logprob is the default there
    return spec;
}

/// The first token's alternatives for each ARC fixture item (gold: Made_1 A, Made_2 C, Made_3 E):
///  - Made_1: " A" 0.5 and "A" 0.25 are one letter (0.75), " B" 0.25: A, right, confidence 0.75;
///  - Made_2: " A" and " C" 0.5 each: the tie goes to A, wrong, confidence 0.5;
///  - Made_3: no option letter among the alternatives: no_letter_in_top_k, wrong.
std::vector<TokenLogprob> arc_alternatives(const std::string& item_id) {
    const auto lp = [](double p) { return std::log(p); };
    if (item_id == "Made_1") return {{" A", lp(0.5), std::nullopt}, {"A", lp(0.25), std::nullopt}, {" B", lp(0.25), std::nullopt}};
    if (item_id == "Made_2") return {{" A", lp(0.5), std::nullopt}, {" C", lp(0.5), std::nullopt}};
    return {{" The", -0.1, std::nullopt}, {" I", -2.0, std::nullopt}};
}

/// Maps each prompt the spec makes to its item's alternatives.
testing::FirstTokenScript first_token_for(const TaskSpec& spec, std::function<std::vector<TokenLogprob>(const PreparedItem&)> script) {
    auto items = std::make_shared<std::map<std::string, PreparedItem>>();
    for (auto& item : prepare_items(spec)) items->emplace(item.prompt.text, item);
    return [items, script](const std::string& prompt) {
        const auto it = items->find(prompt);
        return it == items->end() ? std::vector<TokenLogprob>{} : script(it->second);
    };
}

/// One task's run as `model`.
test_util::EvalOutcome run_task(const TaskSpec& spec, BackendFactory factory, const std::string& resume = "", const std::string& model = "llama3.1:8b") {
    EvalOptions options;
    options.model = model;
    return test_util::run_eval_task(spec, std::move(factory), options, resume);
}

BackendFactory ollama_at(const testing::MockOllama& mock) {
    const Endpoint endpoint = mock.endpoint();
    return [endpoint] { return make_ollama_backend(endpoint); };
}

testing::MockConfig ollama_0_33() {
    testing::MockConfig cfg;
    cfg.generation = testing::MockGeneration::ollama_0_33;
    cfg.version = "0.33.0-rc2";
    return cfg;
}

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) { return parser.parse(json); }

/// Checks the hand-computed calibration of the three ARC items scripted above: 1 right of 3;
/// calibrated over the two with a letter: confidences 0.75 (right) and 0.5 (wrong), so
/// mean 0.625; ECE = 1/2 |1 - 0.75| (bin 11 of 15) + 1/2 |0 - 0.5| (bin 7) = 0.375; Brier =
/// mean of (0.75-1)^2 + 0.25^2 = 0.125 and 0.5^2 + (0-0.5)^2 = 0.5, so 0.3125.
void check_arc_summary(const std::string& summary) {
    simdjson::dom::parser parser;
    const auto doc = parse(parser, summary);
    CHECK(std::string_view(doc["scoring_method"]) == "logprob");
    CHECK(std::string_view(doc["setting"]) == "completion/0-shot/logprob");
    const auto score = doc["score"];
    CHECK(int64_t(score["n"]) == 3);
    CHECK(double(score["accuracy"]) == doctest::Approx(1.0 / 3));
    CHECK(int64_t(score["calibrated_n"]) == 2);
    CHECK(double(score["mean_confidence"]) == doctest::Approx(0.625));
    CHECK(double(score["ece"]) == doctest::Approx(0.375));
    CHECK(double(score["brier"]) == doctest::Approx(0.3125));
    CHECK(int64_t(doc["no_letter_in_top_k"]) == 1);
    CHECK(double(doc["no_letter_in_top_k_share"]) == doctest::Approx(1.0 / 3));
    simdjson::dom::array bins = doc["reliability"];
    CHECK(bins.size() == 15);
    CHECK(int64_t(bins.at(11)["n"]) == 1);
    CHECK(double(bins.at(11)["accuracy"]) == 1.0);
    CHECK(int64_t(bins.at(7)["n"]) == 1);
    CHECK(double(bins.at(7)["mean_confidence"]) == doctest::Approx(0.5));
    CHECK(std::string_view(doc["scoring"]).find("answer texts") != std::string_view::npos);  // ARC: not the harness's acc
}
}  // namespace

TEST_CASE("logprob scoring on Ollama 0.33 - one raw token with 20 alternatives, merged spellings, ties, no letter, calibration") {
    const auto spec = arc_logprob();
    auto cfg = ollama_0_33();
    cfg.first_token = first_token_for(spec, [](const PreparedItem& i) { return arc_alternatives(i.id); });
    testing::MockOllama mock(cfg);
    const auto o = run_task(spec, ollama_at(mock));
    REQUIRE(o.records.size() == 3);
    check_arc_summary(o.summary);

    for (const auto& request : mock.requests()) {
        if (request.path != "/api/generate") continue;
        CHECK(request.body.find(R"("raw":true)") != std::string::npos);
        CHECK(request.body.find(R"("num_predict":1)") != std::string::npos);
        CHECK(request.body.find(R"("logprobs":true)") != std::string::npos);
        CHECK(request.body.find(R"("top_logprobs":20)") != std::string::npos);
        CHECK(request.body.find("\\nAnswer:\"") != std::string::npos);  // the harness layout ends the prompt there
    }
    std::map<std::string, std::string> by_id;
    simdjson::dom::parser parser;
    for (const auto& r : o.records) by_id[std::string(std::string_view(parse(parser, r)["item_id"]))] = r;
    const auto made_1 = parse(parser, by_id["Made_1"]);
    CHECK(std::string_view(made_1["scoring"]) == "logprob");
    CHECK(std::string_view(made_1["extracted"]) == "A");
    CHECK(bool(made_1["correct"]));
    CHECK(double(made_1["confidence"]) == doctest::Approx(0.75));
    simdjson::dom::array probabilities = made_1["option_probabilities"];
    REQUIRE(probabilities.size() == 4);
    CHECK(double(probabilities.at(0)) == doctest::Approx(0.75));
    CHECK(double(probabilities.at(1)) == doctest::Approx(0.25));
    CHECK(double(probabilities.at(2)) == 0.0);  // not among the alternatives
    simdjson::dom::array logprobs = made_1["option_logprobs"];
    CHECK(double(logprobs.at(0)) == doctest::Approx(std::log(0.75)));
    CHECK(logprobs.at(3).is_null());

    const auto made_2 = parse(parser, by_id["Made_2"]);
    CHECK(std::string_view(made_2["extracted"]) == "A");  // the tie goes to the earlier letter
    CHECK_FALSE(bool(made_2["correct"]));

    const auto made_3 = parse(parser, by_id["Made_3"]);
    CHECK(bool(made_3["no_letter_in_top_k"]));
    CHECK_FALSE(bool(made_3["correct"]));
    CHECK(made_3["extracted"].is_null());
    CHECK(made_3["confidence"].is_null());
    CHECK_FALSE(bool(made_3["unparsable"]));  // counted apart: a generative reply can be unparsable, a token distribution cannot
}

TEST_CASE("logprob scoring on OpenAI-style /v1/completions - llama-server's and vLLM's shapes") {
    const auto spec = arc_logprob();
    for (const auto flavour : {testing::OpenAIFlavour::llamacpp, testing::OpenAIFlavour::vllm}) {
        CAPTURE(static_cast<int>(flavour));
        testing::MockOpenAIConfig cfg;
        cfg.flavour = flavour;
        cfg.model = "llama3.1:8b";
        cfg.first_token = first_token_for(spec, [](const PreparedItem& i) { return arc_alternatives(i.id); });
        testing::MockOpenAI mock(cfg);
        const std::string url = mock.base_url();
        const auto o = run_task(spec, [url] { return make_openai_backend(url); });
        check_arc_summary(o.summary);
        const auto requests = mock.requests();
        REQUIRE_FALSE(requests.empty());
        CHECK(requests.back().body.find(R"("logprobs":20)") != std::string::npos);
        CHECK(requests.back().body.find(R"("max_tokens":1)") != std::string::npos);
    }
}

TEST_CASE("MMLU logprob: the harness's acc, labelled as such, with the base-model reference marked not comparable") {
    TaskSpec spec;
    spec.kind = TaskKind::mmlu;
    spec.path = test_util::eval_fixtures() + "/mmlu";
    spec.style = PromptStyle::completion;
    auto cfg = ollama_0_33();
    cfg.first_token = first_token_for(spec, [](const PreparedItem& i) {
        return std::vector<TokenLogprob>{{" " + i.gold, -0.2, std::nullopt}, {i.gold == "A" ? " B" : " A", -1.9, std::nullopt}};
    });
    testing::MockOllama mock(cfg);
    const auto o = run_task(spec, ollama_at(mock));
    simdjson::dom::parser parser;
    const auto doc = parse(parser, o.summary);
    CHECK(std::string_view(doc["setting"]) == "completion/5-shot/logprob");
    CHECK(double(doc["score"]["accuracy"]) == 1.0);
    CHECK(std::string_view(doc["scoring"]).find("lm-evaluation-harness's MMLU acc") != std::string_view::npos);
    CHECK(double(doc["reference"]["score"]) == doctest::Approx(0.667));
    CHECK_FALSE(bool(doc["reference"]["comparable"]));
    CHECK(std::string_view(doc["reference"]["not_comparable"]).find("base") != std::string_view::npos);

    auto base_cfg = cfg;  // a base model's tag: the same setting, comparable
    base_cfg.models = {"llama3.1:8b-text-q4_K_M"};
    testing::MockOllama base(base_cfg);
    const auto b = run_task(spec, ollama_at(base), "", "llama3.1:8b-text-q4_K_M");
    CHECK(bool(parse(parser, b.summary)["reference"]["comparable"]));
}

TEST_CASE("a server that sends no log-probabilities is refused with the reason, the item kept as failed") {
    testing::MockOllama old;  // 0.5.12: ignores logprobs
    std::vector<std::string> records;
    EvalOptions options;
    options.model = "llama3.1:8b";
    EvalRunner runner(ollama_at(old), arc_logprob(), options);
    runner.on_record([&](const ScoredItem& item) { records.push_back(item.to_json()); });
    CHECK_THROWS_WITH_AS(runner.run(), doctest::Contains("returned no log-probabilities"), error);
    REQUIRE(records.size() == 1);  // the first reply showed it: nothing more was asked
    CHECK(records[0].find(R"("ok":false)") != std::string::npos);
    CHECK(records[0].find("--scoring generative") != std::string::npos);
}

TEST_CASE("logprob scoring refuses what it cannot score - chat style, thinking, GSM8K") {
    testing::MockOllama mock(ollama_0_33());
    EvalOptions options;
    options.model = "llama3.1:8b";
    auto chat = arc_logprob();
    chat.style = PromptStyle::chat;
    chat.scoring = Scoring::logprob;
    CHECK_THROWS_WITH_AS(EvalRunner(ollama_at(mock), chat, options), doctest::Contains("--style completion"), error);
    CHECK(arc_logprob().scoring_method() == Scoring::logprob);
    CHECK(chat.setting() == "chat/0-shot/logprob");
    chat.scoring.reset();
    CHECK(chat.scoring_method() == Scoring::generative);  // chat's default

    auto thinking = options;
    thinking.controls.think = Think::on;
    CHECK_THROWS_WITH_AS(EvalRunner(ollama_at(mock), arc_logprob(), thinking), doctest::Contains("--think off"), error);

    TaskSpec gsm8k;
    gsm8k.kind = TaskKind::gsm8k;
    gsm8k.path = test_util::eval_fixtures() + "/gsm8k.jsonl";
    gsm8k.style = PromptStyle::completion;
    CHECK(gsm8k.scoring_method() == Scoring::generative);  // not multiple choice
    gsm8k.scoring = Scoring::logprob;
    CHECK_THROWS_WITH_AS(EvalRunner(ollama_at(mock), gsm8k, options), doctest::Contains("not multiple choice"), error);
}

TEST_CASE("resume of logprob records keeps their calibration - generative records of the same prompts are not taken") {
    const auto spec = arc_logprob();
    auto cfg = ollama_0_33();
    cfg.first_token = first_token_for(spec, [](const PreparedItem& i) { return arc_alternatives(i.id); });
    testing::MockOllama mock(cfg);
    const auto first = run_task(spec, ollama_at(mock));
    std::string earlier;
    for (const auto& r : first.records) earlier += r + "\n";
    const std::size_t asked = mock.requests().size();
    const auto again = run_task(spec, ollama_at(mock), earlier);
    CHECK(again.records.empty());
    CHECK(mock.requests().size() == asked);
    check_arc_summary(again.summary);

    auto generative = spec;
    generative.scoring = Scoring::generative;
    const auto other = run_task(generative, ollama_at(mock), earlier);
    CHECK(other.records.size() == 3);  // another setting: asked again
}
