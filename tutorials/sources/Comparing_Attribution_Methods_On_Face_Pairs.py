# %% [markdown]
# # Comparing attribution methods on face pairs
#
# captum-fggb registers every explanation method it ships under one name and one call contract
# (`cf.methods`): FGGB, the baselines from the face-verification literature (xSSAB, CorrRISE)
# and Captum's own methods wrapped for pairs (Saliency, IntegratedGradients, Occlusion, LIME,
# ...). Every method returns a **signed map** per image: positive where the pixels support
# *Accept*, negative where they support *Reject*. This tutorial
#
# 1. explains the same sample pairs with **every registered method** and draws them in one
#    figure (`cf.viz.compare`);
# 2. scores each method's maps with two of Captum's metrics, **infidelity** (does the map predict
#    how the score changes when parts of the face are removed?) and **sensitivity_max** (how much
#    does the map change when the image changes imperceptibly?), and says what these numbers can
#    and cannot tell.
#
# Some methods are expensive (FGGB backpropagates each of SFace's 128 embedding dimensions;
# CorrRISE, LIME and KernelShap run the model on hundreds of masked images; `sensitivity_max`
# re-explains every image several times). The settings below are **moderate**; setting the
# environment variable `CAPTUM_FGGB_TUTORIAL_FAST=1` (what the test suite does) shrinks them so
# that the notebook runs in well under a minute. Neither is a benchmark setting.

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["jpeg"]
import os
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets
import torch
import torch.nn.functional as F
from captum.metrics import infidelity, sensitivity_max
from matplotlib.figure import Figure

import captum_fggb as cf

torch.manual_seed(0)
FAST = os.environ.get("CAPTUM_FGGB_TUTORIAL_FAST", "0") == "1"
SETTINGS = {
    # constructor options of the expensive methods (cf.methods.options(name) lists them)
    "options": {
        "CorrRISE": {"n_masks": 16 if FAST else 200},
        "IntegratedGradients": {"n_steps": 4 if FAST else 16},
        "Occlusion": {"window": 16, "stride": 16 if FAST else 8},
        "LIME": {"n_samples": 16 if FAST else 100},
        "KernelShap": {"n_samples": 16 if FAST else 100},
    },
    "pairs": ["genuine"] if FAST else ["genuine", "impostor"],  # pairs scored by the metrics
    "infidelity_samples": 8 if FAST else 64,   # perturbations per pair for infidelity
    "sensitivity_samples": 1 if FAST else 3,   # re-explanations per pair for sensitivity_max
}
print("fast mode" if FAST else "moderate settings", SETTINGS)

# %% [markdown]
# ## 1. The pairs and the model
#
# Two pairs of the package's sample faces (aligned 112×112 ArcFace crops, RGB in `[0, 1]`): a
# **genuine** pair (same person) and an **impostor** pair, verified with the pretrained SFace
# model at OpenCV's threshold.

# %%
PAIRS = {"genuine": cf.samples.load_pair(*cf.samples.GENUINE_PAIR),
         "impostor": cf.samples.load_pair(*cf.samples.IMPOSTOR_PAIR)}
pair = cf.FaceVerificationPair(cf.models.sface())
fig = Figure(figsize=(8, 2.3), layout="constrained")
axes = iter(fig.subplots(1, 4))
for label, (probe, reference) in PAIRS.items():
    score = pair(probe, reference).item()
    print(f"{label:9s} cosine {score:.3f}  threshold {pair.threshold}  "
          f"accept={pair.decide(probe, reference).item()}")
    for image, side in [(probe, "probe"), (reference, "reference")]:
        ax = next(axes)
        ax.imshow(cf.viz.to_hwc(image[0]))
        ax.set_title(f"{label} {side}", fontsize=9)
        ax.set_axis_off()
fig

# %% [markdown]
# ## 2. Every registered method, one figure
#
# `cf.methods.available()` lists the registry; `cf.methods.get(name, pair, **options)` builds a
# method. `cf.viz.compare` explains one pair with each method and draws a row per method:
# probe | similarity and dissimilarity of the probe | of the reference | reference. The four maps
# of a row share one colour scale (methods have different units, so rows do not), and the row
# title gives the method's run time with the settings above. `Random` (uniform noise) is the
# floor every method should beat.

# %%
METHODS = cf.methods.available()
OPTIONS = SETTINGS["options"]
print(METHODS)
probe, reference = PAIRS["genuine"]
cf.viz.compare(pair, probe, reference, methods=METHODS, options=OPTIONS, label="genuine pair")

# %% [markdown]
# ## 3. Infidelity: does the map predict the score drop?
#
# Captum's `infidelity` (Yeh et al., NeurIPS 2019) draws random perturbations $I$ of the input
# $x$ and compares the map's prediction $\Phi \cdot I$ with the model's actual change
# $f(x) - f(x - I)$:
#
# $$\mathrm{INFD}(\Phi, f, x) = \mathbb{E}_I\big[(\beta\,\Phi \cdot I - (f(x) - f(x - I)))^2\big].$$
#
# Here $f$ is the pair wrapper: the explained image is the **probe**, the reference is held fixed
# through `additional_forward_args=(reference,)`, and $f$ is the cosine score. With
# `normalize=True` Captum fits the scale $\beta$ by least squares, so a map is not penalised for
# its units (the methods' maps differ by orders of magnitude). Lower is better.
#
# **The perturbation function.** Pixel-level Gaussian noise is a poor choice on a face model: any
# noise lowers the cosine of a pair (a second-order effect that no map can predict), so every
# map, random ones included, gets the same infidelity. We use *square removal*, the binary
# perturbation Captum suggests for importance maps: the face is cut into 16×16-pixel cells
# (7×7 cells on a 112×112 crop) and each cell is blacked out with probability 0.1; $I$ is the
# binary mask of the removed cells (the same in the three colour channels) and the perturbed
# probe is the probe with those cells set to 0. $\Phi \cdot I$ is then the map's mass in the
# removed cells: the question is whether the regions a map marks are those whose removal moves
# the score, the same reading as the region summary and the Deletion game.

# %%
CELL, P_REMOVE = 16, 0.1


def remove_cells(inputs: torch.Tensor):
    """Black out random 16×16 cells; returns (perturbation I, perturbed inputs)."""
    n, _, height, width = inputs.shape
    cells = (torch.rand(n, 1, height // CELL, width // CELL) < P_REMOVE).to(inputs.dtype)
    mask = F.interpolate(cells, size=(height, width), mode="nearest").expand_as(inputs)
    return mask, inputs * (1 - mask)


torch.manual_seed(1)
_, examples = remove_cells(probe.expand(4, -1, -1, -1))
fig = Figure(figsize=(8, 2.3), layout="constrained")
for ax, image in zip(fig.subplots(1, 4), examples):
    ax.imshow(cf.viz.to_hwc(image))
    ax.set_title(f"cosine {pair(image[None], reference).item():.3f}", fontsize=9)
    ax.set_axis_off()
fig.suptitle("four draws of the perturbation on the genuine probe", fontsize=10)
fig

# %% [markdown]
# The metrics take a batch of probes (`SETTINGS["pairs"]`) with their references. Each method
# explains the probes once (`map="signed"`, one map per probe); every method then sees the
# **same** perturbations (the seed is reset before each call).

# %%
probes = torch.cat([PAIRS[label][0] for label in SETTINGS["pairs"]])
references = torch.cat([PAIRS[label][1] for label in SETTINGS["pairs"]])
methods = {name: cf.methods.get(name, pair, **OPTIONS.get(name, {})) for name in METHODS}
maps, seconds, infid = {}, {}, {}
for name, method in methods.items():
    start = time.perf_counter()
    maps[name] = method.attribute(probes, additional_forward_args=(references,))
    seconds[name] = time.perf_counter() - start
    torch.manual_seed(2)
    infid[name] = infidelity(pair, remove_cells, probes, maps[name], additional_forward_args=(references,),
                             n_perturb_samples=SETTINGS["infidelity_samples"], normalize=True)
print(f"infidelity of {len(methods)} methods on {len(SETTINGS['pairs'])} pair(s), "
      f"{SETTINGS['infidelity_samples']} perturbations each")

# %% [markdown]
# ## 4. Sensitivity: does the map survive an imperceptible change?
#
# Captum's `sensitivity_max` re-explains the probe after adding uniform noise in an
# $L_\infty$ ball of radius 0.02 (Captum's `default_perturb_func`, about ±5 grey levels) and
# reports the largest change of the map, $\max \lVert\Phi(x + \delta) - \Phi(x)\rVert /
# \lVert\Phi(x)\rVert$, relative to the map's own norm. Lower is more stable. The explanation
# function is the method's `attribute`; the reference goes in as a keyword argument, which
# `sensitivity_max` passes on to every call. Each perturbation costs one full explanation.

# %%
sens = {}
for name, method in methods.items():
    torch.manual_seed(3)
    sens[name] = sensitivity_max(method.attribute, probes, perturb_radius=0.02,
                                 n_perturb_samples=SETTINGS["sensitivity_samples"],
                                 additional_forward_args=(references,))
print(f"sensitivity_max of {len(methods)} methods, {SETTINGS['sensitivity_samples']} re-explanation(s) per pair")

# %% [markdown]
# ## 5. The numbers

# %%
labels = SETTINGS["pairs"]
header = f"{'method':20s} {'s/probe':>8s} " + " ".join(f"{'infid. ' + l:>16s}" for l in labels) + " " + \
    " ".join(f"{'sens. ' + l:>15s}" for l in labels)
print(header)
print("-" * len(header))
for name in METHODS:
    print(f"{name:20s} {seconds[name] / len(labels):8.2f} "
          + " ".join(f"{v:16.2e}" for v in infid[name].tolist()) + " "
          + " ".join(f"{v:15.3f}" for v in sens[name].tolist()))

fig = Figure(figsize=(10, 3.6), layout="constrained")
left, right = fig.subplots(1, 2, sharey=True)
y = torch.arange(len(METHODS), dtype=torch.float)
height = 0.8 / len(labels)
for k, label in enumerate(labels):
    left.barh(y + k * height, [infid[m][k].item() for m in METHODS], height, label=label)
    right.barh(y + k * height, [sens[m][k].item() for m in METHODS], height, label=label)
left.set_yticks(y + 0.4 - height / 2, METHODS)
left.invert_yaxis()
left.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
left.set_title("infidelity (square removal), lower is better", fontsize=10)
right.set_title("sensitivity_max (radius 0.02), lower is more stable", fontsize=10)
right.legend(fontsize=8)
fig

# %% [markdown]
# With the settings committed here, Occlusion has the lowest infidelity on both pairs, FGGB and
# LIME follow, and the plain gradient maps (Saliency, InputXGradient, GuidedBackprop) score like
# the random floor; on the impostor pair most methods are close to the floor. For stability,
# Occlusion, CorrRISE and LayerGradCam come first and FGGB and IntegratedGradients close behind;
# the plain gradient maps and xSSAB change by 65-100 % of their norm, LIME and KernelShap about
# as much as the random floor (in fast mode the numbers move: they are Monte Carlo estimates on
# one or two pairs).
#
# ## What these numbers measure, and what they do not
#
# * **Infidelity** asks whether the map's mass in a removed region predicts how much the cosine
#   moves. It depends entirely on the perturbation: with 16×16 cells it rewards maps that are
#   right at the scale of facial parts, and it favours **Occlusion by construction** (Occlusion
#   measures exactly the score change of removing 16×16 squares). With pixel noise instead, every
#   map scores like the random one (see section 3). Black is also not "absence" for a face
#   model: a black square is itself a pattern the network reacts to.
# * **Sensitivity** only says how stable a map is, not whether it is right: a constant map is
#   perfectly stable and useless. `Random` draws new noise on every call, hence its high value.
#   CorrRISE, LIME and KernelShap are seeded, so they reuse their random masks on every call;
#   LIME and KernelShap still move a lot, because their superpixels are recomputed from each
#   perturbed image and their surrogate is fitted on few samples. Plain gradient maps (Saliency,
#   InputXGradient, GuidedBackprop, which equals Saliency on SFace's PReLU network, as the
#   warning above says) are known to be fragile; averaging methods (FGGB's weighted combination
#   of 128 normalised gradient maps, CorrRISE, Occlusion, LayerGradCam's coarse 7×7 map) are
#   smoother.
# * Both are computed here on one or two pairs with few samples: they rank methods on *these*
#   pairs only, with visible Monte Carlo noise. For a verdict, use many pairs (the Deletion /
#   Insertion evaluation of the next tutorial, `Evaluating_Face_Explanations_On_LFW`, and
#   `benchmarks/evaluate_lfw.sh`), and remember that no score makes a map evidence of identity
#   (see the documentation's page on limitations and responsible use).
