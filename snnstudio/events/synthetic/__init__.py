"""Synthetic labelled hand-gesture recordings (the training set of the bundled models).

Generator v3 (:mod:`.people`, ``version=3``) films a whole person instead: a 3-D skeleton
(:mod:`.body`) moved by :mod:`.people_motion`, drawn by :mod:`.person` in a room (:mod:`.room`).

A textured hand (:mod:`.hand`) performs a gesture (:mod:`.motion`) in a cluttered scene
(:mod:`.scene`), rendered at 500 fps and turned into events by :mod:`snnstudio.events.emulator`
(:mod:`.generator`). Class ids and names: :data:`GESTURES` (id = index).
"""

from snnstudio.events.synthetic.generator import (
    DEFAULT_DURATION_US,
    DEFAULT_FPS,
    DEFAULT_SENSOR,
    GENERATOR_VERSION,
    GENERATOR_VERSIONS,
    GestureStream,
    dataset_sample,
    generate_gesture,
    generate_sequence,
    make_demo_recording,
    random_emulator_config,
)
from snnstudio.events.synthetic.motion import CLASS_NAMES, GESTURES, gesture_id

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_DURATION_US",
    "DEFAULT_FPS",
    "DEFAULT_SENSOR",
    "GENERATOR_VERSION",
    "GENERATOR_VERSIONS",
    "GESTURES",
    "GestureStream",
    "dataset_sample",
    "gesture_id",
    "generate_gesture",
    "generate_sequence",
    "make_demo_recording",
    "random_emulator_config",
]
