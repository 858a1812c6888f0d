"""Prompt tokens a server must read anew per call of a persona run: persona first, or after the prompt.

Servers reuse a prompt prefix they have just read: llama.cpp keeps its slot's last prompt in the KV
cache and reads only what differs from it; vLLM (automatic prefix caching) and OpenAI keep every
prefix for a while. This script builds the calls the example persona file asks for
(``examples/personas.moral.yaml``: 72 personas and the aggregates, per sentence), in the order the
plugin sends them, with the persona system message first (earlier versions) and after the prompt
(now), renders each chat as a ChatML template does, counts tokens with ``cl100k_base`` (tiktoken,
offline through litellm's bundled copy), and prints per call the tokens read anew by

1. one slot that keeps only the previous prompt (llama.cpp ``-np 1`` with calls made one at a time);
2. a cache of every prefix seen so far (vLLM's prefix caching, OpenAI's prompt cache, taken as
   unbounded and at token granularity: the best a server could do).

No model is called: these are counts, not timings, and do not depend on the machine's load.

Usage: python benchmarks/bench_prompt_prefix.py [--pairs examples/personas.moral.yaml]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_moralpairs import load_suite  # noqa: E402
from pytest_moralpairs.personas import persona_messages, rated_personas  # noqa: E402
from pytest_moralpairs.prompt import DEFAULT_PROMPT  # noqa: E402


def encoder():
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # its cl100k_base, loaded from the copy it bundles (no download)

    return litellm.encoding


def render(messages) -> str:
    turns = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    return turns + "<|im_start|>assistant\n"


def calls(path: Path, first: bool) -> list[tuple]:
    """Each call's messages, in the order the plugin's batch sends them: per pair, both sentences
    in the default voice, then both per persona."""
    out = []
    for pair in load_suite(path).pairs:
        prompt = pair.prompt or DEFAULT_PROMPT
        out += [prompt.messages(pair.harmful), prompt.messages(pair.harmless)]
        for persona in rated_personas(pair):
            for sentence in (pair.harmful, pair.harmless):
                out.append(persona_messages(persona, prompt.messages(sentence), first=first))
    return out


def common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def measure(tokens: list[list[int]]) -> tuple[float, float, float]:
    """(prompt tokens per call, read anew by one slot, read anew with every prefix kept)."""
    one_slot = every = 0
    previous: list[int] = []
    trie: dict = {}
    for prompt in tokens:
        one_slot += len(prompt) - common(previous, prompt)
        node, known = trie, 0
        for token in prompt:
            if token not in node:
                break
            node, known = node[token], known + 1
        every += len(prompt) - known
        node = trie
        for token in prompt:
            node = node.setdefault(token, {})
        previous = prompt
    n = len(tokens)
    return sum(map(len, tokens)) / n, one_slot / n, every / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=str(ROOT / "examples" / "personas.moral.yaml"))
    args = parser.parse_args()
    enc = encoder()
    print(f"calls of {args.pairs}, tokens per call (cl100k_base, ChatML):")
    print(f"{'persona message':<22}{'calls':>7}{'prompt':>9}{'anew, one slot':>17}{'anew, every prefix':>21}")
    for label, first in (("first (before)", True), ("after the prompt", False)):
        chats = calls(Path(args.pairs), first)
        size, one_slot, every = measure([enc.encode(render(m)) for m in chats])
        print(f"{label:<22}{len(chats):>7}{size:>9.1f}{one_slot:>17.1f}{every:>21.1f}")


if __name__ == "__main__":
    main()
