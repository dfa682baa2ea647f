"""Input validation: each refusal names the file, the column, the count and rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlmcompare.data.load import DataError, load_data


from ..conftest import HSB_SPEC, DATA


def hs_lines() -> list[str]:
    return (DATA / "hs.csv").read_text().splitlines()


def write(tmp_path: Path, lines: list[str], name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bundled_hs_loads_with_catholic_reference():
    loaded = load_data(DATA / "hs.csv", HSB_SPEC)
    df = loaded.frame
    assert len(df) == 1977 and df["school"].nunique() == 40
    assert list(df["Sector"].cat.categories) == ["Catholic", "Public"]
    per_sector = df.groupby("Sector", observed=True)["school"].nunique()
    # The data say 21 Catholic and 19 Public (the handout's text has them swapped).
    assert per_sector.to_dict() == {"Catholic": 21, "Public": 19}
    assert loaded.n_dropped == 0


def test_hsfull_counts():
    df = load_data(DATA / "hsfull.csv", HSB_SPEC).frame
    assert len(df) == 7185 and df["school"].nunique() == 160
    assert df.groupby("Sector", observed=True)["school"].nunique().to_dict() == {"Catholic": 70, "Public": 90}


def test_missing_column_is_named(tmp_path):
    lines = [",".join(c for c in l.split(",")[:8]) for l in hs_lines()]  # drop DISCLIM
    with pytest.raises(DataError, match=r"bad\.csv: missing required column\(s\) 'DISCLIM'"):
        load_data(write(tmp_path, lines), HSB_SPEC)


def test_text_in_mathach_names_column_count_and_lines(tmp_path):
    lines = hs_lines()
    for i in (5, 17, 18):
        parts = lines[i].split(",")
        parts[1] = "twelve"
        lines[i] = ",".join(parts)
    with pytest.raises(DataError) as err:
        load_data(write(tmp_path, lines), HSB_SPEC)
    msg = str(err.value)
    assert "bad.csv" in msg and "'mathach'" in msg and "3 row(s)" in msg
    assert "line(s) 6, 18, 19" in msg and "'twelve'" in msg


def test_school_with_two_sectors_is_refused(tmp_path):
    lines = hs_lines()
    parts = lines[3].split(",")  # a row of school 1317 (Catholic)
    parts[6] = "Public"
    lines[3] = ",".join(parts)
    with pytest.raises(DataError) as err:
        load_data(write(tmp_path, lines), HSB_SPEC)
    msg = str(err.value)
    assert "level-2 column 'Sector' varies within 1 group(s) of 'school'" in msg
    assert "1317" in msg and "line 4" in msg


def test_missing_response_stops_unless_drop_incomplete(tmp_path):
    lines = hs_lines()
    for i in (10, 11):
        parts = lines[i].split(",")
        parts[2] = ""
        lines[i] = ",".join(parts)
    path = write(tmp_path, lines)
    with pytest.raises(DataError, match=r"column 'ses': 2 row\(s\) are missing, NaN or infinite"):
        load_data(path, HSB_SPEC)
    loaded = load_data(path, HSB_SPEC, drop_incomplete=True)
    assert loaded.n_dropped == 2 and len(loaded.frame) == 1975


def test_reference_level_must_exist(tmp_path):
    lines = [l.replace("Catholic", "Private") for l in hs_lines()]
    with pytest.raises(DataError, match="reference level 'Catholic' does not occur"):
        load_data(write(tmp_path, lines), HSB_SPEC)


def test_bom_and_crlf_are_read(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(hs_lines()).encode() + b"\r\n")
    df = load_data(path, HSB_SPEC).frame
    assert len(df) == 1977 and "school" in df.columns
    assert df["mathach"].sum() == pytest.approx(pd.read_csv(DATA / "hs.csv")["mathach"].sum())
