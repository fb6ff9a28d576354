"""accsyn node filter grammar: what is accepted, how it is normalised, and one clear line for anything else."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.accsyn_filters import Filter, normalize_filters, parse_filters


@pytest.mark.parametrize("text, expected", [
    ("", ""),
    ("ram:<32g", "ram:<32g"),
    ("ram:>64G", "ram:>64g"),
    ("ram:>64", "ram:>64g"),  # no unit: gigabytes
    ("ram:<512m", "ram:<512m"),
    ("ram:>1.5t", "ram:>1.5t"),
    ("RAM:> 16 g", "ram:>16g"),
    ("hostname:+render01", "hostname:+render01"),
    ("hostname:+node-a+node-b", "hostname:+node-a+node-b"),
    ("hostname:-a-b", "hostname:-a-b"),
    ("site:sthlm", "site:sthlm"),
    ("site:-london", "site:-london"),
    (" ram:>32g , site:sthlm,hostname:-a-b ", "ram:>32g,site:sthlm,hostname:-a-b"),
])
def test_valid_filters_normalise(text, expected):
    assert normalize_filters(text) == expected


def test_parsed_shape():
    assert parse_filters("hostname:-a-b,site:-x,ram:<8g") == [
        Filter("hostname", "-", ("a", "b")), Filter("site", "-", ("x",)), Filter("ram", "<", ("8g",))]


@pytest.mark.parametrize("text, message", [
    ("ram:32g", r"filter 1 'ram:32g': expected ram:<N or ram:>N"),
    ("ram:>32x", r"filter 1 'ram:>32x'"),
    ("ram:>0", r"greater than 0"),
    ("ram:>", r"filter 1 'ram:>'"),
    ("cpu:>8", r"filter 1 'cpu:>8': unknown key 'cpu' \(known: ram, hostname, site\)"),
    ("sthlm", r"expected key:value"),
    ("site:sthlm,hostname:a", r"filter 2 'hostname:a': expected hostname:\+host"),
    ("hostname:-a--b", r"empty host name"),
    ("hostname:-", r"empty host name"),
    ("hostname:+a b", r"bad host name 'a b'"),
    ("site:", r"expected site:name or site:-name"),
    ("site:-", r"expected site:name or site:-name"),
    ("site:a/b", r"bad site name"),
    ("ram:>8g,,site:x", r"filter 2: empty entry"),
])
def test_invalid_filters_are_one_line(text, message):
    with pytest.raises(AccsynError, match=message) as info:
        parse_filters(text)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_not_a_string():
    with pytest.raises(AccsynError, match="comma-separated string"):
        parse_filters(["ram:>1g"])  # type: ignore[arg-type]


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.", min_size=1, max_size=8)
_filter = st.one_of(
    st.builds(lambda op, n, u: f"ram:{op}{n}{u}", st.sampled_from("<>"), st.integers(1, 4096),
              st.sampled_from(["", "g", "G", "m", "t"])),
    st.builds(lambda op, names: f"hostname:{op}{op.join(names)}", st.sampled_from("+-"),
              st.lists(_name, min_size=1, max_size=3)),
    st.builds(lambda neg, n: f"site:{'-' if neg else ''}{n}", st.booleans(), _name),
)


@given(st.lists(_filter, min_size=1, max_size=5))
def test_normalising_is_idempotent_and_keeps_every_filter(entries):
    once = normalize_filters(", ".join(entries))
    assert normalize_filters(once) == once
    assert len(parse_filters(once)) == len(entries)
