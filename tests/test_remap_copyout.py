"""The in-kernel span copy of converted projects (remap.copyout) and the converter paths that use it."""
from __future__ import annotations

import errno
import io
import os

import pytest
from remap_helpers import FIXTURE, RULE_PAIRS, masked

from engines.aftereffects.sample_project import sample_project_text
from remap import aepx_check, aepx_stream, copyout
from remap.aepx import convert_aepx, convert_aepx_stream
from remap.aepx_check import first_invalid_utf8
from remap.convert import convert
from remap.copyout import SpanWriter
from remap.errors import RemapError
from remap.rules import RuleSet

RULES = RuleSet.from_cli(RULE_PAIRS)
SOURCE = bytes(range(256)) * 200  # 50 KiB, every byte value


def _spans(tmp_path, prefix=b""):
    """Write spans of SOURCE, long ones (copied by the kernel) and short ones (gathered with the replacements into one
    write), with a replacement after each; returns (writer, expected, written)."""
    src_path, out_path = tmp_path / "in.bin", tmp_path / "out.bin"
    src_path.write_bytes(prefix + SOURCE)
    expected = bytearray()
    with open(src_path, "rb") as src, open(out_path, "wb") as out:
        src.read(len(prefix))  # offsets count from where the input stood
        writer = SpanWriter(src, out)
        view = memoryview(SOURCE)
        for n, i in enumerate(range(0, len(SOURCE), 5120)):
            length = 5000 if n % 2 else 7
            writer.copy(i, view[i:i + length])
            writer.write(b"<%d>" % i)
            expected += SOURCE[i:i + length] + b"<%d>" % i
        writer.flush()
    return writer, bytes(expected), out_path.read_bytes()


@pytest.mark.skipif(not hasattr(os, "copy_file_range"), reason="no copy_file_range on this OS")
def test_spans_are_copied_in_kernel(tmp_path):
    writer, expected, written = _spans(tmp_path, prefix=b"header")
    assert writer.method == "copy_file_range" and written == expected


@pytest.mark.parametrize("err", [errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP])
def test_unsupported_copy_file_range_falls_back_to_sendfile_then_writes(tmp_path, monkeypatch, err):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    writer, expected, written = _spans(tmp_path, prefix=b"xy")
    assert written == expected and len(calls) == 1  # not retried once it failed
    assert writer.method == ("sendfile" if hasattr(os, "sendfile") and os.name != "nt" else "write")
    if hasattr(os, "sendfile"):
        monkeypatch.setattr(os, "sendfile", refuse)
        writer, expected, written = _spans(tmp_path)
        assert written == expected and writer.method == "write"


def test_without_copy_file_range_or_sendfile(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    writer, expected, written = _spans(tmp_path)
    assert written == expected and writer.method in ("sendfile", "write")
    monkeypatch.delattr(os, "sendfile", raising=False)
    writer, expected, written = _spans(tmp_path)
    assert written == expected and writer.method == "write"


def test_short_copies_and_an_input_that_ends_early(tmp_path, monkeypatch):
    real = getattr(os, "copy_file_range", None)
    if real is None:
        pytest.skip("no copy_file_range on this OS")
    monkeypatch.setattr(os, "copy_file_range", lambda i, o, n, off: real(i, o, min(n, 7), off))
    writer, expected, written = _spans(tmp_path)
    assert written == expected and writer.method == "copy_file_range"
    monkeypatch.setattr(os, "copy_file_range", lambda i, o, n, off: 0)  # as if the input had been truncated
    monkeypatch.setattr(os, "sendfile", lambda o, i, off, n: 0, raising=False)
    writer, expected, written = _spans(tmp_path)
    assert written == expected and writer.method == "write"  # the buffer the caller scanned is written instead


def test_real_copy_errors_are_not_hidden(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "I/O error")
    monkeypatch.setattr(os, "copy_file_range", fail, raising=False)
    monkeypatch.setattr(os, "sendfile", fail, raising=False)
    with pytest.raises(OSError, match="I/O error"):
        _spans(tmp_path)


def test_buffer_only_outputs_are_written_from_the_buffer(tmp_path):
    src_path = tmp_path / "in.bin"
    src_path.write_bytes(SOURCE)
    out = io.BytesIO()
    with open(src_path, "rb") as src:
        writer = SpanWriter(src, out)
        writer.copy(0, memoryview(SOURCE)[:100])
        writer.write(b"!")
    assert writer.method == "write" and out.getvalue() == SOURCE[:100] + b"!"


def test_write_back_is_started_as_the_output_grows(tmp_path, monkeypatch):
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("no posix_fadvise on this OS")
    advised = []
    real = os.posix_fadvise
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, advice: (advised.append((off, n)),
                                                                          real(fd, off, n, advice)))
    monkeypatch.setattr(copyout, "WRITEBACK_EVERY", 8192)
    writer, expected, written = _spans(tmp_path)
    assert written == expected
    assert advised and advised[0][0] == 0 and all(n >= 8192 for _, n in advised)
    assert all(a + n == b for (a, n), (b, _) in zip(advised, advised[1:]))  # contiguous, nothing advised twice


# ------------------------------------------------------------------------------------------- through the converter

def _convert_files(tmp_path, data: bytes) -> bytes:
    src, dst = tmp_path / "in.aepx", tmp_path / "out.aepx"
    src.write_bytes(data)
    with open(dst, "wb") as out:
        convert_aepx(src, out, RULES.map)
    return dst.read_bytes()


def _convert_in_memory(data: bytes) -> bytes:
    out = io.BytesIO()
    convert_aepx_stream(io.BytesIO(data), out, RULES.map, "test.aepx")
    return out.getvalue()


@pytest.mark.parametrize("small_span", [1, copyout.SMALL_SPAN])
def test_every_marker_straddles_a_block_boundary_at_every_offset(tmp_path, monkeypatch, small_span):
    """Padding shifts the whole project by 0..block-1 bytes, so each marker, tag and expression is cut by a block
    boundary at each of its offsets; the in-kernel and in-memory paths must give the same bytes as one big block.
    (``small_span`` 1: every span is copied by the kernel; else short spans are gathered into writes.)"""
    monkeypatch.setattr(copyout, "SMALL_SPAN", small_span)
    text = FIXTURE.replace("\r\n", "\n")
    head, body = text.split("\n", 1)
    expected = {}
    for pad in range(17):
        data = (head + "\n" + " " * pad + body).encode("utf-8")
        expected[pad] = _convert_in_memory(data)
        assert masked(expected[pad]) == masked(data) and expected[pad] != data
    for block in (1, 2, 3, 5, 8, 13, 17):
        monkeypatch.setattr(aepx_stream, "BLOCK", block)
        for pad in range(block):
            data = (head + "\n" + " " * pad + body).encode("utf-8")
            assert _convert_files(tmp_path, data) == expected[pad], (block, pad)
        assert _convert_in_memory(data) == expected[pad], block


def test_converted_file_identical_whichever_copy_method(tmp_path, monkeypatch):
    monkeypatch.setattr(copyout, "SMALL_SPAN", 16)
    data = sample_project_text(footage=["P:\\a\\b.png", "/Volumes/projects/ü/c.png"], output_folder="P:\\out\\",
                               expressions=['f("P:\\\\x.jsx")']).encode("utf-8")
    expected = _convert_in_memory(data)
    assert _convert_files(tmp_path, data) == expected
    monkeypatch.setattr(os, "copy_file_range", lambda *a: (_ for _ in ()).throw(OSError(errno.EXDEV, "x")),
                        raising=False)
    assert _convert_files(tmp_path, data) == expected
    monkeypatch.setattr(os, "sendfile", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSYS, "x")),
                        raising=False)
    assert _convert_files(tmp_path, data) == expected
    dst = tmp_path / "via-convert.aepx"
    convert(tmp_path / "in.aepx", dst, rules=RULES)
    assert dst.read_bytes() == expected


def test_utf8_check_in_pieces_finds_the_first_bad_byte(tmp_path, monkeypatch):
    """Blocks with non-ASCII are checked piece by piece: multi-byte characters and bad bytes cut by a piece or block
    boundary anywhere are still judged right, at the right offset."""
    good = FIXTURE.encode("utf-8")
    name = "Ünïcode".encode("utf-8")
    at = good.index(name)
    cases = [good] + [good[:at + k] + bad + good[at + k:] for k in range(0, 9, 2)
                      for bad in (b"\xff", b"\xc3(", b"\xe2\x82")]
    for piece in (1, 2, 3, 5):
        monkeypatch.setattr(aepx_check, "_UTF8_PIECE", piece)
        for block in (4, 7, 16, 1 << 18):
            monkeypatch.setattr(aepx_stream, "BLOCK", block)
            for data in cases:
                (tmp_path / "in.aepx").write_bytes(data)
                bad = first_invalid_utf8(tmp_path / "in.aepx")
                if bad is None:
                    assert masked(_convert_files(tmp_path, data)) == masked(data)
                    continue
                with pytest.raises(RemapError, match=f"invalid UTF-8 at byte {bad} "):
                    _convert_files(tmp_path, data)


def test_user_space_writes_still_start_write_back(tmp_path, monkeypatch):
    """KERNEL_COPY off (the benchmark's comparison): spans are written from the buffer, write-back still starts."""
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("no posix_fadvise on this OS")
    advised = []
    real = os.posix_fadvise
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, advice: (advised.append(n), real(fd, off, n, advice)))
    monkeypatch.setattr(copyout, "KERNEL_COPY", False)
    monkeypatch.setattr(copyout, "WRITEBACK_EVERY", 8192)
    writer, expected, written = _spans(tmp_path)
    assert written == expected and writer.method == "write" and advised


class _ReadOnlySource:
    """A source with ``read`` only (no ``readinto``, no descriptor) that returns at most 7 bytes a call."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(7 if n < 0 else min(n, 7))


def test_a_source_without_readinto_or_full_reads_gives_the_same_bytes():
    """Blocks are read into one reused chunk with ``readinto``; a source that only has ``read``, and one that returns
    short reads, must give the same output and the same verdicts."""
    data = FIXTURE.encode("utf-8")
    expected = _convert_in_memory(data)
    out = io.BytesIO()
    convert_aepx_stream(_ReadOnlySource(data), out, RULES.map, "test.aepx")
    assert out.getvalue() == expected != data
    bad = data.replace("Ünïcode".encode("utf-8"), b"\xff", 1)
    with pytest.raises(RemapError, match=f"invalid UTF-8 at byte {data.index('Ünïcode'.encode('utf-8'))} "):
        convert_aepx_stream(_ReadOnlySource(bad), io.BytesIO(), RULES.map, "test.aepx")
