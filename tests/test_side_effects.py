"""No side effects: explanations leave the caller's model and tensors exactly as they were.

Checked with :mod:`tests.invariants` on a small embedder in an unusual state (training mode but
an eval BatchNorm, mixed ``requires_grad``, a stale ``.grad``, the caller's own forward,
forward-pre and full backward hooks): training flag of every submodule, ``requires_grad``,
``.grad``, hooks (and the global hook registries), parameter and buffer values and version
counters, grad mode; and for the caller's images: values, ``requires_grad``, ``.grad``, version.
Also when the call raises midway (an embedder that fails on its k-th forward, or in the k-th
backward pass of FGGB's per-dimension loop). Property tests (hypothesis) vary the model (seed,
embedding size, input size), the batch sizes (including 1 vs K), the threshold and the map, and
check determinism and eval-mode semantics. Every method of :mod:`captum_fggb.methods` is covered
too (when the registry is present), with the global random state as one more invariant.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Tuple

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import captum_fggb as cf
from captum_fggb._pair_inputs import MAPS
from captum_fggb.errors import InvalidInputError

from tests.invariants import FailOnBackward, FailOnForward, Injected, ModelState, TensorState, unusual_embedder

# The registry warns that GuidedBackprop equals Saliency on PReLU models such as TinyEmbedder.
pytestmark = pytest.mark.filterwarnings("ignore:.*GuidedBackprop only modifies nn.ReLU:UserWarning")
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: How a pair can be handed to an attribution method: (inputs, additional_forward_args).
CALLS: Dict[str, Callable[[torch.Tensor, torch.Tensor], Tuple[Any, Any]]] = {
    "both": lambda a, b: ((a, b), None),
    "probe-only": lambda a, b: (a, (b,)),
    "one-element-tuple": lambda a, b: ((a,), (b,)),
}



@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Tiny models run fastest on one thread (and do not crawl when the CPU is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


#: FGGB's engine settings: (strategy, internal_batch_size); ``strategy`` only where FGGB has it.
try:
    from captum_fggb.jacobian import STRATEGIES
except ImportError:  # before the strategy option
    STRATEGIES = ()
ENGINES = (
    [("auto", None), ("auto", 5), ("sequential", None), ("batched", None), ("batched", 5)]
    if STRATEGIES
    else [(None, None), (None, 1), (None, 5)]
)


def make_fggb(pair: cf.FaceVerificationPair, strategy: Any = None) -> cf.FGGB:
    return cf.FGGB(pair) if strategy is None else cf.FGGB(pair, strategy=strategy)


batch_sizes = st.integers(1, 3).flatmap(lambda k: st.sampled_from([(k, k), (1, k), (k, 1)]))


def images(n: int, size: int, seed: int, requires_grad: bool = False) -> torch.Tensor:
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
    if requires_grad:
        x.requires_grad_(True)
        x.grad = torch.full_like(x, 0.5)  # a stale gradient of the caller's own
    return x


def run(method: Any, a: torch.Tensor, b: torch.Tensor, call: str, **kwargs: Any) -> Tuple[torch.Tensor, ...]:
    inputs, extra = CALLS[call](a, b)
    out = method.attribute(inputs, additional_forward_args=extra, **kwargs)
    return out if isinstance(out, tuple) else (out,)


def snapshot(pair: torch.nn.Module, *tensors: torch.Tensor) -> Callable[[], None]:
    states = [ModelState(pair)] + [TensorState(t, f"input {i}") for i, t in enumerate(tensors)]

    def check() -> None:
        for state in states:
            state.assert_unchanged()

    return check


# ---------------------------------------------------------------- FGGB, property tests
@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    dim=st.integers(2, 16),
    size=st.sampled_from([8, 12, 16]),
    sizes=batch_sizes,
    threshold=st.floats(-1.0, 1.0),
    map_name=st.sampled_from(MAPS),
    call=st.sampled_from(sorted(CALLS)),
    training=st.booleans(),
    requires_grad=st.booleans(),
    engine=st.sampled_from(ENGINES),
)
def test_fggb_has_no_side_effects_and_is_deterministic(
    seed: int, dim: int, size: int, sizes: Tuple[int, int], threshold: float, map_name: str, call: str,
    training: bool, requires_grad: bool, engine: Tuple[Any, Any],
) -> None:
    model = unusual_embedder(seed, dim, size)
    if not training:
        model.eval()
    pair = cf.FaceVerificationPair(model, threshold=0.2)
    strategy, chunk = engine
    fggb = make_fggb(pair, strategy)
    a, b = images(sizes[0], size, seed, requires_grad), images(sizes[1], size, seed + 1)
    check = snapshot(pair, a, b)
    kwargs = dict(map=map_name, threshold=threshold, internal_batch_size=chunk)

    first = run(fggb, a, b, call, **kwargs)
    check()
    assert all(m.shape == (max(sizes), 3, size, size) and torch.isfinite(m).all() for m in first)
    assert all(not m.requires_grad and m.grad_fn is None for m in first)
    second = run(fggb, a, b, call, **kwargs)
    check()
    assert all(torch.equal(x, y) for x, y in zip(first, second)), "FGGB is not deterministic"

    # eval-mode semantics: the same maps as an explicitly evaluated copy of the model
    twin = copy.deepcopy(model).eval()
    expected = run(make_fggb(cf.FaceVerificationPair(twin, threshold=0.2), strategy), a.detach(), b, call, **kwargs)
    for got, want in zip(first, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)

    # a batch of 1 against K equals the same image repeated K times
    if sizes[0] != sizes[1]:
        n = max(sizes)
        repeated = run(fggb, a.detach().expand(n, -1, -1, -1), b.expand(n, -1, -1, -1), call, **kwargs)
        for got, want in zip(first, repeated):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@settings(SETTINGS, max_examples=20)
@given(
    seed=st.integers(0, 2**16),
    dim=st.integers(2, 10),
    sizes=batch_sizes,
    where=st.sampled_from(["forward", "backward"]),
    call=st.sampled_from(sorted(CALLS)),
    chunk=st.sampled_from([None, 3]),
    data=st.data(),
)
def test_fggb_failing_midway_has_no_side_effects(
    seed: int, dim: int, sizes: Tuple[int, int], where: str, call: str, chunk: Any, data: st.DataObject
) -> None:
    # FGGB runs 2 forwards (probe, reference) and one backward pass per chunk of dimensions and
    # explained side: fail at any of them, or one beyond (no failure)
    passes = (2 if call == "both" else 1) * -(-dim // (chunk or 1))
    fail_at = data.draw(st.integers(1, 3 if where == "forward" else passes + 1), label="fail_at")
    inner = unusual_embedder(seed, dim, 12)
    faulty = (FailOnForward if where == "forward" else FailOnBackward)(inner, fail_at)
    pair = cf.FaceVerificationPair(faulty, threshold=0.2)
    a, b = images(sizes[0], 12, seed, requires_grad=True), images(sizes[1], 12, seed + 1)
    check = snapshot(pair, a, b)
    try:
        run(cf.FGGB(pair), a, b, call, internal_batch_size=chunk)
    except Injected:
        raised = True
    else:  # fail_at is beyond the number of calls this explanation makes
        raised = False
        assert faulty.calls == fail_at - 1
    check()
    event(f"injected {where} failure {'raised' if raised else 'not reached'}")
    if raised:  # the model still works and gives what an untouched copy gives
        faulty.fail_at = -1
        again = run(cf.FGGB(pair), a, b, call)
        fresh = run(cf.FGGB(cf.FaceVerificationPair(unusual_embedder(seed, dim, 12), threshold=0.2)), a, b, call)
        assert all(torch.equal(x, y) for x, y in zip(again, fresh))
        check()


def test_failure_injection_reaches_the_middle_of_the_loop() -> None:
    """The injected failures really happen inside FGGB's work (not before it)."""
    dim = 6
    faulty = FailOnBackward(unusual_embedder(0, dim, 12), fail_at=dim + 2)  # reference side, 2nd dimension
    pair = cf.FaceVerificationPair(faulty, threshold=0.2)
    a, b = images(2, 12, 0), images(2, 12, 1)
    check = snapshot(pair, a, b)
    with pytest.raises(Injected, match=f"backward pass {dim + 2}"):
        cf.FGGB(pair).attribute((a, b))
    check()
    forward = FailOnForward(unusual_embedder(0, dim, 12), fail_at=2)  # the reference's forward
    pair = cf.FaceVerificationPair(forward, threshold=0.2)
    check = snapshot(pair, a, b)
    with pytest.raises(Injected, match="forward call 2"):
        cf.FGGB(pair).attribute((a, b))
    check()


# ---------------------------------------------------------------- the pair wrapper
@SETTINGS
@given(seed=st.integers(0, 2**16), sizes=batch_sizes, requires_grad=st.booleans(), fail_at=st.integers(0, 3))
def test_pair_forward_decide_embed_have_no_side_effects(
    seed: int, sizes: Tuple[int, int], requires_grad: bool, fail_at: int
) -> None:
    model = FailOnForward(unusual_embedder(seed, 8, 12), fail_at)
    pair = cf.FaceVerificationPair(model, threshold=0.1)
    a, b = images(sizes[0], 12, seed, requires_grad), images(sizes[1], 12, seed + 1)
    check = snapshot(pair, a, b)
    results = []
    for compute in (lambda: pair(a, b), lambda: pair.decide(a, b), lambda: pair.embed(a, "a")):
        try:
            results.append(compute())
        except Injected:
            pass
        check()
    twin = cf.FaceVerificationPair(copy.deepcopy(model.inner).eval(), threshold=0.1)
    if fail_at == 0:  # no failure: eval-mode semantics and determinism
        with torch.no_grad():
            torch.testing.assert_close(results[0].detach(), twin(a, b), rtol=1e-6, atol=1e-7)
        assert torch.equal(results[1], results[0].detach() >= 0.1)
        assert torch.equal(pair(a, b), results[0])


def test_gradients_of_the_score_reach_the_images_not_the_weights() -> None:
    """Backpropagating the pair's score fills the images' ``.grad`` only (what Captum relies on)."""
    model = unusual_embedder(0, 8, 12)
    pair = cf.FaceVerificationPair(model, threshold=0.1)
    a = images(2, 12, 0).requires_grad_(True)
    b = images(2, 12, 1)
    state = ModelState(pair)
    pair(a, b).sum().backward()
    state.assert_unchanged()
    assert a.grad is not None and a.grad.abs().sum() > 0


# ---------------------------------------------------------------- calling contexts
def test_no_grad_context_is_respected_and_restored() -> None:
    """NoiseTunnel calls methods under ``torch.no_grad()``: FGGB re-enables gradients inside only."""
    pair = cf.FaceVerificationPair(unusual_embedder(0, 6, 12), threshold=0.2)
    a, b = images(1, 12, 0), images(1, 12, 1)
    with torch.no_grad():
        inside = cf.FGGB(pair).attribute((a, b))
        assert not torch.is_grad_enabled()
    outside = cf.FGGB(pair).attribute((a, b))
    assert all(torch.equal(x, y) for x, y in zip(inside, outside))


def test_inference_mode_is_refused_and_inference_tensors_are_accepted() -> None:
    pair = cf.FaceVerificationPair(unusual_embedder(0, 6, 12), threshold=0.2)
    a, b = images(1, 12, 0), images(1, 12, 1)
    check = snapshot(pair, a, b)
    with torch.inference_mode():
        with pytest.raises(InvalidInputError, match=r"inference_mode\(\) is active.*torch.no_grad\(\) is fine"):
            cf.FGGB(pair).attribute((a, b))
        a_inf, b_inf = a.clone(), b.clone()
    check()
    expected = cf.FGGB(pair).attribute((a, b))
    got = cf.FGGB(pair).attribute((a_inf, b_inf))
    assert all(torch.equal(x, y) for x, y in zip(got, expected))


def test_docstrings_state_the_guarantee() -> None:
    """The eval-semantics / handed-back-unchanged guarantee is documented where users read it."""
    pair_doc = " ".join(cf.FaceVerificationPair.__doc__.split())
    assert "eval-mode semantics" in pair_doc and "restores its training flags" in pair_doc
    fggb_doc = " ".join(cf.FGGB.__doc__.split())
    assert "explained with eval-mode semantics" in fggb_doc and "handed back in training mode" in fggb_doc
    assert "also when the call raises" in fggb_doc and "never modified" in fggb_doc


# ---------------------------------------------------------------- FGGB.attribute_pairs
@pytest.mark.skipif(not hasattr(cf.FGGB, "attribute_pairs"), reason="FGGB.attribute_pairs has not landed")
@settings(SETTINGS, max_examples=10)
@given(
    seed=st.integers(0, 2**16),
    count=st.integers(2, 4),
    data=st.data(),
    side=st.sampled_from(["probe", "both"]),
    map_name=st.sampled_from(MAPS),
    as_list=st.booleans(),
    fail_at=st.integers(0, 4),
)
def test_fggb_attribute_pairs_has_no_side_effects(
    seed: int, count: int, data: st.DataObject, side: str, map_name: str, as_list: bool, fail_at: int
) -> None:
    index = st.integers(0, count - 1)
    pairs = data.draw(st.lists(st.tuples(index, index), min_size=1, max_size=5), label="index_pairs")
    model = FailOnForward(unusual_embedder(seed, 5, 12), fail_at)
    pair = cf.FaceVerificationPair(model, threshold=0.2)
    stack = images(count, 12, seed, requires_grad=True)
    given_images = list(stack.unbind(0)) if as_list else stack
    check = snapshot(pair, stack)
    kwargs = dict(side=side, map=map_name)
    try:
        first = cf.FGGB(pair).attribute_pairs(given_images, pairs, **kwargs)
    except Injected:
        check()
        return
    check()
    model.fail_at = -1  # no failure in the second run
    second = cf.FGGB(pair).attribute_pairs(given_images, pairs, **kwargs)
    check()
    for x, y in zip(first, second):
        assert (x is None and y is None) or torch.equal(x, y)


# ---------------------------------------------------------------- every registered method
try:
    from captum_fggb import methods as registry
except ImportError:  # the methods registry has not landed in this checkout
    registry = None

METHOD_NAMES = registry.available() if registry is not None else []
#: Cheap settings for the 8-16 pixel TinyEmbedder (methods not listed use their defaults).
FAST_OPTIONS: Dict[str, Dict[str, Any]] = {
    "CorrRISE": {"n_masks": 16},
    "IntegratedGradients": {"n_steps": 4},
    "LIME": {"n_samples": 12, "feature_mask": "grid", "n_segments": 4},
    "KernelShap": {"n_samples": 12, "feature_mask": "grid", "n_segments": 4},
}


def build(name: str, pair: cf.FaceVerificationPair) -> Any:
    """Method ``name`` of the registry on ``pair``, with the cheap options it accepts."""
    accepted = set(registry.options(name))
    options = {k: v for k, v in FAST_OPTIONS.get(name, {}).items() if k in accepted}
    return registry.get(name, pair, **options)


@pytest.mark.parametrize("name", METHOD_NAMES)
@settings(SETTINGS, max_examples=6)
@given(
    seed=st.integers(0, 2**16),
    sizes=batch_sizes,
    map_name=st.sampled_from(MAPS),
    call=st.sampled_from(sorted(CALLS)),
    requires_grad=st.booleans(),
)
def test_every_method_has_no_side_effects_and_is_deterministic(
    name: str, seed: int, sizes: Tuple[int, int], map_name: str, call: str, requires_grad: bool
) -> None:
    model = unusual_embedder(seed, 6, 12)
    pair = cf.FaceVerificationPair(model, threshold=0.2)
    a, b = images(sizes[0], 12, seed, requires_grad), images(sizes[1], 12, seed + 1)
    check = snapshot(pair, a, b)
    rng = torch.get_rng_state()

    first = run(build(name, pair), a, b, call, map=map_name)
    check()
    assert torch.equal(torch.get_rng_state(), rng), f"{name} changed the global random state"
    assert all(m.shape == (max(sizes), 3, 12, 12) and torch.isfinite(m).all() for m in first)
    assert all(not m.requires_grad for m in first)
    again = run(build(name, pair), a, b, call, map=map_name)  # a fresh object: run to run
    assert all(torch.equal(x, y) for x, y in zip(first, again)), f"{name} is not deterministic"
    check()

    # eval-mode semantics: the same maps as an explicitly evaluated copy of the model
    twin = cf.FaceVerificationPair(copy.deepcopy(model).eval(), threshold=0.2)
    expected = run(build(name, twin), a.detach(), b, call, map=map_name)
    for got, want in zip(first, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("where, fail_at", [("forward", 1), ("forward", 2), ("forward", 3), ("backward", 1), ("backward", 4)])
def test_every_method_failing_midway_has_no_side_effects(name: str, where: str, fail_at: int) -> None:
    inner = unusual_embedder(3, 6, 12)
    faulty = (FailOnForward if where == "forward" else FailOnBackward)(inner, fail_at)
    pair = cf.FaceVerificationPair(faulty, threshold=0.2)
    a, b = images(2, 12, 5, requires_grad=True), images(2, 12, 6)
    check = snapshot(pair, a, b)
    rng = torch.get_rng_state()
    try:
        run(build(name, pair), a, b, "both")
    except Injected:
        pass
    check()
    assert torch.equal(torch.get_rng_state(), rng)
    faulty.fail_at = -1  # still usable, with the same result as an untouched model
    again = run(build(name, pair), a, b, "both")
    fresh = run(build(name, cf.FaceVerificationPair(unusual_embedder(3, 6, 12), threshold=0.2)), a, b, "both")
    assert all(torch.equal(x, y) for x, y in zip(again, fresh))
    check()


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_method_refuses_inference_mode_or_works_in_it(name: str) -> None:
    """Under ``torch.inference_mode()`` a method either raises a clear error or gives its usual maps."""
    pair = cf.FaceVerificationPair(unusual_embedder(0, 6, 12), threshold=0.2)
    a, b = images(1, 12, 0), images(1, 12, 1)
    expected = run(build(name, pair), a, b, "both")
    with torch.inference_mode():
        try:
            got = run(build(name, pair), a, b, "both")
        except InvalidInputError as exc:
            assert "inference_mode() is active" in str(exc)
        else:
            assert all(torch.equal(x, y) for x, y in zip(got, expected))


@pytest.mark.skipif(registry is None, reason="the methods registry has not landed")
def test_methods_docstring_states_the_guarantee() -> None:
    doc = " ".join(registry.__doc__.split())
    assert "explained with eval-mode semantics" in doc and "handed back in training mode" in doc
    assert "also when the call raises" in doc and "never modified" in doc
