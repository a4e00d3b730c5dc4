// Answer extraction over many reply styles; letter choice from log-probabilities, calibration,
// pass@k and the Wilson interval against hand-computed values; and the prompts each style sends.
#include <llmbench/eval/extract.hpp>
#include <llmbench/eval/letter_choice.hpp>
#include <llmbench/eval/prompts.hpp>
#include <llmbench/eval/scoring.hpp>

#include <cmath>
#include <string>

#include <doctest/doctest.h>

using namespace llmbench::eval;

TEST_CASE("multiple-choice letters from many reply styles") {
    const auto pick = [](const std::string& reply) { return extract_choice(reply, 4); };
    CHECK(pick("Answer: B") == 1u);
    CHECK(pick("Let me think. A is wrong, C is wrong.\nAnswer: D") == 3u);       // the answer line, not letters on the way
    CHECK(pick("**Answer: C**") == 2u);                                           // bold
    CHECK(pick("answer: (b)") == 1u);                                             // lower case after "answer:"
    CHECK(pick("Answer: (A) because it is") == 0u);                               // trailing text
    CHECK(pick("The best answer is C.") == 2u);                                   // Meta's form
    CHECK(pick("First I thought Answer: A, but on reflection Answer: B") == 1u);  // several candidates: the last
    CHECK(pick("The correct answer is (D).") == 3u);
    CHECK(pick("B") == 1u);                                                       // a bare letter
    CHECK(pick("(C)") == 2u);
    CHECK(pick("D. Mars") == 3u);
    CHECK(pick("$\\boxed{A}$\nAnswer: $A$") == 0u);                              // LaTeX wrappers
    CHECK_FALSE(pick("a planet, probably").has_value());                          // the article "a" is not option A
    CHECK_FALSE(pick("I don't know.").has_value());                               // none
    CHECK_FALSE(pick("Answer: E").has_value());                                   // not among 4 options
    CHECK(extract_choice("Answer: E", 5) == 4u);
    CHECK_FALSE(pick("Answerable: B").has_value());
}

TEST_CASE("GSM8K strict and flexible extraction, with the harness's clean-up") {
    CHECK(extract_number_strict("so 3 + 4 = 7.\n#### 7") == std::string("7"));
    CHECK(extract_number_strict("The answer is 1,250.") == std::string("1250"));
    CHECK(extract_number_strict("The final answer is $18") == std::string("18"));
    CHECK(extract_number_strict("The answer is -3.") == std::string("-3"));
    CHECK_FALSE(extract_number_strict("she makes 18 dollars").has_value());
    CHECK(extract_number_flexible("she makes 9 * 2 = 18 dollars") == std::string("18"));  // the last number
    CHECK(extract_number_flexible("$1,250.") == std::string("1250"));
    CHECK_FALSE(extract_number_flexible("no numbers here").has_value());
    CHECK(same_number(std::string("1,250"), "1250"));
    CHECK_FALSE(same_number(std::string("18.00"), "18"));  // exact match, as the harness
    CHECK_FALSE(same_number(std::nullopt, "18"));
}

TEST_CASE("code from a reply: the first fenced block, else the whole reply") {
    CHECK(extract_code("Here:\n```python\ndef f():\n    return 1\n```\nDone.") == "def f():\n    return 1\n");
    CHECK(extract_code("```\nx = 1\n```") == "x = 1\n");
    CHECK(extract_code("    return a + b\n") == "    return a + b\n");
}

TEST_CASE("pass@k by the unbiased estimator, against hand-computed values") {
    CHECK(*pass_at_k(5, 2, 1) == doctest::Approx(0.4));        // c / n
    CHECK(*pass_at_k(5, 2, 2) == doctest::Approx(0.7));        // 1 - C(3,2)/C(5,2) = 1 - 3/10
    CHECK(*pass_at_k(10, 3, 5) == doctest::Approx(1.0 - 21.0 / 252));  // 1 - C(7,5)/C(10,5)
    CHECK(*pass_at_k(3, 0, 3) == 0.0);                         // n = k, none passed
    CHECK(*pass_at_k(3, 3, 3) == 1.0);                         // c = n
    CHECK(*pass_at_k(4, 2, 3) == 1.0);                         // n - c < k: some sample of any k passes
    CHECK(*pass_at_k(1, 1, 1) == 1.0);
    CHECK_FALSE(pass_at_k(2, 1, 3).has_value());               // k > n: undefined
    CHECK_FALSE(pass_at_k(2, 1, 0).has_value());
}

TEST_CASE("Wilson interval: inside [0, 1], honest at the edges") {
    auto [low, high] = wilson_interval(5, 10);
    CHECK(low == doctest::Approx(0.2366).epsilon(0.001));
    CHECK(high == doctest::Approx(0.7634).epsilon(0.001));
    std::tie(low, high) = wilson_interval(0, 10);
    CHECK(low == 0.0);
    CHECK(high == doctest::Approx(0.2775).epsilon(0.001));
    std::tie(low, high) = wilson_interval(10, 10);
    CHECK(low == doctest::Approx(0.7225).epsilon(0.001));
    CHECK(high == doctest::Approx(1.0));
}

TEST_CASE("MMLU categories and Meta's references, comparable only for the same setting and weights") {
    CHECK(mmlu_category("college_physics") == "STEM");
    CHECK(mmlu_category("professional_law") == "humanities");
    CHECK(mmlu_category("sociology") == "social sciences");
    CHECK(mmlu_category("virology") == "other");
    const auto chat5 = meta_reference("mmlu", "chat/5-shot", "llama3.1:8b");
    REQUIRE(chat5);
    CHECK(chat5->comparable);
    CHECK(chat5->why_not.empty());
    CHECK(chat5->reference.score == doctest::Approx(0.694));
    CHECK(meta_reference("gsm8k", "chat/8-shot", "llama3.1:8b")->reference.score == doctest::Approx(0.845));
    // Letter likelihood is published for the base model only: an Instruct tag is not comparable.
    const auto logprob = meta_reference("mmlu", "completion/5-shot/logprob", "llama3.1:8b");
    REQUIRE(logprob);
    CHECK_FALSE(logprob->comparable);
    CHECK(logprob->reference.score == doctest::Approx(0.667));
    CHECK(logprob->why_not.find("base") != std::string::npos);
    const auto base = meta_reference("mmlu", "completion/5-shot/logprob", "llama3.1:8b-text-q4_K_M");
    REQUIRE(base);
    CHECK(base->comparable);
    // A setting Meta did not measure: its Instruct number, marked not comparable, with both settings named.
    const auto other = meta_reference("mmlu", "completion/5-shot", "llama3.1:8b");
    REQUIRE(other);
    CHECK_FALSE(other->comparable);
    CHECK(other->reference.score == doctest::Approx(0.694));
    CHECK(other->why_not == "ours is completion/5-shot, Meta's is 5-shot, generated letter, macro average");
    CHECK_FALSE(meta_reference("hellaswag", "chat/0-shot", "llama3.1:8b").has_value());  // not in the model card
    CHECK(meta_references("arc_challenge").size() == 2);
}

TEST_CASE("prompts: the harness's completion layout with shots, and the chat instruction") {
    const ChoiceItem shot{"s", "astronomy", "Closest to the Sun?", {"Venus", "Mercury"}, 1};
    const ChoiceItem item{"i", "astronomy", "Largest planet?", {"Jupiter", "Mars"}, 0};
    const auto completion = choice_prompt(item, PromptStyle::completion, {shot});
    CHECK(completion.text ==
          "The following are multiple choice questions (with answers) about astronomy.\n\n"
          "Closest to the Sun?\nA. Venus\nB. Mercury\nAnswer: B\n\n"
          "Largest planet?\nA. Jupiter\nB. Mars\nAnswer:");
    const auto chat = choice_prompt(item, PromptStyle::chat);
    CHECK(chat.text.find("'Answer: $LETTER' (without quotes) where LETTER is one of AB.") != std::string::npos);
    CHECK(chat.text.find("Largest planet?\nA) Jupiter\nB) Mars") != std::string::npos);

    const MathItem math{"0", "Ann has 3 apples and buys 4. How many?", "", "7"};
    const auto eight = gsm8k_prompt(math, PromptStyle::completion, 8);
    CHECK(eight.text.find("Q: There are 15 trees in the grove.") == 0);
    const std::string tail = "\n\nQ: Ann has 3 apples and buys 4. How many?\nA:";
    CHECK(eight.text.substr(eight.text.size() - tail.size()) == tail);
    CHECK(gsm8k_prompt(math, PromptStyle::chat, 0).text.find("Q: There are 15 trees") == std::string::npos);

    const CodeItem add{"Made/0", "def add(a, b):\n    \"\"\"Sum.\"\"\"\n", "def check(candidate):\n    assert candidate(2, 3) == 5\n", "add", {}, {}};
    const CodeTest completed = code_test(add, "    return a + b\n", PromptStyle::completion);
    CHECK(completed.program == "def add(a, b):\n    \"\"\"Sum.\"\"\"\n    return a + b\n");
    CHECK(completed.setup == add.prompt);  // the judge's copy of the prompt's helpers, never the completion
    CHECK(completed.test == add.test);
    CHECK(completed.check_entry == "add");
    CHECK(completed.task_names == std::vector<std::string>{"add"});
    // a chat reply that repeats the whole function redefines it after a stub
    const std::string whole = code_test(add, "def add(a, b):\n    return a + b\n", PromptStyle::chat).program;
    CHECK(whole.find("    pass\n\ndef add(a, b):\n    return a + b\n") != std::string::npos);
    // MBPP: the functions the task asks for are the ones its reference solution defines
    CodeItem mbpp{"mbpp/126", "Sum of common divisors.", "assert sum(10,15) == 6\n", "", {"assert sum(10,15) == 6"},
                  "import math\ndef sum(a,b): \n    return 6\nclass Helper:\n    def inner(self): pass\n"};
    const CodeTest m = code_test(mbpp, "def sum(a, b):\n    return 6\n", PromptStyle::completion);
    CHECK(m.task_names == std::vector<std::string>{"sum", "Helper"});
    CHECK(m.check_entry.empty());
    CHECK(m.setup.empty());
}

namespace {
llmbench::TokenLogprobs first_token(std::vector<llmbench::TokenLogprob> top) {
    llmbench::TokenLogprobs t;
    t.sampled = top.empty() ? llmbench::TokenLogprob{"?", -9, std::nullopt} : top.front();
    t.top = std::move(top);
    return t;
}
}  // namespace

TEST_CASE("letter choice - spellings of one letter add up, and the most likely letter wins") {
    // B: " B" and "B", e^-0.5 + e^-1.5 = 0.829660; A: " A" and "a", e^-2 + e^-3 = 0.185122; " the" is no option
    const auto c = letter_choice(first_token({{" B", -0.5, {}}, {" the", -1.0, {}}, {"B", -1.5, {}}, {" A", -2.0, {}}, {"a", -3.0, {}}}), 4);
    REQUIRE(c.chosen == 1u);
    CHECK_FALSE(c.no_letter_in_top_k());
    CHECK(*c.logprobs[1] == doctest::Approx(std::log(0.829660)).epsilon(1e-6));
    CHECK(*c.logprobs[0] == doctest::Approx(std::log(0.185122)).epsilon(1e-6));
    CHECK_FALSE(c.logprobs[2].has_value());
    CHECK_FALSE(c.logprobs[3].has_value());
    CHECK(c.probabilities[1] == doctest::Approx(0.829660 / (0.829660 + 0.185122)).epsilon(1e-6));
    CHECK(c.probabilities[0] == doctest::Approx(0.185122 / (0.829660 + 0.185122)).epsilon(1e-6));
    CHECK(c.probabilities[2] == 0.0);
    CHECK(*c.confidence() == doctest::Approx(0.817567).epsilon(1e-5));
}

TEST_CASE("letter choice - ties go to the earlier letter, letters past the options and absent letters are no choice") {
    CHECK(letter_choice(first_token({{" C", -1.0, {}}, {" A", -1.0, {}}}), 4).chosen == 0u);
    const auto none = letter_choice(first_token({{" the", -0.1, {}}, {" E", -0.2, {}}, {"AB", -0.3, {}}}), 4);  // E is not among 4 options
    CHECK(none.no_letter_in_top_k());
    CHECK(none.probabilities.empty());
    CHECK_FALSE(none.confidence().has_value());
    CHECK(letter_choice(first_token({{" E", -0.2, {}}}), 5).chosen == 4u);
    CHECK(letter_choice(first_token({{"\n d ", -0.2, {}}}), 4).chosen == 3u);
}

TEST_CASE("letter choice - the sampled token counts when the top list leaves it out, and never twice") {
    llmbench::TokenLogprobs only_sampled;
    only_sampled.sampled = {" D", -0.3, {}};
    const auto d = letter_choice(only_sampled, 4);
    CHECK(d.chosen == 3u);
    CHECK(d.probabilities[3] == 1.0);
    llmbench::TokenLogprobs repeated = first_token({{" B", -0.6, {}}, {" A", -0.7, {}}});
    repeated.sampled = {" A", -0.7, {}};  // counted twice, A would be log(2 e^-0.7) = -0.007 and win
    CHECK(letter_choice(repeated, 4).chosen == 1u);
}

TEST_CASE("calibration - accuracy, ECE, Brier and mean confidence against hand values") {
    // Three options, two bins (0, 0.5] and (0.5, 1]:
    //   [0.9 0.05 0.05] gold 0: conf 0.9 right,  Brier 0.01 + 0.0025 + 0.0025 = 0.015   bin 1
    //   [0.2 0.7  0.1 ] gold 0: conf 0.7 wrong,  Brier 0.64 + 0.49 + 0.01   = 1.14    bin 1
    //   [0.4 0.3  0.3 ] gold 0: conf 0.4 right,  Brier 0.36 + 0.09 + 0.09   = 0.54    bin 0
    //   [0.2 0.45 0.35] gold 2: conf 0.45 wrong, Brier 0.04 + 0.2025 + 0.4225 = 0.665 bin 0
    // bin 1: accuracy 0.5, confidence 0.8, |gap| 0.3; bin 0: accuracy 0.5, confidence 0.425, |gap| 0.075
    // ECE = 0.5 * 0.3 + 0.5 * 0.075 = 0.1875; Brier = 2.36 / 4 = 0.59; mean confidence 2.45 / 4 = 0.6125
    const std::vector<ProbabilisticAnswer> answers = {
        {{0.9, 0.05, 0.05}, 0}, {{0.2, 0.7, 0.1}, 0}, {{0.4, 0.3, 0.3}, 0}, {{0.2, 0.45, 0.35}, 2}};
    const llmbench::eval::Calibration c = calibration(answers, 2);
    CHECK(c.n == 4);
    CHECK(c.accuracy == doctest::Approx(0.5));
    CHECK(c.ece == doctest::Approx(0.1875));
    CHECK(c.brier == doctest::Approx(0.59));
    CHECK(c.mean_confidence == doctest::Approx(0.6125));
    REQUIRE(c.bins.size() == 2);
    CHECK(c.bins[0].n == 2);
    CHECK(c.bins[0].mean_confidence == doctest::Approx(0.425));
    CHECK(c.bins[1].n == 2);
    CHECK(c.bins[1].accuracy == doctest::Approx(0.5));
    CHECK(c.bins[1].upper == 1.0);
}

TEST_CASE("calibration - bins are closed above, 15 by default, and items without probabilities are left out") {
    const llmbench::eval::Calibration edges = calibration({{{0.5, 0.5}, 1}, {{1.0, 0.0}, 0}, {}}, 2);
    CHECK(edges.n == 2);
    CHECK(edges.bins[0].n == 1);  // 0.5 is the upper edge of (0, 0.5]; the tie chose option 0, which is wrong
    CHECK(edges.bins[0].accuracy == 0.0);
    CHECK(edges.bins[1].n == 1);  // 1.0 in the last bin
    CHECK(edges.ece == doctest::Approx(0.5 * 0.5 + 0.5 * 0.0));
    CHECK(edges.brier == doctest::Approx((0.25 + 0.25 + 0) / 2));
    const llmbench::eval::Calibration fifteen = calibration({{{0.95, 0.05}, 0}, {{0.55, 0.45}, 0}});
    REQUIRE(fifteen.bins.size() == 15);
    CHECK(fifteen.bins[14].n == 1);  // (14/15, 1]
    CHECK(fifteen.bins[8].n == 1);   // 0.55 * 15 = 8.25: (8/15, 9/15]
    CHECK(calibration({}).n == 0);
}
