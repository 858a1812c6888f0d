"""Specification of the plugin's hooks, implemented in a test project's conftest as a user would.

The conftests here write what the hooks see to ``seen.jsonl`` in the project; the tests read it.
Answers come from litellm's ``mock_response``, set in ``pytest_moralpairs_completion_kwargs``.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.mock_answers import HELP, HURT, LIE, MODEL, TRUTH

CONFTEST_HEAD = """
import json
import pytest

def seen(config, **data):
    with open(config.rootpath / "seen.jsonl", "a") as f:
        f.write(json.dumps(data) + "\\n")
"""

ANSWERING = """
ANSWERS = {answers!r}

@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    kwargs["mock_response"] = ANSWERS[request.sentence]
"""

TWO_PAIRS = f"""
pairs:
  - id: lake
    harmful: {HURT}
    harmless: {HELP}
  - id: grandmother
    harmful: {LIE}
    harmless: {TRUTH}
"""


def project(
    pytester: pytest.Pytester, hooks: str, answers: dict[str, str] | None = None, pairs: str = TWO_PAIRS
) -> None:
    """A project with a pair file and a conftest holding ``hooks`` (and answering ``answers``)."""
    code = CONFTEST_HEAD + textwrap.dedent(hooks)
    if answers is not None:
        code += ANSWERING.format(answers=answers)
    pytester.makeconftest(code)
    if pairs:
        pytester.makefile(".moral.yaml", pairs=pairs)


def seen(pytester: pytest.Pytester) -> list[dict]:
    path = pytester.path / "seen.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def only_the_message(result: pytest.RunResult) -> None:
    """A hook's failure is told by its message: no INTERNALERROR, no traceback, no plugin frame."""
    for pattern in ("*INTERNALERROR*", "*Traceback*", "*pytest_moralpairs/*"):
        result.stdout.no_fnmatch_line(pattern)


# --- pytest_moralpairs_build_messages ------------------------------------------------------------


def test_build_messages_decides_the_messages_sent_to_the_model(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            return [{"role": "system", "content": "You are a careful ethicist."},
                    {"role": "user", "content": "Rate: " + sentence}]

        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            seen(config, messages=kwargs["messages"])
            kwargs["mock_response"] = "0"
        """,
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    pytester.runpytest("--moral-model", MODEL)
    assert sorted(s["messages"][1]["content"] for s in seen(pytester)) == sorted([f"Rate: {HURT}", f"Rate: {HELP}"])
    assert all(s["messages"][0] == {"role": "system", "content": "You are a careful ethicist."} for s in seen(pytester))


def test_build_messages_defaults_to_the_prompt_of_the_pair(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            seen(config, messages=kwargs["messages"])
            kwargs["mock_response"] = "0"
        """,
        pairs=f"""
pairs:
  - id: lake
    harmful: {HURT}
    harmless: {HELP}
    prompt:
      system: Judge actions, not words.
      template: "How ethical is this? {{sentence}}"
""",
    )
    pytester.runpytest("--moral-model", MODEL)
    assert seen(pytester)[0]["messages"][0] == {"role": "system", "content": "Judge actions, not words."}
    assert {s["messages"][1]["content"] for s in seen(pytester)} == {
        f"How ethical is this? {HURT}",
        f"How ethical is this? {HELP}",
    }


def test_build_messages_receives_the_pair_of_a_yaml_item_and_none_from_a_fixture(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            seen(config, sentence=sentence, pair=pair.id if pair is not None else None, prompt=prompt.name)
        """,
        answers={HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"},
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    pytester.makepyfile(test_fixture=f"def test_it(moral_rate):\n    moral_rate({LIE!r})\n")
    pytester.runpytest("--moral-model", MODEL).assert_outcomes(passed=2)
    assert sorted(seen(pytester), key=lambda s: s["sentence"]) == [
        {"sentence": LIE, "pair": None, "prompt": "dillion2023"},
        {"sentence": HELP, "pair": "lake", "prompt": "dillion2023"},
        {"sentence": HURT, "pair": "lake", "prompt": "dillion2023"},
    ]


def test_build_messages_returning_something_unusable_errors_with_a_message(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            return "Rate: " + sentence
        """,
        answers={},
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*a pytest_moralpairs_build_messages hook must return a non-empty list of*"])


def test_build_messages_raising_errors_only_the_pair_it_raised_for(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            if pair.id == "lake":
                raise ValueError("boom")
        """,
        answers={LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["the pytest_moralpairs_build_messages hook raised ValueError for pair 'lake': boom"])
    only_the_message(result)


def test_build_messages_returning_a_generator_that_raises_errors_naming_the_hook(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            def messages():
                yield {"role": "user", "content": sentence}
                if pair.id == "lake":
                    raise ValueError("boom")
            return messages()
        """,
        answers={LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["the pytest_moralpairs_build_messages hook raised ValueError for pair 'lake': boom"])
    only_the_message(result)


@pytest.mark.parametrize(
    "content, shown",
    [("None", "None"), ("Unprintable()", "<Unprintable that cannot be shown>")],
    ids=["none", "unprintable"],
)
def test_build_messages_returning_content_that_is_not_text_errors_naming_the_hook(
    pytester: pytest.Pytester, content: str, shown: str
) -> None:
    project(
        pytester,
        f"""
        class Unprintable:
            def __str__(self):
                raise ValueError("no text")

            __repr__ = __str__

        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            return [{{"role": "system", "content": "Rate it."}}, {{"role": "user", "content": {content}}}]
        """,
        answers={},
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "a pytest_moralpairs_build_messages hook must return messages whose content is a str, "
            f"got {shown} in message 2 for pair 'lake'"
        ]
    )
    only_the_message(result)


@pytest.mark.parametrize(
    "call, raised", [("pytest.skip('not today')", "Skipped"), ("pytest.fail('not today')", "Failed")]
)
def test_build_messages_calling_pytest_skip_or_fail_errors_the_pair(
    pytester: pytest.Pytester, call: str, raised: str
) -> None:
    project(
        pytester,
        f"""
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            if pair.id == "lake":
                {call}
        """,
        answers={LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [f"the pytest_moralpairs_build_messages hook raised {raised} for pair 'lake': not today"]
    )
    only_the_message(result)


def test_build_messages_raising_for_a_template_pair_errors_its_generated_check(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
            raise ValueError("boom")
        """,
        pairs="""
pairs:
  - id: pony
    template: "Person X {verb} his pony with {instrument}."
    decides: instrument
    checks: [directional]
""",
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"could not rate the sentence with {MODEL}: the pytest_moralpairs_build_messages hook raised ValueError: boom"]
    )
    only_the_message(result)


# --- pytest_moralpairs_parse_answer ----------------------------------------------------------------

A_OR_B = """
@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_parse_answer(text, request, config):
    choice = text.strip().upper()
    if choice in ("A", "B"):
        return {"A": -4, "B": 4}[choice]
    return None
"""


def test_parse_answer_reads_answers_the_built_in_parser_cannot(pytester: pytest.Pytester) -> None:
    project(pytester, A_OR_B, answers={HURT: "A", HELP: "b", LIE: "A", TRUTH: "A"})
    result = pytester.runpytest("--moral-model", MODEL, "-v")
    result.stdout.fnmatch_lines(["*::lake PASSED*", "*::grandmother FAILED*"])
    result.stdout.fnmatch_lines(["*lake * -4 * +4 * +8 * 2 * PASSED"])


def test_parse_answer_returning_none_leaves_the_answer_to_the_built_in_parser(pytester: pytest.Pytester) -> None:
    project(pytester, A_OR_B, answers={HURT: "Rating: -2", HELP: "B", LIE: "-1", TRUTH: "**3**"})
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*lake * -2 * +4 * +6 * 2 * PASSED", "*grandmother * -1 * +3 * +4 * 2 * PASSED"])


def test_parse_answer_raising_unparseable_answer_makes_the_pair_error(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        from pytest_moralpairs import UnparseableAnswer

        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_parse_answer(text, request, config):
            raise UnparseableAnswer("expected A or B", text)
        """,
        answers={HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*the answer is not a rating (expected A or B)*"])


def test_parse_answer_returning_a_number_off_the_scale_makes_the_pair_error(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_parse_answer(text, request, config):
            return 10 * float(text)
        """,
        answers={HURT: "-3", HELP: "3", LIE: "0", TRUTH: "0.3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*a pytest_moralpairs_parse_answer hook returned -30.0, outside the scale -4..4*"])


def test_parse_answer_returning_a_number_no_float_holds_makes_the_pair_error(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        f"""
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_parse_answer(text, request, config):
            if request.sentence == {HURT!r}:
                return 10**400
        """,
        answers={HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*a pytest_moralpairs_parse_answer hook returned 10000*..., outside the scale -4..4*"])
    only_the_message(result)


def test_parse_answer_that_crashes_errors_only_the_pair_it_crashed_on(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        f"""
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_parse_answer(text, request, config):
            if request.sentence == {LIE!r}:
                raise RuntimeError("parser bug")
        """,
        answers={HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the pytest_moralpairs_parse_answer hook raised RuntimeError: parser bug*"])


@pytest.mark.parametrize(
    "call, raised", [("pytest.skip('not today')", "Skipped"), ("pytest.fail('not today')", "Failed")]
)
def test_parse_answer_calling_pytest_skip_or_fail_errors_the_pair(
    pytester: pytest.Pytester, call: str, raised: str
) -> None:
    project(
        pytester,
        f"""
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_parse_answer(text, request, config):
            if request.sentence == {HURT!r}:
                {call}
        """,
        answers={HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"},
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [f"*: the answer is not a rating (the pytest_moralpairs_parse_answer hook raised {raised}: not today)"]
    )
    only_the_message(result)


# --- pytest_moralpairs_completion_kwargs ----------------------------------------------------------


def test_completion_kwargs_sees_the_call_litellm_will_make(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            seen(config, sentence=request.sentence, **{k: v for k, v in kwargs.items() if k != "messages"})
            kwargs["mock_response"] = "0"
        """,
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    args = [
        "--moral-model",
        MODEL,
        "--moral-temperature",
        "0.7",
        "--moral-timeout",
        "5",
        "--moral-api-base",
        "http://localhost:9",
    ]
    pytester.runpytest(*args)
    expected = {"model": MODEL, "temperature": 0.7, "timeout": 5.0, "api_base": "http://localhost:9"}
    calls = sorted(seen(pytester), key=lambda s: s["sentence"])
    assert [s["sentence"] for s in calls] == sorted([HURT, HELP])
    assert all({k: s.get(k) for k in expected} == expected for s in calls)


def test_completion_kwargs_changes_reach_litellm(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            kwargs["mock_response"] = "-2" if "push" in request.sentence else "+2"
        """,
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["*lake * -2 * +2 * +4 * 2 * PASSED"])


def test_completion_kwargs_that_raises_makes_the_pair_error(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            raise KeyError("no api key for this project")
        """,
        pairs=TWO_PAIRS.split("  - id: grandmother")[0],
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"could not rate the * sentence with {MODEL}: "
            "the pytest_moralpairs_completion_kwargs hook raised KeyError: 'no api key for this project'"
        ]
    )


def test_completion_kwargs_that_raises_makes_no_call_and_no_retry(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        f"""
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            seen(config, sentence=request.sentence)
            if request.sentence == {HURT!r}:
                raise ConnectionError("the proxy is down")
            kwargs["mock_response"] = "-3" if request.sentence == {LIE!r} else "3"
        """,
    )
    result = pytester.runpytest("--moral-model", MODEL, "--moral-retries", "3")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"could not rate the harmful sentence with {MODEL}: the pytest_moralpairs_completion_kwargs hook raised "
            "ConnectionError: the proxy is down"
        ]
    )
    result.stdout.fnmatch_lines(["1 passed, 1 error (not rated); 3 model calls*"])  # grandmother's 2, lake's HELP
    assert sorted(s["sentence"] for s in seen(pytester)) == sorted([HURT, HELP, LIE, TRUTH])


@pytest.mark.parametrize(
    "call, raised", [("pytest.skip('not today')", "Skipped"), ("pytest.fail('not today')", "Failed")]
)
def test_completion_kwargs_calling_pytest_skip_or_fail_errors_the_pair(
    pytester: pytest.Pytester, call: str, raised: str
) -> None:
    project(
        pytester,
        f"""
        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            if request.sentence == {HURT!r}:
                {call}
            kwargs["mock_response"] = "-3" if request.sentence == {LIE!r} else "3"
        """,
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*: the pytest_moralpairs_completion_kwargs hook raised {raised}: not today"])
    only_the_message(result)


# --- pytest_moralpairs_result --------------------------------------------------------------------

RECORD_RESULTS = """
@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_result(result, config):
    seen(config, **{k: result[k] for k in ("nodeid", "pair_id", "outcome", "gap", "threshold", "model")})
"""


def test_result_receives_every_pair_with_its_outcome(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        RECORD_RESULTS,
        answers={HURT: "-3", HELP: "3", LIE: "-1", TRUTH: "0", "A lie.": "-1", "The truth.": "What?"},
        pairs=TWO_PAIRS + "  - id: broken\n    harmful: A lie.\n    harmless: The truth.\n",
    )
    pytester.runpytest("--moral-model", MODEL)
    assert sorted((s["pair_id"], s["outcome"]) for s in seen(pytester)) == [
        ("broken", "error"),
        ("grandmother", "failed"),
        ("lake", "passed"),
    ]


def test_result_carries_the_gap_threshold_and_model(pytester: pytest.Pytester) -> None:
    project(pytester, RECORD_RESULTS, answers={HURT: "-3", HELP: "1"}, pairs=TWO_PAIRS.split("  - id: grandmother")[0])
    pytester.runpytest("--moral-model", MODEL, "--moral-threshold", "1.5")
    assert seen(pytester) == [
        {
            "nodeid": "pairs.moral.yaml::lake",
            "pair_id": "lake",
            "outcome": "passed",
            "gap": 4.0,
            "threshold": 1.5,
            "model": MODEL,
        }
    ]


def test_result_receives_fixture_pairs_including_errors(pytester: pytest.Pytester) -> None:
    project(pytester, RECORD_RESULTS, answers={HURT: "-3", HELP: "3", LIE: "-1", TRUTH: "no comment"}, pairs="")
    pytester.makepyfile(
        test_fixture=f"""
        def test_lake(moral_pair):
            moral_pair({HURT!r}, {HELP!r})

        def test_grandmother(moral_pair):
            moral_pair({LIE!r}, {TRUTH!r})
        """
    )
    pytester.runpytest("--moral-model", MODEL).assert_outcomes(passed=1, errors=1)
    assert sorted((s["nodeid"], s["outcome"]) for s in seen(pytester)) == [
        ("test_fixture.py::test_grandmother", "error"),
        ("test_fixture.py::test_lake", "passed"),
    ]


# --- conftest hooks when the plugin is disabled ---------------------------------------------------

ALL_HOOKS = """
@pytest.hookimpl{marker}
def pytest_moralpairs_build_messages(sentence, prompt, pair, config):
    return None

@pytest.hookimpl{marker}
def pytest_moralpairs_parse_answer(text, request, config):
    return None

@pytest.hookimpl{marker}
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    kwargs["mock_response"] = "0"

@pytest.hookimpl{marker}
def pytest_moralpairs_result(result, config):
    pass
"""


def test_optional_conftest_hooks_work_with_the_plugin_disabled(pytester: pytest.Pytester) -> None:
    project(pytester, ALL_HOOKS.format(marker="(optionalhook=True)"))
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:moralpairs")
    result.assert_outcomes(passed=1)


def test_conftest_hooks_without_optionalhook_break_a_run_with_the_plugin_disabled(pytester: pytest.Pytester) -> None:
    project(pytester, ALL_HOOKS.format(marker="()"))
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:moralpairs")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*PluginValidationError: unknown hook 'pytest_moralpairs_*' in plugin *conftest*"])


def test_conftest_hooks_without_optionalhook_work_with_the_plugin_enabled(pytester: pytest.Pytester) -> None:
    project(pytester, ALL_HOOKS.format(marker="()"))
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(failed=2)
