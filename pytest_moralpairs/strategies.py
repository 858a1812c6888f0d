"""Hypothesis strategies for moral minimal pairs, drawn from a lexicon of swappable words.

Use them in your own ``@given`` tests, with the plugin's fixtures::

    from hypothesis import HealthCheck, given, settings
    from pytest_moralpairs import strategies as mst

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20)
    @given(pair=mst.directional_pairs("Person X {verb} his pony with {instrument}.", decides="instrument"))
    def test_instrument(moral_pair, pair):
        moral_pair(pair.harmful, pair.harmless)

(``moral_pair`` and ``moral_rate`` keep no state between examples, so Hypothesis's warning about
function-scoped fixtures does not apply to them; each example costs model calls, so keep
``max_examples`` small for a real model.)

Templates are text with ``{slot}`` placeholders naming slots of the lexicon (the built-in one
unless ``lexicon=`` says otherwise: a :class:`~pytest_moralpairs.perturb.Lexicon`, or a path to a
lexicon file, which is merged onto the built-in one), or a
:class:`~pytest_moralpairs.perturb.Template` when a slot's fillers must be overridden for the
template's context. Which filling is harmful follows one rule (see
:mod:`pytest_moralpairs.perturb.lexicon`): the slot that ``decides`` gets a harmful filler in the
harmful sentence and a harmless one in the harmless sentence; every other slot gets the same
filler, of either polarity, in both.

Every filler is drawn with ``st.sampled_from`` on the lexicon's ordered lists, so Hypothesis
shrinks a failure toward the first, canonical fillers. A bad template or lexicon is reported when
the strategy is built, not when it is drawn from.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from hypothesis import strategies as st

from .perturb.lexicon import (
    EDIT_KINDS,
    LexiconLike,
    Template,
    TemplateError,
    as_lexicon,
    as_template,
    invariance_candidates,
)


@dataclass(frozen=True)
class GeneratedPair:
    """A pair made from a template by the rule.

    ``slot`` is the decisive slot; ``harmful_filler`` and ``harmless_filler`` fill it in the
    harmful and harmless sentence; ``filling`` holds the filler of every other slot, the same in
    both sentences.
    """

    harmful: str
    harmless: str
    slot: str
    harmful_filler: str
    harmless_filler: str
    filling: Mapping[str, str]


@dataclass(frozen=True)
class InvarianceEdit:
    """``original`` and an ``edited`` version that should be rated the same; ``kind`` is
    ``"name"``, ``"pronoun"`` or ``"synonym"`` (see :func:`invariance_edits`)."""

    original: str
    edited: str
    kind: str


def fillings(template: Template | str, lexicon: LexiconLike = None) -> st.SearchStrategy[dict[str, str]]:
    """A filler for every slot of ``template``: ``{slot: filler}``, each drawn from all of the
    slot's fillers (harmful ones first, so it shrinks to the first harmful filler)."""
    slots = as_template(template).resolve(as_lexicon(lexicon))
    return st.fixed_dictionaries({name: st.sampled_from(slot.fillers) for name, slot in slots.items()})


def sentences(template: Template | str, lexicon: LexiconLike = None) -> st.SearchStrategy[str]:
    """``template`` with every slot filled as by :func:`fillings`: one concrete sentence."""
    template = as_template(template)
    return fillings(template, lexicon).map(template.render)


def directional_pairs(
    template: Template | str, decides: str | None = None, lexicon: LexiconLike = None
) -> st.SearchStrategy[GeneratedPair]:
    """Pairs made from ``template`` by the rule, as :class:`GeneratedPair`.

    ``decides`` names the slot that carries the moral difference; it may be left out when the
    template is a :class:`Template` that names it, or has a single slot. Example::

        directional_pairs("Person X {verb} his pony with {instrument}.", decides="instrument")
        # GeneratedPair(harmful="Person X lashed his pony with a whip.",
        #               harmless="Person X lashed his pony with a blade of grass.", slot="instrument", ...)

    Raises :class:`~pytest_moralpairs.perturb.TemplateError` at once for malformed braces, an
    unknown slot, or a decisive slot that is missing from the template or not named.
    """
    template = as_template(template, decides)
    if template.decides is None:
        names = template.slot_names
        if len(names) != 1:
            raise TemplateError(
                f"say which slot decides the pair: directional_pairs(..., decides=...), one of "
                f"{', '.join('{' + n + '}' for n in names)}"
            )
        template = as_template(template, names[0])
    slots = template.resolve(as_lexicon(lexicon))
    decisive = slots[template.decides]
    free = {name: st.sampled_from(slot.fillers) for name, slot in slots.items() if name != template.decides}
    build = _PairBuilder(template)
    return st.builds(
        build,
        st.sampled_from(decisive.harmful),
        st.sampled_from(decisive.harmless),
        st.fixed_dictionaries(free),
    )


@dataclass(frozen=True)
class _PairBuilder:
    template: Template

    def __call__(self, harmful_filler: str, harmless_filler: str, filling: dict[str, str]) -> GeneratedPair:
        slot = self.template.decides
        assert slot is not None
        return GeneratedPair(
            harmful=self.template.render({**filling, slot: harmful_filler}),
            harmless=self.template.render({**filling, slot: harmless_filler}),
            slot=slot,
            harmful_filler=harmful_filler,
            harmless_filler=harmless_filler,
            filling=filling,
        )


def invariance_edits(
    sentence: str | st.SearchStrategy[str],
    lexicon: LexiconLike = None,
    kinds: tuple[str, ...] = EDIT_KINDS,
) -> st.SearchStrategy[InvarianceEdit]:
    """Edits of ``sentence`` that should not change its rating, as :class:`InvarianceEdit`.

    Kinds (``kinds=`` limits them):

    * ``"name"``: "Person X" replaced by one of the lexicon's names;
    * ``"pronoun"``: he/him/his/himself replaced by she/her/her/herself, consistently, whole words;
    * ``"synonym"``: a lexicon filler in the sentence replaced by another filler of the same slot
      and the same polarity.

    An edit never equals the original. ``sentence`` may also be a strategy of sentences (such as
    :func:`sentences`); an example for which no edit applies is then skipped. For a fixed sentence
    that no edit applies to, a ``ValueError`` is raised at once. Shrinks toward the first name.
    """
    lex = as_lexicon(lexicon)
    kinds = tuple(kinds)
    if isinstance(sentence, st.SearchStrategy):
        invariance_candidates("", lex, kinds)  # reject unknown kinds now, not at draw time
        return sentence.flatmap(lambda s: _edits_of(s, lex, kinds, strict=False))
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str or a strategy of str, not {type(sentence).__name__}")
    return _edits_of(sentence, lex, kinds, strict=True)


def _edits_of(sentence: str, lexicon: Any, kinds: tuple[str, ...], strict: bool) -> st.SearchStrategy[InvarianceEdit]:
    candidates = invariance_candidates(sentence, lexicon, kinds)
    if not candidates:
        if strict:
            raise ValueError(
                f"no invariance edit of kind {', '.join(kinds)} applies to {sentence[:60]!r}: it has no "
                "'Person X', no he/him/his, and no lexicon filler with a synonym"
            )
        return st.nothing()
    return st.sampled_from(candidates).map(lambda c: InvarianceEdit(sentence, c[1], c[0]))


__all__ = [
    "GeneratedPair",
    "InvarianceEdit",
    "directional_pairs",
    "fillings",
    "invariance_edits",
    "sentences",
]
