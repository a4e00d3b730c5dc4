// Answer extraction over many reply styles, pass@k and the Wilson interval against
// hand-computed values, and the prompts each style sends.
#include <llmbench/eval/extract.hpp>
#include <llmbench/eval/prompts.hpp>
#include <llmbench/eval/scoring.hpp>

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

TEST_CASE("MMLU categories and Meta's references for the same setting only") {
    CHECK(mmlu_category("college_physics") == "STEM");
    CHECK(mmlu_category("professional_law") == "humanities");
    CHECK(mmlu_category("sociology") == "social sciences");
    CHECK(mmlu_category("virology") == "other");
    CHECK(meta_reference("mmlu", "chat", 5)->score == doctest::Approx(0.694));
    CHECK(meta_reference("gsm8k", "chat", 8)->score == doctest::Approx(0.845));
    CHECK_FALSE(meta_reference("mmlu", "completion", 5).has_value());  // Meta's Instruct numbers are generative chat
    CHECK_FALSE(meta_reference("hellaswag", "chat", 0).has_value());   // not in the model card
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
    CHECK(code_program(add, "    return a + b\n", PromptStyle::completion) ==
          "def add(a, b):\n    \"\"\"Sum.\"\"\"\n    return a + b\n\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n\n\ncheck(add)\n");
    // a chat reply that repeats the whole function redefines it after a stub
    const std::string whole = code_program(add, "def add(a, b):\n    return a + b\n", PromptStyle::chat);
    CHECK(whole.find("    pass\n\ndef add(a, b):\n    return a + b\n") != std::string::npos);
}
