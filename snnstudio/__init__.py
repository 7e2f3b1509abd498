"""snnstudio: a desktop explorer and live-demo app for spiking neural networks on event-camera data.

Data flows one way: source → events → frames → model + probes → snapshot → views.
``events/``, ``snn/``, ``probe/`` and ``train/`` never import Qt; ``gui/`` never imports torch;
``engine/`` is the one bridge.
"""

__version__ = "0.1.0"
