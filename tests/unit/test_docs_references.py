"""Every document the code cites is in the repository, with the section it names.

Code, templates, scripts and the documents themselves cite design documents as `docs/<NAME>.md`, optionally
followed by sections (`§3`, `§1.1`, `§2 to §4`, `§9, §7`) or a quoted heading (`docs/<NAME>.md, "Some heading"`).
Each must name a file in docs/, and each section a heading there: `## 3.` for §3, `### 1.1` for §1.1. References
that point outside the repository are refused: a bare specification section, or an upper-case `<NAME>.md`
without the `docs/` prefix (inside docs/ such a name is a link to a sibling and is checked like the others).
`scripts/rewrite-doc-references` rewrites the old forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCANNED = ("webapp", "tests", "scripts", "benchmarks", "templates", "static", "docs", "Makefile", "README.md")
SKIPPED_PARTS = {"__pycache__", "node_modules", ".venv"}
TOP_LEVEL_FILES = {"README"}  # upper-case .md names that live at the repository root, not in docs/
# Files whose examples show wrong or old references on purpose: this one (its checks are tested below instead)
# and the script that rewrites the old forms.
EXAMPLES = {Path(__file__).resolve(), ROOT / "scripts" / "rewrite-doc-references"}
RENAMED = {"OIDC": "SIGN-IN"}  # background documents whose rules live under another name here

_SECTION = r"§\s?(\d+(?:\.\d+)?)"
# `docs/` (or nothing inside docs/) + an upper-case document name; not part of a longer path or word.
_DOC = re.compile(r"(?<![\w/.\-])(docs/)?([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)\.md\b")
# What may follow a reference: sections, or a quoted heading.
_SECTIONS = re.compile(r"\s*" + _SECTION + r"((?:\s*(?:,|and|or|to|\u2013|-)\s*" + _SECTION + r")*)")
_MORE_SECTIONS = re.compile(_SECTION)
_HEADING = re.compile(r',\s*"([^"]+)"')
# A section of the background specification, cited without a document in the repository.
_BARE_SPEC = re.compile(r"\bSPEC\b\s*(?:§|sections?\b)")


@dataclass(frozen=True)
class Problem:
    where: str  # "webapp/models.py:12"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _headings(document: Path) -> list[str]:
    return [line.rstrip() for line in document.read_text(encoding="utf-8").splitlines() if line.startswith("#")]


def has_section(headings: list[str], number: str) -> bool:
    """`## 3.` for "3", `### 1.1` (or `### 1.1.`) for "1.1"."""
    if "." in number:
        wanted = re.compile(r"### " + re.escape(number) + r"\.?(\s|$)")
    else:
        wanted = re.compile(r"## " + re.escape(number) + r"\.(\s|$)")
    return any(wanted.match(heading) for heading in headings)


def has_heading(headings: list[str], text: str) -> bool:
    return any(text.lower() in heading.lower() for heading in headings)


def problems_in(where: str, text: str, docs: Path, inside_docs: bool = False) -> list[Problem]:
    """What is wrong with the document references in `text` (`where` names the file for messages)."""
    found: list[Problem] = []
    cache: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        place = f"{where}:{number}"
        if _BARE_SPEC.search(line):
            found.append(Problem(place, "a specification section outside the repository: cite docs/PRODUCT.md §N"))
        for match in _DOC.finditer(line):
            prefixed, name = match.group(1), match.group(2)
            if name in TOP_LEVEL_FILES:
                continue
            if not prefixed and not inside_docs:
                target = RENAMED.get(name, name)
                found.append(Problem(place, f"bare {name}.md: cite it as docs/{target}.md (a file in the repository)"))
                continue
            document = docs / f"{name}.md"
            if not document.is_file():
                found.append(Problem(place, f"docs/{name}.md does not exist"))
                continue
            headings = cache.setdefault(name, _headings(document))
            rest = line[match.end() :]
            sections = _SECTIONS.match(rest)
            if sections:
                numbers = [sections.group(1), *_MORE_SECTIONS.findall(sections.group(2) or "")]
                for section in numbers:
                    if not has_section(headings, section):
                        level = "###" if "." in section else "##"
                        found.append(Problem(place, f"docs/{name}.md has no section §{section} ({level} {section}…)"))
                continue
            heading = _HEADING.match(rest)
            if heading and not has_heading(headings, heading.group(1)):
                found.append(Problem(place, f'docs/{name}.md has no heading "{heading.group(1)}"'))
    return found


def scanned_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for entry in SCANNED:
        path = root / entry
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files.extend(
            p for p in candidates if not SKIPPED_PARTS & set(p.relative_to(root).parts) and p.resolve() not in EXAMPLES
        )
    return files


def _text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None  # images, archives
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def repository_problems(root: Path = ROOT) -> tuple[list[Problem], int]:
    """(problems, number of references checked) over every scanned text file."""
    problems: list[Problem] = []
    references = 0
    for path in scanned_files(root):
        text = _text_of(path)
        if text is None:
            continue
        relative = path.relative_to(root).as_posix()
        inside_docs = relative.startswith("docs/")
        references += sum(1 for line in text.splitlines() for _ in _DOC.finditer(line))
        problems.extend(problems_in(relative, text, root / "docs", inside_docs))
    return problems, references


def test_every_document_reference_in_the_repository_resolves() -> None:
    problems, references = repository_problems()
    assert not problems, "Document references that do not resolve:\n" + "\n".join(map(str, problems))
    # The scan must have seen the references the code is known to make, or it proves nothing.
    assert references >= 25, f"only {references} document references found: is the scan looking in the right place?"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "RULES.md").write_text("# Rules\n\n## 1. Domain\n\n### 1.1 Connection\n\n## 2. API\n\n## 3. Groups\n")
    return folder


@pytest.mark.parametrize(
    "line",
    [
        '"""Models for docs/RULES.md §1. Rules live elsewhere."""',
        "# Keycloak connection (docs/RULES.md §1.1).",
        "(docs/RULES.md §1, §1.1) and docs/RULES.md §2 to §3",
        '(see docs/RULES.md, "Connection")',
        "see docs/RULES.md for the rest",
        "README.md says how to start; benchmarks/NOTES.md is not a design document",
    ],
)
def test_references_that_resolve_pass(docs: Path, line: str) -> None:
    assert problems_in("x.py", line, docs) == []


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("see docs/MISSING.md", "docs/MISSING.md does not exist"),
        ("(docs/RULES.md §4)", "no section §4"),
        ("(docs/RULES.md §1.2)", "no section §1.2"),
        ("(docs/RULES.md §1, §5)", "no section §5"),
        ("docs/RULES.md §2 to §9", "no section §9"),
        ('(docs/RULES.md, "Nowhere")', 'no heading "Nowhere"'),
        ("typed models for SPEC " + "§1", "specification section"),
        ("the API (SPEC " + "sections 2 to 4)", "specification section"),
        ("(see " + "RULES.md)", "bare RULES.md"),
        ("(" + "KEYCLOAK.md, the versions)", "bare KEYCLOAK.md"),
    ],
)
def test_references_that_do_not_resolve_are_named_with_file_and_line(docs: Path, line: str, complaint: str) -> None:
    problems = problems_in("webapp/x.py", "first line\n" + line, docs)
    assert [problem.where for problem in problems] == ["webapp/x.py:2"], problems
    assert complaint in problems[0].what


def test_inside_docs_a_sibling_may_be_named_without_the_prefix_but_must_exist(docs: Path) -> None:
    assert problems_in("docs/OTHER.md", "See [RULES.md](RULES.md) and RULES.md §3.", docs, inside_docs=True) == []
    problems = problems_in("docs/OTHER.md", "See GONE.md §1.", docs, inside_docs=True)
    assert [str(problem) for problem in problems] == ["docs/OTHER.md:1: docs/GONE.md does not exist"]
