"""Pair datasets: LFW pairs.txt over the shared aligned crops, CSV pairs, errors."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Dict

import pytest
import torch
from torch.utils.data import DataLoader

from captum_fggb.data import CSVPairs, LFWPairs
from captum_fggb.errors import InvalidInputError


def _lfw(lfw_dir: Path, **kwargs) -> LFWPairs:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return LFWPairs(lfw_dir / "aligned", lfw_dir / "pairs.txt", **kwargs)


@pytest.mark.parametrize("fold, present, genuine, impostor, missing", [(1, 553, 272, 281, 47), (2, 562, 279, 283, 38)])
def test_lfw_fold_counts(lfw_dir: Path, fold: int, present: int, genuine: int, impostor: int, missing: int) -> None:
    with pytest.warns(UserWarning, match=f"{missing} of 600 pairs"):
        data = LFWPairs(lfw_dir / "aligned", lfw_dir / "pairs.txt", folds=[fold], crops="dlib150")
    assert len(data) == present and data.n_missing == missing
    assert (int(data.labels.sum()), int((~data.labels).sum())) == (genuine, impostor)
    assert data.folds == (fold,) and {p.fold for p in data.pairs} == {fold}


def test_lfw_pairs_match_the_published_availability_list(lfw_dir: Path) -> None:
    data = _lfw(lfw_dir, folds=[2, 1])
    assert data.folds == (1, 2) and data.n_missing == 47 + 38
    with open(lfw_dir / "available_pairs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = [
        (int(r["fold"]), r["name_a"], int(r["num_a"]), r["name_b"], int(r["num_b"]), r["same_identity"] == "1")
        for r in rows
        if r["fold"] in ("1", "2") and r["present"] == "1"
    ]
    got = [(p.fold, p.name_a, int(p.path_a.stem[-4:]), p.name_b, int(p.path_b.stem[-4:]), p.same) for p in data.pairs]
    assert got == expected  # same pairs, same order, same labels
    assert all(p.same == (p.name_a == p.name_b) for p in data.pairs)
    assert len(data.image_paths()) == 1493 and len(set(data.image_paths())) == 1493
    assert data.paths[0] == (data.pairs[0].path_a, data.pairs[0].path_b)


def test_lfw_all_folds_by_default(lfw_dir: Path) -> None:
    data = _lfw(lfw_dir)
    assert data.folds == tuple(range(1, 11)) and len(data) + data.n_missing == 6000
    assert len(data) == 1115  # only folds 1-2 have images in the shared slice


@pytest.mark.parametrize("crops, size", [("sface112", 112), ("dlib150", 150)])
def test_lfw_items_are_model_ready(lfw_dir: Path, crops: str, size: int) -> None:
    data = _lfw(lfw_dir, folds=[1], crops=crops)
    a, b, same = data[0]
    assert a.shape == b.shape == (3, size, size) and a.dtype == torch.float32
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0 and float(a.max()) > 0.5
    assert same.dtype == torch.bool and same.dim() == 0 and bool(same) == data.pairs[0].same
    batch_a, batch_b, batch_same = next(iter(DataLoader(data, batch_size=4)))
    assert batch_a.shape == (4, 3, size, size) and batch_same.dtype == torch.bool and batch_same.shape == (4,)
    assert data.pairs[0].path_a.parent.parent == lfw_dir / "aligned" / crops


def test_lfw_root_is_the_parent_of_the_crop_folders(lfw_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="contains the 'sface112' sub-folder"):
        LFWPairs(lfw_dir / "aligned" / "sface112", lfw_dir / "pairs.txt", folds=[1])
    direct = _lfw_direct(lfw_dir)
    assert len(direct) == 553 and direct.image_size is None
    assert direct.paths == _lfw(lfw_dir, folds=[1], crops="sface112").paths


def _lfw_direct(lfw_dir: Path) -> LFWPairs:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return LFWPairs(lfw_dir / "aligned" / "sface112", lfw_dir / "pairs.txt", folds=[1], crops=None)


def test_lfw_crops_name_checks_the_image_size(lfw_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sface112").symlink_to(lfw_dir / "aligned" / "dlib150")  # wrong crops behind the name
    data = _lfw_from(tmp_path, lfw_dir)
    with pytest.raises(InvalidInputError, match=r"\(150, 150\) pixels, expected \(112, 112\)"):
        data[0]


def _lfw_from(root: Path, lfw_dir: Path) -> LFWPairs:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return LFWPairs(root, lfw_dir / "pairs.txt", folds=[1], crops="sface112")


def test_lfw_missing_images_can_be_an_error(lfw_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="47 of 600 pairs"):
        LFWPairs(lfw_dir / "aligned", lfw_dir / "pairs.txt", folds=[1], on_missing="error")
    with pytest.raises(InvalidInputError, match="on_missing"):
        LFWPairs(lfw_dir / "aligned", lfw_dir / "pairs.txt", folds=[1], on_missing="ignore")


def test_lfw_folds_must_exist(lfw_dir: Path) -> None:
    for folds in ([0], [11], [1.5], []):
        with pytest.raises(InvalidInputError, match=r"folds must be ints in 1\.\.10"):
            LFWPairs(lfw_dir / "aligned", lfw_dir / "pairs.txt", folds=folds)


def _faces(tmp_path: Path, text: str) -> Path:
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    for name in ("A/A_0001.png", "A/A_0002.png", "B/B_0001.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "pairs.txt").write_text(text)
    return tmp_path / "pairs.txt"


def test_lfw_single_set_header_and_malformed_files(tmp_path: Path) -> None:
    pairs = _faces(tmp_path, "1\nA 1 2\nA 1 B 1\n")  # pairsDevTrain.txt style: one fold
    data = LFWPairs(tmp_path, pairs, crops=None)
    assert data.folds == (1,) and [p.same for p in data.pairs] == [True, False]
    assert [p.path_b.name for p in data.pairs] == ["A_0002.png", "B_0001.png"]
    for text, match in [
        ("1 1\nA 1 2\nA 1 2\n", r"line 3: expected 'name1 n1 name2 n2'"),
        ("1 1\nA 1 x\nA 1 B 1\n", r"line 2: expected 'name n1 n2'"),
        ("2 1\nA 1 2\nA 1 B 1\n", "header says 2 folds"),
        ("pairs\nA 1 2\n", "first line"),
    ]:
        (tmp_path / "pairs.txt").write_text(text)
        with pytest.raises(InvalidInputError, match=match):
            LFWPairs(tmp_path, pairs, crops=None)


def _write_csv(path: Path, rows) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_csv_pairs_on_shared_faces(shared: Path, faces_manifest: Dict, tmp_path: Path) -> None:
    crop = {key[1]: row["dlib150"] for key, row in faces_manifest.items() if key[0] == "deepface_master"}
    rows = [
        ("path_a", "path_b", "same", "note"),
        (crop["000_deepface_person1"], crop["001_deepface_person1"], "Yes ", "deepface label with a trailing space"),
        (crop["000_deepface_person1"], crop["019_deepface_person7"], "0", ""),
        (crop["000_deepface_person1"], "aligned/dlib150/deepface_master/nope.png", "1", "missing image"),
    ]
    csv_path = _write_csv(tmp_path / "pairs.csv", rows)
    with pytest.warns(UserWarning, match="1 of 3 pairs"):
        data = CSVPairs(csv_path, root=shared / "faces", image_size=(150, 150))
    assert len(data) == 2 and data.n_missing == 1 and data.labels.tolist() == [True, False]
    assert data.pairs[0].fold is None and data.pairs[0].path_a == shared / "faces" / crop["000_deepface_person1"]
    assert len(data.image_paths()) == 3
    a, b, same = data[1]
    assert a.shape == b.shape == (3, 150, 150) and same.dtype == torch.bool and not bool(same)
    with pytest.warns(UserWarning, match="missing image"):
        small = CSVPairs(csv_path, root=shared / "faces", image_size=(112, 112))
    with pytest.raises(InvalidInputError, match=r"\(150, 150\) pixels, expected \(112, 112\)"):
        small[0]


def test_csv_pairs_errors(tmp_path: Path) -> None:
    _faces(tmp_path, "1\n")  # image files A/A_0001.png, A/A_0002.png, B/B_0001.png
    with pytest.raises(InvalidInputError, match="missing column"):
        CSVPairs(_write_csv(tmp_path / "a.csv", [("a", "b", "same"), ("A/A_0001.png", "A/A_0002.png", "1")]))
    with pytest.raises(InvalidInputError, match=r"line 3: same must be"):
        rows = [("path_a", "path_b", "same"), ("A/A_0001.png", "A/A_0002.png", "1"), ("A/A_0001.png", "x.png", "?")]
        CSVPairs(_write_csv(tmp_path / "b.csv", rows))
    with pytest.raises(InvalidInputError, match="line 2: path_a, path_b and same"):
        CSVPairs(_write_csv(tmp_path / "c.csv", [("path_a", "path_b", "same"), ("A/A_0001.png", "", "1")]))
    with pytest.raises(InvalidInputError, match="lists no pairs"):
        CSVPairs(_write_csv(tmp_path / "d.csv", [("path_a", "path_b", "same")]))
    with pytest.raises(FileNotFoundError, match="no pair is left"):
        CSVPairs(_write_csv(tmp_path / "e.csv", [("path_a", "path_b", "same"), ("A/x.png", "A/A_0002.png", "1")]))
    with pytest.raises(FileNotFoundError, match="pairs CSV not found"):
        CSVPairs(tmp_path / "absent.csv")
    rows = [(" path_a", "path_b ", "same"), (" A/A_0001.png", "B/B_0001.png", "false")]  # spaces are stripped
    data = CSVPairs(_write_csv(tmp_path / "f.csv", rows))
    assert data.root == tmp_path and data.labels.tolist() == [False]
