"""Specification of log-probability scoring (``--moral-scoring=logprobs``).

One call per sentence asks for the top log-probabilities of the answer tokens; the rating is the
probability-weighted mean over -4..4 of the number the model began to write: a continuous value,
without the noise of sampling. Models write "-4" as one token or as "-" then "4", may write " 3",
"+2" or "−1", and may open with tokens that are not part of the number ("Rating", ":").
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_moralpairs.answers import (
    LOGPROB_OPTIONS,
    UnparseableAnswer,
    logprob_positions,
    rating_from_logprobs,
    wants_logprobs,
)
from pytest_moralpairs.cache import CachedAnswer, ResponseCache
from pytest_moralpairs.engine import ERROR_NO_LOGPROBS, ERROR_NOT_CALLED, ModelSettings, RatingEngine, RatingRequest
from pytest_moralpairs.llm import LiteLLMBackend
from pytest_moralpairs.plugin import EXIT_RATING_ERRORS
from pytest_moralpairs.prompt import DEFAULT_PROMPT
from pytest_moralpairs.providers.lexical import lexical_rating, lexical_score
from pytest_moralpairs.providers.litellm_provider import answer_logprobs
from tests.mock_answers import SERVER_MODEL as MODEL
from tests.mock_answers import run_against as run
from tests.mock_answers import write_pairs
from tests.openai_server import OpenAIServer, Reply

#: Every spec that runs against the local server runs once per client: the same specs, both paths.
pytestmark = pytest.mark.each_client

SCALE = tuple(range(-4, 5))


def pos(weighed: dict[str, float], written: str | None = None) -> tuple[str, list[tuple[str, float]]]:
    """One answer position: the tokens weighed there with their probabilities (as log-probabilities),
    and the token written (the likeliest unless given)."""
    written = written if written is not None else max(weighed, key=weighed.__getitem__)
    return written, [(token, math.log(p)) for token, p in weighed.items()]


def distribution(**by_value: float) -> tuple[float, ...]:
    """A 9-tuple over -4..4 from ``m4=..., m1=..., p0=..., p3=...`` (m = minus, p = plus or zero)."""
    values = {int(name[1:]) * (-1 if name[0] == "m" else 1): p for name, p in by_value.items()}
    return tuple(values.get(v, 0.0) for v in SCALE)


# --- the parser: one token -----------------------------------------------------------------------------


def test_the_rating_is_the_probability_weighted_mean_of_the_numbers_weighed():
    value, probabilities = rating_from_logprobs([pos({"2": 0.6, "3": 0.4})])

    assert value == pytest.approx(2.4)
    assert probabilities == pytest.approx(distribution(p2=0.6, p3=0.4))


def test_probabilities_are_renormalised_over_the_numbers_on_the_scale():
    # "I" is not a number and 7 is off the scale: their mass is dropped, the rest scaled up.
    value, probabilities = rating_from_logprobs([pos({"2": 0.3, "3": 0.2, "I": 0.4, "7": 0.1}, "2")])

    assert value == pytest.approx(2.4)
    assert sum(probabilities) == pytest.approx(1.0)


def test_a_negative_number_written_as_one_token_is_read_whole():
    value, probabilities = rating_from_logprobs([pos({"-4": 0.5, "-3": 0.5})])

    assert value == pytest.approx(-3.5)
    assert probabilities == pytest.approx(distribution(m4=0.5, m3=0.5))


def test_spellings_of_the_same_number_add_up():
    value, probabilities = rating_from_logprobs([pos({" 3": 0.3, "3": 0.3, "+3": 0.2, "2": 0.2})])

    assert value == pytest.approx(2.8)
    assert probabilities == pytest.approx(distribution(p3=0.8, p2=0.2))


@pytest.mark.parametrize("minus", ["\u2212", "\u2013", "\uff0d"], ids=["minus-sign", "en-dash", "full-width"])
def test_a_unicode_minus_is_a_minus_in_one_token_and_as_a_sign_token(minus):
    whole, _ = rating_from_logprobs([pos({f"{minus}1": 0.5, f"{minus}2": 0.5})])
    split, _ = rating_from_logprobs([pos({minus: 1.0}), pos({"1": 0.5, "2": 0.5})])

    assert whole == split == pytest.approx(-1.5)


# --- the parser: a sign token, then its digit -----------------------------------------------------------


def test_a_written_sign_takes_its_digit_from_the_next_tokens_alternatives():
    # llama.cpp + Qwen2.5: "-3" is "-", "3"; 90% of the mass went to "-", whose digit is 3 or 4.
    value, probabilities = rating_from_logprobs([pos({"-": 0.9, "1": 0.1}), pos({"3": 0.5, "4": 0.5})])

    assert probabilities == pytest.approx(distribution(m3=0.45, m4=0.45, p1=0.1))
    assert value == pytest.approx(-0.45 * 3 - 0.45 * 4 + 0.1)


def test_a_sign_not_written_takes_the_magnitudes_of_the_numbers_weighed_mirrored():
    # "-" was weighed at 30% but "2" was written: the digit after "-" was never asked for.
    value, probabilities = rating_from_logprobs([pos({"2": 0.6, "1": 0.1, "-": 0.3})])

    assert probabilities == pytest.approx(distribution(p2=0.6, p1=0.1, m2=0.3 * 6 / 7, m1=0.3 * 1 / 7))
    assert value == pytest.approx(1.2 + 0.1 - 0.6 * 6 / 7 - 0.3 / 7)


def test_a_sign_not_written_beside_a_zero_is_one_step_from_neutral():
    value, probabilities = rating_from_logprobs([pos({"0": 0.6, "-": 0.4})])

    assert probabilities == pytest.approx(distribution(p0=0.6, m1=0.4))
    assert value == pytest.approx(-0.4)


@given(st.lists(st.floats(0.0, 1.0), min_size=9, max_size=9).filter(lambda w: sum(w[:4]) > 0.01 and sum(w) > 0.01))
def test_when_the_negative_branch_is_written_any_distribution_is_recovered_exactly(weights):
    total = sum(weights)
    wanted = {v: w / total for v, w in zip(SCALE, weights, strict=True)}
    negative = sum(p for v, p in wanted.items() if v < 0)
    first = {"-": negative, **{str(v): p for v, p in wanted.items() if v >= 0 and p > 0}}
    digits = {str(-v): p / negative for v, p in wanted.items() if v < 0 and p > 0}

    value, probabilities = rating_from_logprobs([pos(first, "-"), pos(digits)])

    assert probabilities == pytest.approx(tuple(wanted.values()), abs=1e-9)
    assert value == pytest.approx(sum(v * p for v, p in wanted.items()), abs=1e-9)


# --- the parser: where the number starts ----------------------------------------------------------------


def test_tokens_before_the_number_are_skipped():
    # Alternatives at ":" are continuations of another answer, not ratings: ignored.
    answer = [pos({"Rating": 1.0}), pos({":": 0.9, "-": 0.1}), pos({" ": 1.0}), pos({"2": 0.6, "3": 0.4})]

    value, _ = rating_from_logprobs(answer)

    assert value == pytest.approx(2.4)


def test_a_dash_not_followed_by_a_number_is_a_bullet_not_a_sign():
    answer = [pos({"-": 1.0}), pos({" Rating": 1.0}), pos({":": 1.0}), pos({" 2": 0.5, " 1": 0.5})]

    value, _ = rating_from_logprobs(answer)

    assert value == pytest.approx(1.5)


@pytest.mark.parametrize(
    "answer, reason",
    [
        ([pos({"I": 0.9, "3": 0.1}), pos({" cannot": 1.0})], "no token of the answer begins a number"),
        ([pos({"5": 0.9, "6": 0.1})], "no log-probability mass falls on a number from -4 to 4"),
        ([pos({"-": 1.0})], "no token of the answer begins a number"),
        ([], "the answer is empty"),
    ],
    ids=["words", "off-the-scale", "a-sign-alone", "empty"],
)
def test_an_answer_without_a_number_on_the_scale_is_unparseable(answer, reason):
    with pytest.raises(UnparseableAnswer) as raised:
        rating_from_logprobs(answer)

    assert raised.value.reason == reason


def test_a_request_wants_logprobs_only_when_its_options_ask_for_them():
    assert wants_logprobs(LOGPROB_OPTIONS)
    assert not wants_logprobs(())
    assert not wants_logprobs((("seed", 1), ("logprobs", False)))


# --- reading litellm's response -----------------------------------------------------------------------


def test_positions_are_read_from_the_dict_form_and_the_written_token_joins_its_alternatives():
    content = [
        {"token": "-", "logprob": -0.1, "top_logprobs": [{"token": "2", "logprob": -2.3}]},
        {"token": "3", "logprob": -0.5, "top_logprobs": None},
    ]

    assert logprob_positions({"content": content}) == (("-", (("2", -2.3), ("-", -0.1))), ("3", (("3", -0.5),)))


@pytest.mark.parametrize("logprobs", [None, {"content": None}, {}], ids=["none", "no-content", "empty"])
def test_a_choice_without_logprob_content_has_no_positions(logprobs):
    assert logprob_positions(logprobs) is None


# --- the engine, through litellm, against a real local server -------------------------------------------


def request(server: OpenAIServer, sentence: str, options: tuple = LOGPROB_OPTIONS) -> RatingRequest:
    model = ModelSettings(MODEL, api_base=server.url, timeout=10)
    return RatingRequest(model, DEFAULT_PROMPT.messages(sentence), sentence, options=options)


@pytest.fixture
def make_engine():
    engines: list[RatingEngine] = []

    def make(**kwargs: Any) -> RatingEngine:
        engine = RatingEngine(make_complete=LiteLLMBackend, **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def test_the_engine_asks_the_server_for_log_probabilities_and_rates_with_them(openai_server, make_engine):
    openai_server.answers = {"kicked the dog": Reply.with_logprobs({"-": 0.9, "1": 0.1}, {"3": 0.5, "4": 0.5})}
    wanted = request(openai_server, "kicked the dog")

    rating = make_engine().rate(wanted)

    assert rating.value == pytest.approx(-3.05)
    assert rating.distribution == pytest.approx(distribution(m3=0.45, m4=0.45, p1=0.1))
    assert (rating.raw, rating.error) == ("-3", None)
    assert [(body["logprobs"], body["top_logprobs"]) for body in openai_server.bodies] == [(True, 20)]


def test_text_scoring_asks_for_no_log_probabilities(openai_server, make_engine):
    openai_server.default = Reply.with_logprobs({"2": 0.6, "3": 0.4})

    rating = make_engine().rate(request(openai_server, "s", options=()))

    assert (rating.value, rating.distribution) == (2.0, None)
    assert "logprobs" not in openai_server.bodies[0]


def test_log_probabilities_survive_the_cache(openai_server, make_engine, tmp_path):
    openai_server.default = Reply.with_logprobs({"2": 0.6, "3": 0.4})
    first = make_engine(cache=ResponseCache(tmp_path / "c.sqlite3")).rate(request(openai_server, "s"))

    again = make_engine(cache=ResponseCache(tmp_path / "c.sqlite3")).rate(request(openai_server, "s"))

    assert openai_server.count == 1
    assert again.cached and (again.value, again.distribution) == (first.value, first.distribution)


def test_a_cache_file_without_log_probabilities_reads_as_before(tmp_path):
    old = CachedAnswer(text="-3", model=MODEL, prompt_tokens=3, completion_tokens=1)
    kept = CachedAnswer(text="2", logprobs=(("2", (("2", -0.5), ("3", -0.9))),))
    cache = ResponseCache(tmp_path / "c.sqlite3")
    cache.put("old", old)
    cache.put("kept", kept)

    assert (cache.get("old"), cache.get("kept")) == (old, kept)


def test_a_server_without_log_probabilities_is_fatal_and_names_the_option_to_change(
    openai_server, make_engine, tmp_path
):
    openai_server.default = "2"  # a plain answer: logprobs null, as from a server that has none
    engine = make_engine(concurrency=1, cache=ResponseCache(tmp_path / "c.sqlite3"))

    ratings = engine.rate_all([request(openai_server, "first"), request(openai_server, "second")])

    assert engine.fatal is not None
    assert "returned no log-probabilities" in engine.fatal and "--moral-scoring=text" in engine.fatal
    first, second = ratings.values()
    assert (first.value, first.error_kind, first.error) == (None, ERROR_NO_LOGPROBS, engine.fatal)
    assert second.error_kind == ERROR_NOT_CALLED  # no further call once one answer shows it
    assert openai_server.count == 1
    assert len(engine.cache) == 0  # nor is the useless answer kept


# --- the offline lexical model ----------------------------------------------------------------------------

SENTENCES = ("I told the joke to shame him.", "I helped a friend.", "I murdered and tortured a child.", "A table.")


def test_the_lexical_models_log_probability_rating_is_its_unrounded_score(make_engine):
    requests = [
        RatingRequest(ModelSettings("moralpairs/lexical"), DEFAULT_PROMPT.messages(s), s, options=LOGPROB_OPTIONS)
        for s in SENTENCES
    ]

    ratings = make_engine().rate_all(requests)

    for wanted in requests:
        assert ratings[wanted].value == pytest.approx(lexical_score(wanted.sentence))
        assert ratings[wanted].raw == str(lexical_rating(wanted.sentence))  # the text answer is unchanged


def test_the_lexical_model_writes_a_negative_rating_as_a_sign_token_then_a_digit_token():
    sentence = "I murdered and tortured a child."
    content = answer_logprobs("lexical", [{"role": "user", "content": f"Scenario: {sentence}\nRating:"}])

    assert lexical_rating(sentence) == -3
    assert [item["token"] for item in content] == ["-", "3"]
    assert {top["token"] for top in content[1]["top_logprobs"]} == {"3", "4"}


# --- through pytest -------------------------------------------------------------------------------------


def test_moral_scoring_logprobs_makes_one_call_per_sentence_and_shows_continuous_ratings(pytester, openai_server):
    openai_server.answers = {
        "kicked the dog": Reply.with_logprobs({"-": 1.0}, {"2": 0.5, "3": 0.5}),
        "petted the dog": Reply.with_logprobs({"2": 0.6, "3": 0.4}),
    }
    write_pairs(pytester, ("dog", "kicked the dog", "petted the dog"))

    result = run(pytester, openai_server, "--moral-scoring=logprobs")

    result.assert_outcomes(passed=1)
    assert sorted(openai_server.sentences) == ["kicked the dog", "petted the dog"]
    result.stdout.fnmatch_lines(["*pairs.moral.yaml::dog*-2.5*+2.4*+4.9*PASSED*"])


def test_a_fractional_gap_decides_the_verdict(pytester, openai_server):
    # As text the answers are "0" and "2": a gap of 2 that meets the threshold. Weighed, it is 1.8.
    openai_server.answers = {
        "harm": Reply.with_logprobs({"0": 0.6, "1": 0.4}),
        "help": Reply.with_logprobs({"2": 0.8, "3": 0.2}),
    }
    write_pairs(pytester, ("p", "harm", "help"))

    assert run(pytester, openai_server).ret == 0
    result = run(pytester, openai_server, "--moral-scoring=logprobs")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*moral pair 'p': gap +1.8 < threshold 2*"])


def test_a_server_without_log_probabilities_stops_the_run_naming_the_option(pytester, openai_server):
    openai_server.default = "2"
    write_pairs(pytester, ("p", "harm", "help"), ("q", "harm 2", "help 2"))

    result = run(pytester, openai_server, "--moral-scoring=logprobs")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"*Interrupted: moralpairs: the model {MODEL} returned no log-probabilities, "
            "which --moral-scoring=logprobs needs*use --moral-scoring=text*"
        ]
    )


def test_a_server_that_refuses_the_log_probability_parameters_stops_the_run_the_same_way(pytester, openai_server):
    openai_server.default = Reply.error(400, "This model does not support 'logprobs' or 'top_logprobs'.")
    write_pairs(pytester, ("p", "harm", "help"), ("q", "harm 2", "help 2"))

    result = run(pytester, openai_server, "--moral-scoring=logprobs", "--moral-concurrency", "1")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [f"*Interrupted: moralpairs: the model {MODEL} does not accept a request for log-probabilities*"]
    )
    assert openai_server.count == 1  # no further call once the first is refused


def test_a_limit_on_the_number_of_log_probabilities_is_an_error_of_the_pair_not_a_stop(pytester, openai_server):
    # The model gives log-probabilities, only fewer alternatives than asked: that is no reason to
    # tell the user to give up on log-prob scoring.
    openai_server.default = Reply.error(400, "top_logprobs 20 exceeds the maximum of 5")
    write_pairs(pytester, ("p", "harm", "help"))

    result = run(pytester, openai_server, "--moral-scoring=logprobs")

    assert result.ret == EXIT_RATING_ERRORS
    result.assert_outcomes(errors=1)
    assert "does not accept a request for log-probabilities" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*bad request: top_logprobs 20 exceeds the maximum of 5*"])


@pytest.mark.parametrize(
    ("model", "env"),
    [("anthropic/claude-3-5-haiku-latest", {"ANTHROPIC_API_KEY": "not-a-key"}), ("ollama/llama3.1", {})],
)
@pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")  # litellm's ollama types, on import
def test_providers_that_have_no_log_probabilities_stop_the_run_naming_the_option_before_any_request(
    pytester, monkeypatch, no_internet, model, env
):
    # litellm refuses the parameters itself ("set litellm.drop_params=True", which would rate
    # nothing): the run says what to change instead. Port 1 on loopback: should litellm ever send
    # the request, it is refused, never sent off this machine.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_pairs(pytester, ("p", "harm", "help"))

    result = pytester.runpytest(
        "--moral-model",
        model,
        "--moral-api-base",
        "http://127.0.0.1:1",
        "--moral-scoring=logprobs",
        "--moral-retries",
        "0",
        "-p",
        "no:cacheprovider",
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"*Interrupted: moralpairs: the model {model} does not accept a request for log-probabilities*"
            "*use --moral-scoring=text*"
        ]
    )
    assert "drop_params" not in result.stdout.str()
    assert no_internet == []


def test_the_lexical_model_gives_continuous_ratings_through_pytest(pytester):
    write_pairs(pytester, ("shame", "I told the joke to shame him.", "I told the joke to shave him."))

    result = pytester.runpytest("--moral-model", "moralpairs/lexical", "--moral-scoring", "logprobs")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*pairs.moral.yaml::shame*-0.9052*+1.184*+2.089*PASSED*"])
