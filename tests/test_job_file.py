"""The job file format: every schema error is one line with its JSON path and exit 2, nothing written; render
options take exactly the option table's names and bounds; rows and names are safe."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from job_helpers import job_document, write_job, write_rows, write_template

from engines.aftereffects.cli import main
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.names import check_relative, fill, fill_name, safe_component
from engines.aftereffects.jobs.rows import make_rows, read_table
from engines.aftereffects.jobs.schema import job_schema
from engines.aftereffects.jobs.spec import load_job
from engines.aftereffects.option_record import FLOAT, INT
from engines.aftereffects.options import SETTINGS_OPTIONS


@pytest.fixture
def studio(tmp_path, aerender_sim):
    write_template(tmp_path)
    write_rows(tmp_path, 2)
    return tmp_path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


BASE_ERRORS = [
    # (change to the document, words the one line must hold)
    (lambda d: d.pop("frames"), "$: missing 'frames'"),
    (lambda d: d.update(aefarm_job=2), "$.aefarm_job: written for a newer aefarm"),
    (lambda d: d.update(aefarm_job="1"), "$.aefarm_job: expected 1"),
    (lambda d: d.update(colour="red"), "$: unknown key 'colour'"),
    (lambda d: d.update(rqindex=1), "exactly one of comp or rqindex"),
    (lambda d: d.pop("comp"), "exactly one of comp or rqindex"),
    (lambda d: d["options"].update(stall_timeout=5), "$.options.stall_timeout: expected seconds from 30 to 86400"),
    (lambda d: d["options"].update(concurrency=0), "$.options.concurrency: expected a whole number from 1 to 256"),
    (lambda d: d["options"].update(mfr="yes"), "$.options.mfr: expected true or false"),
    (lambda d: d["options"].update(turbo=True), "$.options: unknown key 'turbo'"),
    (lambda d: d["replace"]["layers"].update(NAME=3), '$.replace.layers.NAME: expected a text'),
    (lambda d: d["replace"]["footage"].update({"a.png": None}), '$.replace.footage["a.png"]: expected a text'),
    (lambda d: d["actions"]["encode"].update(preset="gif"), "$.actions.encode.preset: expected one of h264"),
    (lambda d: d["actions"].update(notify={}), "$.actions.notify: expected an object with url and/or command"),
    (lambda d: d["actions"].update(notify={"url": "ftp://x"}), "$.actions.notify.url: expected an http"),
    (lambda d: d.update(rows=[]), "$.rows: expected a CSV/TSV/JSON file"),
    (lambda d: d.update(frames="1-"), "$.frames"),
    (lambda d: d.update(output="../{id}.png"), "$.output: '../x.png' must stay inside"),
    (lambda d: d.update(output="{id"), "$.output: unmatched '{'"),
    (lambda d: d["actions"]["encode"].update(name="{id}.avi"), "$.actions.encode.name: '{id}.avi': the h264"),
    (lambda d: d["options"].update(fail_fast=True), "$.options.fail_fast: a batch never stops"),
    (lambda d: d["options"].update(encode="h264"), "$.options.encode: the job's actions.encode says it already"),
]


@pytest.mark.parametrize("change, words", BASE_ERRORS, ids=[w for _, w in BASE_ERRORS])
def test_job_file_errors_are_one_line_exit_2_and_nothing_written(studio, aerender_sim, capsys, change, words):
    doc = job_document(aerender_sim)
    change(doc)
    job = write_job(studio, doc)
    before = sorted(p.name for p in studio.iterdir())
    for action in ("check", "run"):
        code, out, err = cli(capsys, "job", action, job)
        assert code == 2, (action, err)
        assert err.count("\n") == 1 and words in err, err
        assert str(job) in err or "job.json" in err
    assert sorted(p.name for p in studio.iterdir()) == before  # no out/, no work/


def test_a_refused_check_prints_nothing_on_stdout(tmp_path, aerender_sim, capsys):
    write_template(tmp_path)
    write_rows(tmp_path, 3)
    (tmp_path / "rows" / "photos" / "p02.png").unlink()
    job = write_job(tmp_path, job_document(aerender_sim))
    code, out, err = cli(capsys, "job", "check", job)
    assert code == 2 and err.count("\n") == 1 and "p02.png: not found" in err
    assert out == ""  # printed its "job ...: template ..." header and the rows that were fine first
    (tmp_path / "rows" / "photos" / "p02.png").write_bytes((tmp_path / "rows" / "photos" / "p01.png").read_bytes())
    code, out, _ = cli(capsys, "job", "check", job)
    assert code == 0 and out.startswith(f"job {job}: template ")


def test_no_aerender_is_one_line_before_any_variant_is_written(studio, aerender_sim, capsys, tmp_path):
    doc = job_document(str(tmp_path / "no-aerender"))
    job = write_job(studio, doc)
    code, _, err = cli(capsys, "job", "run", job)
    assert code == 3 and err.count("\n") == 1 and "no-aerender" in err  # missing input, as aefarm render
    assert not (studio / "work").exists() and not (studio / "out").exists()


@pytest.mark.parametrize("bad, words", [
    ("{", "not JSON: Expecting property name"),
    ("[]", "$: expected a JSON object"),
    ("\xff", "not UTF-8"),
])
def test_unreadable_job_files_are_one_line(studio, capsys, bad, words):
    job = studio / "bad.json"
    job.write_bytes(bad.encode("latin-1"))
    code, _, err = cli(capsys, "job", "check", job)
    assert code == 2 and err.count("\n") == 1 and words in err
    code, _, err = cli(capsys, "job", "check", studio / "missing.json")
    assert code == 2 and "job file not found" in err


def test_options_are_the_option_tables(studio, aerender_sim):
    """The job file's options are the table's (same names, kinds, bounds): a value just inside every bound loads
    with the value the CLI would give, one just outside is refused naming the option's JSON path."""
    properties = job_schema()["properties"]["options"]["properties"]
    assert set(properties) == {o.name for o in SETTINGS_OPTIONS}
    for option in SETTINGS_OPTIONS:
        if option.kind not in (INT, FLOAT) or option.low is None:
            continue
        step = 1 if option.kind == INT else 0.5
        inside = option.low + step if option.above_low else option.low
        outside = option.low if option.above_low else option.low - step
        for value, ok in ((inside, True), (option.high, True), (outside, False), (option.high + step, False)):
            doc = job_document(aerender_sim)
            doc["options"][option.name] = value
            job = write_job(studio, doc)
            if ok:
                assert load_job(job).options[option.name] == value, option.name
            else:
                with pytest.raises(JobError, match=rf"\$\.options\.{option.name}: expected"):
                    load_job(job)


def test_paths_count_from_the_job_files_folder(studio, aerender_sim, tmp_path_factory):
    doc = job_document(aerender_sim)
    doc["options"]["scratch"] = "scratch"
    job = write_job(studio, doc)
    elsewhere = tmp_path_factory.mktemp("cwd")
    os.chdir(elsewhere)
    spec = load_job(job)
    assert spec.template == studio / "template" / "card.aepx"
    assert spec.output_dir == studio / "out" and spec.rows_file == studio / "rows" / "rows.csv"
    assert spec.options["scratch"] == str(studio / "scratch")
    assert spec.options["aerender"] == aerender_sim


# ------------------------------------------------------------------------------------------------------ rows
def test_rows_from_csv_tsv_and_json(tmp_path):
    (tmp_path / "r.csv").write_text("\ufeffid,name\n7,Ada\n\n8,\"Bob, Jr\"\n", encoding="utf-8")
    (tmp_path / "r.tsv").write_text("name\tcity\nAda\tOslo\n", encoding="utf-8")
    (tmp_path / "r.json").write_text(json.dumps({"rows": [{"id": 3, "n": 1.5}, {"id": "x"}]}), encoding="utf-8")
    csv_rows = make_rows(read_table(tmp_path / "r.csv"), tmp_path, None, "r.csv")
    assert [(r.number, r.id, r.fields["name"]) for r in csv_rows] == [(1, "7", "Ada"), (2, "8", "Bob, Jr")]
    tsv_rows = make_rows(read_table(tmp_path / "r.tsv"), tmp_path, None, "r.tsv")
    assert [(r.id, r.fields["city"], r.fields["row"]) for r in tsv_rows] == [("1", "Oslo", 1)]  # no id: the number
    json_rows = make_rows(read_table(tmp_path / "r.json"), tmp_path, None, "r.json")
    assert [r.id for r in json_rows] == ["3", "x"] and json_rows[0].own == {"id": 3, "n": 1.5}
    assert [r.id for r in make_rows(read_table(tmp_path / "r.tsv"), tmp_path, "city", "r.tsv")] == ["Oslo"]


@pytest.mark.parametrize("text, words", [
    ("id,name\n1,a\n1,b\n", "same id"),
    ("id,name\n1,a\n2,b,c\n", "line 3 has 3 values"),
    ("id,id\n1,2\n", "unique, non-empty field names"),
    ("id,row\n1,2\n", "'row' is aefarm's own"),
    ("id\n\n", "no rows"),
    ("", "no header line"),
    ("id,name\na/b,x\na_b,y\n", "same id"),  # the same once made file-name safe
])
def test_bad_rows_are_one_line(tmp_path, text, words):
    (tmp_path / "r.csv").write_text(text, encoding="utf-8")
    with pytest.raises(JobError) as info:
        make_rows(read_table(tmp_path / "r.csv"), tmp_path, None, "r.csv")
    assert words in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------------------ names
@given(st.text(max_size=40))
def test_a_row_value_never_leaves_its_folder(value):
    name = fill_name("{v}/[compName]_[#####].png", {"v": value})
    parts = name.split("/")
    assert len(parts) == 2 and parts[0] not in ("", ".", "..") and "\\" not in parts[0]
    check_relative(name, "x")  # never raises
    assert safe_component(value) == parts[0]


@pytest.mark.parametrize("value, safe", [
    ("../../etc/passwd", "__.._etc_passwd"), (".hidden", "_hidden"), ("a/b\\c", "a_b_c"), ("CON", "_CON"), ("nul.txt", "_nul.txt"),
    ("name. ", "name"), ("..", "_"), ("a:b*c?d\"e<f>g|h", "a_b_c_d_e_f_g_h"), ("tab\there", "tab_here"),
])
def test_safe_components(value, safe):
    assert safe_component(value) == safe


def test_fill_keeps_values_and_braces():
    assert fill("{{x}} {a} {b}", {"a": 1.0, "b": True}) == "{x} 1 true"
    with pytest.raises(JobError, match="field {c} is not in the row"):
        fill("{c}", {"a": 1})
    assert Path(fill_name("{a}_{b}.mp4", {"a": "x y", "b": "é"})).name == "x y_é.mp4"
