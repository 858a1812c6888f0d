"""Specification of the pytest plugin for pair files, run the way a user runs pytest.

Model answers are chosen per sentence through litellm's own ``mock_response`` argument, set by
the plugin's ``pytest_moralpairs_completion_kwargs`` hook in the test project's conftest: the real
litellm call path runs, and nothing touches the network.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET

import pytest

from tests.mock_answers import HELP, HURT, LIE, MODEL, TRUTH, answers, no_plugin_traceback


def pair_file(pytester: pytest.Pytester, text: str, name: str = "pairs") -> None:
    pytester.makefile(".moral.yaml", **{name: textwrap.dedent(text)})


ONE_PAIR = f"""
    pairs:
      - id: lake
        harmful: {HURT}
        harmless: {HELP}
"""


# --- ERROR versus FAIL --------------------------------------------------------------------


def test_an_answer_that_is_not_a_number_makes_the_pair_error_not_fail(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "I would rather not judge people.", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=1)


def test_an_erroring_pair_shows_the_raw_answer_and_the_sentence(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "I would rather not judge people.", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(
        [
            "*could not rate the harmful sentence with openai/mock-model*no number*",
            f"*sentence: {HURT}",
            "*raw answer: 'I would rather not judge people.'",
        ]
    )
    no_plugin_traceback(result)


def test_a_number_outside_the_scale_makes_the_pair_error(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-7", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*outside the scale -4..4*", "*raw answer: '-7'"])


def test_a_gap_below_the_threshold_fails_the_pair(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "0"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_gap_at_the_threshold_passes_the_pair(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "1"})
    pair_file(pytester, ONE_PAIR)
    pytester.runpytest("--moral-model", MODEL).assert_outcomes(passed=1)


def test_float_noise_in_the_gap_does_not_decide_the_verdict(pytester: pytest.Pytester) -> None:
    # 2.3 - 0.3 == 1.9999999999999998 in floating point; the gap is 2 and meets threshold 2.
    answers(pytester, {HURT: "0.3", HELP: "2.3"})
    pair_file(pytester, ONE_PAIR)
    pytester.runpytest("--moral-model", MODEL).assert_outcomes(passed=1)


def test_a_failure_report_shows_sentences_ratings_gap_threshold_model_and_raw_answers(
    pytester: pytest.Pytester,
) -> None:
    answers(pytester, {HURT: "Rating: -1", HELP: "**0**"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(
        [
            "*moral pair 'lake': gap +1 < threshold 2*(model openai/mock-model)",
            f"*harmful*rated*-1*{HURT}",
            f"*harmless*rated*0*{HELP}",
            "*gap = rating(harmless) - rating(harmful) = 0 - (-1) = +1",
            "*raw answers: harmful 'Rating: -1', harmless '**0**'",
        ]
    )


def test_a_failure_report_has_no_traceback_from_the_plugin(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "0"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(failed=1)
    no_plugin_traceback(result)


# --- threshold precedence: pair > file defaults > --moral-threshold > ini > 2.0 -------------------


def test_the_built_in_threshold_is_2(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "0.5"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["*gap +1.5 < threshold 2 *"])


def test_the_ini_threshold_replaces_the_built_in_one(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "0.5"})
    pair_file(pytester, ONE_PAIR)
    pytester.makeini("[pytest]\nmoral_threshold = 1\n")
    pytester.runpytest("--moral-model", MODEL).assert_outcomes(passed=1)


def test_the_command_line_threshold_beats_the_ini_one(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "1.5"})
    pair_file(pytester, ONE_PAIR)
    pytester.makeini("[pytest]\nmoral_threshold = 1\n")
    result = pytester.runpytest("--moral-model", MODEL, "--moral-threshold", "3")
    result.stdout.fnmatch_lines(["*gap +2.5 < threshold 3 *"])


def test_the_file_defaults_threshold_beats_the_command_line(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "0"})
    pair_file(pytester, "defaults:\n  threshold: 1\n" + textwrap.dedent(ONE_PAIR))
    pytester.runpytest("--moral-model", MODEL, "--moral-threshold", "3").assert_outcomes(passed=1)


def test_the_pair_threshold_beats_the_file_defaults(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-1", HELP: "0"})
    pair_file(
        pytester,
        f"""
        defaults:
          threshold: 1
        pairs:
          - id: lake
            harmful: {HURT}
            harmless: {HELP}
            threshold: 1.5
        """,
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["*gap +1 < threshold 1.5 *"])


@pytest.mark.parametrize(
    "args, named",
    [
        (["--moral-threshold", "abc"], "--moral-threshold must be a number, got 'abc'"),
        (["--moral-threshold", "9"], "--moral-threshold must lie in -8..8*"),
        (["--moral-threshold", "nan"], "--moral-threshold must lie in -8..8*"),
        (["--moral-temperature", "hot"], "--moral-temperature must be a number*"),
        (["--moral-concurrency", "2.5"], "--moral-concurrency must be a whole number*"),
        (["--moral-timeout", "0"], "--moral-timeout must lie in*"),
        (["--moral-max-retry-after", "-1"], "--moral-max-retry-after must lie in 0..86400, got -1.0"),
        (["--moral-max-retry-after", "soon"], "--moral-max-retry-after must be a number, got 'soon'"),
    ],
    ids=[
        "threshold-word",
        "threshold-too-big",
        "threshold-nan",
        "temperature",
        "concurrency",
        "timeout",
        "max-retry-after-negative",
        "max-retry-after-word",
    ],
)
def test_a_bad_command_line_value_is_a_usage_error_naming_the_option(
    pytester: pytest.Pytester, args: list[str], named: str
) -> None:
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-moralpairs: {named}"])


def test_a_bad_ini_value_is_a_usage_error_naming_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmoral_threshold = high\n")
    result = pytester.runpytest("--moral-model", MODEL)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option moral_threshold must be a number, got 'high'"])


# --- model: --moral-model > env MORALPAIRS_MODEL > ini moral_model ---------------------------------


def _models_used(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    answers(pytester, {HURT: "-3", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    return pytester.runpytest(*args)


def test_the_model_comes_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmoral_model = openai/from-ini\n")
    result = _models_used(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= moralpairs: openai/from-ini =*"])


def test_the_environment_model_beats_the_ini_file(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nmoral_model = openai/from-ini\n")
    monkeypatch.setenv("MORALPAIRS_MODEL", "openai/from-env")
    result = _models_used(pytester)
    result.stdout.fnmatch_lines(["*= moralpairs: openai/from-env =*"])


def test_the_command_line_model_beats_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MORALPAIRS_MODEL", "openai/from-env")
    result = _models_used(pytester, "--moral-model", "openai/from-cli")
    result.stdout.fnmatch_lines(["*= moralpairs: openai/from-cli =*"])


def test_without_a_model_selected_pairs_stop_the_run_before_anything_runs(pytester: pytest.Pytester) -> None:
    pair_file(pytester, ONE_PAIR)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.no_fnmatch_line("*passed*")
    result.stdout.no_fnmatch_line("*test_plain.py .*")


def test_without_a_model_template_pairs_stop_the_run_too(pytester: pytest.Pytester) -> None:
    pair_file(pytester, "pairs:\n  - {id: pony, template: 'Person X {verb} his pony.', decides: verb}\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-moralpairs: no model is configured*"])


def test_without_a_model_the_message_says_how_to_set_one(pytester: pytest.Pytester) -> None:
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-moralpairs: no model is configured, so the moral pairs cannot be rated.",
            "Set one with --moral-model=MODEL, the ini option moral_model, or the environment variable "
            "MORALPAIRS_MODEL*moralpairs/lexical*",
        ]
    )


def test_without_a_model_collect_only_still_lists_the_pairs(pytester: pytest.Pytester) -> None:
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--co", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["pairs.moral.yaml::lake", "1 test collected*"])


def test_without_a_model_a_run_with_no_pairs_is_unaffected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= moralpairs*")
    result.stdout.no_fnmatch_line("*no model is configured*")


def test_without_a_model_deselected_pairs_do_not_stop_the_run(pytester: pytest.Pytester) -> None:
    pair_file(pytester, ONE_PAIR)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.runpytest("-k", "plain").assert_outcomes(passed=1)


# --- terminal summary ----------------------------------------------------------------------------

THREE_PAIRS = f"""
    pairs:
      - id: lake
        harmful: {HURT}
        harmless: {HELP}
      - id: grandmother
        harmful: {LIE}
        harmless: {TRUTH}
      - id: mixed
        harmful: {LIE}
        harmless: {HELP}
"""


def test_the_summary_has_one_row_per_pair_with_ratings_gap_threshold_and_verdict(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3", LIE: "-1", TRUTH: "0"})
    pair_file(pytester, THREE_PAIRS)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(
        [
            "*= moralpairs: openai/mock-model =*",
            "pair * harmful * harmless * gap * threshold * verdict",
            "pairs.moral.yaml::lake * -3 * +3 * +6 * 2 * PASSED",
            "pairs.moral.yaml::grandmother * -1 * 0 * +1 * 2 * FAILED",
            "pairs.moral.yaml::mixed * -1 * +3 * +4 * 2 * PASSED",
        ]
    )


def test_the_summary_shows_fractional_gaps_unrounded(pytester: pytest.Pytester) -> None:
    # Rounded to two significant digits, a failing gap of 1.96 used to read "+2" against threshold 2.
    answers(pytester, {HURT: "-1.21", HELP: "0.75"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["pairs.moral.yaml::lake * -1.21 * +0.75 * +1.96 * 2 * FAILED"])


def test_the_summary_totals_verdicts_and_counts_each_distinct_sentence_once(pytester: pytest.Pytester) -> None:
    # Five sentence slots across three pairs, but only four distinct sentences: four model calls.
    answers(pytester, {HURT: "-3", HELP: "3", LIE: "-1", TRUTH: "oops"})
    pair_file(pytester, THREE_PAIRS)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["2 passed, 1 error (not rated); 4 model calls; 120 tokens"])


def test_a_sentence_shared_by_pair_files_and_fixtures_is_rated_once(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3", LIE: "-1", TRUTH: "2"})
    pair_file(pytester, THREE_PAIRS)
    pair_file(pytester, ONE_PAIR.replace("id: lake", "id: lake_again"), name="more")
    pytester.makepyfile(
        test_fixture=f"""
        def test_pair(moral_pair):
            moral_pair({LIE!r}, {TRUTH!r})
        """
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["5 passed; 4 model calls; 120 tokens"])


def test_an_error_row_shows_no_ratings_but_the_threshold_it_would_have_used(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "unsure", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(
        ["pairs.moral.yaml::lake * - * - * - * 2 * ERROR", "1 error (not rated); 2 model calls; 60 tokens"]
    )


def test_a_run_that_only_rates_sentences_shows_just_the_model_calls(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3"})
    pytester.makepyfile(
        test_rate=f"def test_rate(moral_rate):\n    assert moral_rate({HURT!r}) < moral_rate({HELP!r})\n"
    )
    result = pytester.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["*= moralpairs =*", "no pairs rated; 2 model calls; 60 tokens"])
    result.stdout.no_fnmatch_line("pair * verdict")


def test_there_is_no_summary_when_no_pair_ran(pytester: pytest.Pytester) -> None:
    pair_file(pytester, ONE_PAIR)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("--moral-model", MODEL, "-k", "plain")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= moralpairs*")
    result.stdout.no_fnmatch_line("*no model is configured*")
    result.stdout.no_fnmatch_line("*model call*")
    result.stdout.no_fnmatch_line("moralpairs: */* model calls*")


def test_the_summary_is_shown_under_quiet(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    result = pytester.runpytest("--moral-model", MODEL, "-q")
    result.stdout.fnmatch_lines(["pairs.moral.yaml::lake * PASSED", "1 passed; 2 model calls; 60 tokens"])


# --- tags become markers ---------------------------------------------------------------------------

TAGGED = f"""
    defaults:
      tags: [family]
    pairs:
      - id: lake
        harmful: {HURT}
        harmless: {HELP}
        tags: [violence, children]
      - id: grandmother
        harmful: {LIE}
        harmless: {TRUTH}
"""


def test_pair_tags_select_pairs_with_dash_m(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"})
    pair_file(pytester, TAGGED)
    result = pytester.runpytest("--moral-model", MODEL, "-m", "violence and not slow", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*pairs.moral.yaml::lake PASSED*"])


def test_default_tags_apply_to_every_pair_of_the_file(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"})
    pair_file(pytester, TAGGED)
    pytester.runpytest("--moral-model", MODEL, "-m", "family").assert_outcomes(passed=2)


def test_tags_are_registered_markers_under_strict_markers(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3", LIE: "-3", TRUTH: "3"})
    pair_file(pytester, TAGGED)
    result = pytester.runpytest("--moral-model", MODEL, "--strict-markers", "-m", "children")
    result.assert_outcomes(passed=1, deselected=1)


def test_every_pair_carries_the_moralpairs_marker(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "3"})
    pair_file(pytester, ONE_PAIR)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.runpytest("--moral-model", MODEL, "-m", "not moralpairs").assert_outcomes(passed=1, deselected=1)


# --- junit XML --------------------------------------------------------------------------------------


def _junit_properties(pytester: pytest.Pytester, *args: str) -> dict[str, dict[str, str]]:
    xml = pytester.path / "junit.xml"
    pytester.runpytest("--moral-model", MODEL, f"--junitxml={xml}", *args)
    cases = ET.parse(xml).getroot().iter("testcase")
    return {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")} for case in cases}


def test_junit_xml_carries_each_pairs_gap_ratings_threshold_model_and_outcome(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "-3", HELP: "1"})
    pair_file(pytester, ONE_PAIR)
    properties = _junit_properties(pytester)
    assert properties["lake"] == {
        "moral_gap": "4.0",
        "moral_gap_low": "4.0",
        "moral_gap_high": "4.0",
        "moral_samples": "1",
        "moral_harmful_rating": "-3.0",
        "moral_harmless_rating": "1.0",
        "moral_threshold": "2.0",
        "moral_model": MODEL,
        "moral_outcome": "passed",
    }


def test_junit_xml_marks_an_erroring_pair_with_outcome_error(pytester: pytest.Pytester) -> None:
    answers(pytester, {HURT: "no idea", HELP: "1"})
    pair_file(pytester, ONE_PAIR)
    properties = _junit_properties(pytester)
    assert properties["lake"] == {"moral_model": MODEL, "moral_outcome": "error", "moral_threshold": "2.0"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--moral-seed", "-1"], "--moral-seed must lie in 0..2**63-1, got -1"),
        (["--moral-max-cost", "1e12"], "--moral-max-cost must lie in 0..1,000,000,000, got 1,000,000,000,000"),
    ],
    ids=["seed", "max-cost"],
)
def test_a_range_in_an_option_error_is_written_as_a_person_reads_it(pytester, args, message):
    # Not "0..9.22337e+18".
    result = pytester.runpytest("--moral-model", "moralpairs/lexical", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


# --- many failing pairs --------------------------------------------------------------------------

SETUP_TEARDOWN_COUNTER = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    kept = [r for r in terminalreporter.stats.get("", ()) if r.nodeid.startswith("pairs.moral.yaml")]
    terminalreporter.write_line(f"setup/teardown reports kept for the failure summary: {len(kept)}")
"""


def _failing_pairs(pytester: pytest.Pytester, count: int) -> None:
    rows = "".join(f"  - {{id: p{i}, harmful: 'I lied {i}.', harmless: 'I lied too {i}.'}}\n" for i in range(count))
    pair_file(pytester, "defaults: {threshold: 8}\npairs:\n" + rows)


def test_failing_pairs_leave_pytest_no_setup_or_teardown_report_to_scan(pytester: pytest.Pytester) -> None:
    # pytest's failure summary scans every passed setup/teardown report once per failure: with
    # thousands of failing pairs that is quadratic. The plugin drops the ones with nothing to show.
    pytester.makeconftest(SETUP_TEARDOWN_COUNTER)
    _failing_pairs(pytester, 30)

    result = pytester.runpytest("--moral-model", "moralpairs/lexical")

    result.assert_outcomes(failed=30)
    result.stdout.fnmatch_lines(["setup/teardown reports kept for the failure summary: 0"])


def test_output_a_failing_pair_captured_in_teardown_is_still_shown(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        SETUP_TEARDOWN_COUNTER + "\ndef pytest_runtest_teardown(item):\n    print('teardown of', item.name)\n"
    )
    _failing_pairs(pytester, 2)

    result = pytester.runpytest("--moral-model", "moralpairs/lexical")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*Captured stdout teardown*", "teardown of p0", "*", "setup/teardown reports kept for the failure summary: 2"]
    )
