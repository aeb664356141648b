# %% [markdown]
# # Evaluating face explanations on LFW: the Deletion / Insertion game
#
# A map looks convincing or not; whether it is **faithful** to the model is a separate question.
# The game FGGB and CorrRISE were evaluated with (Lu, Xu & Ebrahimi) answers it with the
# *verification decision*: remove (Deletion) or restore (Insertion) the pixels of a face in the
# order a map ranks them, and watch when the pair stops (starts) being accepted. This tutorial
#
# 1. loads a small slice of Labeled Faces in the Wild (LFW) with `captum_fggb.data.LFWPairs`;
# 2. plays the game on one pair by hand, to see what it does;
# 3. evaluates a few methods with `captum_fggb.evaluation.DeletionInsertion`, and reads the
#    curves (`Results.plot()`) and the table (`Results.table()`).
#
# **Data.** The notebook reads LFW from the folder named by the environment variable
# `CAPTUM_FGGB_LFW`: the folder that holds LFW's `pairs.txt` and `aligned/sface112/` (the faces
# aligned to the 112×112 ArcFace template, `aligned/sface112/<Name>/<Name>_0001.png`). Set it
# before starting Jupyter, e.g. `export CAPTUM_FGGB_LFW=/data/lfw`.
#
# **Run time.** The number of pairs is small (8 genuine + 8 impostor here, a couple of minutes on
# a CPU): the numbers illustrate the game, they are not a benchmark. The environment variable
# `CAPTUM_FGGB_TUTORIAL_FAST=1` (used by the test suite) evaluates a single pair of each kind,
# and `CAPTUM_FGGB_TUTORIAL_LIMIT=N` sets the number of pairs of each kind. The full evaluation
# (every method, 150 + 150 pairs) is `benchmarks/evaluate_lfw.sh`.

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["jpeg"]
import os
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets
import torch
from matplotlib.figure import Figure

import captum_fggb as cf
from captum_fggb.data import LFWPairs
from captum_fggb.evaluation import DeletionInsertion

HOW_TO = ("Set the environment variable CAPTUM_FGGB_LFW to the LFW folder that holds pairs.txt and "
          "aligned/sface112/ (e.g. export CAPTUM_FGGB_LFW=/data/lfw) and restart the kernel.")
if not os.environ.get("CAPTUM_FGGB_LFW"):
    raise RuntimeError(f"CAPTUM_FGGB_LFW is not set. {HOW_TO}")
LFW = Path(os.environ["CAPTUM_FGGB_LFW"]).expanduser()
missing = [str(p) for p in (LFW / "pairs.txt", LFW / "aligned" / "sface112") if not p.exists()]
if missing:
    raise FileNotFoundError(f"CAPTUM_FGGB_LFW={LFW} is not an LFW folder: {', '.join(missing)} not found. {HOW_TO}")

FAST = os.environ.get("CAPTUM_FGGB_TUTORIAL_FAST", "0") == "1"
LIMIT = int(os.environ.get("CAPTUM_FGGB_TUTORIAL_LIMIT", 1 if FAST else 8))
torch.manual_seed(0)
print(f"LFW folder found; evaluating the first {LIMIT} genuine and {LIMIT} impostor pair(s) of fold 1")

# %% [markdown]
# ## 1. The LFW pairs
#
# `LFWPairs(root, pairs_file, folds)` reads LFW's official `pairs.txt` (10 folds of 300 genuine
# then 300 impostor pairs) over a folder of aligned crops; `crops="sface112"` (the default)
# selects the ArcFace-aligned crops SFace expects and checks their size. Each item is
# `(image_a, image_b, same)`, two `(3, 112, 112)` tensors in `[0, 1]` and a bool. Pairs whose
# images are missing from the folder are skipped (and counted).

# %%
data = LFWPairs(LFW / "aligned", LFW / "pairs.txt", folds=[1])
genuine = [i for i, record in enumerate(data.pairs) if record.same]
impostor = [i for i, record in enumerate(data.pairs) if not record.same]
print(f"fold 1: {len(genuine)} genuine and {len(impostor)} impostor pairs ({data.n_missing} skipped)")

pair = cf.FaceVerificationPair(cf.models.sface())
fig = Figure(figsize=(8, 2.4), layout="constrained")
axes = iter(fig.subplots(1, 4))
for kind, index in [("genuine", genuine[0]), ("impostor", impostor[0])]:
    a, b, same = data[index]
    record = data.pairs[index]
    score = pair(a[None], b[None]).item()
    print(f"{kind:9s} {record.name_a} / {record.name_b}: cosine {score:.3f} "
          f"(threshold {pair.threshold}) accept={score >= pair.threshold}")
    for image, name in [(a, record.name_a), (b, record.name_b)]:
        ax = next(axes)
        ax.imshow(cf.viz.to_hwc(image))
        ax.set_title(f"{kind}: {name}", fontsize=8)
        ax.set_axis_off()
fig

# %% [markdown]
# ## 2. The game on one pair
#
# Take the first genuine pair and FGGB's **similarity map** of its probe (the positive part of
# the signed map: what supports *Accept*). **Deletion** blacks out the top *p* % of the probe's
# pixels in the map's order, for *p* = 0, 5, …, 100 %, and scores each image against the
# untouched reference; **Insertion** starts from a black probe and restores the top *p* %.
# `DeletionInsertion.game_scores` returns the cosine at every step.

# %%
game = DeletionInsertion(pair, model_name="sface")  # the protocol's defaults: 21 steps, black
probe, reference, _ = data[genuine[0]]
probe, reference = probe[None], reference[None]
similarity = cf.FGGB(pair).attribute(probe, additional_forward_args=(reference,), map="similarity")
deletion, insertion = game.game_scores(probe, reference, similarity)
fractions = torch.tensor(game.protocol.fractions)

order = similarity.mean(dim=1).flatten().argsort(descending=True, stable=True)  # the game's ranking
shown = [0.1, 0.25, 0.5]
fig = Figure(figsize=(11, 4.6), layout="constrained")
images_fig, curve_fig = fig.subfigures(1, 2, width_ratios=[1.5, 1])
grid = images_fig.subplots(2, len(shown))
for column, p in enumerate(shown):
    selected = torch.zeros(probe[0, 0].numel(), dtype=torch.bool)
    selected[order[: int(p * selected.numel() + 0.5)]] = True
    selected = selected.view(probe.shape[-2:])
    k = int(torch.argmin((fractions - p).abs()))
    for row, (name, image, scores) in enumerate([("Deletion", probe[0] * ~selected, deletion),
                                                  ("Insertion", probe[0] * selected, insertion)]):
        ax = grid[row, column]
        ax.imshow(cf.viz.to_hwc(image))
        ax.set_title(f"{name} {p:.0%}: cosine {scores[0, k].item():.2f}", fontsize=9)
        ax.set_axis_off()
ax = curve_fig.add_subplot()
ax.plot(100 * fractions, deletion[0], label="Deletion")
ax.plot(100 * fractions, insertion[0], label="Insertion")
ax.axhline(pair.threshold, color="k", linestyle=":", label=f"threshold {pair.threshold}")
ax.set_xlabel("pixels removed (Deletion) / restored (Insertion), %")
ax.set_ylabel("cosine")
ax.legend(fontsize=8)
fig.suptitle("FGGB similarity map, first genuine pair of fold 1", fontsize=11)
fig

# %% [markdown]
# ## 3. Evaluating methods on the slice
#
# `DeletionInsertion.evaluate` plays both games for every method on the selected pairs. Its
# default protocol (recorded in the results, see the documentation's evaluation page):
#
# * **similarity maps on genuine pairs**: correct = accepted; a faithful map deletes what made
#   the pair match first, so accuracy falls early;
# * **dissimilarity maps on impostor pairs**: correct = rejected; deleting what made the faces
#   differ should make the pair accepted (wrongly) early;
# * only the probe is perturbed, black replacement, 21 steps; each map is computed once and used
#   by both games;
# * the metric is the **area under the accuracy curve** in % (normalised to the axis):
#   **Deletion, lower is better; Insertion, higher is better**;
# * `Random` (a uniformly random pixel order) is always added as the floor.
#
# `limit=N` takes the first *N* genuine and the first *N* impostor pairs in file order.

# %%
METHODS = ["FGGB", "xSSAB", "Saliency", "LayerGradCam"]  # + Random, added by evaluate
results = game.evaluate(METHODS, data, limit=LIMIT)
print(results.table())

# %% [markdown]
# The curves: accuracy (in %) against the share of pixels removed or restored, one panel per
# map and game. A good **Deletion** curve drops fast (the map found the evidence); a good
# **Insertion** curve rises fast. Accuracy is a step function of few pairs here, so the curves
# are coarse.

# %%
results.plot()

# %% [markdown]
# With few pairs, or when every method drives the accuracy to the same level, the accuracy
# curves saturate: on impostor pairs, blacking out a face rarely makes SFace accept the pair,
# so the dissimilarity curves often stay at 100 % for every method. The **mean cosine** along
# the games (`kind="score"`) keeps moving and separates methods with fewer pairs. For the
# **similarity** maps it reads like the accuracy (Deletion: lower cosine is better; Insertion:
# higher). For the **dissimilarity** maps on impostor pairs it reads the other way round, and the
# table's arrows say so: a faithful dissimilarity map *raises* the cosine when its pixels are
# deleted (the pair moves
# towards a wrong Accept, the accuracy falls) and keeps it low when they are inserted first.

# %%
print(results.table(kind="score"))
results.plot(kind="score")

# %% [markdown]
# ## Reading the results, and going further
#
# * The AUCs compare methods **under this protocol**: black squares are themselves a pattern
#   for the network, and the ranking can change with the replacement (`replacement="blur"` or
#   `"mean"`), with perturbing both images (`side="both"`), or with the model. Report the
#   protocol with the numbers (`results.to_json()` records it).
# * With a handful of pairs the differences between methods are mostly noise. The full run,
#   every registered method on the first 150 genuine and 150 impostor pairs of folds 1-2, is
#   `benchmarks/evaluate_lfw.sh sface benchmarks/results/deletion_insertion_sface` (or the
#   command line `captum-fggb evaluate ...`, which also shards the pairs over processes with
#   `torchrun`).
# * A faithful map explains what the *model* used; it is not evidence that two photos show the
#   same person (see the documentation's page on limitations and responsible use).
