"""Recording hooks, ring buffers and meters (firing rate, sparsity, SOPs, energy). No Qt.

* :class:`Recorder` / :class:`ProbeConfig` (:mod:`.recorder`): forward hooks recording spikes,
  membrane and attention per named layer into bounded :class:`RingBuffer` s (:mod:`.ring`).
* :mod:`.meters`: firing rate, sparsity, spike counts per layer and in total.
* :class:`OpCounter` / :class:`EnergyConfig` (:mod:`.flops`): FLOPs, MACs, ACs (SOPs) and energy.
"""

from snnstudio.probe.flops import (
    E_AC_PJ,
    E_MAC_PJ,
    EnergyConfig,
    ModuleStats,
    OpCount,
    OpCounter,
    energy_pj,
    module_flops,
    register_op_counter,
    ssa_sops,
)
from snnstudio.probe.meters import activity_report, layer_activity, rate_per_step, total_activity
from snnstudio.probe.recorder import ProbeConfig, Recorder
from snnstudio.probe.ring import RingBuffer

__all__ = [
    "E_AC_PJ",
    "E_MAC_PJ",
    "EnergyConfig",
    "ModuleStats",
    "OpCount",
    "OpCounter",
    "ProbeConfig",
    "Recorder",
    "RingBuffer",
    "activity_report",
    "energy_pj",
    "layer_activity",
    "module_flops",
    "rate_per_step",
    "register_op_counter",
    "ssa_sops",
    "total_activity",
]
