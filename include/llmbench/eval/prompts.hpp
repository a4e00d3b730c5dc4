// llmbench/eval/prompts.hpp - what the model is asked, per task and prompt style.
//
// Two styles (see ../shared/docs/evals.md):
//  - chat: one user message sent to /api/chat, asking for a fixed final line, as simple-evals
//    and Meta's llama3 tasks do for chat models;
//  - completion: raw text for /api/generate in lm-evaluation-harness's layout
//    ("...\nAnswer:"), continued by the model.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "llmbench/eval/datasets.hpp"
#include "llmbench/eval/sandbox.hpp"

namespace llmbench::eval {

enum class PromptStyle { chat, completion };

/// A request to make: a chat user message, or a raw prompt to continue.
struct EvalPrompt {
    PromptStyle style = PromptStyle::chat;
    std::string text;
    std::vector<std::string> stop;  ///< stop strings (completion style)
};

namespace detail {
inline std::string letter(std::size_t i) { return std::string(1, static_cast<char>('A' + i)); }

inline std::string subject_name(const std::string& subject) {
    std::string s = subject;
    for (char& c : s)
        if (c == '_') c = ' ';
    return s;
}

inline std::string lettered(const ChoiceItem& item, const char* separator) {
    std::string s;
    for (std::size_t i = 0; i < item.choices.size(); ++i) s += "\n" + letter(i) + separator + item.choices[i];
    return s;
}

/// lm-evaluation-harness's MMLU layout: question, "A. ..." lines, "Answer:".
inline std::string completion_block(const ChoiceItem& item) { return item.question + lettered(item, ". ") + "\nAnswer:"; }
}  // namespace detail

/// A multiple-choice prompt. `shots` are solved examples shown first (MMLU: the subject's dev
/// items in file order), each with its answer letter.
inline EvalPrompt choice_prompt(const ChoiceItem& item, PromptStyle style, const std::vector<ChoiceItem>& shots = {}) {
    EvalPrompt p;
    p.style = style;
    if (style == PromptStyle::completion) {
        if (!item.subject.empty() && item.subject.find(' ') == std::string::npos)  // MMLU's header names the subject
            p.text = "The following are multiple choice questions (with answers) about " + detail::subject_name(item.subject) + ".\n\n";
        for (const auto& s : shots) p.text += detail::completion_block(s) + " " + detail::letter(s.gold) + "\n\n";
        p.text += detail::completion_block(item);
        p.stop = {"\n"};
        return p;
    }
    const std::string letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const std::string valid = letters.substr(0, item.choices.size());
    for (const auto& s : shots)
        p.text += "Example question:\n" + s.question + detail::lettered(s, ") ") + "\nAnswer: " + detail::letter(s.gold) + "\n\n";
    p.text += "Answer the following multiple choice question. The last line of your response should be of the following format: "
              "'Answer: $LETTER' (without quotes) where LETTER is one of " +
              valid + ". Think step by step before answering.\n\n" + item.question + detail::lettered(item, ") ");
    return p;
}

/// The 8 chain-of-thought exemplars of Wei et al. 2022 ("Chain-of-Thought Prompting Elicits
/// Reasoning in Large Language Models"), used by the harness's gsm8k_cot and Meta's 8-shot GSM8K.
inline const std::vector<std::pair<std::string, std::string>>& gsm8k_cot_exemplars() {
    static const std::vector<std::pair<std::string, std::string>> shots = {
        {"There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 "
         "trees. How many trees did the grove workers plant today?",
         "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. "
         "The answer is 6."},
        {"If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
         "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5."},
        {"Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
         "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = "
         "39. The answer is 39."},
        {"Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason give to Denny?",
         "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. The answer is 8."},
        {"Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
         "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. The answer is 9."},
        {"There were nine computers in the server room. Five more computers were installed each day, from monday to thursday. How many "
         "computers are now in the server room?",
         "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers were added. 9 + 20 "
         "is 29. The answer is 29."},
        {"Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls did he have at "
         "the end of wednesday?",
         "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had 35 - 2 = 33 "
         "golf balls. The answer is 33."},
        {"Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
         "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8. "
         "The answer is 8."},
    };
    return shots;
}

/// GSM8K: `shots` 8 gives the chain-of-thought exemplars, 0 asks directly; both ask for a final
/// "The answer is N." so strict extraction has something to find.
inline EvalPrompt gsm8k_prompt(const MathItem& item, PromptStyle style, int shots) {
    EvalPrompt p;
    p.style = style;
    const auto& exemplars = gsm8k_cot_exemplars();
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(std::max(shots, 0)), exemplars.size());
    if (style == PromptStyle::completion) {
        for (std::size_t i = 0; i < n; ++i) p.text += "Q: " + exemplars[i].first + "\nA: " + exemplars[i].second + "\n\n";
        p.text += "Q: " + item.question + "\nA:";
        p.stop = {"Q:", "\n\n"};
        return p;
    }
    for (std::size_t i = 0; i < n; ++i) p.text += "Q: " + exemplars[i].first + "\nA: " + exemplars[i].second + "\n\n";
    p.text += "Solve the following math problem step by step. The last line of your response should be of the form \"The answer is N\" "
              "where N is a number.\n\nQ: " +
              item.question + "\nA:";
    return p;
}

/// HumanEval: completion style continues the signature and docstring (stops at the next
/// top-level statement); chat style asks for the whole function in a code block.
inline EvalPrompt code_prompt(const CodeItem& item, PromptStyle style) {
    EvalPrompt p;
    p.style = style;
    if (!item.test_list.empty()) {  // MBPP
        p.text = "You are an expert Python programmer, and here is your task: " + item.prompt + " Your code should pass these tests:\n\n";
        for (const auto& t : item.test_list) p.text += t + "\n";
        if (style == PromptStyle::completion) {
            p.text += "[BEGIN]\n";
            p.stop = {"[DONE]"};
        } else {
            p.text += "\nReply with the code only, in one ```python block.";
        }
        return p;
    }
    if (style == PromptStyle::completion) {
        p.text = item.prompt;
        p.stop = {"\nclass", "\ndef", "\n#", "\nif", "\nprint"};
        return p;
    }
    p.text = "Read the following function signature and docstring, and fully implement the function described. Your response should "
             "only contain the code for this function, in one ```python block.\n\n" +
             item.prompt;
    return p;
}

/// The names a Python source defines at its top level (`def NAME`, `class NAME`).
inline std::vector<std::string> top_level_definitions(const std::string& source) {
    std::vector<std::string> names;
    for (std::size_t at = 0; at < source.size();) {
        const std::size_t end = std::min(source.find('\n', at), source.size());
        for (const char* keyword : {"def ", "class "}) {
            const std::size_t k = std::char_traits<char>::length(keyword);
            if (source.compare(at, k, keyword) != 0) continue;
            std::size_t name_end = at + k;
            while (name_end < end && (std::isalnum(static_cast<unsigned char>(source[name_end])) || source[name_end] == '_')) ++name_end;
            if (name_end > at + k) names.push_back(source.substr(at + k, name_end - at - k));
        }
        at = end + 1;
    }
    return names;
}

/// How a completion is tested (sandbox.hpp runs it). HumanEval: the candidate runs the prompt
/// + completion (a chat reply that repeats the whole function simply redefines it after a
/// stub), the judge runs the prompt (its helpers, such as `poly`, are the dataset's), the test
/// and check(entry_point). MBPP: the candidate runs the code, the judge the asserts; the
/// functions the task asks for are those the reference solution defines.
inline CodeTest code_test(const CodeItem& item, const std::string& code, PromptStyle style) {
    CodeTest t;
    t.test = item.test;
    if (!item.test_list.empty()) {
        t.program = code;
        t.task_names = top_level_definitions(item.reference_solution);
        return t;
    }
    const bool whole_function = style == PromptStyle::chat && code.find("def " + item.entry_point) != std::string::npos;
    t.program = whole_function ? item.prompt + "    pass\n\n" + code : item.prompt + code;
    t.setup = item.prompt;
    t.check_entry = item.entry_point;
    t.task_names = {item.entry_point};
    return t;
}

}  // namespace llmbench::eval
