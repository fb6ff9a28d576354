"""Template jobs end to end on the simulator (issue 16's "Done when"): a 20-row batch (a CSV with a name, a photo
path and a colour) renders with 4 children into 20 verified MP4s with the audio track, each proven to carry its own
row's data; a real webhook on 127.0.0.1 receives the 20 results; a rerun skips what was delivered; the Deadline
bundle of the same job passes `openjd check` and renders 3 rows with `openjd run`; accsyn gets one item per row."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VENV_BIN, run_aefarm
from job_helpers import job_document, write_audio, write_job, write_rows, write_template
from webhook import Webhook

from aerender_sim.png import BAND_ROWS, HEIGHT, WIDTH, read_frame_sources, sources_colour
from engines.aftereffects.jobs.names import safe_component
from stmpo.frames import FrameSet
from stmpo.history import history_path
from stmpo.movies import find_ffmpeg, movie_frame_count

ROWS = 20
TOOLS = find_ffmpeg()
SIM_ENV = {"AERENDER_SIM_FRAME_SECONDS": "0.01"}

pytestmark = pytest.mark.slow


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def env():
    return dict(os.environ, **SIM_ENV)


@pytest.fixture(scope="module")
def hook():
    with Webhook() as server:
        yield server


@pytest.fixture(scope="module")
def batch(tmp_path_factory, hook):
    """The 20-row job, rendered once for the module's tests."""
    root = tmp_path_factory.mktemp("studio")
    write_template(root)
    rows = write_rows(root, ROWS)
    write_audio(root / "music.wav", 2.0)
    job = write_job(root, job_document(str(VENV_BIN / "aerender-sim"), notify=hook.url, audio="music.wav"))
    proc = run_aefarm("job", "run", job, "--progress", "log", "--report", root / "report.json", env=env(),
                      timeout=600)
    return {"root": root, "rows": rows, "job": job, "proc": proc, "bodies": list(hook.bodies)}


def movie_of(root: Path, row) -> Path:
    return root / "out" / f"{safe_component(row['name'])}_{row['id']}.mp4"


def band_colour(movie: Path):
    """The average colour of the simulator's sources band in the movie's first frame (decoded by ffmpeg)."""
    raw = subprocess.run([TOOLS[0], "-v", "error", "-i", str(movie), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True).stdout
    assert len(raw) == WIDTH * HEIGHT * 3
    pixels = [raw[(y * WIDTH + x) * 3:(y * WIDTH + x) * 3 + 3] for y in range(BAND_ROWS[0] + 2, BAND_ROWS[1] - 2)
              for x in range(4, WIDTH - 4)]
    return tuple(sum(p[i] for p in pixels) / len(pixels) for i in range(3))


def test_twenty_variants_render_through_one_pool_into_verified_movies(batch):
    proc, root = batch["proc"], batch["root"]
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-4000:]
    assert "pool: 20 renders share the child slots" in proc.stdout
    assert "concurrency = explicit 4" in proc.stdout or "= 4" in proc.stdout
    report = json.loads((root / "report.json").read_text())
    assert report["counts"] == {"delivered": ROWS, "skipped": 0, "failed": 0} and report["ok"] is True
    pool = report["pool"]
    assert pool["ok"] and len(pool["targets"]) == ROWS and pool["plan"]["concurrency"] == 4
    for chunk in pool["chunks"]:  # a chunk never spans two variants
        assert 0 <= chunk["target"] < ROWS
    slots = {chunk["slot"] for chunk in pool["chunks"]}
    assert slots == {0, 1, 2, 3}  # the pool's 4 children all worked
    for row in batch["rows"]:  # one ffprobe per movie: its streams, and the video frames counted by decoding
        movie = movie_of(root, row)
        streams = subprocess.run([TOOLS[1], "-v", "error", "-count_frames", "-show_entries",
                                  "stream=codec_type,codec_name,nb_read_frames", "-of", "csv=p=0", str(movie)],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert streams[0] == "h264,video,3" and streams[1].startswith("aac,audio,"), (movie, streams)
        assert len(streams) == 2


def test_the_batch_leaves_a_final_picture_and_no_history_record(batch):
    """The pool's HTML report beside the batch report: one lane per child slot, one bar per aerender invocation;
    a pool's frames are several renders', so nothing goes into the render history."""
    root = batch["root"]
    pool = json.loads((root / "report.json").read_text())["pool"]
    assert pool["ok"] and pool["frames"] == f"{3 * ROWS} frames"
    page = (root / "report.html").read_text(encoding="utf-8")
    assert f"{ROWS} renders" in page
    assert page.count('class="lane"') == len({c["slot"] for c in pool["chunks"]}) == 4
    assert page.count('class="inv ') == sum(len(c["invocations"]) for c in pool["chunks"])
    assert f"HTML report: {root / 'report.html'}" in batch["proc"].stdout
    history = history_path()  # the state folder this test session set (conftest) and the batch inherited
    frames = str(FrameSet.from_frames(range(3 * ROWS)))
    records = [json.loads(line) for line in history.read_text().splitlines()] if history.exists() else []
    assert not [r for r in records if r.get("frames") == frames], "a pool wrote a history record"


def test_each_variant_carries_its_own_rows_data(batch):
    root, rows = batch["root"], batch["rows"]
    expected_colours = {}
    for row in rows:
        frames = sorted((root / "out" / row["id"]).glob("Main_*.png"))
        assert [f.name for f in frames] == ["Main_00000.png", "Main_00001.png", "Main_00002.png"]
        sources = [read_frame_sources(f) for f in frames]
        assert all(s == sources[0] for s in sources)
        used = {Path(f["path"]).name: f for f in sources[0]["footage"]}
        photo = root / "rows" / row["photo"]
        assert used[photo.name]["path"] == str(photo) and used[photo.name]["sha256"] == sha(photo)
        data_file = Path(used["data.json"]["path"])  # the row written as the data file, in its variant's folder
        assert json.loads(data_file.read_text(encoding="utf-8")) == row
        assert used["data.json"]["sha256"] == sha(data_file)
        assert row["name"] in sources[0]["layers"] and "NAME" not in sources[0]["layers"]
        expected_colours[row["id"]] = sources_colour(sources[0])
    assert len(set(expected_colours.values())) == ROWS
    for row in rows:  # the movie shows its own variant's sources (nearest band colour of all twenty)
        got = band_colour(movie_of(root, row))
        distances = {k: sum((a - b) ** 2 for a, b in zip(got, c)) ** 0.5 for k, c in expected_colours.items()}
        nearest = min(distances, key=lambda k: distances[k])
        assert nearest == row["id"] and distances[nearest] < 12


def test_the_webhook_received_every_result(batch):
    bodies = batch["bodies"]
    assert len(bodies) == ROWS
    assert sorted(int(b["id"]) for b in bodies) == list(range(1, ROWS + 1))
    for body in bodies:
        assert body["status"] == "delivered" and body["movie"]["frames"] == 3 and body["movie"]["audio"]
        assert body["fields"]["name"] == f"Person {body['id']} & co"
        assert body["job"] == str(batch["job"])


def test_a_rerun_skips_what_was_delivered_and_renders_what_changed(batch, hook):
    """Skipped only when proven: outputs present and whole, and the same row, template and job."""
    root, job = batch["root"], batch["job"]
    before = len(hook.bodies)
    (root / "out" / "3" / "Main_00001.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # damaged since
    rows_csv = root / "rows" / "rows.csv"
    colour = batch["rows"][4]["colour"]
    rows_csv.write_text(rows_csv.read_text().replace(colour, "#010203"), encoding="utf-8")  # row 5 changed
    proc = run_aefarm("job", "run", job, "--progress", "log", "--report", root / "rerun.json", env=env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads((root / "rerun.json").read_text())
    assert report["counts"] == {"delivered": 2, "skipped": ROWS - 2, "failed": 0}
    assert sorted(v["id"] for v in report["variants"] if v["status"] == "delivered") == ["3", "5"]
    assert "pool: 2 renders share the child slots" in proc.stdout
    assert sorted(b["id"] for b in hook.bodies[before:]) == ["3", "5"]  # the skipped are not notified again
    frames = sorted((root / "out" / "3").glob("Main_*.png"))
    assert all(read_frame_sources(f)["footage"] for f in frames)  # the damaged frame is whole again


def test_one_failed_variant_never_stops_the_others(tmp_path, hook):
    write_template(tmp_path)
    write_rows(tmp_path, 3)
    (tmp_path / "rows" / "photos" / "p02.png").unlink()
    job = write_job(tmp_path, job_document(str(VENV_BIN / "aerender-sim"), notify=hook.url))
    check = run_aefarm("job", "check", job)
    assert check.returncode == 2 and check.stderr.count("\n") == 1 and "p02.png: not found" in check.stderr
    proc = run_aefarm("job", "run", job, "--progress", "log", "--report", tmp_path / "r.json", env=env())
    assert proc.returncode == 4, proc.stdout[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    status = {v["id"]: v["status"] for v in report["variants"]}
    assert status == {"1": "delivered", "2": "failed", "3": "delivered"}
    assert "p02.png" in [v for v in report["variants"] if v["id"] == "2"][0]["reason"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.mp4")) == ["Person 1 & co_1.mp4", "Person 3 & co_3.mp4"]


def test_deadline_bundle_checks_and_renders_three_rows_with_openjd_run(batch, tmp_path, capsys):
    from engines.aftereffects.cli import main

    root = batch["root"]
    bundle = tmp_path / "bundle"
    assert main(["deadline", "bundle", "--job", str(batch["job"]), "-o", str(bundle), "--rows-per-task", "2"]) == 0
    assert capsys.readouterr().out.strip() == str(bundle)
    openjd = str(VENV_BIN / "openjd")
    check = subprocess.run([openjd, "check", str(bundle / "template.yaml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    import yaml

    values = {v["name"]: v["value"] for v in yaml.safe_load((bundle / "parameter_values.yaml").read_text())
              ["parameterValues"]}
    assert values["Rows"] == f"1-{ROWS}" and values["RowsPerTask"] == "2"
    assets = yaml.safe_load((bundle / "asset_references.yaml").read_text())["assetReferences"]
    files = set(assets["inputs"]["filenames"])
    assert {str(bundle / "job.json"), str(root / "template" / "card.aepx"), str(root / "rows" / "rows.csv"),
            str(root / "music.wav")} <= files
    folders = set(assets["inputs"].get("directories", []))
    for row in batch["rows"]:  # swapped footage travels: as a file, or (numbered like a sequence) its folder
        photo = root / "rows" / row["photo"]
        assert str(photo) in files or str(photo.parent) in folders, photo
    assert str(root / "template" / "photo.png") not in files  # replaced in every variant: not needed
    out = tmp_path / "farm-out"
    run = subprocess.run([openjd, "run", str(bundle / "template.yaml"), "-p", f"JobFile={bundle / 'job.json'}",
                          "-p", f"OutputDir={out}", "-p", "Rows=1-3", "-p", "RowsPerTask=2"],
                         capture_output=True, text=True, env=env(), timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Chunks run: 2" in run.stdout  # rows 1-2, then 3
    for row in batch["rows"][:3]:
        assert movie_frame_count(out / movie_of(root, row).name, TOOLS[1]) == 3
        assert read_frame_sources(out / row["id"] / "Main_00001.png")["layers"][3] == row["name"]
    assert not list(out.glob("*_4.mp4"))


def test_accsyn_items_are_rows(batch, tmp_path, capsys):
    from engines.aftereffects.cli import main

    root = batch["root"]
    assert main(["accsyn", "submit", "--job", str(batch["job"]), "--engine", "aftereffects", "--dry-run"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["range"] == f"1-{ROWS}" and payload["input"] == str(batch["job"])
    assert payload["parameters"]["job"] is True
    assert {str(root / "rows" / r["photo"]) for r in batch["rows"]} <= set(payload["dependencies"])
    payload["range"] = "4-5"  # two items, both delivered by the batch: the app reports them done at once
    (tmp_path / "payload.json").write_text(json.dumps(payload))
    run = run_aefarm("accsyn", "run", tmp_path / "payload.json", "--work", tmp_path / "work", env=env())
    assert run.returncode == 0, run.stdout[-3000:]
    assert '{"taskstatus": true, "uri": "4", "status": "done"}' in run.stdout
    assert '{"taskstatus": true, "uri": "5", "status": "done"}' in run.stdout


def test_check_and_offers_write_nothing(batch, capsys):
    from engines.aftereffects.cli import main

    root = batch["root"]
    before = sorted(str(p) for p in root.rglob("*"))
    assert main(["job", "check", str(batch["job"]), "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert len(checked["variants"]) == ROWS and not checked["problems"]
    first = checked["variants"][0]
    assert {c["what"].split(" ")[0] for c in first["changes"]} == {"footage", "layer", "expression"}
    assert main(["job", "offers", str(root / "template" / "card.aepx")]) == 0
    text = capsys.readouterr().out
    assert "'NAME' in 'Main'  text: Source Text reads the layer name" in text and "'COLOUR'" in text
    assert sorted(str(p) for p in root.rglob("*")) == before
    assert shutil.which("aefarm") and sys.executable  # the suite's own tools are on PATH
