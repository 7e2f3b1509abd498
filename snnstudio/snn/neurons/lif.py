"""IF and LIF neurons (SpikingJelly 2.0 semantics, see ../shared/PAPERS.md).

Plain per-step reference implementation; kept as the oracle for faster paths.
"""

from __future__ import annotations

import torch

from snnstudio.snn.neurons.base import SpikingNeuron, register_neuron


def _heaviside_sigmoid(x: torch.Tensor, alpha: float = 4.0) -> torch.Tensor:
    """Θ(x) (1 at x = 0) forward; sigmoid surrogate gradient α·σ(αx)(1−σ(αx)) backward."""
    sg = torch.sigmoid(alpha * x)
    return (x >= 0).to(x.dtype) + sg - sg.detach()


@register_neuron("lif")
class LIFNode(SpikingNeuron):
    """Leaky integrate-and-fire: ``h = v + (x − (v − v_reset)) / tau`` (decay_input), fire on h ≥ θ."""

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        detach_reset: bool = False,
        step_mode: str = "m",
        record: bool = True,
    ):
        super().__init__(step_mode, record)
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.v_reset = v_reset
        self.decay_input = decay_input
        self.detach_reset = detach_reset
        self.v: torch.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.v = None

    def _charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        vr = 0.0 if self.v_reset is None else self.v_reset
        if self.decay_input:
            return v + (x - (v - vr)) / self.tau
        return v - (v - vr) / self.tau + x

    def _step(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self._charge(v, x)
        s = _heaviside_sigmoid(h - self.v_threshold)
        sr = s.detach() if self.detach_reset else s
        if self.v_reset is None:
            v_next = h - sr * self.v_threshold
        else:
            v_next = sr * self.v_reset + (1.0 - sr) * h
        return s, h, v_next

    def _initial_v(self, like: torch.Tensor) -> torch.Tensor:
        vr = 0.0 if self.v_reset is None else self.v_reset
        return torch.full_like(like, vr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            v = self.v if self.v is not None else self._initial_v(x)
            s, h, self.v = self._step(x, v)
            self._keep(h, s)
            return s
        v = self._initial_v(x[0])
        spikes, hs = [], []
        for t in range(x.shape[0]):
            s, h, v = self._step(x[t], v)
            spikes.append(s)
            hs.append(h)
        out = torch.stack(spikes)
        self._keep(torch.stack(hs), out)
        return out

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
            f"decay_input={self.decay_input}, detach_reset={self.detach_reset}, {super().extra_repr()}"
        )
