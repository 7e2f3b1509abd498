"""Where training and evaluation tensors go: the device (``auto``: the GPU when there is one) and
the model input layout (dataset frames ``[B, T, 2, H, W]`` → ``[T, B, 2, H, W]``). A leaf module:
the trainer and the evaluator both use it, neither through the other."""

from __future__ import annotations

from snnstudio.errors import SnnStudioError


class DeviceError(SnnStudioError):
    """A device that is not there (``cuda`` without a GPU) or not a device at all."""


def resolve_device(name: str = "auto"):
    """``auto`` → the GPU when one is there, else the CPU; otherwise ``torch.device(name)``."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"bad device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} asked for but no CUDA GPU is available")
    return dev



def to_input(frames, device, dtype=None):
    """Stacked dataset frames ``[B, T, 2, H, W]`` (integer counts) → float ``[T, B, 2, H, W]`` on ``device``."""
    import torch

    x = frames.to(device=device, dtype=dtype or torch.float32, non_blocking=True)
    return x.transpose(0, 1).contiguous()
