"""The streaming session: source → frames → model + probes → snapshots. The only package that
may import both torch and Qt-facing code; the GUI talks to models only through it.

* :mod:`.snapshot` — what the GUI draws for one step (dataclasses of numpy arrays, no torch);
* :mod:`.types` — the settings, state and model layout the window shows (no torch);
* :mod:`.controls` — the session's controls, written once, and how a restarted engine gets them
  back (no torch); :mod:`.slot` — what a session's readers see; :mod:`.catalog` — the model list
  before the engine has sent its own (no torch);
* :mod:`.process_session` — the session in its own process (the studio's; no torch on this side);
* :mod:`.windows` — fixed-``dt`` windows from a recording (seekable) or a live source;
* :mod:`.runner` — one model streamed step by step (stateful or sliding window) and read out;
* :mod:`.session` — the worker thread: controls in, coalesced snapshots out, errors as messages;
* :mod:`.compare` — 2–4 models in lock-step and their running figures;
* :mod:`.models` — model specs (default, tiny, zoo presets, checkpoints);
* :mod:`.demo`, :mod:`.prefetch`, :mod:`.tiny_model` — what the studio plays and runs by default.

Nothing is imported here eagerly, so the torch-free modules stay torch-free: the window's process
imports only those (``tests/gui/test_import_rules.py`` checks it with torch blocked).
"""
