"""Reading a Dockerfile as Docker does, as far as the image tests need: instructions and
their arguments (exec form as a list, shell form as text), ENV pairs."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    name: str
    text: str

    @property
    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (ENTRYPOINT, CMD, ...)."""
        value = json.loads(self.text)
        assert isinstance(value, list), f"{self.name} is not in exec form: {self.text}"
        return [str(v) for v in value]


def instructions(path: Path) -> list[Instruction]:
    """Every instruction, with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        name, _, text = whole.partition(" ")
        found.append(Instruction(name.upper(), text.strip()))
    return found


def env(found: list[Instruction]) -> dict[str, str]:
    """Every ENV variable the image sets (``KEY=VALUE`` pairs)."""
    values: dict[str, str] = {}
    for instruction in found:
        if instruction.name == "ENV":
            for pair in shlex.split(instruction.text):
                key, _, value = pair.partition("=")
                values[key] = value
    return values


def last(found: list[Instruction], name: str) -> Instruction:
    matching = [i for i in found if i.name == name]
    assert matching, f"no {name} instruction"
    return matching[-1]
