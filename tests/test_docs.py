"""The documentation stays true to the code: citations resolve, the option table is current, the module map is whole.

- Every ``docs/<name>.md §N`` citation in the sources (code, tests, templates, the panel, Markdown) names a file under
  ``docs/`` that has a heading for section N (``## §N.`` / ``### §N.M``); ``, §M`` and ``and §M`` after one count too.
- No source cites the design notes that used to live outside the repository by their old bare file names.
- The option table in docs/formats.md §14 and the README is exactly what ``engines.aftereffects.option_docs`` renders
  from ``engines.aftereffects.options`` now, and names every option's flag, accsyn and OpenJD names.
- docs/architecture.md lists every product module, and every ``*.py`` path the docs and README name exists.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from engines.aftereffects import option_docs
from engines.aftereffects.options import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_DIRS = {".git", ".venv", "node_modules", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache",
             ".ruff_cache", ".hypothesis"}
EXTENSIONS = {".py", ".md", ".yaml", ".yml", ".jsx", ".jsxinc", ".js", ".cfg", ".toml", ".j2", ".txt", ".sh"}
SECTION = r"§(\d+(?:\.\d+)?)"
CITATION = re.compile(r"docs/([A-Za-z0-9_-]+)\.md " + SECTION + r"((?:(?:,\s*|\s+and\s+)" + SECTION + r")*)")
MORE = re.compile(SECTION)
HEADING = re.compile(r"^#{2,4} " + SECTION + r"[.\s]", re.MULTILINE)
# the design notes' old names, spelled so that this file does not contain them
OLD_NAMES = re.compile(r"\b(?:" + "FORMATS" + "|" + "ARCHITECTURE" + r")\.md\b")
PRODUCT_PACKAGES = ("aefarm_common", "aeproject", "aerender_sim", "engines", "fonts", "remap", "stmpo")
# files of other projects the docs cite as sources (py_aep's parsers, docs/formats.md §8)
EXTERNAL_FILES = {"parsers/render_queue.py", "parsers/output_module.py", "parsers/text.py"}


def source_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix in EXTENSIONS:
                yield path


def citations(text: str) -> List[Tuple[str, str]]:
    """Every (doc name, section) a text cites, ``docs/formats.md §3, §7`` giving two."""
    found = []
    for match in CITATION.finditer(text):
        found.append((match.group(1), match.group(2)))
        found.extend((match.group(1), more) for more in MORE.findall(match.group(3) or ""))
    return found


def sections(doc: Path) -> Set[str]:
    return set(HEADING.findall(doc.read_text(encoding="utf-8")))


def check_citations(files: Dict[str, str], docs: Dict[str, Set[str]]) -> List[str]:
    """``files``: name -> text; ``docs``: doc name -> its sections. Each bad citation as 'file: docs/x.md §N ...'."""
    bad = []
    for name, text in files.items():
        for doc, section in citations(text):
            if doc not in docs:
                bad.append(f"{name}: docs/{doc}.md does not exist")
            elif section not in docs[doc]:
                bad.append(f"{name}: docs/{doc}.md has no section §{section}")
    return bad


@pytest.fixture(scope="module")
def texts() -> Dict[str, str]:
    """Every scanned source file but this one (whose examples cite sections that do not exist on purpose)."""
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8", errors="replace") for p in source_files()
            if p != Path(__file__).resolve()}


@pytest.fixture(scope="module")
def doc_sections() -> Dict[str, Set[str]]:
    return {p.stem: sections(p) for p in DOCS.glob("*.md")}


def test_the_checker_reads_citations_and_headings():
    assert citations("see docs/formats.md §3, §7 and docs/architecture.md §4.2 and §5.") == [
        ("formats", "3"), ("formats", "7"), ("architecture", "4.2"), ("architecture", "5")]
    docs = {"formats": {"1", "3", "3.2"}}
    assert check_citations({"a.py": "docs/formats.md §3.2"}, docs) == []
    assert check_citations({"a.py": "docs/formats.md §1, §9"}, docs) == ["a.py: docs/formats.md has no section §9"]
    assert check_citations({"a.py": "docs/nope.md §1"}, docs) == ["a.py: docs/nope.md does not exist"]
    assert OLD_NAMES.search("see " + "FORMATS" + ".md §3") and not OLD_NAMES.search("docs/formats.md §3")


def test_every_docs_citation_names_an_existing_file_and_section(texts, doc_sections):
    assert {"formats", "architecture"} <= set(doc_sections)
    assert {str(n) for n in range(1, 18)} <= doc_sections["formats"]  # stable section numbers §1..§17
    cited = [c for text in texts.values() for c in citations(text)]
    assert len(cited) >= 35, "the scan found too few citations: is it reading the sources?"
    assert ("formats", "7") in cited and ("formats", "3.2") in cited
    bad = check_citations(texts, doc_sections)
    assert not bad, bad


def test_no_source_cites_the_old_design_notes_by_bare_name(texts):
    bad = [f"{name}:{text.count(chr(10), 0, m.start()) + 1}" for name, text in texts.items()
           for m in OLD_NAMES.finditer(text)]
    assert not bad, f"cite docs/formats.md §N or docs/architecture.md §N instead: {bad}"


@pytest.mark.parametrize("document", ["docs/formats.md", "README.md"])
def test_the_option_table_in_the_docs_is_the_one_the_code_renders(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    assert option_docs.BEGIN in text and option_docs.END in text, f"{document}: no option-table markers"
    assert option_docs.replace_block(text) == text, (
        f"{document}: the option table is stale; run .venv/bin/python -m engines.aftereffects.option_docs "
        f"docs/formats.md README.md")


def test_the_option_list_of_formats_names_every_option_on_every_surface():
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("## §14."):text.index("## §15.")]
    assert len(OPTIONS) > 30
    for option in OPTIONS:
        names = [f"`{option.name}`", option.flag] + [f"`{n}`" for n in (option.accsyn, option.openjd) if n]
        missing = [n for n in names if n not in section]
        assert not missing, f"docs/formats.md §14 does not name {missing} of option {option.name}"


def test_a_stale_table_is_seen():
    fresh = "x\n" + option_docs.markdown_table() + "\ny\n"
    assert option_docs.replace_block(fresh) == fresh
    stale = fresh.replace("`--stall-timeout S`", "`--stall-timeout SECONDS`")
    assert option_docs.replace_block(stale) == fresh
    with pytest.raises(ValueError):
        option_docs.replace_block("no markers here")


def product_modules() -> List[str]:
    return [str(p.relative_to(ROOT)) for pkg in PRODUCT_PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "__pycache__" not in p.parts]


def test_the_module_map_lists_every_module():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    modules = product_modules()
    assert "stmpo/run.py" in modules and "engines/aftereffects/jobs/schema.py" in modules
    missing = [m for m in modules if f"`{m}`" not in text]
    assert not missing, f"docs/architecture.md §3 does not list {missing}"


def test_every_python_file_the_docs_name_exists():
    """No invented modules: a ``path.py`` in backticks in the docs or the README is a file of the repository
    (given from the root, or as the tail of one: ``jobs/records.py``)."""
    known = {str(p.relative_to(ROOT)) for p in source_files()}
    bad = []
    for document in [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]:
        for token in re.findall(r"`([\w./-]+\.py)\b", document.read_text(encoding="utf-8")):
            token = token.strip("./")
            if token not in EXTERNAL_FILES and token not in known and not any(k.endswith("/" + token) for k in known):
                bad.append(f"{document.name}: {token}")
    assert not bad, bad
