"""Snapshots of a caller's model and tensors, to check that an explanation left them as they were.

:class:`ModelState` records, for every submodule of a model: its ``training`` flag, its hook
dictionaries (forward, forward-pre, backward, backward-pre, with-kwargs, always-called and
state-dict hooks: the ids and the hook objects), and for every parameter and buffer: identity,
``requires_grad``, ``.grad`` (values), values and the in-place version counter. The global
``nn.Module`` hook registries and the grad mode are recorded too. :class:`TensorState` records a
tensor's values, ``requires_grad``, ``.grad`` and version counter. ``assert_unchanged()`` compares
and names every difference.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn.modules import module as module_globals

from tests.helpers import TinyEmbedder

__all__ = ["ModelState", "TensorState", "unusual_embedder", "FailOnForward", "FailOnBackward", "Injected"]

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)
_GLOBAL_HOOKS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_forward_hooks_always_called",
    "_global_module_registration_hooks",
    "_global_parameter_registration_hooks",
    "_global_buffer_registration_hooks",
)


def _hooks(owner: Any, names: Tuple[str, ...]) -> Dict[str, List[Tuple[Any, int]]]:
    return {n: [(k, id(v)) for k, v in getattr(owner, n, {}).items()] for n in names if hasattr(owner, n)}


def _copy(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if t is None else t.detach().clone()


def _same(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)


class ModelState:
    """Everything an explanation could change on ``model`` (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modules = [(name, id(m), m.training, _hooks(m, _HOOK_DICTS)) for name, m in model.named_modules()]
        self.tensors = [
            (name, id(t), t.requires_grad, _copy(t), _copy(t.grad), t._version)
            for name, t in list(model.named_parameters()) + list(model.named_buffers())
        ]
        self.globals = _hooks(module_globals, _GLOBAL_HOOKS)
        self.grad_mode = torch.is_grad_enabled()

    def differences(self) -> List[str]:
        """Human-readable list of what changed since the snapshot (empty when nothing did)."""
        now = ModelState(self.model)
        out = []
        if [m[:2] for m in now.modules] != [m[:2] for m in self.modules]:
            out.append("the module tree changed")
        for (name, _, training, hooks), (_, _, training_now, hooks_now) in zip(self.modules, now.modules):
            if training != training_now:
                out.append(f"{name or 'model'}.training {training} -> {training_now}")
            if hooks != hooks_now:
                out.append(f"{name or 'model'} hooks {hooks} -> {hooks_now}")
        if [t[:2] for t in now.tensors] != [t[:2] for t in self.tensors]:
            out.append("parameters or buffers were replaced")
        for before, after in zip(self.tensors, now.tensors):
            name = before[0]
            if before[2] != after[2]:
                out.append(f"{name}.requires_grad {before[2]} -> {after[2]}")
            if not _same(before[3], after[3]):
                out.append(f"{name} values changed")
            if not _same(before[4], after[4]):
                out.append(f"{name}.grad changed")
            if before[5] != after[5]:
                out.append(f"{name} was written in place (version {before[5]} -> {after[5]})")
        if now.globals != self.globals:
            out.append(f"global module hooks {self.globals} -> {now.globals}")
        if now.grad_mode != self.grad_mode:
            out.append(f"grad mode {self.grad_mode} -> {now.grad_mode}")
        return out

    def assert_unchanged(self) -> None:
        diff = self.differences()
        assert not diff, "the caller's model changed: " + "; ".join(diff)


class TensorState:
    """A caller's tensor: values, ``requires_grad``, ``.grad``, version counter, leaf-ness."""

    def __init__(self, tensor: torch.Tensor, name: str = "tensor") -> None:
        self.tensor, self.name = tensor, name
        self.values, self.grad = _copy(tensor), _copy(tensor.grad)
        self.requires_grad, self.version, self.is_leaf = tensor.requires_grad, tensor._version, tensor.is_leaf

    def assert_unchanged(self) -> None:
        t, name = self.tensor, self.name
        assert _same(t.detach(), self.values), f"{name} values changed"
        assert t.requires_grad == self.requires_grad, f"{name}.requires_grad {self.requires_grad} -> {t.requires_grad}"
        assert _same(t.grad, self.grad), f"{name}.grad changed"
        assert t._version == self.version, f"{name} was written in place"
        assert t.is_leaf == self.is_leaf, f"{name} is_leaf changed"


def unusual_embedder(seed: int = 0, dim: int = 12, size: int = 16) -> TinyEmbedder:
    """A :class:`TinyEmbedder` in the state a caller might leave it in: training mode except the
    BatchNorm, some parameters frozen and some not, a stale ``.grad`` on one, and the caller's own
    forward, forward-pre and full backward hooks (which do not change the output)."""
    model = TinyEmbedder(seed=seed, dim=dim, size=size)
    model.train()
    model.bn.eval()
    model.conv1.weight.requires_grad_(False)
    model.fc.weight.grad = torch.full_like(model.fc.weight, 0.25)
    model.conv2.register_forward_hook(lambda module, args, out: None)
    model.act1.register_forward_pre_hook(lambda module, args: None)
    model.fc.register_full_backward_hook(lambda module, grad_in, grad_out: None)
    return model


class Injected(RuntimeError):
    """The failure injected by :class:`FailOnForward` / :class:`FailOnBackward`."""


class FailOnForward(nn.Module):
    """Wraps an embedder and raises :class:`Injected` on its ``fail_at``-th forward call."""

    def __init__(self, inner: nn.Module, fail_at: int) -> None:
        super().__init__()
        self.inner, self.fail_at, self.calls = inner, fail_at, 0
        self.input_size = inner.input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.fail_at:
            raise Injected(f"forward call {self.calls}")
        return self.inner(x)


class _CountBackward(torch.autograd.Function):
    """Identity whose backward calls ``owner.on_backward()`` (which may raise); also under the
    ``vmap`` of a batched backward (``is_grads_batched``), where it is called once per pass."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, owner: "FailOnBackward") -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.owner = inputs[1]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[torch.Tensor, None]:
        ctx.owner.on_backward()
        return grad, None


class FailOnBackward(nn.Module):
    """Wraps an embedder and raises :class:`Injected` in the ``fail_at``-th backward pass through
    its output: FGGB fails in the middle of its per-dimension loop."""

    def __init__(self, inner: nn.Module, fail_at: int) -> None:
        super().__init__()
        self.inner, self.fail_at, self.calls = inner, fail_at, 0
        self.input_size = inner.input_size

    def on_backward(self) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise Injected(f"backward pass {self.calls}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _CountBackward.apply(self.inner(x), self)
