"""A large synthetic study for benchmarks: 1,000 transcripts of 20,000 characters, 100,000 coded excerpts.

`make_big_project(...)` returns the model Project (deterministic for a seed); run as a script
to write it as a .qdpx:  python benchmarks/make_big.py OUT.qdpx [--sources N] [--excerpts N]
(`--sources 24 --excerpts 960` is study-sized; `--sources 10000 --excerpts 1000000` is a huge project).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qdaconv.model import (
    Blob,
    Case,
    Code,
    Coding,
    Project,
    Selection,
    Set,
    Source,
    User,
    Variable,
    VariableValue,
)

WORDS = ("the team we trust change leader vision programme service care health community board meeting "
         "people work together system hospital practice purpose shared future allegiance engage partner "
         "manager director budget plan risk staff patient quality honest broker café naïve façade Zoë "
         "résumé “quoted” — progress slow good integration culture telemedicine social").split()


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def _text(rng: random.Random, chars: int) -> tuple[str, list[int]]:
    """Speaker turns of random words, about `chars` long, and the offset of every word."""
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    turn = itertools.cycle(("Interviewer: ", "Participant: "))
    while length < chars:
        speaker = next(turn)
        parts.append(speaker)
        length += len(speaker)
        for word in rng.choices(WORDS, k=rng.randint(20, 60)):
            starts.append(length)
            parts.append(word + " ")
            length += len(word) + 1
        if rng.random() < 0.02:
            parts.append("😀 ")
            length += 2
        parts.append("\n")
        length += 1
    return "".join(parts), starts


def _codes(rng: random.Random, n_codes: int) -> tuple[list[Code], list[str]]:
    themes = max(1, n_codes // 10)
    tree: list[Code] = []
    codable: list[str] = []
    for t in range(themes):
        theme = Code(_guid(rng), f"Theme {t + 1}", codable=False, color=f"#{rng.randrange(1 << 24):06X}",
                     description=f"Theme {t + 1} groups related codes")
        tree.append(theme)
        for c in range(n_codes // themes - 1):
            code = Code(_guid(rng), f"code {t + 1}.{c + 1}", color=f"#{rng.randrange(1 << 24):06X}")
            theme.children.append(code)
            codable.append(code.guid)
    return tree, codable


def make_big_project(n_sources: int = 1000, chars: int = 20_000, n_excerpts: int = 100_000, n_codes: int = 120,
                     n_cases: int = 100, n_notes: int = 200, seed: int = 1, names: bool = True) -> Project:
    """A study of `n_sources` transcripts with `n_excerpts` coded excerpts spread evenly over them.

    With `names`, each selection is named, as programs do, after the first 40 characters of its excerpt.
    """
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    users = [User(_guid(rng), name, name[:2].upper()) for name in ("Alex", "Sam", "Kim")]
    codes, codable = _codes(rng, n_codes)
    variables = [Variable(_guid(rng), "role", "Text"), Variable(_guid(rng), "wave", "Integer")]
    notes = [Source(_guid(rng), "Note", f"memo {i + 1}", plain_text=f"Memo {i + 1}: " + " ".join(
        rng.choices(WORDS, k=80)), creating_user=users[i % 3].guid, created=start) for i in range(n_notes)]
    sources: list[Source] = []
    per_source = n_excerpts // max(n_sources, 1)
    for i in range(n_sources):
        text, starts = _text(rng, chars)
        guid = _guid(rng)
        source = Source(guid, "Text", f"transcript {i + 1:04d}", plain_text_path=f"internal://{guid}.txt",
                        plain_file=Blob(f"{guid}.txt", data=text.encode("utf-8")), creating_user=users[0].guid,
                        created=start + timedelta(hours=i))
        for j in range(per_source):
            first = rng.randrange(len(starts) - 12)
            begin, stop = starts[first], starts[first + rng.randint(2, 10)] - 1
            user = users[j % 3].guid
            coding = Coding(_guid(rng), rng.choice(codable), user, start + timedelta(minutes=j))
            selection = Selection(_guid(rng), "PlainText", name=text[begin:stop][:40] if names else None,
                                  start=begin, end=stop, codings=[coding], creating_user=user, created=coding.created)
            if j % 50 == 0:
                selection.note_refs.append(notes[(i + j) % n_notes].guid)
            source.selections.append(selection)
        sources.append(source)
    cases = []
    for c in range(n_cases):
        members = [s.guid for s in sources[c::n_cases]]
        cases.append(Case(_guid(rng), f"participant {c + 1:03d}", source_refs=members, variable_values=[
            VariableValue(variables[0].guid, "Text", rng.choice(["Director", "Programme manager"])),
            VariableValue(variables[1].guid, "Integer", c % 3 + 1)]))
    sets = [Set(_guid(rng), f"group {k + 1}", member_sources=[s.guid for s in sources[k::5]]) for k in range(5)]
    return Project(name="Large synthetic study", origin="qdaconv benchmark", creating_user=users[0].guid,
                   created=start, users=users, codes=codes, variables=variables, cases=cases, sources=sources,
                   notes=notes, sets=sets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .qdpx to write")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    args = parser.parse_args(argv)
    import qdaconv

    began = time.perf_counter()
    project = make_big_project(args.sources, n_excerpts=args.excerpts)
    qdaconv.write(project, args.out, "refi-qdpx", force=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - began:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
