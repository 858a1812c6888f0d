"""Specification of what a run does with settings that cannot work, or that work but likely do
not do what was meant: one clear message naming the setting, never a model call that was bound to
fail, never an INTERNALERROR or the plugin's own frames, also when ``-W error`` turns warnings into
errors."""

from __future__ import annotations

import itertools
import threading

import pytest

from tests.mock_answers import no_plugin_traceback, run_against, write_pairs

OFFLINE = "moralpairs/lexical"
PONY = ("pony", "Person X lashed his pony with a whip.", "Person X fed his pony an apple.")


def offline(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


# --- a built-in model that does not exist ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (["--moral-model", "moralpairs/lexcial"], {}, "--moral-model"),
        ([], {"MORALPAIRS_MODEL": "moralpairs/lexcial"}, "the environment variable MORALPAIRS_MODEL"),
        (["--moral-model", OFFLINE, "--moral-baseline-model", "moralpairs/nope"], {}, "--moral-baseline-model"),
    ],
)
def test_a_mistyped_built_in_model_is_a_usage_error_naming_where_it_was_set_and_the_models_offered(
    pytester, monkeypatch, args, env, where
):
    # Left to litellm, the typo fails as a server error inside every call, each tried again.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_pairs(pytester, PONY)

    result = offline(pytester, *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    bad = "moralpairs/nope" if "nope" in " ".join(args) else "moralpairs/lexcial"
    result.stderr.fnmatch_lines(
        [f"*pytest-moralpairs: {where}: there is no built-in model '{bad}'; moralpairs offers: moralpairs/lexical"]
    )


def test_a_mistyped_built_in_model_in_a_marker_errors_that_test_alone(pytester):
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.moralpairs(model="moralpairs/lexcial")
        def test_typo(moral_rate):
            moral_rate("Person X fed his pony an apple.")

        def test_fine(moral_rate):
            assert moral_rate("Person X fed his pony an apple.") >= 0
        """
    )

    result = offline(pytester, "--moral-model", OFFLINE)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*there is no built-in model 'moralpairs/lexcial'; moralpairs offers*"])
    no_plugin_traceback(result)


# --- warnings, and warnings made errors ----------------------------------------------------------


def test_a_baseline_that_is_the_model_under_test_is_named_in_the_warnings_summary(pytester):
    write_pairs(pytester, PONY)

    result = offline(pytester, "--moral-model", OFFLINE, "--moral-baseline-model", OFFLINE)

    result.stdout.fnmatch_lines(["*SettingsWarning: --moral-baseline-model is the model under test*no baseline*"])


def test_a_settings_warning_made_an_error_by_w_error_is_a_usage_error_not_an_internal_error(pytester):
    write_pairs(pytester, PONY)

    result = offline(pytester, "--moral-model", OFFLINE, "--moral-samples", "3", "-W", "error")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--moral-samples 3 at temperature 0*(a SamplingWarning, turned into an error by the warning filters)"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


class Alternating:
    """A server rule: each sentence's answers in turn, so 4 samples give a gap of about 2 whose
    interval contains a threshold of 2 (inconclusive)."""

    def __init__(self) -> None:
        self.turns: dict[str, itertools.cycle] = {
            PONY[1]: itertools.cycle(["-3", "-1"]),
            PONY[2]: itertools.cycle(["-1", "1"]),
        }
        self.lock = threading.Lock()

    def __call__(self, sentence: str, body: dict) -> str:
        with self.lock:
            return next(self.turns[sentence])


def test_an_inconclusive_warning_made_an_error_fails_the_pair_with_its_explanation(pytester, openai_server):
    openai_server.answers = Alternating()
    write_pairs(pytester, PONY)

    result = run_against(
        pytester,
        openai_server,
        "--moral-samples",
        "4",
        "--moral-temperature",
        "0.7",
        "--moral-inconclusive",
        "warn",
        "-W",
        "error::UserWarning",
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*moral pair 'pony': inconclusive*",
            "*(an InconclusiveWarning, turned into an error by the warning filters)*",
        ]
    )
    no_plugin_traceback(result)


# --- places a user's mistake could reach the plugin's insides ----------------------------------------


@pytest.mark.parametrize("mode", ["readwrite", "read"])
def test_a_file_given_as_the_cache_folder_is_a_usage_error_before_any_call(pytester, mode):
    write_pairs(pytester, PONY)

    result = offline(pytester, "--moral-model", OFFLINE, "--moral-cache-dir", "pairs.moral.yaml", "--moral-cache", mode)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*the response cache cannot be kept in 'pairs.moral.yaml' (--moral-cache-dir / moral_cache_dir): it is not*"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# --- a report or saved run that would replace a file the run reads -------------------------------


def refused(result: pytest.RunResult, *lines: str) -> None:
    """A usage error (exit status 4) saying ``lines``, and no INTERNALERROR."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    result.stderr.fnmatch_lines([f"ERROR: pytest-moralpairs: {line}" for line in lines])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("option", ["--moral-report=json:pairs.moral.yaml", "--moral-save=pairs.moral.yaml"])
def test_a_report_or_saved_run_over_a_pair_file_is_a_usage_error_before_any_call(pytester, openai_server, option):
    write_pairs(pytester, PONY)
    before = (pytester.path / "pairs.moral.yaml").read_bytes()

    result = run_against(pytester, openai_server, option)

    refused(
        result,
        f"{option.replace('=', ' ')} would overwrite a pair file (its name matches moral_files '*.moral.yaml'); "
        "write it under another name",
    )
    assert (pytester.path / "pairs.moral.yaml").read_bytes() == before
    assert openai_server.count == 0


def test_a_report_named_like_a_pair_file_is_a_usage_error_as_the_next_run_would_collect_it(pytester):
    write_pairs(pytester, PONY)

    result = offline(pytester, "--moral-model", OFFLINE, "--moral-report", "json:out/run.moral.yml")

    refused(
        result,
        "--moral-report json:out/run.moral.yml would write a file the next run collects as a pair file "
        "(its name matches moral_files '*.moral.yml'); write it under another name",
    )
    assert not (pytester.path / "out").exists()


def test_the_pair_file_globs_are_those_of_the_moral_files_ini_option(pytester):
    pytester.makeini("[pytest]\nmoral_files = *.pairs.yaml\n")
    write_pairs(pytester, PONY)
    (pytester.path / "pairs.moral.yaml").rename(pytester.path / "dogs.pairs.yaml")

    refused(
        offline(pytester, "--moral-model", OFFLINE, "--moral-report", "json:dogs.pairs.yaml"),
        "--moral-report json:dogs.pairs.yaml would overwrite a pair file*",
    )
    offline(pytester, "--moral-model", OFFLINE, "--moral-report", "json:run.moral.yaml").assert_outcomes(failed=1)


def test_a_report_path_that_links_to_a_pair_file_is_a_usage_error(pytester):
    write_pairs(pytester, PONY)
    (pytester.path / "latest.json").symlink_to(pytester.path / "pairs.moral.yaml")

    refused(
        offline(pytester, "--moral-model", OFFLINE, "--moral-report", "json:latest.json"),
        f"--moral-report json:latest.json would overwrite a pair file (it links to {pytester.path}/pairs.moral.yaml, "
        "whose name matches moral_files '*.moral.yaml'); write it under another name",
    )


def test_a_saved_run_set_in_the_ini_file_over_a_pair_file_names_the_ini_option(pytester):
    pytester.makeini("[pytest]\nmoral_save = pairs.moral.yaml\n")
    write_pairs(pytester, PONY)

    refused(offline(pytester, "--moral-model", OFFLINE), "ini option moral_save = pairs.moral.yaml would overwrite*")


def test_a_report_over_a_persona_file_a_pair_reads_is_a_usage_error_before_any_call(pytester, openai_server):
    (pytester.path / "moral").mkdir()
    persona_file = pytester.path / "moral" / "voices.personas.yaml"
    persona_file.write_text("personas: [a nurse, a farmer]\n", encoding="utf-8")
    write_pairs(pytester, PONY, name="moral/pairs")
    pairs = pytester.path / "moral" / "pairs.moral.yaml"
    pairs.write_text(
        pairs.read_text().replace("version: 1\n", "version: 1\ndefaults: {personas: voices.personas.yaml}\n")
    )

    result = run_against(
        pytester, openai_server, "--moral-report", "html:moral/./voices.personas.yaml", "-k", "nothing"
    )

    refused(
        result,
        "--moral-report html:moral/./voices.personas.yaml would overwrite the persona file "
        "moral/voices.personas.yaml; write it under another name",
    )
    assert persona_file.read_text() == "personas: [a nurse, a farmer]\n"
    assert openai_server.count == 0


def test_a_saved_run_over_a_lexicon_file_is_a_usage_error(pytester):
    (pytester.path / "words.yaml").write_text("slots:\n  tool:\n    harmful: [a hammer]\n    harmless: [a pillow]\n")
    pytester.makeini("[pytest]\nmoral_lexicon = words.yaml\n")
    write_pairs(pytester, PONY)

    refused(
        offline(pytester, "--moral-model", OFFLINE, "--moral-save", "words.yaml"),
        f"--moral-save words.yaml would overwrite the lexicon file {pytester.path}/words.yaml; "
        "write it under another name",
    )


def test_a_missing_cache_folder_is_created_and_read_only_runs_do_not_need_one(pytester):
    write_pairs(pytester, PONY)

    offline(pytester, "--moral-model", OFFLINE, "--moral-cache-dir", "kept/cache").assert_outcomes(failed=1)
    offline(
        pytester, "--moral-model", OFFLINE, "--moral-cache-dir", "none/yet", "--moral-cache", "read"
    ).assert_outcomes(failed=1)

    assert (pytester.path / "kept" / "cache").is_dir() and not (pytester.path / "none").exists()


def test_no_model_call_is_made_when_a_collection_error_will_stop_the_run(pytester, openai_server):
    # pytest stops before running anything when a Python test file fails to import: the batch
    # of ratings must not be paid for first.
    write_pairs(pytester, PONY)
    pytester.makepyfile(test_broken="x = (\n")

    result = run_against(pytester, openai_server)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*Interrupted: 1 error during collection*"])
    assert openai_server.count == 0


RESULT_HOOKS = """
    import pytest

    @pytest.hookimpl(optionalhook=True)
    def pytest_moralpairs_result(result, config):
        {body}
"""


def test_a_result_hook_that_raises_is_one_line_in_the_summary_and_fails_the_run(pytester):
    pytester.makeconftest(RESULT_HOOKS.format(body="raise RuntimeError('the job summary is not writable')"))
    write_pairs(pytester, ("fed", "Person X poisoned the dog.", "Person X fed the dog."))

    result = offline(pytester, "--moral-model", OFFLINE)

    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["the pytest_moralpairs_result hook raised RuntimeError: the job summary is not writable (for *::fed*"]
    )
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_result_hook_that_changes_its_result_changes_nothing_else(pytester):
    pytester.makeconftest(RESULT_HOOKS.format(body="result['gap'] = 'oops'; result['outcome'] = 'error'"))
    write_pairs(pytester, ("fed", "Person X poisoned the dog.", "Person X fed the dog."))

    result = offline(pytester, "--moral-model", OFFLINE, "--moral-report", "json:run.json")

    assert result.ret == pytest.ExitCode.OK
    result.stdout.re_match_lines([r"pairs.moral.yaml::fed .* PASSED$", r"1 passed; 2 model calls"])
    assert '"outcome": "passed"' in (pytester.path / "run.json").read_text()


def test_a_fixture_takes_a_built_in_prompt_by_name_and_explains_anything_else(pytester):
    pytester.makepyfile(
        test_prompts="""
        def test_by_name(moral_pair):
            moral_pair("Person X poisoned the dog.", "Person X fed the dog.", prompt="dillion2023")

        def test_by_mistake(moral_rate):
            moral_rate("Person X fed the dog.", prompt={"template": "{sentence}"})
        """
    )

    result = offline(pytester, "--moral-model", OFFLINE)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*ValueError: prompt= must be a PromptTemplate(name, template, system=None) or the name*"]
    )
    no_plugin_traceback(result)


def test_an_ini_replay_value_that_is_not_true_or_false_names_the_option(pytester):
    pytester.makeini("[pytest]\nmoral_replay = maybe\n")
    write_pairs(pytester, PONY)

    result = offline(pytester, "--moral-model", OFFLINE)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option moral_replay must be true or false, got 'maybe'"])


def test_a_result_hook_calling_pytest_fail_is_one_line_in_the_summary_too(pytester):
    pytester.makeconftest(RESULT_HOOKS.format(body="pytest.fail('no job summary here')"))
    write_pairs(pytester, ("fed", "Person X poisoned the dog.", "Person X fed the dog."))

    result = offline(pytester, "--moral-model", OFFLINE)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["the pytest_moralpairs_result hook raised Failed: no job summary here (for *::fed*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_cache_folder_name_no_file_system_takes_is_a_usage_error(pytester):
    write_pairs(pytester, PONY)

    result = offline(pytester, "--moral-model", OFFLINE, "--moral-cache-dir", "x" * 300)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the response cache cannot be kept in 'xxx*: File name too long"])


def test_collecting_only_creates_no_cache_folder(pytester):
    write_pairs(pytester, PONY)

    offline(pytester, "--moral-model", OFFLINE, "--moral-cache-dir", "kept/cache", "--co")

    assert not (pytester.path / "kept").exists()
