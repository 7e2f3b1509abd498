"""Event arrays: readers/writers per format (``io``), framing (``frames``), filters
(``filters``), live sources (``sources``), the webcam→events emulator (``emulator``) and the
synthetic gesture generator (``synthetic``). Nothing here imports Qt.
"""

from snnstudio.events.types import EVENT_DTYPE, EventRecording, Label, empty_events, make_events

__all__ = ["EVENT_DTYPE", "EventRecording", "Label", "empty_events", "make_events"]
