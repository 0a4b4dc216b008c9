"""The README's two commands are the ones CI and users run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("```bash")
    end = lines.index("```", start + 1)
    return [line for line in lines[start + 1 : end] if line.strip()]


def test_readme_opens_with_the_two_commands():
    demo, tests = readme_commands()
    assert demo.endswith("pip install . && upliftopt demo")
    assert tests.endswith('pip install ".[test]" && pytest')
    assert (ROOT / "README.md").read_text().index("```bash") < 40


def test_ci_runs_the_readme_test_command():
    test_command = readme_commands()[1].split("&& ", 2)[-1]  # after venv creation/activation
    assert test_command == 'pip install ".[test]" && pytest'
    assert test_command in (ROOT / ".ci" / "run").read_text()
